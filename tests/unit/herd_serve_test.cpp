// herd serve's controller against a fake agent: apply, scale, rolling
// updates (the maxSurge / maxUnavailable bounds at every step), undo,
// revision history, restart of serve, orphans.
#include "herd/serve.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>

using namespace corral;
using namespace corral::herd;
using nlohmann::json;

namespace {

// A node agent in memory. Pods become Ready `ready_after` steps after
// apply_pod; deleted pods are not ready at once and vanish after one step,
// as a real agent stopping them would.
struct FakeAgent {
    struct P {
        json pod;
        bool ready = false, deleting = false;
        int age = 0;
        std::string phase = "Running";
    };
    std::map<std::string, P> pods;  // by uid
    int ready_after = 1;
    bool down = false;
    int applies = 0;
    json events = json::array();
    // What the node reports of itself (ping's node_info).
    int64_t cpu_millis = 2000;
    int64_t memory_bytes = 4LL << 30;  // what the agent reports, with seq numbers

    Result<json> handle(const json &req) {
        if (down) return Error("connect: Connection refused");
        std::string op = req["op"];
        if (op == "ping")
            return json{{"ok", true},
                        {"node", "n1"},
                        {"version", "test"},
                        {"pods", pods.size()},
                        {"node_info",
                         {{"cpu_millis", cpu_millis},
                          {"memory_bytes", memory_bytes},
                          {"architecture", "amd64"},
                          {"pod_cidr", "10.88.0.0/24"}}}};
        if (op == "apply_pod") {
            std::string uid = req["pod"]["metadata"]["uid"];
            if (uid.empty()) return Error("no uid");
            // The agent gets exactly what a manifest parse gives.
            auto parsed = pod_from_json(req["pod"], "apply_pod");
            if (!parsed) return std::move(parsed).error();
            if (!pods.count(uid)) {
                ++applies;
                pods[uid].pod = req["pod"];
            }
            return json{{"ok", true}};
        }
        if (op == "delete_pod") {
            for (auto &[uid, p] : pods) {
                if (p.pod["metadata"]["name"] == req["name"]) {
                    p.deleting = true;
                    p.ready = false;
                }
            }
            return json{{"ok", true}};
        }
        if (op == "list_pods") {
            json items = json::array();
            for (auto &[uid, p] : pods) {
                json j = p.pod;
                j["status"] = {{"phase", p.phase},
                               {"conditions", json::array({{{"type", "Ready"}, {"status", p.ready ? "True" : "False"}}})},
                               {"containerStatuses", json::array({{{"name", "c"}, {"restartCount", 0}}})}};
                if (p.deleting) j["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
                items.push_back(j);
            }
            int64_t since = req.contains("since") ? req["since"].get<int64_t>() : 0;
            json evs = json::array();
            for (const json &e : events)
                if (e["seq"].get<int64_t>() > since) evs.push_back(e);
            return json{{"ok", true}, {"pods", items}, {"events", evs}, {"event_seq", events.size()}};
        }
        return Error("unknown op " + op);
    }

    // Time passes on the node.
    void step() {
        for (auto it = pods.begin(); it != pods.end();) {
            if (it->second.deleting) {
                it = pods.erase(it);
                continue;
            }
            if (++it->second.age >= ready_after && it->second.phase == "Running") it->second.ready = true;
            ++it;
        }
    }

    std::vector<const P *> live(const std::string &prefix) const {
        std::vector<const P *> out;
        for (auto &[uid, p] : pods)
            if (!p.deleting && p.pod["metadata"]["name"].get<std::string>().rfind(prefix, 0) == 0) out.push_back(&p);
        return out;
    }
    int ready_count(const std::string &prefix) const {
        int n = 0;
        for (auto *p : live(prefix)) n += p->ready;
        return n;
    }
    std::set<std::string> images(const std::string &prefix) const {
        std::set<std::string> out;
        for (auto *p : live(prefix)) out.insert(p->pod["spec"]["containers"][0]["image"].get<std::string>());
        return out;
    }
};

class FakeClient : public AgentClient {
public:
    explicit FakeClient(FakeAgent *a) : a_(a) {}
    Result<json> call(const json &request) override { return a_->handle(request); }

private:
    FakeAgent *a_;
};

json deployment(const std::string &name, int replicas, const std::string &image, json strategy = nullptr,
                int history = 10) {
    json d = {{"apiVersion", "apps/v1"},
              {"kind", "Deployment"},
              {"metadata", {{"name", name}}},
              {"spec",
               {{"replicas", replicas},
                {"revisionHistoryLimit", history},
                {"selector", {{"matchLabels", {{"app", name}}}}},
                {"template",
                 {{"metadata", {{"labels", {{"app", name}}}}},
                  {"spec", {{"containers", json::array({{{"name", "c"}, {"image", image}}})}}}}}}}};
    if (!strategy.is_null()) d["spec"]["strategy"] = strategy;
    return d;
}

json pod(const std::string &name, const std::string &image = "busybox") {
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}}},
            {"spec", {{"restartPolicy", "Never"}, {"containers", json::array({{{"name", "c"}, {"image", image}}})}}}};
}

