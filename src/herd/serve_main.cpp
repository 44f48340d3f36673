// herd serve — the long-running supervisor: desired state in SQLite, the
// controllers, and the socket the `herd` CLI talks to (serve.hpp).
//
//   herd serve [--state-dir DIR] [--agent-socket PATH | --agent-state-dir DIR]
//              [--start-agent [--agent-arg ARG]...] [--node-name NAME] [--debug]
//              [--cluster-cidr CIDR] [--node-cidr-mask-size N]
//   herd serve --stop [--agent] [--state-dir DIR] [--agent-state-dir DIR]
//
// --start-agent starts `herd agent --state-dir <agent state dir>` if its
// socket does not answer, detached (own session, reparented to init), so that
// stopping serve never stops the agent or its pods. The agent's state dir is
// <serve's state dir>/agent unless given: two serves with different state
// dirs (HERD_STATE_DIR) never share an agent. --stop stops the serve that
// listens on <state dir>/herd.sock (and with --agent the agent on its
// agent.sock): SIGTERM to the process found holding that socket (daemon.hpp).
#include "herd/agent_api.hpp"
#include "herd/commands.hpp"
#include "herd/daemon.hpp"
#include "herd/serve.hpp"

#include "common/fs.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace corral::herd {
namespace {

constexpr const char *usage =
    "Usage: herd serve [--state-dir DIR] [--agent-socket PATH | --agent-state-dir DIR]\n"
    "                  [--start-agent [--agent-arg ARG]...] [--node-name NAME] [--debug]\n"
    "       herd serve --stop [--agent] [--state-dir DIR] [--agent-state-dir DIR]\n"
    "\n"
    "Runs the herd supervisor: keeps desired state (DIR/herd.db), runs the\n"
    "Deployment and Pod controllers against the node agent, and serves the herd\n"
    "CLI on DIR/herd.sock.\n"
    "\n"
    "  --state-dir DIR        serve's state (default $HERD_STATE_DIR or /var/lib/herd)\n"
    "  --agent-socket PATH    the local agent's socket\n"
    "  --agent-state-dir DIR  the local agent's state dir (socket DIR/agent.sock;\n"
    "                         default: the state dir's agent/, /var/lib/herd/agent)\n"
    "  --start-agent          start `herd agent` (detached) if it does not answer\n"
    "  --agent-arg ARG        one more argument for the started agent (repeatable)\n"
    "  --node-name NAME       the local node's name (default: the hostname)\n"
    "  --tick-ms N            controller period (default 1000)\n"
    "  --node-grace-ms N      a node not heard from for N ms is NotReady (default 40000)\n"
    "  --cluster-cidr CIDR    pod addresses of all nodes (default 10.88.0.0/16)\n"
    "  --node-cidr-mask-size N  each node's pod subnet out of it (default 24)\n"
    "  --debug                debug logging on stderr\n"
    "  --stop                 stop the running serve of this state dir (SIGTERM; pods keep running)\n"
    "  --agent                with --stop: stop the agent too\n";

// --stop: the serve (and agent) that listen on the sockets of these state dirs.
int stop_daemons(const std::string &serve_socket, const std::string &agent_socket, bool agent) {
    int status = 0;
    auto stop_one = [&](const char *what, const std::string &socket) {
        auto pid = find_listener(socket);
        if (!pid) {
            std::fprintf(stderr, "herd serve --stop: %s: %s\n", what, pid.error().message().c_str());
            status = 1;
            return;
        }
        if (!*pid) {
            std::printf("%s is not running (nothing listens on %s)\n", what, socket.c_str());
            return;
        }
        if (auto st = stop_process(**pid, 30000); !st) {
            std::fprintf(stderr, "herd serve --stop: %s: %s\n", what, st.error().message().c_str());
            status = 1;
            return;
        }
        std::printf("%s (pid %d) stopped\n", what, static_cast<int>(**pid));
    };
    stop_one("herd serve", serve_socket);
    if (agent) stop_one("herd agent", agent_socket);
    return status;
}

bool agent_answers(const std::string &socket) {
    auto c = connect_agent_socket(socket);
    if (!c) return false;
    return (*c)->call({{"op", "ping"}}).ok();
}

// Starts `herd agent` as a grandchild in its own session: serve's exit or
// its signals never reach it, and init reaps it. Waits until it answers.
Status start_agent(const std::string &agent_state_dir, const std::string &socket,
                   const std::vector<std::string> &extra, const Logger &log) {
    CORRAL_TRY(mkdir_p(agent_state_dir, 0700));
    std::string log_path = path_join(agent_state_dir, "agent.log");
    std::vector<std::string> argv = {"herd", "agent", "--state-dir", agent_state_dir};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::vector<char *> cargv;
    for (auto &a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    // The resolved path, so the agent is named `herd` (comm), not `exe`.
    std::string exe = self_exe_path();
    pid_t pid = ::fork();
    if (pid < 0) return Error::from_errno(errno, "fork");
    if (pid == 0) {
        // Intermediate child: new session, then fork once more so the agent
        // is not serve's child (no zombie, no SIGCHLD, no shared fate).
        ::setsid();
        pid_t agent = ::fork();
        if (agent != 0) _exit(agent < 0 ? 1 : 0);
        int nullfd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        int logfd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (nullfd >= 0) ::dup2(nullfd, 0);
        if (logfd >= 0) {
            ::dup2(logfd, 1);
            ::dup2(logfd, 2);
        }
        ::execv(exe.c_str(), cargv.data());
        _exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return Error("start herd agent: fork failed");
    log.info("started herd agent (state dir " + agent_state_dir + ", log " + log_path + ")");
    for (int i = 0; i < 200; ++i) {
        if (agent_answers(socket)) return ok();
        timespec ts{0, 50 * 1000 * 1000};
        ::nanosleep(&ts, nullptr);
    }
    return Error("herd agent did not answer on " + socket + " within 10 s (see " + log_path + ")");
}

} // namespace

int serve_main(const Argv &args) {
    ServeOptions opts;
    const char *env_dir = std::getenv("HERD_STATE_DIR");
    opts.state_dir = env_dir && *env_dir ? env_dir : "/var/lib/herd";
    std::string agent_state_dir;  // default: <state dir>/agent, once the state dir is known
    bool start = false, debug = false, stop_mode = false, stop_agent = false;
    std::vector<std::string> agent_args;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string &a = args[i];
        auto value = [&](const char *name) -> const std::string * {
            if (i + 1 >= args.size()) {
                std::fprintf(stderr, "herd serve: %s needs a value\n", name);
                return nullptr;
            }
            return &args[++i];
        };
        if (a == "--help" || a == "-h") {
            std::fputs(usage, stdout);
            return 0;
        } else if (a == "--state-dir") {
            auto v = value("--state-dir");
            if (!v) return 2;
            opts.state_dir = *v;
        } else if (a == "--agent-socket") {
            auto v = value("--agent-socket");
            if (!v) return 2;
            opts.agent_socket = *v;
        } else if (a == "--agent-state-dir") {
            auto v = value("--agent-state-dir");
            if (!v) return 2;
            agent_state_dir = *v;
        } else if (a == "--agent-arg") {
            auto v = value("--agent-arg");
            if (!v) return 2;
            agent_args.push_back(*v);
        } else if (a == "--node-name") {
            auto v = value("--node-name");
            if (!v) return 2;
            opts.node_name = *v;
        } else if (a == "--tick-ms") {
            auto v = value("--tick-ms");
            if (!v) return 2;
            opts.tick_ms = std::max(10, std::atoi(v->c_str()));
        } else if (a == "--node-grace-ms") {
            auto v = value("--node-grace-ms");
            if (!v) return 2;
            opts.node_grace_ms = std::max(100, std::atoi(v->c_str()));
        } else if (a == "--cluster-cidr") {
            auto v = value("--cluster-cidr");
            if (!v) return 2;
            opts.cluster_cidr = *v;
        } else if (a == "--node-cidr-mask-size") {
            auto v = value("--node-cidr-mask-size");
            if (!v) return 2;
            opts.node_cidr_mask_size = std::atoi(v->c_str());
        } else if (a == "--start-agent") {
            start = true;
        } else if (a == "--debug") {
            debug = true;
        } else if (a == "--stop") {
            stop_mode = true;
        } else if (a == "--agent") {
            stop_agent = true;
        } else {
            std::fprintf(stderr, "herd serve: unknown argument %s\n%s", a.c_str(), usage);
            return 2;
        }
    }
    if (agent_state_dir.empty()) agent_state_dir = path_join(opts.state_dir, "agent");
    if (opts.agent_socket.empty()) opts.agent_socket = path_join(agent_state_dir, "agent.sock");
    if (stop_agent && !stop_mode) {
        std::fprintf(stderr, "herd serve: --agent goes with --stop\n%s", usage);
        return 2;
    }
    if (stop_mode) return stop_daemons(path_join(opts.state_dir, "herd.sock"), opts.agent_socket, stop_agent);
    opts.log = Logger(2, LogFormat::text, debug ? LogLevel::debug : LogLevel::info);

    if (start) {
        // Started once the node has its pod subnet from the cluster CIDR
        // (the agent's --cni-subnet), unless --agent-arg gave one.
        opts.start_local_agent = [&](const std::string &pod_cidr) -> Status {
            if (agent_answers(opts.agent_socket)) return ok();
            std::vector<std::string> args = agent_args;
            if (!pod_cidr.empty() && std::find(args.begin(), args.end(), "--cni-subnet") == args.end()) {
                args.push_back("--cni-subnet");
                args.push_back(pod_cidr);
            }
            return start_agent(agent_state_dir, opts.agent_socket, args, opts.log);
        };
    }

    // SIGTERM/SIGINT end the loop through a signalfd; the agent (and so the
    // pods) keep running. SIGPIPE: a CLI that went away is not our death.
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        std::perror("herd serve: signalfd");
        return 1;
    }
    UniqueFd stop(sfd);
    auto st = run_serve(opts, stop.get());
    if (!st) {
        std::fprintf(stderr, "herd serve: %s\n", st.error().message().c_str());
        return 1;
    }
    return 0;
}

} // namespace corral::herd
