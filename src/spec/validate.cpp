// validate.cpp — the semantic rules of runtime-spec 1.2 (config.md,
// config-linux.md), plus the few runc checks that keep a config from
// touching the host by accident. Every error names the field:
// "config.json: linux.namespaces[1].type: unknown namespace type \"foo\"".
//
// Where the spec and runc differ, the comment at the check says which way
// we went and why.
#include "corral/spec.hpp"

#include "common/field_path.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace corral::spec {
namespace {

using namespace std::string_view_literals;

// --- known names -----------------------------------------------------------

template <size_t N>
bool one_of(std::string_view s, const std::array<std::string_view, N> &names) {
    return std::find(names.begin(), names.end(), s) != names.end();
}

constexpr std::array kNamespaceTypes = {"pid"sv,  "network"sv, "mount"sv,  "ipc"sv,
                                        "uts"sv,  "user"sv,    "cgroup"sv, "time"sv};

// getrlimit(2).
constexpr std::array kRlimits = {
    "RLIMIT_AS"sv,     "RLIMIT_CORE"sv,   "RLIMIT_CPU"sv,      "RLIMIT_DATA"sv,
    "RLIMIT_FSIZE"sv,  "RLIMIT_LOCKS"sv,  "RLIMIT_MEMLOCK"sv,  "RLIMIT_MSGQUEUE"sv,
    "RLIMIT_NICE"sv,   "RLIMIT_NOFILE"sv, "RLIMIT_NPROC"sv,    "RLIMIT_RSS"sv,
    "RLIMIT_RTPRIO"sv, "RLIMIT_RTTIME"sv, "RLIMIT_SIGPENDING"sv, "RLIMIT_STACK"sv};

// capabilities(7), through Linux 5.9 (CAP_CHECKPOINT_RESTORE = 40).
constexpr std::array kCapabilities = {
    "CAP_CHOWN"sv,          "CAP_DAC_OVERRIDE"sv,   "CAP_DAC_READ_SEARCH"sv, "CAP_FOWNER"sv,
    "CAP_FSETID"sv,         "CAP_KILL"sv,           "CAP_SETGID"sv,          "CAP_SETUID"sv,
    "CAP_SETPCAP"sv,        "CAP_LINUX_IMMUTABLE"sv, "CAP_NET_BIND_SERVICE"sv, "CAP_NET_BROADCAST"sv,
    "CAP_NET_ADMIN"sv,      "CAP_NET_RAW"sv,        "CAP_IPC_LOCK"sv,        "CAP_IPC_OWNER"sv,
    "CAP_SYS_MODULE"sv,     "CAP_SYS_RAWIO"sv,      "CAP_SYS_CHROOT"sv,      "CAP_SYS_PTRACE"sv,
    "CAP_SYS_PACCT"sv,      "CAP_SYS_ADMIN"sv,      "CAP_SYS_BOOT"sv,        "CAP_SYS_NICE"sv,
    "CAP_SYS_RESOURCE"sv,   "CAP_SYS_TIME"sv,       "CAP_SYS_TTY_CONFIG"sv,  "CAP_MKNOD"sv,
    "CAP_LEASE"sv,          "CAP_AUDIT_WRITE"sv,    "CAP_AUDIT_CONTROL"sv,   "CAP_SETFCAP"sv,
    "CAP_MAC_OVERRIDE"sv,   "CAP_MAC_ADMIN"sv,      "CAP_SYSLOG"sv,          "CAP_WAKE_ALARM"sv,
    "CAP_BLOCK_SUSPEND"sv,  "CAP_AUDIT_READ"sv,     "CAP_PERFMON"sv,         "CAP_BPF"sv,
    "CAP_CHECKPOINT_RESTORE"sv};

// config-linux.md lists libseccomp 2.5.0's names; the later libseccomp
// architectures are accepted too, since the spec defers to seccomp.h.
constexpr std::array kSeccompArches = {
    "SCMP_ARCH_X86"sv,       "SCMP_ARCH_X86_64"sv,  "SCMP_ARCH_X32"sv,      "SCMP_ARCH_ARM"sv,
    "SCMP_ARCH_AARCH64"sv,   "SCMP_ARCH_MIPS"sv,    "SCMP_ARCH_MIPS64"sv,   "SCMP_ARCH_MIPS64N32"sv,
    "SCMP_ARCH_MIPSEL"sv,    "SCMP_ARCH_MIPSEL64"sv, "SCMP_ARCH_MIPSEL64N32"sv, "SCMP_ARCH_PPC"sv,
    "SCMP_ARCH_PPC64"sv,     "SCMP_ARCH_PPC64LE"sv, "SCMP_ARCH_S390"sv,     "SCMP_ARCH_S390X"sv,
    "SCMP_ARCH_PARISC"sv,    "SCMP_ARCH_PARISC64"sv, "SCMP_ARCH_RISCV64"sv, "SCMP_ARCH_LOONGARCH64"sv,
    "SCMP_ARCH_M68K"sv,      "SCMP_ARCH_SH"sv,      "SCMP_ARCH_SHEB"sv};

constexpr std::array kSeccompActions = {
    "SCMP_ACT_KILL"sv,  "SCMP_ACT_KILL_PROCESS"sv, "SCMP_ACT_KILL_THREAD"sv,
    "SCMP_ACT_TRAP"sv,  "SCMP_ACT_ERRNO"sv,        "SCMP_ACT_TRACE"sv,
    "SCMP_ACT_ALLOW"sv, "SCMP_ACT_LOG"sv,          "SCMP_ACT_NOTIFY"sv};

constexpr std::array kSeccompOperators = {"SCMP_CMP_NE"sv, "SCMP_CMP_LT"sv, "SCMP_CMP_LE"sv,
                                          "SCMP_CMP_EQ"sv, "SCMP_CMP_GE"sv, "SCMP_CMP_GT"sv,
                                          "SCMP_CMP_MASKED_EQ"sv};

constexpr std::array kSeccompFlags = {"SECCOMP_FILTER_FLAG_TSYNC"sv, "SECCOMP_FILTER_FLAG_LOG"sv,
                                      "SECCOMP_FILTER_FLAG_SPEC_ALLOW"sv,
                                      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"sv};

constexpr std::array kSchedPolicies = {"SCHED_OTHER"sv, "SCHED_FIFO"sv, "SCHED_RR"sv,
                                       "SCHED_BATCH"sv, "SCHED_ISO"sv,  "SCHED_IDLE"sv,
                                       "SCHED_DEADLINE"sv};

constexpr std::array kSchedFlags = {
    "SCHED_FLAG_RESET_ON_FORK"sv, "SCHED_FLAG_RECLAIM"sv,        "SCHED_FLAG_DL_OVERRUN"sv,
    "SCHED_FLAG_KEEP_POLICY"sv,   "SCHED_FLAG_KEEP_PARAMS"sv,    "SCHED_FLAG_UTIL_CLAMP_MIN"sv,
    "SCHED_FLAG_UTIL_CLAMP_MAX"sv};

constexpr std::array kIOPrioClasses = {"IOPRIO_CLASS_RT"sv, "IOPRIO_CLASS_BE"sv,
                                       "IOPRIO_CLASS_IDLE"sv};

// config-linux.md allows shared, slave, private, unbindable. runc also takes
// the recursive forms, and CRI-O writes "rslave"/"rshared": refusing them
// would break a drop-in replacement, so they are accepted too.
constexpr std::array kRootfsPropagation = {"shared"sv,  "slave"sv,  "private"sv,  "unbindable"sv,
                                           "rshared"sv, "rslave"sv, "rprivate"sv, "runbindable"sv};

// sysctls that belong to the IPC namespace (runc's list), besides fs.mqueue.*.
constexpr std::array kIpcSysctls = {"kernel.msgmax"sv, "kernel.msgmnb"sv, "kernel.msgmni"sv,
                                    "kernel.sem"sv,    "kernel.shmall"sv, "kernel.shmmax"sv,
                                    "kernel.shmmni"sv, "kernel.shm_rmid_forced"sv};

// --- error helpers ---------------------------------------------------------

std::string key(std::string_view base, std::string_view k) {
    std::string p(base);
    p += "[\"";
    p += k;
    p += "\"]";
    return p;
}

std::string dot(std::string_view base, std::string_view field) {
    std::string p(base);
    if (!p.empty()) p += '.';
    p += field;
    return p;
}

class Checker {
public:
    explicit Checker(std::string_view source) : source_(source) {}

    Error error(std::string_view path, std::string_view message) const {
        std::string m(source_);
        m += ": ";
        m += path;
        m += ": ";
        m += message;
        return Error(std::move(m));
    }

private:
    std::string_view source_;
};

bool is_abs(std::string_view p) { return !p.empty() && p.front() == '/'; }

bool is_ns_name(std::string_view s) { return one_of(s, kNamespaceTypes); }

// SemVer 2.0.0: MAJOR.MINOR.PATCH[-prerelease][+build].
bool is_semver(std::string_view v, unsigned &major) {
    auto number = [&](unsigned &out) {
        size_t n = 0;
        while (n < v.size() && v[n] >= '0' && v[n] <= '9') ++n;
        if (n == 0 || n > 9 || (n > 1 && v[0] == '0')) return false;
        out = 0;
        for (size_t i = 0; i < n; ++i) out = out * 10 + unsigned(v[i] - '0');
        v.remove_prefix(n);
        return true;
    };
    auto identifiers = [&]() { // dot-separated, non-empty, [0-9A-Za-z-]
        size_t n = 0;
        bool empty = true;
        for (; n < v.size() && v[n] != '+'; ++n) {
            char c = v[n];
            if (c == '.') {
                if (empty) return false;
                empty = true;
            } else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                       (c >= 'A' && c <= 'Z') || c == '-') {
                empty = false;
            } else {
                return false;
            }
        }
        v.remove_prefix(n);
        return !empty;
    };
    unsigned minor = 0, patch = 0;
    if (!number(major) || v.empty() || v[0] != '.') return false;
    v.remove_prefix(1);
    if (!number(minor) || v.empty() || v[0] != '.') return false;
    v.remove_prefix(1);
    if (!number(patch)) return false;
    if (!v.empty() && v[0] == '-') {
        v.remove_prefix(1);
        if (!identifiers()) return false;
    }
    if (!v.empty() && v[0] == '+') {
        v.remove_prefix(1);
        if (!identifiers() || !v.empty()) return false;
    }
    return v.empty();
}

// --- process ---------------------------------------------------------------

Status check_scheduler(const Checker &c, const Scheduler &s, const std::string &base) {
    if (!one_of(s.policy, kSchedPolicies))
        return c.error(dot(base, "policy"), "unknown scheduling policy " + in_quotes(s.policy));
    for (size_t i = 0; i < s.flags.size(); ++i)
        if (!one_of(s.flags[i], kSchedFlags))
            return c.error(indexed(dot(base, "flags"), i), "unknown scheduler flag " + in_quotes(s.flags[i]));
    // sched_setattr(2) ranges, as runc checks them.
    if (s.nice < -20 || s.nice > 19)
        return c.error(dot(base, "nice"), std::to_string(s.nice) + " is outside -20..19");
    if (s.priority != 0 && s.policy != "SCHED_FIFO" && s.policy != "SCHED_RR")
        return c.error(dot(base, "priority"), "only SCHED_FIFO and SCHED_RR take a priority");
    if (s.policy != "SCHED_DEADLINE" && (s.runtime || s.deadline || s.period))
        return c.error(base, "runtime, deadline and period are only for SCHED_DEADLINE");
    return ok();
}

// A CPU list as execCPUAffinity takes it: "0-3,7" (schema: ^[0-9, -]*$).
bool is_cpu_list_chars(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char ch) {
        return (ch >= '0' && ch <= '9') || ch == ',' || ch == ' ' || ch == '-';
    });
}

