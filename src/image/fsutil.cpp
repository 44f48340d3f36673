#include "image/fsutil.hpp"

#include "common/fs.hpp"

#include <atomic>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <random>
#include <set>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace corral::image {
namespace {

std::atomic<int> g_have_openat2{-1}; // -1 unknown, 0 no, 1 yes

long sys_openat2(int dirfd, const char *path, open_how *how) {
    return ::syscall(SYS_openat2, dirfd, path, how, sizeof *how);
}

// The fallback: one component at a time, O_NOFOLLOW on each.
Result<UniqueFd> walk_nofollow(int root, const std::string &rel, int flags, mode_t mode) {
    UniqueFd cur(::fcntl(root, F_DUPFD_CLOEXEC, 3));
    if (!cur) return Error::from_errno(errno, "dup");
    size_t i = 0;
    while (i < rel.size()) {
        size_t j = rel.find('/', i);
        bool last = j == std::string::npos;
        if (last) j = rel.size();
        std::string part = rel.substr(i, j - i);
        i = j + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..") return Error::from_errno(EXDEV, "open", rel);
        int f = last ? (flags | O_NOFOLLOW) : (O_PATH | O_DIRECTORY | O_NOFOLLOW);
        int fd = ::openat(cur.get(), part.c_str(), f | O_CLOEXEC, mode);
        if (fd < 0) {
            int e = errno;
            // O_PATH|O_NOFOLLOW on a symlink opens the link itself: say ELOOP.
            if (e == ENOTDIR) {
                struct stat st {};
                if (::fstatat(cur.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) e = ELOOP;
            }
            return Error::from_errno(e, "open", rel);
        }
        cur.reset(fd);
    }
    if (rel.empty() || rel == ".") {
        int fd = ::openat(root, ".", flags | O_CLOEXEC, mode);
        if (fd < 0) return Error::from_errno(errno, "open", ".");
        cur.reset(fd);
    }
    return cur;
}

Result<UniqueFd> open_with(int root, const std::string &rel, int flags, mode_t mode, uint64_t resolve) {
    if (g_have_openat2.load(std::memory_order_relaxed) != 0) {
        open_how how{};
        how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
        how.mode = (flags & O_CREAT) ? mode : 0;
        how.resolve = resolve;
        long fd = sys_openat2(root, rel.empty() ? "." : rel.c_str(), &how);
        if (fd >= 0) {
            g_have_openat2.store(1, std::memory_order_relaxed);
            return UniqueFd(static_cast<int>(fd));
        }
        if (errno != ENOSYS) {
            if (errno == EAGAIN) return open_with(root, rel, flags, mode, resolve); // a rename raced: retry
            return Error::from_errno(errno, "open", rel);
        }
        g_have_openat2.store(0, std::memory_order_relaxed);
    }
    if (resolve & RESOLVE_NO_SYMLINKS) return walk_nofollow(root, rel, flags, mode);
    return Error::from_errno(ENOSYS, "open (the kernel has no openat2)", rel);
}

} // namespace

Result<UniqueFd> open_beneath(int root, const std::string &rel, int flags, mode_t mode) {
    return open_with(root, rel, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
}

Result<UniqueFd> open_in_root(int root, const std::string &rel, int flags) {
    return open_with(root, rel, flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
}

namespace {
Status remove_children(int fd, dev_t dev, const std::string &shown);

Status remove_entry(int dirfd, const char *name, dev_t dev, const std::string &shown) {
    struct stat st {};
    if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) return ok();
        return Error::from_errno(errno, "stat", shown);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (::unlinkat(dirfd, name, 0) < 0 && errno != ENOENT) return Error::from_errno(errno, "unlink", shown);
        return ok();
    }
    if (st.st_dev != dev) return Error::from_errno(EBUSY, "remove (a mount point)", shown);
    int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        // A directory we may not read (mode 0 as non-root): make it readable.
        if (errno == EACCES && ::fchmodat(dirfd, name, 0700, 0) == 0)
            fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return Error::from_errno(errno, "open", shown);
    }
    UniqueFd dir(fd);
    CORRAL_TRY(remove_children(dir.get(), dev, shown));
    if (::unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) return Error::from_errno(errno, "rmdir", shown);
    return ok();
}

Status remove_children(int fd, dev_t dev, const std::string &shown) {
    int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (dup < 0) return Error::from_errno(errno, "dup", shown);
    DIR *d = ::fdopendir(dup);
    if (!d) {
        ::close(dup);
        return Error::from_errno(errno, "opendir", shown);
    }
    std::vector<std::string> names;
    while (dirent *e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    Status result;
    for (const auto &n : names) {
        auto st = remove_entry(fd, n.c_str(), dev, shown + "/" + n);
        if (!st && result) result = std::move(st);
    }
    return result;
}
} // namespace

Status remove_tree_at(int dirfd, const std::string &name, const std::string &shown) {
    struct stat st {};
    if (::fstat(dirfd, &st) < 0) return Error::from_errno(errno, "stat", shown);
    return remove_entry(dirfd, name.c_str(), st.st_dev, shown);
}

Status clear_dir(int dirfd, const std::string &shown) {
    struct stat st {};
    if (::fstat(dirfd, &st) < 0) return Error::from_errno(errno, "stat", shown);
    return remove_children(dirfd, st.st_dev, shown);
}

std::string unique_name() {
    static std::atomic<unsigned> counter{0};
    static const unsigned seed = std::random_device{}();
    return std::to_string(::getpid()) + "-" + std::to_string(++counter) + "-" + std::to_string(seed % 100000);
}

std::pair<std::string, std::string> split_parent(const std::string &rel) {
    auto slash = rel.rfind('/');
    if (slash == std::string::npos) return {"", rel};
    return {rel.substr(0, slash), rel.substr(slash + 1)};
}

namespace {
uint64_t usage_of(int fd, std::set<std::pair<dev_t, ino_t>> &seen) {
    int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (dup < 0) return 0;
    DIR *d = ::fdopendir(dup);
    if (!d) {
        ::close(dup);
        return 0;
    }
    uint64_t total = 0;
    while (dirent *e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n == "." || n == "..") continue;
        struct stat st {};
        if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
        if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen.insert({st.st_dev, st.st_ino}).second) continue;
        total += static_cast<uint64_t>(st.st_blocks) * 512;
        if (S_ISDIR(st.st_mode)) {
            int sub = ::openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                total += usage_of(sub, seen);
                ::close(sub);
            }
        }
    }
    ::closedir(d);
    return total;
}
} // namespace

uint64_t disk_usage(int dirfd) {
    std::set<std::pair<dev_t, ino_t>> seen;
    return usage_of(dirfd, seen);
}

} // namespace corral::image
