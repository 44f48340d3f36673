// corral ps [--format table|json] <container-id> [ps options]: the container's
// processes. json: their pids. table: the host's `ps` (default `ps -ef`),
// filtered to the lines whose PID column is one of them, as runc does. Flags
// end at the container id, so `ps c1 -o pid,comm` passes `-o` to ps.
#include "cli/args.hpp"

#include "common/fd.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace corral::cli {
namespace {

constexpr Flag kFlags[] = {
    {"format,f", "value", "select one of: table or json (default: \"table\")"},
};

// Run `ps ARGS` with stdout and stderr together (Go's CombinedOutput).
Result<std::string> run_ps_command(const std::vector<std::string> &ps_args) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
    UniqueFd rd(p[0]), wr(p[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, wr.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, wr.get(), STDERR_FILENO);
    std::vector<char *> argv{const_cast<char *>("ps")};
    for (const auto &a : ps_args) argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    int err = ::posix_spawnp(&pid, "ps", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    wr.reset();
    if (err == ENOENT) return Error("exec: \"ps\": executable file not found in $PATH", err);
    if (err != 0) return Error::from_errno(err, "run ps");

    std::string out;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n > 0) out.append(buf, static_cast<size_t>(n));
        else if (n == 0 || errno != EINTR) break;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        return Error("exit status " + std::to_string(WEXITSTATUS(status)) + ": " + out);
    if (WIFSIGNALED(status)) {
        std::string sig = ::strsignal(WTERMSIG(status));
        if (!sig.empty()) sig[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(sig[0])));
        return Error("signal: " + sig + ": " + out);
    }
    return out;
}

Result<int> run_ps(Env &env, const Args &args) {
    auto pids = CORRAL_TRY(corral::processes(env.ctx, args.positional[0]));
    std::string format = args.get("format", "table");
    if (format == "json") {
        CORRAL_TRY(print(pids_to_json(pids) + "\n"));
        return 0;
    }
    if (format != "table") return Error("invalid format option");
    std::vector<std::string> ps_args(args.positional.begin() + 1, args.positional.end());
    if (ps_args.empty()) ps_args = {"-ef"};
    std::string output = CORRAL_TRY(run_ps_command(ps_args));
    CORRAL_TRY(print(CORRAL_TRY(filter_ps_output(output, pids))));
    return 0;
}

} // namespace

extern const Command kPsCommand; // external linkage: main.cpp lists it
const Command kPsCommand{
    .name = "ps",
    .summary = "ps displays the processes running inside a container",
    .args_usage = "<container-id> [ps options]",
    .flags = kFlags,
    .min_args = 1,
    .max_args = -1,
    .interleaved = false,
    .run = run_ps,
};

} // namespace corral::cli
