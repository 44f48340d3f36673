// herd/serve.cpp — the controller of `herd serve` (see serve.hpp).
//
// Order of one sync (Controller::sync), as a kubelet + controller manager
// would do it on one machine:
//   1. observe   list_pods on every node: statuses, and the agent's events
//   2. deployments  keep each Deployment's pods (creating/deleting Pod
//                 objects in the Store), rolling over with maxSurge /
//                 maxUnavailable, then compute its status
//   3. pods      every Pod object not yet on its node is sent there (apply_pod
//                 is idempotent by uid, so a restarted serve re-sends nothing
//                 new: the agent already has it)
//   4. orphans   pods a node runs that no object wants are deleted there
#include "herd/serve.hpp"

#include "herd/manifest.hpp"

#include "common/fs.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>
#include <sstream>

namespace corral::herd {
namespace {

constexpr const char *revision_annotation = "deployment.kubernetes.io/revision";
constexpr const char *hash_label = "pod-template-hash";

std::string iso_time_ms(int64_t ms) {
    time_t t = static_cast<time_t>(ms / 1000);
    tm tmv{};
    gmtime_r(&t, &tmv);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    return buf;
}

std::string key_of(const std::string &ns, const std::string &name) { return ns + "/" + name; }

const json &field(const json &j, const char *name) {
    static const json null_json;
    if (j.is_object()) {
        auto it = j.find(name);
        if (it != j.end()) return *it;
    }
    return null_json;
}

std::string str_field(const json &j, const char *name) {
    const json &v = field(j, name);
    return v.is_string() ? v.get<std::string>() : std::string();
}

// The Ready condition of a pod status (status.hpp shape) is "True".
bool status_ready(const json &status) {
    for (const auto &c : field(status, "conditions")) {
        if (str_field(c, "type") == "Ready") return str_field(c, "status") == "True";
    }
    return false;
}

// An RFC 3339 time as the agent writes it (UTC, "…Z") -> unix ms; 0 if it is not one.
int64_t rfc3339_ms(const std::string &t) { return parse_rfc3339(t).value_or(0) * 1000; }

// When the pod's Ready condition last turned True, in unix ms (0: unknown).
// The agent's time, so minReadySeconds is not restarted by a serve restart.
int64_t ready_transition_ms(const json &status) {
    for (const auto &c : field(status, "conditions"))
        if (str_field(c, "type") == "Ready") return rfc3339_ms(str_field(c, "lastTransitionTime"));
    return 0;
}

int status_restarts(const json &status) {
    int n = 0;
    for (const auto &c : field(status, "containerStatuses")) n += field(c, "restartCount").is_number() ? c["restartCount"].get<int>() : 0;
    return n;
}

// Pods carry the Deployment they belong to the way Kubernetes' pods do: an
// ownerReference to the ReplicaSet "<deployment>-<pod-template-hash>".
// Returns the deployment name, "" for a standalone pod.
std::string owner_deployment(const json &pod) {
    const json &refs = field(field(pod, "metadata"), "ownerReferences");
    std::string hash = str_field(field(field(pod, "metadata"), "labels"), hash_label);
    for (const auto &r : refs) {
        std::string rs = str_field(r, "name");
        if (str_field(r, "kind") == "ReplicaSet" && !hash.empty() && rs.size() > hash.size() + 1 &&
            rs.compare(rs.size() - hash.size() - 1, std::string::npos, "-" + hash) == 0) {
            return rs.substr(0, rs.size() - hash.size() - 1);
        }
    }
    return "";
}

std::string pod_hash(const json &pod) { return str_field(field(field(pod, "metadata"), "labels"), hash_label); }

// What the agent gets: the Pod as a manifest would give it, with the uid.
// ownerReferences and nodeName are serve's bookkeeping, not the node's.
json for_parser(json obj);
json pod_for_agent(const json &pod) { return for_parser(pod); }

// The object as the manifest parser accepts it: without the fields only
// serve writes (the parser is strict, like the API server's input).
json for_parser(json obj) {
    if (obj.contains("metadata") && obj["metadata"].is_object()) {
        obj["metadata"].erase("ownerReferences");
        obj["metadata"].erase("generation");
        obj["metadata"].erase("deletionTimestamp");
    }
    if (obj.contains("spec") && obj["spec"].is_object()) obj["spec"].erase("nodeName");
    obj.erase("status");
    return obj;
}

json labels_and_annotations(const json &obj, bool drop_revision) {
    json meta = field(obj, "metadata");
    json out = {{"labels", field(meta, "labels").is_object() ? meta["labels"] : json::object()},
                {"annotations", field(meta, "annotations").is_object() ? meta["annotations"] : json::object()}};
    if (drop_revision) out["annotations"].erase(revision_annotation);
    return out;
}

std::string canonical_kind(std::string kind) {
    std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return std::tolower(c); });
    if (kind == "pod" || kind == "pods" || kind == "po") return "Pod";
    if (kind == "deployment" || kind == "deployments" || kind == "deploy" || kind == "deployment.apps" ||
        kind == "deployments.apps")
        return "Deployment";
    if (kind == "node" || kind == "nodes" || kind == "no") return "Node";
    return "";
}

