// herd/serve.cpp — the controller of `herd serve` (see serve.hpp):
// construction, the request dispatch and the order of one sync.
//
// Order of one sync (Controller::sync), as a kubelet + controller manager
// would do it, one KindController after the other (kind_controller.hpp):
//   1. nodes        list_pods and ping on every node: statuses, the agent's
//                   events, allocatable, last contact (controller_node.cpp)
//   2. deployments  keep each Deployment's pods (creating/deleting Pod
//                   objects in the Store), rolling over with maxSurge /
//                   maxUnavailable, then compute its status
//                   (controller_deployment.cpp)
//   3. pods         every Pod object without a node is scheduled
//                   (scheduler.hpp) or marked Unschedulable; every pod not yet
//                   on its node is sent there (apply_pod is idempotent by uid,
//                   so a restarted serve re-sends nothing new); pods a node
//                   runs that no object wants are deleted (controller_pod.cpp)
#include "herd/serve.hpp"

#include "herd/serve_internal.hpp"

#include <ctime>

namespace corral::herd {

using namespace serve_detail;

std::unique_ptr<KindController> make_node_controller(Controller &);
std::unique_ptr<KindController> make_deployment_controller(Controller &);
std::unique_ptr<KindController> make_pod_controller(Controller &);

// --- construction and helpers ----------------------------------------------------

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
    // The controllers, in sync order: what the nodes run is observed before
    // the workloads are reconciled against it.
    controllers_.push_back(make_node_controller(*this));
    controllers_.push_back(make_deployment_controller(*this));
    controllers_.push_back(make_pod_controller(*this));
    register_nodes();
}

KindController *Controller::controller_for(const std::string &kind) {
    for (auto &c : controllers_)
        if (c->info().kind == kind) return c.get();
    return nullptr;
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

// --- sync ---------------------------------------------------------------------------

void Controller::sync() {
    dirty_ = false;
    for (auto &c : controllers_) c->sync();
}

} // namespace corral::herd
