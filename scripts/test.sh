#!/usr/bin/env bash
# Install what is missing, build (normal and ASan+UBSan), run the whole test suite in both,
# then fuzz every parser for a bounded time. This is what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure --timeout 1200)

# The sanitizer build runs the same suite, except the packaging tests: they build and
# install the .deb, which is the same with or without sanitizers.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRTFTP_SANITIZE=ON
cmake --build build-asan -j"$jobs"
(cd build-asan && ctest --output-on-failure --timeout 1200 -LE packaging)

FUZZ_SECONDS="${FUZZ_SECONDS:-60}" bash scripts/fuzz.sh

# Reaching this line means every step passed (set -e); say how many checks that was.
count() { (cd "$1" && ctest -N "${@:2}" | sed -n 's/^Total Tests: //p'); }
normal=$(count build)
asan=$(count build-asan -LE packaging)
fuzz=$(ls fuzz/fuzz_*.c | wc -l)
echo "tests: $normal ctest (normal) + $asan ctest (ASan/UBSan) + $fuzz fuzz targets"
echo "summary: $((normal + asan + fuzz)) passed, 0 failed"
