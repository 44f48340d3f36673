// herd/kinds.cpp — the rows of the kind table (kinds.hpp).
#include "herd/kinds.hpp"

#include "herd/manifest.hpp"

#include <algorithm>
#include <cctype>

namespace corral::herd {

Error KindInfo::not_found(const std::string &name) const {
    return Error(ErrorKind::not_found, resource() + " \"" + name + "\" not found");
}

const std::vector<KindInfo> &kinds() {
    static const std::vector<KindInfo> table = {
        {"Pod", "v1", "pod", "pods", "", {"po"}, true,
         [](const nlohmann::json &o, const std::string &source) -> Result<nlohmann::json> {
             return to_json(CORRAL_TRY(pod_from_json(o, source)));
         }},
        {"Deployment", "apps/v1", "deployment", "deployments", "apps", {"deploy"}, true,
         [](const nlohmann::json &o, const std::string &source) -> Result<nlohmann::json> {
             return to_json(CORRAL_TRY(deployment_from_json(o, source)));
         }},
        {"Node", "v1", "node", "nodes", "", {"no"}, false, nullptr},
    };
    return table;
}

const KindInfo *find_kind(std::string_view word) {
    std::string w(word);
    std::transform(w.begin(), w.end(), w.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const auto &k : kinds()) {
        std::string lower = k.kind;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        if (w == lower || w == k.singular || w == k.plural || w == k.qualified() || w == k.resource()) return &k;
        for (const auto &s : k.short_names)
            if (w == s) return &k;
    }
    return nullptr;
}

const KindInfo &pod_kind() { return *find_kind("Pod"); }
const KindInfo &deployment_kind() { return *find_kind("Deployment"); }
const KindInfo &node_kind() { return *find_kind("Node"); }

std::string kind_names() {
    std::string out;
    for (const auto &k : kinds()) out += (out.empty() ? "" : ", ") + k.plural;
    return out;
}

} // namespace corral::herd
