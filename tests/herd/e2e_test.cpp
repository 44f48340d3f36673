// herd end to end on the local node: the "must show" list, each
// through the `herd` CLI against a private `herd serve` and `herd agent`
// (tests/herd/e2e_util.hpp), with the manifests of tests/herd/manifests.
//
// Every test ends with teardown(): everything deleted, both daemons stopped,
// and nothing left behind (no containers, cgroups under the test's root,
// mounts, processes or iptables rules) — or the test fails saying what was.
#include "herd/e2e_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <csignal>
#include <map>
#include <set>

namespace herd_e2e {
namespace {

using Clock = std::chrono::steady_clock;

class HerdE2E : public ClusterTest {
protected:
    HerdCluster &c() { return *cluster_; }

    // `herd ARGS` that must succeed; its stdout.
    std::string ok(const std::vector<std::string> &args, int timeout_s = 180) {
        RunResult r = c().herd(args, timeout_s);
        EXPECT_EQ(r.status, 0) << "herd " << join(args) << "\n" << r.text() << "\n" << c().daemon_logs();
        return r.out;
    }

    static std::string join(const std::vector<std::string> &v) {
        std::string s;
        for (const auto &a : v) s += (s.empty() ? "" : " ") + a;
        return s;
    }

    // The first container status of a pod (null when none yet). Pods are
    // taken by value: operator[] of a const json on a missing key is UB.
    static json status0(json pod) {
        if (!pod.is_object()) return nullptr;
        const json &cs = pod["status"]["containerStatuses"];
        return cs.is_array() && !cs.empty() ? cs[0] : json(nullptr);
    }
    static int restarts(json pod) {
        json s = status0(pod);
        return s.is_object() ? s.value("restartCount", 0) : -1;
    }
    static bool is_ready(json pod) {
        if (!pod.is_object() || !pod["status"]["conditions"].is_array()) return false;
        for (const json &cond : pod["status"]["conditions"])
            if (cond.value("type", "") == "Ready") return cond.value("status", "") == "True";
        return false;
    }
    static bool running(json pod) {
        json s = status0(pod);
        return s.is_object() && s["state"].contains("running");
    }
    static std::string name_of(json pod) { return pod["metadata"]["name"].get<std::string>(); }

