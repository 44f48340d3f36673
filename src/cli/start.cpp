// corral start <container-id>: let a created container run its process.
#include "cli/args.hpp"

namespace corral::cli {
namespace {

constexpr Flag kFlags[] = {
    {"trace", "value", "write the creation steps, timed, to this file as Chrome trace-event JSON (open it in Perfetto or chrome://tracing)"},
};

Result<int> run_start(Env &env, const Args &args) {
    env.ctx.trace_file = absolute_path(args.get("trace"));
    CORRAL_TRY(corral::start(env.ctx, args.positional[0]));
    return 0;
}

} // namespace

const Command kStartCommand{
    .name = "start",
    .summary = "executes the user defined process in a created container",
    .args_usage = "<container-id>",
    .flags = kFlags,
    .min_args = 1,
    .max_args = 1,
    .run = run_start,
};

} // namespace corral::cli