Status check_process(const Checker &c, const Process &p, const std::string &base) {
    if (!is_abs(p.cwd)) return c.error(dot(base, "cwd"), "must be an absolute path, got " + in_quotes(p.cwd));
    // config.md: at least one entry is REQUIRED (non-Windows); it is the
    // execvp file, so it cannot be empty either.
    if (p.args.empty()) return c.error(dot(base, "args"), "must contain at least one entry");
    if (p.args[0].empty()) return c.error(indexed(dot(base, "args"), 0), "must not be empty");

    // environ(7) entries are NAME=value; runc refuses anything else.
    for (size_t i = 0; i < p.env.size(); ++i) {
        size_t eq = p.env[i].find('=');
        if (eq == std::string::npos)
            return c.error(indexed(dot(base, "env"), i), in_quotes(p.env[i]) + " is not of the form NAME=value");
        if (eq == 0) return c.error(indexed(dot(base, "env"), i), "variable name is empty");
    }

    // config.md: unknown types and duplicated types MUST be errors.
    for (size_t i = 0; i < p.rlimits.size(); ++i) {
        const Rlimit &r = p.rlimits[i];
        std::string path = indexed(dot(base, "rlimits"), i);
        if (!one_of(r.type, kRlimits))
            return c.error(dot(path, "type"), "unknown rlimit type " + in_quotes(r.type));
        for (size_t j = 0; j < i; ++j)
            if (p.rlimits[j].type == r.type)
                return c.error(dot(path, "type"), "duplicate rlimit type " + in_quotes(r.type) +
                                                      " (also at " + indexed(dot(base, "rlimits"), j) + ")");
        // setrlimit(2) fails with EINVAL on soft > hard; say so by name.
        if (r.soft > r.hard)
            return c.error(dot(path, "soft"), std::to_string(r.soft) + " is above the hard limit " +
                                                  std::to_string(r.hard));
    }

    // OOM_SCORE_ADJ_MIN..OOM_SCORE_ADJ_MAX; the kernel refuses the rest.
    if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000))
        return c.error(dot(base, "oomScoreAdj"), std::to_string(*p.oom_score_adj) + " is outside -1000..1000");

    if (p.scheduler) CORRAL_TRY(check_scheduler(c, *p.scheduler, dot(base, "scheduler")));

    if (p.io_priority) {
        std::string path = dot(base, "ioPriority");
        if (!one_of(p.io_priority->klass, kIOPrioClasses))
            return c.error(dot(path, "class"), "unknown I/O priority class " + in_quotes(p.io_priority->klass));
        if (p.io_priority->priority < 0 || p.io_priority->priority > 7)
            return c.error(dot(path, "priority"), std::to_string(p.io_priority->priority) + " is outside 0..7");
    }

    if (p.exec_cpu_affinity) {
        std::string path = dot(base, "execCPUAffinity");
        if (!is_cpu_list_chars(p.exec_cpu_affinity->initial))
            return c.error(dot(path, "initial"), in_quotes(p.exec_cpu_affinity->initial) + " is not a CPU list");
        if (!is_cpu_list_chars(p.exec_cpu_affinity->final))
            return c.error(dot(path, "final"), in_quotes(p.exec_cpu_affinity->final) + " is not a CPU list");
    }
    // Capability names are not checked here: config.md says names that
    // cannot be mapped MUST be logged as a warning and SHOULD NOT fail the
    // container (see spec_warnings).
    return ok();
}

