// seccomp.cpp — compile linux.seccomp with libseccomp in the runtime, load
// the exported BPF with one system call in the container's init.
//
// Why export instead of seccomp_load() in the child: libseccomp builds the
// program with malloc, which is not async-signal-safe after clone, and the
// work (a few hundred rules) is better done once, before clone, where an
// error can still name the config field.
#include "runtime/seccomp.hpp"

#include "common/fd.hpp"
#include "common/field_path.hpp"
#include "common/fs.hpp"

#include <seccomp.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace corral {
namespace {

using namespace std::string_view_literals;

// --- names -----------------------------------------------------------------

enum class ActionKind { kill_thread, kill_process, trap, errno_ret, trace, allow, log, notify };

struct ActionName {
    std::string_view name;
    ActionKind kind;
};
constexpr std::array kActions = {
    ActionName{"SCMP_ACT_KILL"sv, ActionKind::kill_thread}, // the old name of KILL_THREAD
    ActionName{"SCMP_ACT_KILL_PROCESS"sv, ActionKind::kill_process},
    ActionName{"SCMP_ACT_KILL_THREAD"sv, ActionKind::kill_thread},
    ActionName{"SCMP_ACT_TRAP"sv, ActionKind::trap},
    ActionName{"SCMP_ACT_ERRNO"sv, ActionKind::errno_ret},
    ActionName{"SCMP_ACT_TRACE"sv, ActionKind::trace},
    ActionName{"SCMP_ACT_ALLOW"sv, ActionKind::allow},
    ActionName{"SCMP_ACT_LOG"sv, ActionKind::log},
    ActionName{"SCMP_ACT_NOTIFY"sv, ActionKind::notify},
};

struct OperatorName {
    std::string_view name;
    scmp_compare op;
};
constexpr std::array kOperators = {
    OperatorName{"SCMP_CMP_NE"sv, SCMP_CMP_NE}, OperatorName{"SCMP_CMP_LT"sv, SCMP_CMP_LT},
    OperatorName{"SCMP_CMP_LE"sv, SCMP_CMP_LE}, OperatorName{"SCMP_CMP_EQ"sv, SCMP_CMP_EQ},
    OperatorName{"SCMP_CMP_GE"sv, SCMP_CMP_GE}, OperatorName{"SCMP_CMP_GT"sv, SCMP_CMP_GT},
    OperatorName{"SCMP_CMP_MASKED_EQ"sv, SCMP_CMP_MASKED_EQ},
};

struct ArchName {
    std::string_view name;
    uint32_t token;
};
// The spec's names that this libseccomp has a token for; the newer ones
// (LOONGARCH64, M68K, SH in libseccomp 2.6) appear when built against it.
constexpr ArchName kArchs[] = {
    {"SCMP_ARCH_X86"sv, SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64"sv, SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32"sv, SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM"sv, SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64"sv, SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS"sv, SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64"sv, SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32"sv, SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL"sv, SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64"sv, SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32"sv, SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC"sv, SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64"sv, SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE"sv, SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390"sv, SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X"sv, SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC"sv, SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64"sv, SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64"sv, SCMP_ARCH_RISCV64},
#ifdef SCMP_ARCH_LOONGARCH64
    {"SCMP_ARCH_LOONGARCH64"sv, SCMP_ARCH_LOONGARCH64},
#endif
#ifdef SCMP_ARCH_M68K
    {"SCMP_ARCH_M68K"sv, SCMP_ARCH_M68K},
#endif
#ifdef SCMP_ARCH_SH
    {"SCMP_ARCH_SH"sv, SCMP_ARCH_SH},
    {"SCMP_ARCH_SHEB"sv, SCMP_ARCH_SHEB},
#endif
};

struct FlagName {
    std::string_view name;
    unsigned bit;
};
// The flags of config-linux.md. We call seccomp(2) ourselves, so a flag
// needs only the kernel headers and the running kernel, not a libseccomp
// that knows it (2.5.4 has no WAIT_KILLABLE_RECV attribute).
constexpr FlagName kFlags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC"sv, SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG"sv, SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW"sv, SECCOMP_FILTER_FLAG_SPEC_ALLOW},
#ifdef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"sv, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
#endif
};

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif

// --- helpers -----------------------------------------------------------------

// "config.json: linux.seccomp.syscalls[3].action: message". Paths are built
// only on the error path, so a good profile costs no string work.
class Where {
public:
    explicit Where(std::string_view source) : source_(source) {}
    Error error(std::string_view path, std::string_view message) const {
        std::string m;
        m.reserve(source_.size() + path.size() + message.size() + 18);
        m += source_;
        m += ": linux.seccomp";
        if (!path.empty()) m += '.';
        m += path;
        m += ": ";
        m += message;
        return Error(std::move(m));
    }

private:
    std::string_view source_;
};

std::string syscall_field(size_t i, std::string_view field) {
    std::string p = indexed("syscalls", i);
    if (!field.empty()) {
        p += '.';
        p += field;
    }
    return p;
}

template <class Table>
auto find_name(const Table &table, std::string_view name) -> decltype(&table[0]) {
    for (const auto &entry : table)
        if (entry.name == name) return &entry;
    return nullptr;
}

std::string hex(unsigned v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%x", v);
    return buf;
}

std::string seccomp_version_string() {
    const scmp_version *v = seccomp_version();
    if (!v) return "?";
    return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro);
}

// Would seccomp(2) accept these flags? Asked with a NULL program: the kernel
// checks the flags first and then fails to copy the program with EFAULT,
// installing nothing (libseccomp probes the same way).
bool kernel_accepts_flags(unsigned flags) {
    errno = 0;
    long r = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, nullptr);
    return r < 0 && errno == EFAULT;
}

// A flag alone, with what the kernel requires beside it.
bool kernel_has_flag(unsigned bit) {
#ifdef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
    if (bit == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) bit |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
#endif
    return kernel_accepts_flags(bit);
}

