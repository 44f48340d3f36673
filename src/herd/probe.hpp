// herd/probe.hpp — one attempt of a liveness, readiness or startup probe.
//
// Every attempt is a child process of the (single-threaded) agent: its exit
// status is the result (0 = success, anything else = failure), so the agent
// reaps probes and containers with the same SIGCHLD loop and enforces
// timeoutSeconds by killing the child. Nothing blocks the agent.
//
// - exec:      `corral exec <id> <command...>` (the agent's corral binary and root)
// - tcpSocket: the child joins the pod's network namespace (setns on
//              /proc/<infra pid>/ns/net) and connects to host:port
//              (host "" = 127.0.0.1 inside the pod)
// - httpGet:   the same, then `GET path HTTP/1.1` with the headers; success
//              is a status 200..399, as the kubelet counts it
#pragma once

#include "herd/manifest.hpp"

#include <string>
#include <sys/types.h>

namespace corral::herd {

struct ProbeTarget {
    std::string corral_bin;    // path of the corral binary
    std::string corral_root;   // its --root
    std::string container_id;  // the corral container to exec in
    pid_t netns_pid = 0;       // a process in the pod's network namespace (the infra process); 0 = host
};

// Forks the attempt; the caller waits for the pid (and kills it after
// probe.timeout_seconds). The child's stdout/stderr go to /dev/null.
// A timed-out exec probe kills `corral exec`; the command it started in the
// container has its own session there and may run on until it ends (as
// with the kubelet, a probe command should not hang).
Result<pid_t> start_probe(const Probe &probe, const ProbeTarget &target);

} // namespace corral::herd
