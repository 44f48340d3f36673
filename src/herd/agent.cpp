// herd/agent.cpp — the node agent's supervisor (see agent.hpp for the loop).
//
// Per container the agent keeps one small `Supervised` (pid, deadlines,
// probe counters: a few hundred bytes) next to its Kubernetes-shaped
// ContainerStatus; there is no per-container process (no shim): the agent is
// the containers' reaper. Everything that must survive an agent restart is
// written to pods/<uid>/status.json whenever it changes.
//
// The life of a container:
//   apply_pod -> waiting ContainerCreating -> start (PodRuntime) -> running
//   running --exit (SIGCHLD / pidfd)--> restart policy says restart?
//       yes: waiting CrashLoopBackOff until the back-off passes -> start again
//       no:  terminated (stays)
//   liveness/startup failure, delete_pod: SIGTERM, SIGKILL after the grace
//   period, then the exit is handled as above (a deleted pod never restarts).
#include "herd/agent.hpp"

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "herd/node_info.hpp"
#include "herd/probe.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <map>
#include <optional>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <unordered_map>

namespace corral::herd {

// ---------------------------------------------------------------------------
// The small decisions
// ---------------------------------------------------------------------------

Result<BackoffPolicy> backoff_policy(const ObjectMeta &meta) {
    BackoffPolicy p;
    auto read = [&](const char *key, int64_t &out) -> Status {
        auto it = meta.annotations.find(key);
        if (it == meta.annotations.end()) return ok();
        auto ms = parse_duration_ms(it->second);  // manifest.hpp: Go's syntax
        if (!ms) return std::move(ms).error().context(std::string("metadata.annotations[") + key + "]");
        if (*ms <= 0) return Error(std::string("metadata.annotations[") + key + "]: must be positive");
        out = *ms;
        return ok();
    };
    CORRAL_TRY(read("herd.io/backoff-initial", p.initial_ms));
    CORRAL_TRY(read("herd.io/backoff-max", p.max_ms));
    CORRAL_TRY(read("herd.io/backoff-reset", p.reset_ms));
    if (p.max_ms < p.initial_ms) p.max_ms = p.initial_ms;
    return p;
}

int64_t next_backoff_ms(const BackoffPolicy &policy, int64_t previous_ms) {
    if (previous_ms <= 0) return policy.initial_ms;
    return std::min(policy.max_ms, previous_ms * 2);
}

std::string go_duration(int64_t ms) {
    if (ms < 1000) return std::to_string(ms) + "ms";
    std::string out;
    int64_t h = ms / 3'600'000, m = ms / 60'000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    if (h) out += std::to_string(h) + "h";
    if (h || m) out += std::to_string(m) + "m";
    out += std::to_string(s);
    if (frac) {
        char buf[8];
        std::snprintf(buf, sizeof buf, ".%03d", int(frac));
        std::string f = buf;
        while (f.back() == '0') f.pop_back();
        out += f;
    }
    return out + "s";
}

int exit_code_of(int wait_status) {
    if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
    return 255;
}

bool should_restart(const std::string &restart_policy, int exit_code) {
    if (restart_policy == "Never") return false;
    if (restart_policy == "OnFailure") return exit_code != 0;
    return true;  // Always
}

std::string pod_phase(const std::string &restart_policy, const std::vector<ContainerStatus> &statuses) {
    int waiting = 0, running = 0, stopped = 0, succeeded = 0;
    for (const auto &cs : statuses) {
        if (cs.state.running) {
            ++running;
        } else if (cs.state.terminated) {
            ++stopped;
            if (cs.state.terminated->exit_code == 0) ++succeeded;
        } else if (cs.last_state.terminated) {
            ++stopped;  // waiting to restart after having run
        } else {
            ++waiting;
        }
    }
    if (statuses.empty() || waiting > 0) return "Pending";
    if (running > 0) return "Running";
    if (stopped == int(statuses.size())) {
        if (restart_policy == "Always") return "Running";
        if (stopped == succeeded) return "Succeeded";
        if (restart_policy == "Never") return "Failed";
        return "Running";  // OnFailure: the failed ones restart
    }
    return "Pending";
}

json to_json(const AgentEvent &e) {
    return json{{"seq", e.seq},
                {"type", e.type},
                {"reason", e.reason},
                {"namespace", e.namespace_},
                {"object", e.object},
                {"message", e.message},
                {"count", e.count},
                {"firstTimestamp", e.first_timestamp},
                {"lastTimestamp", e.last_timestamp}};
}

// ---------------------------------------------------------------------------
// The supervisor
// ---------------------------------------------------------------------------
namespace {

int64_t mono_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}
int64_t unix_ms() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

constexpr int64_t kNever = INT64_MAX;
constexpr int64_t kLogRotatePeriodMs = 10'000;

enum class ProbeKind { startup, liveness, readiness };
const char *probe_name(ProbeKind k) {
    switch (k) {
    case ProbeKind::startup: return "Startup";
    case ProbeKind::liveness: return "Liveness";
    default: return "Readiness";
    }
}

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
    int64_t infra_retry_at = 0;  // start (or retry) the infra then; kNever when up
    int64_t infra_backoff_ms = 0;
    int64_t delete_started_unix_ms = 0;
    std::vector<Supervised> containers;  // in spec order, like container_statuses
};

struct PidOwner {
    std::string uid;
    size_t index = 0;
    uint64_t instance = 0;
    std::optional<ProbeKind> probe;  // nullopt: the container itself
};

struct Client {
    LineChannel ch;      // a socket, or stdin/stdout for --stdio
    bool stdio = false;  // its EOF (ssh went away) stops the agent
    bool closing = false;
};

// The node's address for status.hostIP (and podIP of hostNetwork pods): the
// first IPv4 address of an interface that is up and not loopback.
std::string node_ip() {
    ifaddrs *list = nullptr;
    if (::getifaddrs(&list) < 0) return "";
    std::string ip;
    for (ifaddrs *a = list; a && ip.empty(); a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
        if (!(a->ifa_flags & IFF_UP) || (a->ifa_flags & IFF_LOOPBACK)) continue;
        char buf[INET_ADDRSTRLEN];
        if (::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in *>(a->ifa_addr)->sin_addr, buf, sizeof buf)) ip = buf;
    }
    ::freeifaddrs(list);
    return ip;
}

std::string pod_ref(const Pod &p) { return p.metadata.name + "_" + p.metadata.namespace_ + "(" + p.metadata.uid + ")"; }

} // namespace

