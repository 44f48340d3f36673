// herd's scheduler over synthetic nodes: the filters (resources, nodeSelector,
// unreachable nodes), kube-scheduler's message for a pod that fits nowhere,
// spreading a Deployment's replicas, least-allocated, and pod_request.
#include "herd/scheduler.hpp"
#include "herd/node.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace corral::herd;
using nlohmann::json;

namespace {

constexpr int64_t Gi = 1024LL * 1024 * 1024;
constexpr int64_t Mi = 1024LL * 1024;

SchedNode node(const std::string &name, int64_t cpu_millis, int64_t memory_bytes,
               std::map<std::string, std::string> labels = {}) {
    SchedNode n;
    n.name = name;
    n.allocatable_cpu_millis = cpu_millis;
    n.allocatable_memory_bytes = memory_bytes;
    n.labels = std::move(labels);
    n.labels["kubernetes.io/hostname"] = name;
    return n;
}

PodRequest request(int64_t cpu_millis, int64_t memory_bytes, std::string owner = "") {
    PodRequest r;
    r.cpu_millis = cpu_millis;
    r.memory_bytes = memory_bytes;
    r.owner = std::move(owner);
    return r;
}

// Schedules `pods` one after the other, as one sync does, adding each to
// its node. Returns the node of each.
std::vector<std::string> place_all(std::vector<SchedNode> &nodes, const std::vector<PodRequest> &pods) {
    std::vector<std::string> out;
    for (const auto &p : pods) {
        Placement where = schedule(p, nodes);
        out.push_back(where.node);
        for (auto &n : nodes)
            if (n.name == where.node) n.add(p);
    }
    return out;
}

} // namespace

TEST(HerdScheduler, MemoryRequestLargerThanTheNodeIsKubernetesMessage) {
    std::vector<SchedNode> nodes = {node("n1", 2000, 4 * Gi)};
    Placement p = schedule(request(100, 64 * Gi), nodes);
    EXPECT_EQ(p.node, "");
    EXPECT_EQ(p.message, "0/1 nodes are available: 1 Insufficient memory.");
}

TEST(HerdScheduler, ReasonsAreCountedAndSortedOverAllNodes) {
    std::vector<SchedNode> nodes = {node("a", 500, 8 * Gi), node("b", 4000, 1 * Gi), node("c", 4000, 1 * Gi),
                                    node("d", 8000, 8 * Gi, {{"disk", "hdd"}})};
    PodRequest r = request(1000, 2 * Gi);
    r.node_selector = {{"disk", "hdd"}};
    nodes[3].ready = false;
    // a: selector first (the filter order), b and c: selector too; d: down.
    EXPECT_EQ(schedule(r, nodes).message,
              "0/4 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, "
              "3 node(s) didn't match Pod's node affinity/selector.");
    r.node_selector.clear();
    EXPECT_EQ(schedule(r, nodes).message,
              "0/4 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint "
              "{node.kubernetes.io/unreachable: }, 2 Insufficient memory.");
}

TEST(HerdScheduler, NodeSelectorMatchingNoNode) {
    std::vector<SchedNode> nodes = {node("n1", 2000, 4 * Gi)};
    PodRequest r = request(0, 0);
    r.node_selector = {{"disktype", "ssd"}};
    EXPECT_EQ(schedule(r, nodes).message, "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.");
    nodes[0].labels["disktype"] = "ssd";
    EXPECT_EQ(schedule(r, nodes).node, "n1");
}

TEST(HerdScheduler, FitCountsWhatIsPlacedAlready) {
    std::vector<SchedNode> nodes = {node("small", 1000, 1 * Gi), node("big", 4000, 8 * Gi)};
    // Three 600m pods: only one fits on `small` (1000m), however scored.
    auto where = place_all(nodes, {request(600, 100 * Mi), request(600, 100 * Mi), request(600, 100 * Mi),
                                   request(600, 100 * Mi), request(600, 100 * Mi), request(600, 100 * Mi),
                                   request(600, 100 * Mi)});
    int on_small = 0, on_big = 0, nowhere = 0;
    for (const auto &w : where) (w == "small" ? on_small : w == "big" ? on_big : nowhere)++;
    EXPECT_EQ(on_small, 1);
    EXPECT_EQ(on_big, 6);  // 6 x 600m = 3600m of 4000m
    EXPECT_EQ(nowhere, 0);
    Placement last = schedule(request(600, 100 * Mi), nodes);
    EXPECT_EQ(last.message, "0/2 nodes are available: 2 Insufficient cpu.");
    // Exactly what is left still fits (the filter is "request <= free").
    EXPECT_NE(schedule(request(400, 100 * Mi), nodes).node, "");
}

