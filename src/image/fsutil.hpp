// fsutil.hpp — file helpers of the image code: opening paths beneath a
// directory without ever following a symlink, removing trees relative to a
// directory fd, unique temporary names.
#pragma once

#include "common/fd.hpp"
#include "corral/error.hpp"

#include <string>
#include <sys/stat.h>

namespace corral::image {

// Open `rel` (relative, no "..") beneath the directory `root` with `flags`
// (O_CLOEXEC added), refusing to pass through any symlink, the last
// component included: openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS), or a
// component-by-component O_NOFOLLOW walk on kernels without openat2. A
// symlink anywhere on the way is ELOOP. "" opens root itself.
Result<UniqueFd> open_beneath(int root, const std::string &rel, int flags, mode_t mode = 0);
// Like open_beneath, but resolving symlinks *inside* root as if it were `/`
// (RESOLVE_IN_ROOT alone): for reading /etc/passwd of an image.
Result<UniqueFd> open_in_root(int root, const std::string &rel, int flags);

// rm -rf of `name` in the directory `dirfd`, not crossing mount points and
// never following symlinks. A missing name is fine.
Status remove_tree_at(int dirfd, const std::string &name, const std::string &shown);
// Remove everything in the directory `dirfd`, keeping it.
Status clear_dir(int dirfd, const std::string &shown);

// A name no other process picks: "<pid>-<counter>-<random>".
std::string unique_name();
// (Writing a file whole: write_file_atomic, common/fs.hpp.)

// Cut "a/b/c" into "a/b" and "c" ("c" alone: "" and "c").
std::pair<std::string, std::string> split_parent(const std::string &rel);

// The xattr overlayfs reads as "this directory hides the lower layers'
// one": an opaque whiteout stored as overlay expects it.
inline constexpr const char *kOpaqueXattr = "trusted.overlay.opaque";

// Bytes in use by the tree below `dirfd` (st_blocks * 512), hard links once.
uint64_t disk_usage(int dirfd);

} // namespace corral::image
