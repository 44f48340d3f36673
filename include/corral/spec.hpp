// corral/spec.hpp — the OCI runtime-spec 1.2 config.json as typed C++.
//
// Field names follow the spec's JSON names (snake_case for C++), so a reader
// can go from `process.user.additionalGids` to `spec.process->user.additional_gids`.
// Optional JSON members are std::optional; absent arrays are empty vectors.
// The parser (parse_spec) rejects wrong types and invalid values with the
// JSON path of the field: "config.json: process.user.uid: expected unsigned integer".
#pragma once

#include "corral/error.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

// GNU C++ (-std=gnu++20, which CMAKE_CXX_EXTENSIONS gives us) predefines
// `linux` as 1, which would turn the member `Spec::linux` into `1`. The
// kernel-portable spelling is __linux__, so nothing needs the old macro.
#undef linux

namespace corral::spec {

struct Root {
    std::string path;  // may be relative to the bundle
    bool readonly = false;
};

struct Mount {
    std::string destination;
    std::string type;   // may be empty (bind mounts)
    std::string source; // may be empty
    std::vector<std::string> options;
    // uidMappings/gidMappings on mounts (idmapped mounts) are parsed into these.
    struct IdMap { uint32_t container_id = 0, host_id = 0, size = 0; };
    std::vector<IdMap> uid_mappings, gid_mappings;
};

struct User {
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::optional<uint32_t> umask;
    std::vector<uint32_t> additional_gids;
    std::string username; // Windows only; kept for round trips
};

struct Capabilities {
    std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct Rlimit {
    std::string type; // "RLIMIT_NOFILE"
    uint64_t soft = 0;
    uint64_t hard = 0;
};

struct ConsoleSize {
    uint32_t height = 0;
    uint32_t width = 0;
};

struct IOPriority {
    std::string klass; // JSON "class": IOPRIO_CLASS_RT|BE|IDLE
    int priority = 0;
};

struct Scheduler {
    std::string policy;
    int nice = 0;
    int priority = 0;
    std::vector<std::string> flags;
    uint64_t runtime = 0, deadline = 0, period = 0;
};

// process.execCPUAffinity (exec only): CPU lists such as "0-3,7".
struct ExecCPUAffinity {
    std::string initial; // before joining the container's cgroup
    std::string final;   // after; empty = the cgroup's cpuset
};

struct Process {
    bool terminal = false;
    std::optional<ConsoleSize> console_size;
    std::string cwd;  // required, absolute
    std::vector<std::string> env;
    std::vector<std::string> args;
    std::string command_line; // Windows only
    std::vector<Rlimit> rlimits;
    std::string apparmor_profile;
    std::optional<Capabilities> capabilities;
    bool no_new_privileges = false;
    std::optional<int> oom_score_adj;
    std::optional<Scheduler> scheduler;
    std::string selinux_label;
    std::optional<IOPriority> io_priority;
    User user;
    std::optional<ExecCPUAffinity> exec_cpu_affinity;
};

struct Hook {
    std::string path;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::optional<int> timeout; // seconds, > 0
};

struct Hooks {
    std::vector<Hook> prestart;        // deprecated, still run (runc does)
    std::vector<Hook> create_runtime;
    std::vector<Hook> create_container;
    std::vector<Hook> start_container;
    std::vector<Hook> poststart;
    std::vector<Hook> poststop;
};

struct IdMapping {
    uint32_t container_id = 0;
    uint32_t host_id = 0;
    uint32_t size = 0;
};

struct Namespace {
    std::string type; // pid network mount ipc uts user cgroup time
    std::string path; // empty: create a new one
};

struct Device {
    std::string type; // c b u p
    std::string path;
    int64_t major = 0;
    int64_t minor = 0;
    std::optional<uint32_t> file_mode;
    std::optional<uint32_t> uid;
    std::optional<uint32_t> gid;
};

// --- linux.resources ---
struct DeviceRule {
    bool allow = false;
    std::string type;   // a c b, empty = all
    std::optional<int64_t> major, minor;
    std::string access; // rwm
};

struct Memory {
    std::optional<int64_t> limit, reservation, swap, kernel, kernel_tcp;
    std::optional<uint64_t> swappiness;
    std::optional<bool> disable_oom_killer, use_hierarchy, check_before_update;
};

struct Cpu {
    std::optional<uint64_t> shares;
    std::optional<int64_t> quota;
    std::optional<uint64_t> burst;
    std::optional<uint64_t> period;
    std::optional<int64_t> realtime_runtime;
    std::optional<uint64_t> realtime_period;
    std::string cpus, mems;
    std::optional<int64_t> idle;
};

struct Pids {
    int64_t limit = 0;
};

struct WeightDevice {
    int64_t major = 0, minor = 0;
    std::optional<uint16_t> weight, leaf_weight;
};
struct ThrottleDevice {
    int64_t major = 0, minor = 0;
    uint64_t rate = 0;
};
struct BlockIO {
    std::optional<uint16_t> weight, leaf_weight;
    std::vector<WeightDevice> weight_device;
    std::vector<ThrottleDevice> throttle_read_bps_device, throttle_write_bps_device,
        throttle_read_iops_device, throttle_write_iops_device;
};

struct HugepageLimit {
    std::string page_size; // "2MB"
    uint64_t limit = 0;
};

struct NetworkPriority { std::string name; uint32_t priority = 0; };
struct Network {
    std::optional<uint32_t> class_id;
    std::vector<NetworkPriority> priorities;
};

struct Resources {
    std::vector<DeviceRule> devices;
    std::optional<Memory> memory;
    std::optional<Cpu> cpu;
    std::optional<Pids> pids;
    std::optional<BlockIO> block_io;
    std::vector<HugepageLimit> hugepage_limits;
    std::optional<Network> network;
    std::map<std::string, std::string> unified;
    // rdma is accepted and kept as raw JSON text per device.
    std::map<std::string, std::string> rdma_raw;
};

// --- seccomp (enforced by the security issue; parsed and validated here) ---
struct SeccompArg {
    uint32_t index = 0;
    uint64_t value = 0;
    uint64_t value_two = 0;
    std::string op;
};
struct SeccompSyscall {
    std::vector<std::string> names;
    std::string action;
    std::optional<uint32_t> errno_ret;
    std::vector<SeccompArg> args;
};
struct Seccomp {
    std::string default_action;
    std::optional<uint32_t> default_errno_ret;
    std::vector<std::string> architectures;
    std::vector<std::string> flags;
    std::string listener_path;
    std::string listener_metadata;
    std::vector<SeccompSyscall> syscalls;
};

struct Personality {
    std::string domain;
    std::vector<std::string> flags;
};

struct TimeOffset { int64_t secs = 0; uint32_t nanosecs = 0; };

struct Linux {
    std::vector<Namespace> namespaces;
    std::vector<IdMapping> uid_mappings;
    std::vector<IdMapping> gid_mappings;
    std::map<std::string, TimeOffset> time_offsets; // "monotonic", "boottime"
    std::vector<Device> devices;
    std::string cgroups_path;
    std::optional<Resources> resources;
    std::string rootfs_propagation; // "", shared, slave, private, unbindable
    std::vector<std::string> masked_paths;
    std::vector<std::string> readonly_paths;
    std::string mount_label;
    std::map<std::string, std::string> sysctl;
    std::optional<Seccomp> seccomp;
    std::optional<Personality> personality;
};

struct Spec {
    std::string oci_version;
    std::optional<Root> root;
    std::vector<Mount> mounts;
    std::optional<Process> process;
    std::string hostname;
    std::string domainname;
    std::optional<Hooks> hooks;
    std::map<std::string, std::string> annotations;
    std::optional<Linux> linux;

