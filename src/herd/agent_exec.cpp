// herd/agent_exec.cpp — `exec` in a pod's container through the agent
// (exec_stream.hpp has the stream): the agent runs `corral exec` as its
// child, with pipes (or a pty for a tty) that the poll loop relays to and
// from the client's connection. Nothing blocks the loop; a client that goes
// away ends the command.
#include "herd/agent_internal.hpp"

#include "herd/exec_stream.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace corral::herd {

ExecSession::~ExecSession() {
    if (pid > 0 && !exited) ::kill(pid, SIGKILL);  // reaped by the loop
}

namespace {

void set_winsize(int fd, const json &req) {
    winsize ws{};
    ws.ws_row = static_cast<unsigned short>(req.value("rows", 0));
    ws.ws_col = static_cast<unsigned short>(req.value("cols", 0));
    if (ws.ws_row && ws.ws_col) ::ioctl(fd, TIOCSWINSZ, &ws);
}

} // namespace

Result<json> Agent::Impl::start_exec(Client &c, const json &req) {
    auto [e, name] = CORRAL_TRY(find_container(req));
    size_t i = 0;
    while (e->containers[i].name != name) ++i;
    const Supervised &s = e->containers[i];
    if (s.pid <= 0)
        return Error(ErrorKind::invalid, "container \"" + name + "\" in pod \"" + e->rec.pod.metadata.name +
                                             "\" is not running");
    std::vector<std::string> argv{runtime.config().corral_bin, "--root", runtime.config().corral_root, "exec"};
    bool tty = req.value("tty", false);
    if (tty) argv.push_back("--tty");
    argv.push_back(s.corral_id);
    for (const auto &a : req["command"]) {
        if (!a.is_string()) return Error(ErrorKind::invalid, "exec: command: every word must be a string");
        argv.push_back(a.get<std::string>());
    }
    if (argv.size() == 5 + size_t(tty))
        return Error(ErrorKind::invalid, "you must specify at least one command for the container");

    auto session = std::make_unique<ExecSession>();
    // The child's ends, closed here once it has them.
    UniqueFd child_in, child_out, child_err;
    if (tty) {
        UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
        if (!master || ::grantpt(master.get()) < 0 || ::unlockpt(master.get()) < 0)
            return Error::from_errno(errno, "exec: open a pty");
        const char *slave_name = ::ptsname(master.get());
        child_in.reset(slave_name ? ::open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1);
        if (!child_in) return Error::from_errno(errno, "exec: open the pty's terminal");
        set_winsize(master.get(), req);
        session->in.reset(::fcntl(master.get(), F_DUPFD_CLOEXEC, 3));
        session->out = std::move(master);
    } else {
        int in[2], out[2], err[2];
        if (::pipe2(in, O_CLOEXEC) < 0) return Error::from_errno(errno, "exec: pipe");
        session->in.reset(in[1]);
        child_in.reset(in[0]);
        if (::pipe2(out, O_CLOEXEC) < 0) return Error::from_errno(errno, "exec: pipe");
        session->out.reset(out[0]);
        child_out.reset(out[1]);
        if (::pipe2(err, O_CLOEXEC) < 0) return Error::from_errno(errno, "exec: pipe");
        session->err.reset(err[0]);
        child_err.reset(err[1]);
    }
    if (!req.value("stdin", false)) session->in.reset();  // kubectl: no stdin without -i
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // dup2 clears CLOEXEC in the child
    bool want_stdin = req.value("stdin", false);
    std::vector<char *> cargv;
    for (auto &a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0) {
        int err = errno;
        if (null_fd >= 0) ::close(null_fd);
        return Error::from_errno(err, "exec: fork");
    }
    if (pid == 0) {
        // Only async-signal-safe calls from here to execv.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
        ::setsid();
        int in_fd = child_in.get();
        int out_fd = tty ? in_fd : child_out.get(), err_fd = tty ? in_fd : child_err.get();
        if (tty) ::ioctl(in_fd, TIOCSCTTY, 0);  // corral sees SIGWINCH on a resize
        if (!want_stdin && null_fd >= 0) in_fd = null_fd;
        ::dup2(in_fd, 0);
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        ::syscall(SYS_close_range, 3U, ~0U, 0U);
        ::execv(cargv[0], cargv.data());
        ::_exit(127);
    }
    if (null_fd >= 0) ::close(null_fd);
    session->pid = pid;
    for (int fd : {session->in.get(), session->out.get(), session->err.get()})
        if (fd >= 0) set_nonblocking(fd);
    debug("exec " + s.corral_id + " pid " + std::to_string(pid));
    c.exec = std::move(session);
    return json{{"ok", true}, {"stream", true}};
}

