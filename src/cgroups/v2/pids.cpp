// v2 pids: pids.max, and the current count.
#include "cgroups/v2/v2.hpp"

#include <limits>

namespace corral::cgroups::v2 {

Status set_pids(const Knobs &k, const std::string &dir, const spec::Pids &pids) {
    // runc: 0 leaves pids.max alone, a negative limit means "max".
    if (pids.limit == 0) return ok();
    return k.write(dir, "pids.max", pids.limit > 0 ? detail::to_dec(pids.limit) : std::string("max"));
}

void stat_pids(const std::string &dir, Stats &s) {
    if (auto v = detail::read_knob_uint(dir, "pids.current")) s.pids_current = *v;
    if (auto v = detail::read_knob_uint(dir, "pids.max"))
        s.pids_limit = *v == std::numeric_limits<uint64_t>::max() ? 0 : *v; // "max": no limit
}

} // namespace corral::cgroups::v2
