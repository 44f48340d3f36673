// v2 `unified` (raw "file": "value" pairs) and rdma.max.
#include "cgroups/v2/v2.hpp"

#include <algorithm>
#include <cerrno>

namespace corral::cgroups::v2 {

Status check_unified(const std::map<std::string, std::string> &unified, const std::vector<std::string> &controllers) {
    for (const auto &[key, value] : unified) {
        std::string where = "linux.resources.unified[\"" + key + "\"]";
        // A key names a file in the container's cgroup, nothing else.
        if (key.empty() || key.find('/') != std::string::npos || key == "." || key == "..")
            return Error(where + ": not a cgroup file name");
        auto dot = key.find('.');
        if (dot == std::string::npos || dot == 0)
            return Error(where + ": must be of the form CONTROLLER.PARAMETER");
        std::string controller = key.substr(0, dot);
        if (controller != "cgroup" &&
            std::find(controllers.begin(), controllers.end(), controller) == controllers.end())
            return Error(where + ": the " + controller + " controller is not available");
    }
    return ok();
}

Status set_unified(const Knobs &k, const std::string &dir, const std::map<std::string, std::string> &unified) {
    for (const auto &[key, value] : unified) {
        auto st = k.write(dir, key, value);
        if (!st && st.error().err() == ENOENT)
            return Error("linux.resources.unified[\"" + key + "\"]: no such file in `" + dir + "`", ENOENT,
                         detail::join(dir, key));
        CORRAL_TRY(std::move(st));
    }
    return ok();
}

Status set_rdma(const Knobs &k, const std::string &dir, const std::map<std::string, std::string> &rdma_raw) {
    for (const auto &[device, raw] : rdma_raw) {
        std::string line = CORRAL_TRY(detail::rdma_limit_line(device, raw));
        CORRAL_TRY(k.write(dir, "rdma.max", line));
    }
    return ok();
}

} // namespace corral::cgroups::v2
