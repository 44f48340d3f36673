#include "common/fs.hpp"

#include <cerrno>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace corral {

Result<UniqueFd> open_file(const std::string &path, int flags, mode_t mode) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) return Error::from_errno(errno, "open", path);
    return UniqueFd(fd);
}

Result<UniqueFd> open_at(int dirfd, const std::string &path, int flags, mode_t mode) {
    int fd = ::openat(dirfd, path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) return Error::from_errno(errno, "open", path);
    return UniqueFd(fd);
}

Result<std::string> read_fd(int fd) {
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::from_errno(errno, "read");
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

Result<std::string> read_file(const std::string &path) {
    UniqueFd fd = CORRAL_TRY(open_file(path, O_RDONLY));
    auto r = read_fd(fd.get());
    if (!r) return Error::from_errno(r.error().err(), "read", path);
    return r;
}

Status write_all(int fd, std::string_view data, const std::string &what) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::from_errno(errno, "write", what);
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return ok();
}

Status write_file(const std::string &path, std::string_view data) {
    UniqueFd fd = CORRAL_TRY(open_file(path, O_WRONLY | O_TRUNC));
    // Kernel knobs take the whole value in one write and report errors there.
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) return Error::from_errno(errno, "write `" + std::string(data) + "` to", path);
    return ok();
}

Status write_file_atomic(const std::string &path, std::string_view data, mode_t mode) {
    // A temporary name of its own (mkostemp), so two writers of one path
    // never write into each other's file: the last rename wins whole.
    std::string tmp = path + ".tmp-XXXXXX";
    {
        UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
        if (!fd) return Error::from_errno(errno, "create", tmp);
        Status st = ::fchmod(fd.get(), mode) < 0 ? Error::from_errno(errno, "chmod", tmp) : ok();
        if (st) st = write_all(fd.get(), data, tmp);
        if (!st) {
            ::unlink(tmp.c_str());
            return st;
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return Error::from_errno(e, "rename", tmp);
    }
    return ok();
}

Status mkdir_p(const std::string &path, mode_t mode) {
    if (path.empty()) return ok();
    if (::mkdir(path.c_str(), mode) == 0) return ok();
    if (errno == EEXIST) {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return ok();
        return Error::from_errno(ENOTDIR, "mkdir", path);
    }
    if (errno != ENOENT) return Error::from_errno(errno, "mkdir", path);
    auto slash = path.find_last_of('/');
    if (slash != std::string::npos && slash > 0) CORRAL_TRY(mkdir_p(path.substr(0, slash), mode));
    if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST) return Error::from_errno(errno, "mkdir", path);
    return ok();
}

namespace {
Status remove_tree_at(int parent, const char *name, dev_t dev, const std::string &shown) {
    struct stat st {};
    if (::fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) return ok();
        return Error::from_errno(errno, "stat", shown);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (::unlinkat(parent, name, 0) < 0 && errno != ENOENT) return Error::from_errno(errno, "unlink", shown);
        return ok();
    }
    if (st.st_dev != dev) return Error::from_errno(EBUSY, "remove (a mount point)", shown);
    int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Error::from_errno(errno, "open", shown);
    DIR *d = ::fdopendir(fd);
    if (!d) {
        ::close(fd);
        return Error::from_errno(errno, "opendir", shown);
    }
    std::vector<std::string> names;
    while (dirent *e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    Status result;
    for (const auto &n : names) {
        auto st2 = remove_tree_at(dirfd(d), n.c_str(), dev, shown + "/" + n);
        if (!st2 && result) result = std::move(st2);
    }
    ::closedir(d);
    if (::unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT && result)
        return Error::from_errno(errno, "rmdir", shown);
    return result;
}
} // namespace

Status remove_tree(const std::string &path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0) {
        if (errno == ENOENT) return ok();
        return Error::from_errno(errno, "stat", path);
    }
    return remove_tree_at(AT_FDCWD, path.c_str(), st.st_dev, path);
}

bool path_exists(const std::string &path) { return ::access(path.c_str(), F_OK) == 0; }

std::string path_join(std::string_view a, std::string_view b) {
    std::string out(a);
    if (out.empty() || out.back() != '/') out += '/';
    while (!b.empty() && b.front() == '/') b.remove_prefix(1);
    out += b;
    return out;
}

std::string clean_path(std::string_view p) {
    std::vector<std::string_view> parts;
    size_t i = 0;
    while (i < p.size()) {
        size_t j = p.find('/', i);
        if (j == std::string_view::npos) j = p.size();
        std::string_view part = p.substr(i, j - i);
        if (part.empty() || part == ".") {
        } else if (part == "..") {
            if (!parts.empty()) parts.pop_back();
        } else {
            parts.push_back(part);
        }
        i = j + 1;
    }
    std::string out;
    for (auto part : parts) {
        out += '/';
        out += part;
    }
    return out.empty() ? "/" : out;
}

} // namespace corral
