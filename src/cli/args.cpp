#include "cli/args.hpp"

#include "common/fs.hpp"

#include <climits>
#include <unistd.h>

namespace corral::cli {
namespace {

const Flag kHelpFlag{"help,h", "", "show help"};

// The flag `name` names ("b" and "bundle" both find --bundle).
const Flag *find_flag(std::span<const Flag> flags, std::string_view name) {
    auto matches = [&](const Flag &f) {
        std::string_view names = f.names;
        while (!names.empty()) {
            auto comma = names.find(',');
            if (names.substr(0, comma) == name) return true;
            if (comma == std::string_view::npos) break;
            names.remove_prefix(comma + 1);
        }
        return false;
    };
    for (const auto &f : flags)
        if (matches(f)) return &f;
    if (matches(kHelpFlag)) return &kHelpFlag;
    return nullptr;
}

std::string canonical(const Flag &f) { return std::string(f.names.substr(0, f.names.find(','))); }

} // namespace

std::optional<bool> parse_bool(std::string_view s) {
    if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
    if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") return false;
    return std::nullopt;
}

std::string Args::get(std::string_view name, std::string def) const {
    auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) return def;
    return it->second.back();
}

std::vector<std::string> Args::all(std::string_view name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
}

bool Args::flag(std::string_view name) const {
    auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) return false;
    return parse_bool(it->second.back()).value_or(false);
}

Result<Args> parse_args(std::span<const Flag> flags, std::span<const std::string> argv, bool interleaved) {
    Args out;
    bool flags_done = false;
    for (size_t i = 0; i < argv.size(); ++i) {
        std::string_view arg = argv[i];
        if (flags_done || arg.size() < 2 || arg[0] != '-') {
            out.positional.emplace_back(arg);
            if (!interleaved) flags_done = true;
            continue;
        }
        if (arg == "--") {
            flags_done = true;
            continue;
        }
        std::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
        if (body.empty() || body[0] == '-' || body[0] == '=') return Error("bad flag syntax: " + std::string(arg));
        std::optional<std::string_view> value;
        if (auto eq = body.find('='); eq != std::string_view::npos) {
            value = body.substr(eq + 1);
            body = body.substr(0, eq);
        }
        const Flag *f = find_flag(flags, body);
        if (!f) return Error("flag provided but not defined: -" + std::string(body));
        std::string name = canonical(*f);
        std::string v;
        if (f->value_name.empty()) {
            v = value ? std::string(*value) : "true";
            if (!parse_bool(v))
                return Error("invalid boolean value \"" + v + "\" for -" + std::string(body) + ": parse error");
        } else if (value) {
            v = std::string(*value);
        } else {
            if (i + 1 >= argv.size()) return Error("flag needs an argument: -" + std::string(body));
            v = argv[++i];
        }
        auto &slot = out.values_[name];
        if (!f->repeatable) slot.clear();
        slot.push_back(std::move(v));
    }
    return out;
}

std::string flags_help(std::span<const Flag> flags) { return cli_doc::flags_help(flags, "   ", /*value_each=*/true); }

std::string command_help(const Command &c, std::string_view parent) {
    std::string full = std::string(parent) + " " + std::string(c.name);
    std::string out = "NAME:\n   " + full + " - " + std::string(c.summary) + "\n\nUSAGE:\n   " + full;
    if (!c.flags.empty()) out += " [command options]";
    if (!c.args_usage.empty()) out += " " + std::string(c.args_usage);
    out += "\n";
    if (!c.description.empty()) out += "\nDESCRIPTION:\n   " + std::string(c.description) + "\n";
    if (c.subcommands) {
        out += "\nCOMMANDS:\n";
        std::vector<std::pair<std::string, std::string_view>> rows;
        size_t width = 0;
        for (const Command &s : c.subcommands()) {
            std::string left = std::string(s.name) + (s.args_usage.empty() ? "" : " " + std::string(s.args_usage));
            width = std::max(width, left.size());
            rows.emplace_back(std::move(left), s.summary);
        }
        rows.emplace_back("help, h [COMMAND]", "Shows a list of commands or help for one command");
        width = std::max(width, rows.back().first.size());
        for (const auto &[left, summary] : rows)
            out += "   " + left + std::string(width - left.size() + 2, ' ') + std::string(summary) + "\n";
        out += "\n   Run `" + full + " COMMAND --help` for a command's options.\n";
    }
    if (!c.flags.empty() || c.subcommands) {
        out += "\nOPTIONS:\n" + flags_help(c.flags);
        if (c.subcommands) out += "   --help, -h  show help\n";
    }
    return out;
}

std::string absolute_path(const std::string &p) {
    if (p.empty() || p[0] == '/') return p.empty() ? p : clean_path(p);
    char cwd[PATH_MAX];
    if (!::getcwd(cwd, sizeof cwd)) return p;
    return clean_path(path_join(cwd, p));
}

Result<int> parse_count(const Args &args, std::string_view name) {
    std::string v = args.get(name, "0");
    bool digits = !v.empty() && v.size() <= 9 && v.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) return Error("invalid value \"" + v + "\" for flag -" + std::string(name) + ": parse error");
    return std::stoi(v);
}

Status print(std::string_view text) { return write_all(STDOUT_FILENO, text, "stdout"); }

} // namespace corral::cli