// --- hooks -----------------------------------------------------------------

Status check_hooks(const Checker &c, const std::vector<Hook> &hooks, std::string_view kind) {
    for (size_t i = 0; i < hooks.size(); ++i) {
        std::string path = indexed(dot("hooks", kind), i);
        if (!is_abs(hooks[i].path))
            return c.error(dot(path, "path"), "must be an absolute path, got " + in_quotes(hooks[i].path));
        if (hooks[i].timeout && *hooks[i].timeout <= 0)
            return c.error(dot(path, "timeout"), "must be greater than zero, got " + std::to_string(*hooks[i].timeout));
    }
    return ok();
}

// --- linux -----------------------------------------------------------------

// "2MB": <size><unit-prefix>B, as in the hugetlb.<size>.* cgroup files.
bool is_page_size(std::string_view s) {
    if (s.size() < 3 || s.back() != 'B') return false;
    char unit = s[s.size() - 2];
    if (unit != 'K' && unit != 'M' && unit != 'G' && unit != 'T' && unit != 'P' && unit != 'E')
        return false;
    std::string_view digits = s.substr(0, s.size() - 2);
    return digits[0] != '0' && std::all_of(digits.begin(), digits.end(),
                                           [](char ch) { return ch >= '0' && ch <= '9'; });
}

