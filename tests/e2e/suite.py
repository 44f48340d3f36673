#!/usr/bin/python3
"""corral's end-to-end suite: real clients drive one OCI runtime.

The same cases run against any runc-compatible runtime, so a run with runc is
the baseline and a run with corral is the candidate:

    suite.py run --runtime /usr/sbin/runc --name runc --json runc.json
    suite.py run --runtime build-e2e/bin/corral --name corral --json corral.json
    suite.py report runc.json corral.json [--doc docs/compatibility.md]

Clients (Debian packages): podman 4.3 (through conmon), containerd 1.6 via
`ctr`, and containerd's CRI plugin via a small gRPC client
(`cri_v1_subset.proto`, the CRI v1 messages we use).

Everything lives under one temporary root (/tmp/corral-e2e-NAME-*):
podman's storage and config, containerd's root, state, socket and CNI
config, and a network namespace (a bind-mounted nsfs file) in which
containerd, and so the CNI bridge, runs. Containers go under the cgroup
/corral-e2e/<run> in every hierarchy. Teardown (always, even on failure)
removes containers, ends the daemons and shims we started (by PID), thaws and
kills anything left in our cgroups, unmounts everything under the root,
removes our cgroups and the root.

The runtime is called through a tiny wrapper script that appends each
invocation to calls.log and then execs the runtime, so every case can report
exactly how its client called the runtime; on failure the runtime's own
--log files (log.json under containerd, oci-log under podman) are quoted.
"""

import argparse
import glob
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.environ.get("CORRAL_FIXTURES", os.path.join(REPO, "rootfs-fixtures", "out"))
CGROUP_ROOT = "/sys/fs/cgroup"
BUSYBOX = "localhost/e2e-busybox:latest"
PAUSE = "localhost/e2e-pause:latest"
CTR_NS = "e2e"
CRI_NS = "k8s.io"
POD_SUBNET = "10.88.0.0/16"
PODMAN_SUBNET = "10.89.7.0/24"  # podman/network-bridge, inside a netns of the suite's


class CaseFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CaseFailure(msg)


def tail(text, n=2000):
    text = text if isinstance(text, str) else text.decode(errors="replace")
    return text if len(text) <= n else "..." + text[-n:]


# --- The environment: temp root, runtime wrapper, daemons -------------------


