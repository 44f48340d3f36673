// systemd.hpp — the systemd cgroup driver (--systemd-cgroup), behind the
// same Manager interface as the cgroupfs backends.
//
// The container's cgroup is a transient scope unit systemd creates for us
// (StartTransientUnit over D-Bus) with Delegate=yes; the limits are given to
// systemd as unit properties, and then written to the cgroup files by the
// v2 or v1 backend on the unit's cgroup path, which also does everything
// else (freeze, stats, pids, device rules). runc's systemd managers are
// built the same way.
//
// A scope cannot exist without a process: systemd refuses an empty one and
// stops one that becomes empty. runc starts the scope after clone, with the
// init's pid. corral's init instead joins its cgroup by itself, from fds the
// parent opened before clone (or is cloned straight into it on v2), so the
// cgroup must exist before the init does. create() therefore starts the
// scope with a placeholder ("seed"): a forked process that only waits to be
// killed. The init then joins the scope's cgroup the ordinary way, and the
// seed is killed when the manager that made it goes away, which
// create_container does once the init reported Ready (so it is in the
// cgroup). The seed dies with corral (PR_SET_PDEATHSIG): a create killed
// half-way leaves an empty scope, which systemd then stops by itself.
// The seed counts for a moment against pids.max: a limit of 1 cannot be
// created (runc has no such moment).
#pragma once

#include "cgroups/manager.hpp"

#include <memory>

namespace corral::cgroups::systemd {

// For make_manager/open_manager with Options::systemd. Fails, saying why,
// when systemd is not the init, for a rootless caller (a user's systemd
// instance is not supported yet), or when cgroups are disabled.
// OPEN: the container exists; its recorded paths are used.
Result<std::unique_ptr<Manager>> make_systemd_manager(Mode mode, const Options &options, bool open);

// Whether systemd runs as init here (what sd_booted() checks).
bool systemd_running();

} // namespace corral::cgroups::systemd
