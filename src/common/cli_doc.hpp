// common/cli_doc.hpp — a program's command table as documentation.
//
// corral (src/cli/main.cpp, with corral image's table in src/cli/image_table.cpp)
// and herd (src/herd/cli.cpp) each describe their commands once, as a Program:
// commands, subcommands, flags with their argument names, one-line
// descriptions. From that one table come the help text, the bash and zsh
// completion scripts and the man page (`corral __generate bash|zsh|man FILE`,
// run by the build; see docs/completion.md). Nothing here prints or reads
// argv: these functions return text.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace corral::cli_doc {

// What a flag's value or a command's positional argument is, for completion.
enum class Complete : uint8_t {
    none,    // anything: nothing to offer
    file,    // a path
    dir,     // a directory
    words,   // one of Command::words (first argument only)
    command, // the lines a shell command prints (Command::args_command; first argument only)
};

struct Flag {
    std::string_view names;      // "bundle,b": the first is the canonical name
    std::string_view value_name; // "DIR", "value"; empty: a boolean flag
    std::string_view usage;      // one line
    bool repeatable = false;     // --env A --env B collects both
    Complete complete = Complete::none; // the value (none: a value_name of DIR or FILE still counts)
};

struct Command {
    std::string name;
    std::string aliases;    // comma separated
    std::string args_usage; // "<container-id>", "SOURCE BUNDLE"
    std::string summary;    // one line
    std::vector<Flag> flags;
    std::vector<Command> subcommands; // corral image unpack, herd rollout status
    Complete args = Complete::none;
    std::vector<std::string> words; // Complete::words
    std::string args_command;       // Complete::command: a shell command, e.g. "corral list -q"
};

struct Section {
    std::string title; // "ENVIRONMENT"
    std::string body;  // paragraphs separated by a blank line; a paragraph of lines starting "  " is kept as is
};

struct Program {
    std::string name;     // "corral"
    int man_section = 1;  // corral(8), herd(1)
    std::string summary;  // the man page's NAME line
    std::string synopsis; // after the name: "[global options] command [command options] [arguments...]"
    std::string description;
    std::string version;
    std::vector<Flag> global_flags;
    bool global_flags_anywhere = false; // herd: global flags also after the command
    std::vector<Command> commands;
    std::vector<Section> sections; // after COMMANDS: ENVIRONMENT, FILES, EXIT STATUS, SEE ALSO
};

// Each name of a flag with its dashes: {"--bundle", "-b"}.
std::vector<std::string> flag_words(const Flag &f);

// The OPTIONS rows of a help text, descriptions aligned:
//   value_each: "   --bundle value, -b value  ..." (urfave/cli, corral's runc style)
//   otherwise:  "  --filename, -f FILE  ..."      (pflag, herd's kubectl style)
std::string flags_help(std::span<const Flag> flags, std::string_view indent, bool value_each);

// The scripts and the page. Deterministic: the same Program gives the same text.
std::string bash_completion(const Program &p);
std::string zsh_completion(const Program &p);
std::string man_page(const Program &p);

} // namespace corral::cli_doc
