// rootfs.hpp — a bundle's root filesystem from stored layers: an overlay
// mount (lowerdir chain, private upper and work directories), or, where
// overlayfs is unavailable, a copy that applies the layers' whiteouts and
// opaque directories as overlayfs would.
#pragma once

#include "corral/error.hpp"
#include "corral/log.hpp"

#include <string>
#include <vector>

namespace corral::image {

// Mount overlayfs at `target`. `lowers` top layer first; a layer listed
// again below its first occurrence is mounted once, at the top.
Status mount_overlay(const std::vector<std::string> &lowers, const std::string &upper, const std::string &work,
                     const std::string &target);

// errno values of a failed overlay mount that mean "overlayfs cannot be
// used here" (not built in, not permitted, upper filesystem unsuited).
bool overlay_unavailable(int err);

// Merge the layer trees `lowers` (bottom layer first) into the directory
// `target`: copies with ownership, modes, xattrs, times, hard links within a
// layer, holes; a whiteout removes, an opaque directory empties.
Status copy_layers(const std::vector<std::string> &lowers, const std::string &target, const Logger &log);

// Directories a layer's tar did not list (made 0755 root) take the
// attributes of the same directory in the layers below (`lowers` top
// first), as if the layer had been unpacked over them.
Status inherit_implicit_dirs(int layer_fd, const std::vector<std::string> &implicit,
                             const std::vector<std::string> &lowers);

// Copy mode, owner and times of the directory `from` to `to` (the upper
// directory takes the top layer's root attributes).
Status copy_dir_attrs(const std::string &from, const std::string &to);

} // namespace corral::image
