// archive_ptr.hpp — a libarchive reader owned by a unique_ptr.
#pragma once

#include <archive.h>

#include <memory>

namespace corral::image {

struct ArchiveCloser {
    void operator()(archive *a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveCloser>;

} // namespace corral::image
