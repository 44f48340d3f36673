// herd/manifest_deployment.cpp — apps/v1/Deployment: strategy, selector,
// template (a pod spec, manifest_pod.cpp), and the pod-template-hash.
#include "herd/manifest.hpp"
#include "herd/manifest_internal.hpp"

#include <regex>

namespace corral::herd {
namespace manifest_detail {

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

json int_or_percent_to_json(const IntOrPercent &v) {
    if (v.percent) return std::to_string(v.value) + "%";
    return v.value;
}

} // namespace manifest_detail

using namespace manifest_detail;

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
