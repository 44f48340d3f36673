// The v2 manager: path, creation with controllers enabled down the tree,
// and the order in which controllers are set.
#include "cgroups/v2/v2.hpp"

#include "common/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <sys/stat.h>

namespace corral::cgroups::v2 {

using detail::file_exists;
using detail::join;

Result<std::string> resolve_path(const Options &options, const std::string &inner) {
    if (inner.front() == '/') return options.root + inner;
    auto lines = CORRAL_TRY_CTX(detail::read_proc_cgroup(options.proc_self_cgroup), "resolve relative cgroupsPath");
    auto own = detail::own_cgroup_of(lines, "");
    if (!own) return Error("resolve relative cgroupsPath: no cgroup v2 line (0::) in `" + options.proc_self_cgroup + "`");
    std::string parent = clean_path(*own);
    if (parent != "/") parent = parent.substr(0, parent.find_last_of('/'));
    if (parent.empty()) parent = "/";
    return options.root + clean_path(parent + "/" + inner);
}

Result<std::vector<std::string>> read_controllers(const std::string &dir) {
    std::string text = CORRAL_TRY(detail::read_knob(dir, "cgroup.controllers"));
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find_first_of(" \n", pos);
        if (end == std::string::npos) end = text.size();
        if (end > pos) out.emplace_back(text.substr(pos, end - pos));
        pos = end + 1;
    }
    return out;
}

namespace {

bool has(const std::vector<std::string> &list, std::string_view name) {
    return std::find(list.begin(), list.end(), name) != list.end();
}

Error not_enabled(std::string_view field, std::string_view controller, const std::string &dir) {
    return Error("linux.resources." + std::string(field) + ": the " + std::string(controller) +
                 " controller is not available in `" + dir + "` (not in its cgroup.controllers)");
}

bool cpu_weight_or_max_set(const spec::Cpu &c) {
    return c.shares || c.quota || c.period || c.burst || c.realtime_runtime || c.realtime_period || c.idle;
}

} // namespace

Status V2Manager::create() {
    if (path_.size() <= root_.size() || path_.compare(0, root_.size(), root_) != 0 || path_[root_.size()] != '/')
        return Error("cgroup `" + path_ + "` is not below `" + root_ + "`");
    // Enable every controller the root offers (runc does the same) in each
    // ancestor, so the leaf gets them all.
    auto controllers = CORRAL_TRY_CTX(read_controllers(root_), "create cgroup");
    std::string enable;
    for (const auto &c : controllers) enable += (enable.empty() ? "+" : " +") + c;

    std::string cur = root_;
    size_t pos = root_.size();
    while (pos < path_.size()) {
        size_t next = path_.find('/', pos + 1);
        if (next == std::string::npos) next = path_.size();
        if (!enable.empty() && !knobs_.write(cur, "cgroup.subtree_control", enable)) {
            // Some may be refused (a parent with processes, a threaded
            // subtree...): enable what can be; apply() says what is missing.
            for (const auto &c : controllers) (void)knobs_.write(cur, "cgroup.subtree_control", "+" + c);
        }
        cur = path_.substr(0, next);
        pos = next;
        if (::mkdir(cur.c_str(), 0755) < 0 && errno != EEXIST)
            return Error::from_errno(errno, "mkdir", cur).context("create cgroup");
    }
    // memory.oom.group stays as the kernel makes it (0: the OOM killer takes
    // one process), as runc leaves it. Killing the whole container is what
    // Kubernetes asks for, and it asks explicitly, through
    // linux.resources.unified {"memory.oom.group": "1"}, which apply() writes
    // (herd does the same); so its per-process opt-out keeps working.
    return ok();
}

Status V2Manager::add_process(pid_t pid) {
    return detail::write_pid(knobs_, path_, pid).context("add process " + std::to_string(pid) + " to cgroup");
}

