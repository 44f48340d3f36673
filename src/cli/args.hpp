// args.hpp — the command-line parser shared by every command, and the
// command table's types.
//
// It accepts what runc's parser (urfave/cli v1 over Go's flag package)
// accepts, because clients were written against that:
//   --root DIR   --root=DIR   -root DIR   -b DIR       (one or two dashes alike)
//   --detach  -d  --force=true  --force=false          (bool flags take only "=value")
//   flags after positional arguments (urfave/cli reorders them), except for
//   commands whose trailing arguments are a command line (`exec`), and "--".
#pragma once

#include "common/cli_doc.hpp"
#include "corral/container.hpp"

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace corral::cli {

// {names, value_name, usage, repeatable}: the same Flag as herd's, so one
// generator (common/cli_doc.hpp) makes help, completion and man pages of both.
using Flag = cli_doc::Flag;

class Args {
public:
    bool has(std::string_view name) const { return values_.count(name) != 0; }
    // The last value given, or `def`.
    std::string get(std::string_view name, std::string def = {}) const;
    // Every value given, in order (repeatable flags).
    std::vector<std::string> all(std::string_view name) const;
    // A boolean flag: given without a value, or with a true value.
    bool flag(std::string_view name) const;

    std::vector<std::string> positional;

private:
    friend Result<Args> parse_args(std::span<const Flag>, std::span<const std::string>, bool);
    std::map<std::string, std::vector<std::string>, std::less<>> values_; // by canonical name
};

// Parse `argv` against `flags`. With interleaved, flags may follow positional
// arguments; otherwise the first positional argument ends the flags (so
// `exec ID sh -c x` keeps "-c"). "--help"/"-h" is always known. Errors read
// as Go's flag package words them ("flag provided but not defined: -x").
Result<Args> parse_args(std::span<const Flag> flags, std::span<const std::string> argv, bool interleaved);

// Go's strconv.ParseBool: 1 t T TRUE true True, 0 f F FALSE false False.
std::optional<bool> parse_bool(std::string_view s);

// The OPTIONS block of a help text.
std::string flags_help(std::span<const Flag> flags);

// What a command gets to work with.
struct Env {
    Context ctx;
    bool log_is_stderr = true; // errors also go to stderr in plain text when not
};

struct Command {
    std::string_view name;
    std::string_view summary;
    std::string_view args_usage; // "<container-id>"
    std::span<const Flag> flags;
    int min_args = 0;
    int max_args = 0; // -1: no limit
    bool interleaved = true;
    // The process exit status, or an error that main() reports (exit 1).
    Result<int> (*run)(Env &env, const Args &args) = nullptr;
    // `corral image unpack ...`: the subcommands (src/cli/image_table.cpp),
    // listed by help, completion and the man page.
    std::span<const Command> (*subcommands)() = nullptr;
    std::string_view description = {}; // a paragraph for help and the man page
};

// The help of one command, urfave/cli's layout: NAME, USAGE, DESCRIPTION,
// COMMANDS (its subcommands), OPTIONS. `parent` is "corral" or "corral image".
std::string command_help(const Command &c, std::string_view parent);

// corral image's subcommands, for help everywhere (both corral and
// corral-image link src/cli/image_table.cpp; image.cpp runs them).
std::span<const Command> image_subcommands();
extern const std::string_view kImageDescription;

// One per file in src/cli/.
extern const Command kCreateCommand, kStartCommand, kRunCommand, kExecCommand, kStateCommand, kKillCommand,
    kDeleteCommand, kListCommand, kSpecCommand, kFeaturesCommand;

// Helpers shared by commands.
// Make a path absolute against the working directory (runc does, for paths
// it keeps: the bundle, --pid-file, --console-socket). Empty stays empty.
std::string absolute_path(const std::string &p);
// A non-negative integer flag value ("--preserve-fds 2").
Result<int> parse_count(const Args &args, std::string_view name);
// The flags `create` and `run` share (--bundle, --pid-file, ...).
Status create_options_from(const Args &args, CreateOptions &opts);
// Write all of `text` to stdout.
Status print(std::string_view text);

} // namespace corral::cli