Status check_resources(const Checker &c, const Resources &r) {
    const std::string base = "linux.resources";
    for (size_t i = 0; i < r.devices.size(); ++i) {
        const DeviceRule &d = r.devices[i];
        std::string path = indexed(dot(base, "devices"), i);
        if (!d.type.empty() && d.type != "a" && d.type != "c" && d.type != "b")
            return c.error(dot(path, "type"), "must be a, c or b, got " + in_quotes(d.type));
        for (char ch : d.access)
            if (ch != 'r' && ch != 'w' && ch != 'm')
                return c.error(dot(path, "access"), in_quotes(d.access) + " is not made of r, w and m");
    }

    if (r.memory) {
        // "Values for memory specify the limit in bytes, or -1 for unlimited."
        const std::string path = dot(base, "memory");
        const std::pair<const char *, const std::optional<int64_t> *> limits[] = {
            {"limit", &r.memory->limit},   {"reservation", &r.memory->reservation},
            {"swap", &r.memory->swap},     {"kernel", &r.memory->kernel},
            {"kernelTCP", &r.memory->kernel_tcp}};
        for (const auto &[name, value] : limits)
            if (*value && **value < -1)
                return c.error(dot(path, name), std::to_string(**value) +
                                                    " is neither a number of bytes nor -1 (unlimited)");
        if (r.memory->swappiness && *r.memory->swappiness > 100)
            return c.error(dot(path, "swappiness"), std::to_string(*r.memory->swappiness) + " is outside 0..100");
    }

    if (r.cpu) {
        const std::string path = dot(base, "cpu");
        // A positive quota MUST be no smaller than burst (runtimes MAY error).
        if (r.cpu->quota && *r.cpu->quota > 0 && r.cpu->burst &&
            *r.cpu->burst > static_cast<uint64_t>(*r.cpu->quota))
            return c.error(dot(path, "burst"), std::to_string(*r.cpu->burst) + " is larger than quota " +
                                                   std::to_string(*r.cpu->quota));
        // cpu.idle takes 0 (default) or 1 (SCHED_IDLE).
        if (r.cpu->idle && *r.cpu->idle != 0 && *r.cpu->idle != 1)
            return c.error(dot(path, "idle"), "must be 0 or 1, got " + std::to_string(*r.cpu->idle));
    }

    if (r.block_io) {
        for (size_t i = 0; i < r.block_io->weight_device.size(); ++i) {
            const WeightDevice &d = r.block_io->weight_device[i];
            if (!d.weight && !d.leaf_weight)
                return c.error(indexed(dot(base, "blockIO.weightDevice"), i),
                               "one of weight or leafWeight is required");
        }
    }

    for (size_t i = 0; i < r.hugepage_limits.size(); ++i)
        if (!is_page_size(r.hugepage_limits[i].page_size))
            return c.error(dot(indexed(dot(base, "hugepageLimits"), i), "pageSize"),
                           in_quotes(r.hugepage_limits[i].page_size) + " is not of the form <size><K|M|G...>B");

    // Each key names a file in the container's cgroup directory: a slash or
    // a dot-dot would write outside it.
    for (const auto &[file, value] : r.unified) {
        (void)value;
        if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos)
            return c.error(key(dot(base, "unified"), file), "must be a cgroup file name");
    }
    return ok();
}

