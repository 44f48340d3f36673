// herd/serve_ops.cpp — the operations of serve's API (serve_api.hpp):
// apply, delete, get, describe, events, scale, rollout, logs, exec. What
// differs per kind is asked of the kind table (kinds.hpp) and the kind's
// controller (kind_controller.hpp); the Deployment-only operations (scale,
// rollout) are here because they are the API's, not the controller's.
#include "herd/serve.hpp"

#include "herd/serve_internal.hpp"

#include <set>

namespace corral::herd {

using namespace serve_detail;

namespace {

json event_json(const StoredEvent &e) {
    return {{"time", iso_time_ms(e.last_time * 1000)},
            {"firstTimestamp", iso_time_ms(e.first_time * 1000)},
            {"lastTimestamp", iso_time_ms(e.last_time * 1000)},
            {"type", e.type},
            {"reason", e.reason},
            {"namespace", e.namespace_},
            {"object", e.object},
            {"message", e.message},
            {"count", e.count}};
}

// The kind of a request, known to the table and with a controller.
Result<const KindInfo *> request_kind(const json &req, const char *op) {
    const KindInfo *k = find_kind(req_string(req, "kind"));
    if (!k) return Error(ErrorKind::invalid, std::string(op) + ": unsupported kind \"" + req_string(req, "kind") +
                                                  "\" (" + kind_names() + ")");
    return k;
}

} // namespace

Result<json> Controller::op_apply(const json &req) {
    const json &objects = field(req, "objects");
    if (!objects.is_array()) return Error(ErrorKind::invalid, "apply: \"objects\" must be a list");
    // 1. Validate everything before touching the store.
    std::set<std::string> seen;
    std::vector<KindController *> owners;
    for (size_t i = 0; i < objects.size(); ++i) {
        const json &o = objects[i];
        std::string kind = str_field(o, "kind");
        std::string name = str_field(field(o, "metadata"), "name");
        std::string ns = str_field(field(o, "metadata"), "namespace");
        if (ns.empty()) ns = "default";
        std::string source = "objects[" + std::to_string(i) + "] (" + kind + " " + name + ")";
        const KindInfo *k = find_kind(kind);
        KindController *c = k && k->kind == kind && k->parse ? controller_for(kind) : nullptr;
        if (!c) {
            std::string known;
            for (const auto &ki : kinds())
                if (ki.parse) known += (known.empty() ? "" : ", ") + ki.kind;
            return Error(ErrorKind::invalid, source + ": kind: unsupported kind \"" + kind + "\" (" + known + ")");
        }
        if (auto p = k->parse(o, source); !p) return std::move(p).error().with_kind(ErrorKind::invalid);
        if (!seen.insert(kind + "/" + ns + "/" + name).second) {
            return Error(ErrorKind::invalid, source + ": metadata.name: Duplicate value: \"" + name + "\"");
        }
        owners.push_back(c);
    }
    // 2. Apply all of it in one transaction: any error rolls back.
    auto tx = CORRAL_TRY(store_.begin());
    json results = json::array();
    for (size_t i = 0; i < objects.size(); ++i) {
        std::string line = CORRAL_TRY(owners[i]->apply(objects[i], "objects[" + std::to_string(i) + "]"));
        results.push_back(line);
    }
    CORRAL_TRY(tx.commit());
    dirty_ = true;
    return json{{"results", results}};
}

Result<json> Controller::op_delete(const json &req) {
    const KindInfo *k = CORRAL_TRY(request_kind(req, "delete"));
    std::string ns = k->namespaced ? req_string(req, "namespace", "default") : "";
    std::string name = CORRAL_TRY(required_string(req, "name"));
    KindController *c = controller_for(k->kind);
    auto obj = CORRAL_TRY(store_.get_object(k->kind, ns, name));
    // Deleting an object that is already going is no error (kubectl: "deleted").
    if (!obj) {
        for (const auto &l : c->lingering(ns))
            if (l.name == name) return json{{"result", k->qualified() + " \"" + name + "\" deleted"}};
        return k->not_found(name);
    }
    CORRAL_TRY(c->remove(*obj));
    dirty_ = true;
    return json{{"result", k->qualified() + " \"" + name + "\" deleted"}};
}

// --- get / describe ----------------------------------------------------------------

Result<json> Controller::op_get(const json &req) {
    const KindInfo *k = CORRAL_TRY(request_kind(req, "get"));
    KindController *c = controller_for(k->kind);
    std::string ns = k->namespaced ? req_string(req, "namespace") : "";
    std::string name = req_string(req, "name");
    json items = json::array();
    if (!name.empty()) {
        std::string one_ns = k->namespaced && ns.empty() ? "default" : ns;
        auto obj = CORRAL_TRY(store_.get_object(k->kind, one_ns, name));
        if (!obj)
            for (const auto &l : c->lingering(one_ns))
                if (l.name == name) obj = l;
        if (!obj) return k->not_found(name);
        items.push_back(c->with_status(*obj));
        return json{{"items", items}};
    }
    // From the store and memory only: serve never waits for a node here.
    for (const auto &o : CORRAL_TRY(store_.list_objects(k->kind, ns))) items.push_back(c->with_status(o));
    for (const auto &l : c->lingering(ns)) items.push_back(c->with_status(l));
    return json{{"items", items}};
}

Result<json> Controller::op_describe(const json &req) {
    const KindInfo *k = CORRAL_TRY(request_kind(req, "describe"));
    KindController *c = controller_for(k->kind);
    std::string ns = k->namespaced ? req_string(req, "namespace", "default") : "";
    std::string name = CORRAL_TRY(required_string(req, "name"));
    auto obj = CORRAL_TRY(store_.get_object(k->kind, ns, name));
    if (!obj) return k->not_found(name);
    json out = CORRAL_TRY(c->describe_extra(*obj));
    out["object"] = c->with_status(*obj);
    json events = json::array();
    for (const auto &e : CORRAL_TRY(store_.events(ns, k->event_object(name)))) events.push_back(event_json(e));
    out["events"] = events;
    return out;
}

Result<json> Controller::op_events(const json &req) {
    json events = json::array();
    for (const auto &e : CORRAL_TRY(store_.events(req_string(req, "namespace"), req_string(req, "object"))))
        events.push_back(event_json(e));
    return json{{"events", events}};
}

// --- scale / rollout --------------------------------------------------------------

Result<json> Controller::op_scale(const json &req) {
    std::string ns = req_string(req, "namespace", "default");
    std::string name = CORRAL_TRY(required_string(req, "name"));
    const json &replicas = field(req, "replicas");
    if (!replicas.is_number_integer() || replicas.get<int64_t>() < 0)
        return Error(ErrorKind::invalid, "scale: replicas must be a non-negative integer");
    auto obj = CORRAL_TRY(store_.get_object("Deployment", ns, name));
    if (!obj) return deployment_kind().not_found(name);
    if (obj->object["spec"]["replicas"] == replicas) return json{{"result", deployment_kind().display(name) + " scaled"}};
    obj->object["spec"]["replicas"] = replicas;
    obj->generation += 1;
    CORRAL_TRY(store_.put_object(*obj));
    dirty_ = true;
    return json{{"result", deployment_kind().display(name) + " scaled"}};
}

Result<json> Controller::op_rollout_history(const json &req) {
    std::string ns = req_string(req, "namespace", "default");
    std::string name = CORRAL_TRY(required_string(req, "name"));
    auto obj = CORRAL_TRY(store_.get_object("Deployment", ns, name));
    if (!obj) return deployment_kind().not_found(name);
    json revs = json::array();
    for (const auto &r : CORRAL_TRY(store_.revisions(ns, name))) {
        revs.push_back({{"revision", r.revision},
                        {"template_hash", r.template_hash},
                        {"images", images_of(r.template_)},
                        {"change_cause", str_field(field(field(r.template_, "metadata"), "annotations"),
                                                   "kubernetes.io/change-cause")}});
    }
    return json{{"revisions", revs}};
}

// Kubernetes' rollback: the template of the chosen revision becomes the
// deployment's template again, and that revision becomes the newest.
Result<json> Controller::op_rollout_undo(const json &req) {
    std::string ns = req_string(req, "namespace", "default");
    std::string name = CORRAL_TRY(required_string(req, "name"));
    int64_t to = field(req, "to_revision").is_number_integer() ? req["to_revision"].get<int64_t>() : 0;
    auto obj = CORRAL_TRY(store_.get_object("Deployment", ns, name));
    if (!obj) return deployment_kind().not_found(name);
    auto revs = CORRAL_TRY(store_.revisions(ns, name));
    std::string cur_text = str_field(field(field(obj->object, "metadata"), "annotations"), revision_annotation);
    int64_t current = cur_text.empty() ? 0 : std::atoll(cur_text.c_str());
    const StoredRevision *target = nullptr;
    for (const auto &r : revs) {
        if (to > 0 ? r.revision == to : (r.revision < current && (!target || r.revision > target->revision)))
            target = &r;
    }
    if (!target) {
        if (to > 0) return Error(ErrorKind::not_found, "unable to find specified revision " + std::to_string(to) + " in history");
        return Error(ErrorKind::not_found, "no rollout history found for deployment \"" + name + "\"");
    }
    if (target->revision == current) {
        return json{{"result", deployment_kind().display(name) + " skipped rollback (current template already matches revision " +
                                   std::to_string(current) + ")"}};
    }
    json updated = obj->object;
    updated["spec"]["template"] = target->template_;
    // Validate as an apply would: the stored template came from a valid
    // deployment, but the parser is the one authority.
    Deployment d = CORRAL_TRY(deployment_from_json(for_parser(updated), "rollback of " + name));
    auto tx = CORRAL_TRY(store_.begin());
    CORRAL_TRY(ensure_revision(ns, name, updated["spec"]["template"], template_hash(d.spec.template_), true, updated));
    obj->generation += 1;
    obj->object = std::move(updated);
    CORRAL_TRY(store_.put_object(*obj));
    CORRAL_TRY(tx.commit());
    event("Normal", "DeploymentRollback", ns, "deployment/" + name,
          "Rolled back deployment \"" + name + "\" to revision " + std::to_string(target->revision));
    dirty_ = true;
    return json{{"result", deployment_kind().display(name) + " rolled back"}};
}

// --- logs / exec: proxied to the pod's node ---------------------------------------

// The request, as `op`, to the agent of the node the pod is on; its answer
// without "ok", with "node" naming that node.
Result<json> Controller::call_pod_node(const json &req, const char *op) {
    std::string ns = req_string(req, "namespace", "default");
    std::string name = CORRAL_TRY(required_string(req, "name"));
    NodeHandle *node = CORRAL_TRY(node_of_pod(ns, name));
    json r = req;
    r["op"] = op;
    r["namespace"] = ns;
    json resp = CORRAL_TRY(node->call(r));
    resp.erase("ok");
    resp["node"] = node->name();
    return resp;
}

Result<json> Controller::op_logs(const json &req) { return call_pod_node(req, "logs"); }

Result<json> Controller::op_exec_target(const json &req) { return call_pod_node(req, "exec_target"); }

} // namespace corral::herd
