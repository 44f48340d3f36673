// v2 io: weights (io.bfq.weight when BFQ is there, else io.weight with
// runc's conversion) and io.max throttles ("MAJ:MIN rbps=N").
#include "cgroups/v2/v2.hpp"

namespace corral::cgroups::v2 {

using detail::file_exists;
using detail::join;
using detail::to_dec;
using detail::to_udec;

namespace {

std::string dev(int64_t major, int64_t minor) { return to_dec(major) + ":" + to_dec(minor); }

struct Throttle {
    const char *key;
    const std::vector<spec::ThrottleDevice> spec::BlockIO::*list;
};
constexpr Throttle kThrottles[] = {
    {"rbps", &spec::BlockIO::throttle_read_bps_device},
    {"wbps", &spec::BlockIO::throttle_write_bps_device},
    {"riops", &spec::BlockIO::throttle_read_iops_device},
    {"wiops", &spec::BlockIO::throttle_write_iops_device},
};

bool any_device_weight(const spec::BlockIO &io) {
    for (const auto &wd : io.weight_device)
        if (wd.weight) return true;
    return false;
}

} // namespace

Status check_io(const std::string &dir, const spec::BlockIO &io) {
    if (io.leaf_weight) return Error("linux.resources.blockIO.leafWeight: does not exist on cgroup v2");
    for (const auto &wd : io.weight_device)
        if (wd.leaf_weight) return Error("linux.resources.blockIO.weightDevice[].leafWeight: does not exist on cgroup v2");
    if ((io.weight || any_device_weight(io)) && !file_exists(join(dir, "io.bfq.weight")) &&
        !file_exists(join(dir, "io.weight")))
        return Error("linux.resources.blockIO.weight: not supported on this host (neither io.bfq.weight nor "
                     "io.weight in `" + dir + "`)");
    bool throttles = false;
    for (const auto &t : kThrottles) throttles = throttles || !(io.*t.list).empty();
    if (throttles && !file_exists(join(dir, "io.max")))
        return Error("linux.resources.blockIO.throttle*: this kernel has no I/O throttling (no io.max)");
    return ok();
}

Status set_io(const Knobs &k, const std::string &dir, const spec::BlockIO &io) {
    if (io.weight || any_device_weight(io)) {
        bool bfq = file_exists(join(dir, "io.bfq.weight"));
        if (io.weight) {
            if (bfq)
                CORRAL_TRY(k.write(dir, "io.bfq.weight", to_udec(*io.weight)));
            else
                CORRAL_TRY(k.write(dir, "io.weight", to_udec(blkio_weight_to_io_weight(*io.weight))));
        }
        for (const auto &wd : io.weight_device) {
            if (!wd.weight) continue;
            if (bfq)
                CORRAL_TRY(k.write(dir, "io.bfq.weight", dev(wd.major, wd.minor) + " " + to_udec(*wd.weight)));
            else
                CORRAL_TRY(k.write(dir, "io.weight",
                                   dev(wd.major, wd.minor) + " " + to_udec(blkio_weight_to_io_weight(*wd.weight))));
        }
    }
    for (const auto &t : kThrottles)
        for (const auto &td : io.*t.list)
            CORRAL_TRY(k.write(dir, "io.max", dev(td.major, td.minor) + " " + t.key + "=" + to_udec(td.rate)));
    return ok();
}

} // namespace corral::cgroups::v2