struct CtxDeleter {
    void operator()(void *ctx) const noexcept { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

// A spec action and its errno to libseccomp's action value. ERRNO and TRACE
// default to EPERM, as in runc (its actErrno, actTrace). `rule` is the index
// in syscalls[], or none for the default action.
Result<uint32_t> to_action(const Where &w, std::optional<size_t> rule, std::string_view name,
                           const std::optional<uint32_t> &errno_ret) {
    auto path = [&] { return rule ? syscall_field(*rule, "action") : std::string("defaultAction"); };
    auto errno_field = [&] { return rule ? syscall_field(*rule, "errnoRet") : std::string("defaultErrnoRet"); };
    const ActionName *a = find_name(kActions, name);
    if (!a) return w.error(path(), "unknown action " + in_quotes(name));
    bool takes_errno = a->kind == ActionKind::errno_ret || a->kind == ActionKind::trace;
    // "When the action doesn't support an errno, the runtime MUST print an
    // error and fail."
    if (errno_ret && !takes_errno)
        return w.error(errno_field(), "action " + in_quotes(name) + " takes no errno");
    // SECCOMP_RET_DATA has 16 bits; libseccomp's macros (and runc's int16
    // cast) would silently truncate a larger value into another errno.
    if (errno_ret && *errno_ret > 0xffff)
        return w.error(errno_field(), std::to_string(*errno_ret) + " is outside 0..65535");
    uint32_t data = errno_ret ? *errno_ret : EPERM;
    switch (a->kind) {
    case ActionKind::kill_thread: return uint32_t(SCMP_ACT_KILL_THREAD);
    case ActionKind::kill_process: return uint32_t(SCMP_ACT_KILL_PROCESS);
    case ActionKind::trap: return uint32_t(SCMP_ACT_TRAP);
    case ActionKind::errno_ret: return uint32_t(SCMP_ACT_ERRNO(data));
    case ActionKind::trace: return uint32_t(SCMP_ACT_TRACE(data));
    case ActionKind::allow: return uint32_t(SCMP_ACT_ALLOW);
    case ActionKind::log: return uint32_t(SCMP_ACT_LOG);
    case ActionKind::notify: return uint32_t(SCMP_ACT_NOTIFY);
    }
    return w.error(path(), "unknown action " + in_quotes(name));
}

// Read back what seccomp_export_bpf wrote: libseccomp 2.5 exports only to
// an fd, so give it a memfd.
Result<std::vector<sock_filter>> export_bpf(const Where &w, void *ctx) {
    UniqueFd fd(::memfd_create("corral-seccomp", MFD_CLOEXEC));
    if (!fd) return Error::from_errno(errno, "memfd_create for the seccomp filter");
    if (int rc = seccomp_export_bpf(ctx, fd.get()); rc < 0)
        return w.error("", std::string("export the filter: ") + std::strerror(-rc));
    off_t size = ::lseek(fd.get(), 0, SEEK_CUR);
    if (size < 0) return Error::from_errno(errno, "lseek the seccomp filter");
    if (size == 0 || size % off_t(sizeof(sock_filter)) != 0)
        return w.error("", "libseccomp exported " + std::to_string(size) + " bytes, not whole BPF instructions");
    std::vector<sock_filter> filter(size_t(size) / sizeof(sock_filter));
    char *buf = reinterpret_cast<char *>(filter.data());
    for (off_t done = 0; done < size;) {
        ssize_t n = ::pread(fd.get(), buf + done, size_t(size - done), done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno(errno, "read back the seccomp filter");
        if (n == 0) return w.error("", "the exported filter is shorter than written");
        done += n;
    }
    return filter;
}

} // namespace

Result<SeccompProgram> compile_seccomp(const spec::Seccomp &s, std::string_view source) {
    const Where w(source);
    SeccompProgram prog;

    // 1. Check the config. Nothing here asks libseccomp or the kernel, so a
    //    config error reads the same everywhere, before any other error.
    if (s.default_action == "SCMP_ACT_NOTIFY")
        // Every system call, including the ones that hand the listener fd to
        // the agent, would wait for that agent (runc refuses this too).
        return w.error("defaultAction", "SCMP_ACT_NOTIFY cannot be the default action");
    const uint32_t default_action = CORRAL_TRY(to_action(w, std::nullopt, s.default_action, s.default_errno_ret));

    std::array<const ArchName *, std::size(kArchs)> archs{};
    size_t n_archs = 0;
    for (size_t i = 0; i < s.architectures.size(); ++i) {
        const ArchName *a = find_name(kArchs, s.architectures[i]);
        if (!a)
            return w.error(indexed("architectures", i), "architecture " + in_quotes(s.architectures[i]) +
                                                            " is unknown to libseccomp " + seccomp_version_string());
        if (std::find(archs.begin(), archs.begin() + n_archs, a) == archs.begin() + n_archs) archs[n_archs++] = a;
    }

    for (size_t i = 0; i < s.flags.size(); ++i)
        if (!find_name(kFlags, s.flags[i])) {
            if (s.flags[i] == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
                return w.error(indexed("flags", i),
                               in_quotes(s.flags[i]) + " is not in the kernel headers corral was built with");
            return w.error(indexed("flags", i), "unknown flag " + in_quotes(s.flags[i]));
        }

    for (size_t i = 0; i < s.syscalls.size(); ++i) {
        const spec::SeccompSyscall &sc = s.syscalls[i];
        const uint32_t action = CORRAL_TRY(to_action(w, i, sc.action, sc.errno_ret));
        if (sc.names.empty()) return w.error(syscall_field(i, "names"), "must contain at least one entry");
        for (size_t j = 0; j < sc.names.size(); ++j) {
            if (sc.names[j].empty()) return w.error(syscall_field(i, indexed("names", j)), "must not be empty");
            // The listener fd is written to the runtime after the filter is
            // loaded; a write that waits for the agent that waits for the fd
            // would hang the init (runc refuses this too).
            if (action == SCMP_ACT_NOTIFY && sc.names[j] == "write")
                return w.error(syscall_field(i, indexed("names", j)), "SCMP_ACT_NOTIFY cannot be used for \"write\"");
        }
        for (size_t j = 0; j < sc.args.size(); ++j) {
            const spec::SeccompArg &arg = sc.args[j];
            if (arg.index > 5) // a system call has at most six arguments
                return w.error(syscall_field(i, indexed("args", j) + ".index"),
                               std::to_string(arg.index) + " is outside 0..5");
            if (!find_name(kOperators, arg.op))
                return w.error(syscall_field(i, indexed("args", j) + ".op"), "unknown operator " + in_quotes(arg.op));
        }
        // As runc: the listener fd exists whenever the profile asks for
        // notification, even if every name of the rule turns out unknown,
        // so the agent protocol does not depend on the kernel's syscall table.
        if (action == SCMP_ACT_NOTIFY) prog.needs_notify_fd = true;
    }

    // 2. Flags: what the kernel must accept, so the init will not fail on it.
    for (size_t i = 0; i < s.flags.size(); ++i) {
        const FlagName *f = find_name(kFlags, s.flags[i]);
        if (!kernel_has_flag(f->bit))
            return w.error(indexed("flags", i), in_quotes(s.flags[i]) + " is not supported by this kernel");
#ifdef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        // Only with a listener: without one the kernel refuses the flag
        // (EINVAL), and there would be no notification to wait for.
        if (f->bit == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV && !prog.needs_notify_fd) continue;
#endif
        prog.flags |= f->bit;
    }
    // TSYNC with NEW_LISTENER is EINVAL unless TSYNC_ESRCH says how to
    // report a thread that cannot be synchronised (Linux 5.7).
    if (prog.needs_notify_fd && (prog.flags & SECCOMP_FILTER_FLAG_TSYNC))
        prog.flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    const unsigned load_flags = prog.flags | (prog.needs_notify_fd ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
    if (load_flags != 0 && !kernel_accepts_flags(load_flags))
        return w.error("flags", "this kernel refuses the seccomp(2) flags " + hex(load_flags) +
                                    (prog.needs_notify_fd ? " (NEW_LISTENER, for SCMP_ACT_NOTIFY, included)" : ""));

    // 3. The filter.
    Ctx ctx(seccomp_init(default_action));
    if (!ctx) return w.error("defaultAction", "libseccomp refused action " + in_quotes(s.default_action));
    // The init sets no_new_privs itself when process.noNewPrivileges asks;
    // the filter must not force it (runc: SetNoNewPrivsBit(false)). TSYNC
    // and the other flags are passed by load_seccomp, these attributes only
    // keep libseccomp's view in step.
    if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc < 0)
        return w.error("", std::string("clear the no_new_privs attribute: ") + std::strerror(-rc));
    if (prog.flags & SECCOMP_FILTER_FLAG_TSYNC)
        if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1); rc < 0)
            return w.error("flags", std::string("set TSYNC: ") + std::strerror(-rc));
    // A binary tree of syscall numbers instead of a linear list, for long
    // profiles: fewer BPF instructions run per system call in the container.
    // runc does this above 32 rules; libseccomp <= 2.5.4 misbehaves with the
    // tree and no rules at all.
    if (s.syscalls.size() > 32) (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);

    for (size_t i = 0; i < n_archs; ++i)
        // EEXIST: the native architecture is there from seccomp_init.
        if (int rc = seccomp_arch_add(ctx.get(), archs[i]->token); rc < 0 && rc != -EEXIST)
            return w.error("architectures", "add architecture " + in_quotes(archs[i]->name) + ": " + std::strerror(-rc));

    for (size_t i = 0; i < s.syscalls.size(); ++i) {
        const spec::SeccompSyscall &sc = s.syscalls[i];
        const uint32_t action = to_action(w, i, sc.action, sc.errno_ret).value(); // checked above
        if (action == default_action) continue; // libseccomp refuses it (EACCES); runc skips it too

        // The conditions, all ANDed in one rule. When two of them test the
        // same argument, runc (matchCall) falls back to one rule per
        // condition, which ORs them: profiles written for that behaviour
        // (e.g. "allow personality(x) for several x" in one entry) keep
        // their meaning, and libseccomp would refuse the ANDed form anyway.
        // For SCMP_CMP_MASKED_EQ, value is the mask and valueTwo the datum,
        // as libseccomp (datum_a, datum_b) and runc have them.
        auto cond = [](const spec::SeccompArg &arg) {
            return scmp_arg_cmp{arg.index, find_name(kOperators, arg.op)->op, arg.value, arg.value_two};
        };
        std::array<scmp_arg_cmp, 6> conds{};
        unsigned seen = 0; // bit per argument index
        bool same_index = false;
        for (size_t j = 0; j < sc.args.size(); ++j) {
            if (seen & (1u << sc.args[j].index)) same_index = true;
            seen |= 1u << sc.args[j].index;
            if (j < conds.size()) conds[j] = cond(sc.args[j]);
        }

        for (size_t j = 0; j < sc.names.size(); ++j) {
            const std::string &name = sc.names[j];
            int nr = seccomp_syscall_resolve_name(name.c_str());
            if (nr == __NR_SCMP_ERROR) {
                // As runc: a name this libseccomp does not know is a system
                // call newer than it (or one of another architecture), so
                // the profile is still usable; leave it out.
                prog.unknown_syscalls.push_back(name);
                continue;
            }
            int rc = 0;
            if (!same_index) { // then there are at most six
                rc = seccomp_rule_add_array(ctx.get(), action, nr, unsigned(sc.args.size()), conds.data());
            } else {
                for (const spec::SeccompArg &arg : sc.args) {
                    scmp_arg_cmp one = cond(arg);
                    if ((rc = seccomp_rule_add_array(ctx.get(), action, nr, 1, &one)) < 0) break;
                }
            }
            if (rc < 0)
                return w.error(syscall_field(i, indexed("names", j)),
                               "add rule for " + in_quotes(name) + ": " + std::strerror(-rc));
        }
    }

    // 4. Export. BPF_MAXINSNS is the kernel's limit per filter; better said
    //    here than as EINVAL in the init.
    prog.filter = CORRAL_TRY(export_bpf(w, ctx.get()));
    if (prog.filter.size() > BPF_MAXINSNS)
        return w.error("", "the filter has " + std::to_string(prog.filter.size()) +
                               " BPF instructions, more than the kernel's " + std::to_string(BPF_MAXINSNS));
    return prog;
}

// --- the cache -------------------------------------------------------------------

namespace {

// Bump the number whenever compile_seccomp gives a different program for the
// same input; CORRAL_VERSION in the key covers releases.
constexpr std::string_view kCacheMagic = "corral-seccomp-cache 1\n"sv;
// A full cache is emptied before the next entry is written: profiles are few
// in practice, and this keeps the directory bounded without any bookkeeping.
constexpr int kCacheMaxEntries = 64;

void put_u32(std::string &out, uint32_t v) { out.append(reinterpret_cast<const char *>(&v), sizeof v); }
void put_u64(std::string &out, uint64_t v) { out.append(reinterpret_cast<const char *>(&v), sizeof v); }
void put_str(std::string &out, std::string_view s) {
    put_u32(out, uint32_t(s.size()));
    out.append(s);
}

// Everything compile_seccomp's result depends on, length-prefixed so that no
// two different inputs give the same bytes.
std::string cache_key(const spec::Seccomp &s) {
    size_t size = 256;
    for (const auto &sc : s.syscalls) {
        size += 64 + sc.args.size() * 40;
        for (const auto &n : sc.names) size += 4 + n.size();
    }
    std::string k;
    k.reserve(size);
    k.append(kCacheMagic);
    put_str(k, CORRAL_VERSION);
    if (const scmp_version *v = seccomp_version()) {
        put_u32(k, v->major);
        put_u32(k, v->minor);
        put_u32(k, v->micro);
    }
    put_u32(k, seccomp_arch_native());
    struct utsname u {};
    if (::uname(&u) == 0) {
        put_str(k, u.release);
        put_str(k, u.version);
    }
    put_str(k, s.default_action);
    put_u64(k, s.default_errno_ret ? 0x100000000ull | *s.default_errno_ret : 0);
    put_u32(k, uint32_t(s.architectures.size()));
    for (const auto &a : s.architectures) put_str(k, a);
    put_u32(k, uint32_t(s.flags.size()));
    for (const auto &f : s.flags) put_str(k, f);
    put_u32(k, uint32_t(s.syscalls.size()));
    for (const auto &sc : s.syscalls) {
        put_u32(k, uint32_t(sc.names.size()));
        for (const auto &n : sc.names) put_str(k, n);
        put_str(k, sc.action);
        put_u64(k, sc.errno_ret ? 0x100000000ull | *sc.errno_ret : 0);
        put_u32(k, uint32_t(sc.args.size()));
        for (const auto &a : sc.args) {
            put_u32(k, a.index);
            put_u64(k, a.value);
            put_u64(k, a.value_two);
            put_str(k, a.op);
        }
    }
    return k;
}

// FNV-1a, 64 bits: only names the file; a hit compares the whole key.
std::string cache_file_name(std::string_view key) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : key) h = (h ^ c) * 0x100000001b3ull;
    char name[32];
    std::snprintf(name, sizeof name, "%016llx.bpf", static_cast<unsigned long long>(h));
    return name;
}

