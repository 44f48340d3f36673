// stats.cpp — cgroup statistics in runc's `events` shape (see stats.hpp), and
// the JSON of stats and events.
//
// What runc 1.1 reads, per controller:
//   v1 cpuacct  cpuacct.usage, .usage_percpu, .usage_all (per-CPU user/system), .stat (ticks)
//   v1 cpu      cpu.stat: nr_periods, nr_throttled, throttled_time
//   v1 cpuset   cpuset.cpus/mems as lists, and the flag files
//   v1 memory   memory.stat (raw), memory.{,memsw.,kmem.,kmem.tcp.}{usage,max_usage,limit}_in_bytes/failcnt
//   v1 blkio    the first group of files that has entries: bfq debug, bfq, cfq, throttle recursive, throttle
//   v2          cpu.stat (µs), memory.stat/current/max, memory.swap.current/max (+ memory, as v1's memsw),
//               io.stat, pids.current/max, hugetlb.<size>.current/events
#include "runtime/stats.hpp"

#include "common/fs.hpp"
#include "runtime/state.hpp"

#include <charconv>
#include <dirent.h>
#include <limits>
#include <unistd.h>

namespace corral {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

std::string join(const std::string &dir, std::string_view name) {
    std::string out = dir;
    out += '/';
    out += name;
    return out;
}

std::optional<uint64_t> to_uint(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    if (s == "max") return kMax;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::optional<std::string> read_text(const std::string &dir, std::string_view file) {
    auto text = read_file(join(dir, file));
    if (!text) return std::nullopt;
    return std::move(*text);
}

// A file holding one number ("max" = UINT64_MAX); 0 if missing or malformed.
uint64_t read_uint(const std::string &dir, std::string_view file) {
    auto text = read_text(dir, file);
    if (!text) return 0;
    return to_uint(*text).value_or(0);
}

bool exists(const std::string &dir, std::string_view file) { return ::access(join(dir, file).c_str(), F_OK) == 0; }

std::vector<std::string_view> fields(std::string_view line, std::string_view seps = " \t") {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        size_t start = line.find_first_not_of(seps, i);
        if (start == std::string_view::npos) break;
        size_t end = line.find_first_of(seps, start);
        if (end == std::string_view::npos) end = line.size();
        out.push_back(line.substr(start, end - start));
        i = end;
    }
    return out;
}

// Call fn(line) for each non-empty line.
template <class F> void each_line(std::string_view text, F fn) {
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        if (!line.empty()) fn(line);
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
}

// "key value" lines into a map (memory.stat, cpu.stat, memory.events).
std::map<std::string, uint64_t> key_values(const std::string &dir, std::string_view file) {
    std::map<std::string, uint64_t> out;
    auto text = read_text(dir, file);
    if (!text) return out;
    each_line(*text, [&](std::string_view line) {
        auto f = fields(line);
        if (f.size() != 2) return;
        if (auto v = to_uint(f[1])) out[std::string(f[0])] = *v;
    });
    return out;
}

uint64_t value_of(const std::map<std::string, uint64_t> &m, const char *key) {
    auto it = m.find(key);
    return it == m.end() ? 0 : it->second;
}

const std::string *path_of(const std::vector<std::pair<std::string, std::string>> &paths, std::string_view key) {
    for (const auto &[k, p] : paths)
        if (k == key) return &p;
    return nullptr;
}

// --- v1 ---------------------------------------------------------------------

void v1_cpuacct(const std::string &dir, ContainerStats::Cpu &cpu) {
    cpu.total = read_uint(dir, "cpuacct.usage");
    if (auto text = read_text(dir, "cpuacct.usage_percpu"))
        for (auto f : fields(*text, " \t\n"))
            if (auto v = to_uint(f)) cpu.percpu.push_back(*v);
    // "cpu user system" then one line per CPU (kernels >= 4.6).
    if (auto text = read_text(dir, "cpuacct.usage_all")) {
        bool header = true;
        each_line(*text, [&](std::string_view line) {
            if (std::exchange(header, false)) return;
            auto f = fields(line);
            if (f.size() != 3) return;
            cpu.percpu_user.push_back(to_uint(f[1]).value_or(0));
            cpu.percpu_kernel.push_back(to_uint(f[2]).value_or(0));
        });
    }
    // cpuacct.stat counts USER_HZ ticks.
    long hz = ::sysconf(_SC_CLK_TCK);
    uint64_t ns_per_tick = 1000000000ull / static_cast<uint64_t>(hz > 0 ? hz : 100);
    auto st = key_values(dir, "cpuacct.stat");
    cpu.user = value_of(st, "user") * ns_per_tick;
    cpu.kernel = value_of(st, "system") * ns_per_tick;
}

void v1_cpu(const std::string &dir, ContainerStats::Cpu &cpu) {
    auto st = key_values(dir, "cpu.stat");
    cpu.periods = value_of(st, "nr_periods");
    cpu.throttled_periods = value_of(st, "nr_throttled");
    cpu.throttled_time = value_of(st, "throttled_time");
}

void v1_cpuset(const std::string &dir, ContainerStats::Cpuset &c) {
    if (auto t = read_text(dir, "cpuset.cpus")) c.cpus = parse_cpu_list(*t);
    if (auto t = read_text(dir, "cpuset.mems")) c.mems = parse_cpu_list(*t);
    c.cpu_exclusive = read_uint(dir, "cpuset.cpu_exclusive");
    c.mem_hardwall = read_uint(dir, "cpuset.mem_hardwall");
    c.mem_exclusive = read_uint(dir, "cpuset.mem_exclusive");
    c.memory_migrate = read_uint(dir, "cpuset.memory_migrate");
    c.memory_spread_page = read_uint(dir, "cpuset.memory_spread_page");
    c.memory_spread_slab = read_uint(dir, "cpuset.memory_spread_slab");
    c.memory_pressure = read_uint(dir, "cpuset.memory_pressure");
    c.sched_load_balance = read_uint(dir, "cpuset.sched_load_balance");
    if (auto t = read_text(dir, "cpuset.sched_relax_domain_level")) {
        std::string_view s = *t;
        while (!s.empty() && s.back() == '\n') s.remove_suffix(1);
        int64_t v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec == std::errc() && p == s.data() + s.size()) c.sched_relax_domain_level = v;
    }
}

