// corral exec [flags] <container-id> [command [args...]]: run a process in a
// running container. Flags end at the container id, so the command's own
// flags (`exec c1 sh -c ...`) stay its own.
#include "cli/args.hpp"

namespace corral::cli {
namespace {

constexpr Flag kFlags[] = {
    {"console-socket", "value",
     "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's "
     "pseudoterminal"},
    {"cwd", "value", "current working directory in the container"},
    {"env,e", "value", "set environment variables", true},
    {"tty,t", "", "allocate a pseudo-TTY"},
    {"user,u", "value", "UID (format: <uid>[:<gid>])"},
    {"additional-gids,g", "value", "additional gids", true},
    {"process,p", "value", "path to the process.json"},
    {"detach,d", "", "detach from the container's process"},
    {"pid-file", "value", "specify the file to write the process id to"},
    {"process-label", "value", "set the asm process label for the process (not supported: must be empty)"},
    {"apparmor", "value", "set the apparmor profile for the process (not supported: must be empty)"},
    {"no-new-privs", "", "set the no new privileges value for the process"},
    {"cap,c", "value", "add a capability to the bounding set for the process", true},
    {"preserve-fds", "value", "Pass N additional file descriptors to the container (stdio + N in total)"},
    {"cgroup", "value", "run the process in an (existing) sub-cgroup (not supported yet)", true},
    {"ignore-paused", "", "allow exec in a paused container (accepted, ignored)"},
    {"trace", "value", "write the creation steps, timed, to this file as Chrome trace-event JSON (open it in Perfetto or chrome://tracing)"},
};

Result<int> run_exec(Env &env, const Args &args) {
    env.ctx.trace_file = absolute_path(args.get("trace"));
    ExecOptions opts;
    opts.process_file = absolute_path(args.get("process"));
    opts.args.assign(args.positional.begin() + 1, args.positional.end());
    if (opts.process_file.empty() && opts.args.empty())
        return Error("exec: no command given and no --process file");
    if (args.has("tty")) opts.tty = args.flag("tty");
    opts.cwd = args.get("cwd");
    opts.env = args.all("env");
    opts.user = args.get("user");
    for (const auto &g : args.all("additional-gids")) {
        bool digits = !g.empty() && g.size() <= 10 && g.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || std::stoull(g) > 0xffffffffULL) return Error("invalid additional-gids value \"" + g + "\"");
        opts.additional_gids.push_back(static_cast<uint32_t>(std::stoull(g)));
    }
    opts.caps = args.all("cap");
    opts.no_new_privs = args.flag("no-new-privs");
    opts.detach = args.flag("detach");
    opts.pid_file = absolute_path(args.get("pid-file"));
    opts.console_socket = absolute_path(args.get("console-socket"));
    opts.preserve_fds = CORRAL_TRY(parse_count(args, "preserve-fds"));
    if (!args.get("process-label").empty()) return Error("exec: --process-label: SELinux is not supported");
    if (!args.get("apparmor").empty()) return Error("exec: --apparmor: AppArmor is not supported");
    if (!args.all("cgroup").empty()) return Error("exec: --cgroup: sub-cgroups are not supported yet");
    return corral::exec(env.ctx, args.positional[0], opts);
}

} // namespace

const Command kExecCommand{
    .name = "exec",
    .summary = "execute new process inside the container",
    .args_usage = "<container-id> <command> [command options]  || -p process.json <container-id>",
    .flags = kFlags,
    .min_args = 1,
    .max_args = -1,
    .interleaved = false,
    .run = run_exec,
};

} // namespace corral::cli
