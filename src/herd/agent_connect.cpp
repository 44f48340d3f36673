// herd agent --connect — bridges stdin/stdout to the local agent's socket,
// as `docker system dial-stdio` does for `docker -H ssh://`. A controller
// reaches a node's long-lived agent with `ssh NODE herd agent --connect`:
// the agent and its pods outlive any ssh connection, and each connection is
// one more client of the agent's socket.
//
//   herd agent --connect [--state-dir DIR | --socket PATH]
//
// Bytes go both ways unchanged. stdin's EOF half-closes the socket (the
// agent answers what it was sent, then closes); the socket's EOF ends the
// bridge with status 0. No agent listening: a message on stderr naming the
// socket, status 1 (the controller reads it from ssh's stderr).
#include "herd/commands.hpp"

#include "common/fd.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace corral::herd {
namespace {

// One direction of the bridge: a buffer between a reader and a writer.
struct Pipe {
    int from, to;
    char buf[65536];
    size_t len = 0, off = 0;
    bool eof = false;  // `from` reached its end
    bool done() const { return eof && len == off; }
};

// Reads into an empty buffer; false on a read error.
bool fill(Pipe &p) {
    ssize_t n = ::read(p.from, p.buf, sizeof p.buf);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    if (n == 0) p.eof = true;
    p.len = static_cast<size_t>(n), p.off = 0;
    return true;
}
bool drain(Pipe &p) {
    ssize_t n = ::write(p.to, p.buf + p.off, p.len - p.off);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    p.off += static_cast<size_t>(n);
    if (p.off == p.len) p.len = p.off = 0;
    return true;
}

} // namespace

int agent_connect_main(const Argv &args) {
    const char *env_dir = std::getenv("HERD_STATE_DIR");
    std::string state_dir = std::string(env_dir && *env_dir ? env_dir : "/var/lib/herd") + "/agent";
    std::string socket_path;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string &a = args[i];
        if (a == "--connect") continue;
        if ((a == "--state-dir" || a == "--socket") && i + 1 < args.size()) {
            (a == "--socket" ? socket_path : state_dir) = args[++i];
        } else {
            std::fprintf(stderr, "herd agent --connect: unknown or incomplete option %s "
                                 "(usage: herd agent --connect [--state-dir DIR | --socket PATH])\n",
                         a.c_str());
            return 2;
        }
    }
    if (socket_path.empty()) socket_path = state_dir + "/agent.sock";

    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof sa.sun_path) {
        std::fprintf(stderr, "herd agent --connect: socket path too long: %s\n", socket_path.c_str());
        return 1;
    }
    std::memcpy(sa.sun_path, socket_path.c_str(), socket_path.size() + 1);
    UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock.valid() || ::connect(sock.get(), reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0) {
        std::fprintf(stderr, "herd agent --connect: no agent answers at %s: %s\n", socket_path.c_str(),
                     std::strerror(errno));
        return 1;
    }
    ::signal(SIGPIPE, SIG_IGN);
    set_nonblocking(sock.get());
    set_nonblocking(STDIN_FILENO);
    set_nonblocking(STDOUT_FILENO);

    Pipe up{STDIN_FILENO, sock.get()};     // controller -> agent
    Pipe down{sock.get(), STDOUT_FILENO};  // agent -> controller
    bool shut_wr = false;
    while (!down.done()) {
        if (up.done() && !shut_wr) {
            ::shutdown(sock.get(), SHUT_WR);
            shut_wr = true;
        }
        pollfd fds[4];
        int n = 0;
        int i_up_r = -1, i_up_w = -1, i_down_r = -1, i_down_w = -1;
        if (!up.eof && up.len == 0) i_up_r = n, fds[n++] = {up.from, POLLIN, 0};
        if (up.len > up.off) i_up_w = n, fds[n++] = {up.to, POLLOUT, 0};
        if (!down.eof && down.len == 0) i_down_r = n, fds[n++] = {down.from, POLLIN, 0};
        if (down.len > down.off) i_down_w = n, fds[n++] = {down.to, POLLOUT, 0};
        if (::poll(fds, n, -1) < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        auto ready = [&](int i) { return i >= 0 && fds[i].revents != 0; };
        if (ready(i_up_r) && !fill(up)) up.eof = true, up.len = up.off = 0;  // stdin failed: as its end
        if (ready(i_up_w) && !drain(up)) return 1;                            // the agent went away
        if (ready(i_down_r) && !fill(down)) return 1;
        if (ready(i_down_w) && !drain(down)) return 0;  // the controller went away
    }
    return 0;
}

} // namespace corral::herd