// kubectl's way of naming an object in messages: "deployment.apps/web", "pod/x".
std::string display(const std::string &kind, const std::string &name) {
    return (kind == "Deployment" ? "deployment.apps/" : "pod/") + name;
}
std::string plural(const std::string &kind) { return kind == "Deployment" ? "deployments.apps" : "pods"; }

Error not_found(const std::string &kind, const std::string &name) {
    return Error(ErrorKind::not_found, plural(kind) + " \"" + name + "\" not found");
}

std::string req_string(const json &req, const char *name, const std::string &def = "") {
    const json &v = field(req, name);
    return v.is_string() ? v.get<std::string>() : def;
}

Result<std::string> required_string(const json &req, const char *name) {
    std::string v = req_string(req, name);
    if (v.empty()) return Error(ErrorKind::invalid, std::string("request: missing \"") + name + "\"");
    return v;
}

std::vector<std::string> images_of(const json &template_json) {
    std::vector<std::string> out;
    for (const auto &c : field(field(template_json, "spec"), "containers")) out.push_back(str_field(c, "image"));
    return out;
}

} // namespace

// --- NodeHandle ----------------------------------------------------------------

Status NodeHandle::connect() {
    if (client_) return ok();
    auto c = connect_();
    if (!c) {
        Error e = std::move(c).error().context("node " + name_);
        // Whatever the cause, the node cannot be reached.
        if (!e.is(ErrorKind::unavailable)) e.with_kind(ErrorKind::transport);
        return e;
    }
    client_ = std::move(*c);
    return ok();
}

void NodeHandle::fail_all(Error e) {
    client_.reset();
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto &p : pending) p.done(Error(e));
}

void NodeHandle::deliver(Result<std::string> line) {
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    Result<json> r = line ? parse_response_line(*line, "node " + name_)
                          : Result<json>(line.error().is(ErrorKind::transport)
                                             ? std::move(line).error().context("node " + name_)
                                             : Error(ErrorKind::transport, "node " + name_ + ": answer too long"));
    bool broken = !r && r.error().is(ErrorKind::transport);
    Error copy = broken ? r.error() : Error();
    if (!r && !broken) r.error().context("node " + name_);
    p.done(std::move(r));
    if (broken) fail_all(std::move(copy));
}

void NodeHandle::submit(const json &request, Done done) {
    if (auto st = connect(); !st) return done(std::move(st).error());
    LineChannel *ch = client_->channel();
    if (!ch) return done(call(request));  // a client that answers at once
    ch->queue_line(to_line(request));
    pending_.push_back({std::move(done), deadline_in(timeout_)});
    if (auto st = ch->write_available(); !st) fail_all(std::move(st).error().context("node " + name_));
}

size_t NodeHandle::add_poll_fds(std::vector<pollfd> &fds) {
    LineChannel *ch = client_ ? client_->channel() : nullptr;
    if (!ch || pending_.empty()) return 0;
    fds.push_back({ch->in_fd(), POLLIN, 0});
    if (!ch->wants_write()) return 1;
    fds.push_back({ch->out_fd(), POLLOUT, 0});
    return 2;
}

