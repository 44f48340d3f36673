// mount_guard.cpp — see mount_guard.hpp.
#include "runtime/mount_guard.hpp"

#include "runtime/child_rootfs.hpp"
#include "runtime/child_util.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

namespace corral {
namespace {

// procfs gives its root this inode number, and nothing else on it.
constexpr ino_t kProcRootIno = 1;

// What lxcfs bind-mounts over procfs (runc's list).
constexpr const char *kLxcfsFiles[] = {
    "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
    "/proc/swaps",   "/proc/uptime",    "/proc/loadavg", "/proc/slabinfo",
    "/proc/net/dev", "/proc/sys/kernel/ns_last_pid", "/proc/sys/crypto/fips_enabled",
};

bool same_string(const std::string &a, const char *b) { return a.compare(b) == 0; }

} // namespace

void refuse_mount_on_procfs(const ChildPlan &plan, int rootfd, const MountPlan &m) {
    int fd = open_in_root(rootfd, m.destination.c_str(), O_PATH);
    if (fd < 0) return; // mount_one creates it, or says why it cannot
    struct statfs sfs {};
    struct stat st {};
    bool on_proc = ::fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
    bool proc_root = on_proc && ::fstat(fd, &st) == 0 && st.st_ino == kProcRootIno;
    ::close(fd);
    if (!on_proc) return;
    // Over /proc itself: a new procfs, or a bind (of another procfs).
    if (proc_root && (same_string(m.fstype, "proc") || m.kind == MountPlan::Kind::bind)) return;
    if (!proc_root)
        for (const char *allowed : kLxcfsFiles)
            if (same_string(m.destination, allowed)) return;
    child_fail(plan, EPERM,
               Msg() << "mount destination `" << m.destination
                     << "` is on procfs: only /proc itself and the files lxcfs emulates may be mounted there");
}

} // namespace corral
