// OCI hooks: when each kind runs, what it gets on stdin, and what a failing
// or hanging hook does to the lifecycle.
#include "integration/harness.hpp"

#include <algorithm>
#include <thread>

namespace corral_it {
namespace {

class Hooks : public ContainerTest {};

// A hook that saves its stdin (the state JSON) to DIR/NAME.json and appends
// NAME to DIR/order. DIR is a path where the hook runs: on the host for the
// runtime-namespace hooks, inside the container for startContainer.
json recording_hook(const std::string &dir, const std::string &name) {
    return {{"path", "/bin/sh"},
            {"args", {"sh", "-c", "cat > " + dir + "/" + name + ".json; echo " + name + " >> " + dir + "/order"}},
            {"env", {"PATH=/usr/bin:/bin"}}};
}

json failing_hook(int status) {
    return {{"path", "/bin/sh"}, {"args", {"sh", "-c", "exit " + std::to_string(status)}}};
}

class HookOrder : public Hooks {
protected:
    // Give the bundle a recording hook of every kind (records in `rec`, which
    // the container sees at /var), then create, start, wait, delete.
    // createContainer: its path resolves in the runtime namespace and it runs
    // in the container's namespaces before pivot_root, so host paths still
    // work. startContainer: path and files inside the container.
    void run_all_hooks(bool slow_start_container = false) {
        rec = make_dir("hooks");
        Bundle &b = make_bundle();
        id = b.id;
        dir = b.dir;
        b.add_bind(rec, "/var");
        for (const char *kind : {"prestart", "createRuntime", "createContainer", "poststart", "poststop"})
            b.add_hook(kind, recording_hook(rec, kind));
        json start_container = recording_hook("/var", "startContainer");
        if (slow_start_container)  // a runtime that does not wait for it records poststart first, every time
            start_container["args"][2] = "/probe sleep 0.3; " + start_container["args"][2].get<std::string>();
        b.add_hook("startContainer", start_container);
        b.set_args({"/probe", "sleep", "0.3"});
        ASSERT_TRUE(create(b));
        pid = state(b.id).value("pid", 0);
        ASSERT_GT(pid, 0);
        Result r = rt({"start", b.id});
        ASSERT_EQ(r.status, 0) << r;
        ASSERT_TRUE(eventually([&] { return state(b.id).value("status", "") == "stopped"; }));
        r = rt({"delete", b.id});
        ASSERT_EQ(r.status, 0) << r;
        order = lines(read_file(rec + "/order"));
    }
    size_t position(const std::string &kind) const {
        return static_cast<size_t>(std::find(order.begin(), order.end(), kind) - order.begin());
    }
    std::string rec, id, dir;
    pid_t pid = 0;
    std::vector<std::string> order;
};

TEST_F(HookOrder, EveryKindGetsTheStateOnStdin) {
    ASSERT_NO_FATAL_FAILURE(run_all_hooks());
    for (const char *kind :
         {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}) {
        std::string text = read_file(rec + "/" + kind + ".json");
        json s = json::parse(text, nullptr, false);
        ASSERT_TRUE(s.is_object()) << kind << " hook got no state JSON on stdin: '" << text << "'";
        EXPECT_EQ(s["id"], id) << kind;
        EXPECT_EQ(s["bundle"], dir) << kind;
        EXPECT_TRUE(s.contains("ociVersion") && s.contains("status")) << kind << ": " << s.dump();
        std::string k = kind;
        if (k == "poststop") continue;
        // runtime-spec: the pid "as seen by the host", also for the hooks
        // that run in the container's namespaces.
        bool in_container = k == "createContainer" || k == "startContainer";
        if (in_container && runtime_is_runc()) {
            EXPECT_EQ(s["pid"], 1) << kind << " (runc 1.1 passes the pid as seen in the container)";
        } else {
            EXPECT_EQ(s["pid"], pid) << kind << ": " << s.dump();
        }
    }
}

TEST_F(HookOrder, CreateHooksRunFirstAndPoststopLast) {
    ASSERT_NO_FATAL_FAILURE(run_all_hooks());
    ASSERT_EQ(order.size(), 6u) << ::testing::PrintToString(order);
    EXPECT_EQ(std::vector<std::string>(order.begin(), order.begin() + 3),
              (std::vector<std::string>{"prestart", "createRuntime", "createContainer"}));
    EXPECT_EQ(order.back(), "poststop");
}

TEST_F(HookOrder, PoststartRunsAfterStartContainer) {
    // runtime-spec: startContainer runs before the user process is executed,
    // poststart after it, before `start` returns.
    if (runtime_is_runc())
        GTEST_SKIP() << "runc 1.1 runs poststart hooks during create, before startContainer (fixed in runc 1.2)";
    ASSERT_NO_FATAL_FAILURE(run_all_hooks(/*slow_start_container=*/true));
    EXPECT_LT(position("startContainer"), position("poststart")) << ::testing::PrintToString(order);
}

TEST_F(Hooks, FailingCreateRuntimeHookFailsCreateAndLeavesNothing) {
    Bundle &b = make_bundle();
    b.add_hook("createRuntime", failing_hook(3));
    b.set_args({"/probe", "sleep", "inf"});
    b.write();
    Result r = rt({"create", "--bundle", b.dir, b.id});
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find("hook"), std::string::npos) << r;
    EXPECT_FALSE(exists(root_ + "/" + b.id));
    EXPECT_NE(rt({"state", b.id}).status, 0);
    EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{});
    EXPECT_EQ(processes_of(b.id), std::vector<pid_t>{});
    EXPECT_EQ(mounts_mentioning(b.dir), std::vector<std::string>{});
}

