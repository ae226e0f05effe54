#!/bin/sh
# install_layout.sh BUILD_DIR - install into a throwaway prefix and check
# what lands where: the two programs in bin/ and nothing else there (the
# benchmark stays in the build tree), the license with the docs, the SPDX
# identifier in the pkg-config file.
set -eu
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null

fail() {
    echo "install_layout: $*" >&2
    exit 1
}

bin=$(cd "$prefix/bin" && ls | tr '\n' ' ')
[ "$bin" = "noxrc-rpc noxrunnerd " ] || fail "bin/ holds: $bin"
found=$(find "$prefix" -name 'nox-bench*')
[ -z "$found" ] || fail "nox-bench installed: $found"
[ -f "$prefix/share/doc/noxrunner/LICENSE" ] ||
    fail "no share/doc/noxrunner/LICENSE"
grep -q '^MIT License$' "$prefix/share/doc/noxrunner/LICENSE" ||
    fail "LICENSE is not the MIT license"
pc=$(find "$prefix" -name noxrunner.pc)
[ -n "$pc" ] || fail "no noxrunner.pc"
grep -q '^# SPDX-License-Identifier: MIT$' "$pc" ||
    fail "no SPDX line in $pc"
PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --validate noxrunner ||
    fail "pkg-config rejects $pc"
echo "install layout ok"
