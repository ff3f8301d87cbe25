#!/bin/bash
# End to end through the whole server (parent as root -> nobody, sandboxed worker, mounter,
# appliance under TCG) with stock clients (curl, tftp-hpa, atftp) and a raw client: one
# server, one appliance launch, many checks:
#  - a client without a .nbd never starts a mounter and is served from default/;
#  - lazy start (--no-proactive): the first request waits and is answered late, not refused;
#  - the documented lookup order: local folder, then tftp_root on the disk, then default/;
#  - nothing outside tftp_root is readable (.., absolute names, symlinks out);
#  - throughput of a 40 MiB file (first fetch and second fetch after a size probe);
#  - the change test: a file replaced on the image under the running mounter is served new.
source "$(dirname "$0")/e2e_lib.sh"
say "fixture: 40 MiB vmlinuz disk, nbdkit on a unix socket"
fixture 40
nbd_unix
F=$T/fx/files
R1=$T/root/127.0.0.1
mkdir -p "$R1/grub" "$T/root/default/efi/boot"
echo "menuentry local { linux /vmlinuz-local }" > "$R1/grub/grub.cfg"
cp "$F/vmlinuz" "$R1/local40.bin"                                   # throughput reference
head -c 50000 /dev/urandom > "$T/root/default/efi/boot/grubx64.efi" # only in default/
head -c 1000 /dev/urandom > "$T/root/default/efi/boot/bootx64.efi"  # disk has its own
echo "default-version" > "$T/root/default/version.txt"              # disk has its own
echo "default only" > "$T/root/default/only-default.txt"
write_nbd 127.0.0.1 /boot
O=$T/out; mkdir -p "$O"

srv_start e2e --no-proactive --remount-after 3 --idle-timeout 600
sleep 1.5
check "--no-proactive: no mounter started before a request" not grep -q 'mounter' "$LOG"

say "== a client without a .nbd (127.0.0.3, curl --interface)"
m=$(mark)
curl_get 127.0.0.3 version.txt "$O/v3"; rc=$?
check "127.0.0.3 version.txt (curl rc=$rc) has default/'s bytes" same "$O/v3" "$T/root/default/version.txt"
check "127.0.0.3: transfer logged root=default" wait_log "$m" "$(xfer_re 127.0.0.3 '' version.txt default ok)" 3
curl_get 127.0.0.3 vmlinuz "$O/k3" 2>/dev/null; rc=$?
check "127.0.0.3 vmlinuz (only on 127.0.0.1's disk): not served (curl rc=$rc)" [ "$rc" -ne 0 ]
check "127.0.0.3: vmlinuz logged not-found" wait_log "$m" "$(xfer_re 127.0.0.3 '' vmlinuz none not-found)" 3
check "127.0.0.3 never starts a mounter" not log_has "$m" 'mounter 127.0.0.3' 

say "== lazy start: the first requests wait for the launch and are answered late"
m=$(mark)
( curl_get 127.0.0.1 version.txt "$O/curl-lazy" 2>"$O/curl-lazy.err"; echo $? > "$O/curl-lazy.rc" ) &
cpid=$!
t=$SECONDS
raw 127.0.0.1 efi/boot/bootx64.efi "$O/lazy" --rrq-every 2 --wait 120; rc=$?
say "raw client (RRQ re-sent every 2 s): $R"
check "lazy: raw client served (rc=$rc) late: first_ms=$(field first_ms) > 3000" \
	[ "$rc" -eq 0 -a "$(field first_ms)" -gt 3000 ]
check "lazy: efi/boot/bootx64.efi comes from the disk, not default/" same "$O/lazy" "$F/efi/boot/bootx64.efi"
check "lazy: mounter 127.0.0.1 started by the request" log_has "$m" 'rtftp: mounter 127.0.0.1 started \(pid [0-9]+\)'
check "lazy: mounter became ready" log_has "$m" 'rtftp: mounter 127.0.0.1 ready: .*mounted \(3 partitions\)'
lazy_once() {
	[ "$(count_log "$m" 'repeated request for efi/boot/bootx64.efi ignored')" -ge 1 ] &&
	[ "$(count_log "$m" "$(xfer_re 127.0.0.1 '' efi/boot/bootx64.efi '[a-z]+' '[a-z-]+')")" -eq 1 ]
}
check "lazy: re-sent RRQs recognised (logged as repeated), one transfer" lazy_once
check "lazy: transfer logged root=remote outcome=ok" wait_log "$m" "$(xfer_re 127.0.0.1 "$(field port)" efi/boot/bootx64.efi remote ok)" 3
wait_for 60 test -s "$O/curl-lazy.rc"
rc=$(cat "$O/curl-lazy.rc" 2>/dev/null || echo none)
check "lazy: curl (default options, request during the launch) served (rc=$rc, $(head -c 200 "$O/curl-lazy.err"))" \
	eval "[ '$rc' = 0 ] && same '$O/curl-lazy' '$F/version.txt'"