    // Convenience lookups.
    const Namespace *find_namespace(std::string_view type) const;
};

// Parse config.json text. `source` names the file in error messages.
Result<Spec> parse_spec(std::string_view json_text, std::string_view source = "config.json");
// Parse a process.json (as `exec --process FILE` takes it).
Result<Process> parse_process(std::string_view json_text, std::string_view source = "process.json");
// Read BUNDLE/config.json and parse it.
Result<Spec> load_spec(const std::string &bundle_dir);
// Check the semantic rules of runtime-spec (namespaces unique and known,
// cwd absolute, ...). Errors name the field. A relative mount destination is
// allowed (deprecated; "relative to /"): spec_warnings reports it.
Status validate_spec(const Spec &spec, std::string_view source = "config.json");
// The process rules of validate_spec, for `exec --process` (paths without "process.").
Status validate_process(const Process &process, std::string_view source = "process.json");
// Things the spec says to log and go on with ("source: path: message"):
// unknown capability names, relative mount destinations (deprecated).
std::vector<std::string> spec_warnings(const Spec &spec, std::string_view source = "config.json");

// The default config, as `runc spec` writes it (and `--rootless`).
std::string default_spec_json(bool rootless);
// `corral spec --explain`: the same document, each line with what its field
// means after "//" (for reading, not a config.json: JSON has no comments).
std::string explain_default_spec(bool rootless);

// The OCI runtime-spec version corral implements.
inline constexpr const char *kOciVersion = "1.2.0";

} // namespace corral::spec
