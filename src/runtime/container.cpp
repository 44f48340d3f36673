// container.cpp — create, start and run: the parent's side of making a container.
//
// create_container() below is the whole creation order on one screen. Each
// step is a named function; each step that changes the system registers its
// undo in `Creation`, so a failure at any step leaves nothing behind.
// The child's side of the same story is container_init() in child.cpp; the
// messages between the two are in sync.hpp.
#include "common/fs.hpp"
#include "corral/container.hpp"
#include "runtime/child_util.hpp"
#include "runtime/console.hpp"
#include "runtime/exe_seal.hpp"
#include "runtime/hooks.hpp"
#include "runtime/plan_build.hpp"
#include "runtime/rootless.hpp"
#include "runtime/seccomp_notify.hpp"
#include "runtime/state.hpp"
#include "runtime/step_recorder.hpp"
#include "runtime/sync.hpp"

#include <cerrno>
#include <csignal>
#include <ctime>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace corral {
namespace {

enum class Mode { create, run };

// Blocks every signal for its lifetime: a foreground `run` or `exec` blocks
// them before clone, forwards them from a signalfd after, and the child
// unblocks them for itself.
class BlockAllSignals {
public:
    BlockAllSignals() {
        sigset_t all;
        sigfillset(&all);
        ::sigprocmask(SIG_BLOCK, &all, &old_);
    }
    ~BlockAllSignals() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }
    BlockAllSignals(const BlockAllSignals &) = delete;
    BlockAllSignals &operator=(const BlockAllSignals &) = delete;

private:
    sigset_t old_{};
};

// Everything a create has made so far, undone in reverse unless committed.
struct Creation {
    const Context &ctx;
    StepRecorder &steps;
    std::optional<StateDir> state;
    std::unique_ptr<cgroups::Manager> cgroup;
    bool cgroup_made = false;
    pid_t child = -1;
    bool committed = false;

    Creation(const Context &c, StepRecorder &s) : ctx(c), steps(s) {}
    Creation(const Creation &) = delete;
    ~Creation() {
        if (committed) return;
        if (child > 0) {
            ctx.log.debug("undo: kill init " + std::to_string(child));
            ::kill(child, SIGKILL);
            while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {}
        }
        if (cgroup && cgroup_made) {
            ctx.log.debug("undo: remove cgroup");
            if (auto st = cgroup->destroy(); !st) ctx.log.warn("cleanup: " + st.error().message());
        }
        if (state) {
            ctx.log.debug("undo: remove state directory " + state->path());
            if (auto st = state->remove(); !st) ctx.log.warn("cleanup: " + st.error().message());
        }
    }
};

// What create hands to run (and nothing else needs).
struct Created {
    pid_t pid = -1;
    UniqueFd sync;       // parent end of the sync socket
    UniqueFd console;    // pty master when terminal and no console socket
    spec::Spec spec;
    StateRecord record;
};

Result<std::string> absolute_bundle(const std::string &bundle) {
    char real[PATH_MAX];
    if (!::realpath(bundle.empty() ? "." : bundle.c_str(), real))
        return Error::from_errno(errno, "bundle", bundle);
    return std::string(real);
}

// Run one step of the table (steps.hpp), timed when --debug or --trace is on.
template <typename F> auto timed(StepRecorder &r, Step s, F f) {
    ParentStep step(r, s);
    return f();
}

// CVE-2019-5736: may re-exec us (exe_seal.hpp). The re-executed image times
// the step from when the first one began sealing.
Status seal_timed(const Context &ctx, StepRecorder &steps) {
    int64_t t0 = step_clock(), first = 0;
    CORRAL_TRY(seal_own_executable(ctx, &first));
    steps.add(Step::seal_own_executable, first > 0 ? first : t0, step_clock());
    steps.arg(Step::seal_own_executable, "reexec", first > 0 ? "true" : "false");
    return ok();
}

// --- the steps of create, in order ----------------------------------------

Result<spec::Spec> load_config(const Context &ctx, const std::string &bundle, std::string &text) {
    std::string file = bundle + "/config.json";
    ctx.log.debug("load config " + file);
    text = CORRAL_TRY(read_file(file));
    spec::Spec s = CORRAL_TRY(spec::parse_spec(text, file));
    CORRAL_TRY(spec::validate_spec(s, file));
    for (const auto &w : spec::spec_warnings(s, file)) ctx.log.warn(w);
    return s;
}

Status check_terminal_options(const spec::Spec &s, const CreateOptions &opts, Mode mode, bool detach) {
    bool terminal = s.process && s.process->terminal;
    bool detached = mode == Mode::create || detach;
    // runc's messages with our name: clients show them to users but match
    // none of them (docs/compatibility.md: containerd matches "container not
    // running", "no such process", "does not exist"; podman "does not exist").
    if (terminal && detached && opts.console_socket.empty())
        return Error("cannot allocate tty if corral will detach without setting console socket");
    if (!terminal && !opts.console_socket.empty())
        return Error("cannot use console socket if corral will not detach or allocate tty");
    return ok();
}

// Where the cgroup will be; nothing is made yet.
Status plan_cgroup(Creation &c, const std::string &id, const spec::Spec &s) {
    cgroups::Options o;
    o.cgroups_path = s.linux ? s.linux->cgroups_path : std::string();
    o.container_id = id;
    o.systemd = c.ctx.systemd_cgroup;
    o.logger = &c.ctx.log; // warnings (e.g. device rules not enforceable) reach the user
    auto mode = cgroups::detect_mode();
    c.cgroup = CORRAL_TRY(cgroups::make_manager(mode, o));
    return ok();
}

