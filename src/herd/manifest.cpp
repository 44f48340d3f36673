// herd/manifest.cpp — strict parsing, validation and JSON of Pods and Deployments.
//
// One parser serves manifests (YAML, via parse_manifests) and the wire (JSON
// between herd, serve and the agent): both go through the *_from_json
// functions below, which read every object with a `Fields` reader that
// remembers which keys were read, so a key nobody read is an "unknown field"
// with its full path — the behaviour of `kubectl apply --validate=strict`.
//
// The checks after reading follow the API server's validation
// (k8s.io/kubernetes/pkg/apis/core/validation) for the fields we accept, and
// the defaults follow its defaulting (pkg/apis/core/v1/defaults.go), so a
// manifest herd accepts is accepted by Kubernetes too.
//
// Every error names the field: "spec.template.spec.containers[0].image:
// required". The field path also travels in Error::path(), so parse_manifests
// can look up the YAML line it came from.
#include "herd/manifest.hpp"

#include "common/fs.hpp"

#include <cstdio>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <dirent.h>
#include <limits>
#include <regex>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace corral::herd {

namespace {

struct Ctx {
    bool ignore_unknown = false;
};

// --- field paths -------------------------------------------------------------

// "metadata" + "name" -> "metadata.name"; keys that are not identifiers are
// bracketed: metadata.annotations["herd.io/backoff-max"].
std::string key_path(const std::string &base, std::string_view key) {
    bool identifier = !key.empty() && !std::isdigit(static_cast<unsigned char>(key[0]));
    for (char c : key)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') identifier = false;
    if (!identifier) return base + "[\"" + std::string(key) + "\"]";
    return base.empty() ? std::string(key) : base + "." + std::string(key);
}

std::string index_path(const std::string &base, size_t i) { return base + "[" + std::to_string(i) + "]"; }

Error field_error(const std::string &path, const std::string &what) {
    return Error(path.empty() ? what : path + ": " + what, 0, path);
}

// kubectl's (the API server's strict decoding) words: unknown field "spec.x".
Error unknown_field(const std::string &path) { return Error("unknown field \"" + path + "\"", 0, path); }

// Optimal string alignment distance: insertions, deletions, substitutions and
// transpositions of neighbours ("contianers" is 1 from "containers").
size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i)
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cost = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                                  std::tolower(static_cast<unsigned char>(b[j - 1]))
                              ? 0
                              : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

std::string type_name(const json &v) {
    switch (v.type()) {
    case json::value_t::object: return "object";
    case json::value_t::array: return "array";
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::null: return "null";
    default: return "value";
    }
}

Error type_error(const std::string &path, const char *expected, const json &got) {
    return field_error(path, std::string("expected ") + expected + ", got " + type_name(got));
}

// --- the strict object reader -------------------------------------------------

// Reads the fields of one JSON object. Each accessor marks its key as known;
// finish() fails on the first key no accessor asked for (or, with
// --ignore-unknown, lets it go). A null value counts as absent, as Go's JSON
// decoding does: `creationTimestamp: null` and `resources: {}` appear in
// manifests that `kubectl create --dry-run -o yaml` writes.
class Fields {
public:
    static Result<Fields> open(const json &v, const std::string &path, const Ctx &ctx) {
        if (!v.is_object()) return type_error(path, "object", v);
        return Fields(v, path, ctx);
    }

    std::string path(std::string_view key) const { return key_path(path_, key); }

    // The value of KEY, or nullptr if absent or null.
    const json *get(std::string_view key) {
        known_.insert(std::string(key));
        auto it = obj_->find(std::string(key));
        if (it == obj_->end() || it->is_null()) return nullptr;
        return &*it;
    }
    // Accept a key and drop its value (`status` of an applied object).
    void ignore(std::string_view key) { known_.insert(std::string(key)); }

    Status string(std::string_view key, std::string &out) {
        const json *v = get(key);
        if (!v) return ok();
        if (!v->is_string()) return type_error(path(key), "string", *v);
        out = v->get<std::string>();
        return ok();
    }

    template <class Int>
    Status integer(std::string_view key, Int &out) {
        const json *v = get(key);
        if (!v) return ok();
        return read_integer(*v, path(key), out);
    }

    Status boolean(std::string_view key, bool &out) {
        const json *v = get(key);
        if (!v) return ok();
        if (!v->is_boolean()) return type_error(path(key), "boolean", *v);
        out = v->get<bool>();
        return ok();
    }

    Status string_list(std::string_view key, std::vector<std::string> &out) {
        const json *v = get(key);
        if (!v) return ok();
        if (!v->is_array()) return type_error(path(key), "array of strings", *v);
        out.clear();
        for (size_t i = 0; i < v->size(); ++i) {
            if (!(*v)[i].is_string()) return type_error(index_path(path(key), i), "string", (*v)[i]);
            out.push_back((*v)[i].get<std::string>());
        }
        return ok();
    }