void NodeHandle::pump(const pollfd *mine, size_t n) {
    LineChannel *ch = client_ ? client_->channel() : nullptr;
    if (!ch || n == 0) return;
    short rev = 0;
    for (size_t i = 0; i < n; ++i) rev |= mine[i].revents;
    if (rev & POLLOUT) {
        if (auto st = ch->write_available(); !st) return fail_all(std::move(st).error().context("node " + name_));
    }
    if (!(rev & (POLLIN | POLLHUP | POLLERR))) return;
    if (auto st = ch->read_available(); !st) return fail_all(std::move(st).error().context("node " + name_));
    // Callbacks may submit more: take one answer at a time.
    while (client_ && !pending_.empty()) {
        auto line = client_->channel()->next_line();
        if (!line) break;
        deliver(std::move(*line));
    }
    if (client_ && client_->channel()->eof() && !pending_.empty())
        fail_all(Error(ErrorKind::transport, "node " + name_ + ": the agent closed the connection"));
}

void NodeHandle::expire(Deadline now) {
    if (!pending_.empty() && pending_.front().deadline <= now)
        fail_all(Error(ErrorKind::transport, "node " + name_ + ": no answer within " +
                                                 std::to_string(timeout_.count() / 1000) + " s"));
}

std::optional<Deadline> NodeHandle::next_deadline() const {
    if (pending_.empty()) return std::nullopt;
    return pending_.front().deadline;
}

Result<json> NodeHandle::call(const json &request) {
    // Answers to requests in flight come first, in order.
    while (client_ && client_->channel() && !pending_.empty())
        deliver(client_->channel()->receive_line(pending_.front().deadline));
    CORRAL_TRY(connect());
    auto r = client_->call(request);
    if (!r) {
        // An {"ok": false} answer keeps the connection (over ssh a new one
        // would be a new session); only a broken channel is dropped, and
        // the next call connects again.
        if (r.error().is(ErrorKind::transport)) client_.reset();
        return std::move(r).error().context("node " + name_);
    }
    return r;
}

// --- Controller: construction and helpers ----------------------------------------

Controller::Controller(Store store, std::vector<NodeHandle> nodes, ControllerOptions opts)
    : store_(std::move(store)), nodes_(std::move(nodes)), opts_(std::move(opts)) {
    if (!opts_.clock_ms) {
        opts_.clock_ms = [] {
            timespec ts{};
            clock_gettime(CLOCK_REALTIME, &ts);
            return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
        };
    }
    rng_.seed(opts_.seed ? opts_.seed : std::random_device{}());
    for (auto &n : nodes_) n.created = now_ms() / 1000;
}

std::string Controller::new_uid() {
    // A random (version 4) UUID, as the API server assigns.
    std::uniform_int_distribution<int> d(0, 15);
    const char *hex = "0123456789abcdef";
    std::string s = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
    for (auto &c : s) {
        if (c == 'x') c = hex[d(rng_)];
        else if (c == 'y') c = hex[8 + d(rng_) % 4];
    }
    return s;
}

std::string Controller::random_suffix(size_t n) {
    // Kubernetes' alphabet for generated names: no vowels (no words), no
    // look-alikes (0/o, 1/l/i).
    static constexpr char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    std::uniform_int_distribution<size_t> d(0, sizeof alphabet - 2);
    std::string s;
    for (size_t i = 0; i < n; ++i) s += alphabet[d(rng_)];
    return s;
}

void Controller::event(const std::string &type, const std::string &reason, const std::string &ns,
                       const std::string &object, const std::string &message) {
    StoredEvent e;
    e.first_time = e.last_time = now_ms() / 1000;
    e.type = type;
    e.reason = reason;
    e.namespace_ = ns;
    e.object = object;
    e.message = message;
    auto st = store_.record_event(e);
    if (!st) opts_.log.warn("record event: " + st.error().message());
    opts_.log.debug("event " + type + " " + reason + " " + object + ": " + message);
}

NodeHandle *Controller::node_named(const std::string &name) {
    for (auto &n : nodes_)
        if (n.name() == name) return &n;
    return nullptr;
}

NodeHandle *Controller::pick_node(const json &pod_json) {
    // The scheduler of one node: the first reachable node whose labels
    // satisfy the nodeSelector (nodes carry kubernetes.io/hostname).
    const json &sel = field(field(pod_json, "spec"), "nodeSelector");
    for (auto &n : nodes_) {
        if (!n.reachable) continue;
        bool fits = true;
        if (sel.is_object()) {
            for (auto it = sel.begin(); it != sel.end(); ++it) {
                if (it.key() == "kubernetes.io/hostname" && it.value() == n.name()) continue;
                if (it.key() == "kubernetes.io/os" && it.value() == "linux") continue;
                if (it.key() == "kubernetes.io/arch" && it.value() == "amd64") continue;
                fits = false;
            }
        }
        if (fits) return &n;
    }
    return nullptr;
}

