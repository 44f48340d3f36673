// herd/scheduler.hpp — where a pod runs: filter the nodes, then score them.
//
// The shape of kube-scheduler's framework, cut down to what herd's API has:
//
//   filter   NodeReady        a node that stopped answering is out (as its
//                             node.kubernetes.io/unreachable taint would be)
//            NodeAffinity     spec.nodeSelector against the node's labels
//            NodeResourcesFit the pod's requests against what the node can
//                             still give (allocatable minus what is placed)
//   score    spread           fewest pods of the same owner (Deployment) on
//                             the node first, as the default topology spread
//                             over kubernetes.io/hostname does
//            LeastAllocated   then the node left with the most free CPU and
//                             memory (in shares of allocatable)
//            name             then the name, so a decision is reproducible
//
// A pod that fits nowhere gets the scheduler's message, counted per reason
// over all nodes: "0/3 nodes are available: 1 Insufficient cpu, 2 Insufficient
// memory." Pure functions over plain structs: the unit tests give it nodes
// that do not exist. Taints, tolerations and affinity (issues 16, 17) are new
// filters in this file.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace corral::herd {

// What a pod asks of a node: the sum of its containers' requests (a
// container with a limit and no request requests its limit, as the API
// server defaults it).
struct PodRequest {
    int64_t cpu_millis = 0;
    int64_t memory_bytes = 0;
    std::map<std::string, std::string> node_selector;
    std::string owner;  // "namespace/deployment" for spreading; "" = none
};
// From a Pod's JSON (its spec: containers[].resources, nodeSelector).
PodRequest pod_request(const nlohmann::json &pod, const std::string &owner);

// One node as the scheduler sees it.
struct SchedNode {
    std::string name;
    std::map<std::string, std::string> labels;
    bool ready = true;
    // What the agent reported; nullopt: not reported (an older agent) and
    // not limited.
    std::optional<int64_t> allocatable_cpu_millis, allocatable_memory_bytes;
    // The sums of the requests of the pods placed on it.
    int64_t requested_cpu_millis = 0, requested_memory_bytes = 0;
    // Its pods per owner ("namespace/deployment").
    std::map<std::string, int> pods_by_owner;
    // The same sums counting a pod without requests as kube-scheduler's
    // non-zero defaults (100m, 200Mi), for scoring only.
    int64_t scored_cpu_millis = 0, scored_memory_bytes = 0;

    // Counts a pod placed on this node.
    void add(const PodRequest &);
};

struct Placement {
    std::string node;     // "" when no node fits
    std::string message;  // why not, in kube-scheduler's words
};

// Picks a node for the pod. On success node is set; the caller adds the pod
// to that node (SchedNode::add) before placing the next one.
Placement schedule(const PodRequest &pod, const std::vector<SchedNode> &nodes);

// The message of a pod that fits nowhere, from each node's reasons.
std::string unschedulable_message(size_t node_count, const std::vector<std::vector<std::string>> &reasons);

} // namespace corral::herd
