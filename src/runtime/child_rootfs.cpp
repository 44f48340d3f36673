// child_rootfs.cpp — the container's root filesystem, built by its init
// process inside its new mount namespace. Async-signal-safe only.
//
// Every mount destination is resolved with openat2(RESOLVE_IN_ROOT) against
// the rootfs, so a symlink planted in the image (`/proc -> /etc`) can never
// point a mount outside it; the mount then targets the resolved fd through
// /proc/self/fd/N rather than the path, so nothing can swap the path between
// the check and the mount.
#include "runtime/child_rootfs.hpp"

#include "runtime/child_util.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace corral {
namespace {

constexpr size_t kPathMax = 4096;

int openat2_in_root(int rootfd, const char *path, int flags) {
    open_how how{};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    int fd;
    do fd = static_cast<int>(::syscall(SYS_openat2, rootfd, path, &how, sizeof how));
    while (fd < 0 && errno == EAGAIN);
    return fd;
}

// "/proc/self/fd/N" into buf.
const char *fd_path(int fd, char (&buf)[40]) {
    Msg m;
    m << "/proc/self/fd/" << fd;
    size_t i = 0;
    for (const char *s = m.c_str(); *s && i < sizeof buf - 1; ++s) buf[i++] = *s;
    buf[i] = 0;
    return buf;
}

unsigned long locked_flags(int fd) {
    struct statvfs sv {};
    if (::fstatvfs(fd, &sv) < 0) return 0;
    unsigned long f = 0;
    if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
    return f;
}

} // namespace

int open_in_root(int rootfd, const char *path, int flags) { return openat2_in_root(rootfd, path, flags); }

namespace {
int make_in_root_depth(int rootfd, const char *path, bool is_dir, mode_t mode, int depth);
}

int make_in_root(int rootfd, const char *path, bool is_dir, mode_t mode) {
    return make_in_root_depth(rootfd, path, is_dir, mode, 0);
}

namespace {

// A dangling symlink met while creating: what it points to is created
// instead, resolved inside the root (as runc's MkdirAllInRoot does).
int follow_dangling(int rootfd, int parent, const char *name, const char *prefix, size_t prefix_len,
                    const char *rest, bool is_dir, mode_t mode, int depth) {
    char target[kPathMax];
    ssize_t tl = ::readlinkat(parent, name, target, sizeof target - 1);
    if (tl < 0) return -1;
    target[tl] = 0;
    if (depth >= 40) {
        errno = ELOOP;
        return -1;
    }
    Msg next;
    if (target[0] != '/') {
        // Relative to the directory holding the link.
        size_t dir_len = prefix_len;
        while (dir_len > 0 && prefix[dir_len - 1] != '/') --dir_len;
        char dir[kPathMax];
        for (size_t i = 0; i < dir_len; ++i) dir[i] = prefix[i];
        dir[dir_len] = 0;
        next << dir;
    }
    next << target << "/" << rest;
    if (next.size() >= sizeof target - 1) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return make_in_root_depth(rootfd, next.c_str(), is_dir, mode, depth + 1);
}

int make_in_root_depth(int rootfd, const char *path, bool is_dir, mode_t mode, int depth) {
    int fd = openat2_in_root(rootfd, path, O_PATH);
    if (fd >= 0 || errno != ENOENT) return fd;
    // Walk the path one component at a time, creating what is missing. Each
    // prefix is re-resolved from the root, so a symlink met on the way is
    // followed inside the rootfs, never outside it.
    char prefix[kPathMax];
    size_t n = 0;
    int parent = openat2_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
    if (parent < 0) return -1;
    const char *p = path;
    while (*p) {
        while (*p == '/') ++p;
        if (!*p) break;
        const char *start = p;
        while (*p && *p != '/') ++p;
        size_t len = static_cast<size_t>(p - start);
        if (n + len + 2 >= sizeof prefix) {
            ::close(parent);
            errno = ENAMETOOLONG;
            return -1;
        }
        char name[256];
        if (len >= sizeof name) {
            ::close(parent);
            errno = ENAMETOOLONG;
            return -1;
        }
        for (size_t i = 0; i < len; ++i) name[i] = start[i];
        name[len] = 0;
        prefix[n++] = '/';
        for (size_t i = 0; i < len; ++i) prefix[n++] = start[i];
        prefix[n] = 0;
        bool last = true;
        for (const char *q = p; *q; ++q)
            if (*q != '/') { last = false; break; }
        int next = openat2_in_root(rootfd, prefix, O_PATH);
        if (next < 0 && errno == ENOENT) {
            // The name is one component: mkdirat/mknodat on it cannot leave
            // the parent, and neither follows a dangling symlink.
            int r = (!last || is_dir) ? ::mkdirat(parent, name, last ? mode : 0755)
                                      : ::mknodat(parent, name, S_IFREG | mode, 0);
            if (r < 0 && errno != EEXIST) {
                ::close(parent);
                return -1;
            }
            next = openat2_in_root(rootfd, prefix, O_PATH);
            if (next < 0 && errno == ENOENT) {
                int r2 = follow_dangling(rootfd, parent, name, prefix, n, p, is_dir, mode, depth);
                ::close(parent);
                return r2;
            }
        }
        ::close(parent);
        if (next < 0) return -1;
        parent = next;
    }
    return parent;
}

} // namespace

