#include "image/rootfs.hpp"

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "image/fsutil.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace corral::image {
namespace {

// The kernel's own words about a failed fsconfig/fsmount, read from the fs
// context ("e overlay: ..."), for the error message.
std::string fs_context_log(int fsfd) {
    std::string out;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(fsfd, buf, sizeof buf - 1);
        if (n <= 0) break;
        std::string line(buf, static_cast<size_t>(n));
        if (line.size() > 2 && line[1] == ' ') line = line.substr(2);
        out += (out.empty() ? "" : "; ") + line;
    }
    return out;
}

Status mount_overlay_legacy(const std::vector<std::string> &lowers, const std::string &upper, const std::string &work,
                            const std::string &target) {
    std::string data = "lowerdir=";
    for (size_t i = 0; i < lowers.size(); ++i) {
        if (lowers[i].find_first_of(":,\\") != std::string::npos)
            return Error("overlay lower directory `" + lowers[i] + "` has `:`, `,` or `\\` in its path", EINVAL);
        data += (i ? ":" : "") + lowers[i];
    }
    data += ",upperdir=" + upper + ",workdir=" + work + ",index=off";
    if (data.size() >= static_cast<size_t>(::getpagesize()))
        return Error("overlay mount options are longer than a page (" + std::to_string(lowers.size()) +
                         " layers): this kernel has no lowerdir+",
                     E2BIG);
    if (::mount("overlay", target.c_str(), "overlay", 0, data.c_str()) < 0)
        return Error::from_errno(errno, "mount overlay at", target);
    return ok();
}

bool is_whiteout(const struct stat &st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

bool is_opaque(int dirfd) {
    char v[2];
    ssize_t n = ::fgetxattr(dirfd, kOpaqueXattr, v, sizeof v);
    return n == 1 && v[0] == 'y';
}

Status copy_xattrs(int from, int to, const std::string &shown) {
    ssize_t len = ::flistxattr(from, nullptr, 0);
    if (len <= 0) return ok();
    std::string names(static_cast<size_t>(len), '\0');
    len = ::flistxattr(from, names.data(), names.size());
    if (len <= 0) return ok();
    names.resize(static_cast<size_t>(len));
    for (size_t i = 0; i < names.size();) {
        std::string name = names.c_str() + i;
        i += name.size() + 1;
        if (name.rfind("trusted.overlay.", 0) == 0) continue;
        ssize_t vlen = ::fgetxattr(from, name.c_str(), nullptr, 0);
        if (vlen < 0) continue;
        std::string value(static_cast<size_t>(vlen), '\0');
        vlen = ::fgetxattr(from, name.c_str(), value.data(), value.size());
        if (vlen < 0) continue;
        if (::fsetxattr(to, name.c_str(), value.data(), static_cast<size_t>(vlen), 0) < 0 && errno != ENOTSUP)
            return Error::from_errno(errno, "copy xattr " + name + " to", shown);
    }
    return ok();
}

// Owner, then mode (chown clears setuid), then xattrs (chown clears
// security.capability), then times.
Status copy_attrs(int from, int to, const struct stat &st, const std::string &shown, bool times = true) {
    if (::geteuid() == 0 && ::fchown(to, st.st_uid, st.st_gid) < 0) return Error::from_errno(errno, "chown", shown);
    if (::fchmod(to, st.st_mode & 07777) < 0) return Error::from_errno(errno, "chmod", shown);
    CORRAL_TRY(copy_xattrs(from, to, shown));
    if (times) {
        timespec ts[2] = {st.st_atim, st.st_mtim};
        if (::futimens(to, ts) < 0) return Error::from_errno(errno, "set times of", shown);
    }
    return ok();
}

Status copy_file_data(int from, int to, off_t size, const std::string &shown) {
    off_t pos = 0;
    while (pos < size) {
        off_t data = ::lseek(from, pos, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO) break; // only a hole is left
            data = pos;                // no SEEK_DATA: copy everything
        }
        off_t hole = ::lseek(from, data, SEEK_HOLE);
        if (hole < 0) hole = size;
        off_t in = data, out = data;
        while (in < hole) {
            ssize_t n = ::copy_file_range(from, &in, to, &out, static_cast<size_t>(hole - in), 0);
            if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
                char buf[1 << 16];
                ssize_t r = ::pread(from, buf, std::min<off_t>(sizeof buf, hole - in), in);
                if (r <= 0) return Error::from_errno(r < 0 ? errno : EIO, "read", shown);
                if (::pwrite(to, buf, static_cast<size_t>(r), out) != r) return Error::from_errno(errno, "write", shown);
                in += r, out += r;
                continue;
            }
            if (n < 0) {
                if (errno == EINTR) continue;
                return Error::from_errno(errno, "copy", shown);
            }
            if (n == 0) break;
        }
        pos = hole;
    }
    if (::ftruncate(to, size) < 0) return Error::from_errno(errno, "truncate", shown);
    return ok();
}

