// v1 memory: limit, memory+swap (memsw), soft limit, kernel memory,
// swappiness, OOM killer; usage numbers and OOM kills.
#include "cgroups/v1/v1.hpp"

#include "common/fs.hpp"

#include <cerrno>

namespace corral::cgroups::v1 {

using detail::file_exists;
using detail::find_key;
using detail::join;
using detail::to_dec;
using detail::to_udec;

namespace {
constexpr const char *kLimit = "memory.limit_in_bytes";
constexpr const char *kMemsw = "memory.memsw.limit_in_bytes";

// A memsw value we may drop when the kernel has no swap accounting: "no
// extra swap" or "unlimited" mean the same without it (as runc does on v2).
bool swap_droppable(const spec::Memory &m) {
    int64_t swap = m.swap.value_or(0);
    return swap == -1 || (m.limit && swap == *m.limit);
}

Status write_limit(const Knobs &k, const std::string &dir, int64_t limit) {
    auto st = k.write(dir, kLimit, to_dec(limit));
    if (st || st.error().err() != EBUSY) return st;
    // EBUSY: the cgroup already uses more than the new limit.
    auto usage = detail::read_knob_uint(dir, "memory.usage_in_bytes");
    auto peak = detail::read_knob_uint(dir, "memory.max_usage_in_bytes");
    return Error("unable to set memory limit to " + to_dec(limit) + " (current usage: " +
                     (usage ? to_udec(*usage) : std::string("?")) +
                     ", peak usage: " + (peak ? to_udec(*peak) : std::string("?")) + ")",
                 EBUSY, join(dir, kLimit));
}
} // namespace

Status check_memory(const std::string &dir, const spec::Memory &m) {
    if (m.swappiness && *m.swappiness > 100)
        return Error("linux.resources.memory.swappiness: " + to_udec(*m.swappiness) + " is out of range (0-100)");
    if (m.swap && *m.swap != 0 && !swap_droppable(m) && !file_exists(join(dir, kMemsw)))
        return Error("linux.resources.memory.swap: swap accounting is not enabled on this host (no " +
                     std::string(kMemsw) + "; boot with swapaccount=1)");
    return ok();
}

Status set_memory(const Knobs &k, const std::string &dir, const spec::Memory &m) {
    // 0 means unset for both, as in runc.
    int64_t limit = m.limit.value_or(0), swap = m.swap.value_or(0);
    if (swap != 0 || limit == -1) {
        bool have_memsw = file_exists(join(dir, kMemsw));
        // Unlimited memory with swap unset means unlimited swap too (runc).
        if (limit == -1 && swap == 0 && have_memsw) swap = -1;
        if (swap != 0 && !have_memsw) {
            k.warn("linux.resources.memory.swap ignored: no swap accounting on this host");
            swap = 0;
        }
    }
    // The kernel keeps limit <= memsw at every step, so the order matters:
    // raising memsw goes first, lowering it goes last (runc's rule).
    bool done = false;
    if (limit != 0 && swap != 0) {
        uint64_t current = CORRAL_TRY(detail::read_knob_uint(dir, kLimit));
        if (swap == -1 || current < static_cast<uint64_t>(swap)) {
            CORRAL_TRY(k.write(dir, kMemsw, to_dec(swap)));
            CORRAL_TRY(write_limit(k, dir, limit));
            done = true;
        }
    }
    if (!done) {
        if (limit != 0) CORRAL_TRY(write_limit(k, dir, limit));
        if (swap != 0) CORRAL_TRY(k.write(dir, kMemsw, to_dec(swap)));
    }
    if (m.kernel) {
        // Deprecated (runtime-spec: MAY be ignored); gone from new kernels.
        if (file_exists(join(dir, "memory.kmem.limit_in_bytes")))
            CORRAL_TRY(k.write(dir, "memory.kmem.limit_in_bytes", to_dec(*m.kernel)));
        else
            k.warn("linux.resources.memory.kernel ignored: this kernel has no memory.kmem.limit_in_bytes");
    }
    if (m.kernel_tcp) CORRAL_TRY(k.write(dir, "memory.kmem.tcp.limit_in_bytes", to_dec(*m.kernel_tcp)));
    if (m.reservation && *m.reservation != 0)
        CORRAL_TRY(k.write(dir, "memory.soft_limit_in_bytes", to_dec(*m.reservation)));
    if (m.disable_oom_killer) CORRAL_TRY(k.write(dir, "memory.oom_control", *m.disable_oom_killer ? "1" : "0"));
    if (m.swappiness) CORRAL_TRY(k.write(dir, "memory.swappiness", to_udec(*m.swappiness)));
    if (m.use_hierarchy) {
        auto st = k.write(dir, "memory.use_hierarchy", *m.use_hierarchy ? "1" : "0");
        if (!st && !*m.use_hierarchy && st.error().err() == EINVAL)
            return std::move(st.error().context("linux.resources.memory.useHierarchy: this kernel always "
                                                "accounts hierarchically"));
        CORRAL_TRY(std::move(st));
    }
    return ok();
}

void stat_memory(const std::string &dir, Stats &s) {
    if (auto v = detail::read_knob_uint(dir, "memory.usage_in_bytes")) s.memory_usage = *v;
    if (auto v = detail::read_knob_uint(dir, "memory.max_usage_in_bytes")) s.memory_max_usage = *v;
    if (auto v = detail::read_knob_uint(dir, kLimit)) s.memory_limit = *v;
    if (auto v = detail::read_knob_uint(dir, "memory.failcnt")) s.memory_failcnt = *v;
    if (auto text = read_file(join(dir, "memory.stat"))) {
        s.memory_cache = find_key(*text, "cache").value_or(0);
        s.memory_rss = find_key(*text, "rss").value_or(0);
        s.memory_inactive_file = find_key(*text, "total_inactive_file").value_or(0);
    }
    if (auto v = detail::read_knob_uint(dir, "memory.memsw.usage_in_bytes")) s.swap_usage = *v;
    if (auto v = detail::read_knob_uint(dir, kMemsw)) s.swap_limit = *v;
    if (auto v = memory_oom_kills(dir)) s.oom_kill = *v;
}

Result<uint64_t> memory_oom_kills(const std::string &dir) {
    std::string text = CORRAL_TRY(read_file(join(dir, "memory.oom_control")));
    auto v = find_key(text, "oom_kill");
    if (!v) return Error("`" + join(dir, "memory.oom_control") + "` has no oom_kill count (kernel < 4.13)");
    return *v;
}

} // namespace corral::cgroups::v1
