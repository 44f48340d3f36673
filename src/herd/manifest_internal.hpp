// herd/manifest_internal.hpp — what the files of herd's manifest parser
// share (manifest.cpp: YAML and documents; manifest_meta.cpp: names and
// metadata; manifest_pod.cpp: Pods; manifest_deployment.cpp: Deployments):
// the strict object reader `Fields`, field paths and error helpers, and the
// per-type parse/to-JSON functions one file calls in another. Not a public
// header.
#pragma once

#include "herd/manifest.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corral::herd::manifest_detail {

struct Ctx {
    bool ignore_unknown = false;
};

// --- field paths -------------------------------------------------------------

// "metadata" + "name" -> "metadata.name"; keys that are not identifiers are
// bracketed: metadata.annotations["herd.io/backoff-max"].
inline std::string key_path(const std::string &base, std::string_view key) {
    bool identifier = !key.empty() && !std::isdigit(static_cast<unsigned char>(key[0]));
    for (char c : key)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') identifier = false;
    if (!identifier) return base + "[\"" + std::string(key) + "\"]";
    return base.empty() ? std::string(key) : base + "." + std::string(key);
}

inline std::string index_path(const std::string &base, size_t i) { return base + "[" + std::to_string(i) + "]"; }

inline Error field_error(const std::string &path, const std::string &what) {
    return Error(path.empty() ? what : path + ": " + what, 0, path);
}

// kubectl's (the API server's strict decoding) words: unknown field "spec.x".
inline Error unknown_field(const std::string &path) { return Error("unknown field \"" + path + "\"", 0, path); }

// Optimal string alignment distance: insertions, deletions, substitutions and
// transpositions of neighbours ("contianers" is 1 from "containers").
inline size_t edit_distance(std::string_view a, std::string_view b) {
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

inline std::string type_name(const json &v) {
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

inline Error type_error(const std::string &path, const char *expected, const json &got) {
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
inline const std::set<std::string> object_meta = {"generateName", "finalizers", "deletionTimestamp",
                                           "deletionGracePeriodSeconds"};
inline const std::set<std::string> pod_spec = {
    "activeDeadlineSeconds", "affinity", "automountServiceAccountToken", "dnsConfig", "dnsPolicy",
    "enableServiceLinks", "ephemeralContainers", "hostAliases", "hostIPC", "hostPID", "hostUsers", "hostname",
    "imagePullSecrets", "initContainers", "nodeName", "os", "overhead", "preemptionPolicy", "priority",
    "priorityClassName", "readinessGates", "resourceClaims", "runtimeClassName", "schedulerName", "schedulingGates",
    "securityContext", "serviceAccount", "serviceAccountName", "setHostnameAsFQDN", "shareProcessNamespace",
    "subdomain", "topologySpreadConstraints", "volumes"};
inline const std::set<std::string> container = {"envFrom", "lifecycle", "resizePolicy", "restartPolicy", "securityContext",
                                         "stdin", "stdinOnce", "terminationMessagePath", "terminationMessagePolicy",
                                         "tty", "volumeDevices", "volumeMounts"};
inline const std::set<std::string> env_var = {"valueFrom"};
inline const std::set<std::string> probe = {"grpc", "terminationGracePeriodSeconds"};
inline const std::set<std::string> resources = {"claims"};
inline const std::set<std::string> deployment_spec = {"paused"};
inline const std::set<std::string> selector = {"matchExpressions"};
} // namespace kubernetes_only

// The elements of an optional array field, each with its path.
inline Result<std::vector<std::pair<const json *, std::string>>> array_items(Fields &f, std::string_view key) {
    std::vector<std::pair<const json *, std::string>> items;
    const json *v = f.get(key);
    if (!v) return items;
    if (!v->is_array()) return type_error(f.path(key), "array", *v);
    for (size_t i = 0; i < v->size(); ++i) items.emplace_back(&(*v)[i], index_path(f.path(key), i));
    return items;
}

// --- across the files ----------------------------------------------------------------

// manifest_meta.cpp
bool is_dns1123_label(const std::string &s);
bool is_dns1123_subdomain(const std::string &s);
bool is_port_name(const std::string &s);
bool is_qualified_name(const std::string &s);
bool is_label_value(const std::string &s);
bool is_env_name(const std::string &s);
Status check_one_of(const std::string &path, const std::string &value, std::initializer_list<const char *> allowed);
Status check_min(const std::string &path, int64_t value, int64_t min);
Status check_labels(const std::string &path, const std::map<std::string, std::string> &labels);
enum class MetaKind { object, template_ };
Result<ObjectMeta> parse_metadata(const json *v, const std::string &path, MetaKind kind, const Ctx &ctx);
json meta_to_json(const ObjectMeta &m, MetaKind kind);
// "apiVersion" and "kind" must be these.
Status check_type(Fields &f, const char *api_version, const char *kind);

// manifest_pod.cpp
Result<PodSpec> parse_pod_spec(const json *v, const std::string &path, const Ctx &ctx);
Result<Pod> parse_pod(const json &v, const Ctx &ctx);
json template_to_json(const PodTemplate &t);

// manifest_deployment.cpp
Result<Deployment> parse_deployment(const json &v, const Ctx &ctx);

} // namespace corral::herd::manifest_detail
