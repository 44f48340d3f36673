// parse.cpp — config.json / process.json text to typed structs.
//
// Only the JSON shape is checked here: types, integer ranges, REQUIRED
// members, and the few rules that need to know what was present in the
// JSON (a device's major/minor, an rdma entry's limits). The semantic rules
// live in validate.cpp.
//
// Unknown members are ignored, as config.md "Extensibility" demands:
// runtimes "MUST otherwise ignore them", not generate errors.
#include "corral/spec.hpp"

#include "common/fs.hpp"
#include "spec/json_walker.hpp"

namespace corral::spec {
namespace detail {

// Declared up front so the vector/optional templates can reach every reader.
bool read(Walker &w, const Node &v, Root &out);
bool read(Walker &w, const Node &v, Mount::IdMap &out);
bool read(Walker &w, const Node &v, Mount &out);
bool read(Walker &w, const Node &v, User &out);
bool read(Walker &w, const Node &v, Capabilities &out);
bool read(Walker &w, const Node &v, Rlimit &out);
bool read(Walker &w, const Node &v, ConsoleSize &out);
bool read(Walker &w, const Node &v, IOPriority &out);
bool read(Walker &w, const Node &v, Scheduler &out);
bool read(Walker &w, const Node &v, ExecCPUAffinity &out);
bool read(Walker &w, const Node &v, Process &out);
bool read(Walker &w, const Node &v, Hook &out);
bool read(Walker &w, const Node &v, Hooks &out);
bool read(Walker &w, const Node &v, IdMapping &out);
bool read(Walker &w, const Node &v, Namespace &out);
bool read(Walker &w, const Node &v, Device &out);
bool read(Walker &w, const Node &v, DeviceRule &out);
bool read(Walker &w, const Node &v, Memory &out);
bool read(Walker &w, const Node &v, Cpu &out);
bool read(Walker &w, const Node &v, Pids &out);
bool read(Walker &w, const Node &v, WeightDevice &out);
bool read(Walker &w, const Node &v, ThrottleDevice &out);
bool read(Walker &w, const Node &v, BlockIO &out);
bool read(Walker &w, const Node &v, HugepageLimit &out);
bool read(Walker &w, const Node &v, NetworkPriority &out);
bool read(Walker &w, const Node &v, Network &out);
bool read(Walker &w, const Node &v, Resources &out);
bool read(Walker &w, const Node &v, SeccompArg &out);
bool read(Walker &w, const Node &v, SeccompSyscall &out);
bool read(Walker &w, const Node &v, Seccomp &out);
bool read(Walker &w, const Node &v, Personality &out);
bool read(Walker &w, const Node &v, TimeOffset &out);
bool read(Walker &w, const Node &v, Linux &out);
bool read(Walker &w, const Node &v, Spec &out);
static bool read_memory(Walker &w, const Node &v, Memory &out);

// --- top level -------------------------------------------------------------

bool read(Walker &w, const Node &v, Root &out) {
    return expect_object(w, v) && req(w, v, "path", out.path) &&
           opt(w, v, "readonly", out.readonly);
}

bool read(Walker &w, const Node &v, Mount::IdMap &out) {
    return expect_object(w, v) && req(w, v, "containerID", out.container_id) &&
           req(w, v, "hostID", out.host_id) && req(w, v, "size", out.size);
}

bool read(Walker &w, const Node &v, Mount &out) {
    return expect_object(w, v) && req(w, v, "destination", out.destination) &&
           opt(w, v, "type", out.type) && opt(w, v, "source", out.source) &&
           opt(w, v, "options", out.options) && opt(w, v, "uidMappings", out.uid_mappings) &&
           opt(w, v, "gidMappings", out.gid_mappings);
}

bool read(Walker &w, const Node &v, Hook &out) {
    return expect_object(w, v) && req(w, v, "path", out.path) && opt(w, v, "args", out.args) &&
           opt(w, v, "env", out.env) && opt(w, v, "timeout", out.timeout);
}

bool read(Walker &w, const Node &v, Hooks &out) {
    return expect_object(w, v) && opt(w, v, "prestart", out.prestart) &&
           opt(w, v, "createRuntime", out.create_runtime) &&
           opt(w, v, "createContainer", out.create_container) &&
           opt(w, v, "startContainer", out.start_container) &&
           opt(w, v, "poststart", out.poststart) && opt(w, v, "poststop", out.poststop);
}

bool read(Walker &w, const Node &v, Spec &out) {
    return expect_object(w, v) && req(w, v, "ociVersion", out.oci_version) &&
           opt(w, v, "root", out.root) && opt(w, v, "mounts", out.mounts) &&
           opt(w, v, "process", out.process) && opt(w, v, "hostname", out.hostname) &&
           opt(w, v, "domainname", out.domainname) && opt(w, v, "hooks", out.hooks) &&
           opt(w, v, "annotations", out.annotations) && opt(w, v, "linux", out.linux);
}

// --- process ---------------------------------------------------------------

bool read(Walker &w, const Node &v, User &out) {
    // config.md: uid and gid are REQUIRED on POSIX. (The `user` object itself
    // may be absent, meaning root, as with runc.)
    return expect_object(w, v) && req(w, v, "uid", out.uid) && req(w, v, "gid", out.gid) &&
           opt(w, v, "umask", out.umask) && opt(w, v, "additionalGids", out.additional_gids) &&
           opt(w, v, "username", out.username);
}

bool read(Walker &w, const Node &v, Capabilities &out) {
    return expect_object(w, v) && opt(w, v, "bounding", out.bounding) &&
           opt(w, v, "effective", out.effective) && opt(w, v, "inheritable", out.inheritable) &&
           opt(w, v, "permitted", out.permitted) && opt(w, v, "ambient", out.ambient);
}

bool read(Walker &w, const Node &v, Rlimit &out) {
    return expect_object(w, v) && req(w, v, "type", out.type) && req(w, v, "soft", out.soft) &&
           req(w, v, "hard", out.hard);
}

bool read(Walker &w, const Node &v, ConsoleSize &out) {
    return expect_object(w, v) && req(w, v, "height", out.height) &&
           req(w, v, "width", out.width);
}

bool read(Walker &w, const Node &v, IOPriority &out) {
    return expect_object(w, v) && req(w, v, "class", out.klass) &&
           req(w, v, "priority", out.priority);
}

bool read(Walker &w, const Node &v, Scheduler &out) {
    return expect_object(w, v) && req(w, v, "policy", out.policy) && opt(w, v, "nice", out.nice) &&
           opt(w, v, "priority", out.priority) && opt(w, v, "flags", out.flags) &&
           opt(w, v, "runtime", out.runtime) && opt(w, v, "deadline", out.deadline) &&
           opt(w, v, "period", out.period);
}

bool read(Walker &w, const Node &v, ExecCPUAffinity &out) {
    return expect_object(w, v) && opt(w, v, "initial", out.initial) &&
           opt(w, v, "final", out.final);
}

bool read(Walker &w, const Node &v, Process &out) {
    // cwd is REQUIRED; args is REQUIRED to be non-empty on Linux, which
    // validate_process checks (an absent args reads as empty).
    return expect_object(w, v) && opt(w, v, "terminal", out.terminal) &&
           opt(w, v, "consoleSize", out.console_size) && req(w, v, "cwd", out.cwd) &&
           opt(w, v, "env", out.env) && opt(w, v, "args", out.args) &&
           opt(w, v, "commandLine", out.command_line) && opt(w, v, "rlimits", out.rlimits) &&
           opt(w, v, "apparmorProfile", out.apparmor_profile) &&
           opt(w, v, "capabilities", out.capabilities) &&
           opt(w, v, "noNewPrivileges", out.no_new_privileges) &&
           opt(w, v, "oomScoreAdj", out.oom_score_adj) && opt(w, v, "scheduler", out.scheduler) &&
           opt(w, v, "selinuxLabel", out.selinux_label) &&
           opt(w, v, "ioPriority", out.io_priority) && opt(w, v, "user", out.user) &&
           opt(w, v, "execCPUAffinity", out.exec_cpu_affinity);
}

// --- linux -----------------------------------------------------------------

bool read(Walker &w, const Node &v, IdMapping &out) {
    return expect_object(w, v) && req(w, v, "containerID", out.container_id) &&
           req(w, v, "hostID", out.host_id) && req(w, v, "size", out.size);
}

bool read(Walker &w, const Node &v, Namespace &out) {
    return expect_object(w, v) && req(w, v, "type", out.type) && opt(w, v, "path", out.path);
}

bool read(Walker &w, const Node &v, Device &out) {
    if (!expect_object(w, v) || !req(w, v, "type", out.type) || !req(w, v, "path", out.path))
        return false;
    // major and minor are REQUIRED unless the type is `p` (a FIFO).
    if (out.type == "p") {
        if (!opt(w, v, "major", out.major) || !opt(w, v, "minor", out.minor)) return false;
    } else if (!req(w, v, "major", out.major) || !req(w, v, "minor", out.minor)) {
        return false;
    }
    return opt(w, v, "fileMode", out.file_mode) && opt(w, v, "uid", out.uid) &&
           opt(w, v, "gid", out.gid);
}

bool read(Walker &w, const Node &v, DeviceRule &out) {
    return expect_object(w, v) && req(w, v, "allow", out.allow) && opt(w, v, "type", out.type) &&
           opt(w, v, "major", out.major) && opt(w, v, "minor", out.minor) &&
           opt(w, v, "access", out.access);
}

bool read(Walker &w, const Node &v, Memory &out) {
    if (!read_memory(w, v, out)) return false;
    // Docker once wrote swappiness -1 ("unset") cast to uint64; runc treats
    // that value as unset, and so do we.
    if (out.swappiness == std::numeric_limits<uint64_t>::max()) out.swappiness.reset();
    return true;
}

static bool read_memory(Walker &w, const Node &v, Memory &out) {
    return expect_object(w, v) && opt(w, v, "limit", out.limit) &&
           opt(w, v, "reservation", out.reservation) && opt(w, v, "swap", out.swap) &&
           opt(w, v, "kernel", out.kernel) && opt(w, v, "kernelTCP", out.kernel_tcp) &&
           opt(w, v, "swappiness", out.swappiness) &&
           opt(w, v, "disableOOMKiller", out.disable_oom_killer) &&
           opt(w, v, "useHierarchy", out.use_hierarchy) &&
           opt(w, v, "checkBeforeUpdate", out.check_before_update);
}

bool read(Walker &w, const Node &v, Cpu &out) {
    return expect_object(w, v) && opt(w, v, "shares", out.shares) &&
           opt(w, v, "quota", out.quota) && opt(w, v, "burst", out.burst) &&
           opt(w, v, "period", out.period) && opt(w, v, "realtimeRuntime", out.realtime_runtime) &&
           opt(w, v, "realtimePeriod", out.realtime_period) && opt(w, v, "cpus", out.cpus) &&
           opt(w, v, "mems", out.mems) && opt(w, v, "idle", out.idle);
}

bool read(Walker &w, const Node &v, Pids &out) {
    return expect_object(w, v) && req(w, v, "limit", out.limit);
}

bool read(Walker &w, const Node &v, WeightDevice &out) {
    return expect_object(w, v) && req(w, v, "major", out.major) &&
           req(w, v, "minor", out.minor) && opt(w, v, "weight", out.weight) &&
           opt(w, v, "leafWeight", out.leaf_weight);
}

bool read(Walker &w, const Node &v, ThrottleDevice &out) {
    return expect_object(w, v) && req(w, v, "major", out.major) &&
           req(w, v, "minor", out.minor) && req(w, v, "rate", out.rate);
}

bool read(Walker &w, const Node &v, BlockIO &out) {
    return expect_object(w, v) && opt(w, v, "weight", out.weight) &&
           opt(w, v, "leafWeight", out.leaf_weight) &&
           opt(w, v, "weightDevice", out.weight_device) &&
           opt(w, v, "throttleReadBpsDevice", out.throttle_read_bps_device) &&
           opt(w, v, "throttleWriteBpsDevice", out.throttle_write_bps_device) &&
           opt(w, v, "throttleReadIOPSDevice", out.throttle_read_iops_device) &&
           opt(w, v, "throttleWriteIOPSDevice", out.throttle_write_iops_device);
}

bool read(Walker &w, const Node &v, HugepageLimit &out) {
    return expect_object(w, v) && req(w, v, "pageSize", out.page_size) &&
           req(w, v, "limit", out.limit);
}

bool read(Walker &w, const Node &v, NetworkPriority &out) {
    return expect_object(w, v) && req(w, v, "name", out.name) &&
           req(w, v, "priority", out.priority);
}

bool read(Walker &w, const Node &v, Network &out) {
    return expect_object(w, v) && opt(w, v, "classID", out.class_id) &&
           opt(w, v, "priorities", out.priorities);
}

// rdma: {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}}. Checked here
// (both uint32, at least one present) and kept as JSON text holding just
// those two members (unknown ones are dropped, like everywhere else).
static bool read_rdma(Walker &w, const Node &v, std::map<std::string, std::string> &out) {
    if (!expect_object(w, v)) return false;
    for (const Node *e = v.first; e; e = e->next) {
        auto s = w.map_key(e->key);
        if (!expect_object(w, *e)) return false;
        std::optional<uint32_t> handles, objects;
        if (!opt(w, *e, "hcaHandles", handles) || !opt(w, *e, "hcaObjects", objects)) return false;
        if (!handles && !objects) return w.fail("one of hcaHandles or hcaObjects is required");
        std::string text = "{";
        if (handles) text += "\"hcaHandles\":" + std::to_string(*handles);
        if (objects) text += std::string(handles ? "," : "") + "\"hcaObjects\":" + std::to_string(*objects);
        text += '}';
        out.insert_or_assign(std::string(e->key), std::move(text));
    }
    return true;
}

bool read(Walker &w, const Node &v, Resources &out) {
    if (!expect_object(w, v)) return false;
    if (const Node *rdma = member(v, "rdma")) {
        auto s = w.field("rdma");
        if (!read_rdma(w, *rdma, out.rdma_raw)) return false;
    }
    return opt(w, v, "devices", out.devices) && opt(w, v, "memory", out.memory) &&
           opt(w, v, "cpu", out.cpu) && opt(w, v, "pids", out.pids) &&
           opt(w, v, "blockIO", out.block_io) &&
           opt(w, v, "hugepageLimits", out.hugepage_limits) &&
           opt(w, v, "network", out.network) && opt(w, v, "unified", out.unified);
}

bool read(Walker &w, const Node &v, SeccompArg &out) {
    return expect_object(w, v) && req(w, v, "index", out.index) &&
           req(w, v, "value", out.value) && opt(w, v, "valueTwo", out.value_two) &&
           req(w, v, "op", out.op);
}

bool read(Walker &w, const Node &v, SeccompSyscall &out) {
    return expect_object(w, v) && req(w, v, "names", out.names) &&
           req(w, v, "action", out.action) && opt(w, v, "errnoRet", out.errno_ret) &&
           opt(w, v, "args", out.args);
}

bool read(Walker &w, const Node &v, Seccomp &out) {
    return expect_object(w, v) && req(w, v, "defaultAction", out.default_action) &&
           opt(w, v, "defaultErrnoRet", out.default_errno_ret) &&
           opt(w, v, "architectures", out.architectures) && opt(w, v, "flags", out.flags) &&
           opt(w, v, "listenerPath", out.listener_path) &&
           opt(w, v, "listenerMetadata", out.listener_metadata) &&
           opt(w, v, "syscalls", out.syscalls);
}

bool read(Walker &w, const Node &v, Personality &out) {
    return expect_object(w, v) && req(w, v, "domain", out.domain) &&
           opt(w, v, "flags", out.flags);
}

bool read(Walker &w, const Node &v, TimeOffset &out) {
    return expect_object(w, v) && opt(w, v, "secs", out.secs) &&
           opt(w, v, "nanosecs", out.nanosecs);
}

static bool read_time_offsets(Walker &w, const Node &v, std::map<std::string, TimeOffset> &out) {
    if (!expect_object(w, v)) return false;
    for (const Node *e = v.first; e; e = e->next) {
        auto s = w.map_key(e->key);
        TimeOffset off;
        if (!read(w, *e, off)) return false;
        out.insert_or_assign(std::string(e->key), off);
    }
    return true;
}

bool read(Walker &w, const Node &v, Linux &out) {
    if (!expect_object(w, v)) return false;
    // intelRdt is a known property corral does not implement. The spec
    // says the runtime MUST act on it when set (or fail), so ignoring it
    // silently is not an option: refuse it.
    if (member(v, "intelRdt")) {
        auto s = w.field("intelRdt");
        return w.fail("not supported by corral");
    }
    if (const Node *t = member(v, "timeOffsets")) {
        auto s = w.field("timeOffsets");
        if (!read_time_offsets(w, *t, out.time_offsets)) return false;
    }
    return opt(w, v, "namespaces", out.namespaces) && opt(w, v, "uidMappings", out.uid_mappings) &&
           opt(w, v, "gidMappings", out.gid_mappings) && opt(w, v, "devices", out.devices) &&
           opt(w, v, "cgroupsPath", out.cgroups_path) && opt(w, v, "resources", out.resources) &&
           opt(w, v, "rootfsPropagation", out.rootfs_propagation) &&
           opt(w, v, "maskedPaths", out.masked_paths) &&
           opt(w, v, "readonlyPaths", out.readonly_paths) &&
           opt(w, v, "mountLabel", out.mount_label) && opt(w, v, "sysctl", out.sysctl) &&
           opt(w, v, "seccomp", out.seccomp) && opt(w, v, "personality", out.personality);
}

// --- entry points ----------------------------------------------------------

template <class T> static Result<T> parse_as(std::string_view text, std::string_view source) {
    try {
        auto tree = Tree::parse(text, source);
        if (!tree) return std::move(tree).error();
        Walker w(source);
        T out;
        if (!read(w, tree->root(), out)) return w.take_error();
        return out;
    } catch (const std::exception &e) { // std::bad_alloc, in practice
        return Error(std::string(source) + ": " + e.what());
    }
}

} // namespace detail

Result<Spec> parse_spec(std::string_view json_text, std::string_view source) {
    return detail::parse_as<Spec>(json_text, source);
}

Result<Process> parse_process(std::string_view json_text, std::string_view source) {
    return detail::parse_as<Process>(json_text, source);
}

Result<Spec> load_spec(const std::string &bundle_dir) {
    std::string path = path_join(bundle_dir, "config.json");
    std::string text = CORRAL_TRY(read_file(path));
    return parse_spec(text, path);
}

const Namespace *Spec::find_namespace(std::string_view type) const {
    if (!linux) return nullptr;
    for (const Namespace &ns : linux->namespaces)
        if (ns.type == type) return &ns;
    return nullptr;
}

} // namespace corral::spec
