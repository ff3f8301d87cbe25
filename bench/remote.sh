#!/usr/bin/env bash
# Remote-disk benchmark (issue 3): one file served from an NBD disk through a mounter,
#   cold       --no-proactive: the first request starts the mounter (launch included)
#   proactive  the mounter was started when the .nbd appeared and is ready
#   local      the same file from the client's local folder
# For each: time to first byte (size probe, then the real RRQ, as UEFI does) and throughput of
# FETCHES fetches in a row, and the memory of the mounter with its appliance. Prints figures;
# asserts nothing. Needs root (--user nobody); bounded by timeouts everywhere.
#   sudo bench/remote.sh                      40 MiB file, windowsize 16
#   sudo FILE_MB=8 WS=1 bench/remote.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=${RTFTP_BIN:-$top/build/bin}
LOAD=${TFTPLOAD:-$BIN/tftpload}
MB=${FILE_MB:-40}
WS=${WS:-16}
FETCHES=${FETCHES:-3}
PORT=${PORT:-1169}
BACKEND=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
CACHE=${CACHE_DIR:-/var/tmp/rtftp-test-cache/svc-nobody}
[[ $(id -u) == 0 ]] || { echo "remote.sh: needs root" >&2; exit 1; }

W=$(mktemp -d /var/tmp/rtftp-rbench.XXXXXX)
SRV=
cleanup() {
  [[ -n $SRV ]] && kill "$SRV" 2>/dev/null && timeout 5 tail --pid="$SRV" -f /dev/null || true
  bash "$top/tests/mounter/nbdkit.sh" stop "$W/nbd" || true
  rm -rf "$W"
}
trap cleanup EXIT INT TERM

bash "$top/tests/mounter/mkdisk.sh" "$W/fx" "$MB" >/dev/null
mkdir -p "$W/nbd" "$W/state" "$W/root/default" "$W/lroot/127.0.0.1" "$CACHE"
bash "$top/tests/mounter/nbdkit.sh" unix "$W/nbd" "$W/fx/disk.img"
printf '{"url":"nbd+unix:///?socket=%s","mounts":[{"partition":2,"mountpoint":"/"},{"partition":1,"mountpoint":"/boot"}],"tftp_root":"/boot"}\n' \
  "$W/nbd/nbd.sock" > "$W/root/127.0.0.1.nbd"
cp "$W/fx/files/vmlinuz" "$W/lroot/127.0.0.1/vmlinuz"
chmod -R a+rX "$W"; chown nobody "$W/state" "$CACHE"

start() {   # start ROOT ARGS...: rtftp in the background, log in $W/server.log
  local root=$1; shift
  : > "$W/server.log"
  "$BIN/rtftp" --listen "127.0.0.1:$PORT" --user nobody --cache-dir "$CACHE" --state-dir "$W/state" \
    --guestfs-backend-settings "$BACKEND" "$@" "$root" >>"$W/server.log" 2>&1 &
  SRV=$!
  timeout 10 bash -c "until grep -q 'sandboxed and serving' '$W/server.log'; do sleep 0.05; done"
}
stop() {
  kill "$SRV"; timeout 10 tail --pid="$SRV" -f /dev/null; SRV=
}
fetch() {   # fetch LABEL: FETCHES fetches of vmlinuz, each after a size probe
  local t0=$(date +%s.%N)
  timeout 300 "$LOAD" -p "$PORT" -f vmlinuz -e "$W/fx/files/vmlinuz" -n 1 -r "$FETCHES" --probe --each \
    -b 1468 -w "$WS" -t 1000 --retries 150 -d 280 > "$W/$1.out" 2>&1 || true
  awk -v l="$1" '/^EACH/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "%-10s fetch %s: ok=%s first byte %.1f ms after the probe RRQ (probe answered in %.1f ms), %s MB/s\n",
        l, v["n"], v["ok"], v["probe_ms"] + v["ttfb_ms"], v["probe_ms"], v["mbs"] }' "$W/$1.out"
  grep -q 'failed=0' "$W/$1.out" ||
    { echo "remote.sh: $1: a transfer failed" >&2; tail -n 5 "$W/$1.out" "$W/server.log" >&2; exit 1; }
}
mounter_mem() {   # resident memory of the mounter and everything under it (qemu)
  local m; m=$(pgrep -P "$SRV" -f rtftp-mounter | head -1)
  [[ -n $m ]] || { echo "mounter: not running"; return; }
  local pids="$m $(pgrep -P "$m" | tr '\n' ' ')" total=0 line=""
  for p in $pids; do
    local kb; kb=$(awk '/^VmRSS/ {print $2}' /proc/$p/status 2>/dev/null || echo 0)
    total=$((total + kb)); line+=" $(cat /proc/$p/comm 2>/dev/null)=$((kb / 1024))MiB"
  done
  echo "mounter memory: $((total / 1024)) MiB resident in all ($line )"
}

echo "== remote-disk benchmark: ${MB} MiB vmlinuz, blksize 1468, windowsize $WS, $FETCHES fetches each, backend $BACKEND"
echo "-- cold: --no-proactive, the first request starts the mounter"
start "$W/root" --no-proactive
fetch cold
mounter_mem
grep -E 'appliance up|mounted \(' "$W/server.log" || true
stop
echo "-- proactive: the mounter started when the server found the .nbd"
start "$W/root"
timeout 120 bash -c "until grep -q 'mounter 127.0.0.1 ready' '$W/server.log'; do sleep 0.2; done"
fetch proactive
stop
echo "-- local: the same file from ROOT/127.0.0.1/"
start "$W/lroot"
fetch local
stop
