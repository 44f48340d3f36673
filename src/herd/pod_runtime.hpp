// herd/pod_runtime.hpp — the node's hands: pods and containers made with the
// `corral` binary. The supervisor (agent.cpp) decides *when*; this decides
// *how*. Every call runs `corral` (fork + exec, never clone from here) and
// blocks for the few milliseconds that takes; nothing here keeps state in
// memory that is not also on disk, so a restarted agent can adopt.
//
// Layout (all under RuntimeConfig::state_dir):
//   pods/<pod uid>/pod.json                the Pod as applied (Kubernetes JSON)
//   pods/<pod uid>/_infra/                 the infra bundle (config.json; its read-only
//                                          rootfs, just herd-pause, is <state_dir>/pause-rootfs)
//   pods/<pod uid>/network.json            the pod's PodNetwork (for adoption)
//   pods/<pod uid>/<container>/bundle/     unpacked from the image store
//   pods/<pod uid>/<container>/current.log stdout+stderr of the running instance
//   pods/<pod uid>/<container>/previous.log the instance before (herd logs --previous)
//
// corral ids: "herd-<pod uid 8 chars>-_infra", "herd-<pod uid 8 chars>-<container>".
// ("_infra" is no valid Kubernetes container name, so no container collides
// with the infra in ids, directories or cgroups.)
// Cgroups (as the kubelet's cgroupfs driver): the pod's parent
// <cgroup_root>/pod<uid>/ (limits = the sum of the containers' limits when
// all have one), each container <cgroup_root>/pod<uid>/<container>, the
// infra <cgroup_root>/pod<uid>/_infra (the kubelet's pause container too has
// its own cgroup under the pod's).
// Resources as the kubelet maps them: limits.memory -> memory limit;
// limits.cpu -> quota = millis * period / 1000 with period 100000;
// requests.cpu -> cpu shares = max(2, millis * 1024 / 1000) (corral turns
// shares into cpu.weight on cgroup v2, as runc does); no request -> shares 2.
// The pod parent's limits, its removal, OOM counts and stats go through
// corral's cgroup library (pod_cgroups.hpp).
// Containers share the infra's network, IPC and UTS namespaces (joined by
// path /proc/<infra pid>/ns/...), or the host network with hostNetwork.
#pragma once

#include "herd/manifest.hpp"
#include "herd/network.hpp"
#include "herd/pod_cgroups.hpp"

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace corral::herd {

struct RuntimeConfig {
    std::string state_dir;                 // the agent's state dir
    std::string corral_bin;                // default: `corral` next to the herd binary
    std::string corral_root;               // corral --root (default <state_dir>/corral)
    std::string image_store;               // corral image --store ("" = corral's default)
    std::string pause_bin;                 // default: `herd-pause` next to the herd binary
    std::string cgroup_root = "/herd";     // absolute; tests use /corral-test/<unique>
    uint64_t log_max_bytes = 10 << 20;     // per log file, before rotation (copy-truncate)
    NetworkConfig network;
    bool debug = false;                    // pass --debug to corral, keep its logs
};

struct InfraInfo {
    std::string corral_id;
    pid_t pid = 0;
    PodNetwork network;  // ip "" with hostNetwork or without CNI
    // Set when the pod wanted its own network but the CNI plugins are
    // missing, so it has loopback only: the agent logs it (once).
    std::string network_warning;
};

struct StartedContainer {
    std::string corral_id;
    pid_t pid = 0;             // the container's init, a child of the caller when
                               // the caller is a subreaper (PR_SET_CHILD_SUBREAPER)
    int64_t started_at = 0;    // unix seconds
    std::string log_path;
};

class PodRuntime {
public:
    explicit PodRuntime(RuntimeConfig cfg);
    const RuntimeConfig &config() const { return cfg_; }

    // Saves pod.json and starts the infra process (and its network). Undoes
    // itself on failure.
    Result<InfraInfo> start_infra(const Pod &pod);
    // Creates and starts one container of the pod (image unpacked from the
    // store into a fresh bundle; an existing container of that name is
    // deleted first; current.log becomes previous.log). Errors say which
    // step failed ("image \"web:1\" not found in store ...").
    Result<StartedContainer> start_container(const Pod &pod, const Container &c, const InfraInfo &infra);
    // kill(2)-like, through `corral kill`; a container already gone is not an error.
    Status signal_container(const std::string &corral_id, int sig);
    // `corral delete --force` and the container's cgroup; idempotent.
    Status remove_container(const std::string &corral_id);
    // Stops the infra, tears the network down, removes the pod's cgroup
    // parent and state directory. Call after every container is removed.
    Status remove_pod(const Pod &pod, const InfraInfo &infra);

    // Whether the container's last exit was an OOM kill (its cgroup's
    // memory.events oom_kill on v2, memory.oom_control oom_kill on v1).
    bool was_oom_killed(const std::string &corral_id) const;
    // CPU, memory working set and OOM kills of a container, from its cgroup
    // (pod_cgroups.hpp); an Error when it has none (not running).
    Result<ContainerStats> container_stats(const Pod &pod, const std::string &container) const;
    // Keeps current.log under log_max_bytes (copy-truncate: the container
    // writes with O_APPEND, so it carries on at the new end).
    void rotate_logs_if_needed(const Pod &pod);
    std::string log_path(const Pod &pod, const std::string &container, bool previous) const;

    // For adoption after an agent restart: every pod in state_dir, and the
    // `corral state` of a container (nullopt if corral does not know it).
    std::vector<Pod> saved_pods() const;
    struct CorralState { std::string status; pid_t pid = 0; int64_t created = 0; };
    std::optional<CorralState> container_state(const std::string &corral_id) const;
    // The infra of a saved pod as start_infra returned it (pid from `corral
    // state`, network from pods/<uid>/network.json); nullopt when corral no
    // longer knows a running infra.
    std::optional<InfraInfo> saved_infra(const Pod &pod) const;
    std::string infra_id(const Pod &pod) const;
    std::string container_id(const Pod &pod, const std::string &container) const;

    std::string pod_dir(const Pod &pod) const;     // <state_dir>/pods/<uid>
    std::string pod_cgroup(const Pod &pod) const;  // <cgroup_root>/pod<uid>

private:
    struct Located {
        std::string uid, container;
    };
    std::optional<Located> locate(const std::string &corral_id) const;
    Status ensure_pause_rootfs() const;
    json infra_config(const Pod &pod) const;

    RuntimeConfig cfg_;
};

} // namespace corral::herd
