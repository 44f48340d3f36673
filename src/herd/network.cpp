// herd/network.cpp — pod networking with the CNI plugins (see network.hpp).
//
// CNI in one paragraph (github.com/containernetworking/cni SPEC.md): a plugin
// is a program; the runtime runs it with CNI_COMMAND (ADD, DEL), CNI_CONTAINERID,
// CNI_NETNS (a path to the network namespace), CNI_IFNAME and CNI_PATH in the
// environment and the network configuration as JSON on stdin; it prints a
// result (interfaces, IPs, routes) or an error {"code", "msg"} on stdout.
// Chained plugins (portmap after bridge) get the previous plugin's result as
// `prevResult`. We are the runtime: the pod's uid is the container id, its
// infra process's /proc/PID/ns/net the namespace. The last ADD result is kept
// in <cache_dir>/results/<pod uid>.json (as libcni does) so that DEL gets its
// prevResult even after an agent restart.
#include "herd/network.hpp"

#include "common/fs.hpp"
#include "herd/run_program.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace corral::herd {
namespace {

constexpr const char *kCniVersion = "1.0.0";
constexpr const char *kNetworkName = "herd";
// The plugins run iptables and ip themselves: they must find them even when
// the agent was started with a PATH without sbin.
constexpr const char *kPluginPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string cache_dir_of(const NetworkConfig &cfg) {
    return cfg.cache_dir.empty() ? std::string("/var/lib/herd/cni") : cfg.cache_dir;
}

std::string result_cache_path(const NetworkConfig &cfg, const std::string &pod_id) {
    return cache_dir_of(cfg) + "/results/" + pod_id + ".json";
}

// bridge + host-local: the pod's eth0 is one end of a veth pair whose other
// end is on the bridge; the bridge is the gateway and masquerades outgoing
// traffic, as containerd's default CNI config does.
json bridge_config(const NetworkConfig &cfg) {
    return json{{"cniVersion", kCniVersion},
                {"name", kNetworkName},
                {"type", "bridge"},
                {"bridge", cfg.bridge},
                {"isGateway", true},
                {"ipMasq", true},
                {"hairpinMode", true},
                {"ipam",
                 {{"type", "host-local"},
                  {"ranges", json::array({json::array({json{{"subnet", cfg.subnet}}})})},
                  {"routes", json::array({json{{"dst", "0.0.0.0/0"}}})},
                  {"dataDir", cache_dir_of(cfg) + "/ipam"}}}};
}

json port_mappings(const std::vector<ContainerPort> &ports) {
    json out = json::array();
    for (const auto &p : ports) {
        if (p.host_port == 0) continue;
        std::string proto = p.protocol;
        for (auto &ch : proto) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
        out.push_back({{"hostPort", p.host_port}, {"containerPort", p.container_port}, {"protocol", proto},
                       {"hostIP", p.host_ip}});
    }
    return out;
}

// portmap: DNAT from hostPort to the pod's IP, and SNAT so that connections
// from the host itself (127.0.0.1:hostPort) work.
json portmap_config(const std::vector<ContainerPort> &ports, const json &prev_result) {
    json conf{{"cniVersion", kCniVersion},
              {"name", kNetworkName},
              {"type", "portmap"},
              {"capabilities", {{"portMappings", true}}},
              {"snat", true},
              {"runtimeConfig", {{"portMappings", port_mappings(ports)}}}};
    if (!prev_result.is_null()) conf["prevResult"] = prev_result;
    return conf;
}

bool has_host_ports(const std::vector<ContainerPort> &ports) {
    for (const auto &p : ports)
        if (p.host_port != 0) return true;
    return false;
}

// Runs one plugin; its result JSON on success, its own message on failure.
Result<json> run_plugin(const NetworkConfig &cfg, const std::string &command, const std::string &pod_id,
                        const std::string &netns, const json &conf) {
    std::string type = conf.at("type").get<std::string>();
    ProgramRun run;
    run.argv = {cfg.plugin_dir + "/" + type};
    run.extra_env = {"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + pod_id, "CNI_NETNS=" + netns,
                     "CNI_IFNAME=eth0", "CNI_PATH=" + cfg.plugin_dir, kPluginPath};
    run.stdin_data = conf.dump();
    run.timeout_ms = 30000;
    std::string what = "CNI " + command + " (" + type + ")";
    auto r = run_program(run);
    if (!r) return std::move(r).error().context(what);
    json out = json::parse(r->out, nullptr, false);
    if (!r->ok()) {
        // The spec's error object: {"code": N, "msg": "...", "details": "..."}.
        std::string msg = r->last_error_line();
        if (out.is_object() && out.contains("msg")) {
            msg = out.value("msg", "");
            if (auto d = out.value("details", ""); !d.empty()) msg += ": " + d;
        }
        return Error(what + ": " + msg);
    }
    if (command == "DEL") return json();
    if (out.is_discarded() || !out.is_object()) return Error(what + ": not a JSON result: " + r->last_error_line());
    return out;
}

// The first IPv4 address of the pod's interface, without its prefix length.
std::string first_address(const json &result) {
    if (!result.contains("ips")) return "";
    for (const auto &ip : result.at("ips")) {
        std::string addr = ip.value("address", "");
        if (auto slash = addr.find('/'); slash != std::string::npos) addr.resize(slash);
        if (!addr.empty()) return addr;
    }
    return "";
}

// The pod's network namespace pinned by a bind mount on
// <cache_dir>/netns/<pod uid> (as `ip netns` and containerd do): the plugins
// are given this path, so a DEL can still enter the namespace, find the
// pod's address and remove its masquerade rules after the infra process has
// died. Without the pin, the bridge plugin's DEL of a vanished namespace
// releases the lease but leaves the rules.
std::string pin_path(const NetworkConfig &cfg, const std::string &pod_id) {
    return cache_dir_of(cfg) + "/netns/" + pod_id;
}

bool is_namespace_file(const std::string &path) {
    struct statfs st{};
    return statfs(path.c_str(), &st) == 0 && st.f_type == NSFS_MAGIC;
}

Result<std::string> pin_netns(const NetworkConfig &cfg, const std::string &pod_id, pid_t pid) {
    std::string path = pin_path(cfg, pod_id);
    CORRAL_TRY(mkdir_p(cache_dir_of(cfg) + "/netns", 0700));
    if (is_namespace_file(path)) umount2(path.c_str(), MNT_DETACH);  // a previous infra's
    auto f = open_file(path, O_WRONLY | O_CREAT, 0600);
    if (!f) return std::move(f).error();
    f->reset();
    std::string source = "/proc/" + std::to_string(pid) + "/ns/net";
    if (mount(source.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) < 0)
        return Error::from_errno(errno, "pin network namespace " + source + " on", path);
    return path;
}

void unpin_netns(const NetworkConfig &cfg, const std::string &pod_id) {
    std::string path = pin_path(cfg, pod_id);
    while (is_namespace_file(path))
        if (umount2(path.c_str(), MNT_DETACH) < 0) break;
    unlink(path.c_str());
}

// CNI DEL of every plugin, in the reverse order of ADD (portmap, then
// bridge). The spec wants DEL to succeed when the namespace is gone: the
// plugins get an empty CNI_NETNS then, and release only what they hold on the
// host (address, iptables rules).
Status delete_pod_network(const NetworkConfig &cfg, const std::string &pod_id, const std::string &netns_path,
                          const std::vector<ContainerPort> &ports, const json &prev) {
    std::string netns = netns_path;
    if (!netns.empty() && !is_namespace_file(netns)) netns.clear();
    std::string what = "tear down pod network for " + pod_id;
    Status first_error;
    if (has_host_ports(ports))
        if (auto r = run_plugin(cfg, "DEL", pod_id, netns, portmap_config(ports, prev)); !r && first_error.ok())
            first_error = std::move(r).error().context(what);
    json bridge = bridge_config(cfg);
    if (!prev.is_null()) bridge["prevResult"] = prev;
    if (auto r = run_plugin(cfg, "DEL", pod_id, netns, bridge); !r && first_error.ok())
        first_error = std::move(r).error().context(what);
    return first_error;
}

} // namespace

