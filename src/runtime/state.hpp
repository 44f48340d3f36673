// state.hpp — the per-container state directory under --root.
//
//   <root>/<id>/            published by rename (RENAME_NOREPLACE: the id is taken)
//       lock                the container's lock (see below)
//       state.json          StateRecord, replaced atomically (write + rename)
//       config.json         copy of the bundle's config at create (hooks, cgroup, namespaces for exec)
//       exec.fifo           exists while the container is "created"; start writes one byte
//
// Every command that changes a container first takes an exclusive lock, so
// concurrent commands never see or write a half-updated state. The lock is a
// POSIX record lock (fcntl F_SETLKW) on `lock`, not a flock: a record lock
// belongs to the process and is not inherited across fork, so the container's
// init (which runs until `start` without exec'ing) and hooks never hold it. A
// flock would stay with the init and make `start` wait forever. The price:
// the lock does not exclude two users in the *same* process (threads, or two
// StateDir for one container; closing either releases it). `state` and `list`
// read without the lock (read_state_unlocked).
#pragma once

#include "cgroups/manager.hpp"
#include "common/fd.hpp"
#include "corral/container.hpp"

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace corral {

// What we persist: the OCI state plus what later commands need.
struct StateRecord {
    State oci;                        // status here is the last one *written*
    unsigned long long init_start_time = 0; // /proc/PID/stat field 22, to detect pid reuse
    cgroups::Mode cgroup_mode = cgroups::Mode::disabled;
    std::string cgroups_path;         // the resolved path we created
    std::vector<std::pair<std::string, std::string>> cgroup_paths;
    std::vector<std::pair<std::string, std::string>> namespace_paths; // type -> /proc/PID/ns/x
    bool created_by_run = false;
};

class StateDir {
public:
    // Create <root>/<id> (and root), locked. Fails with runc's "container with
    // given ID already exists: ID" if it is there already. The id must match
    // runc's rule: [\w+-\.]+, not "." or "..".
    static Result<StateDir> create(const std::string &root, const std::string &id);
    // Open and lock an existing one. Missing: Error "container does not exist"
    // (exact string matched by containerd and podman).
    static Result<StateDir> open(const std::string &root, const std::string &id);

    const std::string &path() const { return path_; }
    // The directory (O_RDONLY|O_DIRECTORY|O_CLOEXEC), for *at() calls.
    int fd() const { return dir_.get(); }

    Status write(const StateRecord &rec);
    Result<StateRecord> read() const;
    // Remove the directory and all in it, then release the lock: a waiter
    // then finds "container does not exist".
    Status remove();

private:
    StateDir(std::string path, UniqueFd dir, UniqueFd lock)
        : path_(std::move(path)), dir_(std::move(dir)), lock_(std::move(lock)) {}
    std::string path_;
    UniqueFd dir_;
    UniqueFd lock_; // <dir>/lock, holding our record lock
};

Status validate_container_id(const std::string &id);
// Ids of all containers under root (directories holding state.json).
Result<std::vector<std::string>> list_container_ids(const std::string &root);

// The live status: stopped if the init is gone (or its pid was reused),
// created while exec.fifo exists, paused if its cgroup is frozen, else running.
ContainerStatus live_status(const StateDir &dir, const StateRecord &rec);
// /proc/PID/stat field 22 (starttime), or 0 if the process is gone.
unsigned long long process_start_time(pid_t pid);

std::string state_record_to_json(const StateRecord &rec);
Result<StateRecord> state_record_from_json(std::string_view text, const std::string &source);

// Remove <root>/<id> if it holds no state.json (left by a create that was
// killed before writing it; runc's delete removes such directories too).
// Waits for the lock first, so a create in progress is never touched.
void remove_stale_state_dir(const std::string &root, const std::string &id);

// Remove <root>/.new-<id>-XXXXXX directories left by a create killed while it
// made its state directory (StateDir::create), unless one is still locked.
void remove_abandoned_new_dirs(const std::string &root, const std::string &id);

// Read <root>/<id>/state.json without the lock. state.json is replaced
// atomically, so this sees the old or the new record, never half of one; used
// by `state` and `list`, which must not wait behind a create or delete (nor
// deadlock when a hook run during create asks for the state).
Result<StateRecord> read_state_unlocked(const std::string &root, const std::string &id);
// live_status for a state directory given by path (no lock needed).
ContainerStatus live_status(const std::string &state_dir, const StateRecord &rec);
// Go's time.RFC3339Nano in UTC ("2024-05-01T10:00:00.1234Z": trailing zeros of
// the fraction dropped), the form runc writes `created` in.
std::string format_rfc3339_nano(const timespec &ts);
// Now, in that format: the `created` time of a state record.
std::string now_rfc3339_nano();
// Append `s` as a JSON string the way Go's encoding/json writes it (<, >, &,
// U+2028/9 as \uXXXX, invalid UTF-8 as U+FFFD), for output byte-identical to runc.
void append_go_json_string(std::string &out, std::string_view s);

} // namespace corral
