#!/bin/sh
# install_layout.sh BUILD_DIR - install into a throwaway prefix and check
# what lands where: the two programs in bin/ and nothing else there (the
# benchmark stays in the build tree), the license with the docs, the SPDX
# identifier in the pkg-config file, a pkg-config file that points where
# it was installed, and a CLI that finds its library there.
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
# Relocatable: the prefix is where the files are, not where the build was
# configured to go; the installed CLI finds the installed library.
got=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=libdir noxrunner)
[ "$(cd "$got" && pwd -P)" = "$(cd "$(dirname "$(dirname "$pc")")" && pwd -P)" ] ||
    fail "pkg-config libdir is $got, not where the library is"
[ -e "$got/libnoxrunner.so" ] || fail "no libnoxrunner.so in $got"
LD_LIBRARY_PATH= "$prefix/bin/noxrc-rpc" --version >/dev/null ||
    fail "the installed noxrc-rpc does not run (its library not found?)"
echo "install layout ok"
