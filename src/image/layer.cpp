#include "image/layer.hpp"

#include "image/archive_ptr.hpp"
#include "image/fsutil.hpp"
#include "image/sha256.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <unordered_map>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace corral::image {
namespace {

constexpr size_t kReadChunk = 1 << 20;
constexpr uint64_t kFreeCheckEvery = 32ull << 20;
constexpr const char *kWhiteoutPrefix = ".wh.";
constexpr const char *kOpaqueMarker = ".wh..wh..opq";

std::string archive_message(archive *a) {
    const char *s = archive_error_string(a);
    return s ? s : "unknown archive error";
}

// --- the byte stream: blob -> (hash) -> decompress -> (hash) -> tar ----------

struct BlobReader {
    const BlobRange *blob = nullptr;
    uint64_t pos = 0;
    Sha256 hash;
    bool hashing = true;
    std::vector<char> buf = std::vector<char>(kReadChunk);
    const std::function<void(uint64_t)> *on_bytes = nullptr;
    std::string error;

    // Next chunk of the blob; 0 at its end, -1 on error.
    ssize_t next(const char **out) {
        if (pos >= blob->length) return 0;
        size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), blob->length - pos));
        ssize_t n;
        if (blob->stream) {
            auto got = blob->stream->read(buf.data(), want);
            if (!got) {
                error = got.error().message();
                return -1;
            }
            n = static_cast<ssize_t>(*got);
        } else {
            do n = ::pread(blob->fd->get(), buf.data(), want, static_cast<off_t>(blob->offset + pos));
            while (n < 0 && errno == EINTR);
            if (n < 0) {
                error = std::string("read: ") + std::strerror(errno);
                return -1;
            }
        }
        if (n == 0) {
            error = "truncated: the blob ends after " + std::to_string(pos) + " of " + std::to_string(blob->length) + " bytes";
            return -1;
        }
        if (hashing) hash.update(buf.data(), static_cast<size_t>(n));
        pos += static_cast<uint64_t>(n);
        if (on_bytes && *on_bytes) (*on_bytes)(static_cast<uint64_t>(n));
        *out = buf.data();
        return n;
    }
};

la_ssize_t blob_read_cb(archive *a, void *ud, const void **out) {
    auto *r = static_cast<BlobReader *>(ud);
    const char *p = nullptr;
    ssize_t n = r->next(&p);
    if (n < 0) {
        archive_set_error(a, EIO, "%s", r->error.c_str());
        return -1;
    }
    *out = p;
    return n;
}

struct TarFeed {
    archive *decompressor = nullptr;
    Sha256 hash;
    uint64_t bytes = 0;
    bool eof = false; // the decompressed stream has ended
    std::vector<char> buf = std::vector<char>(kReadChunk);
    std::string error;
};

la_ssize_t tar_read_cb(archive *a, void *ud, const void **out) {
    auto *f = static_cast<TarFeed *>(ud);
    la_ssize_t n = archive_read_data(f->decompressor, f->buf.data(), f->buf.size());
    if (n < 0) {
        f->error = archive_message(f->decompressor);
        archive_set_error(a, EIO, "%s", f->error.c_str());
        return -1;
    }
    if (n == 0) f->eof = true;
    f->hash.update(f->buf.data(), static_cast<size_t>(n));
    f->bytes += static_cast<uint64_t>(n);
    *out = f->buf.data();
    return n;
}

bool all_zero(const char *p, size_t n) {
    if (n == 0) return true;
    if (p[0] != 0) return false;
    return std::memcmp(p, p + 1, n - 1) == 0;
}

bool xattr_allowed(std::string_view name) {
    if (name.rfind("trusted.overlay.", 0) == 0) return false; // would steer overlayfs
    return name.rfind("user.", 0) == 0 || name.rfind("security.", 0) == 0 || name.rfind("trusted.", 0) == 0 ||
           name == "system.posix_acl_access" || name == "system.posix_acl_default";
}

// --- the writer: tar entries into the layer directory ------------------------

class LayerWriter {
public:
    LayerWriter(int root, const TarFeed &feed, const ApplyLimits &limits, const Logger &log, LayerStats &stats)
        : root_(root), feed_(feed), limits_(limits), log_(log), stats_(stats), is_root_(::geteuid() == 0) {}

