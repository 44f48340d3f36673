// fs.hpp — small file helpers shared by every part of corral.
#pragma once

#include "common/fd.hpp"
#include "corral/error.hpp"

#include <string>
#include <string_view>
#include <sys/types.h>

namespace corral {

// Open with O_CLOEXEC always added.
Result<UniqueFd> open_file(const std::string &path, int flags, mode_t mode = 0);
Result<UniqueFd> open_at(int dirfd, const std::string &path, int flags, mode_t mode = 0);

Result<std::string> read_file(const std::string &path);
Result<std::string> read_fd(int fd);
// Write all bytes (retrying short writes and EINTR).
Status write_all(int fd, std::string_view data, const std::string &what);
// Open, write and close: for sysfs/procfs/cgroupfs knobs.
Status write_file(const std::string &path, std::string_view data);
// Write to a temp file of its own beside PATH (PATH.tmp-XXXXXX, mode applied),
// then rename it over PATH (no fsync): readers see old or new, never half.
Status write_file_atomic(const std::string &path, std::string_view data, mode_t mode = 0600);

// mkdir -p. Existing directories are fine.
Status mkdir_p(const std::string &path, mode_t mode = 0755);
// rm -rf of a directory tree that does not cross mount points.
Status remove_tree(const std::string &path);

bool path_exists(const std::string &path);
std::string path_join(std::string_view a, std::string_view b);
// Lexically clean an absolute path: collapse "//", ".", and ".." (never above "/").
std::string clean_path(std::string_view p);

} // namespace corral
