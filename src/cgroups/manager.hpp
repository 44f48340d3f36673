// manager.hpp — the cgroup backends behind one small interface.
//
// A container's cgroup is created before its init process runs user code, the
// init process is placed in it, resource limits are applied, and it is removed
// on delete. Three backends: v2 (unified hierarchy), v1 (one hierarchy per
// controller; what these hosts run) and disabled; with Options::systemd, the
// systemd driver (systemd/) wraps the v2 or v1 one. detect_cgroup_mode() picks
// one the way runc does: a hybrid host whose cgroup2 holds almost no
// controllers is treated as v1.
#pragma once

#include "corral/error.hpp"
#include "corral/log.hpp"
#include "corral/spec.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

struct bpf_insn;

namespace corral::cgroups {

enum class Mode { v1, v2, disabled };

struct Stats {
    // The subset runc's `events --stats` reports; filled where the backend knows it.
    // As in runc, swap_* are memory+swap on both versions (v1 memsw; v2
    // swap.current + memory.current). Limits are the kernel's numbers: v2
    // "max" reads as UINT64_MAX, v1 "unlimited" as its large page-aligned
    // value; pids_limit "max" is 0 (runc's "no limit").
    uint64_t cpu_usage_total_ns = 0, cpu_usage_user_ns = 0, cpu_usage_kernel_ns = 0;
    uint64_t cpu_throttled_periods = 0, cpu_throttled_time_ns = 0, cpu_periods = 0;
    uint64_t memory_usage = 0, memory_limit = 0, memory_max_usage = 0, memory_failcnt = 0;
    uint64_t memory_cache = 0, memory_rss = 0;
    // Page cache not recently used, which reclaim drops first (v1
    // memory.stat total_inactive_file, v2 inactive_file): what the kubelet
    // takes away from usage for the working set.
    uint64_t memory_inactive_file = 0;
    uint64_t swap_usage = 0, swap_limit = 0;
    uint64_t pids_current = 0, pids_limit = 0;
    uint64_t oom_kill = 0;
};

class Manager {
public:
    virtual ~Manager() = default;

    virtual Mode mode() const = 0;
    // Create the cgroup (and its parents) in every hierarchy we use.
    virtual Status create() = 0;
    // Move a process into the cgroup.
    virtual Status add_process(pid_t pid) = 0;
    // Apply linux.resources. Called at create and by `update`. Only the fields
    // that are set are written. At create, call it before add_process() so
    // cpuset and realtime settings are in place when the process joins.
    // Settings the backend cannot apply (hugetlb without the controller,
    // `unified` on v1, ...) fail before anything is written.
    virtual Status apply(const spec::Resources &resources) = 0;
    // Remove the cgroup (after its processes are gone). Missing is not an error.
    virtual Status destroy() = 0;
    virtual Status freeze() = 0;
    virtual Status thaw() = 0;
    // PIDs in the cgroup (and below), for `ps` and `kill --all`.
    virtual Result<std::vector<pid_t>> pids() const = 0;
    virtual Result<Stats> stats() const = 0;
    // OOM kills in the cgroup so far (v1: memory.oom_control `oom_kill`,
    // kernel >= 4.13; v2: memory.events `oom_kill`). Cheaper than stats().
    virtual Result<uint64_t> oom_kill_count() const {
        auto s = stats();
        if (!s) return std::move(s).error();
        return s->oom_kill;
    }
    // Paths, for state.json and for the cgroup mount inside the container.
    // v2: {"": "/sys/fs/cgroup/<path>"}; v1: {"memory": "/sys/fs/cgroup/memory/<path>", ...}
    // with runc's keys: one per controller (co-mounted ones share a path),
    // "name=systemd", and "" for the cgroup2 hierarchy of a hybrid host.
    virtual std::vector<std::pair<std::string, std::string>> paths() const = 0;
};

// Sees each successful knob write (full path, value), in order.
using WriteObserver = std::function<void(const std::string &path, std::string_view value)>;

// cgroup v2 only: called with the cgroup's directory and the eBPF device
// program instead of loading and attaching it (fake trees in unit tests are
// no cgroupfs).
using DeviceFilterHook = std::function<Status(const std::string &dir, const std::vector<bpf_insn> &program)>;

struct Options {
    // linux.cgroupsPath, resolved as runc does: absolute "/a/b" → <hierarchy>/a/b;
    // relative "a/b" → under the caller's own cgroup (v1: per hierarchy, from
    // /proc/self/cgroup; v2: under the *parent* of the caller's cgroup, which
    // usually holds no processes); empty → relative "<container_id>".
    std::string cgroups_path;
    std::string container_id;   // used to build the default path when empty
    // --systemd-cgroup: cgroups_path is "slice:prefix:name" and the cgroup a
    // transient systemd unit (systemd/systemd.hpp).
    bool systemd = false;
    std::string root = "/sys/fs/cgroup"; // tests may point elsewhere
    // open_manager only: the paths() recorded in state.json. Used as they
    // are: a relative cgroupsPath resolves against the caller's cgroup, which
    // at `delete` time may not be the one `create` ran in.
    std::vector<std::pair<std::string, std::string>> paths;
    // Where relative paths resolve from (tests point it at a fake file).
    std::string proc_self_cgroup = "/proc/self/cgroup";
    // Warnings about settings ignored (deprecated kernel memory...). May be null.
    const Logger *logger = nullptr;
    // For tests and tracing; may be empty.
    WriteObserver on_write;
    // For tests; empty: the device program is loaded for real.
    DeviceFilterHook device_filter;
};

Mode detect_mode(const std::string &root = "/sys/fs/cgroup");
// Resolve the paths; nothing is created until create().
Result<std::unique_ptr<Manager>> make_manager(Mode mode, const Options &options);
// Re-open the manager of an existing container from what state.json recorded.
Result<std::unique_ptr<Manager>> open_manager(Mode mode, const Options &options);

// --- conversions (runc's), public for tests and `features` ---
// cpu.shares [2, 262144] → cpu.weight [1, 10000], linear: 1 + (s-2)*9999/262142.
// This is runc's ConvertCPUSharesToCgroupV2Value up to 1.3; runc since
// opencontainers/runc#4785 and crun >= 1.23 use a quadratic fit instead
// (1024 → 100 rather than 39). We keep the linear one for now.
uint64_t cpu_shares_to_weight(uint64_t shares);
// The memory working set as the kubelet (cAdvisor) computes it for
// eviction and `kubectl top`: usage minus inactive file pages, never below 0.
uint64_t memory_working_set(const Stats &s);
// linux.resources.memory.swap is memory+swap (v1 memsw); v2 memory.swap.max
// is swap only. Returns -1 for "max", 0 for "unset", else swap - memory.
Result<int64_t> memory_swap_to_v2(int64_t swap, int64_t memory);
// blkio.weight [10, 1000] → io.weight [1, 10000], when io.bfq.weight is absent.
uint64_t blkio_weight_to_io_weight(uint16_t weight);

// The device rules runc appends after linux.resources.devices (specconv's
// AllowedDevices, 1.1+): mknod of any c and b device; rwm on null, random,
// full, tty, zero, urandom, pts/* (136:*), ptmx (5:2) and net/tun (10:200).
std::vector<spec::DeviceRule> default_allowed_devices();

} // namespace corral::cgroups