void Agent::Impl::exec_input(Client &c, std::string_view line) {
    ExecSession &x = *c.exec;
    json msg = json::parse(line, nullptr, false);
    if (!msg.is_object()) return;  // a stream carries no requests: ignored
    if (auto it = msg.find("stdin"); it != msg.end() && it->is_string() && x.in && !x.in_close)
        x.in_buf += base64_decode(it->get<std::string>());
    if (msg.value("stdin_close", false)) x.in_close = true;
    if (auto it = msg.find("resize"); it != msg.end() && it->is_object() && x.out && !x.err)
        set_winsize(x.out.get(), *it);
    if (x.in_close && x.in_buf.empty()) x.in.reset();
}

// Per exec: its output (unless the client has not taken the last yet), and
// its stdin when bytes wait. owners: (client index, 0 stdout | 1 stderr | 2 stdin).
void Agent::Impl::add_exec_fds(std::vector<pollfd> &fds, std::vector<std::pair<size_t, int>> &owners) {
    for (size_t k = 0; k < clients.size(); ++k) {
        ExecSession *x = clients[k].exec.get();
        if (!x) continue;
        bool backlog = clients[k].ch.wants_write();
        if (x->out && !backlog) {
            fds.push_back({x->out.get(), POLLIN, 0});
            owners.emplace_back(k, 0);
        }
        if (x->err && !backlog) {
            fds.push_back({x->err.get(), POLLIN, 0});
            owners.emplace_back(k, 1);
        }
        if (x->in && !x->in_buf.empty()) {
            fds.push_back({x->in.get(), POLLOUT, 0});
            owners.emplace_back(k, 2);
        }
    }
}

void Agent::Impl::exec_events(const pollfd *fds, const std::vector<std::pair<size_t, int>> &owners) {
    for (size_t j = 0; j < owners.size(); ++j) {
        auto [k, which] = owners[j];
        if (!fds[j].revents || k >= clients.size() || !clients[k].exec) continue;
        Client &c = clients[k];
        ExecSession &x = *c.exec;
        if (which == 2) {
            ssize_t n = ::write(x.in.get(), x.in_buf.data(), x.in_buf.size());
            if (n > 0) x.in_buf.erase(0, size_t(n));
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || (x.in_close && x.in_buf.empty())) {
                x.in_buf.clear();
                x.in.reset();  // the command's stdin is closed (or it stopped reading)
            }
            continue;
        }
        UniqueFd &fd = which == 0 ? x.out : x.err;
        char buf[32768];
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n > 0) {
            c.ch.queue_line(to_line(json{{which == 0 ? "stdout" : "stderr", base64_encode({buf, size_t(n)})}}));
            flush_client(c);
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            fd.reset();  // EOF (a pty reads EIO once the command is gone)
            if (which == 0 && !x.err) x.in.reset();  // the pty: its one fd
        }
        exec_finish(c);
    }
}

bool Agent::Impl::exec_reaped(pid_t pid, int wait_status) {
    for (auto &c : clients) {
        if (!c.exec || c.exec->pid != pid) continue;
        c.exec->exited = true;
        c.exec->wait_status = wait_status;
        exec_finish(c);
        return true;
    }
    return false;
}

// Once the command has exited and its output is read to the end: the exit
// line, and the connection closes when it is flushed.
void Agent::Impl::exec_finish(Client &c) {
    ExecSession &x = *c.exec;
    if (!x.exited || x.out || x.err) return;
    c.ch.queue_line(to_line(json{{"exit", exit_code_of(x.wait_status)}}));
    c.exec.reset();
    c.closing = true;
    flush_client(c);
}

} // namespace corral::herd
