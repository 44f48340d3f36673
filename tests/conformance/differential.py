#!/usr/bin/python3
"""Differential conformance test: the same OCI configs through runc, crun and corral.

Each case is a config.json built from a small base plus variations covering the
runtime spec's options (namespaces new / joined by path / inherited, mounts and
rootfsPropagation, devices, users, capabilities, rlimits, seccomp, hooks,
masked and read-only paths, sysctls, hostname, cgroup resources, AppArmor).
Every runtime gets the same config; for each one we record whether `create`
and `start` succeed (with the error text when not), what the process sees
inside (the static probe from rootfs-fixtures, run by busybox sh), what the
hooks received on stdin, and the limits in the container's cgroups. Values
that legitimately differ (pids, namespace inode numbers, our temporary paths,
peer group ids) are normalised; everything else is compared.

    differential.py [--count N] [--seed S] [--runtimes corral,runc,crun]
                    [--table FILE] [--expected FILE] [--only GLOB] [--keep] [-v]

Cases: every hand-picked case (one variation on the base config each), then
--count random combinations of variations drawn with --seed. Exit status 0
when every difference of corral is listed in the expected-differences file
(a line names a case or tag glob and a field glob, see that file), 1 when one
is not, 2 when a runtime cannot run or the harness itself fails, 77 when runc
or crun is not installed at all (CTest shows the test as skipped, with why).

How a difference is judged: runc is the reference and crun the second
opinion. corral differs when it refuses a config that runc or crun runs, runs
one that both refuse (unless they refuse different variations of it, each of
which one of them runs alone), or shows a field whose value matches neither
runtime that ran it. Where runc and crun disagree with each other, the spec
leaves room, and corral matching either one is accepted. Configs that every
runtime refuses are reported and do not count.

Safety on a shared host: every container gets its own --root, an absolute
cgroupsPath /corral-test/conf-<run>-<n>, and is deleted with --force
afterwards; we then check that no process, cgroup, mount or state directory
is left. A case that inherits a mount, UTS, IPC or network namespace runs the
runtime inside namespaces of a helper process we start (so "inherited" never
means the host's own), and joined namespaces are that helper's too. Helpers
and leftovers are killed by PID, never by name. Nothing touches /process_api.
"""

import argparse
import ctypes
import fnmatch
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.environ.get("CORRAL_FIXTURES", os.path.join(REPO, "rootfs-fixtures", "out"))
CGROUP_ROOT = "/sys/fs/cgroup"
CGROUP_PARENT = "corral-test"
# crun 1.8.1 refuses ociVersion 1.2.0 ("unknown version specified"); every
# runtime here accepts 1.1.0, and nothing we generate needs 1.2.
OCI_VERSION = "1.1.0"
# The probe's `try` refuses to run unless the hostname is this one (it guards
# against running its escape probes on a host by accident).
PROBE_HOSTNAME = "corral"
COMMAND_TIMEOUT = 20  # seconds for any one runtime invocation
EXIT_TIMEOUT = 15  # seconds for the container's process to finish

DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Runtimes


class Runtime:
    """How to call one runtime. crun needs a private mount namespace with a
    tmpfs over the cgroup2 folder on this hybrid host (see ENVIRONMENT.md):
    with cgroup2 listing hugetlb, crun 1.8.1 refuses to start at all."""

    def __init__(self, name, path):
        self.name = name
        self.path = path

    def argv(self, helper=None):
        """The command prefix; with a helper, the runtime runs in the helper's
        mount, UTS, IPC and network namespaces (for inherited-namespace cases)."""
        if helper is not None:
            # The crun helper already has the tmpfs over cgroup2 (see Helper).
            return ["nsenter", "-t", str(helper.pid), "-m", "-u", "-i", "-n", "--", self.path]
        if self.name == "crun":
            return ["unshare", "-m", "--propagation", "private", "sh", "-c",
                    'mount -t tmpfs -o size=64k none /sys/fs/cgroup/unified && exec "$@"', "sh",
                    self.path]
        return [self.path]


def find_runtimes(names, corral_path):
    """The runtimes asked for; those not installed at all; those installed
    but unable to run (an error, never a skip)."""
    found, absent, broken = [], [], []
    for name in names:
        if name not in ("runc", "crun", "corral"):
            broken.append(f"{name}: unknown runtime (want runc, crun or corral)")
            continue
        path = os.path.abspath(corral_path) if name == "corral" else shutil.which(
            name, path="/usr/sbin:/usr/bin:/sbin:/bin")
        if not path or not os.path.exists(path):
            if name == "corral":
                # corral is what we test: missing means the build is broken.
                broken.append(f"corral: no binary at {path} (build it first)")
            else:
                absent.append(f"{name}: not installed ({path or 'not in /usr/sbin:/usr/bin:/sbin:/bin'})")
            continue
        missing = broken
        rt = Runtime(name, path)
        try:
            r = subprocess.run(rt.argv() + ["--version"], capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as e:
            missing.append(f"{name}: `{path} --version` failed: {e}")
            continue
        if r.returncode != 0:
            missing.append(f"{name}: `{path} --version` exited {r.returncode}: {r.stderr.strip()}")
            continue
        rt.version = r.stdout.splitlines()[0] if r.stdout else "?"
        found.append(rt)
    return found, absent, broken


# ---------------------------------------------------------------------------
# Helper processes: namespaces to join or inherit


class Helper:
    """A `sleep` in new mount, UTS, IPC, network, PID and cgroup namespaces,
    started by us and killed by PID. One per (case, runtime): a container that
    joins a mount namespace pivots its root, and one that joins a UTS
    namespace sets its hostname, so a helper is never reused."""

    def __init__(self, for_crun, workdir):
        # With --fork the namespaces' first process is the child; --kill-child
        # makes sure it dies with unshare. The crun helper gets the tmpfs crun
        # needs, so that crun can inherit this mount namespace as is.
        # Bounded even if we die without stopping it: one run takes seconds.
        script = "exec sleep 300"
        if for_crun:
            script = "mount -t tmpfs -o size=64k none /sys/fs/cgroup/unified && " + script
        # util-linux 2.38's unshare prints a harmless "sigprocmask unblock
        # failed" with --kill-child: keep its stderr aside and show it only
        # if the helper does not start.
        self.err_path = os.path.join(workdir, "helper.err")
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                ["unshare", "--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup", "--fork",
                 "--kill-child", "--propagation", "private", "sh", "-c", script],
                stdin=subprocess.DEVNULL, stderr=err)
        self.pid = None
        deadline = time.time() + 5
        while time.time() < deadline:
            kids = _children(self.proc.pid)
            if kids and _comm(kids[0]) == "sleep":
                self.pid = kids[0]
                break
            time.sleep(0.01)
        if self.pid is None:
            self.stop()
            raise RuntimeError(f"namespace helper did not start: {read_text(self.err_path).strip()}")
        self.ns = {t: os.stat(f"/proc/{self.pid}/ns/{t}").st_ino for t in NS_FILES.values()}

    def path(self, ns_type):
        return f"/proc/{self.pid}/ns/{NS_FILES[ns_type]}"

    def stop(self):
        for pid in [self.pid, self.proc.pid]:
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


# OCI namespace type -> /proc/PID/ns file name
NS_FILES = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
            "cgroup": "cgroup", "user": "user"}
