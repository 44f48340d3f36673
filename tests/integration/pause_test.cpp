// pause and resume: the freezer (v1 freezer.state, v2 cgroup.freeze) stops
// every process of the container and thaws it again; a paused container can
// still be killed and force-deleted.
#include "integration/resources.hpp"

#include <thread>

namespace corral_it {
namespace {

class PauseResume : public ResourceTest {
protected:
    // A container spinning on the CPU for longer than any test here.
    pid_t start_burner(Bundle &b) {
        b.set_args({"/probe", "cpuburn", "60"});
        if (auto c = create(b); !c) {
            ADD_FAILURE() << c.message();
            return 0;
        }
        Result r = rt({"start", b.id});
        if (r.status != 0) {
            ADD_FAILURE() << r;
            return 0;
        }
        return state(b.id).value("pid", 0);
    }
    // CPU time the container gains over `span`, in ms.
    long long progress_ms(const Bundle &b, milliseconds span) {
        auto u0 = cpu_usage_ns(cgroup_path(b));
        std::this_thread::sleep_for(span);
        auto u1 = cpu_usage_ns(cgroup_path(b));
        if (!u0 || !u1) {
            ADD_FAILURE() << "cpu usage unreadable for " << cgroup_path(b);
            return -1;
        }
        return (*u1 - *u0) / 1000000;
    }
    // The container makes CPU progress (at least 20 ms in some 250 ms window
    // within 3 s: our machines are shared and often loaded).
    bool burns(const Bundle &b) {
        return eventually([&] { return progress_ms(b, milliseconds(250)) >= 20; }, milliseconds(3000));
    }
};

TEST_F(PauseResume, PauseStopsProgressAndResumeRestartsIt) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_burner(b), 0);
    ASSERT_TRUE(burns(b)) << "the burner does not burn";

    Result p = rt({"pause", b.id});
    ASSERT_EQ(p.status, 0) << p;
    EXPECT_EQ(status_of(b), "paused");
    EXPECT_TRUE(cgroup_frozen(cgroup_path(b))) << "the cgroup is not frozen";
    // A frozen task may finish its current tick while freezing completes.
    std::this_thread::sleep_for(milliseconds(100));
    EXPECT_LE(progress_ms(b, milliseconds(1000)), 5) << "the container ran while paused";
    EXPECT_EQ(status_of(b), "paused");

    Result r = rt({"resume", b.id});
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_EQ(status_of(b), "running");
    EXPECT_FALSE(cgroup_frozen(cgroup_path(b)));
    EXPECT_TRUE(burns(b)) << "no progress after resume";
}

TEST_F(PauseResume, PauseFreezesExecdProcessesToo) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_sleeper(b), 0);
    pid_t burner_pid = 0;
    {
        std::string pid_file = make_dir("exec") + "/pid";
        Result e = exec(b, {"/probe", "cpuburn", "60"}, {"--detach", "--pid-file", pid_file});
        ASSERT_EQ(e.status, 0) << e;
        burner_pid = std::atoi(read_file(pid_file).c_str());
    }
    ASSERT_GT(burner_pid, 0);
    ASSERT_TRUE(burns(b)) << "the exec'd burner does not burn";
    Result p = rt({"pause", b.id});
    ASSERT_EQ(p.status, 0) << p;
    std::this_thread::sleep_for(milliseconds(100));
    EXPECT_LE(progress_ms(b, milliseconds(700)), 5) << "the exec'd process ran while paused";
    Result r = rt({"resume", b.id});
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_TRUE(burns(b)) << "no progress after resume";
}

TEST_F(PauseResume, PauseTwiceAndResumeWhileRunningFail) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_sleeper(b), 0);
    Result again = rt({"resume", b.id});
    EXPECT_NE(again.status, 0) << again;
    EXPECT_NE(again.err.find("container not paused"), std::string::npos) << again;
    ASSERT_EQ(rt({"pause", b.id}).status, 0);
    Result twice = rt({"pause", b.id});
    EXPECT_NE(twice.status, 0) << twice;
    EXPECT_NE(twice.err.find("container not running"), std::string::npos) << twice;
    EXPECT_EQ(status_of(b), "paused");
    ASSERT_EQ(rt({"resume", b.id}).status, 0);
    EXPECT_EQ(status_of(b), "running");
}

