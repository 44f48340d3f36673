// herd/agent_internal.hpp — the agent's parts, internal to src/herd/agent*.cpp.
//
// Agent::Impl is one object (one thread, one poll loop) whose methods live
// in five files, one per part:
//   agent_loop.cpp        the poll loop: signalfd, timerfd, sockets, pidfds,
//                         start workers' pipes; what is due; reaping
//   agent_supervisor.cpp  starting (through start workers), exits, restarts
//                         with back-off, graceful stops, deleting
//   agent_prober.cpp      startup, liveness and readiness probes
//   agent_status.cpp      events, the Kubernetes status, status.json, adoption
//   agent_server.cpp      the protocol: clients, request checking, the ops
// and agent.cpp keeps the small decisions (back-off, phase) and Agent itself.
//
// Starting never blocks the loop: a pod's infra or a container is started by
// a start worker, a forked child of the agent (no thread: the agent stays
// single-threaded, and the worker too only fork+execs `corral`) that runs
// PodRuntime's start and writes its result as one JSON line to a pipe the
// loop watches. Probes, requests and other pods carry on meanwhile.
#pragma once

#include "common/fd.hpp"
#include "herd/agent.hpp"
#include "herd/probe.hpp"

#include <climits>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/types.h>
#include <unordered_map>
#include <vector>

namespace corral::herd {

inline int64_t mono_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}
inline int64_t unix_ms() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

constexpr int64_t kNever = INT64_MAX;
constexpr int64_t kLogRotatePeriodMs = 10'000;
// Start workers running at once (each runs a few `corral` processes).
constexpr size_t kMaxStartWorkers = 4;

enum class ProbeKind { startup, liveness, readiness };

// One probe of one container: when the next attempt is due, the attempt in
// flight, and the consecutive results the thresholds count.
struct ProbeRun {
    int64_t next_at = kNever;
    pid_t pid = 0;
    int64_t deadline = kNever;  // the attempt is killed then (timeoutSeconds)
    bool timed_out = false;
    int successes = 0, failures = 0;
};

// What the agent knows about one container beyond its ContainerStatus.
struct Supervised {
    std::string name, corral_id;
    uint64_t instance = 0;       // bumped at each start: stale probe results are ignored
    pid_t pid = 0;               // the running instance's init (0: none)
    UniqueFd pidfd;              // set when adopted: not our child, watched by pidfd
    int64_t started_mono = 0;    // for the back-off reset
    int64_t started_unix_ms = 0;
    int64_t restart_at = kNever; // the next start (after a back-off or a failed start)
    int64_t backoff_ms = 0;      // the last back-off used
    int64_t kill_at = kNever;    // SIGKILL then (a graceful stop is under way)
    bool starting = false;       // a start worker is at it
    bool stopping = false;
    bool started = false;        // startup probe passed (or none)
    bool ready = false;
    bool done = false;           // terminated for good (restart policy said no)
    ProbeRun startup, liveness, readiness;
    ProbeRun &probe(ProbeKind k) {
        return k == ProbeKind::startup ? startup : k == ProbeKind::liveness ? liveness : readiness;
    }
};

struct PodEntry {
    PodRecord rec;
    BackoffPolicy backoff;
    InfraInfo infra;
    bool infra_up = false;
    bool infra_starting = false;  // a start worker is at it
    int64_t infra_retry_at = 0;   // start (or retry) the infra then; kNever when up
    int64_t infra_backoff_ms = 0;
    int64_t delete_started_unix_ms = 0;
    std::vector<Supervised> containers;  // in spec order, like container_statuses
    bool starting() const {
        if (infra_starting) return true;
        for (const auto &s : containers)
            if (s.starting) return true;
        return false;
    }
};

struct PidOwner {
    std::string uid;
    size_t index = 0;
    uint64_t instance = 0;
    std::optional<ProbeKind> probe;  // nullopt: the container itself
};

// A start in flight (agent_supervisor.cpp): the worker's pid, the read end
// of its result pipe, and what it starts.
struct StartWorker {
    pid_t pid = 0;
    UniqueFd out;
    std::string result;              // what it wrote so far
    bool eof = false, reaped = false;
    int wait_status = 0;
    std::string uid;
    std::optional<size_t> container;  // nullopt: the pod's infra
};

// An `exec` under way on a client's connection (agent_exec.cpp,
// exec_stream.hpp): the `corral exec` child and its stdio (a pty master
// for a tty).
struct ExecSession {
    pid_t pid = 0;
    UniqueFd in, out, err;  // err invalid with a tty (the pty carries both)
    std::string in_buf;     // stdin the command has not taken yet
    bool in_close = false;  // close its stdin once in_buf is written
    bool exited = false;
    int wait_status = 0;
    ExecSession() = default;
    ExecSession(const ExecSession &) = delete;
    ExecSession &operator=(const ExecSession &) = delete;
    ~ExecSession();  // a client gone mid-command: the command is killed
};

