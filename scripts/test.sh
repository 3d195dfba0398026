#!/usr/bin/env bash
# test.sh — install what is missing, build, and run the whole test suite twice: a normal
# build (build/) and an AddressSanitizer + UndefinedBehaviorSanitizer build (build-asan/).
# This is what CI runs (.ci/run).  Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEVM_WERROR=ON > /dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEVM_SANITIZE=ON -DEVM_WERROR=ON > /dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j"$jobs")
echo "test.sh: all tests passed (normal and sanitizer builds)"
