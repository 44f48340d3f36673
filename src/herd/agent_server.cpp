// herd/agent_server.cpp — the agent's protocol (agent_api.hpp,
// agent_internal.hpp): clients on the socket (and --stdio), request lines
// checked against agent_ops(), and the ops.
#include "herd/agent_internal.hpp"

#include "common/fs.hpp"
#include "herd/node_info.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace corral::herd {

// --- the socket -------------------------------------------------------------
void Agent::Impl::accept_clients() {
    for (;;) {
        int fd = ::accept4(listen_fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        clients.push_back(Client{LineChannel(UniqueFd(fd), "agent client", kMaxRequestLine)});
    }
}

// Answers every complete line the client sent; no line, however
// malformed, does more than get an error answer.
void Agent::Impl::read_client(Client &c) {
    if (!c.ch.read_available()) c.closing = true;
    if (c.ch.eof()) {
        c.closing = true;
        if (c.stdio) stop = true;  // ssh went away: the agent ends, pods stay
    }
    while (auto line = c.ch.next_line()) {
        json resp;
        if (!*line) resp = error_response(line->error());
        else if ((*line)->find_first_not_of(" \t\r") == std::string::npos) continue;
        else if (c.exec) {
            exec_input(c, **line);  // the connection is an exec stream now
            continue;
        } else if (auto req = parse_request_line(**line, agent_ops()); !req) {
            resp = error_response(req.error());
        } else if ((*req)["op"] == "exec") {
            auto r = start_exec(c, *req);
            resp = r ? std::move(*r) : error_response(r.error());
        } else {
            resp = dispatch(*req);
        }
        c.ch.queue_line(to_line(resp));
    }
    if (c.exec && c.closing) c.exec.reset();  // gone mid-command: killed
    flush_client(c);
}

void Agent::Impl::flush_client(Client &c) {
    if (!c.ch.write_available()) c.closing = true;
}

// Per container of each pod (or of the one pod named): CPU usage, memory
// working set and OOM kills, read from its cgroup through corral's cgroup
// library. A container without a cgroup now (not running) reports zeros
// and running: false.
Result<json> Agent::Impl::op_stats(const json &req) {
    std::string ns = req.value("namespace", std::string("default"));
    std::string name = req.value("name", std::string());
    json items = json::array();
    for (const auto &[uid, e] : pods) {
        const auto &meta = e.rec.pod.metadata;
        if (!name.empty() && (meta.namespace_ != ns || meta.name != name)) continue;
        json containers = json::array();
        for (const auto &s : e.containers) {
            json c{{"name", s.name}, {"running", s.pid > 0}, {"cpu_usage_ns", 0},
                   {"memory_working_set_bytes", 0}, {"memory_usage_bytes", 0}, {"oom_kills", 0}};
            if (auto st = runtime.container_stats(e.rec.pod, s.name)) {
                c["cpu_usage_ns"] = st->cpu_usage_ns;
                c["memory_working_set_bytes"] = st->memory_working_set_bytes;
                c["memory_usage_bytes"] = st->memory_usage_bytes;
                c["oom_kills"] = st->oom_kills;
            }
            containers.push_back(std::move(c));
        }
        items.push_back(json{{"namespace", meta.namespace_}, {"name", meta.name}, {"uid", uid},
                             {"containers", std::move(containers)}});
    }
    if (!name.empty() && items.empty())
        return Error(ErrorKind::not_found, "pod " + ns + "/" + name + " not found on this node");
    return json{{"ok", true}, {"timestamp", rfc3339()}, {"pods", std::move(items)}};
}

// One request, checked against agent_ops() first (handle_line: parsed
// and checked), so a handler reads its arguments without type checks.
json Agent::Impl::handle(const json &unchecked) {
    auto checked = check_request(unchecked, agent_ops());
    if (!checked) return error_response(checked.error());
    return dispatch(*checked);
}

json Agent::Impl::handle_line(std::string_view line) {
    auto req = parse_request_line(line, agent_ops());
    if (!req) return error_response(req.error());
    return dispatch(*req);
}

json Agent::Impl::dispatch(const json &req) {
    Result<json> r = Error(ErrorKind::invalid, "unknown op");
    std::string op = req["op"].get<std::string>();
    try {
        r = dispatch_op(op, req);
    } catch (const std::exception &e) {
        // The request was checked; a throw here is our bug, and still
        // no reason for the node's supervisor to die.
        r = Error(ErrorKind::invalid, "bad request: " + std::string(e.what()));
    }
    if (!r) return error_response(r.error());
    return std::move(*r);
}

Result<json> Agent::Impl::dispatch_op(const std::string &op, const json &req) {
    Result<json> r = Error(ErrorKind::invalid, "unknown op \"" + op + "\"");
    if (op == "ping")
        r = json{{"ok", true}, {"node", cfg.node_name}, {"version", "0.1.0"}, {"pods", pods.size()},
                 {"node_info", node_info(cfg.runtime.network.subnet)}};
    else if (op == "apply_pod") r = op_apply(req);
    else if (op == "delete_pod") r = op_delete(req);
    else if (op == "list_pods") r = op_list(req);
    else if (op == "logs") r = op_logs(req);
    else if (op == "exec_target") r = op_exec_target(req);
    else if (op == "stats") r = op_stats(req);
    else if (op == "exec") r = Error(ErrorKind::invalid, "exec needs a connection of its own (a stream)");
    return r;
}

Result<std::pair<PodEntry *, std::string>> Agent::Impl::find_container(const json &req) {
    PodEntry *e = find_pod(req);
    if (!e)
        return Error(ErrorKind::not_found, "pod " + req.value("namespace", std::string("default")) + "/" +
                                               req.value("name", std::string()) + " not found on this node");
    std::string c = req.value("container", std::string());
    const auto &cs = e->rec.pod.spec.containers;
    if (c.empty()) {
        if (cs.size() != 1) {
            std::string names;
            for (const auto &x : cs) names += (names.empty() ? "" : " ") + x.name;
            return Error(ErrorKind::invalid, "a container name must be given for pod " + e->rec.pod.metadata.name +
                         ", choose one of: [" + names + "]");
        }
        c = cs[0].name;
    }
    if (std::none_of(cs.begin(), cs.end(), [&](const Container &x) { return x.name == c; }))
        return Error(ErrorKind::invalid, "container " + c + " is not valid for pod " + e->rec.pod.metadata.name);
    return std::make_pair(e, c);
}

Result<json> Agent::Impl::op_apply(const json &req) {
    auto parsed = pod_from_json(req["pod"], "apply_pod");
    if (!parsed) return std::move(parsed).error().context("apply_pod").with_kind(ErrorKind::invalid);
    Pod pod = std::move(*parsed);
    if (pod.metadata.uid.empty())
        return Error(ErrorKind::invalid, "apply_pod: pod " + pod.metadata.name + ": metadata.uid is not set");
    if (pods.count(pod.metadata.uid)) return json{{"ok", true}, {"changed", false}};
    for (const auto &[uid, e] : pods)
        if (!e.rec.deleting && e.rec.pod.metadata.namespace_ == pod.metadata.namespace_ &&
            e.rec.pod.metadata.name == pod.metadata.name)
            return Error(ErrorKind::already_exists, "apply_pod: pod " + pod.metadata.namespace_ + "/" +
                                                        pod.metadata.name + " already exists with uid " + uid);
    auto backoff_r = backoff_policy(pod.metadata);
    if (!backoff_r)
        return std::move(backoff_r).error().context("apply_pod: pod " + pod.metadata.name).with_kind(ErrorKind::invalid);
    BackoffPolicy backoff = *backoff_r;
    PodEntry e = new_entry(pod, backoff);
    e.infra_retry_at = 0;  // the loop starts it right after this response
    event(pod, "Normal", "Scheduled", "Successfully assigned " + pod.metadata.namespace_ + "/" +
                                          pod.metadata.name + " to " + cfg.node_name);
    std::string uid = pod.metadata.uid;
    pods.emplace(uid, std::move(e));
    return json{{"ok", true}, {"changed", true}};
}

Result<json> Agent::Impl::op_delete(const json &req) {
    PodEntry *e = find_pod(req);
    if (!e) return json{{"ok", true}, {"found", false}};
    int64_t grace = e->rec.pod.spec.termination_grace_period_seconds;
    if (req.contains("grace_seconds") && req["grace_seconds"].is_number_integer())
        grace = std::max<int64_t>(0, req["grace_seconds"].get<int64_t>());
    begin_delete(*e, grace, mono_ms());
    return json{{"ok", true}, {"found", true}};
}

Result<json> Agent::Impl::op_list(const json &req) {
    uint64_t since = 0;
    if (req.contains("since") && req["since"].is_number()) since = req["since"].get<uint64_t>();
    json items = json::array();
    for (const auto &[uid, e] : pods) items.push_back(pod_json(e));
    json evs = json::array();
    for (const auto &ev : events)
        if (ev.seq > since) evs.push_back(to_json(ev));
    return json{{"ok", true}, {"pods", items}, {"events", evs}, {"event_seq", event_seq}};
}

Result<json> Agent::Impl::op_logs(const json &req) {
    auto [e, c] = CORRAL_TRY(find_container(req));
    bool previous = req.value("previous", false);
    std::string path = runtime.log_path(e->rec.pod, c, previous);
    int64_t offset = req.value("offset", int64_t(0));
    int64_t limit = req.value("limit_bytes", int64_t(1 << 20));
    if (limit <= 0 || limit > (16 << 20)) limit = 16 << 20;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) {
            if (previous) return Error(ErrorKind::not_found, "previous terminated container \"" + c + "\" in pod \"" +
                                       e->rec.pod.metadata.name + "\" not found");
            return json{{"ok", true}, {"data", ""}, {"offset", 0}};
        }
        return Error::from_errno(errno, "open log", path);
    }
    struct stat st{};
    ::fstat(fd.get(), &st);
    int64_t size = st.st_size;
    if (offset < 0) offset = std::max<int64_t>(0, size - limit);  // tail
    if (offset > size) offset = 0;                                // rotated (copy-truncate): from the start
    int64_t n = std::min<int64_t>(limit, size - offset);
    std::string data(size_t(std::max<int64_t>(0, n)), '\0');
    ssize_t got = n > 0 ? ::pread(fd.get(), data.data(), size_t(n), offset) : 0;
    if (got < 0) return Error::from_errno(errno, "read log", path);
    data.resize(size_t(got));
    return json{{"ok", true}, {"data", data}, {"offset", offset + got}};
}

Result<json> Agent::Impl::op_exec_target(const json &req) {
    auto [e, c] = CORRAL_TRY(find_container(req));
    return json{{"ok", true},
                {"corral_id", runtime.container_id(e->rec.pod, c)},
                {"corral_root", runtime.config().corral_root},
                {"corral_bin", runtime.config().corral_bin}};
}

} // namespace corral::herd