class Env:
    def __init__(self, runtime, name, keep=False):
        self.runtime = os.path.abspath(runtime)
        self.name = name
        self.keep = keep
        self.root = tempfile.mkdtemp(prefix=f"corral-e2e-{name}-", dir="/tmp")
        self.run_id = f"{name}-{os.getpid()}"
        self.cgroup_parent = f"/corral-e2e/{self.run_id}"
        self.transcript = []  # commands of the current case
        self.containerd_pid = None
        self.netns = os.path.join(self.root, "netns")
        self.cni_net = f"corral-e2e-{self.run_id}"
        self.podman_net = f"corral-e2e-podman-{self.run_id}"
        self.podman_netns_path = None
        with open(self.path("run.json"), "w") as f:  # for sweep_stale()
            json.dump({"pid": os.getpid(), "cgroup_parent": self.cgroup_parent, "cni_net": self.cni_net}, f)
        self._make_wrapper()

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def _make_wrapper(self):
        # Same basename as the runtime: podman and conmon look at the name.
        d = self.path("bin")
        os.makedirs(d)
        self.wrapper = os.path.join(d, os.path.basename(self.runtime))
        self.calls_log = self.path("calls.log")
        # Clients delete the runtime's --log file with the container (podman
        # run --rm, containerd's bundle): keep a hard link to it, made before
        # the runtime opens it (runtimes open it O_APPEND|O_CREAT).
        self.log_links = self.path("runtime-logs")
        os.makedirs(self.log_links)
        with open(self.wrapper, "w") as f:
            f.write(
                "#!/bin/bash\n"
                f"{{ printf '%s' \"$(date +%s.%N)\"; printf ' %q' \"$@\"; echo; }} >> {shlex.quote(self.calls_log)}\n"
                "log=\n"
                "for ((i = 1; i <= $#; i++)); do\n"
                "  case ${!i} in\n"
                "    --log) j=$((i + 1)); log=${!j} ;;\n"
                "    --log=*) log=${!i#--log=} ;;\n"
                "  esac\n"
                "done\n"
                "if [[ -n $log ]]; then\n"
                "  touch -- \"$log\" 2>/dev/null &&\n"
                f"    ln -- \"$log\" {shlex.quote(self.log_links)}/\"$(printf '%s' \"$log\" | md5sum | cut -c1-32)\" 2>/dev/null\n"
                "fi\n"
                f"exec {shlex.quote(self.runtime)} \"$@\"\n"
            )
        os.chmod(self.wrapper, 0o755)
        open(self.calls_log, "w").close()

    # Run a command, record it in the case transcript.
    def pty_session(self, cmd, ready, typed, timeout=60):
        """Run the shell command `cmd` on a new pty, as a terminal user would:
        wait until its output shows `ready` (the program is reading), then
        type `typed`, and read until it ends. Returns everything it printed.
        Waits on the event, not a fixed sleep: a slow machine only takes
        longer."""
        import pty
        import select
        t0 = time.monotonic()
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp("bash", ["bash", "-c", cmd])
        out, sent = b"", False
        try:
            while time.monotonic() - t0 < timeout:
                if not sent and ready.encode() in out:
                    os.write(fd, typed.encode())
                    sent = True
                r, _, _ = select.select([fd], [], [], 0.5)
                if not r:
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the other side closed
                    break
                if not chunk:
                    break
                out += chunk
            else:
                os.kill(pid, signal.SIGKILL)
                raise CaseFailure(f"timed out after {timeout}s on a pty: {cmd}\n{tail(out.decode(errors='replace'))}")
        finally:
            os.close(fd)
            os.waitpid(pid, 0)
        text = out.decode(errors="replace")
        self.transcript.append({"argv": ["pty", cmd], "rc": "-", "seconds": round(time.monotonic() - t0, 2),
                                "stdout": tail(text), "stderr": ""})
        return text

    def sh(self, argv, timeout=60, input=None, cwd=None, env=None, ok=True):
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout,
                               cwd=cwd, env=env, text=True, errors="replace")
        except subprocess.TimeoutExpired as e:
            self.transcript.append({"argv": argv, "rc": "timeout", "seconds": timeout,
                                    "stdout": tail(e.stdout or ""), "stderr": tail(e.stderr or "")})
            raise CaseFailure(f"timed out after {timeout}s: {shlex.join(argv)}")
        self.transcript.append({"argv": argv, "rc": p.returncode,
                                "seconds": round(time.monotonic() - t0, 2),
                                "stdout": tail(p.stdout), "stderr": tail(p.stderr)})
        if ok and p.returncode != 0:
            raise CaseFailure(f"exit {p.returncode}: {shlex.join(argv)}\n{tail(p.stderr, 1500)}")
        return p

    # --- podman ---------------------------------------------------------------
    def setup_podman(self):
        conf = self.path("podman", "conf")
        os.makedirs(conf)
        pr = self.path("podman")
        with open(os.path.join(conf, "containers.conf"), "w") as f:
            f.write(f"""[containers]
netns = "none"
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
# Runtimes podman passes `--log FILE --log-format=json` to (corral added).
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "corral"]
events_logger = "file"
events_logfile_path = "{pr}/events.log"
tmp_dir = "{pr}/tmp"
static_dir = "{pr}/root/libpod"
volume_path = "{pr}/root/volumes"
[network]
network_backend = "cni"
cni_plugin_dirs = ["/usr/lib/cni"]
network_config_dir = "{pr}/netconf"
""")
        # A CNI bridge network of ours for podman/network-bridge (the other
        # cases use --network none). Its bridge and addresses live in a
        # network namespace of the suite's: podman runs there for that case.
        os.makedirs(os.path.join(pr, "netconf"))
        with open(os.path.join(pr, "netconf", "e2e.conflist"), "w") as f:
            json.dump({"cniVersion": "0.4.0", "name": self.podman_net, "plugins": [{
                "type": "bridge", "bridge": "e2ep0", "isGateway": True, "ipMasq": False,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": PODMAN_SUBNET}]],
                         "routes": [{"dst": "0.0.0.0/0"}], "dataDir": pr + "/ipam"}}]}, f)
        with open(os.path.join(conf, "storage.conf"), "w") as f:
            f.write(f"""[storage]
driver = "overlay"
graphroot = "{pr}/root"
runroot = "{pr}/runroot"
""")
        with open(os.path.join(conf, "registries.conf"), "w") as f:
            f.write('unqualified-search-registries = []\n')
        self.podman_env = dict(os.environ,
                               CONTAINERS_CONF=os.path.join(conf, "containers.conf"),
                               CONTAINERS_STORAGE_CONF=os.path.join(conf, "storage.conf"),
                               CONTAINERS_REGISTRIES_CONF=os.path.join(conf, "registries.conf"))
        p = self.podman("pull", f"oci:{FIXTURES}/layout:latest", timeout=120)
        image_id = p.stdout.strip().splitlines()[-1]
        self.podman("tag", image_id, BUSYBOX)

    def podman(self, *args, timeout=60, ok=True, input=None, cwd=None):
        return self.sh(["podman", "--runtime", self.wrapper, *args], timeout=timeout,
                       ok=ok, input=input, cwd=cwd, env=self.podman_env)

    def podman_netns(self):
        """A network namespace of the suite's (a bind-mounted nsfs file under
        the temp root, unmounted by teardown) for podman's bridge network."""
        if self.podman_netns_path is None:
            ns = self.path("podman-netns")
            open(ns, "w").close()
            self.sh(["unshare", f"--net={ns}", "true"])
            self.sh(["nsenter", f"--net={ns}", "ip", "link", "set", "lo", "up"])
            self.podman_netns_path = ns
        return self.podman_netns_path

    def podman_in_netns(self, *args, timeout=60, ok=True):
        """podman run inside the suite's network namespace: the CNI bridge
        plugin makes its bridge where podman runs."""
        return self.sh(["nsenter", f"--net={self.podman_netns()}", "podman", "--runtime", self.wrapper, *args],
                       timeout=timeout, ok=ok, env=self.podman_env)

    def podman_run_args(self):
        # The ulimits: this machine lacks CAP_SYS_RESOURCE, so podman's default
        # (raising the hard nofile/nproc limits) would fail with any runtime.
        return ["--pull=never", "--network", "none", "--cgroup-parent", self.cgroup_parent,
                "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]

    def podman_cmd_string(self, *args):
        env = " ".join(f"{k}={shlex.quote(self.podman_env[k])}" for k in
                       ("CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF", "CONTAINERS_REGISTRIES_CONF"))
        return f"env {env} podman --runtime {shlex.quote(self.wrapper)} " + shlex.join(args)

    def teardown_podman(self):
        if not hasattr(self, "podman_env"):
            return
        self.sh(["podman", "--runtime", self.wrapper, "rm", "-a", "-f", "-t", "0"],
                env=self.podman_env, ok=False, timeout=120)

    # --- containerd -----------------------------------------------------------
    def setup_containerd(self):
        c = self.path("containerd")
        os.makedirs(os.path.join(c, "cni"))
        self.ctd_sock = os.path.join(c, "containerd.sock")
        self.ctd_log = os.path.join(c, "containerd.log")
        self.runc_root = os.path.join(c, "runtime-root")
        q = json.dumps  # TOML basic strings accept JSON string syntax
        with open(os.path.join(c, "config.toml"), "w") as f:
            f.write(f"""version = 2
root = {q(c + "/root")}
state = {q(c + "/state")}
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = {q(self.ctd_sock)}
[ttrpc]
  address = {q(self.ctd_sock + ".ttrpc")}
[debug]
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = {q(c + "/opt")}
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  sandbox_image = {q(PAUSE)}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = {q(c + "/cni")}
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "e2e"
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.e2e]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.e2e.options]
        BinaryName = {q(self.wrapper)}
        Root = {q(self.runc_root)}
""")
        # A bridge on a subnet of ours, in containerd's own network namespace.
        with open(os.path.join(c, "cni", "10-e2e.conflist"), "w") as f:
            json.dump({"cniVersion": "0.4.0", "name": self.cni_net, "plugins": [{
                "type": "bridge", "bridge": "e2e0", "isGateway": True, "ipMasq": False,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_SUBNET}]],
                         "routes": [{"dst": "0.0.0.0/0"}], "dataDir": c + "/ipam"}}]}, f)
        open(self.netns, "w").close()
        self.sh(["unshare", f"--net={self.netns}", "true"])
        self.sh(["nsenter", f"--net={self.netns}", "ip", "link", "set", "lo", "up"])
        logf = open(self.ctd_log, "w")
        proc = subprocess.Popen(["nsenter", f"--net={self.netns}", "containerd", "--config",
                                 os.path.join(c, "config.toml")],
                                stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        self.containerd_proc = proc
        self.containerd_pid = proc.pid  # nsenter execs containerd: same pid
        for _ in range(100):
            if os.path.exists(self.ctd_sock) and self.sh(self.ctr_argv(CTR_NS, "version"), ok=False).returncode == 0:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"containerd exited: {tail(open(self.ctd_log).read())}")
            time.sleep(0.1)
        else:
            raise RuntimeError("containerd did not come up in 10 s")
        for ns in (CTR_NS, CRI_NS):
            self.sh(self.ctr_argv(ns, "images", "import", "--base-name", "localhost/e2e-busybox",
                                  f"{FIXTURES}/busybox.oci.tar"), timeout=120)
        # The pod sandbox ("pause") image: the fixture image running `/probe sleep inf`.
        layout = self.path("pause-layout")
        shutil.copytree(f"{FIXTURES}/layout", layout)
        self.sh(["umoci", "config", "--image", f"{layout}:latest", "--config.cmd", "/probe",
                 "--config.cmd", "sleep", "--config.cmd", "inf"])
        archive = self.path("pause.oci.tar")
        self.sh(["skopeo", "copy", f"oci:{layout}:latest", f"oci-archive:{archive}:latest"], timeout=120)
        self.sh(self.ctr_argv(CRI_NS, "images", "import", "--base-name", "localhost/e2e-pause", archive),
                timeout=120)

    def ctr_argv(self, ns, *args):
        return ["ctr", "--address", self.ctd_sock, "--namespace", ns, *args]

    def ctr(self, *args, timeout=60, ok=True):
        return self.sh(self.ctr_argv(CTR_NS, *args), timeout=timeout, ok=ok)

    def ctr_run_args(self, cid):
        return ["--runc-binary", self.wrapper, "--runc-root", self.runc_root,
                "--cgroup", f"{self.cgroup_parent}/ctr-{cid}"]

    def teardown_containerd(self):
        if not self.containerd_pid:
            return
        if os.path.exists(self.ctd_sock):
            cri = getattr(self, "cri", None)
            if cri is not None:
                cri.remove_all()
            p = self.sh(self.ctr_argv(CTR_NS, "containers", "ls", "-q"), ok=False)
            for cid in p.stdout.split():
                self.sh(self.ctr_argv(CTR_NS, "task", "kill", "-s", "SIGKILL", cid), ok=False)
                self.sh(self.ctr_argv(CTR_NS, "task", "delete", "-f", cid), ok=False)
                self.sh(self.ctr_argv(CTR_NS, "containers", "rm", cid), ok=False)
        proc = self.containerd_proc
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        # Shims outlive containerd by design; ours name our socket.
        for pid in pids_matching(self.ctd_sock):
            kill_pid(pid)

    # --- teardown -------------------------------------------------------------
    def teardown(self):
        errors = []
        for step in (self.teardown_podman, self.teardown_containerd, self.kill_cgroup_members,
                     self.unmount_all, self.remove_cgroups, self.remove_shim_sockets, self.remove_cni_cache):
            try:
                step()
            except Exception as e:  # keep going: every step must get its chance
                errors.append(f"{step.__name__}: {e}")
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)
        return errors

    def our_cgroups(self):
        """Our cgroup directories in every hierarchy, deepest first."""
        dirs = []
        for h in glob.glob(f"{CGROUP_ROOT}/*"):
            top = h + self.cgroup_parent
            if os.path.isdir(top):
                for d, _, _ in os.walk(top):
                    dirs.append(d)
        return sorted(dirs, key=lambda d: d.count("/"), reverse=True)

    def kill_cgroup_members(self):
        dirs = self.our_cgroups()
        for d in dirs:
            if os.path.exists(os.path.join(d, "freezer.state")):
                try:
                    with open(os.path.join(d, "freezer.state"), "w") as f:
                        f.write("THAWED")
                except OSError:
                    pass
        for _ in range(50):
            pids = set()
            for d in dirs:
                try:
                    pids |= {int(x) for x in open(os.path.join(d, "cgroup.procs")).read().split()}
                except OSError:
                    pass
            if not pids:
                return
            for pid in pids:
                kill_pid(pid)
            time.sleep(0.1)

    def unmount_all(self):
        mounts = [line.split()[4] for line in open("/proc/self/mountinfo")]
        ours = [m for m in mounts if m == self.root or m.startswith(self.root + "/")]
        for m in reversed(ours):
            if subprocess.run(["umount", m], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", m], capture_output=True)

    def remove_cgroups(self):
        for _ in range(20):
            left = []
            for d in self.our_cgroups():
                try:
                    os.rmdir(d)
                except OSError:
                    left.append(d)
            if not left:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"cgroups left: {left}")
        for h in glob.glob(f"{CGROUP_ROOT}/*"):
            try:
                os.rmdir(h + "/corral-e2e")  # only if no other run uses it
            except OSError:
                pass

    def remove_shim_sockets(self):
        """containerd 1.6 puts shim sockets at /run/containerd/s/sha256(address/ns/id); a
        killed shim leaves its socket there."""
        address = os.path.join(self.root, "containerd", "containerd.sock")
        for d in glob.glob(os.path.join(self.root, "containerd", "state", "io.containerd.runtime.v2.task", "*", "*")):
            ns, cid = d.split("/")[-2:]
            sock = "/run/containerd/s/" + hashlib.sha256(os.path.join(address, ns, cid).encode()).hexdigest()
            try:
                os.unlink(sock)
            except OSError:
                pass

    def remove_cni_cache(self):
        for net in (self.cni_net, self.podman_net):
            for f in glob.glob(f"/var/lib/cni/results/{net}-*"):
                os.unlink(f)
        # Directories containerd 1.6 and ctr create at fixed paths (shim
        # sockets, fifos): removed when empty, so that no other user's go.
        for d in ("/run/containerd/s", "/run/containerd/fifo", "/run/containerd",
                  "/var/lib/cni/results", "/var/lib/cni"):
            try:
                os.rmdir(d)
            except OSError:
                pass

    # --- per-case evidence ------------------------------------------------------
    def mark(self):
        return {"calls": os.path.getsize(self.calls_log),
                "containerd": os.path.getsize(self.ctd_log) if getattr(self, "ctd_log", None) and os.path.exists(self.ctd_log) else 0}

    def calls_since(self, mark):
        with open(self.calls_log) as f:
            f.seek(mark["calls"])
            return [l.rstrip("\n") for l in f]

    def evidence(self, mark):
        """Runtime --log files named by this case's calls, and containerd's errors."""
        out = []
        logs = []
        for line in self.calls_since(mark):
            args = shlex.split(line.split(" ", 1)[1]) if " " in line else []
            for i, a in enumerate(args):
                if a == "--log" and i + 1 < len(args):
                    logs.append(args[i + 1])
                elif a.startswith("--log="):
                    logs.append(a[len("--log="):])
        for lf in dict.fromkeys(logs):
            text = read_file(os.path.join(self.log_links, hashlib.md5(lf.encode()).hexdigest())).strip()
            if text:
                out.append(f"--- {lf}\n" + tail(text, 3000))
        if mark.get("containerd") is not None and getattr(self, "ctd_log", None) and os.path.exists(self.ctd_log):
            with open(self.ctd_log, errors="replace") as f:
                f.seek(mark["containerd"])
                errs = [l for l in f if "level=error" in l or "level=warning" in l]
            if errs:
                out.append("--- containerd.log (errors and warnings)\n" + tail("".join(errs), 3000))
        return "\n".join(out)


