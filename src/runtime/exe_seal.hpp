// exe_seal.hpp — keep the runtime binary out of the container's reach
// (CVE-2019-5736, and CVE-2016-9962 for the init's other /proc files).
//
// The container's init is a clone of corral, and `exec` clones corral into
// the container's pid namespace: until they execve the user's program, their
// /proc/PID/exe is the corral binary, and an execve of "/proc/self/exe"
// (args[0], a symlink in the image, `#!/proc/self/exe`) runs that binary
// *inside* the container, with the container's loader and libraries. A
// container process that opens that exe and reopens it for writing once
// nothing executes it replaces corral on the host.
//
// Two independent defences (docs/security.md explains the choice and cost):
//
// 1. seal_own_executable(): before a command that starts container
//    processes, corral re-executes itself through a read-only, detached bind
//    mount of its own binary (open_tree + mount_setattr + execveat; no path
//    in any mount table, no copy). From then on /proc/self/exe of corral, of
//    the init and of anything that executes it in the container is a file on
//    a read-only mount no container can reach to remount: opening it for
//    writing fails with EROFS. Nothing happens when the binary already lies
//    on a read-only mount (e.g. an admin's `mount --bind -o ro` of it, or a
//    read-only /usr): that costs nothing per start. Without the privilege to
//    make mounts, a binary this user cannot write needs nothing either, and
//    one it can write is re-executed from a sealed memfd copy.
//
// 2. keep_init_out_of_reach(): the process that clones the init is made
//    non-dumpable, and the init inherits that until its execve. Its
//    /proc/PID/{exe,fd,mem,environ,...} then need CAP_SYS_PTRACE, which
//    containers do not have (runc's init does the same).
#pragma once

#include "corral/container.hpp"
#include "corral/error.hpp"
#include "runtime/plan.hpp"

namespace corral {

// Set (to "1") across our own re-exec only, and removed at once by the new
// image (seal_own_executable): if it finds itself still unsealed, it fails
// instead of looping. Until then the CLI reads it to say, in its --debug
// line, that this is the second start of the same command.
inline constexpr const char *kReexecMarker = "_CORRAL_EXE_SEALED";

// Ensure this process runs from a binary a container cannot write: returns
// when it already does; otherwise re-executes the process (same argv and
// environment) through a sealed view of its binary and does not return,
// unless that fails. Call it before anything with side effects.
// `first_start`: set, in the re-executed image, to the CLOCK_MONOTONIC time
// (ns) the first image began sealing (the marker's value), so the step
// timings (steps.hpp) count the re-exec; else left as it is.
Status seal_own_executable(const Context &ctx, int64_t *first_start = nullptr);

// Whether /proc/self/exe is on a read-only mount or a write-sealed memfd.
bool own_executable_is_sealed();

// Make this process non-dumpable before it clones the init of `plan`,
// unless the container gets a user namespace: there its root is not root
// on the host (the binary and the init's files stay out of its reach by
// ownership), and a rootless parent must still write the init's uid_map,
// which a non-dumpable child's /proc files (owned by the host's root) do not
// allow. (The kernel makes such an init non-dumpable itself once it becomes
// root of its user namespace: setresuid changes its host uid.)
Status keep_init_out_of_reach(const ChildPlan &plan);

} // namespace corral
