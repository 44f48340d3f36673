// ops_resources.cpp — the operations on a container's cgroup: update, pause,
// resume, ps, stats; and the parsing of runc's `update` flags and
// `update --resources` JSON. Messages follow runc 1.1.5 (measured against the
// installed runc), since clients match its strings ("container not running").
#include "corral/container.hpp"

#include "common/fs.hpp"
#include "common/json_sax.hpp"
#include "runtime/resources.hpp"
#include "runtime/stats.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath> // std::isinf, a builtin: no libm
#include <cstdlib>
#include <limits>

namespace corral {
namespace {

// Go's %q for the ASCII strings flags hold.
std::string go_quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
    return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

enum class NumError { none, syntax, range };

// strconv.ParseUint(s, base, 64) without the base-0 prefix handling; digits
// only (callers strip signs and prefixes).
NumError parse_digits(std::string_view s, int base, bool underscores, uint64_t &out) {
    if (s.empty()) return NumError::syntax;
    uint64_t v = 0;
    for (char c : s) {
        if (underscores && c == '_') continue;
        int d;
        if (is_digit(c)) d = c - '0';
        else if (lower(c) >= 'a' && lower(c) <= 'z') d = lower(c) - 'a' + 10;
        else return NumError::syntax;
        if (d >= base) return NumError::syntax;
        // Go reports the overflow at once, whatever follows.
        if (v > (std::numeric_limits<uint64_t>::max() - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base))
            return NumError::range;
        v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    }
    out = v;
    return NumError::none;
}

// Go's underscoreOK: "_" only between digits (or after a base prefix).
bool underscore_ok(std::string_view s) {
    char saw = '^';
    size_t i = 0;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
    bool hex = false;
    if (s.size() >= 2 && s[0] == '0' && (lower(s[1]) == 'b' || lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
        i = 2;
        saw = '0';
        hex = lower(s[1]) == 'x';
    }
    for (; i < s.size(); ++i) {
        if (is_digit(s[i]) || (hex && lower(s[i]) >= 'a' && lower(s[i]) <= 'f')) {
            saw = '0';
            continue;
        }
        if (s[i] == '_') {
            if (saw != '0') return false;
            saw = '_';
            continue;
        }
        if (saw == '_') return false;
        saw = '!';
    }
    return saw != '_';
}

// strconv.ParseInt(s, base, 64) for base 10 or 0 (Go prefixes, underscores).
NumError parse_go_int(std::string_view s, int base, int64_t &out) {
    std::string_view orig = s;
    bool neg = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    bool underscores = false;
    if (base == 0) {
        base = 10;
        if (!s.empty() && s[0] == '0') {
            if (s.size() >= 3 && lower(s[1]) == 'b') base = 2, s.remove_prefix(2);
            else if (s.size() >= 3 && lower(s[1]) == 'o') base = 8, s.remove_prefix(2);
            else if (s.size() >= 3 && lower(s[1]) == 'x') base = 16, s.remove_prefix(2);
            else base = 8, s.remove_prefix(1), s = s.empty() ? std::string_view("0") : s;
        }
        underscores = true;
    }
    uint64_t u = 0;
    NumError e = parse_digits(s, base, underscores, u);
    if (e == NumError::none && underscores && !underscore_ok(orig)) e = NumError::syntax;
    if (e != NumError::none) return e;
    constexpr uint64_t cutoff = uint64_t{1} << 63;
    if (!neg && u >= cutoff) return NumError::range;
    if (neg && u > cutoff) return NumError::range;
    out = neg ? static_cast<int64_t>(0 - u) : static_cast<int64_t>(u);
    return NumError::none;
}

Error strconv_error(const char *fn, std::string_view s, NumError e) {
    return Error(std::string("strconv.") + fn + ": parsing " + go_quote(s) + ": " +
                 (e == NumError::range ? "value out of range" : "invalid syntax"));
}

// strconv.ParseUint(s, 10, 64) and strconv.ParseInt(s, 10, 64).
Result<uint64_t> go_parse_uint(std::string_view s) {
    uint64_t v = 0;
    NumError e = parse_digits(s, 10, false, v);
    if (e != NumError::none) return strconv_error("ParseUint", s, e);
    return v;
}

Result<int64_t> go_parse_int(std::string_view s) {
    int64_t v = 0;
    NumError e = parse_go_int(s, 10, v);
    if (e != NumError::none) return strconv_error("ParseInt", s, e);
    return v;
}

bool set(const std::optional<std::string> &flag) { return flag && !flag->empty(); }

// --- update: which fields, merged with what was recorded ----------------------

// runc's `update` reads only these fields; 0 (and "") mean "leave as is" to its
// cgroup drivers, so they are dropped here rather than written.
spec::Resources update_subset(const spec::Resources &in, const Logger &log) {
    spec::Resources r;
    auto nonzero = [](auto v) { return v && *v != 0 ? v : decltype(v){}; };
    if (in.memory) {
        spec::Memory m;
        m.limit = nonzero(in.memory->limit);
        m.reservation = nonzero(in.memory->reservation);
        m.swap = nonzero(in.memory->swap);
        if (m.limit || m.reservation || m.swap) r.memory = m;
    }
    if (in.cpu) {
        spec::Cpu c;
        c.shares = nonzero(in.cpu->shares);
        c.quota = nonzero(in.cpu->quota);
        c.period = nonzero(in.cpu->period);
        c.realtime_runtime = nonzero(in.cpu->realtime_runtime);
        c.realtime_period = nonzero(in.cpu->realtime_period);
        c.burst = in.cpu->burst; // newer runc: written as given, 0 included
        c.idle = in.cpu->idle;
        c.cpus = in.cpu->cpus;
        c.mems = in.cpu->mems;
        if (c.shares || c.quota || c.period || c.realtime_runtime || c.realtime_period || c.burst || c.idle ||
            !c.cpus.empty() || !c.mems.empty())
            r.cpu = c;
    }
    if (in.pids && in.pids->limit != 0) r.pids = in.pids;
    if (in.block_io && in.block_io->weight && *in.block_io->weight != 0) {
        spec::BlockIO b;
        b.weight = in.block_io->weight;
        r.block_io = b;
    }
    r.unified = in.unified;

    std::string ignored;
    auto note = [&](bool present, const char *name) {
        if (present) ignored += std::string(ignored.empty() ? "" : ", ") + name;
    };
    note(!in.devices.empty(), "devices");
    note(!in.hugepage_limits.empty(), "hugepageLimits");
    note(in.network.has_value(), "network");
    note(!in.rdma_raw.empty(), "rdma");
    note(in.memory && (in.memory->swappiness || in.memory->disable_oom_killer || in.memory->use_hierarchy),
         "memory.swappiness/disableOOMKiller/useHierarchy");
    note(in.block_io && (in.block_io->leaf_weight || !in.block_io->weight_device.empty() ||
                         !in.block_io->throttle_read_bps_device.empty() ||
                         !in.block_io->throttle_write_bps_device.empty() ||
                         !in.block_io->throttle_read_iops_device.empty() ||
                         !in.block_io->throttle_write_iops_device.empty()),
         "blockIO (other than weight)");
    if (!ignored.empty()) log.debug("update ignores, as runc does: " + ignored);
    return r;
}

// For each field `next` sets, the value `old` has for it (if any): what to
// write back when applying `next` fails.
spec::Resources previous_values(const spec::Resources &next, const spec::Resources &old) {
    spec::Resources back;
    auto take = [](const auto &want, const auto &had, auto &out) {
        if (want && had) out = had;
    };
    if (next.memory && old.memory) {
        spec::Memory m;
        take(next.memory->limit, old.memory->limit, m.limit);
        take(next.memory->reservation, old.memory->reservation, m.reservation);
        take(next.memory->swap, old.memory->swap, m.swap);
        if (m.limit || m.reservation || m.swap) back.memory = m;
    }
    if (next.cpu && old.cpu) {
        spec::Cpu c;
        take(next.cpu->shares, old.cpu->shares, c.shares);
        take(next.cpu->quota, old.cpu->quota, c.quota);
        take(next.cpu->period, old.cpu->period, c.period);
        take(next.cpu->burst, old.cpu->burst, c.burst);
        take(next.cpu->realtime_runtime, old.cpu->realtime_runtime, c.realtime_runtime);
        take(next.cpu->realtime_period, old.cpu->realtime_period, c.realtime_period);
        take(next.cpu->idle, old.cpu->idle, c.idle);
        if (!next.cpu->cpus.empty()) c.cpus = old.cpu->cpus;
        if (!next.cpu->mems.empty()) c.mems = old.cpu->mems;
        back.cpu = c;
    }
    if (next.pids && old.pids && old.pids->limit != 0) back.pids = old.pids;
    if (next.block_io && old.block_io && old.block_io->weight) {
        spec::BlockIO b;
        b.weight = old.block_io->weight;
        back.block_io = b;
    }
    for (const auto &[k, v] : next.unified) {
        auto it = old.unified.find(k);
        if (it != old.unified.end()) back.unified[k] = it->second;
    }
    return back;
}

// Record what `update` applied in the saved config's linux.resources.
void merge_into_config(nlohmann::ordered_json &cfg, const spec::Resources &r) {
    using json = nlohmann::ordered_json;
    if (!cfg.is_object()) cfg = json::object();
    json &linux = cfg["linux"];
    if (!linux.is_object()) linux = json::object();
    json &res = linux["resources"];
    if (!res.is_object()) res = json::object();
    auto section = [&](const char *name) -> json & {
        json &s = res[name];
        if (!s.is_object()) s = json::object();
        return s;
    };
    auto put = [](json &obj, const char *key, const auto &v) {
        if (v) obj[key] = *v;
    };
    if (r.memory) {
        json &m = section("memory");
        put(m, "limit", r.memory->limit);
        put(m, "reservation", r.memory->reservation);
        put(m, "swap", r.memory->swap);
    }
    if (r.cpu) {
        json &c = section("cpu");
        put(c, "shares", r.cpu->shares);
        put(c, "quota", r.cpu->quota);
        put(c, "burst", r.cpu->burst);
        put(c, "period", r.cpu->period);
        put(c, "realtimeRuntime", r.cpu->realtime_runtime);
        put(c, "realtimePeriod", r.cpu->realtime_period);
        if (!r.cpu->cpus.empty()) c["cpus"] = r.cpu->cpus;
        if (!r.cpu->mems.empty()) c["mems"] = r.cpu->mems;
        put(c, "idle", r.cpu->idle);
    }
    if (r.pids) section("pids")["limit"] = r.pids->limit;
    if (r.block_io && r.block_io->weight) section("blockIO")["weight"] = *r.block_io->weight;
    if (!r.unified.empty()) {
        json &u = section("unified");
        for (const auto &[k, v] : r.unified) u[k] = v;
    }
}

} // namespace

Result<std::unique_ptr<cgroups::Manager>> open_container_cgroup(const Context &ctx, const StateRecord &rec) {
    cgroups::Options opts;
    opts.cgroups_path = rec.cgroups_path;
    opts.container_id = rec.oci.id;
    opts.systemd = ctx.systemd_cgroup;
    opts.paths = rec.cgroup_paths; // as created: a relative cgroupsPath may resolve elsewhere now
    opts.logger = &ctx.log;
    return cgroups::open_manager(rec.cgroup_mode, opts);
}

Error not_running_for_events(const std::string &id) {
    return Error("container with id " + id + " is not running", ESRCH);
}

// --- parsing ----------------------------------------------------------------

Result<int64_t> parse_ram_in_bytes(std::string_view s) {
    // docker/go-units (the version runc 1.1.5 is built with):
    //   ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$, binary multiples.
    auto invalid = [&] { return Error("invalid size: '" + std::string(s) + "'"); };
    size_t i = 0;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == 0) return invalid();
    while (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
        ++i;
        while (i < s.size() && is_digit(s[i])) ++i;
    }
    std::string number(s.substr(0, i));
    std::string_view rest = s.substr(i);
    if (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
    int shift = 0;
    if (!rest.empty()) {
        static constexpr std::string_view kUnits = "kmgtp";
        auto u = kUnits.find(lower(rest[0]));
        if (u != std::string_view::npos) {
            shift = 10 * static_cast<int>(u + 1);
            rest.remove_prefix(1);
        }
    }
    if (!rest.empty() && lower(rest[0]) == 'i') rest.remove_prefix(1);
    if (!rest.empty() && lower(rest[0]) == 'b') rest.remove_prefix(1);
    if (!rest.empty()) return invalid();

    // strconv.ParseFloat: "1.5.3" matches the pattern but is no number.
    if (std::count(number.begin(), number.end(), '.') > 1)
        return Error("strconv.ParseFloat: parsing " + go_quote(number) + ": invalid syntax");
    errno = 0;
    double size = std::strtod(number.c_str(), nullptr);
    if (errno == ERANGE || std::isinf(size))
        return Error("strconv.ParseFloat: parsing " + go_quote(number) + ": value out of range");
    // size * 2^shift, exactly as ldexp, from a table: corral must not link
    // libm for one call (its pages count in every run's RSS), and GCC turns
    // a computed power of two back into ldexp.
    static constexpr double kPowerOfTwo[] = {0x1p0, 0x1p10, 0x1p20, 0x1p30, 0x1p40, 0x1p50};
    size *= kPowerOfTwo[shift / 10];
    // Go's int64(float64) on amd64 gives the "integer indefinite" value for
    // anything out of range; runc then fails writing it to the cgroup.
    if (size >= 9223372036854775808.0) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(size);
}

Result<std::chrono::nanoseconds> parse_go_duration(std::string_view s) {
    const std::string orig(s);
    auto invalid = [&] { return Error("time: invalid duration " + go_quote(orig)); };
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s == "0") return std::chrono::nanoseconds(0);
    if (s.empty()) return invalid();
    struct Unit {
        std::string_view name;
        uint64_t ns;
    };
    static constexpr Unit kUnits[] = {
        {"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000}, // µs (micro sign, Greek mu)
        {"ms", 1000000}, {"s", 1000000000}, {"m", 60000000000}, {"h", 3600000000000},
    };
    constexpr uint64_t kLimit = uint64_t{1} << 63;
    uint64_t d = 0;
    while (!s.empty()) {
        if (!(s[0] == '.' || is_digit(s[0]))) return invalid();
        // [0-9]*
        uint64_t v = 0;
        size_t i = 0;
        for (; i < s.size() && is_digit(s[i]); ++i) {
            if (v > (kLimit - 1) / 10) return invalid(); // overflow
            v = v * 10 + static_cast<uint64_t>(s[i] - '0');
            if (v > kLimit) return invalid();
        }
        bool pre = i > 0;
        s.remove_prefix(i);
        // (\.[0-9]*)?
        uint64_t f = 0;
        double scale = 1;
        bool post = false;
        if (!s.empty() && s[0] == '.') {
            s.remove_prefix(1);
            size_t j = 0;
            bool overflow = false;
            for (; j < s.size() && is_digit(s[j]); ++j) {
                if (overflow) continue;
                if (f > (kLimit - 1) / 10) {
                    overflow = true; // further digits cannot matter
                    continue;
                }
                uint64_t y = f * 10 + static_cast<uint64_t>(s[j] - '0');
                if (y > kLimit) {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10;
            }
            post = j > 0;
            s.remove_prefix(j);
        }
        if (!pre && !post) return invalid();
        size_t u = 0;
        while (u < s.size() && s[u] != '.' && !is_digit(s[u])) ++u;
        if (u == 0) return Error("time: missing unit in duration " + go_quote(orig));
        std::string_view unit_name = s.substr(0, u);
        s.remove_prefix(u);
        const Unit *unit = nullptr;
        for (const auto &cand : kUnits)
            if (cand.name == unit_name) unit = &cand;
        if (!unit) return Error("time: unknown unit " + go_quote(unit_name) + " in duration " + go_quote(orig));
        if (v > kLimit / unit->ns) return invalid();
        v *= unit->ns;
        if (f > 0) {
            v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit->ns) / scale));
            if (v > kLimit) return invalid();
        }
        d += v;
        if (d > kLimit) return invalid();
    }
    if (neg) return std::chrono::nanoseconds(static_cast<int64_t>(0 - d));
    if (d > kLimit - 1) return invalid();
    return std::chrono::nanoseconds(static_cast<int64_t>(d));
}

