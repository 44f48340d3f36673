// pids and hugetlb: the same files and rules under v1 and v2, except the
// name of hugetlb's limit file (hugetlb.<size>.limit_in_bytes on v1,
// hugetlb.<size>.max on v2).
#include "cgroups/util.hpp"

#include <limits>

namespace corral::cgroups::detail {

Status set_pids(const Knobs &k, const std::string &dir, const spec::Pids &pids) {
    // runc: 0 leaves pids.max alone, a negative limit means "max".
    if (pids.limit == 0) return ok();
    return k.write(dir, "pids.max", pids.limit > 0 ? to_dec(pids.limit) : std::string("max"));
}

void stat_pids(const std::string &dir, Stats &s) {
    if (auto v = read_knob_uint(dir, "pids.current")) s.pids_current = *v;
    if (auto v = read_knob_uint(dir, "pids.max"))
        s.pids_limit = *v == std::numeric_limits<uint64_t>::max() ? 0 : *v; // "max": no limit
}

Status check_hugetlb(const std::string &dir, const std::vector<spec::HugepageLimit> &limits,
                     std::string_view limit_file) {
    for (const auto &l : limits) {
        if (l.page_size.empty() || l.page_size.find('/') != std::string::npos)
            return Error("linux.resources.hugepageLimits: invalid pageSize `" + l.page_size + "`");
        std::string file = "hugetlb." + l.page_size + "." + std::string(limit_file);
        if (!file_exists(join(dir, file)))
            return Error("linux.resources.hugepageLimits: page size `" + l.page_size +
                         "` is not supported on this host (no " + file + ")");
    }
    return ok();
}

// The reservation limit hugetlb.<size>.rsvd.<limit file> too, where the
// kernel has it: runtime-spec prefers reservations (they fail at mmap
// instead of SIGBUS at fault).
Status set_hugetlb(const Knobs &k, const std::string &dir, const std::vector<spec::HugepageLimit> &limits,
                   std::string_view limit_file) {
    for (const auto &l : limits) {
        std::string value = to_udec(l.limit);
        CORRAL_TRY(k.write(dir, "hugetlb." + l.page_size + "." + std::string(limit_file), value));
        std::string rsvd = "hugetlb." + l.page_size + ".rsvd." + std::string(limit_file);
        if (file_exists(join(dir, rsvd))) CORRAL_TRY(k.write(dir, rsvd, value));
    }
    return ok();
}

} // namespace corral::cgroups::detail
