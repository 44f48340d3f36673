// A runtime killed at any moment (a supervisor's timeout, a shim's SIGKILL,
// a Ctrl-C) must leave either a container that `delete --force` removes
// entirely, or nothing. Each test kills one command with SIGKILL at a sweep
// of delays from its start, then runs `delete --force` and checks that no
// process, cgroup, mount or state entry is left.
//
// Processes orphaned by the kill would be reparented to PID 1 and escape
// notice; this test process is made a child subreaper, so they come to us
// and are counted.
#include "integration/harness.hpp"

#include <chrono>
#include <csignal>
#include <dirent.h>
#include <functional>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>

namespace corral_it {
namespace {

using std::chrono::microseconds;

class KilledRuntime : public ContainerTest {
protected:
    void SetUp() override {
        ContainerTest::SetUp();
        if (IsSkipped()) return;
        ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    }
    void TearDown() override {
        prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
        ContainerTest::TearDown();
    }

    // The delays of the sweep: every 400 µs over the first 16 ms (a create
    // takes about 7 ms here, longer on a loaded machine), then a few later.
    static std::vector<microseconds> delays() {
        std::vector<microseconds> d;
        for (int us = 0; us <= 16000; us += 400) d.emplace_back(us);
        for (int ms : {20, 30, 50}) d.emplace_back(ms * 1000);
        return d;
    }

    // Run the runtime with `args`, SIGKILL it `delay` after the fork.
    void kill_after(const std::vector<std::string> &args, microseconds delay) {
        Process p(rt_argv(args), RunOptions{}, scratch_);
        std::this_thread::sleep_for(delay);
        p.signal(SIGKILL);
        p.wait();
    }

    // Children of ours other than `except`, with their state letter. The
    // runtime processes we started are reaped by their Process, so any
    // other is an orphan (we are the subreaper): a container's init once its
    // `create` exits, or what a killed command left.
    std::vector<std::pair<pid_t, char>> children(pid_t except = 0) {
        std::vector<std::pair<pid_t, char>> found;
        std::string self = std::to_string(getpid());
        DIR *d = opendir("/proc");
        if (!d) return found;
        while (dirent *e = readdir(d)) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
            pid_t pid = std::atoi(e->d_name);
            if (pid == except) continue;
            // /proc/PID/stat: "pid (comm) S ppid ..."; comm may hold spaces.
            std::string stat = read_file(std::string("/proc/") + e->d_name + "/stat");
            size_t close = stat.rfind(')');
            if (close == std::string::npos || close + 4 > stat.size()) continue;
            char state = stat[close + 2];
            if (std::to_string(std::atoi(stat.c_str() + close + 4)) == self) found.emplace_back(pid, state);
        }
        closedir(d);
        return found;
    }
    std::vector<pid_t> orphans() {
        std::vector<pid_t> alive;
        for (auto [pid, state] : children())
            if (state == 'Z') waitpid(pid, nullptr, WNOHANG);
            else alive.push_back(pid);
        return alive;
    }

    // A runtime command, reaping the orphans it kills while it waits for
    // them, as the subreaper a container's parent is (a shim, conmon, PID 1)
    // would do.
    Result rt_reaping(const std::vector<std::string> &args) {
        Process p(rt_argv(args), RunOptions{}, scratch_);
        for (int i = 0; i < 10000 && p.running(); ++i) {
            for (auto [pid, state] : children(p.pid()))
                if (state == 'Z') waitpid(pid, nullptr, WNOHANG);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return p.wait();
    }

    // `delete --force`, then nothing of the container may be left.
    void expect_nothing_left(const Bundle &b, const std::string &what) {
        SCOPED_TRACE(what);
        Result r = rt_reaping({"delete", "--force", b.id});
        EXPECT_EQ(r.status, 0) << r;
        EXPECT_FALSE(exists(root_ + "/" + b.id)) << "state directory left";
        EXPECT_TRUE(cgroup_dirs_of(b.id).empty()) << "cgroup left: " << ::testing::PrintToString(cgroup_dirs_of(b.id));
        EXPECT_TRUE(processes_of(b.id).empty()) << "process left in the container's cgroup";
        EXPECT_TRUE(eventually([&] { return orphans().empty(); }, std::chrono::milliseconds(3000)))
            << "orphaned processes: " << ::testing::PrintToString(orphans());
        EXPECT_TRUE(mounts_mentioning(b.dir).empty()) << "mount left";
        EXPECT_TRUE(mounts_mentioning(root_).empty()) << "mount left";
        // Nothing else under --root that names the container (a half-made
        // state directory under a temporary name included).
        if (DIR *d = opendir(root_.c_str())) {
            while (dirent *e = readdir(d)) {
                std::string name = e->d_name;
                EXPECT_EQ(name.find(b.id), std::string::npos) << "left under --root: " << name;
                EXPECT_NE(name.rfind(".new-", 0), 0u) << "half-made state directory left: " << name;
            }
            closedir(d);
        }
    }

    void sweep(const char *what, const std::function<std::vector<std::string>(Bundle &)> &command);

    static std::string label(const char *cmd, microseconds d) {
        return std::string(cmd) + " killed after " + std::to_string(d.count()) + " us";
    }
};

// Each sweep: prepare a container (or not), kill `command` (given the
// bundle) at every delay, then check. Whatever a killed command left is a
// container `list` shows, so no corral command is blind to it.
void KilledRuntime::sweep(const char *what, const std::function<std::vector<std::string>(Bundle &)> &command) {
    for (auto d : delays()) {
        Bundle &b = make_bundle();
        std::vector<std::string> args = command(b);
        if (HasFatalFailure()) return;
        kill_after(args, d);
        if (exists(root_ + "/" + b.id + "/state.json")) {
            Result l = rt({"list", "--format", "json"});
            EXPECT_NE(l.out.find("\"" + b.id + "\""), std::string::npos)
                << label(what, d) << ": its state is there, but `list` does not show it\n" << l;
        }
        expect_nothing_left(b, label(what, d));
        if (HasFailure()) return;
    }
}

TEST_F(KilledRuntime, CreateKilledAtAnyPoint) {
    sweep("create", [](Bundle &b) -> std::vector<std::string> {
        b.set_args({"/probe", "sleep", "inf"});
        b.write();
        return {"create", "--bundle", b.dir, b.id};
    });
}

TEST_F(KilledRuntime, RunKilledAtAnyPoint) {
    sweep("run", [](Bundle &b) -> std::vector<std::string> {
        b.set_args({"/probe", "sleep", "inf"});
        b.write();
        return {"run", "--bundle", b.dir, b.id};
    });
}

TEST_F(KilledRuntime, StartKilledAtAnyPoint) {
    sweep("start", [this](Bundle &b) -> std::vector<std::string> {
        b.set_args({"/probe", "sleep", "inf"});
        EXPECT_TRUE(create(b));
        return {"start", b.id};
    });
}

TEST_F(KilledRuntime, ExecKilledAtAnyPoint) {
    sweep("exec", [this](Bundle &b) -> std::vector<std::string> {
        EXPECT_GT(start_sleeper(b), 0);
        return {"exec", b.id, "/probe", "sleep", "inf"};
    });
}

TEST_F(KilledRuntime, DeleteKilledAtAnyPoint) {
    sweep("delete", [this](Bundle &b) -> std::vector<std::string> {
        EXPECT_GT(start_sleeper(b), 0);
        return {"delete", "--force", b.id};
    });
}

} // namespace
} // namespace corral_it