struct Fixture : ::testing::Test {
    FakeAgent agent;
    int64_t clock = 1'700'000'000'000;
    std::string dir;
    std::unique_ptr<Controller> c;

    void SetUp() override {
        char tmpl[] = "/tmp/herd-serve-XXXXXX";
        dir = mkdtemp(tmpl);
        start();
    }
    void TearDown() override {
        c.reset();
        std::filesystem::remove_all(dir);
    }
    // (Re)starts serve on the same state dir and agent.
    void start() {
        c.reset();
        auto store = Store::open(dir);
        ASSERT_TRUE(store) << store.error().message();
        std::vector<NodeHandle> nodes;
        nodes.emplace_back("n1", [this]() -> Result<std::unique_ptr<AgentClient>> {
            return std::unique_ptr<AgentClient>(new FakeClient(&agent));
        });
        ControllerOptions o;
        o.clock_ms = [this] { return clock; };
        o.seed = 42;
        c = std::make_unique<Controller>(std::move(*store), std::move(nodes), o);
    }
    json call(json req) { return c->handle(req); }
    json ok_call(json req) {
        json r = c->handle(req);
        EXPECT_TRUE(r["ok"].get<bool>()) << r.dump();
        return r;
    }
    // One tick: the controller acts, then time passes on the node.
    void tick() {
        c->sync();
        agent.step();
        clock += 1000;
    }
    json get(const std::string &kind, const std::string &name = "") {
        json r = ok_call({{"op", "get"}, {"kind", kind}, {"namespace", "default"}, {"name", name}});
        return r["items"];
    }
};

using HerdServe = Fixture;

} // namespace

TEST_F(HerdServe, ApplyReportsLikeKubectl) {
    json r = ok_call({{"op", "apply"}, {"objects", {deployment("web", 2, "busybox"), pod("solo")}}});
    EXPECT_EQ(r["results"], json({"deployment.apps/web created", "pod/solo created"}));
    r = ok_call({{"op", "apply"}, {"objects", {deployment("web", 2, "busybox"), pod("solo")}}});
    EXPECT_EQ(r["results"], json({"deployment.apps/web unchanged", "pod/solo unchanged"}));
    r = ok_call({{"op", "apply"}, {"objects", {deployment("web", 3, "busybox")}}});
    EXPECT_EQ(r["results"], json({"deployment.apps/web configured"}));
    // The selector is immutable.
    json moved = deployment("web", 3, "busybox");
    moved["spec"]["selector"]["matchLabels"]["tier"] = "x";
    moved["spec"]["template"]["metadata"]["labels"]["tier"] = "x";
    r = call({{"op", "apply"}, {"objects", {moved}}});
    EXPECT_FALSE(r["ok"].get<bool>());
    EXPECT_NE(r["error"].get<std::string>().find("spec.selector: Invalid value: field is immutable"), std::string::npos)
        << r["error"];
    // A pod's spec cannot change (Kubernetes' rule).
    r = call({{"op", "apply"}, {"objects", {pod("solo", "other")}}});
    EXPECT_FALSE(r["ok"].get<bool>());
    EXPECT_NE(r["error"].get<std::string>().find("spec: Forbidden"), std::string::npos);
}

