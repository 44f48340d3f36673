// herd/manifest_meta.cpp — names (DNS labels, qualified names, label
// values), metadata with the herd.io annotations, and the checks every kind
// shares; as the API server validates them.
#include "herd/manifest.hpp"
#include "herd/manifest_internal.hpp"

#include <regex>

namespace corral::herd {
namespace manifest_detail {

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

// apiVersion and kind, when present (always in manifests; the wire may omit them).
Status check_type(Fields &f, const char *api_version, const char *kind) {
    std::string av, k;
    CORRAL_TRY(f.string("apiVersion", av));
    CORRAL_TRY(f.string("kind", k));
    if ((!av.empty() && av != api_version) || (!k.empty() && k != kind))
        return field_error("", "unsupported kind \"" + av + "/" + k + "\" (expected " + api_version + "/" + kind + ")");
    return ok();
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

} // namespace manifest_detail

using namespace manifest_detail;

} // namespace corral::herd
