#!/bin/bash
# One launch (unix socket), many checks: streaming and byte-exact content, sealed memfds,
# the cache (vmlinuz is exactly its bound), symlinks inside and escaping tftp_root (also to
# a sibling whose name starts with tftp_root's, and a loop), names with control characters,
# not found / not regular, the bound on open ids, the mounter's confinement as /proc shows
# it, freshness after a file is replaced on the image under nbdkit (remount after the quiet
# period), idle exit.
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
# as many ids as the mounter keeps for the worker (MOUNTER_MAX_OPEN): one more is refused
hold 256 grub/grub.cfg
error grub/grub.cfg 3
release
error ext/escape.lnk 2
error ext/escape-rel.lnk 2
error ext/prefix.lnk 2
error ext/loop.lnk 2
error bad$(printf '\001')name 2
error bad$(printf '\177')name 2
error ../etc/hostname 2
error ext/../../etc/hostname 2
error nothere 1
error grub/nothere.cfg 1
# through a file, or a name too long for ext4: not found (the worker falls through to
# default/), not a disk error
error vmlinuz/x 1
error ext/$(head -c 300 /dev/zero | tr '\0' a) 1
error grub 2
error ext/subdir 2
sh grep -q '^NoNewPrivs:[[:space:]]*1\$' /proc/\$MOUNTER_PID/status
sh grep -q '^Umask:[[:space:]]*0077\$' /proc/\$MOUNTER_PID/status
sh grep -Eq '^Max core file size +0 +0 ' /proc/\$MOUNTER_PID/limits
# the harness leaked a descriptor of the .nbd file on purpose: the mounter closed it
sh ! ls -l /proc/\$MOUNTER_PID/fd | grep -qF $T/c.nbd
fetch version.txt $F/version.txt
sh MTOOLS_SKIP_CHECK=1 mcopy -o -i $T/fx/disk.img@@1048576 $T/v2.txt ::/version.txt
sleep 4
fetch version.txt $T/v2.txt
idle-exit 20
SCRIPT
# cache_mb=6: vmlinuz (6 MiB) is exactly the bound, which it may fill.
harness "$T/c.nbd" "$T/script" ready 200000 quiet=3 idle=8 cache_mb=6
ls "$T/tmp"