TEST_F(HerdServe, ApplyIsAllOrNothing) {
    json bad = pod("bad");
    bad["spec"]["containers"][0]["resources"] = {{"limits", {{"memory", "12X"}}}};
    json r = call({{"op", "apply"}, {"objects", {deployment("web", 2, "busybox"), bad}}});
    ASSERT_FALSE(r["ok"].get<bool>());
    EXPECT_NE(r["error"].get<std::string>().find("resources.limits.memory"), std::string::npos) << r["error"];
    EXPECT_TRUE(get("deployments").empty());
    EXPECT_TRUE(get("pods").empty());

    r = call({{"op", "apply"}, {"objects", {pod("twice"), pod("twice")}}});
    ASSERT_FALSE(r["ok"].get<bool>());
    EXPECT_NE(r["error"].get<std::string>().find("metadata.name: Duplicate value"), std::string::npos);
    EXPECT_TRUE(get("pods").empty());

    // A failure in the second object after the first was written: rolled back.
    ok_call({{"op", "apply"}, {"objects", {pod("solo")}}});
    r = call({{"op", "apply"}, {"objects", {deployment("new", 1, "busybox"), pod("solo", "changed")}}});
    ASSERT_FALSE(r["ok"].get<bool>());
    EXPECT_TRUE(get("deployments").empty());
}

TEST_F(HerdServe, DeploymentComesUpWithKubernetesNamesAndStatus) {
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 3, "busybox")}}});
    for (int i = 0; i < 3; ++i) tick();
    c->sync();
    auto pods = get("pods");
    ASSERT_EQ(pods.size(), 3u);
    std::regex name_re("web-[a-z0-9]{10}-[a-z0-9]{5}");
    for (auto &p : pods) {
        std::string name = p["metadata"]["name"];
        EXPECT_TRUE(std::regex_match(name, name_re)) << name;
        EXPECT_EQ(p["metadata"]["labels"]["app"], "web");
        EXPECT_FALSE(p["metadata"]["labels"]["pod-template-hash"].get<std::string>().empty());
        EXPECT_EQ(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
        EXPECT_EQ(p["spec"]["nodeName"], "n1");
        EXPECT_FALSE(p["metadata"]["uid"].get<std::string>().empty());
        EXPECT_EQ(p["status"]["phase"], "Running");
    }
    json d = get("deployments", "web")[0];
    EXPECT_EQ(d["status"]["replicas"], 3);
    EXPECT_EQ(d["status"]["readyReplicas"], 3);
    EXPECT_EQ(d["status"]["availableReplicas"], 3);
    EXPECT_EQ(d["status"]["updatedReplicas"], 3);
    EXPECT_EQ(d["status"]["observedGeneration"], 1);
    EXPECT_EQ(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1");
    EXPECT_EQ(d["status"]["conditions"][0]["type"], "Available");
    EXPECT_EQ(d["status"]["conditions"][0]["status"], "True");
    EXPECT_EQ(d["status"]["conditions"][1]["reason"], "NewReplicaSetAvailable");
    auto nodes = get("nodes");
    ASSERT_EQ(nodes.size(), 1u);
    EXPECT_EQ(nodes[0]["status"]["conditions"][0]["status"], "True");
}

TEST_F(HerdServe, ScaleUpAndDownNotReadyFirst) {
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 2, "busybox")}}});
    for (int i = 0; i < 3; ++i) tick();
    ok_call({{"op", "scale"}, {"namespace", "default"}, {"name", "web"}, {"replicas", 5}});
    c->sync();
    EXPECT_EQ(agent.live("web-").size(), 5u);
    // The three new ones are not ready yet: scaling back to 2 removes them.
    std::set<std::string> ready_before;
    for (auto &[uid, p] : agent.pods)
        if (p.ready) ready_before.insert(uid);
    ok_call({{"op", "scale"}, {"namespace", "default"}, {"name", "web"}, {"replicas", 2}});
    c->sync();
    auto live = agent.live("web-");
    ASSERT_EQ(live.size(), 2u);
    for (auto *p : live) EXPECT_TRUE(ready_before.count(p->pod["metadata"]["uid"]));
    json r = call({{"op", "scale"}, {"namespace", "default"}, {"name", "nope"}, {"replicas", 1}});
    EXPECT_EQ(r["reason"], "not_found");
}