def sweep_stale():
    """Tear down what runs killed before their own teardown left behind.

    A run's root holds run.json with its pid; when that process is gone, the
    daemons, shims and conmons naming the root, the processes in its cgroups,
    its mounts, cgroups and root are removed. Live runs are left alone.
    """
    for root in glob.glob("/tmp/corral-e2e-*"):
        try:
            info = json.load(open(os.path.join(root, "run.json")))
        except (OSError, ValueError):
            continue
        try:
            os.kill(info["pid"], 0)
            continue  # still running
        except ProcessLookupError:
            pass
        print(f"e2e: sweeping {root} (its run, pid {info['pid']}, is gone)", flush=True)
        for pid in pids_matching(root):
            kill_pid(pid)
        env = Env.__new__(Env)
        env.root, env.keep = root, False
        env.cgroup_parent, env.cni_net = info["cgroup_parent"], info["cni_net"]
        for step in (env.kill_cgroup_members, env.unmount_all, env.remove_cgroups, env.remove_shim_sockets,
                     env.remove_cni_cache):
            try:
                step()
            except Exception as e:
                print(f"e2e: sweeping {root}: {step.__name__}: {e}", flush=True)
        shutil.rmtree(root, ignore_errors=True)


def pids_matching(needle):
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            cmd = open(d + "/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmd and int(d[6:]) != os.getpid():
            pids.append(int(d[6:]))
    return pids


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def cgroup_dir(pid, controller):
    for line in open(f"/proc/{pid}/cgroup"):
        _, ctrls, path = line.rstrip("\n").split(":", 2)
        if controller in ctrls.split(","):
            return f"{CGROUP_ROOT}/{controller}{path}"
    raise CaseFailure(f"pid {pid} has no {controller} cgroup")


def read_cg(pid, controller, name):
    return open(os.path.join(cgroup_dir(pid, controller), name)).read().strip()


def wait_for(what, fn, timeout=10.0, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise CaseFailure(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


# --- Cases -------------------------------------------------------------------

CASES = []


def case(cid, client, operation, needs=None):
    def register(fn):
        CASES.append({"id": cid, "client": client, "operation": operation, "fn": fn, "needs": needs})
        return fn
    return register


class Ctx:
    """What a case gets: the environment and a list of cleanups."""

    def __init__(self, env):
        self.env = env
        self.cleanups = []

    def defer(self, fn, *args, **kw):
        self.cleanups.append(lambda: fn(*args, **kw))


def podman_container(ctx, name, *run_args, detach=True):
    e = ctx.env
    ctx.defer(e.podman, "rm", "-f", "-t", "0", name, ok=False)
    args = ["run", "--name", name, *e.podman_run_args(), *run_args]
    if detach:
        args.insert(1, "-d")
    return e.podman(*args)


def podman_state(e, name, fmt="{{.State.Status}}"):
    return e.podman("inspect", "-f", fmt, name).stdout.strip()


@case("podman/run-rm", "podman", "`run --rm` echo")
def podman_run_rm(ctx):
    e = ctx.env
    p = e.podman("run", "--rm", *e.podman_run_args(), BUSYBOX, "echo", "hello from podman")
    check(p.stdout.strip() == "hello from podman", f"stdout {p.stdout!r}")
    p = e.podman("run", "--rm", *e.podman_run_args(), BUSYBOX, "sh", "-c", "exit 42", ok=False)
    check(p.returncode == 42, f"exit status {p.returncode}, want 42")


@case("podman/detach-exec-logs-stop", "podman", "`run -d`, `exec`, `logs`, `stop`")
def podman_detach(ctx):
    e = ctx.env
    podman_container(ctx, "e2e-detach", BUSYBOX, "sh", "-c", "echo started; exec /probe signals")
    wait_for("`ready` in the logs", lambda: "ready" in e.podman("logs", "e2e-detach").stdout)
    check(podman_state(e, "e2e-detach") == "running", "not running after run -d")
    p = e.podman("exec", "e2e-detach", "sh", "-c", "echo in-exec; id -u")
    check(p.stdout.split() == ["in-exec", "0"], f"exec stdout {p.stdout!r}")
    p = e.podman("exec", "e2e-detach", "sh", "-c", "exit 7", ok=False)
    check(p.returncode == 7, f"exec exit status {p.returncode}, want 7")
    logs = e.podman("logs", "e2e-detach").stdout
    check("started" in logs, f"logs {logs!r}")
    t0 = time.monotonic()
    e.podman("stop", "-t", "10", "e2e-detach", timeout=30)
    took = time.monotonic() - t0
    st = podman_state(e, "e2e-detach", "{{.State.Status}} {{.State.ExitCode}}")
    # /probe signals exits 0 on SIGTERM: a stop that needed SIGKILL would be 137.
    check(st == "exited 0", f"after stop: {st!r} (want 'exited 0')")
    check(took < 8, f"stop took {took:.1f}s: SIGTERM not delivered?")


@case("podman/kill", "podman", "`kill` (USR1, then KILL)")
def podman_kill(ctx):
    e = ctx.env
    podman_container(ctx, "e2e-kill", BUSYBOX, "/probe", "signals")
    wait_for("`ready` in the logs", lambda: "ready" in e.podman("logs", "e2e-kill").stdout)
    e.podman("kill", "--signal", "USR1", "e2e-kill")
    wait_for("signal 10 in the logs", lambda: "10" in e.podman("logs", "e2e-kill").stdout.split())
    e.podman("kill", "e2e-kill")
    wait_for("exited", lambda: podman_state(e, "e2e-kill") == "exited")
    code = podman_state(e, "e2e-kill", "{{.State.ExitCode}}")
    check(code == "137", f"exit code {code}, want 137 (SIGKILL)")


@case("podman/pause-unpause", "podman", "`pause` / `unpause`")
def podman_pause(ctx):
    e = ctx.env
    podman_container(ctx, "e2e-pause", BUSYBOX, "/probe", "sleep", "inf")
    pid = int(podman_state(e, "e2e-pause", "{{.State.Pid}}"))
    e.podman("pause", "e2e-pause")
    check(podman_state(e, "e2e-pause") == "paused", "status not paused")
    fz = read_cg(pid, "freezer", "freezer.state")
    check(fz == "FROZEN", f"freezer.state {fz}")
    e.podman("unpause", "e2e-pause")
    check(podman_state(e, "e2e-pause") == "running", "status not running after unpause")
    fz = read_cg(pid, "freezer", "freezer.state")
    check(fz == "THAWED", f"freezer.state {fz} after unpause")
    p = e.podman("exec", "e2e-pause", "echo", "alive")
    check(p.stdout.strip() == "alive", "exec after unpause")


@case("podman/stats", "podman", "`stats --no-stream`")
def podman_stats(ctx):
    e = ctx.env
    podman_container(ctx, "e2e-stats", "--memory", "64m", BUSYBOX, "/probe", "sleep", "inf")
    p = e.podman("stats", "--no-stream", "--format", "json", "e2e-stats")
    stats = json.loads(p.stdout)
    check(len(stats) == 1, f"stats {p.stdout!r}")
    s = stats[0]
    check(s.get("pids") not in (None, "", "0", 0), f"pids {s.get('pids')!r}")
    check("64" in str(s.get("mem_usage", "")) or "67.1" in str(s.get("mem_usage", "")),
          f"mem_usage {s.get('mem_usage')!r} should show the 64 MiB limit")


@case("podman/update-memory", "podman", "`update --memory`")
def podman_update(ctx):
    e = ctx.env
    podman_container(ctx, "e2e-update", "--memory", "128m", BUSYBOX, "/probe", "sleep", "inf")
    pid = int(podman_state(e, "e2e-update", "{{.State.Pid}}"))
    e.podman("update", "--memory", "64m", "e2e-update")
    lim = read_cg(pid, "memory", "memory.limit_in_bytes")
    check(lim == str(64 << 20), f"memory.limit_in_bytes {lim}, want {64 << 20}")
    # (podman 4.3.1's inspect keeps showing the old HostConfig.Memory: not checked.)


@case("podman/oom-killed", "podman", "`--memory` limit, OOM kill in `inspect`")
def podman_oom(ctx):
    e = ctx.env
    ctx.defer(e.podman, "rm", "-f", "-t", "0", "e2e-oom", ok=False)
    e.podman("create", "--name", "e2e-oom", *e.podman_run_args(), "--memory", "32m",
             "--memory-swap", "32m", BUSYBOX, "/probe", "memhog", "256")
    # conmon 2.1.6 writes the `oom` marker into its working directory, which
    # podman 4.3.1 leaves as its own; podman reads <bundle>/oom. Starting
    # podman in the bundle makes the pair work (with any runtime).
    bundle = podman_state(e, "e2e-oom", "{{.StaticDir}}")
    p = e.podman("start", "-a", "e2e-oom", ok=False, cwd=bundle, timeout=60)
    check("done" not in p.stdout, "the hog allocated 256 MB under a 32 MB limit")
    st = podman_state(e, "e2e-oom", "{{.State.OOMKilled}} {{.State.ExitCode}}")
    check(st == "true 137", f"inspect OOMKilled/ExitCode: {st!r}, want 'true 137'")


@case("podman/read-only", "podman", "`--read-only`")
def podman_read_only(ctx):
    e = ctx.env
    p = e.podman("run", "--rm", "--read-only", *e.podman_run_args(), BUSYBOX, "sh", "-c",
                 "touch /x 2>&1; echo root=$?; touch /tmp/y && echo tmp=ok")
    check("Read-only file system" in p.stdout and "root=1" in p.stdout, f"root writable? {p.stdout!r}")
    check("tmp=ok" in p.stdout, f"/tmp not writable: {p.stdout!r}")


@case("podman/cap-drop", "podman", "`--cap-drop`")
def podman_cap_drop(ctx):
    e = ctx.env
    p = e.podman("run", "--rm", "--cap-drop", "ALL", *e.podman_run_args(), BUSYBOX,
                 "grep", "^Cap", "/proc/self/status")
    caps = dict(l.split(":\t") for l in p.stdout.strip().splitlines())
    check(all(int(v, 16) == 0 for v in caps.values()), f"--cap-drop ALL left {caps}")
    p = e.podman("run", "--rm", "--cap-drop", "CHOWN", *e.podman_run_args(), BUSYBOX, "sh", "-c",
                 "chown 1000 /tmp 2>&1; echo rc=$?; grep ^CapBnd /proc/self/status")
    check("Operation not permitted" in p.stdout and "rc=1" in p.stdout, f"chown: {p.stdout!r}")
    bnd = int(p.stdout.strip().splitlines()[-1].split()[-1], 16)
    check(bnd & 1 == 0 and bnd != 0, f"CapBnd {bnd:#x}: CAP_CHOWN should be the only one dropped")


@case("podman/seccomp-profile", "podman", "`--security-opt seccomp=<profile>`")
def podman_seccomp(ctx):
    e = ctx.env
    profile = os.path.join(HERE, "seccomp-deny-mkdir.json")
    p = e.podman("run", "--rm", "--security-opt", f"seccomp={profile}", *e.podman_run_args(),
                 BUSYBOX, "sh", "-c", "mkdir /tmp/d 2>&1; echo rc=$?; grep ^Seccomp: /proc/self/status")
    check("Operation not permitted" in p.stdout and "rc=1" in p.stdout, f"mkdir not denied: {p.stdout!r}")
    check(re.search(r"Seccomp:\s+2", p.stdout), f"no seccomp filter: {p.stdout!r}")


@case("podman/run-it", "podman", "`run -it` through a pty")
def podman_run_it(ctx):
    e = ctx.env
    cmd = e.podman_cmd_string("run", "--rm", "-it", *e.podman_run_args(), BUSYBOX, "sh", "-c",
                              "echo read''y; read line; echo got:$line; /probe tty")
    # Typed once the shell says it reads (the quotes keep the echoed command
    # line from matching); no fixed sleep.
    out = e.pty_session(cmd, "ready", "typed\n")
    check("got:typed" in out, f"input did not reach the container: {out!r}")
    m = re.search(r"\{.*\}", out)
    check(m, f"no probe output: {out!r}")
    tty = json.loads(m.group(0))
    check(all(tty[s]["isatty"] for s in ("stdin", "stdout", "stderr")), f"not a tty: {tty}")
    check(tty["controlling_tty"] and tty["foreground"], f"no controlling tty / not foreground: {tty}")


@case("podman/exec-it", "podman", "`exec -it` through a pty")
def podman_exec_it(ctx):
    e = ctx.env
    podman_container(ctx, "e2e-execit", BUSYBOX, "/probe", "sleep", "inf")
    cmd = e.podman_cmd_string("exec", "-it", "e2e-execit", "sh", "-c",
                              "echo read''y; read line; echo got:$line; /probe tty")
    out = e.pty_session(cmd, "ready", "typed\n")
    check("got:typed" in out, f"input did not reach the exec: {out!r}")
    m = re.search(r"\{.*\}", out)
    check(m, f"no probe output: {out!r}")
    tty = json.loads(m.group(0))
    check(all(tty[s]["isatty"] for s in ("stdin", "stdout", "stderr")), f"not a tty: {tty}")
    check(tty["controlling_tty"], f"no controlling tty: {tty}")


@case("podman/resources", "podman", "`--cpus`, `--pids-limit`, `--memory` (cgroups)")
def podman_resources(ctx):
    e = ctx.env
    podman_container(ctx, "e2e-res", "--cpus", "0.5", "--pids-limit", "32", "--memory", "96m",
                     BUSYBOX, "/probe", "sleep", "inf")
    pid = int(podman_state(e, "e2e-res", "{{.State.Pid}}"))
    got = (read_cg(pid, "cpu", "cpu.cfs_quota_us"), read_cg(pid, "cpu", "cpu.cfs_period_us"),
           read_cg(pid, "pids", "pids.max"), read_cg(pid, "memory", "memory.limit_in_bytes"))
    check(got == ("50000", "100000", "32", str(96 << 20)), f"quota, period, pids.max, memory: {got}")
    p = e.podman("exec", "e2e-res", "/probe", "forkbomb", "64")
    fb = json.loads(p.stdout)
    check(fb["forked"] < 32 and fb["errno"] == "EAGAIN", f"pids limit not enforced: {fb}")


@case("podman/process-config", "podman", "`--user`, `--workdir`, `-e`, `--hostname`")
def podman_process(ctx):
    e = ctx.env
    p = e.podman("run", "--rm", "--user", "1000:1000", "--workdir", "/tmp", "-e", "E2E=yes",
                 "--hostname", "e2e-host", *e.podman_run_args(), BUSYBOX, "/probe", "report")
    r = json.loads(p.stdout)
    got = (r["uid"], r["gid"], r["cwd"], r["hostname"], "E2E=yes" in r["env"])
    check(got == (1000, 1000, "/tmp", "e2e-host", True), f"uid, gid, cwd, hostname, env: {got}")
    check(int(r["capabilities"]["effective"], 16) == 0, f"non-root has effective caps {r['capabilities']}")


@case("podman/volumes", "podman", "`-v` bind (rw, ro), `--tmpfs`")
def podman_volumes(ctx):
    e = ctx.env
    host = e.path("volume")
    os.makedirs(host, exist_ok=True)
    with open(os.path.join(host, "in"), "w") as f:
        f.write("from-host")
    p = e.podman("run", "--rm", "-v", f"{host}:/data", "-v", f"{host}:/rodata:ro", "--tmpfs", "/scratch",
                 *e.podman_run_args(), BUSYBOX, "sh", "-c",
                 "cat /data/in; echo; echo from-container > /data/out; "
                 "touch /rodata/x 2>&1; echo ro=$?; touch /scratch/y && echo scratch=ok; "
                 "grep ' /scratch ' /proc/mounts")
    check(p.stdout.startswith("from-host\n"), f"bind mount content: {p.stdout!r}")
    check(read_file(os.path.join(host, "out")).strip() == "from-container", "write through the rw bind")
    check("Read-only file system" in p.stdout and "ro=1" in p.stdout, f"ro bind writable: {p.stdout!r}")
    check("scratch=ok" in p.stdout and "tmpfs" in p.stdout, f"--tmpfs: {p.stdout!r}")


@case("podman/restart", "podman", "`restart` (delete, then create the same id)")
def podman_restart(ctx):
    e = ctx.env
    podman_container(ctx, "e2e-restart", BUSYBOX, "/probe", "signals")
    pid1 = podman_state(e, "e2e-restart", "{{.State.Pid}}")
    e.podman("restart", "-t", "10", "e2e-restart", timeout=30)
    st = podman_state(e, "e2e-restart", "{{.State.Status}} {{.State.Pid}}").split()
    check(st[0] == "running" and st[1] != pid1, f"after restart: {st} (pid before {pid1})")
    e.podman("stop", "-t", "10", "e2e-restart", timeout=30)
    e.podman("start", "e2e-restart")
    check(podman_state(e, "e2e-restart") == "running", "not running after stop + start")


@case("podman/exec-options", "podman", "`exec -d`, `exec --user --workdir --env`")
def podman_exec_options(ctx):
    e = ctx.env
    podman_container(ctx, "e2e-execopt", BUSYBOX, "/probe", "sleep", "inf")
    p = e.podman("exec", "--user", "1000:1000", "--workdir", "/tmp", "--env", "E2E=exec",
                 "e2e-execopt", "/probe", "report")
    r = json.loads(p.stdout)
    got = (r["uid"], r["gid"], r["cwd"], "E2E=exec" in r["env"])
    check(got == (1000, 1000, "/tmp", True), f"uid, gid, cwd, env: {got}")
    e.podman("exec", "-d", "e2e-execopt", "sh", "-c", "echo detached > /mark; exec /probe sleep inf")
    wait_for("the detached exec's mark", lambda: e.podman("exec", "e2e-execopt", "cat", "/mark",
                                                          ok=False).stdout.strip() == "detached")
    pid = int(podman_state(e, "e2e-execopt", "{{.State.Pid}}"))
    procs = read_cg(pid, "pids", "cgroup.procs").split()
    check(len(procs) == 2, f"the detached exec is not in the container's cgroup: {procs}")


@case("podman/shared-namespaces", "podman", "`--pid/--ipc/--network container:X` (join by path)")
def podman_shared_ns(ctx):
    e = ctx.env
    podman_container(ctx, "e2e-nsowner", "--hostname", "owner", BUSYBOX, "/probe", "sleep", "inf")
    pid = int(podman_state(e, "e2e-nsowner", "{{.State.Pid}}"))
    want = {ns: os.readlink(f"/proc/{pid}/ns/{ns}") for ns in ("pid", "ipc", "net", "uts")}
    p = e.podman("run", "--rm", "--pid", "container:e2e-nsowner", "--ipc", "container:e2e-nsowner",
                 *[a for a in e.podman_run_args() if a != "none" and a != "--network"],
                 "--network", "container:e2e-nsowner", "--uts", "container:e2e-nsowner",
                 BUSYBOX, "/probe", "report")
    r = json.loads(p.stdout)
    got = {ns: r["namespaces"][ns] for ns in want}
    check(got == want, f"joined namespaces {got}, owner's {want}")
    check(r["hostname"] == "owner", f"hostname {r['hostname']!r}")
    check(r["pid"] != 1, "a joined pid namespace must not make us pid 1")


@case("podman/network-bridge", "podman", "`--network NAME` (CNI bridge): a netns podman made, pod to pod over TCP")
def podman_network(ctx):
    e = ctx.env
    args = [a for a in e.podman_run_args() if a not in ("--network", "none")]
    ctx.defer(e.podman_in_netns, "rm", "-f", "-t", "0", "e2e-web", ok=False)
    e.podman_in_netns("run", "-d", "--name", "e2e-web", *args, "--network", e.podman_net, BUSYBOX,
                      "sh", "-c", "mkdir -p /tmp/www && echo hello-over-the-bridge > /tmp/www/index.html && "
                      "exec httpd -f -p 8080 -h /tmp/www")
    ip = e.podman("inspect", "-f", "{{(index .NetworkSettings.Networks \"" + e.podman_net + "\").IPAddress}}",
                  "e2e-web").stdout.strip()
    check(ip.startswith(PODMAN_SUBNET.rsplit(".", 1)[0] + "."), f"container IP {ip!r} not from {PODMAN_SUBNET}")
    pid = int(podman_state(e, "e2e-web", "{{.State.Pid}}"))
    check(os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net"), "the container shares our netns")
    # A second container on the same network reaches the first by its IP.
    body = ""
    for _ in range(50):  # httpd may not listen yet
        # nc, not wget: Debian 12's busybox-static wget segfaults.
        p = e.podman_in_netns("run", "--rm", *args, "--network", e.podman_net, BUSYBOX, "sh", "-c",
                              f"printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {ip} 8080", ok=False)
        body = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
        if p.returncode == 0 and body:
            break
        time.sleep(0.2)
    check(body == "hello-over-the-bridge", f"wget from a second container got {body!r}")


@case("podman/devices-sysctl-init", "podman", "`--device`, `--sysctl`, `--shm-size`, `--init`")
def podman_devices(ctx):
    e = ctx.env
    p = e.podman("run", "--rm", "--device", "/dev/zero:/dev/e2ezero", "--sysctl", "net.ipv4.ip_forward=1",
                 "--shm-size", "8m", "--init", *e.podman_run_args(), BUSYBOX, "sh", "-c",
                 "head -c 4 /dev/e2ezero | wc -c; cat /proc/sys/net/ipv4/ip_forward; "
                 "grep ' /dev/shm ' /proc/mounts; cat /proc/1/cmdline | tr '\\0' ' '")
    lines = p.stdout.splitlines()
    check(len(lines) >= 4, f"output {p.stdout!r}")
    check(lines[0].strip() == "4", f"--device /dev/zero not readable: {p.stdout!r}")
    check(lines[1].strip() == "1", f"--sysctl not applied: {p.stdout!r}")
    check("size=8192k" in lines[2], f"--shm-size: {lines[2]!r}")
    check("catatonit" in lines[3] or "init" in lines[3], f"--init: pid 1 is {lines[3]!r}")


@case("podman/checkpoint-restore", "podman", "`container checkpoint` / `restore` (CRIU)")
def podman_checkpoint(ctx):
    e = ctx.env
    podman_container(ctx, "e2e-cp", BUSYBOX, "/probe", "sleep", "inf")
    p = e.podman("container", "checkpoint", "e2e-cp", ok=False, timeout=120)
    if p.returncode != 0:
        crit = e.sh(["criu", "check"], ok=False)
        # A failed checkpoint must leave the container running (runc and corral).
        after = podman_state(e, "e2e-cp")
        raise CaseFailure(f"checkpoint failed: {tail(p.stderr, 800)}\ncontainer afterwards: {after}"
                          f"\n`criu check`: {tail(crit.stderr + crit.stdout, 600)}")
    check(podman_state(e, "e2e-cp") == "exited", "not exited after checkpoint")
    e.podman("container", "restore", "e2e-cp", timeout=120)
    check(podman_state(e, "e2e-cp") == "running", "not running after restore")


# --- containerd through ctr ----------------------------------------------------


def ctr_task_status(e, cid):
    p = e.ctr("task", "ls")
    for line in p.stdout.splitlines()[1:]:
        f = line.split()
        if f and f[0] == cid:
            return f[2]
    return None


def ctr_container(ctx, cid, *cmd, extra=()):
    e = ctx.env
    ctx.defer(e.ctr, "containers", "rm", cid, ok=False)
    ctx.defer(e.ctr, "task", "delete", "-f", cid, ok=False)
    log = e.path(f"ctr-{cid}.log")
    e.ctr("run", "-d", *e.ctr_run_args(cid), "--log-uri", f"file://{log}", *extra, BUSYBOX, cid, *cmd)
    return log


def ctr_pid(e, cid):
    for line in e.ctr("task", "ls").stdout.splitlines()[1:]:
        f = line.split()
        if f and f[0] == cid:
            return int(f[1])
    raise CaseFailure(f"no task {cid}")


def read_file(path):
    try:
        return open(path, errors="replace").read()
    except OSError:
        return ""


@case("ctr/run-rm", "containerd (ctr)", "`ctr run --rm --runc-binary`")
def ctr_run_rm(ctx):
    e = ctx.env
    p = e.ctr("run", "--rm", *e.ctr_run_args("rm"), BUSYBOX, "e2e-rm", "echo", "hello from ctr")
    check(p.stdout.strip() == "hello from ctr", f"stdout {p.stdout!r}")
    p = e.ctr("run", "--rm", *e.ctr_run_args("rm2"), BUSYBOX, "e2e-rm2", "sh", "-c", "exit 3", ok=False)
    check(p.returncode == 3, f"exit status {p.returncode}, want 3")


@case("ctr/run-tty", "containerd (ctr)", "`ctr run -t` (console socket)")
def ctr_run_tty(ctx):
    e = ctx.env
    ctx.defer(e.ctr, "containers", "rm", "e2e-tty", ok=False)
    cmd = shlex.join(e.ctr_argv(CTR_NS, "run", "--rm", "-t", *e.ctr_run_args("tty"), BUSYBOX,
                                "e2e-tty", "/probe", "tty"))
    p = e.sh(["script", "-qec", cmd, "/dev/null"], timeout=60, input="")
    m = re.search(r"\{.*\}", p.stdout)
    check(m, f"no probe output: {p.stdout!r}")
    tty = json.loads(m.group(0))
    check(all(tty[s]["isatty"] for s in ("stdin", "stdout", "stderr")), f"not a tty: {tty}")
    check(tty["controlling_tty"], f"no controlling tty: {tty}")


@case("ctr/task-exec", "containerd (ctr)", "`task exec`")
def ctr_exec(ctx):
    e = ctx.env
    ctr_container(ctx, "e2e-exec", "/probe", "sleep", "inf")
    p = e.ctr("task", "exec", "--exec-id", "x1", "e2e-exec", "sh", "-c", "echo exec-ok; id -u")
    check(p.stdout.split() == ["exec-ok", "0"], f"exec stdout {p.stdout!r}")
    p = e.ctr("task", "exec", "--exec-id", "x2", "e2e-exec", "sh", "-c", "exit 5", ok=False)
    check(p.returncode == 5, f"exec exit status {p.returncode}, want 5")
    p = e.ctr("task", "exec", "--exec-id", "x3", "e2e-exec", "/no/such/binary", ok=False)
    check(p.returncode != 0, "exec of a missing binary succeeded")


@case("ctr/task-kill", "containerd (ctr)", "`task kill` (signal, `--all`)")
def ctr_kill(ctx):
    e = ctx.env
    log = ctr_container(ctx, "e2e-kill", "/probe", "signals")
    wait_for("ready", lambda: "ready" in read_file(log))
    e.ctr("task", "kill", "-s", "SIGUSR1", "e2e-kill")
    wait_for("signal 10", lambda: "10" in read_file(log).split())
    e.ctr("task", "kill", "-s", "SIGTERM", "e2e-kill")
    wait_for("STOPPED", lambda: ctr_task_status(e, "e2e-kill") == "STOPPED")
    p = e.ctr("task", "delete", "e2e-kill")
    check("exit status" not in p.stdout or "status 0" in p.stdout, f"delete: {p.stdout!r}")
    # --all: an extra process beside the init is killed too.
    ctr_container(ctx, "e2e-killall", "sh", "-c", "/probe sleep inf & exec /probe sleep inf")
    pid = ctr_pid(e, "e2e-killall")
    wait_for("two processes", lambda: len(read_cg(pid, "pids", "cgroup.procs").split()) == 2)
    cg = cgroup_dir(pid, "pids")
    e.ctr("task", "kill", "--all", "-s", "SIGKILL", "e2e-killall")
    wait_for("STOPPED", lambda: ctr_task_status(e, "e2e-killall") == "STOPPED")
    left = read_file(os.path.join(cg, "cgroup.procs")).split()
    check(not left, f"processes left after kill --all: {left}")


@case("ctr/task-pause-resume", "containerd (ctr)", "`task pause` / `task resume`")
def ctr_pause(ctx):
    e = ctx.env
    ctr_container(ctx, "e2e-pause", "/probe", "sleep", "inf")
    pid = ctr_pid(e, "e2e-pause")
    e.ctr("task", "pause", "e2e-pause")
    check(ctr_task_status(e, "e2e-pause") == "PAUSED", "status not PAUSED")
    check(read_cg(pid, "freezer", "freezer.state") == "FROZEN", "freezer not FROZEN")
    e.ctr("task", "resume", "e2e-pause")
    check(ctr_task_status(e, "e2e-pause") == "RUNNING", "status not RUNNING after resume")
    check(read_cg(pid, "freezer", "freezer.state") == "THAWED", "freezer not THAWED")


@case("ctr/task-ps", "containerd (ctr)", "`task ps`")
def ctr_ps(ctx):
    e = ctx.env
    ctr_container(ctx, "e2e-ps", "sh", "-c", "/probe sleep inf & exec /probe sleep inf")
    pid = ctr_pid(e, "e2e-ps")
    procs = wait_for("two processes", lambda: (lambda l: l if len(l) == 2 else None)(
        read_cg(pid, "pids", "cgroup.procs").split()))
    p = e.ctr("task", "ps", "e2e-ps")
    listed = sorted(l.split()[0] for l in p.stdout.splitlines()[1:] if l.strip())
    check(listed == sorted(procs), f"task ps lists {listed}, the cgroup holds {sorted(procs)}")


@case("ctr/task-metrics", "containerd (ctr)", "`task metrics`")
def ctr_metrics(ctx):
    e = ctx.env
    ctr_container(ctx, "e2e-metrics", "/probe", "sleep", "inf", extra=("--memory-limit", str(64 << 20)))
    p = e.ctr("task", "metrics", "--format", "json", "e2e-metrics")
    m = json.loads(p.stdout)
    data = m.get("Data") or m.get("data") or m
    text = json.dumps(data)
    check(str(64 << 20) in text, f"memory limit 64 MiB not in metrics: {tail(text, 600)}")
    check('"current": 1' in text or '"current":1' in text, f"pids.current 1 not in metrics: {tail(text, 600)}")


@case("ctr/memory-limit", "containerd (ctr)", "`ctr run --memory-limit` (cgroup applied)")
def ctr_memory(ctx):
    e = ctx.env
    ctr_container(ctx, "e2e-mem", "/probe", "sleep", "inf", extra=("--memory-limit", str(48 << 20)))
    pid = ctr_pid(e, "e2e-mem")
    lim = read_cg(pid, "memory", "memory.limit_in_bytes")
    check(lim == str(48 << 20), f"memory.limit_in_bytes {lim}")
    check(cgroup_dir(pid, "memory").endswith(f"{e.cgroup_parent}/ctr-e2e-mem"), "cgroup path not the requested one")


# --- containerd's CRI plugin ---------------------------------------------------


class Cri:
    def __init__(self, env):
        import grpc  # Debian: python3-grpcio
        gen = env.path("cri-gen")
        os.makedirs(gen)
        env.sh([sys.executable, "-m", "grpc_tools.protoc", f"-I{HERE}", f"--python_out={gen}",
                f"--grpc_python_out={gen}", os.path.join(HERE, "cri_v1_subset.proto")])
        sys.path.insert(0, gen)
        import cri_v1_subset_pb2 as pb
        import cri_v1_subset_pb2_grpc as pbg
        self.pb = pb
        self.grpc = grpc
        self.channel = grpc.insecure_channel(f"unix://{env.ctd_sock}")
        self.rs = pbg.RuntimeServiceStub(self.channel)
        self.images = pbg.ImageServiceStub(self.channel)
        self.env = env
        self.pod_id = None
        self.ctr_id = None
        self.pod_config = None

    def call(self, method, req, timeout=60):
        self.env.transcript.append({"grpc": method, "request": str(req)[:1500]})
        try:
            resp = getattr(self.rs, method)(req, timeout=timeout)
        except self.grpc.RpcError as err:
            self.env.transcript[-1]["error"] = f"{err.code()}: {err.details()}"
            raise CaseFailure(f"{method}: {err.code()}: {err.details()}")
        self.env.transcript[-1]["response"] = str(resp)[:1500]
        return resp

    def remove_all(self):
        pb = self.pb
        try:
            pods = self.rs.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=30).items
            for pod in pods:
                self.rs.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod.id), timeout=60)
                self.rs.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod.id), timeout=60)
        except self.grpc.RpcError:
            pass
        self.channel.close()


