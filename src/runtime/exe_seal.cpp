// exe_seal.cpp — see exe_seal.hpp for what and why.
#include "runtime/exe_seal.hpp"
#include "runtime/steps.hpp"

#include "common/fd.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

extern char **environ;

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

namespace corral {
namespace {

constexpr int kWriteSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
constexpr const char *kSelfExe = "/proc/self/exe";

// A detached bind mount of our binary, made read-only (and nosuid, nodev).
// The mount belongs to no mount namespace once its fd is closed (at our
// execveat): nothing can reach it to make it writable again, and its file is
// the inode of the real binary, so nothing is copied.
Result<UniqueFd> readonly_bind_of_self() {
    UniqueFd fd(static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, kSelfExe, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
    if (!fd) return Error::from_errno(errno, "open_tree (bind) of", kSelfExe);
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if (::syscall(SYS_mount_setattr, fd.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
        return Error::from_errno(errno, "make the bind of /proc/self/exe read-only");
    return fd;
}

// The fallback without mount privileges: a sealed in-memory copy (several
// MB per start, which is why it is only the fallback).
Result<UniqueFd> sealed_copy_of_self() {
    UniqueFd src(::open(kSelfExe, O_RDONLY | O_CLOEXEC));
    if (!src) return Error::from_errno(errno, "open", kSelfExe);
    struct stat st {};
    if (::fstat(src.get(), &st) < 0) return Error::from_errno(errno, "stat", kSelfExe);
    // MFD_EXEC: kernels with vm.memfd_noexec=1 make memfds non-executable
    // unless asked; kernels before 6.3 do not know the flag.
    UniqueFd mem(::memfd_create("corral-exe", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC));
    if (!mem && errno == EINVAL) mem.reset(::memfd_create("corral-exe", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!mem) return Error::from_errno(errno, "memfd_create for a sealed copy of the corral binary");
    for (off_t done = 0; done < st.st_size;) {
        ssize_t n = ::sendfile(mem.get(), src.get(), nullptr, static_cast<size_t>(st.st_size - done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Error::from_errno(n < 0 ? errno : EIO, "copy the corral binary into a memfd");
        done += n;
    }
    if (::fcntl(mem.get(), F_ADD_SEALS, kWriteSeals) < 0) return Error::from_errno(errno, "seal the memfd copy");
    return mem;
}

// Execute the binary behind `fd` with our own argv (from /proc/self/cmdline,
// so library callers need not pass it) and environment.
Error reexec_through(int fd, int64_t started) {
    UniqueFd cmd(::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC));
    if (!cmd) return Error::from_errno(errno, "open /proc/self/cmdline");
    std::string args;
    char buf[4096];
    for (ssize_t n; (n = ::read(cmd.get(), buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno(errno, "read /proc/self/cmdline");
        args.append(buf, static_cast<size_t>(n));
    }
    std::vector<char *> argv;
    for (size_t i = 0; i < args.size(); i += std::strlen(&args[i]) + 1) argv.push_back(&args[i]);
    argv.push_back(nullptr);
    // The marker's value: when the first image began, for the step timings.
    if (::setenv(kReexecMarker, std::to_string(started > 0 ? started : 1).c_str(), 1) < 0) return Error::from_errno(errno, "setenv");
    ::syscall(SYS_execveat, fd, "", argv.data(), environ, AT_EMPTY_PATH);
    int err = errno;
    ::unsetenv(kReexecMarker);
    return Error::from_errno(err, "re-execute corral through a sealed view of its binary");
}

} // namespace

bool own_executable_is_sealed() {
    // O_PATH: the binary may be executable without being readable.
    UniqueFd fd(::open(kSelfExe, O_PATH | O_CLOEXEC));
    if (!fd) return false;
    struct statvfs sv {};
    if (::fstatvfs(fd.get(), &sv) == 0 && (sv.f_flag & ST_RDONLY)) return true;
    UniqueFd rd(::open(kSelfExe, O_RDONLY | O_CLOEXEC)); // F_GET_SEALS needs a real open
    int seals = rd ? ::fcntl(rd.get(), F_GET_SEALS) : -1;
    return seals >= 0 && (seals & kWriteSeals) == kWriteSeals;
}

Status seal_own_executable(const Context &ctx, int64_t *first_start) {
    int64_t started = step_clock();
    const char *marker = std::getenv(kReexecMarker);
    bool reexecuted = marker != nullptr;
    if (reexecuted && first_start) *first_start = std::strtoll(marker, nullptr, 10);
    if (reexecuted) ::unsetenv(kReexecMarker); // never passed on to hooks or children
    if (own_executable_is_sealed()) {
        // execveat(fd, "") names the process after the fd ("3"): take our name back.
        if (reexecuted) ::prctl(PR_SET_NAME, program_invocation_short_name, 0, 0, 0);
        return ok();
    }
    if (reexecuted)
        return Error("CVE-2019-5736 protection: re-executed through a sealed view of the corral binary, "
                     "but /proc/self/exe is still writable");
    auto view = readonly_bind_of_self();
    if (!view) {
        // No mount privileges (rootless). A binary we cannot write is out of
        // reach of our containers, whose users are at most ours.
        if (::faccessat(AT_FDCWD, kSelfExe, W_OK, AT_EACCESS) < 0 && (errno == EACCES || errno == EROFS ||
                                                                      errno == EPERM)) {
            ctx.log.debug("corral binary is not writable by this user: no sealing needed");
            return ok();
        }
        ctx.log.debug("cannot bind the corral binary read-only (" + view.error().message() +
                      "): re-execute from a sealed memfd copy");
        view = sealed_copy_of_self();
        if (!view) return std::move(view).error().context("CVE-2019-5736 protection");
    } else {
        ctx.log.debug("re-execute corral through a read-only bind mount of its binary (CVE-2019-5736)");
    }
    return reexec_through(view->get(), started);
}

Status keep_init_out_of_reach(const ChildPlan &plan) {
    bool user_ns = plan.new_user_ns || (plan.clone_flags & CLONE_NEWUSER) || (plan.unshare_flags & CLONE_NEWUSER);
    for (const auto &j : plan.joins) user_ns |= j.type == CLONE_NEWUSER;
    if (user_ns) return ok();
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return Error::from_errno(errno, "prctl(PR_SET_DUMPABLE, 0)");
    return ok();
}

} // namespace corral
