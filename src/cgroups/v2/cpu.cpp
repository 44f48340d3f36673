// v2 cpu and cpuset: cpu.weight (from shares), cpu.max, cpu.max.burst,
// cpu.idle; cpuset.cpus/mems; usage and throttling from cpu.stat.
#include "cgroups/v2/v2.hpp"

#include "common/fs.hpp"

#include <cerrno>

namespace corral::cgroups::v2 {

using detail::file_exists;
using detail::join;
using detail::to_dec;
using detail::to_udec;

Status check_cpu(const std::string &dir, const spec::Cpu &cpu) {
    if (cpu.realtime_runtime || cpu.realtime_period)
        return Error("linux.resources.cpu.realtimeRuntime/realtimePeriod: realtime group scheduling does not "
                     "exist on cgroup v2");
    if (cpu.idle && !file_exists(join(dir, "cpu.idle")))
        return Error("linux.resources.cpu.idle: not supported by this kernel (no cpu.idle in `" + dir + "`)");
    if (cpu.burst && !file_exists(join(dir, "cpu.max.burst")))
        return Error("linux.resources.cpu.burst: not supported by this kernel (no cpu.max.burst in `" + dir + "`)");
    return ok();
}

Status set_cpu(const Knobs &k, const std::string &dir, const spec::Cpu &cpu) {
    if (cpu.idle) CORRAL_TRY(k.write(dir, "cpu.idle", to_dec(*cpu.idle)));
    // An idle group has no weight: the kernel refuses cpu.weight then.
    bool idle = cpu.idle && *cpu.idle != 0;
    if (cpu.shares && !idle) {
        uint64_t weight = cpu_shares_to_weight(*cpu.shares);
        if (weight < 1 || weight > 10000)
            return Error("linux.resources.cpu.shares: " + to_udec(*cpu.shares) + " is out of range (2-262144)");
        CORRAL_TRY(k.write(dir, "cpu.weight", to_udec(weight)));
    }
    // Burst must stay <= quota: if the kernel refuses it before the new
    // quota is in, write it again after.
    bool burst_pending = false;
    if (cpu.burst) {
        auto st = k.write(dir, "cpu.max.burst", to_udec(*cpu.burst));
        if (!st) {
            if (st.error().err() != EINVAL || !cpu.quota) return st;
            burst_pending = true;
        }
    }
    if (cpu.quota || cpu.period) {
        std::string value;
        if (cpu.quota) {
            value = *cpu.quota > 0 ? to_dec(*cpu.quota) : std::string("max");
        } else {
            // Period alone: keep the current quota ("max 100000" would drop it).
            std::string current = CORRAL_TRY(detail::read_knob(dir, "cpu.max"));
            value = current.substr(0, current.find(' '));
        }
        if (cpu.period) value += " " + to_udec(*cpu.period);
        CORRAL_TRY(k.write(dir, "cpu.max", value));
    }
    if (burst_pending) CORRAL_TRY(k.write(dir, "cpu.max.burst", to_udec(*cpu.burst)));
    return ok();
}

Status set_cpuset(const Knobs &k, const std::string &dir, const spec::Cpu &cpu) {
    if (!cpu.cpus.empty()) CORRAL_TRY(k.write(dir, "cpuset.cpus", cpu.cpus));
    if (!cpu.mems.empty()) CORRAL_TRY(k.write(dir, "cpuset.mems", cpu.mems));
    return ok();
}

void stat_cpu(const std::string &dir, Stats &s) {
    auto text = read_file(join(dir, "cpu.stat"));
    if (!text) return;
    s.cpu_usage_total_ns = detail::find_key(*text, "usage_usec").value_or(0) * 1000;
    s.cpu_usage_user_ns = detail::find_key(*text, "user_usec").value_or(0) * 1000;
    s.cpu_usage_kernel_ns = detail::find_key(*text, "system_usec").value_or(0) * 1000;
    s.cpu_periods = detail::find_key(*text, "nr_periods").value_or(0);
    s.cpu_throttled_periods = detail::find_key(*text, "nr_throttled").value_or(0);
    s.cpu_throttled_time_ns = detail::find_key(*text, "throttled_usec").value_or(0) * 1000;
}

} // namespace corral::cgroups::v2
