#!/usr/bin/env bash
# Install dependencies, build, and walk through the embedded local mode:
# create a sandbox, run commands, upload, download, delete. No server.
set -euo pipefail
cd "$(dirname "$0")/.."

# One line per step; a step's own output is shown only when it fails, so
# what follows is the demo.
quietly() {
  local what=$1 log rc=0
  shift
  log=$(mktemp)
  printf '%s ... ' "$what" >&2
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "done" >&2
  else
    echo "failed (exit $rc):" >&2
    cat "$log" >&2
  fi
  rm -f "$log"
  return "$rc"
}
quietly "Installing missing Debian packages (sudo apt-get, if any)" scripts/deps.sh
quietly "Building into build/" scripts/build.sh
echo >&2

nox() {
  echo "\$ noxrc-rpc --local-test $(printf '%q ' "$@")" >&2
  build/noxrc-rpc --local-test "$@"
}

export NOXRUNNER_BASE_DIR=$(mktemp -d)   # sandboxes live here for the demo
work=$(mktemp -d)
trap 'rm -rf "$NOXRUNNER_BASE_DIR" "$work"' EXIT

nox create my-session
nox exec my-session echo "Hello"
printf 'print("hello from python")\n' > "$work/hello.py"
echo "some data" > "$work/data.txt"
nox upload my-session "$work/hello.py" "$work/data.txt"
nox sh my-session 'ls -l && cat data.txt | tr a-z A-Z > shout.txt'
nox exec my-session rm -rf / || echo "(refused, exit code $?)" >&2
nox download my-session --extract "$work/out"
echo "downloaded: $(ls "$work/out" | tr '\n' ' ')"
echo "shout.txt: $(cat "$work/out/shout.txt")"
nox delete my-session