    // The row of `herd get pods` for one pod, split on spaces.
    std::vector<std::string> pod_row(const std::string &name) {
        std::istringstream in(c().herd({"get", "pods"}, 60).out);
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream f(line);
            std::vector<std::string> cols;
            std::string w;
            while (f >> w) cols.push_back(w);
            if (!cols.empty() && cols[0] == name) return cols;
        }
        return {};
    }

};

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// --- a 3-replica Deployment with its limits in the containers' cgroups ---------------

TEST_F(HerdE2E, DeploymentComesUpWithLimitsInCgroups) {
    std::string out = ok({"apply", "-f", manifest("web-deployment.yaml")});
    EXPECT_NE(out.find("deployment.apps/web"), std::string::npos) << out;
    ok({"rollout", "status", "deployment/web", "--timeout", "150s"});
    ok({"wait", "--for=condition=Ready", "pod", "-l", "app=web", "--timeout", "60s"});

    std::vector<json> pods = c().pods("app=web");
    ASSERT_EQ(pods.size(), 3u) << c().herd({"get", "pods"}).text();
    std::set<std::string> ips;
    for (json pod : pods) {
        std::string name = name_of(pod);
        EXPECT_EQ(pod["status"]["phase"], "Running") << pod.dump(2);
        EXPECT_TRUE(is_ready(pod)) << pod.dump(2);
        ips.insert(pod["status"].value("podIP", ""));
        auto proc = c().container(name, "web");
        ASSERT_GT(proc.pid, 0) << name << ": " << proc.error;
        // The container's own cgroup, under the pod's parent, under our root.
        std::string mem = HerdCluster::cgroup_of(proc.pid, "memory");
        std::string cpu = HerdCluster::cgroup_of(proc.pid, "cpu");
        std::string uid = pod["metadata"].value("uid", "");
        EXPECT_NE(mem.find(c().cgroup_root() + "/"), std::string::npos) << mem;
        EXPECT_NE(mem.find(uid), std::string::npos) << "the pod's cgroup parent names its uid: " << mem;
        // limits.memory 64Mi -> memory limit; limits.cpu 250m -> quota 25000 of
        // 100000; requests.cpu 100m -> shares 102 (the kubelet's mapping).
        EXPECT_EQ(trim(read_text(mem + "/memory.limit_in_bytes")), std::to_string(64 << 20)) << mem;
        EXPECT_EQ(trim(read_text(cpu + "/cpu.cfs_quota_us")), "25000") << cpu;
        EXPECT_EQ(trim(read_text(cpu + "/cpu.cfs_period_us")), "100000") << cpu;
        EXPECT_EQ(trim(read_text(cpu + "/cpu.shares")), "102") << cpu;
    }
    ips.erase("");
    EXPECT_EQ(ips.size(), 3u) << "each pod has its own address from the CNI bridge";

    // kubectl's columns.
    std::string table = ok({"get", "pods", "-o", "wide"});
    EXPECT_NE(table.find("NAME"), std::string::npos);
    EXPECT_NE(table.find("READY"), std::string::npos);
    EXPECT_NE(table.find("IP"), std::string::npos) << table;
    std::string deps = ok({"get", "deployments"});
    EXPECT_NE(deps.find("3/3"), std::string::npos) << deps;

    // scale to 1 and back up to 2.
    ok({"scale", "deployment", "web", "--replicas", "1"});
    EXPECT_TRUE(wait_until([&] { return c().pods("app=web").size() == 1; }, 90s)) << c().herd({"get", "pods"}).text();
    ok({"scale", "deployment/web", "--replicas=2"});
    EXPECT_TRUE(wait_until(
        [&] {
            auto p = c().pods("app=web");
            return p.size() == 2 && is_ready(p[0]) && is_ready(p[1]);
        },
        90s))
        << c().herd({"get", "pods"}).text();
}

// --- kill -9 of a container's process: restarted, restartCount 1 ----------------------

TEST_F(HerdE2E, KilledContainerIsRestarted) {
    ok({"apply", "-f", manifest("sleeper-pod.yaml")});
    ok({"wait", "--for=condition=Ready", "pod/sleeper", "--timeout", "90s"});
    auto before = c().container("sleeper", "main");
    ASSERT_GT(before.pid, 0) << before.error;
    ASSERT_EQ(::kill(before.pid, SIGKILL), 0);

    ASSERT_TRUE(wait_until([&] { json p = c().pod("sleeper"); return restarts(p) == 1 && running(p); }, 60s))
        << c().pod("sleeper").dump(2) << c().daemon_logs();
    json pod = c().pod("sleeper");
    json last = status0(pod)["lastState"]["terminated"];
    ASSERT_TRUE(last.is_object()) << pod.dump(2);
    EXPECT_EQ(last.value("exitCode", 0), 137) << "128 + SIGKILL";
    auto after = c().container("sleeper", "main");
    EXPECT_GT(after.pid, 0);
    EXPECT_NE(after.pid, before.pid);
    auto row = pod_row("sleeper");
    ASSERT_GE(row.size(), 4u);
    EXPECT_EQ(row[2], "Running");
    EXPECT_EQ(row[3], "1") << "RESTARTS";
}

// --- herd logs: stdout and stderr, --tail, and --previous after a restart ---------------------

TEST_F(HerdE2E, LogsOfCurrentAndPreviousInstance) {
    ok({"apply", "-f", manifest("talker-pod.yaml")});
    ok({"wait", "--for=condition=Ready", "pod/talker", "--timeout", "90s"});
    ASSERT_TRUE(wait_until([&] { return c().herd({"logs", "talker"}).out.find("to stderr") != std::string::npos; }, 20s))
        << c().herd({"logs", "talker"}).text();
    std::string logs = ok({"logs", "talker"});
    EXPECT_NE(logs.find("hello from talker"), std::string::npos) << logs;
    EXPECT_EQ(ok({"logs", "talker", "--tail", "1"}), "to stderr\n");
    auto proc = c().container("talker", "main");
    ASSERT_GT(proc.pid, 0) << proc.error;
    ASSERT_EQ(::kill(proc.pid, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { json p = c().pod("talker"); return restarts(p) == 1 && running(p); }, 60s));
    std::string previous = ok({"logs", "talker", "-c", "main", "--previous"});
    EXPECT_NE(previous.find("hello from talker"), std::string::npos) << previous;
    RunResult bad = c().herd({"logs", "talker", "-c", "nope"});
    EXPECT_EQ(bad.status, 1);
    EXPECT_NE(bad.err.find("container nope is not valid for pod talker"), std::string::npos) << bad.err;
}

// --- namespaces: -n puts a manifest's objects in a namespace, -A lists them all ---------------

TEST_F(HerdE2E, NamespacesAndAllNamespaces) {
    ok({"apply", "-n", "team-a", "-f", manifest("sleeper-pod.yaml")});
    ok({"wait", "--for=condition=Ready", "-n", "team-a", "pod/sleeper", "--timeout", "90s"});
    RunResult in_default = c().herd({"get", "pods"});
    EXPECT_EQ(in_default.status, 0);
    EXPECT_EQ(in_default.out, "") << in_default.text();
    EXPECT_NE(in_default.err.find("No resources found in default namespace."), std::string::npos) << in_default.err;
    EXPECT_NE(ok({"get", "pods", "-n", "team-a"}).find("sleeper"), std::string::npos);
    std::string all = ok({"get", "pods", "-A"});
    EXPECT_EQ(all.rfind("NAMESPACE", 0), 0u) << all;
    EXPECT_NE(all.find("team-a"), std::string::npos) << all;
    std::string deleted = ok({"delete", "pod", "sleeper", "--namespace=team-a"});
    EXPECT_NE(deleted.find("pod \"sleeper\" deleted"), std::string::npos) << deleted;
    RunResult gone = c().herd({"get", "pods", "-n", "team-a", "sleeper"});
    EXPECT_EQ(gone.status, 1) << gone.text();
}

// --- repeated crashes: the back-off of the annotations is honoured ------------------------

TEST_F(HerdE2E, CrashLoopBackoffIsHonoured) {
    ok({"apply", "-f", manifest("crash-pod.yaml")});
    // The time each restart is first seen; back-off 1 s, 2 s, 4 s, 4 s.
    std::map<int, Clock::time_point> seen;
    bool crash_loop_seen = false;
    auto start = Clock::now();
    while (Clock::now() - start < 90s && seen.size() < 5) {
        json pod = c().pod("crasher");
        int n = restarts(pod);
        if (n >= 0 && !seen.count(n)) seen[n] = Clock::now();
        json s = status0(pod);
        // contains() first: s["state"]["waiting"] of a running container is a
        // null that value() throws on (seen when a poll caught it running).
        if (s.is_object() && s["state"].contains("waiting") &&
            s["state"]["waiting"].value("reason", "") == "CrashLoopBackOff")
            crash_loop_seen = true;
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(seen.count(4)) << "4 restarts within 90 s\n" << c().pod("crasher").dump(2) << c().daemon_logs();
    auto gap = [&](int a, int b) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(seen[b] - seen[a]).count();
    };
    // Restart 2 -> 3 waits 2 s and 3 -> 4 waits 4 s (less the container's own
    // few ms, and our 100 ms polling); none waits the default 10 s.
    EXPECT_GE(gap(2, 3), 1500);
    EXPECT_GE(gap(3, 4), 3000);
    EXPECT_LE(gap(3, 4), 9000) << "back-off-max 4s";
    EXPECT_GT(gap(3, 4), gap(1, 2)) << "the back-off grows";
    EXPECT_TRUE(crash_loop_seen) << "state.waiting.reason CrashLoopBackOff between restarts";
    json pod = c().pod("crasher");
    EXPECT_EQ(status0(pod)["lastState"]["terminated"].value("exitCode", -1), 1) << pod.dump(2);
    RunResult events = c().herd({"events"});
    EXPECT_NE(events.out.find("BackOff"), std::string::npos) << events.text();
}

// --- a memory hog: OOMKilled ----------------------------------------------------------------

TEST_F(HerdE2E, MemoryHogIsReportedOOMKilled) {
    ok({"apply", "-f", manifest("oom-pods.yaml")});
    ASSERT_TRUE(wait_until([&] { return c().pod("hog-never")["status"].value("phase", "") == "Failed"; }, 90s))
        << c().pod("hog-never").dump(2) << c().daemon_logs();
    json never = c().pod("hog-never");
    json term = status0(never)["state"]["terminated"];
    EXPECT_EQ(term.value("reason", ""), "OOMKilled") << never.dump(2);
    EXPECT_EQ(term.value("exitCode", 0), 137) << never.dump(2);
    auto row = pod_row("hog-never");
    ASSERT_GE(row.size(), 3u);
    EXPECT_EQ(row[2], "OOMKilled") << "STATUS column";

    ASSERT_TRUE(wait_until([&] { return restarts(c().pod("hog-always")) >= 1; }, 90s)) << c().pod("hog-always").dump(2);
    json always = c().pod("hog-always");
    EXPECT_EQ(status0(always)["lastState"]["terminated"].value("reason", ""), "OOMKilled") << always.dump(2);
}

// --- a failing liveness probe restarts the container ------------------------------------------

TEST_F(HerdE2E, FailingLivenessProbeRestarts) {
    ok({"apply", "-f", manifest("liveness-pod.yaml")});
    ASSERT_TRUE(wait_until([&] { return restarts(c().pod("unhealthy")) >= 1; }, 90s))
        << c().pod("unhealthy").dump(2) << c().daemon_logs();
    RunResult d = c().herd({"describe", "pod", "unhealthy"});
    EXPECT_EQ(d.status, 0) << d.text();
    EXPECT_NE(d.out.find("Unhealthy"), std::string::npos) << "an Unhealthy event\n" << d.out;
    EXPECT_NE(d.out.find("Liveness:"), std::string::npos) << d.out;
}

// --- readiness gates Ready ----------------------------------------------------------------------

TEST_F(HerdE2E, ReadinessGatesReady) {
    ok({"apply", "-f", manifest("readiness-pod.yaml")});
    ASSERT_TRUE(wait_until([&] { return running(c().pod("gated")); }, 90s)) << c().pod("gated").dump(2);
    std::this_thread::sleep_for(3s);  // three probe periods, all failing
    json pod = c().pod("gated");
    EXPECT_FALSE(is_ready(pod)) << pod.dump(2);
    auto row = pod_row("gated");
    ASSERT_GE(row.size(), 3u);
    EXPECT_EQ(row[1], "0/1");
    EXPECT_EQ(row[2], "Running");

    ok({"exec", "gated", "--", "/probe", "write", "/tmp/ready", "yes"});
    EXPECT_TRUE(wait_until([&] { return is_ready(c().pod("gated")); }, 30s)) << c().pod("gated").dump(2);
    EXPECT_EQ(pod_row("gated").at(1), "1/1");
    EXPECT_EQ(trim(ok({"exec", "gated", "--", "/bin/cat", "/tmp/ready"})), "yes");

    ok({"exec", "gated", "-c", "main", "--", "/bin/rm", "/tmp/ready"});
    EXPECT_TRUE(wait_until([&] { return !is_ready(c().pod("gated")); }, 30s)) << "readiness is re-checked";
    EXPECT_EQ(restarts(c().pod("gated")), 0) << "readiness never restarts";
}

// `herd exec` goes through serve to the pod's node agent (the agent runs
// `corral exec` and streams its stdio back): stdin with -i, stdout and
// stderr apart, the command's exit status; -t gives the command a terminal.
TEST_F(HerdE2E, ExecStreamsThroughTheNodeAgent) {
    ok({"apply", "-f", manifest("readiness-pod.yaml")});
    ASSERT_TRUE(wait_until([&] { return running(c().pod("gated")); }, 90s)) << c().pod("gated").dump(2);
    corral::herd::ProgramRun r;
    r.argv = {HERD_BIN, "--state-dir", c().serve_state(), "exec", "-i", "gated", "--", "/bin/sh", "-c",
              "cat; echo to-stderr >&2; exit 3"};
    r.stdin_data = "piped-in\n";
    r.timeout_ms = 60000;
    auto res = corral::herd::run_program(r);
    ASSERT_TRUE(res) << res.error().message();
    EXPECT_EQ(res->exit_code, 3) << res->err;
    EXPECT_EQ(res->out, "piped-in\n");
    EXPECT_NE(res->err.find("to-stderr"), std::string::npos) << res->err;
    // Without -i the command's stdin is empty, as with kubectl.
    EXPECT_EQ(ok({"exec", "gated", "--", "/bin/sh", "-c", "cat; echo done"}), "done\n");
    // A terminal under script(1) (a pty for the CLI): the command gets one too.
    RunResult tty = run({"/usr/bin/script", "-qec", std::string(HERD_BIN) + " --state-dir " + c().serve_state() +
                                              " exec -it gated -- /probe tty", "/dev/null"}, 60);
    EXPECT_EQ(tty.status, 0) << tty.text();
    std::string compact = tty.out;
    compact.erase(std::remove(compact.begin(), compact.end(), ' '), compact.end());
    EXPECT_NE(compact.find("\"stdin\":{\"isatty\":true"), std::string::npos) << tty.text();
}

// --- restartPolicy Never: Failed, and stays so ---------------------------------------------------

TEST_F(HerdE2E, RestartPolicyNeverStaysFailed) {
    ok({"apply", "-f", manifest("never-pod.yaml")});
    ASSERT_TRUE(wait_until([&] { return c().pod("once")["status"].value("phase", "") == "Failed"; }, 90s))
        << c().pod("once").dump(2) << c().daemon_logs();
    std::this_thread::sleep_for(4s);
    json pod = c().pod("once");
    EXPECT_EQ(pod["status"].value("phase", ""), "Failed");
    EXPECT_EQ(restarts(pod), 0);
    json term = status0(pod)["state"]["terminated"];
    EXPECT_EQ(term.value("exitCode", 0), 3) << pod.dump(2);
    EXPECT_EQ(term.value("reason", ""), "Error") << pod.dump(2);
    auto row = pod_row("once");
    ASSERT_GE(row.size(), 4u);
    EXPECT_EQ(row[2], "Error");
    EXPECT_EQ(row[3], "0");
}

// --- serve and the agent killed and started again: no healthy container restarts ------------------

TEST_F(HerdE2E, DaemonRestartKeepsHealthyContainers) {
    ok({"apply", "-f", manifest("steady-deployment.yaml")});
    ok({"apply", "-f", manifest("sleeper-pod.yaml")});
    ok({"rollout", "status", "deployment/steady", "--timeout", "120s"});
    ok({"wait", "--for=condition=Ready", "pod", "--all", "--timeout", "90s"});

    struct Seen {
        std::string uid;
        pid_t pid;
        int restarts;
    };
    std::map<std::string, Seen> before;
    for (json pod : c().pods()) {
        std::string container = pod["spec"]["containers"][0]["name"];
        auto proc = c().container(name_of(pod), container);
        ASSERT_GT(proc.pid, 0) << proc.error;
        before[name_of(pod)] = {pod["metadata"].value("uid", ""), proc.pid, restarts(pod)};
    }
    ASSERT_EQ(before.size(), 3u);

    c().kill_serve(SIGKILL);
    c().kill_agent(SIGKILL);
    for (const auto &[name, seen] : before) EXPECT_EQ(::kill(seen.pid, 0), 0) << name << " survives its agent";
    ASSERT_TRUE(c().start_agent()) << c().setup_error();
    ASSERT_TRUE(c().start_serve()) << c().setup_error();

    // Give the new pair a few sync rounds, then compare.
    ASSERT_TRUE(wait_until(
        [&] {
            auto pods = c().pods();
            if (pods.size() != before.size()) return false;
            for (json p : pods)
                if (!is_ready(p)) return false;
            return true;
        },
        60s))
        << c().herd({"get", "pods"}).text() << c().daemon_logs();
    std::this_thread::sleep_for(5s);
    auto pods = c().pods();
    ASSERT_EQ(pods.size(), before.size()) << c().herd({"get", "pods"}).text();
    for (json pod : pods) {
        std::string name = name_of(pod);
        ASSERT_TRUE(before.count(name)) << "a new pod " << name << " appeared";
        EXPECT_EQ(pod["metadata"].value("uid", ""), before[name].uid) << name;
        EXPECT_EQ(restarts(pod), before[name].restarts) << name;
        auto proc = c().container(name, pod["spec"]["containers"][0]["name"]);
        EXPECT_EQ(proc.pid, before[name].pid) << name << " was restarted";
        EXPECT_TRUE(is_ready(pod)) << pod.dump(2);
    }
}

// --- rolling update and undo: the right image, never below replicas - maxUnavailable ------------

TEST_F(HerdE2E, RollingUpdateAndUndo) {
    const int replicas = 4, max_unavailable = 1;
    ok({"apply", "-f", manifest("rollout-v1.yaml")});
    ok({"rollout", "status", "deployment/roll", "--timeout", "150s"});
    ASSERT_TRUE(wait_until([&] {
        auto p = c().pods("app=roll");
        return p.size() == size_t(replicas) && std::all_of(p.begin(), p.end(), is_ready);
    }, 60s));

    // Samples pods until every one runs `image` and is Ready; returns the
    // fewest Ready pods seen on the way (terminating pods do not count).
    auto follow = [&](const std::string &image) {
        int fewest = replicas;
        bool done = false;
        auto start = Clock::now();
        while (!done && Clock::now() - start < 240s) {
            auto pods = c().pods("app=roll");
            int ready = 0, updated = 0;
            for (json p : pods) {
                bool terminating = p["metadata"].contains("deletionTimestamp");
                if (is_ready(p) && !terminating) ++ready;
                if (p["spec"]["containers"][0].value("image", "") == image && is_ready(p) && !terminating) ++updated;
            }
            if (!pods.empty()) fewest = std::min(fewest, ready);
            done = updated == replicas && pods.size() == size_t(replicas);
            std::this_thread::sleep_for(100ms);
        }
        EXPECT_TRUE(done) << "rollout to " << image << " did not finish\n" << c().herd({"get", "pods"}).text() << c().daemon_logs();
        return fewest;
    };

    ok({"apply", "-f", manifest("rollout-v2.yaml")});
    int fewest = follow("busybox:v2");
    EXPECT_GE(fewest, replicas - max_unavailable) << "ready pods during the rollout";
    ok({"rollout", "status", "deployment/roll", "--timeout", "60s"});
    for (json p : c().pods("app=roll")) {
        EXPECT_EQ(p["spec"]["containers"][0].value("image", ""), "busybox:v2");
        EXPECT_EQ(status0(p).value("image", ""), "busybox:v2") << p.dump(2);
    }
    std::string history = ok({"rollout", "history", "deployment/roll"});
    EXPECT_NE(history.find("busybox:v2"), std::string::npos) << history;

    ok({"rollout", "undo", "deployment", "roll"});
    fewest = follow("busybox:v1");
    EXPECT_GE(fewest, replicas - max_unavailable) << "ready pods during the undo";
    for (json p : c().pods("app=roll")) EXPECT_EQ(p["spec"]["containers"][0].value("image", ""), "busybox:v1");
    json dep = c().deployment("roll");
    EXPECT_EQ(dep["spec"]["template"]["spec"]["containers"][0].value("image", ""), "busybox:v1") << dep.dump(2);
    EXPECT_EQ(dep["status"].value("readyReplicas", 0), replicas) << dep.dump(2);
}

// --- bad manifests: rejected with the field's path, nothing applied --------------------------------

TEST_F(HerdE2E, BadManifestsAreRejectedWithFieldPath) {
    struct Case {
        const char *file, *expect;
    };
    const Case cases[] = {
        {"bad-unknown-field.yaml", "spec.template.spec.containers[0].imagePullSecretz"},
        {"bad-quantity.yaml", "spec.containers[0].resources.limits.memory"},
        {"bad-selector.yaml", "selector"},
        {"bad-duplicate.yaml", "twin"},
        {"bad-second-document.yaml", "spec.containers[0].resources.limits.cpu"},
    };
    for (const Case &k : cases) {
        RunResult r = c().herd({"apply", "-f", manifest(k.file)});
        EXPECT_EQ(r.status, 1) << k.file << "\n" << r.text();
        EXPECT_NE(r.err.find(k.expect), std::string::npos) << k.file << ": the message names " << k.expect << "\n" << r.err;
        EXPECT_NE(r.err.find(k.file), std::string::npos) << k.file << ": the message names the file\n" << r.err;
        EXPECT_EQ(r.out, "") << k.file;
    }
    // Nothing was applied, not even the valid first document.
    EXPECT_TRUE(c().pods().empty()) << c().herd({"get", "pods"}).text();
    json deps = c().get_json({"deployments"});
    ASSERT_TRUE(deps.is_object());
    EXPECT_TRUE(deps["items"].empty()) << deps.dump(2);
    RunResult none = c().herd({"get", "pod", "innocent"});
    EXPECT_EQ(none.status, 1);
    EXPECT_NE(none.err.find("Error from server (NotFound): pods \"innocent\" not found"), std::string::npos) << none.err;

    // --ignore-unknown drops the unknown field instead.
    RunResult lenient = c().herd({"apply", "--ignore-unknown", "-f", manifest("bad-unknown-field.yaml")});
    EXPECT_EQ(lenient.status, 0) << lenient.text();
    EXPECT_TRUE(c().deployment("typo").is_object());
}

} // namespace
} // namespace herd_e2e
