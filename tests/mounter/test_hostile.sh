#!/bin/bash
# A hostile disk (mkhostile.sh), two launches:
#  1. a symlink on one partition in the path of a later mount point. guestfsd mounts on
#     "/sysroot" + mountpoint outside its chroot, so the link would take the mount out of the
#     guest's tree into the appliance itself. The link is in the middle of the path
#     (/boot/grub with boot -> /etc), where a check of the last component alone (is it a
#     directory, not a link) passes: the realpath check must refuse it.
#  2. tftp_root through a symlink out of the disk (/boot/out -> /) when / is not mounted: it
#     would serve the appliance's own files.
# The mounter must refuse before serving, with the reason in its log and in WM_FAILED (so the
# worker falls through to default/ and nothing is served from that disk), and leave no qemu
# behind.
source "$(dirname "$0")/lib.sh"
timeout 60 "$here/mkhostile.sh" "$T/hx" >/dev/null
nbd_unix_img() { timeout 20 "$here/nbdkit.sh" unix "$T/u" "$1"; }
nbd_unix_img "$T/hx/disk.img"
refused() {   # NAME MOUNTS TFTP_ROOT REASON
	echo "== $1"
	conf "$T/h.nbd" "nbd+unix:///?socket=$T/u/nbd.sock" "$2" "$3"
	harness "$T/h.nbd" /dev/null "failed:$4" 200000 2>&1 | tee "$T/out"
	grep -q "^FAIL" "$T/out" && exit 1
	grep -q "ok failed as expected" "$T/out"
	# The mounter's own log line (what the operator reads), not only the harness's view.
	grep -qF "mounter 127.0.0.1: $4" "$T/out" || { echo "FAIL: no log line with the reason"; exit 1; }
	"$here/wait_qemu_gone.sh" "$T/tmp" 10
}
refused "symlink in the path of a mount point" '[{"partition":2,"mountpoint":"/"},{"partition":1,"mountpoint":"/boot/grub"}]' \
	/boot/grub "mount point /boot/grub resolves to /etc/grub on the disk (a symlink): refused"
refused "tftp_root through a symlink out of the disk" '[{"partition":1,"mountpoint":"/boot"}]' \
	/boot/out "tftp_root /boot/out resolves to /, which is not on the disk"
echo "ALL HOSTILE TESTS OK"
