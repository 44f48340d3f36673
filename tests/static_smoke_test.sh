#!/bin/sh
# The static corral (scripts/build-static) runs the integration smoke:
# create, start, state, kill, exec and delete (the Lifecycle and
# ExecInContainer suites of integration_tests, with CORRAL_TEST_RUNTIME
# pointing at the static binary). The static corral and corral-image are
# built first, incrementally, in STATIC_DIR (ccache shares the objects of
# BUILD_DIR); the test fails if the result is not static.
# Usage: tests/static_smoke_test.sh BUILD_DIR SOURCE_DIR STATIC_DIR
set -eu
build=$1 src=$2 static=$3
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (creates containers)"; exit 77; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
STATIC_BUILD_DIR=$static "$src/scripts/build-static" --only corral corral-image >"$log" 2>&1 ||
    { tail -30 "$log" >&2; echo "FAIL: scripts/build-static --only corral corral-image" >&2; exit 1; }
grep '^build-static: corral' "$log"
bin=$static/bin/corral
case $(cd "$src" && readlink -f "$bin") in /*) bin=$(cd "$src" && readlink -f "$bin") ;; esac
"$bin" --version >/dev/null || { echo "FAIL: $bin --version" >&2; exit 1; }
CORRAL_TEST_RUNTIME=$bin exec "$build/bin/integration_tests" \
    --gtest_filter='Lifecycle.*:ExecInContainer.*:MemoryLimitTiny.*' --gtest_brief=1
