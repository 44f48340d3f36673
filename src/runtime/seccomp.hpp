// seccomp.hpp — linux.seccomp (runtime-spec config-linux.md "Seccomp").
//
// The container's init loads the filter after clone, where only
// async-signal-safe calls are allowed, and libseccomp allocates. So the work
// is split like hooks.hpp:
//
//   parent, before clone:  auto prog = CORRAL_TRY(compile_seccomp(*spec.linux->seccomp));
//   init, after clone:     (no_new_privs first when the config asks, or CAP_SYS_ADMIN)
//                          int fd = load_seccomp(prog);
//                          if (fd < 0) ... errno says why
//                          if (prog.needs_notify_fd) ... send fd to the runtime for listenerPath
//
// compile_seccomp follows runc (libcontainer/seccomp/seccomp_linux.go) where
// the spec leaves room: syscall names libseccomp does not know are ignored,
// rules whose action equals the default action are skipped, ERRNO and TRACE
// return EPERM unless errnoRet says otherwise, and several conditions on the
// same argument become one rule per condition. runc's -ENOSYS stub (patchbpf)
// is not done here: unknown syscalls get the default action.
#pragma once

#include "corral/error.hpp"
#include "corral/spec.hpp"

#include <linux/filter.h>
#include <string>
#include <string_view>
#include <vector>

namespace corral {

struct SeccompProgram {
    std::vector<sock_filter> filter; // classic BPF, exported from libseccomp
    unsigned int flags = 0;          // SECCOMP_FILTER_FLAG_* for seccomp(2), without NEW_LISTENER
    bool needs_notify_fd = false;    // a rule uses SCMP_ACT_NOTIFY: load returns the listener fd
    // Names in linux.seccomp.syscalls[].names that libseccomp does not know
    // and that were therefore left out (runc does the same and logs them at
    // debug level; the caller may too). Empty in the usual case.
    std::vector<std::string> unknown_syscalls;
};

// Parent side: validate what compiling needs and compile to BPF. Errors name
// the field: "config.json: linux.seccomp.syscalls[3].action: unknown action
// \"SCMP_ACT_FOO\"". Flags the running kernel lacks are refused here, so the
// init does not fail on them later. Does not require listenerPath for
// SCMP_ACT_NOTIFY (validate_spec does); what to do with the fd is the caller's.
Result<SeccompProgram> compile_seccomp(const spec::Seccomp &s, std::string_view source = "config.json");

// compile_seccomp with a cache of compiled programs in `cache_dir` (created
// 0700 if missing; crun keeps its cache in <state root>/.cache/seccomp).
// libseccomp needs milliseconds for a podman-sized profile, tens of them with
// three architectures (its rule database is copied on every rule added); a
// hit takes tens of microseconds. The key is everything the program depends
// on: the profile (listenerPath and listenerMetadata excluded), libseccomp's
// version, the native architecture and the running kernel's release and
// version. A hit compares the whole key, not only the hash that names the
// file. Cache files must belong to us and be writable by no one else. A cache
// that cannot be read or written only costs the compile; errors are never
// cached, so they read exactly as compile_seccomp's.
Result<SeccompProgram> compile_seccomp_cached(const spec::Seccomp &s, const std::string &cache_dir,
                                              std::string_view source = "config.json");

// Child side, ASYNC-SIGNAL-SAFE (only the seccomp(2) or prctl(2) system call):
// install the filter on the calling thread (all threads with
// SECCOMP_FILTER_FLAG_TSYNC). The caller must have set no_new_privs or hold
// CAP_SYS_ADMIN. Returns the listener fd (>= 0) when p.needs_notify_fd, 0 on
// success otherwise, -1 with errno on failure. prctl(PR_SET_SECCOMP) is used
// only when seccomp(2) is ENOSYS and no flag is needed.
int load_seccomp(const SeccompProgram &p) noexcept;

// For `features` (runtime-spec features.md, linux.seccomp).
std::vector<std::string> seccomp_known_actions();
std::vector<std::string> seccomp_known_operators();
std::vector<std::string> seccomp_known_archs();      // the ones this libseccomp can filter for
std::vector<std::string> seccomp_known_flags();      // knownFlags
std::vector<std::string> seccomp_supported_flags();  // supportedFlags: knownFlags the running kernel accepts

} // namespace corral