Status V2Manager::apply(const spec::Resources &r) {
    bool any = r.cpu || r.memory || (r.pids && r.pids->limit != 0) || r.block_io || !r.hugepage_limits.empty() ||
               !r.rdma_raw.empty() || !r.unified.empty() || !r.devices.empty() || r.network;
    if (!any) return ok();

    // 1. Refuse what cannot be done, before writing anything.
    auto controllers = CORRAL_TRY_CTX(read_controllers(path_), "apply cgroup resources");
    if (r.network && (r.network->class_id || !r.network->priorities.empty()))
        return Error("linux.resources.network: net_cls and net_prio do not exist on cgroup v2");
    if (r.cpu) {
        if (cpu_weight_or_max_set(*r.cpu)) {
            if (!has(controllers, "cpu")) return not_enabled("cpu", "cpu", path_);
            CORRAL_TRY(check_cpu(path_, *r.cpu));
        }
        if ((!r.cpu->cpus.empty() || !r.cpu->mems.empty()) && !has(controllers, "cpuset"))
            return not_enabled("cpu.cpus", "cpuset", path_);
    }
    if (r.memory) {
        if (!has(controllers, "memory")) return not_enabled("memory", "memory", path_);
        CORRAL_TRY(check_memory(knobs_, *r.memory));
    }
    if (r.pids && r.pids->limit != 0 && !has(controllers, "pids")) return not_enabled("pids", "pids", path_);
    if (r.block_io) {
        if (!has(controllers, "io")) return not_enabled("blockIO", "io", path_);
        CORRAL_TRY(check_io(path_, *r.block_io));
    }
    if (!r.hugepage_limits.empty()) {
        if (!has(controllers, "hugetlb")) return not_enabled("hugepageLimits", "hugetlb", path_);
        CORRAL_TRY(check_hugetlb(path_, r.hugepage_limits, kHugetlbLimitFile));
    }
    if (!r.rdma_raw.empty() && !has(controllers, "rdma")) return not_enabled("rdma", "rdma", path_);
    std::optional<DevicePolicy> devices;
    if (!r.devices.empty()) devices = CORRAL_TRY(check_devices(r.devices));
    CORRAL_TRY(check_unified(r.unified, controllers));

    // 2. Write, in runc's order; `unified` last so it overrides.
    if (r.pids && r.pids->limit != 0) CORRAL_TRY(set_pids(knobs_, path_, *r.pids));
    if (r.memory) CORRAL_TRY(set_memory(knobs_, path_, *r.memory));
    if (r.block_io) CORRAL_TRY(set_io(knobs_, path_, *r.block_io));
    if (r.cpu && cpu_weight_or_max_set(*r.cpu)) CORRAL_TRY(set_cpu(knobs_, path_, *r.cpu));
    if (devices) CORRAL_TRY(set_devices(knobs_, path_, r.devices.size(), *devices, device_filter_));
    if (r.cpu) CORRAL_TRY(set_cpuset(knobs_, path_, *r.cpu));
    if (!r.hugepage_limits.empty()) CORRAL_TRY(set_hugetlb(knobs_, path_, r.hugepage_limits, kHugetlbLimitFile));
    if (!r.rdma_raw.empty()) CORRAL_TRY(set_rdma(knobs_, path_, r.rdma_raw));
    if (!r.unified.empty()) CORRAL_TRY(set_unified(knobs_, path_, r.unified));
    return ok();
}

Status V2Manager::destroy() { return detail::remove_cgroups({path_}); }

Status V2Manager::freeze() { return v2::freeze(knobs_, path_); }

Status V2Manager::thaw() { return v2::thaw(knobs_, path_); }

Result<std::vector<pid_t>> V2Manager::pids() const { return detail::read_pids_recursive(path_); }

Result<Stats> V2Manager::stats() const {
    if (!file_exists(path_)) return Error::from_errno(ENOENT, "cgroup", path_);
    Stats s;
    stat_cpu(path_, s);
    stat_memory(path_, s);
    stat_pids(path_, s);
    return s;
}

Result<uint64_t> V2Manager::oom_kill_count() const { return memory_oom_kills(path_); }

} // namespace corral::cgroups::v2
