#!/usr/bin/env bash
# Install what is missing, build, and run rtftp on a copy of the example tree on UDP port
# 6969: client 127.0.0.1 gets its own folder, a remote disk (an example image served by a
# local nbdkit, mounted read-only through libguestfs) and default/. Fetches one file from
# each root with curl, then keeps serving until Ctrl-C (DEMO_EXIT=1: stop after the fetches).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
port=${DEMO_PORT:-6969}

bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"

work=$(mktemp -d /var/tmp/rtftp-demo.XXXXXX)
chmod 0755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  bash tests/mounter/nbdkit.sh stop "$work/nbd" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "demo: example disk image (FAT boot partition + ext4 root), no root needed"
bash tests/mounter/mkdisk.sh "$work/disk" 8 >/dev/null
mkdir -p "$work/nbd" "$work/cache" "$work/state"
bash tests/mounter/nbdkit.sh unix "$work/nbd" "$work/disk/disk.img"

cp -a examples/tftproot "$work/root"
cat > "$work/root/127.0.0.1.nbd" <<JSON
{
  "url": "nbd+unix:///?socket=$work/nbd/nbd.sock",
  "mounts": [ { "partition": 2, "mountpoint": "/" },
              { "partition": 1, "mountpoint": "/boot" } ],
  "tftp_root": "/boot"
}
JSON
chmod -R a+rX "$work"
chown nobody "$work/cache" "$work/state"

# The appliance cache is shared between runs so that only the first one builds it.
mkdir -p /var/cache/rtftp-demo && chown nobody /var/cache/rtftp-demo
echo "demo: rtftp on 127.0.0.1:$port, running as nobody"
build/bin/rtftp --listen "127.0.0.1:$port" --user nobody \
  --cache-dir /var/cache/rtftp-demo --state-dir "$work/state" \
  --guestfs-backend-settings "${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}" "$work/root" &
pids+=($!)
sleep 1

fetch() {   # fetch NAME: print where it came from and what it holds
  local out="$work/fetched"
  # A remote disk's first request waits for the appliance to launch (15-25 s without KVM):
  # curl retries until it is up.
  timeout 120 curl -s --retry 20 --retry-delay 2 --retry-all-errors \
    "tftp://127.0.0.1:$port/$1" -o "$out"
  printf '\ndemo: tftp://127.0.0.1:%s/%s -> %s bytes\n' "$port" "$1" "$(stat -c %s "$out")"
  head -c 300 "$out" | strings | head -n 5 | sed 's/^/  | /'
}
fetch grub/grub.cfg      # ROOT/127.0.0.1/ (the client's own folder)
fetch hello.txt          # ROOT/default/
fetch version.txt        # the remote disk: partition 1 mounted at /boot, tftp_root /boot
cmp <(timeout 60 curl -s "tftp://127.0.0.1:$port/vmlinuz") "$work/disk/files/vmlinuz" &&
  echo "demo: vmlinuz (8 MiB) from the remote disk: identical to the image's copy"

if [[ ${DEMO_EXIT:-0} == 1 ]]; then
  exit 0
fi
echo
echo "demo: serving until Ctrl-C; try: curl tftp://127.0.0.1:$port/hello.txt"
wait "${pids[0]}"
