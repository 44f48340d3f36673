// corral/checkpoint.hpp — `checkpoint` and `restore` through CRIU.
//
//   corral::CheckpointOptions c{.image_path = "/srv/ck"};
//   corral::checkpoint(ctx, "web", c);          // criu dump; the container is gone after
//   corral::RestoreOptions r;
//   r.bundle = "/srv/bundle"; r.image_path = "/srv/ck"; r.detach = true;
//   corral::restore(ctx, "web", r);              // criu restore; running again
//
// As runc does, but with the `criu` command line instead of its RPC socket:
// corral runs `criu dump` / `criu restore` (fork + exec, no shell, only the
// descriptors criu needs), with the container's bind mounts, cgroup v1
// hierarchies, masked paths and device nodes named as external mounts, so
// CRIU neither dumps their contents nor needs them to exist in the images.
//
// Beside the images, checkpoint writes what restore needs and CRIU does not
// keep: descriptors.json (the init's stdio, as runc writes it) and
// corral-checkpoint.json (the container's state record and which namespaces
// were external: joined by path, so restore must hand them back to CRIU).
//
// Failures say why in CRIU's words: the "Error (...)" lines of dump.log or
// restore.log, with the log's path. A failed checkpoint leaves the container
// running as it was; a failed restore leaves nothing behind (no state
// directory, cgroup, mount or process).
#pragma once

#include "corral/container.hpp"

#include <string>
#include <string_view>

namespace corral {

struct CheckpointOptions {
    std::string image_path;          // required: where CRIU writes the images (made 0700)
    std::string work_path;           // CRIU's logs and work files; empty: image_path
    std::string parent_path;         // --parent-path: images of a previous pre-dump
    bool leave_running = false;      // keep the container running (and existing) after
    bool tcp_established = false;
    bool ext_unix_sk = false;
    bool shell_job = false;
    bool lazy_pages = false;
    int status_fd = -1;              // with lazy_pages: criu writes \0 here when ready
    std::string page_server;         // ADDRESS:PORT
    bool file_locks = false;
    bool pre_dump = false;           // memory only; the container keeps running
    std::string manage_cgroups_mode; // soft, full, strict; empty: CRIU's default (soft)
    std::string empty_ns;            // "network": create it on restore, but do not restore it
    bool auto_dedup = false;
};

// Checkpoint a running or paused container. Unless leave_running or
// pre_dump, the container is deleted afterwards (its processes were ended by
// CRIU), as runc does.
Status checkpoint(const Context &ctx, const std::string &id, const CheckpointOptions &opts);

struct RestoreOptions : CreateOptions { // bundle, pid_file, console_socket, no_pivot
    std::string image_path;             // required: images of a checkpoint
    std::string work_path;              // empty: image_path
    bool tcp_established = false;
    bool ext_unix_sk = false;
    bool shell_job = false;
    bool file_locks = false;
    std::string manage_cgroups_mode;
    bool detach = false;                // else wait for the container and delete it, like `run`
    bool no_subreaper = false;
    std::string empty_ns;
    bool auto_dedup = false;
    bool lazy_pages = false;
    std::string lsm_profile;            // TYPE:NAME (CRIU >= 3.16)
    std::string lsm_mount_context;
};

// Restore a container from images into a new container `id` made from the
// bundle's config.json (cgroup, rootfs, mounts). Detached: 0 once it runs;
// otherwise the container's exit status (128+N if killed), after deleting it.
Result<int> restore(const Context &ctx, const std::string &id, const RestoreOptions &opts);

// --- CRIU helpers, public for tests -------------------------------------------

// The criu binary used: NAME (Context::criu, --criu) looked up in PATH, or
// taken as is when it holds a slash. Missing: runc's words,
// "CRIU version check failed: exec: \"criu\": executable file not found in $PATH".
Result<std::string> find_criu(const std::string &name = "criu");
// `criu --version` as runc counts it: major*10000 + minor*100 + sublevel
// ("Version: 3.17.1" -> 31701).
Result<int> criu_version(const std::string &criu);
// Parse the output of `criu --version`; 0 if it holds no version.
int parse_criu_version(std::string_view text);
// The reason a CRIU run failed, from its log: the messages of its "Error"
// lines (prefix "(00.012954) Error (criu/vdso.c:381): " dropped), first to
// last, joined by "; " (at most `max_lines`, keeping the first ones: CRIU logs
// the cause first). Empty if the log holds none.
std::string criu_log_errors(std::string_view log_text, size_t max_lines = 6);

} // namespace corral