TEST_F(HerdServe, MalformedRequestsAreAnsweredInvalid) {
    for (const json &req : {json{{"op", 5}}, json{{"op", "nope"}}, json::array({1, 2}), json{{"no_op", true}},
                            json{{"op", "scale"}, {"name", "web"}, {"replicas", "3"}},
                            json{{"op", "apply"}, {"objects", "all"}}}) {
        json r = call(req);
        EXPECT_EQ(r["ok"], false) << req.dump();
        EXPECT_EQ(r["reason"], "invalid") << req.dump() << " -> " << r.dump();
    }
    for (const char *line : {"{\"op\": 5}", "{\"op\": \"get\"", "\xff\xfe", "[]"}) {
        json r = c->handle_line(line);
        EXPECT_EQ(r["reason"], "invalid") << line << " -> " << r.dump();
    }
    json r = ok_call({{"op", "get"}, {"kind", "pods"}, {"namespace", "default"}});
    EXPECT_TRUE(r["items"].is_array());
}

namespace {

// Drives a rollout to its end, checking Kubernetes' two promises at every
// step: never more than replicas+maxSurge pods, never fewer than
// replicas-maxUnavailable ready ones.
void roll(Fixture &f, int replicas, int max_surge, int max_unavailable, const std::string &want_image) {
    for (int step = 0; step < 100; ++step) {
        f.c->sync();
        int live = int(f.agent.live("web-").size());
        int ready = f.agent.ready_count("web-");
        ASSERT_LE(live, replicas + max_surge) << "step " << step;
        ASSERT_GE(ready, replicas - max_unavailable) << "step " << step;
        if (f.agent.images("web-") == std::set<std::string>{want_image} && live == replicas && ready == replicas) return;
        f.agent.step();
        f.clock += 1000;
        ASSERT_GE(f.agent.ready_count("web-"), replicas - max_unavailable) << "after step " << step;
    }
    FAIL() << "rollout to " << want_image << " did not finish";
}

} // namespace

TEST_F(HerdServe, RollingUpdateStaysWithinSurgeAndUnavailable) {
    json strategy = {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", 1}, {"maxUnavailable", 1}}}};
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 4, "v1", strategy)}}});
    for (int i = 0; i < 3; ++i) tick();
    agent.ready_after = 2;
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 4, "v2", strategy)}}});
    roll(*this, 4, 1, 1, "v2");
    c->sync();
    json d = get("deployments", "web")[0];
    EXPECT_EQ(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");
    EXPECT_EQ(d["status"]["updatedReplicas"], 4);
    EXPECT_EQ(d["status"]["conditions"][1]["reason"], "NewReplicaSetAvailable");
}

TEST_F(HerdServe, RollingUpdateWithPercentagesAndNoSurge) {
    json strategy = {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", 0}, {"maxUnavailable", "25%"}}}};
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 8, "v1", strategy)}}});
    for (int i = 0; i < 3; ++i) tick();
    agent.ready_after = 3;
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 8, "v2", strategy)}}});
    roll(*this, 8, 0, 2, "v2");
}

TEST_F(HerdServe, MinReadySecondsDelaysAvailability) {
    json d = deployment("web", 2, "v1");
    d["spec"]["minReadySeconds"] = 5;
    ok_call({{"op", "apply"}, {"objects", {d}}});
    for (int i = 0; i < 3; ++i) tick();
    json st = get("deployments", "web")[0]["status"];
    EXPECT_EQ(st["readyReplicas"], 2);
    EXPECT_EQ(st["availableReplicas"], 0);
    for (int i = 0; i < 6; ++i) tick();
    st = get("deployments", "web")[0]["status"];
    EXPECT_EQ(st["availableReplicas"], 2);
}