Result<int64_t> parse_int_flag(std::string_view name, std::string_view value) {
    int64_t v = 0;
    NumError e = parse_go_int(value, 0, v);
    if (e == NumError::none) return v;
    return Error("invalid value " + go_quote(value) + " for flag -" + std::string(name) + ": " +
                 (e == NumError::range ? "value out of range" : "parse error"));
}

Result<spec::Resources> resources_from_update_flags(const UpdateFlags &f) {
    // In runc's order, so the first bad flag reported is the same.
    spec::Resources r;
    spec::Cpu cpu;
    spec::Memory mem;
    if (f.blkio_weight) {
        auto w = static_cast<uint16_t>(*f.blkio_weight); // Go's uint16(int)
        if (w != 0) {
            r.block_io.emplace();
            r.block_io->weight = w;
        }
    }
    if (set(f.cpuset_cpus)) cpu.cpus = *f.cpuset_cpus;
    if (set(f.cpuset_mems)) cpu.mems = *f.cpuset_mems;
    struct UintFlag {
        const char *name;
        const std::optional<std::string> &value;
        std::optional<uint64_t> &dest;
    };
    for (const UintFlag &u : {UintFlag{"cpu-period", f.cpu_period, cpu.period},
                              UintFlag{"cpu-rt-period", f.cpu_rt_period, cpu.realtime_period},
                              UintFlag{"cpu-share", f.cpu_share, cpu.shares}}) {
        if (!set(u.value)) continue;
        auto v = go_parse_uint(*u.value);
        if (!v) return std::move(v).error().context(std::string("invalid value for ") + u.name);
        u.dest = *v;
    }
    struct IntFlag {
        const char *name;
        const std::optional<std::string> &value;
        std::optional<int64_t> &dest;
    };
    for (const IntFlag &i : {IntFlag{"cpu-quota", f.cpu_quota, cpu.quota},
                             IntFlag{"cpu-rt-runtime", f.cpu_rt_runtime, cpu.realtime_runtime}}) {
        if (!set(i.value)) continue;
        auto v = go_parse_int(*i.value);
        if (!v) return std::move(v).error().context(std::string("invalid value for ") + i.name);
        i.dest = *v;
    }
    for (const IntFlag &m : {IntFlag{"memory", f.memory, mem.limit}, IntFlag{"memory-swap", f.memory_swap, mem.swap},
                             IntFlag{"kernel-memory", f.kernel_memory, mem.kernel},
                             IntFlag{"kernel-memory-tcp", f.kernel_memory_tcp, mem.kernel_tcp},
                             IntFlag{"memory-reservation", f.memory_reservation, mem.reservation}}) {
        if (!set(m.value)) continue;
        if (*m.value == "-1") {
            m.dest = -1;
            continue;
        }
        auto v = parse_ram_in_bytes(*m.value);
        if (!v) return std::move(v).error().context(std::string("invalid value for ") + m.name);
        m.dest = *v;
    }
    if (f.pids_limit && *f.pids_limit != 0) r.pids = spec::Pids{*f.pids_limit};
    if (cpu.period || cpu.realtime_period || cpu.shares || cpu.quota || cpu.realtime_runtime || !cpu.cpus.empty() ||
        !cpu.mems.empty())
        r.cpu = cpu;
    if (mem.limit || mem.swap || mem.kernel || mem.kernel_tcp || mem.reservation) r.memory = mem;
    return r;
}

