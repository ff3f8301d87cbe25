#!/bin/bash
# A hostile disk, built without root and without the appliance: the root filesystem holds
# "boot -> /etc", so a mount below /boot would leave the appliance's /sysroot and land in its
# /etc (the reviewer's version pointed it at /usr/sbin and ran its own mount(8) as root); and
# the boot filesystem holds "out -> /", which leads out of the disk when / is not mounted.
#   p1 ext4 8 MiB   (meant for /boot: hello.txt, ext/, out -> /)
#   p2 ext4 16 MiB  (meant for /: boot -> /etc, etc/hostname, etc/grub/)
#   p3 ext4 4 MiB   (meant for /boot/ext)
# Usage: mkhostile.sh OUTDIR   -> OUTDIR/disk.img
set -euo pipefail
out=$1
export PATH=$PATH:/usr/sbin:/sbin
rm -rf "$out"; mkdir -p "$out/p1/ext" "$out/p2/etc/grub" "$out/p3"
echo hello > "$out/p1/hello.txt"
ln -s / "$out/p1/out"
ln -s /etc "$out/p2/boot"
echo hostile > "$out/p2/etc/hostname"
echo x > "$out/p3/x"
img=$out/disk.img
truncate -s 40M "$img"
sfdisk --quiet "$img" <<SF
label: dos
start=2048, size=16384, type=83
start=18432, size=32768, type=83
start=51200, size=8192, type=83
SF
mkfs.ext4 -q -F -d "$out/p1" "$out/p1.img" 8M
mkfs.ext4 -q -F -d "$out/p2" "$out/p2.img" 16M
mkfs.ext4 -q -F -d "$out/p3" "$out/p3.img" 4M
for i in 1:2048 2:18432 3:51200; do
	dd if="$out/p${i%%:*}.img" of="$img" bs=512 seek="${i#*:}" conv=notrunc status=none
done
rm -f "$out"/p?.img
