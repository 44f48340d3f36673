// herd/agent.hpp — the node agent: the supervisor that keeps a node's pods
// running (`herd agent`).
//
// One thread, one poll loop (agent_loop.cpp, Agent::run; the other parts are
// listed in agent_internal.hpp) over:
//   - the unix socket <state dir>/agent.sock (JSON lines, agent_api.hpp),
//     several clients at once; with --stdio one more client on stdin/stdout;
//   - a signalfd for SIGCHLD (containers and probe attempts are our
//     children: we are a child subreaper, so a container's init becomes ours
//     when the `corral` that started it exits), SIGTERM and SIGINT;
//   - pidfds of adopted containers (started by an earlier agent, so not our
//     children: their exit is seen, their exit status is not);
//   - a timerfd armed for the earliest deadline: a restart after its
//     back-off, a probe period or timeout, the SIGKILL after a grace period,
//     log rotation;
//   - the result pipes of start workers: forked children that start a pod's
//     infra or a container (PodRuntime runs `corral`), so that a slow start
//     never holds up the loop.
// The agent never clones a container itself (a threaded process must not,
// and this one keeps its hands clean anyway): PodRuntime runs `corral`.
//
// SIGTERM/SIGINT stop the agent and nothing else: pods keep running, and the
// next agent adopts them (state in <state dir>/pods/<uid>/status.json,
// written atomically on every change, keeps restart counts, last states and
// back-off across agent restarts).
//
// The small decisions (back-off, restart policy, pod phase) are free
// functions so they are unit-tested without containers.
#pragma once

#include "herd/agent_api.hpp"
#include "herd/pod_runtime.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace corral::herd {

// --- restart back-off (the kubelet's: 10 s doubling to 5 min, reset after the
// container ran 10 min), configurable per pod by the annotations
// herd.io/backoff-initial, herd.io/backoff-max and herd.io/backoff-reset.
struct BackoffPolicy {
    int64_t initial_ms = 10'000;
    int64_t max_ms = 300'000;
    int64_t reset_ms = 600'000;
};
// From a pod's annotations; an unparsable duration is an error naming it.
Result<BackoffPolicy> backoff_policy(const ObjectMeta &meta);
// The delay before the next restart, given the previous one (0 = none yet).
int64_t next_backoff_ms(const BackoffPolicy &policy, int64_t previous_ms);
// How Go prints a duration, as the kubelet's messages show it: "10s", "2m40s", "5m0s", "500ms".
std::string go_duration(int64_t ms);

// Kubernetes' exit code of a wait(2) status: the code, or 128+signal.
int exit_code_of(int wait_status);
// Whether the restart policy (Always | OnFailure | Never) restarts a
// container that exited with this code.
bool should_restart(const std::string &restart_policy, int exit_code);
// The pod phase from its container statuses, as the kubelet computes it
// (getPhase): a container waiting after having run counts as stopped.
std::string pod_phase(const std::string &restart_policy, const std::vector<ContainerStatus> &statuses);

// A Kubernetes-like event, numbered so serve can ask for the new ones.
struct AgentEvent {
    uint64_t seq = 0;
    std::string type;     // Normal | Warning
    std::string reason;   // Scheduled | Pulled | Created | Started | Killing | BackOff | Unhealthy | OOMKilled | Failed ...
    std::string namespace_, object;  // object: "pod/<name>"
    std::string message;
    int count = 1;
    std::string first_timestamp, last_timestamp;  // RFC 3339
};
json to_json(const AgentEvent &);

struct AgentConfig {
    RuntimeConfig runtime;
    std::string node_name;     // default: the host name
    std::string socket_path;   // default: <state dir>/agent.sock
    bool stdio = false;        // also serve one client on stdin/stdout; its EOF stops the agent
    size_t max_events = 1000;  // kept in memory for list_pods
    // Debug lines (--debug); library code never prints itself.
    std::function<void(const std::string &)> debug;
};

class Agent {
public:
    // Binds the socket, installs the signalfd, becomes a child subreaper and
    // adopts the pods found in the state dir.
    static Result<std::unique_ptr<Agent>> create(AgentConfig cfg);
    ~Agent();
    Agent(const Agent &) = delete;
    Agent &operator=(const Agent &) = delete;

    // The poll loop; returns on SIGTERM/SIGINT (or stdio EOF) with every pod
    // still running.
    Status run();
    // One request of the protocol (agent_api.hpp) -> its response.
    json handle_request(const json &request);

    struct Impl;

private:
    explicit Agent(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace corral::herd
