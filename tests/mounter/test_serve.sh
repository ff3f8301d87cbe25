#!/bin/bash
# One launch (unix socket), many checks: streaming and byte-exact content, the cache,
# symlinks inside and escaping tftp_root, not found / not regular, freshness after a file
# is replaced on the image under nbdkit (remount after the quiet period), idle exit.
source "$(dirname "$0")/lib.sh"
fixture 6
nbd_unix
F=$T/fx/files
conf "$T/c.nbd" "nbd+unix:///?socket=$T/u/nbd.sock" "$MOUNTS_STD" /boot
echo "boot-v2, longer than before" > "$T/v2.txt"
cat > "$T/script" <<SCRIPT
fetch vmlinuz $F/vmlinuz
fetch-nowait vmlinuz $F/vmlinuz
fetch grub/grub.cfg $F/grub/grub.cfg
fetch /efi/boot/bootx64.efi $F/efi/boot/bootx64.efi
fetch empty.txt $F/empty.txt
fetch ext/inside.lnk $F/inside.txt
fetch ext/ok.lnk $F/version.txt
error ext/escape.lnk 2
error ext/escape-rel.lnk 2
error ../etc/hostname 2
error ext/../../etc/hostname 2
error nothere 1
error grub/nothere.cfg 1
error grub 2
error ext/subdir 2
fetch version.txt $F/version.txt
sh MTOOLS_SKIP_CHECK=1 mcopy -o -i $T/fx/disk.img@@1048576 $T/v2.txt ::/version.txt
sleep 4
fetch version.txt $T/v2.txt
idle-exit 20
SCRIPT
harness "$T/c.nbd" "$T/script" ready 200000 quiet=3 idle=8
ls "$T/tmp"
