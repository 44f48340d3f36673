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

bool same(const spec::DeviceRule &a, const spec::DeviceRule &b) {
    auto num = [](const std::optional<int64_t> &v) { return v && *v >= 0 ? *v : -1; };
    std::string ta = a.type.empty() ? "a" : a.type, tb = b.type.empty() ? "a" : b.type;
    return a.allow == b.allow && ta == tb && num(a.major) == num(b.major) && num(a.minor) == num(b.minor) &&
           a.access == b.access;
}

} // namespace

Status check_devices(const Knobs &k, const std::vector<spec::DeviceRule> &rules) {
    if (rules.empty()) return ok();
    // Ends in "allow all": that is what v2 without a program does anyway.
    if (rules.back().allow && is_all(rules.back())) return ok();
    // runc's default: deny all, optionally followed by its default allow list.
    if (!rules.front().allow && is_all(rules.front())) {
        auto defaults = default_allowed_devices();
        size_t rest = rules.size() - 1;
        bool is_default = rest == 0;
        if (rest == defaults.size()) {
            is_default = true;
            for (size_t i = 0; i < rest; ++i) is_default = is_default && same(rules[i + 1], defaults[i]);
        }
        if (is_default) {
            k.warn("device rules are not enforced on cgroup v2 yet (no eBPF device program)");
            return ok();
        }
    }
    return Error("linux.resources.devices: device rules on cgroup v2 are not supported yet (they need an eBPF "
                 "program); only the default policy is accepted");
}

} // namespace corral::cgroups::v2
