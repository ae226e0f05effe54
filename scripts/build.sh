#!/usr/bin/env bash
# Configure and build into BUILD_DIR (default: build). Extra arguments go to
# cmake, e.g. -DNOX_SANITIZE=address,undefined.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} \
  -DNOX_WERROR=ON "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
