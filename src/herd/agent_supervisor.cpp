// herd/agent_supervisor.cpp — the pod supervisor (agent_internal.hpp):
// starts through start workers, exits, restarts with back-off, graceful
// stops, deleting.
//
// The life of a container:
//   apply_pod -> waiting ContainerCreating -> start (a worker) -> running
//   running --exit (SIGCHLD / pidfd)--> restart policy says restart?
//       yes: waiting CrashLoopBackOff until the back-off passes -> start again
//       no:  terminated (stays)
//   liveness/startup failure, delete_pod: SIGTERM, SIGKILL after the grace
//   period, then the exit is handled as above (a deleted pod never restarts).
#include "herd/agent_internal.hpp"

#include "common/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace corral::herd {

namespace {

std::string pod_ref(const Pod &p) { return p.metadata.name + "_" + p.metadata.namespace_ + "(" + p.metadata.uid + ")"; }

// What a start worker writes: one JSON line.
json infra_result(const Result<InfraInfo> &r) {
    if (!r) return error_response(r.error());
    return json{{"ok", true}, {"corral_id", r->corral_id}, {"pid", r->pid}, {"ip", r->network.ip},
                {"netns_path", r->network.netns_path}, {"network_warning", r->network_warning}};
}
json container_result(const Result<StartedContainer> &r) {
    if (!r) return error_response(r.error());
    return json{{"ok", true}, {"corral_id", r->corral_id}, {"pid", r->pid}, {"started_at", r->started_at},
                {"log_path", r->log_path}};
}

// The worker's answer, or why there is none.
Result<json> worker_answer(const StartWorker &w) {
    auto line = w.result.substr(0, w.result.find('\n'));
    if (!line.empty()) return parse_response_line(line, "start worker");
    std::string how = WIFSIGNALED(w.wait_status) ? "killed by signal " + std::to_string(WTERMSIG(w.wait_status))
                                                 : "exit status " + std::to_string(WEXITSTATUS(w.wait_status));
    return Error("the start worker " + std::to_string(w.pid) + " gave no result (" + how + ")");
}

} // namespace

// --- starting: through start workers ------------------------------------------

void Agent::Impl::start_infra(PodEntry &e, int64_t) {
    e.infra_starting = true;
    e.infra_retry_at = kNever;
    spawn_worker(e, std::nullopt);
}

void Agent::Impl::start_container(PodEntry &e, size_t i, int64_t) {
    e.containers[i].starting = true;
    e.containers[i].restart_at = kNever;
    spawn_worker(e, i);
}

