#!/bin/bash
# A hostile disk: a symlink on one partition at the path of a later mount point. guestfsd
# mounts on "/sysroot" + mountpoint outside its chroot, so the link would take the mount out
# of the guest's tree into the appliance itself. The mounter must refuse before mounting,
# with the reason in its log and in WM_FAILED (so the worker falls through to default/ and
# nothing is served from that disk), and leave no qemu behind. One launch.
source "$(dirname "$0")/lib.sh"
timeout 60 "$here/mkhostile.sh" "$T/hx" >/dev/null
nbd_unix_img() { timeout 20 "$here/nbdkit.sh" unix "$T/u" "$1"; }
nbd_unix_img "$T/hx/disk.img"
conf "$T/h.nbd" "nbd+unix:///?socket=$T/u/nbd.sock" "$MOUNTS_STD" /boot
reason="mount point /boot resolves to /etc on the disk (a symlink): refused"
echo "== symlink at a mount point"
harness "$T/h.nbd" /dev/null "failed:$reason" 200000 2>&1 | tee "$T/out"
grep -q "^FAIL" "$T/out" && exit 1
grep -q "ok failed as expected" "$T/out"
# The mounter's own log line (what the operator reads), not only the harness's view.
grep -q "mounter 127.0.0.1: $reason" "$T/out" || { echo "FAIL: no log line with the reason"; exit 1; }
"$here/wait_qemu_gone.sh" "$T/tmp" 10
echo "ALL HOSTILE TESTS OK"