TEST_F(HerdServe, UndoGoesBackToThePreviousTemplateAsANewRevision) {
    json strategy = {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", 1}, {"maxUnavailable", 0}}}};
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 3, "v1", strategy)}}});
    for (int i = 0; i < 3; ++i) tick();
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 3, "v2", strategy)}}});
    roll(*this, 3, 1, 0, "v2");
    json r = ok_call({{"op", "rollout_undo"}, {"namespace", "default"}, {"name", "web"}, {"to_revision", 0}});
    EXPECT_EQ(r["result"], "deployment.apps/web rolled back");
    roll(*this, 3, 1, 0, "v1");
    json d = get("deployments", "web")[0];
    EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["image"], "v1");
    EXPECT_EQ(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3");
    json h = ok_call({{"op", "rollout_history"}, {"namespace", "default"}, {"name", "web"}});
    ASSERT_EQ(h["revisions"].size(), 2u);  // v1's ReplicaSet moved from 1 to 3
    EXPECT_EQ(h["revisions"][0]["revision"], 2);
    EXPECT_EQ(h["revisions"][0]["images"][0], "v2");
    EXPECT_EQ(h["revisions"][1]["revision"], 3);
    // --to-revision of one that does not exist.
    r = call({{"op", "rollout_undo"}, {"namespace", "default"}, {"name", "web"}, {"to_revision", 7}});
    EXPECT_FALSE(r["ok"].get<bool>());
    EXPECT_NE(r["error"].get<std::string>().find("revision 7"), std::string::npos);
}

TEST_F(HerdServe, RevisionHistoryLimitDropsOldRevisions) {
    for (int v = 1; v <= 5; ++v) {
        ok_call({{"op", "apply"}, {"objects", {deployment("web", 1, "v" + std::to_string(v), nullptr, 2)}}});
        if (v == 1) {
            for (int i = 0; i < 3; ++i) tick();
            continue;
        }
        roll(*this, 1, 1, 0, "v" + std::to_string(v));
        c->sync();
    }
    json h = ok_call({{"op", "rollout_history"}, {"namespace", "default"}, {"name", "web"}});
    ASSERT_EQ(h["revisions"].size(), 3u) << h.dump();  // 2 old + the current
    EXPECT_EQ(h["revisions"][0]["revision"], 3);
    EXPECT_EQ(h["revisions"][2]["revision"], 5);
}

TEST_F(HerdServe, RecreateStopsOldPodsBeforeStartingNew) {
    json strategy = {{"type", "Recreate"}};
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 3, "v1", strategy)}}});
    for (int i = 0; i < 3; ++i) tick();
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 3, "v2", strategy)}}});
    c->sync();
    EXPECT_TRUE(agent.live("web-").empty());  // all old ones terminating, none new yet
    for (int i = 0; i < 4; ++i) tick();
    c->sync();
    EXPECT_EQ(agent.images("web-"), std::set<std::string>{"v2"});
    EXPECT_EQ(agent.live("web-").size(), 3u);
}

TEST_F(HerdServe, RestartedServeRecreatesNothing) {
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 3, "v1"), pod("solo")}}});
    for (int i = 0; i < 3; ++i) tick();
    std::set<std::string> uids;
    for (auto &[uid, p] : agent.pods) uids.insert(uid);
    int applies = agent.applies;
    start();  // a new serve process on the same state dir
    for (int i = 0; i < 3; ++i) tick();
    std::set<std::string> after;
    for (auto &[uid, p] : agent.pods) after.insert(uid);
    EXPECT_EQ(uids, after);
    EXPECT_EQ(agent.applies, applies);
    EXPECT_EQ(get("pods").size(), 4u);
}

TEST_F(HerdServe, AgentDownThenBackKeepsPods) {
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 2, "v1")}}});
    for (int i = 0; i < 3; ++i) tick();
    agent.down = true;
    for (int i = 0; i < 3; ++i) tick();
    EXPECT_EQ(get("nodes")[0]["status"]["conditions"][0]["status"], "Unknown");
    EXPECT_EQ(get("pods")[0]["status"]["phase"], "Unknown");
    agent.down = false;
    int applies = agent.applies;
    for (int i = 0; i < 3; ++i) tick();
    EXPECT_EQ(agent.applies, applies);
    EXPECT_EQ(agent.live("web-").size(), 2u);
}

