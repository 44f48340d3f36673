// herd/ssh_transport.cpp — the system ssh client as herd's node transport
// (ssh_transport.hpp).
#include "herd/ssh_transport.hpp"

#include "common/fs.hpp"

#include <cerrno>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char **environ;

namespace corral::herd {
namespace {

// fork+exec through posix_spawn: stdio as given (-1: /dev/null), signal
// mask and dispositions reset, optionally in a session of its own (a
// master must not get the CLI's Ctrl-C). Our own fds are all O_CLOEXEC.
Result<pid_t> spawn(const std::vector<std::string> &argv, int in, int out, int err, bool new_session) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    int fds[3] = {in, out, err};
    for (int i = 0; i < 3; ++i) {
        if (fds[i] >= 0) posix_spawn_file_actions_adddup2(&fa, fds[i], i);
        else posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
    }
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#ifdef POSIX_SPAWN_SETSID
    if (new_session) flags |= POSIX_SPAWN_SETSID;
#endif
    posix_spawnattr_setflags(&attr, flags);
    std::vector<char *> cargv;
    for (const std::string &a : argv) cargv.push_back(const_cast<char *>(a.c_str()));
    cargv.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, cargv[0], &fa, &attr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return Error::from_errno(rc, "run", argv[0]);
    return pid;
}

std::string dest_text(const InventoryNode &n) {
    std::string s = n.dest.target();
    if (n.dest.port) s += ":" + std::to_string(n.dest.port);
    return s;
}

bool contains(const std::string &hay, std::string_view needle) { return hay.find(needle) != std::string::npos; }

std::string last_line(const std::string &text) {
    size_t end = text.find_last_not_of("\r\n \t");
    if (end == std::string::npos) return {};
    size_t start = text.find_last_of('\n', end);
    return text.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1));
}

} // namespace