bool cni_available(const NetworkConfig &cfg) {
    for (const char *plugin : {"bridge", "host-local", "portmap"})
        if (access((cfg.plugin_dir + "/" + plugin).c_str(), X_OK) != 0) return false;
    return true;
}

Result<PodNetwork> setup_pod_network(const NetworkConfig &cfg, const std::string &pod_id, pid_t infra_pid,
                                     const std::vector<ContainerPort> &ports) {
    PodNetwork net;
    std::string what = "pod network for " + pod_id;
    CORRAL_TRY_CTX(mkdir_p(cache_dir_of(cfg) + "/results", 0700), what);
    net.netns_path = CORRAL_TRY_CTX(pin_netns(cfg, pod_id, infra_pid), what);
    auto fail = [&](Error e) -> Error {
        unpin_netns(cfg, pod_id);
        return std::move(e.context(what));
    };

    json bridge = bridge_config(cfg);
    auto added = run_plugin(cfg, "ADD", pod_id, net.netns_path, bridge);
    if (!added) return fail(std::move(added).error());
    json result = *added;
    if (has_host_ports(ports)) {
        auto mapped = run_plugin(cfg, "ADD", pod_id, net.netns_path, portmap_config(ports, result));
        if (!mapped) {
            // Undo the bridge's ADD: the address goes back to the pool.
            json del = bridge;
            del["prevResult"] = result;
            (void)run_plugin(cfg, "DEL", pod_id, net.netns_path, del);
            return fail(std::move(mapped).error());
        }
        result = *mapped;
    }
    net.ip = first_address(result);
    json cached{{"result", result}, {"netns", net.netns_path}};
    if (auto st = write_file_atomic(result_cache_path(cfg, pod_id), cached.dump()); !st) {
        (void)delete_pod_network(cfg, pod_id, net.netns_path, ports, result);
        return fail(std::move(st).error());
    }
    return net;
}

Status teardown_pod_network(const NetworkConfig &cfg, const std::string &pod_id, const std::string &netns_path,
                            const std::vector<ContainerPort> &ports) {
    std::string cache = result_cache_path(cfg, pod_id);
    // No cached result: never set up (a pod whose start failed before CNI
    // ADD), or already torn down. Nothing to do.
    auto text = read_file(cache);
    if (!text) return ok();
    json prev;
    json cached = json::parse(*text, nullptr, false);
    if (cached.is_object()) prev = cached.value("result", json());
    // The pinned namespace outlives the infra: DEL can always enter it.
    std::string netns = is_namespace_file(pin_path(cfg, pod_id)) ? pin_path(cfg, pod_id) : netns_path;
    CORRAL_TRY(delete_pod_network(cfg, pod_id, netns, ports, prev));
    unpin_netns(cfg, pod_id);
    if (unlink(cache.c_str()) < 0 && errno != ENOENT)
        return Error::from_errno(errno, "tear down pod network for " + pod_id + ": remove cached result", cache);
    return ok();
}

} // namespace corral::herd
