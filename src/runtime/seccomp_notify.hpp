// seccomp_notify.hpp — SCMP_ACT_NOTIFY: handing the listener fd to the
// seccomp agent at linux.seccomp.listenerPath (runtime-spec config-linux.md
// "Seccomp", runtime.md "Container process state").
//
// Who does what, as in runc (the parent sends, after the init passes the fd):
//
//   init (child.cpp)                       parent (container.cpp)
//   ------------------------------------   --------------------------------------------
//   seccomp(2) with NEW_LISTENER -> fd
//   SeccompFd, fd by SCM_RIGHTS  ------->  connect(listenerPath), send the state JSON
//                                          with the fd (SCM_RIGHTS), close
//   close(fd)                    <-------  SeccompFdDone (or Error: create fails)
//
// The parent sends because only it has what the JSON needs without
// allocating (pid, bundle, annotations) and because listenerPath is a host
// path the init no longer sees after pivot_root. The init loads a notify
// filter before Ready (with noNewPrivileges, right before it; without, before
// dropping capabilities), while the parent still listens: `create` returns
// only once the agent has the fd, as with runc.
//
// The one system call the init makes between loading the filter and the
// agent holding the fd is the sendmsg that passes it: a notify rule on
// sendmsg would wait for an agent that never gets the fd, so such profiles
// are refused before anything runs (runc refuses `write` for the same reason;
// compile_seccomp refuses it too).
#pragma once

#include "corral/container.hpp"
#include "corral/error.hpp"
#include "corral/spec.hpp"

#include <string>
#include <string_view>

namespace corral {

// Parent, before clone: refuse notify profiles the init could not hand over
// (see above). `source` names the file in errors ("config.json").
Status check_notify_profile(const spec::Seccomp &s, std::string_view source);

// The "container process state" runc sends with the fd:
// {"ociVersion","fds":["seccompFd"],"pid","metadata","state":{...}}
// `pid` is the process the filter belongs to (the init, or an exec'd
// process: runc's choice); metadata is left out when empty; the state is the
// container's, as hooks get it.
std::string container_process_state_json(const State &state, pid_t pid, std::string_view metadata);

// Connect to the AF_UNIX stream socket at `listener_path` and send
// `state_json` with `fd` attached (SCM_RIGHTS) in one message, as runc does.
Status send_to_seccomp_listener(const std::string &listener_path, const std::string &state_json, int fd);

} // namespace corral
