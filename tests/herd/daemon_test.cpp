// herd's own processes (issue 14): the agent that `herd serve --start-agent`
// starts keeps its state inside serve's state dir, both carry the name
// `herd` (not `exe`), and `herd serve --stop --agent` stops exactly them.
#include "herd/daemon.hpp"
#include "herd/e2e_util.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>

namespace herd_e2e {
namespace {

std::string comm_of(pid_t pid) {
    std::string c = read_text("/proc/" + std::to_string(pid) + "/comm");
    while (!c.empty() && c.back() == '\n') c.pop_back();
    return c;
}

TEST(HerdDaemon, FindListenerFindsTheProcessOnTheSocket) {
    std::string dir = "/tmp/herd-listener-" + random_hex(8);
    ASSERT_TRUE(corral::mkdir_p(dir).ok());
    std::string path = dir + "/x.sock";
    auto none = corral::herd::find_listener(path);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
    // Bound but not listening: not a daemon yet.
    auto bound = corral::herd::find_listener(path);
    ASSERT_TRUE(bound.ok());
    EXPECT_FALSE(bound->has_value());
    ASSERT_EQ(::listen(fd, 1), 0);
    auto found = corral::herd::find_listener(path);
    ASSERT_TRUE(found.ok());
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ(**found, ::getpid());
    ::close(fd);
    auto gone = corral::herd::find_listener(path);
    ASSERT_TRUE(gone.ok());
    EXPECT_FALSE(gone->has_value());
    (void)corral::remove_tree(dir);
}

TEST(HerdDaemon, ServeStartsAgentInItsStateDirAndStopStopsBoth) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (the agent's cgroups)";
    std::string tmpl = "/tmp/herd-daemon.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    std::string dir = tmpl, tag = random_hex(8);
    std::string state = dir + "/serve", cgroup_root = "/corral-test/herd-d-" + tag;
    std::string herd = HERD_BIN;
    ASSERT_TRUE(corral::mkdir_p(state).ok());

    // serve as a user starts it: no --agent-state-dir, its output to a file.
    RunResult started = run({"/bin/sh", "-c",
                             "unset HERD_STATE_DIR; " + herd + " serve --state-dir " + state +
                                 " --start-agent --agent-arg --corral --agent-arg " CORRAL_BIN
                                 " --agent-arg --cgroup-root --agent-arg " + cgroup_root +
                                 " --agent-arg --cni-bridge --agent-arg hs" + tag.substr(0, 6) +
                                 " >" + dir + "/serve.log 2>&1 & echo $!"},
                            30);
    ASSERT_EQ(started.status, 0) << started.text();
    ASSERT_TRUE(wait_until([&] { return run({herd, "--state-dir", state, "get", "nodes"}, 10).status == 0; }, 60s))
        << read_text(dir + "/serve.log");

    // The agent's socket is inside serve's state dir, and both are `herd`.
    auto agent = corral::herd::find_listener(state + "/agent/agent.sock");
    ASSERT_TRUE(agent.ok() && agent->has_value()) << read_text(dir + "/serve.log");
    auto serve = corral::herd::find_listener(state + "/herd.sock");
    ASSERT_TRUE(serve.ok() && serve->has_value());
    EXPECT_EQ(comm_of(**agent), "herd");
    EXPECT_EQ(comm_of(**serve), "herd");

    // --stop without --agent: serve only; the agent stays.
    RunResult stop = run({herd, "serve", "--stop", "--state-dir", state}, 60);
    EXPECT_EQ(stop.status, 0) << stop.text();
    EXPECT_EQ(stop.out, "herd serve (pid " + std::to_string(**serve) + ") stopped\n");
    EXPECT_TRUE(::kill(**agent, 0) == 0) << "the agent must outlive serve";
    // Then the agent too; serve is reported as not running.
    stop = run({herd, "serve", "--stop", "--agent", "--state-dir", state}, 60);
    EXPECT_EQ(stop.status, 0) << stop.text();
    EXPECT_NE(stop.out.find("herd serve is not running"), std::string::npos) << stop.out;
    EXPECT_NE(stop.out.find("herd agent (pid " + std::to_string(**agent) + ") stopped"), std::string::npos) << stop.out;
    EXPECT_TRUE(wait_until([&] { return ::kill(**agent, 0) != 0; }, 30s));
    EXPECT_FALSE(corral::herd::find_listener(state + "/agent/agent.sock")->has_value());

    // --agent alone is a usage error.
    RunResult bad = run({herd, "serve", "--agent", "--state-dir", state}, 30);
    EXPECT_EQ(bad.status, 2);

    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    for (const std::string &h : cgroup_hierarchies()) {
        std::vector<std::string> dirs;
        if (corral::path_exists(h + cgroup_root)) subdirs_deepest_first(h + cgroup_root, dirs);
        for (const std::string &d : dirs) ::rmdir(d.c_str());
    }
    (void)corral::remove_tree(dir);
}

} // namespace
} // namespace herd_e2e
