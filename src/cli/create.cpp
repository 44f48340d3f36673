// corral create [--bundle DIR] [--pid-file F] [--console-socket S] [--no-pivot]
//               [--no-new-keyring] [--preserve-fds N] <container-id>
#include "cli/args.hpp"

namespace corral::cli {
namespace {

constexpr Flag kFlags[] = {
    {"bundle,b", "value", "path to the root of the bundle directory, defaults to the current directory"},
    {"console-socket", "value",
     "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's "
     "pseudoterminal"},
    {"pid-file", "value", "specify the file to write the process id to"},
    {"no-pivot", "", "do not use pivot root to jail process inside rootfs"},
    {"no-new-keyring", "", "do not create a new session keyring for the container"},
    {"preserve-fds", "value", "Pass N additional file descriptors to the container (stdio + N in total)"},
    {"trace", "value", "write the creation steps, timed, to this file as Chrome trace-event JSON (open it in Perfetto or chrome://tracing)"},
};

Result<int> run_create(Env &env, const Args &args) {
    env.ctx.trace_file = absolute_path(args.get("trace"));
    CreateOptions opts;
    CORRAL_TRY(create_options_from(args, opts));
    auto st = corral::create(env.ctx, args.positional[0], opts);
    if (!st) return std::move(st).error().context("corral create failed");
    return 0;
}

} // namespace

Status create_options_from(const Args &args, CreateOptions &opts) {
    opts.bundle = absolute_path(args.get("bundle", "."));
    opts.pid_file = absolute_path(args.get("pid-file"));
    opts.console_socket = absolute_path(args.get("console-socket"));
    opts.no_pivot = args.flag("no-pivot");
    opts.no_new_keyring = args.flag("no-new-keyring");
    opts.preserve_fds = CORRAL_TRY(parse_count(args, "preserve-fds"));
    return ok();
}

const Command kCreateCommand{
    .name = "create",
    .summary = "create a container",
    .args_usage = "<container-id>",
    .flags = kFlags,
    .min_args = 1,
    .max_args = 1,
    .run = run_create,
};

} // namespace corral::cli
