// child.cpp — the container's init process, from clone to execve.
//
// container_init() is the whole story on one screen: each line is a named
// step, in the order the kernel requires. Everything here is
// async-signal-safe (we are a clone of the parent and may not allocate); a
// failing step reports "what: why" to the parent and _exits (child_fail).
#include "runtime/child_rootfs.hpp"
#include "runtime/child_util.hpp"
#include "runtime/mount_guard.hpp"
#include "runtime/plan.hpp"

#include <cerrno>
#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif

namespace corral {
namespace {

void expect(ChildPlan &p, SyncMsg want) {
    SyncHeader h{};
    int r = sync_recv(p.sync_fd, &h);
    if (r <= 0) child_fail(p, r < 0 ? errno : EPIPE, Msg() << "wait for " << sync_msg_name(want) << " from parent");
    if (h.type != want)
        child_fail(p, EPROTO, Msg() << "expected " << sync_msg_name(want) << " from parent, got "
                                   << sync_msg_name(h.type));
}

void send(ChildPlan &p, SyncMsg m, int fd = -1) {
    if (sync_send(p.sync_fd, m, 0, nullptr, 0, fd) < 0)
        child_fail(p, errno, Msg() << "send " << sync_msg_name(m) << " to parent");
}

// Signals were blocked by the parent around clone; the container starts clean.
void reset_signals() {
    for (int s = 1; s < NSIG; ++s)
        if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// Die with the parent while the container is half made: a `create` or `run`
// killed half-way must not leave an init nobody knows of. The parent records
// our pid in state.json right after clone, so from Ready on (when we stop
// watching) `delete --force` reaches us anyway. The kernel clears the
// parent-death signal whenever our credentials change, so it is armed again
// after each change (rearm_parent_watch). The parent may already be gone
// when we arm it (the kernel does not signal us then): its end of the sync
// socket has closed if so.
void watch_parent(ChildPlan &p) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) child_fail(p, errno, Msg() << "set the parent-death signal");
    p.parent_watched = true;
    pollfd pfd{p.sync_fd, POLLRDHUP, 0};
    if (::poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR))) ::_exit(1);
}

void rearm_parent_watch(ChildPlan &p) {
    if (p.parent_watched) watch_parent(p);
}

// From here on the container outlives the runtime: `create` returns, and a
// detached `run` leaves it running. Before Ready, so the parent can never exit
// while we still hold the signal; and before a seccomp filter loads, whose
// profile may not allow prctl.
void stop_watching_parent(ChildPlan &p) {
    if (!p.parent_watched) return;
    ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    p.parent_watched = false;
}

// Call f(fd) for each open descriptor >= lo, from /proc/self/fd (getdents64:
// no allocation). False if /proc is not there to read.
template <typename F> bool for_each_open_fd(unsigned lo, F f) {
    int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return false;
    alignas(8) char buf[4096];
    long n;
    while ((n = ::syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            auto *d = reinterpret_cast<struct dirent64 *>(buf + off);
            off += d->d_reclen;
            unsigned fd = 0;
            const char *c = d->d_name;
            if (*c < '0' || *c > '9') continue;
            for (; *c >= '0' && *c <= '9'; ++c) fd = fd * 10 + static_cast<unsigned>(*c - '0');
            if (fd >= lo && static_cast<int>(fd) != dir) f(static_cast<int>(fd));
        }
    }
    ::close(dir);
    return n == 0;
}

// 0. Close every descriptor inherited from the parent that the plan does not
//    name: the state directory's lock above all, or a created container would
//    hold its own lock until `start` (and `start` would wait for it forever).
void close_inherited_fds(ChildPlan &p) {
    int keep[64];
    int n = 0;
    auto add = [&](int fd) {
        if (fd >= 3 + p.preserve_fds && n < 64) keep[n++] = fd;
    };
    add(p.sync_fd);
    add(p.fifo_fd);
    add(p.log_fd);
    for (const auto &fd : p.cgroup_procs) add(fd.get());
    for (const auto &j : p.joins) add(j.fd.get());
    for (int i = 1; i < n; ++i) // insertion sort: a handful of fds
        for (int k = i; k > 0 && keep[k - 1] > keep[k]; --k) {
            int t = keep[k];
            keep[k] = keep[k - 1];
            keep[k - 1] = t;
        }
    const unsigned first = static_cast<unsigned>(3 + p.preserve_fds);
    unsigned lo = first;
    for (int i = 0; i < n; ++i) {
        unsigned fd = static_cast<unsigned>(keep[i]);
        if (fd > lo && ::syscall(SYS_close_range, lo, fd - 1, 0) < 0) break;
        if (fd + 1 > lo) lo = fd + 1;
    }
    if (::syscall(SYS_close_range, lo, ~0U, 0) == 0) return;
    // No close_range (Linux < 5.9): close them one by one.
    for_each_open_fd(first, [&](int fd) {
        for (int i = 0; i < n; ++i)
            if (keep[i] == fd) return;
        ::close(fd);
    });
}

