// v1 net_cls and net_prio: a class id for tc/iptables, per-interface priorities.
#include "cgroups/v1/v1.hpp"

namespace corral::cgroups::v1 {

Status set_net_cls(const Knobs &k, const std::string &dir, uint32_t class_id) {
    return k.write(dir, "net_cls.classid", detail::to_udec(class_id));
}

Status set_net_prio(const Knobs &k, const std::string &dir, const std::vector<spec::NetworkPriority> &prios) {
    for (const auto &p : prios) {
        if (p.name.empty() || p.name.find_first_of(" \n") != std::string::npos)
            return Error("linux.resources.network.priorities: invalid interface name `" + p.name + "`");
        CORRAL_TRY(k.write(dir, "net_prio.ifpriomap", p.name + " " + detail::to_udec(p.priority)));
    }
    return ok();
}

} // namespace corral::cgroups::v1