// state.json saying "creating", written before each thing it names exists:
// a create killed at any later point leaves a record that `list` shows and
// `delete` removes entirely (the cgroup it names, the init whose pid it
// gains after clone). Until the create finishes, its lock tells `state` that
// the create is alive (state.cpp: live_status).
Status record_creation(Creation &c, StateRecord &rec) {
    if (c.cgroup) {
        rec.cgroup_mode = c.cgroup->mode();
        rec.cgroup_paths = c.cgroup->paths();
    } else {
        rec.cgroup_mode = cgroups::Mode::disabled;
        rec.cgroup_paths.clear();
    }
    return c.state->write(rec);
}

Status create_cgroup(Creation &c, const spec::Spec &s) {
    if (!c.cgroup) return ok();
    const std::string &path = s.linux ? s.linux->cgroups_path : std::string();
    c.ctx.log.debug("create cgroup " + (path.empty() ? std::string("(default path)") : path));
    c.cgroup_made = true; // create() may fail half-way: destroy what it made
    spec::Resources resources = effective_resources(s);
    if (is_rootless(c.ctx)) {
        // Rootless (rootless.hpp): a cgroup only where we may make one, and
        // never device rules, which need CAP_SYS_ADMIN on the host.
        resources = without_device_rules(std::move(resources));
        if (auto st = c.cgroup->create(); !st) {
            if (!is_permission_error(st.error())) return std::move(st).error().context("create cgroup");
            if (std::string limit = first_limit_set(resources); !limit.empty())
                return Error("config.json: linux.resources." + limit + ": cannot set limits, the container could not "
                             "create its cgroup (rootless): " + st.error().message());
            c.ctx.log.debug("rootless: no cgroup for the container, the cgroup is not writable: " + st.error().message());
            if (auto d = c.cgroup->destroy(); !d) c.ctx.log.debug("rootless: " + d.error().message());
            c.cgroup.reset();
            c.cgroup_made = false;
            return ok();
        }
    } else {
        CORRAL_TRY_CTX(c.cgroup->create(), "create cgroup");
    }
    c.ctx.log.debug("apply cgroup resources");
    CORRAL_TRY_CTX(c.cgroup->apply(resources), "apply linux.resources");
    return ok();
}

// On cgroup v2 the init is cloned straight into its cgroup directory.
Result<UniqueFd> open_cgroup_for_clone(const cgroups::Manager *mgr) {
    if (!mgr || mgr->mode() != cgroups::Mode::v2 || mgr->paths().empty()) return UniqueFd();
    return open_file(mgr->paths().front().second, O_PATH | O_DIRECTORY);
}

// The init joins its cgroup itself by writing to these (see sync.hpp for why).
Result<std::vector<UniqueFd>> open_cgroup_procs(const cgroups::Manager &mgr) {
    std::vector<UniqueFd> fds;
    for (const auto &[controller, path] : mgr.paths()) {
        (void)controller;
        fds.push_back(CORRAL_TRY(open_file(path + "/cgroup.procs", O_WRONLY)));
    }
    return fds;
}

Result<std::pair<UniqueFd, UniqueFd>> open_sync_socket() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return Error::from_errno(errno, "socketpair for the init process");
    return std::pair{UniqueFd(sv[0]), UniqueFd(sv[1])};
}

// exec.fifo: the init blocks reading it until `start` writes one byte. Its
// existence is what makes a container "created" rather than "running".
Result<UniqueFd> make_exec_fifo(const StateDir &dir) {
    std::string path = dir.path() + "/exec.fifo";
    if (::mkfifo(path.c_str(), 0600) < 0) return Error::from_errno(errno, "mkfifo", path);
    // O_RDWR opens a fifo without waiting for a writer (Linux).
    return open_file(path, O_RDWR);
}

// Keep our own descriptors clear of fds 3..3+N-1 that --preserve-fds passes on.
Status move_fd_above(UniqueFd &fd, int floor) {
    if (!fd || fd.get() >= floor) return ok();
    int n = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, floor);
    if (n < 0) return Error::from_errno(errno, "dup fd above preserved fds");
    fd.reset(n);
    return ok();
}

// pid and time namespaces apply to a process's future children, so the
// parent joins or creates them just before clone (unless the init joins the
// pid namespace itself: ChildPlan::fork_into_pid_ns).
Status enter_parent_namespaces(const Context &ctx, const spec::Spec &s, bool init_joins_pid) {
    if (!s.linux) return ok();
    for (const auto &ns : s.linux->namespaces) {
        unsigned long flag = namespace_flag(ns.type);
        if (flag == CLONE_NEWPID && init_joins_pid) continue;
        if ((flag == CLONE_NEWPID || flag == CLONE_NEWTIME) && !ns.path.empty()) {
            ctx.log.debug("join " + ns.type + " namespace " + ns.path + " for the init process");
            UniqueFd fd = CORRAL_TRY(open_file(ns.path, O_RDONLY));
            if (::setns(fd.get(), static_cast<int>(flag)) < 0)
                return Error::from_errno(errno, "join " + ns.type + " namespace", ns.path);
        }
        if (flag == CLONE_NEWTIME && ns.path.empty()) {
            ctx.log.debug("create time namespace and write its offsets");
            if (::unshare(CLONE_NEWTIME) < 0) return Error::from_errno(errno, "unshare time namespace");
            std::string offsets;
            for (const auto &[clock, off] : s.linux->time_offsets)
                offsets += clock + " " + std::to_string(off.secs) + " " + std::to_string(off.nanosecs) + "\n";
            if (!offsets.empty()) CORRAL_TRY(write_file("/proc/self/timens_offsets", offsets));
        }
    }
    return ok();
}

