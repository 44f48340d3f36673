// Seccomp: compile errors name the field; compiled filters, loaded in a forked
// child, deny what they say (errno, argument conditions, trap, notify); big
// profiles compile, and how long that takes is logged.
#include "runtime/seccomp.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <seccomp.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace corral;

namespace {

spec::SeccompSyscall rule(std::vector<std::string> names, std::string action,
                          std::optional<uint32_t> errno_ret = std::nullopt, std::vector<spec::SeccompArg> args = {}) {
    return spec::SeccompSyscall{std::move(names), std::move(action), errno_ret, std::move(args)};
}

spec::SeccompArg arg(uint32_t index, std::string op, uint64_t value, uint64_t value_two = 0) {
    return spec::SeccompArg{index, value, value_two, std::move(op)};
}

spec::Seccomp profile(std::string default_action, std::vector<spec::SeccompSyscall> syscalls = {}) {
    spec::Seccomp s;
    s.default_action = std::move(default_action);
    s.syscalls = std::move(syscalls);
    return s;
}

SeccompProgram compile_ok(const spec::Seccomp &s) {
    auto r = compile_seccomp(s);
    EXPECT_TRUE(r) << r.error().message();
    return r ? std::move(r).value() : SeccompProgram{};
}

std::string compile_error(const spec::Seccomp &s) {
    auto r = compile_seccomp(s);
    EXPECT_FALSE(r);
    return r ? std::string("<compiled>") : r.error().message();
}

// How a forked child ended: its exit code, or the signal that killed it.
struct Ended {
    int code = -1;
    int signal = 0;
};

constexpr int kLoadFailed = 250;

// Fork; the child sets no_new_privs as the init does, loads `prog`, and exits
// with body(listener fd or 0). Only system calls in the child: no gtest, no
// allocation, _exit.
template <class Body>
Ended run_filtered(const SeccompProgram &prog, Body body) {
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) ::_exit(kLoadFailed);
        int fd = load_seccomp(prog);
        if (fd < 0) ::_exit(kLoadFailed);
        ::_exit(body(fd));
    }
    Ended e;
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return e;
    if (WIFEXITED(status)) e.code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) e.signal = WTERMSIG(status);
    return e;
}

// errno of a failed system call, 0 if it succeeded.
int errno_of(long r) { return r < 0 ? errno : 0; }

int getcwd_errno() {
    char buf[256];
    return errno_of(::syscall(SYS_getcwd, buf, sizeof buf));
}

// Names of real system calls: first this architecture's, then x86 (i386)
// ones it lacks, as a multi-arch profile lists them.
std::vector<std::string> syscall_names(size_t want) {
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (uint32_t arch : {uint32_t(SCMP_ARCH_NATIVE), uint32_t(SCMP_ARCH_X86)}) {
        for (int nr = 0; nr < 1000 && names.size() < want; ++nr) {
            char *n = seccomp_syscall_resolve_num_arch(arch, nr);
            if (!n) continue;
            if (seen.insert(n).second) names.emplace_back(n);
            std::free(n);
        }
    }
    return names;
}

} // namespace

// --- errors name the field -----------------------------------------------------

