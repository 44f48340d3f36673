// herd/status.cpp — PodStatus to and from Kubernetes-shaped JSON.
//
// Empty strings and unset states are left out, as the API server's
// `omitempty` does, so `herd get pod -o json` looks like kubectl's. Reading
// is strict about types (a wrong type names its path) but lets unknown keys
// pass: status is written by our own agent, and an agent one version newer
// may report a field (qosClass, podIPs) this reader does not know yet.
#include "herd/status.hpp"

#include <ctime>

namespace corral::herd {

namespace {

void put(json &j, const char *key, const std::string &value) {
    if (!value.empty()) j[key] = value;
}

json state_to_json(const ContainerState &s) {
    json j = json::object();
    if (s.waiting) {
        json w = json::object();
        put(w, "reason", s.waiting->reason);
        put(w, "message", s.waiting->message);
        j["waiting"] = w;
    }
    if (s.running) {
        json r = json::object();
        put(r, "startedAt", s.running->started_at);
        j["running"] = r;
    }
    if (s.terminated) {
        const auto &t = *s.terminated;
        json tj = {{"exitCode", t.exit_code}};
        if (t.signal) tj["signal"] = t.signal;
        put(tj, "reason", t.reason);
        put(tj, "message", t.message);
        put(tj, "startedAt", t.started_at);
        put(tj, "finishedAt", t.finished_at);
        put(tj, "containerID", t.container_id);
        j["terminated"] = tj;
    }
    return j;
}

// Typed reads of a status object; a missing or null key keeps the default.
class Reader {
public:
    Reader(const json &j, std::string path) : j_(j), path_(std::move(path)) {}

    Status check_object() const {
        if (!j_.is_object()) return error(path_, "expected object");
        return ok();
    }
    const json *get(const char *key) const {
        auto it = j_.find(key);
        return it == j_.end() || it->is_null() ? nullptr : &*it;
    }
    std::string path(const char *key) const { return path_.empty() ? key : path_ + "." + key; }

    Status string(const char *key, std::string &out) const {
        const json *v = get(key);
        if (!v) return ok();
        if (!v->is_string()) return error(path(key), "expected string");
        out = v->get<std::string>();
        return ok();
    }
    Status integer(const char *key, int &out) const {
        const json *v = get(key);
        if (!v) return ok();
        if (!v->is_number_integer()) return error(path(key), "expected integer");
        out = v->get<int>();
        return ok();
    }
    Status boolean(const char *key, bool &out) const {
        const json *v = get(key);
        if (!v) return ok();
        if (!v->is_boolean()) return error(path(key), "expected boolean");
        out = v->get<bool>();
        return ok();
    }

