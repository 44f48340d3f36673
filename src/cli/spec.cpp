// corral spec [--rootless] [--bundle DIR]: write a starting config.json.
#include "cli/args.hpp"

#include "common/fs.hpp"
#include "corral/spec.hpp"

#include <cerrno>
#include <fcntl.h>

namespace corral::cli {
namespace {

constexpr Flag kFlags[] = {
    {"bundle,b", "value", "path to the root of the bundle directory"},
    {"rootless", "", "generate a configuration for a rootless container"},
    {"explain", "", "print the default config.json with each field's meaning beside it (writes no file)"},
};

Result<int> run_spec(Env &env, const Args &args) {
    if (args.flag("explain")) {
        CORRAL_TRY(print(spec::explain_default_spec(args.flag("rootless"))));
        return 0;
    }
    std::string file = path_join(args.get("bundle", "."), "config.json");
    env.ctx.log.debug("write default spec to " + file);
    // O_EXCL: never overwrite a config someone wrote (runc refuses too).
    auto fd = open_file(file, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (!fd) {
        if (fd.error().err() == EEXIST) return Error("File config.json exists. Remove it first", EEXIST);
        return std::move(fd).error();
    }
    CORRAL_TRY(write_all(fd->get(), spec::default_spec_json(args.flag("rootless")), file));
    return 0;
}

} // namespace

const Command kSpecCommand{
    .name = "spec",
    .summary = "create a new specification file",
    .args_usage = "",
    .flags = kFlags,
    .min_args = 0,
    .max_args = 0,
    .run = run_spec,
};

} // namespace corral::cli
