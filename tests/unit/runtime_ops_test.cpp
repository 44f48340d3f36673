// The simple operations on hand-written state directories: state/list JSON
// as runc prints it, kill, delete (with poststop hooks), signal names, features.
// A "container" here is a forked child of the test recorded as the init, with
// cgroups disabled, so no engine and no privileges are needed.
#include "common/fs.hpp"
#include "runtime/state.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace corral;

namespace {

class OpsTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/corral-ops-test-XXXXXX";
        root_ = ::mkdtemp(tmpl);
        ctx_.root = root_ + "/state";
    }
    void TearDown() override {
        for (pid_t p : children_) {
            ::kill(p, SIGKILL);
            int st;
            ::waitpid(p, &st, 0);
        }
        (void)remove_tree(root_);
    }

    // A child that sleeps until killed, standing in for a container init.
    pid_t spawn_init() {
        pid_t p = ::fork();
        if (p == 0) {
            for (;;) ::pause();
        }
        children_.push_back(p);
        return p;
    }

    // Write <root>/<id>/state.json (and optionally exec.fifo, config.json).
    StateRecord make_container(const std::string &id, pid_t pid, bool fifo = false,
                               const std::string &config = {}) {
        auto d = StateDir::create(ctx_.root, id);
        EXPECT_TRUE(d) << d.error().message();
        StateRecord rec;
        rec.oci.oci_version = "1.2.0";
        rec.oci.id = id;
        rec.oci.status = fifo ? ContainerStatus::created : ContainerStatus::running;
        rec.oci.pid = pid;
        rec.oci.bundle = "/srv/" + id;
        rec.oci.rootfs = "/srv/" + id + "/rootfs";
        rec.oci.created = "2024-05-01T10:00:00.123Z";
        rec.init_start_time = pid > 0 ? process_start_time(pid) : 0;
        rec.cgroup_mode = cgroups::Mode::disabled;
        EXPECT_TRUE(d->write(rec));
        if (fifo) {
            EXPECT_EQ(::mkfifo((d->path() + "/exec.fifo").c_str(), 0622), 0);
        }
        if (!config.empty()) {
            EXPECT_TRUE(write_file_atomic(d->path() + "/config.json", config));
        }
        return rec;
    }

    bool wait_gone(pid_t p) {
        for (int i = 0; i < 500; ++i) {
            int st;
            if (::waitpid(p, &st, WNOHANG) == p) {
                std::erase(children_, p);
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return false;
    }

    std::string root_;
    Context ctx_;
    std::vector<pid_t> children_;
};

pid_t dead_pid() {
    pid_t p = ::fork();
    if (p == 0) _exit(0);
    int st;
    ::waitpid(p, &st, 0);
    return p;
}

} // namespace

TEST(StatusNames, AreRuncs) {
    EXPECT_STREQ(to_string(ContainerStatus::creating), "creating");
    EXPECT_STREQ(to_string(ContainerStatus::created), "created");
    EXPECT_STREQ(to_string(ContainerStatus::running), "running");
    EXPECT_STREQ(to_string(ContainerStatus::paused), "paused");
    EXPECT_STREQ(to_string(ContainerStatus::stopped), "stopped");
}

