// herd/controller_node.cpp — the Node controller (kind_controller.hpp): a
// Node object in the Store per NodeHandle (its pod subnet handed out from
// the cluster CIDR), and every sync a ping (allocatable, architecture) and
// a list_pods (what the node runs, its events) to every node, answered
// through the poll loop: nothing here waits for a node.
#include "herd/serve.hpp"

#include "herd/serve_internal.hpp"

namespace corral::herd {

using namespace serve_detail;

class NodeController final : public KindController {
public:
    explicit NodeController(Controller &c) : c_(c) {}
    const KindInfo &info() const override { return node_kind(); }
    Result<std::string> apply(const json &, const std::string &source) override {
        return Error(ErrorKind::invalid, source + ": kind: herd adds nodes itself (the local node)");
    }
    json with_status(const StoredObject &o) const override { return c_.node_with_status(o); }
    Status remove(const StoredObject &) override { return Error(ErrorKind::invalid, "herd does not delete nodes"); }
    void sync() override { c_.observe_nodes(); }

private:
    Controller &c_;
};

std::unique_ptr<KindController> make_node_controller(Controller &c) { return std::make_unique<NodeController>(c); }

// Each handle gets its Node object: found (a restart keeps its pod subnet
// and labels) or made, with the next free subnet of the cluster CIDR.
void Controller::register_nodes() {
    auto stored = store_.list_objects("Node");
    if (!stored) return opts_.log.error("nodes: " + stored.error().message());
    std::set<std::string> taken;
    for (const auto &s : *stored) taken.insert(str_field(field(s.object, "spec"), "podCIDR"));
    for (auto &n : nodes_) {
        const StoredObject *mine = nullptr;
        for (const auto &s : *stored)
            if (s.name == n.name()) mine = &s;
        if (mine) {
            n.pod_cidr = str_field(field(mine->object, "spec"), "podCIDR");
            n.created = mine->created;
            const json &labels = field(field(mine->object, "metadata"), "labels");
            if (labels.is_object())
                for (auto it = labels.begin(); it != labels.end(); ++it)
                    if (it.value().is_string()) n.labels[it.key()] = it.value().get<std::string>();
            continue;
        }
        auto cidr = allocate_pod_cidr(opts_.cluster_cidr, opts_.node_cidr_mask_size, taken);
        if (!cidr) {
            opts_.log.error("node " + n.name() + ": " + cidr.error().message());
        } else {
            n.pod_cidr = *cidr;
            taken.insert(*cidr);
        }
        StoredObject so;
        so.kind = "Node";
        so.name = n.name();
        so.uid = new_uid();
        so.created = n.created;
        so.object = {{"apiVersion", "v1"},
                     {"kind", "Node"},
                     {"metadata", {{"name", n.name()}, {"uid", so.uid}, {"labels", json::object()}}},
                     {"spec", {{"podCIDR", n.pod_cidr}, {"herdAgent", n.address()}}}};
        if (auto st = store_.put_object(so); !st) opts_.log.error("node " + n.name() + ": " + st.error().message());
        else opts_.log.info("node " + n.name() + ": pod subnet " + n.pod_cidr);
    }
}

NodeHandle *Controller::node_named(const std::string &name) {
    for (auto &n : nodes_)
        if (n.name() == name) return &n;
    return nullptr;
}

NodeUsage Controller::node_usage(const std::string &node) const {
    NodeUsage u;
    for (const auto &[uid, p] : observed_) {
        if (p.node != node) continue;
        std::string phase = str_field(p.status, "phase");
        if (phase == "Succeeded" || phase == "Failed") continue;
        ++u.pods;
    }
    // Requests of the pods bound to it, as `kubectl describe node` sums them.
    auto pods = const_cast<Store &>(store_).list_objects("Pod");
    if (pods)
        for (const auto &p : *pods) {
            if (str_field(field(p.object, "spec"), "nodeName") != node) continue;
            PodRequest r = pod_request(p.object, "");
            u.cpu_millis += r.cpu_millis;
            u.memory_bytes += r.memory_bytes;
        }
    return u;
}

json Controller::node_with_status(const StoredObject &o) const {
    for (const auto &n : nodes_)
        if (n.name() == o.name) return node_object(n, now_ms(), opts_.node_grace_ms, node_usage(n.name()));
    // A Node object without a handle (a node serve no longer runs with).
    json out = o.object;
    out["status"] = {{"conditions", json::array({{{"type", "Ready"}, {"status", "Unknown"}, {"reason", "NodeStatusUnknown"},
                                                  {"message", "herd serve does not run with this node"}}})}};
    return out;
}

void Controller::on_ping(const std::string &name, Result<json> r) {
    NodeHandle *n = node_named(name);
    if (!n || !r) return;
    NodeFacts f = node_facts_from_ping(*r);
    if (!f.pod_cidr.empty() && !n->pod_cidr.empty() && f.pod_cidr != n->pod_cidr && f.pod_cidr != n->facts.pod_cidr)
        opts_.log.warn("node " + name + ": its agent gives pods addresses of " + f.pod_cidr + ", serve handed out " +
                       n->pod_cidr + " (start the agent with --cni-subnet " + n->pod_cidr + ")");
    n->facts = std::move(f);
}

// known pods (their status turns Unknown in `get`), so nothing is recreated
// just because an agent restarts.
void Controller::observe_nodes() {
    for (auto &node : nodes_) {
        // The last list (or another request) is still on its way: the node
        // is slow, and asking again would only queue more.
        if (node.in_flight() > 0) continue;
        json req = {{"op", "list_pods"}};
        // The cursor survives a serve restart (settings table), so the
        // agent's buffered events are not stored twice.
        const std::string cursor_key = "agent_event_seq/" + node.name();
        if (!agent_event_cursor_.count(node.name())) {
            auto saved = store_.setting(cursor_key);
            if (saved && *saved) agent_event_cursor_[node.name()] = std::atoll((*saved)->c_str());
        }
        auto cur = agent_event_cursor_.find(node.name());
        if (cur != agent_event_cursor_.end()) req["since"] = cur->second;
        std::string name = node.name();
        node.submit({{"op", "ping"}}, [this, name](Result<json> r) { on_ping(name, std::move(r)); });
        node.submit(req, [this, name](Result<json> r) { on_list_pods(name, std::move(r)); });
    }
}

void Controller::on_list_pods(const std::string &name, Result<json> r) {
    NodeHandle *n = node_named(name);
    if (!n) return;
    NodeHandle &node = *n;
    int64_t now = now_ms();
    const std::string cursor_key = "agent_event_seq/" + node.name();
    auto cur = agent_event_cursor_.find(node.name());
    {
        if (!r) {
            if (node.reachable) opts_.log.warn("node " + node.name() + " does not answer: " + r.error().message());
            node.reachable = false;
            node.last_error = r.error().message();
            return;
        }
        node.reachable = true;
        node.last_heartbeat = now / 1000;
        for (auto it = observed_.begin(); it != observed_.end();) {
            if (it->second.node == node.name()) it = observed_.erase(it);
            else ++it;
        }
        for (const auto &item : field(*r, "pods")) {
            ObservedPod p;
            const json &meta = field(field(item, "pod").is_object() ? item["pod"] : item, "metadata");
            p.node = node.name();
            p.uid = str_field(meta, "uid");
            p.name = str_field(meta, "name");
            p.namespace_ = str_field(meta, "namespace");
            if (p.namespace_.empty()) p.namespace_ = "default";
            p.labels = field(meta, "labels").is_object() ? meta["labels"] : json::object();
            p.status = field(item, "status").is_object() ? item["status"] : json::object();
            p.deleting = field(item, "deleting").is_boolean() ? item["deleting"].get<bool>() : !field(meta, "deletionTimestamp").is_null();
            if (p.uid.empty()) continue;
            if (status_ready(p.status) && !p.deleting) {
                int64_t since = ready_transition_ms(p.status);
                ready_since_ms_.emplace(p.uid, since > 0 && since <= now ? since : now);
            }
            else ready_since_ms_.erase(p.uid);
            observed_[p.uid] = std::move(p);
        }
        for (auto it = terminating_.begin(); it != terminating_.end();) {
            if (it->second.node == node.name() && !observed_.count(it->first)) it = terminating_.erase(it);
            else ++it;
        }
        // The agent's own events (BackOff, Unhealthy, OOMKilling, ...), kept
        // with ours. `since` makes each one arrive once.
        int64_t last_seq = cur != agent_event_cursor_.end() ? cur->second : -1;
        // A restarted agent counts its events from 0 again.
        if (field(*r, "event_seq").is_number_integer() && (*r)["event_seq"].get<int64_t>() < last_seq) last_seq = -1;
        for (const auto &e : field(*r, "events")) {
            int64_t seq = field(e, "seq").is_number_integer() ? e["seq"].get<int64_t>() : -1;
            if (seq >= 0 && seq <= last_seq) continue;
            StoredEvent se;
            // When it happened on the node, not when serve heard of it.
            int64_t first = rfc3339_ms(str_field(e, "firstTimestamp")), last = rfc3339_ms(str_field(e, "lastTimestamp"));
            se.first_time = (first > 0 ? first : now) / 1000;
            se.last_time = (last > 0 ? last : first > 0 ? first : now) / 1000;
            se.type = str_field(e, "type").empty() ? "Normal" : str_field(e, "type");
            se.reason = str_field(e, "reason");
            se.object = str_field(e, "object");
            se.namespace_ = str_field(e, "namespace");
            if (se.namespace_.empty()) se.namespace_ = "default";
            se.message = str_field(e, "message");
            se.count = field(e, "count").is_number_integer() ? e["count"].get<int64_t>() : 1;
            auto st = store_.record_event(se);
            if (!st) opts_.log.warn("store agent event: " + st.error().message());
            last_seq = std::max(last_seq, seq);
        }
        if (field(*r, "event_seq").is_number_integer()) last_seq = std::max(last_seq, (*r)["event_seq"].get<int64_t>());
        if (last_seq >= 0 && (cur == agent_event_cursor_.end() || cur->second != last_seq)) {
            agent_event_cursor_[node.name()] = last_seq;
            auto st = store_.set_setting(cursor_key, std::to_string(last_seq));
            if (!st) opts_.log.warn("store agent event cursor: " + st.error().message());
        }
    }
}

} // namespace corral::herd
