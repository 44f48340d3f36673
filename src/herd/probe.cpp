// herd/probe.cpp — one probe attempt as a child process (see probe.hpp).
//
// The agent is single-threaded, so fork() is safe here and the child may
// allocate. Everything the child needs is still prepared before the fork so
// that the child's path is short: it only joins the pod's network namespace,
// connects (and for httpGet speaks one request), and exits 0 or 1. An exec
// probe replaces the child with `corral exec`, whose exit status is the
// command's.
#include "herd/probe.hpp"

#include "common/fd.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace corral::herd {
namespace {

// The agent blocks SIGCHLD/SIGTERM/SIGINT for its signalfd; a probe must not
// inherit that (a `corral exec` with SIGTERM blocked could not be stopped).
void child_reset_signals() {
    for (int s = 1; s < NSIG; ++s)
        if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// stdin/stdout/stderr to /dev/null: a probe's output is not kept (the kubelet
// keeps only a truncated message; we keep the exit status).
void child_silence_stdio() {
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) return;
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    if (null > 2) ::close(null);
}

bool child_join_netns(pid_t pid) {
    if (pid <= 0) return true;
    std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::setns(fd, CLONE_NEWNET) == 0;
    ::close(fd);
    return ok;
}

// Connects to host:port (host "" = 127.0.0.1, the pod's own loopback: with a
// network namespace per pod, that is where the containers listen).
int child_connect(const std::string &host, int port) {
    std::string h = host.empty() ? "127.0.0.1" : host;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *res = nullptr;
    if (::getaddrinfo(h.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) return -1;
    int fd = -1;
    for (addrinfo *a = res; a; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        ::close(fd);
        fd = -1;
    }
    ::freeaddrinfo(res);
    return fd;
}

bool write_all_fd(int fd, const std::string &s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::write(fd, s.data() + off, s.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        off += size_t(n);
    }
    return true;
}

// The request the kubelet sends (its User-Agent, Accept, Connection: close),
// with the probe's own headers; a Host header among them replaces ours.
std::string http_request(const Probe &p) {
    std::string host = p.host.empty() ? "127.0.0.1" : p.host;
    std::string host_header = host + ":" + std::to_string(p.port);
    std::string extra;
    for (const auto &h : p.http_headers) {
        if (strcasecmp(h.name.c_str(), "host") == 0) {
            host_header = h.value;
            continue;
        }
        extra += h.name + ": " + h.value + "\r\n";
    }
    std::string path = p.path.empty() ? "/" : p.path;
    if (path[0] != '/') path = "/" + path;
    return "GET " + path + " HTTP/1.1\r\nHost: " + host_header +
           "\r\nUser-Agent: kube-probe/herd\r\nAccept: */*\r\nConnection: close\r\n" + extra + "\r\n";
}

// Success is a status line "HTTP/1.x NNN" with 200 <= NNN < 400.
int child_http_status(int fd) {
    std::string head;
    char buf[512];
    while (head.find("\r\n") == std::string::npos && head.size() < 4096) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        head.append(buf, size_t(n));
    }
    if (head.compare(0, 5, "HTTP/") != 0) return -1;
    size_t sp = head.find(' ');
    if (sp == std::string::npos) return -1;
    return std::atoi(head.c_str() + sp + 1);
}

} // namespace

Result<pid_t> start_probe(const Probe &probe, const ProbeTarget &target) {
    // Prepared before the fork: argv of an exec probe, the HTTP request.
    std::vector<std::string> args;
    std::string request;
    if (probe.kind == Probe::Kind::exec) {
        if (probe.command.empty()) return Error("exec probe without a command");
        args = {target.corral_bin, "--root", target.corral_root, "exec", target.container_id};
        args.insert(args.end(), probe.command.begin(), probe.command.end());
    } else if (probe.kind == Probe::Kind::http_get) {
        if (probe.scheme != "HTTP" && !probe.scheme.empty())
            return Error("httpGet probe: scheme " + probe.scheme + " is not supported (only HTTP)");
        request = http_request(probe);
    }
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0) return Error::from_errno(errno, "fork a probe");
    if (pid > 0) return pid;

    // --- child: exits 0 (success) or 1 (failure), never returns ---
    child_reset_signals();
    child_silence_stdio();
    if (probe.kind == Probe::Kind::exec) {
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    if (!child_join_netns(target.netns_pid)) ::_exit(1);
    int fd = child_connect(probe.host, probe.port);
    if (fd < 0) ::_exit(1);
    if (probe.kind == Probe::Kind::tcp_socket) ::_exit(0);
    if (!write_all_fd(fd, request)) ::_exit(1);
    int status = child_http_status(fd);
    ::_exit(status >= 200 && status < 400 ? 0 : 1);
}

} // namespace corral::herd
