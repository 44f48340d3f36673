// plan_build.hpp — turn a parsed config into the child's plan (parent side).
#pragma once

#include "cgroups/manager.hpp"
#include "corral/container.hpp"
#include "corral/spec.hpp"
#include "runtime/plan.hpp"

namespace corral {

struct PlanInputs {
    const Context &ctx;
    const std::string &id;
    const std::string &bundle;   // absolute
    const spec::Spec &spec;
    const CreateOptions &opts;
    const cgroups::Manager *cgroup; // may be null (disabled)
};

Result<ChildPlan> build_plan(const PlanInputs &in);

// The plan for `exec`: join every namespace of the running init (pid and
// time are joined by the parent, see enter_parent_namespaces), its cgroup,
// then set up `process` as create would.
struct ExecPlanInputs {
    const Context &ctx;
    const std::string &id;
    const spec::Spec &spec;          // the container's config, as created
    const spec::Process &process;    // what to run
    const std::vector<std::pair<std::string, std::string>> &namespace_paths; // type -> path
    int preserve_fds;
    std::string_view source;         // names the process in errors
    const std::string &rootfs;       // the container's root on the host (state.json)
};
Result<ChildPlan> build_exec_plan(const ExecPlanInputs &in);

// linux.resources as the cgroup gets it: the config's device rules, then an
// allow rule per linux.devices node, then runc's default allowed devices
// (clients rely on these: a config saying only "deny all" still gets
// /dev/null, mknod, ptys...).
spec::Resources effective_resources(const spec::Spec &s);

// Whether the kernel enforces AppArmor profiles (what `features` reports).
bool apparmor_enabled();

// CLONE_NEW* for an OCI namespace type ("network" -> CLONE_NEWNET), 0 if unknown.
unsigned long namespace_flag(std::string_view type);
// Every mount option corral understands (flags, propagation, recursive
// attributes), sorted: what `features` reports as mountOptions.
std::vector<std::string> known_mount_options();
// Compiled seccomp filters are cached here, under the state root.
std::string seccomp_cache_dir(const Context &ctx);
const char *namespace_proc_name(std::string_view type); // "network" -> "net"

} // namespace corral

namespace corral {
// Point argv/envp into the plan's strings. Call once the plan is in its final
// place (moving a plan would move short strings' bytes).
void seal_plan(ChildPlan &plan);
} // namespace corral
