#!/usr/bin/env bash
# Install what NoxRunner C builds and tests with, from Debian 12's archive.
set -euo pipefail
pkgs=(build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev
      libnng-dev libarchive-dev libcjson-dev zlib1g-dev check clang-format
      libmicrohttpd-dev libcurl4-openssl-dev openssl
      python3
      # scripts/fuzz.sh: clang, and libFuzzer's runtime, which clang's
      # libclang-common-14-dev only recommends (dpkg -S libclang_rt.fuzzer)
      clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
