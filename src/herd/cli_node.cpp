// herd node — the pool's inventory and its nodes (docs/herd-pool.md):
//
//   herd node list
//   herd node add NAME --ssh DEST [--label k=v]... [--identity-file F] [--proxy-jump J]
//                 [--known-hosts F] [--host-key-policy strict|accept-new] [--bin-dir D]
//                 [--node-state-dir D] [--cgroup-root C] [--source-dir D] [--no-check]
//   herd node remove NAME
//   herd node check NAME...|--all [--no-install] [--no-start]
//
// The inventory is --inventory, else $HERD_INVENTORY, else
// <state dir>/inventory.yaml; ssh masters live in <state dir>/ssh. `add`
// checks the node first (connect, install, start the agent) and writes the
// inventory only when that worked (--no-check: write it anyway).
#include "herd/cli_internal.hpp"

#include "common/fs.hpp"
#include "herd/inventory.hpp"
#include "herd/node_bootstrap.hpp"
#include "herd/ssh_transport.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace corral::herd::cli {
namespace {

std::string inventory_path(const Context &ctx, const Args &args) {
    if (args.has("inventory")) return args.get("inventory");
    const char *env = std::getenv("HERD_INVENTORY");
    if (env && *env) return env;
    return path_join(ctx.state_dir, "inventory.yaml");
}

SshOptions ssh_options(const Context &ctx) {
    SshOptions o;
    o.control_dir = path_join(ctx.state_dir, "ssh");
    return o;
}

std::string memory_text(int64_t bytes) {
    char buf[32];
    if (bytes >= (int64_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.1fGi", double(bytes) / double(int64_t(1) << 30));
    else std::snprintf(buf, sizeof buf, "%lldMi", static_cast<long long>(bytes >> 20));
    return buf;
}

std::string or_none(const std::string &s) { return s.empty() ? "<none>" : s; }

// Checks (and bootstraps) nodes; prints one row per node that worked, an
// error line per node that did not. Returns the nodes that failed.
int check_nodes(const Context &ctx, const std::vector<InventoryNode> &nodes, const BootstrapOptions &opts) {
    SshTransport t(ssh_options(ctx));
    auto connected = t.connect_all(nodes, deadline_in(std::chrono::seconds(t.options().connect_timeout_s * 4 + 10)));
    std::vector<std::vector<std::string>> rows = {
        {"NAME", "STATUS", "ARCH", "KERNEL", "CGROUP", "CPUS", "MEMORY", "HERD", "CORRAL", "AGENT"}};
    std::vector<std::string> notes;
    int failed = 0;
    for (const InventoryNode &n : nodes) {
        Status st = connected.at(n.name);
        if (!st) {
            std::fprintf(stderr, "error: %s\n", st.error().message().c_str());
            ++failed;
            continue;
        }
        auto rep = bootstrap_node(t, n, opts);
        if (!rep) {
            std::fprintf(stderr, "error: %s\n", rep.error().message().c_str());
            ++failed;
            continue;
        }
        const HostFacts &f = rep->facts;
        rows.push_back({n.name, "Ready", f.arch, f.kernel, f.cgroup_mode, std::to_string(f.cpus), memory_text(f.memory_bytes),
                        or_none(f.herd_version), or_none(f.corral_version), rep->agent});
        for (const std::string &a : rep->actions) notes.push_back(n.name + ": " + a);
    }
    if (rows.size() > 1) std::fputs(render_table(rows).c_str(), stdout);
    for (const std::string &note : notes) std::printf("%s\n", note.c_str());
    return failed;
}

int node_list(const Context &ctx, const Args &args) {
    auto inv = load_inventory(inventory_path(ctx, args));
    if (!inv) return fail(inv.error());
    std::vector<std::vector<std::string>> rows = {{"NAME", "SSH", "LABELS", "TAINTS"}};
    for (const InventoryNode &n : inv->nodes) {
        std::string labels, taints;
        for (const auto &[k, v] : n.labels) labels += (labels.empty() ? "" : ",") + k + "=" + v;
        for (const InventoryTaint &t : n.taints)
            taints += (taints.empty() ? "" : ",") + t.key + (t.value.empty() ? "" : "=" + t.value) + ":" + t.effect;
        rows.push_back({n.name, n.ssh, or_none(labels), or_none(taints)});
    }
    std::fputs(render_table(rows).c_str(), stdout);
    return 0;
}

int node_check(const Context &ctx, const Args &args) {
    auto inv = load_inventory(inventory_path(ctx, args));
    if (!inv) return fail(inv.error());
    std::vector<InventoryNode> nodes;
    std::vector<std::string> names(args.positional.begin() + 1, args.positional.end());
    if (args.flag("all")) {
        if (!names.empty()) return fail("give node names or --all, not both");
        nodes = inv->nodes;
        if (nodes.empty()) return fail("no nodes in " + inv->path + " (herd node add NAME --ssh DEST)");
    } else {
        if (names.empty()) return fail("name the nodes to check, or --all");
        for (const std::string &name : names) {
            const InventoryNode *n = inv->find(name);
            if (!n) return fail(Error(ErrorKind::not_found, "node \"" + name + "\" is not in " + inv->path));
            nodes.push_back(*n);
        }
    }
    BootstrapOptions opts;
    opts.install = !args.flag("no-install");
    opts.start_agent = !args.flag("no-start");
    return check_nodes(ctx, nodes, opts) ? 1 : 0;
}

int node_add(const Context &ctx, const Args &args) {
    if (args.positional.size() != 2) return fail("usage: herd node add NAME --ssh DEST [--label k=v]...");
    std::string path = inventory_path(ctx, args);
    Inventory inv;
    inv.path = path;
    if (path_exists(path)) {
        auto loaded = load_inventory(path);
        if (!loaded) return fail(loaded.error());
        inv = std::move(*loaded);
    }
    // The new entry goes through the same parser as the file does: one set
    // of rules, one wording of errors.
    Inventory one;
    one.path = path;
    InventoryNode n;
    n.name = args.positional[1];
    if (!args.has("ssh")) return fail("herd node add " + n.name + ": --ssh DEST is required ([user@]host[:port] or a Host alias)");
    n.ssh = args.get("ssh");
    n.identity_file = args.get("identity-file");
    n.proxy_jump = args.get("proxy-jump");
    n.known_hosts_file = args.get("known-hosts");
    if (args.get("host-key-policy") == "accept-new") n.host_key_policy = HostKeyPolicy::accept_new;
    else if (args.has("host-key-policy") && args.get("host-key-policy") != "strict")
        return fail("--host-key-policy must be strict or accept-new, got \"" + args.get("host-key-policy") + "\"");
    if (args.has("bin-dir")) n.bin_dir = args.get("bin-dir");
    if (args.has("node-state-dir")) n.state_dir = args.get("node-state-dir");
    if (args.has("cgroup-root")) n.cgroup_root = args.get("cgroup-root");
    n.source_dir = args.get("source-dir");
    auto it = args.values.find("label");
    if (it != args.values.end()) {
        for (const std::string &kv : it->second) {
            size_t eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) return fail("--label must be key=value, got \"" + kv + "\"");
            n.labels[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
    }
    one.nodes.push_back(n);
    auto parsed = parse_inventory(inventory_to_yaml(one), "--" + std::string("ssh ") + n.ssh);
    if (!parsed) {
        // Name the flags, not a file that does not exist yet.
        std::string msg = parsed.error().message();
        size_t colon = msg.find(": node ");
        return fail(Error(ErrorKind::invalid, "herd node add" + (colon == std::string::npos ? ": " + msg : msg.substr(colon))));
    }
    n = parsed->nodes[0];
    if (auto st = check_new_node(inv, n); !st) return fail(st.error());
    if (!args.flag("no-check")) {
        BootstrapOptions opts;
        if (check_nodes(ctx, {n}, opts)) {
            std::fprintf(stderr, "error: node \"%s\" not added to %s (--no-check adds it anyway)\n", n.name.c_str(), path.c_str());
            return 1;
        }
    }
    inv.nodes.push_back(n);
    if (auto st = mkdir_p(path.substr(0, path.rfind('/')), 0755); !st) return fail(st.error());
    if (auto st = save_inventory(inv); !st) return fail(st.error());
    std::printf("node/%s added to %s\n", n.name.c_str(), path.c_str());
    return 0;
}

int node_remove(const Context &ctx, const Args &args) {
    if (args.positional.size() != 2) return fail("usage: herd node remove NAME");
    auto inv = load_inventory(inventory_path(ctx, args));
    if (!inv) return fail(inv.error());
    const std::string &name = args.positional[1];
    auto pos = std::find_if(inv->nodes.begin(), inv->nodes.end(), [&](const InventoryNode &n) { return n.name == name; });
    if (pos == inv->nodes.end()) return fail(Error(ErrorKind::not_found, "node \"" + name + "\" is not in " + inv->path));
    InventoryNode gone = *pos;
    inv->nodes.erase(pos);
    if (auto st = save_inventory(*inv); !st) return fail(st.error());
    // Its master connection goes too; the node's agent and pods stay (they
    // are the node's, as with kubectl delete node).
    SshTransport t(ssh_options(ctx));
    (void)t.disconnect(gone);
    std::printf("node/%s removed from %s (its agent and pods keep running on it)\n", name.c_str(), inv->path.c_str());
    return 0;
}

} // namespace

int cmd_node(const Context &ctx, const Args &args) {
    // An ssh child that ended while we write to it: an error, not our death.
    ::signal(SIGPIPE, SIG_IGN);
    std::string sub = args.positional.empty() ? "" : args.positional[0];
    if (sub == "list" || sub == "ls") return node_list(ctx, args);
    if (sub == "check") return node_check(ctx, args);
    if (sub == "add") return node_add(ctx, args);
    if (sub == "remove" || sub == "rm") return node_remove(ctx, args);
    return fail("herd node: give list, add, remove or check (herd node --help)");
}

} // namespace corral::herd::cli
