// The agent's small decisions, without containers: back-off, durations,
// restart policies, pod phase (the kubelet's getPhase).
#include "herd/agent.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

using namespace corral::herd;

TEST(HerdAgentBackoff, KubeletDefaultsDoubleToFiveMinutes) {
    BackoffPolicy p;
    int64_t d = 0;
    std::vector<int64_t> seen;
    for (int i = 0; i < 7; ++i) seen.push_back(d = next_backoff_ms(p, d));
    EXPECT_EQ(seen, (std::vector<int64_t>{10'000, 20'000, 40'000, 80'000, 160'000, 300'000, 300'000}));
}

TEST(HerdAgentBackoff, FromAnnotations) {
    ObjectMeta m;
    m.annotations = {{"herd.io/backoff-initial", "1s"}, {"herd.io/backoff-max", "4s"}, {"herd.io/backoff-reset", "500ms"}};
    auto p = backoff_policy(m);
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(p->initial_ms, 1000);
    EXPECT_EQ(p->max_ms, 4000);
    EXPECT_EQ(p->reset_ms, 500);
    EXPECT_EQ(next_backoff_ms(*p, 4000), 4000);
}

TEST(HerdAgentBackoff, BadAnnotationNamesTheField) {
    ObjectMeta m;
    m.annotations = {{"herd.io/backoff-initial", "soon"}};
    auto p = backoff_policy(m);
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().message().find("herd.io/backoff-initial"), std::string::npos) << p.error().message();
}

TEST(HerdAgentDuration, PrintsLikeGo) {
    EXPECT_EQ(go_duration(10'000), "10s");
    EXPECT_EQ(go_duration(160'000), "2m40s");
    EXPECT_EQ(go_duration(300'000), "5m0s");
    EXPECT_EQ(go_duration(500), "500ms");
    EXPECT_EQ(go_duration(1500), "1.5s");
    EXPECT_EQ(go_duration(3'600'000), "1h0m0s");
}

TEST(HerdAgentExit, CodesAsKubernetesReportsThem) {
    EXPECT_EQ(exit_code_of(0), 0);
    EXPECT_EQ(exit_code_of(3 << 8), 3);
    EXPECT_EQ(exit_code_of(SIGKILL), 137);  // WIFSIGNALED with SIGKILL
    EXPECT_EQ(exit_code_of(SIGTERM), 143);
}

TEST(HerdAgentRestart, Policies) {
    EXPECT_TRUE(should_restart("Always", 0));
    EXPECT_TRUE(should_restart("Always", 1));
    EXPECT_FALSE(should_restart("OnFailure", 0));
    EXPECT_TRUE(should_restart("OnFailure", 137));
    EXPECT_FALSE(should_restart("Never", 1));
    EXPECT_FALSE(should_restart("Never", 0));
}

namespace {
ContainerStatus running() {
    ContainerStatus c;
    c.state.running = ContainerStateRunning{"t"};
    return c;
}
ContainerStatus terminated(int code) {
    ContainerStatus c;
    c.state.terminated = ContainerStateTerminated{};
    c.state.terminated->exit_code = code;
    return c;
}
ContainerStatus creating() {
    ContainerStatus c;
    c.state.waiting = ContainerStateWaiting{"ContainerCreating", ""};
    return c;
}
ContainerStatus crashloop() {
    ContainerStatus c;
    c.state.waiting = ContainerStateWaiting{"CrashLoopBackOff", ""};
    c.last_state.terminated = ContainerStateTerminated{};
    c.last_state.terminated->exit_code = 1;
    return c;
}
} // namespace

TEST(HerdAgentPhase, KubeletRules) {
    EXPECT_EQ(pod_phase("Always", {creating()}), "Pending");
    EXPECT_EQ(pod_phase("Always", {running(), creating()}), "Pending");
    EXPECT_EQ(pod_phase("Always", {running()}), "Running");
    EXPECT_EQ(pod_phase("Always", {crashloop()}), "Running");
    EXPECT_EQ(pod_phase("Always", {running(), terminated(1)}), "Running");
    EXPECT_EQ(pod_phase("Never", {terminated(0)}), "Succeeded");
    EXPECT_EQ(pod_phase("Never", {terminated(1)}), "Failed");
    EXPECT_EQ(pod_phase("Never", {terminated(0), terminated(2)}), "Failed");
    EXPECT_EQ(pod_phase("OnFailure", {terminated(0), terminated(0)}), "Succeeded");
    EXPECT_EQ(pod_phase("OnFailure", {terminated(0), crashloop()}), "Running");
    EXPECT_EQ(pod_phase("Always", {}), "Pending");
}
