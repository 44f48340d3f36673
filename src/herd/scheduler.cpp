// herd/scheduler.cpp — filter, then score (see scheduler.hpp).
#include "herd/scheduler.hpp"

#include "herd/manifest.hpp"

#include <algorithm>
#include <tuple>

namespace corral::herd {
namespace {

// kube-scheduler scores a pod without requests as if it asked for this much
// (so a node full of such pods does not look empty).
constexpr int64_t default_cpu_millis = 100;
constexpr int64_t default_memory_bytes = 200LL * 1024 * 1024;

// Reasons, worded as kube-scheduler's plugins word them.
constexpr const char *reason_unreachable = "node(s) had untolerated taint {node.kubernetes.io/unreachable: }";
constexpr const char *reason_selector = "node(s) didn't match Pod's node affinity/selector";
constexpr const char *reason_cpu = "Insufficient cpu";
constexpr const char *reason_memory = "Insufficient memory";

int64_t quantity(const nlohmann::json &list, const char *name, bool cpu) {
    if (!list.is_object() || !list.contains(name) || !list[name].is_string()) return -1;
    auto v = cpu ? parse_cpu_millis(list[name].get<std::string>()) : parse_memory_bytes(list[name].get<std::string>());
    return v ? *v : -1;
}

// The reasons a node cannot take the pod, from the first filter that fails
// (as the framework stops at the first failing plugin); empty: it fits.
std::vector<std::string> filter(const PodRequest &pod, const SchedNode &n) {
    if (!n.ready) return {reason_unreachable};
    for (const auto &[k, v] : pod.node_selector) {
        auto it = n.labels.find(k);
        if (it == n.labels.end() || it->second != v) return {reason_selector};
    }
    std::vector<std::string> out;
    if (n.allocatable_cpu_millis && pod.cpu_millis > *n.allocatable_cpu_millis - n.requested_cpu_millis)
        out.push_back(reason_cpu);
    if (n.allocatable_memory_bytes && pod.memory_bytes > *n.allocatable_memory_bytes - n.requested_memory_bytes)
        out.push_back(reason_memory);
    return out;
}

// LeastAllocated: 0..100, the mean share of CPU and memory left free once
// the pod is there. A node that did not report its size scores in the middle.
int64_t least_allocated(const PodRequest &pod, const SchedNode &n) {
    auto share = [](std::optional<int64_t> alloc, int64_t used) -> int64_t {
        if (!alloc) return 50;
        if (*alloc <= 0 || used >= *alloc) return 0;
        return (*alloc - used) * 100 / *alloc;
    };
    int64_t cpu = n.scored_cpu_millis + (pod.cpu_millis ? pod.cpu_millis : default_cpu_millis);
    int64_t mem = n.scored_memory_bytes + (pod.memory_bytes ? pod.memory_bytes : default_memory_bytes);
    return (share(n.allocatable_cpu_millis, cpu) + share(n.allocatable_memory_bytes, mem)) / 2;
}

} // namespace

PodRequest pod_request(const nlohmann::json &pod, const std::string &owner) {
    PodRequest r;
    r.owner = owner;
    const nlohmann::json empty = nlohmann::json::object();
    const nlohmann::json &spec = pod.is_object() && pod.contains("spec") ? pod["spec"] : empty;
    if (spec.contains("containers") && spec["containers"].is_array()) {
        for (const auto &c : spec["containers"]) {
            const nlohmann::json &res = c.is_object() && c.contains("resources") ? c["resources"] : empty;
            const nlohmann::json &req = res.is_object() && res.contains("requests") ? res["requests"] : empty;
            const nlohmann::json &lim = res.is_object() && res.contains("limits") ? res["limits"] : empty;
            int64_t cpu = quantity(req, "cpu", true), mem = quantity(req, "memory", false);
            if (cpu < 0) cpu = std::max<int64_t>(0, quantity(lim, "cpu", true));
            if (mem < 0) mem = std::max<int64_t>(0, quantity(lim, "memory", false));
            r.cpu_millis += cpu;
            r.memory_bytes += mem;
        }
    }
    if (spec.contains("nodeSelector") && spec["nodeSelector"].is_object())
        for (auto it = spec["nodeSelector"].begin(); it != spec["nodeSelector"].end(); ++it)
            if (it.value().is_string()) r.node_selector[it.key()] = it.value().get<std::string>();
    return r;
}

void SchedNode::add(const PodRequest &p) {
    requested_cpu_millis += p.cpu_millis;
    requested_memory_bytes += p.memory_bytes;
    scored_cpu_millis += p.cpu_millis ? p.cpu_millis : default_cpu_millis;
    scored_memory_bytes += p.memory_bytes ? p.memory_bytes : default_memory_bytes;
    if (!p.owner.empty()) pods_by_owner[p.owner]++;
}

std::string unschedulable_message(size_t node_count, const std::vector<std::vector<std::string>> &reasons) {
    std::map<std::string, int> counts;
    for (const auto &node_reasons : reasons)
        for (const auto &r : node_reasons) counts[r]++;
    std::vector<std::string> parts;
    for (const auto &[reason, n] : counts) parts.push_back(std::to_string(n) + " " + reason);
    // Sorted as whole strings ("1 Insufficient cpu" < "2 node(s)..."), as
    // the scheduler sorts its histogram.
    std::sort(parts.begin(), parts.end());
    std::string msg = "0/" + std::to_string(node_count) + " nodes are available";
    if (parts.empty()) return msg + ".";
    msg += ": ";
    for (size_t i = 0; i < parts.size(); ++i) msg += (i ? ", " : "") + parts[i];
    return msg + ".";
}

Placement schedule(const PodRequest &pod, const std::vector<SchedNode> &nodes) {
    std::vector<std::vector<std::string>> reasons;
    const SchedNode *best = nullptr;
    std::tuple<int, int64_t> best_score{};
    for (const auto &n : nodes) {
        auto why = filter(pod, n);
        if (!why.empty()) {
            reasons.push_back(std::move(why));
            continue;
        }
        int same_owner = 0;
        if (!pod.owner.empty()) {
            auto it = n.pods_by_owner.find(pod.owner);
            if (it != n.pods_by_owner.end()) same_owner = it->second;
        }
        // Higher is better: fewer of the owner's pods, then more left free.
        std::tuple<int, int64_t> score{-same_owner, least_allocated(pod, n)};
        if (!best || score > best_score || (score == best_score && n.name < best->name)) {
            best = &n;
            best_score = score;
        }
    }
    if (best) return {best->name, ""};
    return {"", unschedulable_message(nodes.size(), reasons)};
}

} // namespace corral::herd
