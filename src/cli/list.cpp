// corral list [--quiet] [--format table|json]
#include "cli/args.hpp"

#include <algorithm>

namespace corral::cli {
namespace {

constexpr Flag kFlags[] = {
    {"format,f", "value", "select one of: table or json (default: \"table\")"},
    {"quiet,q", "", "display only container IDs"},
};

// Width in characters, as Go's tabwriter counts (UTF-8 code points).
size_t text_width(std::string_view s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xc0) != 0x80;
    return n;
}

// runc's table: text/tabwriter with minwidth 12, padding 3, the last column
// unpadded.
std::string table(const std::vector<State> &states) {
    std::vector<std::vector<std::string>> rows = {{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
    for (const auto &s : states)
        rows.push_back({s.id, std::to_string(s.pid), to_string(s.status), s.bundle, s.created, s.owner});
    size_t widths[5] = {};
    for (const auto &r : rows)
        for (size_t c = 0; c < 5; ++c) widths[c] = std::max({widths[c], size_t{12}, text_width(r[c]) + 3});
    std::string out;
    for (const auto &r : rows) {
        for (size_t c = 0; c < 5; ++c) {
            out += r[c];
            out.append(widths[c] - text_width(r[c]), ' ');
        }
        out += r[5];
        out += '\n';
    }
    return out;
}

Result<int> run_list(Env &env, const Args &args) {
    auto states = CORRAL_TRY(corral::list(env.ctx));
    if (args.flag("quiet")) {
        std::string out;
        for (const auto &s : states) out += s.id + "\n";
        CORRAL_TRY(print(out));
        return 0;
    }
    std::string format = args.get("format", "table");
    if (format != "table" && format != "json") return Error("invalid format option");
    CORRAL_TRY(print(format == "json" ? state_list_to_json(states) + "\n" : table(states)));
    return 0;
}

} // namespace

const Command kListCommand{
    .name = "list",
    .summary = "lists containers started by corral with the given root",
    .args_usage = "",
    .flags = kFlags,
    .min_args = 0,
    .max_args = 0,
    .run = run_list,
};

} // namespace corral::cli