TEST(SeccompCompile, ErrorsNameTheField) {
    auto s = profile("SCMP_ACT_ALLOW", {rule({"read"}, "SCMP_ACT_ERRNO"), rule({"write"}, "SCMP_ACT_LOG"),
                                        rule({"open"}, "SCMP_ACT_KILL"), rule({"close"}, "SCMP_ACT_FOO")});
    EXPECT_EQ(compile_error(s), "config.json: linux.seccomp.syscalls[3].action: unknown action \"SCMP_ACT_FOO\"");

    auto r = compile_seccomp(profile("SCMP_ACT_BAR"), "/b/config.json");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "/b/config.json: linux.seccomp.defaultAction: unknown action \"SCMP_ACT_BAR\"");

    s = profile("SCMP_ACT_ALLOW", {rule({"kill"}, "SCMP_ACT_ERRNO", {}, {arg(1, "SCMP_CMP_EQ", 1), arg(0, "SCMP_CMP_XX", 2)})});
    EXPECT_EQ(compile_error(s), "config.json: linux.seccomp.syscalls[0].args[1].op: unknown operator \"SCMP_CMP_XX\"");

    s = profile("SCMP_ACT_ALLOW", {rule({"kill"}, "SCMP_ACT_ERRNO", {}, {arg(6, "SCMP_CMP_EQ", 1)})});
    EXPECT_EQ(compile_error(s), "config.json: linux.seccomp.syscalls[0].args[0].index: 6 is outside 0..5");

    s = profile("SCMP_ACT_ALLOW", {rule({"read"}, "SCMP_ACT_ALLOW", 5)});
    EXPECT_EQ(compile_error(s), "config.json: linux.seccomp.syscalls[0].errnoRet: action \"SCMP_ACT_ALLOW\" takes no errno");

    s = profile("SCMP_ACT_ALLOW", {rule({"read"}, "SCMP_ACT_ERRNO", 70000)});
    EXPECT_EQ(compile_error(s), "config.json: linux.seccomp.syscalls[0].errnoRet: 70000 is outside 0..65535");

    s = profile("SCMP_ACT_KILL");
    s.default_errno_ret = 1;
    EXPECT_EQ(compile_error(s), "config.json: linux.seccomp.defaultErrnoRet: action \"SCMP_ACT_KILL\" takes no errno");

    EXPECT_EQ(compile_error(profile("SCMP_ACT_NOTIFY")),
              "config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");

    s = profile("SCMP_ACT_ALLOW", {rule({"read", "write"}, "SCMP_ACT_NOTIFY")});
    EXPECT_EQ(compile_error(s), "config.json: linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for \"write\"");

    s = profile("SCMP_ACT_ALLOW", {rule({}, "SCMP_ACT_ERRNO")});
    EXPECT_EQ(compile_error(s), "config.json: linux.seccomp.syscalls[0].names: must contain at least one entry");

    s = profile("SCMP_ACT_ALLOW", {rule({"read", ""}, "SCMP_ACT_ERRNO")});
    EXPECT_EQ(compile_error(s), "config.json: linux.seccomp.syscalls[0].names[1]: must not be empty");

    s = profile("SCMP_ACT_ALLOW");
    s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"};
    EXPECT_EQ(compile_error(s).rfind(
                  "config.json: linux.seccomp.architectures[1]: architecture \"SCMP_ARCH_VAX\" is unknown to libseccomp ", 0),
              0u);

    s = profile("SCMP_ACT_ALLOW");
    s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_NOPE"};
    EXPECT_EQ(compile_error(s), "config.json: linux.seccomp.flags[1]: unknown flag \"SECCOMP_FILTER_FLAG_NOPE\"");

    // Config errors come before anything libseccomp or the kernel could
    // refuse, so they read the same on every host.
    s = profile("SCMP_ACT_ALLOW", {rule({"getcwd"}, "SCMP_ACT_NOTIFY"), rule({"read"}, "SCMP_ACT_ERRNO", {},
                                                                             {arg(0, "SCMP_CMP_EQ", 1), arg(0, "BAD", 2)})});
    s.flags = {"SECCOMP_FILTER_FLAG_SPEC_ALLOW"};
    EXPECT_EQ(compile_error(s), "config.json: linux.seccomp.syscalls[1].args[1].op: unknown operator \"BAD\"");
}

// --- loaded filters do what they say ---------------------------------------------

TEST(SeccompLoad, ErrnoRetIsReturned) {
    auto prog = compile_ok(profile("SCMP_ACT_ALLOW", {rule({"getcwd"}, "SCMP_ACT_ERRNO", 38)}));
    EXPECT_FALSE(prog.needs_notify_fd);
    EXPECT_EQ(prog.flags, 0u);
    Ended e = run_filtered(prog, [](int) {
        if (::getpid() <= 0) return 1; // the rest is still allowed
        return getcwd_errno();
    });
    EXPECT_EQ(e.signal, 0);
    EXPECT_EQ(e.code, 38);
}

TEST(SeccompLoad, ErrnoDefaultsToEperm) {
    auto prog = compile_ok(profile("SCMP_ACT_ALLOW", {rule({"getcwd"}, "SCMP_ACT_ERRNO")}));
    EXPECT_EQ(run_filtered(prog, [](int) { return getcwd_errno(); }).code, EPERM);
}