wait "$cpid" 2>/dev/null || true
say "launch + first answer took $((SECONDS - t)) s"
MP=$(mounter_pid 127.0.0.1)
child_of_srv() { alive "$1" && [ "$(awk '/^PPid/{print $2}' "/proc/$1/status")" = "$SRV" ]; }
check "mounter pid $MP is alive and a child of the server" child_of_srv "$MP"
check "its qemu runs inside the private state dir" test -n "$(qemu_of_ours)"

say "== the lookup order with stock clients"
m=$(mark)
curl_get 127.0.0.1 grub/grub.cfg "$O/grub.cfg"
check "curl grub/grub.cfg: the local folder's, not the disk's" same "$O/grub.cfg" "$R1/grub/grub.cfg"
check "grub/grub.cfg logged root=client" wait_log "$m" "$(xfer_re 127.0.0.1 '' grub/grub.cfg client ok)" 3
curl_get 127.0.0.1 /grub/grub.cfg "$O/grub2.cfg"
check "curl /grub/grub.cfg (leading slash): the local folder's" same "$O/grub2.cfg" "$R1/grub/grub.cfg"
hpa_get efi/boot/grubx64.efi "$O/grubx64.efi" >"$O/hpa.out" 2>&1
check "tftp-hpa efi/boot/grubx64.efi (only in default/): default's bytes" same "$O/grubx64.efi" "$T/root/default/efi/boot/grubx64.efi"
check "efi/boot/grubx64.efi logged root=default" wait_log "$m" "$(xfer_re 127.0.0.1 '' efi/boot/grubx64.efi default ok)" 3
atftp_get efi/boot/bootx64.efi "$O/bootx64.efi" >"$O/atftp.out" 2>&1
check "atftp efi/boot/bootx64.efi (disk and default/): the disk's bytes" same "$O/bootx64.efi" "$F/efi/boot/bootx64.efi"
check "efi/boot/bootx64.efi logged root=remote" wait_log "$m" "$(xfer_re 127.0.0.1 '' efi/boot/bootx64.efi remote ok)" 3
hpa_get version.txt "$O/version.txt" >"$O/hpa.out" 2>&1
check "tftp-hpa version.txt: partition 1's bytes, not default/'s" same "$O/version.txt" "$F/version.txt"
check "version.txt logged root=remote" wait_log "$m" "$(xfer_re 127.0.0.1 '' version.txt remote ok)" 3
atftp_get empty.txt "$O/empty.txt" >"$O/atftp.out" 2>&1
check "atftp empty.txt from the disk: 0 bytes" bash -c "[ -f '$O/empty.txt' ] && [ ! -s '$O/empty.txt' ]"
check "empty.txt logged root=remote" wait_log "$m" "$(xfer_re 127.0.0.1 '' empty.txt remote ok)" 3
curl_get 127.0.0.1 only-default.txt "$O/od.txt"
check "curl only-default.txt: from default/" same "$O/od.txt" "$T/root/default/only-default.txt"
check "only-default.txt logged root=default" wait_log "$m" "$(xfer_re 127.0.0.1 '' only-default.txt default ok)" 3

say "== nothing outside tftp_root"
m=$(mark)
for n in ../etc/hostname /etc/hostname etc/hostname ext/escape.lnk ext/escape-rel.lnk \
	 ext/../../etc/hostname ../srv/secret.txt ext/subdir grub; do
	rm -f "$O/x"
	raw 127.0.0.1 "$n" "$O/x" --wait 10
	check "$n -> TFTP error ($R)" [ "$(field result)" = error ]
done
refused_never_ok() { ! since "$m" | grep -E 'file="[^"]*(etc/hostname|ext/escape|srv/secret)' | grep -q 'outcome=ok'; }
check "no refused name was logged outcome=ok" refused_never_ok
check "ext/escape.lnk logged as refused (access violation)" log_has "$m" "$(xfer_re 127.0.0.1 '' ext/escape.lnk '[a-z]+' refused)"
raw 127.0.0.1 ext/ok.lnk "$O/ok.lnk"
check "ext/ok.lnk (-> /boot/version.txt) served: version.txt's bytes ($R)" same "$O/ok.lnk" "$F/version.txt"
raw 127.0.0.1 ext/inside.lnk "$O/inside.lnk"
check "ext/inside.lnk (-> inside.txt) served ($R)" same "$O/inside.lnk" "$F/inside.txt"

