// manager.hpp — the cgroup backends behind one small interface.
//
// A container's cgroup is created before its init process runs user code, the
// init process is placed in it, resource limits are applied, and it is removed
// on delete. Three backends: v2 (unified hierarchy), v1 (one hierarchy per
// controller; what these hosts run) and disabled. detect_cgroup_mode() picks
// one the way runc does: a hybrid host whose cgroup2 holds almost no
// controllers is treated as v1.
#pragma once

#include "corral/error.hpp"
#include "corral/spec.hpp"

#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace corral::cgroups {

enum class Mode { v1, v2, disabled };

struct Stats {
    // The subset runc's `events --stats` reports; filled where the backend knows it.
    uint64_t cpu_usage_total_ns = 0, cpu_usage_user_ns = 0, cpu_usage_kernel_ns = 0;
    uint64_t cpu_throttled_periods = 0, cpu_throttled_time_ns = 0, cpu_periods = 0;
    uint64_t memory_usage = 0, memory_limit = 0, memory_max_usage = 0, memory_failcnt = 0;
    uint64_t memory_cache = 0, memory_rss = 0;
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
    // Apply linux.resources. Called at create and by `update`.
    virtual Status apply(const spec::Resources &resources) = 0;
    // Remove the cgroup (after its processes are gone). Missing is not an error.
    virtual Status destroy() = 0;
    virtual Status freeze() = 0;
    virtual Status thaw() = 0;
    // PIDs in the cgroup (and below), for `ps` and `kill --all`.
    virtual Result<std::vector<pid_t>> pids() const = 0;
    virtual Result<Stats> stats() const = 0;
    // Paths, for state.json and for the cgroup mount inside the container.
    // v2: {"": "/sys/fs/cgroup/<path>"}; v1: {"memory": "/sys/fs/cgroup/memory/<path>", ...}.
    virtual std::vector<std::pair<std::string, std::string>> paths() const = 0;
};

struct Options {
    std::string cgroups_path;   // linux.cgroupsPath; absolute, relative or empty
    std::string container_id;   // used to build the default path when empty
    bool systemd = false;       // --systemd-cgroup (slice:prefix:name); not supported yet
    std::string root = "/sys/fs/cgroup"; // tests may point elsewhere
};

Mode detect_mode(const std::string &root = "/sys/fs/cgroup");
Result<std::unique_ptr<Manager>> make_manager(Mode mode, const Options &options);
// Re-open the manager of an existing container from what state.json recorded.
Result<std::unique_ptr<Manager>> open_manager(Mode mode, const Options &options);

} // namespace corral::cgroups
