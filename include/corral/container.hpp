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

#include "corral/context.hpp"
#include "corral/error.hpp"
#include "corral/log.hpp"
#include "corral/spec.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace corral {

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

// --- resources and monitoring: update, pause, resume, ps, events -----------

// `update`: apply new limits to the cgroup of a created, running or paused
// container, and record them in the state directory's config.json (atomically)
// so a later `update`, `exec` or `delete` sees them. Like runc, only these
// fields are used: memory limit/reservation/swap, cpu
// shares/quota/period/burst/realtimeRuntime/realtimePeriod/cpus/mems/idle,
// pids.limit, blockIO.weight and unified; a 0 (or "") means "leave as is";
// memory.kernel/kernelTCP are warned about and ignored; other fields
// (devices, hugepageLimits, ...) are ignored. If writing fails, the recorded
// values are written back. A stopped container: "container not running".
Status update(const Context &ctx, const std::string &id, const spec::Resources &resources);

// runc's `update` flags as given on the command line (nullopt: not given).
struct UpdateFlags {
    std::optional<std::string> memory, memory_reservation, memory_swap; // bytes or "512m", "1g"; "-1"
    std::optional<std::string> kernel_memory, kernel_memory_tcp;         // accepted, ignored (runc 1.1)
    std::optional<std::string> cpu_share, cpu_period, cpu_rt_period;     // unsigned decimal
    std::optional<std::string> cpu_quota, cpu_rt_runtime;                // signed decimal
    std::optional<std::string> cpuset_cpus, cpuset_mems;
    std::optional<int64_t> pids_limit;   // Go int flags: see parse_int_flag
    std::optional<int64_t> blkio_weight; // truncated to 16 bits, as runc does
};
// The resources the flags ask for, with runc's checks and messages
// ("invalid value for memory: invalid size: '1x'").
Result<spec::Resources> resources_from_update_flags(const UpdateFlags &flags);
// `update --resources FILE`: a linux.resources JSON object ("null" = nothing).
// `source` names it in errors.
Result<spec::Resources> parse_update_resources(std::string_view json_text, std::string_view source);
// A memory size as runc's flags take it (docker/go-units RAMInBytes, binary
// units, case-insensitive, optional "i"/"b"): "4096", "512m", "1.5g", "64MiB", "1 g".
// "-1" is not handled here (runc treats it before).
Result<int64_t> parse_ram_in_bytes(std::string_view s);
// Go's time.ParseDuration: "5s", "500ms", "1m30s", "1.5h", "0".
Result<std::chrono::nanoseconds> parse_go_duration(std::string_view s);
// A Go `flag` int value (base prefixes 0x 0o 0b 0, "_" separators):
// errors read "invalid value \"x\" for flag -NAME: parse error".
Result<int64_t> parse_int_flag(std::string_view name, std::string_view value);

// `pause`/`resume`: freeze or thaw every process of the container's cgroup.
// runc's errors: "container not running" (pause of a stopped or paused
// container) and "container not paused" (resume of anything not paused).
Status pause(const Context &ctx, const std::string &id);
Status resume(const Context &ctx, const std::string &id);

// PIDs of every process in the container's cgroup (`ps`); empty once stopped.
Result<std::vector<pid_t>> processes(const Context &ctx, const std::string &id);
// `ps` table mode: keep the header of `ps` output and the lines whose PID
// column names one of `pids` (runc's filter). Each line ends in '\n'.
Result<std::string> filter_ps_output(std::string_view ps_output, const std::vector<pid_t> &pids);
// `ps --format json`: "[1,2]" or "null" when empty (Go's nil slice), no newline.
std::string pids_to_json(const std::vector<pid_t> &pids);

// Cgroup statistics in the shape of runc's `events` (types.Stats of runc 1.1).
struct ContainerStats {
    struct Cpu {
        uint64_t total = 0; // ns
        std::vector<uint64_t> percpu, percpu_kernel, percpu_user;
        uint64_t kernel = 0, user = 0; // ns
        uint64_t periods = 0, throttled_periods = 0, throttled_time = 0;
    } cpu;
    struct Cpuset {
        std::vector<uint16_t> cpus, mems;
        uint64_t cpu_exclusive = 0, mem_hardwall = 0, mem_exclusive = 0, memory_migrate = 0,
                 memory_spread_page = 0, memory_spread_slab = 0, memory_pressure = 0, sched_load_balance = 0;
        int64_t sched_relax_domain_level = 0;
    } cpuset;
    struct MemoryEntry {
        uint64_t limit = 0, usage = 0, max = 0, failcnt = 0;
    };
    struct Memory {
        uint64_t cache = 0;
        MemoryEntry usage, swap, kernel, kernel_tcp; // swap is memory+swap, as on v1
        std::map<std::string, uint64_t> raw;         // memory.stat
    } memory;
    struct Pids {
        uint64_t current = 0, limit = 0; // limit 0: none
    } pids;
    struct BlkioEntry {
        uint64_t major = 0, minor = 0;
        std::string op;
        uint64_t value = 0;
    };
    struct Blkio {
        std::vector<BlkioEntry> io_service_bytes_recursive, io_serviced_recursive, io_queue_recursive,
            io_service_time_recursive, io_wait_time_recursive, io_merged_recursive, io_time_recursive,
            sectors_recursive;
    } blkio;
    struct Hugetlb {
        uint64_t usage = 0, max = 0, failcnt = 0;
    };
    std::map<std::string, Hugetlb> hugetlb; // by page size: "2MB"
};
// runc's JSON of the stats (one line, Go's field order and omitempty rules).
std::string stats_to_json(const ContainerStats &s);
// The statistics of a created, running or paused container; stopped:
// "container with id ID is not running".
Result<ContainerStats> stats(const Context &ctx, const std::string &id);

// One event of `events`: type "stats" (with stats) or "oom".
struct Event {
    std::string type;
    std::string id;
    std::optional<ContainerStats> stats;
};
// {"type":"oom","id":"c1"} / {"type":"stats","id":"c1","data":{...}}, one line, no newline.
std::string event_to_json(const Event &e);

struct EventsOptions {
    std::chrono::nanoseconds interval = std::chrono::seconds(5); // between stats events; > 0
};
// Report events until the container stops (or its cgroup is removed): a
// stats event every interval (the first after one interval, as runc), and an
// "oom" event as soon as the cgroup records an OOM kill. Statistics that
// cannot be read are reported as 0. An error from `sink` ends the
// stream with that error. A stopped container: "container with id ID is not running".
Status events(const Context &ctx, const std::string &id, const EventsOptions &opts,
              const std::function<Status(const Event &)> &sink);

} // namespace corral