// 1. Join our cgroup: writing 0 to cgroup.procs moves the writer. Before
//    anything else, so every page and process of the container is counted.
void join_cgroup(ChildPlan &p) {
    // execCPUAffinity.initial applies before the cgroup (and its cpuset) does.
    if (p.cpus_initial && ::sched_setaffinity(0, sizeof(cpu_set_t), &*p.cpus_initial) < 0)
        child_fail(p, errno, Msg() << "process.execCPUAffinity.initial: sched_setaffinity");
    for (auto &fd : p.cgroup_procs) {
        if (::write(fd.get(), "0", 1) < 0) {
            // Rootless, a delegated v1 tree: the hybrid host's cgroup2 still
            // wants write access where we came from (EACCES). runc skips it.
            if (!p.cgroup_join_best_effort || (errno != EACCES && errno != EPERM))
                child_fail(p, errno, Msg() << "join cgroup");
            CHILD_STEP(p, "rootless: cannot join one of the container's cgroups: " << errno_text(errno));
        }
        fd.reset();
    }
}

// 1b. oom_score_adj, while we still have the runtime's credentials (as runc's
//     nsexec, before it unshares the user namespace). Later, setresuid(0) in
//     a new or joined user namespace changes our host uid, the kernel makes
//     us non-dumpable, and /proc/self/oom_score_adj then belongs to the
//     host's root, which the namespace cannot open. Children (the fork into
//     the pid namespace, the user's program) inherit the value.
void set_oom_score_adj(ChildPlan &p) {
    if (!p.set_oom_score_adj) return;
    CHILD_STEP(p, "oom_score_adj " << p.oom_score_adj);
    int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, p.oom_score_adj.data(), p.oom_score_adj.size()) < 0)
        child_fail(p, errno, Msg() << "set oom_score_adj to " << p.oom_score_adj
                                  << " (lowering it needs CAP_SYS_RESOURCE)");
    ::close(fd);
}

// 2. Wait for id maps (a user namespace made by clone) and the hooks' state.
void wait_for_parent(ChildPlan &p) {
    if (!p.wait_for_proceed) return;
    SyncHeader h{};
    int r = sync_recv(p.sync_fd, &h, p.hook_state.data(), p.hook_state.size());
    if (r <= 0) child_fail(p, r < 0 ? errno : EPIPE, Msg() << "wait for Proceed from parent");
    if (h.type != SyncMsg::Proceed)
        child_fail(p, EPROTO, Msg() << "expected Proceed from parent, got " << sync_msg_name(h.type));
    p.hook_state.resize(h.len); // no allocation: shrinking only
}

// 3. Join namespaces given by path (user first, so we hold caps over the rest).
void join_namespaces(ChildPlan &p) {
    for (auto &j : p.joins) {
        CHILD_STEP(p, "join namespace " << j.path);
        if (::setns(j.fd.get(), j.type) < 0) child_fail(p, errno, Msg() << "join namespace `" << j.path << "`");
        j.fd.reset();
    }
}

// 4. Create the namespaces clone could not (user after joins, cgroup after
//    the parent placed us in our cgroup so that it becomes the namespace root).
void unshare_namespaces(ChildPlan &p) {
    if (p.user_ns_late) {
        CHILD_STEP(p, "unshare user namespace, wait for id maps");
        if (::unshare(CLONE_NEWUSER) < 0) child_fail(p, errno, Msg() << "unshare user namespace");
        send(p, SyncMsg::NeedIdMaps);
        expect(p, SyncMsg::IdMapsDone);
    }
    unsigned long flags = p.unshare_flags & ~static_cast<unsigned long>(CLONE_NEWUSER);
    if (flags) {
        if (p.debug) {
            Msg m;
            m << "unshare namespaces: ";
            append_namespace_names(m, flags);
            child_log(p, m);
        }
        if (::unshare(static_cast<int>(flags)) < 0) child_fail(p, errno, Msg() << "unshare namespaces");
    }
    if (p.new_user_ns) {
        // Become root of the new user namespace (uid 0 is mapped when it exists).
        (void)::syscall(SYS_setresgid, 0, 0, 0);
        (void)::syscall(SYS_setresuid, 0, 0, 0);
        rearm_parent_watch(p); // the new credentials cleared it
    }
}