TEST_F(PauseResume, ExecIntoAPausedContainerFails) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_sleeper(b), 0);
    ASSERT_EQ(rt({"pause", b.id}).status, 0);
    Result e = exec(b, {"/probe", "exit", "0"});
    EXPECT_NE(e.status, 0) << e;
    EXPECT_NE(e.err.find("cannot exec in a paused container"), std::string::npos) << e;
    EXPECT_EQ(processes_of(b.id).size(), 1u) << "something was started in the paused container";
    EXPECT_EQ(status_of(b), "paused");
}

TEST_F(PauseResume, StateListAndPsOfAPausedContainer) {
    Bundle &b = make_bundle();
    pid_t init = start_sleeper(b);
    ASSERT_GT(init, 0);
    ASSERT_EQ(rt({"pause", b.id}).status, 0);
    json s = state(b.id);
    EXPECT_EQ(s.value("status", ""), "paused");
    EXPECT_EQ(s.value("pid", 0), init);
    Result list = rt({"list", "--format", "json"});
    ASSERT_EQ(list.status, 0) << list;
    json arr = json::parse(list.out, nullptr, false);
    ASSERT_TRUE(arr.is_array()) << list;
    ASSERT_EQ(arr.size(), 1u) << list;
    EXPECT_EQ(arr[0].value("status", ""), "paused") << list;
    Result ps = rt({"ps", "--format", "json", b.id});
    ASSERT_EQ(ps.status, 0) << ps;
    EXPECT_EQ(json::parse(ps.out, nullptr, false), json::array({init})) << ps;
}

TEST_F(PauseResume, ForceDeleteOfAPausedContainer) {
    Bundle &b = make_bundle();
    pid_t init = start_sleeper(b);
    ASSERT_GT(init, 0);
    pid_t extra = exec_sleeper(b);
    ASSERT_GT(extra, 0);
    ASSERT_EQ(rt({"pause", b.id}).status, 0);
    Result d = rt({"delete", "--force", b.id});
    EXPECT_EQ(d.status, 0) << d;
    EXPECT_TRUE(eventually([&] { return !process_alive(init) && !process_alive(extra); }, milliseconds(3000)))
        << "processes of the paused container survived delete --force";
    EXPECT_EQ(processes_of(b.id), std::vector<pid_t>{});
    EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{});
    EXPECT_FALSE(exists(root_ + "/" + b.id));
}

TEST_F(PauseResume, KillOfAPausedContainer) {
    Bundle &b = make_bundle();
    pid_t init = start_sleeper(b);
    ASSERT_GT(init, 0);
    ASSERT_EQ(rt({"pause", b.id}).status, 0);
    Result k = rt({"kill", b.id, "KILL"});
    EXPECT_EQ(k.status, 0) << k;
    // SIGKILL reaches frozen tasks (cgroup v2, and v1 since Linux 6.1).
    EXPECT_TRUE(eventually([&] { return !process_alive(init); }, milliseconds(3000))) << "the init survived SIGKILL";
    Result d = rt({"delete", "--force", b.id});
    EXPECT_EQ(d.status, 0) << d;
    EXPECT_EQ(processes_of(b.id), std::vector<pid_t>{});
    EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{});
}

TEST_F(PauseResume, DeleteWithoutForceRefusesAPausedContainer) {
    Bundle &b = make_bundle();
    pid_t init = start_sleeper(b);
    ASSERT_GT(init, 0);
    ASSERT_EQ(rt({"pause", b.id}).status, 0);
    Result d = rt({"delete", b.id});
    EXPECT_NE(d.status, 0) << d;
    // runc: "cannot delete container ID that is not stopped: paused"
    EXPECT_NE(d.err.find("not stopped"), std::string::npos) << d;
    EXPECT_EQ(status_of(b), "paused");
    EXPECT_TRUE(process_alive(init));
    ASSERT_EQ(rt({"resume", b.id}).status, 0);
    EXPECT_EQ(status_of(b), "running");
}

TEST_F(PauseResume, KillAllOfAPausedContainer) {
    Bundle &b = make_bundle();
    pid_t init = start_sleeper(b);
    ASSERT_GT(init, 0);
    pid_t extra = exec_sleeper(b);
    ASSERT_GT(extra, 0);
    ASSERT_EQ(rt({"pause", b.id}).status, 0);
    Result k = rt({"kill", "--all", b.id, "KILL"});
    EXPECT_EQ(k.status, 0) << k;
    EXPECT_TRUE(eventually([&] { return !process_alive(init) && !process_alive(extra); }, milliseconds(3000)))
        << "kill --all left processes of the paused container";
    EXPECT_TRUE(becomes(b, "stopped"));
    Result d = rt({"delete", b.id});
    EXPECT_EQ(d.status, 0) << d;
    EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{});
}

}  // namespace
}  // namespace corral_it