TEST(SeccompLoad, ArgumentConditionSelectsCalls) {
    // kill(pid, SIGUSR1) is denied with EACCES; kill(pid, 0) still works.
    auto prog = compile_ok(
        profile("SCMP_ACT_ALLOW", {rule({"kill"}, "SCMP_ACT_ERRNO", EACCES, {arg(1, "SCMP_CMP_EQ", SIGUSR1)})}));
    Ended e = run_filtered(prog, [](int) {
        if (::syscall(SYS_kill, ::getpid(), 0) != 0) return 1;
        return errno_of(::syscall(SYS_kill, ::getpid(), SIGUSR1));
    });
    EXPECT_EQ(e.signal, 0); // SIGUSR1 was never sent
    EXPECT_EQ(e.code, EACCES);
}

TEST(SeccompLoad, ConditionsOnDifferentArgumentsAreAnded) {
    // fcntl(1000, F_GETFD) is denied; fcntl(1000, F_GETFL) and fcntl(1, F_GETFD) are not.
    auto prog = compile_ok(profile(
        "SCMP_ACT_ALLOW",
        {rule({"fcntl"}, "SCMP_ACT_ERRNO", EACCES, {arg(0, "SCMP_CMP_EQ", 1000), arg(1, "SCMP_CMP_EQ", F_GETFD)})}));
    Ended e = run_filtered(prog, [](int) {
        if (errno_of(::syscall(SYS_fcntl, 1000, F_GETFL)) != EBADF) return 1;
        if (::syscall(SYS_fcntl, 1, F_GETFD) < 0) return 2;
        return errno_of(::syscall(SYS_fcntl, 1000, F_GETFD));
    });
    EXPECT_EQ(e.code, EACCES);
}

TEST(SeccompLoad, ConditionsOnTheSameArgumentAreOredAsInRunc) {
    // Two conditions on argument 1: runc adds one rule per condition, so
    // either signal is denied (ANDed, neither could be).
    auto prog = compile_ok(profile("SCMP_ACT_ALLOW", {rule({"kill"}, "SCMP_ACT_ERRNO", EACCES,
                                                           {arg(1, "SCMP_CMP_EQ", SIGUSR1), arg(1, "SCMP_CMP_EQ", SIGUSR2)})}));
    Ended e = run_filtered(prog, [](int) {
        if (errno_of(::syscall(SYS_kill, ::getpid(), SIGUSR1)) != EACCES) return 1;
        if (errno_of(::syscall(SYS_kill, ::getpid(), SIGUSR2)) != EACCES) return 2;
        return errno_of(::syscall(SYS_kill, ::getpid(), 0));
    });
    EXPECT_EQ(e.signal, 0);
    EXPECT_EQ(e.code, 0);
}

TEST(SeccompLoad, MaskedEqualTakesValueAsMask) {
    // value = mask, valueTwo = datum: deny kill when (sig & 0xff) == SIGUSR1.
    auto prog = compile_ok(profile("SCMP_ACT_ALLOW", {rule({"kill"}, "SCMP_ACT_ERRNO", EACCES,
                                                           {arg(1, "SCMP_CMP_MASKED_EQ", 0xff, SIGUSR1)})}));
    Ended e = run_filtered(prog, [](int) {
        if (::syscall(SYS_kill, ::getpid(), 0) != 0) return 1;
        return errno_of(::syscall(SYS_kill, ::getpid(), SIGUSR1));
    });
    EXPECT_EQ(e.signal, 0);
    EXPECT_EQ(e.code, EACCES);
}

TEST(SeccompLoad, TrapAndKillEndTheProcessWithSigsys) {
    for (const char *action : {"SCMP_ACT_TRAP", "SCMP_ACT_KILL_PROCESS"}) {
        auto prog = compile_ok(profile("SCMP_ACT_ALLOW", {rule({"getcwd"}, action)}));
        Ended e = run_filtered(prog, [](int) { return getcwd_errno() == 0 ? 0 : 1; });
        EXPECT_EQ(e.signal, SIGSYS) << action;
    }
}

TEST(SeccompLoad, NotifyReturnsAListenerFd) {
    auto s = profile("SCMP_ACT_ALLOW", {rule({"getcwd"}, "SCMP_ACT_NOTIFY")});
    s.listener_path = "/run/agent.sock";
    auto prog = compile_ok(s);
    EXPECT_TRUE(prog.needs_notify_fd);
    Ended e = run_filtered(prog, [](int fd) {
        // The listener is a real fd (getcwd is not called: nobody would answer).
        if (fd <= 2 || ::fcntl(fd, F_GETFD) < 0) return 1;
        ::close(fd);
        return 0;
    });
    EXPECT_EQ(e.signal, 0);
    EXPECT_EQ(e.code, 0);
}