def cri(ctx):
    e = ctx.env
    if getattr(e, "cri", None) is None:
        e.cri = Cri(e)
    return e.cri


@case("cri/run-pod-sandbox", "CRI", "RunPodSandbox (pause image, bridge CNI)")
def cri_run_pod(ctx):
    e = ctx.env
    c = cri(ctx)
    pb = c.pb
    st = c.call("Status", pb.StatusRequest())
    conds = {x.type: x.status for x in st.status.conditions}
    wait_for("NetworkReady", lambda: {x.type: x.status for x in c.call("Status", pb.StatusRequest()).status.conditions}.get("NetworkReady"))
    os.makedirs(e.path("pods", "e2e-pod"), exist_ok=True)
    c.pod_config = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="e2e-pod", uid="e2e-pod-uid", namespace="default"),
        hostname="e2e-pod",
        log_directory=e.path("pods", "e2e-pod"),
        linux=pb.LinuxPodSandboxConfig(
            cgroup_parent=f"{e.cgroup_parent}/pod",
            security_context=pb.LinuxSandboxSecurityContext(
                namespace_options=pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD))))
    c.pod_id = c.call("RunPodSandbox", pb.RunPodSandboxRequest(config=c.pod_config), timeout=120).pod_sandbox_id
    s = c.call("PodSandboxStatus", pb.PodSandboxStatusRequest(pod_sandbox_id=c.pod_id)).status
    check(s.state == pb.SANDBOX_READY, f"sandbox state {s.state}")
    check(s.network.ip.startswith("10.88."), f"pod IP {s.network.ip!r} not from the bridge's {POD_SUBNET}")
    del conds