// File: key, flags, needs_notify_fd, unknown names, instructions.
std::string cache_entry(std::string_view key, const SeccompProgram &p) {
    std::string e;
    e.reserve(key.size() + 64 + p.filter.size() * sizeof(sock_filter));
    put_str(e, key);
    put_u32(e, p.flags);
    put_u32(e, p.needs_notify_fd ? 1 : 0);
    put_u32(e, uint32_t(p.unknown_syscalls.size()));
    for (const auto &n : p.unknown_syscalls) put_str(e, n);
    put_u32(e, uint32_t(p.filter.size()));
    e.append(reinterpret_cast<const char *>(p.filter.data()), p.filter.size() * sizeof(sock_filter));
    return e;
}

class Reader {
public:
    explicit Reader(std::string_view data) : d_(data) {}
    bool u32(uint32_t &v) { return raw(&v, sizeof v); }
    bool str(std::string_view &s) {
        uint32_t n = 0;
        if (!u32(n) || n > d_.size()) return false;
        s = d_.substr(0, n);
        d_.remove_prefix(n);
        return true;
    }
    bool raw(void *out, size_t n) {
        if (n > d_.size()) return false;
        std::memcpy(out, d_.data(), n);
        d_.remove_prefix(n);
        return true;
    }
    size_t left() const { return d_.size(); }

private:
    std::string_view d_;
};

