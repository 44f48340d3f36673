// seccomp notify (SCMP_ACT_NOTIFY with linux.seccomp.listenerPath): a seccomp
// agent in this test receives the listener fd with runc's "container process
// state" JSON, answers the container's mkdir calls itself through
// SECCOMP_IOCTL_NOTIF_RECV/SEND, and the container sees those answers.
#include "integration/harness.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <linux/seccomp.h>
#include <mutex>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

namespace corral_it {
namespace {

// A seccomp agent: listens on `path`; every connection brings one state JSON
// and one notify fd. mkdir/mkdirat of a path ending in "/agent-ok" get a fake
// success (nothing is created); every other notified call fails with EXDEV.
class SeccompAgent {
public:
    explicit SeccompAgent(const std::string &path) {
        listener_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) < 0 ||
            listen(listener_, 8) < 0) {
            ADD_FAILURE() << "agent socket " << path << ": " << std::strerror(errno);
            return;
        }
        stop_ = eventfd(0, EFD_CLOEXEC);
        thread_ = std::thread([this] { loop(); });
    }
    ~SeccompAgent() {
        if (thread_.joinable()) {
            uint64_t one = 1;
            (void)!write(stop_, &one, sizeof one);
            thread_.join();
        }
        for (int fd : notify_fds_) close(fd);
        if (stop_ >= 0) close(stop_);
        if (listener_ >= 0) close(listener_);
    }

    std::vector<std::string> states() {
        std::lock_guard<std::mutex> g(mu_);
        return states_;
    }
    std::vector<std::string> paths_seen() {
        std::lock_guard<std::mutex> g(mu_);
        return paths_;
    }
    std::vector<std::string> errors() {
        std::lock_guard<std::mutex> g(mu_);
        return errors_;
    }
    bool wait_for_states(size_t n) {
        return eventually([&] { return states().size() >= n; });
    }

private:
    void loop() {
        for (;;) {
            std::vector<pollfd> p = {{stop_, POLLIN, 0}, {listener_, POLLIN, 0}};
            for (int fd : notify_fds_) p.push_back({fd, POLLIN, 0});
            if (poll(p.data(), p.size(), 10000) < 0 && errno != EINTR) return;
            if (p[0].revents) return;
            if (p[1].revents & POLLIN) take_connection();
            for (size_t i = 2; i < p.size(); ++i) {
                int fd = p[i].fd;
                if (p[i].revents & POLLIN) answer(fd);
                else if (p[i].revents & (POLLHUP | POLLERR)) {
                    close(fd);
                    notify_fds_.erase(std::find(notify_fds_.begin(), notify_fds_.end(), fd));
                }
            }
        }
    }

    void take_connection() {
        int conn = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (conn < 0) return;
        timeval tv{5, 0};
        setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        std::string text;
        int fd = -1;
        for (;;) {
            char buf[65536];
            iovec iov = {buf, sizeof buf};
            alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * 4)];
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cbuf;
            msg.msg_controllen = sizeof cbuf;
            ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
            if (n <= 0) break;
            for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                    for (size_t k = 0; k < count; ++k) {
                        int got;
                        std::memcpy(&got, CMSG_DATA(c) + k * sizeof(int), sizeof got);
                        if (fd < 0) fd = got;
                        else close(got), note_error("more than one fd in one message");
                    }
                }
            text.append(buf, static_cast<size_t>(n));
            // runc may keep its end open a while after sending: stop at a
            // complete JSON document rather than waiting for EOF.
            if (json::accept(text)) break;
        }
        close(conn);
        std::lock_guard<std::mutex> g(mu_);
        states_.push_back(text);
        if (fd < 0) errors_.push_back("no fd with the state " + text);
        else notify_fds_.push_back(fd);
    }

    void note_error(const std::string &e) {
        std::lock_guard<std::mutex> g(mu_);
        errors_.push_back(e);
    }

    void answer(int fd) {
        seccomp_notif req{};
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) return; // the caller went away
        seccomp_notif_resp resp{};
        resp.id = req.id;
        resp.error = -EXDEV;
        uint64_t addr = 0;
        if (req.data.nr == SYS_mkdir) addr = req.data.args[0];
        else if (req.data.nr == SYS_mkdirat) addr = req.data.args[1];
        std::string path;
        if (addr) {
            char buf[256] = {};
            iovec local = {buf, sizeof buf - 1}, remote = {reinterpret_cast<void *>(addr), sizeof buf - 1};
            if (process_vm_readv(static_cast<pid_t>(req.pid), &local, 1, &remote, 1, 0) > 0) path = buf;
        }
        // The target may have died and its pid been reused while we read.
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) < 0) return;
        const std::string ok_tail = "/agent-ok";
        if (path.size() >= ok_tail.size() && path.compare(path.size() - ok_tail.size(), ok_tail.size(), ok_tail) == 0)
            resp.error = 0, resp.val = 0;
        {
            std::lock_guard<std::mutex> g(mu_);
            paths_.push_back(path);
        }
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0) note_error(std::string("NOTIF_SEND: ") + std::strerror(errno));
    }

    int listener_ = -1, stop_ = -1;
    std::vector<int> notify_fds_;
    std::thread thread_;
    std::mutex mu_;
    std::vector<std::string> states_, paths_, errors_;
};

