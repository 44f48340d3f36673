// linux.resources → systemd unit properties (see properties.hpp for why).
#include "cgroups/systemd/properties.hpp"

#include "cgroups/util.hpp"
#include "cgroups/v2/device_filter.hpp"

namespace corral::cgroups::systemd {

namespace {

constexpr uint64_t kDefaultCpuPeriod = 100000; // the kernel's, in µs

uint64_t limit_value(int64_t v) { return v < 0 ? kInfinity : static_cast<uint64_t>(v); }

// A value of linux.resources.unified: "max" or a number.
Result<uint64_t> unified_value(const std::string &key, const std::string &value) {
    if (value == "max") return kInfinity;
    auto n = detail::parse_uint(value);
    if (!n) return Error("linux.resources.unified." + key + ": `" + value + "` is neither a number nor `max`");
    return *n;
}

// The driver name of MAJOR in /proc/devices's section for TYPE ('c' or 'b').
std::string driver_of(std::string_view proc_devices, char type, int64_t major) {
    std::string_view section = type == 'c' ? "Character devices:" : "Block devices:";
    bool in = false;
    size_t pos = 0;
    while (pos < proc_devices.size()) {
        size_t end = proc_devices.find('\n', pos);
        if (end == std::string_view::npos) end = proc_devices.size();
        std::string_view line = proc_devices.substr(pos, end - pos);
        pos = end + 1;
        if (line.ends_with("devices:")) {
            in = line == section;
            continue;
        }
        if (!in) continue;
        while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        size_t sp = line.find(' ');
        if (sp == std::string_view::npos) continue;
        auto n = detail::parse_uint(line.substr(0, sp));
        if (n && static_cast<int64_t>(*n) == major) return std::string(line.substr(sp + 1));
    }
    return {};
}

} // namespace

Result<std::vector<Property>> device_properties(const std::vector<spec::DeviceRule> &rules,
                                                std::string_view proc_devices) {
    auto policy = CORRAL_TRY(v2::device_policy(rules));
    if (policy.default_allow) return std::vector<Property>{};
    DeviceAllowList allow;
    for (const auto &e : policy.exceptions) {
        std::string kind = e.type == 'c' ? "char" : "block";
        std::string node;
        if (e.major < 0) {
            node = kind + "-*";
        } else if (e.minor < 0) {
            std::string driver = driver_of(proc_devices, e.type, e.major);
            if (driver.empty()) continue; // no driver has this major: nothing to allow
            node = kind + "-" + driver;
        } else {
            node = "/dev/" + kind + "/" + std::to_string(e.major) + ":" + std::to_string(e.minor);
        }
        std::string access;
        if (e.access & v2::kDevRead) access += 'r';
        if (e.access & v2::kDevWrite) access += 'w';
        if (e.access & v2::kDevMknod) access += 'm';
        allow.emplace_back(std::move(node), std::move(access));
    }
    std::vector<Property> p;
    p.push_back({"DevicePolicy", std::string("strict")});
    p.push_back({"DeviceAllow", std::move(allow)});
    return p;
}

std::vector<Property> unit_properties(const UnitPath &unit, const std::string &description, pid_t pid, Mode mode) {
    std::vector<Property> p;
    p.push_back({"Description", description});
    if (unit.is_slice()) {
        // A slice's place is its name; Wants= pulls its parent in, as runc does.
        p.push_back({"Wants", std::vector<std::string>{unit.slice}});
    } else {
        p.push_back({"Slice", unit.slice});
        // The container manages its own cgroup below the scope (nested
        // cgroups, its cgroup namespace): systemd must not touch it.
        p.push_back({"Delegate", true});
        if (pid > 0) p.push_back({"PIDs", std::vector<uint32_t>{static_cast<uint32_t>(pid)}});
    }
    // No ordering against shutdown.target etc.: a container's lifetime is
    // its runtime's business, not the boot transaction's (runc sets it too).
    p.push_back({"DefaultDependencies", false});
    // Accounting turns the controllers on for the unit (and in its slices),
    // so the limits have files to go to.
    p.push_back({"MemoryAccounting", true});
    p.push_back({"CPUAccounting", true});
    p.push_back({"TasksAccounting", true});
    p.push_back({mode == Mode::v2 ? "IOAccounting" : "BlockIOAccounting", true});
    return p;
}

uint64_t cpu_quota_per_sec_usec(int64_t quota, uint64_t period) {
    if (quota <= 0) return kInfinity;
    if (period == 0) period = kDefaultCpuPeriod;
    uint64_t per_sec = static_cast<uint64_t>(quota) * 1000000 / period;
    // systemd keeps CPUQuota= as a percentage of one CPU: round up, so a
    // fractional percent never becomes a smaller quota than asked.
    constexpr uint64_t step = 10000;
    if (per_sec % step != 0) per_sec = (per_sec / step + 1) * step;
    return per_sec;
}

Result<std::vector<uint8_t>> cpu_list_to_mask(std::string_view list) {
    std::vector<uint8_t> mask;
    auto refuse = [&] { return Error("cpu list `" + std::string(list) + "` is malformed"); };
    constexpr uint64_t kMaxCpu = 8192; // far above any real machine; bounds the mask
    size_t pos = 0;
    while (pos < list.size()) {
        size_t comma = list.find(',', pos);
        if (comma == std::string_view::npos) comma = list.size();
        std::string_view item = list.substr(pos, comma - pos);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\n')) item.remove_suffix(1);
        if (item.empty()) return refuse();
        size_t dash = item.find('-');
        auto lo = detail::parse_uint(item.substr(0, dash));
        auto hi = dash == std::string_view::npos ? lo : detail::parse_uint(item.substr(dash + 1));
        if (!lo || !hi || *lo > *hi || *hi >= kMaxCpu) return refuse();
        if (mask.size() < *hi / 8 + 1) mask.resize(*hi / 8 + 1, 0);
        for (uint64_t c = *lo; c <= *hi; ++c) mask[c / 8] |= static_cast<uint8_t>(1u << (c % 8));
        pos = comma + 1;
    }
    if (mask.empty()) return refuse();
    return mask;
}

Result<std::vector<Property>> resource_properties(Mode mode, const spec::Resources &r) {
    std::vector<Property> p;
    const bool v2 = mode == Mode::v2;
    if (r.memory) {
        const auto &m = *r.memory;
        if (m.limit && *m.limit != 0) p.push_back({v2 ? "MemoryMax" : "MemoryLimit", limit_value(*m.limit)});
        if (v2 && m.reservation && *m.reservation != 0) p.push_back({"MemoryLow", limit_value(*m.reservation)});
        if (v2 && m.swap && *m.swap != 0) {
            // memory+swap (the spec's, v1's) → swap alone (v2's).
            auto swap = memory_swap_to_v2(*m.swap, m.limit.value_or(0));
            if (!swap) return std::move(swap).error().context("linux.resources.memory.swap");
            if (*swap != 0) p.push_back({"MemorySwapMax", limit_value(*swap)});
        }
    }
    if (r.cpu) {
        const auto &c = *r.cpu;
        if (c.shares && *c.shares != 0) {
            if (v2)
                p.push_back({"CPUWeight", cpu_shares_to_weight(*c.shares)});
            else
                p.push_back({"CPUShares", *c.shares});
        }
        int64_t quota = c.quota.value_or(0);
        uint64_t period = c.period.value_or(0);
        if (quota != 0 || period != 0) {
            p.push_back({"CPUQuotaPerSecUSec", cpu_quota_per_sec_usec(quota, period)});
            // systemd >= 242 (Debian 11 has 247).
            if (period != 0) p.push_back({"CPUQuotaPeriodUSec", period});
        }
        if (v2 && !c.cpus.empty()) {
            auto mask = cpu_list_to_mask(c.cpus);
            if (!mask) return std::move(mask).error().context("linux.resources.cpu.cpus");
            p.push_back({"AllowedCPUs", std::move(*mask)});
        }
        if (v2 && !c.mems.empty()) {
            auto mask = cpu_list_to_mask(c.mems);
            if (!mask) return std::move(mask).error().context("linux.resources.cpu.mems");
            p.push_back({"AllowedMemoryNodes", std::move(*mask)});
        }
    }
    if (r.pids && r.pids->limit != 0) p.push_back({"TasksMax", limit_value(r.pids->limit)});
    if (!v2 && !r.devices.empty()) {
        std::string proc_devices = CORRAL_TRY(detail::read_knob("/proc", "devices"));
        for (auto &d : CORRAL_TRY(device_properties(r.devices, proc_devices))) p.push_back(std::move(d));
    }
    if (!v2 && r.block_io && r.block_io->weight && *r.block_io->weight != 0)
        p.push_back({"BlockIOWeight", uint64_t{*r.block_io->weight}});
    if (v2) {
        // The unified keys systemd has a property for: without it, systemd
        // would write its own (unlimited) value back over ours one day.
        static const std::pair<const char *, const char *> known[] = {
            {"memory.max", "MemoryMax"}, {"memory.high", "MemoryHigh"}, {"memory.low", "MemoryLow"},
            {"memory.min", "MemoryMin"}, {"memory.swap.max", "MemorySwapMax"}, {"pids.max", "TasksMax"},
            {"cpu.weight", "CPUWeight"},
        };
        for (const auto &[key, value] : r.unified)
            for (const auto &[file, prop] : known)
                if (key == file) p.push_back({prop, CORRAL_TRY(unified_value(key, value))});
    }
    return p;
}

} // namespace corral::cgroups::systemd