TEST(StateJson, IsRuncsIndentedShape) {
    State s;
    s.oci_version = "1.2.0";
    s.id = "t1";
    s.pid = 4910;
    s.status = ContainerStatus::created;
    s.bundle = "/tmp/rb";
    s.rootfs = "/tmp/rb/rootfs";
    s.created = "2026-11-23T15:09:13.609344363Z";
    // Byte for byte what runc 1.1 printed for the same container (no trailing newline).
    EXPECT_EQ(state_to_json(s), "{\n"
                                "  \"ociVersion\": \"1.2.0\",\n"
                                "  \"id\": \"t1\",\n"
                                "  \"pid\": 4910,\n"
                                "  \"status\": \"created\",\n"
                                "  \"bundle\": \"/tmp/rb\",\n"
                                "  \"rootfs\": \"/tmp/rb/rootfs\",\n"
                                "  \"created\": \"2026-11-23T15:09:13.609344363Z\",\n"
                                "  \"owner\": \"\"\n"
                                "}");
    s.annotations = {{"b", "2"}, {"a", "<1>"}};
    EXPECT_EQ(state_to_json(s), "{\n"
                                "  \"ociVersion\": \"1.2.0\",\n"
                                "  \"id\": \"t1\",\n"
                                "  \"pid\": 4910,\n"
                                "  \"status\": \"created\",\n"
                                "  \"bundle\": \"/tmp/rb\",\n"
                                "  \"rootfs\": \"/tmp/rb/rootfs\",\n"
                                "  \"created\": \"2026-11-23T15:09:13.609344363Z\",\n"
                                "  \"annotations\": {\n"
                                "    \"a\": \"\\u003c1\\u003e\",\n"
                                "    \"b\": \"2\"\n"
                                "  },\n"
                                "  \"owner\": \"\"\n"
                                "}");
}

TEST(StateListJson, IsOneLineAndNullWhenEmpty) {
    EXPECT_EQ(state_list_to_json({}), "null");
    State s;
    s.oci_version = "1.2.0";
    s.id = "t3";
    s.status = ContainerStatus::stopped;
    s.bundle = "/tmp/rb";
    s.rootfs = "/tmp/rb/rootfs";
    s.created = "2026-11-23T15:09:34.420843647Z";
    s.owner = "root";
    EXPECT_EQ(state_list_to_json({s}),
              "[{\"ociVersion\":\"1.2.0\",\"id\":\"t3\",\"pid\":0,\"status\":\"stopped\",\"bundle\":\"/tmp/rb\","
              "\"rootfs\":\"/tmp/rb/rootfs\",\"created\":\"2026-11-23T15:09:34.420843647Z\",\"owner\":\"root\"}]");
}

TEST(ParseSignal, NamesNumbersAndRealtime) {
    struct Case { const char *in; int want; } cases[] = {
        {"SIGTERM", SIGTERM}, {"TERM", SIGTERM}, {"term", SIGTERM}, {"SigKill", SIGKILL}, {"KILL", SIGKILL},
        {"9", 9},             {"15", 15},        {"0", 0},          {"HUP", SIGHUP},     {"usr1", SIGUSR1},
        {"USR2", SIGUSR2},    {"WINCH", SIGWINCH}, {"CHLD", SIGCHLD}, {"CLD", SIGCHLD},  {"IOT", SIGABRT},
        {"STOP", SIGSTOP},    {"CONT", SIGCONT}, {"PWR", SIGPWR},   {"SYS", SIGSYS},     {"POLL", SIGIO},
        {"RTMIN", SIGRTMIN},  {"RTMIN+3", SIGRTMIN + 3}, {"SIGRTMIN+1", SIGRTMIN + 1}, {"rtmin+2", SIGRTMIN + 2},
        {"RTMAX", SIGRTMAX},  {"RTMAX-2", SIGRTMAX - 2}, {"64", 64},
    };
    for (const auto &c : cases) {
        auto r = parse_signal(c.in);
        ASSERT_TRUE(r) << c.in << ": " << r.error().message();
        EXPECT_EQ(*r, c.want) << c.in;
    }
    for (const char *bad : {"", "FOO", "SIGFOO", "SIG", "-1", "RTMIN+99", "RTMAX+1", "RTMIN-1", "1.5", "99999999999", "K ILL"}) {
        auto r = parse_signal(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().message(), std::string("unknown signal \"") + bad + "\"");
    }
}