// --- the API ---------------------------------------------------------------------

json Controller::handle_line(std::string_view line) {
    auto req = parse_request_line(line, serve_ops());
    if (!req) return error_response(req.error());
    return dispatch(*req);
}

json Controller::handle(const json &unchecked) {
    auto checked = check_request(unchecked, serve_ops());
    if (!checked) return error_response(checked.error());
    return dispatch(*checked);
}

// A request checked against serve_ops(): its arguments have their types.
json Controller::dispatch(const json &request) {
    std::string op = req_string(request, "op");
    Result<json> r = Error(ErrorKind::invalid, "unknown op \"" + op + "\"");
    try {
        if (op == "apply") r = op_apply(request);
        else if (op == "delete") r = op_delete(request);
        else if (op == "get") r = op_get(request);
        else if (op == "describe") r = op_describe(request);
        else if (op == "scale") r = op_scale(request);
        else if (op == "rollout_undo") r = op_rollout_undo(request);
        else if (op == "rollout_history") r = op_rollout_history(request);
        else if (op == "events") r = op_events(request);
        else if (op == "logs") r = op_logs(request);
        else if (op == "exec_target") r = op_exec_target(request);
        else if (op == "ping") r = json{{"node", nodes_.empty() ? "" : nodes_[0].name()}};
    } catch (const std::exception &e) {
        // nlohmann throws on a wrongly typed request field: a bad request,
        // not a reason for serve to die.
        r = Error(ErrorKind::invalid, "bad request: " + std::string(e.what()));
    }
    if (!r) return error_response(r.error());
    json out = r->is_object() ? std::move(*r) : json::object();
    out["ok"] = true;
    return out;
}

Result<json> Controller::op_apply(const json &req) {
    const json &objects = field(req, "objects");
    if (!objects.is_array()) return Error(ErrorKind::invalid, "apply: \"objects\" must be a list");
    // 1. Validate everything before touching the store.
    std::set<std::string> seen;
    for (size_t i = 0; i < objects.size(); ++i) {
        const json &o = objects[i];
        std::string kind = str_field(o, "kind");
        std::string name = str_field(field(o, "metadata"), "name");
        std::string ns = str_field(field(o, "metadata"), "namespace");
        if (ns.empty()) ns = "default";
        std::string source = "objects[" + std::to_string(i) + "] (" + kind + " " + name + ")";
        if (kind == "Pod") {
            if (auto p = pod_from_json(o, source); !p) return std::move(p).error().with_kind(ErrorKind::invalid);
        } else if (kind == "Deployment") {
            if (auto d = deployment_from_json(o, source); !d) return std::move(d).error().with_kind(ErrorKind::invalid);
        } else {
            return Error(ErrorKind::invalid, source + ": kind: unsupported kind \"" + kind + "\" (Pod, Deployment)");
        }
        if (!seen.insert(kind + "/" + ns + "/" + name).second) {
            return Error(ErrorKind::invalid, source + ": metadata.name: Duplicate value: \"" + name + "\"");
        }
    }
    // 2. Apply all of it in one transaction: any error rolls back.
    auto tx = CORRAL_TRY(store_.begin());
    json results = json::array();
    for (size_t i = 0; i < objects.size(); ++i) {
        const json &o = objects[i];
        std::string source = "objects[" + std::to_string(i) + "]";
        std::string kind = str_field(o, "kind");
        std::string line = kind == "Pod" ? CORRAL_TRY(apply_pod_object(o, source))
                                         : CORRAL_TRY(apply_deployment_object(o, source));
        results.push_back(line);
    }
    CORRAL_TRY(tx.commit());
    dirty_ = true;
    return json{{"results", results}};
}

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
        if (meta == labels_and_annotations(stored, false)) return display("Pod", name) + " unchanged";
        stored["metadata"]["labels"] = meta["labels"];
        stored["metadata"]["annotations"] = meta["annotations"];
        existing->object = std::move(stored);
        existing->generation += 1;
        CORRAL_TRY(store_.put_object(*existing));
        return display("Pod", name) + " configured";
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
    return display("Pod", name) + " created";
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
            return display("Deployment", name) + " unchanged";
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
        return display("Deployment", name) + " configured";
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
    return display("Deployment", name) + " created";
}