@case("cri/create-start-container", "CRI", "CreateContainer + StartContainer", needs="cri/run-pod-sandbox")
def cri_create_start(ctx):
    c = cri(ctx)
    pb = c.pb
    cfg = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name="app"),
        image=pb.ImageSpec(image=BUSYBOX),
        command=["/probe", "signals"],
        log_path="app.log",
        linux=pb.LinuxContainerConfig(resources=pb.LinuxContainerResources(memory_limit_in_bytes=128 << 20)))
    c.ctr_id = c.call("CreateContainer", pb.CreateContainerRequest(
        pod_sandbox_id=c.pod_id, config=cfg, sandbox_config=c.pod_config), timeout=120).container_id
    c.call("StartContainer", pb.StartContainerRequest(container_id=c.ctr_id), timeout=120)
    s = c.call("ContainerStatus", pb.ContainerStatusRequest(container_id=c.ctr_id, verbose=True))
    check(s.status.state == pb.CONTAINER_RUNNING, f"container state {s.status.state}")
    c.ctr_pid = json.loads(s.info["info"])["pid"]
    lim = read_cg(c.ctr_pid, "memory", "memory.limit_in_bytes")
    check(lim == str(128 << 20), f"memory.limit_in_bytes {lim}")


@case("cri/exec-sync", "CRI", "ExecSync", needs="cri/create-start-container")
def cri_exec_sync(ctx):
    c = cri(ctx)
    pb = c.pb
    ip = c.call("PodSandboxStatus", pb.PodSandboxStatusRequest(pod_sandbox_id=c.pod_id)).status.network.ip
    r = c.call("ExecSync", pb.ExecSyncRequest(container_id=c.ctr_id, timeout=30, cmd=[
        "sh", "-c", "echo exec-sync; hostname; cat /proc/net/fib_trie; echo oops >&2; exit 3"]))
    out = r.stdout.decode()
    check(r.exit_code == 3, f"exit code {r.exit_code}, want 3")
    check(out.startswith("exec-sync\ne2e-pod\n"), f"stdout {out[:200]!r}")
    check(ip in out, f"pod IP {ip} not on an interface in the pod's netns")
    check(r.stderr.decode().strip() == "oops", f"stderr {r.stderr!r}")


