#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing, builds the release
# binaries (build/) and a clang AddressSanitizer + UndefinedBehaviorSanitizer build with the
# libFuzzer targets (build-san/), and runs every test there under ctest.
#
#   deploy/test.sh            (what .ci/run calls)
#   CAIRN_TEST_JOBS=1 deploy/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh

jobs=${CAIRN_TEST_JOBS:-$(nproc)}

echo "== release build (gcc, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"

echo "== sanitizer build (clang, ASan + UBSan, libFuzzer targets, -Werror)"
CC=clang cmake -S . -B build-san -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCAIRN_SANITIZE=ON -DCAIRN_FUZZ=ON >/dev/null
cmake --build build-san -j "$jobs"

echo "== test suite (sanitizer build)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-san
ctest --output-on-failure -j "$jobs" --timeout 900
