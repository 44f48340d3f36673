// Picking a backend (detect_mode), building managers, runc's conversions,
// and the disabled backend.
#include "cgroups/manager.hpp"

#include "cgroups/systemd/systemd.hpp"
#include "cgroups/util.hpp"
#include "cgroups/v1/v1.hpp"
#include "cgroups/v2/v2.hpp"

#include <linux/magic.h>
#include <sys/statfs.h>

namespace corral::cgroups {

using detail::file_exists;
using detail::join;

Mode detect_mode(const std::string &root) {
    // As runc: the unified hierarchy mounted at the root means v2.
    struct statfs fs {};
    if (::statfs(root.c_str(), &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return Mode::v2;
    // Any v1 controller hierarchy means v1, whatever <root>/unified holds: a
    // hybrid host keeps (almost) all controllers on v1, so refusing it as
    // crun 1.8 does helps no one.
    for (const char *dir : {"memory", "cpu", "devices", "pids", "freezer", "cpuset", "blkio", "cpuacct"})
        if (file_exists(join(join(root, dir), "cgroup.procs"))) return Mode::v1;
    // A cgroup2 tree that is not a mount of its own (tests' fake trees).
    if (file_exists(join(root, "cgroup.controllers"))) return Mode::v2;
    return Mode::disabled;
}

namespace {

// No cgroups on this host: nothing to create; limits cannot be enforced.
class DisabledManager final : public Manager {
public:
    explicit DisabledManager(const Logger *logger) : logger_(logger) {}
    Mode mode() const override { return Mode::disabled; }
    Status create() override { return ok(); }
    Status add_process(pid_t) override { return ok(); }
    Status apply(const spec::Resources &r) override {
        bool any = r.cpu || r.memory || r.pids || r.block_io || !r.hugepage_limits.empty() || r.network ||
                   !r.unified.empty() || !r.rdma_raw.empty();
        if (any && logger_) logger_->warn("cgroups are disabled on this host: linux.resources not applied");
        return ok();
    }
    Status destroy() override { return ok(); }
    Status freeze() override { return Error("cannot freeze: cgroups are disabled on this host"); }
    Status thaw() override { return Error("cannot thaw: cgroups are disabled on this host"); }
    Result<std::vector<pid_t>> pids() const override {
        return Error("cannot list the container's processes: cgroups are disabled on this host");
    }
    Result<Stats> stats() const override { return Error("no statistics: cgroups are disabled on this host"); }
    Result<uint64_t> oom_kill_count() const override { return uint64_t{0}; }
    std::vector<std::pair<std::string, std::string>> paths() const override { return {}; }

private:
    const Logger *logger_;
};

detail::Knobs knobs_of(const Options &o) { return detail::Knobs{o.logger, o.on_write}; }

} // namespace

Result<std::unique_ptr<Manager>> make_manager(Mode mode, const Options &options) {
    if (options.systemd) return systemd::make_systemd_manager(mode, options, false);
    if (mode == Mode::disabled) return std::unique_ptr<Manager>(new DisabledManager(options.logger));
    std::string inner = CORRAL_TRY(detail::inner_path(options));
    if (mode == Mode::v1) {
        auto hierarchies = CORRAL_TRY(v1::resolve_hierarchies(options, inner));
        return std::unique_ptr<Manager>(new v1::V1Manager(std::move(hierarchies), knobs_of(options)));
    }
    std::string path = CORRAL_TRY(v2::resolve_path(options, inner));
    return std::unique_ptr<Manager>(new v2::V2Manager(options.root, std::move(path), knobs_of(options), options.device_filter));
}

Result<std::unique_ptr<Manager>> open_manager(Mode mode, const Options &options) {
    if (options.systemd) return systemd::make_systemd_manager(mode, options, true);
    if (mode == Mode::disabled || options.paths.empty()) return make_manager(mode, options);
    for (const auto &[key, path] : options.paths)
        if (path.empty() || path.front() != '/')
            return Error("recorded cgroup path `" + path + "` (" + key + ") is not absolute");
    if (mode == Mode::v1)
        return std::unique_ptr<Manager>(
            new v1::V1Manager(v1::hierarchies_from_paths(options.paths), knobs_of(options)));
    std::string path = options.paths.front().second;
    for (const auto &[key, p] : options.paths)
        if (key.empty()) path = p;
    return std::unique_ptr<Manager>(new v2::V2Manager(options.root, std::move(path), knobs_of(options), options.device_filter));
}

uint64_t memory_working_set(const Stats &s) {
    return s.memory_inactive_file < s.memory_usage ? s.memory_usage - s.memory_inactive_file : 0;
}

uint64_t cpu_shares_to_weight(uint64_t shares) {
    if (shares == 0) return 0;
    if (shares < 2) shares = 2; // the kernel's minimum; avoids unsigned wrap below
    return 1 + ((shares - 2) * 9999) / 262142;
}

Result<int64_t> memory_swap_to_v2(int64_t swap, int64_t memory) {
    // Memory unlimited and swap unset: both unlimited, as on v1.
    if (memory == -1 && swap == 0) return int64_t{-1};
    if (swap == -1 || swap == 0) return swap; // "max" and "unset" as they are
    if (memory == 0 || memory == -1) return Error("unable to set swap limit without memory limit");
    if (memory < 0) return Error("invalid memory value: " + std::to_string(memory));
    if (swap < memory) return Error("memory+swap limit should be >= memory limit");
    return swap - memory;
}

uint64_t blkio_weight_to_io_weight(uint16_t weight) {
    if (weight == 0) return 0;
    if (weight < 10) weight = 10;
    return 1 + (uint64_t{weight} - 10) * 9999 / 990;
}

std::vector<spec::DeviceRule> default_allowed_devices() {
    auto rule = [](const char *type, std::optional<int64_t> major, std::optional<int64_t> minor, const char *access) {
        spec::DeviceRule r;
        r.allow = true;
        r.type = type;
        r.major = major;
        r.minor = minor;
        r.access = access;
        return r;
    };
    return {
        rule("c", std::nullopt, std::nullopt, "m"), // mknod of any char device
        rule("b", std::nullopt, std::nullopt, "m"), // mknod of any block device
        rule("c", 1, 3, "rwm"),                     // /dev/null
        rule("c", 1, 8, "rwm"),                     // /dev/random
        rule("c", 1, 7, "rwm"),                     // /dev/full
        rule("c", 5, 0, "rwm"),                     // /dev/tty
        rule("c", 1, 5, "rwm"),                     // /dev/zero
        rule("c", 1, 9, "rwm"),                     // /dev/urandom
        rule("c", 136, std::nullopt, "rwm"),        // /dev/pts/*
        rule("c", 5, 2, "rwm"),                     // /dev/ptmx
        rule("c", 10, 200, "rwm"),                  // /dev/net/tun (kept by runc for compatibility)
    };
}

} // namespace corral::cgroups
