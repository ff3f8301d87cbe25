#!/usr/bin/env bash
# Build the libFuzzer targets (fuzz/fuzz_*.c) with clang into build-fuzz and run each one for
# FUZZ_SECONDS (default 60). Exits non-zero when a target does not build, crashes, leaks,
# trips a sanitizer or one of its own invariants. The inputs that did it are kept as
# build-fuzz/artifacts/<target>-crash-*; replay one with: build-fuzz/fuzz/<target> FILE
#
#   FUZZ_SECONDS=300 scripts/fuzz.sh                 all targets, 5 minutes each
#   scripts/fuzz.sh fuzz_packet                     only the named targets
#   FUZZ_BUILD_DIR=/tmp/bf FUZZ_CC=clang-14 ...     elsewhere, another clang
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
secs=${FUZZ_SECONDS:-60}
cc=${FUZZ_CC:-clang}

if (($#)); then
  targets=("$@")
else
  targets=()
  for src in "$root"/fuzz/fuzz_*.c; do
    [[ -e $src ]] && targets+=("$(basename "$src" .c)")
  done
fi
((${#targets[@]})) || { echo "fuzz: no fuzz/fuzz_*.c" >&2; exit 1; }

# A build tree configured with another compiler cannot be switched: say so instead.
if [[ -f $build/CMakeCache.txt ]] &&
   ! grep -q '^CMAKE_C_COMPILER_ID:.*Clang\|^CMAKE_C_COMPILER:.*clang' "$build/CMakeCache.txt"; then
  echo "fuzz: $build was configured without clang; remove it first" >&2
  exit 1
fi
CC=$cc cmake -S "$root" -B "$build" -DRTFTP_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

mkdir -p "$build/artifacts"
failed=()
summary=()
for t in "${targets[@]}"; do
  bin=$build/fuzz/$t
  work=$root/fuzz/corpus-run/$t          # grows between runs; not in git
  seeds=$root/fuzz/corpus/$t
  mkdir -p "$work"
  dirs=("$work")
  [[ -d $seeds ]] && dirs+=("$seeds")
  log=$build/fuzz-$t.log
  echo "fuzz: $t for ${secs}s (log: $log)"
  rc=0
  "$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -max_len=4096 \
         -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" "${dirs[@]}" \
         >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 || true)
  if ((rc != 0)); then
    failed+=("$t")
    summary+=("$t: FAILED (exit $rc) after ${runs:-?} runs; see $log")
    grep -E '^==[0-9]+==ERROR|invariant failed|runtime error|SUMMARY|Test unit written' "$log" | head -n 8 >&2 || true
  else
    summary+=("$t: ok, ${runs:-?} runs, ${rate:-?} exec/s, ${cov:-cov ?}")
  fi
done

printf 'fuzz: %s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
