// herd/controller_deployment.cpp — the Deployment controller, with the
// ReplicaSet logic folded in (kind_controller.hpp).
//
// A ReplicaSet here is the set of a Deployment's pods with one
// pod-template-hash; its template is in the Store's revisions table. Each
// sync keeps the replica count, rolls over with maxSurge/maxUnavailable
// exactly as the Kubernetes Deployment controller's rolloutRolling does (or
// Recreate), computes the status and its conditions, and trims the revision
// history. Pods are created as Pod objects in the Store; the Pod controller
// schedules them and sends them to their node.
#include "herd/serve.hpp"

#include "herd/serve_internal.hpp"

#include <algorithm>
#include <set>

namespace corral::herd {

using namespace serve_detail;

class DeploymentController final : public KindController {
public:
    explicit DeploymentController(Controller &c) : c_(c) {}
    const KindInfo &info() const override { return deployment_kind(); }
    Result<std::string> apply(const json &object, const std::string &source) override {
        return c_.apply_deployment_object(object, source);
    }
    json with_status(const StoredObject &o) const override { return c_.deployment_with_status(o); }
    Status remove(const StoredObject &o) override { return c_.delete_deployment(o); }
    Result<json> describe_extra(const StoredObject &o) override {
        json revs = json::array();
        for (const auto &r : CORRAL_TRY(c_.store_.revisions(o.namespace_, o.name)))
            revs.push_back({{"revision", r.revision}, {"template_hash", r.template_hash}, {"images", images_of(r.template_)}});
        return json{{"revisions", revs}};
    }
    void sync() override {
        auto deployments = c_.store_.list_objects("Deployment");
        if (!deployments) return c_.opts_.log.error("sync: " + deployments.error().message());
        for (const auto &d : *deployments) c_.reconcile_deployment(d);
    }

private:
    Controller &c_;
};

std::unique_ptr<KindController> make_deployment_controller(Controller &c) {
    return std::make_unique<DeploymentController>(c);
}

// Foreground-free cascading delete: the deployment and its pods go at once;
// the agent stops the pods with their grace period.
Status Controller::delete_deployment(const StoredObject &d) {
    const std::string &ns = d.namespace_, &name = d.name;
    auto tx = CORRAL_TRY(store_.begin());
    auto pods = CORRAL_TRY(store_.list_objects("Pod", ns));
    std::vector<StoredObject> mine;
    for (auto &p : pods)
        if (owner_deployment(p.object) == name) mine.push_back(p);
    CORRAL_TRY(store_.delete_object("Deployment", ns, name));
    CORRAL_TRY(store_.delete_revisions(ns, name));
    for (auto &p : mine) {
        CORRAL_TRY(store_.delete_object("Pod", ns, p.name));
    }
    CORRAL_TRY(tx.commit());
    for (auto &p : mine) (void)delete_pod_now(p, "deployment deleted");
    deployments_.erase(key_of(ns, name));
    return ok();
}

// Records the template as a revision. Kubernetes semantics: a new template
// gets revision max+1; a template seen before (re-applied, or rolled back to)
// moves its ReplicaSet to revision max+1 too. The deployment carries the
// current number in the deployment.kubernetes.io/revision annotation.
Status Controller::ensure_revision(const std::string &ns, const std::string &name, const json &template_json,
                                   const std::string &hash, bool bump, json &deployment_json) {
    auto revs = CORRAL_TRY(store_.revisions(ns, name));
    int64_t max_rev = 0;
    const StoredRevision *mine = nullptr;
    for (const auto &r : revs) {
        max_rev = std::max(max_rev, r.revision);
        if (r.template_hash == hash) mine = &r;
    }
    StoredRevision rev;
    rev.namespace_ = ns;
    rev.deployment = name;
    rev.template_hash = hash;
    rev.template_ = template_json;
    if (mine && (mine->revision == max_rev || !bump)) {
        rev.revision = mine->revision;
    } else {
        rev.revision = max_rev + 1;
    }
    CORRAL_TRY(store_.put_revision(rev));
    deployment_json["metadata"]["annotations"][revision_annotation] = std::to_string(rev.revision);
    return ok();
}

Result<std::string> Controller::apply_deployment_object(const json &input, const std::string &source) {
    Deployment d = CORRAL_TRY(deployment_from_json(input, source));
    const std::string &ns = d.metadata.namespace_, &name = d.metadata.name;
    auto existing = CORRAL_TRY(store_.get_object("Deployment", ns, name));
    json fresh = to_json(d);
    std::string hash = template_hash(d.spec.template_);
    int64_t now = now_ms();
    if (existing) {
        json &stored = existing->object;
        // apps/v1: a Deployment's selector is immutable (the API server's rule).
        if (field(field(stored, "spec"), "selector") != fresh["spec"]["selector"]) {
            return Error(ErrorKind::invalid, source + " (Deployment " + name + "): spec.selector: Invalid value: field is immutable");
        }
        if (field(stored, "spec") == fresh["spec"] &&
            labels_and_annotations(stored, true) == labels_and_annotations(fresh, true)) {
            return deployment_kind().display(name) + " unchanged";
        }
        fresh["metadata"]["uid"] = existing->uid;
        fresh["metadata"]["creationTimestamp"] = field(field(stored, "metadata"), "creationTimestamp");
        fresh["metadata"]["annotations"][revision_annotation] =
            field(field(field(stored, "metadata"), "annotations"), revision_annotation);
        existing->generation += 1;
        if (field(stored, "spec")["template"] != fresh["spec"]["template"]) {
            CORRAL_TRY(ensure_revision(ns, name, fresh["spec"]["template"], hash, true, fresh));
        }
        existing->object = std::move(fresh);
        CORRAL_TRY(store_.put_object(*existing));
        return deployment_kind().display(name) + " configured";
    }
    StoredObject so;
    so.kind = "Deployment";
    so.namespace_ = ns;
    so.name = name;
    so.uid = new_uid();
    so.generation = 1;
    so.created = now / 1000;
    fresh["metadata"]["uid"] = so.uid;
    fresh["metadata"]["creationTimestamp"] = iso_time_ms(now);
    // A deployment of this name may have left revisions behind (deleted and
    // re-created): history starts again, as with a new object in Kubernetes.
    CORRAL_TRY(store_.delete_revisions(ns, name));
    CORRAL_TRY(ensure_revision(ns, name, fresh["spec"]["template"], hash, true, fresh));
    so.object = std::move(fresh);
    CORRAL_TRY(store_.put_object(so));
    return deployment_kind().display(name) + " created";
}

json Controller::deployment_with_status(const StoredObject &d) const {
    json out = d.object;
    out["metadata"]["generation"] = d.generation;
    auto it = deployments_.find(key_of(d.namespace_, d.name));
    if (it != deployments_.end() && it->second.status.is_object() && !it->second.status.empty()) {
        out["status"] = it->second.status;
    } else {
        out["status"] = {{"observedGeneration", 0}, {"replicas", 0}, {"updatedReplicas", 0},
                         {"readyReplicas", 0}, {"availableReplicas", 0}, {"unavailableReplicas", 0},
                         {"conditions", json::array()}};
    }
    return out;
}

Status Controller::create_deployment_pod(const StoredObject &d, const json &template_json, const std::string &hash) {
    const json &tmeta = field(template_json, "metadata");
    std::string rs_name = d.name + "-" + hash;
    std::string name;
    for (int attempt = 0; attempt < 10; ++attempt) {
        name = rs_name + "-" + random_suffix(5);
        if (!CORRAL_TRY(store_.get_object("Pod", d.namespace_, name))) break;
    }
    int64_t now = now_ms();
    json labels = field(tmeta, "labels").is_object() ? tmeta["labels"] : json::object();
    labels[hash_label] = hash;
    json meta = {{"name", name}, {"namespace", d.namespace_}, {"labels", labels}};
    if (field(tmeta, "annotations").is_object() && !tmeta["annotations"].empty()) meta["annotations"] = tmeta["annotations"];
    json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", field(template_json, "spec")}};
    // The one parser checks what the node will be sent; then the canonical
    // form is stored.
    Pod typed = CORRAL_TRY(pod_from_json(pod, "pod of deployment " + d.name));
    StoredObject so;
    so.kind = "Pod";
    so.namespace_ = d.namespace_;
    so.name = name;
    so.uid = new_uid();
    so.generation = 1;
    so.created = now / 1000;
    so.object = to_json(typed);
    so.object["metadata"]["uid"] = so.uid;
    so.object["metadata"]["creationTimestamp"] = iso_time_ms(now);
    so.object["metadata"]["ownerReferences"] = json::array({{{"apiVersion", "apps/v1"},
                                                             {"kind", "ReplicaSet"},
                                                             {"name", rs_name},
                                                             {"uid", d.uid},
                                                             {"controller", true},
                                                             {"blockOwnerDeletion", true}}});
    CORRAL_TRY(store_.put_object(so));
    event("Normal", "SuccessfulCreate", d.namespace_, "replicaset/" + rs_name, "Created pod: " + name);
    return ok();
}

namespace {

// A Deployment's pod as the rollout sees it.
struct RolloutPod {
    const StoredObject *obj;
    std::string hash;
    bool ready = false, available = false, terminal = false, observed = false;
    int restarts = 0;
    int64_t created = 0;
};

// Kubernetes' order for scaling down (controller.ActivePods): not yet on a
// node, pending, not ready, ready for less time, more restarts, newer first.
void sort_for_scale_down(std::vector<RolloutPod *> &pods) {
    std::stable_sort(pods.begin(), pods.end(), [](const RolloutPod *a, const RolloutPod *b) {
        if (a->observed != b->observed) return !a->observed;
        if (a->ready != b->ready) return !a->ready;
        if (a->available != b->available) return !a->available;
        if (a->restarts != b->restarts) return a->restarts > b->restarts;
        return a->created > b->created;
    });
}

} // namespace

// 2. One Deployment: the Deployment controller's sync, with the ReplicaSets
// folded in (a ReplicaSet here is the set of the deployment's pods with one
// pod-template-hash; its template is in the revisions table).
void Controller::reconcile_deployment(const StoredObject &d) {
    const std::string dkey = key_of(d.namespace_, d.name);
    auto parsed = deployment_from_json(for_parser(d.object), "deployment " + dkey);
    if (!parsed) {
        opts_.log.error("stored deployment " + dkey + ": " + parsed.error().message());
        return;
    }
    const DeploymentSpec &spec = parsed->spec;
    const std::string hash = template_hash(spec.template_);
    const json &template_json = d.object["spec"]["template"];
    const int replicas = spec.replicas;
    int64_t now = now_ms();

    auto all_pods = store_.list_objects("Pod", d.namespace_);
    if (!all_pods) return;
    std::vector<RolloutPod> pods;
    for (const auto &p : *all_pods) {
        if (owner_deployment(p.object) != d.name) continue;
        RolloutPod rp;
        rp.obj = &p;
        rp.hash = pod_hash(p.object);
        rp.created = p.created;
        auto it = observed_.find(p.uid);
        if (it != observed_.end()) {
            rp.observed = true;
            const std::string phase = str_field(it->second.status, "phase");
            rp.terminal = phase == "Failed" || phase == "Succeeded";
            rp.ready = status_ready(it->second.status) && !it->second.deleting;
            rp.restarts = status_restarts(it->second.status);
            auto rs = ready_since_ms_.find(p.uid);
            rp.available = rp.ready && rs != ready_since_ms_.end() &&
                           now - rs->second >= int64_t(spec.min_ready_seconds) * 1000;
        }
        pods.push_back(rp);
    }

    // Pods that ended (a Deployment's pods restart Always, so this is an
    // eviction or a failure the node gave up on) are replaced.
    int changes = 0;
    for (auto it = pods.begin(); it != pods.end();) {
        if (it->terminal) {
            (void)delete_pod_now(*it->obj, "pod ended");
            it = pods.erase(it);
            ++changes;
        } else {
            ++it;
        }
    }

    auto count = [&](auto pred) { return int(std::count_if(pods.begin(), pods.end(), pred)); };
    auto is_new = [&](const RolloutPod &p) { return p.hash == hash; };
    int new_count = count(is_new);
    int old_count = int(pods.size()) - new_count;
    std::string rs_name = d.name + "-" + hash;
    int created_count = 0;

    auto create_new = [&](int n) {
        for (int i = 0; i < n; ++i) {
            auto st = create_deployment_pod(d, template_json, hash);
            if (!st) {
                event("Warning", "FailedCreate", d.namespace_, "replicaset/" + rs_name, st.error().message());
                return;
            }
            ++changes;
            ++created_count;
        }
        if (n > 0)
            event("Normal", "ScalingReplicaSet", d.namespace_, "deployment/" + d.name,
                  "Scaled up replica set " + rs_name + " to " + std::to_string(new_count + n));
    };
    // Deletes up to n of the pods matching pred, in scale-down order.
    auto delete_some = [&](int n, auto pred, const std::string &why) {
        std::vector<RolloutPod *> cands;
        for (auto &p : pods)
            if (pred(p)) cands.push_back(&p);
        sort_for_scale_down(cands);
        int done = 0;
        std::map<std::string, int> per_rs;
        for (auto *p : cands) {
            if (done >= n) break;
            (void)delete_pod_now(*p->obj, why);
            p->obj = nullptr;
            per_rs[p->hash]++;
            ++done;
            ++changes;
        }
        pods.erase(std::remove_if(pods.begin(), pods.end(), [](const RolloutPod &p) { return !p.obj; }), pods.end());
        for (const auto &entry : per_rs) {
            const std::string &h = entry.first;  // not a structured binding: clang 14 cannot capture those
            int left = count([&](const RolloutPod &p) { return p.hash == h; });
            event("Normal", "ScalingReplicaSet", d.namespace_, "deployment/" + d.name,
                  "Scaled down replica set " + d.name + "-" + h + " to " + std::to_string(left));
        }
        return done;
    };

    if (old_count == 0) {
        // Steady state (or a plain scale): the one ReplicaSet keeps its count.
        if (new_count < replicas) create_new(replicas - new_count);
        else if (new_count > replicas) delete_some(new_count - replicas, is_new, "scaled down");
    } else if (spec.strategy == "Recreate") {
        // Recreate: every old pod goes, and the new ones start only when no
        // old pod runs any more (on the node, terminating ones included).
        delete_some(old_count, [&](const RolloutPod &p) { return !is_new(p); }, "recreate");
        bool old_still_running = false;
        for (const auto &[uid, o] : observed_) {
            std::string h = str_field(o.labels, hash_label);
            if (o.namespace_ == d.namespace_ && !h.empty() && h != hash &&
                o.name.rfind(d.name + "-" + h + "-", 0) == 0)
                old_still_running = true;
        }
        new_count = count(is_new);
        if (!old_still_running && new_count < replicas) create_new(replicas - new_count);
    } else {
        // RollingUpdate, as the Deployment controller's rolloutRolling:
        // scale the new ReplicaSet up within maxSurge, then the old ones down
        // while staying within maxUnavailable.
        int max_surge = spec.max_surge.resolve(replicas, true);
        int max_unavailable = spec.max_unavailable.resolve(replicas, false);
        if (max_surge == 0 && max_unavailable == 0) max_unavailable = 1;  // as Kubernetes
        // (a) reconcileNewReplicaSet
        if (new_count > replicas) {
            delete_some(new_count - replicas, is_new, "scaled down");
        } else {
            int total = int(pods.size());
            int room = replicas + max_surge - total;
            int want = std::min(room, replicas - new_count);
            if (want > 0) create_new(want);
        }
        // (b) reconcileOldReplicaSets. Pods created in (a) are not in `pods`
        // yet: they count as new and unavailable.
        int all_count = int(pods.size()) + created_count;
        int new_available = count([&](const RolloutPod &p) { return is_new(p) && p.available; });
        int new_total = count(is_new) + created_count;
        int min_available = replicas - max_unavailable;
        int new_unavailable = new_total - new_available;
        int max_scaled_down = all_count - min_available - new_unavailable;
        if (max_scaled_down > 0) {
            // cleanupUnhealthyReplicas: old pods that are not available cost
            // nothing to remove.
            int cleaned = delete_some(max_scaled_down, [&](const RolloutPod &p) { return !is_new(p) && !p.available; },
                                      "rolling update");
            // scaleDownOldReplicaSetsForRollingUpdate: available old pods, only
            // as far as the available count stays >= minAvailable.
            int available = count([](const RolloutPod &p) { return p.available; });
            int can_remove = std::min(available - min_available, max_scaled_down - cleaned);
            if (can_remove > 0)
                delete_some(can_remove, [&](const RolloutPod &p) { return !is_new(p) && p.available; }, "rolling update");
        }
    }

    // Status, from the pods that remain (and the ones created this pass).
    auto after = store_.list_objects("Pod", d.namespace_);
    int total = 0, updated = 0, ready = 0, available = 0;
    if (after) {
        for (const auto &p : *after) {
            if (owner_deployment(p.object) != d.name) continue;
            ++total;
            bool is_updated = pod_hash(p.object) == hash;
            if (is_updated) ++updated;
            auto it = observed_.find(p.uid);
            if (it == observed_.end() || it->second.deleting || !status_ready(it->second.status)) continue;
            ++ready;
            auto rs = ready_since_ms_.find(p.uid);
            if (rs != ready_since_ms_.end() && now - rs->second >= int64_t(spec.min_ready_seconds) * 1000) ++available;
        }
    }
    DeploymentState &state = deployments_[dkey];
    if (state.observed_available != available || state.observed_total != total || changes > 0 ||
        state.status.value("observedGeneration", int64_t(0)) != d.generation) {
        state.last_progress_ms = now;
    }
    state.observed_available = available;
    state.observed_total = total;
    int max_unavailable = spec.max_unavailable.resolve(replicas, false);
    if (spec.strategy == "Recreate") max_unavailable = replicas;
    bool min_available = available >= replicas - max_unavailable;
    bool complete = updated == replicas && available == replicas && total == replicas;
    std::string now_text = iso_time_ms(now);
    auto set_cond = [&](std::string &status_field, std::string &since, const std::string &value) {
        if (status_field != value) {
            status_field = value;
            since = now_text;
        }
    };
    std::string avail_status = min_available ? "True" : "False";
    set_cond(state.available_status, state.available_since, avail_status);
    std::string prog_status = "True", prog_reason;
    std::string prog_message;
    if (complete) {
        prog_reason = "NewReplicaSetAvailable";
        prog_message = "ReplicaSet \"" + rs_name + "\" has successfully progressed.";
    } else if (now - state.last_progress_ms > int64_t(spec.progress_deadline_seconds) * 1000) {
        prog_status = "False";
        prog_reason = "ProgressDeadlineExceeded";
        prog_message = "ReplicaSet \"" + rs_name + "\" has timed out progressing.";
    } else {
        prog_reason = "ReplicaSetUpdated";
        prog_message = "ReplicaSet \"" + rs_name + "\" is progressing.";
    }
    if (state.progressing_reason != prog_reason) state.progressing_updated = now_text;
    if (state.progressing_status != prog_status) state.progressing_since = now_text;
    if (prog_reason == "ProgressDeadlineExceeded" && state.progressing_reason != prog_reason)
        event("Warning", "ProgressDeadlineExceeded", d.namespace_, "deployment/" + d.name, prog_message);
    state.progressing_status = prog_status;
    state.progressing_reason = prog_reason;
    json conditions = json::array();
    conditions.push_back({{"type", "Available"},
                          {"status", avail_status},
                          {"reason", min_available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable"},
                          {"message", min_available ? "Deployment has minimum availability."
                                                    : "Deployment does not have minimum availability."},
                          {"lastUpdateTime", state.available_since},
                          {"lastTransitionTime", state.available_since}});
    conditions.push_back({{"type", "Progressing"},
                          {"status", prog_status},
                          {"reason", prog_reason},
                          {"message", prog_message},
                          {"lastUpdateTime", state.progressing_updated},
                          {"lastTransitionTime", state.progressing_since}});
    state.status = {{"observedGeneration", d.generation},
                    {"replicas", total},
                    {"updatedReplicas", updated},
                    {"readyReplicas", ready},
                    {"availableReplicas", available},
                    {"unavailableReplicas", std::max(0, total - available)},
                    {"conditions", conditions}};

    // Revision history: old ReplicaSets without pods beyond
    // revisionHistoryLimit are dropped, oldest first.
    auto revs = store_.revisions(d.namespace_, d.name);
    if (revs) {
        std::set<std::string> hashes_with_pods;
        if (after)
            for (const auto &p : *after)
                if (owner_deployment(p.object) == d.name) hashes_with_pods.insert(pod_hash(p.object));
        for (const auto &[uid, o] : observed_)
            if (o.namespace_ == d.namespace_ && o.name.rfind(d.name + "-", 0) == 0)
                hashes_with_pods.insert(str_field(o.labels, hash_label));
        // As cleanupDeployment: the limit counts every old ReplicaSet, but
        // only those without pods can go. revs is sorted: oldest first.
        int old_count_all = 0;
        for (const auto &r : *revs) old_count_all += r.template_hash != hash;
        int excess = old_count_all - spec.revision_history_limit;
        for (const auto &r : *revs) {
            if (excess <= 0) break;
            if (r.template_hash == hash || hashes_with_pods.count(r.template_hash)) continue;
            (void)store_.delete_revision(d.namespace_, d.name, r.template_hash);
            --excess;
        }
    }
}

} // namespace corral::herd
