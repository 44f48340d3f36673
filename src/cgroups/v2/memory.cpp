// v2 memory: memory.max, memory.swap.max (swap only: converted from the
// spec's memory+swap), memory.low; usage numbers and OOM kills.
#include "cgroups/v2/v2.hpp"

#include "common/fs.hpp"

#include <cerrno>
#include <limits>

namespace corral::cgroups::v2 {

using detail::find_key;
using detail::join;
using detail::to_dec;
using detail::to_udec;

namespace {
// runc's numToStr: 0 is unset, -1 is "max".
std::string num_to_str(int64_t v) {
    if (v == 0) return {};
    if (v == -1) return "max";
    return to_dec(v);
}
} // namespace

Status check_memory(const Knobs &k, const spec::Memory &m) {
    // v1-only settings: runc ignores them on v2; we say so.
    if (m.disable_oom_killer && *m.disable_oom_killer)
        k.warn("linux.resources.memory.disableOOMKiller ignored: cgroup v2 has no OOM killer switch");
    if (m.swappiness) k.warn("linux.resources.memory.swappiness ignored: cgroup v2 has no per-cgroup swappiness");
    if (m.kernel || m.kernel_tcp) k.warn("linux.resources.memory.kernel/kernelTCP ignored on cgroup v2");
    if (m.use_hierarchy && !*m.use_hierarchy)
        k.warn("linux.resources.memory.useHierarchy=false ignored: cgroup v2 is always hierarchical");
    int64_t limit = m.limit.value_or(0), swap = m.swap.value_or(0);
    if (limit != 0 || swap != 0) {
        auto converted = memory_swap_to_v2(swap, limit);
        if (!converted) return std::move(converted.error().context("linux.resources.memory.swap"));
    }
    return ok();
}

Status set_memory(const Knobs &k, const std::string &dir, const spec::Memory &m) {
    int64_t limit = m.limit.value_or(0), swap = m.swap.value_or(0);
    if (m.check_before_update && *m.check_before_update && limit > 0) {
        uint64_t usage = CORRAL_TRY(detail::read_knob_uint(dir, "memory.current"));
        if (usage >= static_cast<uint64_t>(limit))
            return Error("linux.resources.memory.limit: rejecting memory limit " + to_dec(limit) +
                         " below the current usage " + to_udec(usage));
    }
    if (limit != 0 || swap != 0) {
        int64_t swap_v2 = CORRAL_TRY(memory_swap_to_v2(swap, limit));
        std::string swap_str = num_to_str(swap_v2);
        if (swap_str.empty() && swap > 0) swap_str = "0"; // memory == memory+swap: no swap
        if (!swap_str.empty()) {
            auto st = k.write(dir, "memory.swap.max", swap_str);
            // No swap accounting: "max" and "0" are moot then (runc ignores them too).
            if (!st && !(st.error().err() == ENOENT && (swap_str == "max" || swap_str == "0"))) return st;
        }
        if (auto v = num_to_str(limit); !v.empty()) CORRAL_TRY(k.write(dir, "memory.max", v));
    }
    if (m.reservation) {
        if (auto v = num_to_str(*m.reservation); !v.empty()) CORRAL_TRY(k.write(dir, "memory.low", v));
    }
    return ok();
}

void stat_memory(const std::string &dir, Stats &s) {
    if (auto v = detail::read_knob_uint(dir, "memory.current")) s.memory_usage = *v;
    if (auto v = detail::read_knob_uint(dir, "memory.max")) s.memory_limit = *v;
    if (auto v = detail::read_knob_uint(dir, "memory.peak")) s.memory_max_usage = *v; // kernel >= 5.19
    if (auto text = read_file(join(dir, "memory.stat"))) {
        s.memory_cache = find_key(*text, "file").value_or(0);
        s.memory_rss = find_key(*text, "anon").value_or(0);
        s.memory_inactive_file = find_key(*text, "inactive_file").value_or(0);
    }
    if (auto text = read_file(join(dir, "memory.events"))) {
        s.memory_failcnt = find_key(*text, "max").value_or(0);
        s.oom_kill = find_key(*text, "oom_kill").value_or(0);
    }
    // v1 reports memory+swap; so does runc on v2.
    auto swap = detail::read_knob_uint(dir, "memory.swap.current");
    auto swap_max = detail::read_knob_uint(dir, "memory.swap.max");
    if (swap) s.swap_usage = *swap + s.memory_usage;
    if (swap_max) {
        constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
        s.swap_limit = (*swap_max == kMax || s.memory_limit == kMax) ? kMax : *swap_max + s.memory_limit;
    }
}

Result<uint64_t> memory_oom_kills(const std::string &dir) {
    std::string text = CORRAL_TRY(read_file(join(dir, "memory.events")));
    return find_key(text, "oom_kill").value_or(0);
}

} // namespace corral::cgroups::v2
