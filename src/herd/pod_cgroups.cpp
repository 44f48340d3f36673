// herd/pod_cgroups.cpp — pod cgroups through corral's cgroup library (see
// pod_cgroups.hpp).
#include "herd/pod_cgroups.hpp"

#include "cgroups/manager.hpp"

#include <algorithm>

namespace corral::herd {
namespace {

constexpr int64_t kMinQuotaUs = 1000;  // the kubelet's smallest quota
constexpr int64_t kMinShares = 2, kMaxShares = 262144;

// The mode is the host's: detected once.
cgroups::Mode host_mode() {
    static const cgroups::Mode mode = cgroups::detect_mode();
    return mode;
}

Result<std::unique_ptr<cgroups::Manager>> manager_for(const std::string &cgroup) {
    if (host_mode() == cgroups::Mode::disabled) return Error(ErrorKind::unavailable, "no cgroup hierarchy on this host");
    cgroups::Options opts;
    opts.cgroups_path = cgroup;
    opts.container_id = "herd";
    return cgroups::make_manager(host_mode(), opts);
}

} // namespace

int64_t shares_from_millis(std::optional<int64_t> millis) {
    if (!millis || *millis == 0) return kMinShares;
    return std::clamp(*millis * 1024 / 1000, kMinShares, kMaxShares);
}

int64_t quota_from_millis(int64_t millis) { return std::max(millis * kCpuPeriodUs / 1000, kMinQuotaUs); }

std::optional<int64_t> cpu_request(const Container &c) {
    return c.resources.cpu_request_millis ? c.resources.cpu_request_millis : c.resources.cpu_limit_millis;
}

Status apply_pod_limits(const Pod &pod, const std::string &cgroup) {
    int64_t memory = 0, cpu = 0, requests = 0;
    bool memory_limited = true, cpu_limited = true;
    for (const auto &c : pod.spec.containers) {
        memory_limited = memory_limited && c.resources.memory_limit_bytes;
        cpu_limited = cpu_limited && c.resources.cpu_limit_millis;
        memory += c.resources.memory_limit_bytes.value_or(0);
        cpu += c.resources.cpu_limit_millis.value_or(0);
        requests += cpu_request(c).value_or(0);
    }
    spec::Resources r;
    r.cpu.emplace();
    r.cpu->shares = uint64_t(shares_from_millis(requests));
    if (cpu_limited) {
        r.cpu->quota = quota_from_millis(cpu);
        r.cpu->period = kCpuPeriodUs;
    }
    if (memory_limited) {
        r.memory.emplace();
        r.memory->limit = memory;
    }
    auto m = CORRAL_TRY_CTX(manager_for(cgroup), "pod cgroup limits");
    return m->apply(r).context("pod cgroup limits");
}

Status remove_cgroup(const std::string &cgroup) {
    auto m = manager_for(cgroup);
    if (!m) return m.error().is(ErrorKind::unavailable) ? ok() : Status(std::move(m).error());
    return (*m)->destroy();
}

uint64_t cgroup_oom_kills(const std::string &cgroup) {
    auto m = manager_for(cgroup);
    if (!m) return 0;
    auto n = (*m)->oom_kill_count();
    return n ? *n : 0;
}

Result<ContainerStats> cgroup_stats(const std::string &cgroup) {
    auto m = CORRAL_TRY(manager_for(cgroup));
    auto s = CORRAL_TRY(m->stats());
    ContainerStats out;
    out.cpu_usage_ns = s.cpu_usage_total_ns;
    out.memory_usage_bytes = s.memory_usage;
    out.memory_working_set_bytes = cgroups::memory_working_set(s);
    out.oom_kills = s.oom_kill;
    return out;
}

} // namespace corral::herd
