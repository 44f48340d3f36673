// Hooks: state on stdin, args and env passed, timeout kills, failures reported.
#include "common/fs.hpp"
#include "runtime/hooks.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace corral;

namespace {

class HookTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/corral-hooks-test-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
    }
    void TearDown() override { (void)remove_tree(dir_); }

    std::string script(const std::string &name, const std::string &body) {
        std::string path = dir_ + "/" + name;
        EXPECT_TRUE(write_file_atomic(path, "#!/bin/sh\n" + body + "\n", 0755));
        return path;
    }
    std::string out(const std::string &name) {
        auto r = read_file(dir_ + "/" + name);
        return r ? *r : std::string("<missing>");
    }
    static State state() {
        State s;
        s.oci_version = "1.2.0";
        s.id = "c1";
        s.status = ContainerStatus::created;
        s.pid = 4242;
        s.bundle = "/srv/b";
        s.annotations = {{"k", "v"}};
        return s;
    }

    std::string dir_;
};

int run_one(const spec::Hook &h, const std::string &input, std::string *err) {
    PreparedHook p(h);
    char buf[256];
    int r = run_prepared_hook(p, input.data(), input.size(), buf, sizeof buf);
    *err = buf;
    return r;
}

} // namespace

TEST_F(HookTest, GetsStateOnStdin) {
    spec::Hook h{.path = script("h", "cat > " + dir_ + "/stdin")};
    std::string json = hook_state_json(state());
    EXPECT_EQ(json, "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"status\":\"created\",\"pid\":4242,"
                    "\"bundle\":\"/srv/b\",\"annotations\":{\"k\":\"v\"}}");
    std::string err;
    ASSERT_EQ(run_one(h, json, &err), 0) << err;
    EXPECT_EQ(out("stdin"), json);
    EXPECT_EQ(err, "");
}

TEST_F(HookTest, StateLargerThanAPipePage) {
    spec::Hook h{.path = script("h", "wc -c > " + dir_ + "/n")};
    std::string big(200 * 1024, 'x');
    std::string err;
    ASSERT_EQ(run_one(h, big, &err), 0) << err;
    EXPECT_EQ(std::atoi(out("n").c_str()), 200 * 1024);
}

TEST_F(HookTest, ArgsAndEnvArePassed) {
    spec::Hook h{.path = script("h", "echo \"$0|$1|$2|$FOO|$HOME\" > " + dir_ + "/args"),
                 .args = {"my-hook", "one", "two words"},
                 .env = {"FOO=bar"}};
    std::string err;
    ASSERT_EQ(run_one(h, "{}", &err), 0) << err;
    // $0 of a script is the script path; the env holds only what was given.
    EXPECT_EQ(out("args"), h.path + "|one|two words|bar|\n");
}

TEST_F(HookTest, NoEnvInheritsTheRuntimeEnvironment) {
    ::setenv("CORRAL_HOOK_TEST", "inherited", 1);
    spec::Hook h{.path = script("h", "echo \"$CORRAL_HOOK_TEST\" > " + dir_ + "/env")};
    std::string err;
    ASSERT_EQ(run_one(h, "{}", &err), 0) << err;
    EXPECT_EQ(out("env"), "inherited\n");
}

TEST_F(HookTest, NoArgsMeansArgv0IsThePath) {
    std::string path = script("h", "echo \"$#\" > " + dir_ + "/argc");
    std::string err;
    ASSERT_EQ(run_one(spec::Hook{.path = path}, "", &err), 0) << err;
    EXPECT_EQ(out("argc"), "0\n");
}

TEST_F(HookTest, RuntimeFdsAreNotLeaked) {
    int fd = ::open("/dev/null", O_RDONLY); // not O_CLOEXEC
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::dup2(fd, 57), 57);
    ::close(fd);
    spec::Hook h{.path = script("h", "ls /proc/$$/fd > " + dir_ + "/fds")};
    std::string err;
    ASSERT_EQ(run_one(h, "", &err), 0) << err;
    ::close(57);
    std::string fds = out("fds");
    EXPECT_EQ(fds.find("57\n"), std::string::npos) << fds;
    EXPECT_EQ(fds.rfind("0\n1\n", 0), 0u) << fds; // stdin is the state pipe, still open
}

TEST_F(HookTest, StdoutAndStderrGoToOurStderr) {
    spec::Hook h{.path = script("h", "echo to-stdout; echo to-stderr >&2")};
    std::string file = dir_ + "/stderr";
    int saved = ::dup(STDERR_FILENO);
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
    std::string err;
    int r = run_one(h, "", &err);
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    ASSERT_EQ(r, 0) << err;
    EXPECT_EQ(out("stderr"), "to-stdout\nto-stderr\n");
}

