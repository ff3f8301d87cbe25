#!/bin/bash
# Build the test disk without root and without the appliance (under a second):
#   p1 FAT32 64 MiB  (the boot area: vmlinuz, grub/grub.cfg, efi/boot/bootx64.efi, version.txt, ext/)
#   p2 ext4  32 MiB  (the root fs: etc/hostname, srv/secret.txt, bootleg/secret.txt)
#   p3 ext4   8 MiB  (mounted on /boot/ext: symlinks that stay inside, that lead out, a loop)
#   p4 random 4 MiB  (not a filesystem)
# Usage: mkdisk.sh OUTDIR [VMLINUZ_MB]   -> OUTDIR/disk.img, OUTDIR/files/ (expected bytes)
set -euo pipefail
out=$1; mb=${2:-6}
export PATH=$PATH:/usr/sbin:/sbin MTOOLS_SKIP_CHECK=1
rm -rf "$out"; mkdir -p "$out/files" "$out/boot/grub" "$out/boot/efi/boot" "$out/boot/ext" \
	"$out/root/etc" "$out/root/srv" "$out/root/boot" "$out/root/bootleg" "$out/ext"
head -c $((mb * 1048576)) /dev/urandom > "$out/boot/vmlinuz"
echo "menuentry disk { linux /vmlinuz }" > "$out/boot/grub/grub.cfg"
head -c 70000 /dev/urandom > "$out/boot/efi/boot/bootx64.efi"
echo "boot-v1" > "$out/boot/version.txt"
: > "$out/boot/empty.txt"
echo "client-host" > "$out/root/etc/hostname"
echo "root secret" > "$out/root/srv/secret.txt"
echo "beside /boot" > "$out/root/bootleg/secret.txt"  # its path starts with "/boot"
echo "inside ext" > "$out/ext/inside.txt"
ln -s /etc/hostname "$out/ext/escape.lnk"          # absolute: into the root fs
ln -s ../../srv/secret.txt "$out/ext/escape-rel.lnk"
ln -s /boot/version.txt "$out/ext/ok.lnk"           # stays below tftp_root
ln -s inside.txt "$out/ext/inside.lnk"
ln -s /bootleg/secret.txt "$out/ext/prefix.lnk"     # outside, though it starts with /boot
ln -s loop.lnk "$out/ext/loop.lnk"
mkdir "$out/ext/subdir"
cp -a "$out/boot/." "$out/files/"
cp "$out/ext/inside.txt" "$out/files/inside.txt"

img=$out/disk.img
truncate -s 112M "$img"
sfdisk --quiet "$img" <<SF
label: dos
start=2048, size=131072, type=c, bootable
start=133120, size=65536, type=83
start=198656, size=16384, type=83
start=215040, size=8192, type=83
SF
truncate -s 64M "$out/p1"; mkfs.vfat -F 32 -n BOOT "$out/p1" >/dev/null
mcopy -i "$out/p1" -s -p "$out/boot/"* ::/
mkfs.ext4 -q -F -L root -d "$out/root" "$out/p2" 32M
mkfs.ext4 -q -F -L ext -d "$out/ext" "$out/p3" 8M
head -c 4M /dev/urandom > "$out/p4"
dd if="$out/p1" of="$img" bs=512 seek=2048 conv=notrunc,sparse status=none
dd if="$out/p2" of="$img" bs=512 seek=133120 conv=notrunc,sparse status=none
dd if="$out/p3" of="$img" bs=512 seek=198656 conv=notrunc,sparse status=none
dd if="$out/p4" of="$img" bs=512 seek=215040 conv=notrunc,sparse status=none
rm -f "$out/p1" "$out/p2" "$out/p3" "$out/p4"