class SeccompNotify : public ContainerTest {
protected:
    void SetUp() override {
        ContainerTest::SetUp();
        if (IsSkipped()) return;
        sock_ = scratch_ + "/agent.sock";
    }
    // mkdir and mkdirat go to the agent; everything else is allowed.
    json notify_profile(const std::string &listener, const std::string &metadata = "test-metadata") {
        json s = {{"defaultAction", "SCMP_ACT_ALLOW"},
                  {"listenerPath", listener},
                  {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
        if (!metadata.empty()) s["listenerMetadata"] = metadata;
        return s;
    }
    // The root is read-only: a real mkdir would fail with EROFS.
    static constexpr const char *kScript =
        "mkdir /agent-ok && echo made; test -e /agent-ok && echo exists || echo absent; "
        "mkdir /agent-no 2>/dev/null; echo rc=$?";
    static constexpr const char *kExpected = "made\nabsent\nrc=1\n";

    // pid: the process the filter belongs to; the state's pid is the init's.
    void check_state(const std::string &text, const Bundle &b, pid_t pid, pid_t init, const std::string &status) {
        json st = json::parse(text, nullptr, false);
        ASSERT_TRUE(st.is_object()) << "the agent got no JSON: '" << text << "'";
        EXPECT_TRUE(st.contains("ociVersion")) << text;
        EXPECT_EQ(st["fds"], json::array({"seccompFd"})) << text;
        EXPECT_EQ(st["metadata"], "test-metadata") << text;
        EXPECT_EQ(st["pid"], pid) << text;
        ASSERT_TRUE(st["state"].is_object()) << text;
        EXPECT_EQ(st["state"]["id"], b.id) << text;
        EXPECT_EQ(st["state"]["status"], status) << text;
        EXPECT_EQ(st["state"]["bundle"], b.dir) << text;
        EXPECT_EQ(st["state"]["pid"], init) << text;
    }

    std::string sock_;
};

// Both places the filter loads: late (noNewPrivileges, before Ready) and
// early (without it: before capabilities are dropped).
class SeccompNotifyNnp : public SeccompNotify, public ::testing::WithParamInterface<bool> {};

TEST_P(SeccompNotifyNnp, TheAgentAnswersTheContainersMkdir) {
    SeccompAgent agent(sock_);
    Bundle &b = make_bundle();
    b.config["process"]["noNewPrivileges"] = GetParam();
    b.config["linux"]["seccomp"] = notify_profile(sock_);
    b.set_args({"/bin/sh", "-c", kScript});
    ASSERT_TRUE(create(b));
    // runc's order: the agent has the fd once create returns, before start.
    ASSERT_EQ(agent.states().size(), 1u) << "no fd at the agent after create";
    pid_t pid = state(b.id).value("pid", 0);
    ASSERT_GT(pid, 0);
    check_state(agent.states()[0], b, pid, pid, "creating");

    Result r = rt({"start", b.id});
    ASSERT_EQ(r.status, 0) << r;
    ASSERT_TRUE(eventually([&] { return state(b.id).value("status", "") == "stopped"; }));
    EXPECT_TRUE(agent.errors().empty()) << agent.errors()[0];
    auto paths = agent.paths_seen();
    EXPECT_NE(std::find(paths.begin(), paths.end(), "/agent-ok"), paths.end()) << ::testing::PrintToString(paths);
    EXPECT_NE(std::find(paths.begin(), paths.end(), "/agent-no"), paths.end()) << ::testing::PrintToString(paths);
    r = rt({"delete", b.id});
    EXPECT_EQ(r.status, 0) << r;
}

INSTANTIATE_TEST_SUITE_P(Seccomp, SeccompNotifyNnp, ::testing::Bool(),
                         [](const auto &info) { return info.param ? "NoNewPrivileges" : "Privileged"; });

TEST_F(SeccompNotify, RunShowsTheAgentsAnswersToTheContainer) {
    SeccompAgent agent(sock_);
    Bundle &b = make_bundle();
    b.config["linux"]["seccomp"] = notify_profile(sock_);
    b.set_args({"/bin/sh", "-c", std::string(kScript) + "; mkdir /agent-no"});
    Result r = run_bundle(b);
    // The container's own view: a fake success, then the agent's errno.
    EXPECT_EQ(r.status, 1) << r;
    EXPECT_EQ(r.out, kExpected) << r;
    EXPECT_NE(r.err.find("Invalid cross-device link"), std::string::npos) << r;
    ASSERT_TRUE(agent.wait_for_states(1));
    json st = json::parse(agent.states()[0], nullptr, false);
    EXPECT_EQ(st.value("metadata", ""), "test-metadata");
}

TEST_F(SeccompNotify, MetadataIsLeftOutWhenEmpty) {
    SeccompAgent agent(sock_);
    Bundle &b = make_bundle();
    b.config["linux"]["seccomp"] = notify_profile(sock_, "");
    b.set_args({"/bin/true"});
    Result r = run_bundle(b);
    EXPECT_EQ(r.status, 0) << r;
    ASSERT_TRUE(agent.wait_for_states(1));
    json st = json::parse(agent.states()[0], nullptr, false);
    EXPECT_FALSE(st.contains("metadata")) << st.dump();
}

TEST_F(SeccompNotify, ExecGetsItsOwnListenerWithTheRunningState) {
    SeccompAgent agent(sock_);
    Bundle &b = make_bundle();
    b.config["linux"]["seccomp"] = notify_profile(sock_);
    pid_t init = start_sleeper(b);
    ASSERT_GT(init, 0);
    ASSERT_TRUE(agent.wait_for_states(1));
    std::string pid_file = scratch_ + "/exec.pid";
    Result r = rt({"exec", "--pid-file", pid_file, b.id, "/bin/sh", "-c", kScript});
    EXPECT_EQ(r.status, 0) << r;
    EXPECT_EQ(r.out, kExpected) << r;
    ASSERT_TRUE(agent.wait_for_states(2));
    // As runc: "pid" is the exec'd process, the state is the container's.
    pid_t exec_pid = std::atoi(read_file(pid_file).c_str());
    EXPECT_GT(exec_pid, 0);
    check_state(agent.states()[1], b, exec_pid, init, "running");
    rt({"kill", b.id, "KILL"});
}

TEST_F(SeccompNotify, NoAgentListeningFailsCreateAndLeavesNothingBehind) {
    Bundle &b = make_bundle();
    b.config["linux"]["seccomp"] = notify_profile(sock_); // nothing listens there
    b.set_args({"/bin/true"});
    b.write();
    Result r = rt({"create", "--bundle", b.dir, b.id});
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find(sock_), std::string::npos) << r;
    EXPECT_FALSE(exists(root_ + "/" + b.id)) << "state directory left behind";
    EXPECT_TRUE(processes_of(b.id).empty());
}

TEST_F(SeccompNotify, NotifyOnTheHandOverSyscallIsRefused) {
    if (runtime_is_runc()) GTEST_SKIP() << "runc passes the fd with write(2) and refuses notify on write instead";
    Bundle &b = make_bundle();
    json prof = notify_profile(sock_);
    prof["syscalls"][0]["names"] = {"sendmsg"};
    b.config["linux"]["seccomp"] = prof;
    b.set_args({"/bin/true"});
    Result r = run_bundle(b);
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find("SCMP_ACT_NOTIFY cannot be used for"), std::string::npos) << r;
    EXPECT_NE(r.err.find("sendmsg"), std::string::npos) << r;
}

}  // namespace
}  // namespace corral_it