    Status string_map(std::string_view key, std::map<std::string, std::string> &out) {
        const json *v = get(key);
        if (!v) return ok();
        if (!v->is_object()) return type_error(path(key), "object of strings", *v);
        out.clear();
        for (auto &[k, val] : v->items()) {
            if (!val.is_string()) return type_error(key_path(path(key), k), "string", val);
            out[k] = val.get<std::string>();
        }
        return ok();
    }

    // A required key that is missing. When the object has an unknown key
    // that is a misspelling of it ("contianers"), that is the error (as
    // kubectl reports the unknown field even when a required one is then
    // missing too): the user sees the typo, not a field they believe they wrote.
    Error required(std::string_view key, const std::string &what = "required") const {
        if (Status typo = typo_of(key); !typo) return std::move(typo).error();
        return field_error(path(key), what);
    }
    Status typo_of(std::string_view key) const {
        if (ctx_->ignore_unknown) return ok();
        for (auto &[k, v] : obj_->items())
            if (!known_.count(k) && k != key && edit_distance(k, key) <= 2) return unknown_field(path(k));
        return ok();
    }

    // The fields of this object's Kubernetes type that herd does not
    // implement: they are rejected as such, not as unknown, so the user
    // knows the manifest is valid Kubernetes that herd cannot run.
    void kubernetes_only(const std::set<std::string> &names) { kubernetes_only_ = &names; }

    Status finish() const {
        if (ctx_->ignore_unknown) return ok();
        for (auto &[k, v] : obj_->items()) {
            if (known_.count(k)) continue;
            if (kubernetes_only_ && kubernetes_only_->count(k))
                return field_error(path(k), "not supported by herd (a Kubernetes field herd does not implement; "
                                            "--ignore-unknown drops it)");
            return unknown_field(path(k));
        }
        return ok();
    }

    template <class Int>
    static Status read_integer(const json &v, const std::string &path, Int &out) {
        if (!v.is_number_integer() && !v.is_number_unsigned()) return type_error(path, "integer", v);
        if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<Int>::max()))
            return field_error(path, "out of range");
        if (v.is_number_integer()) {
            int64_t n = v.get<int64_t>();
            if (n < int64_t(std::numeric_limits<Int>::min()) || n > int64_t(std::numeric_limits<Int>::max()))
                return field_error(path, "out of range");
            out = static_cast<Int>(n);
        } else {
            out = static_cast<Int>(v.get<uint64_t>());
        }
        return ok();
    }

private:
    Fields(const json &v, std::string path, const Ctx &ctx) : obj_(&v), path_(std::move(path)), ctx_(&ctx) {}
    const json *obj_;
    std::string path_;
    const Ctx *ctx_;
    std::set<std::string> known_;
    const std::set<std::string> *kubernetes_only_ = nullptr;
};

// Fields of the Kubernetes API types (1.28) that herd does not implement.
namespace kubernetes_only {
const std::set<std::string> object_meta = {"generateName", "finalizers", "deletionTimestamp",
                                           "deletionGracePeriodSeconds"};
const std::set<std::string> pod_spec = {
    "activeDeadlineSeconds", "affinity", "automountServiceAccountToken", "dnsConfig", "dnsPolicy",
    "enableServiceLinks", "ephemeralContainers", "hostAliases", "hostIPC", "hostPID", "hostUsers", "hostname",
    "imagePullSecrets", "initContainers", "nodeName", "os", "overhead", "preemptionPolicy", "priority",
    "priorityClassName", "readinessGates", "resourceClaims", "runtimeClassName", "schedulerName", "schedulingGates",
    "securityContext", "serviceAccount", "serviceAccountName", "setHostnameAsFQDN", "shareProcessNamespace",
    "subdomain", "topologySpreadConstraints", "volumes"};
const std::set<std::string> container = {"envFrom", "lifecycle", "resizePolicy", "restartPolicy", "securityContext",
                                         "stdin", "stdinOnce", "terminationMessagePath", "terminationMessagePolicy",
                                         "tty", "volumeDevices", "volumeMounts"};
const std::set<std::string> env_var = {"valueFrom"};
const std::set<std::string> probe = {"grpc", "terminationGracePeriodSeconds"};
const std::set<std::string> resources = {"claims"};
const std::set<std::string> deployment_spec = {"paused"};
const std::set<std::string> selector = {"matchExpressions"};
} // namespace kubernetes_only

// The elements of an optional array field, each with its path.
Result<std::vector<std::pair<const json *, std::string>>> array_items(Fields &f, std::string_view key) {
    std::vector<std::pair<const json *, std::string>> items;
    const json *v = f.get(key);
    if (!v) return items;
    if (!v->is_array()) return type_error(f.path(key), "array", *v);
    for (size_t i = 0; i < v->size(); ++i) items.emplace_back(&(*v)[i], index_path(f.path(key), i));
    return items;
}

