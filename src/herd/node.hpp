// herd/node.hpp — a node as serve knows it: the connection to its agent
// (NodeHandle) and what the node said of itself.
//
// A node is two things in serve:
//   - a Node object in the Store (kind "Node", no namespace): its name, how
//     its agent is reached, its labels and the pod subnet serve handed out to
//     it from the cluster CIDR (spec.podCIDR). That survives a restart.
//   - a NodeHandle in memory: the channel to the agent, the requests in
//     flight, and what the agent last answered (allocatable CPU and memory,
//     architecture, last contact, round-trip time).
// Today there is one handle, the local agent over its unix socket. Many
// nodes over SSH (issue 16) are more handles whose Connect opens an ssh
// child's stdio: nothing else in serve knows how a node is reached.
#pragma once

#include "herd/agent_api.hpp"

#include <nlohmann/json.hpp>

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace corral::herd {

// What the agent reports of its node in its ping answer ("node_info").
struct NodeFacts {
    std::optional<int64_t> cpu_millis, memory_bytes;  // allocatable
    std::string architecture;                         // GOARCH words: amd64, arm64
    std::string kernel_version, os_image;
    std::string pod_cidr;  // the subnet the agent gives its pods
    std::string version;   // the agent's
    int64_t pods = 0;
};
NodeFacts node_facts_from_ping(const nlohmann::json &ping);

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
    NodeHandle(std::string name, Connect connect, std::chrono::milliseconds timeout = kAgentCallTimeout,
               std::string address = "")
        : name_(std::move(name)), address_(std::move(address)), connect_(std::move(connect)), timeout_(timeout) {}

    const std::string &name() const { return name_; }
    // How to reach the agent; a stream (serve_stream.cpp) opens its own connection.
    const Connect &connector() const { return connect_; }
    // How the agent is reached, for people: "unix:/var/lib/herd/agent/agent.sock".
    const std::string &address() const { return address_; }
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

    // What the node last said (for `get nodes` and the scheduler).
    bool reachable = false;
    std::string last_error;
    NodeFacts facts;
    int64_t last_heartbeat = 0;  // unix seconds of the last answer to list_pods
    int64_t created = 0;         // first seen
    int64_t rtt_ms = -1;         // round trip of the last answered request
    // From the Node object in the Store.
    std::string pod_cidr;
    std::map<std::string, std::string> labels;

private:
    struct Pending {
        Done done;
        Deadline deadline;
        std::chrono::steady_clock::time_point sent;
    };
    Status connect();
    // One answer line (or the channel's error) for the oldest request.
    void deliver(Result<std::string> line);
    // Every request in flight fails with `e`; the connection is dropped.
    void fail_all(Error e);

    std::string name_;
    std::string address_;
    Connect connect_;
    std::chrono::milliseconds timeout_;
    std::unique_ptr<AgentClient> client_;
    std::deque<Pending> pending_;
};

// The labels every node has, as the kubelet sets them (hostname, os, arch),
// over the node's own.
std::map<std::string, std::string> node_labels(const NodeHandle &n);

// The next free subnet of `mask` bits from cluster_cidr (IPv4 "a.b.c.d/n"),
// skipping `taken`, as the node IPAM controller hands out spec.podCIDR.
Result<std::string> allocate_pod_cidr(const std::string &cluster_cidr, int mask, const std::set<std::string> &taken);
// Checks a CIDR and a per-node mask size as serve's flags give them.
Status check_cluster_cidr(const std::string &cluster_cidr, int mask);

// What the node's pods ask of it, for `get nodes` and describe.
struct NodeUsage {
    int64_t cpu_millis = 0, memory_bytes = 0;
    int64_t pods = 0;
};
// The Kubernetes v1/Node JSON of a node: conditions (Ready while the agent
// answered within grace_ms), capacity/allocatable, nodeInfo, spec.podCIDR,
// and herd's view of the link (status.herd: lastContact, rttMillis, address,
// allocated requests).
nlohmann::json node_object(const NodeHandle &n, int64_t now_ms, int64_t grace_ms, const NodeUsage &usage);

} // namespace corral::herd
