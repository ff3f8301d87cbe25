#!/bin/bash
# Mounter lifetime and faults through the whole server (parent as root -> nobody, worker,
# mounters, TCG appliances), three servers in a row:
#  A (proactive): a .nbd that appears starts a mounter (first request then fast); a rewrite
#    with the same bytes restarts nothing; a file rewritten every 100 ms restarts it once and
#    the new config is used; delete stops it; .nbd files that are not JSON / empty / 10 MB /
#    changing every 100 ms are logged and served from default/, nothing crashes.
#  B (--no-proactive --idle-timeout 6 --max-mounters 1): idle exit and the next request; the
#    least recently used idle mounter is evicted for another client; a request that cannot
#    get a mounter falls through to default/ and is logged.
#  C (--no-proactive --remote-deadline 5, nbdkit on TCP): NBD server down at the start (fast
#    fall-through); killed mid-transfer (TFTP error, bounded; then a replaced mounter);
#    SIGKILL of the mounter and of its qemu (the next request gets a new mounter).
# Strict where the docs promise: a broken promise is a FAIL, the script goes on and fails at
# the end, so one run reports every finding.
source "$(dirname "$0")/e2e_lib.sh"
fixture 40
nbd_unix
F=$T/fx/files
D=$T/root/default
echo "default-version" > "$D/version.txt"
echo "default grub" > "$D/grub.cfg.default"
O=$T/out; mkdir -p "$O"
RETRY=11   # the worker's RETRY_AFTER_FAIL_MS (10 s) + 1: after a mounter died or failed

# first_after_death DESC ADDR NAME EXPECTED: the documented promise is that the next request
# is served by a new mounter; check it strictly, and if it failed, retry after the worker's
# 10 s back-off so that the rest of the run has a mounter again.
first_after_death() {
	local d=$1 a=$2 n=$3 e=$4 m0
	m0=$(mark)
	if ! served "$d: the very next request is served by a new mounter (answered late, not refused)" \
		"$a" "$n" "$e" remote --wait 120; then
		say "   (worker log for it: $(since "$m0" | grep -E 'client '"$a"'|mounter '"$a" | tail -3 | tr '\n' '|' | cut -c1-400))"
		sleep "$RETRY"
		served "$d: after the worker's 10 s back-off, a new mounter serves" "$a" "$n" "$e" remote --wait 120
	fi
}
pids_unchanged() { alive "$SRV" && alive "$WORKER" && not grep -Eq 'worker [0-9]+ (exited|killed)' "$LOG"; }

########################################################################################
say "=== server A: proactive"
srv_start A --idle-timeout 600
sleep 1.5
check "A: no .nbd, no mounter" not grep -q 'mounter' "$LOG"
m=$(mark)
write_nbd 127.0.0.1 /boot
check "A: a new .nbd starts a mounter by itself (within 4 s)" wait_log "$m" 'rtftp: mounter 127.0.0.1 started \(pid [0-9]+\)' 4
P1=$(mounter_pid 127.0.0.1)
t=$SECONDS
check "A: the mounter becomes ready (no request made)" wait_log "$m" 'rtftp: mounter 127.0.0.1 ready' 150
say "launch took $((SECONDS - t)) s"
check "A: no transfer was needed for it" not log_has "$m" 'worker: transfer'
served "A: first request after a proactive start" 127.0.0.1 version.txt "$F/version.txt" remote --wait 10
check "A: ... answered without a launch wait: $(field total_ms) ms < 2000" [ "$(field total_ms)" -lt 2000 ]
served "A: a second name" 127.0.0.1 grub/grub.cfg "$F/grub/grub.cfg" remote --wait 10
check "A: ... in $(field total_ms) ms < 2000" [ "$(field total_ms)" -lt 2000 ]

say "== A: a rewrite with the same bytes restarts nothing"
m=$(mark)
cp "$T/root/127.0.0.1.nbd" "$O/same.nbd"
cat "$O/same.nbd" > "$T/root/127.0.0.1.nbd"
sleep 3
check "A: same bytes: no stop, no start" eval "not log_has $m 'mounter 127.0.0.1 (started|\\(pid [0-9]+\\): stopping)'"
check "A: mounter $P1 still running" alive "$P1"

say "== A: config rewritten every 100 ms for 3 s (tftp_root /boot <-> /boot/ext, ends /boot/ext)"
m=$(mark)
churn_conf() {
	for i in $(seq 30); do
		if [ $((i % 2)) -eq 0 ]; then write_nbd 127.0.0.1 /boot/ext; else write_nbd 127.0.0.1 /boot; fi
		sleep 0.1
	done
}
churn_conf &
wpid=$!
rp=""
for i in 1 2 3; do
	sleep 0.9
	( raw 127.0.0.1 version.txt "$O/churn$i" --wait 150 --rrq-every 1; echo "$R" > "$O/churn$i.res" ) &
	rp="$rp $!"