TEST(SeccompLoad, TsyncWithNotifyAddsTsyncEsrch) {
    auto s = profile("SCMP_ACT_ALLOW", {rule({"getcwd"}, "SCMP_ACT_NOTIFY")});
    s.flags = {"SECCOMP_FILTER_FLAG_TSYNC"};
    // TSYNC with a notify filter needs TSYNC_ESRCH (Linux 5.7); skip only
    // where the kernel truly lacks it, else a compile error is a failure.
    // A known flag with no filter fails with EFAULT, an unknown one EINVAL.
    errno = 0;
    (void)::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 1UL << 4 /* TSYNC_ESRCH */, nullptr);
    if (errno == EINVAL) GTEST_SKIP() << "the kernel lacks SECCOMP_FILTER_FLAG_TSYNC_ESRCH (Linux < 5.7)";
    auto r = compile_seccomp(s);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->flags, unsigned(SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH));
    Ended e = run_filtered(*r, [](int fd) { return fd > 2 ? 0 : 1; });
    EXPECT_EQ(e.code, 0);
}

TEST(SeccompLoad, TsyncFiltersEveryThread) {
    auto s = profile("SCMP_ACT_ALLOW", {rule({"getcwd"}, "SCMP_ACT_ERRNO", 38)});
    s.flags = {"SECCOMP_FILTER_FLAG_TSYNC"};
    auto prog = compile_ok(s);
    EXPECT_EQ(prog.flags, unsigned(SECCOMP_FILTER_FLAG_TSYNC));
    pid_t pid = ::fork();
    if (pid == 0) {
        // A thread started before the filter is loaded gets it too.
        int go[2];
        if (::pipe(go) < 0 || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) ::_exit(kLoadFailed);
        int thread_errno = -1;
        std::thread t([&] {
            char c;
            if (::read(go[0], &c, 1) == 1) thread_errno = getcwd_errno();
        });
        int r = load_seccomp(prog);
        if (::write(go[1], "x", 1) != 1) ::_exit(kLoadFailed);
        t.join();
        ::_exit(r < 0 ? kLoadFailed : thread_errno);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 38);
}

