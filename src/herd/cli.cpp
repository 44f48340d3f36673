// herd's kubectl-like commands: the command table, global flags, help, and
// the helpers every command shares (cli_internal.hpp). Each command lives in
// its own cli_*.cpp; this file only finds it, parses its arguments with the
// global flags added, and runs it.
#include "herd/cli_internal.hpp"
#include "herd/kinds.hpp"

#include "common/fs.hpp"
#include "herd/commands.hpp"
#include "herd/serve_api.hpp"
#include "herd/status.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

namespace corral::herd {
namespace cli {

namespace {

// --- the command table ------------------------------------------------------------

// One table drives `herd --help`, `herd help COMMAND`, `herd COMMAND --help`,
// the bash and zsh completion and herd(1) (herd_program() below; the build
// runs `herd __generate bash|zsh|man FILE`).
using cli_doc::Complete;
struct Command {
    std::string_view name;
    std::string_view aliases;  // comma separated
    std::string_view usage;    // after "herd NAME "
    std::string_view summary;
    std::vector<Flag> flags;
    int (*run)(const Context &, const Args &);  // null: serve and agent (main.cpp runs them)
    // For completion: what the first positional argument is.
    Complete args = Complete::none;
    std::vector<std::string> words = {};  // Complete::words
};

// herd get KIND, delete KIND NAME, ...
const std::vector<std::string> kKinds = {"pods", "deployments", "nodes", "all"};
// herd logs POD, exec POD, port-forward POD: the pods of the namespace.
constexpr std::string_view kListPods = "herd get pods -o name 2>/dev/null | sed 's|^pod/||'";

const std::vector<Flag> kGlobalFlags = {
    {"state-dir", "DIR", "herd serve's state dir; its socket is DIR/herd.sock (default: $HERD_STATE_DIR or /var/lib/herd)"},
    {"namespace,n", "NS", "the namespace (default: default)"},
    {"debug", "", "log what the CLI sends and receives on stderr"},
    {"help,h", "", "show help"},
};

const Flag kOutput{"output,o", "FORMAT", "wide, json, yaml, name, jsonpath=TEMPLATE or custom-columns=SPEC (SPEC: HEADER:PATH,...)"};
const Flag kSelector{"selector,l", "SELECTOR", "label selector: key=value[,key2=value2] (also key!=value, key)"};
const Flag kAllNamespaces{"all-namespaces,A", "", "every namespace"};
const Flag kTimeout{"timeout", "DURATION", "give up after DURATION (30s, 5m; 0: wait forever)"};

int cmd_version(const Context &, const Args &);

const std::vector<Command> &commands() {
    static const std::vector<Command> table = {
        {"apply", "", "-f FILE|DIR [--ignore-unknown]",
         "create or update the Pods and Deployments of YAML manifests (validated here first: nothing is sent when one is wrong)",
         {{"filename,f", "FILE", "a manifest file or a directory of *.yaml, *.yml, *.json"},
          {"ignore-unknown", "", "drop fields herd does not know instead of rejecting the manifest"},
          {"dry-run", "", "validate only, send nothing"}},
         cmd_apply},
        {"get", "", "pods|deployments|nodes|all[,KIND...] [NAME...] [-o FORMAT] [-l SELECTOR] [-A] [-w]",
         "list objects with their status, in kubectl's columns",
         {kOutput, kSelector, kAllNamespaces, {"show-labels", "", "add a LABELS column"},
          {"watch,w", "", "after the list, print a line for each change until interrupted"}},
         cmd_get, Complete::words, kKinds},
        {"describe", "", "pod|deployment NAME", "show one object in detail, with its events",
         {kSelector}, cmd_describe, Complete::words, {"pod", "deployment"}},
        {"logs", "", "POD [-c CONTAINER] [-f] [--previous] [--tail N]", "print a container's stdout and stderr",
         {{"container,c", "NAME", "the container (default: the only or the first one)"},
          {"follow,f", "", "keep printing as the container writes"},
          {"previous,p", "", "the log of the previous instance (the one before the last restart)"},
          {"tail", "N", "only the last N lines"}},
         cmd_logs, Complete::command},
        {"exec", "", "[-i] [-t] POD [-c CONTAINER] -- COMMAND [ARGS...]", "run a command in a running container",
         {{"container,c", "NAME", "the container (default: the only or the first one)"},
          {"stdin,i", "", "pass stdin to the command"},
          {"tty,t", "", "give the command a terminal"}},
         cmd_exec, Complete::command},
        {"delete", "", "-f FILE | pod|deployment NAME... | KIND/NAME", "delete objects (a Deployment's pods go with it)",
         {{"filename,f", "FILE", "delete the objects of these manifests"},
          {"wait", "", "for pods: return once they are gone (default true; --wait=false to return at once)"},
          {"ignore-not-found", "", "no error when the object does not exist"},
          kTimeout},
         cmd_delete, Complete::words, {"pod", "deployment"}},
        {"scale", "", "deployment NAME --replicas N", "set the replica count of a Deployment",
         {{"replicas", "N", "the new replica count"}}, cmd_scale, Complete::words, {"deployment"}},
        {"rollout", "", "status|history|undo deployment NAME [--to-revision N] [--timeout D]",
         "follow, list or undo a Deployment's rollouts",
         {{"to-revision", "N", "undo: the revision to go back to (default: the previous one)"}, kTimeout,
          {"watch,w", "", "status: wait until the rollout finishes (default true)"}},
         cmd_rollout, Complete::words, {"status", "history", "undo"}},
        {"wait", "", "--for=condition=Ready|delete pod|deployment [NAME] [-l SELECTOR] [--timeout 60s]",
         "wait until objects have a condition (Ready, Available, ...) or are gone",
         {{"for", "CONDITION", "condition=NAME[=VALUE] or delete"}, kSelector, kTimeout,
          {"all", "", "every object of the kind in the namespace"}},
         cmd_wait, Complete::words, {"pod", "deployment"}},
        {"events", "", "[-A]", "list recent events", {kAllNamespaces}, cmd_events},
        {"port-forward", "", "POD [LOCAL:]REMOTE... | POD :REMOTE",
         "forward local TCP ports to a pod's ports, until interrupted",
         {{"address", "ADDR", "the local address to listen on (default 127.0.0.1)"}}, cmd_port_forward, Complete::command},
        {"node", "", "list | add NAME --ssh DEST [--label k=v]... | remove NAME | check NAME...|--all",
         "the pool's nodes: the inventory, and checking, installing and starting herd on them over ssh (docs/herd-pool.md)",
         {{"inventory", "FILE", "the inventory (default: $HERD_INVENTORY or STATE_DIR/inventory.yaml)"},
          {"ssh", "DEST", "add: [user@]host[:port] or a Host alias of ~/.ssh/config"},
          {"label", "KEY=VALUE", "add: a label of the node (repeatable)", true},
          {"identity-file", "FILE", "add: the ssh key (ssh -i)"},
          {"proxy-jump", "DEST", "add: a jump host (ssh -J)"},
          {"known-hosts", "FILE", "add: the known_hosts file (default: ssh's own)"},
          {"host-key-policy", "POLICY", "add: strict (default) or accept-new"},
          {"bin-dir", "DIR", "add: where herd and corral go on the node (default /usr/local/bin)"},
          {"node-state-dir", "DIR", "add: the node's herd state (default /var/lib/herd)"},
          {"cgroup-root", "CGROUP", "add: the node agent's cgroup root (default /herd)"},
          {"source-dir", "DIR", "add: local herd/corral binaries for the node's architecture"},
          {"no-check", "", "add: write the inventory without checking the node"},
          {"all", "", "check: every node of the inventory"},
          {"no-install", "", "check: report only, install nothing"},
          {"no-start", "", "check: do not start the agent"}},
         cmd_node, Complete::words, {"list", "add", "remove", "check"}},
        {"version", "", "", "print herd's version", {}, cmd_version},
        // Run by main.cpp (serve_main.cpp, agent_main.cpp parse these flags);
        // listed here for help, completion and herd(1).
        {"serve", "", "[--state-dir DIR] [--start-agent] [--agent-state-dir DIR] ... | --stop [--agent]",
         "the long-running supervisor: desired state in SQLite, talks to the node's agent",
         {{"state-dir", "DIR", "serve's state (default: $HERD_STATE_DIR or /var/lib/herd)"},
          {"agent-socket", "PATH", "the local agent's socket"},
          {"agent-state-dir", "DIR", "the local agent's state dir (socket DIR/agent.sock)"},
          {"start-agent", "", "start `herd agent` (detached) if it does not answer"},
          {"agent-arg", "ARG", "one more argument for the started agent (repeatable)", true},
          {"node-name", "NAME", "the local node's name (default: the hostname)"},
          {"tick-ms", "N", "controller period in milliseconds (default 1000)"},
          {"node-grace-ms", "N", "a node not heard from for N ms is NotReady (default 40000)"},
          {"cluster-cidr", "CIDR", "pod addresses of all nodes (default 10.88.0.0/16)"},
          {"node-cidr-mask-size", "N", "each node's pod subnet out of the cluster CIDR (default 24)"},
          {"stop", "", "stop the herd serve of --state-dir and wait until it is gone"},
          {"agent", "", "with --stop: stop its node agent too"},
          {"debug", "", "debug logging on stderr"}},
         nullptr},
        {"agent", "", "[--state-dir DIR] [--corral BIN] [--cgroup-root /herd] [--stdio] ...",
         "the node agent: runs the pods' containers with corral",
         {{"state-dir", "DIR", "state: pods, logs, agent.sock (default /var/lib/herd/agent)"},
          {"corral", "BIN", "the corral binary (default: next to herd)", false, Complete::file},
          {"corral-root", "DIR", "corral --root (default <state dir>/corral)"},
          {"image-store", "DIR", "corral image store (default: corral's)"},
          {"cgroup-root", "CGROUP", "absolute cgroup parent of the pods (default /herd)"},
          {"node-name", "NAME", "the node's name (default: the host name)"},
          {"log-max-bytes", "N", "a container log's size before rotation (default 10 MiB)"},
          {"cni-subnet", "CIDR", "pod addresses (default 10.88.0.0/16)"},
          {"cni-bridge", "NAME", "the bridge (default herd0)"},
          {"stdio", "", "also serve one client on stdin/stdout (ssh); its EOF stops the agent"},
          {"connect", "", "bridge stdin/stdout to the running agent's socket (what a controller runs over ssh)"},
          {"debug", "", "debug lines on stderr"}},
         nullptr},
    };
    return table;
}

const Command *find_command(std::string_view name) {
    for (const Command &c : commands()) {
        if (c.name == name) return &c;
        std::string_view aliases = c.aliases;
        while (!aliases.empty()) {
            size_t comma = aliases.find(',');
            if (aliases.substr(0, comma) == name) return &c;
            if (comma == std::string_view::npos) break;
            aliases.remove_prefix(comma + 1);
        }
    }
    return nullptr;
}

std::string main_help() {
    std::string out =
        "herd: Kubernetes Pods and Deployments on this node, supervised by `herd serve` and `herd agent`.\n"
        "The manifests are Kubernetes YAML (v1/Pod, apps/v1/Deployment); see docs/herd.md.\n\n"
        "Usage:\n  herd COMMAND [options]\n\nCommands:\n";
    for (const Command &c : commands()) {
        out += "  " + std::string(c.name) + std::string(c.name.size() < 14 ? 14 - c.name.size() : 1, ' ');
        out += std::string(c.summary) + "\n";
    }
    out += "  help          help for a command (also: herd COMMAND --help)\n\n"
           "Global options:\n";
    out += flags_help(kGlobalFlags);
    out += "\nRun `herd COMMAND --help` for a command's options.\n";
    return out;
}

std::string command_help(const Command &c) {
    std::string out = std::string(c.summary) + "\n\nUsage:\n  herd " + std::string(c.name) + " " +
                      std::string(c.usage) + "\n";
    std::vector<Flag> flags = c.flags;
    if (!c.run) flags.push_back({"help,h", "", "show help"});  // serve, agent: no global options
    if (!flags.empty()) out += "\nOptions:\n" + flags_help(flags);
    if (c.run) out += "\nGlobal options:\n" + flags_help(kGlobalFlags);
    return out;
}

int cmd_version(const Context &, const Args &) {
    std::printf("herd version %s\n", CORRAL_VERSION);
    return 0;
}

// The canonical name of a flag given as `name` ("o" -> "output").
const Flag *find_flag(std::span<const Flag> flags, std::string_view name) {
    for (const Flag &f : flags) {
        std::string_view names = f.names;
        while (true) {
            size_t comma = names.find(',');
            if (names.substr(0, comma) == name) return &f;
            if (comma == std::string_view::npos) break;
            names.remove_prefix(comma + 1);
        }
    }
    return nullptr;
}

std::string canonical(const Flag &f) { return std::string(f.names.substr(0, f.names.find(','))); }

// herd's table as a cli_doc::Program: herd(1) and the completion scripts.
cli_doc::Program herd_program() {
    cli_doc::Program p;
    p.name = "herd";
    p.man_section = 1;
    p.summary = "Kubernetes Pods and Deployments on this node, supervised by herd serve and herd agent";
    p.synopsis = "[global options] command [options] [arguments...]";
    p.version = CORRAL_VERSION;
    p.description =
        "herd runs Kubernetes YAML (v1/Pod, apps/v1/Deployment) on this machine with corral as the runtime. "
        "One binary holds the kubectl-like client, herd serve (the supervisor: desired state in SQLite, "
        "controllers, a socket at STATE_DIR/herd.sock) and herd agent (the node agent that runs the pods' "
        "containers with corral and reports their status).\n\n"
        "  herd serve --start-agent &\n"
        "  herd apply -f pod.yaml\n"
        "  herd get pods -w\n"
        "  herd logs web\n"
        "  herd serve --stop --agent\n\n"
        "Global options may come before the command (herd --state-dir /tmp/h get pods) or after it.";
    p.global_flags = kGlobalFlags;
    p.global_flags_anywhere = true;
    for (const Command &c : commands()) {
        cli_doc::Command d;
        d.name = c.name;
        d.aliases = c.aliases;
        d.args_usage = c.usage;
        d.summary = c.summary;
        d.flags = c.flags;
        d.args = c.args;
        d.words = c.words;
        if (c.args == Complete::command) d.args_command = kListPods;
        p.commands.push_back(std::move(d));
    }
    cli_doc::Command help;
    help.name = "help";
    help.args_usage = "[COMMAND]";
    help.summary = "help for a command (also: herd COMMAND --help)";
    help.args = Complete::words;
    for (const Command &c : commands()) help.words.emplace_back(c.name);
    p.commands.push_back(std::move(help));
    p.sections = {
        {"ENVIRONMENT", "HERD_STATE_DIR: the state dir of herd serve (default /var/lib/herd), for the client "
                        "(its socket is HERD_STATE_DIR/herd.sock) and for herd serve."},
        {"FILES", "/var/lib/herd: herd serve's state (herd.db, herd.sock).\n\n"
                  "/var/lib/herd/agent: herd agent's state (pods, container logs, agent.sock).\n\n"
                  "herd-pause and corral: found beside herd."},
        {"EXIT STATUS", "0 on success, 1 on an error (the message on stderr, worded as kubectl words it); "
                        "herd exec exits with the command's status."},
        {"SEE ALSO", "corral(8), kubectl(1). The full documentation is the project's docs/herd.md."},
    };
    return p;
}

// `herd __generate bash|zsh|man FILE` (hidden; the build runs it).
int generate(const Argv &argv) {
    if (argv.size() != 2) {
        std::fprintf(stderr, "usage: herd __generate bash|zsh|man FILE\n");
        return 1;
    }
    cli_doc::Program p = herd_program();
    std::string text;
    if (argv[0] == "bash") text = cli_doc::bash_completion(p);
    else if (argv[0] == "zsh") text = cli_doc::zsh_completion(p);
    else if (argv[0] == "man") text = cli_doc::man_page(p);
    else return fail("herd __generate: unknown kind \"" + argv[0] + "\" (bash, zsh or man)");
    auto st = write_file_atomic(argv[1], text, 0644);
    if (!st) return fail(st.error());
    return 0;
}

} // namespace

// --- arguments ----------------------------------------------------------------------

std::string Args::get(std::string_view name, std::string def) const {
    auto it = values.find(name);
    return it == values.end() || it->second.empty() ? def : it->second.back();
}

bool Args::flag(std::string_view name) const {
    auto it = values.find(name);
    if (it == values.end()) return false;
    const std::string &v = it->second.back();
    return v.empty() || v == "true" || v == "1" || v == "t" || v == "True" || v == "TRUE";
}

Result<Args> parse_args(std::span<const Flag> flags, const std::vector<std::string> &argv) {
    Args out;
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string &a = argv[i];
        if (a == "--") {
            out.dashes = true;
            out.after_dashes.assign(argv.begin() + static_cast<long>(i) + 1, argv.end());
            break;
        }
        if (a.size() < 2 || a[0] != '-' || (a[1] >= '0' && a[1] <= '9')) {
            out.positional.push_back(a);
            continue;
        }
        if (a[1] == '-') {  // --name, --name=value, --name value
            std::string body = a.substr(2);
            std::optional<std::string> value;
            if (size_t eq = body.find('='); eq != std::string::npos) {
                value = body.substr(eq + 1);
                body.resize(eq);
            }
            const Flag *f = find_flag(flags, body);
            if (!f) return Error("unknown flag: --" + body);
            if (!f->value_name.empty() && !value) {
                if (i + 1 >= argv.size()) return Error("flag needs an argument: --" + body);
                value = argv[++i];
            }
            out.values[canonical(*f)].push_back(value.value_or(""));
            continue;
        }
        // -n value, -nvalue, -it (booleans combined), -o=json
        for (size_t k = 1; k < a.size(); ++k) {
            std::string name(1, a[k]);
            const Flag *f = find_flag(flags, name);
            if (!f) return Error("unknown shorthand flag: '" + name + "' in " + a);
            if (f->value_name.empty()) {
                out.values[canonical(*f)].push_back("");
                continue;
            }
            std::string value = a.substr(k + 1);
            if (!value.empty() && value[0] == '=') value.erase(0, 1);
            if (value.empty()) {
                if (i + 1 >= argv.size()) return Error("flag needs an argument: '" + name + "' in " + a);
                value = argv[++i];
            }
            out.values[canonical(*f)].push_back(value);
            break;
        }
    }
    return out;
}

std::string flags_help(std::span<const Flag> flags) { return cli_doc::flags_help(flags, "  ", /*value_each=*/false); }

Result<int64_t> parse_timeout_ms(const std::string &text) {
    if (text.empty()) return Error("empty duration");
    if (std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
        return static_cast<int64_t>(std::stoll(text)) * 1000;
    double total = 0;
    size_t i = 0;
    while (i < text.size()) {
        size_t start = i;
        while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
        if (start == i) return Error("invalid duration \"" + text + "\" (use 30s, 5m, 1h, 500ms)");
        double n = std::strtod(text.substr(start, i - start).c_str(), nullptr);
        size_t ustart = i;
        while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
        std::string unit = text.substr(ustart, i - ustart);
        if (unit == "ms") total += n;
        else if (unit == "s") total += n * 1000;
        else if (unit == "m") total += n * 60000;
        else if (unit == "h") total += n * 3600000;
        else return Error("invalid duration \"" + text + "\" (use 30s, 5m, 1h, 500ms)");
    }
    return static_cast<int64_t>(total);
}

// --- serve ---------------------------------------------------------------------------

Result<json> ask(const Context &ctx, const json &request) {
    if (!path_exists(ctx.socket))
        return Error("no herd serve at " + ctx.socket +
                         " (start one with `herd serve --state-dir " + ctx.state_dir +
                         "`, or point --state-dir / $HERD_STATE_DIR at its state dir)",
                     ENOENT, ctx.socket);
    if (ctx.debug) std::fprintf(stderr, "herd: -> %s\n", request.dump().c_str());
    // call_serve turns {"ok": false} into an Error of serve's kind
    // ("reason") and a failure to talk into one of kind transport.
    auto response = call_serve(ctx.socket, request);
    if (!response) return std::move(response).error();
    if (ctx.debug) std::fprintf(stderr, "herd: <- %s\n", response->dump().c_str());
    return std::move(response).value();
}

// kubectl's words for the kinds of error (corral/error.hpp) serve answers
// with: "Error from server (NotFound): pods \"x\" not found".
std::string error_text(const Error &e) {
    const std::string &m = e.message();
    switch (e.kind()) {
    case ErrorKind::not_found: return "Error from server (NotFound): " + m;
    case ErrorKind::already_exists: return "Error from server (AlreadyExists): " + m;
    case ErrorKind::invalid: return "Error from server (Invalid): " + m;
    case ErrorKind::conflict: return "Error from server (Conflict): " + m;
    case ErrorKind::unavailable: return "Error from server (ServiceUnavailable): " + m;
    case ErrorKind::transport: return "error: " + m;
    case ErrorKind::unknown: break;
    }
    if (e.err() != 0) return "error: " + m;
    if (m.rfind("error:", 0) == 0 || m.rfind("Error", 0) == 0) return m;
    return "Error from server: " + m;
}

int fail(const Error &e) {
    std::fprintf(stderr, "%s\n", error_text(e).c_str());
    return 1;
}

int fail(const std::string &message) {
    std::fprintf(stderr, "error: %s\n", message.c_str());
    return 1;
}

// --- kinds -----------------------------------------------------------------------------

// The names come from the kind table (kinds.hpp), shared with serve; the
// enum only picks the CLI's table printer.
namespace {
const KindInfo *info_of(Kind k) {
    switch (k) {
    case Kind::pod: return find_kind("Pod");
    case Kind::deployment: return find_kind("Deployment");
    case Kind::node: return find_kind("Node");
    default: return nullptr;
    }
}
} // namespace

Kind parse_kind(std::string_view w) {
    const KindInfo *k = find_kind(w);
    if (!k) return Kind::unknown;
    if (k->kind == "Pod") return Kind::pod;
    if (k->kind == "Deployment") return Kind::deployment;
    if (k->kind == "Node") return Kind::node;
    return Kind::unknown;
}

std::string plural(Kind k) { return info_of(k) ? info_of(k)->plural : "?"; }

std::string singular(Kind k) { return info_of(k) ? info_of(k)->singular : "?"; }

std::string qualified(Kind k) { return info_of(k) ? info_of(k)->qualified() : "?"; }

Result<ResourceRef> parse_resource(const std::vector<std::string> &positional) {
    ResourceRef ref;
    if (positional.empty()) return Error("you must specify the type of resource (pod, deployment)");
    size_t first_names = 1;
    if (size_t slash = positional[0].find('/'); slash != std::string::npos) {
        ref.kind = parse_kind(positional[0].substr(0, slash));
        ref.names.push_back(positional[0].substr(slash + 1));
    } else {
        ref.kind = parse_kind(positional[0]);
    }
    if (ref.kind == Kind::unknown)
        return Error("the server doesn't have a resource type \"" + positional[0].substr(0, positional[0].find('/')) +
                     "\" (herd knows pods, deployments, nodes)");
    for (size_t i = first_names; i < positional.size(); ++i) {
        if (size_t slash = positional[i].find('/'); slash != std::string::npos) {
            if (parse_kind(positional[i].substr(0, slash)) != ref.kind)
                return Error("there is no need to specify a resource type as a separate argument when passing "
                             "arguments in resource/name form");
            ref.names.push_back(positional[i].substr(slash + 1));
        } else {
            ref.names.push_back(positional[i]);
        }
    }
    return ref;
}

// --- JSON and formats ------------------------------------------------------------------

const json &at(const json &j, std::initializer_list<std::string_view> path) {
    static const json kNull;  // immutable: the "missing" answer
    const json *cur = &j;
    for (std::string_view key : path) {
        if (!cur->is_object()) return kNull;
        auto it = cur->find(std::string(key));
        if (it == cur->end()) return kNull;
        cur = &*it;
    }
    return *cur;
}

std::string str(const json &j, std::initializer_list<std::string_view> path, std::string def) {
    const json &v = at(j, path);
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number() || v.is_boolean()) return v.dump();
    return def;
}

int64_t num(const json &j, std::initializer_list<std::string_view> path, int64_t def) {
    const json &v = at(j, path);
    if (v.is_number()) return v.get<int64_t>();
    if (v.is_string()) {
        try {
            return std::stoll(v.get<std::string>());
        } catch (...) {
            return def;
        }
    }
    return def;
}

int64_t parse_time(const std::string &text) { return parse_rfc3339(text).value_or(-1); }

std::string human_duration(int64_t s) {
    if (s < 0) s = 0;
    auto f = [](const char *fmt, auto... v) {
        char buf[64];
        std::snprintf(buf, sizeof buf, fmt, v...);
        return std::string(buf);
    };
    if (s < 120) return f("%llds", static_cast<long long>(s));
    int64_t m = s / 60;
    if (m < 10) return s % 60 ? f("%lldm%llds", (long long)m, (long long)(s % 60)) : f("%lldm", (long long)m);
    if (m < 180) return f("%lldm", (long long)m);
    int64_t h = s / 3600;
    if (h < 8) return m % 60 ? f("%lldh%lldm", (long long)h, (long long)(m % 60)) : f("%lldh", (long long)h);
    if (h < 48) return f("%lldh", (long long)h);
    if (h < 24 * 8) return h % 24 ? f("%lldd%lldh", (long long)(h / 24), (long long)(h % 24)) : f("%lldd", (long long)(h / 24));
    if (h < 24 * 365 * 2) return f("%lldd", (long long)(h / 24));
    return f("%lldy", (long long)(h / 24 / 365));
}

std::string age(const std::string &rfc3339) {
    int64_t t = parse_time(rfc3339);
    if (t < 0) return "<unknown>";
    return human_duration(static_cast<int64_t>(std::time(nullptr)) - t);
}

std::string render_table(const std::vector<std::vector<std::string>> &rows) {
    std::vector<size_t> width;
    for (const auto &row : rows)
        for (size_t i = 0; i < row.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], row[i].size());
        }
    std::string out;
    for (const auto &row : rows) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(std::max<size_t>(6, width[i] + 3) - row[i].size(), ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    return out;
}

