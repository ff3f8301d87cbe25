#!/bin/bash
# Start failures that must take milliseconds (no launch) and give the exact reason, the
# launch timeout, and --check-config. One nbdkit on a unix socket, one on loopback TCP.
source "$(dirname "$0")/lib.sh"
fixture 2
nbd_unix
port=$(free_port); nbd_tcp "$port"
U="nbd+unix:///?socket=$T/u/nbd.sock"
dead=$(free_port)

expect_fail() {   # NAME URL MOUNTS SUBSTRING MAX_MS
	conf "$T/$1.nbd" "$2" "$3" "${6:-}"
	echo "== $1"
	harness "$T/$1.nbd" /dev/null "failed:$4" "$5"
}
expect_fail socket-missing "nbd+unix:///?socket=$T/none.sock" "$MOUNTS_STD" "No such file" 1500
expect_fail port-closed "nbd://127.0.0.1:$dead/client1" "$MOUNTS_STD" "Connection refused" 1500
expect_fail wrong-export "nbd://127.0.0.1:$port/bogus" "$MOUNTS_STD" "export" 1500
expect_fail no-partition "$U" '[{"partition":7,"mountpoint":"/"}]' "partition 7 does not exist" 1500
expect_fail not-a-fs "$U" '[{"partition":4,"mountpoint":"/"}]' "partition 4 holds no filesystem" 1500

# A parent that breaks the protocol: the mounter exits 1 at once and tells the worker
# nothing. (The .nbd names a missing socket: a mounter that went on would fail its
# pre-flight with WM_FAILED, which the harness refuses.)
refused() {   # NAME LOG_LINE OPTION
	echo "== broken parent: $1"
	harness "$T/socket-missing.nbd" /dev/null refused 2000 "$3" 2>&1 | tee "$T/refused.out"
	grep -qF "mounter: $2" "$T/refused.out" || { echo "FAIL: no log line \"$2\""; exit 1; }
}
refused "HELLO of another version" "the parent speaks protocol 99, not" version=99
refused "PM_CONFIG without the .nbd" "bad PM_CONFIG from the parent" nofd=1
refused "a string in PM_CONFIG without its NUL" "bad PM_CONFIG from the parent" unterminated=1
refused "a client address that is not one" "bad client address in PM_CONFIG" "addr=127.0.0.1;x"

printf '' > "$T/empty.nbd"; echo "== empty"; harness "$T/empty.nbd" /dev/null "failed:the file is empty" 1500
printf '{not json' > "$T/nj.nbd"; echo "== not json"; harness "$T/nj.nbd" /dev/null "failed:not JSON" 1500
head -c 10485760 /dev/zero > "$T/big.nbd"; echo "== 10 MB"; harness "$T/big.nbd" /dev/null "failed:larger than 65536" 1500

# A server that accepts and never answers: the deadline, not a hang.
silent=$(free_port)
timeout 120 python3 "$here/silent_server.py" "$silent" & EXTRA_PID=$!
sleep 0.3
expect_fail silent "nbd://127.0.0.1:$silent/x" "$MOUNTS_STD" "no answer from the NBD server within the deadline" 5000

# A server that takes one client at a time (qemu-nbd's default): the appliance would hold
# the only slot, and every liveness check behind an ENOENT would wait out its deadline and
# answer "unavailable". Refused at the pre-flight, in about the probe deadline, saying why.
timeout 60 qemu-nbd -r -t -k "$T/q.sock" "$T/fx/disk.img" & QNBD_PID=$!
for _ in $(seq 100); do [ -S "$T/q.sock" ] && break; sleep 0.05; done
expect_fail one-client "nbd+unix:///?socket=$T/q.sock" "$MOUNTS_STD" \
	"a second connection, beside an open one: connect: no answer from the NBD server within the deadline" 4500
# --check-config must refuse it too (what it accepts, the mounter accepts). It runs as the
# service user when started as root: the socket must let that user connect.
CC="$RTFTP_BIN_DIR/rtftp --check-config"
[ "$(id -u)" = 0 ] && CC="$RTFTP_BIN_DIR/rtftp --user nobody --check-config"
chmod 0666 "$T/q.sock"
echo "== check-config of a one-client server ($CC)"
out=$(timeout 20 $CC "$T/one-client.nbd") && { echo "$out"; echo "FAIL: accepted"; exit 1; }
echo "$out"; grep -q "^FAIL: .*two connections at once" <<<"$out"
kill "$QNBD_PID"; wait "$QNBD_PID" 2>/dev/null || true