done
wait "$wpid"
check "A: old mounter $P1 stopped because its file changed" wait_log "$m" "mounter 127.0.0.1 \\(pid $P1\\): stopping: its .nbd file changed" 8
check "A: old mounter $P1 gone" wait_for 10 gone "$P1"
wait_log "$m" 'rtftp: mounter 127.0.0.1 started' 8
sleep 3
check "A: 3 s of churn: exactly one restart (stops: $(count_log "$m" 'mounter 127.0.0.1 \(pid [0-9]+\): stopping'), starts: $(count_log "$m" 'mounter 127.0.0.1 started'))" \
	eval "[ $(count_log "$m" 'mounter 127.0.0.1 \(pid [0-9]+\): stopping') -eq 1 ] && [ $(count_log "$m" 'mounter 127.0.0.1 started') -eq 1 ]"
P2=$(mounter_pid 127.0.0.1 "$m")
check "A: the restarted mounter becomes ready" wait_log "$m" 'rtftp: mounter 127.0.0.1 ready' 150
for p in $rp; do wait "$p"; done
for i in 1 2 3; do
	R=$(cat "$O/churn$i.res" 2>/dev/null)
	check "A: request $i during the churn answered ($R)" [ "$(field result)" = ok ]
done
served "A: the new config (tftp_root /boot/ext) is in force" 127.0.0.1 inside.txt "$F/inside.txt" remote --wait 30
check "A: pid $P2 serves" alive "$P2"

say "== A: deleting the .nbd stops the mounter"
m=$(mark)
rm -f "$T/root/127.0.0.1.nbd"
check "A: mounter $P2 stopping: its .nbd file is gone" wait_log "$m" "mounter 127.0.0.1 \\(pid $P2\\): stopping: its .nbd file is gone" 8
check "A: mounter $P2 process gone" wait_for 10 gone "$P2"
check "A: its qemu gone" wait_for 15 eval '[ -z "$(qemu_of_ours)" ]'
served "A: after the delete, default/" 127.0.0.1 version.txt "$D/version.txt" default --wait 10
check "A: ... at once ($(field total_ms) ms < 1000)" [ "$(field total_ms)" -lt 1000 ]

say "== A: broken .nbd files: logged, served from default/, nothing crashes"
bad() { # bad DESC WRITER...
	local d=$1; shift
	local m0; m0=$(mark)
	"$@"
	sleep 2.2   # the debounce (1 s) and a failed start
	served "A: $d" 127.0.0.1 version.txt "$D/version.txt" default --wait 10
	check "A: $d: answered at once ($(field total_ms) ms < 1000)" [ "$(field total_ms)" -lt 1000 ]
	check "A: $d: the reason is logged with the file name" wait_log "$m0" '127\.0\.0\.1\.nbd: ' 3
	say "   logged: $(since "$m0" | grep -E '127\.0\.0\.1\.nbd: |mounter 127.0.0.1 failed' | head -2 | tr '\n' '|' | cut -c1-300)"
	check "A: $d: parent $SRV and worker $WORKER unchanged" pids_unchanged
	rm -f "$T/root/127.0.0.1.nbd"
	sleep 1.5
}
w_notjson() { printf 'this is { not json\n' > "$T/root/127.0.0.1.nbd"; }
w_empty() { : > "$T/root/127.0.0.1.nbd"; }
w_big() { { printf '{"url":"nbd+unix:///?socket=%s","mounts":[{"partition":1,"mountpoint":"/"}],"pad":"' "$T/u/nbd.sock"; head -c 10485760 /dev/zero | tr '\0' a; printf '"}\n'; } > "$T/root/127.0.0.1.nbd"; }
w_churn() {
	for i in $(seq 30); do
		printf '{"url": "nbd+unix:///?socket=%s", "mounts": [{"partition": %d, "mountpoint": "/"}], "x": %d, broken\n' \
			"$T/u/nbd.sock" $((i % 3 + 1)) "$i" > "$T/root/127.0.0.1.nbd"
		sleep 0.1
	done
}
bad "not JSON" w_notjson
bad "empty" w_empty
bad "10 MB" w_big
bad "broken and rewritten every 100 ms for 3 s" w_churn
check "A: no mounter left running" wait_for 10 eval '[ -z "$(qemu_of_ours)" ] && not pgrep -P $SRV -x rtftp-mounter >/dev/null'
srv_stop; check "A: server stopped cleanly, every qemu gone" [ $? -eq 0 ]