struct Agent::Impl {
    AgentConfig cfg;
    PodRuntime runtime;
    std::map<std::string, PodEntry> pods;  // by uid
    std::unordered_map<pid_t, PidOwner> pids;
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

    // --- events ----------------------------------------------------------
    // An event equal to a recent one (same object, reason and message) is
    // counted, as Kubernetes aggregates them, and moves to the end with a new
    // sequence number so `since` readers see the new count.
    void event(const Pod &pod, const std::string &type, const std::string &reason, const std::string &message) {
        std::string now = rfc3339();
        std::string object = "pod/" + pod.metadata.name;
        AgentEvent e;
        for (auto it = events.begin(); it != events.end(); ++it) {
            if (it->object == object && it->namespace_ == pod.metadata.namespace_ && it->reason == reason &&
                it->message == message) {
                e = *it;
                e.count++;
                events.erase(it);
                break;
            }
        }
        if (e.count == 1 && e.first_timestamp.empty()) {
            e.type = type;
            e.reason = reason;
            e.namespace_ = pod.metadata.namespace_;
            e.object = object;
            e.message = message;
            e.first_timestamp = now;
        }
        e.seq = ++event_seq;
        e.last_timestamp = now;
        debug("event " + type + " " + reason + " " + object + ": " + message);
        events.push_back(std::move(e));
        while (events.size() > cfg.max_events) events.pop_front();
    }

    // --- status ------------------------------------------------------------
    std::string status_path(const Pod &pod) const {
        return path_join(path_join(path_join(cfg.runtime.state_dir, "pods"), pod.metadata.uid), "status.json");
    }

    static void set_condition(PodStatus &st, const std::string &type, bool value, const std::string &reason = {}) {
        std::string s = value ? "True" : "False";
        for (auto &c : st.conditions) {
            if (c.type != type) continue;
            if (c.status != s) {
                c.status = s;
                c.last_transition_time = rfc3339();
            }
            c.reason = reason;
            return;
        }
        st.conditions.push_back(PodCondition{type, s, reason, {}, rfc3339()});
    }

    // Phase and conditions from the container statuses; then saved.
    void refresh(PodEntry &e) {
        auto &st = e.rec.status;
        bool all_ready = !e.containers.empty();
        for (size_t i = 0; i < e.containers.size(); ++i) {
            auto &sup = e.containers[i];
            auto &cs = st.container_statuses[i];
            bool running = cs.state.running.has_value();
            cs.started = running && sup.started;
            cs.ready = running && sup.ready;
            all_ready = all_ready && cs.ready;
        }
        st.phase = pod_phase(e.rec.pod.spec.restart_policy, st.container_statuses);
        bool completed = st.phase == "Succeeded" || st.phase == "Failed";
        std::string reason = completed ? "PodCompleted" : all_ready ? "" : "ContainersNotReady";
        set_condition(st, "PodScheduled", true);
        set_condition(st, "Initialized", true, completed ? "PodCompleted" : "");
        set_condition(st, "ContainersReady", all_ready && !completed, reason);
        set_condition(st, "Ready", all_ready && !completed, reason);
        save(e);
    }

    // status.json: the Kubernetes status plus what restarts and adoption
    // need (infra, back-off, per-container flags). Atomic: a crash leaves the
    // old or the new file, never half of one.
    void save(const PodEntry &e) {
        json containers = json::object();
        for (const auto &s : e.containers) {
            int64_t restart_in = s.restart_at == kNever ? -1 : std::max<int64_t>(0, s.restart_at - mono_ms());
            containers[s.name] = {{"backoff_ms", s.backoff_ms},
                                  {"restart_in_ms", restart_in},
                                  {"started_unix_ms", s.started_unix_ms},
                                  {"started", s.started},
                                  {"ready", s.ready},
                                  {"done", s.done}};
        }
        json j = {{"status", to_json(e.rec.status)},
                  {"deleting", e.rec.deleting},
                  {"delete_started_unix_ms", e.delete_started_unix_ms},
                  {"infra", {{"corral_id", e.infra.corral_id}, {"pid", e.infra.pid},
                             {"ip", e.infra.network.ip}, {"netns_path", e.infra.network.netns_path},
                             {"up", e.infra_up}}},
                  {"containers", containers}};
        std::string dir = path_join(path_join(cfg.runtime.state_dir, "pods"), e.rec.pod.metadata.uid);
        if (!path_exists(dir)) return;  // not started yet, or removed
        auto st = write_file_atomic(status_path(e.rec.pod), j.dump(), 0600);
        if (!st) debug("save status of " + e.rec.pod.metadata.name + ": " + st.error().message());
    }

    // --- starting ------------------------------------------------------------
    PodEntry new_entry(Pod pod, BackoffPolicy backoff) {
        PodEntry e;
        e.backoff = backoff;
        e.rec.pod = std::move(pod);
        e.rec.status.start_time = rfc3339();
        e.rec.status.host_ip = host_ip;
        if (e.rec.pod.spec.host_network) e.rec.status.pod_ip = host_ip;
        for (const auto &c : e.rec.pod.spec.containers) {
            Supervised s;
            s.name = c.name;
            s.corral_id = runtime.container_id(e.rec.pod, c.name);
            s.restart_at = 0;  // start as soon as the infra is up
            e.containers.push_back(std::move(s));
            ContainerStatus cs;
            cs.name = c.name;
            cs.image = c.image;
            cs.state.waiting = ContainerStateWaiting{"ContainerCreating", ""};
            e.rec.status.container_statuses.push_back(std::move(cs));
        }
        return e;
    }

    void start_infra(PodEntry &e, int64_t now) {
        auto infra = runtime.start_infra(e.rec.pod);
        if (!infra) {
            e.infra_backoff_ms = next_backoff_ms(e.backoff, e.infra_backoff_ms);
            e.infra_retry_at = now + e.infra_backoff_ms;
            for (auto &cs : e.rec.status.container_statuses)
                if (cs.state.waiting) cs.state.waiting->message = infra.error().message();
            event(e.rec.pod, "Warning", "FailedCreatePodSandBox", infra.error().message());
            refresh(e);
            return;
        }
        e.infra = std::move(*infra);
        e.infra_up = true;
        e.infra_retry_at = kNever;
        e.infra_backoff_ms = 0;
        e.rec.status.pod_ip = e.rec.pod.spec.host_network ? host_ip : e.infra.network.ip;
        if (!e.infra.network_warning.empty() && !warned_network) {
            // Once per agent: every pod of this node is in the same situation.
            warned_network = true;
            event(e.rec.pod, "Warning", "NetworkNotReady", e.infra.network_warning);
        }
        debug("pod " + e.rec.pod.metadata.name + ": infra " + e.infra.corral_id + " pid " + std::to_string(e.infra.pid));
        refresh(e);
    }

