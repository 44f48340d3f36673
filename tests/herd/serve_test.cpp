// herd serve against a real `herd agent` on the local node, through serve's
// socket API directly (serve_api.hpp) — the CLI's own tests are e2e_test.cpp.
// The private cluster (image store, corral root, state dirs, cgroup root
// /corral-test/herd-<random>, CNI bridge) is tests/herd/e2e_util.hpp's.
#include "herd/e2e_util.hpp"

#include <gtest/gtest.h>

#include <set>

namespace herd_e2e {
namespace {

class HerdServeReal : public ClusterTest {
protected:

    json api(const json &req) {
        auto r = corral::herd::call_serve(cluster_->serve_state() + "/herd.sock", req);
        if (!r) return {{"ok", false}, {"error", r.error().message()}};
        return *r;
    }

    static json deployment(const std::string &name, int replicas, const std::string &image, int max_surge,
                           int max_unavailable) {
        return {{"apiVersion", "apps/v1"},
                {"kind", "Deployment"},
                {"metadata", {{"name", name}}},
                {"spec",
                 {{"replicas", replicas},
                  {"selector", {{"matchLabels", {{"app", name}}}}},
                  {"strategy",
                   {{"type", "RollingUpdate"},
                    {"rollingUpdate", {{"maxSurge", max_surge}, {"maxUnavailable", max_unavailable}}}}},
                  {"template",
                   {{"metadata", {{"labels", {{"app", name}}}}},
                    {"spec",
                     {{"terminationGracePeriodSeconds", 2},
                      {"containers", json::array({{{"name", "main"},
                                                   {"image", image},
                                                   {"command", {"/probe", "sleep", "inf"}},
                                                   {"resources", {{"limits", {{"memory", "64Mi"}, {"cpu", "250m"}}}}}}})}}}}}}}};
    }