Status check_seccomp(const Checker &c, const Seccomp &s) {
    const std::string base = "linux.seccomp";
    auto takes_errno = [](std::string_view action) {
        return action == "SCMP_ACT_ERRNO" || action == "SCMP_ACT_TRACE";
    };
    if (!one_of(s.default_action, kSeccompActions))
        return c.error(dot(base, "defaultAction"), "unknown seccomp action " + in_quotes(s.default_action));
    // The agent could never be reached: every syscall, including the ones
    // that would talk to it, would wait on it (runc refuses this too).
    if (s.default_action == "SCMP_ACT_NOTIFY")
        return c.error(dot(base, "defaultAction"), "SCMP_ACT_NOTIFY cannot be the default action");
    // "When the action doesn't support an errno, the runtime MUST print an
    // error and fail."
    if (s.default_errno_ret && !takes_errno(s.default_action))
        return c.error(dot(base, "defaultErrnoRet"), "action " + in_quotes(s.default_action) + " takes no errno");
    for (size_t i = 0; i < s.architectures.size(); ++i)
        if (!one_of(s.architectures[i], kSeccompArches))
            return c.error(indexed(dot(base, "architectures"), i), "unknown architecture " + in_quotes(s.architectures[i]));
    for (size_t i = 0; i < s.flags.size(); ++i)
        if (!one_of(s.flags[i], kSeccompFlags))
            return c.error(indexed(dot(base, "flags"), i), "unknown seccomp flag " + in_quotes(s.flags[i]));
    if (!s.listener_metadata.empty() && s.listener_path.empty())
        return c.error(dot(base, "listenerMetadata"), "must not be set without listenerPath");

    for (size_t i = 0; i < s.syscalls.size(); ++i) {
        const SeccompSyscall &sc = s.syscalls[i];
        std::string path = indexed(dot(base, "syscalls"), i);
        if (sc.names.empty()) return c.error(dot(path, "names"), "must contain at least one entry");
        for (size_t j = 0; j < sc.names.size(); ++j)
            if (sc.names[j].empty()) return c.error(indexed(dot(path, "names"), j), "must not be empty");
        if (!one_of(sc.action, kSeccompActions))
            return c.error(dot(path, "action"), "unknown seccomp action " + in_quotes(sc.action));
        if (sc.errno_ret && !takes_errno(sc.action))
            return c.error(dot(path, "errnoRet"), "action " + in_quotes(sc.action) + " takes no errno");
        if (sc.action == "SCMP_ACT_NOTIFY" && s.listener_path.empty())
            return c.error(dot(path, "action"), "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
        for (size_t j = 0; j < sc.args.size(); ++j) {
            std::string apath = indexed(dot(path, "args"), j);
            if (sc.args[j].index > 5) // a system call has at most six arguments
                return c.error(dot(apath, "index"), std::to_string(sc.args[j].index) + " is outside 0..5");
            if (!one_of(sc.args[j].op, kSeccompOperators))
                return c.error(dot(apath, "op"), "unknown seccomp operator " + in_quotes(sc.args[j].op));
        }
    }
    return ok();
}

// Sysctl keys may use '/' instead of '.' (sysctl.d(5)): "net/ipv4/ip_forward".
// Return the dotted form, where a '/' stands for a '.' inside a component
// ("net.ipv4.conf.eno2/100.rp_filter").
std::string dotted_sysctl(std::string_view k) {
    std::string s(k);
    size_t first = s.find_first_of("./");
    if (first != std::string::npos && s[first] == '/')
        for (char &ch : s) ch = ch == '/' ? '.' : ch == '.' ? '/' : ch;
    return s;
}

Status check_sysctl(const Checker &c, const Spec &spec) {
    const Linux &l = *spec.linux;
    for (const auto &[name, value] : l.sysctl) {
        (void)value;
        std::string path = key("linux.sysctl", name);
        std::string s = dotted_sysctl(name);
        // The key becomes a path under /proc/sys, each dotted component a
        // path component (its '/' turned back into '.'): none may be empty,
        // "." or "..", or the write would land elsewhere.
        for (size_t start = 0;;) {
            size_t end = s.find('.', start);
            std::string_view comp = std::string_view(s).substr(start, end == std::string::npos ? end : end - start);
            if (comp.empty() || comp == "/" || comp == "//") return c.error(path, "is not a valid sysctl name");
            if (end == std::string::npos) break;
            start = end + 1;
        }
        // /proc/sys is only partly namespaced: allow a key only when the
        // container has its own namespace for it (runc's rules), or it
        // would change the host.
        if (one_of(std::string_view(s), kIpcSysctls) || s.starts_with("fs.mqueue.")) {
            if (!spec.find_namespace("ipc")) return c.error(path, "needs an ipc namespace");
            continue;
        }
        if (s.starts_with("net.")) {
            // runc also refuses a netns path that is the host's own; that
            // needs a stat of the path, which is the runtime's job.
            if (!spec.find_namespace("network")) return c.error(path, "needs a network namespace");
            continue;
        }
        if (spec.find_namespace("uts")) {
            if (s == "kernel.domainname") continue;
            if (s == "kernel.hostname") return c.error(path, "conflicts with the hostname field; set that instead");
        }
        return c.error(path, "is not namespaced: setting it would change the host");
    }
    return ok();
}

Status check_linux(const Checker &c, const Spec &spec) {
    const Linux &l = *spec.linux;

    // config-linux.md: duplicated types MUST be an error; a path MUST be absolute.
    for (size_t i = 0; i < l.namespaces.size(); ++i) {
        const Namespace &ns = l.namespaces[i];
        std::string path = indexed("linux.namespaces", i);
        if (!is_ns_name(ns.type)) return c.error(dot(path, "type"), "unknown namespace type " + in_quotes(ns.type));
        for (size_t j = 0; j < i; ++j)
            if (l.namespaces[j].type == ns.type)
                return c.error(dot(path, "type"), "duplicate namespace type " + in_quotes(ns.type) +
                                                      " (also at " + indexed("linux.namespaces", j) + ")");
        if (!ns.path.empty() && !is_abs(ns.path))
            return c.error(dot(path, "path"), "must be an absolute path, got " + in_quotes(ns.path));
    }

    // Mappings without a user namespace would be silently unused (runc
    // refuses them).
    if (!spec.find_namespace("user")) {
        if (!l.uid_mappings.empty()) return c.error("linux.uidMappings", "needs a user namespace");
        if (!l.gid_mappings.empty()) return c.error("linux.gidMappings", "needs a user namespace");
    }

    if (!l.time_offsets.empty() && !spec.find_namespace("time"))
        return c.error("linux.timeOffsets", "needs a time namespace");
    for (const auto &[clock, off] : l.time_offsets) {
        // time_namespaces(7): only these two clocks have offsets.
        if (clock != "monotonic" && clock != "boottime")
            return c.error(key("linux.timeOffsets", clock), "unknown clock (monotonic or boottime)");
        if (off.nanosecs >= 1000000000u)
            return c.error(dot(key("linux.timeOffsets", clock), "nanosecs"),
                           std::to_string(off.nanosecs) + " is not below one second");
    }

    for (size_t i = 0; i < l.devices.size(); ++i) {
        const Device &d = l.devices[i];
        std::string path = indexed("linux.devices", i);
        if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
            return c.error(dot(path, "type"), "must be c, b, u or p, got " + in_quotes(d.type));
        if (!is_abs(d.path)) return c.error(dot(path, "path"), "must be an absolute path, got " + in_quotes(d.path));
    }

    if (l.resources) CORRAL_TRY(check_resources(c, *l.resources));

    if (!l.rootfs_propagation.empty() && !one_of(std::string_view(l.rootfs_propagation), kRootfsPropagation))
        return c.error("linux.rootfsPropagation",
                       "must be shared, slave, private or unbindable, got " + in_quotes(l.rootfs_propagation));

    // "The values MUST be absolute paths in the container namespace."
    for (size_t i = 0; i < l.masked_paths.size(); ++i)
        if (!is_abs(l.masked_paths[i]))
            return c.error(indexed("linux.maskedPaths", i), "must be an absolute path, got " + in_quotes(l.masked_paths[i]));
    for (size_t i = 0; i < l.readonly_paths.size(); ++i)
        if (!is_abs(l.readonly_paths[i]))
            return c.error(indexed("linux.readonlyPaths", i), "must be an absolute path, got " + in_quotes(l.readonly_paths[i]));
    // Masking in the host's mount namespace would mask the host (runc refuses).
    if ((!l.masked_paths.empty() || !l.readonly_paths.empty()) && !spec.find_namespace("mount"))
        return c.error(l.masked_paths.empty() ? "linux.readonlyPaths" : "linux.maskedPaths",
                       "unable to restrict sys entries without a private MNT namespace (linux.namespaces lists "
                       "no mount namespace)");

    CORRAL_TRY(check_sysctl(c, spec));
    if (l.seccomp) CORRAL_TRY(check_seccomp(c, *l.seccomp));

    if (l.personality) {
        if (l.personality->domain != "LINUX" && l.personality->domain != "LINUX32")
            return c.error("linux.personality.domain", "must be LINUX or LINUX32, got " + in_quotes(l.personality->domain));
        // "Currently no flag values are supported."
        if (!l.personality->flags.empty())
            return c.error(indexed("linux.personality.flags", 0), "unsupported flag " + in_quotes(l.personality->flags[0]));
    }
    return ok();
}

bool has_option(const Mount &m, std::string_view opt) {
    return std::find(m.options.begin(), m.options.end(), opt) != m.options.end();
}

} // namespace

