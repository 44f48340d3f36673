// The v1 manager: which hierarchies exist, the container's cgroup in each,
// and the order in which controllers are set.
#include "cgroups/v1/v1.hpp"

#include "common/fs.hpp"

#include <cerrno>
#include <sys/stat.h>
#include <unistd.h>

namespace corral::cgroups::v1 {

using detail::file_exists;
using detail::join;

namespace {

// The hierarchies runc's fs driver joins, as (runc's key, directory under
// /sys/fs/cgroup). Co-mounted controllers ("cpu,cpuacct") share a directory
// that distros reach through per-controller symlinks.
struct Candidate {
    const char *key;
    const char *dir;
};
constexpr Candidate kCandidates[] = {
    {"cpuset", "cpuset"},   {"devices", "devices"}, {"memory", "memory"},   {"cpu", "cpu"},
    {"cpuacct", "cpuacct"}, {"pids", "pids"},       {"blkio", "blkio"},     {"hugetlb", "hugetlb"},
    {"net_cls", "net_cls"}, {"net_prio", "net_prio"}, {"perf_event", "perf_event"},
    {"freezer", "freezer"}, {"rdma", "rdma"},       {"misc", "misc"},       {"name=systemd", "systemd"},
};

bool has_key(const Hierarchy &h, std::string_view key) {
    for (const auto &k : h.keys)
        if (k == key) return true;
    return false;
}

Error not_mounted(std::string_view field, std::string_view controller) {
    return Error("linux.resources." + std::string(field) + ": the " + std::string(controller) +
                 " cgroup controller is not mounted on this host (cgroup v1)");
}

bool cpu_bandwidth_set(const spec::Cpu &c) {
    return c.shares || c.quota || c.period || c.burst || c.realtime_runtime || c.realtime_period || c.idle;
}

} // namespace

Result<std::vector<Hierarchy>> resolve_hierarchies(const Options &options, const std::string &inner) {
    struct Found {
        Hierarchy h;
        dev_t dev;
        ino_t ino;
    };
    std::vector<Found> found;
    found.reserve(12);
    for (const auto &c : kCandidates) {
        std::string link = join(options.root, c.dir);
        struct stat st {};
        if (::lstat(link.c_str(), &st) < 0) continue;
        std::string mount = link;
        if (S_ISLNK(st.st_mode)) {
            // cpu -> cpu,cpuacct: name the hierarchy by its real directory, as runc does.
            char buf[256];
            ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
            if (n > 0 && std::string_view(buf, n).find('/') == std::string_view::npos)
                mount = join(options.root, std::string_view(buf, n));
            if (::stat(mount.c_str(), &st) < 0) continue;
        }
        if (!S_ISDIR(st.st_mode) || !file_exists(join(mount, "cgroup.procs"))) continue;
        bool merged = false;
        for (auto &f : found) {
            if (f.dev == st.st_dev && f.ino == st.st_ino) {
                f.h.keys.emplace_back(c.key);
                merged = true;
                break;
            }
        }
        if (!merged) found.push_back({Hierarchy{{c.key}, mount, {}}, st.st_dev, st.st_ino});
    }
    // A hybrid host also has cgroup2 at <root>/unified; runc joins it too ("").
    std::string unified = join(options.root, "unified");
    if (file_exists(join(unified, "cgroup.controllers"))) found.push_back({Hierarchy{{""}, unified, {}}, 0, 0});

    bool have_devices = false;
    for (const auto &f : found) have_devices = have_devices || has_key(f.h, "devices");
    if (!have_devices)
        return Error("the devices cgroup hierarchy is not mounted under `" + options.root +
                     "`: refusing to run a container without device control");

    std::vector<std::pair<std::string, std::string>> own;
    if (inner.front() != '/') {
        own = CORRAL_TRY_CTX(detail::read_proc_cgroup(options.proc_self_cgroup), "resolve relative cgroupsPath");
    }
    std::vector<Hierarchy> out;
    out.reserve(found.size());
    for (auto &f : found) {
        if (inner.front() == '/') {
            f.h.path = f.h.mount + inner;
        } else {
            auto base = detail::own_cgroup_of(own, f.h.keys.front());
            if (!base) {
                // Not listed in /proc/self/cgroup: we are not in it, so skip it (runc does),
                // except devices, which we never run without.
                if (has_key(f.h, "devices"))
                    return Error("resolve relative cgroupsPath: no devices line in `" + options.proc_self_cgroup + "`");
                continue;
            }
            f.h.path = f.h.mount + clean_path(*base + "/" + inner);
        }
        out.push_back(std::move(f.h));
    }
    return out;
}

std::vector<Hierarchy> hierarchies_from_paths(const std::vector<std::pair<std::string, std::string>> &paths) {
    std::vector<Hierarchy> out;
    for (const auto &[key, path] : paths) {
        bool merged = false;
        for (auto &h : out) {
            if (h.path == path) {
                h.keys.push_back(key);
                merged = true;
                break;
            }
        }
        if (!merged) out.push_back(Hierarchy{{key}, {}, path});
    }
    return out;
}

const std::string *V1Manager::path_of(std::string_view controller) const {
    for (const auto &h : hierarchies_)
        if (has_key(h, controller)) return &h.path;
    return nullptr;
}

std::vector<std::pair<std::string, std::string>> V1Manager::paths() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto &h : hierarchies_)
        for (const auto &k : h.keys) out.emplace_back(k, h.path);
    return out;
}

Status V1Manager::create() {
    for (const auto &h : hierarchies_) {
        if (has_key(h, "cpuset")) {
            CORRAL_TRY_CTX(create_cpuset(knobs_, h.mount, h.path), "create cgroup");
        } else {
            CORRAL_TRY_CTX(mkdir_p(h.path), "create cgroup");
        }
    }
    return ok();
}