    void schedule_probes(const Container &c, Supervised &s, int64_t now) {
        s.startup = s.liveness = s.readiness = ProbeRun{};
        auto first = [&](const std::optional<Probe> &p) { return p ? now + int64_t(p->initial_delay_seconds) * 1000 : kNever; };
        s.started = !c.startup_probe;
        s.ready = false;
        if (c.startup_probe) s.startup.next_at = first(c.startup_probe);
        else {
            s.liveness.next_at = first(c.liveness_probe);
            s.readiness.next_at = first(c.readiness_probe);
        }
        if (!c.readiness_probe) s.ready = s.started;
    }

    void start_container(PodEntry &e, size_t i, int64_t now) {
        const Container &c = e.rec.pod.spec.containers[i];
        Supervised &s = e.containers[i];
        ContainerStatus &cs = e.rec.status.container_statuses[i];
        s.restart_at = kNever;
        bool is_restart = cs.last_state.terminated.has_value() || s.instance > 0;
        auto started = runtime.start_container(e.rec.pod, c, e.infra);
        if (!started) {
            // Like the kubelet: the start is retried with the back-off; the
            // reason says what kind of failure it was.
            const std::string &msg = started.error().message();
            s.backoff_ms = next_backoff_ms(e.backoff, s.backoff_ms);
            s.restart_at = now + s.backoff_ms;
            bool no_image = msg.find("not found") != std::string::npos && msg.find("image") != std::string::npos;
            cs.state = ContainerState{};
            cs.state.waiting = ContainerStateWaiting{no_image ? "ErrImageNeverPull" : "CreateContainerError", msg};
            event(e.rec.pod, "Warning", "Failed", "Error: " + msg);
            refresh(e);
            return;
        }
        ++s.instance;
        s.pid = started->pid;
        s.pidfd.reset();
        s.corral_id = started->corral_id;
        s.started_mono = now;
        s.started_unix_ms = started->started_at > 0 ? started->started_at * 1000 : unix_ms();
        s.stopping = false;
        s.kill_at = kNever;
        if (is_restart) cs.restart_count++;
        cs.container_id = "corral://" + s.corral_id;
        cs.state = ContainerState{};
        cs.state.running = ContainerStateRunning{rfc3339(s.started_unix_ms / 1000)};
        schedule_probes(c, s, now);
        if (s.pid > 0) pids[s.pid] = PidOwner{e.rec.pod.metadata.uid, i, s.instance, std::nullopt};
        // herd never pulls: the image was in the store (the kubelet's words for that).
        event(e.rec.pod, "Normal", "Pulled", "Container image \"" + c.image + "\" already present on machine");
        event(e.rec.pod, "Normal", "Created", "Created container " + c.name);
        event(e.rec.pod, "Normal", "Started", "Started container " + c.name);
        debug("pod " + e.rec.pod.metadata.name + ": container " + c.name + " pid " + std::to_string(s.pid));
        refresh(e);
        if (s.pid <= 0) on_container_exit(e, i, std::nullopt, now);  // gone before we saw it
    }

    // --- exits ---------------------------------------------------------------
    // A container's instance ended: wait_status from waitpid, or nullopt when
    // it is lost (an adopted container: not our child).
    void on_container_exit(PodEntry &e, size_t i, std::optional<int> wait_status, int64_t now) {
        Supervised &s = e.containers[i];
        ContainerStatus &cs = e.rec.status.container_statuses[i];
        const Pod &pod = e.rec.pod;
        if (s.pid > 0) pids.erase(s.pid);
        s.pid = 0;
        s.pidfd.reset();
        for (auto k : {ProbeKind::startup, ProbeKind::liveness, ProbeKind::readiness}) cancel_probe(s.probe(k));
        s.kill_at = kNever;
        s.stopping = false;
        s.ready = false;

        // Checked before the container is removed: its cgroup holds the count.
        bool oom = runtime.was_oom_killed(s.corral_id);
        ContainerStateTerminated t;
        t.container_id = "corral://" + s.corral_id;
        t.started_at = cs.state.running ? cs.state.running->started_at : rfc3339(s.started_unix_ms / 1000);
        t.finished_at = rfc3339();
        if (wait_status) {
            t.exit_code = exit_code_of(*wait_status);
            t.signal = WIFSIGNALED(*wait_status) ? WTERMSIG(*wait_status) : 0;
            t.reason = oom ? "OOMKilled" : t.exit_code == 0 ? "Completed" : "Error";
        } else if (oom) {
            t.exit_code = 137;
            t.signal = SIGKILL;
            t.reason = "OOMKilled";
        } else {
            // The exit happened while no agent was its parent: the kernel
            // gave the status to whoever reaped it. Reported as Kubernetes'
            // "unknown" status, and counted as a failure for restarts.
            t.exit_code = 255;
            t.reason = "Unknown";
            t.message = "exit status lost: the container exited while the agent was not running";
        }
        if (oom) event(pod, "Warning", "OOMKilled", "Container " + s.name + " was OOM-killed (memory limit reached)");
        debug("pod " + pod.metadata.name + ": container " + s.name + " exited " + std::to_string(t.exit_code) +
              " (" + t.reason + ")");

        if (e.rec.deleting) {
            cs.state = ContainerState{};
            cs.state.terminated = t;
            s.done = true;
            refresh(e);
            return;
        }
        if (should_restart(pod.spec.restart_policy, t.exit_code)) {
            if (now - s.started_mono >= e.backoff.reset_ms) s.backoff_ms = 0;  // it ran long enough
            s.backoff_ms = next_backoff_ms(e.backoff, s.backoff_ms);
            s.restart_at = now + s.backoff_ms;
            cs.last_state = ContainerState{};
            cs.last_state.terminated = t;
            cs.state = ContainerState{};
            cs.state.waiting = ContainerStateWaiting{
                "CrashLoopBackOff", "back-off " + go_duration(s.backoff_ms) + " restarting failed container=" +
                                        s.name + " pod=" + pod_ref(pod)};
            event(pod, "Warning", "BackOff", "Back-off restarting failed container " + s.name + " in pod " + pod_ref(pod));
        } else {
            cs.state = ContainerState{};
            cs.state.terminated = t;
            s.done = true;
        }
        refresh(e);
    }