TEST(SeccompCompile, FlagsAreKernelFlags) {
    auto s = profile("SCMP_ACT_ALLOW", {rule({"getcwd"}, "SCMP_ACT_ERRNO")});
    auto supported = seccomp_supported_flags();
    auto has = [&](const char *f) { return std::find(supported.begin(), supported.end(), f) != supported.end(); };
    if (!has("SECCOMP_FILTER_FLAG_LOG") || !has("SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
        GTEST_SKIP() << "kernel lacks LOG or SPEC_ALLOW";
    s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"};
    auto prog = compile_ok(s);
    EXPECT_EQ(prog.flags, unsigned(SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW));
    EXPECT_EQ(run_filtered(prog, [](int) { return getcwd_errno(); }).code, EPERM);

#ifdef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
    if (has("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")) {
        // Meaningless without a listener, and the kernel would refuse it: dropped.
        s.flags = {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
        EXPECT_EQ(compile_ok(s).flags, 0u);
        s.syscalls.push_back(rule({"getppid"}, "SCMP_ACT_NOTIFY"));
        prog = compile_ok(s);
        EXPECT_EQ(prog.flags, unsigned(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV));
        EXPECT_EQ(run_filtered(prog, [](int fd) { return fd > 2 ? getcwd_errno() : 1; }).code, EPERM);
    }
#endif
}

// --- what runc leaves out, corral leaves out ------------------------------------------

TEST(SeccompCompile, UnknownSyscallNamesAreIgnored) {
    auto prog = compile_ok(profile("SCMP_ACT_ALLOW", {rule({"no_such_syscall", "getcwd", "corral_future"}, "SCMP_ACT_ERRNO", 38)}));
    EXPECT_EQ(prog.unknown_syscalls, (std::vector<std::string>{"no_such_syscall", "corral_future"}));
    EXPECT_EQ(run_filtered(prog, [](int) { return getcwd_errno(); }).code, 38);
}

TEST(SeccompCompile, RulesWithTheDefaultActionAreSkipped) {
    // ERRNO without errnoRet is ERRNO(EPERM), the same as the default.
    auto s = profile("SCMP_ACT_ERRNO", {rule({"getcwd"}, "SCMP_ACT_ERRNO"), rule({"mkdir"}, "SCMP_ACT_ERRNO", EPERM),
                                        rule({"exit_group", "exit"}, "SCMP_ACT_ALLOW"),
                                        rule({"getpid"}, "SCMP_ACT_ERRNO", EACCES)});
    auto prog = compile_ok(s);
    EXPECT_EQ(run_filtered(prog, [](int) { return errno_of(::syscall(SYS_getpid)); }).code, EACCES);
}

TEST(SeccompCompile, ArchitecturesAreAdded) {
    auto s = profile("SCMP_ACT_ALLOW", {rule({"getcwd", "socketcall"}, "SCMP_ACT_ERRNO")});
    size_t native = compile_ok(s).filter.size();
    s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"};
    auto prog = compile_ok(s);
    EXPECT_GT(prog.filter.size(), native);
    EXPECT_EQ(run_filtered(prog, [](int) { return getcwd_errno(); }).code, EPERM);
}

TEST(SeccompFeatures, ListsTheNames) {
    auto has = [](const std::vector<std::string> &v, const char *s) { return std::find(v.begin(), v.end(), s) != v.end(); };
    EXPECT_EQ(seccomp_known_actions().size(), 9u);
    EXPECT_TRUE(has(seccomp_known_actions(), "SCMP_ACT_KILL_PROCESS"));
    EXPECT_EQ(seccomp_known_operators().size(), 7u);
    EXPECT_TRUE(has(seccomp_known_archs(), "SCMP_ARCH_X86_64"));
    EXPECT_TRUE(has(seccomp_known_archs(), "SCMP_ARCH_RISCV64"));
    auto known = seccomp_known_flags();
    EXPECT_TRUE(has(known, "SECCOMP_FILTER_FLAG_TSYNC"));
    for (const auto &f : seccomp_supported_flags()) EXPECT_TRUE(has(known, f.c_str())) << f;
    // Every flag the kernel has is reported as supported (seccomp(2) exists since 3.17).
    EXPECT_TRUE(has(seccomp_supported_flags(), "SECCOMP_FILTER_FLAG_TSYNC"));
}

// --- big profiles ---------------------------------------------------------------

namespace {

// A profile shaped like podman's default on amd64 (containers/common
// seccomp.json): default ERRNO(ENOSYS), three architectures, one ALLOW rule
// with most names, a handful of conditional rules, some EPERM rules.
spec::Seccomp podman_like(size_t allowed_names, bool multi_arch) {
    spec::Seccomp s = profile("SCMP_ACT_ERRNO");
    s.default_errno_ret = ENOSYS;
    if (multi_arch) s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
    std::vector<std::string> names = syscall_names(allowed_names + 28);
    std::vector<std::string> denied(names.end() - 28, names.end());
    names.resize(allowed_names);
    std::erase_if(names, [](const std::string &n) { return n == "personality" || n == "clone" || n == "socket"; });
    s.syscalls.push_back(rule(denied, "SCMP_ACT_ERRNO", EPERM));
    s.syscalls.push_back(rule(names, "SCMP_ACT_ALLOW"));
    for (uint64_t p : {0x0ull, 0x8ull, 0x20000ull, 0x20008ull, 0xffffffffull})
        s.syscalls.push_back(rule({"personality"}, "SCMP_ACT_ALLOW", {}, {arg(0, "SCMP_CMP_EQ", p)}));
    s.syscalls.push_back(rule({"clone"}, "SCMP_ACT_ALLOW", {}, {arg(0, "SCMP_CMP_MASKED_EQ", 0x7e020000, 0)}));
    s.syscalls.push_back(rule({"socket"}, "SCMP_ACT_ERRNO", EINVAL, {arg(0, "SCMP_CMP_EQ", 16), arg(2, "SCMP_CMP_EQ", 9)}));
    s.syscalls.push_back(rule({"socket"}, "SCMP_ACT_ALLOW", {}, {arg(2, "SCMP_CMP_NE", 9)}));
    s.syscalls.push_back(rule({"socket"}, "SCMP_ACT_ALLOW", {}, {arg(0, "SCMP_CMP_NE", 16)}));
    return s;
}

// Best and median of `runs` compiles, in microseconds.
std::pair<double, double> time_compile(const spec::Seccomp &s, size_t *insns, int runs = 10) {
    using clock = std::chrono::steady_clock;
    std::vector<double> us;
    for (int i = 0; i < runs; ++i) {
        auto t0 = clock::now();
        auto r = compile_seccomp(s);
        auto t1 = clock::now();
        EXPECT_TRUE(r) << r.error().message();
        if (!r) break;
        *insns = r->filter.size();
        us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    if (us.empty()) return {0, 0};
    std::sort(us.begin(), us.end());
    return {us.front(), us[us.size() / 2]};
}

size_t name_count(const spec::Seccomp &s) {
    size_t n = 0;
    for (const auto &sc : s.syscalls) n += sc.names.size();
    return n;
}

} // namespace

TEST(SeccompBig, AllowListWithDefaultErrnoCompilesAndLoads) {
    spec::Seccomp s = profile("SCMP_ACT_ERRNO");
    s.default_errno_ret = EXDEV; // distinct from anything the kernel says itself
    std::vector<std::string> names = syscall_names(300);
    ASSERT_EQ(names.size(), 300u);
    std::erase(names, "getcwd");
    s.syscalls.push_back(rule(names, "SCMP_ACT_ALLOW"));
    auto prog = compile_ok(s);
    // The child must be able to exit: exit_group is in the first 300 names
    // here (x86_64: 231; aarch64: 94).
    ASSERT_NE(std::find(names.begin(), names.end(), "exit_group"), names.end());
    Ended e = run_filtered(prog, [](int) { return getcwd_errno(); });
    EXPECT_EQ(e.signal, 0);
    EXPECT_EQ(e.code, EXDEV);
}

// A profile the size of podman's, for one or three architectures, compiles
// into a filter the kernel accepts (BPF_MAXINSNS, 4096 instructions) and
// that loads. Its compile time is printed, not judged (scripts/bench).
TEST(SeccompBig, PodmanSizedProfileFitsTheKernelsFilterLimitAndLoads) {
    for (bool multi_arch : {false, true}) {
        spec::Seccomp s = podman_like(400, multi_arch);
        size_t insns = 0;
        auto [best, median] = time_compile(s, &insns);
        EXPECT_GT(insns, 0u);
        EXPECT_LE(insns, 4096u) << "over BPF_MAXINSNS: the kernel refuses the filter";
        auto prog = compile_seccomp(s);
        ASSERT_TRUE(prog) << prog.error().message();
        EXPECT_EQ(run_filtered(*prog, [](int) { return 0; }).code, 0) << "the filter did not load";
        std::printf("[ timing   ] compile_seccomp: %zu names, %zu rules, %s: best %.0f us, median %.0f us, %zu BPF insns\n",
                    name_count(s), s.syscalls.size(), multi_arch ? "x86_64+x86+x32" : "native arch only", best,
                    median, insns);
        RecordProperty(multi_arch ? "compile_us_3_arch" : "compile_us_native", std::to_string(median));
    }
}

// The real thing, when installed: podman's profile as podman would pass it on
// amd64 for a container with the default capabilities.
TEST(SeccompBig, InstalledPodmanProfileAllowsWhatAContainerNeedsAndDeniesAcct) {
    const char *path = "/usr/share/containers/seccomp.json";
    std::ifstream in(path);
    if (!in) GTEST_SKIP() << path << " not installed";
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded()) GTEST_SKIP() << path << " is not JSON";
    spec::Seccomp s = profile(j.value("defaultAction", ""));
    if (j.contains("defaultErrnoRet")) s.default_errno_ret = j["defaultErrnoRet"].get<uint32_t>();
    s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
    const std::set<std::string> arches = {"amd64", "x86", "x32"};
    for (const auto &sc : j.value("syscalls", nlohmann::json::array())) {
        const auto inc = sc.value("includes", nlohmann::json::object());
        const auto exc = sc.value("excludes", nlohmann::json::object());
        // Rules needing a capability beyond the default set are left out;
        // rules for when it is missing are kept.
        if (inc.contains("caps") && !inc["caps"].empty()) continue;
        if (inc.contains("minKernel")) continue;
        if (inc.contains("arches")) {
            bool ours = false;
            for (const auto &a : inc["arches"]) ours |= arches.count(a.get<std::string>()) > 0;
            if (!ours) continue;
        }
        (void)exc;
        spec::SeccompSyscall r;
        r.names = sc.value("names", std::vector<std::string>{});
        r.action = sc.value("action", "");
        if (sc.contains("errnoRet")) r.errno_ret = sc["errnoRet"].get<uint32_t>();
        for (const auto &a : sc.value("args", nlohmann::json::array()))
            r.args.push_back(arg(a.value("index", 0u), a.value("op", ""), a.value("value", uint64_t(0)),
                                 a.value("valueTwo", uint64_t(0))));
        s.syscalls.push_back(std::move(r));
    }
    size_t insns = 0;
    auto [best, median] = time_compile(s, &insns);
    auto prog = compile_seccomp(s);
    ASSERT_TRUE(prog) << prog.error().message();
    std::printf("[ timing   ] compile_seccomp(%s): %zu names, %zu rules, x86_64+x86+x32: best %.0f us, median %.0f us, "
                "%zu BPF insns, %zu unknown names\n",
                path, name_count(s), s.syscalls.size(), best, median, insns, prog->unknown_syscalls.size());
    // A container under it can still run: getcwd is allowed, and the
    // profile's default answers an unknown call.
    Ended e = run_filtered(*prog, [](int) { return getcwd_errno(); });
    EXPECT_EQ(e.signal, 0);
    EXPECT_EQ(e.code, 0);
    // acct needs CAP_SYS_PACCT, which the default capabilities lack: denied
    // (unfiltered, root's acct(NULL) with accounting off returns 0).
    Ended denied = run_filtered(*prog, [](int) { return ::syscall(SYS_acct, nullptr) < 0 ? errno : 0; });
    EXPECT_EQ(denied.signal, 0);
    EXPECT_NE(denied.code, 0) << "acct was allowed";
}

// --- the cache ---------------------------------------------------------------------

namespace {

class SeccompCache : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/corral-seccomp-test-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        root_ = tmpl;
        dir_ = root_ + "/.cache/seccomp";
    }
    void TearDown() override { std::filesystem::remove_all(root_); }

    std::vector<std::string> entries() const {
        std::vector<std::string> out;
        if (!std::filesystem::exists(dir_)) return out;
        for (const auto &e : std::filesystem::directory_iterator(dir_)) out.push_back(e.path().filename());
        std::sort(out.begin(), out.end());
        return out;
    }

    std::string root_, dir_;
};

void expect_same(const SeccompProgram &a, const SeccompProgram &b) {
    ASSERT_EQ(a.filter.size(), b.filter.size());
    EXPECT_EQ(std::memcmp(a.filter.data(), b.filter.data(), a.filter.size() * sizeof(sock_filter)), 0);
    EXPECT_EQ(a.flags, b.flags);
    EXPECT_EQ(a.needs_notify_fd, b.needs_notify_fd);
    EXPECT_EQ(a.unknown_syscalls, b.unknown_syscalls);
}

} // namespace

TEST_F(SeccompCache, HitGivesWhatCompileGives) {
    auto s = profile("SCMP_ACT_ALLOW", {rule({"getcwd", "not_a_syscall"}, "SCMP_ACT_ERRNO", 38),
                                        rule({"getppid"}, "SCMP_ACT_NOTIFY")});
    s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"};
    auto direct = compile_ok(s);

    auto miss = compile_seccomp_cached(s, dir_);
    ASSERT_TRUE(miss) << miss.error().message();
    expect_same(*miss, direct);
    ASSERT_EQ(entries().size(), 1u);
    EXPECT_EQ(std::filesystem::status(dir_).permissions() & std::filesystem::perms::all, std::filesystem::perms::owner_all);

    auto hit = compile_seccomp_cached(s, dir_);
    ASSERT_TRUE(hit) << hit.error().message();
    expect_same(*hit, direct);
    EXPECT_EQ(entries().size(), 1u);
    EXPECT_EQ(run_filtered(*hit, [](int fd) { return fd > 2 ? getcwd_errno() : 1; }).code, 38);

    // The listener path is not part of the program: same entry.
    s.listener_path = "/run/agent.sock";
    ASSERT_TRUE(compile_seccomp_cached(s, dir_));
    EXPECT_EQ(entries().size(), 1u);
    // Anything that is: a new one.
    s.syscalls[0].errno_ret = 39;
    auto other = compile_seccomp_cached(s, dir_);
    ASSERT_TRUE(other);
    EXPECT_EQ(entries().size(), 2u);
    EXPECT_EQ(run_filtered(*other, [](int) { return getcwd_errno(); }).code, 39);
}

TEST_F(SeccompCache, AnEntryIsUsedOnlyForItsOwnKey) {
    auto a = profile("SCMP_ACT_ALLOW", {rule({"getcwd"}, "SCMP_ACT_ERRNO", 38)});
    auto b = profile("SCMP_ACT_ALLOW", {rule({"getcwd"}, "SCMP_ACT_ERRNO", 39)});
    ASSERT_TRUE(compile_seccomp_cached(a, dir_));
    ASSERT_TRUE(compile_seccomp_cached(b, dir_));
    auto names = entries();
    ASSERT_EQ(names.size(), 2u);
    // Swap the files, as a hash collision would pair them: neither is taken.
    std::filesystem::rename(dir_ + "/" + names[0], dir_ + "/x");
    std::filesystem::rename(dir_ + "/" + names[1], dir_ + "/" + names[0]);
    std::filesystem::rename(dir_ + "/x", dir_ + "/" + names[1]);
    auto ra = compile_seccomp_cached(a, dir_);
    auto rb = compile_seccomp_cached(b, dir_);
    ASSERT_TRUE(ra && rb);
    expect_same(*ra, compile_ok(a));
    expect_same(*rb, compile_ok(b));
}

TEST_F(SeccompCache, DamagedOrForeignEntriesAreIgnored) {
    auto s = profile("SCMP_ACT_ALLOW", {rule({"getcwd"}, "SCMP_ACT_ERRNO", 38)});
    ASSERT_TRUE(compile_seccomp_cached(s, dir_));
    const std::string file = dir_ + "/" + entries().at(0);
    auto good = compile_ok(s);

    // Cut short: compiled again, and the entry written anew.
    const auto size = std::filesystem::file_size(file);
    std::filesystem::resize_file(file, size - 3);
    auto r = compile_seccomp_cached(s, dir_);
    ASSERT_TRUE(r);
    expect_same(*r, good);
    EXPECT_EQ(std::filesystem::file_size(file), size);

    // Writable by others: not trusted, whatever it holds.
    std::ofstream(file, std::ios::binary | std::ios::trunc) << "garbage";
    ::chmod(file.c_str(), 0666);
    r = compile_seccomp_cached(s, dir_);
    ASSERT_TRUE(r);
    expect_same(*r, good);
}

TEST_F(SeccompCache, ErrorsAreNotCachedAndReadAsCompiles) {
    auto s = profile("SCMP_ACT_ALLOW", {rule({"getcwd"}, "SCMP_ACT_FOO")});
    auto r = compile_seccomp_cached(s, dir_, "/b/config.json");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "/b/config.json: linux.seccomp.syscalls[0].action: unknown action \"SCMP_ACT_FOO\"");
    EXPECT_TRUE(entries().empty());
}

