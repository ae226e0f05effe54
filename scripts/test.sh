#!/usr/bin/env bash
# Install dependencies, check formatting, build, and run the whole test
# suite twice: a normal build, then under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror
BUILD_DIR=build scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)")
BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh \
  -DNOX_SANITIZE=address,undefined
(cd build-asan && ctest --output-on-failure -j"$(nproc)")
# Then each libFuzzer harness for 30 s on a copy of its seed corpus
# (scripts/fuzz.sh; README "Reliability").
scripts/fuzz.sh 30
