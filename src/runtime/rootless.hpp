// rootless.hpp — containers run by an unprivileged user (runc's "rootless").
//
// An unprivileged user can make a container because a new user namespace
// gives it every capability over the namespaces it then creates. What it
// cannot do, and what this file decides instead of the engine failing on it:
//
//   what                       as root                  rootless
//   -------------------------  -----------------------  --------------------------------------------
//   uid_map / gid_map          written by the parent     the caller's own id alone: written directly,
//                                                        after `deny` to /proc/PID/setgroups (the
//                                                        kernel's rule); several ids: newuidmap /
//                                                        newgidmap (package uidmap, /etc/subuid and
//                                                        /etc/subgid), as runc does
//   setgroups(2) in the init   yes                       not when setgroups is denied (no
//                                                        additionalGids then: runc's error)
//   cgroup                     created                   created if the parent is writable (a
//                                                        delegated subtree); otherwise none, with a
//                                                        debug line, and an error only if
//                                                        linux.resources asks for limits. v2: the
//                                                        init can only be moved there from inside
//                                                        the subtree (common-ancestor rule): else
//                                                        create fails saying so, and exec runs in
//                                                        the caller's cgroup (runc does both)
//   device cgroup rules        written                   left out (need CAP_SYS_ADMIN on the host;
//                                                        runc ignores them too)
//   cgroup mount               the container's cgroup    the caller's own cgroups, read-only (runc)
//   sysfs without a netns      mounted                   a new user namespace without a new network
//                                                        namespace cannot mount sysfs: /sys is bound
//                                                        from the host instead (read-only if asked)
//   devices                    mknod                     bound from the host (child_rootfs.cpp)
//   state                      /run/corral               $XDG_RUNTIME_DIR/corral (cli/main.cpp)
//
// "Rootless" is --rootless true|false, or by default (auto) runc's rule: not
// root, or root of a user namespace that is not the initial one.
#pragma once

#include "corral/container.hpp"
#include "corral/error.hpp"
#include "corral/log.hpp"
#include "corral/spec.hpp"

#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace corral {

// --- deciding ---------------------------------------------------------------

// True when this process runs in a user namespace other than the initial
// one (its uid_map is not the identity map of all ids).
bool in_user_namespace();
// --rootless, or auto: euid != 0, or running in a user namespace.
bool is_rootless(const Context &ctx);

// --- user namespace id maps (parent side) -----------------------------------

// "0 1000 1\n1 100000 65536\n": what /proc/PID/uid_map takes.
std::string format_id_map(const std::vector<spec::IdMapping> &maps);
// newuidmap/newgidmap's arguments after the pid: "0 1000 1 1 100000 65536".
std::vector<std::string> id_map_tool_args(const std::vector<spec::IdMapping> &maps);

// Whether /proc/PID/setgroups must say `deny` before gid_map is written: a
// rootless caller maps only its own effective gid (the only map the kernel
// lets it write itself, and only once setgroups is denied). runc's rule.
bool must_deny_setgroups(const std::vector<spec::IdMapping> &gid_maps, gid_t egid, bool rootless);

// Write the id maps of the new user namespace of `pid`: setgroups `deny`
// when must_deny_setgroups, then uid_map and gid_map, each written directly,
// or, when the kernel refuses that (EPERM: an unprivileged caller mapping
// other ids than its own), through newuidmap / newgidmap. Errors name the
// config field, and for a missing tool the package and files it needs.
Status write_user_ns_maps(const Logger &log, pid_t pid, const spec::Linux &linux, bool rootless);

// Whether the user namespace of the process behind /proc/PID/ns/user (as
// recorded in state.json) has setgroups denied. False for any other path.
bool setgroups_denied_for(const std::string &user_ns_path);

// --- cgroups ------------------------------------------------------------------

// A cgroup error a rootless caller gets for lack of permission (EACCES,
// EPERM, EROFS): the cgroup is then skipped rather than fatal.
bool is_permission_error(const Error &e);
// The first part of linux.resources that would write a cgroup knob, by its
// config name ("memory", "cpu", "pids", "blockIO", "hugepageLimits",
// "network", "unified", "rdma"); "" when nothing but device rules is set.
std::string first_limit_set(const spec::Resources &r);
// linux.resources without the device rules, which an unprivileged caller
// cannot apply (runc ignores device cgroup errors when rootless).
spec::Resources without_device_rules(spec::Resources r);

// The caller's own cgroup directories, in the shape of
// cgroups::Manager::paths(): v1 {"memory", "/sys/fs/cgroup/memory/a/b"} per
// line of /proc/self/cgroup ("name=systemd" → ".../systemd/..."), v2
// {"", "/sys/fs/cgroup/a/b"}. What the cgroup mount shows when a rootless
// container has no cgroup of its own. `v2` picks the unified ("0::") line.
std::vector<std::pair<std::string, std::string>> own_cgroup_paths(bool v2, const std::string &root = "/sys/fs/cgroup",
                                                                  const std::string &proc_self_cgroup = "/proc/self/cgroup");

// --- mounts -------------------------------------------------------------------

// A sysfs mount the container cannot make (a new user namespace without a
// new network namespace) as a recursive bind of the host's /sys with the
// same flags. Other mounts are returned unchanged; `changed` says which.
spec::Mount sysfs_as_bind_if_needed(const spec::Mount &m, bool new_user_ns, bool new_net_ns, bool &changed);

} // namespace corral
