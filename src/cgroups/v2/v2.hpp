// v2.hpp — the cgroup v2 backend: one directory in the unified hierarchy,
// the needed controllers enabled in every ancestor's cgroup.subtree_control.
//
// linux.resources is written in v1 terms; the conversions to v2 are runc's
// (see manager.hpp). One file per controller, as for v1.
#pragma once

#include "cgroups/manager.hpp"
#include "cgroups/util.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace corral::cgroups::v2 {

using detail::Knobs;

// Where INNER goes under the unified ROOT: absolute → ROOT/INNER; relative →
// under the parent of our own cgroup (runc: our own usually has processes,
// so controllers cannot be enabled below it).
Result<std::string> resolve_path(const Options &options, const std::string &inner);

class V2Manager final : public Manager {
public:
    V2Manager(std::string root, std::string path, Knobs knobs)
        : root_(std::move(root)), path_(std::move(path)), knobs_(std::move(knobs)) {}

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

Status set_pids(const Knobs &k, const std::string &dir, const spec::Pids &pids);
void stat_pids(const std::string &dir, Stats &s);

Status check_io(const std::string &dir, const spec::BlockIO &io);
Status set_io(const Knobs &k, const std::string &dir, const spec::BlockIO &io);

Status check_hugetlb(const std::string &dir, const std::vector<spec::HugepageLimit> &limits);
Status set_hugetlb(const Knobs &k, const std::string &dir, const std::vector<spec::HugepageLimit> &limits);

// Device rules need an eBPF program on v2, which we do not load yet. Lists
// whose effect is "allow all" (what v2 without a program does) are accepted;
// so is the shape every client sends, "deny all, then allow ..." (runc's
// default plus the runtime's additions), with a warning that it is not
// enforced. Anything else (explicit denies after the first rule, or no
// leading deny-all) is an error rather than silently ignored.
Status check_devices(const Knobs &k, const std::vector<spec::DeviceRule> &rules);

Status set_rdma(const Knobs &k, const std::string &dir, const std::map<std::string, std::string> &rdma_raw);

// linux.resources.unified: written as given, after everything else.
Status check_unified(const std::map<std::string, std::string> &unified, const std::vector<std::string> &controllers);
Status set_unified(const Knobs &k, const std::string &dir, const std::map<std::string, std::string> &unified);

Status freeze(const Knobs &k, const std::string &dir);
Status thaw(const Knobs &k, const std::string &dir);

} // namespace corral::cgroups::v2
