// corral resume <container-id>: thaw a paused container.
#include "cli/args.hpp"

namespace corral::cli {
namespace {

Result<int> run_resume(Env &env, const Args &args) {
    CORRAL_TRY(corral::resume(env.ctx, args.positional[0]));
    return 0;
}

} // namespace

extern const Command kResumeCommand; // external linkage: main.cpp lists it
const Command kResumeCommand{
    .name = "resume",
    .summary = "resumes all processes that have been previously paused",
    .args_usage = "<container-id>",
    .flags = {},
    .min_args = 1,
    .max_args = 1,
    .run = run_resume,
};

} // namespace corral::cli
