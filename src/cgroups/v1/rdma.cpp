// v1 rdma: rdma.max, one line per device (same format as on v2).
#include "cgroups/v1/v1.hpp"

namespace corral::cgroups::v1 {

Status set_rdma(const Knobs &k, const std::string &dir, const std::map<std::string, std::string> &rdma_raw) {
    for (const auto &[device, raw] : rdma_raw) {
        std::string line = CORRAL_TRY(detail::rdma_limit_line(device, raw));
        CORRAL_TRY(k.write(dir, "rdma.max", line));
    }
    return ok();
}

} // namespace corral::cgroups::v1
