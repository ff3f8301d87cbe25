# Shared by test_e2e.sh and test_lifetime.sh: the whole server (parent, worker, mounters) as
# root dropping to nobody, stock and raw TFTP clients, bounded waits on the server log,
# checks that record a failure and go on (the script fails at the end), cleanup of every
# process it started (server, mounters, qemu, nbdkit).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
set +e   # checks record failures and go on; finish() decides
RTFTP=$RTFTP_BIN_DIR/rtftp
PY=$(command -v /usr/bin/python3 || command -v python3)
TFTPC="$PY $here/tftpc.py"
SVC_USER=nobody
# The service user's own appliance cache, inside the shared test cache (built once).
SVC_CACHE=$RTFTP_TEST_CACHE/svc-$SVC_USER
mkdir -p "$SVC_CACHE" "$T/root/default"
chown "$SVC_USER" "$SVC_CACHE"
chmod 0755 "$RTFTP_TEST_CACHE" "$T/root" "$T/root/default"
FAILS=0
CHECKS=0
SRV=""
LOG=""
SEEN_PIDS=""
T0=$SECONDS

e2e_cleanup() {
	local rc=$?
	srv_stop >/dev/null 2>&1 || true
	cleanup
	exit $rc
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '[%3ds] %s\n' $((SECONDS - T0)) "$*"; }
pass() { CHECKS=$((CHECKS + 1)); say "ok   - $*"; }
fail() {
	CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1))
	say "FAIL - $*"
	if [ -n "$LOG" ] && [ -f "$LOG" ]; then
		echo "    --- server log, last 25 lines:"
		tail -25 "$LOG" | cut -c1-300 | sed 's/^/    | /'
	fi
}
# check "what" command...: pass or fail, never exits
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }
not() { ! "$@"; }
finish() {
	say "$CHECKS checks, $FAILS failed"
	[ "$FAILS" -eq 0 ] || { echo "SOME CHECKS FAILED"; exit 1; }
	echo "ALL CHECKS OK"
}

