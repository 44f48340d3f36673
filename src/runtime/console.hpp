// console.hpp — terminals and the foreground `run` loop.
#pragma once

#include "corral/container.hpp"

#include <string>
#include <sys/types.h>

namespace corral {

// Send a pty master to the AF_UNIX socket at `socket_path` (SCM_RIGHTS), as
// runc does for --console-socket: containerd's shim and conmon receive it.
Status send_console_fd(const std::string &socket_path, int master);

// Foreground `run`: until `pid` exits, forward every signal we receive to it
// and, if `console` is a pty master, copy our stdin to it and it to our
// stdout (raw mode when stdin is a terminal, window size kept in step).
// Signals must already be blocked. Returns the wait status.
Result<int> forward_until_exit(const Context &ctx, pid_t pid, int console);

} // namespace corral
