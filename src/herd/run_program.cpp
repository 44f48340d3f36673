// herd/run_program.cpp — see run_program.hpp.
#include "herd/run_program.hpp"

#include "common/fd.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace corral::herd {
namespace {

// The caller's environment with extra NAME=VALUE entries replacing theirs.
std::vector<std::string> merged_environment(const std::vector<std::string> &extra) {
    std::vector<std::string> env;
    auto name_of = [](const std::string &kv) { return kv.substr(0, kv.find('=')); };
    for (char **e = environ; e && *e; ++e) {
        std::string kv = *e;
        bool replaced = false;
        for (const auto &x : extra)
            if (name_of(x) == name_of(kv)) replaced = true;
        if (!replaced) env.push_back(std::move(kv));
    }
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

std::vector<char *> c_strings(std::vector<std::string> &v) {
    std::vector<char *> out;
    for (auto &s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// In the child, between fork and execve: async-signal-safe calls only.
[[noreturn]] void exec_child(int in_fd, int out_fd, int err_fd, char *const argv[], char *const envp[]) {
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);  // SIG_IGN would survive execve
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(127);
    syscall(SYS_close_range, 3U, ~0U, 0U);
    execve(argv[0], argv, envp);
    _exit(127);
}

struct Pipe {
    UniqueFd read, write;
};

Result<Pipe> make_pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe2");
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

} // namespace

std::string ProgramResult::last_error_line() const {
    for (const std::string *text : {&err, &out}) {
        size_t end = text->find_last_not_of(" \n\r\t");
        if (end == std::string::npos) continue;
        size_t start = text->rfind('\n', end);
        return text->substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1));
    }
    return "exit status " + std::to_string(exit_code);
}

Result<ProgramResult> run_program(const ProgramRun &run) {
    if (run.argv.empty()) return Error("run_program: empty argv", EINVAL);
    std::vector<std::string> argv_copy = run.argv;
    std::vector<std::string> env = merged_environment(run.extra_env);
    auto argv_c = c_strings(argv_copy);
    auto env_c = c_strings(env);

    Pipe in = CORRAL_TRY(make_pipe());
    Pipe out, err;
    if (run.stdout_fd < 0) out = CORRAL_TRY(make_pipe());
    if (run.stderr_fd < 0) err = CORRAL_TRY(make_pipe());

    pid_t pid = fork();
    if (pid < 0) return Error::from_errno(errno, "fork", run.argv[0]);
    if (pid == 0)
        exec_child(run.stdin_fd >= 0 ? run.stdin_fd : in.read.get(), run.stdout_fd >= 0 ? run.stdout_fd : out.write.get(),
                   run.stderr_fd >= 0 ? run.stderr_fd : err.write.get(), argv_c.data(), env_c.data());
    in.read.reset();
    out.write.reset();
    err.write.reset();

    // Feed stdin and drain stdout/stderr together: a plugin that writes a
    // large result before reading all its input must not deadlock us.
    ProgramResult result;
    size_t written = 0;
    if (run.stdin_data.empty() || run.stdin_fd >= 0) in.write.reset();
    else fcntl(in.write.get(), F_SETFL, O_NONBLOCK);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(run.timeout_ms);
    bool timed_out = false;
    while (in.write || out.read || err.read) {
        pollfd fds[3];
        int n = 0;
        int idx_in = -1, idx_out = -1, idx_err = -1;
        if (in.write) { idx_in = n; fds[n++] = {in.write.get(), POLLOUT, 0}; }
        if (out.read) { idx_out = n; fds[n++] = {out.read.get(), POLLIN, 0}; }
        if (err.read) { idx_err = n; fds[n++] = {err.read.get(), POLLIN, 0}; }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) { timed_out = true; break; }
        int r = poll(fds, n, static_cast<int>(left.count()));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        if (idx_in >= 0 && fds[idx_in].revents) {
            ssize_t w = write(in.write.get(), run.stdin_data.data() + written, run.stdin_data.size() - written);
            if (w > 0) written += static_cast<size_t>(w);
            if (w < 0 && errno != EAGAIN && errno != EINTR) in.write.reset();
            if (written == run.stdin_data.size()) in.write.reset();
        }
        auto drain = [](UniqueFd &fd, std::string &into) {
            char buf[8192];
            ssize_t got = read(fd.get(), buf, sizeof buf);
            if (got > 0) into.append(buf, static_cast<size_t>(got));
            else if (got == 0 || (errno != EINTR && errno != EAGAIN)) fd.reset();
        };
        if (idx_out >= 0 && fds[idx_out].revents) drain(out.read, result.out);
        if (idx_err >= 0 && fds[idx_err].revents) drain(err.read, result.err);
    }
    if (timed_out) kill(pid, SIGKILL);
    // Wait for the child itself, but no longer than the deadline: a helper
    // given our log fd (no pipes to watch) can still hang.
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, timed_out ? 0 : WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) return Error::from_errno(errno, "waitpid", run.argv[0]);
        if (r == 0) {
            if (std::chrono::steady_clock::now() >= deadline) {
                timed_out = true;
                kill(pid, SIGKILL);
                continue;
            }
            usleep(1000);
        }
    }
    if (timed_out)
        return Error(run.argv[0] + ": timed out after " + std::to_string(run.timeout_ms / 1000) + " s (killed)",
                     ETIMEDOUT);
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) result.exit_code = 128 + WTERMSIG(status);
    if (result.exit_code == 127 && result.err.empty() && result.out.empty())
        return Error("cannot execute " + run.argv[0], ENOENT, run.argv[0]);
    return result;
}

} // namespace corral::herd
