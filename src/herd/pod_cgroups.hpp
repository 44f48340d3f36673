// herd/pod_cgroups.hpp — the agent's pod cgroups through corral's cgroup
// library (src/cgroups, corral_cgroups; not the runtime): mode detection,
// the pod parent's limits, removal, OOM-kill counts and per-container stats.
//
// corral makes each container's cgroup (<cgroup_root>/pod<uid>/<container>)
// from its config.json; herd writes only the pod parent's limits and removes
// the pod's cgroups in every hierarchy the library uses (each v1 controller,
// or the unified one).
#pragma once

#include "herd/manifest.hpp"

#include <cstdint>
#include <string>

namespace corral::herd {

// The kubelet's CPU mapping: requests -> shares (corral's library turns
// shares into cpu.weight on v2), limits -> quota over a 100 ms period.
constexpr int64_t kCpuPeriodUs = 100000;
int64_t shares_from_millis(std::optional<int64_t> millis);
int64_t quota_from_millis(int64_t millis);
// Kubernetes defaults a missing request to the limit (API defaulting).
std::optional<int64_t> cpu_request(const Container &c);

// The pod parent (absolute cgroup path): memory and CPU limits are the sums
// of the containers' when every container has one (else unlimited), the CPU
// weight from the sum of requests.
Status apply_pod_limits(const Pod &pod, const std::string &cgroup);
// Removes the cgroup and its children in every hierarchy; missing is fine.
Status remove_cgroup(const std::string &cgroup);
// OOM kills in the cgroup so far (0 when it is gone).
uint64_t cgroup_oom_kills(const std::string &cgroup);

struct ContainerStats {
    uint64_t cpu_usage_ns = 0;              // cumulative
    uint64_t memory_usage_bytes = 0;
    uint64_t memory_working_set_bytes = 0;  // usage - inactive_file, as the kubelet computes it
    uint64_t oom_kills = 0;
};
// From the cgroup's files; an Error when the cgroup does not exist.
Result<ContainerStats> cgroup_stats(const std::string &cgroup);

} // namespace corral::herd