// memory.<prefix>{usage_in_bytes,max_usage_in_bytes,limit_in_bytes,failcnt}
ContainerStats::MemoryEntry v1_memory_entry(const std::string &dir, std::string_view prefix) {
    ContainerStats::MemoryEntry e;
    std::string p = "memory." + std::string(prefix);
    e.usage = read_uint(dir, p + "usage_in_bytes");
    e.max = read_uint(dir, p + "max_usage_in_bytes");
    e.limit = read_uint(dir, p + "limit_in_bytes");
    e.failcnt = read_uint(dir, p + "failcnt");
    return e;
}

void v1_memory(const std::string &dir, ContainerStats::Memory &m) {
    m.raw = key_values(dir, "memory.stat");
    m.cache = value_of(m.raw, "cache");
    m.usage = v1_memory_entry(dir, "");
    m.swap = v1_memory_entry(dir, "memsw.");
    m.kernel = v1_memory_entry(dir, "kmem.");
    m.kernel_tcp = v1_memory_entry(dir, "kmem.tcp.");
}

// One blkio stat file: "MAJ:MIN [Op] value" lines; "Total N" skipped.
std::vector<ContainerStats::BlkioEntry> blkio_file(const std::string &dir, std::string_view file) {
    std::vector<ContainerStats::BlkioEntry> out;
    auto text = read_text(dir, file);
    if (!text) return out;
    each_line(*text, [&](std::string_view line) {
        auto f = fields(line, " :");
        if (f.size() < 3) return; // "Total 0"
        ContainerStats::BlkioEntry e;
        e.major = to_uint(f[0]).value_or(0);
        e.minor = to_uint(f[1]).value_or(0);
        size_t value_field = 2;
        if (f.size() == 4) {
            e.op = std::string(f[2]);
            value_field = 3;
        }
        e.value = to_uint(f[value_field]).value_or(0);
        out.push_back(std::move(e));
    });
    return out;
}