TEST(Features, ShapeAndContent) {
    auto f = nlohmann::json::parse(features_json());
    EXPECT_EQ(f["ociVersionMin"], "1.0.0");
    EXPECT_EQ(f["ociVersionMax"], spec::kOciVersion);
    EXPECT_EQ(f["hooks"].size(), 6u);
    auto &opts = f["mountOptions"];
    EXPECT_NE(std::find(opts.begin(), opts.end(), "rro"), opts.end());
    auto &lx = f["linux"];
    EXPECT_EQ(lx["namespaces"].size(), 8u);
    auto &caps = lx["capabilities"];
    EXPECT_EQ(caps[0], "CAP_CHOWN");
    EXPECT_NE(std::find(caps.begin(), caps.end(), "CAP_SYS_ADMIN"), caps.end());
    EXPECT_GE(caps.size(), 41u);
    EXPECT_EQ(lx["cgroup"]["v1"], true);
    EXPECT_EQ(lx["cgroup"]["v2"], true);
    EXPECT_EQ(lx["cgroup"]["systemd"], true); // --systemd-cgroup (refused where systemd is not init)
    EXPECT_EQ(lx["seccomp"]["enabled"], true);
    auto &archs = lx["seccomp"]["archs"];
    EXPECT_NE(std::find(archs.begin(), archs.end(), "SCMP_ARCH_X86_64"), archs.end());
    EXPECT_EQ(lx["apparmor"]["enabled"], false);
    EXPECT_EQ(lx["selinux"]["enabled"], false);
    EXPECT_EQ(lx["mountExtensions"]["idmap"]["enabled"], false);
    EXPECT_TRUE(f["annotations"].contains("io.github.corral.version"));
    // Four-space indent, as runc's encoder writes it.
    EXPECT_EQ(features_json().substr(0, 21), "{\n    \"ociVersionMin\"");
}

TEST_F(OpsTest, StateOfMissingAndInvalid) {
    auto r = state(ctx_, "nope");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "container does not exist");
    auto bad = state(ctx_, "a/b");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(), "invalid container ID format: a/b");
}

TEST_F(OpsTest, StateShowsLiveStatus) {
    pid_t init = spawn_init();
    make_container("run1", init);
    make_container("created1", spawn_init(), /*fifo=*/true);
    make_container("dead1", dead_pid());

    auto r = state(ctx_, "run1");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, ContainerStatus::running);
    EXPECT_EQ(r->pid, init);
    EXPECT_EQ(r->owner, "");
    EXPECT_EQ(state(ctx_, "created1")->status, ContainerStatus::created);
    auto d = state(ctx_, "dead1");
    EXPECT_EQ(d->status, ContainerStatus::stopped);
    EXPECT_EQ(d->pid, 0);
}

TEST_F(OpsTest, ListIsSortedWithOwner) {
    auto empty = list(ctx_);
    ASSERT_TRUE(empty) << empty.error().message(); // root not created yet
    EXPECT_TRUE(empty->empty());
    make_container("b", spawn_init());
    make_container("a", dead_pid());
    auto l = list(ctx_);
    ASSERT_TRUE(l) << l.error().message();
    ASSERT_EQ(l->size(), 2u);
    EXPECT_EQ((*l)[0].id, "a");
    EXPECT_EQ((*l)[0].status, ContainerStatus::stopped);
    EXPECT_EQ((*l)[1].id, "b");
    EXPECT_EQ((*l)[1].status, ContainerStatus::running);
    EXPECT_FALSE((*l)[1].owner.empty());
}

TEST_F(OpsTest, KillSignalsTheInit) {
    pid_t init = spawn_init();
    make_container("c", init);
    ASSERT_TRUE(kill(ctx_, "c", 0, false));
    auto st = kill(ctx_, "c", SIGTERM, false);
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_TRUE(wait_gone(init));
    auto again = kill(ctx_, "c", SIGTERM, false);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().message(), "container not running");
}

