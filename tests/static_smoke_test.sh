#!/bin/sh
# The static corral (scripts/build-static) runs the integration smoke:
# create, start, state, kill, exec and delete (the Lifecycle and
# ExecInContainer suites of integration_tests, and the 512 KiB container,
# with CORRAL_TEST_RUNTIME pointing at the static binary). The static corral
# is linked first from BUILD_DIR's own objects (a few seconds); the test
# fails if the result is not static.
# Usage: tests/static_smoke_test.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 src=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (creates containers)"; exit 77; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
BUILD_DIR=$build "$src/scripts/build-static" --only corral >"$log" 2>&1 ||
    { tail -30 "$log" >&2; echo "FAIL: scripts/build-static --only corral" >&2; exit 1; }
grep '^build-static: corral' "$log"
bin=$build/static/corral
"$bin" --version >/dev/null || { echo "FAIL: $bin --version" >&2; exit 1; }
CORRAL_TEST_RUNTIME=$bin exec "$build/bin/integration_tests" \
    --gtest_filter='Lifecycle.*:ExecInContainer.*:MemoryLimitTiny.*' --gtest_brief=1