class Copier {
public:
    Copier(int target_root, const Logger &log) : target_root_(target_root), log_(log) {}
    Status merge(int src, int dst, const std::string &rel);
    void new_layer() { links_.clear(); }

private:
    Status copy_entry(int src, int dst, const std::string &name, const struct stat &st, const std::string &rel);
    int target_root_;
    const Logger &log_;
    std::map<std::pair<dev_t, ino_t>, std::string> links_; // first copy of a hard-linked file in this layer
};

Status Copier::copy_entry(int src, int dst, const std::string &name, const struct stat &st, const std::string &rel) {
    const char *n = name.c_str();
    if (st.st_nlink > 1 && !S_ISDIR(st.st_mode)) {
        auto it = links_.find({st.st_dev, st.st_ino});
        if (it != links_.end()) {
            auto [tp, tb] = split_parent(it->second);
            auto tfd = open_beneath(target_root_, tp, O_PATH | O_DIRECTORY);
            if (tfd && ::linkat(tfd->get(), tb.c_str(), dst, n, 0) == 0) return ok();
            // The first copy is gone (replaced in this layer): copy again.
        }
        links_[{st.st_dev, st.st_ino}] = rel;
    }
    switch (st.st_mode & S_IFMT) {
    case S_IFREG: {
        int in = ::openat(src, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0) return Error::from_errno(errno, "open", rel);
        UniqueFd from(in);
        int out = ::openat(dst, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0) return Error::from_errno(errno, "create", rel);
        UniqueFd to(out);
        CORRAL_TRY(copy_file_data(from.get(), to.get(), st.st_size, rel));
        return copy_attrs(from.get(), to.get(), st, rel);
    }
    case S_IFLNK: {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t len = ::readlinkat(src, n, target.data(), target.size());
        if (len < 0) return Error::from_errno(errno, "readlink", rel);
        target.resize(static_cast<size_t>(len));
        if (::symlinkat(target.c_str(), dst, n) < 0) return Error::from_errno(errno, "symlink", rel);
        if (::geteuid() == 0 && ::fchownat(dst, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
            return Error::from_errno(errno, "chown", rel);
        timespec ts[2] = {st.st_atim, st.st_mtim};
        if (::utimensat(dst, n, ts, AT_SYMLINK_NOFOLLOW) < 0) return Error::from_errno(errno, "set times of", rel);
        return ok();
    }
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO: {
        if (::mknodat(dst, n, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0) {
            if (errno == EPERM) {
                log_.warn("copy `" + rel + "`: device node not made (needs root)");
                return ok();
            }
            return Error::from_errno(errno, "mknod", rel);
        }
        if (::geteuid() == 0 && ::fchownat(dst, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
            return Error::from_errno(errno, "chown", rel);
        if (::fchmodat(dst, n, st.st_mode & 07777, 0) < 0) return Error::from_errno(errno, "chmod", rel);
        timespec ts[2] = {st.st_atim, st.st_mtim};
        if (::utimensat(dst, n, ts, AT_SYMLINK_NOFOLLOW) < 0) return Error::from_errno(errno, "set times of", rel);
        return ok();
    }
    default:
        return ok(); // sockets
    }
}

Status Copier::merge(int src, int dst, const std::string &rel) {
    int dup = ::fcntl(src, F_DUPFD_CLOEXEC, 3);
    DIR *d = dup < 0 ? nullptr : ::fdopendir(dup);
    if (!d) {
        if (dup >= 0) ::close(dup);
        return Error::from_errno(errno, "open directory", rel);
    }
    std::vector<std::string> names;
    while (dirent *e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    for (const auto &name : names) {
        std::string sub = rel.empty() ? name : rel + "/" + name;
        struct stat st {};
        if (::fstatat(src, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return Error::from_errno(errno, "stat", sub);
        struct stat have {};
        bool exists = ::fstatat(dst, name.c_str(), &have, AT_SYMLINK_NOFOLLOW) == 0;
        if (is_whiteout(st)) {
            if (exists) CORRAL_TRY(remove_tree_at(dst, name, sub));
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            int sfd = ::openat(src, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sfd < 0) return Error::from_errno(errno, "open", sub);
            UniqueFd from(sfd);
            if (exists && !S_ISDIR(have.st_mode)) {
                CORRAL_TRY(remove_tree_at(dst, name, sub));
                exists = false;
            }
            if (!exists && ::mkdirat(dst, name.c_str(), 0700) < 0) return Error::from_errno(errno, "mkdir", sub);
            int dfd = ::openat(dst, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (dfd < 0) return Error::from_errno(errno, "open", sub);
            UniqueFd to(dfd);
            if (exists && is_opaque(from.get())) CORRAL_TRY(clear_dir(to.get(), sub));
            CORRAL_TRY(copy_attrs(from.get(), to.get(), st, sub, false));
            CORRAL_TRY(merge(from.get(), to.get(), sub));
            timespec ts[2] = {st.st_atim, st.st_mtim};
            if (::futimens(to.get(), ts) < 0) return Error::from_errno(errno, "set times of", sub);
            continue;
        }
        if (exists) CORRAL_TRY(remove_tree_at(dst, name, sub));
        CORRAL_TRY(copy_entry(src, dst, name, st, sub));
    }
    return ok();
}

} // namespace

bool overlay_unavailable(int err) {
    return err == ENODEV || err == EPERM || err == EINVAL || err == ENOTSUP || err == ENOSYS || err == EACCES;
}

// A layer whose root is opaque (`.wh..wh..opq` at the top of its tar) hides
// every layer below it. overlayfs reads that mark on directories inside a
// layer, never on a layer's root, so the layers below are left out instead
// (and the copy starts over there).
Result<bool> root_is_opaque(const std::string &layer) {
    UniqueFd fd = CORRAL_TRY(open_file(layer, O_RDONLY | O_DIRECTORY));
    return is_opaque(fd.get());
}

Status mount_overlay(const std::vector<std::string> &layers, const std::string &upper, const std::string &work,
                     const std::string &target) {
    // An image may list one layer twice (docker's empty layer, made again by
    // every build step that changed nothing, is the common case). overlayfs
    // refuses a directory that is two of its layers (ELOOP: overlapping
    // layers), and only the topmost copy matters: whatever the lower copy
    // adds, replaces or hides (whiteouts, opaque directories), the upper copy
    // adds, replaces or hides again above every layer the lower one covers.
    // So the lower copies are dropped.
    std::vector<std::string> lowers;
    for (const auto &l : layers) {
        if (std::find(lowers.begin(), lowers.end(), l) != lowers.end()) continue;
        lowers.push_back(l);
        if (CORRAL_TRY(root_is_opaque(l))) break;
    }
    int fsfd = ::fsopen("overlay", FSOPEN_CLOEXEC);
    if (fsfd < 0) {
        if (errno == ENOSYS) return mount_overlay_legacy(lowers, upper, work, target);
        return Error::from_errno(errno, "overlayfs");
    }
    UniqueFd fs(fsfd);
    auto set = [&](const char *key, const std::string &value) -> Status {
        if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0) < 0) {
            int e = errno;
            std::string why = fs_context_log(fs.get());
            return Error("overlay option " + std::string(key) + "=" + value + ": " + std::strerror(e) +
                             (why.empty() ? "" : " (" + why + ")"),
                         e);
        }
        return ok();
    };
    // lowerdir+ (Linux 6.8) takes one layer at a time: no page-size limit
    // on the whole list. Older kernels: one mount(2) option string.
    for (size_t i = 0; i < lowers.size(); ++i) {
        auto st = set("lowerdir+", lowers[i]);
        if (!st) {
            if (i == 0 && st.error().err() == EINVAL) return mount_overlay_legacy(lowers, upper, work, target);
            return st;
        }
    }
    CORRAL_TRY(set("upperdir", upper));
    CORRAL_TRY(set("workdir", work));
    CORRAL_TRY(set("index", "off"));
    if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) {
        int e = errno;
        std::string why = fs_context_log(fs.get());
        return Error("create overlay for `" + target + "`: " + std::strerror(e) + (why.empty() ? "" : " (" + why + ")"), e);
    }
    int mfd = ::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0);
    if (mfd < 0) return Error::from_errno(errno, "fsmount overlay for", target);
    UniqueFd mnt(mfd);
    if (::move_mount(mnt.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return Error::from_errno(errno, "mount overlay at", target);
    return ok();
}

Status copy_layers(const std::vector<std::string> &lowers, const std::string &target, const Logger &log) {
    UniqueFd dst = CORRAL_TRY(open_file(target, O_RDONLY | O_DIRECTORY));
    Copier copier(dst.get(), log);
    for (const auto &layer : lowers) {
        UniqueFd src = CORRAL_TRY(open_file(layer, O_RDONLY | O_DIRECTORY));
        if (is_opaque(src.get())) CORRAL_TRY_CTX(clear_dir(dst.get(), target), "copy layer " + layer);
        copier.new_layer();
        CORRAL_TRY_CTX(copier.merge(src.get(), dst.get(), ""), "copy layer " + layer);
    }
    // The root's attributes: the top layer's, as overlay shows its upper's.
    if (!lowers.empty()) CORRAL_TRY(copy_dir_attrs(lowers.back(), target));
    return ok();
}

Status copy_dir_attrs(const std::string &from, const std::string &to) {
    UniqueFd a = CORRAL_TRY(open_file(from, O_RDONLY | O_DIRECTORY));
    UniqueFd b = CORRAL_TRY(open_file(to, O_RDONLY | O_DIRECTORY));
    struct stat st {};
    if (::fstat(a.get(), &st) < 0) return Error::from_errno(errno, "stat", from);
    if (::geteuid() == 0 && ::fchown(b.get(), st.st_uid, st.st_gid) < 0) return Error::from_errno(errno, "chown", to);
    if (::fchmod(b.get(), st.st_mode & 07777) < 0) return Error::from_errno(errno, "chmod", to);
    timespec ts[2] = {st.st_atim, st.st_mtim};
    if (::futimens(b.get(), ts) < 0) return Error::from_errno(errno, "set times of", to);
    return ok();
}

Status inherit_implicit_dirs(int layer_fd, const std::vector<std::string> &implicit,
                             const std::vector<std::string> &lowers) {
    if (implicit.empty() || lowers.empty()) return ok();
    std::vector<UniqueFd> lower_fds;
    for (const auto &l : lowers) lower_fds.push_back(CORRAL_TRY(open_file(l, O_RDONLY | O_DIRECTORY)));
    for (const auto &path : implicit) {
        auto mine = open_beneath(layer_fd, path, O_RDONLY | O_DIRECTORY);
        if (!mine) continue; // replaced by a later entry
        for (const auto &lfd : lower_fds) {
            auto theirs = open_beneath(lfd.get(), path, O_RDONLY | O_DIRECTORY);
            if (theirs) {
                struct stat st {};
                if (::fstat(theirs->get(), &st) < 0) return Error::from_errno(errno, "stat", path);
                CORRAL_TRY(copy_attrs(theirs->get(), mine->get(), st, path));
                break;
            }
            if (theirs.error().err() != ENOENT) break; // something else is there: it is hidden
            // A whiteout of it in this lower layer hides the layers below too.
            auto [p, b] = split_parent(path);
            auto pfd = open_beneath(lfd.get(), p, O_PATH | O_DIRECTORY);
            struct stat wst {};
            if (pfd && ::fstatat(pfd->get(), b.c_str(), &wst, AT_SYMLINK_NOFOLLOW) == 0 && is_whiteout(wst)) break;
        }
    }
    return ok();
}

} // namespace corral::image