    Status apply(archive *a, archive_entry *e);
    Status finish();
    // The tar stream ended right after the data of the last entry (see
    // write_data): there is nothing more to read.
    bool ended_unpadded() const { return ended_unpadded_; }

private:
    struct DirTime {
        std::string name;
        timespec times[2];
    };

    Result<int> parent_dir(const std::string &parent, const std::string &entry);
    // Drop the cached directory fds (a directory was removed: a path may
    // now name another one). They stay open until the next parent_dir():
    // the entry being applied may still use one.
    void forget_parent() {
        for (auto &[path, fd] : dirs_) retired_.push_back(std::move(fd));
        dirs_.clear();
    }
    // Remove what is at (dirfd, name) unless it is a directory and keep_dir.
    // Returns the type that was there (0: nothing).
    Result<mode_t> clear_name(int dirfd, const std::string &name, const std::string &entry, bool keep_dir,
                              dev_t *rdev = nullptr);
    Status set_owner_mode(int fd, archive_entry *e, const std::string &entry);
    Status set_xattrs_fd(int fd, archive_entry *e, const std::string &entry);
    Status write_data(int fd, archive *a, archive_entry *e, const std::string &entry);
    Status whiteout(const std::string &parent, const std::string &target, const std::string &entry);
    Status opaque(const std::string &parent, const std::string &entry);
    Status count_size(uint64_t size, const std::string &entry);
    Status check_free(const std::string &entry);
    static void entry_times(archive_entry *e, timespec ts[2]);

    int root_;
    const TarFeed &feed_;
    const ApplyLimits &limits_;
    const Logger &log_;
    LayerStats &stats_;
    bool is_root_;
    static constexpr size_t kMaxCachedDirs = 256; // fds; the soft RLIMIT_NOFILE is often 1024
    std::unordered_map<std::string, UniqueFd> dirs_; // open directories by path
    std::vector<UniqueFd> retired_;
    std::vector<DirTime> dir_times_;
    uint64_t written_since_check_ = 0;
    bool root_listed_ = false;
    bool ended_unpadded_ = false;
};

void LayerWriter::entry_times(archive_entry *e, timespec ts[2]) {
    ts[1].tv_sec = archive_entry_mtime(e);
    ts[1].tv_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_atime_is_set(e)) {
        ts[0].tv_sec = archive_entry_atime(e);
        ts[0].tv_nsec = archive_entry_atime_nsec(e);
    } else {
        ts[0] = ts[1];
    }
}

Result<int> LayerWriter::parent_dir(const std::string &parent, const std::string &entry) {
    retired_.clear(); // no entry is using them any more
    if (parent.empty()) return root_;
    if (auto it = dirs_.find(parent); it != dirs_.end()) return it->second.get();
    if (dirs_.size() >= kMaxCachedDirs) forget_parent();
    // Start from the deepest cached ancestor, then one component at a time
    // with O_NOFOLLOW, making missing ones: a symlink on the way (planted
    // by an earlier entry) stops the entry.
    int cur = root_;
    size_t start = 0;
    for (size_t cut = parent.rfind('/'); cut != std::string::npos && cut > 0; cut = parent.rfind('/', cut - 1)) {
        if (auto it = dirs_.find(parent.substr(0, cut)); it != dirs_.end()) {
            cur = it->second.get();
            start = cut + 1;
            break;
        }
    }
    while (start < parent.size()) {
        size_t j = parent.find('/', start);
        if (j == std::string::npos) j = parent.size();
        std::string part = parent.substr(start, j - start);
        std::string sofar = parent.substr(0, j);
        start = j + 1;
        int fd = ::openat(cur, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            if (::mkdirat(cur, part.c_str(), 0755) < 0 && errno != EEXIST)
                return Error::from_errno(errno, "entry `" + entry + "`: make parent directory", sofar);
            stats_.implicit_dirs.push_back(sofar);
            fd = ::openat(cur, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0) {
            int e = errno;
            struct stat st {};
            if ((e == ELOOP || e == ENOTDIR) && ::fstatat(cur, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
                if (S_ISLNK(st.st_mode))
                    return Error("entry `" + entry + "`: `" + sofar + "` is a symlink: refusing to write through it", ELOOP,
                                 sofar);
                return Error("entry `" + entry + "`: `" + sofar + "` is not a directory", ENOTDIR, sofar);
            }
            return Error::from_errno(e, "entry `" + entry + "`: open parent", sofar);
        }
        dirs_[sofar].reset(fd);
        cur = fd;
    }
    return cur;
}

Result<mode_t> LayerWriter::clear_name(int dirfd, const std::string &name, const std::string &entry, bool keep_dir,
                                       dev_t *rdev) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) return mode_t(0);
        return Error::from_errno(errno, "entry `" + entry + "`: stat", name);
    }
    if (rdev) *rdev = st.st_rdev;
    if (S_ISDIR(st.st_mode)) {
        if (keep_dir) return mode_t(S_IFDIR);
        forget_parent(); // the cached parent may lie inside
        CORRAL_TRY(remove_tree_at(dirfd, name, entry));
        return mode_t(S_IFDIR);
    }
    if (::unlinkat(dirfd, name.c_str(), 0) < 0) return Error::from_errno(errno, "entry `" + entry + "`: unlink", name);
    return mode_t(st.st_mode & S_IFMT);
}