    // Begins a graceful stop: SIGTERM now, SIGKILL after the grace period.
    void stop_container(PodEntry &e, size_t i, int64_t grace_seconds, int64_t now) {
        Supervised &s = e.containers[i];
        if (s.pid <= 0) return;
        if (s.stopping) {
            s.kill_at = std::min(s.kill_at, now + grace_seconds * 1000);
            return;
        }
        s.stopping = true;
        s.kill_at = now + grace_seconds * 1000;
        send_signal(s, SIGTERM);
        for (auto k : {ProbeKind::startup, ProbeKind::liveness, ProbeKind::readiness}) cancel_probe(s.probe(k));
    }

    // Our child: kill(2) (its pid cannot be reused before we reap it). Adopted:
    // pidfd_send_signal, race-free for the same reason.
    void send_signal(Supervised &s, int sig) {
        if (s.pidfd) {
            if (::syscall(SYS_pidfd_send_signal, s.pidfd.get(), sig, nullptr, 0) < 0 && errno != ESRCH)
                debug("pidfd_send_signal " + s.corral_id + ": " + std::strerror(errno));
        } else if (s.pid > 0) {
            ::kill(s.pid, sig);
        }
    }

    void cancel_probe(ProbeRun &p) {
        if (p.pid > 0) {
            ::kill(p.pid, SIGKILL);  // reaped by the SIGCHLD loop, result ignored
            auto it = pids.find(p.pid);
            if (it != pids.end()) it->second.instance = UINT64_MAX;
        }
        p = ProbeRun{};
    }

    // --- probes --------------------------------------------------------------
    const std::optional<Probe> &probe_spec(const Container &c, ProbeKind k) const {
        return k == ProbeKind::startup ? c.startup_probe : k == ProbeKind::liveness ? c.liveness_probe : c.readiness_probe;
    }

    void run_probe(PodEntry &e, size_t i, ProbeKind k, int64_t now) {
        const Container &c = e.rec.pod.spec.containers[i];
        Supervised &s = e.containers[i];
        ProbeRun &p = s.probe(k);
        const Probe &spec = *probe_spec(c, k);
        ProbeTarget target{runtime.config().corral_bin, runtime.config().corral_root, s.corral_id,
                           e.rec.pod.spec.host_network ? 0 : e.infra.pid};
        auto pid = start_probe(spec, target);
        p.next_at = now + int64_t(std::max(1, spec.period_seconds)) * 1000;
        if (!pid) {
            debug("probe " + c.name + ": " + pid.error().message());
            probe_result(e, i, k, false, pid.error().message(), now);
            return;
        }
        p.pid = *pid;
        p.deadline = now + int64_t(std::max(1, spec.timeout_seconds)) * 1000;
        p.timed_out = false;
        pids[*pid] = PidOwner{e.rec.pod.metadata.uid, i, s.instance, k};
    }

    void probe_result(PodEntry &e, size_t i, ProbeKind k, bool success, const std::string &why, int64_t now) {
        const Container &c = e.rec.pod.spec.containers[i];
        Supervised &s = e.containers[i];
        ProbeRun &p = s.probe(k);
        const Probe &spec = *probe_spec(c, k);
        if (success) {
            p.failures = 0;
            p.successes++;
        } else {
            p.successes = 0;
            p.failures++;
            event(e.rec.pod, "Warning", "Unhealthy", std::string(probe_name(k)) + " probe failed: " + why);
        }
        switch (k) {
        case ProbeKind::startup:
            if (success) {
                // Started: liveness and readiness take over from here.
                s.started = true;
                p.next_at = kNever;
                s.liveness.next_at = c.liveness_probe ? now : kNever;
                s.readiness.next_at = c.readiness_probe ? now : kNever;
                if (!c.readiness_probe) s.ready = true;
                refresh(e);
            } else if (p.failures >= spec.failure_threshold) {
                event(e.rec.pod, "Normal", "Killing",
                      "Container " + c.name + " failed startup probe, will be restarted");
                stop_container(e, i, e.rec.pod.spec.termination_grace_period_seconds, now);
            }
            break;
        case ProbeKind::liveness:
            if (!success && p.failures >= spec.failure_threshold) {
                event(e.rec.pod, "Normal", "Killing",
                      "Container " + c.name + " failed liveness probe, will be restarted");
                stop_container(e, i, e.rec.pod.spec.termination_grace_period_seconds, now);
            }
            break;
        case ProbeKind::readiness: {
            bool was = s.ready;
            if (success && p.successes >= spec.success_threshold) s.ready = true;
            if (!success && p.failures >= spec.failure_threshold) s.ready = false;
            if (was != s.ready) refresh(e);
            break;
        }
        }
    }

    // --- reaping ---------------------------------------------------------------
    void reap_children(int64_t now) {
        for (;;) {
            int st = 0;
            pid_t pid = ::waitpid(-1, &st, WNOHANG);
            if (pid <= 0) return;
            auto it = pids.find(pid);
            if (it == pids.end()) {
                debug("reaped pid " + std::to_string(pid) + " (not ours to track)");
                continue;
            }
            PidOwner owner = it->second;
            pids.erase(it);
            auto pe = pods.find(owner.uid);
            if (pe == pods.end() || owner.index >= pe->second.containers.size()) continue;
            PodEntry &e = pe->second;
            Supervised &s = e.containers[owner.index];
            if (owner.instance != s.instance) continue;  // a cancelled probe or an old instance
            if (!owner.probe) {
                if (s.pid == pid) on_container_exit(e, owner.index, st, now);
                continue;
            }
            ProbeRun &p = s.probe(*owner.probe);
            if (p.pid != pid) continue;
            p.pid = 0;
            p.deadline = kNever;
            bool success = !p.timed_out && WIFEXITED(st) && WEXITSTATUS(st) == 0;
            std::string why = p.timed_out ? "timeout after " + std::to_string(probe_spec(e.rec.pod.spec.containers[owner.index], *owner.probe)->timeout_seconds) + "s"
                              : WIFEXITED(st) ? "exit status " + std::to_string(WEXITSTATUS(st))
                                              : "killed by signal " + std::to_string(WTERMSIG(st));
            probe_result(e, owner.index, *owner.probe, success, why, now);
        }
    }

