// pidfd.hpp — pidfd_open(2) and pidfd_send_signal(2) as plain system calls.
//
// glibc 2.36 (Debian 12) declares both in <sys/pidfd.h> without C linkage
// for C++, so calling them from C++ fails to link; these wrappers are
// async-signal-safe (one syscall each) and usable in a child after clone.
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace corral {

inline int sys_pidfd_open(pid_t pid) noexcept { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

inline int sys_pidfd_send_signal(int pidfd, int sig) noexcept {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

} // namespace corral
