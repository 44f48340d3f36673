// v1 cpuset: a new cpuset cgroup starts with empty cpuset.cpus/mems, and a
// task cannot join it (ENOSPC) until both are set. So every directory we
// create gets its parent's values; user-given values come later in apply().
#include "cgroups/v1/v1.hpp"

#include "common/fs.hpp"

#include <cerrno>
#include <sys/stat.h>

namespace corral::cgroups::v1 {

using detail::read_knob;

namespace {

std::string parent_of(const std::string &dir) {
    auto slash = dir.find_last_of('/');
    return slash == std::string::npos || slash == 0 ? std::string("/") : dir.substr(0, slash);
}

struct CpusMems {
    std::string cpus, mems;
    bool complete() const { return !cpus.empty() && !mems.empty(); }
};

Result<CpusMems> read_cpus_mems(const std::string &dir) {
    CpusMems v;
    v.cpus = CORRAL_TRY(read_knob(dir, "cpuset.cpus"));
    v.mems = CORRAL_TRY(read_knob(dir, "cpuset.mems"));
    return v;
}

Status copy_missing(const Knobs &k, const std::string &dir, const CpusMems &have, const CpusMems &parent) {
    if (have.cpus.empty()) CORRAL_TRY(k.write(dir, "cpuset.cpus", parent.cpus));
    if (have.mems.empty()) CORRAL_TRY(k.write(dir, "cpuset.mems", parent.mems));
    return ok();
}

// runc's cpusetEnsureParent for the rare directory that exists with empty
// values: fill it and, first, whatever above it is empty too.
Result<CpusMems> ensure_filled(const Knobs &k, const std::string &mount, const std::string &dir) {
    CpusMems have = CORRAL_TRY(read_cpus_mems(dir));
    if (have.complete() || dir.size() <= mount.size()) return have;
    CpusMems parent = CORRAL_TRY(ensure_filled(k, mount, parent_of(dir)));
    CORRAL_TRY(copy_missing(k, dir, have, parent));
    return CpusMems{have.cpus.empty() ? parent.cpus : have.cpus, have.mems.empty() ? parent.mems : have.mems};
}

} // namespace

Status create_cpuset(const Knobs &k, const std::string &mount_in, const std::string &dir) {
    // Re-opened from state.json we do not know the mount: treat the parent as the top.
    const std::string mount = mount_in.empty() ? parent_of(dir) : mount_in;
    if (dir.size() <= mount.size() || dir.compare(0, mount.size(), mount) != 0)
        return Error("cpuset cgroup `" + dir + "` is not below `" + mount + "`");

    // Walk down from the mount, creating what is missing. Values are read
    // only when needed: for the parent of the first directory we create.
    std::optional<CpusMems> parent_values;
    std::string cur = mount;
    size_t pos = mount.size();
    while (pos < dir.size()) {
        size_t next = dir.find('/', pos + 1);
        if (next == std::string::npos) next = dir.size();
        std::string parent = cur;
        cur = dir.substr(0, next);
        pos = next;
        if (::mkdir(cur.c_str(), 0755) == 0) {
            if (!parent_values) parent_values = CORRAL_TRY(ensure_filled(k, mount, parent));
            CORRAL_TRY(copy_missing(k, cur, CpusMems{}, *parent_values));
            continue;
        }
        if (errno != EEXIST) return Error::from_errno(errno, "mkdir", cur);
        parent_values.reset();
        if (cur == dir) CORRAL_TRY(ensure_filled(k, mount, cur)); // reusing an existing cgroup
    }
    return ok();
}

Status set_cpuset(const Knobs &k, const std::string &dir, const spec::Cpu &cpu) {
    if (!cpu.cpus.empty()) CORRAL_TRY(k.write(dir, "cpuset.cpus", cpu.cpus));
    if (!cpu.mems.empty()) CORRAL_TRY(k.write(dir, "cpuset.mems", cpu.mems));
    return ok();
}

} // namespace corral::cgroups::v1
