#!/usr/bin/env bash
# Run the same TFTP loads against rtftp, tftpd-hpa and dnsmasq, interleaved, and print a table.
# See bench/README.md. Needs root (network namespace, cgroups, --user).
#
#   bench/run.sh [SCENARIO...]      default: pingpong a b b-w16 c d soak ttfb (any b-wN works)
#
# Every server and every load runs inside one network namespace that this script creates (its own
# loopback; dnsmasq's TFTP server only binds port 69) and removes at the end. Each server runs in
# its own cgroup: server CPU (all its processes, children included) and memory come from there.
# Nothing on the host is changed but the peers' packages, installed when missing (tftpd-hpa with
# its service disabled): no sysctl, no firewall; the namespace keeps its default net.core.* values.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

# ------------------------------------------------------------------ parameters (environment)
SERVERS=${SERVERS:-"rtftp hpa dnsmasq"}   # add "floor" and "floorep" for the yardsticks (bench/tftpfloor.c)
REPS=${REPS:-3}                      # interleaved rounds; the table shows the median
SERVER_CPU=${SERVER_CPU:-0}          # every server process is pinned here
CLIENT_CPU=${CLIENT_CPU:-1}          # the load generator here ("split" placement)
BLKSIZE=${BLKSIZE:-1468}
A_SIZE=${A_SIZE:-41943040}           # (a) one transfer of 40 MiB
A_PLACEMENTS=${A_PLACEMENTS:-"same split"}   # same: client on SERVER_CPU too; split: CLIENT_CPU
B_CLIENTS=${B_CLIENTS:-500}          # (b) clients at once, each B_SIZE
B_SIZE=${B_SIZE:-1048576}
C_CLIENTS=${C_CLIENTS:-100}          # (c) clients with DATA loss
C_LOSSES=${C_LOSSES:-"1 5"}
C_WINDOWSIZE=${C_WINDOWSIZE:-8}      # windowsize asked in (c) (peers ignore it: RFC 1350 lockstep)
C_REPS=${C_REPS:-1}                  # (c) is long (timer-driven recovery): only in the first C_REPS rounds
D_CLIENTS=${D_CLIENTS:-500}          # (d) memory with this many transfers kept in flight
D_SECONDS=${D_SECONDS:-10}
SOAK_SECONDS=${SOAK_SECONDS:-60}     # the issue asks 600 for rtftp
SOAK_REPORT=${SOAK_REPORT:-10}
SOAK_SERVERS=${SOAK_SERVERS:-$SERVERS}
TTFB_SRC=${TTFB_SRC:-127.0.0.2}      # (ttfb, rtftp only) the client address asking
TTFB_REPEAT=${TTFB_REPEAT:-10}       # fetches per name, one after the other, each after a size probe
TTFB_NAMES=${TTFB_NAMES:-}           # "label:name:local-copy ..." (default: a local and a default/ file)
TTFB_ROOT_EXTRA=${TTFB_ROOT_EXTRA:-} # copied into rtftp's ROOT first (e.g. a 127.0.0.2.nbd file)
TTFB_RTFTP_ARGS=${TTFB_RTFTP_ARGS:-} # added to RTFTP_ARGS for ttfb (e.g. --no-proactive for "cold")
CLIENT_TIMEOUT_MS=${CLIENT_TIMEOUT_MS:-1000}
RTFTP_ARGS=${RTFTP_ARGS:-"--max-transfers 4000 --max-per-client 4000 --rrq-rate 100000"}
RTFTP_USER=${RTFTP_USER:-nobody}
OUT=${OUT:-/tmp/rtftp-bench-$(date +%Y%m%d-%H%M%S)}
NS=rtftpbench$$
PORT_rtftp=1069 PORT_hpa=2069 PORT_dnsmasq=69 PORT_floor=3069 PORT_floorep=4069

scenarios=${*:-"pingpong a b b-w16 c d soak ttfb"}

die() { echo "run.sh: $*" >&2; exit 2; }
[[ $(id -u) == 0 ]] || die "needs root (netns, cgroups, --user)"
for t in ip nsenter taskset python3 timeout; do command -v $t >/dev/null || die "missing $t"; done

# rtftp binary: RTFTP_BIN=dir, else the newest build*/bin/rtftp
if [[ -z ${RTFTP_BIN:-} ]]; then
  RTFTP_BIN=$(ls -td "$repo"/build*/bin 2>/dev/null | while read -r d; do [[ -x $d/rtftp ]] && echo "$d" && break; done || true)
