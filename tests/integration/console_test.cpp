// terminal: true. The runtime sends the pty master over --console-socket
// (SCM_RIGHTS), as containerd and conmon expect.
#include "integration/harness.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace corral_it {
namespace {

class Console : public ContainerTest {
protected:
    void TearDown() override {
        for (int fd : fds_) close(fd);
        ContainerTest::TearDown();
    }
    int keep(int fd) {
        if (fd >= 0) fds_.push_back(fd);
        return fd;
    }
    std::vector<int> fds_;
};

int listen_unix(const std::string &path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    if (fd < 0 || path.size() >= sizeof addr.sun_path) return -1;
    std::copy(path.begin(), path.end(), addr.sun_path);
    if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || listen(fd, 1) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// Accept one connection and take the fd passed with SCM_RIGHTS (-1 if none).
int receive_fd(int listener, milliseconds timeout) {
    pollfd p = {listener, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
    int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) return -1;
    char payload[4096];
    iovec iov = {payload, sizeof payload};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    int got = -1;
    if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) >= 0) {
        for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) std::memcpy(&got, CMSG_DATA(c), sizeof got);
    }
    close(conn);
    return got;
}

// Everything the container writes to its terminal until it closes (EIO).
std::string read_pty(int master, milliseconds timeout) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buf[4096];
        ssize_t n = read(master, buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;  // EIO: the last slave fd is closed
    }
    return out;
}

TEST_F(Console, TerminalIsAPtyWhoseMasterArrivesOnTheConsoleSocket) {
    Bundle &b = make_bundle();
    b.config["process"]["terminal"] = true;
    b.config["process"]["consoleSize"] = {{"height", 24}, {"width", 80}};
    b.set_args({"/probe", "tty"});
    b.write();
    std::string sock = scratch_ + "/console.sock";
    int listener = keep(listen_unix(sock));
    ASSERT_GE(listener, 0) << sock;

    auto create = rt_spawn({"create", "--bundle", b.dir, "--console-socket", sock, b.id});
    int master = keep(receive_fd(listener, milliseconds(10000)));
    Result c = create->wait();
    ASSERT_EQ(c.status, 0) << c;
    ASSERT_GE(master, 0) << "no fd received on the console socket";

    Result s = rt({"start", b.id});
    ASSERT_EQ(s.status, 0) << s;
    std::string out = read_pty(master, milliseconds(10000));
    auto open = out.find('{');
    auto close = out.rfind('}');
    ASSERT_TRUE(open != std::string::npos && close != std::string::npos) << "terminal output: " << out;
    json t = json::parse(out.substr(open, close - open + 1), nullptr, false);
    ASSERT_TRUE(t.is_object()) << out;
    for (const char *stream : {"stdin", "stdout", "stderr"}) {
        EXPECT_EQ(t[stream]["isatty"], true) << stream << ": " << t.dump();
        EXPECT_EQ(t[stream]["ttyname"].get<std::string>().rfind("/dev/pts/", 0), 0u) << t.dump();
    }
    EXPECT_EQ(t["controlling_tty"], true) << t.dump();
    EXPECT_EQ(t["winsize"], json({{"rows", 24}, {"cols", 80}})) << t.dump();
}

TEST_F(Console, TerminalWithoutConsoleSocketFailsCreate) {
    Bundle &b = make_bundle();
    b.config["process"]["terminal"] = true;
    Result r = rt({"create", "--bundle", (b.write(), b.dir), b.id});
    EXPECT_NE(r.status, 0) << r;
    // runc says "if runc will detach", corral "if corral will detach"
    EXPECT_NE(r.err.find("without setting console socket"), std::string::npos) << r;
    EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{});
    EXPECT_FALSE(exists(root_ + "/" + b.id));
}

}  // namespace
}  // namespace corral_it
