// herd/inventory.hpp — the pool's nodes: a YAML file apart from the
// manifests (as Kamal's servers or k0sctl's hosts), read by `herd node` and
// (later) `herd serve`. docs/herd-pool.md describes the format:
//
//   nodes:
//     - name: node1                      # a DNS-1123 subdomain, unique
//       ssh: root@10.77.0.11:22          # [user@]host[:port], or a Host alias of ~/.ssh/config
//       identityFile: ~/.ssh/id_ed25519  # optional (ssh -i)
//       proxyJump: admin@bastion         # optional (ssh -J)
//       knownHostsFile: /path            # optional (UserKnownHostsFile; default: ssh's own)
//       hostKeyPolicy: strict            # strict (default) | accept-new
//       labels: {zone: a}
//       taints: [{key: k, value: v, effect: NoSchedule}]
//       reserved: {cpu: 500m, memory: 256Mi}   # kept back from allocatable
//       binDir: /usr/local/bin           # where herd, corral and herd-pause go on the node
//       stateDir: /var/lib/herd          # the node's herd state (the agent's is <stateDir>/agent)
//       cgroupRoot: /herd                # the agent's --cgroup-root
//       sourceDir: /path                 # optional: local dir of binaries for the node's architecture
//
// Errors name the file, the line, the node and the field:
//   inv.yaml:7: node "node1": hostKeyPolicy: must be strict or accept-new, got "acept-new"
// Unknown fields are errors (with the nearest known name as a hint).
#pragma once

#include "corral/error.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace corral::herd {

enum class HostKeyPolicy { strict, accept_new };

struct InventoryTaint {
    std::string key, value, effect;  // effect: NoSchedule | PreferNoSchedule | NoExecute
};

// How ssh reaches a node, split from the `ssh` field: user and port empty /
// 0 when not given (ssh's config or defaults decide).
struct SshDestination {
    std::string user;
    std::string host;  // an address, a name, or a Host alias
    int port = 0;
    // As ssh takes it: "user@host" (the port goes to -p).
    std::string target() const { return user.empty() ? host : user + "@" + host; }
};

struct InventoryNode {
    std::string name;
    std::string ssh;  // as written
    SshDestination dest;
    std::string identity_file;
    std::string proxy_jump;
    std::string known_hosts_file;
    HostKeyPolicy host_key_policy = HostKeyPolicy::strict;
    std::map<std::string, std::string> labels;
    std::vector<InventoryTaint> taints;
    int64_t reserved_cpu_millis = 0;
    int64_t reserved_memory_bytes = 0;
    std::string bin_dir = "/usr/local/bin";
    std::string state_dir = "/var/lib/herd";
    std::string cgroup_root = "/herd";
    std::string source_dir;
    int line = 0;  // where the entry starts in the file (1-based; 0 unknown)
};

struct Inventory {
    std::string path;  // the file it was read from
    std::vector<InventoryNode> nodes;

    const InventoryNode *find(std::string_view name) const;
};

// Parses an inventory's text; `path` is for messages. Every error is of kind
// invalid and names path, line, node and field.
Result<Inventory> parse_inventory(const std::string &text, const std::string &path);
// Reads and parses a file; a missing file is not_found.
Result<Inventory> load_inventory(const std::string &path);

// "[user@]host[:port]" (also "[v6addr]:port"); an error names what is wrong.
Result<SshDestination> parse_ssh_destination(const std::string &text);

// The inventory as YAML (what `herd node add/remove` write back; comments are
// not kept).
std::string inventory_to_yaml(const Inventory &inv);
// Writes atomically (a temporary file renamed over the old one).
Status save_inventory(const Inventory &inv);

// A new node's checks against the others (name syntax, no duplicate name).
Status check_new_node(const Inventory &inv, const InventoryNode &node);

} // namespace corral::herd