struct Client {
    LineChannel ch;      // a socket, or stdin/stdout for --stdio
    bool stdio = false;  // its EOF (ssh went away) stops the agent
    bool closing = false;
    std::unique_ptr<ExecSession> exec;  // set once an exec turned it into a stream
};

// The node's address for status.hostIP (agent.cpp).
std::string node_ip();

struct Agent::Impl {
    AgentConfig cfg;
    PodRuntime runtime;
    std::map<std::string, PodEntry> pods;  // by uid
    std::unordered_map<pid_t, PidOwner> pids;
    std::vector<StartWorker> workers;
    // Children reaped before anyone claimed them: a container's init can
    // exit before its start worker has told us its pid (bounded, oldest out).
    std::deque<std::pair<pid_t, int>> unclaimed_exits;
    std::deque<AgentEvent> events;
    uint64_t event_seq = 0;
    UniqueFd listen_fd, signal_fd, timer_fd;
    std::vector<Client> clients;
    int64_t next_rotate = 0;
    bool stop = false;
    bool warned_network = false;
    std::string host_ip = node_ip();
    // Containers found stopped at adoption that were running when the last
    // agent stopped: their exits are handled once every pod is loaded.
    std::vector<std::pair<std::string, size_t>> pods_pending_exit;

    explicit Impl(AgentConfig c) : cfg(std::move(c)), runtime(cfg.runtime) {}

    void debug(const std::string &msg) const {
        if (cfg.debug) cfg.debug(msg);
    }

    // agent_loop.cpp
    Status setup(int64_t now);
    void arm_timer(int64_t at);
    Status run();
    void reap_children(int64_t now);
    void run_due(int64_t now);
    int64_t next_deadline() const;

    // agent_supervisor.cpp
    void start_infra(PodEntry &e, int64_t now);
    void start_container(PodEntry &e, size_t i, int64_t now);
    void spawn_worker(PodEntry &e, std::optional<size_t> container);
    void read_worker(StartWorker &w);
    void worker_reaped(pid_t pid, int wait_status);
    void finish_workers(int64_t now);
    void infra_started(PodEntry &e, Result<InfraInfo> infra, int64_t now);
    void container_started(PodEntry &e, size_t i, Result<StartedContainer> started, int64_t now);
    std::optional<int> claim_exit(pid_t pid);
    void on_container_exit(PodEntry &e, size_t i, std::optional<int> wait_status, int64_t now);
    void stop_container(PodEntry &e, size_t i, int64_t grace_seconds, int64_t now);
    void send_signal(Supervised &s, int sig);
    void begin_delete(PodEntry &e, int64_t grace_seconds, int64_t now);
    void finish_delete(const std::string &uid);

    // agent_prober.cpp
    void schedule_probes(const Container &c, Supervised &s, int64_t now);
    void cancel_probe(ProbeRun &p);
    const std::optional<Probe> &probe_spec(const Container &c, ProbeKind k) const;
    void run_probe(PodEntry &e, size_t i, ProbeKind k, int64_t now);
    void probe_result(PodEntry &e, size_t i, ProbeKind k, bool success, const std::string &why, int64_t now);

    // agent_status.cpp
    void event(const Pod &pod, const std::string &type, const std::string &reason, const std::string &message);
    std::string status_path(const Pod &pod) const;
    static void set_condition(PodStatus &st, const std::string &type, bool value, const std::string &reason = {});
    void refresh(PodEntry &e);
    void save(const PodEntry &e);
    PodEntry new_entry(Pod pod, BackoffPolicy backoff);
    void adopt(Pod pod, int64_t now);
    void adopt_all();
    PodEntry *find_pod(const json &req);
    json pod_json(const PodEntry &e) const;

    // agent_server.cpp
    void accept_clients();
    void read_client(Client &c);
    void flush_client(Client &c);
    json handle(const json &unchecked);
    json handle_line(std::string_view line);
    json dispatch(const json &req);
    Result<json> dispatch_op(const std::string &op, const json &req);
    Result<std::pair<PodEntry *, std::string>> find_container(const json &req);
    Result<json> op_apply(const json &req);
    Result<json> op_delete(const json &req);
    Result<json> op_list(const json &req);
    Result<json> op_logs(const json &req);
    Result<json> op_exec_target(const json &req);
    Result<json> op_stats(const json &req);

    // agent_exec.cpp
    Result<json> start_exec(Client &c, const json &req);
    void exec_input(Client &c, std::string_view line);
    void add_exec_fds(std::vector<pollfd> &fds, std::vector<std::pair<size_t, int>> &owners);
    void exec_events(const pollfd *fds, const std::vector<std::pair<size_t, int>> &owners);
    bool exec_reaped(pid_t pid, int wait_status);
    void exec_finish(Client &c);
};

} // namespace corral::herd