TEST_F(SeccompCache, UnusableDirectoryOnlyCostsTheCompile) {
    auto s = profile("SCMP_ACT_ALLOW", {rule({"getcwd"}, "SCMP_ACT_ERRNO", 38)});
    std::ofstream(root_ + "/file") << "x";
    auto r = compile_seccomp_cached(s, root_ + "/file/cache");
    ASSERT_TRUE(r) << r.error().message();
    expect_same(*r, compile_ok(s));
}

// A hit returns the same program as the miss compiled (its time is printed
// for the benchmarks' readers; no threshold: speed lives in scripts/bench).
TEST_F(SeccompCache, PodmanSizedProfileHitEqualsTheCompiledProgram) {
    for (bool multi_arch : {false, true}) {
        spec::Seccomp s = podman_like(400, multi_arch);
        using clock = std::chrono::steady_clock;
        auto t0 = clock::now();
        auto miss = compile_seccomp_cached(s, dir_);
        auto t1 = clock::now();
        ASSERT_TRUE(miss) << miss.error().message();
        std::vector<double> us;
        for (int i = 0; i < 50; ++i) {
            auto a = clock::now();
            auto hit = compile_seccomp_cached(s, dir_);
            auto b = clock::now();
            ASSERT_TRUE(hit);
            if (i == 0) expect_same(*hit, *miss);
            us.push_back(std::chrono::duration<double, std::micro>(b - a).count());
        }
        std::sort(us.begin(), us.end());
        std::printf("[ timing   ] compile_seccomp_cached: %zu names, %s: miss %.0f us, hit best %.1f us, median %.1f us\n",
                    name_count(s), multi_arch ? "x86_64+x86+x32" : "native arch only",
                    std::chrono::duration<double, std::micro>(t1 - t0).count(), us.front(), us[us.size() / 2]);
    }
}