    // --- timers: everything that is due ---------------------------------------
    // Starting a pod or container blocks for the `corral` runs it takes, so a
    // loop turn starts at most a few: requests on the socket are answered in
    // between (the timer is already due, so the next turn comes at once).
    static constexpr int kStartsPerTurn = 2;

    void run_due(int64_t now) {
        std::vector<std::string> finished;
        int starts = 0;
        for (auto &[uid, e] : pods) {
            if (e.rec.deleting) {
                for (size_t i = 0; i < e.containers.size(); ++i) {
                    auto &s = e.containers[i];
                    if (s.pid > 0 && s.kill_at <= now) {
                        send_signal(s, SIGKILL);
                        s.kill_at = kNever;
                    }
                }
                bool any_running = std::any_of(e.containers.begin(), e.containers.end(),
                                               [](const Supervised &s) { return s.pid > 0; });
                if (!any_running) finished.push_back(uid);
                continue;
            }
            if (!e.infra_up) {
                if (e.infra_retry_at <= now && starts < kStartsPerTurn) {
                    start_infra(e, now);
                    ++starts;
                }
                if (!e.infra_up) continue;
            }
            for (size_t i = 0; i < e.containers.size(); ++i) {
                auto &s = e.containers[i];
                if (s.pid <= 0) {
                    if (!s.done && s.restart_at <= now && starts < kStartsPerTurn) {
                        start_container(e, i, now);
                        ++starts;
                    }
                    continue;
                }
                if (s.stopping) {
                    if (s.kill_at <= now) {
                        send_signal(s, SIGKILL);
                        s.kill_at = kNever;
                    }
                    continue;
                }
                for (auto k : {ProbeKind::startup, ProbeKind::liveness, ProbeKind::readiness}) {
                    ProbeRun &p = s.probe(k);
                    if (p.pid > 0) {
                        if (p.deadline <= now) {
                            ::kill(p.pid, SIGKILL);
                            p.timed_out = true;
                            p.deadline = kNever;
                        }
                    } else if (p.next_at <= now && !s.stopping && s.pid > 0) {
                        run_probe(e, i, k, now);
                    }
                }
            }
        }
        for (const auto &uid : finished) finish_delete(uid);
        if (now >= next_rotate) {
            for (auto &[uid, e] : pods)
                if (e.infra_up && !e.rec.deleting) runtime.rotate_logs_if_needed(e.rec.pod);
            next_rotate = now + kLogRotatePeriodMs;
        }
    }

    int64_t next_deadline() const {
        int64_t t = next_rotate;
        for (const auto &[uid, e] : pods) {
            if (!e.infra_up && !e.rec.deleting) t = std::min(t, e.infra_retry_at);
            for (const auto &s : e.containers) {
                if (s.pid <= 0) {
                    if (!s.done && e.infra_up && !e.rec.deleting) t = std::min(t, s.restart_at);
                    continue;
                }
                t = std::min(t, s.kill_at);
                for (const ProbeRun *p : {&s.startup, &s.liveness, &s.readiness})
                    t = std::min(t, p->pid > 0 ? p->deadline : p->next_at);
            }
        }
        return t;
    }

    // --- deleting ---------------------------------------------------------------
    void begin_delete(PodEntry &e, int64_t grace_seconds, int64_t now) {
        if (!e.rec.deleting) {
            e.rec.deleting = true;
            e.delete_started_unix_ms = unix_ms();
            for (auto &s : e.containers) s.restart_at = kNever;
        }
        for (size_t i = 0; i < e.containers.size(); ++i) {
            if (e.containers[i].pid > 0) {
                event(e.rec.pod, "Normal", "Killing", "Stopping container " + e.containers[i].name);
                stop_container(e, i, grace_seconds, now);
            }
        }
        save(e);
    }

    void finish_delete(const std::string &uid) {
        auto it = pods.find(uid);
        if (it == pods.end()) return;
        PodEntry &e = it->second;
        // remove_pod removes the containers first, then the infra, network,
        // cgroups and the pod dir.
        auto st = runtime.remove_pod(e.rec.pod, e.infra);
        if (!st) {
            // Kept, and retried at the next timer: a pod is only forgotten when
            // nothing of it is left.
            event(e.rec.pod, "Warning", "FailedKillPod", st.error().message());
            return;
        }
        debug("pod " + e.rec.pod.metadata.name + " removed");
        pods.erase(it);
    }