@case("cri/container-stats", "CRI", "ContainerStats", needs="cri/create-start-container")
def cri_stats(ctx):
    c = cri(ctx)
    pb = c.pb
    s = c.call("ContainerStats", pb.ContainerStatsRequest(container_id=c.ctr_id)).stats
    check(s.memory.working_set_bytes.value > 0 or s.memory.usage_bytes.value > 0, f"memory {s.memory}")
    check(s.cpu.usage_core_nano_seconds.value > 0, f"cpu {s.cpu}")


@case("cri/update-resources", "CRI", "UpdateContainerResources", needs="cri/create-start-container")
def cri_update(ctx):
    c = cri(ctx)
    pb = c.pb
    c.call("UpdateContainerResources", pb.UpdateContainerResourcesRequest(
        container_id=c.ctr_id, linux=pb.LinuxContainerResources(memory_limit_in_bytes=96 << 20)))
    lim = read_cg(c.ctr_pid, "memory", "memory.limit_in_bytes")
    check(lim == str(96 << 20), f"memory.limit_in_bytes {lim}, want {96 << 20}")


@case("cri/stop-remove", "CRI", "StopContainer, StopPodSandbox, RemovePodSandbox",
      needs="cri/create-start-container")
def cri_stop_remove(ctx):
    c = cri(ctx)
    pb = c.pb
    c.call("StopContainer", pb.StopContainerRequest(container_id=c.ctr_id, timeout=10), timeout=60)
    s = c.call("ContainerStatus", pb.ContainerStatusRequest(container_id=c.ctr_id)).status
    check(s.state == pb.CONTAINER_EXITED, f"state {s.state} after StopContainer")
    check(s.exit_code == 0, f"exit code {s.exit_code} (want 0: /probe signals exits 0 on SIGTERM)")
    c.call("RemoveContainer", pb.RemoveContainerRequest(container_id=c.ctr_id))
    c.call("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=c.pod_id), timeout=60)
    s = c.call("PodSandboxStatus", pb.PodSandboxStatusRequest(pod_sandbox_id=c.pod_id)).status
    check(s.state == pb.SANDBOX_NOTREADY, f"sandbox state {s.state} after StopPodSandbox")
    c.call("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=c.pod_id), timeout=60)
    items = c.call("ListPodSandbox", pb.ListPodSandboxRequest()).items
    check(not items, f"pods left: {[i.id for i in items]}")
    left = [d for d in e_cgroups(ctx.env, "memory") if "/pod/" in d]
    check(not left, f"pod cgroups left: {left}")


@case("cri/privileged-and-restricted", "CRI",
      "privileged pod and container; container with readonly rootfs, runAsUser, noNewPrivs, tty")
def cri_privileged(ctx):
    e = ctx.env
    c = cri(ctx)
    pb = c.pb
    os.makedirs(e.path("pods", "e2e-priv"), exist_ok=True)
    pod_cfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="e2e-priv", uid="e2e-priv-uid", namespace="default"),
        hostname="e2e-priv", log_directory=e.path("pods", "e2e-priv"),
        linux=pb.LinuxPodSandboxConfig(
            cgroup_parent=f"{e.cgroup_parent}/priv",
            security_context=pb.LinuxSandboxSecurityContext(privileged=True)))
    pod = c.call("RunPodSandbox", pb.RunPodSandboxRequest(config=pod_cfg), timeout=120).pod_sandbox_id

    def remove_pod():
        c.rs.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=60)
        c.rs.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)
    ctx.defer(remove_pod)

    def start(name, command, **kw):
        cfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=BUSYBOX),
                                 command=command, log_path=f"{name}.log", **kw)
        cid = c.call("CreateContainer", pb.CreateContainerRequest(
            pod_sandbox_id=pod, config=cfg, sandbox_config=pod_cfg), timeout=120).container_id
        c.call("StartContainer", pb.StartContainerRequest(container_id=cid), timeout=120)
        return cid

    priv = start("priv", ["/probe", "sleep", "inf"], linux=pb.LinuxContainerConfig(
        security_context=pb.LinuxContainerSecurityContext(privileged=True)))
    r = c.call("ExecSync", pb.ExecSyncRequest(container_id=priv, timeout=30, cmd=["/probe", "report"]))
    check(r.exit_code == 0, f"exec in the privileged container: {r.stderr!r}")
    rep = json.loads(r.stdout)
    check(rep["capabilities"]["effective"] == rep["capabilities"]["bounding"] and
          int(rep["capabilities"]["bounding"], 16) >= 0x1ffffffffff // 2, f"capabilities {rep['capabilities']}")
    sysfs = [m for m in rep["mounts"] if m["target"] == "/sys"]
    check(sysfs and "rw" in sysfs[0]["options"], f"/sys not read-write in a privileged container: {sysfs}")
    check(rep["seccomp"] == 0, f"seccomp mode {rep['seccomp']} in a privileged container")

    restricted = start("restricted", ["/probe", "tty"], tty=True, linux=pb.LinuxContainerConfig(
        security_context=pb.LinuxContainerSecurityContext(
            readonly_rootfs=True, run_as_user=pb.Int64Value(value=1000), no_new_privs=True)))
    wait_for("the restricted container to exit", lambda: c.call("ContainerStatus", pb.ContainerStatusRequest(
        container_id=restricted)).status.state == pb.CONTAINER_EXITED)
    st = c.call("ContainerStatus", pb.ContainerStatusRequest(container_id=restricted)).status
    check(st.exit_code == 0, f"restricted container exit code {st.exit_code}")
    log = read_file(st.log_path)
    check('"isatty":true' in log and '"controlling_tty":true' in log, f"tty container's log: {log!r}")
    r = c.call("ExecSync", pb.ExecSyncRequest(container_id=priv, timeout=30, cmd=["true"]))
    # containerd's RuntimeDefault seccomp profile: a large real filter.
    restricted2 = start("restricted2", ["/probe", "sleep", "inf"], linux=pb.LinuxContainerConfig(
        security_context=pb.LinuxContainerSecurityContext(
            readonly_rootfs=True, run_as_user=pb.Int64Value(value=1000), no_new_privs=True,
            seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault))))
    r = c.call("ExecSync", pb.ExecSyncRequest(container_id=restricted2, timeout=30, cmd=["/probe", "report"]))
    rep = json.loads(r.stdout)
    got = (rep["uid"], rep["no_new_privs"], rep["root_readonly"], rep["seccomp"])
    check(got == (1000, 1, "EROFS", 2), f"uid, no_new_privs, root_readonly, seccomp: {got}")
    r = c.call("ExecSync", pb.ExecSyncRequest(container_id=restricted2, timeout=30,
                                               cmd=["sh", "-c", "unshare -U true 2>&1; echo rc=$?"]))
    check(b"rc=1" in r.stdout, f"RuntimeDefault seccomp should deny unshare(CLONE_NEWUSER): {r.stdout!r}")


