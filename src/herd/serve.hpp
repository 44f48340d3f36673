// herd/serve.hpp — `herd serve`: desired state, controllers, the serve socket.
//
// serve is the API server and the controller manager of a one-node (for now)
// Kubernetes in one single-threaded process:
//
//   CLI --serve_api.hpp--> Controller::handle()  --Store--> herd.db (SQLite)
//                          Controller::sync()    --AgentClient--> herd agent (per node)
//
// handle() answers one request of the serve API (apply, get, scale, ...) and
// only ever changes the Store; sync() (every ~1 s, and at once after a
// change) observes every node's pods (list_pods) and moves the nodes towards
// the Store: standalone Pods are sent to their node, Deployments keep their
// replica count and roll over with maxSurge/maxUnavailable exactly as the
// Kubernetes Deployment controller does, pods nobody wants any more are
// deleted. Pod status lives in memory only: it is re-read from the agents
// after a restart, and pods the agent still runs are matched by uid and
// never recreated.
//
// Nodes are NodeHandles: a name and a way to connect to its agent. Today the
// one node is the local machine over the agent's unix socket; the node pool
// of the next issue adds handles that connect over SSH (`herd agent --stdio`).
#pragma once

#include "common/fd.hpp"
#include "corral/log.hpp"
#include "herd/agent_api.hpp"
#include "herd/serve_api.hpp"
#include "herd/store.hpp"