// Forks the worker. The agent is single-threaded, so the child may run
// PodRuntime (which itself only fork+execs `corral`); it keeps nothing of
// the agent's but its stderr and the result pipe, and ends with _exit.
// Container inits are re-parented to the agent (the subreaper), not to the
// worker: PR_SET_CHILD_SUBREAPER is not inherited by fork.
void Agent::Impl::spawn_worker(PodEntry &e, std::optional<size_t> container) {
    int p[2];
    pid_t pid = -1;
    if (::pipe2(p, O_CLOEXEC) == 0) {
        pid = ::fork();
        if (pid < 0) {
            ::close(p[0]);
            ::close(p[1]);
        }
    }
    if (pid < 0) {
        Error err = Error::from_errno(errno, "start worker: fork");
        int64_t now = mono_ms();
        if (container) container_started(e, *container, err, now);
        else infra_started(e, err, now);
        return;
    }
    if (pid == 0) {
        int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        ::dup2(null_fd, 0);  // with --stdio, 0 and 1 are the agent's channel
        ::dup2(null_fd, 1);
        ::dup2(p[1], 3);     // the result pipe; everything else is closed
        ::syscall(SYS_close_range, 4U, ~0U, 0U);
        json r = container ? container_result(runtime.start_container(e.rec.pod, e.rec.pod.spec.containers[*container], e.infra))
                           : infra_result(runtime.start_infra(e.rec.pod));
        std::string line = to_line(r) + "\n";
        for (size_t off = 0; off < line.size();) {
            ssize_t n = ::write(3, line.data() + off, line.size() - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            off += size_t(n);
        }
        ::_exit(0);
    }
    ::close(p[1]);
    ::fcntl(p[0], F_SETFL, O_NONBLOCK);
    StartWorker w;
    w.pid = pid;
    w.out.reset(p[0]);
    w.uid = e.rec.pod.metadata.uid;
    w.container = container;
    debug("pod " + e.rec.pod.metadata.name + ": start worker " + std::to_string(pid) + " for " +
          (container ? "container " + e.containers[*container].name : std::string("the infra")));
    workers.push_back(std::move(w));
}

void Agent::Impl::read_worker(StartWorker &w) {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(w.out.get(), buf, sizeof buf);
        if (n > 0) {
            if (w.result.size() < (1 << 20)) w.result.append(buf, size_t(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || errno != EAGAIN) {
            w.eof = true;
            w.out.reset();
        }
        return;
    }
}

void Agent::Impl::worker_reaped(pid_t pid, int wait_status) {
    for (auto &w : workers)
        if (w.pid == pid) {
            w.reaped = true;
            w.wait_status = wait_status;
        }
}

// Every worker that has both ended and closed its pipe: its result applied.
void Agent::Impl::finish_workers(int64_t now) {
    for (size_t k = 0; k < workers.size();) {
        StartWorker &w = workers[k];
        if (!w.eof || !w.reaped) {
            ++k;
            continue;
        }
        StartWorker done = std::move(w);
        workers.erase(workers.begin() + std::ptrdiff_t(k));
        auto pe = pods.find(done.uid);
        if (pe == pods.end()) continue;
        PodEntry &e = pe->second;
        auto answer = worker_answer(done);
        if (!done.container) {
            if (!answer) {
                infra_started(e, std::move(answer).error(), now);
                continue;
            }
            InfraInfo info;
            info.corral_id = answer->value("corral_id", "");
            info.pid = answer->value("pid", 0);
            info.network.ip = answer->value("ip", "");
            info.network.netns_path = answer->value("netns_path", "");
            info.network_warning = answer->value("network_warning", "");
            infra_started(e, std::move(info), now);
        } else if (*done.container < e.containers.size()) {
            if (!answer) {
                container_started(e, *done.container, std::move(answer).error(), now);
                continue;
            }
            StartedContainer sc;
            sc.corral_id = answer->value("corral_id", "");
            sc.pid = answer->value("pid", 0);
            sc.started_at = answer->value("started_at", int64_t(0));
            sc.log_path = answer->value("log_path", "");
            container_started(e, *done.container, std::move(sc), now);
        }
    }
}

// An exit reaped before the pid was known to be a container's.
std::optional<int> Agent::Impl::claim_exit(pid_t pid) {
    for (auto it = unclaimed_exits.begin(); it != unclaimed_exits.end(); ++it)
        if (it->first == pid) {
            int st = it->second;
            unclaimed_exits.erase(it);
            return st;
        }
    return std::nullopt;
}

void Agent::Impl::infra_started(PodEntry &e, Result<InfraInfo> infra, int64_t now) {
    e.infra_starting = false;
    if (!infra) {
        e.infra_backoff_ms = next_backoff_ms(e.backoff, e.infra_backoff_ms);
        e.infra_retry_at = e.rec.deleting ? kNever : now + e.infra_backoff_ms;
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

void Agent::Impl::container_started(PodEntry &e, size_t i, Result<StartedContainer> started, int64_t now) {
    const Container &c = e.rec.pod.spec.containers[i];
    Supervised &s = e.containers[i];
    ContainerStatus &cs = e.rec.status.container_statuses[i];
    s.starting = false;
    bool is_restart = cs.last_state.terminated.has_value() || s.instance > 0;
    if (!started) {
        // Like the kubelet: the start is retried with the back-off; the
        // reason says what kind of failure it was.
        const std::string &msg = started.error().message();
        s.backoff_ms = next_backoff_ms(e.backoff, s.backoff_ms);
        s.restart_at = e.rec.deleting ? kNever : now + s.backoff_ms;
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
    if (s.pid <= 0) {
        on_container_exit(e, i, std::nullopt, now);  // gone before we saw it
    } else if (auto status = claim_exit(s.pid)) {
        pids.erase(s.pid);
        on_container_exit(e, i, *status, now);       // reaped while its worker was finishing
    } else if (e.rec.deleting) {
        // Deleted while it was starting: stopped at once, with the pod's grace.
        event(e.rec.pod, "Normal", "Killing", "Stopping container " + s.name);
        stop_container(e, i, e.rec.pod.spec.termination_grace_period_seconds, now);
    }
}

// --- exits ---------------------------------------------------------------
// A container's instance ended: wait_status from waitpid, or nullopt when
// it is lost (an adopted container: not our child).
void Agent::Impl::on_container_exit(PodEntry &e, size_t i, std::optional<int> wait_status, int64_t now) {
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
void Agent::Impl::stop_container(PodEntry &e, size_t i, int64_t grace_seconds, int64_t now) {
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
void Agent::Impl::send_signal(Supervised &s, int sig) {
    if (s.pidfd) {
        if (::syscall(SYS_pidfd_send_signal, s.pidfd.get(), sig, nullptr, 0) < 0 && errno != ESRCH)
            debug("pidfd_send_signal " + s.corral_id + ": " + std::strerror(errno));
    } else if (s.pid > 0) {
        ::kill(s.pid, sig);
    }
}

// --- deleting ---------------------------------------------------------------
void Agent::Impl::begin_delete(PodEntry &e, int64_t grace_seconds, int64_t now) {
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

void Agent::Impl::finish_delete(const std::string &uid) {
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

} // namespace corral::herd