Status V1Manager::add_process(pid_t pid) {
    for (const auto &h : hierarchies_)
        CORRAL_TRY_CTX(detail::write_pid(knobs_, h.path, pid), "add process " + std::to_string(pid) + " to cgroup");
    return ok();
}

Status V1Manager::apply(const spec::Resources &r) {
    // 1. Refuse what this host cannot do, before writing anything.
    if (!r.unified.empty())
        return Error("linux.resources.unified: cgroup v2 settings cannot be applied on a cgroup v1 host");
    const std::string *cpu = path_of("cpu"), *cpuset = path_of("cpuset"), *memory = path_of("memory"),
                      *pids = path_of("pids"), *blkio = path_of("blkio"), *devices = path_of("devices"),
                      *hugetlb = path_of("hugetlb"), *net_cls = path_of("net_cls"),
                      *net_prio = path_of("net_prio"), *rdma = path_of("rdma");
    if (r.cpu) {
        if (cpu_bandwidth_set(*r.cpu)) {
            if (!cpu) return not_mounted("cpu", "cpu");
            CORRAL_TRY(check_cpu(*cpu, *r.cpu));
        }
        if ((!r.cpu->cpus.empty() || !r.cpu->mems.empty()) && !cpuset) return not_mounted("cpu.cpus", "cpuset");
    }
    if (r.memory) {
        if (!memory) return not_mounted("memory", "memory");
        CORRAL_TRY(check_memory(*memory, *r.memory));
    }
    if (r.pids && r.pids->limit != 0 && !pids) return not_mounted("pids", "pids");
    if (r.block_io) {
        if (!blkio) return not_mounted("blockIO", "blkio");
        CORRAL_TRY(check_blkio(*blkio, *r.block_io));
    }
    if (!r.devices.empty() && !devices) return not_mounted("devices", "devices");
    if (!r.hugepage_limits.empty()) {
        if (!hugetlb) return not_mounted("hugepageLimits", "hugetlb");
        CORRAL_TRY(check_hugetlb(*hugetlb, r.hugepage_limits, kHugetlbLimitFile));
    }
    if (r.network) {
        if (r.network->class_id && !net_cls) return not_mounted("network.classID", "net_cls");
        if (!r.network->priorities.empty() && !net_prio) return not_mounted("network.priorities", "net_prio");
    }
    if (!r.rdma_raw.empty() && !rdma) return not_mounted("rdma", "rdma");

    // 2. Write, in runc's subsystem order.
    if (r.cpu && cpuset) CORRAL_TRY(set_cpuset(knobs_, *cpuset, *r.cpu));
    if (!r.devices.empty()) CORRAL_TRY(set_devices(knobs_, *devices, r.devices));
    if (r.memory) CORRAL_TRY(set_memory(knobs_, *memory, *r.memory));
    if (r.cpu && cpu_bandwidth_set(*r.cpu)) CORRAL_TRY(set_cpu(knobs_, *cpu, *r.cpu));
    if (r.pids && r.pids->limit != 0) CORRAL_TRY(set_pids(knobs_, *pids, *r.pids));
    if (r.block_io) CORRAL_TRY(set_blkio(knobs_, *blkio, *r.block_io));
    if (!r.hugepage_limits.empty()) CORRAL_TRY(set_hugetlb(knobs_, *hugetlb, r.hugepage_limits, kHugetlbLimitFile));
    if (r.network && r.network->class_id) CORRAL_TRY(set_net_cls(knobs_, *net_cls, *r.network->class_id));
    if (r.network && !r.network->priorities.empty())
        CORRAL_TRY(set_net_prio(knobs_, *net_prio, r.network->priorities));
    if (!r.rdma_raw.empty()) CORRAL_TRY(set_rdma(knobs_, *rdma, r.rdma_raw));
    return ok();
}

Status V1Manager::destroy() {
    // Every hierarchy, even if one fails, so as little as possible is left.
    std::vector<std::string> dirs;
    dirs.reserve(hierarchies_.size());
    for (const auto &h : hierarchies_) dirs.push_back(h.path);
    return detail::remove_cgroups(dirs);
}

Status V1Manager::freeze() {
    const std::string *dir = path_of("freezer");
    if (!dir) return Error("freeze: the freezer cgroup controller is not mounted on this host");
    return v1::freeze(knobs_, *dir);
}

Status V1Manager::thaw() {
    const std::string *dir = path_of("freezer");
    if (!dir) return Error("thaw: the freezer cgroup controller is not mounted on this host");
    return v1::thaw(knobs_, *dir);
}

Result<std::vector<pid_t>> V1Manager::pids() const {
    const std::string *dir = path_of("devices");
    if (!dir) dir = &hierarchies_.front().path;
    return detail::read_pids_recursive(*dir);
}

Result<Stats> V1Manager::stats() const {
    Stats s;
    const std::string *any = path_of("devices");
    if (!any) any = &hierarchies_.front().path;
    if (!file_exists(*any)) return Error::from_errno(ENOENT, "cgroup", *any);
    if (auto *p = path_of("cpu")) stat_cpu(*p, s);
    if (auto *p = path_of("cpuacct")) stat_cpuacct(*p, s);
    if (auto *p = path_of("memory")) stat_memory(*p, s);
    if (auto *p = path_of("pids")) stat_pids(*p, s);
    return s;
}

Result<uint64_t> V1Manager::oom_kill_count() const {
    const std::string *dir = path_of("memory");
    if (!dir) return Error("the memory cgroup controller is not mounted on this host");
    return memory_oom_kills(*dir);
}

} // namespace corral::cgroups::v1