Status validate_process(const Process &process, std::string_view source) {
    return check_process(Checker(source), process, "");
}

Status validate_spec(const Spec &spec, std::string_view source) {
    const Checker c(source);

    // "MUST be in SemVer v2.0.0 format"; compatibility holds within a major version.
    unsigned major = 0;
    if (!is_semver(spec.oci_version, major))
        return c.error("ociVersion", in_quotes(spec.oci_version) + " is not a SemVer 2.0.0 version");
    if (major != 1)
        return c.error("ociVersion", "version " + spec.oci_version + " is not supported (corral implements " +
                                         kOciVersion + ")");

    // root is REQUIRED on every platform but Windows.
    if (!spec.root) return c.error("root", "required field is missing");
    if (spec.root->path.empty()) return c.error("root.path", "must not be empty");

    const bool userns = spec.find_namespace("user") != nullptr;
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        const Mount &m = spec.mounts[i];
        std::string path = indexed("mounts", i);
        // Relative destinations are deprecated but allowed on Linux, "MUST be
        // interpreted as relative to /" (runc: a warning). See spec_warnings.
        if (m.destination.empty()) return c.error(dot(path, "destination"), "must not be empty");
        // "If specified, it MUST be specified along with gidMappings" (and back).
        if (m.uid_mappings.empty() != m.gid_mappings.empty())
            return c.error(dot(path, m.uid_mappings.empty() ? "uidMappings" : "gidMappings"),
                           "must be given together with " +
                               std::string(m.uid_mappings.empty() ? "gidMappings" : "uidMappings"));
        // idmap/ridmap with neither mount mappings nor a user namespace to
        // take them from: an error MUST be returned.
        if ((has_option(m, "idmap") || has_option(m, "ridmap")) && m.uid_mappings.empty() && !userns)
            return c.error(dot(path, "options"), "idmap needs uidMappings/gidMappings or a user namespace");
    }

    if (spec.process) CORRAL_TRY(check_process(c, *spec.process, "process"));

    // Setting the name in the host's UTS namespace would rename the host.
    // (The spec no longer demands this error; runc still makes it.)
    if (!spec.hostname.empty() && !spec.find_namespace("uts"))
        return c.error("hostname", "unable to set hostname without a private UTS namespace (linux.namespaces "
                                   "lists no uts namespace, new or joined by path)");
    if (!spec.domainname.empty() && !spec.find_namespace("uts"))
        return c.error("domainname", "unable to set domainname without a private UTS namespace (linux.namespaces "
                                     "lists no uts namespace, new or joined by path)");

    if (spec.hooks) {
        const Hooks &h = *spec.hooks;
        CORRAL_TRY(check_hooks(c, h.prestart, "prestart"));
        CORRAL_TRY(check_hooks(c, h.create_runtime, "createRuntime"));
        CORRAL_TRY(check_hooks(c, h.create_container, "createContainer"));
        CORRAL_TRY(check_hooks(c, h.start_container, "startContainer"));
        CORRAL_TRY(check_hooks(c, h.poststart, "poststart"));
        CORRAL_TRY(check_hooks(c, h.poststop, "poststop"));
    }

    // "Keys MUST NOT be an empty string."
    if (spec.annotations.count("")) return c.error(key("annotations", ""), "key must not be empty");

    if (spec.linux) CORRAL_TRY(check_linux(c, spec));
    return ok();
}