say "== throughput: 40 MiB vmlinuz"
m=$(mark)
t1=$(date +%s%N)
curl_get 127.0.0.1 vmlinuz "$O/vmlinuz.1" --tftp-blksize 1468; rc=$?
t2=$(date +%s%N)
FIRST_MS=$(( (t2 - t1) / 1000000 ))
check "first fetch (curl, blksize 1468, rc=$rc) byte-exact, ${FIRST_MS} ms" same "$O/vmlinuz.1" "$F/vmlinuz"
check "first fetch logged root=remote" wait_log "$m" "$(xfer_re 127.0.0.1 '' vmlinuz remote ok)" 3
rawprobe 127.0.0.1 vmlinuz --blksize 1468
PROBE="$R"
check "size probe (tsize 0 blksize 1468 -> OACK -> ERROR 8): tsize=$(field tsize) in $(field total_ms) ms" \
	[ "$(field result)" = ok -a "$(field tsize)" = "$(stat -c %s "$F/vmlinuz")" ]
raw 127.0.0.1 vmlinuz "$O/vmlinuz.2" --tsize --blksize 1468; rc=$?
SECOND="$R"
check "second fetch (raw, after the probe, new port; rc=$rc): first DATA in $(field first_ms) ms (< 500), total $(field total_ms) ms" \
	[ "$rc" -eq 0 -a "$(field first_ms)" -lt 500 ]
check "second fetch byte-exact" same "$O/vmlinuz.2" "$F/vmlinuz"
check "probe logged outcome=probe" log_has "$m" "$(xfer_re 127.0.0.1 '' vmlinuz remote probe)"
check "second fetch logged root=remote outcome=ok" wait_log "$m" "$(xfer_re 127.0.0.1 "$(field port)" vmlinuz remote ok)" 3
raw 127.0.0.1 local40.bin "$O/local40" --tsize --blksize 1468
LOCAL="$R"
check "same 40 MiB from the local folder (reference): $(field total_ms) ms" same "$O/local40" "$F/vmlinuz"
t1=$(date +%s%N)
curl_get 127.0.0.1 vmlinuz "$O/vmlinuz.3" --tftp-blksize 1468
t2=$(date +%s%N)
THIRD_MS=$(( (t2 - t1) / 1000000 ))
check "third fetch (curl again) byte-exact, ${THIRD_MS} ms" same "$O/vmlinuz.3" "$F/vmlinuz"
say "throughput: first curl ${FIRST_MS} ms, raw after probe: $SECOND ; local: $LOCAL ; curl again ${THIRD_MS} ms"

say "== the change test: version.txt replaced on the image under the running mounter"
echo "boot-v2, replaced while mounted and longer than before" > "$O/v2.txt"
raw 127.0.0.1 version.txt "$O/before"
check "before the change: boot-v1" same "$O/before" "$F/version.txt"
MTOOLS_SKIP_CHECK=1 timeout 20 mcopy -o -i "$T/fx/disk.img@@1048576" "$O/v2.txt" ::/version.txt
image_has_v2() { MTOOLS_SKIP_CHECK=1 mtype -i "$T/fx/disk.img@@1048576" ::/version.txt | cmp -s - "$O/v2.txt"; }
check "mcopy replaced version.txt on partition 1 of the image" image_has_v2
sleep 6   # > --remount-after 3 and > --lookup-cache 5
m=$(mark)
raw 127.0.0.1 version.txt "$O/after"
check "after a quiet spell > --remount-after: the new bytes ($R)" same "$O/after" "$O/v2.txt"
check "served by the same mounter (pid $MP, no relaunch)" eval "alive $MP && not log_has $m 'mounter 127.0.0.1 started'"
m=$(mark)
curl_get 127.0.0.1 version.txt "$O/after2"
check "and again with curl: the new bytes" same "$O/after2" "$O/v2.txt"
check "the mounter logged its remount" log_has 0 'mounter 127.0.0.1: remounted after [0-9]+ s of quiet'

say "== the server survived everything"
check "parent $SRV and worker $WORKER still running" eval "alive $SRV && alive $WORKER"
check "no worker restart logged" not grep -Eq '^rtftp: worker [0-9]+ (exited|killed)' "$LOG"
srv_stop; rc=$?
check "server stopped, mounter $MP and every qemu gone" eval "[ $rc -eq 0 ] && gone $MP && [ -z \"\$(qemu_of_ours)\" ]"
check "the mounters' private temporary folders were removed" test -z "$(ls -A "$T/state")"
finish