Result<spec::Resources> parse_update_resources(std::string_view text, std::string_view source) {
    const std::string src(source);
    size_t b = text.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return Error(src + ": EOF (no resources JSON)");
    // Syntax first, with nlohmann's message. Like Go's json.Decoder (runc),
    // only the first JSON value counts: what follows it is not read.
    nlohmann::json j;
    try {
        nlohmann::detail::json_sax_dom_parser<nlohmann::json> dom(j, true);
        sax_parse_json(text, &dom, /*strict=*/false);
    } catch (const nlohmann::json::exception &e) {
        return Error(src + ": " + e.what());
    }
    if (j.is_null()) return spec::Resources{};
    if (!j.is_object()) return Error(src + ": expected a JSON object of linux.resources");
    // The typed reading is the config parser's, on the value wrapped as a config.
    std::string wrapped = R"({"ociVersion":"1.0.0","linux":{"resources":)";
    wrapped += j.dump();
    wrapped += "}}";
    auto s = spec::parse_spec(wrapped, source);
    if (!s) {
        // "SRC: linux.resources.memory.limit: ..." → "SRC: memory.limit: ..."
        std::string msg = s.error().message();
        std::string from = src + ": linux.resources.";
        if (msg.compare(0, from.size(), from) == 0) msg = src + ": " + msg.substr(from.size());
        return Error(msg);
    }
    if (!s->linux || !s->linux->resources) return spec::Resources{};
    return std::move(*s->linux->resources);
}