void v1_blkio(const std::string &dir, ContainerStats::Blkio &b) {
    using List = std::vector<ContainerStats::BlkioEntry> ContainerStats::Blkio::*;
    struct Source {
        const char *file;
        List list;
    };
    using B = ContainerStats::Blkio;
    static const std::vector<std::vector<Source>> groups = {
        {{"blkio.bfq.sectors_recursive", &B::sectors_recursive},
         {"blkio.bfq.io_service_time_recursive", &B::io_service_time_recursive},
         {"blkio.bfq.io_wait_time_recursive", &B::io_wait_time_recursive},
         {"blkio.bfq.io_merged_recursive", &B::io_merged_recursive},
         {"blkio.bfq.io_queued_recursive", &B::io_queue_recursive},
         {"blkio.bfq.time_recursive", &B::io_time_recursive},
         {"blkio.bfq.io_serviced_recursive", &B::io_serviced_recursive},
         {"blkio.bfq.io_service_bytes_recursive", &B::io_service_bytes_recursive}},
        {{"blkio.bfq.io_serviced_recursive", &B::io_serviced_recursive},
         {"blkio.bfq.io_service_bytes_recursive", &B::io_service_bytes_recursive}},
        {{"blkio.sectors_recursive", &B::sectors_recursive},
         {"blkio.io_service_time_recursive", &B::io_service_time_recursive},
         {"blkio.io_wait_time_recursive", &B::io_wait_time_recursive},
         {"blkio.io_merged_recursive", &B::io_merged_recursive},
         {"blkio.io_queued_recursive", &B::io_queue_recursive},
         {"blkio.time_recursive", &B::io_time_recursive},
         {"blkio.io_serviced_recursive", &B::io_serviced_recursive},
         {"blkio.io_service_bytes_recursive", &B::io_service_bytes_recursive}},
        {{"blkio.throttle.io_serviced_recursive", &B::io_serviced_recursive},
         {"blkio.throttle.io_service_bytes_recursive", &B::io_service_bytes_recursive}},
        {{"blkio.throttle.io_serviced", &B::io_serviced_recursive},
         {"blkio.throttle.io_service_bytes", &B::io_service_bytes_recursive}},
    };
    // runc: the first group whose first file has entries wins; within it, a
    // later file without entries ends the reading.
    for (const auto &group : groups) {
        for (size_t i = 0; i < group.size(); ++i) {
            auto entries = blkio_file(dir, group[i].file);
            if (entries.empty()) {
                if (i == 0) break;
                return;
            }
            b.*group[i].list = std::move(entries);
            if (i + 1 == group.size()) return;
        }
    }
}

std::vector<std::pair<std::string, std::string>> hugepage_sizes(const std::string &hugepages_dir) {
    // (runc's name "2MB", the kernel's "2048kB")
    std::vector<std::pair<std::string, std::string>> out;
    DIR *d = ::opendir(hugepages_dir.c_str());
    if (!d) return out;
    while (dirent *e = ::readdir(d)) {
        std::string name = hugepage_size_name(e->d_name);
        if (!name.empty()) out.emplace_back(name, e->d_name);
    }
    ::closedir(d);
    return out;
}

void v1_hugetlb(const std::string &dir, const std::string &hugepages_dir,
                std::map<std::string, ContainerStats::Hugetlb> &out) {
    for (const auto &[size, _] : hugepage_sizes(hugepages_dir)) {
        std::string p = "hugetlb." + size + ".";
        if (!exists(dir, p + "usage_in_bytes")) continue;
        ContainerStats::Hugetlb h;
        h.usage = read_uint(dir, p + "usage_in_bytes");
        h.max = read_uint(dir, p + "max_usage_in_bytes");
        h.failcnt = read_uint(dir, p + "failcnt");
        out[size] = h;
    }
}