void mount_at_fd(const ChildPlan &plan, int fd, const char *source, const char *fstype,
                 unsigned long flags, const char *data, const char *shown) {
    char buf[40];
    if (::mount(source, fd_path(fd, buf), fstype, flags, data) < 0) {
        Msg m;
        m << "mount `" << (source && *source ? source : fstype ? fstype : "") << "` at `" << shown << "`";
        child_fail(plan, errno, m);
    }
}

// Bind mounts ignore every flag but MS_REC on the first call: read-only,
// nosuid and friends take a second, remounting call. Flags the kernel has
// locked on the source (in a user namespace) must be kept or it says EPERM.
void remount_bind(const ChildPlan &plan, int rootfd, const char *dest, unsigned long flags) {
    int fd = openat2_in_root(rootfd, dest, O_PATH);
    if (fd < 0) {
        Msg m;
        m << "reopen `" << dest << "` after mount";
        child_fail(plan, errno, m);
    }
    unsigned long f = MS_BIND | MS_REMOUNT | (flags & ~(MS_REC | MS_BIND | MS_REMOUNT)) | locked_flags(fd);
    mount_at_fd(plan, fd, nullptr, nullptr, f, nullptr, dest);
    ::close(fd);
}

void set_propagation(const ChildPlan &plan, int rootfd, const char *dest, unsigned long prop) {
    if (!prop) return;
    int fd = openat2_in_root(rootfd, dest, O_PATH);
    if (fd < 0) {
        Msg m;
        m << "reopen `" << dest << "` for propagation";
        child_fail(plan, errno, m);
    }
    mount_at_fd(plan, fd, nullptr, nullptr, prop, nullptr, dest);
    ::close(fd);
}

void set_recursive_attrs(const ChildPlan &plan, int rootfd, const MountPlan &m) {
    if (!m.attr_set && !m.attr_clr) return;
    int fd = openat2_in_root(rootfd, m.destination.c_str(), O_PATH);
    mount_attr attr{};
    attr.attr_set = m.attr_set;
    attr.attr_clr = m.attr_clr;
    if (fd < 0 || ::syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
        Msg msg;
        msg << "set recursive mount attributes on `" << m.destination << "`";
        child_fail(plan, errno, msg);
    }
    ::close(fd);
}