// --- operations ---------------------------------------------------------------

Status update(const Context &ctx, const std::string &id, const spec::Resources &requested) {
    ctx.log.debug("update the resources of container `" + id + "`");
    StateDir dir = CORRAL_TRY(StateDir::open(ctx.root, id));
    StateRecord rec = CORRAL_TRY(dir.read());
    if (requested.memory && (requested.memory->kernel || requested.memory->kernel_tcp))
        ctx.log.warn("Kernel memory settings are ignored and will be removed");
    if (live_status(dir, rec) == ContainerStatus::stopped) return Error(kContainerNotRunning, ESRCH);

    // The config as created, with the updates since: the values to fall back
    // on, and the file the new ones are recorded in.
    const std::string config_path = dir.path() + "/config.json";
    std::string config_text = CORRAL_TRY_CTX(read_file(config_path), "update: read the saved config");
    nlohmann::ordered_json config;
    try {
        config = nlohmann::ordered_json::parse(config_text);
    } catch (const nlohmann::json::exception &e) {
        return Error("update: parse the saved config `" + config_path + "`: " + e.what());
    }
    spec::Resources old;
    if (auto s = spec::parse_spec(config_text, config_path); s && s->linux && s->linux->resources)
        old = std::move(*s->linux->resources);

    spec::Resources next = update_subset(requested, ctx.log);
    // v2 needs the memory limit to turn memory+swap into memory.swap.max, so a
    // swap alone goes with the limit recorded before (as newer runc merges).
    if (next.memory && next.memory->swap && !next.memory->limit && old.memory && old.memory->limit)
        next.memory->limit = old.memory->limit;

    auto cg = CORRAL_TRY_CTX(open_container_cgroup(ctx, rec), "open cgroup");
    if (auto st = cg->apply(next); !st) {
        // Put back what was there for the fields we touched (runc tries too).
        spec::Resources back = previous_values(next, old);
        if (auto st2 = cg->apply(back); !st2)
            ctx.log.warn("Setting back cgroup configs failed due to error: " + st2.error().message() +
                         ", your state.json and actual configs might be inconsistent.");
        return st;
    }

    merge_into_config(config, next);
    return write_file_atomic(config_path, config.dump(1, '\t') + "\n", 0600)
        .context("update: the new limits are applied but could not be recorded");
}