// cgroup_dir >= 0: clone straight into that cgroup (v2). A process born in
// its cgroup needs no migration, and on cgroup v1 the first migration waits
// for an RCU grace period: tens of milliseconds on a small VM.
Result<pid_t> clone_init(const Context &ctx, ChildPlan &plan, int cgroup_dir = -1) {
    if (ctx.log.enabled(LogLevel::debug)) {
        Msg m;
        m << "clone init process into new namespaces: ";
        append_namespace_names(m, plan.clone_flags);
        ctx.log.debug(m.c_str());
    }
    seal_plan(plan);
    clone_args args{};
    args.flags = plan.clone_flags;
    args.exit_signal = SIGCHLD;
    if (cgroup_dir >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(cgroup_dir);
    }
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) return Error::from_errno(errno, "clone3 the init process");
    if (pid == 0) container_init(plan); // never returns
    ctx.log.debug("init process is pid " + std::to_string(pid));
    return static_cast<pid_t>(pid);
}

// A rootless clone3 into a cgroup v2 directory refused for lack of permission
// (EACCES, EPERM): the kernel's delegation rule wants write access to the
// target's cgroup.procs and to that of the nearest common ancestor of the
// caller's cgroup and the target. A delegated subtree grants both only to a
// caller that lives inside it.
bool refused_cgroup_move(const Context &ctx, int cgroup_dir, const Error &e) {
    return cgroup_dir >= 0 && is_rootless(ctx) && (e.err() == EACCES || e.err() == EPERM);
}

std::string delegation_hint(const std::string &cgroup) {
    return "rootless: cannot move a process into the cgroup `" + cgroup +
           "`: on cgroup v2 the caller must live inside the delegated subtree (the user must own cgroup.procs of the "
           "common ancestor of its cgroup and the container's; e.g. start the runtime with systemd-run --user "
           "--scope)";
}

// Direct writes as root; rootless: setgroups, and newuidmap/newgidmap when needed.
Status write_id_mappings(const Context &ctx, pid_t pid, const spec::Spec &s) {
    return write_user_ns_maps(ctx.log, pid, *s.linux, is_rootless(ctx));
}

Status run_runtime_hooks(const Context &ctx, const spec::Spec &s, const State &st, bool create_phase) {
    if (!s.hooks) return ok();
    if (create_phase) {
        CORRAL_TRY(run_hooks(s.hooks->prestart, "prestart", st, ctx.log));
        CORRAL_TRY(run_hooks(s.hooks->create_runtime, "createRuntime", st, ctx.log));
    }
    return ok();
}

// SCMP_ACT_NOTIFY: pass the init's listener fd on to the seccomp agent at
// listenerPath, then let the init go on (seccomp_notify.hpp).
Status forward_seccomp_fd(const Context &ctx, const spec::Spec &s, const State &st, pid_t pid, int listener, int sync) {
    if (listener < 0 || !s.linux || !s.linux->seccomp)
        return Error("init process sent a seccomp listener fd the config does not ask for");
    const spec::Seccomp &sc = *s.linux->seccomp;
    ctx.log.debug("send the seccomp listener fd to " + sc.listener_path);
    CORRAL_TRY(send_to_seccomp_listener(sc.listener_path, container_process_state_json(st, pid, sc.listener_metadata),
                                        listener));
    if (sync_send(sync, SyncMsg::SeccompFdDone) < 0) return Error::from_errno(errno, "send SeccompFdDone");
    return ok();
}

Status record_init_pid(Creation &c, StateRecord &rec) {
    rec.oci.pid = c.child;
    rec.init_start_time = process_start_time(c.child);
    return c.state->write(rec);
}

// Follow the init through its setup until it reports Ready (or fails).
Result<UniqueFd> wait_for_init_ready(Creation &c, const spec::Spec &s, int sync, State &st, StateRecord &rec) {
    for (;;) {
        SyncHeader h{};
        char buf[2048];
        int passed = -1;
        int r = sync_recv(sync, &h, buf, sizeof buf - 1, &passed);
        UniqueFd fd(passed);
        if (r < 0) return Error::from_errno(errno, "read from init process");
        if (r == 0) return Error("init process exited before it was ready");
        switch (h.type) {
        case SyncMsg::Error:
            buf[h.len] = 0;
            return Error(buf, h.err);
        case SyncMsg::NeedIdMaps:
            CORRAL_TRY(write_id_mappings(c.ctx, c.child, s));
            if (sync_send(sync, SyncMsg::IdMapsDone) < 0) return Error::from_errno(errno, "send IdMapsDone");
            break;
        case SyncMsg::RunCreateHooks:
            CORRAL_TRY(run_runtime_hooks(c.ctx, s, st, true));
            if (sync_send(sync, SyncMsg::HooksDone) < 0) return Error::from_errno(errno, "send HooksDone");
            break;
        case SyncMsg::SeccompFd:
            CORRAL_TRY(forward_seccomp_fd(c.ctx, s, st, c.child, fd.get(), sync));
            break;
        case SyncMsg::Forked: {
            // ChildPlan::fork_into_pid_ns: the new process is the container's
            // init; the first one exits. It waits for Proceed (and the hooks'
            // state, now with its pid).
            pid_t first = c.child;
            c.child = static_cast<pid_t>(h.err);
            st.pid = c.child;
            c.ctx.log.debug("init forked into its pid namespace: init process is pid " + std::to_string(c.child));
            while (::waitpid(first, nullptr, 0) < 0 && errno == EINTR) {}
            CORRAL_TRY(record_init_pid(c, rec));
            bool hooks = s.hooks && (!s.hooks->create_container.empty() || !s.hooks->start_container.empty());
            std::string hook_json = hooks ? hook_state_json(st) : std::string();
            if (sync_send(sync, SyncMsg::Proceed, 0, hook_json.data(), static_cast<uint32_t>(hook_json.size())) < 0)
                return Error::from_errno(errno, "send Proceed to init");
            break;
        }
        case SyncMsg::Ready:
            return fd;
        default:
            return Error(std::string("unexpected message from init: ") + sync_msg_name(h.type));
        }
    }
}