// 4b. Only when the pid namespace belongs to a user namespace we entered
//     after clone (fork_into_pid_ns): unshare or setns made it the namespace
//     of our children, so fork once more; the new process goes on as the
//     container's init. CLONE_PARENT makes it the runtime's child too (`run`
//     waits for it, a failed create kills it). This process tells the parent
//     the new pid and leaves; the new one waits for the parent's Proceed, so
//     nothing it sends can overtake that pid.
void fork_into_pid_namespace(ChildPlan &p) {
    CHILD_STEP(p, "fork into the container's pid namespace");
    long pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (pid < 0) child_fail(p, errno, Msg() << "fork into the container's pid namespace");
    if (pid > 0) {
        if (sync_send(p.sync_fd, SyncMsg::Forked, static_cast<int32_t>(pid)) < 0) {
            ::kill(static_cast<pid_t>(pid), SIGKILL);
            child_fail(p, errno, Msg() << "send Forked to parent");
        }
        ::_exit(0);
    }
    rearm_parent_watch(p); // not inherited across fork
    p.wait_for_proceed = true;
    wait_for_parent(p);
}

// 5. Hostname and domain name in the new UTS namespace.
void set_host_names(ChildPlan &p) {
    if (p.set_hostname) {
        CHILD_STEP(p, "set hostname " << p.hostname);
        if (::sethostname(p.hostname.data(), p.hostname.size()) < 0)
            child_fail(p, errno, Msg() << "sethostname `" << p.hostname << "`");
    }
    if (p.set_domainname) {
        CHILD_STEP(p, "set domainname " << p.domainname);
        if (::setdomainname(p.domainname.data(), p.domainname.size()) < 0)
            child_fail(p, errno, Msg() << "setdomainname `" << p.domainname << "`");
    }
}

// 5b. The loopback interface of a new network namespace, up (SIOCSIFFLAGS
//     on any socket; we hold CAP_NET_ADMIN over the namespace: it belongs to
//     our user namespace, or we are the host's root).
void bring_up_loopback(ChildPlan &p) {
    if (!p.loopback_up) return;
    CHILD_STEP(p, "bring up the loopback interface");
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) child_fail(p, errno, Msg() << "socket to bring up `lo`");
    struct ifreq ifr{};
    ::memcpy(ifr.ifr_name, "lo", 3);
    int err = 0;
    if (::ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) err = errno;
    ifr.ifr_flags |= IFF_UP;
    if (!err && ::ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) err = errno;
    ::close(fd);
    if (err) child_fail(p, err, Msg() << "bring up `lo`");
}