    // The deployment's pods as serve reports them.
    std::vector<json> pods_of(const std::string &deploy) {
        json r = api({{"op", "get"}, {"kind", "pods"}, {"namespace", "default"}});
        std::vector<json> out;
        if (!r.value("ok", false)) return out;
        for (const json &p : r["items"])
            if (p["metadata"]["name"].get<std::string>().rfind(deploy + "-", 0) == 0) out.push_back(p);
        return out;
    }
    static bool ready(const json &pod) {
        for (const json &c : pod["status"].value("conditions", json::array()))
            if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
        return false;
    }
    int ready_count(const std::string &deploy) {
        int n = 0;
        for (const json &p : pods_of(deploy)) n += ready(p) && !p["metadata"].contains("deletionTimestamp");
        return n;
    }
    bool all_ready_with(const std::string &deploy, int replicas, const std::string &image) {
        auto pods = pods_of(deploy);
        if (int(pods.size()) != replicas) return false;
        for (const json &p : pods)
            if (!ready(p) || p["spec"]["containers"][0]["image"] != image) return false;
        return true;
    }

};

TEST_F(HerdServeReal, DeploymentUpStatusEventsAndNodes) {
    json r = api({{"op", "apply"}, {"objects", {deployment("web", 3, "busybox:v1", 1, 0)}}});
    ASSERT_TRUE(r.value("ok", false)) << r.dump();
    EXPECT_EQ(r["results"], json({"deployment.apps/web created"}));
    ASSERT_TRUE(wait_until([&] { return all_ready_with("web", 3, "busybox:v1"); }, 90s, 300ms))
        << cluster_->daemon_logs();
    // Status in Kubernetes' shape.
    ASSERT_TRUE(wait_until(
        [&] {
            json d = api({{"op", "get"}, {"kind", "deployments"}, {"namespace", "default"}, {"name", "web"}});
            return d.value("ok", false) && d["items"][0]["status"].value("availableReplicas", 0) == 3;
        },
        10s));
    json d = api({{"op", "get"}, {"kind", "deployments"}, {"namespace", "default"}, {"name", "web"}})["items"][0];
    EXPECT_EQ(d["status"]["conditions"][0]["type"], "Available");
    EXPECT_EQ(d["status"]["conditions"][0]["status"], "True");
    EXPECT_EQ(d["status"]["conditions"][1]["reason"], "NewReplicaSetAvailable");
    // Events: ours and the agent's.
    json ev = api({{"op", "events"}, {"namespace", "default"}});
    std::set<std::string> reasons;
    for (const json &e : ev["events"]) reasons.insert(e["reason"].get<std::string>());
    EXPECT_TRUE(reasons.count("ScalingReplicaSet")) << ev.dump();
    EXPECT_TRUE(reasons.count("SuccessfulCreate")) << ev.dump();
    EXPECT_TRUE(reasons.count("Scheduled")) << ev.dump();  // from the agent
    // The node.
    json nodes = api({{"op", "get"}, {"kind", "nodes"}});
    ASSERT_EQ(nodes["items"].size(), 1u);
    EXPECT_EQ(nodes["items"][0]["status"]["conditions"][0]["status"], "True");
    // logs and exec_target are proxied to the agent.
    std::string pod = pods_of("web")[0]["metadata"]["name"];
    json t = api({{"op", "exec_target"}, {"namespace", "default"}, {"name", pod}, {"container", "main"}});
    EXPECT_TRUE(t.value("ok", false)) << t.dump();
    EXPECT_FALSE(t.value("corral_id", "").empty());
    json l = api({{"op", "logs"}, {"namespace", "default"}, {"name", pod}, {"container", "main"},
                  {"previous", false}, {"offset", 0}, {"limit_bytes", 4096}});
    EXPECT_TRUE(l.value("ok", false)) << l.dump();
}

TEST_F(HerdServeReal, BadApplyChangesNothing) {
    json bad = deployment("bad", 1, "busybox:v1", 1, 0);
    bad["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "12X";
    json r = api({{"op", "apply"}, {"objects", {deployment("good", 1, "busybox:v1", 1, 0), bad}}});
    ASSERT_FALSE(r.value("ok", true));
    EXPECT_NE(r["error"].get<std::string>().find("resources.limits.memory"), std::string::npos) << r.dump();
    json d = api({{"op", "get"}, {"kind", "deployments"}, {"namespace", "default"}});
    EXPECT_TRUE(d["items"].empty());
}

TEST_F(HerdServeReal, RollingUpdateAndUndoKeepReplicasMinusMaxUnavailableReady) {
    const int replicas = 3, max_unavailable = 1;
    ASSERT_TRUE(api({{"op", "apply"}, {"objects", {deployment("web", replicas, "busybox:v1", 1, max_unavailable)}}})
                    .value("ok", false));
    ASSERT_TRUE(wait_until([&] { return all_ready_with("web", replicas, "busybox:v1"); }, 90s, 300ms))
        << cluster_->daemon_logs();
    // Let availability settle before the rollout starts.
    std::this_thread::sleep_for(1500ms);
    auto rollout_to = [&](const std::string &image) {
        int min_seen = replicas;
        bool done = wait_until(
            [&] {
                min_seen = std::min(min_seen, ready_count("web"));
                return all_ready_with("web", replicas, image);
            },
            120s, 100ms);
        EXPECT_TRUE(done) << "rollout to " << image << " did not finish\n" << cluster_->daemon_logs();
        EXPECT_GE(min_seen, replicas - max_unavailable) << "rollout to " << image;
    };
    json r = api({{"op", "apply"}, {"objects", {deployment("web", replicas, "busybox:v2", 1, max_unavailable)}}});
    ASSERT_EQ(r["results"], json({"deployment.apps/web configured"}));
    rollout_to("busybox:v2");
    r = api({{"op", "rollout_undo"}, {"namespace", "default"}, {"name", "web"}, {"to_revision", 0}});
    ASSERT_TRUE(r.value("ok", false)) << r.dump();
    rollout_to("busybox:v1");
    json d = api({{"op", "get"}, {"kind", "deployments"}, {"namespace", "default"}, {"name", "web"}})["items"][0];
    EXPECT_EQ(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3");
    json h = api({{"op", "rollout_history"}, {"namespace", "default"}, {"name", "web"}});
    ASSERT_EQ(h["revisions"].size(), 2u) << h.dump();
    EXPECT_EQ(h["revisions"][1]["images"][0], "busybox:v1");
}

TEST_F(HerdServeReal, RestartedServeKeepsEveryContainer) {
    ASSERT_TRUE(api({{"op", "apply"}, {"objects", {deployment("web", 2, "busybox:v1", 1, 0)}}}).value("ok", false));
    ASSERT_TRUE(wait_until([&] { return all_ready_with("web", 2, "busybox:v1"); }, 90s, 300ms))
        << cluster_->daemon_logs();
    std::map<std::string, pid_t> before;
    for (const json &p : pods_of("web")) {
        std::string name = p["metadata"]["name"];
        before[p["metadata"]["uid"].get<std::string>()] = cluster_->container(name, "main").pid;
    }
    cluster_->kill_serve(SIGKILL);
    ASSERT_TRUE(cluster_->start_serve()) << cluster_->daemon_logs();
    std::this_thread::sleep_for(3s);  // a few controller ticks
    std::map<std::string, pid_t> after;
    for (const json &p : pods_of("web")) {
        std::string name = p["metadata"]["name"];
        after[p["metadata"]["uid"].get<std::string>()] = cluster_->container(name, "main").pid;
        EXPECT_TRUE(ready(p)) << p.dump();
    }
    EXPECT_EQ(before, after);
}

} // namespace
} // namespace herd_e2e