std::optional<SeccompProgram> cache_parse(std::string_view data, std::string_view key) {
    Reader r(data);
    std::string_view stored_key;
    uint32_t flags = 0, notify = 0, unknown = 0, insns = 0;
    if (!r.str(stored_key) || stored_key != key) return std::nullopt;
    if (!r.u32(flags) || !r.u32(notify) || notify > 1 || !r.u32(unknown)) return std::nullopt;
    SeccompProgram p;
    p.flags = flags;
    p.needs_notify_fd = notify == 1;
    for (uint32_t i = 0; i < unknown; ++i) {
        std::string_view n;
        if (!r.str(n)) return std::nullopt;
        p.unknown_syscalls.emplace_back(n);
    }
    if (!r.u32(insns) || insns == 0 || insns > BPF_MAXINSNS || r.left() != insns * sizeof(sock_filter))
        return std::nullopt;
    p.filter.resize(insns);
    r.raw(p.filter.data(), insns * sizeof(sock_filter));
    return p;
}

// Ours and writable by no one else, or not trusted: a filter from the cache
// is loaded into the container as is.
bool trusted(const struct stat &st) { return st.st_uid == ::geteuid() && (st.st_mode & 022) == 0; }

std::optional<SeccompProgram> cache_read(int dirfd, const std::string &name, std::string_view key) {
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return std::nullopt;
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode) || !trusted(st)) return std::nullopt;
    if (st.st_size <= 0 || st.st_size > (off_t(1) << 22)) return std::nullopt;
    std::string data(size_t(st.st_size), '\0');
    for (size_t done = 0; done < data.size();) {
        ssize_t n = ::pread(fd.get(), data.data() + done, data.size() - done, off_t(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return std::nullopt;
        done += size_t(n);
    }
    return cache_parse(data, key);
}

// Best effort: a unique temporary file renamed over the entry, so a reader
// (or a second writer of the same entry) never sees half a file.
void cache_write(int dirfd, const std::string &name, std::string_view entry) {
    // Bound the directory: count entries, and start afresh when full.
    if (int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0); dup >= 0) {
        if (DIR *d = ::fdopendir(dup)) {
            std::vector<std::string> names;
            while (dirent *e = ::readdir(d))
                if (e->d_name[0] != '.') names.emplace_back(e->d_name);
            ::closedir(d);
            if (names.size() >= size_t(kCacheMaxEntries))
                for (const auto &n : names) ::unlinkat(dirfd, n.c_str(), 0);
        } else {
            ::close(dup);
        }
    }
    std::string tmp = name + ".tmp." + std::to_string(::getpid());
    UniqueFd fd(::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return;
    for (size_t done = 0; done < entry.size();) {
        ssize_t n = ::write(fd.get(), entry.data() + done, entry.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::unlinkat(dirfd, tmp.c_str(), 0);
            return;
        }
        done += size_t(n);
    }
    fd.reset();
    if (::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) < 0) ::unlinkat(dirfd, tmp.c_str(), 0);
}