// 6. Mounts: first cut propagation back to the host, then make the rootfs a
//    mount point (pivot_root needs one), then every configured mount inside it.
void prepare_rootfs(ChildPlan &p, int &rootfd) {
    CHILD_STEP(p, "set propagation of / (rootfsPropagation)");
    if (::mount(nullptr, "/", nullptr, p.root_propagation, nullptr) < 0)
        child_fail(p, errno, Msg() << "set propagation of /");
    CHILD_STEP(p, "bind rootfs `" << p.rootfs << "` onto itself");
    if (::mount(p.rootfs.c_str(), p.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
        child_fail(p, errno, Msg() << "bind rootfs `" << p.rootfs << "`");
    rootfd = ::open(p.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) child_fail(p, errno, Msg() << "open rootfs `" << p.rootfs << "`");
    for (size_t i = 0; i < p.mounts.size(); ++i) {
        InitStep step(p.steps, Step::mount_one, static_cast<int>(i));
        refuse_mount_on_procfs(p, rootfd, p.mounts[i]); // CVE-2019-16884 (mount_guard.hpp)
        mount_one(p, rootfd, p.mounts[i]);
    }
    if (p.create_default_devices || !p.devices.empty()) {
        InitStep step(p.steps, Step::create_devices);
        create_devices(p, rootfd);
    }
    // The working directory exists, created inside the rootfs if missing (as runc does).
    int cwd = make_in_root(rootfd, p.cwd.c_str(), true, 0755);
    if (cwd < 0) child_fail(p, errno, Msg() << "create cwd `" << p.cwd << "`");
    ::close(cwd);
}

// 7. Hooks around pivot_root: prestart and createRuntime run in the runtime's
//    namespaces (the parent runs them), then createContainer here.
void run_create_hooks(ChildPlan &p) {
    if (p.has_runtime_hooks) {
        send(p, SyncMsg::RunCreateHooks);
        expect(p, SyncMsg::HooksDone);
    }
    char err[512];
    for (size_t i = 0; i < p.create_container_hooks.size(); ++i) {
        CHILD_STEP(p, "run createContainer hook " << static_cast<long>(i + 1));
        if (run_prepared_hook(p.create_container_hooks[i], p.hook_state.data(), p.hook_state.size(), err,
                              sizeof err) < 0)
            child_fail(p, 0, Msg() << "createContainer hook: " << err);
    }
}

// 8. A pseudo-terminal from the container's own devpts; the master goes to
//    the parent (and on to --console-socket), the slave becomes our stdio.
int setup_console(ChildPlan &p) {
    if (::setsid() < 0) child_fail(p, errno, Msg() << "setsid");
    if (!p.terminal) return -1;
    CHILD_STEP(p, "allocate pseudo-terminal");
    int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) child_fail(p, errno, Msg() << "open `/dev/ptmx`");
    int unlock = 0;
    if (::ioctl(master, TIOCSPTLCK, &unlock) < 0) child_fail(p, errno, Msg() << "unlock pty");
    int slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) child_fail(p, errno, Msg() << "open pty slave");
    if (p.console_rows || p.console_cols) {
        winsize ws{};
        ws.ws_row = p.console_rows;
        ws.ws_col = p.console_cols;
        ::ioctl(slave, TIOCSWINSZ, &ws);
    }
    // /dev/console is the slave, as in runc (the init's terminal only).
    unsigned ptn = 0;
    if (!p.exec_mode && p.setup_rootfs && ::ioctl(master, TIOCGPTN, &ptn) == 0) {
        Msg slave_path;
        slave_path << "/dev/pts/" << ptn;
        int root = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        int fd = make_in_root(root, "/dev/console", false, 0600);
        if (fd >= 0) {
            mount_at_fd(p, fd, slave_path.c_str(), nullptr, MS_BIND, nullptr, "/dev/console");
            ::close(fd);
        }
        ::close(root);
    }
    if (::ioctl(slave, TIOCSCTTY, 0) < 0) child_fail(p, errno, Msg() << "set controlling terminal");
    for (int fd = 0; fd < 3; ++fd)
        if (::dup3(slave, fd, 0) < 0) child_fail(p, errno, Msg() << "dup pty onto stdio");
    ::close(slave);
    return master;
}

// 9. Kernel parameters, then read-only and masked paths, then a read-only
//    root: sysctls are written before /proc/sys becomes read-only.
void finish_rootfs(ChildPlan &p) {
    for (const auto &[path, value] : p.sysctls) {
        CHILD_STEP(p, "sysctl " << path << " = " << value);
        int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ::write(fd, value.data(), value.size()) < 0)
            child_fail(p, errno, Msg() << "write sysctl `" << path << "`");
        ::close(fd);
    }
    apply_readonly_paths(p);
    apply_masked_paths(p);
    if (p.readonly_root) remount_root_readonly(p);
    if (p.root_propagation_after && ::mount(nullptr, "/", nullptr, p.root_propagation_after, nullptr) < 0)
        child_fail(p, errno, Msg() << "set propagation of / after pivot_root");
}