Status save_state(Creation &c, const StateRecord &rec, const std::string &config_text) {
    c.ctx.log.debug("save state " + c.state->path() + "/state.json");
    CORRAL_TRY(write_file_atomic(c.state->path() + "/config.json", config_text));
    return c.state->write(rec);
}

Status write_pid_file(const std::string &path, pid_t pid) {
    if (path.empty()) return ok();
    // Atomically, as runc does: a reader never sees an empty pid file.
    return write_file_atomic(path, std::to_string(pid), 0644).context("--pid-file");
}

Result<Created> create_container(const Context &ctx, const std::string &id, const CreateOptions &opts, Mode mode,
                                 bool detach, StepRecorder &steps) {
    Creation c(ctx, steps);
    Created out;
    std::string config_text;
    const std::string bundle = CORRAL_TRY(absolute_bundle(opts.bundle));
    ctx.log.debug("create container `" + id + "` from bundle " + bundle);

    // 1. Read and check everything before touching the system.
    out.spec = CORRAL_TRY(timed(steps, Step::load_config, [&] { return load_config(ctx, bundle, config_text); }));
    const spec::Spec &s = out.spec;
    CORRAL_TRY(check_terminal_options(s, opts, mode, detach));
    // 2. Claim the id: the state directory, locked.
    ctx.log.debug("create state directory under " + ctx.root);
    c.state.emplace(CORRAL_TRY(timed(steps, Step::create_state_dir, [&] { return StateDir::create(ctx.root, id); })));
    // 3. Record the container as "creating", with the cgroup it is about to
    //    get, before making anything (record_creation).
    StateRecord &rec = out.record;
    rec.oci = State{spec::kOciVersion, id, ContainerStatus::creating, 0, bundle, {}, {}, s.annotations, ""};
    rec.oci.created = now_rfc3339_nano();
    rec.created_by_run = mode == Mode::run;
    rec.cgroups_path = s.linux ? s.linux->cgroups_path : std::string();
    CORRAL_TRY(timed(steps, Step::plan_cgroup, [&] { return plan_cgroup(c, id, s); }));
    CORRAL_TRY(timed(steps, Step::record_creation, [&] { return record_creation(c, rec); }));
    // 4. The cgroup, with its limits, before any process runs in it.
    CORRAL_TRY(timed(steps, Step::create_cgroup, [&] { return create_cgroup(c, s); }));
    // 5. Everything the init will need, decided and allocated now.
    ChildPlan plan = CORRAL_TRY(timed(steps, Step::build_plan, [&] { return build_plan({ctx, id, bundle, s, opts, c.cgroup.get()}); }));
    steps.describe_plan(plan);
    // 6. The channel to the init, and exec.fifo for `start`.
    auto [parent_end, child_end] = CORRAL_TRY(timed(steps, Step::open_sync_socket, [&] { return open_sync_socket(); }));
    UniqueFd fifo;
    if (mode == Mode::create) {
        ParentStep step(steps, Step::make_exec_fifo);
        fifo = CORRAL_TRY(make_exec_fifo(*c.state));
        // The init's step timings, kept for `start` (steps.hpp).
        if (auto st = steps.create_init_log_file(c.state->path() + "/steps"); !st)
            ctx.log.debug("steps: " + st.error().message());
    }
    plan.steps = steps.init_log();
    int floor = 3 + plan.preserve_fds;
    CORRAL_TRY(move_fd_above(child_end, floor));
    CORRAL_TRY(move_fd_above(fifo, floor));
    plan.sync_fd = child_end.get();
    plan.fifo_fd = fifo.get();
    // The state the in-container hooks read on stdin (pid filled in below).
    // ociVersion: the spec version corral implements, as runc reports its own.
    State hook_state{spec::kOciVersion, id, ContainerStatus::creating, 0, bundle, plan.rootfs, {}, s.annotations, ""};
    bool container_hooks = !plan.create_container_hooks.empty() || !plan.start_container_hooks.empty();
    if (container_hooks) plan.hook_state.resize(hook_state_json(hook_state).size() + 32);
    plan.wait_for_proceed = container_hooks || (plan.new_user_ns && !plan.user_ns_late);
    UniqueFd cgroup_dir = CORRAL_TRY(open_cgroup_for_clone(c.cgroup.get()));
    if (c.cgroup && !cgroup_dir) plan.cgroup_procs = CORRAL_TRY(open_cgroup_procs(*c.cgroup));
    // 7. pid/time namespaces that apply to the init as our child. Not
    //    dumpable from here on, so the container cannot open the init's
    //    /proc/PID/exe or fds while it is corral (exe_seal.hpp).
    CORRAL_TRY(timed(steps, Step::keep_init_out_of_reach, [&] { return keep_init_out_of_reach(plan); }));
    CORRAL_TRY(timed(steps, Step::enter_parent_namespaces, [&] { return enter_parent_namespaces(ctx, s, plan.fork_into_pid_ns); }));
    // 8. Clone the init into its new namespaces. It waits for us (and dies
    //    with us until it is Ready: child.cpp, watch_parent). Its pid goes
    //    into the record at once, while it sets itself up.
    // clone_init's step lasts until the init has exec'd (run) or create
    // returns: the parent's steps meanwhile nest in it (steps.hpp).
    steps.begin(Step::clone_init);
    auto cloned = clone_init(ctx, plan, cgroup_dir.get());
    steps.arg(Step::clone_init, "clone3_flags",
              json_quote(clone_flags_text(plan.clone_flags | (cgroup_dir ? CLONE_INTO_CGROUP : 0))));
    if (!cloned && refused_cgroup_move(ctx, cgroup_dir.get(), cloned.error()))
        // As runc: a cgroup we made but cannot put the init in is an error
        // (the limits would hold nothing); the cleanup removes it.
        return std::move(cloned).error().context(delegation_hint(c.cgroup->paths().front().second));
    c.child = CORRAL_TRY(std::move(cloned));
    steps.set_init_pid(c.child);
    out.pid = c.child;
    hook_state.pid = c.child;
    child_end.reset();
    fifo.reset();
    plan.cgroup_procs.clear();
    CORRAL_TRY(timed(steps, Step::record_init_pid, [&] { return record_init_pid(c, rec); }));
    // 9. Id maps for a user namespace made by clone, and the hooks' state:
    //    the init waits for these (and only for these).
    if (plan.new_user_ns && !plan.user_ns_late)
        CORRAL_TRY(timed(steps, Step::write_id_mappings, [&] { return write_id_mappings(ctx, c.child, s); }));
    if (plan.wait_for_proceed && !plan.fork_into_pid_ns) { // else once it has forked (Forked)
        std::string hook_json = container_hooks ? hook_state_json(hook_state) : std::string();
        if (sync_send(parent_end.get(), SyncMsg::Proceed, 0, hook_json.data(), static_cast<uint32_t>(hook_json.size())) < 0)
            return Error::from_errno(errno, "send Proceed to init");
    }
    // 10. The init sets up its namespaces and rootfs; we run the hooks it asks for.
    UniqueFd console = CORRAL_TRY(timed(steps, Step::wait_for_init_ready,
                                        [&] { return wait_for_init_ready(c, s, parent_end.get(), hook_state, rec); }));
    out.pid = c.child; // a new one if the init forked into its pid namespace
    steps.set_init_pid(c.child);
    // 11. Hand the terminal to whoever asked for it.
    if (console && !opts.console_socket.empty()) {
        ctx.log.debug("send pty master to console socket " + opts.console_socket);
        CORRAL_TRY(timed(steps, Step::send_console_fd, [&] { return send_console_fd(opts.console_socket, console.get()); }));
        console.reset();
    }
    // 12. Record the container as created, so other commands find it.
    std::string created = rec.oci.created;
    rec.oci = hook_state;
    rec.oci.status = ContainerStatus::created;
    rec.oci.created = created;
    rec.init_start_time = process_start_time(c.child);
    rec.cgroup_mode = c.cgroup ? c.cgroup->mode() : cgroups::Mode::disabled;
    rec.cgroup_paths = c.cgroup ? c.cgroup->paths() : decltype(rec.cgroup_paths){};
    if (!c.cgroup) rec.cgroups_path.clear();
    if (s.linux)
        for (const auto &ns : s.linux->namespaces)
            if (const char *name = namespace_proc_name(ns.type))
                rec.namespace_paths.emplace_back(ns.type, ns.path.empty() ? "/proc/" + std::to_string(c.child) + "/ns/" + name : ns.path);
    CORRAL_TRY(timed(steps, Step::save_state, [&] { return save_state(c, rec, config_text); }));
    if (!opts.pid_file.empty())
        CORRAL_TRY(timed(steps, Step::write_pid_file, [&] { return write_pid_file(opts.pid_file, c.child); }));
    ctx.log.debug("container `" + id + "` created, init pid " + std::to_string(c.child));
    out.sync = std::move(parent_end);
    out.console = std::move(console);
    c.committed = true;
    return out;
}