#include <nlohmann/json.hpp>

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace corral::herd {

// One node and the connection to its agent, made lazily and made again after
// a transport failure (an agent restart must not need a serve restart); an
// {"ok": false} answer keeps it.
//
// serve's loop never waits for a node: submit() queues a request on the
// channel and returns; the loop polls the node's fds (add_poll_fds), pump()
// reads the answers and runs each request's callback, in order, and
// expire() fails every request in flight once the oldest passed its deadline
// (the connection is then dropped: the stream is out of step).
class NodeHandle {
public:
    using Connect = std::function<Result<std::unique_ptr<AgentClient>>()>;
    using Done = std::function<void(Result<json>)>;
    NodeHandle(std::string name, Connect connect, std::chrono::milliseconds timeout = kAgentCallTimeout)
        : name_(std::move(name)), connect_(std::move(connect)), timeout_(timeout) {}

    const std::string &name() const { return name_; }
    // How to reach the agent; a stream (serve_stream.cpp) opens its own connection.
    const Connect &connector() const { return connect_; }
    // One request, waiting for its answer (after the answers to requests in
    // flight). For logs and exec_target, which a CLI waits for anyway.
    Result<json> call(const json &request);
    // One request without waiting: `done` runs from pump()/expire() (at
    // once for a client without a channel, such as tests' fakes).
    void submit(const json &request, Done done);
    size_t in_flight() const { return pending_.size(); }

    // Appends the fds to poll for this node; returns how many.
    size_t add_poll_fds(std::vector<pollfd> &fds);
    // What poll said of them (the entries add_poll_fds appended).
    void pump(const pollfd *mine, size_t n);
    void expire(Deadline now);
    // The earliest deadline of a request in flight.
    std::optional<Deadline> next_deadline() const;

    // What the node last said (for `get nodes`).
    bool reachable = false;
    std::string last_error;
    json last_ping = json::object();
    int64_t last_heartbeat = 0;  // unix seconds of the last answer to list_pods
    int64_t created = 0;         // first seen

private:
    struct Pending {
        Done done;
        Deadline deadline;
    };
    Status connect();
    // One answer line (or the channel's error) for the oldest request.
    void deliver(Result<std::string> line);
    // Every request in flight fails with `e`; the connection is dropped.
    void fail_all(Error e);

    std::string name_;
    Connect connect_;
    std::chrono::milliseconds timeout_;
    std::unique_ptr<AgentClient> client_;
    std::deque<Pending> pending_;
};

struct ControllerOptions {
    // Unix time in milliseconds; tests pass a fake clock.
    std::function<int64_t()> clock_ms;
    Logger log;
    uint64_t seed = 0;  // random pod-name suffixes and uids; 0 = from the OS
    // A node that has not answered list_pods for this long is NotReady
    // (Ready Unknown), as the node lifecycle controller's grace period.
    int64_t node_grace_ms = 40'000;
};

// A pod as the agents last reported it.
struct ObservedPod {
    std::string node;
    std::string namespace_, name, uid;
    json labels = json::object();
    json status = json::object();  // status.hpp shape
    bool deleting = false;
};

class Controller {
public:
    Controller(Store store, std::vector<NodeHandle> nodes, ControllerOptions opts);

    // One serve API request (serve_api.hpp) -> its response, always an object
    // with "ok"; errors never escape as exceptions. The request is checked
    // against serve_ops() first: a malformed one is answered `invalid`.
    json handle(const json &request);
    // The same for one request line as it came off the socket.
    json handle_line(std::string_view line);

    // One reconcile pass over every node and object.
    void sync();

    // True when a request changed desired state since the last sync: the
    // serve loop then syncs at once instead of waiting for the tick.
    bool dirty() const { return dirty_; }

    // For tests and `get`: what the agents reported last.
    const std::map<std::string, ObservedPod> &observed() const { return observed_; }
    Store &store() { return store_; }
    // The serve loop polls them (NodeHandle::add_poll_fds).
    std::vector<NodeHandle> &nodes() { return nodes_; }
    // The node a pod is on (serve_stream.cpp); not_found, or unavailable
    // when it is not scheduled yet.
    Result<NodeHandle *> node_of_pod(const std::string &ns, const std::string &name);

private:
    struct DeploymentState {
        int64_t last_progress_ms = 0;
        int64_t observed_available = -1;
        int64_t observed_total = -1;
        std::string available_status, progressing_status, progressing_reason;
        std::string available_since, progressing_since, progressing_updated;
        json status = json::object();
    };

    json dispatch(const json &checked_request);

    // API operations
    Result<json> op_apply(const json &req);
    Result<json> op_delete(const json &req);
    Result<json> op_get(const json &req);
    Result<json> op_describe(const json &req);
    Result<json> op_scale(const json &req);
    Result<json> op_rollout_undo(const json &req);
    Result<json> op_rollout_history(const json &req);
    Result<json> op_events(const json &req);
    Result<json> op_logs(const json &req);
    Result<json> op_exec_target(const json &req);

    Result<std::string> apply_pod_object(const json &object, const std::string &source);
    Result<std::string> apply_deployment_object(const json &object, const std::string &source);
    Status ensure_revision(const std::string &ns, const std::string &name, const json &template_json,
                           const std::string &hash, bool bump, json &deployment_json);

    // sync steps
    void observe_nodes();
    void on_list_pods(const std::string &node, Result<json> answer);
    void reconcile_standalone_pods();
    void reconcile_deployment(const StoredObject &deployment);
    void delete_orphans();
    Status create_deployment_pod(const StoredObject &deployment, const json &template_json,
                                 const std::string &hash);
    Status delete_pod_now(const StoredObject &pod, const std::string &why);
    Status send_pod_to_node(const StoredObject &pod);
    NodeHandle *node_named(const std::string &name);
    NodeHandle *pick_node(const json &pod_json);

    json pod_with_status(const StoredObject &pod) const;
    json deployment_with_status(const StoredObject &d) const;
    json node_object(const NodeHandle &n) const;
    void event(const std::string &type, const std::string &reason, const std::string &ns,
               const std::string &object, const std::string &message);

    int64_t now_ms() const { return opts_.clock_ms(); }
    std::string new_uid();
    std::string random_suffix(size_t n);

    Store store_;
    std::vector<NodeHandle> nodes_;
    ControllerOptions opts_;
    std::mt19937_64 rng_;
    bool dirty_ = true;
    std::map<std::string, ObservedPod> observed_;        // by uid
    std::map<std::string, int64_t> ready_since_ms_;      // pod uid -> first seen Ready
    std::map<std::string, DeploymentState> deployments_;  // "ns/name"
    std::map<std::string, int64_t> agent_event_cursor_;  // node -> last event seq stored
    // Deleted pods that their node is still stopping (grace period), by uid:
    // `get` shows them Terminating, as Kubernetes does, until the node no
    // longer reports them (and `herd delete` waits for that).
    struct TerminatingPod {
        StoredObject pod;  // with metadata.deletionTimestamp
        std::string node;
    };
    std::map<std::string, TerminatingPod> terminating_;
    const StoredObject *terminating_pod(const std::string &ns, const std::string &name) const;
};

// serve_stream.cpp: an `exec` request line hands its connection over to a
// relay to the pod's node agent. nullopt: not an exec (answer it as usual);
// true: handed over (drop the client without answering: the relay owns a
// duplicate of its fd); false: answered with an error, the client stays.
std::optional<bool> hand_over_exec(std::string_view line, LineChannel &client, Controller &controller);

// The serve process: the controller plus the unix socket server on
// <state_dir>/herd.sock, in one poll loop. Returns when stop_fd becomes
// readable (serve_main passes a signalfd for SIGTERM/SIGINT).
struct ServeOptions {
    std::string state_dir;
    std::string node_name;          // "" = the hostname
    std::string agent_socket;       // the local node's agent socket
    int tick_ms = 1000;
    int64_t node_grace_ms = 40'000;  // ControllerOptions::node_grace_ms
    Logger log;
};
Status run_serve(const ServeOptions &opts, int stop_fd);

} // namespace corral::herd
