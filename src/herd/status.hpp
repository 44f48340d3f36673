// herd/status.hpp — pod status in Kubernetes' shape, as the agent reports it.
//
// Field names and reasons follow the Kubernetes API (PodStatus,
// ContainerStatus, ContainerState*), so `herd get pod -o json` reads like
// `kubectl get pod -o json` and scripts written for one work on the other.
#pragma once

#include "herd/manifest.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace corral::herd {

struct ContainerStateWaiting {
    std::string reason;   // ContainerCreating | CrashLoopBackOff | CreateContainerError | ImageNotFound
    std::string message;
};
struct ContainerStateRunning {
    std::string started_at;  // RFC 3339
};
struct ContainerStateTerminated {
    int exit_code = 0;
    int signal = 0;
    std::string reason;      // Completed | Error | OOMKilled | Unknown (exit status lost across an agent restart)
    std::string message;
    std::string started_at, finished_at;
    std::string container_id;
};
// Exactly one is set, as in Kubernetes.
struct ContainerState {
    std::optional<ContainerStateWaiting> waiting;
    std::optional<ContainerStateRunning> running;
    std::optional<ContainerStateTerminated> terminated;
};

struct ContainerStatus {
    std::string name;
    std::string image;
    std::string container_id;  // "corral://<corral container id>"
    bool ready = false;
    bool started = false;
    int restart_count = 0;
    ContainerState state, last_state;
};

struct PodCondition {
    std::string type;    // PodScheduled | Initialized | ContainersReady | Ready
    std::string status;  // "True" | "False"
    std::string reason, message;
    std::string last_transition_time;
};

struct PodStatus {
    std::string phase = "Pending";  // Pending | Running | Succeeded | Failed | Unknown
    std::string reason, message;
    std::string host_ip, pod_ip;
    std::string start_time;
    std::vector<PodCondition> conditions;
    std::vector<ContainerStatus> container_statuses;
    bool ready() const;  // condition Ready is True
};

json to_json(const PodStatus &);
Result<PodStatus> pod_status_from_json(const json &);

// RFC 3339 UTC ("2026-11-23T18:30:00Z") of a unix time; now() if t < 0.
std::string rfc3339(int64_t unix_seconds = -1);
// The unix time (seconds) of an RFC 3339 time as herd and corral write them
// (UTC; fractions and the zone suffix ignored); nullopt if it is not one.
std::optional<int64_t> parse_rfc3339(const std::string &text);

} // namespace corral::herd
