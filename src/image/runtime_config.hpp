// runtime_config.hpp — an image config turned into a bundle's config.json
// (image-spec conversion.md): the default spec, with process args =
// Entrypoint + Cmd, env = Env, cwd = WorkingDir, the user resolved against the
// image's own /etc/passwd and /etc/group, Labels and the conversion's
// annotations (exposed ports, stop signal, os, architecture...).
#pragma once

#include "corral/error.hpp"
#include "corral/log.hpp"
#include "image/source.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace corral::image {

struct UserIds {
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::vector<uint32_t> additional_gids; // groups of /etc/group listing the user
};

// "", "name", "uid", "uid:gid", "name:group", "uid:group", "name:gid".
// Names must exist in the given passwd/group text; numbers need not.
Result<UserIds> resolve_user(const std::string &user, const std::string &passwd, const std::string &group);

// The config.json text for a bundle of `img` whose rootfs is open at
// `rootfs_fd` (read for /etc/passwd and /etc/group, symlinks resolved
// inside it).
Result<std::string> runtime_config(const ResolvedImage &img, int rootfs_fd, const Logger &log);

} // namespace corral::image