########################################################################################
say "=== server B: --no-proactive --idle-timeout 6 --max-mounters 1"
write_nbd 127.0.0.1 /boot
write_nbd 127.0.0.2 /boot
srv_start B --no-proactive --idle-timeout 6 --max-mounters 1
m=$(mark)
served "B: lazy start for 127.0.0.1" 127.0.0.1 version.txt "$F/version.txt" remote --wait 120
Q1=$(mounter_pid 127.0.0.1 "$m")
say "== B: idle exit"
check "B: mounter $Q1 exits after 6 s without a transfer (+ the 5 s lookup cache)" \
	wait_log "$m" 'rtftp: mounter 127.0.0.1 idle: exiting' 25
check "B: mounter $Q1 process gone" wait_for 5 gone "$Q1"
check "B: its exit is logged" wait_log "$m" "mounter 127.0.0.1 \\(pid $Q1\\) exited" 5
m=$(mark)
first_after_death "B: after the idle exit" 127.0.0.1 version.txt "$F/version.txt"
Q2=$(mounter_pid 127.0.0.1 "$m")
check "B: a new mounter ($Q2) replaced $Q1" eval "[ -n '$Q2' ] && [ '$Q2' != '$Q1' ] && alive '$Q2'"

say "== B: --max-mounters 1: 127.0.0.2 evicts the idle 127.0.0.1"
sleep 6   # the worker's lookup cache lets go of 127.0.0.1's file: it reports itself idle
m=$(mark)
raw 127.0.0.2 version.txt "$O/b2" --wait 150 &
rpid=$!
check "B: idle mounter $Q2 (127.0.0.1) stopped for 127.0.0.2" wait_log "$m" "mounter 127.0.0.1 \\(pid $Q2\\): stopping" 5
E=$SECONDS
check "B: mounter for 127.0.0.2 started" wait_log "$m" 'rtftp: mounter 127.0.0.2 started' 5
check "B: evicted mounter $Q2 gone" wait_for 10 gone "$Q2"
# A request of 127.0.0.1 now (after the worker's 10 s back-off, so that it reaches the
# parent) cannot get a mounter: 127.0.0.2's is starting or busy, never evicted.
while [ $((SECONDS - E)) -lt "$RETRY" ]; do sleep 0.2; done
if log_has "$m" 'rtftp: mounter 127.0.0.2 ready'; then
	say "   (127.0.0.2 already ready: make it busy with a transfer first)"
	raw 127.0.0.2 grub/grub.cfg "$O/b2busy" --wait 10
fi
m1=$(mark)
served "B: 127.0.0.1 while the only mounter slot is taken: default/" 127.0.0.1 version.txt "$D/version.txt" default --wait 20
check "B: the parent logged that --max-mounters was reached" wait_log "$m1" 'mounter 127.0.0.1: --max-mounters 1 reached and none idle' 3
wait "$rpid"; rc=$?
check "B: 127.0.0.2's first request (waited for the launch) served from its disk (rc=$rc)" same "$O/b2" "$F/version.txt"
check "B: parent and worker unchanged" pids_unchanged
srv_stop; check "B: server stopped cleanly, every qemu gone" [ $? -eq 0 ]
rm -f "$T/root/127.0.0.2.nbd"

########################################################################################
say "=== server C: faults (--no-proactive --remote-deadline 5), NBD over TCP"
NPORT=$(free_port)
write_nbd 127.0.0.1 /boot "nbd://127.0.0.1:$NPORT/client1"
srv_start C --no-proactive --remote-deadline 5 --idle-timeout 600
say "== C: NBD server unreachable at the start"
m=$(mark)
served "C: NBD server down" 127.0.0.1 version.txt "$D/version.txt" default --wait 20
check "C: ... falls through to default/ within a second ($(field total_ms) ms)" [ "$(field total_ms)" -lt 1000 ]
check "C: the parent logs the mounter's failure" log_has "$m" 'rtftp: mounter 127.0.0.1 failed: '
check "C: the reason is precise (names the server and the refusal)" \
	log_has "$m" "mounter 127.0.0.1 failed: .*(127\\.0\\.0\\.1:$NPORT|nbd://127\\.0\\.0\\.1:$NPORT/client1).*([Cc]onnection refused|connect)"
check "C: the worker logs the fall-through" log_has "$m" 'client 127.0.0.1: remote disk unavailable: .*serving from default/'
say "   logged: $(since "$m" | grep -E 'failed|unavailable' | head -2 | tr '\n' '|' | cut -c1-300)"
check "C: no appliance was launched" not log_has "$m" 'appliance up'
FAIL_AT=$SECONDS

