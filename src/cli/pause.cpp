// corral pause <container-id>: freeze every process of the container.
#include "cli/args.hpp"

namespace corral::cli {
namespace {

Result<int> run_pause(Env &env, const Args &args) {
    CORRAL_TRY(corral::pause(env.ctx, args.positional[0]));
    return 0;
}

} // namespace

extern const Command kPauseCommand; // external linkage: main.cpp lists it
const Command kPauseCommand{
    .name = "pause",
    .summary = "pause suspends all processes inside the container",
    .args_usage = "<container-id>",
    .flags = {},
    .min_args = 1,
    .max_args = 1,
    .run = run_pause,
};

} // namespace corral::cli