std::vector<std::string> spec_warnings(const Spec &spec, std::string_view source) {
    std::vector<std::string> out;
    auto warn = [&](const std::string &path, const std::string &message) {
        std::string m(source);
        m += ": ";
        m += path;
        m += ": ";
        m += message;
        out.push_back(std::move(m));
    };
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        const std::string &d = spec.mounts[i].destination;
        if (!d.empty() && d.front() != '/')
            warn(dot(indexed("mounts", i), "destination"),
                 "relative destination " + in_quotes(d) + " is deprecated; taken as relative to /");
    }
    if (spec.process && spec.process->capabilities) {
        const Capabilities &caps = *spec.process->capabilities;
        const std::pair<const char *, const std::vector<std::string> *> sets[] = {
            {"bounding", &caps.bounding},       {"effective", &caps.effective},
            {"inheritable", &caps.inheritable}, {"permitted", &caps.permitted},
            {"ambient", &caps.ambient}};
        for (const auto &[name, set] : sets)
            for (size_t i = 0; i < set->size(); ++i)
                if (!one_of(std::string_view((*set)[i]), kCapabilities))
                    warn(indexed(dot("process.capabilities", name), i),
                         "unknown capability " + in_quotes((*set)[i]) + ", ignored");
    }
    return out;
}

} // namespace corral::spec
