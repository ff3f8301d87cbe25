#!/bin/bash
# Faults, over loopback TCP with a strict export name:
#  1. qemu SIGKILLed under a running mounter: the next open fails (never "not found") within
#     seconds and the mounter exits by itself.
#  2. the NBD server killed in the middle of a fill (reads slowed by nbdkit's delay filter):
#     UNAVAILABLE or a stall, never wrong bytes or "not found"; SIGKILL (what the parent does
#     on PW_MOUNTER_STALLED) ends it and qemu follows.
source "$(dirname "$0")/lib.sh"
fixture 8
port=$(free_port)
nbd_tcp "$port"
F=$T/fx/files
conf "$T/c.nbd" "nbd://127.0.0.1:$port/client1" "$MOUNTS_STD" /boot
cat > "$T/s1" <<SCRIPT
fetch grub/grub.cfg $F/grub/grub.cfg
sh pkill -KILL -P \$MOUNTER_PID qemu-system
sleep 1
error-or-eof vmlinuz
SCRIPT
echo "== qemu killed"
harness "$T/c.nbd" "$T/s1" ready 200000

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
echo "ALL FAULT TESTS OK"
