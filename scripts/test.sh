#!/usr/bin/env bash
# Install dependencies, check formatting, build, and run the whole test
# suite twice: a normal build, then under AddressSanitizer + UBSan. In
# between, Release (-O3) and MinSizeRel (-Os) builds with -Werror are
# compiled but not run: what differs at each -O level is gcc's flow
# analysis, hence its warnings; a third ctest run would cost minutes, and
# what an -O level could change in behaviour is undefined behaviour, which
# the UBSan run looks for.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror
BUILD_DIR=build scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)")
for type in Release MinSizeRel; do
  BUILD_DIR=build-$type BUILD_TYPE=$type scripts/build.sh
done
BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh \
  -DNOX_SANITIZE=address,undefined
(cd build-asan && ctest --output-on-failure -j"$(nproc)")
# Then each libFuzzer harness for 30 s on a copy of its seed corpus
# (scripts/fuzz.sh; README "Reliability").
scripts/fuzz.sh 30
