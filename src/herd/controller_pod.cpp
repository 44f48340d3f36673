// herd/controller_pod.cpp — the Pod controller (kind_controller.hpp):
// apply and delete of Pod objects, scheduling, sending each pod to its node,
// status as `get` shows it, and orphans.
//
// Every Pod object (standalone or a Deployment's) without spec.nodeName is
// given to the scheduler (scheduler.hpp) over every node's allocatable and
// the requests of the pods already placed there. A pod that fits nowhere
// stays Pending with PodScheduled=False/Unschedulable and a FailedScheduling
// event, and is tried again when the nodes or their pods change (or after
// ControllerOptions::unschedulable_retry_ms). A bound pod is sent to its node
// once (apply_pod is idempotent by uid).
#include "herd/serve.hpp"

#include "herd/serve_internal.hpp"

#include <algorithm>
#include <functional>
#include <set>

namespace corral::herd {

using namespace serve_detail;

class PodController final : public KindController {
public:
    explicit PodController(Controller &c) : c_(c) {}
    const KindInfo &info() const override { return pod_kind(); }
    Result<std::string> apply(const json &object, const std::string &source) override {
        return c_.apply_pod_object(object, source);
    }
    json with_status(const StoredObject &o) const override { return c_.pod_with_status(o); }
    std::vector<StoredObject> lingering(const std::string &ns) const override {
        std::vector<StoredObject> out;
        for (const auto &[uid, t] : c_.terminating_)
            if (ns.empty() || t.pod.namespace_ == ns) out.push_back(t.pod);
        return out;
    }
    Status remove(const StoredObject &o) override { return c_.delete_pod_now(o, "deleted"); }
    void sync() override {
        c_.schedule_and_send_pods();
        c_.delete_orphans();
    }

private:
    Controller &c_;
};

std::unique_ptr<KindController> make_pod_controller(Controller &c) { return std::make_unique<PodController>(c); }

Result<std::string> Controller::apply_pod_object(const json &input, const std::string &source) {
    Pod pod = CORRAL_TRY(pod_from_json(input, source));
    const std::string &ns = pod.metadata.namespace_, &name = pod.metadata.name;
    auto existing = CORRAL_TRY(store_.get_object("Pod", ns, name));
    int64_t now = now_ms();
    if (existing) {
        json stored = existing->object;
        json stored_spec = field(stored, "spec");
        stored_spec.erase("nodeName");
        json new_spec = to_json(pod)["spec"];
        if (stored_spec != new_spec) {
            // Kubernetes: a pod's spec is immutable but for a few fields.
            return Error(ErrorKind::invalid, source + " (Pod " + name + "): spec: Forbidden: pod updates may not change fields "
                                  "other than labels and annotations; delete the pod and apply it again");
        }
        json meta = labels_and_annotations(input, false);
        if (meta == labels_and_annotations(stored, false)) return pod_kind().display(name) + " unchanged";
        stored["metadata"]["labels"] = meta["labels"];
        stored["metadata"]["annotations"] = meta["annotations"];
        existing->object = std::move(stored);
        existing->generation += 1;
        CORRAL_TRY(store_.put_object(*existing));
        return pod_kind().display(name) + " configured";
    }
    pod.metadata.uid = new_uid();
    pod.metadata.creation_timestamp = iso_time_ms(now);
    StoredObject so;
    so.kind = "Pod";
    so.namespace_ = ns;
    so.name = name;
    so.uid = pod.metadata.uid;
    so.generation = 1;
    so.object = to_json(pod);
    so.object["metadata"]["uid"] = so.uid;
    so.object["metadata"]["creationTimestamp"] = pod.metadata.creation_timestamp;
    so.created = now / 1000;
    CORRAL_TRY(store_.put_object(so));
    return pod_kind().display(name) + " created";
}

// Removes a pod from the desired state and asks its node to stop it. The
// node is asked at once; if it cannot be reached, orphan cleanup finishes
// the job when it can.
Status Controller::delete_pod_now(const StoredObject &pod, const std::string &why) {
    CORRAL_TRY(store_.delete_object("Pod", pod.namespace_, pod.name));
    auto node_name = CORRAL_TRY(store_.pod_node(pod.uid));
    CORRAL_TRY(store_.unassign_pod(pod.uid));
    ready_since_ms_.erase(pod.uid);
    unschedulable_.erase(pod.uid);
    NodeHandle *node = node_name ? node_named(*node_name) : nullptr;
    if (node) {
        json grace = field(field(pod.object, "spec"), "terminationGracePeriodSeconds");
        json r = {{"op", "delete_pod"}, {"namespace", pod.namespace_}, {"name", pod.name}};
        if (grace.is_number()) r["grace_seconds"] = grace;
        StoredObject t = pod;
        t.object["metadata"]["deletionTimestamp"] = iso_time_ms(now_ms());
        t.object["metadata"]["deletionGracePeriodSeconds"] = grace.is_number() ? grace : json(30);
        // Terminating from now on (so `herd delete --wait` never sees it
        // gone and back); a node that refuses leaves it to orphan cleanup.
        terminating_[pod.uid] = {std::move(t), *node_name};
        node->submit(r, [this, uid = pod.uid, name = pod.name](Result<json> res) {
            if (res) return;
            opts_.log.warn("delete pod " + name + ": " + res.error().message());
            terminating_.erase(uid);
        });
        auto it = observed_.find(pod.uid);
        if (it != observed_.end()) it->second.deleting = true;
    }
    event("Normal", "Killing", pod.namespace_, "pod/" + pod.name, "Stopping pod (" + why + ")");
    return ok();
}

const StoredObject *Controller::terminating_pod(const std::string &ns, const std::string &name) const {
    for (const auto &[uid, t] : terminating_)
        if (t.pod.namespace_ == ns && t.pod.name == name) return &t.pod;
    return nullptr;
}

json Controller::pod_with_status(const StoredObject &pod) const {
    json out = pod.object;
    auto it = observed_.find(pod.uid);
    if (it != observed_.end()) {
        out["status"] = it->second.status;
        if (!out["status"].is_object()) out["status"] = json::object();
        if (it->second.deleting && !out["metadata"].contains("deletionTimestamp"))
            out["metadata"]["deletionTimestamp"] = iso_time_ms(now_ms());
    } else if (auto u = unschedulable_.find(pod.uid); u != unschedulable_.end() && !out["spec"].contains("nodeName")) {
        // As the scheduler writes it when no node fits.
        out["status"] = {{"phase", "Pending"},
                         {"conditions", json::array({{{"type", "PodScheduled"},
                                                      {"status", "False"},
                                                      {"reason", "Unschedulable"},
                                                      {"message", u->second.message},
                                                      {"lastProbeTime", nullptr},
                                                      {"lastTransitionTime", iso_time_ms(u->second.since_ms)}}})}};
    } else {
        out["status"] = {{"phase", "Pending"},
                         {"conditions", json::array({{{"type", "PodScheduled"},
                                                      {"status", out["spec"].contains("nodeName") ? "True" : "False"}}})}};
    }
    if (out["spec"].contains("nodeName")) {
        const std::string node = out["spec"]["nodeName"].get<std::string>();
        for (const auto &n : nodes_) {
            if (n.name() == node && !n.reachable && it != observed_.end()) {
                // As the node lifecycle controller: a pod on a node that
                // stopped answering is of unknown state.
                out["status"]["phase"] = "Unknown";
                out["status"]["reason"] = "NodeLost";
            }
        }
    }
    return out;
}

// 4. Pods a node runs that no Pod object wants: left from a deleted object
// (while the node was unreachable), or from a state dir that was reset.
void Controller::delete_orphans() {
    auto pods = store_.list_objects("Pod");
    if (!pods) return;
    std::set<std::string> wanted;
    for (const auto &p : *pods) wanted.insert(p.uid);
    for (auto &[uid, p] : observed_) {
        if (wanted.count(uid) || p.deleting) continue;
        NodeHandle *node = node_named(p.node);
        if (!node || !node->reachable) continue;
        opts_.log.info("deleting orphan pod " + p.namespace_ + "/" + p.name + " on " + p.node);
        node->submit({{"op", "delete_pod"}, {"namespace", p.namespace_}, {"name", p.name}},
                     [this, uid = uid, name = p.name](Result<json> r) {
                         if (!r) return opts_.log.warn("delete orphan pod " + name + ": " + r.error().message());
                         auto it = observed_.find(uid);
                         if (it != observed_.end()) it->second.deleting = true;
                     });
    }
}

// --- scheduling and sending ---------------------------------------------------------

void Controller::schedule_and_send_pods() {
    auto pods = store_.list_objects("Pod");
    if (!pods) return opts_.log.error("sync pods: " + pods.error().message());
    const int64_t now = now_ms();

    // The nodes as the scheduler sees them, with what is placed on them:
    // every bound pod that has not ended, and the ones still terminating.
    std::vector<SchedNode> sched;
    for (const auto &n : nodes_) {
        SchedNode s;
        s.name = n.name();
        s.labels = node_labels(n);
        s.ready = n.reachable && now - n.last_heartbeat * 1000 <= opts_.node_grace_ms;
        s.allocatable_cpu_millis = n.facts.cpu_millis;
        s.allocatable_memory_bytes = n.facts.memory_bytes;
        sched.push_back(std::move(s));
    }
    auto node_of = [&](const std::string &name) -> SchedNode * {
        for (auto &s : sched)
            if (s.name == name) return &s;
        return nullptr;
    };
    auto owner_key = [](const StoredObject &p) {
        std::string d = owner_deployment(p.object);
        return d.empty() ? std::string() : key_of(p.namespace_, d);
    };
    auto place = [&](const StoredObject &p) {
        std::string node = str_field(field(p.object, "spec"), "nodeName");
        SchedNode *s = node.empty() ? nullptr : node_of(node);
        if (!s) return;
        auto it = observed_.find(p.uid);
        if (it != observed_.end()) {
            std::string phase = str_field(it->second.status, "phase");
            if (phase == "Succeeded" || phase == "Failed") return;
        }
        s->add(pod_request(p.object, owner_key(p)));
    };
    for (const auto &p : *pods) place(p);
    for (const auto &[uid, t] : terminating_) place(t.pod);

    // What changed since an unschedulable pod was last tried: the nodes,
    // their readiness, their size, or what is placed on them.
    auto signature = [&] {
        std::string state;
        for (const auto &s : sched) {
            state += s.name + (s.ready ? "+" : "-") + std::to_string(s.allocatable_cpu_millis.value_or(-1)) + "/" +
                     std::to_string(s.allocatable_memory_bytes.value_or(-1)) + "/" +
                     std::to_string(s.requested_cpu_millis) + "/" + std::to_string(s.requested_memory_bytes);
            for (const auto &[k, v] : s.labels) state += "," + k + "=" + v;
            state += ";";
        }
        return uint64_t(std::hash<std::string>{}(state));
    };
    sched_epoch_ = signature();
    std::vector<std::string> tried_now;

    // A node that has not answered once yet (serve just started) is not
    // judged: the pods wait for its first answer.
    bool nodes_known = std::all_of(nodes_.begin(), nodes_.end(), [](const NodeHandle &n) {
        return n.reachable || n.last_heartbeat || !n.last_error.empty();
    });
    // Oldest first, as the scheduling queue orders pods of one priority.
    std::vector<StoredObject *> unbound;
    if (nodes_known)
        for (auto &p : *pods)
            if (str_field(field(p.object, "spec"), "nodeName").empty()) unbound.push_back(&p);
    std::stable_sort(unbound.begin(), unbound.end(),
                     [](const StoredObject *a, const StoredObject *b) { return a->created < b->created; });
    for (StoredObject *p : unbound) {
        auto u = unschedulable_.find(p->uid);
        if (u != unschedulable_.end() && u->second.epoch == sched_epoch_ &&
            now - u->second.tried_ms < opts_.unschedulable_retry_ms)
            continue;
        PodRequest req = pod_request(p->object, owner_key(*p));
        Placement where = schedule(req, sched);
        if (where.node.empty()) {
            Unschedulable &rec = unschedulable_[p->uid];
            if (rec.message != where.message || rec.since_ms == 0) rec.since_ms = now;
            rec.message = where.message;
            rec.tried_ms = now;
            tried_now.push_back(p->uid);
            event("Warning", "FailedScheduling", p->namespace_, "pod/" + p->name, where.message);
            continue;
        }
        auto st = [&]() -> Status {
            auto tx = CORRAL_TRY(store_.begin());
            CORRAL_TRY(store_.assign_pod(p->uid, where.node));
            StoredObject bound = *p;
            bound.object["spec"]["nodeName"] = where.node;
            CORRAL_TRY(store_.put_object(bound));
            return tx.commit();
        }();
        if (!st) {
            opts_.log.warn("pod " + p->name + ": bind to " + where.node + ": " + st.error().message());
            continue;
        }
        // (The agent reports the Scheduled event itself.)
        unschedulable_.erase(p->uid);
        node_of(where.node)->add(req);
        p->object["spec"]["nodeName"] = where.node;
    }

    // The state the failed ones were judged against includes the pods
    // placed in this pass: they are tried again only when it changes.
    sched_epoch_ = signature();
    for (const auto &uid : tried_now) unschedulable_[uid].epoch = sched_epoch_;

    // Every bound pod its node does not run yet goes there.
    for (const auto &p : *pods) {
        if (observed_.count(p.uid)) continue;
        std::string node_name = str_field(field(p.object, "spec"), "nodeName");
        if (node_name.empty()) continue;
        NodeHandle *node = node_named(node_name);
        if (!node) {
            opts_.log.warn("pod " + p.name + ": assigned to unknown node " + node_name);
            continue;
        }
        if (node->reachable) send_pod_to_node(p, *node);  // else: wait for it
    }
}

void Controller::send_pod_to_node(const StoredObject &pod, NodeHandle &node) {
    // Until the next list_pods, the pod is on its node and Pending (a
    // placeholder the answer removes if the node refused the pod).
    ObservedPod p;
    p.node = node.name();
    p.uid = pod.uid;
    p.name = pod.name;
    p.namespace_ = pod.namespace_;
    p.labels = field(field(pod.object, "metadata"), "labels");
    p.status = {{"phase", "Pending"}};
    observed_[pod.uid] = std::move(p);
    node.submit({{"op", "apply_pod"}, {"pod", pod_for_agent(pod.object)}},
                [this, uid = pod.uid, ns = pod.namespace_, name = pod.name](Result<json> r) {
                    if (r) return;
                    event("Warning", "FailedCreate", ns, "pod/" + name, r.error().message());
                    opts_.log.warn("pod " + name + ": " + r.error().message());
                    auto it = observed_.find(uid);
                    if (it != observed_.end() && it->second.status == json{{"phase", "Pending"}}) observed_.erase(it);
                });
}

} // namespace corral::herd
