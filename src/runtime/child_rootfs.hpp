// child_rootfs.hpp — root filesystem steps run by the container's init.
// Async-signal-safe: these run after clone. Each fails through child_fail.
#pragma once

#include "runtime/plan.hpp"

namespace corral {

// openat2(RESOLVE_IN_ROOT): open PATH as if rootfd were "/".
int open_in_root(int rootfd, const char *path, int flags);
// Like mkdir -p (or create an empty file as the last component), inside the
// root; returns an O_PATH fd to the result, or -1 with errno.
int make_in_root(int rootfd, const char *path, bool is_dir, mode_t mode);
void mount_at_fd(const ChildPlan &plan, int fd, const char *source, const char *fstype, unsigned long flags,
                 const char *data, const char *shown);
void mount_one(const ChildPlan &plan, int rootfd, const MountPlan &m);
void create_devices(const ChildPlan &plan, int rootfd);
void pivot_into_rootfs(const ChildPlan &plan);
void chroot_into_rootfs(const ChildPlan &plan);
void apply_readonly_paths(const ChildPlan &plan);
void apply_masked_paths(const ChildPlan &plan);
void remount_root_readonly(const ChildPlan &plan);

} // namespace corral