    // --- adoption ---------------------------------------------------------------
    // A pod found in the state dir: its saved status (restart counts, last
    // states, back-off) and `corral state` of each container decide what to
    // do. Running containers are adopted as they are, never restarted.
    void adopt(Pod pod, int64_t now) {
        auto backoff = backoff_policy(pod.metadata);
        PodEntry e = new_entry(pod, backoff ? *backoff : BackoffPolicy{});
        json saved;
        if (auto text = read_file(status_path(pod))) {
            saved = json::parse(*text, nullptr, false);
            if (saved.is_discarded()) saved = json::object();
        }
        if (saved.contains("status")) {
            if (auto st = pod_status_from_json(saved["status"])) {
                // Keep the saved statuses of the containers still in the spec.
                for (size_t i = 0; i < e.containers.size(); ++i)
                    for (const auto &cs : st->container_statuses)
                        if (cs.name == e.containers[i].name) e.rec.status.container_statuses[i] = cs;
                e.rec.status.start_time = st->start_time;
                e.rec.status.conditions = st->conditions;
                e.rec.status.pod_ip = st->pod_ip;
                if (e.rec.status.pod_ip.empty() && pod.spec.host_network) e.rec.status.pod_ip = host_ip;
            }
        }
        e.rec.deleting = saved.value("deleting", false);
        e.delete_started_unix_ms = saved.value("delete_started_unix_ms", int64_t(0));
        // The infra as start_infra returned it (pid from `corral state`,
        // network from the pod dir); without it, what status.json kept, so
        // that removing the pod can still release its address.
        if (auto infra = runtime.saved_infra(pod)) {
            e.infra = std::move(*infra);
            e.infra_up = true;
        } else {
            json jinfra = saved.value("infra", json::object());
            e.infra.corral_id = runtime.infra_id(pod);
            e.infra.network.ip = jinfra.value("ip", std::string());
            e.infra.network.netns_path = jinfra.value("netns_path", std::string());
        }
        json jcs = saved.value("containers", json::object());

        for (size_t i = 0; i < e.containers.size(); ++i) {
            Supervised &s = e.containers[i];
            ContainerStatus &cs = e.rec.status.container_statuses[i];
            json js = jcs.value(s.name, json::object());
            s.backoff_ms = js.value("backoff_ms", int64_t(0));
            s.started_unix_ms = js.value("started_unix_ms", int64_t(0));
            s.done = js.value("done", false);
            int64_t restart_in = js.value("restart_in_ms", int64_t(-1));
            auto cst = runtime.container_state(s.corral_id);
            if (cst && cst->status == "running" && cst->pid > 0 && e.infra_up) {
                int fd = int(::syscall(SYS_pidfd_open, cst->pid, 0));
                if (fd >= 0) {
                    s.pid = cst->pid;
                    s.pidfd.reset(fd);
                    s.instance = 1;
                    s.restart_at = kNever;
                    s.done = false;
                    // Its run time for the back-off reset counts from its real start.
                    int64_t ran_ms = s.started_unix_ms ? std::max<int64_t>(0, unix_ms() - s.started_unix_ms) : 0;
                    s.started_mono = now - ran_ms;
                    const Container &c = pod.spec.containers[i];
                    schedule_probes(c, s, now);
                    // Keep what the previous agent knew, so an agent restart is
                    // no readiness blip; the probes carry on from here.
                    s.started = js.value("started", s.started);
                    s.ready = js.value("ready", s.ready);
                    if (s.started) {
                        s.startup.next_at = kNever;
                        if (c.liveness_probe) s.liveness.next_at = now + int64_t(c.liveness_probe->period_seconds) * 1000;
                        if (c.readiness_probe) s.readiness.next_at = now;
                    }
                    if (!cs.state.running) {
                        cs.state = ContainerState{};
                        cs.state.running = ContainerStateRunning{rfc3339(s.started_unix_ms / 1000)};
                    }
                    cs.container_id = "corral://" + s.corral_id;
                    debug("adopted " + s.corral_id + " pid " + std::to_string(s.pid));
                    continue;
                }
            }
            // Not running now.
            if (cs.state.running) {
                // It was running when the last agent stopped and exited since:
                // handled as an exit with a lost status (restart per policy).
                s.pid = 0;
                s.instance = 1;
                e.containers[i].started_mono = now;
                pods_pending_exit.push_back({pod.metadata.uid, i});
            } else if (cs.state.terminated || s.done) {
                s.done = true;
                s.restart_at = kNever;
            } else {
                s.restart_at = restart_in >= 0 ? now + restart_in : now;
                s.instance = cs.restart_count > 0 || cs.last_state.terminated ? 1 : 0;
            }
        }
        if (!e.infra_up && !e.rec.deleting) {
            // The infra (the pod's namespaces) is gone: the sandbox is made
            // again, and with it every container (as the kubelet does).
            event(pod, "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.");
            for (size_t i = 0; i < e.containers.size(); ++i) {
                auto &s = e.containers[i];
                if (s.pid > 0) {
                    ::syscall(SYS_pidfd_send_signal, s.pidfd.get(), SIGKILL, nullptr, 0);
                    s.pid = 0;
                    s.pidfd.reset();
                }
                (void)runtime.remove_container(s.corral_id);
                if (!s.done) s.restart_at = now;
            }
            (void)runtime.remove_pod(pod, e.infra);
            e.infra = InfraInfo{};
            e.infra_retry_at = now;
        } else {
            e.infra_retry_at = kNever;
        }
        std::string uid = pod.metadata.uid;
        pods.emplace(uid, std::move(e));
    }

    void adopt_all() {
        int64_t now = mono_ms();
        for (auto &pod : runtime.saved_pods()) {
            if (pod.metadata.uid.empty()) continue;
            adopt(std::move(pod), now);
        }
        for (auto &[uid, i] : pods_pending_exit) {
            auto it = pods.find(uid);
            if (it != pods.end()) on_container_exit(it->second, i, std::nullopt, now);
        }
        pods_pending_exit.clear();
        for (auto &[uid, e] : pods) {
            if (e.rec.deleting) begin_delete(e, std::max<int64_t>(0, e.rec.pod.spec.termination_grace_period_seconds -
                                                                          (unix_ms() - e.delete_started_unix_ms) / 1000), now);
            refresh(e);
        }
    }

    // --- requests ---------------------------------------------------------------
    PodEntry *find_pod(const json &req) {
        std::string ns = req.value("namespace", std::string("default"));
        std::string name = req.value("name", std::string());
        PodEntry *found = nullptr;
        for (auto &[uid, e] : pods) {
            if (e.rec.pod.metadata.namespace_ != ns || e.rec.pod.metadata.name != name) continue;
            if (!found || (found->rec.deleting && !e.rec.deleting)) found = &e;
        }
        return found;
    }

    json pod_json(const PodEntry &e) const {
        json j = to_json(e.rec.pod);
        j["status"] = to_json(e.rec.status);
        if (e.rec.deleting) j["metadata"]["deletionTimestamp"] = rfc3339(e.delete_started_unix_ms / 1000);
        j["spec"]["nodeName"] = cfg.node_name;
        return j;
    }

    Result<json> op_apply(const json &req) {
        auto parsed = pod_from_json(req["pod"], "apply_pod");
        if (!parsed) return std::move(parsed).error().context("apply_pod").with_kind(ErrorKind::invalid);
        Pod pod = std::move(*parsed);
        if (pod.metadata.uid.empty())
            return Error(ErrorKind::invalid, "apply_pod: pod " + pod.metadata.name + ": metadata.uid is not set");
        if (pods.count(pod.metadata.uid)) return json{{"ok", true}, {"changed", false}};
        for (const auto &[uid, e] : pods)
            if (!e.rec.deleting && e.rec.pod.metadata.namespace_ == pod.metadata.namespace_ &&
                e.rec.pod.metadata.name == pod.metadata.name)
                return Error(ErrorKind::already_exists, "apply_pod: pod " + pod.metadata.namespace_ + "/" +
                                                            pod.metadata.name + " already exists with uid " + uid);
        auto backoff_r = backoff_policy(pod.metadata);
        if (!backoff_r)
            return std::move(backoff_r).error().context("apply_pod: pod " + pod.metadata.name).with_kind(ErrorKind::invalid);
        BackoffPolicy backoff = *backoff_r;
        PodEntry e = new_entry(pod, backoff);
        e.infra_retry_at = 0;  // the loop starts it right after this response
        event(pod, "Normal", "Scheduled", "Successfully assigned " + pod.metadata.namespace_ + "/" +
                                              pod.metadata.name + " to " + cfg.node_name);
        std::string uid = pod.metadata.uid;
        pods.emplace(uid, std::move(e));
        return json{{"ok", true}, {"changed", true}};
    }

