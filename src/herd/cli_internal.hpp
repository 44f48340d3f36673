// herd/cli_internal.hpp — what the kubectl-like commands (cli_*.cpp) share:
// the argument parser, the connection to `herd serve`, kubectl's table and
// age formats, and the way errors are worded.
//
// The commands themselves are in one small file each (cli_get.cpp,
// cli_apply.cpp, cli_logs.cpp, ...); cli.cpp holds the table that names
// them and turns their results into exit statuses.
#pragma once

#include "common/cli_doc.hpp"
#include "corral/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace corral::herd::cli {

using json = nlohmann::json;

// --- arguments ----------------------------------------------------------------
// kubectl's (pflag's) conventions: `--name value`, `--name=value`, `-n value`,
// `-nvalue`, combined short booleans (`-it`), `--flag=false`, flags anywhere
// among the positional arguments, and `--` ending the flags (exec's command).
// {names ("output,o": the first is the canonical name), value_name ("FORMAT";
// empty: a boolean flag), usage}: corral's Flag, so one generator
// (common/cli_doc.hpp) makes help, completion and man pages of both.
using Flag = corral::cli_doc::Flag;

struct Args {
    std::map<std::string, std::vector<std::string>, std::less<>> values;  // by canonical name
    std::vector<std::string> positional;
    std::vector<std::string> after_dashes;  // everything after "--"
    bool dashes = false;                    // "--" was given

    bool has(std::string_view name) const { return values.count(name) != 0; }
    std::string get(std::string_view name, std::string def = {}) const;
    bool flag(std::string_view name) const;  // a boolean: given (or =true)
};

Result<Args> parse_args(std::span<const Flag> flags, const std::vector<std::string> &argv);
std::string flags_help(std::span<const Flag> flags);

// "60s", "2m", "1m30s", "500ms", "1h", or plain seconds: milliseconds.
Result<int64_t> parse_timeout_ms(const std::string &text);

// --- the connection to herd serve ----------------------------------------------
struct Context {
    std::string state_dir;     // --state-dir / $HERD_STATE_DIR / /var/lib/herd
    std::string socket;        // <state_dir>/herd.sock
    std::string namespace_ = "default";
    bool all_namespaces = false;
    bool debug = false;
};

// One request; {"ok": false} becomes an Error (errno 0: the server said so),
// an unreachable server an Error with an errno.
Result<json> ask(const Context &ctx, const json &request);

// kubectl's words for an error: "Error from server (NotFound): pods "x" not
// found" for what serve said, "error: ..." for everything else.
std::string error_text(const Error &e);
// Prints error_text to stderr; returns 1 (the exit status).
int fail(const Error &e);
int fail(const std::string &message);  // "error: message"

// --- kinds ------------------------------------------------------------------------
// pods|pod|po, deployments|deployment|deploy|deployments.apps, nodes|node|no.
enum class Kind { pod, deployment, node, unknown };
Kind parse_kind(std::string_view word);
std::string plural(Kind);    // "pods": serve's `get` kind, messages
std::string singular(Kind);  // "pod": serve's describe/delete kind
std::string qualified(Kind); // "pod", "deployment.apps": kubectl's TYPE/NAME prefix

// "pod/x", "deployment/web", or "deployment" "web": a kind and names.
struct ResourceRef {
    Kind kind = Kind::unknown;
    std::vector<std::string> names;
};
Result<ResourceRef> parse_resource(const std::vector<std::string> &positional);

// --- JSON access and kubectl's formats ---------------------------------------------
// j["a"]["b"]... without throwing: a null value when any step is missing.
const json &at(const json &j, std::initializer_list<std::string_view> path);
std::string str(const json &j, std::initializer_list<std::string_view> path, std::string def = "");
int64_t num(const json &j, std::initializer_list<std::string_view> path, int64_t def = 0);

// RFC 3339 "2026-11-23T18:30:00Z" as unix seconds; -1 if it is not one.
int64_t parse_time(const std::string &rfc3339);
// kubectl's HumanDuration: 45s, 3m20s, 12m, 5h4m, 30h, 3d4h, 20d, 3y.
std::string human_duration(int64_t seconds);
// The age of an RFC 3339 time, or "<unknown>".
std::string age(const std::string &rfc3339);

// A tab-aligned table as kubectl prints it (minimum cell width 6, padding 3).
std::string render_table(const std::vector<std::vector<std::string>> &rows);

// "app=web,tier=front" -> true when every key=value (or key!=value, or key)
// holds for the labels.
Result<std::map<std::string, std::string>> parse_selector(const std::string &text);
bool selector_matches(const std::map<std::string, std::string> &selector, const json &labels);

// --- the commands ------------------------------------------------------------------
int cmd_apply(const Context &, const Args &);
int cmd_get(const Context &, const Args &);
int cmd_describe(const Context &, const Args &);
int cmd_logs(const Context &, const Args &);
int cmd_exec(const Context &, const Args &);
int cmd_delete(const Context &, const Args &);
int cmd_scale(const Context &, const Args &);
int cmd_rollout(const Context &, const Args &);
int cmd_wait(const Context &, const Args &);
int cmd_events(const Context &, const Args &);
int cmd_port_forward(const Context &, const Args &);  // cli_port_forward.cpp
int cmd_node(const Context &, const Args &);          // cli_node.cpp

// Shared by get, describe, wait, rollout: kubectl's STATUS and READY of a pod.
std::string pod_status_text(const json &pod);
std::string pod_ready_text(const json &pod);
bool pod_ready(const json &pod);
// The pods/deployments serve knows, in ctx's namespace (all with -A), filtered
// by name ("" = all) and label selector.
Result<std::vector<json>> get_objects(const Context &ctx, Kind kind, const std::string &name,
                                      const std::map<std::string, std::string> &selector = {});

} // namespace corral::herd::cli