def e_cgroups(env, controller):
    top = f"{CGROUP_ROOT}/{controller}{env.cgroup_parent}"
    return [d for d, _, _ in os.walk(top)] if os.path.isdir(top) else []


# --- Runner --------------------------------------------------------------------


def run_suite(args):
    if os.geteuid() != 0:
        sys.exit("suite.py: must run as root")
    only = re.compile(args.only) if args.only else None
    # A timeout's SIGTERM (or a hangup) must still run the teardown below.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    sweep_stale()
    env = Env(args.runtime, args.name, keep=args.keep)
    results = {"runtime": env.runtime, "name": args.name, "version": runtime_version(env.runtime),
               "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cases": []}
    t_start = time.monotonic()
    print(f"== e2e: {args.name} ({env.runtime}), root {env.root}", flush=True)
    setup_errors = {}
    try:
        selected = [c for c in CASES if not only or only.search(c["id"])]
        clients = {c["id"].split("/")[0] for c in selected}
        if "podman" in clients:
            try:
                env.setup_podman()
            except Exception as e:
                setup_errors["podman"] = f"podman setup failed: {e}"
        if clients & {"ctr", "cri"}:
            try:
                env.setup_containerd()
            except Exception as e:
                setup_errors["ctr"] = setup_errors["cri"] = f"containerd setup failed: {e}"
        status_of = {}
        for c in selected:
            res = run_case(env, c, status_of, setup_errors)
            status_of[c["id"]] = res["status"]
            results["cases"].append(res)
            mark = {"pass": "ok  ", "fail": "FAIL", "blocked": "BLCK", "skip": "skip"}[res["status"]]
            print(f"  {mark} {c['id']:32} {res['seconds']:6.1f}s  {first_line(res.get('detail', ''))}",
                  flush=True)
            if res["status"] == "fail" and args.verbose:
                print(indent(res.get("detail", "") + "\n" + res.get("evidence", "")), flush=True)
    finally:
        errors = env.teardown()
        results["teardown_errors"] = errors
        for err in errors:
            print(f"  TEARDOWN ERROR: {err}", flush=True)
    results["seconds"] = round(time.monotonic() - t_start, 1)
    n = {s: sum(1 for r in results["cases"] if r["status"] == s) for s in ("pass", "fail", "blocked")}
    print(f"== {args.name}: {n['pass']} passed, {n['fail'] + n['blocked']} failed in {results['seconds']}s",
          flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if n["fail"] + n["blocked"] == 0 and not errors else 1


def run_case(env, c, status_of, setup_errors):
    res = {"id": c["id"], "client": c["client"], "operation": c["operation"]}
    t0 = time.monotonic()
    env.transcript = []
    client = c["id"].split("/")[0]
    if client in setup_errors:
        res.update(status="fail", detail=setup_errors[client], seconds=0.0)
        return res
    if c["needs"] and status_of.get(c["needs"]) != "pass":
        res.update(status="blocked", detail=f"blocked: {c['needs']} did not pass", seconds=0.0)
        return res
    mark = env.mark()
    ctx = Ctx(env)
    try:
        c["fn"](ctx)
        res["status"] = "pass"
    except Exception as e:
        res["status"] = "fail"
        res["detail"] = str(e) if isinstance(e, CaseFailure) else traceback.format_exc()
        res["evidence"] = env.evidence(mark)
    finally:
        for fn in reversed(ctx.cleanups):
            try:
                fn()
            except Exception:
                pass
    res["seconds"] = round(time.monotonic() - t0, 1)
    res["runtime_calls"] = [strip_wrapper_time(l) for l in env.calls_since(mark)]
    if res["status"] != "pass":
        res["transcript"] = env.transcript
    return res


def strip_wrapper_time(line):
    return line.split(" ", 1)[1] if " " in line else line


def runtime_version(path):
    try:
        return subprocess.run([path, "--version"], capture_output=True, text=True,
                              timeout=10).stdout.strip().splitlines()[0]
    except Exception:
        return "unknown"


def first_line(s):
    return s.strip().splitlines()[0][:100] if s.strip() else ""


def indent(s, pre="      | "):
    return "\n".join(pre + l for l in s.rstrip().splitlines())


# --- Report: baseline vs candidate --------------------------------------------


def report(args):
    base = json.load(open(args.baseline))
    cand = json.load(open(args.candidate))
    bmap = {c["id"]: c for c in base["cases"]}
    cmap = {c["id"]: c for c in cand["cases"]}
    ids = list(dict.fromkeys([c["id"] for c in base["cases"]] + [c["id"] for c in cand["cases"]]))
    sym = {"pass": "pass", "fail": "FAIL", "blocked": "blocked", None: "not run"}
    regressions, extra = [], []
    rows = []
    for i in ids:
        b, c = bmap.get(i), cmap.get(i)
        bs, cs = b and b["status"], c and c["status"]
        any_ = b or c
        rows.append((any_["client"], any_["operation"], i, sym[bs], sym[cs],
                     runtime_commands((b or {}).get("runtime_calls", []))))
        if bs == "pass" and cs != "pass":
            regressions.append(i)
        elif bs != "pass" and cs != "pass":
            extra.append(i)
    w = max(len(r[2]) for r in rows)
    print(f"\n{'case':{w}}  {base['name']:8}  {cand['name']:8}")
    for r in rows:
        print(f"{r[2]:{w}}  {r[3]:8}  {r[4]:8}")
    for i in regressions:
        c = cmap.get(i) or {}
        print(f"\n--- {cand['name']} fails {i} ({c.get('operation', '')}), {base['name']} passes it:")
        print(indent(c.get("detail", "not run")))
        if c.get("runtime_calls"):
            print("    runtime calls:")
            print(indent("\n".join(c["runtime_calls"][-15:])))
        if c.get("evidence"):
            print("    runtime logs:")
            print(indent(c["evidence"]))
    for i in extra:
        print(f"\n--- {i}: fails with {base['name']} too (not required of {cand['name']}): "
              f"{first_line((bmap.get(i) or {}).get('detail', ''))}")
    if args.doc:
        write_doc(args.doc, base, cand, rows, regressions, extra)
    passed = sum(1 for r in rows if r[4] == "pass")
    print(f"\n{cand['name']} vs {base['name']}: {len(regressions)} regressions; "
          f"suite {base['seconds']}s ({base['name']}) + {cand['seconds']}s ({cand['name']})")
    print(f"{passed} passed, {len(regressions)} failed, {len(extra)} skipped")
    return 1 if regressions or cand.get("teardown_errors") else 0


GLOBAL_FLAGS_WITH_VALUE = {"--root", "--log", "--log-format", "--rootless", "--criu"}


def runtime_commands(calls):
    """The subcommands in a list of runtime invocations (global flags skipped), in order."""
    seen = []
    for line in calls:
        try:
            args = shlex.split(line)
        except ValueError:
            continue
        i = 0
        while i < len(args) and args[i].startswith("-"):
            i += 2 if args[i] in GLOBAL_FLAGS_WITH_VALUE else 1
        if i < len(args) and args[i] not in seen:
            seen.append(args[i])
    return seen


KEEP_MARKER = "<!-- Hand-written from here on: scripts/e2e --doc keeps it. -->"


def write_doc(path, base, cand, rows, regressions, extra):
    lines = [
        "# Compatibility with real clients",
        "",
        "Written by `scripts/e2e --doc` from its last run: the same end-to-end suite",
        f"(`tests/e2e/suite.py`) run with {base['name']} as the baseline and with {cand['name']}.",
        "",
        f"- Run: {cand['started']}; {base['name']}: `{base['version']}`; {cand['name']}: `{cand['version']}`",
        f"- Clients: podman 4.3.1 + conmon 2.1.6, containerd 1.6.20 (`ctr`, and its CRI plugin",
        "  through `tests/e2e/cri_v1_subset.proto`), on cgroup v1 (this host's hierarchy).",
        f"- Suite time: {base['seconds']} s with {base['name']}, {cand['seconds']} s with {cand['name']}.",
        "",
        "Run it: `scripts/e2e --doc [RUNTIME]` (as root; installs podman, containerd and the rest",
        "with apt-get), or `ctest -L e2e` once the `e2e_tests` target is wired in. The last column",
        f"lists the runtime commands the client made {base['name']} run in that case.",
        "",
        f"| client | operation | {base['name']} | {cand['name']} | runtime commands |",
        "|---|---|---|---|---|",
    ]
    for client, op, cid, b, c, cmds in rows:
        lines.append(f"| {client} | {op} (`{cid}`) | {b} | {c} | {', '.join(cmds)} |")
    lines += ["", "## Failures", ""]
    if not regressions:
        lines.append(f"None: every case that passes with {base['name']} passes with {cand['name']}.")
    cmap = {c["id"]: c for c in cand["cases"]}
    for i in regressions:
        c = cmap.get(i, {})
        lines += [f"### `{i}`", "", "```", c.get("detail", "not run").strip(), "```", ""]
        if c.get("runtime_calls"):
            lines += ["Runtime calls:", "", "```", *c["runtime_calls"][-10:], "```", ""]
        if c.get("evidence"):
            lines += ["Runtime logs:", "", "```", c["evidence"].strip()[-2500:], "```", ""]
    bmap = {c["id"]: c for c in base["cases"]}
    if extra:
        lines += ["", f"## Failing with {base['name']} too", "",
                  f"Not required of {cand['name']}: these fail on this machine whatever the runtime.", ""]
    for i in extra:
        b = bmap.get(i, {})
        lines += [f"### `{i}`", "", "```", b.get("detail", "not run").strip()[-2500:], "```", ""]
    lines += ["", "## Notes", "",
              "- podman runs with `--ulimit nofile=20000:20000 --ulimit nproc=4096:4096`: these machines",
              "  lack CAP_SYS_RESOURCE, so podman's default of raising the hard limits fails with any runtime.",
              "- OOM: conmon 2.1.6 writes its `oom` marker into its working directory, and podman 4.3.1 reads",
              "  `<bundle>/oom` without starting conmon there; the case runs `podman start -a` from the",
              "  bundle directory so that `inspect` can report `OOMKilled` at all (runc and corral alike).",
              "- The CRI pod network is a CNI bridge (10.88.0.0/16) inside a network namespace of the suite's,",
              "  where containerd runs; traffic never leaves this machine.",
              "- podman passes `--log FILE --log-format=json` only to runtimes named in containers.conf's",
              "  `runtime_supports_json`; the suite adds `corral` there, as a deployment would.",
              "- Checkpoint/restore: Debian 12's CRIU 3.17.1 cannot even initialise on this Linux 6.18",
              "  (`criu check`: \"vdso: Unexpected rt vDSO area bounds\"), so it fails with runc and corral",
              "  alike; what was tried is in \"CRIU on this kernel\" below.", ""]
    # A hand-written tail (after KEEP_MARKER) survives regeneration.
    if os.path.exists(path):
        old = open(path).read()
        if KEEP_MARKER in old:
            lines += [old[old.index(KEEP_MARKER):].rstrip("\n"), ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the suite with one runtime")
    r.add_argument("--runtime", required=True)
    r.add_argument("--name")
    r.add_argument("--json")
    r.add_argument("--only", help="regex of case ids")
    r.add_argument("--keep", action="store_true", help="keep the temp root (daemons are still stopped)")
    r.add_argument("-v", "--verbose", action="store_true")
    rp = sub.add_parser("report", help="compare a baseline run with a candidate run")
    rp.add_argument("baseline")
    rp.add_argument("candidate")
    rp.add_argument("--doc")
    sub.add_parser("list", help="list the cases")
    sub.add_parser("sweep", help="tear down what killed runs left behind")
    args = ap.parse_args()
    if args.cmd == "run":
        args.name = args.name or os.path.basename(args.runtime)
        return run_suite(args)
    if args.cmd == "report":
        return report(args)
    if args.cmd == "sweep":
        sweep_stale()
        return 0
    for c in CASES:
        print(f"{c['id']:32} {c['client']:18} {c['operation']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