    static Error error(const std::string &path, const std::string &what) {
        return Error("pod status: " + path + ": " + what, 0, path);
    }

private:
    const json &j_;
    std::string path_;
};

Result<ContainerState> state_from_json(const json *j, const std::string &path) {
    ContainerState s;
    if (!j) return s;
    Reader r(*j, path);
    CORRAL_TRY(r.check_object());
    if (const json *w = r.get("waiting")) {
        Reader wr(*w, r.path("waiting"));
        CORRAL_TRY(wr.check_object());
        ContainerStateWaiting v;
        CORRAL_TRY(wr.string("reason", v.reason));
        CORRAL_TRY(wr.string("message", v.message));
        s.waiting = v;
    }
    if (const json *run = r.get("running")) {
        Reader rr(*run, r.path("running"));
        CORRAL_TRY(rr.check_object());
        ContainerStateRunning v;
        CORRAL_TRY(rr.string("startedAt", v.started_at));
        s.running = v;
    }
    if (const json *t = r.get("terminated")) {
        Reader tr(*t, r.path("terminated"));
        CORRAL_TRY(tr.check_object());
        ContainerStateTerminated v;
        CORRAL_TRY(tr.integer("exitCode", v.exit_code));
        CORRAL_TRY(tr.integer("signal", v.signal));
        CORRAL_TRY(tr.string("reason", v.reason));
        CORRAL_TRY(tr.string("message", v.message));
        CORRAL_TRY(tr.string("startedAt", v.started_at));
        CORRAL_TRY(tr.string("finishedAt", v.finished_at));
        CORRAL_TRY(tr.string("containerID", v.container_id));
        s.terminated = v;
    }
    return s;
}

} // namespace

bool PodStatus::ready() const {
    for (const auto &c : conditions)
        if (c.type == "Ready") return c.status == "True";
    return false;
}

json to_json(const PodStatus &s) {
    json j = {{"phase", s.phase}};
    put(j, "reason", s.reason);
    put(j, "message", s.message);
    put(j, "hostIP", s.host_ip);
    put(j, "podIP", s.pod_ip);
    put(j, "startTime", s.start_time);
    if (!s.conditions.empty()) {
        j["conditions"] = json::array();
        for (const auto &c : s.conditions) {
            json cj = {{"type", c.type}, {"status", c.status}};
            put(cj, "reason", c.reason);
            put(cj, "message", c.message);
            put(cj, "lastTransitionTime", c.last_transition_time);
            j["conditions"].push_back(cj);
        }
    }
    if (!s.container_statuses.empty()) {
        j["containerStatuses"] = json::array();
        for (const auto &c : s.container_statuses) {
            json cj = {{"name", c.name},
                       {"image", c.image},
                       {"ready", c.ready},
                       {"started", c.started},
                       {"restartCount", c.restart_count},
                       {"state", state_to_json(c.state)},
                       {"lastState", state_to_json(c.last_state)}};
            put(cj, "containerID", c.container_id);
            j["containerStatuses"].push_back(cj);
        }
    }
    return j;
}

Result<PodStatus> pod_status_from_json(const json &j) {
    PodStatus s;
    Reader r(j, "");
    CORRAL_TRY(r.check_object());
    CORRAL_TRY(r.string("phase", s.phase));
    CORRAL_TRY(r.string("reason", s.reason));
    CORRAL_TRY(r.string("message", s.message));
    CORRAL_TRY(r.string("hostIP", s.host_ip));
    CORRAL_TRY(r.string("podIP", s.pod_ip));
    CORRAL_TRY(r.string("startTime", s.start_time));
    if (const json *conds = r.get("conditions")) {
        if (!conds->is_array()) return Reader::error("conditions", "expected array");
        for (size_t i = 0; i < conds->size(); ++i) {
            Reader cr((*conds)[i], "conditions[" + std::to_string(i) + "]");
            CORRAL_TRY(cr.check_object());
            PodCondition c;
            CORRAL_TRY(cr.string("type", c.type));
            CORRAL_TRY(cr.string("status", c.status));
            CORRAL_TRY(cr.string("reason", c.reason));
            CORRAL_TRY(cr.string("message", c.message));
            CORRAL_TRY(cr.string("lastTransitionTime", c.last_transition_time));
            s.conditions.push_back(c);
        }
    }
    if (const json *statuses = r.get("containerStatuses")) {
        if (!statuses->is_array()) return Reader::error("containerStatuses", "expected array");
        for (size_t i = 0; i < statuses->size(); ++i) {
            std::string path = "containerStatuses[" + std::to_string(i) + "]";
            Reader cr((*statuses)[i], path);
            CORRAL_TRY(cr.check_object());
            ContainerStatus c;
            CORRAL_TRY(cr.string("name", c.name));
            CORRAL_TRY(cr.string("image", c.image));
            CORRAL_TRY(cr.string("containerID", c.container_id));
            CORRAL_TRY(cr.boolean("ready", c.ready));
            CORRAL_TRY(cr.boolean("started", c.started));
            CORRAL_TRY(cr.integer("restartCount", c.restart_count));
            c.state = CORRAL_TRY(state_from_json(cr.get("state"), cr.path("state")));
            c.last_state = CORRAL_TRY(state_from_json(cr.get("lastState"), cr.path("lastState")));
            s.container_statuses.push_back(c);
        }
    }
    return s;
}

std::string rfc3339(int64_t unix_seconds) {
    std::time_t t = unix_seconds < 0 ? std::time(nullptr) : static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::optional<int64_t> parse_rfc3339(const std::string &text) {
    std::tm tm{};
    if (text.size() < 19 || !::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return std::nullopt;
    return static_cast<int64_t>(::timegm(&tm));
}

} // namespace corral::herd