    Result<json> op_delete(const json &req) {
        PodEntry *e = find_pod(req);
        if (!e) return json{{"ok", true}, {"found", false}};
        int64_t grace = e->rec.pod.spec.termination_grace_period_seconds;
        if (req.contains("grace_seconds") && req["grace_seconds"].is_number_integer())
            grace = std::max<int64_t>(0, req["grace_seconds"].get<int64_t>());
        begin_delete(*e, grace, mono_ms());
        return json{{"ok", true}, {"found", true}};
    }

    Result<json> op_list(const json &req) {
        uint64_t since = 0;
        if (req.contains("since") && req["since"].is_number()) since = req["since"].get<uint64_t>();
        json items = json::array();
        for (const auto &[uid, e] : pods) items.push_back(pod_json(e));
        json evs = json::array();
        for (const auto &ev : events)
            if (ev.seq > since) evs.push_back(to_json(ev));
        return json{{"ok", true}, {"pods", items}, {"events", evs}, {"event_seq", event_seq}};
    }

    Result<std::pair<PodEntry *, std::string>> find_container(const json &req) {
        PodEntry *e = find_pod(req);
        if (!e)
            return Error(ErrorKind::not_found, "pod " + req.value("namespace", std::string("default")) + "/" +
                                                   req.value("name", std::string()) + " not found on this node");
        std::string c = req.value("container", std::string());
        const auto &cs = e->rec.pod.spec.containers;
        if (c.empty()) {
            if (cs.size() != 1) {
                std::string names;
                for (const auto &x : cs) names += (names.empty() ? "" : " ") + x.name;
                return Error(ErrorKind::invalid, "a container name must be given for pod " + e->rec.pod.metadata.name +
                             ", choose one of: [" + names + "]");
            }
            c = cs[0].name;
        }
        if (std::none_of(cs.begin(), cs.end(), [&](const Container &x) { return x.name == c; }))
            return Error(ErrorKind::invalid, "container " + c + " is not valid for pod " + e->rec.pod.metadata.name);
        return std::make_pair(e, c);
    }