TEST_F(HerdServe, StandalonePodsDeleteAndOrphans) {
    ok_call({{"op", "apply"}, {"objects", {pod("solo")}}});
    c->sync();
    ASSERT_EQ(agent.live("solo").size(), 1u);
    EXPECT_FALSE(agent.live("solo")[0]->pod["metadata"]["uid"].get<std::string>().empty());
    json r = ok_call({{"op", "delete"}, {"kind", "pod"}, {"namespace", "default"}, {"name", "solo"}});
    EXPECT_EQ(r["result"], "pod \"solo\" deleted");
    EXPECT_TRUE(agent.live("solo").empty());
    // Until its node stops reporting it, the pod is listed as terminating
    // (kubectl shows Terminating), and deleting it again is no error.
    json solo = get("pods", "solo");
    ASSERT_EQ(solo.size(), 1u);
    EXPECT_TRUE(solo[0]["metadata"].contains("deletionTimestamp")) << solo.dump();
    EXPECT_EQ(get("pods").size(), 1u);
    r = ok_call({{"op", "delete"}, {"kind", "pod"}, {"namespace", "default"}, {"name", "solo"}});
    EXPECT_EQ(r["result"], "pod \"solo\" deleted");
    tick();     // the node still reports it (stopping), then it is gone
    c->sync();  // and serve sees it gone
    EXPECT_TRUE(get("pods").empty());
    r = call({{"op", "delete"}, {"kind", "pod"}, {"namespace", "default"}, {"name", "solo"}});
    EXPECT_EQ(r["error"], "pods \"solo\" not found");

    // A pod the node runs that nobody wants is stopped.
    agent.pods["stray"].pod = pod("stray");
    agent.pods["stray"].pod["metadata"]["uid"] = "stray";
    c->sync();
    EXPECT_TRUE(agent.live("stray").empty());

    // A Failed standalone pod (restartPolicy Never) stays Failed.
    ok_call({{"op", "apply"}, {"objects", {pod("once")}}});
    c->sync();
    for (auto &[uid, p] : agent.pods) p.phase = "Failed";
    for (int i = 0; i < 3; ++i) tick();
    EXPECT_EQ(get("pods", "once")[0]["status"]["phase"], "Failed");
}

TEST_F(HerdServe, FailedDeploymentPodIsReplacedAndDeleteCascades) {
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 2, "v1")}}});
    for (int i = 0; i < 3; ++i) tick();
    std::string failed_uid = agent.pods.begin()->first;
    agent.pods.begin()->second.phase = "Failed";
    agent.pods.begin()->second.ready = false;
    for (int i = 0; i < 3; ++i) tick();
    EXPECT_FALSE(agent.pods.count(failed_uid));
    EXPECT_EQ(agent.live("web-").size(), 2u);
    json r = ok_call({{"op", "delete"}, {"kind", "deployment"}, {"namespace", "default"}, {"name", "web"}});
    EXPECT_EQ(r["result"], "deployment.apps \"web\" deleted");
    EXPECT_TRUE(agent.live("web-").empty());
    json terminating = get("pods");
    EXPECT_EQ(terminating.size(), 2u);
    for (const json &p : terminating) EXPECT_TRUE(p["metadata"].contains("deletionTimestamp")) << p.dump();
    tick();
    c->sync();
    EXPECT_TRUE(get("pods").empty());
}

TEST_F(HerdServe, AgentEventsAreStoredOnceAcrossServeRestarts) {
    agent.events.push_back({{"seq", 1}, {"type", "Warning"}, {"reason", "BackOff"}, {"namespace", "default"},
                            {"object", "pod/x"}, {"message", "back-off 10s restarting failed container=c pod=x"},
                            {"count", 1}, {"firstTimestamp", "2023-11-14T22:10:00Z"},
                            {"lastTimestamp", "2023-11-14T22:10:00Z"}});
    tick();
    tick();
    start();
    tick();
    json ev = ok_call({{"op", "events"}, {"namespace", "default"}});
    ASSERT_EQ(ev["events"].size(), 1u) << ev.dump();
    EXPECT_EQ(ev["events"][0]["count"], 1);
    EXPECT_EQ(ev["events"][0]["reason"], "BackOff");
    EXPECT_EQ(ev["events"][0]["firstTimestamp"], "2023-11-14T22:10:00Z") << "the node's time, not serve's";
    // The same event again (the agent counted it twice): one row, count 2.
    agent.events.push_back(agent.events[0]);
    agent.events[1]["seq"] = 2;
    tick();
    ev = ok_call({{"op", "events"}, {"namespace", "default"}});
    ASSERT_EQ(ev["events"].size(), 1u);
    EXPECT_EQ(ev["events"][0]["count"], 2);
}

