// hooks.cpp — run OCI hooks; see hooks.hpp for the two layers.
//
// run_prepared_hook() may run in a freshly cloned container init, so
// everything from there down uses only async-signal-safe system calls: the
// state is written into a pipe *before* the fork (the pipe is grown to hold
// it), so there is no writer to block or to get SIGPIPE; the exec result comes
// back over a close-on-exec pipe; a timeout is a poll() on a pidfd.
#include "runtime/hooks.hpp"

#include "common/pidfd.hpp"
#include "runtime/state.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace corral {

// ---------------------------------------------------------------------------
// Preparation (allocates; runs in the parent)

PreparedHook::PreparedHook(const spec::Hook &hook) {
    // Lay every string out in one buffer first, then take pointers: the buffer
    // must not grow after the pointers exist.
    std::vector<size_t> arg_offsets, env_offsets;
    auto add = [&](const std::string &s) {
        size_t off = strings_.size();
        strings_.insert(strings_.end(), s.begin(), s.end());
        strings_.push_back('\0');
        return off;
    };
    size_t path_off = add(hook.path);
    if (hook.args.empty()) {
        arg_offsets.push_back(path_off); // execv semantics: argv[0] defaults to the path
    } else {
        for (const auto &a : hook.args) arg_offsets.push_back(add(a));
    }
    for (const auto &e : hook.env) env_offsets.push_back(add(e));

    path_ = strings_.data() + path_off;
    for (size_t off : arg_offsets) argv_.push_back(strings_.data() + off);
    argv_.push_back(nullptr);
    for (size_t off : env_offsets) envp_.push_back(strings_.data() + off);
    envp_.push_back(nullptr);
    inherit_env_ = hook.env.empty();
    timeout_ = hook.timeout.value_or(0) > 0 ? *hook.timeout : 0;
}

std::vector<PreparedHook> prepare_hooks(const std::vector<spec::Hook> &hooks) {
    std::vector<PreparedHook> out;
    out.reserve(hooks.size());
    for (const auto &h : hooks) out.emplace_back(h);
    return out;
}

// ---------------------------------------------------------------------------
// Running (async-signal-safe from here to the end of run_prepared_hook)

namespace {

// A bounded, always NUL-terminated message builder over a caller's buffer.
struct MsgBuf {
    char *buf;
    size_t cap;
    size_t len = 0;

