// v2 devices: enforced by an eBPF program attached to the cgroup, which is
// not written yet. Until then only rule lists whose effect we can honestly
// claim are accepted (see v2.hpp).
#include "cgroups/v2/v2.hpp"

namespace corral::cgroups::v2 {

namespace {

bool is_all(const spec::DeviceRule &r) {
    return (r.type.empty() || r.type == "a") && (!r.major || *r.major < 0) && (!r.minor || *r.minor < 0) &&
           r.access.find('r') != std::string::npos && r.access.find('w') != std::string::npos &&
           r.access.find('m') != std::string::npos;
}

} // namespace

Status check_devices(const Knobs &k, const std::vector<spec::DeviceRule> &rules) {
    if (rules.empty()) return ok();
    // Ends in "allow all": that is what v2 without a program does anyway.
    if (rules.back().allow && is_all(rules.back())) return ok();
    // Deny all, then only allow rules: the shape every client sends (runc's
    // default policy, plus linux.devices and default_allowed_devices() that
    // the runtime appends). Not enforced yet: say so.
    bool whitelist = !rules.front().allow && is_all(rules.front());
    for (size_t i = 1; whitelist && i < rules.size(); ++i) whitelist = rules[i].allow;
    if (whitelist) {
        k.warn("device rules are not enforced on cgroup v2 yet (no eBPF device program): "
               "the container can open any device node it has");
        return ok();
    }
    return Error("linux.resources.devices: device rules on cgroup v2 are not supported yet (they need an eBPF "
                 "program); only \"deny all, then allow ...\" lists are accepted, and not enforced");
}

} // namespace corral::cgroups::v2