TEST_F(HerdServe, ProgressDeadlineExceededWhenPodsNeverBecomeReady) {
    json d = deployment("web", 2, "v1");
    d["spec"]["progressDeadlineSeconds"] = 30;
    agent.ready_after = 1000000;  // never ready
    ok_call({{"op", "apply"}, {"objects", {d}}});
    tick();
    json st = get("deployments", "web")[0]["status"];
    EXPECT_EQ(st["conditions"][0]["reason"], "MinimumReplicasUnavailable");
    EXPECT_EQ(st["conditions"][1]["reason"], "ReplicaSetUpdated");
    for (int i = 0; i < 40; ++i) tick();
    st = get("deployments", "web")[0]["status"];
    EXPECT_EQ(st["conditions"][1]["status"], "False");
    EXPECT_EQ(st["conditions"][1]["reason"], "ProgressDeadlineExceeded");
    EXPECT_EQ(st["unavailableReplicas"], 2);
}

TEST_F(HerdServe, ScaleDuringARolloutConverges) {
    json strategy = {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", 1}, {"maxUnavailable", 1}}}};
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 4, "v1", strategy)}}});
    for (int i = 0; i < 3; ++i) tick();
    agent.ready_after = 3;
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 4, "v2", strategy)}}});
    tick();
    tick();
    ok_call({{"op", "scale"}, {"namespace", "default"}, {"name", "web"}, {"replicas", 2}});
    for (int i = 0; i < 30; ++i) tick();
    c->sync();
    EXPECT_EQ(agent.live("web-").size(), 2u);
    EXPECT_EQ(agent.images("web-"), std::set<std::string>{"v2"});
    ok_call({{"op", "apply"}, {"objects", {deployment("web", 2, "v3", strategy)}}});
    tick();
    ok_call({{"op", "scale"}, {"namespace", "default"}, {"name", "web"}, {"replicas", 5}});
    for (int i = 0; i < 30; ++i) tick();
    c->sync();
    EXPECT_EQ(agent.live("web-").size(), 5u);
    EXPECT_EQ(agent.images("web-"), std::set<std::string>{"v3"});
    EXPECT_EQ(agent.ready_count("web-"), 5);
}

// --- scheduling (issue 15) ---------------------------------------------------------

namespace {

json with_requests(json p, const std::string &cpu, const std::string &memory) {
    p["spec"]["containers"][0]["resources"] = {{"requests", {{"cpu", cpu}, {"memory", memory}}}};
    return p;
}

const json *condition(const json &pod, const std::string &type) {
    for (const auto &c : pod["status"]["conditions"])
        if (c["type"] == type) return &c;
    return nullptr;
}

} // namespace

TEST_F(HerdServe, UnschedulablePodStaysPendingWithKubernetesMessageAndEvent) {
    ok_call({{"op", "apply"}, {"objects", {with_requests(pod("huge"), "100m", "64Gi")}}});
    for (int i = 0; i < 3; ++i) tick();
    EXPECT_EQ(agent.applies, 0);
    json p = get("pods", "huge")[0];
    EXPECT_EQ(p["status"]["phase"], "Pending");
    EXPECT_FALSE(p["spec"].contains("nodeName"));
    const json *c = condition(p, "PodScheduled");
    ASSERT_TRUE(c) << p.dump();
    EXPECT_EQ((*c)["status"], "False");
    EXPECT_EQ((*c)["reason"], "Unschedulable");
    EXPECT_EQ((*c)["message"], "0/1 nodes are available: 1 Insufficient memory.");
    json d = ok_call({{"op", "describe"}, {"kind", "pod"}, {"namespace", "default"}, {"name", "huge"}});
    const json *ev = nullptr;
    for (const auto &e : d["events"])
        if (e["reason"] == "FailedScheduling") ev = &e;
    ASSERT_TRUE(ev) << d["events"].dump();
    EXPECT_EQ((*ev)["type"], "Warning");
    EXPECT_EQ((*ev)["message"], "0/1 nodes are available: 1 Insufficient memory.");
    // Not tried again while nothing changes (the event's count stays).
    EXPECT_EQ((*ev)["count"], 1);
    // The node grows (its agent reports more memory): tried again, placed.
    agent.memory_bytes = 128LL << 30;
    for (int i = 0; i < 3; ++i) tick();
    EXPECT_EQ(agent.applies, 1);
    p = get("pods", "huge")[0];
    EXPECT_EQ(p["spec"]["nodeName"], "n1");
}