TEST_F(Hooks, HookPastItsTimeoutIsKilledAndCreateFails) {
    Bundle &b = make_bundle();
    b.add_hook("createRuntime", {{"path", "/bin/sh"}, {"args", {"sh", "-c", "exec sleep 5"}}, {"timeout", 1}});
    b.set_args({"/probe", "sleep", "inf"});
    b.write();
    auto start = std::chrono::steady_clock::now();
    Result r = rt({"create", "--bundle", b.dir, b.id});
    auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    EXPECT_NE(r.status, 0) << r;
    EXPECT_LT(took.count(), 4000) << "the hook was not killed at its 1 s timeout";
    EXPECT_TRUE(r.err.find("timeout") != std::string::npos || r.err.find("timed out") != std::string::npos) << r;
    EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{});
    EXPECT_EQ(processes_of(b.id), std::vector<pid_t>{});
}

TEST_F(Hooks, FailingPoststartHookOnlyWarns) {
    if (runtime_is_runc())
        GTEST_SKIP() << "runc 1.1 runs poststart during create and fails it; runtime-spec: a failing poststart hook "
                        "only logs a warning";
    Bundle &b = make_bundle();
    b.add_hook("poststart", failing_hook(3));
    b.set_args({"/probe", "sleep", "inf"});
    ASSERT_TRUE(create(b));
    Result r = rt({"start", b.id});
    EXPECT_EQ(r.status, 0) << r;
    EXPECT_NE(r.err.find("level=warning"), std::string::npos) << "the failure is logged as a warning\n" << r;
    EXPECT_NE(r.err.find("poststart"), std::string::npos) << r;
    EXPECT_EQ(state(b.id).value("status", ""), "running");
}

TEST_F(Hooks, FailingPoststopHookOnlyWarnsAndDeleteCompletes) {
    Bundle &b = make_bundle();
    b.add_hook("poststop", failing_hook(3));
    b.set_args({"/probe", "exit", "0"});
    ASSERT_TRUE(create(b));
    ASSERT_EQ(rt({"start", b.id}).status, 0);
    ASSERT_TRUE(eventually([&] { return state(b.id).value("status", "") == "stopped"; }));
    Result r = rt({"delete", b.id});
    EXPECT_EQ(r.status, 0) << r;
    EXPECT_NE(rt({"state", b.id}).status, 0) << "the container is gone";
    EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{});
}

}  // namespace
}  // namespace corral_it
