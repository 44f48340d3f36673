#!/bin/sh
# scripts/demo's build: corral and herd with CORRAL_QUICK_BUILD (unity
# batches, no debug information), from this source tree into a temporary
# directory. A unity batch compiles several files as one, so two files that
# each define the same name in an anonymous namespace build alone but not
# together; adding a file shifts the batches. This test is what keeps the
# demo building. The binaries must run: --version of each.
# Usage: tests/quick_build_test.sh SOURCE_DIR
set -eu
src=$1
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
jobs=$(nproc)
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF -DCORRAL_QUICK_BUILD=ON >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log" >&2; echo "FAIL: configure" >&2; exit 1; }
# Only the compiler's own errors and the failed steps, not the progress.
if ! cmake --build "$build" -j"$jobs" --target corral herd >"$build/build.log" 2>&1; then
    grep -E 'error|FAILED|Error [0-9]' "$build/build.log" | head -n 40 >&2
    echo "FAIL: the quick build (scripts/demo's) does not compile" >&2
    exit 1
fi
"$build/bin/corral" --version
"$build/bin/herd" version
echo "PASS: corral and herd build as scripts/demo builds them"
