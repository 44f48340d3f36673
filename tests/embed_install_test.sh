#!/bin/sh
# libcorral for embedders (docs/library.md): `cmake --install --component dev`
# into a temporary prefix; every public header compiles with only that
# prefix's include/ (no src/ header leaks through); examples/embed builds
# against the installed tree with pkg-config and with find_package, and each
# build runs a container of the shared fixture (cgroup /corral-test/<id>):
# created, started, stopped, deleted, its output seen, nothing left behind.
# Usage: tests/embed_install_test.sh BUILD_DIR SOURCE_DIR FIXTURES
set -eu
build=$1 src=$2 fixtures=$3
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (creates a container)"; exit 77; }
[ -d "$fixtures/rootfs" ] || { echo "FAIL: no fixture rootfs at $fixtures (rootfs-fixtures/build.sh)" >&2; exit 1; }
tmp=$(mktemp -d)
ids=""
cleanup() {
    for id in $ids; do
        rmdir /sys/fs/cgroup/*/corral-test/"$id" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" --component dev >/dev/null
pcdir=$(dirname "$(find "$prefix" -name corral.pc)")
for f in include/corral/container.hpp "$(basename "$(dirname "$pcdir")")/libcorral.a"; do
    [ -n "$(find "$prefix" -path "*/$f")" ] || fail "$f not installed"
done
[ -n "$(find "$prefix" -name corralConfig.cmake)" ] || fail "corralConfig.cmake not installed"
[ -n "$(find "$prefix" -name corralConfigVersion.cmake)" ] || fail "corralConfigVersion.cmake not installed"

# The public API compiles with nothing but the installed include/.
for h in "$prefix"/include/corral/*.hpp; do
    printf '#include <corral/%s>\n' "$(basename "$h")" |
        c++ -std=gnu++20 -fsyntax-only -I"$prefix/include" -x c++ - 2>"$tmp/err" ||
        fail "$(basename "$h") does not compile from the installed tree alone: $(head -5 "$tmp/err")"
done

# examples/embed, two ways.
PKG_CONFIG_PATH=$pcdir
export PKG_CONFIG_PATH
# shellcheck disable=SC2046 # word splitting of pkg-config's flags is wanted
c++ -std=gnu++20 -O2 -o "$tmp/embed-pc" "$src/examples/embed/main.cpp" $(pkg-config --cflags --libs --static corral) ||
    fail "examples/embed with pkg-config --static corral"
cmake -S "$src/examples/embed" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$tmp/log" 2>&1 ||
    fail "configure examples/embed with find_package(corral): $(tail -20 "$tmp/log")"
cmake --build "$tmp/cmake" >"$tmp/log" 2>&1 || fail "build examples/embed with find_package: $(tail -20 "$tmp/log")"

n=0
for exe in "$tmp/embed-pc" "$tmp/cmake/embed"; do
    n=$((n + 1))
    id=embed-$$-$n
    ids="$ids $id"
    bundle=$tmp/bundle-$n
    mkdir -p "$bundle"
    jq --arg rootfs "$fixtures/rootfs" --arg cg "/corral-test/$id" \
        '.root.path = $rootfs | .linux.cgroupsPath = $cg | .process.args = ["/bin/sh", "-c", "echo hello from the container"]' \
        "$fixtures/bundle/config.json" >"$bundle/config.json"
    out=$("$exe" "$bundle" "$id" "$tmp/root" 2>&1) || fail "$exe: $out"
    printf '%s\n' "$out" | grep -Eq "^created pid [1-9]" || fail "$exe: no 'created pid N' in: $out"
    printf '%s' "$out" | tr '\n' '|' | grep -Eq '^created pid [0-9]+\|hello from the container\|stopped\|deleted\|?$' ||
        fail "$exe: expected created, hello, stopped, deleted; got: $(printf '%s' "$out" | tr '\n' '|')"
    [ ! -e "$tmp/root/$id" ] || fail "$exe: state directory $tmp/root/$id left behind"
    for d in /sys/fs/cgroup/*/corral-test/"$id"; do
        [ ! -e "$d" ] || fail "$exe: cgroup $d left behind"
    done
done
echo "PASS: installed headers self-contained; examples/embed built with pkg-config and find_package, both ran a container"
