// corral state <container-id>: the OCI state, as runc prints it (indented, no
// trailing newline).
#include "cli/args.hpp"

namespace corral::cli {
namespace {

Result<int> run_state(Env &env, const Args &args) {
    State s = CORRAL_TRY(corral::state(env.ctx, args.positional[0]));
    CORRAL_TRY(print(state_to_json(s)));
    return 0;
}

} // namespace

const Command kStateCommand{
    .name = "state",
    .summary = "output the state of a container",
    .args_usage = "<container-id>",
    .flags = {},
    .min_args = 1,
    .max_args = 1,
    .run = run_state,
};

} // namespace corral::cli
