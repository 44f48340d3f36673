#!/usr/bin/env bash
# Builds the container fixtures used by corral's tests, demo and benchmark,
# offline and reproducibly, from Debian's busybox-static plus our probe:
#
#   OUT/rootfs/           busybox + applet links in /bin, /etc files, /probe
#   OUT/bundle/           config.json (like `runc spec`, runs `/probe report`)
#                         + rootfs/ (a hard-linked copy of OUT/rootfs)
#   OUT/layout/           OCI image layout, tag "latest" (Cmd /bin/sh)
#   OUT/busybox.oci.tar   the same image as an oci-archive, tag "latest"
#
# Usage: rootfs-fixtures/build.sh [OUT]     (OUT defaults to rootfs-fixtures/out)
#
# Every file gets the mtime SOURCE_DATE_EPOCH (default 2000-01-01), so two
# builds of the same inputs are identical. When the inputs (this script, the
# probe source, busybox, gcc, the epoch) are unchanged, it does nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$(realpath -m "${1:-$here/out}")
epoch=${SOURCE_DATE_EPOCH:-946684800}
busybox=/bin/busybox
probe_src=$here/probe/probe.c

say() { printf 'fixtures: %s\n' "$*"; }
die() { printf 'fixtures: error: %s\n' "$*" >&2; exit 1; }

[[ -x $busybox ]] || die "$busybox not found: apt-get install busybox-static (or run scripts/deps)"
command -v gcc >/dev/null || die "gcc not found: apt-get install build-essential"
"$busybox" --list >/dev/null 2>&1 || die "$busybox is not a working busybox"

have_image_tools=no
if command -v umoci >/dev/null && command -v skopeo >/dev/null; then
  have_image_tools=yes
fi

# --- Skip when nothing changed ----------------------------------------------
inputs_hash=$(
  {
    sha256sum "$0" "$probe_src" "$busybox"
    gcc --version | head -n1
    echo "epoch=$epoch image_tools=$have_image_tools"
  } | sed "s|$here|.|g" | sha256sum | cut -d' ' -f1
)
# One build at a time per OUT (scripts/test and scripts/bench may overlap).
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9

stamp=$out/.stamp
if [[ -f $stamp && $(cat "$stamp") == "$inputs_hash" && -x $out/rootfs/probe &&
      -f $out/bundle/config.json ]]; then
  say "up to date: $out"
  exit 0
fi

work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- rootfs -------------------------------------------------------------------
build_rootfs() {
  local r=$1
  install -d -m 0755 "$r" "$r"/{bin,dev,etc,proc,run,sys,usr,usr/bin,var}
  install -d -m 0700 "$r/root"
  install -d -m 1777 "$r/tmp"

  install -m 0755 "$busybox" "$r/bin/busybox"
  local applet
  for applet in $("$busybox" --list | LC_ALL=C sort -u); do
    [[ $applet == busybox ]] || ln -s busybox "$r/bin/$applet"
  done

  printf '%s\n' \
    'root:x:0:0:root:/root:/bin/sh' \
    'probe:x:1000:1000:probe:/tmp:/bin/sh' \
    'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$r/etc/passwd"
  printf '%s\n' \
    'root:x:0:' \
    'tty:x:5:' \
    'probe:x:1000:' \
    'nogroup:x:65534:' >"$r/etc/group"
  echo corral >"$r/etc/hostname"
  chmod 0644 "$r"/etc/{passwd,group,hostname}

  # Static, stripped, and without build paths so the binary is reproducible.
  gcc -static -Os -s -std=gnu11 -Wall -Wextra -Werror \
    -ffile-prefix-map="$here"=. -o "$r/probe" "$probe_src"
  chmod 0755 "$r/probe"
}

# Owner root and a fixed mtime on everything (dirs last is not needed: touch
# does not change the parent's mtime).
normalize() {
  if [[ $EUID -eq 0 ]]; then
    chown -hR 0:0 "$1"
  fi
  find "$1" -exec touch -h -d "@$epoch" {} +
}

