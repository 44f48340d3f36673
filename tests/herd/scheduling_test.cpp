// Scheduling on a real node (issue 15): the agent reports the machine's
// CPUs and memory; a pod asking for more memory than the machine has, and a
// pod whose nodeSelector matches no node, stay Pending with kube-scheduler's
// message in `get`, `describe` (a FailedScheduling event) and the
// PodScheduled condition; `herd get nodes` shows allocatable and the last
// heartbeat. The private cluster is e2e_util.hpp's.
#include "herd/e2e_util.hpp"

#include <gtest/gtest.h>

namespace herd_e2e {
namespace {

// The cluster of ClusterTest; the pods are deleted first, so teardown finds
// nothing left.
class HerdScheduling : public ClusterTest {
protected:
    void TearDown() override {
        if (cluster_) (void)cluster_->herd({"delete", "-f", manifest("unschedulable-pods.yaml"), "--wait=false"}, 60);
        ClusterTest::TearDown();
    }
};

TEST_F(HerdScheduling, UnschedulablePodsArePendingWithTheSchedulersMessageAndEvent) {
    // The node has answered (allocatable known) before the pods come.
    ASSERT_TRUE(wait_until([&] { return cluster_->herd({"get", "nodes"}, 60).out.find(" Ready ") != std::string::npos; },
                           60s))
        << cluster_->herd({"get", "nodes"}).text() << cluster_->daemon_logs();
    RunResult nodes = cluster_->herd({"get", "nodes"}, 60);
    EXPECT_NE(nodes.out.find("CPU"), std::string::npos) << nodes.text();
    EXPECT_NE(nodes.out.find("HEARTBEAT"), std::string::npos) << nodes.text();
    EXPECT_NE(nodes.out.find(" ago"), std::string::npos) << nodes.text();
    RunResult yaml = cluster_->herd({"get", "nodes", "-o", "json"}, 60);
    ASSERT_EQ(yaml.status, 0) << yaml.text();
    json node = json::parse(yaml.out)["items"][0];
    EXPECT_TRUE(node["status"]["allocatable"].contains("cpu")) << node.dump();
    EXPECT_TRUE(node["status"]["allocatable"].contains("memory")) << node.dump();
    EXPECT_FALSE(node["status"]["nodeInfo"]["architecture"].get<std::string>().empty());

    RunResult applied = cluster_->herd({"apply", "-f", manifest("unschedulable-pods.yaml")}, 120);
    ASSERT_EQ(applied.status, 0) << applied.text();
    const std::string memory_msg = "0/1 nodes are available: 1 Insufficient memory.";
    const std::string selector_msg = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.";
    auto described = [&](const std::string &pod) { return cluster_->herd({"describe", "pod", pod}, 60).out; };
    ASSERT_TRUE(wait_until([&] { return described("too-big").find(memory_msg) != std::string::npos; }, 60s))
        << described("too-big") << cluster_->daemon_logs();
    ASSERT_TRUE(wait_until([&] { return described("no-such-node").find(selector_msg) != std::string::npos; }, 60s))
        << described("no-such-node");
    std::string d = described("too-big");
    EXPECT_NE(d.find("FailedScheduling"), std::string::npos) << d;
    EXPECT_NE(d.find("Warning"), std::string::npos) << d;

    RunResult pods = cluster_->herd({"get", "pods"}, 60);
    EXPECT_NE(pods.out.find("Pending"), std::string::npos) << pods.text();
    EXPECT_EQ(pods.out.find("Running"), std::string::npos) << pods.text();
    RunResult one = cluster_->herd({"get", "pod", "too-big", "-o", "json"}, 60);
    ASSERT_EQ(one.status, 0) << one.text();
    json p = json::parse(one.out);
    EXPECT_EQ(p["status"]["phase"], "Pending");
    bool found = false;
    for (const auto &c : p["status"]["conditions"]) {
        if (c["type"] != "PodScheduled") continue;
        found = true;
        EXPECT_EQ(c["status"], "False");
        EXPECT_EQ(c["reason"], "Unschedulable");
        EXPECT_EQ(c["message"], memory_msg);
    }
    EXPECT_TRUE(found) << one.out;
}

} // namespace
} // namespace herd_e2e