std::string shell_quote(std::string_view s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

AgentSession::AgentSession(AgentSession &&o) noexcept
    : pid(o.pid), channel(std::move(o.channel)), err(std::move(o.err)) {
    o.pid = -1;
}

AgentSession::~AgentSession() {
    if (pid <= 0) return;
    // The channel's fds close with it; ssh then sees EOF and exits. Give it
    // a moment, then SIGTERM, and always reap.
    {
        LineChannel drop = std::move(channel);
    }
    for (int i = 0; i < 50; ++i) {
        if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
        ::usleep(2000);
    }
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
}

std::string AgentSession::stderr_text() {
    std::string out;
    char buf[4096];
    while (err.valid()) {
        ssize_t n = ::read(err.get(), buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

// A program name as run_program needs it: a path (run_program does not
// search PATH); unchanged when not found (the run then fails naming it).
static std::string find_program(const std::string &name) {
    if (name.find('/') != std::string::npos) return name;
    const char *path = std::getenv("PATH");
    std::string dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t pos = 0;
    while (pos <= dirs.size()) {
        size_t colon = dirs.find(':', pos);
        std::string dir = dirs.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
        std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        if (colon == std::string::npos) break;
        pos = colon + 1;
    }
    return name;
}

SshTransport::SshTransport(SshOptions opts) : opts_(std::move(opts)) { opts_.ssh_bin = find_program(opts_.ssh_bin); }

SshTransport::~SshTransport() {
    for (auto &[name, l] : links_)
        if (l.pid > 0) ::waitpid(l.pid, nullptr, 0);  // ConnectTimeout bounds it
}

std::string SshTransport::control_path(const InventoryNode &node) const {
    std::string p = opts_.control_dir + "/" + node.name + ".sock";
    if (p.size() < 100) return p;
    // sun_path is 108 bytes: a long name gets a short hash of itself.
    return opts_.control_dir + "/" + std::to_string(std::hash<std::string>{}(node.name) % 1000000007u) + ".sock";
}

std::string SshTransport::log_path(const InventoryNode &node) const {
    return opts_.control_dir + "/" + node.name + ".log";
}

std::vector<std::string> SshTransport::base_argv(const InventoryNode &node) const {
    std::vector<std::string> a = {opts_.ssh_bin,
                                  "-o", "BatchMode=yes",
                                  "-o", "ConnectTimeout=" + std::to_string(opts_.connect_timeout_s),
                                  "-o", "ServerAliveInterval=" + std::to_string(opts_.server_alive_interval_s),
                                  "-o", "ServerAliveCountMax=" + std::to_string(opts_.server_alive_count_max),
                                  "-o", std::string("StrictHostKeyChecking=") +
                                            (node.host_key_policy == HostKeyPolicy::accept_new ? "accept-new" : "yes"),
                                  "-o", "LogLevel=ERROR"};
    if (!node.known_hosts_file.empty()) a.insert(a.end(), {"-o", "UserKnownHostsFile=" + node.known_hosts_file});
    if (!node.identity_file.empty()) a.insert(a.end(), {"-o", "IdentitiesOnly=yes", "-i", node.identity_file});
    if (!node.proxy_jump.empty()) a.insert(a.end(), {"-J", node.proxy_jump});
    if (node.dest.port) a.insert(a.end(), {"-p", std::to_string(node.dest.port)});
    a.insert(a.end(), opts_.extra_args.begin(), opts_.extra_args.end());
    return a;
}

std::vector<std::string> SshTransport::master_argv(const InventoryNode &node) const {
    std::vector<std::string> a = base_argv(node);
    a.insert(a.end(), {"-o", "ControlMaster=yes", "-o", "ControlPersist=yes", "-S", control_path(node), "-N", "-f",
                       "--", node.dest.target()});
    return a;
}

std::vector<std::string> SshTransport::command_argv(const InventoryNode &node, const std::string &remote) const {
    std::vector<std::string> a = base_argv(node);
    a.insert(a.end(), {"-o", "ControlMaster=no", "-S", control_path(node), "-T", "--", node.dest.target(), remote});
    return a;
}

Error SshTransport::classify(const InventoryNode &node, int exit_code, const std::string &text) {
    std::string who = "node \"" + node.name + "\" (" + dest_text(node) + "): ";
    std::string line = last_line(text);
    if (line.empty()) line = "ssh exited with status " + std::to_string(exit_code);
    if (contains(text, "Host key verification failed") || contains(text, "REMOTE HOST IDENTIFICATION HAS CHANGED") ||
        contains(text, "host key is known for") || contains(text, "Host key for"))
        return Error(ErrorKind::invalid,
                     who + "knownHostsFile/hostKeyPolicy: the host key is refused (" +
                         (node.known_hosts_file.empty() ? "ssh's known_hosts" : node.known_hosts_file) + ", hostKeyPolicy " +
                         (node.host_key_policy == HostKeyPolicy::accept_new ? "accept-new" : "strict") + "): " + line);
    if (contains(text, "Permission denied"))
        return Error(ErrorKind::invalid, who + "identityFile: the node refused the key (" +
                                             (node.identity_file.empty() ? "ssh's default keys" : node.identity_file) + "): " + line);
    if (contains(text, "Could not resolve hostname"))
        return Error(ErrorKind::invalid, who + "ssh: " + line);
    if (contains(text, "timed out") || contains(text, "Connection refused") || contains(text, "No route to host") ||
        contains(text, "Network is unreachable") || contains(text, "Connection closed") ||
        contains(text, "Connection reset") || contains(text, "not responding") || contains(text, "Broken pipe"))
        return Error(ErrorKind::unavailable, who + "ssh: cannot reach the node: " + line);
    return Error(ErrorKind::unavailable, who + "ssh: " + line);
}

std::string SshTransport::log_since(const Link &l) const {
    auto text = read_file(log_path(l.node));
    if (!text) return {};
    return text->size() > static_cast<size_t>(l.log_offset) ? text->substr(static_cast<size_t>(l.log_offset)) : std::string();
}

Status SshTransport::start(Link &l) {
    CORRAL_TRY(mkdir_p(opts_.control_dir, 0700));
    // A socket left by a master that is gone: ssh -M would refuse to bind it.
    std::string sock = control_path(l.node);
    if (path_exists(sock)) ::unlink(sock.c_str());
    std::string log = log_path(l.node);
    UniqueFd logfd(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!logfd.valid()) return Error::from_errno(errno, "open ssh log", log);
    struct stat st{};
    ::fstat(logfd.get(), &st);
    l.log_offset = st.st_size;
    l.pid = CORRAL_TRY(spawn(master_argv(l.node), -1, -1, logfd.get(), true));
    l.state = State::starting;
    ++in_flight_;
    ++starts_;
    peak_starts_ = std::max(peak_starts_, in_flight_);
    return ok();
}

void SshTransport::finish(Link &l, int wait_status) {
    l.pid = -1;
    --in_flight_;
    int code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
    if (code == 0) {
        l.state = State::up;
        l.error = Error();
        return;
    }
    l.state = State::failed;
    l.error = classify(l.node, code, log_since(l));
}

void SshTransport::want(const InventoryNode &node) {
    Link &l = links_[node.name];
    if (l.state == State::starting) return;
    l.node = node;
    if (l.state == State::up && path_exists(control_path(node))) return;
    l.state = State::queued;
}

void SshTransport::pump() {
    for (auto &[name, l] : links_) {
        if (l.state != State::starting) continue;
        int status = 0;
        pid_t r = ::waitpid(l.pid, &status, WNOHANG);
        if (r == l.pid) finish(l, status);
        else if (r < 0 && errno == ECHILD) finish(l, 255 << 8);  // reaped elsewhere: unknown, call it failed
    }
    for (auto &[name, l] : links_) {
        if (in_flight_ >= opts_.max_concurrent_starts) break;
        if (l.state != State::queued) continue;
        auto st = start(l);
        if (!st) {
            l.state = State::failed;
            l.error = std::move(st).error().context("node \"" + name + "\"");
        }
    }
}

SshTransport::State SshTransport::state(const std::string &node) const {
    auto it = links_.find(node);
    return it == links_.end() ? State::down : it->second.state;
}

Error SshTransport::last_error(const std::string &node) const {
    auto it = links_.find(node);
    return it == links_.end() ? Error() : it->second.error;
}

Result<pid_t> SshTransport::check(const InventoryNode &node, int timeout_ms) const {
    std::vector<std::string> a = base_argv(node);
    a.insert(a.end(), {"-S", control_path(node), "-O", "check", "--", node.dest.target()});
    ProgramRun run{.argv = a, .timeout_ms = timeout_ms};
    auto r = run_program(run);
    if (!r) return std::move(r).error();
    if (!r->ok()) return Error(ErrorKind::unavailable, "node \"" + node.name + "\": no master connection: " + r->last_error_line());
    // "Master running (pid=1234)"
    std::string text = r->err + r->out;
    size_t p = text.find("pid=");
    return p == std::string::npos ? pid_t(0) : static_cast<pid_t>(std::atoi(text.c_str() + p + 4));
}

Status SshTransport::disconnect(const InventoryNode &node) {
    links_.erase(node.name);
    if (!path_exists(control_path(node))) return ok();
    std::vector<std::string> a = base_argv(node);
    a.insert(a.end(), {"-S", control_path(node), "-O", "exit", "--", node.dest.target()});
    auto r = run_program(ProgramRun{.argv = a, .timeout_ms = 5000});
    if (!r) return std::move(r).error();
    ::unlink(control_path(node).c_str());
    return ok();
}

Status SshTransport::connect(const InventoryNode &node, Deadline deadline) {
    auto all = connect_all({node}, deadline);
    return all.begin()->second;
}

std::map<std::string, Status> SshTransport::connect_all(const std::vector<InventoryNode> &nodes, Deadline deadline) {
    std::map<std::string, Status> out;
    for (const InventoryNode &n : nodes) {
        if (path_exists(control_path(n))) {
            if (check(n)) {
                Link &l = links_[n.name];
                l.node = n;
                l.state = State::up;
                out[n.name] = ok();
                continue;
            }
            ::unlink(control_path(n).c_str());  // stale: its master is gone
        }
        links_[n.name].state = State::down;
        want(n);
    }
    for (;;) {
        pump();
        bool pending = false;
        for (const InventoryNode &n : nodes) {
            if (out.count(n.name)) continue;
            State s = state(n.name);
            if (s == State::up) out[n.name] = ok();
            else if (s == State::failed) out[n.name] = last_error(n.name);
            else pending = true;
        }
        if (!pending) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            for (const InventoryNode &n : nodes)
                if (!out.count(n.name))
                    out[n.name] = Error(ErrorKind::unavailable, "node \"" + n.name + "\" (" + dest_text(n) +
                                                                    "): ssh: no connection before the deadline");
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return out;
}

Result<ProgramResult> SshTransport::run(const InventoryNode &node, const std::string &remote, std::string stdin_data,
                                        int timeout_ms) const {
    ProgramRun r{.argv = command_argv(node, remote), .stdin_data = std::move(stdin_data), .timeout_ms = timeout_ms};
    auto res = run_program(r);
    if (!res) return std::move(res).error().context("node \"" + node.name + "\"");
    if (res->exit_code == 255) return classify(node, 255, res->err);
    return res;
}

Status SshTransport::install_file(const InventoryNode &node, const std::string &local, const std::string &remote_path,
                                  int timeout_ms) const {
    std::string data = CORRAL_TRY(read_file(local).context("read " + local));
    size_t slash = remote_path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : remote_path.substr(0, slash);
    std::string tmp = dir + "/.herd-install." + remote_path.substr(slash + 1);
    std::string cmd = "mkdir -p " + shell_quote(dir) + " && cat > " + shell_quote(tmp) + " && chmod 0755 " +
                      shell_quote(tmp) + " && mv -f " + shell_quote(tmp) + " " + shell_quote(remote_path);
    auto r = CORRAL_TRY(run(node, cmd, std::move(data), timeout_ms));
    if (!r.ok())
        return Error(ErrorKind::unknown, "node \"" + node.name + "\": install " + remote_path + ": " + r.last_error_line());
    return ok();
}

Result<AgentSession> SshTransport::open_agent(const InventoryNode &node) const {
    std::string remote = shell_quote(node.bin_dir + "/herd") + " agent --connect --state-dir " +
                         shell_quote(node.state_dir + "/agent");
    int to_child[2], from_child[2], err[2];
    if (::pipe2(to_child, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
    UniqueFd tc_r(to_child[0]), tc_w(to_child[1]);
    if (::pipe2(from_child, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
    UniqueFd fc_r(from_child[0]), fc_w(from_child[1]);
    if (::pipe2(err, O_CLOEXEC | O_NONBLOCK) < 0) return Error::from_errno(errno, "pipe");
    UniqueFd err_r(err[0]), err_w(err[1]);
    pid_t pid = CORRAL_TRY(spawn(command_argv(node, remote), tc_r.get(), fc_w.get(), err_w.get(), true)
                               .context("node \"" + node.name + "\": ssh"));
    return AgentSession(pid, LineChannel(std::move(fc_r), std::move(tc_w), "agent on node \"" + node.name + "\"", kMaxResponseLine),
                        std::move(err_r));
}

} // namespace corral::herd
