// hooks.hpp — OCI lifecycle hooks (runtime-spec config.md "POSIX-platform Hooks").
//
// A hook is an executable run with the container's state JSON on stdin; its
// stdout and stderr both go to the runtime's stderr (the runtime's stdout
// carries what clients parse). Two layers, because createContainer and
// startContainer hooks run inside the container's init after clone, where
// only async-signal-safe calls are allowed:
//
//   parent, before clone:  auto hooks = prepare_hooks(spec.hooks->create_container);
//                          std::string json = hook_state_json(state);
//   init, after clone:     char err[256];
//                          if (run_prepared_hook(hooks[i], json.data(), json.size(), err, sizeof err) < 0) ...
//
// run_hooks() is the convenience layer for the hooks run by the runtime itself
// (prestart, createRuntime, poststart, poststop).
#pragma once

#include "corral/container.hpp"
#include "corral/spec.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace corral {

// One hook with every string it needs already allocated, so that running it
// allocates nothing. Move-only: argv/envp point into `strings_`, whose buffer
// a move keeps but a copy would not.
class PreparedHook {
public:
    explicit PreparedHook(const spec::Hook &hook);
    PreparedHook(PreparedHook &&) noexcept = default;
    PreparedHook &operator=(PreparedHook &&) noexcept = default;
    PreparedHook(const PreparedHook &) = delete;
    PreparedHook &operator=(const PreparedHook &) = delete;

    const char *path() const noexcept { return argv_.empty() ? "" : path_; }
    char *const *argv() const noexcept { return argv_.data(); }
    // nullptr: the hook has no `env` and inherits the runtime's environment
    // (as runc does: Go's exec.Cmd with a nil Env).
    char *const *envp() const noexcept { return inherit_env_ ? nullptr : envp_.data(); }
    int timeout_seconds() const noexcept { return timeout_; } // 0 = none

private:
    std::vector<char> strings_; // every string, NUL-terminated, back to back
    std::vector<char *> argv_;  // into strings_, nullptr-terminated
    std::vector<char *> envp_;  // into strings_, nullptr-terminated
    const char *path_ = nullptr;
    bool inherit_env_ = false;
    int timeout_ = 0;
};

std::vector<PreparedHook> prepare_hooks(const std::vector<spec::Hook> &hooks);

// Run one hook and wait for it. ASYNC-SIGNAL-SAFE: no allocation, no stdio, no
// locks, no exceptions; safe in a child after clone/fork.
//   - the hook's stdin is a pipe holding `state_json`, its stdout and stderr
//     our stderr; fds >= 3 are closed in it;
//   - with a timeout, the hook is killed (SIGKILL) when it expires;
//   - returns 0 if the hook exited with status 0, else -1 with a message in
//     errbuf ("hook `/bin/x` exited with status 2", "... timed out after 5s").
int run_prepared_hook(const PreparedHook &hook, const char *state_json, size_t len, char *errbuf,
                      size_t errlen) noexcept;

// The state a hook reads on stdin: the runtime-spec state object, compact, as
// runc writes it ({"ociVersion","id","status","pid" (omitted when 0),
// "bundle","annotations" (omitted when empty)}).
std::string hook_state_json(const State &state);

// Run hooks of one kind ("prestart", "createRuntime", "poststart",
// "poststop", ...) in order, logging each at debug. A failure of a poststart
// or poststop hook is logged as a warning and the remaining hooks still run
// (runtime-spec); for any other kind the first failure stops and is returned.
Status run_hooks(const std::vector<spec::Hook> &hooks, std::string_view kind, const State &state,
                 const Logger &log);

} // namespace corral
