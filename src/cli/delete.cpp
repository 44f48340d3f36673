// corral delete [--force] <container-id>
#include "cli/args.hpp"

namespace corral::cli {
namespace {

constexpr Flag kFlags[] = {
    {"force,f", "", "Forcibly deletes the container if it is still running (uses SIGKILL)"},
};

Result<int> run_delete(Env &env, const Args &args) {
    CORRAL_TRY(corral::remove(env.ctx, args.positional[0], args.flag("force")));
    return 0;
}

} // namespace

const Command kDeleteCommand{
    .name = "delete",
    .summary = "delete any resources held by the container often used with detached container",
    .args_usage = "<container-id>",
    .flags = kFlags,
    .min_args = 1,
    .max_args = 1,
    .run = run_delete,
};

} // namespace corral::cli
