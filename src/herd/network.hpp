// herd/network.hpp — pod networking through CNI plugins, or the host's.
//
// A pod either uses the host's network (hostNetwork: true) or gets its own
// network namespace, held by the pod's infra process. With CNI plugins
// installed (Debian's containernetworking-plugins: /usr/lib/cni) the agent
// runs them on that namespace — bridge + host-local IPAM on the `herd0`
// bridge, then portmap for hostPort mappings — exactly as containerd's CRI
// does; without them the pod has loopback only and the agent says so once.
#pragma once

#include "herd/manifest.hpp"

#include <string>
#include <sys/types.h>
#include <vector>

namespace corral::herd {

struct NetworkConfig {
    std::string plugin_dir = "/usr/lib/cni";
    std::string bridge = "herd0";
    std::string subnet = "10.88.0.0/16";      // host-local range (overridable for tests)
    std::string cache_dir;                    // CNI_CACHE / IPAM state: <agent state dir>/cni
};

struct PodNetwork {
    std::string ip;          // "" when loopback only
    std::string netns_path;  // what CNI was given: <cache_dir>/netns/<pod uid>, a bind mount
                             // of the infra's namespace that outlives it until teardown
};

// True when the plugins needed for pod networking are present.
bool cni_available(const NetworkConfig &);

// CNI ADD for the pod (id: the pod uid) on the netns of infra_pid, with the
// pod's hostPort mappings. Undone (CNI DEL) on failure.
Result<PodNetwork> setup_pod_network(const NetworkConfig &, const std::string &pod_id, pid_t infra_pid,
                                     const std::vector<ContainerPort> &ports);
// CNI DEL: releases the address and port mappings; safe to call twice, and
// when the namespace is already gone. Does nothing for a pod without a
// cached ADD result (never set up, or torn down already).
Status teardown_pod_network(const NetworkConfig &, const std::string &pod_id, const std::string &netns_path,
                            const std::vector<ContainerPort> &ports);

} // namespace corral::herd
