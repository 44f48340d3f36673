// plan.hpp — everything the container's init needs, prepared before clone.
//
// After clone the child may only make async-signal-safe calls, so it never
// parses, allocates or formats with the C++ library: the parent turns the
// config into this plan first (flags, paths as C strings, capability masks,
// argv/envp arrays), and the child only reads it. Strings are owned by the
// plan; clone copies the parent's memory, so the pointers stay valid.
#pragma once

#include "common/fd.hpp"
#include "runtime/hooks.hpp"
#include "runtime/seccomp.hpp"
#include "runtime/steps.hpp"

#include <cstdint>
#include <sched.h>
#include <optional>
#include <string>
#include <sys/resource.h>
#include <sys/types.h>
#include <vector>

namespace corral {

struct MountPlan {
    enum class Kind { regular, bind, cgroup_v1, cgroup_v2 };
    Kind kind = Kind::regular;
    std::string source;
    std::string destination;        // absolute, cleaned, inside the container
    std::string fstype;
    std::string data;               // options mount(2) does not take as flags
    unsigned long flags = 0;        // MS_* except propagation
    unsigned long propagation = 0;  // MS_SHARED/SLAVE/PRIVATE/UNBINDABLE (| MS_REC)
    bool source_is_dir = true;      // bind: create a directory or a file
    bool remount_readonly = false;  // bind + ro: the kernel ignores ro on the first bind
    uint64_t attr_set = 0, attr_clr = 0; // recursive attributes (rro, rnosuid...) via mount_setattr
    bool copy_up = false;           // "tmpcopyup": the tmpfs starts with what it covers (runc extension)
};

// One v1 hierarchy for the container's cgroup mount.
struct CgroupHierarchy {
    std::string name;      // directory name under /sys/fs/cgroup: "memory", "cpu,cpuacct", "systemd"
    std::string options;   // mount options: "memory", "name=systemd"
    std::string host_path; // host path of the container's cgroup in it (bind when no cgroupns)
};

struct DevicePlan {
    std::string path; // absolute, inside the container
    mode_t mode = 0;  // type bits | permissions
    dev_t dev = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};

struct LinkPlan {
    std::string target;
    std::string link; // absolute, inside the container
};

struct RlimitPlan {
    int resource;
    rlimit limit;
    const char *name; // "RLIMIT_NOFILE", for errors
};

struct NamespaceJoin {
    int type;      // CLONE_NEW*
    UniqueFd fd;   // opened by the parent
    std::string path;
};

struct ChildPlan {
    std::string id;
    bool exec_mode = false;          // `exec`: join a running container, no rootfs work
    // --- namespaces ---
    unsigned long clone_flags = 0;   // created by clone3
    unsigned long unshare_flags = 0; // created by the child after joins
    bool user_ns_late = false;       // CLONE_NEWUSER is in unshare_flags: ask for id maps
    // The pid namespace must belong to a user namespace the init enters only
    // after clone (joined, or unshared after joins): the init unshares
    // CLONE_NEWPID (in unshare_flags) or joins it (in joins), then forks once
    // more into it (SyncMsg::Forked); the new process is the container's init.
    bool fork_into_pid_ns = false;
    bool new_user_ns = false;
    bool new_cgroup_ns = false;      // unshared after the parent placed us in the cgroup
    std::vector<NamespaceJoin> joins; // user first
    // --- rootfs ---
    bool setup_rootfs = true;        // false: no mount namespace listed, the runtime's mounts as they are
    std::string rootfs;              // absolute host path
    unsigned long root_propagation = 0;
    unsigned long root_propagation_after = 0; // applied to / after pivot_root
    bool readonly_root = false;
    bool no_pivot = false;
    std::vector<MountPlan> mounts;
    std::vector<CgroupHierarchy> cgroup_hierarchies;
    std::string cgroup_v2_host_path;
    bool create_default_devices = false; // /dev is not bound from the host
    bool bind_devices = false;       // in a user namespace, new or joined: no mknod, bind the host's nodes
    std::vector<DevicePlan> devices;
    std::vector<LinkPlan> dev_links;
    std::vector<std::string> masked_paths;
    std::vector<std::string> readonly_paths;
    std::vector<std::pair<std::string, std::string>> sysctls; // /proc/sys/... path, value
    std::string hostname, domainname;
    bool set_hostname = false, set_domainname = false;
    bool loopback_up = false;        // a new network namespace: bring `lo` up
    // --- process ---
    std::vector<std::string> args, env;
    std::vector<char *> argv, envp;   // point into args/env, null-terminated
    std::string exec_path;            // args[0] resolved in the container's PATH by the child
    std::vector<std::string> path_dirs; // PATH entries from process.env
    std::string cwd;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> additional_gids;
    bool set_groups = true;          // false when setgroups is denied in the user ns
    mode_t umask = 022;
    std::vector<RlimitPlan> rlimits;
    uint64_t cap_bounding = 0, cap_effective = 0, cap_permitted = 0, cap_inheritable = 0,
             cap_ambient = 0;
    int cap_last = 40;
    bool no_new_privileges = false;
    std::string apparmor_profile;    // applied on exec (empty: none)
    bool set_oom_score_adj = false;
    std::string oom_score_adj;
    bool terminal = false;
    unsigned short console_rows = 0, console_cols = 0;
    int preserve_fds = 0;            // fds 3 .. 3+N-1 stay open
    bool new_session_keyring = true;
    std::string keyring_name;
    unsigned long personality = 0xffffffff; // 0xffffffff: leave as is
    bool set_scheduler = false;
    struct {
        uint32_t size, policy;
        uint64_t flags;
        int32_t nice;
        uint32_t priority;
        uint64_t runtime, deadline, period;
    } sched_attr{};                   // the kernel's struct sched_attr (v1 layout)
    int io_priority = -1;             // ioprio_set value, -1: leave as is
    std::optional<cpu_set_t> cpus_initial, cpus_final; // execCPUAffinity
    // --- seccomp: compiled by the parent, loaded by the init ---
    std::optional<SeccompProgram> seccomp;
    // --- hooks run inside the container ---
    std::vector<PreparedHook> create_container_hooks, start_container_hooks;
    std::vector<char> hook_state;    // filled by the Proceed message
    bool has_runtime_hooks = false;  // prestart/createRuntime: a round trip to the parent
    // --- cgroup ---
    std::vector<UniqueFd> cgroup_procs; // cgroup.procs of each hierarchy, opened by the parent
    bool cgroup_join_best_effort = false; // rootless: skip a hierarchy the kernel will not let us join (runc too)
    bool wait_for_proceed = false;      // id maps or hook state must come first
    // --- plumbing ---
    int sync_fd = -1;
    bool parent_watched = false;     // the init dies with the runtime (child.cpp: watch_parent)
    int fifo_fd = -1;                // exec.fifo, opened O_RDWR (create); -1 for run: no waiting
    int log_fd = -1;
    bool log_json = false;
    bool debug = false;
    StepLog *steps = nullptr;        // where the init times its steps (steps.hpp); null: not timed
};

// The child's entry point after clone: never returns.
[[noreturn]] void container_init(ChildPlan &plan);

} // namespace corral