// Wait for the init's execve: EOF on the socket (it is O_CLOEXEC) means success.
Status wait_for_exec(int sync) {
    SyncHeader h{};
    char buf[2048];
    int r = sync_recv(sync, &h, buf, sizeof buf - 1);
    if (r == 0) return ok();
    if (r < 0) return Error::from_errno(errno, "read from init process");
    if (h.type != SyncMsg::Error) return Error(std::string("unexpected message from init: ") + sync_msg_name(h.type));
    buf[h.len] = 0;
    return Error(buf, h.err);
}

// Write the byte the init waits for on exec.fifo, then wait until it has
// exec'd: poststart hooks run, and `start` returns, only once the user's
// program runs (runtime-spec). The init's fifo fd is a writer (O_RDWR) and is
// closed by execve, so a read end of ours that was open before any writer of
// ours sees POLLHUP exactly then, without needing /proc inside the container.
Status release_init(const std::string &fifo_path) {
    UniqueFd reader = CORRAL_TRY(open_file(fifo_path, O_RDONLY | O_NONBLOCK));
    {
        UniqueFd writer = CORRAL_TRY(open_file(fifo_path, O_WRONLY | O_NONBLOCK));
        CORRAL_TRY(write_all(writer.get(), "0", fifo_path));
    }
    pollfd pfd{reader.get(), 0, 0}; // only POLLHUP: the byte itself is the init's to read
    while (::poll(&pfd, 1, -1) < 0)
        if (errno != EINTR) return Error::from_errno(errno, "wait for the init to exec", fifo_path);
    int unread = 0;
    if (::ioctl(reader.get(), FIONREAD, &unread) == 0 && unread > 0)
        return Error("container not running"); // the init was gone before it read the byte
    return ok();
}