    MsgBuf(char *b, size_t c) noexcept : buf(b), cap(c) {
        if (cap) buf[0] = '\0';
    }
    MsgBuf &add(const char *s) noexcept {
        while (s && *s && len + 1 < cap) buf[len++] = *s++;
        if (cap) buf[len] = '\0';
        return *this;
    }
    MsgBuf &add_num(long long v) noexcept {
        char tmp[24];
        int n = 0;
        unsigned long long u = v < 0 ? 0ULL - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
        do {
            tmp[n++] = static_cast<char>('0' + u % 10);
            u /= 10;
        } while (u);
        if (v < 0) tmp[n++] = '-';
        char out[24];
        for (int i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
        out[n] = '\0';
        return add(out);
    }
};

// strerror() is not async-signal-safe (it may touch locale data): a small
// table of the errors exec and fork report, worded like the kernel's.
const char *errno_text(int e) noexcept {
    switch (e) {
    case ENOENT: return "no such file or directory";
    case EACCES: return "permission denied";
    case EPERM: return "operation not permitted";
    case ENOEXEC: return "exec format error";
    case ENOTDIR: return "not a directory";
    case EISDIR: return "is a directory";
    case ELOOP: return "too many levels of symbolic links";
    case ENAMETOOLONG: return "file name too long";
    case ETXTBSY: return "text file busy";
    case E2BIG: return "argument list too long";
    case ENOMEM: return "cannot allocate memory";
    case EAGAIN: return "resource temporarily unavailable";
    case EMFILE: return "too many open files";
    case ENFILE: return "too many open files in system";
    case ECHILD: return "no child processes";
    case EINVAL: return "invalid argument";
    case EIO: return "input/output error";
    case ELIBBAD: return "accessing a corrupted shared library";
    default: return nullptr;
    }
}

int fail(MsgBuf &m, const PreparedHook &hook, const char *what, int err) noexcept {
    m.add("hook `").add(hook.path()).add("`: ").add(what).add(": ");
    if (const char *t = errno_text(err)) m.add(t);
    else m.add("errno ").add_num(err);
    return -1;
}

long long now_ms() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

pid_t wait_retry(pid_t pid, int *status, int flags) noexcept {
    pid_t r;
    do {
        r = ::waitpid(pid, status, flags);
    } while (r < 0 && errno == EINTR);
    return r;
}

// Wait until `pid` exits or the deadline passes. Returns true if it exited
// (it is then not yet reaped when a pidfd was used).
bool wait_until(pid_t pid, long long deadline_ms, int *status, bool *reaped) noexcept {
    *reaped = false;
    int pfd = sys_pidfd_open(pid);
    if (pfd >= 0) {
        for (;;) {
            long long left = deadline_ms - now_ms();
            if (left <= 0) break;
            pollfd p{pfd, POLLIN, 0};
            int r = ::poll(&p, 1, left > 60000 ? 60000 : static_cast<int>(left));
            if (r > 0) {
                ::close(pfd);
                return true;
            }
            if (r < 0 && errno != EINTR) break;
        }
        ::close(pfd);
        return false;
    }
    // No pidfd (kernel < 5.3): poll waitpid.
    for (;;) {
        pid_t r = wait_retry(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) {
            *reaped = r == pid;
            return true;
        }
        if (now_ms() >= deadline_ms) return false;
        timespec pause{0, 5 * 1000 * 1000};
        ::nanosleep(&pause, nullptr);
    }
}

void close_from_3_except(int keep) noexcept {
    // Mark rather than close: `keep` is close-on-exec itself, so after exec
    // nothing of ours is left in the hook (no leaked runtime fds).
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    if (keep > 3) ::close_range(3, static_cast<unsigned>(keep) - 1, 0);
    ::close_range(static_cast<unsigned>(keep) + 1, ~0U, 0);
}

} // namespace

int run_prepared_hook(const PreparedHook &hook, const char *state_json, size_t len, char *errbuf,
                      size_t errlen) noexcept {
    MsgBuf m(errbuf, errlen);

    // stdin: the whole state, written before the hook runs.
    int in[2];
    if (::pipe2(in, O_CLOEXEC) < 0) return fail(m, hook, "create stdin pipe", errno);
    if (len > 4096) (void)::fcntl(in[1], F_SETPIPE_SZ, static_cast<int>(len < (1 << 30) ? len : (1 << 30)));
    int cap = ::fcntl(in[1], F_GETPIPE_SZ);
    if (cap < 0 || static_cast<size_t>(cap) < len) {
        ::close(in[0]);
        ::close(in[1]);
        m.add("hook `").add(hook.path()).add("`: state of ").add_num(static_cast<long long>(len));
        m.add(" bytes does not fit in a pipe of ").add_num(cap).add(" bytes");
        return -1;
    }
    for (size_t done = 0; done < len;) {
        ssize_t n = ::write(in[1], state_json + done, len - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::close(in[0]);
            ::close(in[1]);
            return fail(m, hook, "write state to stdin pipe", e);
        }
        done += static_cast<size_t>(n);
    }
    ::close(in[1]);

    int errp[2];
    if (::pipe2(errp, O_CLOEXEC) < 0) {
        int e = errno;
        ::close(in[0]);
        return fail(m, hook, "create pipe", e);
    }

    // Block every signal across the fork so the child never runs one of our
    // handlers before it execs; the hook starts with an empty mask.
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_t pid = ::_Fork();
    if (pid == 0) {
        if (in[0] != 0) {
            ::dup2(in[0], 0);
        } else {
            ::fcntl(0, F_SETFD, 0);
        }
        // The hook's stdout goes to our stderr: the runtime's stdout is for
        // what it prints itself (state JSON, ...), which clients parse.
        ::dup2(STDERR_FILENO, STDOUT_FILENO);
        close_from_3_except(errp[1]);
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        ::sigaction(SIGPIPE, &dfl, nullptr);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        char *const *envp = hook.envp() ? hook.envp() : environ;
        ::execve(hook.path(), hook.argv(), envp);
        int e = errno;
        (void)!::write(errp[1], &e, sizeof e);
        ::_exit(127);
    }
    int fork_err = errno;
    sigprocmask(SIG_SETMASK, &old, nullptr);
    ::close(in[0]);
    ::close(errp[1]);
    if (pid < 0) {
        ::close(errp[0]);
        return fail(m, hook, "fork", fork_err);
    }

    int exec_err = 0;
    ssize_t n;
    do {
        n = ::read(errp[0], &exec_err, sizeof exec_err);
    } while (n < 0 && errno == EINTR);
    ::close(errp[0]);
    int status = 0;
    if (n == static_cast<ssize_t>(sizeof exec_err)) {
        wait_retry(pid, &status, 0);
        return fail(m, hook, "exec", exec_err);
    }

    if (hook.timeout_seconds() > 0) {
        bool reaped = false;
        long long deadline = now_ms() + static_cast<long long>(hook.timeout_seconds()) * 1000;
        if (!wait_until(pid, deadline, &status, &reaped)) {
            ::kill(pid, SIGKILL);
            wait_retry(pid, &status, 0);
            m.add("hook `").add(hook.path()).add("` timed out after ").add_num(hook.timeout_seconds()).add("s");
            return -1;
        }
        if (!reaped && wait_retry(pid, &status, 0) < 0) return fail(m, hook, "wait", errno);
    } else if (wait_retry(pid, &status, 0) < 0) {
        return fail(m, hook, "wait", errno);
    }

    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    m.add("hook `").add(hook.path()).add("` ");
    if (WIFEXITED(status)) m.add("exited with status ").add_num(WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) m.add("was killed by signal ").add_num(WTERMSIG(status));
    else m.add("ended with wait status ").add_num(status);
    return -1;
}

// ---------------------------------------------------------------------------
// The runtime-side layer

std::string hook_state_json(const State &state) {
    std::string out = "{\"ociVersion\":";
    append_go_json_string(out, state.oci_version.empty() ? spec::kOciVersion : state.oci_version);
    out += ",\"id\":";
    append_go_json_string(out, state.id);
    out += ",\"status\":";
    append_go_json_string(out, to_string(state.status));
    if (state.pid != 0) {
        out += ",\"pid\":";
        out += std::to_string(state.pid);
    }
    out += ",\"bundle\":";
    append_go_json_string(out, state.bundle);
    if (!state.annotations.empty()) {
        out += ",\"annotations\":{";
        bool first = true;
        for (const auto &[k, v] : state.annotations) {
            if (!first) out += ',';
            first = false;
            append_go_json_string(out, k);
            out += ':';
            append_go_json_string(out, v);
        }
        out += '}';
    }
    out += '}';
    return out;
}

Status run_hooks(const std::vector<spec::Hook> &hooks, std::string_view kind, const State &state,
                 const Logger &log) {
    if (hooks.empty()) return ok();
    auto prepared = prepare_hooks(hooks);
    std::string json = hook_state_json(state);
    // runtime-spec: a failing poststart or poststop hook is only a warning.
    bool warn_only = kind == "poststart" || kind == "poststop";
    std::string head = "run " + std::string(kind) + " hook ";
    for (size_t i = 0; i < prepared.size(); ++i) {
        std::string n = std::to_string(i + 1) + "/" + std::to_string(prepared.size());
        log.debug(head + n + ": " + prepared[i].path());
        char err[512];
        if (run_prepared_hook(prepared[i], json.data(), json.size(), err, sizeof err) == 0) continue;
        std::string msg = std::string(kind) + " " + err;
        if (!warn_only) return Error(std::move(msg));
        log.warn(msg);
    }
    return ok();
}

} // namespace corral
