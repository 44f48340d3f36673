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
constexpr Command kImageForward{"image", "unpack OCI images into bundles; manage the layer store (corral-image)",
                                "COMMAND [ARGS...]", {}, 0, -1};

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

std::string command_help(const Command &c) {
    std::string out = "NAME:\n   corral " + std::string(c.name) + " - " + std::string(c.summary) + "\n\nUSAGE:\n   corral ";
    out += c.name;
    if (!c.flags.empty()) out += " [command options]";
    if (!c.args_usage.empty()) out += " " + std::string(c.args_usage);
    out += "\n";
    if (!c.flags.empty()) out += "\nOPTIONS:\n" + flags_help(c.flags);
    return out;
}

const Command *find_command(std::string_view name) {
    for (const Command *c : kCommands)
        if (c->name == name) return c;
    return nullptr;
}

// Report an error as runc does and return the exit status.
int report(const Env &env, const std::string &msg) {
    env.ctx.log.error(msg);
    if (!env.log_is_stderr) {
        std::string line = msg + "\n";
        (void)!::write(STDERR_FILENO, line.data(), line.size());
    }
    return 1;
}

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
    if (!status) return report(env, status.error().message());
    return *status;
}

} // namespace
} // namespace corral::cli

int main(int argc, char **argv) { return corral::cli::run_main(argc, argv); }