// 10. Process attributes that need privileges we are about to drop.
void set_process_attributes(ChildPlan &p) {
    for (const auto &r : p.rlimits) {
        CHILD_STEP(p, "set " << r.name << " to " << static_cast<long long>(r.limit.rlim_cur) << ":"
                             << static_cast<long long>(r.limit.rlim_max));
        if (::prlimit(0, static_cast<__rlimit_resource>(r.resource), &r.limit, nullptr) < 0)
            child_fail(p, errno, Msg() << "config.json: process.rlimits: set " << r.name << " to "
                                      << static_cast<long long>(r.limit.rlim_cur) << ":"
                                      << static_cast<long long>(r.limit.rlim_max)
                                      << " (raising a hard limit needs CAP_SYS_RESOURCE)");
    }
    if (p.new_session_keyring) {
        // A keyring of its own, so containers do not share the host's.
        if (::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, p.keyring_name.c_str()) < 0 && errno != ENOSYS &&
            errno != EACCES && errno != EPERM && errno != EDQUOT)
            child_fail(p, errno, Msg() << "join session keyring");
    }
    if (p.personality != 0xffffffffUL && ::personality(p.personality) < 0)
        child_fail(p, errno, Msg() << "set personality");
    if (p.set_scheduler) {
        CHILD_STEP(p, "set scheduler policy " << p.sched_attr.policy);
        if (::syscall(SYS_sched_setattr, 0, &p.sched_attr, 0) < 0)
            child_fail(p, errno, Msg() << "config.json: process.scheduler: sched_setattr");
    }
    if (p.io_priority >= 0) {
        CHILD_STEP(p, "set I/O priority " << p.io_priority);
        if (::syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, p.io_priority) < 0)
            child_fail(p, errno, Msg() << "config.json: process.ioPriority: ioprio_set");
    }
}

// execCPUAffinity.final: the last thing before execve.
void set_final_affinity(ChildPlan &p) {
    if (p.cpus_final && ::sched_setaffinity(0, sizeof(cpu_set_t), &*p.cpus_final) < 0)
        child_fail(p, errno, Msg() << "process.execCPUAffinity.final: sched_setaffinity");
}

// 10b. The AppArmor profile the process runs under: the kernel switches to it
//      at execve (the "exec" attribute). Planned only where AppArmor is
//      enabled (plan_build: refused elsewhere). Through the container's /proc,
//      after pivot_root, as runc does.
void apply_apparmor_profile(ChildPlan &p) {
    if (p.apparmor_profile.empty()) return;
    CHILD_STEP(p, "apparmor profile " << p.apparmor_profile.c_str() << " on exec");
    int fd = ::open("/proc/self/attr/apparmor/exec", O_WRONLY | O_CLOEXEC);
    if (fd < 0) fd = ::open("/proc/self/attr/exec", O_WRONLY | O_CLOEXEC); // kernels before 5.8
    Msg cmd;
    cmd << "exec " << p.apparmor_profile.c_str();
    if (fd < 0 || ::write(fd, cmd.c_str(), cmd.size()) < 0)
        child_fail(p, errno, Msg() << "process.apparmorProfile: apply profile `" << p.apparmor_profile.c_str() << "`");
    ::close(fd);
}

// Seccomp without no_new_privs needs CAP_SYS_ADMIN, so it loads before we drop
// capabilities; with no_new_privs it loads last, just before execve, so the
// runtime's own remaining steps never trip the container's filter (runc loads
// it before its exec.fifo wait; crun, like us, at the very end).
void load_seccomp_filter(ChildPlan &p) {
    if (!p.seccomp) return;
    CHILD_STEP(p, "load seccomp filter (" << static_cast<long>(p.seccomp->filter.size()) << " instructions)");
    int listener = load_seccomp(*p.seccomp);
    if (listener < 0) child_fail(p, errno, Msg() << "load seccomp filter");
    if (!p.seccomp->needs_notify_fd) return;
    // SCMP_ACT_NOTIFY: the parent sends the listener fd on to listenerPath
    // (seccomp_notify.hpp). Nothing but this sendmsg runs before it does.
    if (sync_send(p.sync_fd, SyncMsg::SeccompFd, 0, nullptr, 0, listener) < 0)
        child_fail(p, errno, Msg() << "send the seccomp listener fd to the parent");
    expect(p, SyncMsg::SeccompFdDone);
    ::close(listener);
}

// With noNewPrivileges the filter loads late; a notify filter still loads
// before Ready, while the parent listens for its fd (as runc does).
bool notify_filter(const ChildPlan &p) { return p.seccomp && p.seccomp->needs_notify_fd; }

