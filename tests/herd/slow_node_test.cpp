// serve never waits for a node (issue 15): with its agent stopped by
// SIGSTOP, `herd get pods` is still answered at once from serve's memory,
// and the node turns NotReady after its grace period; SIGCONT and it is
// Ready again. The private cluster is e2e_util.hpp's, with a grace of 3 s.
#include "herd/e2e_util.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>

namespace herd_e2e {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

class HerdSlowNode : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (containers, cgroups)";
        if (!corral::path_exists(std::string(CORRAL_FIXTURES) + "/layout/index.json"))
            GTEST_SKIP() << "no fixture image: run rootfs-fixtures/build.sh";
        cluster_ = std::make_unique<HerdCluster>(std::vector<std::string>{"--node-grace-ms", "3000"});
        ASSERT_EQ(cluster_->setup_error(), "") << cluster_->daemon_logs();
    }
    void TearDown() override {
        if (cluster_) {
            if (stopped_) ::kill(cluster_->agent_pid(), SIGCONT);
            std::string left = cluster_->teardown();
            EXPECT_EQ(left, "") << "left behind";
        }
    }
    std::string node_status() {
        RunResult r = cluster_->herd({"get", "nodes"}, 60);
        return r.out;
    }

    std::unique_ptr<HerdCluster> cluster_;
    bool stopped_ = false;
};

TEST_F(HerdSlowNode, GetPodsAnswersWhileTheAgentIsStoppedAndTheNodeTurnsNotReady) {
    RunResult applied = cluster_->herd({"apply", "-f", manifest("sleeper-pod.yaml")}, 120);
    ASSERT_EQ(applied.status, 0) << applied.text();
    ASSERT_TRUE(wait_until([&] { return cluster_->herd({"get", "pods"}, 60).out.find("Running") != std::string::npos; },
                           120s))
        << cluster_->herd({"get", "pods"}).text() << cluster_->daemon_logs();
    ASSERT_TRUE(wait_until([&] { return node_status().find(" Ready ") != std::string::npos; }, 60s)) << node_status();

    ASSERT_EQ(::kill(cluster_->agent_pid(), SIGSTOP), 0);
    stopped_ = true;
    auto stopped_at = Clock::now();
    // Every `herd get pods` (a whole CLI process) is answered from memory.
    double worst = 0;
    for (int i = 0; i < 5; ++i) {
        auto t = Clock::now();
        RunResult r = cluster_->herd({"get", "pods"}, 60);
        double took = ms_since(t);
        worst = std::max(worst, took);
        ASSERT_EQ(r.status, 0) << r.text();
        EXPECT_NE(r.out.find("sleeper"), std::string::npos) << r.out;
    }
    std::printf("herd get pods with the agent stopped: worst of 5: %.1f ms\n", worst);
    EXPECT_LT(worst, 2000.0) << "serve waited for the stopped agent";
    // After the grace (3 s here) the node is NotReady.
    ASSERT_TRUE(wait_until([&] { return node_status().find("NotReady") != std::string::npos; }, 60s)) << node_status();
    std::printf("node NotReady %.1f s after SIGSTOP (grace 3 s)\n", ms_since(stopped_at) / 1000);

    ASSERT_EQ(::kill(cluster_->agent_pid(), SIGCONT), 0);
    stopped_ = false;
    EXPECT_TRUE(wait_until([&] { return node_status().find(" Ready ") != std::string::npos; }, 90s)) << node_status();
    RunResult del = cluster_->herd({"delete", "-f", manifest("sleeper-pod.yaml")}, 120);
    EXPECT_EQ(del.status, 0) << del.text();
}

} // namespace
} // namespace herd_e2e
