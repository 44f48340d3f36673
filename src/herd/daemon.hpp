// herd/daemon.hpp — finding and stopping herd's own daemons (`herd serve
// --stop [--agent]`), and starting one under its real name.
//
// A daemon is found by what makes it that daemon: the process that holds the
// listening unix socket bound to its socket path (<state dir>/herd.sock,
// <agent state dir>/agent.sock). No pid file can go stale or name a reused
// pid: a process that listens on our socket is our daemon.
#pragma once

#include "corral/error.hpp"

#include <optional>
#include <string>
#include <sys/types.h>

namespace corral::herd {

// The pid of the process that listens on the unix socket at path; nullopt
// when none does (no socket, or nobody listening on it any more).
Result<std::optional<pid_t>> find_listener(const std::string &socket_path);

// SIGTERM to pid, then waits until it is gone (up to timeout_ms; then an
// error, the process is left alone). pid must be a process we found by
// find_listener just before.
Status stop_process(pid_t pid, int timeout_ms);

// The path to exec for "this program again": /proc/self/exe resolved, so the
// new process is named after the binary (`herd`), not `exe`; /proc/self/exe
// itself when the binary is gone (replaced while we ran).
std::string self_exe_path();

} // namespace corral::herd
