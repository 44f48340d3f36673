// PodStatus in Kubernetes' JSON shape, and RFC 3339 times.
#include "herd/status.hpp"

#include <gtest/gtest.h>

using namespace corral::herd;

namespace {

PodStatus crash_looping_pod() {
    PodStatus s;
    s.phase = "Running";
    s.host_ip = "10.0.0.1";
    s.pod_ip = "10.88.0.5";
    s.start_time = "2026-11-23T18:00:00Z";
    s.conditions = {{"PodScheduled", "True", "", "", "2026-11-23T18:00:00Z"},
                    {"Ready", "False", "ContainersNotReady", "containers with unready status: [app]",
                     "2026-11-23T18:01:00Z"}};
    ContainerStatus c;
    c.name = "app";
    c.image = "fixture:latest";
    c.container_id = "corral://default-web-abc-app";
    c.restart_count = 3;
    c.state.waiting = ContainerStateWaiting{"CrashLoopBackOff", "back-off 40s restarting failed container"};
    ContainerStateTerminated t;
    t.exit_code = 137;
    t.signal = 9;
    t.reason = "OOMKilled";
    t.started_at = "2026-11-23T18:00:10Z";
    t.finished_at = "2026-11-23T18:00:20Z";
    t.container_id = "corral://default-web-abc-app";
    c.last_state.terminated = t;
    s.container_statuses.push_back(c);
    return s;
}

TEST(HerdStatus, KubernetesShape) {
    json j = to_json(crash_looping_pod());
    EXPECT_EQ(j["phase"], "Running");
    EXPECT_EQ(j["podIP"], "10.88.0.5");
    EXPECT_EQ(j["hostIP"], "10.0.0.1");
    EXPECT_EQ(j["conditions"][1]["type"], "Ready");
    EXPECT_EQ(j["conditions"][1]["status"], "False");
    EXPECT_FALSE(j["conditions"][0].contains("reason"));  // omitempty
    auto &c = j["containerStatuses"][0];
    EXPECT_EQ(c["restartCount"], 3);
    EXPECT_EQ(c["ready"], false);
    EXPECT_EQ(c["containerID"], "corral://default-web-abc-app");
    EXPECT_EQ(c["state"]["waiting"]["reason"], "CrashLoopBackOff");
    EXPECT_FALSE(c["state"].contains("running"));
    EXPECT_EQ(c["lastState"]["terminated"]["reason"], "OOMKilled");
    EXPECT_EQ(c["lastState"]["terminated"]["exitCode"], 137);
    EXPECT_EQ(c["lastState"]["terminated"]["signal"], 9);
    EXPECT_FALSE(j.contains("reason"));
}

TEST(HerdStatus, RoundTrip) {
    json first = to_json(crash_looping_pod());
    auto back = pod_status_from_json(first);
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(to_json(*back), first);
    EXPECT_EQ(back->container_statuses[0].last_state.terminated->exit_code, 137);
    EXPECT_FALSE(back->ready());

    PodStatus empty;
    json e = to_json(empty);
    EXPECT_EQ(e, json({{"phase", "Pending"}}));
    auto eb = pod_status_from_json(e);
    ASSERT_TRUE(eb.ok());
    EXPECT_EQ(eb->phase, "Pending");
    EXPECT_TRUE(eb->container_statuses.empty());
}

TEST(HerdStatus, EmptyStateObjectsStayUnset) {
    // {} for lastState, as Kubernetes sends for a container that never ended.
    json j = {{"phase", "Running"},
              {"containerStatuses", {{{"name", "c"}, {"state", {{"running", {{"startedAt", "x"}}}}}, {"lastState", json::object()}}}}};
    auto s = pod_status_from_json(j);
    ASSERT_TRUE(s.ok()) << s.error().message();
    EXPECT_TRUE(s->container_statuses[0].state.running);
    EXPECT_EQ(s->container_statuses[0].state.running->started_at, "x");
    EXPECT_FALSE(s->container_statuses[0].last_state.terminated);
    EXPECT_FALSE(s->container_statuses[0].last_state.waiting);
}

TEST(HerdStatus, Ready) {
    PodStatus s;
    EXPECT_FALSE(s.ready());
    s.conditions = {{"ContainersReady", "True", "", "", ""}, {"Ready", "True", "", "", ""}};
    EXPECT_TRUE(s.ready());
}

TEST(HerdStatus, TypeErrorsNameThePath) {
    json j = to_json(crash_looping_pod());
    j["containerStatuses"][0]["restartCount"] = "3";
    auto r = pod_status_from_json(j);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(), "pod status: containerStatuses[0].restartCount: expected integer");
    j = to_json(crash_looping_pod());
    j["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] = nullptr;  // null: unset
    j["qosClass"] = "Burstable";                                                 // unknown: tolerated
    EXPECT_TRUE(pod_status_from_json(j).ok());
    EXPECT_FALSE(pod_status_from_json(json::array()).ok());
}

TEST(HerdStatus, Rfc3339) {
    EXPECT_EQ(rfc3339(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(rfc3339(1795458600), "2026-11-23T18:30:00Z");
    std::string now = rfc3339();
    EXPECT_EQ(now.size(), 20u);
    EXPECT_EQ(now.back(), 'Z');
}

} // namespace