Status LayerWriter::set_owner_mode(int fd, archive_entry *e, const std::string &entry) {
    // chown first: it clears setuid/setgid bits and file capabilities, which
    // the chmod and the xattrs that follow put back.
    if (is_root_ && ::fchown(fd, archive_entry_uid(e), archive_entry_gid(e)) < 0)
        return Error::from_errno(errno, "entry `" + entry + "`: chown");
    if (::fchmod(fd, archive_entry_perm(e) & 07777) < 0) return Error::from_errno(errno, "entry `" + entry + "`: chmod");
    return ok();
}

Status LayerWriter::set_xattrs_fd(int fd, archive_entry *e, const std::string &entry) {
    if (archive_entry_xattr_reset(e) == 0) return ok();
    const char *name;
    const void *value;
    size_t size;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        if (!xattr_allowed(name)) {
            log_.warn("entry `" + entry + "`: xattr " + name + " dropped");
            continue;
        }
        if (::fsetxattr(fd, name, value, size, 0) < 0) {
            if (errno == ENOTSUP || (errno == EPERM && !is_root_)) {
                log_.warn("entry `" + entry + "`: xattr " + name + " not kept: " + std::strerror(errno));
                continue;
            }
            return Error::from_errno(errno, "entry `" + entry + "`: set xattr " + std::string(name));
        }
    }
    return ok();
}

Status LayerWriter::count_size(uint64_t size, const std::string &entry) {
    stats_.apparent_bytes += size;
    if (!limits_.size_used) return ok();
    uint64_t total = limits_.size_used->fetch_add(size) + size;
    if (limits_.max_size && total > limits_.max_size)
        return Error("entry `" + entry + "`: the image unpacks to more than the limit of " +
                         std::to_string(limits_.max_size) + " bytes (--max-size)",
                     EFBIG);
    return ok();
}

Status LayerWriter::check_free(const std::string &entry) {
    if (limits_.free_fd < 0 || limits_.min_free == 0) return ok();
    struct statvfs vfs {};
    if (::fstatvfs(limits_.free_fd, &vfs) < 0) return ok();
    uint64_t avail = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    if (avail < limits_.min_free)
        return Error("entry `" + entry + "`: the store's filesystem is down to " + std::to_string(avail >> 20) +
                         " MiB free, below the reserve of " + std::to_string(limits_.min_free >> 20) + " MiB (--min-free)",
                     ENOSPC);
    return ok();
}