TEST_F(HerdServe, NodeSelectorMatchingNoNodeIsUnschedulable) {
    json p = pod("picky");
    p["spec"]["nodeSelector"] = {{"disktype", "ssd"}};
    json q = pod("here");
    q["spec"]["nodeSelector"] = {{"kubernetes.io/hostname", "n1"}, {"kubernetes.io/arch", "amd64"}};
    ok_call({{"op", "apply"}, {"objects", {p, q}}});
    for (int i = 0; i < 3; ++i) tick();
    json got = get("pods", "picky")[0];
    const json *c = condition(got, "PodScheduled");
    ASSERT_TRUE(c) << got.dump();
    EXPECT_EQ((*c)["message"], "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.");
    EXPECT_EQ(get("pods", "here")[0]["spec"]["nodeName"], "n1");
    EXPECT_EQ(agent.applies, 1);
    // Deleting an unschedulable pod is an ordinary delete.
    ok_call({{"op", "delete"}, {"kind", "pods"}, {"namespace", "default"}, {"name", "picky"}});
    EXPECT_EQ(call({{"op", "get"}, {"kind", "pods"}, {"namespace", "default"}, {"name", "picky"}})["reason"], "not_found");
}

TEST_F(HerdServe, ReplicasBeyondTheNodeStayPendingAndFitAfterScaleDown) {
    json d = deployment("big", 3, "v1");
    d["spec"]["template"]["spec"]["containers"][0]["resources"] = {{"requests", {{"cpu", "800m"}}}};
    ok_call({{"op", "apply"}, {"objects", {d}}});
    for (int i = 0; i < 4; ++i) tick();
    // 2 CPUs: two of 800m fit, the third does not.
    EXPECT_EQ(agent.live("big-").size(), 2u);
    int pending = 0;
    for (const auto &p : get("pods")) {
        const json *c = condition(p, "PodScheduled");
        if (c && (*c)["status"] == "False") {
            ++pending;
            EXPECT_EQ((*c)["message"], "0/1 nodes are available: 1 Insufficient cpu.");
        }
    }
    EXPECT_EQ(pending, 1);
    // A change frees room: the pending replica is tried again at once.
    agent.cpu_millis = 4000;
    for (int i = 0; i < 3; ++i) tick();
    EXPECT_EQ(agent.live("big-").size(), 3u);
}

TEST_F(HerdServe, NodesShowAllocatableSubnetAndLastContact) {
    ok_call({{"op", "apply"}, {"objects", {with_requests(pod("p"), "250m", "512Mi")}}});
    for (int i = 0; i < 2; ++i) tick();
    json n = get("nodes")[0];
    EXPECT_EQ(n["status"]["allocatable"]["cpu"], "2");
    EXPECT_EQ(n["status"]["allocatable"]["memory"], "4194304Ki");
    EXPECT_EQ(n["status"]["nodeInfo"]["architecture"], "amd64");
    EXPECT_EQ(n["spec"]["podCIDR"], "10.88.0.0/24");
    EXPECT_EQ(n["metadata"]["labels"]["kubernetes.io/hostname"], "n1");
    EXPECT_FALSE(n["status"]["herd"]["lastContact"].get<std::string>().empty());
    EXPECT_GE(n["status"]["herd"]["rttMillis"].get<int64_t>(), 0);
    EXPECT_EQ(n["status"]["herd"]["allocated"]["cpu"], "250m");
    EXPECT_EQ(n["status"]["herd"]["allocated"]["memory"], "524288Ki");
    EXPECT_FALSE(n["status"]["conditions"][0]["lastHeartbeatTime"].get<std::string>().empty());
    // The Node object survives a restart with its subnet.
    start();
    tick();
    EXPECT_EQ(get("nodes")[0]["spec"]["podCIDR"], "10.88.0.0/24");
}