Result<json> Controller::op_delete(const json &req) {
    std::string kind = canonical_kind(req_string(req, "kind"));
    std::string ns = req_string(req, "namespace", "default");
    std::string name = CORRAL_TRY(required_string(req, "name"));
    if (kind != "Pod" && kind != "Deployment") return Error(ErrorKind::invalid, "delete: unsupported kind \"" + req_string(req, "kind") + "\"");
    auto obj = CORRAL_TRY(store_.get_object(kind, ns, name));
    // Deleting a pod that is already terminating is no error (kubectl: "deleted").
    if (!obj && kind == "Pod" && terminating_pod(ns, name)) return json{{"result", "pod \"" + name + "\" deleted"}};
    if (!obj) return not_found(kind, name);
    if (kind == "Pod") {
        CORRAL_TRY(delete_pod_now(*obj, "deleted"));
    } else {
        // Foreground-free cascading delete: the deployment and its pods go
        // at once; the agent stops the pods with their grace period.
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
    }
    dirty_ = true;
    return json{{"result", (kind == "Deployment" ? "deployment.apps \"" : "pod \"") + name + "\" deleted"}};
}

// Removes a pod from the desired state and asks its node to stop it. The
// node is asked at once; if it cannot be reached, orphan cleanup finishes
// the job when it can.
Status Controller::delete_pod_now(const StoredObject &pod, const std::string &why) {
    CORRAL_TRY(store_.delete_object("Pod", pod.namespace_, pod.name));
    auto node_name = CORRAL_TRY(store_.pod_node(pod.uid));
    CORRAL_TRY(store_.unassign_pod(pod.uid));
    ready_since_ms_.erase(pod.uid);
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

// --- get / describe ----------------------------------------------------------------

json Controller::pod_with_status(const StoredObject &pod) const {
    json out = pod.object;
    auto it = observed_.find(pod.uid);
    if (it != observed_.end()) {
        out["status"] = it->second.status;
        if (!out["status"].is_object()) out["status"] = json::object();
        if (it->second.deleting && !out["metadata"].contains("deletionTimestamp"))
            out["metadata"]["deletionTimestamp"] = iso_time_ms(now_ms());
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

json Controller::node_object(const NodeHandle &n) const {
    // Ready while the agent answered list_pods within the grace period; after
    // it, Unknown (kubectl: NotReady), as the node lifecycle controller says
    // of a kubelet that stopped posting its status.
    bool fresh = n.reachable && now_ms() - n.last_heartbeat * 1000 <= opts_.node_grace_ms;
    std::string status = fresh ? "True" : (n.last_heartbeat ? "Unknown" : "False");
    std::string why = n.reachable ? "no answer for " + std::to_string((now_ms() / 1000 - n.last_heartbeat)) + " s"
                                  : n.last_error;
    json cond = {{"type", "Ready"},
                 {"status", status},
                 {"reason", fresh ? "KubeletReady" : "NodeStatusUnknown"},
                 {"message", fresh ? "herd agent is posting ready status" : "herd agent does not answer: " + why},
                 {"lastHeartbeatTime", n.last_heartbeat ? iso_time_ms(n.last_heartbeat * 1000) : ""}};
    return {{"apiVersion", "v1"},
            {"kind", "Node"},
            {"metadata",
             {{"name", n.name()},
              {"creationTimestamp", iso_time_ms(n.created * 1000)},
              {"labels", {{"kubernetes.io/hostname", n.name()}, {"kubernetes.io/os", "linux"}}}}},
            {"status",
             {{"conditions", json::array({cond})},
              {"addresses", json::array({{{"type", "Hostname"}, {"address", n.name()}}})},
              {"nodeInfo",
               {{"kubeletVersion", str_field(n.last_ping, "version").empty() ? "herd" : "herd-" + str_field(n.last_ping, "version")},
                {"operatingSystem", "linux"},
                {"architecture", "amd64"},
                {"containerRuntimeVersion", "corral"}}},
              {"pods", field(n.last_ping, "pods")}}}};
}

Result<json> Controller::op_get(const json &req) {
    std::string kind = canonical_kind(req_string(req, "kind"));
    std::string ns = req_string(req, "namespace");
    std::string name = req_string(req, "name");
    json items = json::array();
    if (kind == "Node") {
        // From memory: what the node said last (serve never waits for a node).
        for (auto &n : nodes_)
            if (name.empty() || name == n.name()) items.push_back(node_object(n));
        if (!name.empty() && items.empty()) return Error(ErrorKind::not_found, "nodes \"" + name + "\" not found");
        return json{{"items", items}};
    }
    if (kind.empty()) return Error(ErrorKind::invalid, "get: unsupported kind \"" + req_string(req, "kind") + "\" (pods, deployments, nodes)");
    if (!name.empty()) {
        auto obj = CORRAL_TRY(store_.get_object(kind, ns.empty() ? "default" : ns, name));
        const StoredObject *gone = kind == "Pod" && !obj ? terminating_pod(ns.empty() ? "default" : ns, name) : nullptr;
        if (gone) obj = *gone;
        if (!obj) return not_found(kind, name);
        items.push_back(kind == "Pod" ? pod_with_status(*obj) : deployment_with_status(*obj));
        return json{{"items", items}};
    }
    for (const auto &o : CORRAL_TRY(store_.list_objects(kind, ns))) {
        items.push_back(kind == "Pod" ? pod_with_status(o) : deployment_with_status(o));
    }
    if (kind == "Pod") {
        for (const auto &[uid, t] : terminating_)
            if (ns.empty() || t.pod.namespace_ == ns) items.push_back(pod_with_status(t.pod));
    }
    return json{{"items", items}};
}

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
} // namespace

Result<json> Controller::op_describe(const json &req) {
    std::string kind = canonical_kind(req_string(req, "kind"));
    std::string ns = req_string(req, "namespace", "default");
    std::string name = CORRAL_TRY(required_string(req, "name"));
    if (kind != "Pod" && kind != "Deployment") return Error(ErrorKind::invalid, "describe: unsupported kind \"" + req_string(req, "kind") + "\"");
    auto obj = CORRAL_TRY(store_.get_object(kind, ns, name));
    if (!obj) return not_found(kind, name);
    json out = {{"object", kind == "Pod" ? pod_with_status(*obj) : deployment_with_status(*obj)}};
    json events = json::array();
    std::string object = (kind == "Pod" ? "pod/" : "deployment/") + name;
    for (const auto &e : CORRAL_TRY(store_.events(ns, object))) events.push_back(event_json(e));
    out["events"] = events;
    if (kind == "Deployment") {
        json revs = json::array();
        for (const auto &r : CORRAL_TRY(store_.revisions(ns, name)))
            revs.push_back({{"revision", r.revision}, {"template_hash", r.template_hash}, {"images", images_of(r.template_)}});
        out["revisions"] = revs;
    }
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
    if (!obj) return not_found("Deployment", name);
    if (obj->object["spec"]["replicas"] == replicas) return json{{"result", display("Deployment", name) + " scaled"}};
    obj->object["spec"]["replicas"] = replicas;
    obj->generation += 1;
    CORRAL_TRY(store_.put_object(*obj));
    dirty_ = true;
    return json{{"result", display("Deployment", name) + " scaled"}};
}

Result<json> Controller::op_rollout_history(const json &req) {
    std::string ns = req_string(req, "namespace", "default");
    std::string name = CORRAL_TRY(required_string(req, "name"));
    auto obj = CORRAL_TRY(store_.get_object("Deployment", ns, name));
    if (!obj) return not_found("Deployment", name);
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
    if (!obj) return not_found("Deployment", name);
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
        return json{{"result", display("Deployment", name) + " skipped rollback (current template already matches revision " +
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
    return json{{"result", display("Deployment", name) + " rolled back"}};
}

// --- logs / exec: proxied to the pod's node ---------------------------------------

Result<json> Controller::op_logs(const json &req) {
    std::string ns = req_string(req, "namespace", "default");
    std::string name = CORRAL_TRY(required_string(req, "name"));
    auto obj = CORRAL_TRY(store_.get_object("Pod", ns, name));
    if (!obj) return not_found("Pod", name);
    auto node_name = CORRAL_TRY(store_.pod_node(obj->uid));
    NodeHandle *node = node_name ? node_named(*node_name) : nullptr;
    if (!node) return Error(ErrorKind::unavailable, "pod \"" + name + "\" is not scheduled to a node yet");
    json r = req;
    r["op"] = "logs";
    r["namespace"] = ns;
    json resp = CORRAL_TRY(node->call(r));
    resp.erase("ok");
    return resp;
}

Result<json> Controller::op_exec_target(const json &req) {
    std::string ns = req_string(req, "namespace", "default");
    std::string name = CORRAL_TRY(required_string(req, "name"));
    auto obj = CORRAL_TRY(store_.get_object("Pod", ns, name));
    if (!obj) return not_found("Pod", name);
    auto node_name = CORRAL_TRY(store_.pod_node(obj->uid));
    NodeHandle *node = node_name ? node_named(*node_name) : nullptr;
    if (!node) return Error(ErrorKind::unavailable, "pod \"" + name + "\" is not scheduled to a node yet");
    json r = req;
    r["op"] = "exec_target";
    r["namespace"] = ns;
    json resp = CORRAL_TRY(node->call(r));
    resp.erase("ok");
    resp["node"] = node->name();
    return resp;
}


// --- sync ---------------------------------------------------------------------------

void Controller::sync() {
    dirty_ = false;
    observe_nodes();
    auto deployments = store_.list_objects("Deployment");
    if (!deployments) {
        opts_.log.error("sync: " + deployments.error().message());
        return;
    }
    for (const auto &d : *deployments) reconcile_deployment(d);
    reconcile_standalone_pods();
    delete_orphans();
}

// 1. What the nodes run now. A node that does not answer keeps its last
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
        node.submit({{"op", "ping"}}, [this, name](Result<json> r) {
            NodeHandle *n = node_named(name);
            if (n && r) n->last_ping = std::move(*r);
        });
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

// 3. Every Pod object (standalone or a Deployment's) goes to a node once.
void Controller::reconcile_standalone_pods() {
    auto pods = store_.list_objects("Pod");
    if (!pods) {
        opts_.log.error("sync pods: " + pods.error().message());
        return;
    }
    for (const auto &p : *pods) {
        if (observed_.count(p.uid)) continue;
        auto st = send_pod_to_node(p);
        if (!st) opts_.log.warn("pod " + p.name + ": " + st.error().message());
    }
}

Status Controller::send_pod_to_node(const StoredObject &pod) {
    auto assigned = CORRAL_TRY(store_.pod_node(pod.uid));
    NodeHandle *node = assigned ? node_named(*assigned) : pick_node(pod.object);
    if (!node) return assigned ? Error("assigned to unknown node " + *assigned) : Error("no node can run it yet");
    if (!node->reachable) return ok();  // wait for it
    if (!assigned) {
        CORRAL_TRY(store_.assign_pod(pod.uid, node->name()));
        StoredObject bound = pod;
        bound.object["spec"]["nodeName"] = node->name();
        CORRAL_TRY(store_.put_object(bound));
        // (The agent reports the Scheduled event itself.)
    }
    // Until the next list_pods, the pod is on its node and Pending (a
    // placeholder the answer removes if the node refused the pod).
    ObservedPod p;
    p.node = node->name();
    p.uid = pod.uid;
    p.name = pod.name;
    p.namespace_ = pod.namespace_;
    p.labels = field(field(pod.object, "metadata"), "labels");
    p.status = {{"phase", "Pending"}};
    observed_[pod.uid] = std::move(p);
    node->submit({{"op", "apply_pod"}, {"pod", pod_for_agent(pod.object)}},
                 [this, uid = pod.uid, ns = pod.namespace_, name = pod.name](Result<json> r) {
                     if (r) return;
                     event("Warning", "FailedCreate", ns, "pod/" + name, r.error().message());
                     opts_.log.warn("pod " + name + ": " + r.error().message());
                     auto it = observed_.find(uid);
                     if (it != observed_.end() && it->second.status == json{{"phase", "Pending"}}) observed_.erase(it);
                 });
    return ok();
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


// --- the serve process: socket server + controller in one poll loop ----------------

namespace {

std::string local_hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) < 0 || !buf[0]) return "localhost";
    std::string s = buf;
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

// Reads what the client sent and answers every complete line. False when
// the client is gone.
bool serve_client_input(LineChannel &c, Controller &controller, const Logger &log) {
    if (!c.read_available()) return false;
    while (auto line = c.next_line()) {
        json resp;
        if (!*line) resp = error_response(line->error());
        else if ((*line)->find_first_not_of(" \t\r") == std::string::npos) continue;
        else if (auto exec = hand_over_exec(**line, c, controller)) {
            if (*exec) return false;  // the connection is an exec stream now (serve_stream.cpp)
            continue;
        } else resp = controller.handle_line(**line);
        if (log.enabled(LogLevel::debug)) {
            log.debug(std::string("request: ") + (resp.value("ok", false) ? "ok" : "error: " + resp.value("error", "")));
        }
        c.queue_line(to_line(resp));
    }
    return true;
}

} // namespace

Status run_serve(const ServeOptions &opts, int stop_fd) {
    CORRAL_TRY(mkdir_p(opts.state_dir, 0700));
    // One serve per state dir: an exclusive lock held for the lifetime.
    std::string lock_path = path_join(opts.state_dir, "serve.lock");
    UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock) return Error::from_errno(errno, "open", lock_path);
    if (::flock(lock.get(), LOCK_EX | LOCK_NB) < 0) {
        return Error("another herd serve runs with state dir " + opts.state_dir);
    }
    Store store = CORRAL_TRY(Store::open(opts.state_dir));
    std::string node_name = opts.node_name.empty() ? local_hostname() : opts.node_name;
    std::vector<NodeHandle> nodes;
    std::string agent_socket = opts.agent_socket;
    nodes.emplace_back(node_name, [agent_socket] { return connect_agent_socket(agent_socket); });
    ControllerOptions copts;
    copts.log = opts.log;
    copts.node_grace_ms = opts.node_grace_ms;
    Controller controller(std::move(store), std::move(nodes), copts);

    std::string sock_path = path_join(opts.state_dir, "herd.sock");
    UniqueFd listener = CORRAL_TRY(listen_unix(sock_path, "herd serve"));
    opts.log.info("herd serve: listening on " + sock_path + ", node " + node_name + " via " + agent_socket);

    std::vector<std::unique_ptr<LineChannel>> clients;
    auto mono_ms = [] {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
    };
    int64_t next_tick = 0;
    Status result;
    for (;;) {
        int64_t now = mono_ms();
        if (controller.dirty() || now >= next_tick) {
            controller.sync();
            next_tick = mono_ms() + opts.tick_ms;
            now = mono_ms();
        }
        std::vector<pollfd> pfds;
        pfds.push_back({stop_fd, POLLIN, 0});
        pfds.push_back({listener.get(), POLLIN, 0});
        for (auto &c : clients) pfds.push_back({c->in_fd(), short(POLLIN | (c->wants_write() ? POLLOUT : 0)), 0});
        // The nodes' answers come in through the same loop: nothing here
        // waits for a node.
        size_t polled_clients = clients.size(), first_node_fd = pfds.size();
        std::vector<size_t> node_fds;
        int64_t timeout_ms = controller.dirty() ? 0 : std::max<int64_t>(0, next_tick - now);
        for (auto &node : controller.nodes()) {
            node_fds.push_back(node.add_poll_fds(pfds));
            if (auto d = node.next_deadline()) {
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*d - std::chrono::steady_clock::now());
                timeout_ms = std::min<int64_t>(timeout_ms, std::max<int64_t>(0, left.count()));
            }
        }
        int timeout = int(timeout_ms);
        int n = ::poll(pfds.data(), pfds.size(), timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            result = Error::from_errno(errno, "poll");
            break;
        }
        if (pfds[0].revents) break;  // asked to stop
        if (pfds[1].revents & POLLIN) {
            for (;;) {
                int cfd = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0) break;
                clients.push_back(std::make_unique<LineChannel>(UniqueFd(cfd), "herd client", kMaxRequestLine));
            }
        }
        for (size_t i = 0; i < clients.size(); ++i) {
            short rev = i < polled_clients ? pfds[i + 2].revents : 0;
            LineChannel &c = *clients[i];
            bool alive = true;
            if (rev & (POLLIN | POLLHUP | POLLERR)) alive = serve_client_input(c, controller, opts.log);
            if (alive) alive = c.write_available().ok();
            if (alive && c.eof() && !c.wants_write()) alive = false;
            if (!alive) clients[i].reset();
        }
        clients.erase(std::remove(clients.begin(), clients.end(), nullptr), clients.end());
        size_t at = first_node_fd;
        auto &nodes = controller.nodes();
        for (size_t k = 0; k < nodes.size(); ++k) {
            nodes[k].pump(pfds.data() + at, node_fds[k]);
            at += node_fds[k];
        }
        for (auto &node : nodes) node.expire(std::chrono::steady_clock::now());
    }
    ::unlink(sock_path.c_str());
    return result;
}

} // namespace corral::herd
