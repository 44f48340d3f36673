#!/bin/sh
# The arm64 static build (scripts/build-static --arch arm64) under qemu-user:
# corral --version, spec, features, a config.json refused with the file and
# field named (corral-image is not in the static builds: libcurl has no
# static GSSAPI/LDAP on Debian). Skips (77) with the reason when the cross toolchain
# or qemu-user-static is missing (scripts/deps test installs both).
# Usage: tests/arm64_smoke_test.sh SOURCE_DIR STATIC_DIR FIXTURES
set -eu
src=$1 static=$2 fixtures=$3
for tool in aarch64-linux-gnu-g++ qemu-aarch64-static; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (g++-aarch64-linux-gnu, qemu-user-static)"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
STATIC_BUILD_DIR=$static "$src/scripts/build-static" --arch arm64 --only corral >"$tmp/log" 2>&1 ||
    { tail -30 "$tmp/log" >&2; fail "scripts/build-static --arch arm64 --only corral"; }
grep '^build-static: corral' "$tmp/log"
case $static in /*) ;; *) static=$src/$static ;; esac
corral=$static/static/corral
readelf -h "$corral" | grep -q 'Machine:.*AArch64' || fail "$corral is not an arm64 binary"
q=qemu-aarch64-static

version=$(sed -n 's/^project(corral VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
$q "$corral" --version | grep -q "$version" || fail "corral --version does not say $version"

mkdir "$tmp/spec" && (cd "$tmp/spec" && $q "$corral" spec) || fail "corral spec"
jq -e '.ociVersion and (.process.args | length > 0)' "$tmp/spec/config.json" >/dev/null || fail "corral spec wrote no valid config.json"

$q "$corral" features | jq -e '.ociVersionMin and (.linux.namespaces | index("pid"))' >/dev/null || fail "corral features"

# A wrong config.json: refused, the file and the field named, nothing left.
mkdir -p "$tmp/bad/rootfs"
jq '.process.args = "not-a-list"' "$tmp/spec/config.json" >"$tmp/bad/config.json"
# corral first seals its own binary (CVE-2019-5736) with open_tree(), which
# qemu-user 7.2 does not implement; on a read-only mount it needs no seal.
# So the binary is bind-mounted read-only, in a private mount namespace.
if unshare -m --propagation private sh -c 'mount --bind -o ro "$1" "$1" && exec "$2" "$1" --root "$3" create --bundle "$4" arm64-bad' \
    sh "$corral" "$(command -v $q)" "$tmp/root" "$tmp/bad" 2>"$tmp/err"; then
    fail "create accepted process.args as a string"
fi
grep -q 'config.json' "$tmp/err" && grep -q 'process.args' "$tmp/err" || fail "the error names no file and field: $(cat "$tmp/err")"
[ ! -e "$tmp/root/arm64-bad" ] || fail "a refused create left $tmp/root/arm64-bad"

echo "PASS: arm64 corral under qemu-user: --version, spec, features, config validation"
