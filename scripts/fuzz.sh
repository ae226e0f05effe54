#!/usr/bin/env bash
# Build the libFuzzer harnesses (fuzz/) with clang into FUZZ_BUILD_DIR
# (default build-fuzz) and run each for SECONDS (default 30) on a copy of
# its seed corpus, so the tree's corpus never grows. Any crash, sanitizer
# report, failed check or hang fails the script; the input that caused it
# is printed (base64) and kept under FUZZ_ARTIFACTS (default
# fuzz-artifacts/). Optional: names of harnesses to run (default all).
# The harnesses work in $TMPDIR; /dev/shm is used when it is writable, as
# sandboxes are made and removed at every input.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] ||
  harnesses=(dispatch upload paths quantity meta cli_args rest)
build=${FUZZ_BUILD_DIR:-build-fuzz}
artifacts=${FUZZ_ARTIFACTS:-fuzz-artifacts}

CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DNOX_FUZZ=ON -DNOX_BUILD_TESTS=OFF -DNOX_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target nox_fuzz

tmp_parent=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && tmp_parent=/dev/shm
work=$(mktemp -d "$tmp_parent/nox-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

failed=()
for h in "${harnesses[@]}"; do
  mkdir -p "$work/$h/corpus" "$work/$h/tmp" "$work/$h/crash"
  cp fuzz/corpus/"$h"/* "$work/$h/corpus/"
  echo "== fuzz_$h: ${secs}s"
  rc=0
  # -timeout: an input taking this long counts as a hang.
  TMPDIR="$work/$h/tmp" NOXRUNNER_QUIET=1 nice \
    "$build/fuzz/fuzz_$h" "$work/$h/corpus" -dict="fuzz/$h.dict" \
    -max_total_time="$secs" -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$work/$h/crash/" >"$work/$h/log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+[[:space:]]+(DONE|INITED)|Done |stat::)' "$work/$h/log" || true
  if [ "$rc" -ne 0 ]; then
    failed+=("$h")
    tail -n 60 "$work/$h/log"
    mkdir -p "$artifacts/$h"
    for f in "$work/$h/crash"/*; do
      [ -e "$f" ] || continue
      cp "$f" "$artifacts/$h/"
      echo "reproducer $artifacts/$h/$(basename "$f") (base64):"
      base64 -w0 "$f"
      echo
    done
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (rerun one input: $build/fuzz/fuzz_<harness> <file>)"
  exit 1
fi
echo "fuzz: ${harnesses[*]}: no crash in ${secs}s each"