# --- bundle -------------------------------------------------------------------
# Equivalent to `runc spec` (runc 1.2: no ambient capabilities, plus a cgroup
# namespace), with process args /probe report, terminal false, PATH=/bin:/usr/bin.
# No cgroupsPath: every test sets its own absolute one.
write_config() {
  cat >"$1" <<'EOF'
{
	"ociVersion": "1.2.0",
	"process": {
		"terminal": false,
		"user": {
			"uid": 0,
			"gid": 0
		},
		"args": [
			"/probe",
			"report"
		],
		"env": [
			"PATH=/bin:/usr/bin"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"effective": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"permitted": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			]
		},
		"rlimits": [
			{
				"type": "RLIMIT_NOFILE",
				"hard": 1024,
				"soft": 1024
			}
		],
		"noNewPrivileges": true
	},
	"root": {
		"path": "rootfs",
		"readonly": true
	},
	"hostname": "corral",
	"mounts": [
		{
			"destination": "/proc",
			"type": "proc",
			"source": "proc"
		},
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": [
				"nosuid",
				"strictatime",
				"mode=755",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/pts",
			"type": "devpts",
			"source": "devpts",
			"options": [
				"nosuid",
				"noexec",
				"newinstance",
				"ptmxmode=0666",
				"mode=0620",
				"gid=5"
			]
		},
		{
			"destination": "/dev/shm",
			"type": "tmpfs",
			"source": "shm",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"mode=1777",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/mqueue",
			"type": "mqueue",
			"source": "mqueue",
			"options": [
				"nosuid",
				"noexec",
				"nodev"
			]
		},
		{
			"destination": "/sys",
			"type": "sysfs",
			"source": "sysfs",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"ro"
			]
		},
		{
			"destination": "/sys/fs/cgroup",
			"type": "cgroup",
			"source": "cgroup",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"relatime",
				"ro"
			]
		}
	],
	"linux": {
		"resources": {
			"devices": [
				{
					"allow": false,
					"access": "rwm"
				}
			]
		},
		"namespaces": [
			{
				"type": "pid"
			},
			{
				"type": "network"
			},
			{
				"type": "ipc"
			},
			{
				"type": "uts"
			},
			{
				"type": "mount"
			},
			{
				"type": "cgroup"
			}
		],
		"maskedPaths": [
			"/proc/acpi",
			"/proc/asound",
			"/proc/kcore",
			"/proc/keys",
			"/proc/latency_stats",
			"/proc/timer_list",
			"/proc/timer_stats",
			"/proc/sched_debug",
			"/sys/firmware",
			"/proc/scsi",
			"/sys/devices/virtual/tpm"
		],
		"readonlyPaths": [
			"/proc/bus",
			"/proc/fs",
			"/proc/irq",
			"/proc/sys",
			"/proc/sysrq-trigger"
		]
	}
}
EOF
  chmod 0644 "$1"
}

# --- OCI image ----------------------------------------------------------------
# umoci unpack + repack rather than `umoci insert`: umoci 0.4.7's insert
# writes a layer tar without the final padding and end-of-archive blocks.
build_image() {
  local rootfs=$1 layout=$2 archive=$3 scratch=$4
  local created
  created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
  umoci init --layout "$layout"
  umoci new --image "$layout:latest"
  umoci unpack --image "$layout:latest" "$scratch"
  cp -a "$rootfs/." "$scratch/rootfs/"
  touch -h -d "@$epoch" "$scratch/rootfs"
  umoci repack --image "$layout:latest" --history.created "$created" "$scratch"
  umoci config --image "$layout:latest" --config.cmd /bin/sh --config.env PATH=/bin \
    --architecture amd64 --os linux --created "$created" --history.created "$created"
  umoci gc --layout "$layout"
  chmod -R u=rwX,go=rX "$layout" # umoci writes blobs 0600
  normalize "$layout"

  # skopeo writes the archive with the current time as every member's mtime:
  # unpack and repack it with fixed mtimes and a sorted member order.
  skopeo copy --quiet "oci:$layout:latest" "oci-archive:$scratch.tar:latest"
  mkdir "$scratch.tree"
  tar -xf "$scratch.tar" -C "$scratch.tree"
  tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    --mode=u=rwX,go=rX -cf "$archive" -C "$scratch.tree" blobs index.json oci-layout
  touch -d "@$epoch" "$archive"
}

say "building in $out"
build_rootfs "$work/rootfs"
normalize "$work/rootfs"

mkdir "$work/bundle"
cp -al "$work/rootfs" "$work/bundle/rootfs"
write_config "$work/bundle/config.json"
normalize "$work/bundle"

parts=(rootfs bundle)
if [[ $have_image_tools == yes ]]; then
  build_image "$work/rootfs" "$work/layout" "$work/busybox.oci.tar" "$work/unpacked"
  parts+=(layout busybox.oci.tar)
else
  say "umoci or skopeo missing: skipping OUT/layout and OUT/busybox.oci.tar (apt-get install umoci skopeo)"
fi

# Replace the old parts only now that all new ones are complete.
rm -f "$stamp"
for part in rootfs bundle layout busybox.oci.tar; do
  rm -rf "${out:?}/$part"
done
for part in "${parts[@]}"; do
  mv "$work/$part" "$out/$part"
done
echo "$inputs_hash" >"$stamp"
say "done: $out ($(find "$out/rootfs/bin" -type l | wc -l) busybox applets, probe $(stat -c %s "$out/rootfs/probe") bytes)"