TEST_F(HookTest, NonZeroExitIsReported) {
    spec::Hook h{.path = script("h", "exit 2")};
    std::string err;
    EXPECT_EQ(run_one(h, "{}", &err), -1);
    EXPECT_EQ(err, "hook `" + h.path + "` exited with status 2");
}

TEST_F(HookTest, TimeoutKillsTheHook) {
    spec::Hook h{.path = script("h", "exec sleep 30"), .timeout = 1};
    std::string err;
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(run_one(h, "{}", &err), -1);
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(err, "hook `" + h.path + "` timed out after 1s");
    EXPECT_LT(took, std::chrono::seconds(5));
    EXPECT_GE(took, std::chrono::milliseconds(900));
}

TEST_F(HookTest, FastHookWithTimeoutSucceeds) {
    spec::Hook h{.path = script("h", "exit 0"), .timeout = 5};
    std::string err;
    EXPECT_EQ(run_one(h, "{}", &err), 0) << err;
}

TEST_F(HookTest, MissingExecutableIsReported) {
    std::string err;
    EXPECT_EQ(run_one(spec::Hook{.path = dir_ + "/nope"}, "{}", &err), -1);
    EXPECT_EQ(err, "hook `" + dir_ + "/nope`: exec: no such file or directory");
}

TEST_F(HookTest, SmallErrorBufferIsTruncatedAndTerminated) {
    spec::Hook h{.path = script("h", "exit 3")};
    PreparedHook p(h);
    char buf[8];
    EXPECT_EQ(run_prepared_hook(p, "", 0, buf, sizeof buf), -1);
    EXPECT_EQ(std::string(buf), "hook `/");
}

TEST_F(HookTest, PreparedHooksSurviveMoves) {
    std::vector<spec::Hook> hooks;
    for (int i = 0; i < 5; ++i)
        hooks.push_back({.path = script("h" + std::to_string(i), "echo " + std::to_string(i) + " >> " + dir_ + "/log"),
                         .args = {"a"}, // short strings: SSO would break pointers into std::string
                         .env = {"X=1"}});
    auto prepared = prepare_hooks(hooks);
    std::vector<PreparedHook> moved;
    for (auto &p : prepared) moved.push_back(std::move(p));
    for (const auto &p : moved) {
        char buf[128];
        ASSERT_EQ(run_prepared_hook(p, "", 0, buf, sizeof buf), 0) << buf;
    }
    EXPECT_EQ(out("log"), "0\n1\n2\n3\n4\n");
}

TEST_F(HookTest, RunHooksStopsAtFirstFailureForCreateKinds) {
    std::vector<spec::Hook> hooks = {
        {.path = script("ok", "echo ok >> " + dir_ + "/log")},
        {.path = script("bad", "exit 4")},
        {.path = script("later", "echo later >> " + dir_ + "/log")},
    };
    auto st = run_hooks(hooks, "createRuntime", state(), Logger());
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message(), "createRuntime hook `" + hooks[1].path + "` exited with status 4");
    EXPECT_EQ(out("log"), "ok\n");
}

TEST_F(HookTest, RunHooksWarnsAndContinuesForPoststop) {
    std::vector<spec::Hook> hooks = {
        {.path = script("bad", "exit 4")},
        {.path = script("later", "echo later >> " + dir_ + "/log")},
    };
    int pipefd[2];
    ASSERT_EQ(::pipe(pipefd), 0);
    Logger log(pipefd[1], LogFormat::json, LogLevel::debug);
    EXPECT_TRUE(run_hooks(hooks, "poststop", state(), log));
    ::close(pipefd[1]);
    EXPECT_EQ(out("log"), "later\n");
    auto logged = read_fd(pipefd[0]);
    ::close(pipefd[0]);
    ASSERT_TRUE(logged);
    EXPECT_NE(logged->find("run poststop hook 1/2: " + hooks[0].path), std::string::npos) << *logged;
    EXPECT_NE(logged->find("\"level\":\"warning\",\"msg\":\"poststop hook `" + hooks[0].path + "` exited with status 4"),
              std::string::npos)
        << *logged;
}

TEST(HookStateJson, OmitsZeroPidAndEmptyAnnotations) {
    State s;
    s.id = "x";
    s.status = ContainerStatus::stopped;
    s.bundle = "/b";
    EXPECT_EQ(hook_state_json(s), "{\"ociVersion\":\"1.2.0\",\"id\":\"x\",\"status\":\"stopped\",\"bundle\":\"/b\"}");
}