// File data: blocks of zeros are skipped (left as holes), so neither a
// sparse entry nor a run of zeros takes disk space.
Status LayerWriter::write_data(int fd, archive *a, archive_entry *e, const std::string &entry) {
    constexpr size_t kBlock = 4096;
    const void *buf;
    size_t size;
    la_int64_t offset;
    uint64_t received = 0; // end of the data seen so far
    const uint64_t declared = static_cast<uint64_t>(archive_entry_size(e));
    for (;;) {
        int r = archive_read_data_block(a, &buf, &size, &offset);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) {
            // umoci 0.4.7's `insert` ends a layer right after the last
            // file's data: no padding to the 512-byte block, no end-of-archive
            // blocks. Go's tar reader (umoci, containerd, podman) takes such
            // a layer; libarchive calls it truncated while skipping the
            // padding. Accept exactly that case: the entry's data is all
            // there and the stream ended mid-block. Nothing of the content
            // is missing, and the digests cover every byte there is.
            if (feed_.eof && received == declared && feed_.bytes % 512 != 0) {
                log_.debug("entry `" + entry + "`: the layer ends after its data, without tar padding: accepted");
                ended_unpadded_ = true;
                break;
            }
            return Error("entry `" + entry + "`: " + archive_message(a), EIO);
        }
        received = std::max(received, static_cast<uint64_t>(offset) + size);
        const char *p = static_cast<const char *>(buf);
        size_t i = 0;
        while (i < size) {
            // A run of non-zero blocks, written at once.
            size_t start = i;
            while (i < size && !all_zero(p + i, std::min(kBlock, size - i))) i += std::min(kBlock, size - i);
            size_t len = i - start;
            const char *q = p + start;
            off_t at = static_cast<off_t>(offset) + static_cast<off_t>(start);
            while (len > 0) {
                ssize_t n = ::pwrite(fd, q, len, at);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    return Error::from_errno(errno, "entry `" + entry + "`: write");
                }
                q += n, at += n, len -= static_cast<size_t>(n);
                stats_.written_bytes += static_cast<uint64_t>(n);
                written_since_check_ += static_cast<uint64_t>(n);
            }
            while (i < size && all_zero(p + i, std::min(kBlock, size - i))) i += std::min(kBlock, size - i);
        }
        if (written_since_check_ >= kFreeCheckEvery) {
            written_since_check_ = 0;
            CORRAL_TRY(check_free(entry));
        }
    }
    if (::ftruncate(fd, static_cast<off_t>(archive_entry_size(e))) < 0)
        return Error::from_errno(errno, "entry `" + entry + "`: truncate");
    return ok();
}

Status LayerWriter::whiteout(const std::string &parent, const std::string &target, const std::string &entry) {
    if (target.empty() || target == "." || target == ".." || target.find('/') != std::string::npos)
        return Error("entry `" + entry + "`: a whiteout of `" + target + "`", EINVAL);
    int pfd = CORRAL_TRY(parent_dir(parent, entry));
    CORRAL_TRY(clear_name(pfd, target, entry, false));
    if (::mknodat(pfd, target.c_str(), S_IFCHR | 0, makedev(0, 0)) < 0) {
        if (errno == EPERM) return Error("entry `" + entry + "`: a whiteout needs root (a 0/0 character device)", EPERM);
        return Error::from_errno(errno, "entry `" + entry + "`: make whiteout");
    }
    return ok();
}

Status LayerWriter::opaque(const std::string &parent, const std::string &entry) {
    int pfd = CORRAL_TRY(parent_dir(parent, entry));
    if (::fsetxattr(pfd, kOpaqueXattr, "y", 1, 0) < 0)
        return Error::from_errno(errno, "entry `" + entry + "`: mark directory opaque");
    return ok();
}