// 11. cwd, user, groups and capabilities. The bounding set is cut while we
//     still have CAP_SETPCAP; KEEPCAPS carries the permitted set across setuid.
void change_user(ChildPlan &p) {
    int chdir_err = ::chdir(p.cwd.c_str()) < 0 ? errno : 0;
    if (!p.no_new_privileges && p.seccomp) {
        stop_watching_parent(p);
        InitStep step(p.steps, Step::load_seccomp_filter); // nested: before the capabilities go
        load_seccomp_filter(p);
    }
    CHILD_STEP(p, "drop capabilities outside the bounding set");
    for (int c = 0; c <= p.cap_last; ++c)
        if (!(p.cap_bounding & (1ULL << c)) && ::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            child_fail(p, errno, Msg() << "drop capability " << c << " from the bounding set");
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) child_fail(p, errno, Msg() << "set keepcaps");
    CHILD_STEP(p, "set user " << static_cast<long>(p.uid) << ":" << static_cast<long>(p.gid));
    if (p.set_groups && ::syscall(SYS_setgroups, p.additional_gids.size(), p.additional_gids.data()) < 0)
        child_fail(p, errno, Msg() << "setgroups");
    if (::syscall(SYS_setresgid, p.gid, p.gid, p.gid) < 0) child_fail(p, errno, Msg() << "setgid " << static_cast<long>(p.gid));
    if (::syscall(SYS_setresuid, p.uid, p.uid, p.uid) < 0) child_fail(p, errno, Msg() << "setuid " << static_cast<long>(p.uid));
    if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) child_fail(p, errno, Msg() << "clear keepcaps");
    rearm_parent_watch(p); // a new uid or gid cleared it
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    data[0].effective = static_cast<uint32_t>(p.cap_effective);
    data[1].effective = static_cast<uint32_t>(p.cap_effective >> 32);
    data[0].permitted = static_cast<uint32_t>(p.cap_permitted);
    data[1].permitted = static_cast<uint32_t>(p.cap_permitted >> 32);
    data[0].inheritable = static_cast<uint32_t>(p.cap_inheritable);
    data[1].inheritable = static_cast<uint32_t>(p.cap_inheritable >> 32);
    CHILD_STEP(p, "set capabilities");
    if (::syscall(SYS_capset, &hdr, data) < 0) child_fail(p, errno, Msg() << "capset");
    // The kernel raises an ambient capability only if it is both permitted
    // and inheritable. runc's own default config lists ambient capabilities
    // that are not inheritable, and runc skips them: so do we.
    uint64_t ambient = p.cap_ambient & p.cap_permitted & p.cap_inheritable;
    for (int c = 0; c <= p.cap_last; ++c)
        if ((ambient & (1ULL << c)) && ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
            child_fail(p, errno, Msg() << "raise ambient capability " << c);
    // A cwd only root could enter was tried before setuid; one only the user
    // can enter is tried now.
    if (chdir_err && ::chdir(p.cwd.c_str()) < 0) child_fail(p, errno, Msg() << "chdir to cwd `" << p.cwd << "`");
    ::umask(p.umask);
    if (p.no_new_privileges) {
        CHILD_STEP(p, "set no_new_privs");
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) child_fail(p, errno, Msg() << "set no_new_privs");
    }
}

// 12. Find args[0] in the container's PATH now, so a typo fails `create`
//     with runc's message instead of failing silently at `start`.
void resolve_executable(ChildPlan &p) {
    const char *name = p.args[0].c_str();
    bool has_slash = false;
    for (const char *q = name; *q; ++q) has_slash |= (*q == '/');
    struct stat st {};
    if (has_slash) {
        if (::stat(name, &st) < 0) child_fail(p, errno, Msg() << "exec: \"" << name << "\": stat " << name);
        if (S_ISDIR(st.st_mode)) child_fail(p, EACCES, Msg() << "exec: \"" << name << "\"");
        p.exec_path = p.args[0];
        return;
    }
    for (const auto &dir : p.path_dirs) {
        Msg cand;
        cand << (dir.empty() ? "." : dir.c_str()) << "/" << name;
        if (::stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(cand.c_str(), X_OK) == 0) {
            p.exec_path.assign(cand.c_str(), cand.size() <= p.exec_path.capacity() ? cand.size() : p.exec_path.capacity());
            return;
        }
    }
    child_fail(p, 0, Msg() << "exec: \"" << name << "\": executable file not found in $PATH");
}

