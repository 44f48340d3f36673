// steps.hpp — the creation steps, one table: what `--debug` times, what
// `--trace FILE` draws, and what docs/internals.md walks through (a test,
// tests/integration/steps_test.cpp, holds the three to this table).
//
// Each row is a function that runs (or a span of them), in the order the
// code runs them: the parent's side (container.cpp, exe_seal.cpp) and the
// init's side (child.cpp, child_rootfs.cpp). A depth-1 row nests inside the
// nearest depth-0 row of its side above it (clone_init spans the init's
// whole setup, so the parent's waits nest in it; the mounts nest in
// prepare_rootfs). A run makes a subset (no exec.fifo for `run`, no hooks
// without hooks...), never another order, with one exception the table
// says: load_seccomp_filter runs inside change_user without
// noNewPrivileges, and before wait_for_start for a notify filter.
//
// The init records its steps with clock_gettime into a StepLog in memory it
// shares with the parent (async-signal-safe: two vDSO calls and stores per
// step); the parent reads it once the init has exec'd (or, for `create`,
// is Ready; `start` reads the rest from the state directory's `steps` file).
#pragma once

#include <cstdint>
#include <ctime>
#include <string_view>

namespace corral {

enum class StepSide : uint8_t { parent, init };

#define CORRAL_STEPS(X)                                                                                              \
    /*  name                        side    depth  source                         spec section / syscalls */           \
    X(seal_own_executable, parent, 0, "runtime/exe_seal.cpp", "runc's CVE-2019-5736 fix", "open_tree mount_setattr execveat") \
    X(load_config, parent, 0, "runtime/container.cpp", "bundle.md: config.json", "openat read")                      \
    X(create_state_dir, parent, 0, "runtime/state.cpp: StateDir::create", "runtime.md: create (id unique)", "mkdir flock") \
    X(plan_cgroup, parent, 0, "runtime/container.cpp", "config-linux.md: cgroupsPath", "")                           \
    X(record_creation, parent, 0, "runtime/container.cpp", "runtime.md: state (creating)", "openat write renameat")   \
    X(create_cgroup, parent, 0, "runtime/container.cpp", "config-linux.md: control groups", "mkdir write")            \
    X(build_plan, parent, 0, "runtime/plan_build.cpp", "config.md, config-linux.md", "openat2 (RESOLVE_IN_ROOT)")     \
    X(open_sync_socket, parent, 0, "runtime/container.cpp", "", "socketpair")                                        \
    X(make_exec_fifo, parent, 0, "runtime/container.cpp", "runtime.md: start", "mkfifo openat")                      \
    X(keep_init_out_of_reach, parent, 0, "runtime/exe_seal.cpp", "runc's CVE-2016-9962 fix", "prctl(PR_SET_DUMPABLE)") \
    X(enter_parent_namespaces, parent, 0, "runtime/container.cpp", "config-linux.md: namespaces (pid, time)", "setns unshare") \
    X(clone_init, parent, 0, "runtime/container.cpp", "config-linux.md: namespaces", "clone3")                       \
    X(record_init_pid, parent, 1, "runtime/container.cpp", "runtime.md: state (pid)", "openat write renameat")        \
    X(write_id_mappings, parent, 1, "runtime/container.cpp", "config-linux.md: user namespace mappings", "write uid_map gid_map") \
    X(wait_for_init_ready, parent, 1, "runtime/container.cpp", "runtime.md: lifecycle 1-8", "recvmsg")              \
    X(send_console_fd, parent, 1, "runtime/console.cpp", "config.md: process.terminal", "connect sendmsg(SCM_RIGHTS)") \
    X(save_state, parent, 1, "runtime/container.cpp", "runtime.md: state (created)", "openat write renameat")         \
    X(write_pid_file, parent, 1, "runtime/container.cpp", "runc's --pid-file", "openat write renameat")             \
    X(wait_for_exec, parent, 1, "runtime/container.cpp", "runtime.md: lifecycle 9", "recvmsg (EOF)")                \
    X(release_init, parent, 0, "runtime/container.cpp", "runtime.md: start", "write poll")                           \
    X(run_poststart_hooks, parent, 0, "runtime/container.cpp", "config.md: poststart", "fork execve wait4")           \
    X(reset_signals, init, 0, "runtime/child.cpp", "", "rt_sigaction rt_sigprocmask")                               \
    X(close_inherited_fds, init, 0, "runtime/child.cpp", "", "close_range")                                         \
    X(watch_parent, init, 0, "runtime/child.cpp", "", "prctl(PR_SET_PDEATHSIG) poll")                              \
    X(join_cgroup, init, 0, "runtime/child.cpp", "config-linux.md: control groups", "write cgroup.procs")            \
    X(set_oom_score_adj, init, 0, "runtime/child.cpp", "config.md: process.oomScoreAdj", "write")                    \
    X(wait_for_parent, init, 0, "runtime/child.cpp", "config-linux.md: user namespace mappings", "recvmsg")          \
    X(join_namespaces, init, 0, "runtime/child.cpp", "config-linux.md: namespaces (path)", "setns")                  \
    X(unshare_namespaces, init, 0, "runtime/child.cpp", "config-linux.md: namespaces", "unshare")                    \
    X(fork_into_pid_namespace, init, 0, "runtime/child.cpp", "config-linux.md: namespaces (pid)", "clone")           \
    X(set_host_names, init, 0, "runtime/child.cpp", "config.md: hostname, domainname", "sethostname setdomainname")  \
    X(bring_up_loopback, init, 0, "runtime/child.cpp", "config-linux.md: network namespace", "ioctl(SIOCSIFFLAGS)")  \
    X(prepare_rootfs, init, 0, "runtime/child.cpp", "config.md: root, mounts; config-linux.md: rootfsPropagation", "mount openat2") \
    X(mount_one, init, 1, "runtime/child_rootfs.cpp", "config.md: mounts", "openat2 mount mount_setattr")             \
    X(create_devices, init, 1, "runtime/child_rootfs.cpp", "config-linux.md: devices", "mknod mount(MS_BIND)")       \
    X(run_create_hooks, init, 0, "runtime/child.cpp", "config.md: createRuntime, createContainer", "fork execve wait4") \
    X(pivot_into_rootfs, init, 0, "runtime/child_rootfs.cpp", "config.md: root; runtime.md: create", "pivot_root umount2") \
    X(chroot_into_rootfs, init, 0, "runtime/child_rootfs.cpp", "config-linux.md: namespaces (no mount namespace)", "chroot") \
    X(setup_console, init, 0, "runtime/child.cpp", "config.md: process.terminal", "setsid ioctl(TIOCGPTPEER)")      \
    X(finish_rootfs, init, 0, "runtime/child.cpp", "config-linux.md: sysctl, maskedPaths, readonlyPaths", "write mount") \
    X(set_process_attributes, init, 0, "runtime/child.cpp", "config.md: process.rlimits, scheduler, ioPriority", "prlimit64 keyctl personality") \
    X(apply_apparmor_profile, init, 0, "runtime/child.cpp", "config.md: process.apparmorProfile", "write attr/exec")  \
    X(close_fds_on_exec, init, 0, "runtime/child.cpp", "runc's CVE-2024-21626 fix", "close_range(CLOSE_RANGE_CLOEXEC)") \
    X(change_user, init, 0, "runtime/child.cpp", "config.md: process.user, capabilities, cwd", "prctl setgroups setresgid setresuid capset") \
    X(resolve_executable, init, 0, "runtime/child.cpp", "config.md: process.args", "stat access")                   \
    X(stop_watching_parent, init, 0, "runtime/child.cpp", "", "prctl(PR_SET_PDEATHSIG, 0)")                         \
    X(wait_for_start, init, 0, "runtime/child.cpp", "runtime.md: start", "sendmsg read(exec.fifo)")                   \
    X(set_final_affinity, init, 0, "runtime/child.cpp", "config.md: process.execCPUAffinity", "sched_setaffinity")   \
    X(load_seccomp_filter, init, 0, "runtime/child.cpp", "config-linux.md: seccomp", "seccomp(SECCOMP_SET_MODE_FILTER)") \
    X(execve, init, 0, "runtime/child.cpp", "runtime.md: start (process.args)", "execve")

enum class Step : uint8_t {
#define CORRAL_STEP_ENUM(name, side, depth, source, spec, syscalls) name,
    CORRAL_STEPS(CORRAL_STEP_ENUM)
#undef CORRAL_STEP_ENUM
};

struct StepInfo {
    Step step;
    const char *name;
    StepSide side;
    uint8_t depth;       // 1: nests in the depth-0 row of its side above it
    const char *source;  // file under src/ (and function when the name is not one)
    const char *spec;    // runtime-spec document and section it implements
    const char *syscalls;
};

inline constexpr StepInfo kStepTable[] = {
#define CORRAL_STEP_ROW(name, side, depth, source, spec, syscalls)                                                   \
    {Step::name, #name, StepSide::side, depth, source, spec, syscalls},
    CORRAL_STEPS(CORRAL_STEP_ROW)
#undef CORRAL_STEP_ROW
};
inline constexpr size_t kStepCount = sizeof kStepTable / sizeof kStepTable[0];

constexpr const StepInfo &step_info(Step s) { return kStepTable[static_cast<size_t>(s)]; }

// CLOCK_MONOTONIC in nanoseconds: the same clock in every process (vDSO,
// async-signal-safe).
inline int64_t step_clock() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// One timed step. end_ns 0: it did not finish (the init failed in it, or
// execve, whose end the parent sees as EOF on the sync socket).
struct StepEvent {
    uint16_t step;    // Step
    int16_t item;     // which mount (mount_one), else -1
    uint32_t reserved;
    int64_t begin_ns;
    int64_t end_ns;
};

// What the init writes, in shared memory (or, for `create`, a file the
// state directory keeps for `start`). Fixed size: no allocation after clone.
struct StepLog {
    static constexpr uint32_t kMax = 250;
    uint32_t magic;   // kMagic once the parent has set it up
    uint32_t count;   // events written (may exceed kMax: those are dropped)
    StepEvent events[kMax];
    static constexpr uint32_t kMagic = 0x53544550; // "STEP"
};

// Records one step of the init into `log` (may be null: not recording).
// Async-signal-safe. A child that _exits in the step leaves end_ns 0.
class InitStep {
public:
    InitStep(StepLog *log, Step s, int item = -1) : log_(log) {
        if (!log_) return;
        idx_ = log_->count++;
        if (idx_ >= StepLog::kMax) return;
        log_->events[idx_] = StepEvent{static_cast<uint16_t>(s), static_cast<int16_t>(item), 0, step_clock(), 0};
    }
    ~InitStep() {
        if (log_ && idx_ < StepLog::kMax) log_->events[idx_].end_ns = step_clock();
    }
    InitStep(const InitStep &) = delete;
    InitStep &operator=(const InitStep &) = delete;

private:
    StepLog *log_;
    uint32_t idx_ = 0;
};

} // namespace corral
