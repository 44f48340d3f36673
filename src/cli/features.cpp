// corral features: what this runtime implements (runtime-spec features.md).
#include "cli/args.hpp"

namespace corral::cli {
namespace {

Result<int> run_features(Env &, const Args &) {
    CORRAL_TRY(print(features_json() + "\n"));
    return 0;
}

} // namespace

const Command kFeaturesCommand{
    .name = "features",
    .summary = "show the enabled features",
    .args_usage = "",
    .flags = {},
    .min_args = 0,
    .max_args = 0,
    .run = run_features,
};

} // namespace corral::cli
