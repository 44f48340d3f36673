#include "runtime/console.hpp"

#include "common/fd.hpp"
#include "runtime/sync.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace corral {

Status send_console_fd(const std::string &socket_path, int master) {
    UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock) return Error::from_errno(errno, "socket for --console-socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof addr.sun_path) return Error("--console-socket: path too long: " + socket_path);
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    if (::connect(sock.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) < 0)
        return Error::from_errno(errno, "connect to --console-socket", socket_path);
    // runc sends the terminal's name as the message body; clients ignore it
    // or log it.
    static const char name[] = "/dev/ptmx";
    if (send_with_fd(sock.get(), name, sizeof name - 1, master) < 0)
        return Error::from_errno(errno, "send pty master to --console-socket", socket_path);
    return ok();
}

namespace {

// Puts stdin in raw mode for the life of the proxy, restoring it after.
class RawTerminal {
public:
    RawTerminal() {
        if (::tcgetattr(0, &saved_) == 0) {
            termios raw = saved_;
            ::cfmakeraw(&raw);
            active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
        }
    }
    ~RawTerminal() {
        if (active_) ::tcsetattr(0, TCSANOW, &saved_);
    }

private:
    termios saved_{};
    bool active_ = false;
};

void copy_winsize(int from, int to) {
    winsize ws{};
    if (::ioctl(from, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

// Copy what is readable on `from` to `to`; false on EOF or error.
bool pump(int from, int to) {
    char buf[16384];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN);
    for (ssize_t off = 0; off < n;) {
        ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        off += w;
    }
    return true;
}

} // namespace

Result<int> forward_until_exit(const Context &ctx, pid_t pid, int console) {
    sigset_t all;
    sigfillset(&all);
    UniqueFd sfd(::signalfd(-1, &all, SFD_CLOEXEC));
    if (!sfd) return Error::from_errno(errno, "signalfd");
    const pid_t self = ::getpid();
    std::optional<RawTerminal> raw;
    bool stdin_open = console >= 0;
    if (console >= 0) {
        if (::isatty(0)) {
            raw.emplace();
            copy_winsize(0, console);
        }
    }
    for (;;) {
        pollfd fds[3] = {{sfd.get(), POLLIN, 0}, {console, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
        if (::poll(fds, console >= 0 ? 3 : 1, -1) < 0) {
            if (errno == EINTR) continue;
            return Error::from_errno(errno, "poll");
        }
        if (fds[0].revents & POLLIN) {
            signalfd_siginfo si{};
            if (::read(sfd.get(), &si, sizeof si) != sizeof si) continue;
            int sig = static_cast<int>(si.ssi_signo);
            if (sig == SIGCHLD) {
                // Reaped below, whatever woke us.
            } else if (si.ssi_code == SI_USER && static_cast<pid_t>(si.ssi_pid) == self) {
                // Raised by our own write, not sent to us: a SIGPIPE when
                // whoever read our stdout or log went away (`--debug … | head`).
                // Not the user's signal to forward, and a failed log line is
                // no reason to stop supervising.
            } else if (sig == SIGWINCH && console >= 0) {
                copy_winsize(0, console);
            } else {
                ctx.log.debug("forward signal " + std::to_string(sig) + " to init " + std::to_string(pid));
                ::kill(pid, sig);
            }
            // Reap everything that ended; our init is the one that matters.
            // On every wake-up, not only on SIGCHLD: a stream of other
            // signals (lower numbers are read first) must never starve it.
            int status = 0;
            pid_t r;
            while ((r = ::waitpid(-1, &status, WNOHANG)) > 0) {
                if (r == pid) {
                    // Drain what the container wrote last.
                    if (console >= 0)
                        while (pump(console, 1)) {
                            pollfd p{console, POLLIN, 0};
                            if (::poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN)) break;
                        }
                    return status;
                }
            }
        }
        if (console >= 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
            if (!pump(console, 1) && (fds[1].revents & POLLHUP)) {
                // The container closed its terminal; keep waiting for its exit.
                console = -1;
                stdin_open = false;
            }
        }
        if (stdin_open && (fds[2].revents & (POLLIN | POLLHUP))) {
            if (!pump(0, console)) stdin_open = false;
        }
    }
}

} // namespace corral