# Namespaces that, when inherited, would let a container change the host
# (mounts, hostname, sysctls): such cases run the runtime inside a helper.
SHARED_STATE_NS = ("mount", "uts", "ipc", "network")


# ---------------------------------------------------------------------------
# Cases


class Case:
    """One config and what to look at inside. `variations` are applied in
    order to the base config; `tags` name the features used, so that the
    expected-differences file can name a feature instead of every random
    case that happens to contain it."""

    def __init__(self, name, variations):
        self.name = name
        self.variations = variations
        self.tags = sorted({v.tag for v in variations} | {t for v in variations for t in v.extra_tags})
        self.skip = {}  # runtime name -> why this case must not run on it
        for v in variations:
            self.skip.update(v.skip)

    def build(self, env):
        config = base_config(env)
        probes = []
        for v in self.variations:
            v.apply(config, env)
            probes += v.probes
        ns_given = {n["type"]: n for n in config["linux"].get("namespaces", [])}
        needs_helper = any("path" in n for n in ns_given.values()) or any(
            t not in ns_given for t in SHARED_STATE_NS)
        inherit = any(t not in ns_given for t in SHARED_STATE_NS)
        return config, probes, needs_helper, inherit


class Variation:
    def __init__(self, aspect, tag, apply, probes=(), extra_tags=(), skip=None):
        self.aspect = aspect
        self.tag = tag
        self._apply = apply
        self.probes = list(probes)
        self.extra_tags = list(extra_tags)
        self.skip = dict(skip or {})

    def apply(self, config, env):
        self._apply(config, env)


class Env:
    """What a variation may refer to while building one runtime's config."""

    def __init__(self, workdir, bundle, helper, cgroup_name, hook_dir):
        self.workdir = workdir
        self.bundle = bundle
        self.helper = helper
        self.cgroup_name = cgroup_name
        self.hook_dir = hook_dir


def base_config(env):
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/sh", "-c", ""],  # filled in by run_one
            "env": ["PATH=/bin:/usr/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(DEFAULT_CAPS) for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": PROBE_HOSTNAME,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "cgroupsPath": f"/{CGROUP_PARENT}/{env.cgroup_name}",
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }


def _ns_set(config, ns_type, how, env):
    """how: 'new', 'join' (the helper's, by path) or 'inherit' (not listed)."""
    nss = [n for n in config["linux"]["namespaces"] if n["type"] != ns_type]
    if how == "new":
        nss.append({"type": ns_type})
    elif how == "join":
        nss.append({"type": ns_type, "path": env.helper.path(ns_type) if env.helper else "HELPER"})
    config["linux"]["namespaces"] = nss


def _ns_variation(ns_type, how, extra=None, tag=None, extra_tags=()):
    def apply(config, env):
        _ns_set(config, ns_type, how, env)
        if extra:
            extra(config, env)
    return Variation("namespaces", tag or f"ns-{ns_type}-{how}", apply, extra_tags=extra_tags)


def _no_mount_setup(config, env):
    # Without a mount namespace of its own a container has no masked paths
    # (runc refuses maskedPaths without one); /proc stays, as the runtimes
    # need it after chroot.
    config["mounts"] = [m for m in config["mounts"] if m["type"] == "proc"]
    config["linux"].pop("maskedPaths", None)
    config["linux"].pop("readonlyPaths", None)


def _drop_hostname(config, env):
    config.pop("hostname", None)


def _set(path, value):
    """A variation setting config[path...] = value (path is a tuple of keys)."""
    def apply(config, env):
        node = config
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value(env) if callable(value) else value
    return apply


def _add_mount(mount, host_dir=None):
    def apply(config, env):
        m = dict(mount)
        if host_dir is not None:
            src = os.path.join(env.workdir, "host", host_dir)
            os.makedirs(os.path.dirname(src), exist_ok=True)
            if host_dir.endswith(".txt"):
                with open(src, "w") as f:
                    f.write("from the host\n")
            else:
                os.makedirs(src, exist_ok=True)
                with open(os.path.join(src, "file"), "w") as f:
                    f.write("from the host\n")
            m["source"] = src
        config["mounts"].append(m)
    return apply


def _seccomp(profile_name, default_action="SCMP_ACT_ERRNO", nnp=True, extra_rules=()):
    def apply(config, env):
        names = SECCOMP_LISTS[profile_name] if profile_name else []
        syscalls = [{"names": names, "action": "SCMP_ACT_ALLOW"}] if names else []
        syscalls += [dict(r) for r in extra_rules]
        config["linux"]["seccomp"] = {
            "defaultAction": default_action,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": syscalls,
        }
        config["process"]["noNewPrivileges"] = nnp
    return apply


def _hooks(kinds, fail=None):
    """Each hook kind writes the state it gets on stdin to a file. Hooks that
    run in the container's namespaces (startContainer) resolve their path and
    write inside the container, so that one writes under the rootfs's /tmp."""
    def apply(config, env):
        hooks = {}
        for kind in kinds:
            if kind == "startContainer":
                target = f"/tmp/hook-{kind}.json"
            else:
                target = os.path.join(env.hook_dir, f"{kind}.json")
            script = f"cat > {target}"
            if kind == fail:
                script += "; echo hook {kind} fails on purpose >&2; exit 3"
            hooks[kind] = [{"path": "/bin/sh", "args": ["sh", "-c", script], "timeout": 10}]
        config["hooks"] = hooks
    return apply


def _devices(devs, allow=None):
    def apply(config, env):
        config["linux"]["devices"] = [dict(d) for d in devs]
        if allow:
            config["linux"]["resources"]["devices"] += [dict(a) for a in allow]
    return apply


def _resources(res):
    def apply(config, env):
        config["linux"]["resources"].update(json.loads(json.dumps(res)))
    return apply


def _cgroup_mount(options):
    return _add_mount({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                       "options": options})


def _relative_cgroup(config, env):
    # Relative cgroupsPaths nest under the runtime's own cgroup: run_one
    # puts the runtime into /corral-test/<name>-parent first (see
    # RELATIVE_PARENT), so the container lands under a parent of ours.
    config["linux"]["cgroupsPath"] = f"{env.cgroup_name}"


