// herd/agent_status.cpp — what the agent reports and keeps
// (agent_internal.hpp): events, the pod's Kubernetes status, status.json
// (written atomically on every change), and adoption of the pods an earlier
// agent left running.
#include "herd/agent_internal.hpp"

#include "common/fs.hpp"

#include <algorithm>
#include <csignal>
#include <sys/syscall.h>
#include <unistd.h>

namespace corral::herd {

// --- events ----------------------------------------------------------
// An event equal to a recent one (same object, reason and message) is
// counted, as Kubernetes aggregates them, and moves to the end with a new
// sequence number so `since` readers see the new count.
void Agent::Impl::event(const Pod &pod, const std::string &type, const std::string &reason, const std::string &message) {
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
std::string Agent::Impl::status_path(const Pod &pod) const {
    return path_join(path_join(path_join(cfg.runtime.state_dir, "pods"), pod.metadata.uid), "status.json");
}

void Agent::Impl::set_condition(PodStatus &st, const std::string &type, bool value, const std::string &reason) {
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
void Agent::Impl::refresh(PodEntry &e) {
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
void Agent::Impl::save(const PodEntry &e) {
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
PodEntry Agent::Impl::new_entry(Pod pod, BackoffPolicy backoff) {
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

// --- adoption ---------------------------------------------------------------
// A pod found in the state dir: its saved status (restart counts, last
// states, back-off) and `corral state` of each container decide what to
// do. Running containers are adopted as they are, never restarted.
void Agent::Impl::adopt(Pod pod, int64_t now) {
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

void Agent::Impl::adopt_all() {
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
PodEntry *Agent::Impl::find_pod(const json &req) {
    std::string ns = req.value("namespace", std::string("default"));
    std::string name = req.value("name", std::string());
    PodEntry *found = nullptr;
    for (auto &[uid, e] : pods) {
        if (e.rec.pod.metadata.namespace_ != ns || e.rec.pod.metadata.name != name) continue;
        if (!found || (found->rec.deleting && !e.rec.deleting)) found = &e;
    }
    return found;
}

json Agent::Impl::pod_json(const PodEntry &e) const {
    json j = to_json(e.rec.pod);
    j["status"] = to_json(e.rec.status);
    if (e.rec.deleting) j["metadata"]["deletionTimestamp"] = rfc3339(e.delete_started_unix_ms / 1000);
    j["spec"]["nodeName"] = cfg.node_name;
    return j;
}

} // namespace corral::herd