Status pause(const Context &ctx, const std::string &id) {
    ctx.log.debug("pause container `" + id + "`");
    StateDir dir = CORRAL_TRY(StateDir::open(ctx.root, id));
    StateRecord rec = CORRAL_TRY(dir.read());
    ContainerStatus status = live_status(dir, rec);
    // runc pauses created containers too; resume brings them back to created.
    if (status != ContainerStatus::running && status != ContainerStatus::created)
        return Error(kContainerNotRunning, ESRCH);
    auto cg = CORRAL_TRY_CTX(open_container_cgroup(ctx, rec), "open cgroup");
    return cg->freeze();
}

Status resume(const Context &ctx, const std::string &id) {
    ctx.log.debug("resume container `" + id + "`");
    StateDir dir = CORRAL_TRY(StateDir::open(ctx.root, id));
    StateRecord rec = CORRAL_TRY(dir.read());
    if (live_status(dir, rec) != ContainerStatus::paused) return Error("container not paused");
    auto cg = CORRAL_TRY_CTX(open_container_cgroup(ctx, rec), "open cgroup");
    return cg->thaw();
}

Result<std::vector<pid_t>> processes(const Context &ctx, const std::string &id) {
    ctx.log.debug("list the processes of container `" + id + "`");
    // No lock: `ps` must not wait behind (or block) other commands.
    StateRecord rec = CORRAL_TRY(read_state_unlocked(ctx.root, id));
    bool stopped = live_status(path_join(ctx.root, id), rec) == ContainerStatus::stopped;
    auto cg = open_container_cgroup(ctx, rec);
    if (!cg) {
        if (stopped) return std::vector<pid_t>{};
        return std::move(cg).error().context("open cgroup");
    }
    auto pids = (*cg)->pids();
    if (!pids && stopped) return std::vector<pid_t>{}; // the cgroup may be gone with the container
    return pids;
}

