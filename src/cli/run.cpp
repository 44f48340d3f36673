// corral run [-d] [--keep] [create's flags] <container-id>: create and start;
// unless detached, wait and exit with the container's status.
#include "cli/args.hpp"

namespace corral::cli {
namespace {

constexpr Flag kFlags[] = {
    {"bundle,b", "value", "path to the root of the bundle directory, defaults to the current directory"},
    {"console-socket", "value",
     "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's "
     "pseudoterminal"},
    {"detach,d", "", "detach from the container's process"},
    {"keep", "", "do not delete the container after it exits"},
    {"pid-file", "value", "specify the file to write the process id to"},
    {"no-subreaper", "", "disable the use of the subreaper used to reap reparented processes (accepted, ignored)"},
    {"no-pivot", "", "do not use pivot root to jail process inside rootfs"},
    {"no-new-keyring", "", "do not create a new session keyring for the container"},
    {"preserve-fds", "value", "Pass N additional file descriptors to the container (stdio + N in total)"},
    {"trace", "value", "write the creation steps, timed, to this file as Chrome trace-event JSON (open it in Perfetto or chrome://tracing)"},
};

Result<int> run_run(Env &env, const Args &args) {
    env.ctx.trace_file = absolute_path(args.get("trace"));
    RunOptions opts;
    CORRAL_TRY(create_options_from(args, opts));
    opts.detach = args.flag("detach");
    opts.keep = args.flag("keep");
    auto status = corral::run(env.ctx, args.positional[0], opts);
    if (!status) return std::move(status).error().context("corral run failed");
    return *status;
}

} // namespace

const Command kRunCommand{
    .name = "run",
    .summary = "create and run a container",
    .args_usage = "<container-id>",
    .flags = kFlags,
    .min_args = 1,
    .max_args = 1,
    .run = run_run,
};

} // namespace corral::cli
