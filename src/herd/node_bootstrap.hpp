// herd/node_bootstrap.hpp — what `herd node check` does to a node over its
// ssh master (ssh_transport.hpp): learn its facts, install or update herd
// and corral in its binDir, start its agent detached. Idempotent: a second
// run on a node that is up to date changes nothing.
//
// Binaries: herd, herd-pause, corral, corral-image, from the node's
// sourceDir or else the directory of the running herd (one architecture:
// this machine's; a node of another architecture without a sourceDir is an
// error naming the node and sourceDir). A node's binary is replaced when it
// is missing, or its version is older, or the same version with other
// content (a rebuild); a newer one is left alone. Files go in through a
// temporary name renamed over the old one, so a running agent keeps its
// binary.
//
// The agent: `setsid -f <binDir>/herd agent --state-dir <stateDir>/agent
// --cgroup-root <cgroupRoot> --node-name <name>`, its output in
// <stateDir>/agent.log, started when nothing answers on its socket;
// bootstrap then waits (up to 10 s) until it answers a ping through `herd
// agent --connect`. An agent that runs an older binary keeps running (pods
// are not disturbed); the report says so.
#pragma once

#include "herd/inventory.hpp"
#include "herd/ssh_transport.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace corral::herd {

// What `herd node check` finds on a host over ssh (node.hpp's NodeFacts is
// what a running agent reports in its ping).
struct HostFacts {
    std::string kernel, arch, os, cgroup_mode;  // cgroup_mode: v1, v2, hybrid
    int cpus = 0;
    int64_t memory_bytes = 0;
    std::string herd_version, corral_version;   // empty: not installed
    std::map<std::string, std::string> sha256;  // binary name -> digest, of the installed ones
    bool agent_socket = false;                  // <stateDir>/agent/agent.sock exists
};

// The facts of a node, by one shell script through its master.
Result<HostFacts> probe_node(const SshTransport &t, const InventoryNode &node);

struct BootstrapOptions {
    std::string local_bin_dir;  // where this machine's herd, corral... are (default: next to herd)
    bool install = true;
    bool start_agent = true;
};

struct BootstrapReport {
    HostFacts facts;                   // after installing
    std::vector<std::string> actions;  // "installed herd 0.1.0", "started the agent", ...
    std::string agent;                 // "running", "started", "not started"
    std::string agent_version;         // as its ping says
};

Result<BootstrapReport> bootstrap_node(const SshTransport &t, const InventoryNode &node, const BootstrapOptions &opts);

// "1.2.3" against "1.10.0": <0, 0, >0 (numeric parts; the text after a
// version's digits is ignored).
int compare_versions(const std::string &a, const std::string &b);

} // namespace corral::herd
