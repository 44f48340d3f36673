// herd/serve_internal.hpp — small helpers shared by the files of herd
// serve's controller (serve.cpp, serve_ops.cpp, controller_*.cpp): reading
// fields of Kubernetes JSON without throwing, times, and the bookkeeping
// labels and annotations of Deployments. Not a public header.
#pragma once

#include "herd/manifest.hpp"
#include "herd/status.hpp"

#include <nlohmann/json.hpp>

#include <ctime>
#include <string>
#include <vector>

namespace corral::herd::serve_detail {

using json = nlohmann::json;

inline constexpr const char *revision_annotation = "deployment.kubernetes.io/revision";
inline constexpr const char *hash_label = "pod-template-hash";

inline std::string iso_time_ms(int64_t ms) {
    time_t t = static_cast<time_t>(ms / 1000);
    tm tmv{};
    gmtime_r(&t, &tmv);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    return buf;
}

inline std::string key_of(const std::string &ns, const std::string &name) { return ns + "/" + name; }

inline const json &field(const json &j, const char *name) {
    static const json null_json;
    if (j.is_object()) {
        auto it = j.find(name);
        if (it != j.end()) return *it;
    }
    return null_json;
}

inline std::string str_field(const json &j, const char *name) {
    const json &v = field(j, name);
    return v.is_string() ? v.get<std::string>() : std::string();
}

// The Ready condition of a pod status (status.hpp shape) is "True".
inline bool status_ready(const json &status) {
    for (const auto &c : field(status, "conditions")) {
        if (str_field(c, "type") == "Ready") return str_field(c, "status") == "True";
    }
    return false;
}

// An RFC 3339 time as the agent writes it (UTC, "…Z") -> unix ms; 0 if it is not one.
inline int64_t rfc3339_ms(const std::string &t) { return parse_rfc3339(t).value_or(0) * 1000; }

// When the pod's Ready condition last turned True, in unix ms (0: unknown).
// The agent's time, so minReadySeconds is not restarted by a serve restart.
inline int64_t ready_transition_ms(const json &status) {
    for (const auto &c : field(status, "conditions"))
        if (str_field(c, "type") == "Ready") return rfc3339_ms(str_field(c, "lastTransitionTime"));
    return 0;
}

inline int status_restarts(const json &status) {
    int n = 0;
    for (const auto &c : field(status, "containerStatuses")) n += field(c, "restartCount").is_number() ? c["restartCount"].get<int>() : 0;
    return n;
}

// Pods carry the Deployment they belong to the way Kubernetes' pods do: an
// ownerReference to the ReplicaSet "<deployment>-<pod-template-hash>".
// Returns the deployment name, "" for a standalone pod.
inline std::string owner_deployment(const json &pod) {
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

inline std::string pod_hash(const json &pod) { return str_field(field(field(pod, "metadata"), "labels"), hash_label); }

// The object as the manifest parser accepts it: without the fields only
// serve writes (the parser is strict, like the API server's input).
inline json for_parser(json obj) {
    if (obj.contains("metadata") && obj["metadata"].is_object()) {
        obj["metadata"].erase("ownerReferences");
        obj["metadata"].erase("generation");
        obj["metadata"].erase("deletionTimestamp");
    }
    if (obj.contains("spec") && obj["spec"].is_object()) obj["spec"].erase("nodeName");
    obj.erase("status");
    return obj;
}

// What the agent gets: the Pod as a manifest would give it, with the uid.
// ownerReferences and nodeName are serve's bookkeeping, not the node's.
inline json pod_for_agent(const json &pod) { return for_parser(pod); }

inline json labels_and_annotations(const json &obj, bool drop_revision) {
    json meta = field(obj, "metadata");
    json out = {{"labels", field(meta, "labels").is_object() ? meta["labels"] : json::object()},
                {"annotations", field(meta, "annotations").is_object() ? meta["annotations"] : json::object()}};
    if (drop_revision) out["annotations"].erase(revision_annotation);
    return out;
}

inline std::string req_string(const json &req, const char *name, const std::string &def = "") {
    const json &v = field(req, name);
    return v.is_string() ? v.get<std::string>() : def;
}

inline Result<std::string> required_string(const json &req, const char *name) {
    std::string v = req_string(req, name);
    if (v.empty()) return Error(ErrorKind::invalid, std::string("request: missing \"") + name + "\"");
    return v;
}

inline std::vector<std::string> images_of(const json &template_json) {
    std::vector<std::string> out;
    for (const auto &c : field(field(template_json, "spec"), "containers")) out.push_back(str_field(c, "image"));
    return out;
}


} // namespace corral::herd::serve_detail