def variations():
    """Every variation, grouped by aspect. One hand-picked case per variation;
    random cases combine one variation from several aspects."""
    V = Variation
    cg_probe = ["read /sys/fs/cgroup/memory/memory.limit_in_bytes", "read /sys/fs/cgroup/pids/pids.max"]
    out = [
        # --- namespaces: new (the base), joined by path, inherited (not listed)
        _ns_variation("network", "join"),
        _ns_variation("ipc", "join"),
        _ns_variation("pid", "join"),
        _ns_variation("cgroup", "join"),
        _ns_variation("mount", "join", extra_tags=["ns-mount-not-new"]),
        _ns_variation("uts", "join", tag="ns-uts-join-hostname", extra_tags=["hostname-joined-uts"]),
        _ns_variation("uts", "join", _drop_hostname, tag="ns-uts-join-nohostname"),
        _ns_variation("network", "inherit"),
        _ns_variation("ipc", "inherit"),
        _ns_variation("pid", "inherit"),
        _ns_variation("cgroup", "inherit"),
        _ns_variation("uts", "inherit", _drop_hostname),
        _ns_variation("uts", "inherit", tag="ns-uts-inherit-hostname"),
        _ns_variation("mount", "inherit", _no_mount_setup, extra_tags=["ns-mount-not-new"]),
        _ns_variation("mount", "inherit", lambda c, e: (_no_mount_setup(c, e), c.__setitem__("mounts", [])),
                      tag="ns-mount-inherit-nomounts", extra_tags=["ns-mount-not-new"]),
        V("namespaces", "ns-user-new", lambda c, e: (
            _ns_set(c, "user", "new", e),
            c["linux"].update(uidMappings=[{"containerID": 0, "hostID": 100000, "size": 65536}],
                              gidMappings=[{"containerID": 0, "hostID": 100000, "size": 65536}]))),
        # --- mounts of every type, with options
        V("mounts", "mnt-bind", _add_mount({"destination": "/mnt/bind", "type": "bind",
                                            "options": ["bind"]}, "bind-dir"),
          ["stat /mnt/bind/file", "try open-write /mnt/bind/file"]),
        V("mounts", "mnt-rbind-ro", _add_mount({"destination": "/mnt/rbind", "type": "bind",
                                                "options": ["rbind", "ro"]}, "rbind-dir"),
          ["stat /mnt/rbind/file", "try open-write /mnt/rbind/file"]),
        V("mounts", "mnt-bind-file", _add_mount({"destination": "/etc/bound.txt", "type": "bind",
                                                 "options": ["bind", "ro", "nosuid", "noexec", "nodev"]},
                                                "file.txt"),
          ["read /etc/bound.txt", "stat /etc/bound.txt"]),
        V("mounts", "mnt-bind-nontype", _add_mount({"destination": "/mnt/notype",
                                                    "options": ["rbind", "rprivate"]}, "notype-dir"),
          ["stat /mnt/notype/file"]),
        V("mounts", "mnt-tmpfs-opts", _add_mount(
            {"destination": "/mnt/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=0700", "uid=1000", "gid=1000",
                         "nr_inodes=100"]}),
          ["stat /mnt/tmp"]),
        V("mounts", "mnt-tmpfs-ro", _add_mount(
            {"destination": "/mnt/rotmp", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "mode=755"]}),
          ["try mount-tmpfs /mnt/rotmp", "try remount-rw /mnt/rotmp"]),
        V("mounts", "mnt-proc-extra", _add_mount({"destination": "/mnt/proc", "type": "proc",
                                                  "source": "proc", "options": ["nosuid", "noexec"]})),
        V("mounts", "mnt-sysfs-rw", lambda c, e: c["mounts"].__setitem__(
            5, {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev"]})),
        V("mounts", "mnt-no-mqueue", lambda c, e: c.__setitem__(
            "mounts", [m for m in c["mounts"] if m["type"] != "mqueue"])),
        V("mounts", "mnt-devpts-opts", lambda c, e: c["mounts"].__setitem__(
            2, {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0600", "mode=0600"]}),
          ["stat /dev/ptmx", "stat /dev/pts/ptmx"]),
        V("mounts", "mnt-cgroup-ro", _cgroup_mount(["nosuid", "noexec", "nodev", "relatime", "ro"]),
          cg_probe),
        V("mounts", "mnt-cgroup-rw", _cgroup_mount(["nosuid", "noexec", "nodev", "relatime", "rw"]),
          cg_probe),
        V("mounts", "mnt-root-ro", _set(("root", "readonly"), True), ["try open-write /etc/passwd"]),
        # --- rootfs propagation
        *[V("propagation", f"prop-{p}", _set(("linux", "rootfsPropagation"), p))
          for p in ("private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable",
                    "runbindable")],
        # --- devices of every type
        V("devices", "dev-c", _devices([{"path": "/dev/conf-c", "type": "c", "major": 1, "minor": 3,
                                         "fileMode": 0o620, "uid": 1000, "gid": 1000}]),
          ["stat /dev/conf-c", "try open-write /dev/conf-c"]),
        V("devices", "dev-c-allowed", _devices(
            [{"path": "/dev/conf-c", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666}],
            [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}]),
          ["stat /dev/conf-c", "try open-write /dev/conf-c"]),
        V("devices", "dev-b", _devices([{"path": "/dev/conf-b", "type": "b", "major": 7, "minor": 200,
                                         "fileMode": 0o600}]),
          ["stat /dev/conf-b"]),
        V("devices", "dev-u", _devices([{"path": "/dev/conf-u", "type": "u", "major": 1, "minor": 5}]),
          ["stat /dev/conf-u"]),
        V("devices", "dev-p", _devices([{"path": "/dev/conf-p", "type": "p", "fileMode": 0o644}]),
          ["stat /dev/conf-p"], extra_tags=["device-fifo"]),
        V("devices", "dev-null-override", _devices([{"path": "/dev/null", "type": "c", "major": 1,
                                                     "minor": 3, "fileMode": 0o600}]),
          ["stat /dev/null"]),
        # --- users and groups
        V("user", "user-1000", _set(("process", "user"), {"uid": 1000, "gid": 1000})),
        V("user", "user-addgids", _set(("process", "user"),
                                       {"uid": 1000, "gid": 1000, "additionalGids": [10, 20, 1000]})),
        V("user", "user-umask", _set(("process", "user"), {"uid": 0, "gid": 0, "umask": 0o077})),
        V("user", "user-gid-only", _set(("process", "user"), {"uid": 0, "gid": 100})),
        V("user", "user-nobody-umask", _set(("process", "user"),
                                            {"uid": 65534, "gid": 65534, "umask": 0o027,
                                             "additionalGids": [65534]})),
        # --- capabilities
        V("caps", "caps-none", _set(("process", "capabilities"), {})),
        V("caps", "caps-bounding-only", _set(("process", "capabilities"),
                                             {"bounding": ["CAP_KILL", "CAP_CHOWN"]})),
        V("caps", "caps-all-five", _set(("process", "capabilities"), {
            k: ["CAP_NET_BIND_SERVICE", "CAP_KILL", "CAP_SYS_ADMIN"]
            for k in ("bounding", "effective", "permitted", "inheritable", "ambient")})),
        V("caps", "caps-ambient-user", lambda c, e: c["process"].update(
            user={"uid": 1000, "gid": 1000},
            capabilities={k: ["CAP_NET_BIND_SERVICE"]
                          for k in ("bounding", "effective", "permitted", "inheritable", "ambient")})),
        V("caps", "caps-sys-resource", _set(("process", "capabilities"), {
            k: DEFAULT_CAPS + ["CAP_SYS_RESOURCE"] for k in ("bounding", "effective", "permitted")})),
        # --- rlimits (never above the host's hard limits: CAP_SYS_RESOURCE is missing here)
        V("rlimits", "rl-nofile-low", _set(("process", "rlimits"),
                                           [{"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512}])),
        V("rlimits", "rl-several", _set(("process", "rlimits"), [
            {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
            {"type": "RLIMIT_NPROC", "soft": 200, "hard": 400},
            {"type": "RLIMIT_STACK", "soft": 4194304, "hard": 8388608},
            {"type": "RLIMIT_MEMLOCK", "soft": 65536, "hard": 65536}])),
        V("rlimits", "rl-none", lambda c, e: c["process"].pop("rlimits", None)),
        V("rlimits", "rl-raise-hard", _set(("process", "rlimits"),
                                           [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1 << 22}])),
        # --- seccomp
        V("seccomp", "sc-old-default-nnp", _seccomp("old-default", nnp=True)),
        V("seccomp", "sc-old-default", _seccomp("old-default", nnp=False), extra_tags=["seccomp-no-close-range"]),
        V("seccomp", "sc-minimal-nnp", _seccomp("minimal", nnp=True)),
        V("seccomp", "sc-minimal", _seccomp("minimal", nnp=False), extra_tags=["seccomp-no-close-range"]),
        V("seccomp", "sc-deny-list", _seccomp(None, default_action="SCMP_ACT_ALLOW", nnp=False, extra_rules=[
            {"names": ["sethostname", "setdomainname", "umount2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]),
          ["try sethostname other", "try umount /proc"]),
        V("seccomp", "sc-errno-default", _seccomp("old-default", nnp=True, extra_rules=[
            {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]),
          ["try mount-tmpfs /mnt"]),
        V("seccomp", "sc-args", _seccomp(None, default_action="SCMP_ACT_ALLOW", nnp=True, extra_rules=[
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}])),
        V("seccomp", "sc-log-default", _seccomp(None, default_action="SCMP_ACT_LOG", nnp=True)),
        V("seccomp", "sc-kill-rule", _seccomp(None, default_action="SCMP_ACT_ALLOW", nnp=False, extra_rules=[
            {"names": ["acct", "kexec_load", "open_by_handle_at"], "action": "SCMP_ACT_KILL_PROCESS"}])),
        V("seccomp", "nnp-false", _set(("process", "noNewPrivileges"), False)),
        # --- hooks
        V("hooks", "hooks-all", _hooks(["prestart", "createRuntime", "createContainer", "startContainer",
                                        "poststart", "poststop"]), extra_tags=["hook-state"]),
        V("hooks", "hooks-createRuntime-fails", _hooks(["createRuntime"], fail="createRuntime")),
        # --- masked and read-only paths
        V("paths", "paths-none", lambda c, e: (c["linux"].pop("maskedPaths"), c["linux"].pop("readonlyPaths")),
          ["stat /proc/kcore", "try open-write /proc/sys/kernel/hostname"]),
        V("paths", "paths-custom", lambda c, e: c["linux"].update(
            maskedPaths=["/etc/hostname", "/root", "/does/not/exist"], readonlyPaths=["/etc", "/nothing/here"]),
          ["stat /etc/hostname", "read /etc/hostname", "stat /root", "try open-write /etc/passwd"]),
        # --- sysctls (only namespaced ones: the container's own net and ipc)
        V("sysctl", "sysctl-net", _set(("linux", "sysctl"), {"net.ipv4.ip_forward": "1",
                                                             "net.core.somaxconn": "1000"}),
          ["sysctl net.ipv4.ip_forward", "sysctl net.core.somaxconn"]),
        V("sysctl", "sysctl-ipc", _set(("linux", "sysctl"), {"kernel.shm_rmid_forced": "1",
                                                             "kernel.msgmax": "4096",
                                                             "fs.mqueue.msg_max": "100"}),
          ["sysctl kernel.shm_rmid_forced", "sysctl kernel.msgmax", "sysctl fs.mqueue.msg_max"]),
        # --- hostname and domainname
        V("hostname", "host-none", _drop_hostname),
        V("hostname", "host-domain", lambda c, e: c.update(domainname="conf.example")),
        # --- cgroups (absolute paths under /corral-test, or relative under a parent of ours)
        V("cgroups", "cg-memory", _resources({"memory": {"limit": 67108864, "reservation": 33554432}}), cg_probe),
        V("cgroups", "cg-pids", _resources({"pids": {"limit": 64}}), cg_probe),
        V("cgroups", "cg-cpu", _resources({"cpu": {"shares": 512, "quota": 50000, "period": 100000}})),
        V("cgroups", "cg-cpuset", _resources({"cpu": {"cpus": "0", "mems": "0"}})),
        # crun 1.8.1 (cgroupfs driver) takes a relative path from each
        # hierarchy's root, not from its own cgroup: its container would land
        # outside /corral-test, so crun does not run this one.
        V("cgroups", "cg-relative", _relative_cgroup, extra_tags=["cgroup-relative"],
          skip={"crun": "its relative cgroupsPath starts at the hierarchy root, outside /corral-test"}),
        # --- process
        V("process", "proc-cwd-env", lambda c, e: c["process"].update(
            cwd="/tmp", env=["PATH=/bin", "CONF=1", "HOME=/root"])),
        V("process", "proc-oom-raise", _set(("process", "oomScoreAdj"), 500)),
        V("process", "proc-oom-lower", _set(("process", "oomScoreAdj"), -500)),
        V("process", "proc-apparmor", _set(("process", "apparmorProfile"), "corral-conformance"),
          extra_tags=["apparmor"]),
    ]
    return out


def hand_picked_cases():
    return [Case("base", [])] + [Case(v.tag, [v]) for v in variations()]


def random_cases(count, seed):
    """Combinations of 2 to 5 variations from distinct aspects. The aspect
    order is fixed so that namespace variations (which may strip mounts) come
    last and the same seed always gives the same configs."""
    rng = random.Random(seed)
    by_aspect = {}
    for v in variations():
        by_aspect.setdefault(v.aspect, []).append(v)
    aspects = sorted(by_aspect, key=lambda a: (a == "namespaces", a))
    cases = []
    for i in range(count):
        chosen = rng.sample(aspects, rng.randint(2, 5))
        chosen.sort(key=aspects.index)
        picks = [rng.choice(by_aspect[a]) for a in chosen]
        cases.append(Case(f"rand-{seed}-{i}:" + "+".join(v.tag for v in picks), picks))
    return cases


# ---------------------------------------------------------------------------
# Running one config on one runtime


def probe_script(probes):
    """The container's process: busybox sh runs the probe's report and the
    case's extra checks, each between markers, so that one container answers
    everything and a failing check does not hide the others."""
    lines = ["echo '@@ report'; /probe report; echo \"@@rc $?\""]
    for p in probes:
        lines.append(f"echo '@@ {p}'; /probe {p}; echo \"@@rc $?\"")
    lines.append("exit 7")
    return "; ".join(lines)


class Run:
    """The outcome of one config on one runtime."""

    def __init__(self):
        self.phase = None  # "create" / "start" / "exec" failure, "skipped", or None if it ran
        self.error = ""
        self.exit = None
        self.seen = {}
        self.leftovers = []
        self.timing = 0.0

    @property
    def ran(self):
        return self.phase is None

    def short_error(self):
        """The runtime's own message: the last `msg="..."` of a logrus-style
        line (runc, corral), else the last line; without the "runc create
        failed: " prefix, and with our temporary paths and ids replaced."""
        text = [t for t in self.error.strip().splitlines() if t.strip()]
        messages = []
        # The first line is often the cause (corral's init writes it before
        # the parent's summary), the last the runtime's summary: keep both.
        for line in ([text[0], text[-1]] if len(text) > 1 else text) or ["(no message)"]:
            m = re.search(r'msg="((?:[^"\\]|\\.)*)"', line)
            if m:
                line = m.group(1).replace('\\"', '"')
            messages.append(re.sub(r"^(runc|crun|corral) \w+ failed: ", "", line))
        line = " / ".join(messages)
        line = re.sub(r"/tmp/corral-conformance-[^/\s`'\"]*/[^/\s]*/\w+", "<workdir>", line)
        line = re.sub(r"conf-\d+-\d+", "<id>", line)
        line = re.sub(r"nsexec\[\d+\]", "nsexec", line)  # runc's C stage prefixes its pid
        return re.sub(r"\s+", " ", line)[:150]


def runtime_call(prefix, args, timeout=COMMAND_TIMEOUT, stdout=None, stderr=None, stdin=None):
    try:
        r = subprocess.run(prefix + args, stdin=stdin or subprocess.DEVNULL, stdout=stdout or subprocess.PIPE,
                           stderr=stderr or subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout} s: {' '.join(args[:4])}"
    out = ""
    if stderr is None:
        out = r.stderr.decode(errors="replace")
    return r.returncode, out


def cgroup_hierarchies():
    return sorted(d for d in os.listdir(CGROUP_ROOT)
                  if os.path.isdir(os.path.join(CGROUP_ROOT, d)) and not os.path.islink(os.path.join(CGROUP_ROOT, d)))


CGROUP_FILES = {
    "memory": ["memory.limit_in_bytes", "memory.soft_limit_in_bytes"],
    "pids": ["pids.max"],
    "cpu": ["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"],
    "cpuset": ["cpuset.cpus", "cpuset.mems"],
}


def relative_parent(cid):
    return f"{CGROUP_PARENT}/{cid}-parent"


def run_one(case, rt, tmp, cid):
    """Create, start, wait for, inspect and delete one container; then check
    that nothing of it is left."""
    run = Run()
    start_time = time.time()
    workdir = os.path.join(tmp, safe_name(case.name), rt.name)
    bundle = os.path.join(workdir, "bundle")
    root = os.path.join(workdir, "state")
    hook_dir = os.path.join(workdir, "hooks")
    for d in (bundle, root, hook_dir):
        os.makedirs(d)
    # A fresh rootfs copy per container: a runtime creates mount points and
    # device nodes in it, which must not help the next runtime.
    subprocess.run(["cp", "-a", os.path.join(FIXTURES, "rootfs"), os.path.join(bundle, "rootfs")], check=True)

    helper = None
    # A first build only to learn whether the case needs a helper: the
    # helper's namespace paths go into the real config below.
    _, _, needs_helper, inherit = case.build(Env(workdir, bundle, None, cid, hook_dir))
    if needs_helper:
        helper = Helper(rt.name == "crun", workdir)
    env = Env(workdir, bundle, helper, cid, hook_dir)
    config, probes, _, _ = case.build(env)
    config["process"]["args"][2] = probe_script(probes)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f, indent=1)

    prefix = rt.argv(helper if inherit else None)
    relative = not config["linux"]["cgroupsPath"].startswith("/")
    if relative:
        prefix = enter_cgroup_prefix(relative_parent(cid)) + prefix
    base = ["--root", root]
    pid = None
    try:
        # The container's stdio are files of ours, never the host's
        # /dev/null: runtimes chown the init's stdio to the container's user
        # (crun even in a user namespace), which would change the host's
        # /dev/null for everyone.
        with open(os.path.join(workdir, "stdin"), "wb"):
            pass
        with open(os.path.join(workdir, "stdin"), "rb") as inp, \
                open(os.path.join(workdir, "stdout"), "wb") as out, open(os.path.join(workdir, "stderr"), "wb") as err:
            rc, _ = runtime_call(prefix, base + ["create", "--bundle", bundle, cid], stdout=out, stderr=err, stdin=inp)
        if rc != 0:
            run.phase = "create"
            run.error = read_text(os.path.join(workdir, "stderr")) or f"exit status {rc}"
        else:
            pid = state_pid(prefix, base, cid)
            rc, text = runtime_call(prefix, base + ["start", cid])
            if rc != 0:
                run.phase = "start"
                run.error = text or f"exit status {rc}"
            else:
                run.exit = wait_exit(pid)
                if run.exit == "timeout":
                    run.leftovers.append("process did not exit in time")
                output = read_text(os.path.join(workdir, "stdout"))
                if "@@ report" not in output:
                    # `start` succeeded but the process never ran our script:
                    # the runtime failed between start and execve (its
                    # message is on the container's stderr).
                    run.phase = "exec"
                    run.error = read_text(os.path.join(workdir, "stderr")) or f"exit {run.exit}"
        run.seen.update(cgroup_seen(cid, relative))
        rc, text = runtime_call(prefix, base + ["delete", "--force", cid])
        if rc != 0 and run.ran:
            run.leftovers.append(f"delete --force failed: {text.strip()[:200]}")
        run.seen.update(parse_output(read_text(os.path.join(workdir, "stdout")), workdir, helper,
                                     config["linux"].get("maskedPaths", [])))
        run.seen.update(hooks_seen(hook_dir, bundle, cid))
        if run.ran:
            run.seen["exit"] = run.exit
    finally:
        run.leftovers += check_leftovers(rt, cid, pid, workdir, root, relative)
        if helper:
            helper.stop()
        if relative:
            remove_cgroup(relative_parent(cid))
    run.timing = time.time() - start_time
    return run


def enter_cgroup_prefix(parent):
    """A shell that moves itself into `parent` in every v1 hierarchy (and
    cgroup2), then execs the runtime: a relative cgroupsPath then nests
    under a cgroup of ours instead of under the machine's own."""
    cmds = []
    for h in cgroup_hierarchies():
        d = os.path.join(CGROUP_ROOT, h, parent)
        os.makedirs(d, exist_ok=True)
        if h == "cpuset":
            for f in ("cpuset.cpus", "cpuset.mems"):
                with open(os.path.join(CGROUP_ROOT, h, CGROUP_PARENT, f)) as src:
                    val = src.read().strip()
                if not val:
                    with open(os.path.join(CGROUP_ROOT, h, f)) as src:
                        val = src.read().strip()
                    with open(os.path.join(CGROUP_ROOT, h, CGROUP_PARENT, f), "w") as dst:
                        dst.write(val)
                with open(os.path.join(d, f), "w") as dst:
                    dst.write(val)
        cmds.append(f"echo $$ > {d}/cgroup.procs")
    return ["sh", "-c", " && ".join(cmds) + ' && exec "$@"', "sh"]


def remove_cgroup(rel):
    for h in cgroup_hierarchies():
        d = os.path.join(CGROUP_ROOT, h, rel)
        if os.path.isdir(d):
            try:
                os.rmdir(d)
            except OSError:
                pass


def state_pid(prefix, base, cid):
    """The init's pid from `state`, taken right after create (for waiting on
    the process and for the leftover check)."""
    try:
        r = subprocess.run(prefix + base + ["state", cid], capture_output=True, timeout=COMMAND_TIMEOUT)
        return int(json.loads(r.stdout).get("pid") or 0) or None
    except (subprocess.TimeoutExpired, ValueError, json.JSONDecodeError):
        return None


def wait_exit(pid):
    """The container's exit status: we are a child subreaper, so an init
    whose runtime has exited is reparented to us and we can reap it. An init
    inside a joined PID namespace goes to that namespace's init instead;
    then we only see it become a zombie or vanish, and the status is None."""
    if pid is None:
        return None
    deadline = time.time() + EXIT_TIMEOUT
    while time.time() < deadline:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
            if got == pid:
                return os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            st = proc_state(pid)
            if st in (None, "Z", "X"):
                return None
        time.sleep(0.01)
    return "timeout"


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def cgroup_seen(cid, relative):
    """Limits as the host sees them in the container's cgroup (read before
    delete, while it exists), and in which hierarchies it was created."""
    seen = {}
    rel = f"{relative_parent(cid)}/{cid}" if relative else f"{CGROUP_PARENT}/{cid}"
    present = []
    for h in cgroup_hierarchies():
        d = os.path.join(CGROUP_ROOT, h, rel)
        if relative and not os.path.isdir(d) and os.path.isdir(os.path.join(CGROUP_ROOT, h, cid)):
            # The relative path was taken from the hierarchy's root, not
            # from the runtime's own cgroup.
            present.append(f"{h} (from the root)")
            continue
        if not os.path.isdir(d):
            continue
        present.append(h)
        for f in CGROUP_FILES.get(h, []):
            seen[f"cgroup.{f}"] = read_text(os.path.join(d, f)).strip()
    # crun creates its cgroup2 directory in the private tmpfs it runs with
    # here (see Runtime), so the host never sees it there: compare v1 only.
    seen["cgroup.hierarchies"] = [h for h in present if not h.startswith("unified")]
    return seen


def check_leftovers(rt, cid, pid, workdir, root, relative):
    """After delete --force: no process, cgroup, mount or state directory.
    Whatever is found is reported and then removed (our own, by PID/path)."""
    left = []
    if pid and proc_state(pid) not in (None, "Z", "X"):
        left.append(f"process {pid} still running")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if pid:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    rels = [f"{CGROUP_PARENT}/{cid}"]
    if relative:
        # A relative path may also have been taken from the hierarchy's root.
        rels += [f"{relative_parent(cid)}/{cid}", cid]
    for rel in rels:
        for h in cgroup_hierarchies():
            d = os.path.join(CGROUP_ROOT, h, rel)
            if os.path.isdir(d):
                left.append(f"cgroup {h}:/{rel}")
                kill_cgroup(d)
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f]
    for m in sorted((m for m in mounts if m.startswith(workdir)), key=len, reverse=True):
        left.append(f"mount {m}")
        subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
    # Only the container's own entry: corral keeps a compiled-seccomp cache
    # (@cache) beside the containers in --root, which is not container state.
    if os.path.exists(os.path.join(root, cid)):
        left.append(f"state dir {cid}")
    return left


def kill_cgroup(d):
    try:
        with open(os.path.join(d, "cgroup.procs")) as f:
            pids = [int(x) for x in f.read().split()]
        for p in pids:
            os.kill(p, signal.SIGKILL)
        time.sleep(0.1)
        os.rmdir(d)
    except OSError:
        pass


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def safe_name(name):
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)[:100]


# ---------------------------------------------------------------------------
# Normalising what the process saw


def parse_output(text, workdir, helper, masked=()):
    seen = {}
    section, body = None, []
    for line in text.splitlines():
        if line.startswith("@@ "):
            section, body = line[3:], []
        elif line.startswith("@@rc ") and section is not None:
            seen.update(normalise_section(section, "\n".join(body), int(line[5:]), workdir, helper, masked))
            section = None
        elif section is not None:
            body.append(line)
    if not text.strip():
        seen["output"] = "none"
    return seen


def normalise_section(section, body, rc, workdir, helper, masked):
    body = body.replace(workdir, "<workdir>")
    if section != "report":
        try:
            val = json.loads(body)
        except json.JSONDecodeError:
            val = body.strip()
        if isinstance(val, dict):
            val.pop("size", None)
        return {"probe:" + section.replace(" ", ":"): {"rc": rc, "out": val}}
    try:
        rep = json.loads(body)
    except json.JSONDecodeError:
        return {"report": f"unparsable (rc {rc}): {body[:200]}"}
    seen = {}
    pid = rep.pop("pid")
    seen["process.pid_is_1"] = pid == 1
    seen["process.ppid_is_0"] = rep.pop("ppid") == 0
    seen["process.pgid_is_pid"] = rep.pop("pgid") == pid
    seen["process.sid_is_pid"] = rep.pop("sid") == pid
    for k in ("uid", "gid", "euid", "egid", "groups", "umask", "cwd", "hostname", "domainname", "nice",
              "no_new_privs", "seccomp", "seccomp_filters", "cpus_allowed_list", "mems_allowed_list",
              "oom_score_adj", "env", "root_readonly"):
        seen[f"process.{k}"] = rep.get(k)
    for k, v in rep.get("capabilities", {}).items():
        seen[f"caps.{k}"] = v
    host_ns = {t: os.stat(f"/proc/self/ns/{t}").st_ino for t in list(NS_FILES.values()) + ["time"]}
    for t, link in rep.get("namespaces", {}).items():
        seen[f"ns.{t}"] = classify_ns(t, link, host_ns, helper)
    for k, v in rep.get("rlimits", {}).items():
        seen[f"rlimit.{k}"] = v
    # v1 lines only: crun's cgroup2 lives in the private tmpfs it runs with
    # here, so its "0::" line says nothing about the container.
    seen["cgroup"] = [re.sub(r"conf-[0-9]+-[0-9]+", "<id>", line) for line in rep.get("cgroup", [])
                      if not line.startswith("0::")]
    seen["fds"] = [(f["fd"], re.sub(r"\[\d+\]", "", f.get("target") or "")) for f in rep.get("open_fds", [])]
    for d in rep.get("devices", []):
        d = dict(d)
        d.pop("size", None)
        if d["path"] == "/dev/core":
            continue  # crun's extra /dev/core -> /proc/kcore link: not in the spec's list
        seen[f"dev:{d.pop('path')}"] = d
    counts = {}
    for m in rep.get("mounts", []):
        target = m["target"]
        if target in masked:
            # How a path is masked is the runtime's choice (a read-only
            # tmpfs, or /dev/null from the container's /dev or the host's,
            # sometimes twice over): what matters is that it is masked.
            seen[f"mount:{target}"] = "masked dir" if m["root"] == "/" else "masked file"
            continue
        counts[target] = counts.get(target, 0) + 1
        key = f"mount:{target}" + (f"#{counts[target]}" if counts[target] > 1 else "")
        seen[key] = {
            "fstype": m["fstype"],
            "source": mount_source(m),
            "root": m["root"],
            "options": sorted(m["options"]),
            # A read-only mount made by mounting read-only or by remounting a
            # bind read-only: the per-mount flag ("options") is what counts,
            # the superblock's rw/ro is an implementation choice.
            "super": sorted(o for o in m["super_options"] if o not in ("rw", "ro")),
            "propagation": sorted(re.sub(r":\d+$", "", p) for p in m["propagation"]),
        }
    return seen


def mount_source(m):
    """The source column, where it says something: a disk is the host's, and
    for cgroup hierarchies (and the tmpfs holding them) the string is free
    text that each runtime fills differently ("cgroup", "systemd", a path)."""
    if m["fstype"] in ("ext4", "xfs", "btrfs"):
        return "<disk>"
    if m["fstype"] in ("cgroup", "cgroup2") or m["target"] == "/sys/fs/cgroup":
        return "<any>"
    return m["source"]


def classify_ns(t, link, host_ns, helper):
    """A namespace is 'host', 'helper' (joined or inherited from our helper)
    or 'new': the inode numbers themselves differ on every run."""
    m = re.search(r"\[(\d+)\]", link or "")
    if not m:
        return link
    ino = int(m.group(1))
    if ino == host_ns.get(t):
        return "host"
    if helper and ino == helper.ns.get(t):
        return "helper"
    return "new"


def hooks_seen(hook_dir, bundle, cid):
    seen = {}
    files = {os.path.splitext(f)[0]: os.path.join(hook_dir, f) for f in os.listdir(hook_dir)}
    inside = os.path.join(bundle, "rootfs", "tmp", "hook-startContainer.json")
    if os.path.exists(inside):
        files["startContainer"] = inside
    for kind, path in sorted(files.items()):
        text = read_text(path)
        try:
            st = json.loads(text)
        except json.JSONDecodeError:
            seen[f"hook.{kind}"] = f"not JSON: {text[:80]!r}"
            continue
        seen[f"hook.{kind}"] = {
            "status": st.get("status"),
            "id": "<id>" if st.get("id") == cid else st.get("id"),
            # runc omits the pid of a stopped container, crun writes 0
            "pid": "set" if st.get("pid") else "none",
            "bundle": "<bundle>" if st.get("bundle") == bundle else st.get("bundle"),
        }
    return seen


# ---------------------------------------------------------------------------
# Comparing


class Verdict:
    """How one case went on every runtime, and where corral differs.
    `corral_diff` holds (field, what) pairs; field "outcome" is a refusal
    (or a run) that the references do not share, "leftovers" is anything
    delete --force left behind."""

    def __init__(self, case, runs, expected, alone=None):
        self.case = case
        self.runs = runs  # runtime name -> Run
        self.cells = {}  # runtime name -> table cell text
        self.corral_diff = []
        # variation tag -> set of reference runtimes that ran it alone (from
        # the hand-picked cases of this session)
        self.alone = alone or {}
        self.judge()
        self.unexpected = [d for d in self.corral_diff if not expected_match(case, d[0], expected)]
        # Labels of the expected-differences lines that cover corral's
        # differences here (E<n> = the n-th line), for the table's legend.
        self.reasons = []
        for field, _ in self.corral_diff:
            m = expected_match(case, field, expected)
            if m and m[3] not in self.reasons:
                self.reasons.append(m[3])
        self.reasons.sort(key=lambda r: int(r[1:]))

    def judge(self):
        runs = self.runs
        refs = [n for n in ("runc", "crun") if n in runs and runs[n].phase != "skipped"]
        ran_refs = [n for n in refs if runs[n].ran]
        for name, run in runs.items():
            if run.phase == "skipped":
                self.cells[name] = f"not run ({run.error})"
            elif not run.ran:
                self.cells[name] = f"refused ({run.phase}: {run.short_error()})"
            else:
                self.cells[name] = "ok"
        # crun against runc: informative only.
        if "runc" in runs and "crun" in runs and runs["runc"].ran and runs["crun"].ran:
            d = differing_fields(runs["crun"].seen, [runs["runc"].seen])
            if d:
                self.cells["crun"] = f"differs ({', '.join(compress(d))})"
        for name, run in runs.items():
            if run.leftovers:
                self.cells[name] += f"; left: {'; '.join(run.leftovers)}"
        if "corral" not in runs:
            return
        corral = runs["corral"]
        if corral.leftovers:
            self.corral_diff.append(("leftovers", "; ".join(corral.leftovers)))
        if not refs:
            return
        if corral.ran and not ran_refs:
            if self.refusals_are_separate(refs):
                # e.g. runc refuses variation A, crun refuses variation B,
                # and each runs the other alone: no runtime refuses what
                # corral ran here for a reason both share.
                self.cells["corral"] = ("ok (not compared: " + " and ".join(refs) +
                                        " refuse it for variations that runc or crun runs alone)")
            else:
                verb = "refuses" if len(refs) == 1 else "refuse"
                self.corral_diff.append(("outcome", f"runs a config {' and '.join(refs)} {verb}"))
                self.cells["corral"] = f"ok, but {' and '.join(refs)} {verb}"
        elif not corral.ran and ran_refs:
            self.corral_diff.append(("outcome", f"refuses ({corral.phase}) a config {'/'.join(ran_refs)} run"))
        elif corral.ran:
            d = differing_fields(corral.seen, [runs[n].seen for n in ran_refs])
            if d:
                self.cells["corral"] = f"differs ({', '.join(compress(d))})"
                self.corral_diff += [(f, "differs") for f in d]

    def refusals_are_separate(self, refs):
        """True when every variation of this combination was run alone by
        runc or crun (so their refusals here come from different variations)."""
        if len(self.case.variations) < 2:
            return False
        return all(self.alone.get(v.tag) for v in self.case.variations)

    @property
    def all_refuse(self):
        return all(not r.ran for r in self.runs.values() if r.phase != "skipped")


def differing_fields(candidate, references):
    """Fields where the candidate matches none of the references (a field
    missing on one side counts as the value "<absent>")."""
    keys = set(candidate)
    for r in references:
        keys |= set(r)
    return [k for k in sorted(keys)
            if all(candidate.get(k, "<absent>") != r.get(k, "<absent>") for r in references)]


def compress(fields):
    """Shorten a long list of fields for the table: group by kind."""
    if len(fields) <= 5:
        return fields
    groups = {}
    for f in fields:
        groups.setdefault(re.split(r"[:.]", f, 1)[0], []).append(f)
    return [f"{g} ({len(v)})" if len(v) > 1 else v[0] for g, v in groups.items()]


def load_expected(path):
    """Lines "CASE FIELD reason": CASE is a glob over the case's name and
    tags, FIELD a comma-separated list of globs over the differing field ("outcome" for a refusal or a
    run that the references do not share, "leftovers" for what delete left)."""
    expected = []
    for n, line in enumerate(read_text(path).splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            raise SystemExit(f"{path}:{n}: want 'CASE FIELD reason', got {line!r}")
        expected.append((parts[0], parts[1], parts[2], f"E{len(expected) + 1}"))
    return expected


def expected_match(case, field, expected):
    names = [case.name, case.name.split(":", 1)[0]] + case.tags
    for entry in expected:
        pattern, field_glob = entry[0], entry[1]
        if any(fnmatch.fnmatchcase(field, g) for g in field_glob.split(",")) and \
                any(fnmatch.fnmatchcase(n, pattern) for n in names):
            return entry
    return None


# ---------------------------------------------------------------------------
# Output


def markdown_table(verdicts, runtimes, expected):
    head = "| config | " + " | ".join(r.name for r in runtimes) + " | corral verdict |"
    lines = [head, "|" + "---|" * (len(runtimes) + 2)]
    for v in verdicts:
        cells = [md_escape(v.cells.get(r.name, "-")) for r in runtimes]
        if v.unexpected:
            verdict = "**UNEXPECTED**: " + ", ".join(f for f, _ in v.unexpected)
        elif v.corral_diff:
            verdict = "expected: " + ", ".join(v.reasons)
        elif v.all_refuse:
            verdict = "all refuse"
        else:
            verdict = "same"
        lines.append(f"| `{v.case.name}` | " + " | ".join(cells) + f" | {md_escape(verdict)} |")
    used = {r for v in verdicts for r in v.reasons}
    if used:
        lines += ["", "Expected differences (tests/conformance/expected-differences):", ""]
        for pattern, field, reason, label in expected:
            if label in used:
                lines.append(f"- {label} (`{pattern}` `{field}`): {md_escape(reason)}")
    return "\n".join(lines) + "\n"


def md_escape(s):
    return s.replace("|", "\\|").replace("\n", " ")


def set_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=0, help="random combinations after the hand-picked cases")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runtimes", default="runc,crun,corral")
    ap.add_argument("--corral", default=os.environ.get("CORRAL_BIN", os.path.join(REPO, "build", "bin", "corral")))
    ap.add_argument("--table", help="write the Markdown table to FILE")
    ap.add_argument("--expected", default=os.path.join(HERE, "expected-differences"))
    ap.add_argument("--only", help="run only cases whose name matches one of these globs (comma-separated)")
    ap.add_argument("--no-hand-picked", action="store_true",
                    help="only the random cases (then a combination that runc and crun refuse for "
                         "different variations counts against corral: how each variation fares alone "
                         "is learnt from the hand-picked cases)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every differing value")
    args = ap.parse_args()

    if os.geteuid() != 0:
        log("differential: must run as root (containers, namespaces, cgroups)")
        return 2
    if not os.access(os.path.join(FIXTURES, "rootfs", "probe"), os.X_OK):
        log(f"differential: no probe in {FIXTURES}/rootfs (build rootfs-fixtures first)")
        return 2
    names = [n for n in args.runtimes.split(",") if n]
    runtimes, absent, broken = find_runtimes(names, args.corral)
    for m in absent + broken:
        log(f"differential: {m}")
    if broken:
        log("differential: FAILED: a runtime cannot run (see above)")
        return 2
    if absent:
        # Exit 77: CTest shows the test as skipped, with the reason above.
        log("differential: SKIPPED: not every runtime is installed (scripts/deps installs runc and crun)")
        return 77
    for rt in runtimes:
        log(f"differential: {rt.name}: {rt.path} ({rt.version})")
    set_subreaper()

    cases = [] if args.no_hand_picked else hand_picked_cases()
    cases += random_cases(args.count, args.seed)
    if args.only:
        cases = [c for c in cases if any(fnmatch.fnmatchcase(c.name, g) for g in args.only.split(","))]
    expected = load_expected(args.expected)

    tmp = tempfile.mkdtemp(prefix="corral-conformance-")
    # A container with a user namespace maps its root to an unprivileged
    # host uid, which must still reach the bundle under here.
    os.chmod(tmp, 0o755)
    # /corral-test is shared with the other test suites: remove it at the end
    # only where this run created it (it was missing before one of our
    # cases, whose runtime then made it), and only if empty.
    created_parent = set()

    def note_missing_parents():
        created_parent.update(h for h in cgroup_hierarchies()
                              if not os.path.isdir(os.path.join(CGROUP_ROOT, h, CGROUP_PARENT)))

    verdicts = []
    alone = {}
    t0 = time.time()
    try:
        for n, case in enumerate(cases):
            note_missing_parents()
            cid = f"conf-{os.getpid()}-{n}"
            runs = {}
            for rt in runtimes:
                if rt.name in case.skip:
                    runs[rt.name] = Run()
                    runs[rt.name].phase = "skipped"
                    runs[rt.name].error = case.skip[rt.name]
                    continue
                try:
                    runs[rt.name] = run_one(case, rt, tmp, cid)
                except Exception as e:  # the harness failed, not the runtime
                    # (e.g. the runtime's binary is being rebuilt: rerun)
                    log(f"differential: FAILED: {case.name} on {rt.name}: harness error: {e!r}")
                    return 2
            v = Verdict(case, runs, expected, alone)
            verdicts.append(v)
            if len(case.variations) == 1:
                alone[case.variations[0].tag] = {n for n in ("runc", "crun") if n in runs and runs[n].ran}
            status = "same" if not v.corral_diff else ("UNEXPECTED" if v.unexpected else "expected")
            log(f"[{n + 1}/{len(cases)}] {case.name}: {status}  " +
                "  ".join(f"{k}={v.cells[k]}" for k in v.cells))
            if args.verbose:
                print_details(v, show_crun=True)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"differential: kept {tmp}")
        for h in sorted(created_parent):
            try:
                os.rmdir(os.path.join(CGROUP_ROOT, h, CGROUP_PARENT))
            except OSError:
                pass  # not empty: someone else's containers are in it now

    table = markdown_table(verdicts, runtimes, expected)
    print(table)
    if args.table:
        with open(args.table, "w") as f:
            f.write(table)
    unexpected = [v for v in verdicts if v.unexpected]
    used = {expected_match(v.case, f, expected) for v in verdicts for f, _ in v.corral_diff}
    unused = [e for e in expected if e not in used]
    print(f"differential: {len(verdicts)} configs x {len(runtimes)} runtimes in {time.time() - t0:.0f} s; "
          f"corral differs in {sum(1 for v in verdicts if v.corral_diff)} "
          f"({len(unexpected)} not in {os.path.basename(args.expected)}); "
          f"{sum(1 for v in verdicts if v.all_refuse)} refused by every runtime")
    if unused and not args.only and not args.no_hand_picked:
        # Not a failure: the defect may have been fixed since the list was written.
        for e in unused:
            print(f"differential: listed but not seen in this run (fixed, or seen only in other "
                  f"combinations?): {e[0]} {e[1]}")
    for v in unexpected:
        fields = [f for f, w in v.unexpected if w == "differs"]
        others = [f"{f}: {w}" for f, w in v.unexpected if w != "differs"]
        print(f"differential: UNEXPECTED {v.case.name}: " +
              "; ".join(others + ([f"differs in {', '.join(compress(fields))}"] if fields else [])))
        print_details(v)
    return 1 if unexpected else 0


def print_details(v, show_crun=False):
    runs = v.runs
    for name, run in runs.items():
        if run.phase == "skipped":
            print(f"    {name}: not run: {run.error}")
        elif not run.ran:
            print(f"    {name}: {run.phase} failed: {run.error.strip()[-600:]}")
    if show_crun and "crun" in runs and "runc" in runs and runs["crun"].ran and runs["runc"].ran:
        for k in differing_fields(runs["crun"].seen, [runs["runc"].seen]):
            print(f"    {k}: crun={json.dumps(runs['crun'].seen.get(k, '<absent>'))}")
            print(f"    {' ' * len(k)}  runc={json.dumps(runs['runc'].seen.get(k, '<absent>'))}")
    if "corral" in runs and runs["corral"].ran:
        refs = [n for n in ("runc", "crun") if n in runs and runs[n].ran]
        for k in differing_fields(runs["corral"].seen, [runs[n].seen for n in refs]):
            print(f"    {k}: corral={json.dumps(runs['corral'].seen.get(k, '<absent>'))}")
            for n in refs:
                print(f"    {' ' * len(k)}  {n}={json.dumps(runs[n].seen.get(k, '<absent>'))}")


with open(os.path.join(HERE, "seccomp-profiles.json")) as _f:
    SECCOMP_LISTS = {k: v for k, v in json.load(_f).items() if not k.startswith("_")}

if __name__ == "__main__":
    sys.exit(main())
