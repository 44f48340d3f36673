// corral/container.hpp — libcorral's public API: the OCI runtime operations.
//
//   corral::Context ctx;                    // state root, logger, options
//   corral::CreateOptions opts{.bundle = "/srv/bundle"};
//   auto st = corral::create(ctx, "web", opts);   // init waits before the user program
//   st = corral::start(ctx, "web");               // the user program runs
//   auto s = corral::state(ctx, "web");           // OCI state
//   corral::kill(ctx, "web", SIGTERM, false);
//   corral::remove(ctx, "web", /*force=*/false);  // `delete`
//
// Each call is independent and takes the container's lock, so several
// processes may act on containers under one root at once.
#pragma once

#include "corral/error.hpp"
#include "corral/log.hpp"

#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace corral {

struct Context {
    std::string root = "/run/corral"; // one directory per container below it
    Logger log;                       // where debug/info/errors go
    bool systemd_cgroup = false;      // --systemd-cgroup
    std::optional<bool> rootless;     // --rootless true|false; unset = auto
};

enum class ContainerStatus { creating, created, running, paused, stopped };
const char *to_string(ContainerStatus s);

// The state of a container as the OCI runtime-spec and runc's `state` show it.
struct State {
    std::string oci_version;
    std::string id;
    ContainerStatus status = ContainerStatus::stopped;
    pid_t pid = 0;
    std::string bundle;
    std::string rootfs;
    std::string created; // RFC 3339
    std::map<std::string, std::string> annotations;
    std::string owner;
};
// runc's `state` JSON (two-space indented, as runc prints it).
std::string state_to_json(const State &s);
// runc's `list --format json`: one line, no trailing newline; "null" when empty.
std::string state_list_to_json(const std::vector<State> &states);

struct CreateOptions {
    std::string bundle = ".";
    std::string pid_file;        // write the init pid here
    std::string console_socket;  // send the pty master here (terminal: true)
    bool no_pivot = false;       // MS_MOVE + chroot instead of pivot_root
    bool no_new_keyring = false; // keep the caller's session keyring
    int preserve_fds = 0;        // pass fds 3 .. 3+N-1 to the container
};

// Create the container: namespaces, cgroup, rootfs, and an init process that
// waits before exec'ing the user program. On any failure every earlier step is
// undone: no process, mount, cgroup or state directory is left.
Status create(const Context &ctx, const std::string &id, const CreateOptions &opts);
// Let a created container's init exec the user program.
Status start(const Context &ctx, const std::string &id);

struct RunOptions : CreateOptions {
    bool detach = false;
    bool keep = false; // do not delete the container after it exits
};
// create + start; unless detached, wait for the container, forwarding signals
// (and the terminal), delete it, and return its exit status (128+N if killed).
Result<int> run(const Context &ctx, const std::string &id, const RunOptions &opts);

Result<State> state(const Context &ctx, const std::string &id);
Result<std::vector<State>> list(const Context &ctx);
// Send a signal to the init process, or with all=true to every process in the
// container's cgroup.
Status kill(const Context &ctx, const std::string &id, int signal, bool all);
// Delete a stopped (or, with force, any) container: runs poststop hooks,
// removes cgroup and state.
Status remove(const Context &ctx, const std::string &id, bool force);

// `exec`: run another process in a running container, in all its namespaces
// and its cgroup. Without process_file, the container's own process (env,
// cwd, user, capabilities, rlimits...) is the base, changed by the fields set
// here, as runc's flags do.
struct ExecOptions {
    std::string process_file;             // --process: a process.json replacing the base
    std::vector<std::string> args;        // the command (required without process_file)
    std::optional<bool> tty;              // --tty / -t
    std::string cwd;                      // --cwd
    std::vector<std::string> env;         // --env, appended (overriding same names)
    std::string user;                     // --user uid[:gid]
    std::vector<uint32_t> additional_gids; // --additional-gids
    std::vector<std::string> caps;        // --cap, added to every set
    bool no_new_privs = false;            // --no-new-privs
    bool detach = false;                  // --detach
    std::string pid_file;                 // --pid-file
    std::string console_socket;           // --console-socket
    int preserve_fds = 0;                 // --preserve-fds
};
// Returns the process's exit status (128+N if killed) or, detached, 0.
Result<int> exec(const Context &ctx, const std::string &id, const ExecOptions &opts);

// Parse "SIGTERM", "TERM", "15" into a number. Unknown names are an error.
Result<int> parse_signal(std::string_view s);

// JSON of `corral features`.
std::string features_json();

} // namespace corral