udp_port() { $PY -c 'import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
gone() { ! alive "$1"; }
# wait_for SEC command...: poll every 0.1 s
wait_for() {
	local end=$((SECONDS + $1)); shift
	while :; do
		"$@" && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# --- the server -------------------------------------------------------------------------
# srv_start NAME OPTIONS...: ROOT is $T/root, log $T/NAME.log; sets SRV, WORKER, PORT, LOG.
srv_start() {
	local name=$1; shift
	PORT=$(udp_port)
	LOG=$T/$name.log
	rm -rf "$T/state"; mkdir -p "$T/state"; chown "$SVC_USER" "$T/state"
	chmod -R a+rX "$T/root"
	"$RTFTP" --listen "127.0.0.1:$PORT" --user "$SVC_USER" --cache-dir "$SVC_CACHE" \
		--state-dir "$T/state" --guestfs-backend-settings force_tcg -v "$@" "$T/root" \
		>"$LOG" 2>&1 &
	SRV=$!
	if ! wait_for 10 grep -q 'sandboxed and serving' "$LOG"; then
		echo "server did not start:"; cat "$LOG"; exit 1
	fi
	WORKER=$(sed -n 's/.*worker \([0-9]*\) sandboxed and serving.*/\1/p' "$LOG" | head -1)
	say "server $name: pid $SRV, worker $WORKER, port $PORT, options: $*"
}
# Stop the server; every mounter it started and every qemu of ours must be gone.
srv_stop() {
	[ -n "$SRV" ] || return 0
	local pids
	pids="$SEEN_PIDS $(sed -n 's/.*mounter .* started (pid \([0-9]*\)).*/\1/p' "$LOG" 2>/dev/null | tr '\n' ' ')"
	kill -TERM "$SRV" 2>/dev/null || true
	wait_for 15 gone "$SRV" || { echo "server $SRV ignored SIGTERM: SIGKILL"; kill -KILL "$SRV" 2>/dev/null; }
	wait "$SRV" 2>/dev/null || true
	for p in $pids; do
		wait_for 10 gone "$p" || { echo "mounter $p left running: SIGKILL"; kill -KILL "$p" 2>/dev/null; }
	done
	if ! "$here/wait_qemu_gone.sh" "$T/state" 15; then
		for p in $(pgrep -f "qemu-system.*$T/state" || true); do kill -KILL "$p" 2>/dev/null; done
		return 1
	fi
	SRV=""
}
qemu_of_ours() { pgrep -f "qemu-system.*$T/state" || true; }

# --- the log ----------------------------------------------------------------------------
mark() { wc -l < "$LOG"; }
since() { tail -n "+$(( $1 + 1 ))" "$LOG"; }
log_has() { since "$1" | grep -Eq -- "$2"; }
# wait_log MARK ERE SEC
wait_log() { wait_for "$3" log_has "$1" "$2"; }
count_log() { since "$1" | grep -Ec -- "$2" || true; }
# Last "mounter ADDR started (pid N)" after MARK (0: whole log).
mounter_pid() { since "${2:-0}" | sed -n "s/.*rtftp: mounter $1 started (pid \([0-9]*\)).*/\1/p" | tail -1; }
# The transfer record for a request from ADDR[:PORT] for NAME after MARK, with root R and outcome O.
xfer_re() { printf 'worker: transfer client=%s:%s file="%s" root=%s .*outcome=%s' "$1" "${2:-[0-9]+}" "$3" "$4" "$5"; }

# --- clients ----------------------------------------------------------------------------
# raw ADDR NAME OUT [tftpc options]: sets R (the result line) and returns tftpc's status.
raw() {
	local a=$1 n=$2 o=$3; shift 3
	R=$(timeout 200 $TFTPC get 127.0.0.1 "$PORT" "$n" "$o" --bind "$a" "$@" 2>&1) && return 0
	return 1
}
rawprobe() {
	local a=$1 n=$2; shift 2
	R=$(timeout 100 $TFTPC probe 127.0.0.1 "$PORT" "$n" --bind "$a" "$@" 2>&1)
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$R" | tr -d '"'; }
curl_get() { local a=$1 n=$2 o=$3; shift 3; timeout 150 curl -sS --interface "$a" "$@" "tftp://127.0.0.1:$PORT/$n" -o "$o"; }
hpa_get() { rm -f "$2"; (cd "$(dirname "$2")" && timeout 60 tftp -m binary 127.0.0.1 "$PORT" -c get "$1" "$(basename "$2")"); }
atftp_get() { rm -f "$2"; timeout 60 atftp -g -r "$1" -l "$2" "${@:3}" 127.0.0.1 "$PORT"; }
same() { cmp -s "$1" "$2"; }

write_nbd() { # write_nbd ADDR TFTP_ROOT [URL] [MOUNTS]
	conf "$T/root/$1.nbd.tmp" "${3:-nbd+unix:///?socket=$T/u/nbd.sock}" "${4:-$MOUNTS_STD}" "$2"
	chmod 0644 "$T/root/$1.nbd.tmp"
	mv "$T/root/$1.nbd.tmp" "$T/root/$1.nbd"
}

# served DESC ADDR NAME EXPECTED ROOT [tftpc options]: one raw request; passes when the bytes
# are EXPECTED's and the transfer is logged with root=ROOT outcome=ok. Sets R.
served() {
	local d=$1 a=$2 n=$3 e=$4 root=$5; shift 5
	local m0 line
	m0=$(mark)
	rm -f "$T/got"
	raw "$a" "$n" "$T/got" "$@"
	wait_log "$m0" "transfer client=$a:$(field port) " 3
	line=$(since "$m0" | grep -F "transfer client=$a:$(field port) " | cut -c1-260)
	if [ -f "$T/got" ] && same "$T/got" "$e" && grep -Eq "root=$root .*outcome=ok" <<<"$line"; then
		pass "$d: $n served from $root ($R)"
		return 0
	fi
	fail "$d: $n expected from $root, got: $R; logged: ${line:-nothing}"
	return 1
}