TEST(HerdScheduler, SixReplicasSpreadTwoTwoTwoOverThreeNodes) {
    // Unequal nodes: least-allocated alone would put most on n3.
    std::vector<SchedNode> nodes = {node("n1", 2000, 4 * Gi), node("n2", 4000, 8 * Gi), node("n3", 16000, 64 * Gi)};
    std::vector<PodRequest> pods(6, request(250, 128 * Mi, "default/web"));
    auto where = place_all(nodes, pods);
    std::map<std::string, int> count;
    for (const auto &w : where) count[w]++;
    EXPECT_EQ(count["n1"], 2);
    EXPECT_EQ(count["n2"], 2);
    EXPECT_EQ(count["n3"], 2);
    // Another Deployment's pods do not count against this one's spread.
    EXPECT_EQ(nodes[0].pods_by_owner["default/web"], 2);
    EXPECT_EQ(nodes[0].pods_by_owner.count("default/api"), 0u);
}

TEST(HerdScheduler, SpreadGivesWayToFit) {
    // n1 is full: the spread cannot be even, the replicas still run.
    std::vector<SchedNode> nodes = {node("n1", 300, 4 * Gi), node("n2", 4000, 8 * Gi)};
    std::vector<PodRequest> pods(4, request(250, 128 * Mi, "default/web"));
    auto where = place_all(nodes, pods);
    std::map<std::string, int> count;
    for (const auto &w : where) count[w]++;
    EXPECT_EQ(count["n1"], 1);
    EXPECT_EQ(count["n2"], 3);
}

TEST(HerdScheduler, LeastAllocatedPicksTheEmptiestNode) {
    std::vector<SchedNode> nodes = {node("a", 4000, 8 * Gi), node("b", 4000, 8 * Gi), node("c", 4000, 8 * Gi)};
    nodes[0].add(request(3000, 6 * Gi));
    nodes[1].add(request(1000, 2 * Gi));
    nodes[2].add(request(2000, 4 * Gi));
    EXPECT_EQ(schedule(request(500, 1 * Gi), nodes).node, "b");
    // Shares, not absolute amounts: a bigger node half full loses to a
    // smaller one a quarter full.
    std::vector<SchedNode> two = {node("big", 16000, 32 * Gi), node("small", 4000, 8 * Gi)};
    two[0].add(request(8000, 16 * Gi));
    two[1].add(request(1000, 2 * Gi));
    EXPECT_EQ(schedule(request(100, 100 * Mi), two).node, "small");
    // Pods without requests count as kube-scheduler's defaults when scoring.
    std::vector<SchedNode> eq = {node("x", 1000, 1 * Gi), node("y", 1000, 1 * Gi)};
    eq[0].add(request(0, 0));
    EXPECT_EQ(schedule(request(0, 0), eq).node, "y");
    // Equal scores: the name decides (reproducible).
    std::vector<SchedNode> same = {node("m2", 1000, 1 * Gi), node("m1", 1000, 1 * Gi)};
    EXPECT_EQ(schedule(request(0, 0), same).node, "m1");
}

TEST(HerdScheduler, NodeThatDidNotReportItsSizeIsNotLimited) {
    SchedNode n;
    n.name = "old-agent";
    EXPECT_EQ(schedule(request(64000, 512 * Gi), {n}).node, "old-agent");
}

TEST(HerdScheduler, NoNodesAtAll) {
    EXPECT_EQ(schedule(request(0, 0), {}).message, "0/0 nodes are available.");
}

TEST(HerdScheduler, PodRequestSumsContainersAndDefaultsToLimits) {
    json pod = {{"spec",
                 {{"nodeSelector", {{"disktype", "ssd"}}},
                  {"containers",
                   json::array({{{"name", "a"}, {"resources", {{"requests", {{"cpu", "250m"}, {"memory", "64Mi"}}}}}},
                                {{"name", "b"}, {"resources", {{"limits", {{"cpu", "1"}, {"memory", "1Gi"}}}}}},
                                {{"name", "c"}}})}}}};
    PodRequest r = pod_request(pod, "ns/web");
    EXPECT_EQ(r.cpu_millis, 1250);
    EXPECT_EQ(r.memory_bytes, 64 * Mi + 1 * Gi);
    EXPECT_EQ(r.owner, "ns/web");
    EXPECT_EQ(r.node_selector.at("disktype"), "ssd");
}

TEST(HerdScheduler, PodSubnetsFromTheClusterCidr) {
    EXPECT_EQ(*allocate_pod_cidr("10.88.0.0/16", 24, {}), "10.88.0.0/24");
    EXPECT_EQ(*allocate_pod_cidr("10.88.0.0/16", 24, {"10.88.0.0/24", "10.88.1.0/24"}), "10.88.2.0/24");
    EXPECT_EQ(*allocate_pod_cidr("10.88.0.0/16", 16, {}), "10.88.0.0/16");
    auto full = allocate_pod_cidr("10.88.0.0/23", 24, {"10.88.0.0/24", "10.88.1.0/24"});
    ASSERT_FALSE(full);
    EXPECT_NE(full.error().message().find("every /24"), std::string::npos) << full.error().message();
    auto bad = allocate_pod_cidr("10.88.0.1/16", 24, {});
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find("did you mean 10.88.0.0/16"), std::string::npos) << bad.error().message();
    EXPECT_FALSE(check_cluster_cidr("10.88.0.0/16", 8));
    EXPECT_FALSE(check_cluster_cidr("not-a-cidr", 24));
    EXPECT_TRUE(check_cluster_cidr("10.88.0.0/16", 24));
}
