// v1 blkio: proportional weights (CFQ's blkio.weight, or BFQ's
// blkio.bfq.weight) and throttling. Hosts whose scheduler has no weights
// lack the weight files: that is an error only when weights are asked for.
#include "cgroups/v1/v1.hpp"

namespace corral::cgroups::v1 {

using detail::file_exists;
using detail::join;
using detail::to_dec;
using detail::to_udec;

namespace {

// The weight knob this kernel has: CFQ's name or BFQ's; "" if neither.
std::string weight_file(const std::string &dir, const char *cfq, const char *bfq) {
    if (file_exists(join(dir, cfq))) return cfq;
    if (file_exists(join(dir, bfq))) return bfq;
    return {};
}

std::string dev(int64_t major, int64_t minor) { return to_dec(major) + ":" + to_dec(minor); }

struct Throttle {
    const char *field;
    const char *file;
    const std::vector<spec::ThrottleDevice> spec::BlockIO::*list;
};
constexpr Throttle kThrottles[] = {
    {"throttleReadBpsDevice", "blkio.throttle.read_bps_device", &spec::BlockIO::throttle_read_bps_device},
    {"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", &spec::BlockIO::throttle_write_bps_device},
    {"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", &spec::BlockIO::throttle_read_iops_device},
    {"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", &spec::BlockIO::throttle_write_iops_device},
};

Error unsupported(const std::string &field, const std::string &dir, const std::string &files) {
    return Error("linux.resources.blockIO." + field + ": not supported on this host (no " + files + " in `" +
                 dir + "`; the disk's I/O scheduler has no cgroup weights)");
}

} // namespace

Status check_blkio(const std::string &dir, const spec::BlockIO &io) {
    if (io.weight && weight_file(dir, "blkio.weight", "blkio.bfq.weight").empty())
        return unsupported("weight", dir, "blkio.weight or blkio.bfq.weight");
    if (io.leaf_weight && !file_exists(join(dir, "blkio.leaf_weight")))
        return unsupported("leafWeight", dir, "blkio.leaf_weight");
    bool dev_weight = false, dev_leaf = false;
    for (const auto &wd : io.weight_device) {
        dev_weight = dev_weight || wd.weight;
        dev_leaf = dev_leaf || wd.leaf_weight;
    }
    if (dev_weight && weight_file(dir, "blkio.weight_device", "blkio.bfq.weight_device").empty())
        return unsupported("weightDevice", dir, "blkio.weight_device or blkio.bfq.weight_device");
    if (dev_leaf && !file_exists(join(dir, "blkio.leaf_weight_device")))
        return unsupported("weightDevice[].leafWeight", dir, "blkio.leaf_weight_device");
    for (const auto &t : kThrottles)
        if (!(io.*t.list).empty() && !file_exists(join(dir, t.file)))
            return Error("linux.resources.blockIO." + std::string(t.field) +
                         ": this kernel has no I/O throttling (no " + t.file + ")");
    return ok();
}

Status set_blkio(const Knobs &k, const std::string &dir, const spec::BlockIO &io) {
    if (io.weight)
        CORRAL_TRY(k.write(dir, weight_file(dir, "blkio.weight", "blkio.bfq.weight"), to_udec(*io.weight)));
    if (io.leaf_weight) CORRAL_TRY(k.write(dir, "blkio.leaf_weight", to_udec(*io.leaf_weight)));
    std::string wd_file;
    for (const auto &wd : io.weight_device) {
        if (wd.weight) {
            if (wd_file.empty()) wd_file = weight_file(dir, "blkio.weight_device", "blkio.bfq.weight_device");
            CORRAL_TRY(k.write(dir, wd_file, dev(wd.major, wd.minor) + " " + to_udec(*wd.weight)));
        }
        if (wd.leaf_weight)
            CORRAL_TRY(k.write(dir, "blkio.leaf_weight_device", dev(wd.major, wd.minor) + " " + to_udec(*wd.leaf_weight)));
    }
    for (const auto &t : kThrottles)
        for (const auto &td : io.*t.list)
            CORRAL_TRY(k.write(dir, t.file, dev(td.major, td.minor) + " " + to_udec(td.rate)));
    return ok();
}

} // namespace corral::cgroups::v1