namespace {

void mount_cgroup_v1(const ChildPlan &plan, int rootfd, const MountPlan &m) {
    // A tmpfs holds one directory per hierarchy, as on the host.
    int fd = make_in_root(rootfd, m.destination.c_str(), true, 0755);
    if (fd < 0) {
        Msg msg;
        msg << "create mount point `" << m.destination << "`";
        child_fail(plan, errno, msg);
    }
    mount_at_fd(plan, fd, "tmpfs", "tmpfs", (m.flags & ~MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "mode=755", m.destination.c_str());
    ::close(fd);
    for (const auto &h : plan.cgroup_hierarchies) {
        Msg dest;
        dest << m.destination << "/" << h.name;
        int hfd = make_in_root(rootfd, dest.c_str(), true, 0755);
        if (hfd < 0) child_fail(plan, errno, Msg() << "create `" << dest.c_str() << "`");
        unsigned long f = (m.flags & ~MS_REC) | MS_NOSUID | MS_NODEV | MS_NOEXEC;
        if (plan.new_cgroup_ns) {
            // In a cgroup namespace a fresh mount shows only our subtree.
            mount_at_fd(plan, hfd, "cgroup", "cgroup", f, h.options.c_str(), dest.c_str());
        } else {
            mount_at_fd(plan, hfd, h.host_path.c_str(), nullptr, MS_BIND | MS_REC, nullptr, dest.c_str());
            if (m.flags & MS_RDONLY) remount_bind(plan, rootfd, dest.c_str(), f);
        }
        ::close(hfd);
        // "cpu,cpuacct" also answers to "cpu" and "cpuacct", as on the host.
        const char *s = h.name.c_str();
        bool combined = false;
        for (const char *q = s; *q; ++q) combined |= (*q == ',');
        if (combined) {
            int dirfd = openat2_in_root(rootfd, m.destination.c_str(), O_PATH | O_DIRECTORY);
            char part[64];
            size_t n = 0;
            for (const char *q = s;; ++q) {
                if (*q == ',' || *q == 0) {
                    part[n] = 0;
                    if (n) (void)::symlinkat(s, dirfd, part);
                    n = 0;
                    if (!*q) break;
                } else if (n < sizeof part - 1) {
                    part[n++] = *q;
                }
            }
            ::close(dirfd);
        }
    }
    if (m.flags & MS_RDONLY) remount_bind(plan, rootfd, m.destination.c_str(), MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
}

void mount_cgroup_v2(const ChildPlan &plan, int rootfd, const MountPlan &m) {
    int fd = make_in_root(rootfd, m.destination.c_str(), true, 0755);
    if (fd < 0) child_fail(plan, errno, Msg() << "create mount point `" << m.destination << "`");
    if (plan.new_cgroup_ns) {
        mount_at_fd(plan, fd, "cgroup2", "cgroup2", m.flags & ~MS_REC, nullptr, m.destination.c_str());
    } else {
        mount_at_fd(plan, fd, plan.cgroup_v2_host_path.c_str(), nullptr, MS_BIND | MS_REC, nullptr,
                    m.destination.c_str());
        remount_bind(plan, rootfd, m.destination.c_str(), m.flags);
    }
    ::close(fd);
}

} // namespace

namespace {

// Copy the tree at `src` into `dst` (both directory fds), keeping modes,
// owners and symlinks: "tmpcopyup" fills a new tmpfs with what it covers.
// No allocation: one getdents buffer per level on the stack, depth-limited.
void copy_tree(const ChildPlan &plan, int src, int dst, const char *shown, int depth) {
    if (depth > 32) child_fail(plan, ELOOP, Msg() << "tmpcopyup `" << shown << "`: too deep");
    char buf[4096];
    for (;;) {
        long n = ::syscall(SYS_getdents64, src, buf, sizeof buf);
        if (n < 0) child_fail(plan, errno, Msg() << "tmpcopyup: read directory under `" << shown << "`");
        if (n == 0) return;
        for (long off = 0; off < n;) {
            struct Dirent64 {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            };
            auto *d = reinterpret_cast<Dirent64 *>(buf + off);
            off += d->reclen;
            const char *name = d->name;
            if ((name[0] == '.' && name[1] == 0) || (name[0] == '.' && name[1] == '.' && name[2] == 0)) continue;
            struct stat st {};
            if (::fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                child_fail(plan, errno, Msg() << "tmpcopyup: stat `" << shown << "/" << name << "`");
            mode_t perm = st.st_mode & 07777;
            if (S_ISDIR(st.st_mode)) {
                if (::mkdirat(dst, name, perm) < 0 && errno != EEXIST)
                    child_fail(plan, errno, Msg() << "tmpcopyup: mkdir `" << shown << "/" << name << "`");
                int s2 = ::openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int d2 = ::openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (s2 < 0 || d2 < 0) child_fail(plan, errno, Msg() << "tmpcopyup: open `" << shown << "/" << name << "`");
                copy_tree(plan, s2, d2, shown, depth + 1);
                ::close(s2);
                ::close(d2);
            } else if (S_ISREG(st.st_mode)) {
                int in = ::openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                int out = ::openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm);
                if (in < 0 || out < 0) child_fail(plan, errno, Msg() << "tmpcopyup: copy `" << shown << "/" << name << "`");
                char data[8192];
                ssize_t r;
                while ((r = ::read(in, data, sizeof data)) > 0)
                    for (ssize_t w = 0; w < r;) {
                        ssize_t k = ::write(out, data + w, static_cast<size_t>(r - w));
                        if (k < 0) child_fail(plan, errno, Msg() << "tmpcopyup: write `" << shown << "/" << name << "`");
                        w += k;
                    }
                if (r < 0) child_fail(plan, errno, Msg() << "tmpcopyup: read `" << shown << "/" << name << "`");
                ::close(in);
                ::close(out);
            } else if (S_ISLNK(st.st_mode)) {
                char target[4096];
                ssize_t tl = ::readlinkat(src, name, target, sizeof target - 1);
                if (tl < 0) child_fail(plan, errno, Msg() << "tmpcopyup: readlink `" << shown << "/" << name << "`");
                target[tl] = 0;
                if (::symlinkat(target, dst, name) < 0)
                    child_fail(plan, errno, Msg() << "tmpcopyup: symlink `" << shown << "/" << name << "`");
            } else if (::mknodat(dst, name, st.st_mode, st.st_rdev) < 0) {
                child_fail(plan, errno, Msg() << "tmpcopyup: mknod `" << shown << "/" << name << "`");
            }
            if (::fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                (!S_ISLNK(st.st_mode) && ::fchmodat(dst, name, perm, 0) < 0))
                child_fail(plan, errno, Msg() << "tmpcopyup: set owner/mode of `" << shown << "/" << name << "`");
        }
    }
}

} // namespace

void mount_one(const ChildPlan &plan, int rootfd, const MountPlan &m) {
    CHILD_STEP(plan, "mount " << (m.fstype.empty() ? "bind" : m.fstype.c_str()) << " `" << m.source << "` at `"
                              << m.destination << "`");
    switch (m.kind) {
    case MountPlan::Kind::cgroup_v1: mount_cgroup_v1(plan, rootfd, m); return;
    case MountPlan::Kind::cgroup_v2: mount_cgroup_v2(plan, rootfd, m); return;
    case MountPlan::Kind::bind: {
        int fd = make_in_root(rootfd, m.destination.c_str(), m.source_is_dir, m.source_is_dir ? 0755 : 0644);
        if (fd < 0) child_fail(plan, errno, Msg() << "create mount point `" << m.destination << "`");
        mount_at_fd(plan, fd, m.source.c_str(), nullptr, MS_BIND | (m.flags & MS_REC), nullptr, m.destination.c_str());
        ::close(fd);
        if ((m.flags & ~(MS_BIND | MS_REC)) || m.remount_readonly) remount_bind(plan, rootfd, m.destination.c_str(), m.flags);
        break;
    }
    case MountPlan::Kind::regular: {
        int fd = make_in_root(rootfd, m.destination.c_str(), true, 0755);
        if (fd < 0) child_fail(plan, errno, Msg() << "create mount point `" << m.destination << "`");
        // tmpcopyup: hold what the tmpfs will cover, to copy it in after.
        int under = m.copy_up ? openat2_in_root(rootfd, m.destination.c_str(), O_RDONLY | O_DIRECTORY) : -1;
        if (m.copy_up && under < 0) child_fail(plan, errno, Msg() << "tmpcopyup: open `" << m.destination << "`");
        mount_at_fd(plan, fd, m.source.empty() ? m.fstype.c_str() : m.source.c_str(), m.fstype.c_str(), m.flags,
                    m.data.empty() ? nullptr : m.data.c_str(), m.destination.c_str());
        ::close(fd);
        if (under >= 0) {
            CHILD_STEP(plan, "copy what `" << m.destination << "` covered into the new tmpfs");
            int top = openat2_in_root(rootfd, m.destination.c_str(), O_RDONLY | O_DIRECTORY);
            if (top < 0) child_fail(plan, errno, Msg() << "tmpcopyup: open `" << m.destination << "`");
            copy_tree(plan, under, top, m.destination.c_str(), 0);
            ::close(top);
            ::close(under);
        }
        break;
    }
    }
    set_propagation(plan, rootfd, m.destination.c_str(), m.propagation);
    set_recursive_attrs(plan, rootfd, m);
}

void create_devices(const ChildPlan &plan, int rootfd) {
    for (const auto &d : plan.devices) {
        CHILD_STEP(plan, "create device " << d.path << " (" << static_cast<long>(major(d.dev)) << ":"
                                          << static_cast<long>(minor(d.dev)) << ")");
        if (plan.bind_devices) {
            // mknod is not allowed in a user namespace: bind the host's node.
            int fd = make_in_root(rootfd, d.path.c_str(), false, 0644);
            if (fd < 0) child_fail(plan, errno, Msg() << "create `" << d.path << "`");
            mount_at_fd(plan, fd, d.path.c_str(), nullptr, MS_BIND, nullptr, d.path.c_str());
            ::close(fd);
            continue;
        }
        // Create the parent directory, then the node by name in it.
        const char *slash = d.path.c_str();
        for (const char *q = slash; *q; ++q)
            if (*q == '/') slash = q;
        char dir[kPathMax];
        size_t dl = static_cast<size_t>(slash - d.path.c_str());
        if (dl >= sizeof dir) child_fail(plan, ENAMETOOLONG, Msg() << "device path `" << d.path << "`");
        for (size_t i = 0; i < dl; ++i) dir[i] = d.path[i];
        dir[dl] = 0;
        int dfd = make_in_root(rootfd, dl ? dir : "/", true, 0755);
        if (dfd < 0) child_fail(plan, errno, Msg() << "create `" << (dl ? dir : "/") << "`");
        int real = ::openat(dfd, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        ::close(dfd);
        if (real < 0) child_fail(plan, errno, Msg() << "open `" << dir << "`");
        const char *name = slash + 1;
        (void)::unlinkat(real, name, 0);
        if (::mknodat(real, name, d.mode, d.dev) < 0)
            child_fail(plan, errno, Msg() << "mknod `" << d.path << "`");
        if (::fchmodat(real, name, d.mode & 07777, 0) < 0 ||
            ::fchownat(real, name, d.uid, d.gid, AT_SYMLINK_NOFOLLOW) < 0)
            child_fail(plan, errno, Msg() << "set owner and mode of `" << d.path << "`");
        ::close(real);
    }
    for (const auto &l : plan.dev_links) {
        int dfd = openat2_in_root(rootfd, "/dev", O_DIRECTORY | O_RDONLY);
        if (dfd < 0) child_fail(plan, errno, Msg() << "open `/dev`");
        const char *name = l.link.c_str() + 5; // below "/dev/"
        if (l.link == "/dev/ptmx") (void)::unlinkat(dfd, name, 0);
        if (::symlinkat(l.target.c_str(), dfd, name) < 0 && errno != EEXIST)
            child_fail(plan, errno, Msg() << "symlink `" << l.link << "` -> `" << l.target << "`");
        ::close(dfd);
    }
}

void pivot_into_rootfs(const ChildPlan &plan) {
    if (plan.no_pivot) {
        CHILD_STEP(plan, "move rootfs to / and chroot (--no-pivot)");
        if (::chdir(plan.rootfs.c_str()) < 0) child_fail(plan, errno, Msg() << "chdir `" << plan.rootfs << "`");
        if (::mount(plan.rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr) < 0)
            child_fail(plan, errno, Msg() << "move mount `" << plan.rootfs << "` to /");
        if (::chroot(".") < 0) child_fail(plan, errno, Msg() << "chroot");
        if (::chdir("/") < 0) child_fail(plan, errno, Msg() << "chdir /");
        return;
    }
    CHILD_STEP(plan, "pivot_root into `" << plan.rootfs << "`");
    int oldroot = ::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    int newroot = ::open(plan.rootfs.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (oldroot < 0 || newroot < 0) child_fail(plan, errno, Msg() << "open `" << plan.rootfs << "`");
    // pivot_root(".", ".") stacks the old root on top of the new one, so no
    // directory for it is needed inside the image; we then detach it.
    if (::fchdir(newroot) < 0) child_fail(plan, errno, Msg() << "chdir `" << plan.rootfs << "`");
    if (::syscall(SYS_pivot_root, ".", ".") < 0) child_fail(plan, errno, Msg() << "pivot_root `" << plan.rootfs << "`");
    if (::fchdir(oldroot) < 0) child_fail(plan, errno, Msg() << "chdir to old root");
    // Make the old root a slave first so its unmount does not propagate back to the host.
    if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0)
        child_fail(plan, errno, Msg() << "make old root rslave");
    if (::umount2(".", MNT_DETACH) < 0) child_fail(plan, errno, Msg() << "unmount old root");
    if (::chdir("/") < 0) child_fail(plan, errno, Msg() << "chdir /");
    ::close(oldroot);
    ::close(newroot);
}

// Without a mount namespace of its own the container still gets root.path
// as its root (runtime-spec: root.path is the container's root; runc and
// crun chroot there too): nothing to pivot, nothing mounted.
void chroot_into_rootfs(const ChildPlan &plan) {
    CHILD_STEP(plan, "chroot into `" << plan.rootfs << "` (no mount namespace of its own)");
    int root = ::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) child_fail(plan, errno, Msg() << "open rootfs `" << plan.rootfs << "`");
    int cwd = make_in_root(root, plan.cwd.c_str(), true, 0755); // as prepare_rootfs does
    if (cwd < 0) child_fail(plan, errno, Msg() << "create cwd `" << plan.cwd << "`");
    ::close(cwd);
    if (::fchdir(root) < 0) child_fail(plan, errno, Msg() << "chdir `" << plan.rootfs << "`");
    if (::chroot(".") < 0) child_fail(plan, errno, Msg() << "chroot `" << plan.rootfs << "`");
    if (::chdir("/") < 0) child_fail(plan, errno, Msg() << "chdir /");
    ::close(root);
}

void apply_masked_paths(const ChildPlan &plan) {
    int root = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    for (const auto &p : plan.masked_paths) {
        int fd = openat2_in_root(root, p.c_str(), O_PATH);
        if (fd < 0) {
            if (errno == ENOENT) continue;
            child_fail(plan, errno, Msg() << "open masked path `" << p << "`");
        }
        struct stat st {};
        ::fstat(fd, &st);
        CHILD_STEP(plan, "mask " << p);
        if (S_ISDIR(st.st_mode))
            mount_at_fd(plan, fd, "tmpfs", "tmpfs", MS_RDONLY, nullptr, p.c_str());
        else
            mount_at_fd(plan, fd, "/dev/null", nullptr, MS_BIND, nullptr, p.c_str());
        ::close(fd);
    }
    ::close(root);
}

void apply_readonly_paths(const ChildPlan &plan) {
    int root = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    for (const auto &p : plan.readonly_paths) {
        int fd = openat2_in_root(root, p.c_str(), O_PATH);
        if (fd < 0) {
            if (errno == ENOENT) continue;
            child_fail(plan, errno, Msg() << "open read-only path `" << p << "`");
        }
        CHILD_STEP(plan, "make " << p << " read-only");
        char buf[40];
        fd_path(fd, buf);
        if (::mount(buf, buf, nullptr, MS_BIND | MS_REC, nullptr) < 0)
            child_fail(plan, errno, Msg() << "bind `" << p << "` for read-only");
        ::close(fd);
        remount_bind(plan, root, p.c_str(), MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
    }
    ::close(root);
}

void remount_root_readonly(const ChildPlan &plan) {
    CHILD_STEP(plan, "remount / read-only");
    int fd = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(fd);
    ::close(fd);
    if (::mount(nullptr, "/", nullptr, f, nullptr) < 0) child_fail(plan, errno, Msg() << "remount / read-only");
}

} // namespace corral
