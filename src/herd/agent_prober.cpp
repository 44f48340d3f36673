// herd/agent_prober.cpp — startup, liveness and readiness probes
// (agent_internal.hpp): each attempt is a child of the agent (probe.cpp),
// reaped by the loop; the thresholds decide restarts and readiness.
#include "herd/agent_internal.hpp"

#include "common/fs.hpp"

#include <algorithm>
#include <csignal>

namespace corral::herd {
namespace {

const char *probe_name(ProbeKind k) {
    switch (k) {
    case ProbeKind::startup: return "Startup";
    case ProbeKind::liveness: return "Liveness";
    default: return "Readiness";
    }
}

} // namespace

void Agent::Impl::schedule_probes(const Container &c, Supervised &s, int64_t now) {
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

void Agent::Impl::cancel_probe(ProbeRun &p) {
    if (p.pid > 0) {
        ::kill(p.pid, SIGKILL);  // reaped by the SIGCHLD loop, result ignored
        auto it = pids.find(p.pid);
        if (it != pids.end()) it->second.instance = UINT64_MAX;
    }
    p = ProbeRun{};
}

// --- probes --------------------------------------------------------------
const std::optional<Probe> &Agent::Impl::probe_spec(const Container &c, ProbeKind k) const {
    return k == ProbeKind::startup ? c.startup_probe : k == ProbeKind::liveness ? c.liveness_probe : c.readiness_probe;
}

void Agent::Impl::run_probe(PodEntry &e, size_t i, ProbeKind k, int64_t now) {
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

void Agent::Impl::probe_result(PodEntry &e, size_t i, ProbeKind k, bool success, const std::string &why, int64_t now) {
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

} // namespace corral::herd