    Result<json> op_logs(const json &req) {
        auto [e, c] = CORRAL_TRY(find_container(req));
        bool previous = req.value("previous", false);
        std::string path = runtime.log_path(e->rec.pod, c, previous);
        int64_t offset = req.value("offset", int64_t(0));
        int64_t limit = req.value("limit_bytes", int64_t(1 << 20));
        if (limit <= 0 || limit > (16 << 20)) limit = 16 << 20;
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) {
            if (errno == ENOENT) {
                if (previous) return Error(ErrorKind::not_found, "previous terminated container \"" + c + "\" in pod \"" +
                                           e->rec.pod.metadata.name + "\" not found");
                return json{{"ok", true}, {"data", ""}, {"offset", 0}};
            }
            return Error::from_errno(errno, "open log", path);
        }
        struct stat st{};
        ::fstat(fd.get(), &st);
        int64_t size = st.st_size;
        if (offset < 0) offset = std::max<int64_t>(0, size - limit);  // tail
        if (offset > size) offset = 0;                                // rotated (copy-truncate): from the start
        int64_t n = std::min<int64_t>(limit, size - offset);
        std::string data(size_t(std::max<int64_t>(0, n)), '\0');
        ssize_t got = n > 0 ? ::pread(fd.get(), data.data(), size_t(n), offset) : 0;
        if (got < 0) return Error::from_errno(errno, "read log", path);
        data.resize(size_t(got));
        return json{{"ok", true}, {"data", data}, {"offset", offset + got}};
    }

    Result<json> op_exec_target(const json &req) {
        auto [e, c] = CORRAL_TRY(find_container(req));
        return json{{"ok", true},
                    {"corral_id", runtime.container_id(e->rec.pod, c)},
                    {"corral_root", runtime.config().corral_root},
                    {"corral_bin", runtime.config().corral_bin}};
    }

    // One request, checked against agent_ops() first (handle_line: parsed
    // and checked), so a handler reads its arguments without type checks.
    json handle(const json &unchecked) {
        auto checked = check_request(unchecked, agent_ops());
        if (!checked) return error_response(checked.error());
        return dispatch(*checked);
    }

    json handle_line(std::string_view line) {
        auto req = parse_request_line(line, agent_ops());
        if (!req) return error_response(req.error());
        return dispatch(*req);
    }

    json dispatch(const json &req) {
        Result<json> r = Error(ErrorKind::invalid, "unknown op");
        std::string op = req["op"].get<std::string>();
        try {
            r = dispatch_op(op, req);
        } catch (const std::exception &e) {
            // The request was checked; a throw here is our bug, and still
            // no reason for the node's supervisor to die.
            r = Error(ErrorKind::invalid, "bad request: " + std::string(e.what()));
        }
        if (!r) return error_response(r.error());
        return std::move(*r);
    }

    Result<json> dispatch_op(const std::string &op, const json &req) {
        Result<json> r = Error(ErrorKind::invalid, "unknown op \"" + op + "\"");
        if (op == "ping")
            r = json{{"ok", true}, {"node", cfg.node_name}, {"version", "0.1.0"}, {"pods", pods.size()},
                     {"node_info", node_info(cfg.runtime.network.subnet)}};
        else if (op == "apply_pod") r = op_apply(req);
        else if (op == "delete_pod") r = op_delete(req);
        else if (op == "list_pods") r = op_list(req);
        else if (op == "logs") r = op_logs(req);
        else if (op == "exec_target") r = op_exec_target(req);
        return r;
    }

    // --- the socket -------------------------------------------------------------
    void accept_clients() {
        for (;;) {
            int fd = ::accept4(listen_fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0) return;
            clients.push_back(Client{LineChannel(UniqueFd(fd), "agent client", kMaxRequestLine)});
        }
    }

    // Answers every complete line the client sent; no line, however
    // malformed, does more than get an error answer.
    void read_client(Client &c) {
        if (!c.ch.read_available()) c.closing = true;
        if (c.ch.eof()) {
            c.closing = true;
            if (c.stdio) stop = true;  // ssh went away: the agent ends, pods stay
        }
        while (auto line = c.ch.next_line()) {
            json resp;
            if (!*line) resp = error_response(line->error());
            else if ((*line)->find_first_not_of(" \t\r") == std::string::npos) continue;
            else resp = handle_line(**line);
            c.ch.queue_line(to_line(resp));
        }
        flush_client(c);
    }

    void flush_client(Client &c) {
        if (!c.ch.write_available()) c.closing = true;
    }

    Status setup(int64_t now) {
        CORRAL_TRY(mkdir_p(cfg.runtime.state_dir, 0700));
        // Container inits outlive the `corral` that started them: as a child
        // subreaper we inherit them, and waitpid gives their exit status.
        if (::prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return Error::from_errno(errno, "prctl(PR_SET_CHILD_SUBREAPER)");

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        // Blocked for the signalfd; children reset their mask (probe.cpp, and
        // corral's container init resets every signal).
        if (::sigprocmask(SIG_BLOCK, &mask, nullptr) < 0) return Error::from_errno(errno, "sigprocmask");
        ::signal(SIGPIPE, SIG_IGN);
        signal_fd.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!signal_fd) return Error::from_errno(errno, "signalfd");
        timer_fd.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
        if (!timer_fd) return Error::from_errno(errno, "timerfd_create");

        listen_fd = CORRAL_TRY(listen_unix(cfg.socket_path, "agent"));

        if (cfg.stdio) {
            UniqueFd in(::fcntl(0, F_DUPFD_CLOEXEC, 3)), out(::fcntl(1, F_DUPFD_CLOEXEC, 3));
            if (!in || !out) return Error::from_errno(errno, "dup stdin/stdout");
            clients.push_back(Client{LineChannel(std::move(in), std::move(out), "stdio client", kMaxRequestLine), true});
        }
        next_rotate = now + kLogRotatePeriodMs;
        adopt_all();
        return ok();
    }

    void arm_timer(int64_t at) {
        itimerspec its{};
        if (at != kNever) {
            at = std::max<int64_t>(at, 1);
            its.it_value.tv_sec = at / 1000;
            its.it_value.tv_nsec = (at % 1000) * 1'000'000;
        }
        ::timerfd_settime(timer_fd.get(), TFD_TIMER_ABSTIME, &its, nullptr);
    }

    Status run() {
        while (!stop) {
            int64_t now = mono_ms();
            run_due(now);
            arm_timer(next_deadline());

            std::vector<pollfd> fds;
            fds.push_back({signal_fd.get(), POLLIN, 0});
            fds.push_back({timer_fd.get(), POLLIN, 0});
            fds.push_back({listen_fd.get(), POLLIN, 0});
            size_t first_client = fds.size();
            // Each client: its read fd, then its write fd (the same for a
            // socket) when output waits.
            for (auto &c : clients) {
                fds.push_back({c.ch.in_fd(), POLLIN, 0});
                fds.push_back({c.ch.out_fd(), short(c.ch.wants_write() ? POLLOUT : 0), 0});
            }
            // Adopted containers: their pidfd becomes readable when they exit.
            size_t first_pidfd = fds.size();
            std::vector<std::pair<std::string, size_t>> watched;
            for (auto &[uid, e] : pods)
                for (size_t i = 0; i < e.containers.size(); ++i)
                    if (e.containers[i].pidfd) {
                        fds.push_back({e.containers[i].pidfd.get(), POLLIN, 0});
                        watched.emplace_back(uid, i);
                    }
            if (::poll(fds.data(), fds.size(), -1) < 0) {
                if (errno == EINTR) continue;
                return Error::from_errno(errno, "poll");
            }
            now = mono_ms();
            if (fds[0].revents & POLLIN) {
                signalfd_siginfo si;
                while (::read(signal_fd.get(), &si, sizeof si) == sizeof si) {
                    if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                        debug("signal " + std::to_string(si.ssi_signo) + ": stopping the agent, pods keep running");
                        stop = true;
                    }
                }
                reap_children(now);  // SIGCHLD coalesces: always reap everything
            }
            if (fds[1].revents & POLLIN) {
                uint64_t ticks;
                (void)!::read(timer_fd.get(), &ticks, sizeof ticks);
            }
            for (size_t k = 0; k < watched.size(); ++k) {
                if (!(fds[first_pidfd + k].revents & (POLLIN | POLLHUP))) continue;
                auto it = pods.find(watched[k].first);
                if (it == pods.end()) continue;
                on_container_exit(it->second, watched[k].second, std::nullopt, now);
            }
            if (fds[2].revents & POLLIN) accept_clients();
            for (size_t k = 0; k < (first_pidfd - first_client) / 2; ++k) {
                short in_rev = fds[first_client + 2 * k].revents;
                short out_rev = fds[first_client + 2 * k + 1].revents;
                Client &c = clients[k];
                if (in_rev & (POLLIN | POLLHUP | POLLERR)) read_client(c);
                if (out_rev & POLLOUT) flush_client(c);
                if ((out_rev & POLLERR) && c.ch.out_fd() != c.ch.in_fd()) {
                    c.closing = true;  // nobody reads our answers any more
                    if (c.stdio) stop = true;
                }
            }
            clients.erase(std::remove_if(clients.begin(), clients.end(),
                                         [](const Client &c) { return c.closing && (!c.ch.wants_write() || c.stdio); }),
                          clients.end());
        }
        for (auto &c : clients) flush_client(c);
        for (auto &[uid, e] : pods) save(e);
        ::unlink(cfg.socket_path.c_str());
        return ok();
    }
};

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Agent::~Agent() = default;

Result<std::unique_ptr<Agent>> Agent::create(AgentConfig cfg) {
    if (cfg.runtime.state_dir.empty()) return Error("agent: no state dir");
    if (cfg.socket_path.empty()) cfg.socket_path = path_join(cfg.runtime.state_dir, "agent.sock");
    if (cfg.node_name.empty()) {
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        cfg.node_name = host;
    }
    auto impl = std::make_unique<Impl>(std::move(cfg));
    CORRAL_TRY_CTX(impl->setup(mono_ms()), "agent");
    return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

Status Agent::run() { return impl_->run(); }
json Agent::handle_request(const json &request) { return impl_->handle(request); }

} // namespace corral::herd
