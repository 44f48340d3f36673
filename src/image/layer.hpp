// layer.hpp — unpacking one layer blob into an empty directory.
//
// The blob streams once: read (hashed: the blob digest) → decompressed by
// libarchive (gzip, zstd or none; hashed: the diff_id) → tar entries written
// below the directory. Both digests and the size are checked at the end; the
// caller unpacks into a temporary directory and throws it away on any error.
//
// The directory gets the layer in overlayfs's format, so that it can be a
// lowerdir as is: a whiteout `.wh.NAME` becomes a 0/0 character device NAME,
// an opaque marker `.wh..wh..opq` the xattr trusted.overlay.opaque=y on its
// directory.
//
// Names are relative to the directory whatever their spelling: `/`, `./`
// and `.` are its root, `/etc/x`, `./etc/x` and `etc/x` the same file.
//
// Safety (hostile layers): a name with a `..` component is rejected; every
// parent is opened beneath the directory without following any symlink (a
// symlink in the way is an error, never a way out); a file is always created
// fresh (O_CREAT|O_EXCL|O_NOFOLLOW), never written through an existing name;
// a hard link must name a file earlier in the same layer; xattrs that steer
// overlayfs (trusted.overlay.*) are dropped.
#pragma once

#include "common/fd.hpp"
#include "corral/error.hpp"
#include "corral/log.hpp"
#include "image/source.hpp"

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace corral::image {

struct ApplyLimits {
    uint64_t max_size = 0;                   // 0: none; counts file sizes over all layers of the image
    std::atomic<uint64_t> *size_used = nullptr; // shared by the layers of one unpack
    uint64_t min_free = 0;                   // keep this much free on the filesystem of `free_fd`
    int free_fd = -1;
};

struct LayerStats {
    uint64_t entries = 0;
    uint64_t files = 0;
    uint64_t apparent_bytes = 0;   // sum of regular file sizes
    uint64_t written_bytes = 0;    // data actually written (zero blocks become holes)
    uint64_t skipped_devices = 0;  // device nodes not made (not root)
    std::vector<std::string> implicit_dirs; // parents the tar did not list, made 0755; "" (first): the root
};

struct LayerInput {
    BlobRange blob;
    std::string digest;   // of the blob; "" if unknown (docker-archive): then only the diff_id is checked
    uint64_t size = 0;    // of the blob
    std::string diff_id;
    std::string what;     // "layer 2 (sha256:...)" for messages
};

// Unpack `in` into the empty directory `root`. `on_bytes` gets the count of
// blob bytes read, as they are read.
Result<LayerStats> apply_layer(int root, const LayerInput &in, const ApplyLimits &limits, const Logger &log,
                               const std::function<void(uint64_t)> &on_bytes = {});

// Clean a tar entry name into a path below the layer's root: "./a//b/" and
// "/a/b" -> "a/b". `..` components are errors; the root itself ("/", "./",
// ".") is "".
Result<std::string> clean_entry_name(const char *raw);

} // namespace corral::image