# Runs SCRIPT in private mount and network namespaces (in a user namespace too when not
# root): their own loopback, and host names looked up in files and DNS only, whatever the
# machine uses (nss-resolve or mdns would ask a daemon outside the namespace; so would a
# running nscd, which glibc asks first).
cat > "$T/ns.sh" <<NS
ip link set lo up
printf 'hosts: files dns\\n' > "$T/nsswitch.conf"
mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
if [ -d /run/nscd ]; then mount -t tmpfs none /run/nscd; fi
NS
in_namespaces() {
	local as=-mn
	[ "$(id -u)" = 0 ] || as=-rmn
	unshare $as bash -c 'set -euo pipefail; . "$1"; . "$2"' _ "$T/ns.sh" "$1"
}

# A resolver that never answers: the host is resolved under the pre-flight deadline, not by
# libnbd's synchronous getaddrinfo (10 s here). Then one that answers after 2 s with two
# addresses that accept and never answer: the connections get what is left of the one
# deadline (3 s in all), not a deadline each. Private mount and network namespaces: a
# "DNS server" on the namespace's own 127.0.0.1:53 and a resolv.conf naming it.
conf "$T/dns.nbd" "nbd://nbd-server.example.org/x" "$MOUNTS_STD"
slow=$(free_port)
conf "$T/slow.nbd" "nbd://silent.test:$slow/x" "$MOUNTS_STD"
cat > "$T/dns.sh" <<DNS
echo "nameserver 127.0.0.1" > "$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf
timeout 30 python3 "$here/slowdns.py" 3600 & dns=\$!     # silent for this test
sleep 0.3
timeout 30 "$HARNESS" "$MOUNTER" "$T/dns.nbd" /dev/null \
	"failed:resolving nbd-server.example.org: no answer within the deadline" 4000
kill \$dns; wait \$dns || true
timeout 30 python3 "$here/slowdns.py" 2 127.0.0.1 127.0.0.2 & dns=\$!
timeout 30 python3 "$here/silent_server.py" $slow & mute=\$!
sleep 0.3
timeout 30 "$HARNESS" "$MOUNTER" "$T/slow.nbd" /dev/null \
	"failed:silent.test (2 addresses): connect: no answer from the NBD server within the deadline" 4000
kill \$dns \$mute
DNS
echo "== dead resolver; slow resolver, two silent addresses"
in_namespaces "$T/dns.sh"

# A name with an IPv6 and an IPv4 address, served on IPv4 only (localhost with "::1
# localhost" in /etc/hosts and nbdkit -i 127.0.0.1): the addresses are tried in the
# resolver's order, as libnbd and qemu try them, and the one that answers is used. Private
# mount and network namespaces: their own /etc/hosts and their own loopback.
dual=$(free_port)
conf "$T/dual.nbd" "nbd://dual.test:$dual/client1" '[{"partition":1,"mountpoint":"/boot"}]' /boot
cat > "$T/dual.sh" <<DUAL
printf '::1 dual.test\n127.0.0.1 dual.test\n' > "$T/hosts"
mount --bind "$T/hosts" /etc/hosts
getent ahosts dual.test | head -1 | grep -q '^::1 '
mkdir -p "$T/d"
timeout 20 "$here/nbdkit.sh" tcp "$T/d" "$T/fx/disk.img" "$dual" client1
trap 'timeout 20 "$here/nbdkit.sh" stop "$T/d"' EXIT
timeout 30 "$HARNESS" "$MOUNTER" "$T/dual.nbd" /dev/null "failed:launch took longer than 1 s" 8000 launch=1
DUAL
echo "== dual-stack name, IPv4 server"
in_namespaces "$T/dual.sh"