fi
want() { [[ " $SERVERS " == *" $1 "* ]]; }
if want rtftp && [[ ! -x ${RTFTP_BIN:-/nonexistent}/rtftp ]]; then
  echo "run.sh: no rtftp binary (set RTFTP_BIN=dir); running the peers only" >&2
  SERVERS=$(echo " $SERVERS " | sed 's/ rtftp / /'); SOAK_SERVERS=$(echo " $SOAK_SERVERS " | sed 's/ rtftp / /')
fi

# ------------------------------------------------------------------ peers: installed here when missing
# Not by scripts/deps.sh, which every demo and test run uses: tftpd-hpa's package starts a TFTP
# server on port 69 and enables it at boot (it would block rtftp.socket later, and its install
# fails when port 69 is taken). This script runs in.tftpd itself, inside its namespace, so the
# service is never wanted: a temporary policy-rc.d (exit 101, "action forbidden") keeps the
# package's postinst from starting it at all, whatever the init system, and the service is then
# disabled at boot (update-rc.d for the init script, systemctl on a systemd host). dnsmasq-base
# has no service.
policy=/usr/sbin/policy-rc.d
restore_policy() {
  if [[ -e $policy.rtftp-bench ]]; then mv -f "$policy.rtftp-bench" "$policy"; else rm -f "$policy"; fi
}
install_peers() {
  local pkgs=()
  want hpa && ! command -v in.tftpd >/dev/null && pkgs+=(tftpd-hpa)
  want dnsmasq && ! command -v dnsmasq >/dev/null && pkgs+=(dnsmasq-base)
  ((${#pkgs[@]})) || return 0
  command -v apt-get >/dev/null || die "missing ${pkgs[*]}: install them (without starting tftpd-hpa's service)"
  echo "run.sh: installing the benchmark peers: ${pkgs[*]}" >&2
  [[ -e $policy ]] && mv -f "$policy" "$policy.rtftp-bench"
  trap restore_policy EXIT
  trap 'exit 130' INT TERM
  printf '#!/bin/sh\n# bench/run.sh: no service starts while it installs its peers\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  local rc=0
  timeout 600 apt-get -o DPkg::Lock::Timeout=300 update -qq || rc=$?
  ((rc == 0)) && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "${pkgs[@]}" || rc=$?
  restore_policy
  trap - EXIT
  ((rc == 0)) || die "apt-get install ${pkgs[*]} failed"
  if [[ " ${pkgs[*]} " == *" tftpd-hpa "* ]]; then
    update-rc.d tftpd-hpa disable >/dev/null 2>&1 || true
    if [[ -d /run/systemd/system ]]; then
      timeout 60 systemctl disable --now tftpd-hpa >/dev/null 2>&1 || true
    else
      timeout 60 /etc/init.d/tftpd-hpa stop >/dev/null 2>&1 || true
    fi
    echo "run.sh: tftpd-hpa installed with its service disabled and stopped (this script runs in.tftpd itself)" >&2
  fi
}
install_peers
want hpa && ! command -v in.tftpd >/dev/null && die "in.tftpd missing after the install"
want dnsmasq && ! command -v dnsmasq >/dev/null && die "dnsmasq missing after the install"

# tftpload: TFTPLOAD=path, else build it from bench/ alone (works even if the rest does not build)
if [[ -z ${TFTPLOAD:-} ]]; then
  cmake -S "$here" -B "$repo/build-tftpload" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$repo/build-tftpload" >/dev/null
  TFTPLOAD=$repo/build-tftpload/tftpload
fi
[[ -x $TFTPLOAD ]] || die "no tftpload at $TFTPLOAD"
TFTPFLOOR=${TFTPFLOOR:-$(dirname "$TFTPLOAD")/tftpfloor}
{ want floor || want floorep; } && [[ ! -x $TFTPFLOOR ]] && die "no tftpfloor at $TFTPFLOOR"

mkdir -p "$OUT/logs"
RES=$OUT/results.txt; : >"$RES"
W=$(mktemp -d /tmp/rtftp-bench-root.XXXXXX)

# ------------------------------------------------------------------ cgroups (v2, or v1 cpuacct+memory)
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
  CGV=2
else
  CGV=1
  v1mount() { awk -v c="$1" '$3=="cgroup" { n=split($4,o,","); for(i=1;i<=n;i++) if(o[i]==c) { print $2; exit } }' /proc/mounts; }
  v1self() { awk -F: -v c="$1" '{ n=split($2,o,","); for(i=1;i<=n;i++) if(o[i]==c) { print $3; exit } }' /proc/self/cgroup; }
  CG_CPU_BASE=$(v1mount cpuacct)$(v1self cpuacct); CG_MEM_BASE=$(v1mount memory)$(v1self memory)
  CG_CPU_BASE=${CG_CPU_BASE%/}; CG_MEM_BASE=${CG_MEM_BASE%/}
  [[ -d $CG_CPU_BASE && -d $CG_MEM_BASE ]] || die "no cgroup v2 and no v1 cpuacct/memory hierarchy"
fi
cg_dirs() {   # the directories of cgroup $1
  if [[ $CGV == 2 ]]; then echo "/sys/fs/cgroup/$1"; else echo "$CG_CPU_BASE/$1 $CG_MEM_BASE/$1"; fi
}
cg_procs_dir() { if [[ $CGV == 2 ]]; then echo "/sys/fs/cgroup/$1"; else echo "$CG_MEM_BASE/$1"; fi; }
cg_create() { local d; for d in $(cg_dirs "$1"); do mkdir -p "$d"; done; }
cg_cpu_times() {   # "TOTAL USER SYSTEM" of cgroup $1: TOTAL is exact (the scheduler's run time);
  # USER and SYSTEM are sampled at the timer tick, so only their ratio is used (the kernel's share)
  if [[ $CGV == 2 ]]; then
    awk '$1=="usage_usec" { t=$2 } $1=="user_usec" { u=$2 } $1=="system_usec" { k=$2 } END { print t, u, k }' \
      "/sys/fs/cgroup/$1/cpu.stat"
  else
    echo $(( $(cat "$CG_CPU_BASE/$1/cpuacct.usage") / 1000 )) \
      "$(awk '$1=="user" { u=$2 } $1=="system" { k=$2 } END { print u, k }' "$CG_CPU_BASE/$1/cpuacct.stat")"
  fi
}
cg_mem_peak_kib() {   # includes kernel memory charged to the cgroup; Rss/Pss come from tftpload
  local f
  if [[ $CGV == 2 ]]; then f=/sys/fs/cgroup/$1/memory.peak; else f=$CG_MEM_BASE/$1/memory.max_usage_in_bytes; fi
  [[ -r $f ]] && echo $(( $(cat "$f") / 1024 )) || echo 0
}
cg_kill_all() {   # SIGKILL every process left in cgroup $1, then remove it
  local d p i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    local left=0
    for d in $(cg_dirs "$1"); do
      [[ -f $d/cgroup.procs ]] || continue
      while read -r p; do [[ -n $p ]] && { kill -9 "$p" 2>/dev/null || true; left=1; }; done <"$d/cgroup.procs"
    done
    [[ $left == 0 ]] && break
    sleep 0.2
  done
  for d in $(cg_dirs "$1"); do [[ -d $d ]] && rmdir "$d" 2>/dev/null || true; done
}

CGS=()
cleanup() {
  local rc=$?
  set +e
  for g in "${CGS[@]}"; do cg_kill_all "$g"; done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$W"
  echo "run.sh: cleaned up (namespace $NS, cgroups, $W); logs in $OUT" >&2
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ files and namespace
mkdir -p "$W/root/default"
"$TFTPLOAD" --make-file "$W/root/default/a40m.bin" --size "$A_SIZE" --seed 40
"$TFTPLOAD" --make-file "$W/root/default/b1m.bin" --size "$B_SIZE" --seed 1
"$TFTPLOAD" --make-file "$W/root/default/ready.bin" --size 100 --seed 2
chmod 755 "$W" "$W/root" "$W/root/default"; chmod 644 "$W"/root/default/*
cat "$W"/root/default/* >/dev/null      # page cache warmed from here, not charged to a server
PEER_ROOT=$W/root/default               # tftpd-hpa and dnsmasq serve default/ directly

ip netns add "$NS"
nsenter --net="/run/netns/$NS" ip link set lo up
# glibc's AI_ADDRCONFIG ignores loopback: with only lo, in.tftpd cannot resolve "127.0.0.1" and exits
# (66, logged to a syslog that is not there). One more IPv4 address (TEST-NET-1, on lo, unused
# by any load) makes glibc see an IPv4 address.
nsenter --net="/run/netns/$NS" ip addr add 192.0.2.1/32 dev lo
inns() { nsenter --net="/run/netns/$NS" "$@"; }

{
  echo "# rtftp bench $(date -Is) on $(hostname): $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r), cgroup v$CGV"
  echo "# servers: $SERVERS; rtftp: ${RTFTP_BIN:-none}; in.tftpd: $(in.tftpd -V 2>&1 | head -1); dnsmasq: $(dnsmasq --version | head -1)"
  echo "# server CPU $SERVER_CPU, client CPU $CLIENT_CPU, REPS=$REPS, blksize $BLKSIZE; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/header.txt"

# ------------------------------------------------------------------ servers
SRV_PID=
start_server() {   # $1 server, $2 log; sets SRV_PID, SRV_CG, SRV_PORT
  local s=$1 log=$2 cmd
  SRV_CG=bench-$s-$$; SRV_PORT=$(eval echo "\$PORT_$s")
  cg_create "$SRV_CG"; CGS+=("$SRV_CG")
  case $s in
    rtftp)   # shellcheck disable=SC2086
             cmd=("$RTFTP_BIN/rtftp" --listen "127.0.0.1:$SRV_PORT" --user "$RTFTP_USER" $RTFTP_ARGS "$W/root") ;;
    hpa)     cmd=(in.tftpd -L -s "$PEER_ROOT" -a "127.0.0.1:$SRV_PORT" -u nobody) ;;
    dnsmasq) cmd=(dnsmasq -d -C /dev/null --port=0 --enable-tftp "--tftp-root=$PEER_ROOT" --tftp-max=4000
                  --user=nobody "--pid-file=$W/dnsmasq.pid" --interface=lo --bind-interfaces) ;;
    floor)   cmd=("$TFTPFLOOR" -p "$SRV_PORT" -r "$PEER_ROOT") ;;
    floorep) cmd=("$TFTPFLOOR" -e -p "$SRV_PORT" -r "$PEER_ROOT") ;;
  esac
  echo "+ ${cmd[*]}" >"$log"
  (
    for d in $(cg_dirs "$SRV_CG"); do echo "$BASHPID" >"$d/cgroup.procs"; done
    exec nsenter --net="/run/netns/$NS" taskset -c "$SERVER_CPU" "${cmd[@]}"
  ) >>"$log" 2>&1 &
  SRV_PID=$!
  local i
  for i in $(seq 1 50); do
    if ! kill -0 "$SRV_PID" 2>/dev/null; then echo "run.sh: $s died at start:" >&2; tail -5 "$log" >&2; return 1; fi
    if inns "$TFTPLOAD" -p "$SRV_PORT" -f ready.bin -e "$PEER_ROOT/ready.bin" -t 100 --retries 2 -d 1 -q >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "run.sh: $s does not answer on 127.0.0.1:$SRV_PORT after 5 s" >&2; tail -5 "$log" >&2
  return 1
}
stop_server() {
  kill -TERM "$SRV_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 30); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
  cg_kill_all "$SRV_CG"
  wait "$SRV_PID" 2>/dev/null || true
}

# run_load SERVER SCENARIO REP PLACEMENT TFTPLOAD-ARGS...: one fresh server, one load, one result line
run_load() {
  local s=$1 scen=$2 rep=$3 place=$4; shift 4
  local log=$OUT/logs/$rep-$scen-$s
  if ! start_server "$s" "$log.server.log"; then
    echo "$s $scen $rep start_failed=1" >>"$RES"; cg_kill_all "$SRV_CG"; return 0
  fi
  local cpu=$CLIENT_CPU; [[ $place == same ]] && cpu=$SERVER_CPU
  [[ $CGV == 1 ]] && echo 0 >"$CG_MEM_BASE/$SRV_CG/memory.max_usage_in_bytes" 2>/dev/null || true
  local u0 u1 us0 us1 k0 k1 t0 t1 rc=0
  read -r u0 us0 k0 < <(cg_cpu_times "$SRV_CG"); t0=$(date +%s.%N)
  echo "+ tftpload -p $SRV_PORT $*" >"$log.load.log"
  timeout --kill-after=5 "${LOAD_TIMEOUT:-900}" nsenter --net="/run/netns/$NS" taskset -c "$cpu" \
    "$TFTPLOAD" -p "$SRV_PORT" --label "$s/$scen" --mem-cgroup "$(cg_procs_dir "$SRV_CG")" "$@" \
    >>"$log.load.log" 2>&1 || rc=$?
  read -r u1 us1 k1 < <(cg_cpu_times "$SRV_CG"); t1=$(date +%s.%N)
  local alive=1; kill -0 "$SRV_PID" 2>/dev/null || alive=0
  local mempeak; mempeak=$(cg_mem_peak_kib "$SRV_CG")
  stop_server
  local r; r=$(grep '^RESULT' "$log.load.log" | tail -1 | sed 's/^RESULT //')
  [[ -n $r ]] || r="ok=0 failed=-1"
  echo "$s $scen $rep $r server_cpu_us=$((u1 - u0)) server_user_ticks=$((us1 - us0)) server_sys_ticks=$((k1 - k0)) wall=$(awk "BEGIN { printf \"%.3f\", $t1 - $t0 }") rc=$rc server_alive=$alive cg_mem_peak_kib=$mempeak" >>"$RES"
  printf '  %-8s %-10s rep %s: %s\n' "$s" "$scen" "$rep" \
    "$(echo " $r" | grep -oE ' (ok|failed|mbs|p50_ms|p99_ms|client_timeouts|mem_pss_kib)=[^ ]+' | tr -d '\n') cpu=$(( (u1 - u0) / 1000 )) ms"
  [[ $alive == 1 ]] || echo "  !! $s was not running at the end of $scen (see $log.server.log)"
  # shellcheck disable=SC2015
  grep -q '^  FAILED' "$log.load.log" && grep '^  FAILED' "$log.load.log" | head -3 | sed 's/^/  !! /' || true
}

rotate() {   # rotate the server order by rep so no server always runs first
  local -a a=($SERVERS); local n=${#a[@]} k=$(( $1 % ${#a[@]} )) i
  for ((i = 0; i < n; i++)); do echo -n "${a[(i + k) % n]} "; done
}

# ------------------------------------------------------------------ scenarios
has() { [[ " $scenarios " == *" $1 "* ]]; }
if has pingpong; then
  echo "== pingpong: loopback stop-and-wait limit at blksize $BLKSIZE (no TFTP, no disk)"
  for place in $A_PLACEMENTS; do
    b=$CLIENT_CPU; [[ $place == same ]] && b=$SERVER_CPU
    r=$(inns "$TFTPLOAD" --pingpong 20000 -b "$BLKSIZE" --cpus "$SERVER_CPU,$b" | grep '^RESULT' | sed 's/^RESULT //')
    echo "pingpong pp-$place 1 $r" >>"$RES"; echo "  $place: $r"
  done
fi
for rep in $(seq 1 "$REPS"); do
  order=$(rotate "$rep")
  echo "== round $rep of $REPS (order: $order)"
  if has a; then
    for place in $A_PLACEMENTS; do
      for w in 1 16; do
        for s in $order; do
          run_load "$s" "a-w$w-$place" "$rep" "$place" -f a40m.bin -e "$PEER_ROOT/a40m.bin" \
            -b "$BLKSIZE" -w "$w" -d 120 -t "$CLIENT_TIMEOUT_MS"
        done
      done
    done
  fi
  if has b; then
    for s in $order; do
      run_load "$s" b "$rep" split -f b1m.bin -e "$PEER_ROOT/b1m.bin" -n "$B_CLIENTS" -b "$BLKSIZE" -w 1 \
        -d 120 -t "$CLIENT_TIMEOUT_MS"
    done
  fi
  # b-wN: the same load, each client asking windowsize N (b-w4: what UEFI PXE asks; b-w16);
  # servers without RFC 7440 answer in lockstep
  for sc in $scenarios; do
    [[ $sc =~ ^b-w([0-9]+)$ ]] || continue
    bw=${BASH_REMATCH[1]}
    for s in $order; do
      run_load "$s" "$sc" "$rep" split -f b1m.bin -e "$PEER_ROOT/b1m.bin" -n "$B_CLIENTS" -b "$BLKSIZE" \
        -w "$bw" -d 120 -t "$CLIENT_TIMEOUT_MS"
    done
  done
  if has c && ((rep <= C_REPS)); then
    for l in $C_LOSSES; do
      for s in $order; do
        run_load "$s" "c-loss$l" "$rep" split -f b1m.bin -e "$PEER_ROOT/b1m.bin" -n "$C_CLIENTS" \
          -b "$BLKSIZE" -w "$C_WINDOWSIZE" -l "$l" --seed "$rep" -d 300 -t "$CLIENT_TIMEOUT_MS" --retries 10
      done
    done
  fi
  if has d; then
    for s in $order; do
      run_load "$s" d "$rep" split -f b1m.bin -e "$PEER_ROOT/b1m.bin" -n "$D_CLIENTS" -b "$BLKSIZE" -w 1 \
        -D "$D_SECONDS" --report "$D_SECONDS" -d $((D_SECONDS + 60)) -t "$CLIENT_TIMEOUT_MS"
    done
  fi
done
if has soak; then
  echo "== soak: $D_CLIENTS transfers kept in flight for $SOAK_SECONDS s, server memory every $SOAK_REPORT s"
  for s in $SOAK_SERVERS; do
    run_load "$s" soak 1 split -f b1m.bin -e "$PEER_ROOT/b1m.bin" -n "$D_CLIENTS" -b "$BLKSIZE" -w 1 \
      -D "$SOAK_SECONDS" --report "$SOAK_REPORT" --mem-interval 500 -d $((SOAK_SECONDS + 60)) -t "$CLIENT_TIMEOUT_MS"
    grep '^t=' "$OUT/logs/1-soak-$s.load.log" | sed "s/^/  $s /" || true
  done
fi

echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/header.txt"

if has ttfb && want rtftp && [[ -x ${RTFTP_BIN:-/nonexistent}/rtftp ]]; then
  echo "== ttfb: rtftp, client $TTFB_SRC, $TTFB_REPEAT fetches per name (size probe, then the real RRQ); fresh server per name"
  mkdir -p "$W/root/$TTFB_SRC"; cp "$PEER_ROOT/b1m.bin" "$W/root/$TTFB_SRC/local1m.bin"
  chmod 755 "$W/root/$TTFB_SRC"; chmod 644 "$W/root/$TTFB_SRC/local1m.bin"
  [[ -n $TTFB_ROOT_EXTRA ]] && cp -a "$TTFB_ROOT_EXTRA"/. "$W/root/"
  names=${TTFB_NAMES:-"local:local1m.bin:$W/root/$TTFB_SRC/local1m.bin default:b1m.bin:$PEER_ROOT/b1m.bin"}
  saved_args=$RTFTP_ARGS; RTFTP_ARGS="$RTFTP_ARGS $TTFB_RTFTP_ARGS"
  for spec in $names; do
    IFS=: read -r label name copy <<<"$spec"
    run_load rtftp "ttfb-$label" 1 split -f "$name" -e "$copy" -n 1 -r "$TTFB_REPEAT" --bind "$TTFB_SRC" \
      -b "$BLKSIZE" -w 4 --probe --each -d 300 --retries 120 -t "$CLIENT_TIMEOUT_MS"
    awk -v l="$label" '/^EACH/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        n = v["n"]; if (n == 1) f = "first_ttfb_ms=" v["ttfb_ms"] " first_probe_ms=" v["probe_ms"] " first_mbs=" v["mbs"];
        else { t[n] = v["ttfb_ms"]; m[n] = v["mbs"]; if (n == 2) s2 = " second_ttfb_ms=" v["ttfb_ms"] " second_mbs=" v["mbs"] }
        last = n }
      END { asort(t); asort(m); k = length(t); printf "rtftp ttfbx-%s 1 %s%s later_ttfb_p50_ms=%s later_mbs_p50=%s\n", l, f, s2,
            k ? t[int((k + 1) / 2)] : "nan", k ? m[int((k + 1) / 2)] : "nan" }' \
      "$OUT/logs/1-ttfb-$label-rtftp.load.log" | tee -a "$RES" | sed 's/^/  /'
  done
  RTFTP_ARGS=$saved_args
fi

# ------------------------------------------------------------------ table
python3 "$here/table.py" "$RES" "$OUT/header.txt" | tee "$OUT/table.txt"
echo "results: $RES, table: $OUT/table.txt, logs: $OUT/logs"
