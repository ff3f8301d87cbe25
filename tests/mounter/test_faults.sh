#!/bin/bash
# Faults, over loopback TCP with a strict export name:
#  1. qemu SIGKILLed under a running mounter: the next open fails (never "not found") within
#     seconds and the mounter exits by itself.
#  2. the NBD server killed in the middle of a fill (reads slowed by nbdkit's delay filter):
#     UNAVAILABLE or a stall, never wrong bytes or "not found"; SIGKILL (what the parent does
#     on PW_MOUNTER_STALLED) ends it and qemu follows.
#  3. the NBD server paused the moment the appliance is up: the mounts hang, and the launch
#     deadline (which covers them) kills qemu; the mounter fails with its own reason long
#     before the parent's backstop.
# Case 1 mounts a boot-only disk with a nested mount (/boot, /boot/ext: mount points made in
# the appliance, then one checked on the disk), served by qemu-nbd limited to two clients:
# the appliance holds one, and a "not found" is still answered as such (its liveness check
# gets the other). The other cases use nbdkit and the standard three mounts.
source "$(dirname "$0")/lib.sh"
fixture 8
port=$(free_port)
nbd_tcp "$port"
F=$T/fx/files
qport=$(free_port)
conf "$T/b.nbd" "nbd://127.0.0.1:$qport/client1" \
	'[{"partition":1,"mountpoint":"/boot"},{"partition":3,"mountpoint":"/boot/ext"}]' /boot
conf "$T/c.nbd" "nbd://127.0.0.1:$port/client1" "$MOUNTS_STD" /boot
cat > "$T/s1" <<SCRIPT
fetch grub/grub.cfg $F/grub/grub.cfg
fetch ext/inside.txt $F/inside.txt
error nothere 1
sh pkill -KILL -P \$MOUNTER_PID qemu-system
sleep 1
error-or-eof vmlinuz
SCRIPT
echo "== qemu killed (qemu-nbd --shared=2)"
timeout 300 qemu-nbd -r -t --shared=2 -x client1 -b 127.0.0.1 -p "$qport" "$T/fx/disk.img" & QNBD_PID=$!
for _ in $(seq 100); do timeout 1 bash -c "echo > /dev/tcp/127.0.0.1/$qport" 2>/dev/null && break; sleep 0.05; done
harness "$T/b.nbd" "$T/s1" ready 200000
kill "$QNBD_PID"; wait "$QNBD_PID" 2>/dev/null || true

echo "== NBD server killed mid-fill"
NBDKIT_FILTERS="--filter=delay" NBDKIT_PARAMS="rdelay=40ms" nbd_tcp "$port"
cat > "$T/s2" <<SCRIPT
fetch grub/grub.cfg $F/grub/grub.cfg
sh (sleep 0.5; $here/nbdkit.sh stop $T/t) >/dev/null 2>&1 &
stall vmlinuz 20
kill
sh $here/wait_qemu_gone.sh $T/tmp 10
SCRIPT
harness "$T/c.nbd" "$T/s2" ready 300000
echo "== NBD server paused after the launch"
launch=45
NBDKIT_FILTERS="--filter=pause" NBDKIT_PARAMS="pause-control=$T/pause.sock" nbd_tcp "$port"
: > "$T/s3.log"
# One watcher, connected before the launch and polling every 10 ms: the pause must land
# before the mounts have read what they need (they take about a second under TCG).
python3 -c "import socket,sys,time
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
for _ in range(30000):
    if b'appliance up' in open(sys.argv[2],'rb').read(): break
    time.sleep(0.01)
s.sendall(b'p'); s.recv(1)" "$T/pause.sock" "$T/s3.log" & EXTRA_PID=$!
t0=$(date +%s)
harness "$T/c.nbd" /dev/null "failed:mounting did not finish within the $launch s launch timeout" \
	$(( (launch + 10) * 1000 )) launch=$launch 2>&1 | tee -a "$T/s3.log"
wait "$EXTRA_PID"; EXTRA_PID=
grep -q "mounter 127.0.0.1: mounting did not finish" "$T/s3.log" || { echo "FAIL: reason not logged"; exit 1; }
echo "failed after $(( $(date +%s) - t0 )) s (launch timeout $launch s)"
"$here/wait_qemu_gone.sh" "$T/tmp" 10
# The paused server holds its requests and ignores SIGTERM: stopping it must still work
# (it used to outlive every run of this test).
"$here/nbdkit.sh" stop "$T/t"
echo "ALL FAULT TESTS OK"
