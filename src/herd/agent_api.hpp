// herd/agent_api.hpp — what `herd serve` (and the CLI) ask of a node agent.
//
// The agent owns the containers of one node. It is reached over a byte
// stream: a unix socket on the local node (<agent state dir>/agent.sock), and
// later `ssh NODE herd agent --stdio` for remote nodes, so the protocol is
// JSON lines, one request and one response per line:
//
//   request  {"op": "<op>", ...arguments}
//   response {"ok": true, ...results}  |  {"ok": false, "error": "message"}
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
//
// A deleted pod disappears from list_pods once all its containers are gone.
// The agent keeps pods running without serve, and a restarted agent adopts
// the containers it finds instead of restarting them.
#pragma once

#include "herd/manifest.hpp"
#include "herd/status.hpp"

#include <memory>
#include <string>
#include <vector>

namespace corral::herd {

struct PodRecord {
    Pod pod;
    PodStatus status;
    bool deleting = false;
};

// A client for one agent: used by serve and by the CLI (logs, exec).
class AgentClient {
public:
    virtual ~AgentClient() = default;
    // One request, one response; an {"ok": false} response becomes an Error.
    virtual Result<json> call(const json &request) = 0;
};

// Connects to a local agent's unix socket.
Result<std::unique_ptr<AgentClient>> connect_agent_socket(const std::string &socket_path);

} // namespace corral::herd