// Mark every descriptor >= lo close-on-exec. close_range does it in one call;
// kernels before 5.11 lack CLOSE_RANGE_CLOEXEC (EINVAL) and before 5.9 the
// call itself (ENOSYS), so walk /proc/self/fd then, and without /proc in the
// container try every number below the open-files limit.
void mark_cloexec_from(ChildPlan &p, unsigned lo) {
    if (::syscall(SYS_close_range, lo, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    int err = errno;
    auto mark = [](int fd) { ::fcntl(fd, F_SETFD, FD_CLOEXEC); };
    if (for_each_open_fd(lo, mark)) return;
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) < 0) child_fail(p, err, Msg() << "mark fds close-on-exec");
    for (rlim_t fd = lo; fd < nofile.rlim_cur && fd < (1u << 20); ++fd) mark(static_cast<int>(fd));
}

// 13. No descriptor of ours reaches the user program (CVE-2024-21626): all
//     fds above the preserved ones are closed on exec. Before the seccomp
//     filter loads (change_user): profiles written before close_range
//     existed (older Docker, containerd and Kubernetes defaults, hand-written
//     allow-lists) deny it, and that must not fail the container.
void close_fds_on_exec(ChildPlan &p) {
    for (int fd = 3; fd < 3 + p.preserve_fds; ++fd) ::fcntl(fd, F_SETFD, 0);
    mark_cloexec_from(p, static_cast<unsigned>(3 + p.preserve_fds));
}

// The state on a hook's stdin. prestart, createRuntime and createContainer
// run during `create`, so they see "creating" (runtime-spec: the status is
// "creating" while the create operation runs; runc says the same).
// startContainer runs during `start`, after create has finished and before
// the user's program runs: "created" (runtime-spec's definition; runc too).
// The parent sent the JSON once; the status is its first "status" key (it
// precedes the annotations), rewritten in place without allocating.
void mark_state_created(std::vector<char> &json) {
    static const char from[] = "\"status\":\"creating\"";
    const size_t len = sizeof from - 1;
    for (size_t i = 0; i + len <= json.size(); ++i) {
        if (::memcmp(json.data() + i, from, len) != 0) continue;
        // "creating" -> "created": drop the 'i', 'n', 'g' and put back 'e', 'd'.
        char *at = json.data() + i + len - 4; // "ing\""
        at[0] = 'e';
        at[1] = 'd';
        ::memmove(at + 2, at + 3, json.size() - (static_cast<size_t>(at - json.data()) + 3));
        json.resize(json.size() - 1); // shrinking: no allocation
        return;
    }
}

// 14. Tell the parent we are ready; with `create`, wait for `start`.
void wait_for_start(ChildPlan &p, int console_master) {
    CHILD_STEP(p, (p.fifo_fd >= 0 ? "ready; waiting for start on exec.fifo" : "ready"));
    send(p, SyncMsg::Ready, console_master);
    if (console_master >= 0) ::close(console_master);
    if (p.fifo_fd >= 0) {
        // `create` has returned; `start` writes one byte to exec.fifo.
        char c;
        ssize_t n;
        do n = ::read(p.fifo_fd, &c, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1) child_fail(p, n < 0 ? errno : EPIPE, Msg() << "wait on exec.fifo");
        // The fd stays open: execve closes it, and that tells `start` we run.
    }
    if (!p.start_container_hooks.empty()) mark_state_created(p.hook_state);
    char err[512];
    for (size_t i = 0; i < p.start_container_hooks.size(); ++i) {
        if (run_prepared_hook(p.start_container_hooks[i], p.hook_state.data(), p.hook_state.size(), err,
                              sizeof err) < 0)
            child_fail(p, 0, Msg() << "startContainer hook: " << err);
    }
}

// Run one step of the init, timed into the plan's StepLog (steps.hpp).
#define INIT_STEP(p, name, ...)                                                                                       \
    do {                                                                                                               \
        InitStep _step((p).steps, Step::name);                                                                         \
        name(__VA_ARGS__);                                                                                             \
    } while (0)

// The user's program replaces us: execve's end is the parent's EOF on the
// sync socket (wait_for_exec), so only its start is recorded here.
[[noreturn]] void exec_user_program(ChildPlan &p) {
    if (p.steps && p.steps->count < StepLog::kMax)
        p.steps->events[p.steps->count++] = StepEvent{static_cast<uint16_t>(Step::execve), -1, 0, step_clock(), 0};
    ::execve(p.exec_path.c_str(), p.argv.data(), p.envp.data());
    int err = errno;
    if (p.steps && p.steps->count <= StepLog::kMax) p.steps->events[p.steps->count - 1].end_ns = step_clock();
    child_fail(p, err, Msg() << "exec `" << p.exec_path << "`");
}

} // namespace