// --- names -------------------------------------------------------------------

// RFC 1123 label: what Kubernetes requires of container and namespace names.
bool is_dns1123_label(const std::string &s) {
    static const std::regex re("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    return !s.empty() && s.size() <= 63 && std::regex_match(s, re);
}

// RFC 1123 subdomain: what Kubernetes requires of Pod and Deployment names.
bool is_dns1123_subdomain(const std::string &s) {
    static const std::regex re("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    return !s.empty() && s.size() <= 253 && std::regex_match(s, re);
}

// IANA service name: container port names ("http", "metrics-1").
bool is_port_name(const std::string &s) {
    static const std::regex re("[a-z0-9]([a-z0-9-]*[a-z0-9])?");
    return !s.empty() && s.size() <= 15 && std::regex_match(s, re) && s.find("--") == std::string::npos &&
           std::any_of(s.begin(), s.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
}

// The "name" part of a label or annotation key, and a label value.
bool is_qualified_name_part(const std::string &s) {
    static const std::regex re("([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]");
    return !s.empty() && s.size() <= 63 && std::regex_match(s, re);
}

// A label or annotation key: [prefix/]name, the prefix a DNS subdomain.
bool is_qualified_name(const std::string &s) {
    auto slash = s.find('/');
    if (slash == std::string::npos) return is_qualified_name_part(s);
    return is_dns1123_subdomain(s.substr(0, slash)) && is_qualified_name_part(s.substr(slash + 1));
}

bool is_label_value(const std::string &s) { return s.empty() || is_qualified_name_part(s); }

// Environment variable names, Kubernetes' C_IDENTIFIER-like rule.
bool is_env_name(const std::string &s) {
    static const std::regex re("[-._a-zA-Z][-._a-zA-Z0-9]*");
    return std::regex_match(s, re);
}

Status check_one_of(const std::string &path, const std::string &value, std::initializer_list<const char *> allowed) {
    std::string list;
    for (const char *a : allowed) {
        if (value == a) return ok();
        list += std::string(list.empty() ? "" : ", ") + "\"" + a + "\"";
    }
    return field_error(path, "unsupported value \"" + value + "\": supported values: " + list);
}

Status check_min(const std::string &path, int64_t value, int64_t min) {
    if (value < min) return field_error(path, "must be greater than or equal to " + std::to_string(min));
    return ok();
}

// --- metadata ------------------------------------------------------------------

// The herd.io annotations herd reads, with the check of their value. A
// misspelt herd.io key is an error rather than a silently ignored setting.
Status check_herd_annotation(const std::string &path, const std::string &key, const std::string &value,
                             const Ctx &ctx) {
    if (key == "herd.io/backoff-initial" || key == "herd.io/backoff-max" || key == "herd.io/backoff-reset") {
        auto ms = parse_duration_ms(value);
        if (!ms) return field_error(path, ms.error().message());
        if (*ms <= 0) return field_error(path, "must be a positive duration");
        return ok();
    }
    if (key == "herd.io/log-max-bytes") {
        auto bytes = parse_memory_bytes(value);
        if (!bytes) return field_error(path, bytes.error().message());
        if (*bytes < 4096) return field_error(path, "must be at least 4Ki");
        return ok();
    }
    if (ctx.ignore_unknown) return ok();
    return field_error(path, "unknown herd.io annotation (herd reads herd.io/backoff-initial, herd.io/backoff-max, "
                             "herd.io/backoff-reset, herd.io/log-max-bytes)");
}

Status check_labels(const std::string &path, const std::map<std::string, std::string> &labels) {
    for (auto &[k, v] : labels) {
        if (!is_qualified_name(k)) return field_error(key_path(path, k), "invalid label key");
        if (!is_label_value(v))
            return field_error(key_path(path, k),
                               "invalid label value \"" + v + "\" (at most 63 characters: alphanumerics, '-', '_', '.')");
    }
    return ok();
}

Status check_annotations(const std::string &path, const std::map<std::string, std::string> &annotations,
                         const Ctx &ctx) {
    for (auto &[k, v] : annotations) {
        if (!is_qualified_name(k)) return field_error(key_path(path, k), "invalid annotation key");
        if (k.rfind("herd.io/", 0) == 0) CORRAL_TRY(check_herd_annotation(key_path(path, k), k, v, ctx));
    }
    return ok();
}

enum class MetaKind { object, template_ };

Result<ObjectMeta> parse_metadata(const json *v, const std::string &path, MetaKind kind, const Ctx &ctx) {
    ObjectMeta meta;
    if (!v) {
        if (kind == MetaKind::object) return field_error(path + ".name", "required");
        return meta;
    }
    auto f = CORRAL_TRY(Fields::open(*v, path, ctx));
    f.kubernetes_only(kubernetes_only::object_meta);
    CORRAL_TRY(f.string_map("labels", meta.labels));
    CORRAL_TRY(f.string_map("annotations", meta.annotations));
    CORRAL_TRY(f.string("creationTimestamp", meta.creation_timestamp));
    CORRAL_TRY(check_labels(f.path("labels"), meta.labels));
    CORRAL_TRY(check_annotations(f.path("annotations"), meta.annotations, ctx));
    if (kind == MetaKind::object) {
        CORRAL_TRY(f.string("name", meta.name));
        CORRAL_TRY(f.string("namespace", meta.namespace_));
        CORRAL_TRY(f.string("uid", meta.uid));
        // Written by the API server; in `get -o yaml` output that is applied
        // again. kubectl apply accepts them; they are not the user's to set.
        for (const char *server_field : {"resourceVersion", "generation", "ownerReferences", "managedFields", "selfLink"})
            f.ignore(server_field);
        if (meta.name.empty()) return f.required("name", "required");
        if (!is_dns1123_subdomain(meta.name))
            return field_error(f.path("name"), "invalid name \"" + meta.name +
                                                   "\": a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.'; "
                                                   "at most 253 characters) is required");
        if (meta.namespace_.empty()) meta.namespace_ = "default";
        if (!is_dns1123_label(meta.namespace_))
            return field_error(f.path("namespace"), "invalid namespace \"" + meta.namespace_ +
                                                        "\": a lowercase RFC 1123 label is required");
    }
    CORRAL_TRY(f.finish());
    return meta;
}

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

// apiVersion and kind, when present (always in manifests; the wire may omit them).
Status check_type(Fields &f, const char *api_version, const char *kind) {
    std::string av, k;
    CORRAL_TRY(f.string("apiVersion", av));
    CORRAL_TRY(f.string("kind", k));
    if ((!av.empty() && av != api_version) || (!k.empty() && k != kind))
        return field_error("", "unsupported kind \"" + av + "/" + k + "\" (expected " + api_version + "/" + kind + ")");
    return ok();
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

Result<IntOrPercent> parse_int_or_percent(const json &v, const std::string &path) {
    IntOrPercent r;
    if (v.is_string()) {
        std::string s = v.get<std::string>();
        static const std::regex re("[0-9]{1,9}%");
        if (!std::regex_match(s, re))
            return field_error(path, "invalid value \"" + s + "\": an integer or a percentage (\"25%\") is required");
        r.value = std::stoi(s);
        r.percent = true;
    } else {
        CORRAL_TRY(Fields::read_integer(v, path, r.value));
        CORRAL_TRY(check_min(path, r.value, 0));
    }
    return r;
}

Status parse_strategy(const json *v, const std::string &path, DeploymentSpec &spec, const Ctx &ctx) {
    if (!v) return ok();
    auto f = CORRAL_TRY(Fields::open(*v, path, ctx));
    CORRAL_TRY(f.string("type", spec.strategy));
    if (spec.strategy.empty()) spec.strategy = "RollingUpdate";
    CORRAL_TRY(check_one_of(f.path("type"), spec.strategy, {"RollingUpdate", "Recreate"}));
    if (const json *ru = f.get("rollingUpdate")) {
        std::string rpath = f.path("rollingUpdate");
        if (spec.strategy == "Recreate") return field_error(rpath, "may not be specified when strategy `type` is 'Recreate'");
        auto r = CORRAL_TRY(Fields::open(*ru, rpath, ctx));
        if (const json *s = r.get("maxSurge")) spec.max_surge = CORRAL_TRY(parse_int_or_percent(*s, r.path("maxSurge")));
        if (const json *u = r.get("maxUnavailable"))
            spec.max_unavailable = CORRAL_TRY(parse_int_or_percent(*u, r.path("maxUnavailable")));
        CORRAL_TRY(r.finish());
        if (spec.max_unavailable.percent && spec.max_unavailable.value > 100)
            return field_error(r.path("maxUnavailable"), "must not be greater than 100%");
        if (spec.max_surge.value == 0 && spec.max_unavailable.value == 0)
            return field_error(r.path("maxUnavailable"), "may not be 0 when `maxSurge` is 0");
    }
    return f.finish();
}

Result<Deployment> parse_deployment(const json &v, const Ctx &ctx) {
    Deployment d;
    auto f = CORRAL_TRY(Fields::open(v, "", ctx));
    CORRAL_TRY(check_type(f, "apps/v1", "Deployment"));
    f.ignore("status");
    d.metadata = CORRAL_TRY(parse_metadata(f.get("metadata"), "metadata", MetaKind::object, ctx));

    const json *specv = f.get("spec");
    if (!specv) {
        CORRAL_TRY(f.typo_of("spec"));
        return field_error("spec.selector", "required");
    }
    auto s = CORRAL_TRY(Fields::open(*specv, "spec", ctx));
    s.kubernetes_only(kubernetes_only::deployment_spec);
    auto &spec = d.spec;
    CORRAL_TRY(s.integer("replicas", spec.replicas));
    CORRAL_TRY(check_min(s.path("replicas"), spec.replicas, 0));
    CORRAL_TRY(s.integer("minReadySeconds", spec.min_ready_seconds));
    CORRAL_TRY(check_min(s.path("minReadySeconds"), spec.min_ready_seconds, 0));
    CORRAL_TRY(s.integer("revisionHistoryLimit", spec.revision_history_limit));
    CORRAL_TRY(check_min(s.path("revisionHistoryLimit"), spec.revision_history_limit, 0));
    CORRAL_TRY(s.integer("progressDeadlineSeconds", spec.progress_deadline_seconds));
    if (spec.progress_deadline_seconds <= spec.min_ready_seconds)
        return field_error(s.path("progressDeadlineSeconds"), "must be greater than minReadySeconds");

    // selector.matchLabels: herd takes the equality form only.
    const json *sel = s.get("selector");
    if (!sel) return s.required("selector", "required");
    auto sf = CORRAL_TRY(Fields::open(*sel, s.path("selector"), ctx));
    sf.kubernetes_only(kubernetes_only::selector);
    CORRAL_TRY(sf.string_map("matchLabels", spec.selector));
    CORRAL_TRY(sf.finish());
    if (spec.selector.empty()) return sf.required("matchLabels", "required (an empty selector is invalid for a Deployment)");
    CORRAL_TRY(check_labels(sf.path("matchLabels"), spec.selector));

    CORRAL_TRY(parse_strategy(s.get("strategy"), s.path("strategy"), spec, ctx));

    const json *tv = s.get("template");
    if (!tv) return s.required("template", "required");
    auto t = CORRAL_TRY(Fields::open(*tv, s.path("template"), ctx));
    spec.template_.metadata = CORRAL_TRY(parse_metadata(t.get("metadata"), t.path("metadata"), MetaKind::template_, ctx));
    if (!t.get("spec")) CORRAL_TRY(t.typo_of("spec"));
    spec.template_.spec = CORRAL_TRY(parse_pod_spec(t.get("spec"), t.path("spec"), ctx));
    CORRAL_TRY(t.finish());
    // Every matchLabel must be on the template, or the Deployment would not
    // own the pods it makes.
    for (auto &[k, val] : spec.selector) {
        auto it = spec.template_.metadata.labels.find(k);
        if (it == spec.template_.metadata.labels.end() || it->second != val)
            return field_error(t.path("metadata") + ".labels", "does not match spec.selector.matchLabels");
    }
    if (spec.template_.spec.restart_policy != "Always")
        return field_error(t.path("spec") + ".restartPolicy", "unsupported value \"" + spec.template_.spec.restart_policy +
                                                                  "\": supported values: \"Always\"");
    CORRAL_TRY(s.finish());
    CORRAL_TRY(f.finish());
    return d;
}

// --- to JSON ------------------------------------------------------------------------

json meta_to_json(const ObjectMeta &m, MetaKind kind) {
    json j = json::object();
    if (kind == MetaKind::object) {
        j["name"] = m.name;
        j["namespace"] = m.namespace_;
        if (!m.uid.empty()) j["uid"] = m.uid;
    }
    if (!m.creation_timestamp.empty()) j["creationTimestamp"] = m.creation_timestamp;
    if (!m.labels.empty()) j["labels"] = m.labels;
    if (!m.annotations.empty()) j["annotations"] = m.annotations;
    return j;
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

json int_or_percent_to_json(const IntOrPercent &v) {
    if (v.percent) return std::to_string(v.value) + "%";
    return v.value;
}

// --- YAML to JSON ---------------------------------------------------------------------

// Where each field of a document was written, by field path.
using LineMap = std::map<std::string, int>;

// A plain (unquoted) YAML scalar resolved as Kubernetes' YAML decoder
// (go-yaml v2, YAML 1.1) sees it: null, booleans — including yes/no/on/off,
// so that `value: yes` is the same type error here as on a cluster —
// integers, floats, else a string. A quoted scalar is always a string.
json resolve_plain_scalar(const std::string &s) {
    static const std::regex int_re("[-+]?[0-9]+");
    static const std::regex hex_re("0x[0-9a-fA-F]+");
    static const std::regex oct_re("0o[0-7]+");
    static const std::regex float_re("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    for (const char *t : {"true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON"})
        if (s == t) return true;
    for (const char *f : {"false", "False", "FALSE", "no", "No", "NO", "n", "N", "off", "Off", "OFF"})
        if (s == f) return false;
    try {
        if (std::regex_match(s, int_re)) {
            if (s[0] == '-') return std::stoll(s);
            return std::stoull(s[0] == '+' ? s.substr(1) : s);
        }
        if (std::regex_match(s, hex_re)) return std::stoull(s.substr(2), nullptr, 16);
        if (std::regex_match(s, oct_re)) return std::stoull(s.substr(2), nullptr, 8);
        if (std::regex_match(s, float_re)) return std::stod(s);
    } catch (const std::out_of_range &) {
        return std::stod(s);  // too large for an integer: a number all the same
    }
    if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf") return std::numeric_limits<double>::infinity();
    if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return -std::numeric_limits<double>::infinity();
    if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
    return s;
}

Result<json> yaml_to_json(const YAML::Node &node, const std::string &path, LineMap &lines) {
    if (!path.empty() && node.Mark().line >= 0) lines.emplace(path, node.Mark().line + 1);
    switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: return json(nullptr);
    case YAML::NodeType::Scalar: {
        const std::string &tag = node.Tag();
        if (tag == "!" || tag == "tag:yaml.org,2002:str") return json(node.Scalar());
        return resolve_plain_scalar(node.Scalar());
    }
    case YAML::NodeType::Sequence: {
        json arr = json::array();
        size_t i = 0;
        for (const auto &item : node) arr.push_back(CORRAL_TRY(yaml_to_json(item, index_path(path, i++), lines)));
        return arr;
    }
    case YAML::NodeType::Map: {
        json obj = json::object();
        std::vector<YAML::Node> merges;  // `<<: *defaults`, applied after the keys written here
        for (const auto &kv : node) {
            if (!kv.first.IsScalar()) return field_error(path, "mapping keys must be strings");
            std::string key = kv.first.Scalar();
            if (key == "<<" && kv.first.Tag() == "?") {
                // YAML 1.1 merge key, which Kubernetes' decoder honours and
                // yaml-cpp leaves to us: a mapping or a list of them.
                if (kv.second.IsMap()) merges.push_back(kv.second);
                else if (kv.second.IsSequence())
                    for (const auto &m : kv.second) merges.push_back(m);
                for (const auto &m : merges)
                    if (!m.IsMap()) return field_error(key_path(path, key), "a merge key takes a mapping or a list of mappings");
                continue;
            }
            std::string child = key_path(path, key);
            if (obj.contains(key)) {
                lines[child] = kv.first.Mark().line + 1;  // point at the second one
                return field_error(child, "duplicate key");
            }
            lines.emplace(child, kv.first.Mark().line + 1);
            obj[key] = CORRAL_TRY(yaml_to_json(kv.second, child, lines));
        }
        for (const auto &m : merges) {
            json merged = CORRAL_TRY(yaml_to_json(m, path, lines));
            for (auto &[k, v] : merged.items())
                if (!obj.contains(k)) obj[k] = v;  // keys written here win, then earlier merges
        }
        return obj;
    }
    }
    return json(nullptr);
}

// The line of a field path, or of its nearest parent that was written.
int line_of(const LineMap &lines, std::string path) {
    while (!path.empty()) {
        if (auto it = lines.find(path); it != lines.end()) return it->second;
        auto cut = path.find_last_of(".[");
        if (cut == std::string::npos) break;
        path.resize(cut);
    }
    return 0;
}

std::string object_key(const Object &o) {
    return o.kind_name() + " " + o.metadata().namespace_ + "/" + o.metadata().name;
}

// One document: dispatch on apiVersion/kind, then the strict parse.
Result<Object> parse_document(const json &doc, const Ctx &ctx) {
    if (!doc.is_object()) return field_error("", "expected a Kubernetes object (a mapping), got " + type_name(doc));
    auto str = [&](const char *k) {
        auto it = doc.find(k);
        return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    std::string api_version = str("apiVersion"), kind = str("kind");
    if (api_version.empty()) return field_error("apiVersion", "required");
    if (kind.empty()) return field_error("kind", "required");
    Object o{};
    if (api_version == "v1" && kind == "Pod") {
        o.kind = Object::Kind::pod;
        o.pod = CORRAL_TRY(parse_pod(doc, ctx));
        o.pod->metadata.uid.clear();
        o.pod->metadata.creation_timestamp.clear();
    } else if (api_version == "apps/v1" && kind == "Deployment") {
        o.kind = Object::Kind::deployment;
        o.deployment = CORRAL_TRY(parse_deployment(doc, ctx));
        o.deployment->metadata.uid.clear();
        o.deployment->metadata.creation_timestamp.clear();
        o.deployment->spec.template_.metadata.creation_timestamp.clear();
    } else {
        return field_error("", "unsupported kind \"" + api_version + "/" + kind +
                                   "\" (herd accepts v1/Pod and apps/v1/Deployment)");
    }
    return o;
}

// "deploy.yaml: document 2 (Deployment web)" for messages, from what the
// document says before it is parsed.
std::string describe_document(const std::string &source, const json &doc) {
    std::string what;
    if (doc.is_object()) {
        auto kind = doc.find("kind");
        if (kind != doc.end() && kind->is_string()) what = kind->get<std::string>();
        auto meta = doc.find("metadata");
        if (meta != doc.end() && meta->is_object()) {
            auto name = meta->find("name");
            if (name != meta->end() && name->is_string()) what += (what.empty() ? "" : " ") + name->get<std::string>();
        }
    }
    return what.empty() ? source : source + " (" + what + ")";
}

Status check_duplicates(const std::vector<Object> &objects) {
    std::map<std::string, std::string> seen;  // key -> source
    for (auto &o : objects) {
        auto [it, fresh] = seen.emplace(object_key(o), o.source);
        if (!fresh) return Error(o.source + ": duplicate " + object_key(o) + " (also in " + it->second + ")");
    }
    return ok();
}

// YAML streams are Unicode text (YAML 1.2, 5.1: the printable characters
// and tab, LF, CR; UTF-8 here). Checked before yaml-cpp sees the text: the
// fuzzer (tests/fuzz/herd_manifest_fuzz.cpp) found that yaml-cpp 0.7 spins,
// allocating without end, on a manifest with invalid UTF-8 and control bytes.
Status check_yaml_text(const std::string &text, const std::string &file) {
    int line = 1;
    for (size_t i = 0; i < text.size();) {
        auto c = static_cast<unsigned char>(text[i]);
        auto bad = [&](const char *what) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02X", c);
            return Error(file + ":" + std::to_string(line) + ": invalid YAML: byte " + hex + " " + what, EINVAL);
        };
        if (c == '\n') ++line;
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return bad("is a control character");
            if (c == 0x7F) return bad("is a control character");
            ++i;
            continue;
        }
        size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (n == 0 || c == 0xC0 || c == 0xC1 || c > 0xF4 || i + n > text.size()) return bad("is not valid UTF-8");
        for (size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return bad("is not valid UTF-8");
        i += n;
    }
    return ok();
}

// One document of a YAML stream: its text and the line (0-based) it starts on.
struct DocumentText {
    std::string_view text;
    int first_line = 0;
};

bool is_marker_line(std::string_view line, std::string_view marker) {
    if (line.substr(0, 3) != marker) return false;
    return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

bool is_blank_or_comment(std::string_view text) {
    for (size_t i = 0; i < text.size();) {
        size_t end = text.find('\n', i);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(i, end - i);
        size_t first = line.find_first_not_of(" \t\r");
        if (first != std::string_view::npos && line[first] != '#') return false;
        i = end + 1;
    }
    return true;
}

// The documents of a stream, split at the `---` and `...` markers (which the
// YAML spec allows only at column 0, where they end even a block scalar).
// herd parses each document on its own with YAML::Load instead of calling
// YAML::LoadAll: yaml-cpp 0.7's LoadAll loops forever, allocating, on some
// malformed streams (yaml-cpp PR #1319; tests/fuzz/known-hangs history), while
// Load of the same text returns. Text after `---` on the marker line belongs
// to the document; the marker itself is blanked so that columns stay true.
std::vector<DocumentText> split_documents(std::string_view text, std::string &storage) {
    storage.assign(text);
    std::vector<DocumentText> docs;
    size_t doc_start = 0;
    int doc_line = 0, line_no = 0;
    auto close = [&](size_t end) {
        std::string_view piece(storage.data() + doc_start, end - doc_start);
        if (!is_blank_or_comment(piece)) docs.push_back({piece, doc_line});
    };
    for (size_t i = 0; i <= storage.size();) {
        size_t end = storage.find('\n', i);
        if (end == std::string::npos) end = storage.size();
        std::string_view line(storage.data() + i, end - i);
        if (is_marker_line(line, "---") || is_marker_line(line, "...")) {
            close(i);
            bool starts = line[0] == '-';
            storage.replace(i, 3, "   ");
            doc_start = starts ? i : end;  // text after `...` is not a document
            doc_line = starts ? line_no : line_no + 1;
        }
        ++line_no;
        i = end + 1;
    }
    close(storage.size());
    return docs;
}

Result<std::vector<Object>> parse_stream(const std::string &yaml_text, const std::string &file, const Ctx &ctx) {
    CORRAL_TRY(check_yaml_text(yaml_text, file));
    std::string storage;
    std::vector<Object> objects;
    std::vector<DocumentText> texts = split_documents(yaml_text, storage);
    for (size_t i = 0; i < texts.size(); ++i) {
        int offset = texts[i].first_line;
        YAML::Node node;
        try {
            node = YAML::Load(std::string(texts[i].text));
        } catch (const YAML::Exception &e) {
            return Error(file + ":" + std::to_string(e.mark.line + 1 + offset) + ": invalid YAML: " + e.msg);
        }
        std::string doc_name = "document " + std::to_string(i + 1);
        std::string source = file + ": " + doc_name;
        if (node.IsNull() || !node.IsDefined()) continue;  // an empty document, as kubectl skips it
        LineMap lines;
        auto doc = yaml_to_json(node, "", lines);
        int doc_line = node.Mark().line + 1 + offset;
        auto line_in_file = [&](const std::string &path) {
            int line = line_of(lines, path);
            return line ? line + offset : doc_line;
        };
        if (!doc)
            return Error(file + ":" + std::to_string(line_in_file(doc.error().path())) + ": " + doc_name + ": " +
                         doc.error().message());
        auto object = parse_document(*doc, ctx);
        if (!object)
            return Error(file + ":" + std::to_string(line_in_file(object.error().path())) + ": " +
                         describe_document(doc_name, *doc) + ": " + object.error().message());
        object->source = source;
        objects.push_back(std::move(*object));
    }
    return objects;
}

} // namespace

// --- public API ---------------------------------------------------------------------------

Result<std::vector<Object>> parse_manifests(const std::string &yaml_text, const std::string &file,
                                            const ParseOptions &opts) {
    Ctx ctx{opts.ignore_unknown};
    auto objects = CORRAL_TRY(parse_stream(yaml_text, file, ctx));
    CORRAL_TRY(check_duplicates(objects));
    return objects;
}

Result<std::vector<Object>> load_manifests(const std::string &path, const ParseOptions &opts) {
    Ctx ctx{opts.ignore_unknown};
    if (path == "-") {  // `herd apply -f -`, as kubectl: the manifests on standard input
        auto text = CORRAL_TRY_CTX(read_fd(STDIN_FILENO), "read manifests from standard input");
        auto objects = CORRAL_TRY(parse_stream(text, "<stdin>", ctx));
        CORRAL_TRY(check_duplicates(objects));
        return objects;
    }
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return Error::from_errno(errno, "read manifests", path);
    std::vector<std::string> files;
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = ::opendir(path.c_str());
        if (!dir) return Error::from_errno(errno, "open directory", path);
        while (dirent *e = ::readdir(dir)) {
            std::string name = e->d_name;
            auto ends_with = [&](std::string_view s) {
                return name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
            };
            if (name[0] != '.' && (ends_with(".yaml") || ends_with(".yml") || ends_with(".json")))
                files.push_back(path_join(path, name));
        }
        ::closedir(dir);
        std::sort(files.begin(), files.end());
        if (files.empty()) return Error("no *.yaml, *.yml or *.json files in directory", 0, path).context(path);
    } else {
        files.push_back(path);
    }
    std::vector<Object> all;
    for (auto &file : files) {
        auto text = CORRAL_TRY_CTX(read_file(file), "read manifests");
        auto objects = CORRAL_TRY(parse_stream(text, file, ctx));
        for (auto &o : objects) all.push_back(std::move(o));
    }
    CORRAL_TRY(check_duplicates(all));
    return all;
}

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

json to_json(const Deployment &d) {
    const auto &s = d.spec;
    json strategy = {{"type", s.strategy}};
    if (s.strategy == "RollingUpdate")
        strategy["rollingUpdate"] = {{"maxSurge", int_or_percent_to_json(s.max_surge)},
                                     {"maxUnavailable", int_or_percent_to_json(s.max_unavailable)}};
    json spec = {{"replicas", s.replicas},
                 {"selector", {{"matchLabels", s.selector}}},
                 {"template", template_to_json(s.template_)},
                 {"strategy", strategy},
                 {"minReadySeconds", s.min_ready_seconds},
                 {"revisionHistoryLimit", s.revision_history_limit},
                 {"progressDeadlineSeconds", s.progress_deadline_seconds}};
    return {{"apiVersion", "apps/v1"},
            {"kind", "Deployment"},
            {"metadata", meta_to_json(d.metadata, MetaKind::object)},
            {"spec", spec}};
}

Result<Pod> pod_from_json(const json &j, const std::string &source) {
    auto pod = parse_pod(j, Ctx{});
    if (!pod) return std::move(pod.error()).context(source);
    return pod;
}

Result<Deployment> deployment_from_json(const json &j, const std::string &source) {
    auto d = parse_deployment(j, Ctx{});
    if (!d) return std::move(d.error()).context(source);
    return d;
}

// FNV-1a over the template's canonical JSON (nlohmann keeps object keys
// sorted, so equal templates dump equally), written in the alphabet
// Kubernetes uses for generated names (no vowels, no look-alike digits).
// The pod-template-hash label itself is left out, so stamping it on the
// template does not change the hash.
std::string template_hash(const PodTemplate &t) {
    PodTemplate copy = t;
    copy.metadata.labels.erase("pod-template-hash");
    copy.metadata.creation_timestamp.clear();
    std::string canonical = template_to_json(copy).dump();
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : canonical) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    static constexpr char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    constexpr uint64_t base = sizeof(alphabet) - 1;
    std::string out;
    for (int i = 0; i < 10; ++i) {
        out += alphabet[h % base];
        h /= base;
    }
    return out;
}

} // namespace corral::herd