void run_poststart_hooks(const Context &ctx, const spec::Spec &s, const State &st) {
    if (!s.hooks) return;
    // runtime-spec: a failing poststart hook is logged; the container goes on.
    if (auto r = run_hooks(s.hooks->poststart, "poststart", st, ctx.log); !r)
        ctx.log.warn("poststart hook failed: " + r.error().message());
}

int exit_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 255;
}

} // namespace

Status create(const Context &ctx, const std::string &id, const CreateOptions &opts) {
    StepRecorder steps(ctx, "create");
    CORRAL_TRY(seal_timed(ctx, steps)); // CVE-2019-5736: may re-exec us (exe_seal.hpp)
    auto r = create_container(ctx, id, opts, Mode::create, true, steps);
    steps.end_open(Step::clone_init); // the init waits for `start` now
    if (!r) return std::move(r).error();
    return ok();
}

Status start(const Context &ctx, const std::string &id) {
    StateDir dir = CORRAL_TRY(StateDir::open(ctx.root, id));
    StateRecord rec = CORRAL_TRY(dir.read());
    switch (live_status(dir, rec)) {
    case ContainerStatus::created: break;
    case ContainerStatus::stopped: return Error("cannot start a container that has stopped");
    case ContainerStatus::running: return Error("cannot start an already running container");
    case ContainerStatus::paused: return Error("cannot start a container in the paused state");
    case ContainerStatus::creating: return Error("cannot start a container in the creating state");
    }
    std::string fifo_path = dir.path() + "/exec.fifo";
    ctx.log.debug("start container `" + id + "`: release init through " + fifo_path);
    StepRecorder steps(ctx, "start");
    steps.set_init_pid(rec.oci.pid);
    if (auto st = steps.open_init_log_file(dir.path() + "/steps"); !st) ctx.log.debug("steps: " + st.error().message());
    CORRAL_TRY(timed(steps, Step::release_init, [&] { return release_init(fifo_path); }));
    steps.execve_done(step_clock());
    ::unlink(fifo_path.c_str());
    rec.oci.status = ContainerStatus::running;
    CORRAL_TRY(dir.write(rec));
    std::string config_text = CORRAL_TRY(read_file(dir.path() + "/config.json"));
    auto s = spec::parse_spec(config_text, dir.path() + "/config.json");
    if (s && s->hooks && !s->hooks->poststart.empty()) {
        ParentStep step(steps, Step::run_poststart_hooks);
        run_poststart_hooks(ctx, *s, rec.oci);
    }
    return ok();
}

Result<int> run(const Context &ctx, const std::string &id, const RunOptions &opts) {
    StepRecorder steps(ctx, "run");
    CORRAL_TRY(seal_timed(ctx, steps)); // CVE-2019-5736: may re-exec us (exe_seal.hpp)
    // Signals arriving before the container runs are forwarded, not lost.
    BlockAllSignals blocked;

    // With `run` the init does not wait after Ready: it execs at once.
    Created c = CORRAL_TRY(create_container(ctx, id, opts, Mode::run, opts.detach, steps));
    auto cleanup_on_error = [&](Error e) -> Error {
        if (auto r = remove(ctx, id, true); !r) ctx.log.warn("cleanup: " + r.error().message());
        return e;
    };
    if (auto st = timed(steps, Step::wait_for_exec, [&] { return wait_for_exec(c.sync.get()); }); !st) {
        while (::waitpid(c.pid, nullptr, 0) < 0 && errno == EINTR) {}
        return cleanup_on_error(std::move(st).error());
    }
    steps.execve_done(step_clock());
    steps.end_open(Step::clone_init);
    {
        auto dir = StateDir::open(ctx.root, id);
        if (dir) {
            c.record.oci.status = ContainerStatus::running;
            (void)dir->write(c.record);
        }
    }
    if (c.spec.hooks && !c.spec.hooks->poststart.empty()) {
        ParentStep step(steps, Step::run_poststart_hooks);
        run_poststart_hooks(ctx, c.spec, c.record.oci);
    }
    steps.report(); // before the container's own life: the steps are done
    if (opts.detach) return 0;

    int status = CORRAL_TRY(forward_until_exit(ctx, c.pid, c.console.get()));
    ctx.log.debug("container `" + id + "` exited with status " + std::to_string(exit_code(status)));
    if (!opts.keep) {
        if (auto r = remove(ctx, id, true); !r) return std::move(r).error();
    }
    return exit_code(status);
}

} // namespace corral

// --- exec: another process in a running container --------------------------

