// herd/manifest_pod.cpp — v1/Pod: resources, ports, probes, containers,
// tolerations and the pod spec, read strictly and written back as JSON.
#include "herd/manifest.hpp"
#include "herd/manifest_internal.hpp"

#include <algorithm>
#include <set>

namespace corral::herd {
namespace manifest_detail {

// --- resources -------------------------------------------------------------------

// requests or limits: {cpu: "500m", memory: "256Mi"}; a number is a quantity too.
Status parse_resource_list(Fields &parent, std::string_view key, std::optional<int64_t> &cpu,
                           std::optional<int64_t> &memory, std::map<std::string, std::string> &text,
                           const Ctx &ctx) {
    const json *v = parent.get(key);
    if (!v) return ok();
    std::string path = parent.path(key);
    if (!v->is_object()) return type_error(path, "object", *v);
    for (auto &[name, q] : v->items()) {
        std::string qpath = key_path(path, name);
        if (q.is_null()) continue;
        if (name != "cpu" && name != "memory") {
            if (ctx.ignore_unknown) continue;
            return field_error(qpath, "unsupported resource (herd knows cpu and memory)");
        }
        std::string written;
        if (q.is_string()) written = q.get<std::string>();
        else if (q.is_number()) written = q.dump();
        else return type_error(qpath, "quantity (string or number)", q);
        auto parsed = name == "cpu" ? parse_cpu_millis(written) : parse_memory_bytes(written);
        if (!parsed) return field_error(qpath, parsed.error().message());
        (name == "cpu" ? cpu : memory) = *parsed;
        text[name] = written;
    }
    return ok();
}

Result<Resources> parse_resources(const json &v, const std::string &path, const Ctx &ctx) {
    Resources r;
    auto f = CORRAL_TRY(Fields::open(v, path, ctx));
    f.kubernetes_only(kubernetes_only::resources);
    CORRAL_TRY(parse_resource_list(f, "requests", r.cpu_request_millis, r.memory_request_bytes, r.requests_text, ctx));
    CORRAL_TRY(parse_resource_list(f, "limits", r.cpu_limit_millis, r.memory_limit_bytes, r.limits_text, ctx));
    CORRAL_TRY(f.finish());
    // Kubernetes' defaulting: a limit without a request requests the limit.
    if (r.cpu_limit_millis && !r.cpu_request_millis) {
        r.cpu_request_millis = r.cpu_limit_millis;
        r.requests_text["cpu"] = r.limits_text["cpu"];
    }
    if (r.memory_limit_bytes && !r.memory_request_bytes) {
        r.memory_request_bytes = r.memory_limit_bytes;
        r.requests_text["memory"] = r.limits_text["memory"];
    }
    if (r.cpu_limit_millis && *r.cpu_request_millis > *r.cpu_limit_millis)
        return field_error(key_path(path, "requests") + ".cpu",
                           "must be less than or equal to cpu limit of " + r.limits_text["cpu"]);
    if (r.memory_limit_bytes && *r.memory_request_bytes > *r.memory_limit_bytes)
        return field_error(key_path(path, "requests") + ".memory",
                           "must be less than or equal to memory limit of " + r.limits_text["memory"]);
    return r;
}

// --- ports and probes --------------------------------------------------------------

Result<ContainerPort> parse_port(const json &v, const std::string &path, const Ctx &ctx) {
    ContainerPort p;
    auto f = CORRAL_TRY(Fields::open(v, path, ctx));
    CORRAL_TRY(f.string("name", p.name));
    CORRAL_TRY(f.integer("containerPort", p.container_port));
    CORRAL_TRY(f.integer("hostPort", p.host_port));
    CORRAL_TRY(f.string("protocol", p.protocol));
    CORRAL_TRY(f.string("hostIP", p.host_ip));
    CORRAL_TRY(f.finish());
    if (!f.get("containerPort")) return f.required("containerPort", "required");
    if (p.container_port < 1 || p.container_port > 65535)
        return field_error(f.path("containerPort"), "must be between 1 and 65535, inclusive");
    if (p.host_port < 0 || p.host_port > 65535)
        return field_error(f.path("hostPort"), "must be between 1 and 65535, inclusive");
    if (!p.name.empty() && !is_port_name(p.name))
        return field_error(f.path("name"), "invalid port name \"" + p.name +
                                               "\": at most 15 characters, lowercase alphanumerics and '-', "
                                               "with at least one letter");
    CORRAL_TRY(check_one_of(f.path("protocol"), p.protocol, {"TCP", "UDP", "SCTP"}));
    return p;
}

// A probe's port: a number, or the name of one of the container's ports,
// resolved here so that the agent never sees a name.
Status parse_probe_port(Fields &f, const std::vector<ContainerPort> &ports, int &out) {
    const json *v = f.get("port");
    std::string path = f.path("port");
    if (!v) return field_error(path, "required");
    if (v->is_string()) {
        std::string name = v->get<std::string>();
        if (!is_port_name(name)) return field_error(path, "invalid port name \"" + name + "\"");
        for (auto &p : ports)
            if (p.name == name) {
                out = p.container_port;
                return ok();
            }
        return field_error(path, "no container port named \"" + name + "\"");
    }
    CORRAL_TRY(Fields::read_integer(*v, path, out));
    if (out < 1 || out > 65535) return field_error(path, "must be between 1 and 65535, inclusive");
    return ok();
}

enum class ProbeKind { liveness, readiness, startup };

Result<Probe> parse_probe(const json &v, const std::string &path, ProbeKind kind,
                          const std::vector<ContainerPort> &ports, const Ctx &ctx) {
    Probe p;
    auto f = CORRAL_TRY(Fields::open(v, path, ctx));
    f.kubernetes_only(kubernetes_only::probe);
    int handlers = 0;
    if (const json *exec = f.get("exec")) {
        ++handlers;
        p.kind = Probe::Kind::exec;
        auto e = CORRAL_TRY(Fields::open(*exec, f.path("exec"), ctx));
        CORRAL_TRY(e.string_list("command", p.command));
        CORRAL_TRY(e.finish());
        if (p.command.empty()) return e.required("command", "required");
    }
    if (const json *http = f.get("httpGet")) {
        ++handlers;
        p.kind = Probe::Kind::http_get;
        auto h = CORRAL_TRY(Fields::open(*http, f.path("httpGet"), ctx));
        CORRAL_TRY(h.string("path", p.path));
        CORRAL_TRY(h.string("host", p.host));
        CORRAL_TRY(h.string("scheme", p.scheme));
        CORRAL_TRY(parse_probe_port(h, ports, p.port));
        for (auto &[hv, hpath] : CORRAL_TRY(array_items(h, "httpHeaders"))) {
            auto hf = CORRAL_TRY(Fields::open(*hv, hpath, ctx));
            EnvVar header;
            CORRAL_TRY(hf.string("name", header.name));
            CORRAL_TRY(hf.string("value", header.value));
            CORRAL_TRY(hf.finish());
            if (header.name.empty()) return hf.required("name", "required");
            p.http_headers.push_back(header);
        }
        CORRAL_TRY(h.finish());
        if (p.path.empty()) p.path = "/";
        if (p.scheme == "HTTPS") return field_error(h.path("scheme"), "HTTPS probes are not supported by herd");
        CORRAL_TRY(check_one_of(h.path("scheme"), p.scheme, {"HTTP"}));
    }
    if (const json *tcp = f.get("tcpSocket")) {
        ++handlers;
        p.kind = Probe::Kind::tcp_socket;
        auto t = CORRAL_TRY(Fields::open(*tcp, f.path("tcpSocket"), ctx));
        CORRAL_TRY(t.string("host", p.host));
        CORRAL_TRY(parse_probe_port(t, ports, p.port));
        CORRAL_TRY(t.finish());
    }
    // Kubernetes' defaulting turns a 0 into the default, so only negative
    // values are wrong as written; after defaulting each is at least 1.
    struct Timing {
        const char *key;
        int &field;
        int min;
    } timings[] = {{"initialDelaySeconds", p.initial_delay_seconds, 0},
                   {"periodSeconds", p.period_seconds, 1},
                   {"timeoutSeconds", p.timeout_seconds, 1},
                   {"successThreshold", p.success_threshold, 1},
                   {"failureThreshold", p.failure_threshold, 1}};
    for (auto &t : timings) {
        int defaulted = t.field;
        CORRAL_TRY(f.integer(t.key, t.field));
        if (t.field == 0 && t.min == 1) t.field = defaulted;
        CORRAL_TRY(check_min(f.path(t.key), t.field, t.min));
    }
    CORRAL_TRY(f.finish());
    if (handlers == 0) return field_error(path, "must specify a handler type (exec, httpGet or tcpSocket)");
    if (handlers > 1) return field_error(path, "may not specify more than 1 handler type");
    if (kind != ProbeKind::readiness && p.success_threshold != 1)
        return field_error(f.path("successThreshold"), "must be 1");
    return p;
}

// --- containers and pod specs -------------------------------------------------------

Result<Container> parse_container(const json &v, const std::string &path, const Ctx &ctx) {
    Container c;
    auto f = CORRAL_TRY(Fields::open(v, path, ctx));
    f.kubernetes_only(kubernetes_only::container);
    CORRAL_TRY(f.string("name", c.name));
    CORRAL_TRY(f.string("image", c.image));
    CORRAL_TRY(f.string_list("command", c.command));
    CORRAL_TRY(f.string_list("args", c.args));
    CORRAL_TRY(f.string("workingDir", c.working_dir));
    CORRAL_TRY(f.string("imagePullPolicy", c.image_pull_policy));
    if (c.name.empty()) return f.required("name", "required");
    if (!is_dns1123_label(c.name))
        return field_error(f.path("name"), "invalid container name \"" + c.name +
                                               "\": a lowercase RFC 1123 label (a-z, 0-9, '-'; at most 63 "
                                               "characters) is required");
    if (c.image.empty()) return f.required("image", "required");
    if (!c.image_pull_policy.empty())
        CORRAL_TRY(check_one_of(f.path("imagePullPolicy"), c.image_pull_policy, {"Always", "IfNotPresent", "Never"}));

    for (auto &[ev, epath] : CORRAL_TRY(array_items(f, "env"))) {
        auto ef = CORRAL_TRY(Fields::open(*ev, epath, ctx));
        ef.kubernetes_only(kubernetes_only::env_var);
        EnvVar e;
        CORRAL_TRY(ef.string("name", e.name));
        CORRAL_TRY(ef.string("value", e.value));
        CORRAL_TRY(ef.finish());
        if (e.name.empty()) return ef.required("name", "required");
        if (!is_env_name(e.name))
            return field_error(ef.path("name"), "invalid environment variable name \"" + e.name +
                                                    "\" (letters, digits, '_', '-', '.'; not starting with a digit)");
        c.env.push_back(e);
    }

    std::set<std::string> port_names;
    for (auto &[pv, ppath] : CORRAL_TRY(array_items(f, "ports"))) {
        auto p = CORRAL_TRY(parse_port(*pv, ppath, ctx));
        if (!p.name.empty() && !port_names.insert(p.name).second)
            return field_error(ppath + ".name", "duplicate port name \"" + p.name + "\"");
        c.ports.push_back(p);
    }

    if (const json *r = f.get("resources")) c.resources = CORRAL_TRY(parse_resources(*r, f.path("resources"), ctx));

    // Probes last: a named probe port refers to the ports above.
    struct ProbeField {
        const char *key;
        ProbeKind kind;
        std::optional<Probe> &out;
    } probes[] = {{"livenessProbe", ProbeKind::liveness, c.liveness_probe},
                  {"readinessProbe", ProbeKind::readiness, c.readiness_probe},
                  {"startupProbe", ProbeKind::startup, c.startup_probe}};
    for (auto &pf : probes)
        if (const json *pv = f.get(pf.key)) pf.out = CORRAL_TRY(parse_probe(*pv, f.path(pf.key), pf.kind, c.ports, ctx));

    CORRAL_TRY(f.finish());
    return c;
}

Result<Toleration> parse_toleration(const json &v, const std::string &path, const Ctx &ctx) {
    Toleration t;
    auto f = CORRAL_TRY(Fields::open(v, path, ctx));
    CORRAL_TRY(f.string("key", t.key));
    CORRAL_TRY(f.string("operator", t.operator_));
    CORRAL_TRY(f.string("value", t.value));
    CORRAL_TRY(f.string("effect", t.effect));
    if (const json *s = f.get("tolerationSeconds")) {
        int64_t seconds = 0;
        CORRAL_TRY(Fields::read_integer(*s, f.path("tolerationSeconds"), seconds));
        t.toleration_seconds = seconds;
    }
    CORRAL_TRY(f.finish());
    if (t.operator_.empty()) t.operator_ = "Equal";
    CORRAL_TRY(check_one_of(f.path("operator"), t.operator_, {"Exists", "Equal"}));
    if (!t.key.empty() && !is_qualified_name(t.key)) return field_error(f.path("key"), "invalid key \"" + t.key + "\"");
    if (t.key.empty() && t.operator_ != "Exists")
        return field_error(f.path("operator"), "must be Exists when `key` is empty");
    if (t.operator_ == "Exists" && !t.value.empty())
        return field_error(f.path("value"), "must be empty when `operator` is 'Exists'");
    if (!t.effect.empty()) CORRAL_TRY(check_one_of(f.path("effect"), t.effect, {"NoSchedule", "PreferNoSchedule", "NoExecute"}));
    if (t.toleration_seconds && t.effect != "NoExecute")
        return field_error(f.path("effect"), "must be 'NoExecute' when `tolerationSeconds` is set");
    return t;
}

Result<PodSpec> parse_pod_spec(const json *v, const std::string &path, const Ctx &ctx) {
    PodSpec spec;
    if (!v) return field_error(path + ".containers", "required");
    auto f = CORRAL_TRY(Fields::open(*v, path, ctx));
    f.kubernetes_only(kubernetes_only::pod_spec);
    CORRAL_TRY(f.string("restartPolicy", spec.restart_policy));
    CORRAL_TRY(f.integer("terminationGracePeriodSeconds", spec.termination_grace_period_seconds));
    CORRAL_TRY(f.string_map("nodeSelector", spec.node_selector));
    CORRAL_TRY(f.boolean("hostNetwork", spec.host_network));
    if (spec.restart_policy.empty()) spec.restart_policy = "Always";
    CORRAL_TRY(check_one_of(f.path("restartPolicy"), spec.restart_policy, {"Always", "OnFailure", "Never"}));
    CORRAL_TRY(check_min(f.path("terminationGracePeriodSeconds"), spec.termination_grace_period_seconds, 0));
    CORRAL_TRY(check_labels(f.path("nodeSelector"), spec.node_selector));

    for (auto &[tv, tpath] : CORRAL_TRY(array_items(f, "tolerations")))
        spec.tolerations.push_back(CORRAL_TRY(parse_toleration(*tv, tpath, ctx)));

    auto containers = CORRAL_TRY(array_items(f, "containers"));
    if (containers.empty()) return f.required("containers", "required (at least one container)");
    std::set<std::string> names;
    std::map<std::pair<int, std::string>, std::string> host_ports;  // (port, protocol) -> where
    for (auto &[cv, cpath] : containers) {
        auto c = CORRAL_TRY(parse_container(*cv, cpath, ctx));
        if (!names.insert(c.name).second) return field_error(cpath + ".name", "duplicate name \"" + c.name + "\"");
        for (size_t i = 0; i < c.ports.size(); ++i) {
            auto &p = c.ports[i];
            std::string ppath = index_path(cpath + ".ports", i);
            // With the host's network the container port is the host port;
            // Kubernetes defaults hostPort to it and refuses another value.
            if (spec.host_network) {
                if (p.host_port == 0) p.host_port = p.container_port;
                if (p.host_port != p.container_port)
                    return field_error(ppath + ".hostPort", "must match `containerPort` when `hostNetwork` is true");
            }
            if (p.host_port != 0) {
                auto [it, fresh] = host_ports.emplace(std::pair{p.host_port, p.protocol}, ppath);
                if (!fresh)
                    return field_error(ppath + ".hostPort", "duplicate host port " + std::to_string(p.host_port) +
                                                                "/" + p.protocol + " (also " + it->second + ")");
            }
        }
        spec.containers.push_back(std::move(c));
    }
    CORRAL_TRY(f.finish());
    return spec;
}

Result<Pod> parse_pod(const json &v, const Ctx &ctx) {
    Pod pod;
    auto f = CORRAL_TRY(Fields::open(v, "", ctx));
    CORRAL_TRY(check_type(f, "v1", "Pod"));
    f.ignore("status");  // as `kubectl apply`: status is the system's, not the user's
    pod.metadata = CORRAL_TRY(parse_metadata(f.get("metadata"), "metadata", MetaKind::object, ctx));
    if (!f.get("spec")) CORRAL_TRY(f.typo_of("spec"));
    pod.spec = CORRAL_TRY(parse_pod_spec(f.get("spec"), "spec", ctx));
    CORRAL_TRY(f.finish());
    return pod;
}

json probe_to_json(const Probe &p) {
    json j;
    switch (p.kind) {
    case Probe::Kind::exec: j["exec"] = {{"command", p.command}}; break;
    case Probe::Kind::http_get: {
        json h = {{"path", p.path}, {"port", p.port}, {"scheme", p.scheme}};
        if (!p.host.empty()) h["host"] = p.host;
        if (!p.http_headers.empty()) {
            h["httpHeaders"] = json::array();
            for (auto &hd : p.http_headers) h["httpHeaders"].push_back({{"name", hd.name}, {"value", hd.value}});
        }
        j["httpGet"] = h;
        break;
    }
    case Probe::Kind::tcp_socket: {
        json t = {{"port", p.port}};
        if (!p.host.empty()) t["host"] = p.host;
        j["tcpSocket"] = t;
        break;
    }
    }
    j["initialDelaySeconds"] = p.initial_delay_seconds;
    j["periodSeconds"] = p.period_seconds;
    j["timeoutSeconds"] = p.timeout_seconds;
    j["successThreshold"] = p.success_threshold;
    j["failureThreshold"] = p.failure_threshold;
    return j;
}

json container_to_json(const Container &c) {
    json j = {{"name", c.name}, {"image", c.image}};
    if (!c.command.empty()) j["command"] = c.command;
    if (!c.args.empty()) j["args"] = c.args;
    if (!c.working_dir.empty()) j["workingDir"] = c.working_dir;
    if (!c.image_pull_policy.empty()) j["imagePullPolicy"] = c.image_pull_policy;
    if (!c.env.empty()) {
        j["env"] = json::array();
        for (auto &e : c.env) j["env"].push_back({{"name", e.name}, {"value", e.value}});
    }
    if (!c.ports.empty()) {
        j["ports"] = json::array();
        for (auto &p : c.ports) {
            json pj = {{"containerPort", p.container_port}, {"protocol", p.protocol}};
            if (!p.name.empty()) pj["name"] = p.name;
            if (p.host_port) pj["hostPort"] = p.host_port;
            if (!p.host_ip.empty()) pj["hostIP"] = p.host_ip;
            j["ports"].push_back(pj);
        }
    }
    if (!c.resources.requests_text.empty() || !c.resources.limits_text.empty()) {
        json r = json::object();
        if (!c.resources.requests_text.empty()) r["requests"] = c.resources.requests_text;
        if (!c.resources.limits_text.empty()) r["limits"] = c.resources.limits_text;
        j["resources"] = r;
    }
    if (c.liveness_probe) j["livenessProbe"] = probe_to_json(*c.liveness_probe);
    if (c.readiness_probe) j["readinessProbe"] = probe_to_json(*c.readiness_probe);
    if (c.startup_probe) j["startupProbe"] = probe_to_json(*c.startup_probe);
    return j;
}

json template_to_json(const PodTemplate &t) {
    return {{"metadata", meta_to_json(t.metadata, MetaKind::template_)}, {"spec", to_json(t.spec)}};
}

} // namespace manifest_detail

using namespace manifest_detail;

json to_json(const PodSpec &s) {
    json j = json::object();
    j["containers"] = json::array();
    for (auto &c : s.containers) j["containers"].push_back(container_to_json(c));
    j["restartPolicy"] = s.restart_policy;
    j["terminationGracePeriodSeconds"] = s.termination_grace_period_seconds;
    if (!s.node_selector.empty()) j["nodeSelector"] = s.node_selector;
    if (!s.tolerations.empty()) {
        j["tolerations"] = json::array();
        for (auto &t : s.tolerations) {
            json tj = {{"operator", t.operator_}};
            if (!t.key.empty()) tj["key"] = t.key;
            if (!t.value.empty()) tj["value"] = t.value;
            if (!t.effect.empty()) tj["effect"] = t.effect;
            if (t.toleration_seconds) tj["tolerationSeconds"] = *t.toleration_seconds;
            j["tolerations"].push_back(tj);
        }
    }
    if (s.host_network) j["hostNetwork"] = true;
    return j;
}

json to_json(const Pod &p) {
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", meta_to_json(p.metadata, MetaKind::object)},
            {"spec", to_json(p.spec)}};
}

Result<Pod> pod_from_json(const json &j, const std::string &source) {
    auto pod = parse_pod(j, Ctx{});
    if (!pod) return std::move(pod.error()).context(source);
    return pod;
}

} // namespace corral::herd
