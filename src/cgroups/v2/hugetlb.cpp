// v2 hugetlb: hugetlb.<size>.max, and hugetlb.<size>.rsvd.max where the
// kernel has reservation accounting (runtime-spec prefers it).
#include "cgroups/v2/v2.hpp"

namespace corral::cgroups::v2 {

using detail::file_exists;
using detail::join;

Status check_hugetlb(const std::string &dir, const std::vector<spec::HugepageLimit> &limits) {
    for (const auto &l : limits) {
        if (l.page_size.empty() || l.page_size.find('/') != std::string::npos)
            return Error("linux.resources.hugepageLimits: invalid pageSize `" + l.page_size + "`");
        std::string file = "hugetlb." + l.page_size + ".max";
        if (!file_exists(join(dir, file)))
            return Error("linux.resources.hugepageLimits: page size `" + l.page_size +
                         "` is not supported on this host (no " + file + ")");
    }
    return ok();
}

Status set_hugetlb(const Knobs &k, const std::string &dir, const std::vector<spec::HugepageLimit> &limits) {
    for (const auto &l : limits) {
        std::string value = detail::to_udec(l.limit);
        CORRAL_TRY(k.write(dir, "hugetlb." + l.page_size + ".max", value));
        std::string rsvd = "hugetlb." + l.page_size + ".rsvd.max";
        if (file_exists(join(dir, rsvd))) CORRAL_TRY(k.write(dir, rsvd, value));
    }
    return ok();
}

} // namespace corral::cgroups::v2
