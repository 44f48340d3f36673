// herd/kinds.hpp — the table of kinds herd knows: one row per kind.
//
// Everything that differs between kinds and is not behaviour lives here:
// the names kubectl accepts for it (pods, po, deployment.apps, ...), how it
// is named in messages ("deployment.apps/web", `deployments.apps "web" not
// found`), whether it is namespaced, and how an object of it is validated
// and made canonical (the strict parser of manifest.hpp). serve's API and
// the CLI ask this table instead of testing `kind == "Pod"`.
//
// Behaviour (reconciling, status) is a KindController (kind_controller.hpp).
// A new kind (Service, HorizontalPodAutoscaler) is: its types and parser in
// manifest_<kind>.cpp, a row in kinds.cpp, a controller in
// controller_<kind>.cpp registered in Controller's constructor, and its
// table columns in cli_get.cpp.
#pragma once

#include "corral/error.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace corral::herd {

struct KindInfo {
    std::string kind;         // "Deployment"
    std::string api_version;  // "apps/v1"
    std::string singular;     // "deployment"
    std::string plural;       // "deployments"
    std::string group;        // "apps"; "" for the core group
    std::vector<std::string> short_names;  // "deploy"
    bool namespaced = true;
    // Checks an object of this kind as the API server would and returns its
    // canonical JSON; nullptr: not accepted by apply (a Node).
    std::function<Result<nlohmann::json>(const nlohmann::json &, const std::string &source)> parse;

    // "deployment.apps" / "pod": the qualified singular kubectl prints.
    std::string qualified() const { return group.empty() ? singular : singular + "." + group; }
    // "deployments.apps" / "pods": the resource in NotFound messages.
    std::string resource() const { return group.empty() ? plural : plural + "." + group; }
    // kubectl's name of one object in messages: "deployment.apps/web".
    std::string display(const std::string &name) const { return qualified() + "/" + name; }
    // The object in events: "deployment/web".
    std::string event_object(const std::string &name) const { return singular + "/" + name; }
    // `deployments.apps "web" not found`.
    Error not_found(const std::string &name) const;
};

// Every kind, in the order `herd get all` and apply's results list them.
const std::vector<KindInfo> &kinds();
// By kind ("Pod"), singular, plural, short name or group-qualified name,
// any case; nullptr when herd does not know it.
const KindInfo *find_kind(std::string_view word);
// The built-in kinds' entries (always there).
const KindInfo &pod_kind();
const KindInfo &deployment_kind();
const KindInfo &node_kind();
// The list for messages: "pods, deployments, nodes".
std::string kind_names();

} // namespace corral::herd
