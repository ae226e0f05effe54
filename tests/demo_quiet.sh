#!/bin/sh
# demo_quiet.sh SOURCE_DIR NOXRC_RPC - scripts/demo.sh in a scratch copy of
# the tree whose deps.sh and build.sh are stand-ins that print a build's
# worth of progress: the demo must show one line per step and the demo
# itself, and a failing build's output with a failing exit status.
set -eu
src=$1
noxrc=$2
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/scripts" "$tree/build"
cp "$src/scripts/demo.sh" "$tree/scripts/"
ln -s "$noxrc" "$tree/build/noxrc-rpc"
printf '#!/bin/sh\nexit 0\n' >"$tree/scripts/deps.sh"
cat >"$tree/scripts/build.sh" <<'STUB'
#!/bin/sh
i=0
while [ $i -lt 130 ]; do
  echo "[ $i%] Building C object progress-line-$i"
  i=$((i + 1))
done
exit ${STUB_BUILD_RC:-0}
STUB
chmod +x "$tree/scripts/deps.sh" "$tree/scripts/build.sh"

fail() {
    echo "demo_quiet: $*" >&2
    exit 1
}

out=$(NOXRUNNER_QUIET=1 bash "$tree/scripts/demo.sh" 2>&1) ||
    fail "demo failed: $out"
case $out in
*progress-line*) fail "build progress shown: $out" ;;
esac
echo "$out" | grep -qx 'Building into build/ ... done' ||
    fail "no build line: $out"
echo "$out" | grep -qx 'Hello' || fail "no demo: $out"

rc=0
out=$(STUB_BUILD_RC=3 bash "$tree/scripts/demo.sh" 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "a failed build did not fail the demo"
echo "$out" | grep -q 'progress-line-129' ||
    fail "a failed build's output is not shown: $out"
case $out in
*Hello*) fail "the demo ran after a failed build: $out" ;;
esac
echo "demo output ok"
