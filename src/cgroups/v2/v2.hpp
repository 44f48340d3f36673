// v2.hpp — the cgroup v2 backend: one directory in the unified hierarchy,
// the needed controllers enabled in every ancestor's cgroup.subtree_control.
//
// linux.resources is written in v1 terms; the conversions to v2 are runc's
// (see manager.hpp). One file per controller, as for v1.
#pragma once

#include "cgroups/manager.hpp"
#include "cgroups/util.hpp"
#include "cgroups/v2/device_filter.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace corral::cgroups::v2 {

using detail::Knobs;
using detail::check_hugetlb;
using detail::set_hugetlb;
using detail::set_pids;
using detail::stat_pids;

// Where INNER goes under the unified ROOT: absolute → ROOT/INNER; relative →
// under the parent of our own cgroup (runc: our own usually has processes,
// so controllers cannot be enabled below it).
Result<std::string> resolve_path(const Options &options, const std::string &inner);

class V2Manager final : public Manager {
public:
    V2Manager(std::string root, std::string path, Knobs knobs, DeviceFilterHook device_filter = {})
        : root_(std::move(root)), path_(std::move(path)), knobs_(std::move(knobs)),
          device_filter_(std::move(device_filter)) {}

    Mode mode() const override { return Mode::v2; }
    Status create() override;
    Status add_process(pid_t pid) override;
    Status apply(const spec::Resources &resources) override;
    Status destroy() override;
    Status freeze() override;
    Status thaw() override;
    Result<std::vector<pid_t>> pids() const override;
    Result<Stats> stats() const override;
    Result<uint64_t> oom_kill_count() const override;
    std::vector<std::pair<std::string, std::string>> paths() const override { return {{"", path_}}; }

private:
    std::string root_; // the unified mount
    std::string path_; // the container's cgroup
    Knobs knobs_;
    DeviceFilterHook device_filter_; // tests: replaces loading the program
};

// The controllers listed in DIR/cgroup.controllers.
Result<std::vector<std::string>> read_controllers(const std::string &dir);

// --- controllers (dir = the container's cgroup) ---
Status check_cpu(const std::string &dir, const spec::Cpu &cpu);
Status set_cpu(const Knobs &k, const std::string &dir, const spec::Cpu &cpu);
Status set_cpuset(const Knobs &k, const std::string &dir, const spec::Cpu &cpu);
void stat_cpu(const std::string &dir, Stats &s);

Status check_memory(const Knobs &k, const spec::Memory &mem);
Status set_memory(const Knobs &k, const std::string &dir, const spec::Memory &mem);
void stat_memory(const std::string &dir, Stats &s);
Result<uint64_t> memory_oom_kills(const std::string &dir);

Status check_io(const std::string &dir, const spec::BlockIO &io);
Status set_io(const Knobs &k, const std::string &dir, const spec::BlockIO &io);

// hugetlb's limit file: hugetlb.<size>.max (pids and hugetlb are in
// util.hpp: the same under v1 and v2).
inline constexpr std::string_view kHugetlbLimitFile = "max";

// Device rules: an eBPF program attached to the cgroup (device_filter.hpp).
// check_devices() reduces the rules to a policy, refusing what v1 would not
// honour either, before anything is written; set_devices() loads the
// program and attaches it in place of the one before (`update`). When the
// kernel refuses (no bpf(2) in a user namespace, not root), that is a
// warning, as in runc, if we run in a user namespace or not as root, or the
// rules allow everything anyway; otherwise an error.
Result<DevicePolicy> check_devices(const std::vector<spec::DeviceRule> &rules);
Status set_devices(const Knobs &k, const std::string &dir, size_t rule_count, const DevicePolicy &policy,
                   const DeviceFilterHook &hook);

Status set_rdma(const Knobs &k, const std::string &dir, const std::map<std::string, std::string> &rdma_raw);

// linux.resources.unified: written as given, after everything else.
Status check_unified(const std::map<std::string, std::string> &unified, const std::vector<std::string> &controllers);
Status set_unified(const Knobs &k, const std::string &dir, const std::map<std::string, std::string> &unified);

Status freeze(const Knobs &k, const std::string &dir);
Status thaw(const Knobs &k, const std::string &dir);

} // namespace corral::cgroups::v2