namespace corral {
namespace {

// The process to run: --process FILE, or the container's own process with
// runc's flag overrides.
Result<spec::Process> exec_process(const spec::Spec &s, const ExecOptions &o, std::string &source) {
    if (!o.process_file.empty()) {
        source = o.process_file;
        std::string text = CORRAL_TRY(read_file(o.process_file));
        return spec::parse_process(text, o.process_file);
    }
    source = "exec";
    if (o.args.empty()) return Error("exec: a command is required (or --process FILE)");
    spec::Process p = s.process ? *s.process : spec::Process{};
    p.args = o.args;
    p.terminal = o.tty.value_or(false);
    p.console_size.reset();
    if (!o.cwd.empty()) p.cwd = o.cwd;
    for (const auto &e : o.env) {
        std::string name = e.substr(0, e.find('='));
        std::erase_if(p.env, [&](const std::string &x) { return x.substr(0, x.find('=')) == name; });
        p.env.push_back(e);
    }
    if (!o.user.empty()) {
        char *end = nullptr;
        unsigned long uid = std::strtoul(o.user.c_str(), &end, 10);
        if (end == o.user.c_str() || (*end && *end != ':'))
            return Error("exec: --user: expected uid[:gid], got \"" + o.user + "\"");
        p.user.uid = static_cast<uint32_t>(uid);
        if (*end == ':') {
            const char *g = end + 1;
            unsigned long gid = std::strtoul(g, &end, 10);
            if (end == g || *end) return Error("exec: --user: expected uid[:gid], got \"" + o.user + "\"");
            p.user.gid = static_cast<uint32_t>(gid);
        }
    }
    if (!o.additional_gids.empty()) p.user.additional_gids = o.additional_gids;
    if (!o.caps.empty()) {
        if (!p.capabilities) p.capabilities.emplace();
        for (const auto &c : o.caps)
            for (auto *set : {&p.capabilities->bounding, &p.capabilities->effective, &p.capabilities->permitted,
                              &p.capabilities->inheritable, &p.capabilities->ambient})
                set->push_back(c);
    }
    if (o.no_new_privs) p.no_new_privileges = true;
    return p;
}

// pid and time namespaces are entered by the parent: they apply to children.
Status enter_container_pid_namespace(const Context &ctx, const StateRecord &rec) {
    for (const auto &[type, path] : rec.namespace_paths) {
        unsigned long flag = namespace_flag(type);
        if (flag != CLONE_NEWPID && flag != CLONE_NEWTIME) continue;
        ctx.log.debug("join " + type + " namespace " + path + " for the exec'd process");
        UniqueFd fd = CORRAL_TRY(open_file(path, O_RDONLY));
        if (::setns(fd.get(), static_cast<int>(flag)) < 0)
            return Error::from_errno(errno, "join " + type + " namespace", path);
    }
    return ok();
}

} // namespace

Result<int> exec(const Context &ctx, const std::string &id, const ExecOptions &opts) {
    StepRecorder steps(ctx, "exec");
    CORRAL_TRY(seal_timed(ctx, steps)); // CVE-2019-5736: may re-exec us (exe_seal.hpp)
    BlockAllSignals blocked; // forwarded to the process once it runs

    pid_t pid = -1;
    UniqueFd sync, console;
    {
        // The container's lock is held while we set up, not while we wait.
        StateDir dir = CORRAL_TRY(StateDir::open(ctx.root, id));
        StateRecord rec = CORRAL_TRY(dir.read());
        rec.oci.status = live_status(dir, rec); // for a seccomp agent, if any
        switch (rec.oci.status) {
        case ContainerStatus::stopped: return Error("cannot exec in a stopped container");
        case ContainerStatus::paused: return Error("cannot exec in a paused container");
        default: break;
        }
        std::string config_path = dir.path() + "/config.json";
        std::string config_text = CORRAL_TRY(read_file(config_path));
        spec::Spec s = CORRAL_TRY(spec::parse_spec(config_text, config_path));
        std::string source;
        spec::Process proc = CORRAL_TRY(exec_process(s, opts, source));
        if (proc.terminal && opts.detach && opts.console_socket.empty())
            return Error("cannot allocate tty if corral will detach without setting console socket");
        if (!proc.terminal && !opts.console_socket.empty())
            return Error("cannot use console socket if corral will not detach or allocate tty");
        ctx.log.debug("exec in container `" + id + "`: " + proc.args[0]);
        ChildPlan plan = CORRAL_TRY(timed(steps, Step::build_plan, [&] {
            return build_exec_plan({ctx, id, s, proc, rec.namespace_paths, opts.preserve_fds, source, rec.oci.rootfs});
        }));
        steps.describe_plan(plan);
        plan.steps = steps.init_log();
        UniqueFd cgroup_dir;
        if (rec.cgroup_mode == cgroups::Mode::v2 && !rec.cgroup_paths.empty())
            cgroup_dir = CORRAL_TRY(open_file(rec.cgroup_paths.front().second, O_PATH | O_DIRECTORY));
        else
            for (const auto &[controller, path] : rec.cgroup_paths) {
                (void)controller;
                plan.cgroup_procs.push_back(CORRAL_TRY(open_file(path + "/cgroup.procs", O_WRONLY)));
            }
        auto [parent_end, child_end] = CORRAL_TRY(timed(steps, Step::open_sync_socket, [&] { return open_sync_socket(); }));
        CORRAL_TRY(move_fd_above(child_end, 3 + plan.preserve_fds));
        plan.sync_fd = child_end.get();
        // oom_score_adj first, here, for the child to inherit: the child is
        // non-dumpable from its first instruction, and the /proc/self files
        // of a non-dumpable process belong to the host's root, which a
        // rootless caller cannot open (runc's nsexec also sets it in its
        // first stage).
        if (plan.set_oom_score_adj) {
            ctx.log.debug("exec: oom_score_adj " + plan.oom_score_adj + ", inherited by the process");
            UniqueFd adj(::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC));
            if (!adj || ::write(adj.get(), plan.oom_score_adj.data(), plan.oom_score_adj.size()) < 0)
                return Error::from_errno(errno, "exec: set oom_score_adj to " + plan.oom_score_adj +
                                                    " (lowering it needs CAP_SYS_RESOURCE)");
            plan.set_oom_score_adj = false;
        }
        // Non-dumpable before we appear in the container's pid namespace, so
        // its processes cannot open /proc/PID/exe of a corral copy (CVE-2019-5736).
        ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        if (!plan.fork_into_pid_ns)
            CORRAL_TRY(timed(steps, Step::enter_parent_namespaces, [&] { return enter_container_pid_namespace(ctx, rec); }));
        steps.begin(Step::clone_init);
        steps.arg(Step::clone_init, "clone3_flags",
                  json_quote(clone_flags_text(plan.clone_flags | (cgroup_dir ? CLONE_INTO_CGROUP : 0))));
        auto cloned = clone_init(ctx, plan, cgroup_dir.get());
        if (!cloned && refused_cgroup_move(ctx, cgroup_dir.get(), cloned.error())) {
            // Rootless, from outside the delegated subtree: the process runs
            // in the caller's cgroup instead, as runc's rootless exec does
            // (it runs as the user, whose limits it escapes no more than any
            // other process the user starts).
            ctx.log.debug(delegation_hint(rec.cgroup_paths.front().second) + "; the process stays in ours");
            cloned = clone_init(ctx, plan);
        }
        pid = CORRAL_TRY(std::move(cloned));
        steps.set_init_pid(pid);
        child_end.reset();
        plan.cgroup_procs.clear();
        sync = std::move(parent_end);
        if (plan.fork_into_pid_ns) {
            // Rootless: the child joined the pid namespace and forked into it
            // (ChildPlan::fork_into_pid_ns); the new process waits for Proceed.
            SyncHeader fh{};
            char fbuf[2048];
            int r = sync_recv(sync.get(), &fh, fbuf, sizeof fbuf - 1);
            while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {} // the first child exits either way
            if (r <= 0 || fh.type != SyncMsg::Forked)
                return r < 0 ? Error::from_errno(errno, "read from exec'd process")
                       : r == 0 ? Error("exec'd process exited before it was ready")
                       : fh.type == SyncMsg::Error ? (fbuf[fh.len] = 0, Error(fbuf, fh.err))
                       : Error(std::string("unexpected message from exec'd process: ") + sync_msg_name(fh.type));
            pid = static_cast<pid_t>(fh.err);
            steps.set_init_pid(pid);
            if (sync_send(sync.get(), SyncMsg::Proceed) < 0) {
                Error e = Error::from_errno(errno, "send Proceed to exec'd process");
                ::kill(pid, SIGKILL);
                while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {}
                return e;
            }
        }
        // The child reports Ready (with its pty master) just before execve;
        // a notify filter's listener fd comes before (seccomp_notify.hpp).
        size_t waiting = steps.begin(Step::wait_for_init_ready);
        SyncHeader h{};
        char buf[2048];
        int passed = -1;
        int r = 0;
        Status forwarded = ok();
        while (forwarded && (r = sync_recv(sync.get(), &h, buf, sizeof buf - 1, &passed)) > 0 &&
               h.type == SyncMsg::SeccompFd) {
            UniqueFd listener(passed);
            passed = -1;
            forwarded = forward_seccomp_fd(ctx, s, rec.oci, pid, listener.get(), sync.get());
        }
        console.reset(passed);
        steps.end(waiting);
        if (!forwarded || r <= 0 || h.type != SyncMsg::Ready) {
            Error e = !forwarded ? std::move(forwarded).error()
                      : r < 0 ? Error::from_errno(errno, "read from exec'd process")
                      : r == 0 ? Error("exec'd process exited before it was ready")
                      : h.type == SyncMsg::Error ? (buf[h.len] = 0, Error(buf, h.err))
                      : Error(std::string("unexpected message from exec'd process: ") + sync_msg_name(h.type));
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {}
            return e;
        }
        if (console && !opts.console_socket.empty()) {
            CORRAL_TRY(timed(steps, Step::send_console_fd, [&] { return send_console_fd(opts.console_socket, console.get()); }));
            console.reset();
        }
    }
    if (auto st = timed(steps, Step::wait_for_exec, [&] { return wait_for_exec(sync.get()); }); !st) {
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {}
        return std::move(st).error();
    }
    steps.execve_done(step_clock());
    steps.end_open(Step::clone_init);
    // After the process runs (runc writes it then too); not a step of the
    // table, whose write_pid_file comes before wait_for_exec.
    CORRAL_TRY(write_pid_file(opts.pid_file, pid));
    steps.report();
    if (opts.detach) return 0;
    int status = CORRAL_TRY(forward_until_exit(ctx, pid, console.get()));
    return exit_code(status);
}

} // namespace corral
