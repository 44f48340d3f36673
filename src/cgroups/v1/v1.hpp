// v1.hpp — the cgroup v1 backend: one hierarchy per controller (or per group
// of co-mounted controllers), the container's cgroup created in each.
//
// One file per controller: each has a check_*() run for every controller
// before anything is written (so an unsupported setting fails without a
// half-applied update), a set_*() that writes only what is set, and where it
// has numbers a stat_*() for `events --stats`.
#pragma once

#include "cgroups/manager.hpp"
#include "cgroups/util.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace corral::cgroups::v1 {

using detail::Knobs;
using detail::check_hugetlb;
using detail::set_hugetlb;
using detail::set_pids;
using detail::stat_pids;

// One mounted hierarchy and the container's cgroup in it.
struct Hierarchy {
    std::vector<std::string> keys; // runc's names: "cpu", "cpuacct"; "name=systemd"; "" (hybrid cgroup2)
    std::string mount;             // the hierarchy's root; empty when re-opened from state.json
    std::string path;              // the container's cgroup directory
};

// Find the hierarchies mounted under ROOT (/sys/fs/cgroup/<name>, following
// the cpu -> cpu,cpuacct symlinks) and place the cgroup INNER in each.
Result<std::vector<Hierarchy>> resolve_hierarchies(const Options &options, const std::string &inner);
// Rebuild the hierarchies from the paths() recorded in state.json.
std::vector<Hierarchy> hierarchies_from_paths(const std::vector<std::pair<std::string, std::string>> &paths);

class V1Manager final : public Manager {
public:
    V1Manager(std::vector<Hierarchy> hierarchies, Knobs knobs)
        : hierarchies_(std::move(hierarchies)), knobs_(std::move(knobs)) {}

    Mode mode() const override { return Mode::v1; }
    Status create() override;
    Status add_process(pid_t pid) override;
    Status apply(const spec::Resources &resources) override;
    Status destroy() override;
    Status freeze() override;
    Status thaw() override;
    Result<std::vector<pid_t>> pids() const override;
    Result<Stats> stats() const override;
    Result<uint64_t> oom_kill_count() const override;
    std::vector<std::pair<std::string, std::string>> paths() const override;

    // The container's cgroup in the hierarchy of CONTROLLER; null if not mounted.
    const std::string *path_of(std::string_view controller) const;

private:
    std::vector<Hierarchy> hierarchies_;
    Knobs knobs_;
};

// --- controllers (dir = the container's cgroup in that hierarchy) ---
Status check_cpu(const std::string &dir, const spec::Cpu &cpu);
Status set_cpu(const Knobs &k, const std::string &dir, const spec::Cpu &cpu);
void stat_cpu(const std::string &dir, Stats &s);
void stat_cpuacct(const std::string &dir, Stats &s);

// Create DIR (and its parents below MOUNT) with cpuset.cpus/mems copied
// from the parent where empty: a task cannot join a cpuset without them.
Status create_cpuset(const Knobs &k, const std::string &mount, const std::string &dir);
Status set_cpuset(const Knobs &k, const std::string &dir, const spec::Cpu &cpu);

Status check_memory(const std::string &dir, const spec::Memory &mem);
Status set_memory(const Knobs &k, const std::string &dir, const spec::Memory &mem);
void stat_memory(const std::string &dir, Stats &s);
Result<uint64_t> memory_oom_kills(const std::string &dir);

Status check_blkio(const std::string &dir, const spec::BlockIO &io);
Status set_blkio(const Knobs &k, const std::string &dir, const spec::BlockIO &io);

// Rule as devices.allow/deny takes it: "c 1:3 rwm", "a *:* rwm".
std::string device_rule_string(const spec::DeviceRule &rule);
Status set_devices(const Knobs &k, const std::string &dir, const std::vector<spec::DeviceRule> &rules);

Status freeze(const Knobs &k, const std::string &dir);
Status thaw(const Knobs &k, const std::string &dir);

// hugetlb's limit file: hugetlb.<size>.limit_in_bytes (pids and hugetlb are in
// util.hpp: the same under v1 and v2).
inline constexpr std::string_view kHugetlbLimitFile = "limit_in_bytes";

Status set_net_cls(const Knobs &k, const std::string &dir, uint32_t class_id);
Status set_net_prio(const Knobs &k, const std::string &dir, const std::vector<spec::NetworkPriority> &prios);

Status set_rdma(const Knobs &k, const std::string &dir, const std::map<std::string, std::string> &rdma_raw);

} // namespace corral::cgroups::v1