say "== C: NBD server killed in the middle of a transfer"
NBDKIT_FILTERS="--filter=delay" NBDKIT_PARAMS="rdelay=40ms" nbd_tcp "$NPORT"
while [ $((SECONDS - FAIL_AT)) -lt "$RETRY" ]; do sleep 0.2; done
m=$(mark)
served "C: with the server up (reads delayed 40 ms)" 127.0.0.1 grub/grub.cfg "$F/grub/grub.cfg" remote --wait 150
C1=$(mounter_pid 127.0.0.1 "$m")
m=$(mark)
( raw 127.0.0.1 vmlinuz "$O/mid" --blksize 1468 --wait 30 --idle 60; echo "$R" > "$O/mid.res" ) &
rpid=$!
wait_for 20 eval '[ "$(stat -c %s "$O/mid" 2>/dev/null || echo 0)" -gt 100000 ]'
got=$(stat -c %s "$O/mid" 2>/dev/null || echo 0)
"$here/nbdkit.sh" stop "$T/t"
K=$SECONDS
say "   nbdkit killed after $got of $(stat -c %s "$F/vmlinuz") bytes reached the client"
check "C: the kill happened mid-transfer ($got bytes)" [ "$got" -gt 0 -a "$got" -lt "$(stat -c %s "$F/vmlinuz")" ]
wait_for 40 test -s "$O/mid.res"
EL=$((SECONDS - K))
R=$(cat "$O/mid.res" 2>/dev/null)
check "C: the client got a TFTP error ($R)" [ "$(field result)" = error ]
check "C: ... within a bounded time: ${EL} s after the kill (--remote-deadline 5: <= 12)" [ "$EL" -le 12 ]
wait "$rpid" 2>/dev/null
check "C: the worker logged the stall" wait_log "$m" 'client 127.0.0.1: remote disk not responding' 5
check "C: the parent killed mounter $C1" wait_for 10 gone "$C1"
say "   logged: $(since "$m" | grep -E 'not responding|SIGKILL|stall|killed' | head -3 | tr '\n' '|' | cut -c1-400)"
check "C: the stalled mounter's qemu is gone within 10 s" wait_for 10 eval '[ -z "$(qemu_of_ours)" ]'
nbd_tcp "$NPORT"
m=$(mark)
first_after_death "C: NBD server restarted" 127.0.0.1 vmlinuz "$F/vmlinuz"
C2=$(mounter_pid 127.0.0.1 "$m")
check "C: replaced mounter ($C2, was $C1)" eval "[ -n '$C2' ] && [ '$C2' != '$C1' ]"
check "C: parent and worker unchanged" pids_unchanged

say "== C: SIGKILL of the mounter"
kill -KILL "$C2"
check "C: mounter $C2 killed" wait_for 5 gone "$C2"
check "C: the parent logged the kill" wait_log "$m" "mounter 127.0.0.1 \\(pid $C2\\) killed by signal 9" 5
check "C: libguestfs's recovery killed its qemu" wait_for 15 eval '[ -z "$(qemu_of_ours)" ]'
m=$(mark)
first_after_death "C: after SIGKILL of the mounter" 127.0.0.1 version.txt "$F/version.txt"
C3=$(mounter_pid 127.0.0.1 "$m")
check "C: parent and worker unchanged" pids_unchanged

say "== C: SIGKILL of the mounter's qemu"
QP=$(pgrep -P "$C3" qemu-system | head -1)
check "C: mounter $C3 has a qemu child ($QP)" test -n "$QP"
[ -n "$QP" ] && kill -KILL "$QP"
sleep 1
m=$(mark)
first_after_death "C: after SIGKILL of qemu" 127.0.0.1 grub/grub.cfg "$F/grub/grub.cfg"
C4=$(mounter_pid 127.0.0.1 "$m")
check "C: the mounter with the dead qemu ($C3) is gone" wait_for 10 gone "$C3"
check "C: a new mounter ($C4) serves" eval "[ -n '$C4' ] && [ '$C4' != '$C3' ] && alive '$C4'"
check "C: never answered 'not found' for a file on the disk" not log_has 0 'file="(vmlinuz|version.txt|grub/grub.cfg)" root=[a-z]+ .*outcome=not-found'
check "C: parent and worker unchanged" pids_unchanged
srv_stop; check "C: server stopped cleanly, every qemu gone" [ $? -eq 0 ]
check "every mounter's private folder removed" test -z "$(ls -A "$T/state")"
finish
