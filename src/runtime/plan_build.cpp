// plan_build.cpp — the parent's half of container creation that needs no
// privileges: every decision the child would otherwise have to make is made
// here, with allocation and good error messages, before clone.
#include "runtime/plan_build.hpp"

#include <algorithm>

#include "common/fs.hpp"
#include "runtime/rootless.hpp"
#include "runtime/seccomp_notify.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <sched.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <unistd.h>

namespace corral {
namespace {

struct NsType {
    const char *type;
    const char *proc;
    unsigned long flag;
};
constexpr NsType kNamespaces[] = {
    {"user", "user", CLONE_NEWUSER}, {"pid", "pid", CLONE_NEWPID},     {"network", "net", CLONE_NEWNET},
    {"ipc", "ipc", CLONE_NEWIPC},    {"uts", "uts", CLONE_NEWUTS},     {"mount", "mnt", CLONE_NEWNS},
    {"cgroup", "cgroup", CLONE_NEWCGROUP}, {"time", "time", CLONE_NEWTIME},
};

struct FlagOpt {
    const char *name;
    bool clear;
    unsigned long flag;
};
// mount(8) option names and what they do to mount(2)'s flags.
constexpr FlagOpt kMountFlags[] = {
    {"async", true, MS_SYNCHRONOUS},   {"atime", true, MS_NOATIME},       {"bind", false, MS_BIND},
    {"defaults", false, 0},            {"dev", true, MS_NODEV},           {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},    {"exec", true, MS_NOEXEC},         {"iversion", false, MS_I_VERSION},
    {"lazytime", false, MS_LAZYTIME},  {"loud", true, MS_SILENT},         {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},    {"nodev", false, MS_NODEV},        {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},      {"noiversion", true, MS_I_VERSION}, {"nolazytime", true, MS_LAZYTIME},
    {"nomand", true, MS_MANDLOCK},     {"norelatime", true, MS_RELATIME}, {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},      {"rbind", false, MS_BIND | MS_REC}, {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},    {"ro", false, MS_RDONLY},          {"rw", true, MS_RDONLY},
    {"silent", false, MS_SILENT},      {"strictatime", false, MS_STRICTATIME}, {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
};
constexpr FlagOpt kPropagation[] = {
    {"private", false, MS_PRIVATE},   {"rprivate", false, MS_PRIVATE | MS_REC},
    {"shared", false, MS_SHARED},     {"rshared", false, MS_SHARED | MS_REC},
    {"slave", false, MS_SLAVE},       {"rslave", false, MS_SLAVE | MS_REC},
    {"unbindable", false, MS_UNBINDABLE}, {"runbindable", false, MS_UNBINDABLE | MS_REC},
};
// Recursive attributes (runtime-spec 1.1+), applied with mount_setattr(AT_RECURSIVE).
constexpr FlagOpt kRecursive[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},       {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},   {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},     {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},   {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME}, {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW}, {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
};

struct RlimitName {
    const char *name;
    int resource;
};
constexpr RlimitName kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},   {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

template <class Table>
const auto *find_opt(const Table &t, std::string_view name) {
    for (const auto &e : t)
        if (name == e.name) return &e;
    return static_cast<decltype(&t[0])>(nullptr);
}

Result<MountPlan> plan_mount(const spec::Mount &m, size_t index, cgroups::Mode mode) {
    MountPlan p;
    std::string where = "mounts[" + std::to_string(index) + "]";
    // A relative destination is relative to "/" (deprecated, but allowed by
    // the spec; spec_warnings() has said so).
    p.destination = clean_path("/" + m.destination);
    if (p.destination == "/") return Error("config.json: " + where + ".destination: cannot mount over the root");
    p.source = m.source;
    p.fstype = m.type;
    for (const auto &o : m.options) {
        if (const auto *f = find_opt(kMountFlags, o)) {
            if (f->clear) p.flags &= ~f->flag;
            else p.flags |= f->flag;
        } else if (const auto *pr = find_opt(kPropagation, o)) {
            p.propagation |= pr->flag;
        } else if (const auto *r = find_opt(kRecursive, o)) {
            (r->clear ? p.attr_clr : p.attr_set) |= r->flag;
        } else if (o == "tmpcopyup") {
            // runc's extension: the tmpfs starts with a copy of what it covers.
            if (m.type != "tmpfs")
                return Error("config.json: " + where + ".options: \"tmpcopyup\" needs a tmpfs mount");
            p.copy_up = true;
        } else if (o == "idmap" || o == "ridmap") {
            return Error("config.json: " + where + ".options: \"" + o + "\" (idmapped mounts) is not supported");
        } else {
            if (!p.data.empty()) p.data += ',';
            p.data += o;
        }
    }
    if (m.type == "bind") p.flags |= MS_BIND;
    if (p.flags & MS_BIND) {
        p.kind = MountPlan::Kind::bind;
        if (p.source.empty()) return Error("config.json: " + where + ".source: a bind mount needs a source");
        struct stat st {};
        if (::stat(p.source.c_str(), &st) < 0)
            return Error::from_errno(errno, "config.json: " + where + ".source: stat", p.source);
        p.source_is_dir = S_ISDIR(st.st_mode);
        p.remount_readonly = p.flags & MS_RDONLY;
    } else if (m.type == "cgroup" || m.type == "cgroup2") {
        if (mode == cgroups::Mode::disabled)
            return Error("config.json: " + where + ": a cgroup mount needs cgroups, and none are available");
        p.kind = mode == cgroups::Mode::v2 ? MountPlan::Kind::cgroup_v2 : MountPlan::Kind::cgroup_v1;
    }
    return p;
}

// The v1 hierarchies mounted on the host, with the container's path in each
// (`paths` as cgroups::Manager::paths() has them).
std::vector<CgroupHierarchy> plan_cgroup_hierarchies(const std::vector<std::pair<std::string, std::string>> &paths) {
    std::vector<CgroupHierarchy> out;
    auto text = read_file("/proc/self/mountinfo");
    if (!text) return out;
    std::string_view all = *text;
    size_t pos = 0;
    while (pos < all.size()) {
        size_t eol = all.find('\n', pos);
        if (eol == std::string_view::npos) eol = all.size();
        std::string_view line = all.substr(pos, eol - pos);
        pos = eol + 1;
        size_t dash = line.find(" - ");
        if (dash == std::string_view::npos) continue;
        std::string_view tail = line.substr(dash + 3);
        if (tail.substr(0, 7) != "cgroup ") continue;
        // fields: id parent maj:min root mountpoint ...
        size_t f = 0, i = 0;
        std::string_view mountpoint;
        while (f < 5 && i < line.size()) {
            size_t sp = line.find(' ', i);
            if (f == 4) mountpoint = line.substr(i, sp - i);
            i = sp + 1;
            ++f;
        }
        size_t last_space = tail.rfind(' ');
        std::string_view super = tail.substr(last_space + 1);
        std::string options;
        size_t s = 0;
        while (s <= super.size()) {
            size_t c = super.find(',', s);
            if (c == std::string_view::npos) c = super.size();
            std::string_view o = super.substr(s, c - s);
            if (!o.empty() && o != "rw" && o != "ro") {
                if (!options.empty()) options += ',';
                options += o;
            }
            s = c + 1;
        }
        std::string mp(mountpoint);
        for (const auto &[ctrl, host] : paths) {
            (void)ctrl;
            // host == mp: a rootless caller's own cgroup may be a hierarchy's root.
            if (host.size() >= mp.size() && host.compare(0, mp.size(), mp) == 0 &&
                (host.size() == mp.size() || host[mp.size()] == '/')) {
                CgroupHierarchy h;
                h.name = mp.substr(mp.rfind('/') + 1);
                h.options = options;
                h.host_path = host;
                out.push_back(std::move(h));
                break;
            }
        }
    }
    return out;
}

void add_default_devices(ChildPlan &p) {
    struct Dev {
        const char *path;
        unsigned maj, min;
    };
    static constexpr Dev kDefault[] = {{"/dev/null", 1, 3},    {"/dev/zero", 1, 5},   {"/dev/full", 1, 7},
                                       {"/dev/random", 1, 8},  {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
    for (const auto &d : kDefault) p.devices.push_back({d.path, S_IFCHR | 0666, makedev(d.maj, d.min), 0, 0});
    p.dev_links = {{"/proc/self/fd", "/dev/fd"},       {"/proc/self/fd/0", "/dev/stdin"},
                   {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
                   {"pts/ptmx", "/dev/ptmx"}};
    if (path_exists("/proc/kcore")) p.dev_links.push_back({"/proc/kcore", "/dev/core"});
}

Result<uint64_t> cap_mask(const std::vector<std::string> &names, const std::string &field, int last,
                          const Logger &log) {
    uint64_t mask = 0;
    for (const auto &n : names) {
        cap_value_t v;
        if (cap_from_name(n.c_str(), &v) < 0 || v > last) {
            // runc ignores capabilities it or the kernel does not know, with a warning.
            log.warn("config.json: " + field + ": ignoring unknown or unavailable capability " + n);
            continue;
        }
        mask |= 1ULL << v;
    }
    return mask;
}

// "0-3,7" (the cpuset list format) into a cpu_set_t.
Result<cpu_set_t> parse_cpu_list(const std::string &list, const std::string &field) {
    cpu_set_t set;
    CPU_ZERO(&set);
    size_t i = 0;
    auto number = [&](unsigned long &out) {
        size_t start = i;
        out = 0;
        while (i < list.size() && list[i] >= '0' && list[i] <= '9') out = out * 10 + static_cast<unsigned long>(list[i++] - '0');
        return i > start && out < CPU_SETSIZE;
    };
    while (i < list.size()) {
        unsigned long lo, hi;
        if (!number(lo)) return Error(field + ": invalid cpu list \"" + list + "\"");
        hi = lo;
        if (i < list.size() && list[i] == '-') {
            ++i;
            if (!number(hi) || hi < lo) return Error(field + ": invalid cpu list \"" + list + "\"");
        }
        for (unsigned long c = lo; c <= hi; ++c) CPU_SET(c, &set);
        if (i < list.size() && list[i++] != ',') return Error(field + ": invalid cpu list \"" + list + "\"");
    }
    return set;
}

int read_cap_last() {
    auto t = read_file("/proc/sys/kernel/cap_last_cap");
    return t ? std::atoi(t->c_str()) : CAP_LAST_CAP;
}

} // namespace

std::vector<std::string> known_mount_options() {
    std::vector<std::string> out;
    for (const auto &o : kMountFlags) out.emplace_back(o.name);
    for (const auto &o : kPropagation) out.emplace_back(o.name);
    for (const auto &o : kRecursive) out.emplace_back(o.name);
    out.emplace_back("tmpcopyup");
    std::sort(out.begin(), out.end());
    return out;
}

std::string seccomp_cache_dir(const Context &ctx) {
    // '@' cannot appear in a container id, so this never meets a container.
    return path_join(ctx.root, "@cache/seccomp");
}

unsigned long namespace_flag(std::string_view type) {
    for (const auto &n : kNamespaces)
        if (type == n.type) return n.flag;
    return 0;
}

const char *namespace_proc_name(std::string_view type) {
    for (const auto &n : kNamespaces)
        if (type == n.type) return n.proc;
    return nullptr;
}

Status plan_process(ChildPlan &p, const spec::Process &proc, const spec::Linux &lx, const Logger &log,
                    const std::string &id, int preserve_fds, bool no_new_keyring, std::string_view source,
                    const std::string &seccomp_cache_dir);

static void add_home_if_unset(ChildPlan &p, const std::string &rootfs);

Result<ChildPlan> build_exec_plan(const ExecPlanInputs &in) {
    ChildPlan p;
    p.id = in.id;
    p.exec_mode = true;
    p.cgroup_join_best_effort = is_rootless(in.ctx); // rootless.hpp
    const spec::Linux empty_linux;
    const spec::Linux &lx = in.spec.linux ? *in.spec.linux : empty_linux;
    // Rootless: the parent may not join the container's pid and time
    // namespaces from outside its user namespace; the child joins them after
    // the user namespace and forks into them (ChildPlan::fork_into_pid_ns).
    bool joins_in_child = false;
    if (is_rootless(in.ctx))
        for (const auto &[type, path] : in.namespace_paths) joins_in_child |= namespace_flag(type) == CLONE_NEWUSER;
    for (const auto &[type, path] : in.namespace_paths) {
        unsigned long flag = namespace_flag(type);
        if (!flag || ((flag == CLONE_NEWPID || flag == CLONE_NEWTIME) && !joins_in_child)) continue;
        if (flag == CLONE_NEWPID || flag == CLONE_NEWTIME) p.fork_into_pid_ns = true;
        auto fd = open_file(path, O_RDONLY);
        if (!fd) return std::move(fd.error()).context("join the container's " + type + " namespace");
        NamespaceJoin j{static_cast<int>(flag), std::move(*fd), path};
        if (flag == CLONE_NEWUSER) p.joins.insert(p.joins.begin(), std::move(j));
        else p.joins.push_back(std::move(j));
        // A rootless container's user namespace may have setgroups denied.
        if (flag == CLONE_NEWUSER) p.set_groups = !setgroups_denied_for(path);
    }
    // exec keeps the container's session keyring, as runc does.
    CORRAL_TRY(plan_process(p, in.process, lx, in.ctx.log, in.id, in.preserve_fds, true, in.source,
                            seccomp_cache_dir(in.ctx)));
    add_home_if_unset(p, in.rootfs);
    if (!p.set_groups && !p.additional_gids.empty())
        return Error(std::string(in.source) + ": process.user.additionalGids: cannot set any additional groups "
                     "in a rootless container (setgroups is denied in its user namespace)");
    return p;
}

// HOME, when process.env does not set it: the user's home directory from the
// container's /etc/passwd, else "/" (what runc and crun do; programs such as
// shells and git read it). Read here, by the parent, with every symlink
// resolved inside the rootfs: the init may not allocate.
static void add_home_if_unset(ChildPlan &p, const std::string &rootfs) {
    for (const auto &e : p.env)
        if (e.rfind("HOME=", 0) == 0) return;
    std::string home = "/";
    if (!rootfs.empty()) {
        UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        open_how how{};
        how.flags = O_RDONLY | O_CLOEXEC;
        how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
        UniqueFd fd(root ? static_cast<int>(::syscall(SYS_openat2, root.get(), "etc/passwd", &how, sizeof how)) : -1);
        std::string text;
        char buf[8192];
        ssize_t n;
        while (fd && text.size() < (1u << 20) && (n = ::read(fd.get(), buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
        // name:password:uid:gid:gecos:home:shell
        for (size_t at = 0; at < text.size();) {
            size_t end = text.find('\n', at);
            std::string_view line(text.data() + at, (end == std::string::npos ? text.size() : end) - at);
            at = end == std::string::npos ? text.size() : end + 1;
            std::string_view f[7];
            size_t k = 0, from = 0;
            for (; k < 7; ++k) {
                size_t colon = line.find(':', from);
                f[k] = line.substr(from, colon == std::string_view::npos ? std::string_view::npos : colon - from);
                if (colon == std::string_view::npos) break;
                from = colon + 1;
            }
            if (k >= 5 && f[2] == std::to_string(p.uid) && !f[5].empty()) {
                home = std::string(f[5]);
                break;
            }
        }
    }
    p.env.push_back("HOME=" + home);
}

bool apparmor_enabled() {
    auto v = read_file("/sys/module/apparmor/parameters/enabled");
    return v && !v->empty() && (*v)[0] == 'Y';
}

// Without a mount namespace of its own the container shares the runtime's
// mounts: these would all change the host's, and stay there after the
// container is gone (validate_spec refuses masked and read-only paths, as
// runc does; runc and crun make the mounts, which we refuse).
static Status check_no_rootfs_changes(const spec::Spec &s, const spec::Linux &lx) {
    const std::string why = " without a private MNT namespace (linux.namespaces lists no mount namespace)";
    if (!s.mounts.empty()) return Error("config.json: mounts: unable to mount" + why);
    if (!lx.devices.empty()) return Error("config.json: linux.devices: unable to create device nodes" + why);
    if (s.root && s.root->readonly) return Error("config.json: root.readonly: unable to make the root read-only" + why);
    if (!lx.rootfs_propagation.empty())
        return Error("config.json: linux.rootfsPropagation: unable to set the root's propagation" + why);
    return ok();
}

spec::Resources effective_resources(const spec::Spec &s) {
    spec::Resources r = s.linux && s.linux->resources ? *s.linux->resources : spec::Resources{};
    if (s.linux)
        for (const auto &d : s.linux->devices)
            // The device cgroup knows character and block devices only; a FIFO
            // (type "p") is a plain file to it and needs no rule (runc too).
            if (d.type != "p") r.devices.push_back({true, d.type == "u" ? "c" : d.type, d.major, d.minor, "rwm"});
    // runc's default allowed devices: clients rely on them.
    for (auto &rule : cgroups::default_allowed_devices()) r.devices.push_back(std::move(rule));
    return r;
}

// The process half of the plan, shared by create (config.json's process) and
// exec (the container's process, or --process FILE).
Status plan_process(ChildPlan &p, const spec::Process &proc, const spec::Linux &lx, const Logger &log,
                    const std::string &id, int preserve_fds, bool no_new_keyring, std::string_view source,
                    const std::string &seccomp_cache_dir) {
    if (proc.args.empty()) return Error(std::string(source) + ": process.args: must not be empty");
    if (!proc.apparmor_profile.empty()) {
        // A profile asked for and not applied would leave the container less
        // confined than its owner believes: refuse, as runc does.
        if (!apparmor_enabled())
            return Error(std::string(source) + ": process.apparmorProfile: profile `" + proc.apparmor_profile +
                         "` requested, but AppArmor is not enabled on this host (apparmor: config provided but "
                         "apparmor not supported)");
        p.apparmor_profile = proc.apparmor_profile;
    }
    p.args = proc.args;
    p.env = proc.env;
    p.cwd = proc.cwd.empty() ? "/" : proc.cwd;
    p.uid = proc.user.uid;
    p.gid = proc.user.gid;
    p.additional_gids.assign(proc.user.additional_gids.begin(), proc.user.additional_gids.end());
    p.umask = proc.user.umask ? static_cast<mode_t>(*proc.user.umask) : 022;
    for (size_t i = 0; i < proc.rlimits.size(); ++i) {
        const auto &r = proc.rlimits[i];
        const auto *n = find_opt(kRlimits, r.type);
        if (!n) return Error(std::string(source) + ": process.rlimits[" + std::to_string(i) + "].type: unknown rlimit \"" + r.type + "\"");
        p.rlimits.push_back({n->resource, {static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)}, n->name});
    }
    p.cap_last = read_cap_last();
    if (proc.capabilities) {
        const auto &c = *proc.capabilities;
        p.cap_bounding = CORRAL_TRY(cap_mask(c.bounding, std::string(source) + ": process.capabilities.bounding", p.cap_last, log));
        p.cap_effective = CORRAL_TRY(cap_mask(c.effective, std::string(source) + ": process.capabilities.effective", p.cap_last, log));
        p.cap_permitted = CORRAL_TRY(cap_mask(c.permitted, std::string(source) + ": process.capabilities.permitted", p.cap_last, log));
        p.cap_inheritable = CORRAL_TRY(cap_mask(c.inheritable, std::string(source) + ": process.capabilities.inheritable", p.cap_last, log));
        p.cap_ambient = CORRAL_TRY(cap_mask(c.ambient, std::string(source) + ": process.capabilities.ambient", p.cap_last, log));
    }
    p.no_new_privileges = proc.no_new_privileges;
    if (proc.oom_score_adj) {
        p.set_oom_score_adj = true;
        p.oom_score_adj = std::to_string(*proc.oom_score_adj);
    }
    p.terminal = proc.terminal;
    if (proc.console_size) {
        p.console_rows = static_cast<unsigned short>(proc.console_size->height);
        p.console_cols = static_cast<unsigned short>(proc.console_size->width);
    }
    if (lx.personality) {
        const auto &d = lx.personality->domain;
        if (d == "LINUX") p.personality = PER_LINUX;
        else if (d == "LINUX32") p.personality = PER_LINUX32;
        else return Error(std::string(source) + ": linux.personality.domain: unknown domain \"" + d + "\"");
    }
    if (proc.scheduler) {
        const auto &sc = *proc.scheduler;
        static constexpr std::pair<const char *, uint32_t> kPolicies[] = {
            {"SCHED_OTHER", 0}, {"SCHED_FIFO", 1}, {"SCHED_RR", 2}, {"SCHED_BATCH", 3},
            {"SCHED_ISO", 4},   {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6}};
        static constexpr std::pair<const char *, uint64_t> kFlags[] = {
            {"SCHED_FLAG_RESET_ON_FORK", 0x01}, {"SCHED_FLAG_RECLAIM", 0x02},     {"SCHED_FLAG_DL_OVERRUN", 0x04},
            {"SCHED_FLAG_KEEP_POLICY", 0x08},   {"SCHED_FLAG_KEEP_PARAMS", 0x10}, {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
            {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40}};
        bool found = false;
        for (const auto &[name, v] : kPolicies)
            if (sc.policy == name) {
                p.sched_attr.policy = v;
                found = true;
            }
        if (!found) return Error(std::string(source) + ": process.scheduler.policy: unknown policy "" + sc.policy + """);
        for (const auto &f : sc.flags) {
            bool known = false;
            for (const auto &[name, v] : kFlags)
                if (f == name) {
                    p.sched_attr.flags |= v;
                    known = true;
                }
            if (!known) return Error(std::string(source) + ": process.scheduler.flags: unknown flag "" + f + """);
        }
        p.sched_attr.size = sizeof p.sched_attr;
        p.sched_attr.nice = sc.nice;
        p.sched_attr.priority = static_cast<uint32_t>(sc.priority);
        p.sched_attr.runtime = sc.runtime;
        p.sched_attr.deadline = sc.deadline;
        p.sched_attr.period = sc.period;
        p.set_scheduler = true;
    }
    if (proc.io_priority) {
        const auto &io = *proc.io_priority;
        int klass = io.klass == "IOPRIO_CLASS_RT" ? 1 : io.klass == "IOPRIO_CLASS_BE" ? 2 : io.klass == "IOPRIO_CLASS_IDLE" ? 3 : 0;
        if (!klass) return Error(std::string(source) + ": process.ioPriority.class: unknown class "" + io.klass + """);
        if (io.priority < 0 || io.priority > 7)
            return Error(std::string(source) + ": process.ioPriority.priority: must be 0 to 7");
        p.io_priority = (klass << 13) | io.priority; // IOPRIO_PRIO_VALUE
    }
    if (proc.exec_cpu_affinity) {
        if (!proc.exec_cpu_affinity->initial.empty())
            p.cpus_initial = CORRAL_TRY(parse_cpu_list(proc.exec_cpu_affinity->initial,
                                                       std::string(source) + ": process.execCPUAffinity.initial"));
        if (!proc.exec_cpu_affinity->final.empty())
            p.cpus_final = CORRAL_TRY(parse_cpu_list(proc.exec_cpu_affinity->final,
                                                     std::string(source) + ": process.execCPUAffinity.final"));
    }
    p.new_session_keyring = !no_new_keyring;
    p.keyring_name = "_ses." + id;
    // Socket activation, as runc does: fds handed to us by systemd
    // (LISTEN_FDS for our pid) go to the container as 3.., before the
    // --preserve-fds ones, and the container is told it is their listener.
    int listen_fds = 0;
    if (const char *n = std::getenv("LISTEN_FDS"); n && *n) {
        const char *lp = std::getenv("LISTEN_PID");
        if (lp && std::atoi(lp) == ::getpid()) listen_fds = std::atoi(n);
        if (listen_fds > 0) {
            p.env.push_back("LISTEN_FDS=" + std::to_string(listen_fds));
            p.env.push_back("LISTEN_PID=1");
        }
    }
    p.preserve_fds = preserve_fds + listen_fds;

    // PATH for finding args[0], as the container will see it.
    for (const auto &e : p.env) {
        if (e.rfind("PATH=", 0) != 0) continue;
        std::string_view v = std::string_view(e).substr(5);
        size_t i = 0;
        while (i <= v.size()) {
            size_t c = v.find(':', i);
            if (c == std::string_view::npos) c = v.size();
            p.path_dirs.emplace_back(v.substr(i, c - i));
            i = c + 1;
        }
    }
    p.exec_path.reserve(PATH_MAX); // the child fills it without allocating
    if (lx.seccomp) {
        // Compiling a full profile takes libseccomp milliseconds; the cache
        // (keyed by the whole profile, libseccomp and kernel) makes it µs.
        p.seccomp = CORRAL_TRY(compile_seccomp_cached(*lx.seccomp, seccomp_cache_dir, source));
        for (const auto &name : p.seccomp->unknown_syscalls)
            log.debug("seccomp: ignoring syscall unknown to libseccomp: " + name);
        // SCMP_ACT_NOTIFY: the init hands the listener fd over (seccomp_notify.hpp).
        if (p.seccomp->needs_notify_fd) CORRAL_TRY(check_notify_profile(*lx.seccomp, source));
    }
    p.debug = log.enabled(LogLevel::debug);
    p.log_fd = log.fd();
    p.log_json = log.format() == LogFormat::json;
    return ok();
}

Result<ChildPlan> build_plan(const PlanInputs &in) {
    const spec::Spec &s = in.spec;
    ChildPlan p;
    p.id = in.id;
    p.cgroup_join_best_effort = is_rootless(in.ctx); // rootless.hpp
    if (!s.process) return Error("config.json: process: required to create a container");
    if (!s.root) return Error("config.json: root: required on Linux");
    const spec::Linux empty_linux;
    const spec::Linux &lx = s.linux ? *s.linux : empty_linux;

    // Root filesystem path, relative to the bundle unless absolute.
    std::string root = s.root->path[0] == '/' ? s.root->path : path_join(in.bundle, s.root->path);
    char real[PATH_MAX];
    if (!::realpath(root.c_str(), real)) return Error::from_errno(errno, "config.json: root.path", root);
    p.rootfs = real;
    p.readonly_root = s.root->readonly;
    p.no_pivot = in.opts.no_pivot;

    // Namespaces: which are made by clone3, which by unshare, which joined.
    unsigned long fresh = 0;
    bool joins_other = false, join_user = false;
    for (const auto &ns : lx.namespaces) {
        unsigned long flag = namespace_flag(ns.type);
        if (ns.path.empty()) {
            fresh |= flag;
        } else if (flag != CLONE_NEWPID && flag != CLONE_NEWTIME) {
            // pid and time are joined by the parent (they apply to its children).
            auto fd = open_file(ns.path, O_RDONLY);
            if (!fd) return std::move(fd.error()).context("config.json: linux.namespaces: join " + ns.type);
            NamespaceJoin j{static_cast<int>(flag), std::move(*fd), ns.path};
            if (flag == CLONE_NEWUSER) {
                join_user = true;
                p.joins.insert(p.joins.begin(), std::move(j));
            } else {
                joins_other = true;
                p.joins.push_back(std::move(j));
            }
        }
    }
    p.new_user_ns = fresh & CLONE_NEWUSER;
    p.bind_devices = p.new_user_ns || join_user; // mknod needs CAP_MKNOD on the host
    p.new_cgroup_ns = fresh & CLONE_NEWCGROUP;
    // The cgroup namespace is unshared after the parent put us in our cgroup,
    // so that cgroup becomes its root; time is unshared by the parent.
    unsigned long late = CLONE_NEWCGROUP | CLONE_NEWTIME;
    if (!joins_other && !join_user) {
        p.clone_flags = fresh & ~late;
        p.unshare_flags = fresh & CLONE_NEWCGROUP;
    } else {
        // A new pid namespace must belong to the container's user namespace
        // (or mounting /proc fails), which the init enters only after clone
        // here: it unshares the pid namespace with the others and forks into it.
        p.fork_into_pid_ns = (fresh & CLONE_NEWPID) && (p.new_user_ns || join_user);
        p.clone_flags = p.fork_into_pid_ns ? 0 : fresh & CLONE_NEWPID;
        p.unshare_flags = fresh & ~(late | CLONE_NEWPID | CLONE_NEWUSER) ;
        p.unshare_flags |= fresh & CLONE_NEWCGROUP;
        if (p.fork_into_pid_ns) p.unshare_flags |= CLONE_NEWPID;
        p.user_ns_late = p.new_user_ns;
    }
    // Rootless, with the user namespace joined by path: only from inside it
    // may we join its pid namespace, so the init joins that too and forks
    // into it (the parent's setns would fail with EPERM).
    if (join_user && is_rootless(in.ctx))
        for (const auto &ns : lx.namespaces)
            if (namespace_flag(ns.type) == CLONE_NEWPID && !ns.path.empty()) {
                auto fd = open_file(ns.path, O_RDONLY);
                if (!fd) return std::move(fd.error()).context("config.json: linux.namespaces: join " + ns.type);
                p.joins.push_back({CLONE_NEWPID, std::move(*fd), ns.path});
                p.fork_into_pid_ns = true;
            }
    // The mount namespace. Listed, new or joined by path: the root
    // filesystem is set up in it (runc does the same in a joined one). Not
    // listed: runtime-spec says the container inherits the runtime's; its
    // root is still root.path, entered with chroot (as runc and crun do),
    // but nothing is mounted: runc and crun mount into the inherited
    // namespace, where the mounts outlive the container on the host, so
    // corral refuses such configs instead (docs/compatibility.md).
    bool joins_mount = false;
    for (const auto &j : p.joins) joins_mount |= j.type == CLONE_NEWNS;
    p.setup_rootfs = (fresh & CLONE_NEWNS) || joins_mount;
    if (!p.setup_rootfs) CORRAL_TRY(check_no_rootfs_changes(s, lx));

    // Mounts.
    cgroups::Mode cg_mode = in.cgroup ? in.cgroup->mode() : cgroups::Mode::disabled;
    std::vector<std::pair<std::string, std::string>> cg_paths;
    if (in.cgroup) cg_paths = in.cgroup->paths();
    // Rootless without a cgroup of its own: the cgroup mount shows the
    // caller's own cgroups, read-only, as runc does (rootless.hpp).
    if (!in.cgroup && is_rootless(in.ctx)) {
        cg_mode = cgroups::detect_mode();
        cg_paths = own_cgroup_paths(cg_mode == cgroups::Mode::v2);
    }
    bool dev_bound = false;
    p.mounts.reserve(s.mounts.size());
    for (size_t i = 0; i < s.mounts.size(); ++i) {
        // Only a network namespace owned by our user namespace lets us mount
        // sysfs; without one, /sys is bound from the host (rootless.hpp).
        bool sysfs_bound = false;
        spec::Mount sm = sysfs_as_bind_if_needed(s.mounts[i], p.new_user_ns || join_user, fresh & CLONE_NEWNET, sysfs_bound);
        if (sysfs_bound)
            in.ctx.log.debug("mounts[" + std::to_string(i) + "]: no network namespace of the container's user "
                             "namespace to mount sysfs: bind /sys from the host instead");
        MountPlan m = CORRAL_TRY(plan_mount(sm, i, cg_mode));
        if (m.destination == "/dev" && m.kind == MountPlan::Kind::bind) dev_bound = true;
        if (m.kind == MountPlan::Kind::cgroup_v1 && p.cgroup_hierarchies.empty())
            p.cgroup_hierarchies = plan_cgroup_hierarchies(cg_paths);
        if (m.kind == MountPlan::Kind::cgroup_v2 && !cg_paths.empty())
            p.cgroup_v2_host_path = cg_paths.front().second;
        p.mounts.push_back(std::move(m));
    }
    // rootfsPropagation: how / is seen before pivot_root. runc's default is
    // rslave: host mounts still appear, ours never leak back. A shared root is
    // made so only after pivot_root, which refuses a shared new root; an
    // unbindable one too, or the rootfs could not be bound onto itself
    // (EINVAL) before pivot_root (crun applies it after pivot_root as well).
    const std::string &rp = lx.rootfs_propagation;
    p.root_propagation = MS_SLAVE | MS_REC;
    if (!rp.empty()) {
        const auto *f = find_opt(kPropagation, rp);
        if (!f) return Error("config.json: linux.rootfsPropagation: unknown value \"" + rp + "\"");
        if (f->flag & (MS_SHARED | MS_UNBINDABLE)) p.root_propagation_after = f->flag;
        else p.root_propagation = f->flag | MS_REC;
    }

    // Devices.
    p.create_default_devices = !dev_bound && p.setup_rootfs;
    if (p.create_default_devices) add_default_devices(p);
    for (size_t i = 0; i < lx.devices.size(); ++i) {
        const auto &d = lx.devices[i];
        mode_t type = d.type == "c" || d.type == "u" ? S_IFCHR : d.type == "b" ? S_IFBLK : d.type == "p" ? S_IFIFO : 0;
        if (!type) return Error("config.json: linux.devices[" + std::to_string(i) + "].type: unknown type \"" + d.type + "\"");
        DevicePlan dp{clean_path(d.path), type | (d.file_mode ? *d.file_mode & 07777 : 0666),
                      makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor)), d.uid.value_or(0),
                      d.gid.value_or(0)};
        bool replaced = false;
        for (auto &existing : p.devices)
            if (existing.path == dp.path) {
                existing = dp;
                replaced = true;
            }
        if (!replaced) p.devices.push_back(std::move(dp));
    }
    p.masked_paths = lx.masked_paths;
    p.readonly_paths = lx.readonly_paths;
    for (const auto &[name, value] : lx.sysctl) {
        std::string path = "/proc/sys/";
        for (char c : name) path += c == '.' ? '/' : c;
        if (clean_path(path).rfind("/proc/sys/", 0) != 0)
            return Error("config.json: linux.sysctl: invalid name \"" + name + "\"");
        p.sysctls.emplace_back(std::move(path), value);
    }
    // A new network namespace comes with `lo` down. runc (its specconv adds
    // a "loopback" network for a new netns) and crun bring it up, and
    // programs expect 127.0.0.1 to work; a joined namespace is left as it is.
    p.loopback_up = fresh & CLONE_NEWNET;
    // A hostname is set in the container's UTS namespace, new or joined by
    // path (runc and crun set it in a joined one too); validate_spec refused
    // it without one, which would rename the host.
    if (!s.hostname.empty()) {
        p.hostname = s.hostname;
        p.set_hostname = true;
    }
    if (!s.domainname.empty()) {
        p.domainname = s.domainname;
        p.set_domainname = true;
    }

    CORRAL_TRY(plan_process(p, *s.process, lx, in.ctx.log, in.id, in.opts.preserve_fds, in.opts.no_new_keyring,
                            "config.json", seccomp_cache_dir(in.ctx)));
    add_home_if_unset(p, p.rootfs);
    // Rootless, only our own gid mapped: the parent denies setgroups in the
    // new user namespace (rootless.hpp), or a joined one has it denied.
    if (p.new_user_ns && must_deny_setgroups(lx.gid_mappings, ::getegid(), is_rootless(in.ctx))) p.set_groups = false;
    for (const auto &j : p.joins)
        if (j.type == CLONE_NEWUSER && setgroups_denied_for(j.path)) p.set_groups = false;
    if (!p.set_groups && !p.additional_gids.empty())
        return Error("config.json: process.user.additionalGids: cannot set any additional groups in a rootless "
                     "container (setgroups is denied in its user namespace)");

    // Hooks that run inside the container.
    if (s.hooks) {
        p.create_container_hooks = prepare_hooks(s.hooks->create_container);
        p.start_container_hooks = prepare_hooks(s.hooks->start_container);
        p.has_runtime_hooks = !s.hooks->prestart.empty() || !s.hooks->create_runtime.empty();
    }
    p.debug = in.ctx.log.enabled(LogLevel::debug);
    p.log_fd = in.ctx.log.fd();
    p.log_json = in.ctx.log.format() == LogFormat::json;
    return p;
}

} // namespace corral

namespace corral {
void seal_plan(ChildPlan &p) {
    p.argv.clear();
    for (auto &a : p.args) p.argv.push_back(a.data());
    p.argv.push_back(nullptr);
    p.envp.clear();
    for (auto &e : p.env) p.envp.push_back(e.data());
    p.envp.push_back(nullptr);
}
} // namespace corral
