// v1 cpu and cpuacct: shares, CFS bandwidth (quota/period/burst), realtime
// bandwidth, idle; usage and throttling numbers.
#include "cgroups/v1/v1.hpp"

#include "common/fs.hpp"

#include <cerrno>
#include <unistd.h>

namespace corral::cgroups::v1 {

using detail::file_exists;
using detail::join;
using detail::to_dec;
using detail::to_udec;

Status check_cpu(const std::string &dir, const spec::Cpu &cpu) {
    if (cpu.idle && !file_exists(join(dir, "cpu.idle")))
        return Error("linux.resources.cpu.idle: not supported by this kernel (no cpu.idle in `" + dir + "`)");
    if ((cpu.realtime_runtime || cpu.realtime_period) && !file_exists(join(dir, "cpu.rt_runtime_us")))
        return Error("linux.resources.cpu.realtimeRuntime: this kernel has no realtime group scheduling "
                     "(no cpu.rt_runtime_us in `" + dir + "`)");
    return ok();
}

namespace {

// Two knobs whose valid values depend on each other (period/quota,
// rt_period/rt_runtime, burst/quota): write the first; if the kernel says
// EINVAL and the second is about to be written, retry the first after it.
Status write_pair(const Knobs &k, const std::string &dir, const char *first, const std::optional<std::string> &v1,
                  const char *second, const std::optional<std::string> &v2) {
    bool retry_first = false;
    if (v1) {
        auto st = k.write(dir, first, *v1);
        if (!st) {
            if (st.error().err() != EINVAL || !v2) return st;
            retry_first = true;
        }
    }
    if (v2) CORRAL_TRY(k.write(dir, second, *v2));
    if (retry_first) CORRAL_TRY(k.write(dir, first, *v1));
    return ok();
}

template <class T>
std::optional<std::string> str(const std::optional<T> &v) {
    if (!v) return std::nullopt;
    return std::to_string(*v);
}

} // namespace

Status set_cpu(const Knobs &k, const std::string &dir, const spec::Cpu &cpu) {
    if (cpu.shares) {
        CORRAL_TRY(k.write(dir, "cpu.shares", to_udec(*cpu.shares)));
        // The kernel clamps out-of-range shares silently; say so, as runc does.
        uint64_t got = CORRAL_TRY(detail::read_knob_uint(dir, "cpu.shares"));
        if (got != *cpu.shares)
            return Error("linux.resources.cpu.shares: " + to_udec(*cpu.shares) + " is out of range: the " +
                         (got < *cpu.shares ? "maximum" : "minimum") + " allowed is " + to_udec(got));
    }
    // Burst must stay <= quota: when lowering both, burst goes first; when
    // raising, the kernel refuses it until the quota is up (write_pair retries).
    std::optional<std::string> burst;
    if (cpu.burst) {
        if (file_exists(join(dir, "cpu.cfs_burst_us")))
            burst = to_udec(*cpu.burst);
        else
            k.warn("linux.resources.cpu.burst ignored: this kernel has no cpu.cfs_burst_us");
    }
    if (burst) {
        auto st = k.write(dir, "cpu.cfs_burst_us", *burst);
        if (st) {
            burst.reset();
        } else if (st.error().err() != EINVAL || !cpu.quota) {
            return st;
        }
    }
    CORRAL_TRY(write_pair(k, dir, "cpu.cfs_period_us", str(cpu.period), "cpu.cfs_quota_us", str(cpu.quota)));
    if (burst) CORRAL_TRY(k.write(dir, "cpu.cfs_burst_us", *burst));
    CORRAL_TRY(write_pair(k, dir, "cpu.rt_period_us", str(cpu.realtime_period), "cpu.rt_runtime_us",
                          str(cpu.realtime_runtime)));
    if (cpu.idle) CORRAL_TRY(k.write(dir, "cpu.idle", to_dec(*cpu.idle)));
    return ok();
}

void stat_cpu(const std::string &dir, Stats &s) {
    auto text = read_file(join(dir, "cpu.stat"));
    if (!text) return;
    s.cpu_periods = detail::find_key(*text, "nr_periods").value_or(0);
    s.cpu_throttled_periods = detail::find_key(*text, "nr_throttled").value_or(0);
    s.cpu_throttled_time_ns = detail::find_key(*text, "throttled_time").value_or(0);
}

void stat_cpuacct(const std::string &dir, Stats &s) {
    if (auto v = detail::read_knob_uint(dir, "cpuacct.usage")) s.cpu_usage_total_ns = *v;
    // cpuacct.stat counts USER_HZ ticks (runc converts the same way).
    auto text = read_file(join(dir, "cpuacct.stat"));
    if (!text) return;
    long hz = ::sysconf(_SC_CLK_TCK);
    uint64_t ns_per_tick = hz > 0 ? 1000000000ull / static_cast<uint64_t>(hz) : 10000000ull;
    s.cpu_usage_user_ns = detail::find_key(*text, "user").value_or(0) * ns_per_tick;
    s.cpu_usage_kernel_ns = detail::find_key(*text, "system").value_or(0) * ns_per_tick;
}

} // namespace corral::cgroups::v1
