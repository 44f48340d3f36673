// mount_guard.hpp — refuse configured mounts that would cover procfs
// (CVE-2019-16884). Runs in the init after clone: async-signal-safe.
//
// A mount over a procfs file or directory hides what the kernel says there
// from the container's programs and from the runtime's own later steps: a
// tmpfs over /proc/self/attr made runc write the AppArmor label into a plain
// file (CVE-2019-16884); one over /proc/sys/kernel replaces sysctls. Like
// runc, we accept on procfs only /proc itself (a fresh proc mount or a bind
// mount) and the files lxcfs emulates (/proc/meminfo, ...). The check looks at
// what the destination really resolves to inside the rootfs, so a symlink
// in the image that leads into /proc is caught too.
#pragma once

#include "runtime/plan.hpp"

namespace corral {

// child_fail (EPERM) if `m`'s destination, resolved in the rootfs, is on
// procfs and is not one of the allowed places. A destination that does not
// exist yet passes: it cannot be created on procfs.
void refuse_mount_on_procfs(const ChildPlan &plan, int rootfd, const MountPlan &m);

} // namespace corral