Status LayerWriter::apply(archive *a, archive_entry *e) {
    // Names are bytes; a name the C locale cannot convert is taken as UTF-8.
    const char *raw = archive_entry_pathname(e);
    if (!raw) raw = archive_entry_pathname_utf8(e);
    std::string name = CORRAL_TRY(clean_entry_name(raw));
    ++stats_.entries;
    auto [parent, base] = split_parent(name);
    const std::string &entry = name;

    if (base.rfind(kWhiteoutPrefix, 0) == 0) {
        if (base == kOpaqueMarker) return opaque(parent, entry);
        if (base.rfind(".wh..wh.", 0) == 0) return ok(); // aufs bookkeeping (.wh..wh.plnk): not content
        return whiteout(parent, base.substr(std::strlen(kWhiteoutPrefix)), entry);
    }

    mode_t type = archive_entry_filetype(e);
    const char *hardlink = archive_entry_hardlink(e);
    if (!hardlink && archive_entry_hardlink_utf8(e)) hardlink = archive_entry_hardlink_utf8(e);
    timespec ts[2];
    entry_times(e, ts);

    // The root entry (`/`, `./`, `.`) sets the root directory's owner, mode,
    // xattrs and times, as containerd and umoci apply it: the merged rootfs
    // takes its root's attributes from the top layer (see
    // inherit_implicit_dirs for a layer without one), so skipping it would
    // turn an image's 0700 or user-owned root into our 0755 root.
    if (name.empty()) {
        if (hardlink || type != AE_IFDIR) return Error("entry `" + std::string(raw) + "`: the root must be a directory", EINVAL);
        UniqueFd fd(::fcntl(root_, F_DUPFD_CLOEXEC, 3));
        CORRAL_TRY(set_owner_mode(fd.get(), e, "/"));
        CORRAL_TRY(set_xattrs_fd(fd.get(), e, "/"));
        dir_times_.push_back({"", {ts[0], ts[1]}});
        root_listed_ = true;
        return ok();
    }

    int pfd = CORRAL_TRY(parent_dir(parent, entry));

    if (hardlink) {
        std::string target = CORRAL_TRY_CTX(clean_entry_name(hardlink), "entry `" + entry + "`: hard link target");
        if (target == name) return ok();
        auto [tparent, tbase] = split_parent(target);
        auto tfd = open_beneath(root_, tparent, O_PATH | O_DIRECTORY);
        struct stat st {};
        if (!tfd || ::fstatat(tfd->get(), tbase.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
            return Error("entry `" + entry + "`: hard link to `" + target + "`, which is not in this layer", ENOENT);
        if (S_ISDIR(st.st_mode)) return Error("entry `" + entry + "`: hard link to the directory `" + target + "`", EPERM);
        CORRAL_TRY(clear_name(pfd, base, entry, false));
        if (::linkat(tfd->get(), tbase.c_str(), pfd, base.c_str(), 0) < 0)
            return Error::from_errno(errno, "entry `" + entry + "`: hard link to `" + target + "`");
        return ok();
    }

    switch (type) {
    case AE_IFDIR: {
        dev_t rdev = 0;
        mode_t was = CORRAL_TRY(clear_name(pfd, base, entry, true, &rdev));
        // A directory over a whiteout (".wh.d" then "d/" in one layer): the
        // lower `d` stays hidden, so the new one is opaque.
        bool over_whiteout = was == S_IFCHR && rdev == makedev(0, 0);
        if (was != S_IFDIR && ::mkdirat(pfd, base.c_str(), 0700) < 0)
            return Error::from_errno(errno, "entry `" + entry + "`: mkdir");
        int fd = ::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return Error::from_errno(errno, "entry `" + entry + "`: open");
        UniqueFd dir(fd);
        CORRAL_TRY(set_owner_mode(dir.get(), e, entry));
        CORRAL_TRY(set_xattrs_fd(dir.get(), e, entry));
        if (over_whiteout && ::fsetxattr(dir.get(), kOpaqueXattr, "y", 1, 0) < 0)
            return Error::from_errno(errno, "entry `" + entry + "`: mark directory opaque");
        auto &implicit = stats_.implicit_dirs;
        implicit.erase(std::remove(implicit.begin(), implicit.end(), name), implicit.end());
        dir_times_.push_back({name, {ts[0], ts[1]}});
        if (dirs_.size() < kMaxCachedDirs) dirs_[name] = std::move(dir); // its children come next
        return ok();
    }
    case AE_IFREG: {
        CORRAL_TRY(clear_name(pfd, base, entry, false));
        CORRAL_TRY(count_size(static_cast<uint64_t>(archive_entry_size(e)), entry));
        int fd = ::openat(pfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) return Error::from_errno(errno, "entry `" + entry + "`: create");
        UniqueFd file(fd);
        ++stats_.files;
        CORRAL_TRY(write_data(file.get(), a, e, entry));
        CORRAL_TRY(set_owner_mode(file.get(), e, entry));
        CORRAL_TRY(set_xattrs_fd(file.get(), e, entry));
        if (::futimens(file.get(), ts) < 0) return Error::from_errno(errno, "entry `" + entry + "`: set times");
        return ok();
    }
    case AE_IFLNK: {
        const char *target = archive_entry_symlink(e);
        if (!target) target = archive_entry_symlink_utf8(e);
        if (!target) return Error("entry `" + entry + "`: symlink without a target", EINVAL);
        CORRAL_TRY(clear_name(pfd, base, entry, false));
        if (::symlinkat(target, pfd, base.c_str()) < 0) return Error::from_errno(errno, "entry `" + entry + "`: symlink");
        if (is_root_ && ::fchownat(pfd, base.c_str(), archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
            return Error::from_errno(errno, "entry `" + entry + "`: chown");
        if (archive_entry_xattr_count(e) > 0) {
            // No fd for a symlink itself: its xattrs through the parent fd.
            std::string via = "/proc/self/fd/" + std::to_string(pfd) + "/" + base;
            const char *xn;
            const void *xv;
            size_t xs;
            archive_entry_xattr_reset(e);
            while (archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK)
                if (xattr_allowed(xn) && ::lsetxattr(via.c_str(), xn, xv, xs, 0) < 0 && errno != EPERM && errno != ENOTSUP)
                    return Error::from_errno(errno, "entry `" + entry + "`: set xattr " + std::string(xn));
        }
        if (::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW) < 0)
            return Error::from_errno(errno, "entry `" + entry + "`: set times");
        return ok();
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
        if (type != AE_IFIFO && !is_root_) {
            ++stats_.skipped_devices;
            log_.warn("entry `" + entry + "`: device node not made (needs root)");
            return ok();
        }
        CORRAL_TRY(clear_name(pfd, base, entry, false));
        dev_t dev = type == AE_IFIFO ? 0 : archive_entry_rdev(e);
        if (::mknodat(pfd, base.c_str(), type | 0600, dev) < 0) return Error::from_errno(errno, "entry `" + entry + "`: mknod");
        int fd = ::openat(pfd, base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return Error::from_errno(errno, "entry `" + entry + "`: open");
        UniqueFd node(fd);
        if (is_root_ && ::fchownat(node.get(), "", archive_entry_uid(e), archive_entry_gid(e), AT_EMPTY_PATH) < 0)
            return Error::from_errno(errno, "entry `" + entry + "`: chown");
        if (::fchmodat(pfd, base.c_str(), archive_entry_perm(e) & 07777, 0) < 0)
            return Error::from_errno(errno, "entry `" + entry + "`: chmod");
        if (::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW) < 0)
            return Error::from_errno(errno, "entry `" + entry + "`: set times");
        return ok();
    }
    case AE_IFSOCK:
        log_.warn("entry `" + entry + "`: socket skipped");
        return ok();
    default:
        return Error("entry `" + entry + "`: unknown file type " + std::to_string(type), EINVAL);
    }
}

// Directory times last: every entry written below a directory changed its
// mtime. Deepest first does not matter (a child's utimes does not touch
// its parent), but the last entry for a name wins.
Status LayerWriter::finish() {
    forget_parent();
    // A layer without a root entry (buildah, docker and GNU tar of a list of
    // names write none) leaves the root as it was: its attributes come from
    // the layers below, like any other parent the tar did not list.
    if (!root_listed_) stats_.implicit_dirs.insert(stats_.implicit_dirs.begin(), "");
    for (const auto &d : dir_times_) {
        auto fd = open_beneath(root_, d.name, O_RDONLY | O_DIRECTORY);
        if (!fd) continue; // removed by a later entry
        if (::futimens(fd->get(), d.times) < 0) return Error::from_errno(errno, "set times of directory", d.name);
    }
    return check_free("(end of layer)");
}

} // namespace

// Leading slashes are dropped, not refused: a layer is a tree relative to
// the root it is unpacked into, and tools write the same name in different
// spellings (umoci `/` and `/bin/sh`, GNU tar `./` and `./bin/sh`, buildah
// and docker `bin/sh`); GNU tar and containerd read them all as relative to
// the root. That is safe here because every name is resolved beneath the
// layer's directory fd, never from `/`.
//
// `..` stays an error rather than being resolved lexically (containerd's
// way): no tool writes it, GNU tar refuses it too, and one flat rule ("no
// component climbs") is easier to trust than a resolution that must agree
// with how the kernel walks the same path later.
Result<std::string> clean_entry_name(const char *raw) {
    if (!raw || !*raw) return Error("an entry without a name", EINVAL);
    std::string_view s = raw;
    std::string out;
    size_t i = 0;
    while (i <= s.size()) {
        size_t j = s.find('/', i);
        if (j == std::string_view::npos) j = s.size();
        std::string_view part = s.substr(i, j - i);
        i = j + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..") return Error("entry `" + std::string(s) + "`: `..` in the path", EINVAL);
        if (!out.empty()) out += '/';
        out += part;
    }
    if (out.size() >= 4096) return Error("entry `" + out.substr(0, 64) + "...`: name too long", ENAMETOOLONG);
    return out;
}

Result<LayerStats> apply_layer(int root, const LayerInput &in, const ApplyLimits &limits, const Logger &log,
                               const std::function<void(uint64_t)> &on_bytes) {
    auto fail = [&](std::string msg, int err) { return Error(in.what + ": " + msg, err); };
    if (in.blob.length != in.size)
        return fail("size mismatch: the descriptor says " + std::to_string(in.size) + " bytes, the blob has " +
                        std::to_string(in.blob.length),
                    EINVAL);

    BlobReader reader;
    reader.blob = &in.blob;
    // An uncompressed layer's digest is its diff_id: hash it once.
    const bool same_hash = !in.digest.empty() && in.digest == in.diff_id;
    reader.hashing = !in.digest.empty() && !same_hash;
    reader.on_bytes = &on_bytes;

    ArchivePtr decomp(archive_read_new());
    archive_read_support_filter_gzip(decomp.get());
    archive_read_support_filter_zstd(decomp.get());
    archive_read_support_format_raw(decomp.get());
    if (archive_read_open2(decomp.get(), &reader, nullptr, blob_read_cb, nullptr, nullptr) != ARCHIVE_OK)
        return fail(archive_message(decomp.get()), EIO);
    archive_entry *raw_entry = nullptr;
    if (archive_read_next_header(decomp.get(), &raw_entry) != ARCHIVE_OK)
        return fail(archive_message(decomp.get()), EIO);

    TarFeed feed;
    feed.decompressor = decomp.get();
    ArchivePtr tar(archive_read_new());
    archive_read_support_format_tar(tar.get());
    if (archive_read_open2(tar.get(), &feed, nullptr, tar_read_cb, nullptr, nullptr) != ARCHIVE_OK)
        return fail("not a tar archive: " + archive_message(tar.get()), EINVAL);

    LayerStats stats;
    LayerWriter writer(root, feed, limits, log, stats);
    for (;;) {
        archive_entry *e = nullptr;
        int r = archive_read_next_header(tar.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) {
            if (!reader.error.empty()) return fail(reader.error, EIO);
            if (!feed.error.empty()) return fail(feed.error, EIO);
            return fail(archive_message(tar.get()), EIO);
        }
        auto st = writer.apply(tar.get(), e);
        if (!st) {
            if (!reader.error.empty()) return fail(reader.error, EIO);
            return std::move(st).error().context(in.what);
        }
        if (writer.ended_unpadded()) break; // libarchive's state is fatal now: no next header
    }
    CORRAL_TRY_CTX(writer.finish(), in.what);

    // The rest of the stream (tar padding after the end marker) counts for
    // both digests.
    const void *rest;
    for (;;) {
        la_ssize_t n = tar_read_cb(tar.get(), &feed, &rest);
        if (n < 0) return fail(feed.error, EIO);
        if (n == 0) break;
    }
    for (const char *p; reader.pos < in.blob.length;) {
        if (reader.next(&p) < 0) return fail(reader.error, EIO);
    }
    std::string diff = "sha256:" + feed.hash.hex();
    if (!in.digest.empty()) {
        std::string got = same_hash ? (feed.bytes == in.blob.length ? diff : std::string("(not a plain tar)"))
                                    : "sha256:" + reader.hash.hex();
        if (got != in.digest) return fail("digest mismatch: the blob hashes to " + got, EINVAL);
    }
    if (!in.diff_id.empty() && diff != in.diff_id)
        return fail("diff_id mismatch: the uncompressed layer hashes to " + diff + ", the image config says " + in.diff_id,
                    EINVAL);
    return stats;
}

} // namespace corral::image