# Launch timeout: a valid disk, 3 s allowed; qemu is killed and the reason says so.
conf "$T/ok.nbd" "$U" "$MOUNTS_STD" /boot
echo "== launch timeout"
harness "$T/ok.nbd" /dev/null "failed:launch took longer than 3 s" 12000 launch=3 | tee "$T/lt.out"
# The watchdog must fire at the deadline, neither before nor long after (it wakes every
# 100 ms; killing qemu ends the launch within milliseconds).
ms=$(sed -n 's/^start: WM_FAILED in \([0-9]*\) ms.*/\1/p' "$T/lt.out")
[ "$ms" -ge 3000 ] && [ "$ms" -le 5000 ] || { echo "FAIL: launch timeout of 3 s fired after $ms ms"; exit 1; }
sleep 2
if pgrep -f "qemu.*$T/tmp" >/dev/null; then echo "FAIL: qemu left running after the launch timeout"; exit 1; fi

# The parent SIGKILLed while its mounter launches: PR_SET_PDEATHSIG gives the mounter a
# SIGTERM, on which the watchdog ends the launch: the mounter and its qemu are gone within
# seconds, not after the launch (about 17 s) nor never.
echo "== parent killed during the launch"
timeout 120 "$HARNESS" "$MOUNTER" "$T/ok.nbd" /dev/null ready 60000 launch=60 > "$T/orphan.out" 2>&1 & hpid=$!
for _ in $(seq 300); do pgrep -f "qemu-system.*$T/tmp" >/dev/null && break; sleep 0.1; done
hpid=$(pgrep -P "$hpid" -x mounter_harness || echo "$hpid")
mpid=$(pgrep -P "$hpid" -x rtftp-mounter || true)
# Checked before the kill: after it, the mounter may end qemu before pgrep finds it.
[ -n "$mpid" ] && pgrep -f "qemu-system.*$T/tmp" >/dev/null || { echo "FAIL: no launch to interrupt"; exit 1; }
kill -KILL "$hpid"
running() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status"; }
for _ in $(seq 50); do running "$mpid" || break; sleep 0.1; done
if running "$mpid"; then
	echo "FAIL: mounter $mpid still running 5 s after its parent died"; kill -KILL "$mpid"; exit 1
fi
"$here/wait_qemu_gone.sh" "$T/tmp" 10

# rtftp --check-config (runs mounter/checkconfig.c in rtftp-mounter, as the service user:
# as root it needs --user).
echo "== check-config ($CC)"
out=$(timeout 20 $CC "$T/ok.nbd"); echo "$out"
# One assertion a line: set -e ignores a failure anywhere in an && list but at its end.
grep -q "partition 1: .*vfat" <<<"$out"
grep -q "partition 2: .*ext4" <<<"$out"
grep -q "^OK" <<<"$out"
conf "$T/tcp.nbd" "nbd://127.0.0.1:$port/client1" '[{"partition":1,"mountpoint":"/boot"}]' /boot
timeout 20 $CC "$T/tcp.nbd" | grep -q "^OK"
set +e
out=$(timeout 20 $CC "$T/no-partition.nbd"); rc=$?
set -e
echo "$out"
[ $rc = 1 ]
grep -q "partition 7 does not exist" <<<"$out"
out=$(timeout 20 $CC "$T/nj.nbd") && exit 1; grep -q "invalid: not JSON" <<<"$out"
out=$(timeout 20 $CC "$T/wrong-export.nbd") && exit 1; echo "$out"

# A launch killed while supermin builds the appliance (a cold cache: the build writes about
# 680 MB and takes about 3 s here; 1 s is allowed) leaves supermin's scratch folder behind, since
# the watchdog SIGKILLs it. It must be in the mounter's private tmp dir, which the parent
# removes, and not in the TMPDIR the mounter was started with (/var/tmp when unset, where
# every such launch left 6-13 MB).
echo "== launch killed during a cold appliance build"
mkdir -p "$T/outer" "$T/cold-tmp" "$T/cold"
TMPDIR="$T/outer" RTFTP_TEST_CACHE="$T/cold" RTFTP_TEST_TMP="$T/cold-tmp" \
	harness "$T/ok.nbd" /dev/null "failed:launch took longer than 1 s" 12000 launch=1
if ls -d "$T/outer"/supermin* 2>/dev/null; then
	echo "FAIL: supermin's scratch folder left in the inherited TMPDIR"; exit 1
fi
ls -d "$T/cold-tmp"/supermin*.tmpdir >/dev/null 2>&1 ||
	{ echo "FAIL: no supermin folder in the private tmp dir: was the build over within 1 s?"; exit 1; }
rm -rf "$T/cold"
echo "ALL PROBE TESTS OK"
