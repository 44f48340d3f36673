// corral — the runc-compatible command line over libcorral.
//
// main() parses the global flags, sets up the Context (state root, logger),
// finds the command in the table below and runs it. Only main turns an error
// into output and an exit status, the way runc does: the error goes to the
// log as a "level=error" line (containerd reads the last one from
// --log FILE --log-format json), and when the log is a file, also to stderr
// as plain text. Exit status 1; `run` and `exec` exit with the process's.
#include "cli/args.hpp"

#include "common/fd.hpp"
#include "common/cli_doc.hpp"
#include "common/fs.hpp"
#include "corral/spec.hpp"
#include "runtime/exe_seal.hpp"

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

namespace corral::cli {

// The resource commands (declared here rather than in args.hpp).
extern const Command kUpdateCommand, kPauseCommand, kResumeCommand, kPsCommand, kEventsCommand;
extern const Command kCheckpointCommand, kRestoreCommand; // CRIU: src/cli/checkpoint.cpp, restore.cpp

namespace {

#ifdef CORRAL_IMAGE_TOOL
// This main also builds `corral-image`, the binary behind `corral image`
// (src/cli/image.cpp): it alone links libarchive and its ~15 shared
// libraries. The runtime then maps libc only, which is most of a container's
// start-up time; with the image code linked in, every `corral create` paid
// ~2.4 ms for libraries it never used (twice, with the CVE-2019-5736 re-exec).
} // namespace
extern const Command kImageCommand;
namespace {
const Command *const kCommands[] = {&kImageCommand};
#else
// `corral image ...` runs `corral-image` from corral's own directory with the
// same arguments (exec_image_tool below); this entry is for help and lookup.
const Command kImageForward{.name = "image",
                            .summary = "unpack OCI images into bundles; manage the layer store (corral-image)",
                            .args_usage = "COMMAND [ARGS...]",
                            .flags = {},
                            .min_args = 0,
                            .max_args = -1,
                            .subcommands = image_subcommands,
                            .description = kImageDescription};

const Command *const kCommands[] = {
    &kCheckpointCommand, &kRestoreCommand,
    &kCreateCommand, &kDeleteCommand, &kEventsCommand, &kExecCommand,  &kFeaturesCommand,
    &kKillCommand,   &kListCommand,   &kPauseCommand,  &kPsCommand,    &kResumeCommand,
    &kRunCommand,    &kSpecCommand,   &kStartCommand,  &kStateCommand, &kUpdateCommand,
    &kImageForward,
};

// Replace this process by corral-image, found beside our own binary, with
// our argv unchanged (global flags included). Returns only on failure.
Error exec_image_tool(char **argv) {
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return Error::from_errno(errno, "find own binary", "/proc/self/exe");
    std::string path(self, static_cast<size_t>(n));
    path = path.substr(0, path.rfind('/') + 1) + "corral-image";
    ::execv(path.c_str(), argv);
    return Error::from_errno(errno, "corral image: run", path);
}
#endif

constexpr Flag kGlobalFlags[] = {
    {"debug", "", "enable debug logging"},
    {"log", "value", "set the log file to write corral logs to (default is '/dev/stderr')"},
    {"log-format", "value", "set the log format ('text' (default), or 'json') (default: \"text\")"},
    {"root", "value", "root directory for storage of container state (this should be located in tmpfs) "
                      "(default: \"/run/corral\")"},
    {"criu", "value", "path to the criu binary used for checkpoint and restore (default: \"criu\")"},
    {"systemd-cgroup", "", "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\""},
    {"rootless", "value", "ignore cgroup permission errors ('true', 'false', or 'auto') (default: \"auto\")"},
    {"version,v", "", "print the version"},
};

std::string version_text() { return std::string("corral version ") + CORRAL_VERSION + "\nspec: " + spec::kOciVersion + "\n"; }

std::string main_help() {
    std::string out = "NAME:\n   corral - Open Container Initiative runtime (a drop-in for runc)\n\n"
                      "USAGE:\n   corral [global options] command [command options] [arguments...]\n\n"
                      "VERSION:\n   " CORRAL_VERSION "\nspec: ";
    out += spec::kOciVersion;
    out += "\n\nCOMMANDS:\n";
    for (const Command *c : kCommands) {
        out += "   " + std::string(c->name) + std::string(c->name.size() < 12 ? 12 - c->name.size() : 1, ' ');
        out += c->summary;
        out += '\n';
    }
    out += "   help, h     Shows a list of commands or help for one command\n\nGLOBAL OPTIONS:\n";
    out += flags_help(kGlobalFlags);
    out += "   --help, -h  show help\n";
    return out;
}

std::string command_help(const Command &c) { return cli::command_help(c, "corral"); }

const Command *find_command(std::string_view name) {
    for (const Command *c : kCommands)
        if (c->name == name) return c;
    return nullptr;
}

// Report an error as runc does and return the exit status. `id`: the
// container the command was about, as a field of its own (`msg="container
// does not exist" id=c1`) so the error names its object while msg keeps
// runc's words: podman (`state`) and containerd (kill, delete) look for
// "does not exist" and others for runc's "container does not exist", so the
// message itself stays byte for byte runc's (docs/compatibility.md).
int report(const Env &env, const std::string &msg, std::string_view id = {}) {
    env.ctx.log.log(LogLevel::error, msg, id.empty() ? "" : "id", id);
    if (!env.log_is_stderr) {
        std::string line = msg + (id.empty() ? "" : " (id " + std::string(id) + ")") + "\n";
        (void)!::write(STDERR_FILENO, line.data(), line.size());
    }
    return 1;
}

#ifndef CORRAL_IMAGE_TOOL
// --- the table as documentation: completion and corral(8) ------------------------
// `corral __generate bash|zsh|man FILE` (hidden; the build runs it, see
// CMakeLists.txt) writes what common/cli_doc makes of kCommands.

// What a flag's value is: runc names every value "value" in its help, which
// we keep, so the kinds for completion are said here.
cli_doc::Flag with_kind(cli_doc::Flag f) {
    std::string_view name = f.names.substr(0, f.names.find(','));
    for (std::string_view d : {"bundle", "root", "image-path", "work-path", "parent-path"})
        if (name == d) f.complete = cli_doc::Complete::dir;
    for (std::string_view d : {"log", "pid-file", "console-socket", "process", "resources", "criu"})
        if (name == d) f.complete = cli_doc::Complete::file;
    return f;
}

cli_doc::Command command_doc(const Command &c) {
    cli_doc::Command d;
    d.name = c.name;
    d.args_usage = c.args_usage;
    d.summary = c.summary;
    for (const Flag &f : c.flags) d.flags.push_back(with_kind(f));
    if (c.subcommands)
        for (const Command &s : c.subcommands()) d.subcommands.push_back(command_doc(s));
    if (c.args_usage.starts_with("<container-id>")) {
        d.args = cli_doc::Complete::command;
        d.args_command = "corral list -q";
    } else if (c.args_usage.starts_with("SOURCE")) {
        d.args = cli_doc::Complete::file; // a layout directory or an archive (then BUNDLE)
    } else if (c.args_usage.starts_with("BUNDLE")) {
        d.args = cli_doc::Complete::dir;
    }
    return d;
}

cli_doc::Program corral_program() {
    cli_doc::Program p;
    p.name = "corral";
    p.man_section = 8;
    p.summary = "Open Container Initiative runtime (a drop-in for runc)";
    p.synopsis = "[global options] command [command options] [arguments...]";
    p.version = CORRAL_VERSION;
    p.description =
        "corral runs containers from OCI bundles (a directory with config.json and a root filesystem) and accepts "
        "runc's commands, flags and outputs, so podman, containerd and conmon can use it in runc's place "
        "(podman --runtime /usr/bin/corral; containerd's runc options BinaryName).\n\n"
        "A bundle to start from: corral image unpack turns an OCI image (layout directory, oci-archive or "
        "docker-archive) into one, and corral spec writes a default config.json:\n\n"
        "  corral image unpack busybox.tar bundle\n"
        "  cd bundle && corral run c1\n\n"
        "Errors go to the log (stderr, or --log FILE) as a level=error line; for a command about one container "
        "the line names it in a field of its own (id=c1), the message keeping runc's words that clients "
        "match.";
    for (const Flag &f : kGlobalFlags) p.global_flags.push_back(with_kind(f));
    for (const Command *c : kCommands) p.commands.push_back(command_doc(*c));
    cli_doc::Command help;
    help.name = "help";
    help.aliases = "h";
    help.args_usage = "[COMMAND]";
    help.summary = "show a list of commands or help for one command (also: corral COMMAND --help)";
    help.args = cli_doc::Complete::words;
    for (const Command *c : kCommands) help.words.emplace_back(c->name);
    p.commands.push_back(std::move(help));
    p.sections = {
        {"ENVIRONMENT", "XDG_RUNTIME_DIR: for a caller that is not root (or root of a user namespace), the default "
                        "--root is $XDG_RUNTIME_DIR/corral.\n\n"
                        "CORRAL_IMAGE_STORE: the layer store of corral image (default /var/lib/corral/image)."},
        {"FILES", "/run/corral: the containers' state (--root).\n\n"
                  "/var/lib/corral/image: corral image's layer store.\n\n"
                  "corral-image: the binary behind corral image, beside corral."},
        {"EXIT STATUS", "0 on success; 1 on an error; run and exec exit with the container process's status "
                        "(128 + the signal's number when it was killed)."},
        {"SEE ALSO", "runc(8), herd(1), podman(1), containerd(8). The full documentation is the project's README.md "
                     "and docs/."},
    };
    return p;
}

// Write the completion script or man page to `file`.
int generate(const Env &env, const std::vector<std::string> &args) {
    if (args.size() != 2) return report(env, "usage: corral __generate bash|zsh|man FILE");
    cli_doc::Program p = corral_program();
    std::string text;
    if (args[0] == "bash") text = cli_doc::bash_completion(p);
    else if (args[0] == "zsh") text = cli_doc::zsh_completion(p);
    else if (args[0] == "man") text = cli_doc::man_page(p);
    else return report(env, "corral __generate: unknown kind `" + args[0] + "` (bash, zsh or man)");
    auto st = write_file_atomic(args[1], text, 0644);
    if (!st) return report(env, st.error().message());
    return 0;
}
#endif

std::string arg_count_error(const Command &c, size_t n) {
    auto count = [](int k) { return std::to_string(k) + " argument(s)"; };
    std::string head = "corral: \"" + std::string(c.name) + "\" requires ";
    if (c.min_args == c.max_args && static_cast<int>(n) != c.min_args) return head + "exactly " + count(c.min_args);
    if (static_cast<int>(n) < c.min_args) return head + "a minimum of " + count(c.min_args);
    if (c.max_args >= 0 && static_cast<int>(n) > c.max_args) return head + "a maximum of " + count(c.max_args);
    return {};
}

int run_main(int argc, char **argv) {
    Env env;
    env.ctx.log = Logger(STDERR_FILENO, LogFormat::text, LogLevel::info);
    std::vector<std::string> all(argv + 1, argv + argc);

    auto global = parse_args(kGlobalFlags, all, /*interleaved=*/false);
    if (!global) return report(env, global.error().message());
    const Args &g = *global;
    if (g.flag("version")) return print(version_text()) ? 0 : 1;

    // The logger first, so every later error lands where the caller looks.
    std::string format_name = g.get("log-format", "text");
    LogFormat format = LogFormat::text;
    if (format_name == "json") format = LogFormat::json;
    else if (format_name != "text") return report(env, "invalid log-format: " + format_name);
    UniqueFd log_file;
    if (std::string path = g.get("log"); !path.empty()) {
        int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return report(env, Error::from_errno(errno, "open log file", path).message());
        log_file.reset(fd);
        env.log_is_stderr = false;
    }
    env.ctx.log = Logger(log_file ? log_file.get() : STDERR_FILENO, format,
                         g.flag("debug") ? LogLevel::debug : LogLevel::info);

    std::string rootless = g.get("rootless", "auto");
    if (rootless != "auto") {
        auto b = parse_bool(rootless);
        if (!b) return report(env, "invalid --rootless value: " + rootless + " (want true, false or auto)");
        env.ctx.rootless = *b;
    }
    env.ctx.systemd_cgroup = g.flag("systemd-cgroup");
    env.ctx.criu = g.get("criu", "criu");
    std::string root = g.get("root");
    if (root.empty()) {
        root = "/run/corral";
        // Like runc: an unprivileged caller keeps its state in its own runtime
        // dir, and so does root of a user namespace that is not the root user
        // (USER is not "root", e.g. in a rootless podman's namespace). The
        // directory is 0700 and sticky, so XDG cleaners leave it alone.
        const char *xdg = std::getenv("XDG_RUNTIME_DIR");
        const char *user = std::getenv("USER");
        auto uid_map = ::geteuid() == 0 && user && std::string_view(user) != "root" ? read_file("/proc/self/uid_map")
                                                                                     : Result<std::string>(Error(""));
        bool userns_root = uid_map && uid_map->find("4294967295") == std::string::npos;
        if ((::geteuid() != 0 || userns_root) && env.ctx.rootless != false && xdg && *xdg) {
            root = std::string(xdg) + "/corral";
            if (::mkdir(root.c_str(), 0700) == 0 || errno == EEXIST) (void)::chmod(root.c_str(), 01700);
        }
    }
    env.ctx.root = absolute_path(root);

    if (g.positional.empty() || g.flag("help")) return print(main_help()) ? 0 : 1;
    const std::string &name = g.positional[0];
#ifndef CORRAL_IMAGE_TOOL
    if (name == "__generate") return generate(env, {g.positional.begin() + 1, g.positional.end()});
#endif
    if (name == "help" || name == "h") {
        if (g.positional.size() < 2) return print(main_help()) ? 0 : 1;
        const Command *c = find_command(g.positional[1]);
        if (!c) return report(env, "No help topic for '" + g.positional[1] + "'");
        return print(command_help(*c)) ? 0 : 1;
    }
    const Command *cmd = find_command(name);
    if (!cmd) return report(env, "No help topic for '" + name + "'");
#ifndef CORRAL_IMAGE_TOOL
    if (cmd == &kImageForward) return report(env, exec_image_tool(argv).message());
#endif

    std::span<const std::string> rest(g.positional.data() + 1, g.positional.size() - 1);
    auto args = parse_args(cmd->flags, rest, cmd->interleaved);
    if (!args) return report(env, args.error().message());
    if (args->flag("help")) return print(command_help(*cmd)) ? 0 : 1;
    if (auto msg = arg_count_error(*cmd, args->positional.size()); !msg.empty()) return report(env, msg);

    // A command that starts container processes re-executes corral once
    // (seal_own_executable), so this line comes twice: say which is which.
    env.ctx.log.debug("corral " + name + " (root " + env.ctx.root + ")" +
                      (std::getenv(kReexecMarker) ? ", again: re-executed through the sealed binary (CVE-2019-5736)"
                                                  : ""));
    auto status = cmd->run(env, *args);
    if (!status) {
        bool about_container = cmd->args_usage.starts_with("<container-id>") && !args->positional.empty();
        Error &e = status.error();
        if (e.err() == ENOENT && e.path().ends_with("/config.json") && (cmd->name == "create" || cmd->name == "run"))
            e = Error(e.message() + "; use --bundle DIR or run in the bundle directory (corral spec writes one)",
                      e.err(), e.path());
        return report(env, e.message(), about_container ? std::string_view(args->positional[0]) : "");
    }
    return *status;
}

} // namespace
} // namespace corral::cli

int main(int argc, char **argv) { return corral::cli::run_main(argc, argv); }