void pids_stats(const std::string &dir, ContainerStats::Pids &p) {
    p.current = read_uint(dir, "pids.current");
    p.limit = read_uint(dir, "pids.max");
    if (p.limit == kMax) p.limit = 0; // "max": runc's "no limit"
}

// --- v2 ---------------------------------------------------------------------

void v2_cpu(const std::string &dir, ContainerStats::Cpu &cpu) {
    auto st = key_values(dir, "cpu.stat");
    cpu.total = value_of(st, "usage_usec") * 1000;
    cpu.user = value_of(st, "user_usec") * 1000;
    cpu.kernel = value_of(st, "system_usec") * 1000;
    cpu.periods = value_of(st, "nr_periods");
    cpu.throttled_periods = value_of(st, "nr_throttled");
    cpu.throttled_time = value_of(st, "throttled_usec") * 1000;
}

void v2_memory(const std::string &dir, ContainerStats::Memory &m) {
    m.raw = key_values(dir, "memory.stat");
    m.cache = value_of(m.raw, "file");
    m.usage.usage = read_uint(dir, "memory.current");
    m.usage.limit = read_uint(dir, "memory.max");
    if (exists(dir, "memory.swap.current")) {
        // v1's memsw is memory+swap: report v2's the same way (runc does).
        m.swap.usage = read_uint(dir, "memory.swap.current") + m.usage.usage;
        m.swap.limit = read_uint(dir, "memory.swap.max");
        if (m.swap.limit != kMax) m.swap.limit += m.usage.limit;
    }
}

void v2_io(const std::string &dir, ContainerStats::Blkio &b) {
    auto text = read_text(dir, "io.stat");
    if (!text) return;
    each_line(*text, [&](std::string_view line) {
        auto f = fields(line);
        if (f.empty()) return;
        auto dev = fields(f[0], ":");
        if (dev.size() != 2) return;
        uint64_t major = to_uint(dev[0]).value_or(0), minor = to_uint(dev[1]).value_or(0);
        for (size_t i = 1; i < f.size(); ++i) {
            auto eq = f[i].find('=');
            if (eq == std::string_view::npos) continue;
            std::string_view key = f[i].substr(0, eq);
            uint64_t value = to_uint(f[i].substr(eq + 1)).value_or(0);
            std::vector<ContainerStats::BlkioEntry> *list = nullptr;
            const char *op = nullptr;
            if (key == "rbytes") list = &b.io_service_bytes_recursive, op = "Read";
            else if (key == "wbytes") list = &b.io_service_bytes_recursive, op = "Write";
            else if (key == "rios") list = &b.io_serviced_recursive, op = "Read";
            else if (key == "wios") list = &b.io_serviced_recursive, op = "Write";
            if (list) list->push_back({major, minor, op, value});
        }
    });
}

void v2_hugetlb(const std::string &dir, const std::string &hugepages_dir,
                std::map<std::string, ContainerStats::Hugetlb> &out) {
    for (const auto &[size, _] : hugepage_sizes(hugepages_dir)) {
        std::string p = "hugetlb." + size + ".";
        if (!exists(dir, p + "current")) continue;
        ContainerStats::Hugetlb h;
        h.usage = read_uint(dir, p + "current");
        h.failcnt = value_of(key_values(dir, p + "events"), "max");
        out[size] = h;
    }
}

// --- JSON, as Go's encoding/json writes runc's types ----------------------------

class JsonOut {
public:
    std::string out;

    void begin() { out += '{', first_ = true; }
    void end() { out += '}', first_ = false; } // the next member needs a comma
    void key(std::string_view k) {
        if (!first_) out += ',';
        first_ = false;
        append_go_json_string(out, k);
        out += ':';
    }
    void num(std::string_view k, uint64_t v) { key(k), out += std::to_string(v); }
    void inum(std::string_view k, int64_t v) { key(k), out += std::to_string(v); }
    void num_omitempty(std::string_view k, uint64_t v) {
        if (v) num(k, v);
    }
    template <class T> void list_omitempty(std::string_view k, const std::vector<T> &v) {
        if (v.empty()) return;
        key(k);
        out += '[';
        for (size_t i = 0; i < v.size(); ++i) {
            if (i) out += ',';
            out += std::to_string(v[i]);
        }
        out += ']';
    }
    void object(std::string_view k) { key(k), begin(); }

private:
    bool first_ = true;
};

