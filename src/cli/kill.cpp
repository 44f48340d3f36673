// corral kill [--all] <container-id> [signal]: signal the init (default SIGTERM).
#include "cli/args.hpp"

namespace corral::cli {
namespace {

constexpr Flag kFlags[] = {
    {"all,a", "", "send the specified signal to all processes inside the container"},
};

Result<int> run_kill(Env &env, const Args &args) {
    std::string sig = args.positional.size() > 1 ? args.positional[1] : "SIGTERM";
    int signal = CORRAL_TRY(parse_signal(sig));
    CORRAL_TRY(corral::kill(env.ctx, args.positional[0], signal, args.flag("all")));
    return 0;
}

} // namespace

const Command kKillCommand{
    .name = "kill",
    .summary = "kill sends the specified signal (default: SIGTERM) to the container's init process",
    .args_usage = "<container-id> [signal]",
    .flags = kFlags,
    .min_args = 1,
    .max_args = 2,
    .run = run_kill,
};

} // namespace corral::cli