UniqueFd open_cache_dir(const std::string &dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd && errno == ENOENT) {
        if (!mkdir_p(dir, 0700)) return {};
        fd.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) < 0 || !trusted(st)) return {};
    return fd;
}

} // namespace

Result<SeccompProgram> compile_seccomp_cached(const spec::Seccomp &s, const std::string &cache_dir,
                                              std::string_view source) {
    UniqueFd dir = open_cache_dir(cache_dir);
    if (!dir) return compile_seccomp(s, source);
    const std::string key = cache_key(s);
    const std::string name = cache_file_name(key);
    if (auto hit = cache_read(dir.get(), name, key)) {
        // Same kernel, so the flags passed before; but a filter already on
        // us (corral run inside a container) could refuse seccomp(2) now.
        // One system call keeps compile's promise that the init will not
        // fail on flags; on a refusal, compile says which field is at fault.
        unsigned load_flags = hit->flags | (hit->needs_notify_fd ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0u);
        if (load_flags == 0 || kernel_accepts_flags(load_flags)) return std::move(*hit);
        return compile_seccomp(s, source);
    }
    auto prog = compile_seccomp(s, source);
    if (prog) cache_write(dir.get(), name, cache_entry(key, *prog));
    return prog;
}

int load_seccomp(const SeccompProgram &p) noexcept {
    if (p.filter.empty() || p.filter.size() > BPF_MAXINSNS) {
        errno = EINVAL;
        return -1;
    }
    sock_fprog fprog{};
    fprog.len = static_cast<unsigned short>(p.filter.size());
    fprog.filter = const_cast<sock_filter *>(p.filter.data()); // the kernel only reads it
    const unsigned flags = p.flags | (p.needs_notify_fd ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0u);
    long r = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
    if (r < 0) {
        // Linux < 3.17 has no seccomp(2); prctl can do the same without flags.
        if (errno == ENOSYS && flags == 0)
            return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) < 0 ? -1 : 0;
        return -1;
    }
    // With TSYNC (and no TSYNC_ESRCH) a positive result is not a listener
    // but the id of a thread that could not be synchronised: nothing was
    // installed.
    if (r > 0 && (flags & SECCOMP_FILTER_FLAG_TSYNC) && !(flags & SECCOMP_FILTER_FLAG_TSYNC_ESRCH)) {
        errno = ESRCH;
        return -1;
    }
    return p.needs_notify_fd ? static_cast<int>(r) : 0;
}

std::vector<std::string> seccomp_known_actions() {
    std::vector<std::string> out;
    for (const auto &a : kActions) out.emplace_back(a.name);
    return out;
}

std::vector<std::string> seccomp_known_operators() {
    std::vector<std::string> out;
    for (const auto &o : kOperators) out.emplace_back(o.name);
    return out;
}

std::vector<std::string> seccomp_known_archs() {
    std::vector<std::string> out;
    for (const auto &a : kArchs) out.emplace_back(a.name);
    return out;
}

std::vector<std::string> seccomp_known_flags() {
    std::vector<std::string> out;
    for (const auto &f : kFlags) out.emplace_back(f.name);
    return out;
}

std::vector<std::string> seccomp_supported_flags() {
    std::vector<std::string> out;
    for (const auto &f : kFlags)
        if (kernel_has_flag(f.bit)) out.emplace_back(f.name);
    return out;
}

} // namespace corral