TEST_F(OpsTest, KillAllWithoutCgroupsSignalsTheInit) {
    pid_t init = spawn_init();
    make_container("c", init);
    auto st = kill(ctx_, "c", SIGKILL, true);
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_TRUE(wait_gone(init));
    EXPECT_TRUE(kill(ctx_, "c", SIGKILL, true)) << "--all on a stopped container is not an error (runc)";
}

TEST_F(OpsTest, KillRefusesAReusedPid) {
    pid_t init = spawn_init();
    auto rec = make_container("c", init);
    rec.init_start_time += 7; // the recorded init "was" another process
    ASSERT_TRUE(StateDir::open(ctx_.root, "c")->write(rec));
    auto st = kill(ctx_, "c", SIGKILL, false);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message(), "container not running");
    EXPECT_EQ(::kill(init, 0), 0) << "a process that is not ours was signalled";
}

TEST_F(OpsTest, KillBadSignalNumberIsRuncsError) {
    make_container("c", spawn_init());
    auto st = kill(ctx_, "c", 99, false);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message(), "unable to signal init: invalid argument");
}

TEST_F(OpsTest, KillMissing) {
    auto st = kill(ctx_, "nope", SIGTERM, false);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message(), "container does not exist");
}

TEST_F(OpsTest, DeleteRefusesRunningWithoutForce) {
    pid_t init = spawn_init();
    make_container("c", init);
    auto st = remove(ctx_, "c", false);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message(), "cannot delete container c that is not stopped: running");
    EXPECT_EQ(::kill(init, 0), 0);
    EXPECT_TRUE(path_exists(ctx_.root + "/c/state.json"));
}

TEST_F(OpsTest, DeleteStopped) {
    make_container("c", dead_pid());
    auto st = remove(ctx_, "c", false);
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_FALSE(path_exists(ctx_.root + "/c"));
    auto again = remove(ctx_, "c", false);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().message(), "container does not exist");
    EXPECT_TRUE(remove(ctx_, "c", true)) << "--force on a missing container is not an error (runc)";
}

TEST_F(OpsTest, DeleteCreatedKillsWithoutForce) {
    pid_t init = spawn_init();
    make_container("c", init, /*fifo=*/true);
    auto st = remove(ctx_, "c", false);
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_TRUE(wait_gone(init));
    EXPECT_FALSE(path_exists(ctx_.root + "/c"));
}

TEST_F(OpsTest, ForceDeleteKillsAndRunsPoststopHooks) {
    std::string hook = root_ + "/poststop.sh";
    ASSERT_TRUE(write_file_atomic(hook, "#!/bin/sh\ncat > " + root_ + "/poststop.in\n", 0755));
    std::string failing = root_ + "/fail.sh";
    ASSERT_TRUE(write_file_atomic(failing, "#!/bin/sh\nexit 3\n", 0755));
    // The failing hook comes first: poststop failures are warnings, the rest still run.
    std::string config = R"({"ociVersion":"1.2.0","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"]},
        "hooks":{"poststop":[{"path":")" + failing + R"("},{"path":")" + hook + R"("}]},
        "linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}})";
    pid_t init = spawn_init();
    make_container("c", init, false, config);

    auto st = remove(ctx_, "c", true);
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_TRUE(wait_gone(init));
    EXPECT_FALSE(path_exists(ctx_.root + "/c"));
    auto in = read_file(root_ + "/poststop.in");
    ASSERT_TRUE(in) << "poststop hook did not run";
    EXPECT_EQ(*in, "{\"ociVersion\":\"1.2.0\",\"id\":\"c\",\"status\":\"stopped\",\"bundle\":\"/srv/c\"}");
}

TEST_F(OpsTest, DeleteRemovesADirectoryLeftByAnAbortedCreate) {
    ASSERT_TRUE(mkdir_p(ctx_.root + "/half"));
    auto st = remove(ctx_, "half", false);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message(), "container does not exist");
    EXPECT_FALSE(path_exists(ctx_.root + "/half"));
}