void memory_entry(JsonOut &j, const char *k, const ContainerStats::MemoryEntry &e) {
    j.object(k);
    j.num("limit", e.limit);
    j.num_omitempty("usage", e.usage);
    j.num_omitempty("max", e.max);
    j.num("failcnt", e.failcnt);
    j.end();
}

void blkio_list(JsonOut &j, const char *k, const std::vector<ContainerStats::BlkioEntry> &list) {
    if (list.empty()) return;
    j.key(k);
    j.out += '[';
    for (size_t i = 0; i < list.size(); ++i) {
        if (i) j.out += ',';
        j.begin();
        j.num_omitempty("major", list[i].major);
        j.num_omitempty("minor", list[i].minor);
        if (!list[i].op.empty()) {
            j.key("op");
            append_go_json_string(j.out, list[i].op);
        }
        j.num_omitempty("value", list[i].value);
        j.end();
    }
    j.out += ']';
}

} // namespace

std::string hugepage_size_name(std::string_view name) {
    constexpr std::string_view prefix = "hugepages-", suffix = "kB";
    if (name.size() <= prefix.size() + suffix.size() || name.substr(0, prefix.size()) != prefix ||
        name.substr(name.size() - suffix.size()) != suffix)
        return {};
    auto kb = to_uint(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
    if (!kb || *kb == 0) return {};
    // units.CustomSize("%g%s", bytes, 1024, B KB MB GB TB PB)
    static const char *const units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    double size = static_cast<double>(*kb) * 1024;
    size_t i = 0;
    while (size >= 1024 && i + 1 < std::size(units)) size /= 1024, ++i;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g%s", size, units[i]);
    return buf;
}

std::vector<uint16_t> parse_cpu_list(std::string_view list) {
    std::vector<uint16_t> out;
    while (!list.empty() && (list.back() == '\n' || list.back() == ' ')) list.remove_suffix(1);
    for (auto part : fields(list, ",")) {
        auto dash = part.find('-');
        auto lo = to_uint(part.substr(0, dash));
        auto hi = dash == std::string_view::npos ? lo : to_uint(part.substr(dash + 1));
        if (!lo || !hi || *hi < *lo || *hi > 65535) continue;
        for (uint64_t c = *lo; c <= *hi; ++c) out.push_back(static_cast<uint16_t>(c));
    }
    return out;
}

ContainerStats collect_stats(cgroups::Mode mode, const std::vector<std::pair<std::string, std::string>> &paths,
                             const std::string &hugepages_dir) {
    ContainerStats s;
    if (mode == cgroups::Mode::v1) {
        if (auto *p = path_of(paths, "cpuacct")) v1_cpuacct(*p, s.cpu);
        if (auto *p = path_of(paths, "cpu")) v1_cpu(*p, s.cpu);
        if (auto *p = path_of(paths, "cpuset")) v1_cpuset(*p, s.cpuset);
        if (auto *p = path_of(paths, "memory")) v1_memory(*p, s.memory);
        if (auto *p = path_of(paths, "pids")) pids_stats(*p, s.pids);
        if (auto *p = path_of(paths, "blkio")) v1_blkio(*p, s.blkio);
        if (auto *p = path_of(paths, "hugetlb")) v1_hugetlb(*p, hugepages_dir, s.hugetlb);
    } else if (mode == cgroups::Mode::v2) {
        const std::string *dir = path_of(paths, "");
        if (!dir && !paths.empty()) dir = &paths.front().second;
        if (dir) {
            v2_cpu(*dir, s.cpu);
            v2_memory(*dir, s.memory);
            pids_stats(*dir, s.pids);
            v2_io(*dir, s.blkio);
            v2_hugetlb(*dir, hugepages_dir, s.hugetlb);
        }
    }
    return s;
}

std::string stats_to_json(const ContainerStats &s) {
    JsonOut j;
    j.begin();

    j.object("cpu");
    j.object("usage");
    j.num_omitempty("total", s.cpu.total);
    j.list_omitempty("percpu", s.cpu.percpu);
    j.list_omitempty("percpu_kernel", s.cpu.percpu_kernel);
    j.list_omitempty("percpu_user", s.cpu.percpu_user);
    j.num("kernel", s.cpu.kernel);
    j.num("user", s.cpu.user);
    j.end();
    j.object("throttling");
    j.num_omitempty("periods", s.cpu.periods);
    j.num_omitempty("throttledPeriods", s.cpu.throttled_periods);
    j.num_omitempty("throttledTime", s.cpu.throttled_time);
    j.end();
    j.end();

    const auto &c = s.cpuset;
    j.object("cpuset");
    j.list_omitempty("cpus", c.cpus);
    j.num("cpu_exclusive", c.cpu_exclusive);
    j.list_omitempty("mems", c.mems);
    j.num("mem_hardwall", c.mem_hardwall);
    j.num("mem_exclusive", c.mem_exclusive);
    j.num("memory_migrate", c.memory_migrate);
    j.num("memory_spread_page", c.memory_spread_page);
    j.num("memory_spread_slab", c.memory_spread_slab);
    j.num("memory_pressure", c.memory_pressure);
    j.num("sched_load_balance", c.sched_load_balance);
    j.inum("sched_relax_domain_level", c.sched_relax_domain_level);
    j.end();

    j.object("memory");
    j.num_omitempty("cache", s.memory.cache);
    memory_entry(j, "usage", s.memory.usage);
    memory_entry(j, "swap", s.memory.swap);
    memory_entry(j, "kernel", s.memory.kernel);
    memory_entry(j, "kernelTCP", s.memory.kernel_tcp);
    if (!s.memory.raw.empty()) {
        j.object("raw");
        for (const auto &[k, v] : s.memory.raw) { // std::map: sorted, as Go sorts map keys
            j.num(k, v);
        }
        j.end();
    }
    j.end();

    j.object("pids");
    j.num_omitempty("current", s.pids.current);
    j.num_omitempty("limit", s.pids.limit);
    j.end();

    const auto &b = s.blkio;
    j.object("blkio");
    blkio_list(j, "ioServiceBytesRecursive", b.io_service_bytes_recursive);
    blkio_list(j, "ioServicedRecursive", b.io_serviced_recursive);
    blkio_list(j, "ioQueueRecursive", b.io_queue_recursive);
    blkio_list(j, "ioServiceTimeRecursive", b.io_service_time_recursive);
    blkio_list(j, "ioWaitTimeRecursive", b.io_wait_time_recursive);
    blkio_list(j, "ioMergedRecursive", b.io_merged_recursive);
    blkio_list(j, "ioTimeRecursive", b.io_time_recursive);
    blkio_list(j, "sectorsRecursive", b.sectors_recursive);
    j.end();

    j.object("hugetlb");
    for (const auto &[size, h] : s.hugetlb) {
        j.object(size);
        j.num_omitempty("usage", h.usage);
        j.num_omitempty("max", h.max);
        j.num("failcnt", h.failcnt);
        j.end();
    }
    j.end();

    j.object("intel_rdt"); // corral has no Intel RDT support
    j.end();
    j.key("network_interfaces");
    j.out += "null";
    j.end();
    return std::move(j.out);
}

std::string event_to_json(const Event &e) {
    std::string out = "{\"type\":";
    append_go_json_string(out, e.type);
    out += ",\"id\":";
    append_go_json_string(out, e.id);
    if (e.stats) {
        out += ",\"data\":";
        out += stats_to_json(*e.stats);
    }
    out += '}';
    return out;
}

} // namespace corral