// `exec`: the same process setup, in the namespaces of a running container.
[[noreturn]] void exec_init(ChildPlan &p) {
    INIT_STEP(p, reset_signals);
    INIT_STEP(p, close_inherited_fds, p);
    INIT_STEP(p, watch_parent, p);
    INIT_STEP(p, join_cgroup, p);      // before the cgroup namespace, which would hide our current cgroup
    INIT_STEP(p, set_oom_score_adj, p); // before the user namespace
    INIT_STEP(p, join_namespaces, p);  // the mount namespace makes the container's root our root
    if (p.fork_into_pid_ns) INIT_STEP(p, fork_into_pid_namespace, p); // rootless: pid namespace joined here
    int console = -1;
    {
        InitStep step(p.steps, Step::setup_console);
        console = setup_console(p);
    }
    INIT_STEP(p, set_process_attributes, p);
    INIT_STEP(p, apply_apparmor_profile, p);
    INIT_STEP(p, close_fds_on_exec, p); // before the seccomp filter: it may deny close_range
    INIT_STEP(p, change_user, p);
    INIT_STEP(p, resolve_executable, p);
    INIT_STEP(p, stop_watching_parent, p); // before a late filter, which may deny prctl
    if (p.no_new_privileges && notify_filter(p)) INIT_STEP(p, load_seccomp_filter, p);
    {
        InitStep step(p.steps, Step::wait_for_start);
        send(p, SyncMsg::Ready, console);
        if (console >= 0) ::close(console);
    }
    INIT_STEP(p, set_final_affinity, p);
    if (p.no_new_privileges && !notify_filter(p)) INIT_STEP(p, load_seccomp_filter, p);
    exec_user_program(p);
}

void container_init(ChildPlan &p) {
    if (p.exec_mode) exec_init(p);
    INIT_STEP(p, reset_signals);
    ::umask(0); // device and directory modes are exactly as configured
    INIT_STEP(p, close_inherited_fds, p);
    INIT_STEP(p, watch_parent, p);
    INIT_STEP(p, join_cgroup, p);
    INIT_STEP(p, set_oom_score_adj, p); // before the user namespace makes us its root
    if (!p.fork_into_pid_ns) INIT_STEP(p, wait_for_parent, p); // else after the fork
    INIT_STEP(p, join_namespaces, p);
    INIT_STEP(p, unshare_namespaces, p);
    if (p.fork_into_pid_ns) INIT_STEP(p, fork_into_pid_namespace, p);
    INIT_STEP(p, set_host_names, p);
    INIT_STEP(p, bring_up_loopback, p);
    int rootfd = -1;
    if (p.setup_rootfs) INIT_STEP(p, prepare_rootfs, p, rootfd); // else: the runtime's mount namespace, untouched
    INIT_STEP(p, run_create_hooks, p);
    if (p.setup_rootfs) INIT_STEP(p, pivot_into_rootfs, p);
    else INIT_STEP(p, chroot_into_rootfs, p);
    if (rootfd >= 0) ::close(rootfd);
    int console = -1;
    {
        InitStep step(p.steps, Step::setup_console);
        console = setup_console(p);
    }
    INIT_STEP(p, finish_rootfs, p);
    INIT_STEP(p, set_process_attributes, p);
    INIT_STEP(p, apply_apparmor_profile, p);
    INIT_STEP(p, close_fds_on_exec, p); // before the seccomp filter: it may deny close_range
    INIT_STEP(p, change_user, p);
    INIT_STEP(p, resolve_executable, p);
    INIT_STEP(p, stop_watching_parent, p); // before a late filter, which may deny prctl
    if (p.no_new_privileges && notify_filter(p)) INIT_STEP(p, load_seccomp_filter, p);
    INIT_STEP(p, wait_for_start, p, console);
    INIT_STEP(p, set_final_affinity, p);
    if (p.no_new_privileges && !notify_filter(p)) INIT_STEP(p, load_seccomp_filter, p);
    exec_user_program(p);
}

} // namespace corral
