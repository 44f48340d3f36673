// v1 hugetlb: hugetlb.<size>.limit_in_bytes, and the reservation limit
// hugetlb.<size>.rsvd.limit_in_bytes where the kernel has it (runtime-spec
// prefers reservations: they fail at mmap instead of SIGBUS at fault).
#include "cgroups/v1/v1.hpp"

namespace corral::cgroups::v1 {

using detail::file_exists;
using detail::join;

Status check_hugetlb(const std::string &dir, const std::vector<spec::HugepageLimit> &limits) {
    for (const auto &l : limits) {
        if (l.page_size.empty() || l.page_size.find('/') != std::string::npos)
            return Error("linux.resources.hugepageLimits: invalid pageSize `" + l.page_size + "`");
        std::string file = "hugetlb." + l.page_size + ".limit_in_bytes";
        if (!file_exists(join(dir, file)))
            return Error("linux.resources.hugepageLimits: page size `" + l.page_size +
                         "` is not supported on this host (no " + file + ")");
    }
    return ok();
}

Status set_hugetlb(const Knobs &k, const std::string &dir, const std::vector<spec::HugepageLimit> &limits) {
    for (const auto &l : limits) {
        std::string value = detail::to_udec(l.limit);
        CORRAL_TRY(k.write(dir, "hugetlb." + l.page_size + ".limit_in_bytes", value));
        std::string rsvd = "hugetlb." + l.page_size + ".rsvd.limit_in_bytes";
        if (file_exists(join(dir, rsvd))) CORRAL_TRY(k.write(dir, rsvd, value));
    }
    return ok();
}

} // namespace corral::cgroups::v1
