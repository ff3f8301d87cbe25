#!/bin/bash
# A worker that cannot get to serving (here: one that exits at once, as one whose seccomp
# filter fails to load does) makes rtftp stop with an error instead of restarting it for ever.
# The stand-in helpers are copies of false(1): the parent executes its helpers by descriptor,
# which runs binaries, not scripts.
set -u
bin=$1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/lx" "$t/root/default"
cp "$(type -P false)" "$t/lx/rtftp-worker"
cp "$(type -P false)" "$t/lx/rtftp-mounter"
chmod 755 "$t/lx/rtftp-worker" "$t/lx/rtftp-mounter" "$t" "$t/root" "$t/root/default"
user=(); [ "$(id -u)" = 0 ] && user=(--user nobody)
port=$((40000 + RANDOM % 20000))
out=$(timeout 20 "$bin/rtftp" --listen "127.0.0.1:$port" "${user[@]}" --libexec-dir "$t/lx" "$t/root" 2>&1)
rc=$?
echo "$out"
[ "$rc" = 1 ] || { echo "FAIL: exit code $rc, expected 1"; exit 1; }
grep -q 'worker .* exited with status 1' <<<"$out" || { echo "FAIL: the worker's death is not logged"; exit 1; }
grep -q 'not serving' <<<"$out" || { echo "FAIL: no 'not serving' line"; exit 1; }
echo "1 passed, 0 failed"
