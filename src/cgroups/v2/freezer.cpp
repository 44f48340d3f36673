// v2 freezer: cgroup.freeze, and cgroup.events "frozen 1" once every task
// has stopped. cgroup.events raises POLLPRI on change, so we wait on it
// instead of sleeping blindly.
#include "cgroups/v2/v2.hpp"

#include "common/fs.hpp"

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace corral::cgroups::v2 {

using detail::file_exists;
using detail::join;

namespace {

Result<bool> read_frozen(int fd, const std::string &path) {
    char buf[256];
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n < 0) return Error::from_errno(errno, "read", path);
    auto v = detail::find_key(std::string_view(buf, static_cast<size_t>(n)), "frozen");
    return v && *v == 1;
}

} // namespace

Status freeze(const Knobs &k, const std::string &dir) {
    if (!file_exists(join(dir, "cgroup.freeze")))
        return Error("freeze `" + dir + "`: this kernel has no cgroup.freeze (cgroup v2 freezing needs Linux 5.2)");
    std::string events = join(dir, "cgroup.events");
    UniqueFd fd = CORRAL_TRY(open_file(events, O_RDONLY));
    CORRAL_TRY(k.write(dir, "cgroup.freeze", "1"));
    using clock = std::chrono::steady_clock;
    auto deadline = clock::now() + std::chrono::seconds(10);
    for (;;) {
        auto frozen = read_frozen(fd.get(), events);
        if (!frozen) {
            (void)k.write(dir, "cgroup.freeze", "0");
            return std::move(frozen).error();
        }
        if (*frozen) return ok();
        if (clock::now() >= deadline) {
            (void)k.write(dir, "cgroup.freeze", "0");
            return Error("freeze `" + dir + "`: not frozen after 10s");
        }
        pollfd p{fd.get(), POLLPRI, 0};
        (void)::poll(&p, 1, 10); // woken by the change, or re-read after 10 ms
    }
}

Status thaw(const Knobs &k, const std::string &dir) { return k.write(dir, "cgroup.freeze", "0"); }

} // namespace corral::cgroups::v2
