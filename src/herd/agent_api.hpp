// herd/agent_api.hpp — what `herd serve` (and the CLI) ask of a node agent.
//
// The agent owns the containers of one node. It is reached over a byte
// stream: a unix socket on the local node (<agent state dir>/agent.sock), and
// later `ssh NODE herd agent --stdio` for remote nodes, so the protocol is
// JSON lines over a LineChannel (channel.hpp), one request and one response
// per line:
//
//   request  {"op": "<op>", ...arguments}
//   response {"ok": true, ...results}  |  {"ok": false, "error": "message", "reason": "<kind>"}
//
// reason: not_found (no such pod or container), already_exists, invalid (a
// malformed request: not JSON, a wrong type, an unknown op, a line over
// 16 MiB), unknown. The argument types below are checked before a handler
// runs (agent_ops(), parse_request_line).
//
// | op          | arguments                                  | results                              |
// |-------------|--------------------------------------------|--------------------------------------|
// | ping        | -                                          | node, version, pods (count)          |
// | apply_pod   | pod: Pod JSON (metadata.uid set)           | - (idempotent: same uid = no change) |
// | delete_pod  | namespace, name, grace_seconds (optional)  | - (returns at once; stop continues)  |
// | list_pods   | since (optional: last event seq seen)      | pods: [{metadata, spec, status}],    |
// |             |                                            | events: [{seq, type, reason, object, |
// |             |                                            | namespace, message, count,           |
// |             |                                            | firstTimestamp, lastTimestamp}] with |
// |             |                                            | seq > since, event_seq (the last)    |
// | logs        | namespace, name, container, previous,      | data (text), offset (for next read)  |
// |             | offset (bytes; -1 = tail), limit_bytes     |                                      |
// | exec_target | namespace, name, container                 | corral_id, corral_root, corral_bin   |
// | exec        | namespace, name, container, command [..],  | stream: true; the connection is then |
// |             | stdin, tty, rows, cols                     | the command's stdio (exec_stream.hpp)|
// | stats       | namespace, name (optional: every pod)     | timestamp, pods: [{namespace, name,  |
// |             |                                            | uid, containers: [{name, running,    |
// |             |                                            | cpu_usage_ns, memory_usage_bytes,    |
// |             |                                            | memory_working_set_bytes,            |
// |             |                                            | oom_kills}]}] (pod_cgroups.hpp)      |
//
// A deleted pod disappears from list_pods once all its containers are gone.
// The agent keeps pods running without serve, and a restarted agent adopts
// the containers it finds instead of restarting them.
#pragma once

#include "herd/channel.hpp"
#include "herd/manifest.hpp"
#include "herd/status.hpp"

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace corral::herd {

struct PodRecord {
    Pod pod;
    PodStatus status;
    bool deleting = false;
};

// The protocol's ops and their argument types, for parse_request_line.
std::span<const OpSpec> agent_ops();

// A client for one agent: used by serve and by the CLI (logs, exec).
class AgentClient {
public:
    virtual ~AgentClient() = default;
    // One request, one response. An {"ok": false} answer becomes an Error
    // of the agent's kind; a failure of the channel one of kind transport,
    // after which the client is dead (every call fails): make a new one.
    virtual Result<json> call(const json &request) = 0;
    // The channel under the client, for a poll loop that sends requests
    // and reads answers itself (serve's NodeHandle); nullptr for a client
    // that answers at once (tests' fakes).
    virtual LineChannel *channel() { return nullptr; }
};

constexpr std::chrono::milliseconds kAgentCallTimeout{30'000};

// A client over any channel (a unix socket, an ssh child's stdio).
std::unique_ptr<AgentClient> agent_client_over(LineChannel channel,
                                               std::chrono::milliseconds timeout = kAgentCallTimeout);
// Connects to a local agent's unix socket (nobody listening: `unavailable`).
Result<std::unique_ptr<AgentClient>> connect_agent_socket(const std::string &socket_path,
                                                          std::chrono::milliseconds timeout = kAgentCallTimeout);

} // namespace corral::herd