Result<std::map<std::string, std::string>> parse_selector(const std::string &text) {
    // Values: "=v" equal, "!v" not equal, "" exists.
    std::map<std::string, std::string> sel;
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        std::string term = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!term.empty()) {
            if (size_t ne = term.find("!="); ne != std::string::npos) {
                sel[term.substr(0, ne)] = "!" + term.substr(ne + 2);
            } else if (size_t eq = term.find('='); eq != std::string::npos) {
                size_t vstart = eq + 1 + (eq + 1 < term.size() && term[eq + 1] == '=' ? 1 : 0);
                sel[term.substr(0, eq)] = "=" + term.substr(vstart);
            } else {
                sel[term] = "";
            }
            if (sel.count("")) return Error("invalid label selector \"" + text + "\"");
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return sel;
}

bool selector_matches(const std::map<std::string, std::string> &selector, const json &labels) {
    for (const auto &[key, want] : selector) {
        const json &v = at(labels, {key});
        bool present = v.is_string();
        std::string have = present ? v.get<std::string>() : "";
        if (want.empty()) {
            if (!present) return false;
        } else if (want[0] == '=') {
            if (!present || have != want.substr(1)) return false;
        } else if (present && have == want.substr(1)) {
            return false;
        }
    }
    return true;
}

Result<std::vector<json>> get_objects(const Context &ctx, Kind kind, const std::string &name,
                                      const std::map<std::string, std::string> &selector) {
    json req = {{"op", "get"}, {"kind", plural(kind)}, {"namespace", ctx.all_namespaces ? "" : ctx.namespace_}};
    if (!name.empty()) req["name"] = name;
    json resp = CORRAL_TRY(ask(ctx, req));
    std::vector<json> out;
    for (const json &item : at(resp, {"items"})) {
        if (!name.empty() && str(item, {"metadata", "name"}) != name) continue;
        if (!ctx.all_namespaces && kind != Kind::node && item.contains("metadata") &&
            at(item, {"metadata", "namespace"}).is_string() && str(item, {"metadata", "namespace"}) != ctx.namespace_)
            continue;
        if (!selector.empty() && !selector_matches(selector, at(item, {"metadata", "labels"}))) continue;
        out.push_back(item);
    }
    return out;
}

} // namespace cli