Result<std::string> filter_ps_output(std::string_view output, const std::vector<pid_t> &pids) {
    std::vector<std::string_view> lines;
    for (size_t start = 0;;) {
        size_t nl = output.find('\n', start);
        lines.push_back(output.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
        if (nl == std::string_view::npos) break;
        start = nl + 1;
    }
    auto split = [](std::string_view line) {
        std::vector<std::string_view> f;
        size_t i = 0;
        while (true) {
            i = line.find_first_not_of(" \t\v\f\r", i);
            if (i == std::string_view::npos) break;
            size_t e = line.find_first_of(" \t\v\f\r", i);
            f.push_back(line.substr(i, e == std::string_view::npos ? std::string_view::npos : e - i));
            if (e == std::string_view::npos) break;
            i = e;
        }
        return f;
    };
    auto titles = split(lines[0]);
    size_t pid_index = titles.size();
    for (size_t i = 0; i < titles.size(); ++i)
        if (titles[i] == "PID") {
            pid_index = i;
            break;
        }
    if (pid_index == titles.size()) return Error("couldn't find PID field in ps output");

    std::string out(lines[0]);
    out += '\n';
    for (size_t i = 1; i < lines.size(); ++i) {
        if (lines[i].empty()) continue;
        auto f = split(lines[i]);
        std::string_view field = pid_index < f.size() ? f[pid_index] : std::string_view{};
        int64_t pid = 0;
        if (parse_go_int(field, 10, pid) != NumError::none || pid > INT32_MAX || pid < INT32_MIN)
            return Error("unable to parse pid: strconv.Atoi: parsing " + go_quote(field) + ": invalid syntax");
        if (std::find(pids.begin(), pids.end(), static_cast<pid_t>(pid)) != pids.end()) {
            out += lines[i];
            out += '\n';
        }
    }
    return out;
}

std::string pids_to_json(const std::vector<pid_t> &pids) {
    if (pids.empty()) return "null"; // Go marshals a nil slice as null; runc prints that
    std::string out = "[";
    for (size_t i = 0; i < pids.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(pids[i]);
    }
    out += ']';
    return out;
}

Result<ContainerStats> stats(const Context &ctx, const std::string &id) {
    ctx.log.debug("statistics of container `" + id + "`");
    StateRecord rec = CORRAL_TRY(read_state_unlocked(ctx.root, id));
    if (live_status(path_join(ctx.root, id), rec) == ContainerStatus::stopped) return not_running_for_events(id);
    if (rec.cgroup_mode == cgroups::Mode::disabled)
        return Error("no statistics: cgroups are disabled on this host");
    auto cg = CORRAL_TRY_CTX(open_container_cgroup(ctx, rec), "open cgroup");
    return collect_stats(rec.cgroup_mode, cg->paths());
}

} // namespace corral
