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
// What differs per kind is in two places: the kind table (kinds.hpp: names,
// validation) and one KindController per kind (kind_controller.hpp: apply,
// status, delete, reconcile). Nodes are NodeHandles (node.hpp) with a Node
// object each in the Store; where a pod runs is the scheduler's choice
// (scheduler.hpp). Today the one node is the local machine over the agent's
// unix socket; the node pool of the next issue adds handles that connect
// over SSH.
//
// Files: serve.cpp (construction, dispatch, sync order), serve_ops.cpp (the
// API operations), controller_{node,pod,deployment}.cpp (the controllers),
// serve_loop.cpp (run_serve: the socket server and the poll loop).
#pragma once

#include "common/fd.hpp"
#include "corral/log.hpp"
#include "herd/agent_api.hpp"
#include "herd/kind_controller.hpp"
#include "herd/node.hpp"
#include "herd/scheduler.hpp"
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

struct ControllerOptions {
    // Unix time in milliseconds; tests pass a fake clock.
    std::function<int64_t()> clock_ms;
    Logger log;
    uint64_t seed = 0;  // random pod-name suffixes and uids; 0 = from the OS
    // A node that has not answered list_pods for this long is NotReady
    // (Ready Unknown), as the node lifecycle controller's grace period.
    int64_t node_grace_ms = 40'000;
    // Pod subnets: each node gets the next free /node_cidr_mask_size of
    // cluster_cidr as its spec.podCIDR (the first node 10.88.0.0/24, where
    // the agent's default pod range 10.88.0.0/16 begins).
    std::string cluster_cidr = "10.88.0.0/16";
    int node_cidr_mask_size = 24;
    // A pod that fits no node is tried again when the nodes or the placed
    // pods change, and at the latest after this long (kube-scheduler's
    // unschedulable queue flush).
    int64_t unschedulable_retry_ms = 60'000;
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
    friend class NodeController;
    friend class PodController;
    friend class DeploymentController;

    struct DeploymentState {
        int64_t last_progress_ms = 0;
        int64_t observed_available = -1;
        int64_t observed_total = -1;
        std::string available_status, progressing_status, progressing_reason;
        std::string available_since, progressing_since, progressing_updated;
        json status = json::object();
    };
    // A pod the scheduler found no node for (PodScheduled=False).
    struct Unschedulable {
        std::string message;
        int64_t since_ms = 0, tried_ms = 0;
        uint64_t epoch = 0;
    };

    json dispatch(const json &checked_request);
    KindController *controller_for(const std::string &kind);

    // API operations (serve_ops.cpp)
    Result<json> op_apply(const json &req);
    Result<json> op_delete(const json &req);
    Result<json> op_get(const json &req);
    Result<json> op_describe(const json &req);
    Result<json> op_scale(const json &req);
    Result<json> op_rollout_undo(const json &req);
    Result<json> op_rollout_history(const json &req);
    Result<json> op_events(const json &req);
    Result<json> call_pod_node(const json &req, const char *op);
    Result<json> op_logs(const json &req);
    Result<json> op_exec_target(const json &req);

    // Deployment (controller_deployment.cpp)
    Result<std::string> apply_deployment_object(const json &object, const std::string &source);
    Status ensure_revision(const std::string &ns, const std::string &name, const json &template_json,
                           const std::string &hash, bool bump, json &deployment_json);
    void reconcile_deployment(const StoredObject &deployment);
    Status create_deployment_pod(const StoredObject &deployment, const json &template_json,
                                 const std::string &hash);
    json deployment_with_status(const StoredObject &d) const;
    Status delete_deployment(const StoredObject &d);

    // Pod (controller_pod.cpp)
    Result<std::string> apply_pod_object(const json &object, const std::string &source);
    void schedule_and_send_pods();
    void delete_orphans();
    Status delete_pod_now(const StoredObject &pod, const std::string &why);
    void send_pod_to_node(const StoredObject &pod, NodeHandle &node);
    json pod_with_status(const StoredObject &pod) const;

    // Node (controller_node.cpp)
    void register_nodes();
    void observe_nodes();
    void on_ping(const std::string &node, Result<json> answer);
    void on_list_pods(const std::string &node, Result<json> answer);
    NodeHandle *node_named(const std::string &name);
    NodeUsage node_usage(const std::string &node) const;
    json node_with_status(const StoredObject &node) const;

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
    // One per kind, in sync order (kind_controller.hpp).
    std::vector<std::unique_ptr<KindController>> controllers_;
    std::map<std::string, ObservedPod> observed_;        // by uid
    std::map<std::string, int64_t> ready_since_ms_;      // pod uid -> first seen Ready
    std::map<std::string, DeploymentState> deployments_;  // "ns/name"
    std::map<std::string, int64_t> agent_event_cursor_;  // node -> last event seq stored
    // Pods no node can take now, by uid; retried when sched_epoch_ moved
    // (a node came, went or changed; a pod left a node) or after a while.
    std::map<std::string, Unschedulable> unschedulable_;
    uint64_t sched_epoch_ = 1;
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
    std::string cluster_cidr = "10.88.0.0/16";  // ControllerOptions::cluster_cidr
    int node_cidr_mask_size = 24;
    Logger log;
    // Called once the local node has its pod subnet (before the loop):
    // `herd serve --start-agent` starts the agent with it.
    std::function<Status(const std::string &pod_cidr)> start_local_agent;
};
Status run_serve(const ServeOptions &opts, int stop_fd);

} // namespace corral::herd