// --- the entry point ---------------------------------------------------------------------

int cli_main(const std::string &command, const Argv &argv) {
    using namespace cli;
    if (command == "help" || command == "--help" || command == "-h") {
        if (!argv.empty()) {
            if (const Command *c = find_command(argv[0])) {
                std::fputs(command_help(*c).c_str(), stdout);
                return 0;
            }
        }
        std::fputs(main_help().c_str(), stdout);
        return 0;
    }
    if (command == "--version" || command == "-v") return cmd_version({}, {});
    if (command == "__generate") return generate(argv);
    const Command *c = find_command(command);
    if (!c) {
        std::fprintf(stderr, "error: unknown command \"%s\" for \"herd\"\nRun 'herd --help' for usage.\n",
                     command.c_str());
        return 1;
    }
    std::vector<Flag> flags = c->flags;
    flags.insert(flags.end(), kGlobalFlags.begin(), kGlobalFlags.end());
    auto args = parse_args(flags, argv);
    if (!args) {
        std::fprintf(stderr, "error: %s\nSee 'herd %s --help' for usage.\n", args.error().message().c_str(),
                     command.c_str());
        return 1;
    }
    if (args->flag("help")) {
        std::fputs(command_help(*c).c_str(), stdout);
        return 0;
    }
    Context ctx;
    const char *env_dir = std::getenv("HERD_STATE_DIR");
    ctx.state_dir = args->get("state-dir", env_dir && *env_dir ? env_dir : "/var/lib/herd");
    ctx.socket = path_join(ctx.state_dir, "herd.sock");
    ctx.namespace_ = args->get("namespace", "default");
    ctx.all_namespaces = args->flag("all-namespaces");
    ctx.debug = args->flag("debug");
    return c->run(ctx, *args);
}

} // namespace corral::herd
