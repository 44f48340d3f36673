#include "common/cli_doc.hpp"

#include <algorithm>

namespace corral::cli_doc {
namespace {

// --- the table, flattened ---------------------------------------------------------
// Completion needs, for every command path ("", "image", "image unpack"), the
// words that lead further, the flags and what their values are, and what the
// positional arguments are.

struct Node {
    std::string path; // "" for the program itself
    std::vector<std::pair<std::string, std::string>> cmds;  // word, summary (aliases too)
    std::vector<std::string> canon;                         // "alias=name"
    std::vector<std::pair<std::string, std::string>> flags; // word, usage
    std::vector<std::string> file_flags, dir_flags, value_flags;
    Complete args = Complete::none;
    std::vector<std::string> words;
    std::string args_command;
};

const Flag kHelp{"help,h", "", "show help"};

Complete value_kind(const Flag &f) {
    if (f.complete != Complete::none) return f.complete;
    if (f.value_name == "DIR") return Complete::dir;
    if (f.value_name == "FILE" || f.value_name == "PATH") return Complete::file;
    return Complete::none;
}

void add_flags(Node &n, std::span<const Flag> flags) {
    for (const Flag &f : flags) {
        for (const std::string &w : flag_words(f)) {
            if (std::any_of(n.flags.begin(), n.flags.end(), [&](auto &e) { return e.first == w; })) continue;
            n.flags.emplace_back(w, std::string(f.usage));
            if (f.value_name.empty()) continue;
            switch (value_kind(f)) {
            case Complete::file: n.file_flags.push_back(w); break;
            case Complete::dir: n.dir_flags.push_back(w); break;
            default: n.value_flags.push_back(w); break;
            }
        }
    }
}

void add_command(Node &n, const Command &s) {
    n.cmds.emplace_back(s.name, s.summary);
    std::string_view a = s.aliases;
    while (!a.empty()) {
        size_t comma = a.find(',');
        std::string alias(a.substr(0, comma));
        n.cmds.emplace_back(alias, s.summary);
        n.canon.push_back(alias + "=" + s.name);
        if (comma == std::string_view::npos) break;
        a.remove_prefix(comma + 1);
    }
}

void flatten(const Program &p, const Command &c, const std::string &parent, std::vector<Node> &out) {
    Node n;
    n.path = parent.empty() ? c.name : parent + " " + c.name;
    for (const Command &s : c.subcommands) {
        add_command(n, s);
    }
    add_flags(n, c.flags);
    if (p.global_flags_anywhere) add_flags(n, p.global_flags);
    add_flags(n, std::span<const Flag>(&kHelp, 1));
    n.args = c.args;
    n.words = c.words;
    n.args_command = c.args_command;
    out.push_back(std::move(n));
    for (const Command &s : c.subcommands) flatten(p, s, out.back().path, out);
}

std::vector<Node> flatten(const Program &p) {
    std::vector<Node> out;
    Node n;
    for (const Command &s : p.commands) {
        add_command(n, s);
    }
    add_flags(n, p.global_flags);
    add_flags(n, std::span<const Flag>(&kHelp, 1));
    out.push_back(std::move(n));
    for (const Command &c : p.commands) flatten(p, c, "", out);
    return out;
}

// A shell word in single quotes.
std::string sq(std::string_view s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

std::string joined(const std::vector<std::string> &v) {
    std::string out;
    for (const auto &w : v) out += (out.empty() ? "" : " ") + w;
    return out;
}

std::string first_words(const std::vector<std::pair<std::string, std::string>> &v) {
    std::vector<std::string> w;
    for (const auto &e : v) w.push_back(e.first);
    return joined(w);
}

const char *kind_word(Complete c) {
    switch (c) {
    case Complete::file: return "file";
    case Complete::dir: return "dir";
    case Complete::words: return "words";
    case Complete::command: return "command";
    default: return "";
    }
}

std::string fn_name(const Program &p) {
    std::string n = p.name;
    std::replace(n.begin(), n.end(), '-', '_');
    return n;
}

// --- roff -------------------------------------------------------------------------

// Text in a roff line: backslashes and dashes escaped; a leading dot or quote
// made harmless.
std::string roff(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '\\') out += "\\e";
        else if (c == '-') out += "\\-";
        else out += c;
    }
    if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
    return out;
}

std::string upper(std::string s) {
    for (char &c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

// Paragraphs separated by blank lines; a paragraph whose lines start with two
// spaces is an example, kept as is (.nf).
std::string roff_paragraphs(std::string_view text) {
    std::string out;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find("\n\n", start);
        std::string_view para = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        start = end == std::string_view::npos ? text.size() : end + 2;
        while (!para.empty() && para.front() == '\n') para.remove_prefix(1);
        if (para.empty()) continue;
        bool example = para.starts_with("  ");
        out += example ? ".PP\n.RS 4\n.nf\n" : ".PP\n";
        size_t ls = 0;
        while (ls <= para.size()) {
            size_t le = para.find('\n', ls);
            std::string_view line = para.substr(ls, le == std::string_view::npos ? std::string_view::npos : le - ls);
            if (example && line.starts_with("  ")) line.remove_prefix(2);
            if (!line.empty() || example) out += roff(line) + "\n";
            if (le == std::string_view::npos) break;
            ls = le + 1;
        }
        if (example) out += ".fi\n.RE\n";
    }
    return out;
}

void man_flags(std::string &out, std::span<const Flag> flags) {
    for (const Flag &f : flags) {
        out += ".TP\n";
        std::string left;
        for (const std::string &w : flag_words(f)) {
            if (!left.empty()) left += ", ";
            left += "\\fB" + roff(w) + "\\fR";
            if (!f.value_name.empty()) left += " \\fI" + roff(f.value_name) + "\\fR";
        }
        out += left + "\n" + roff(f.usage) + "\n";
    }
}

void man_command(std::string &out, const Program &p, const Command &c, const std::string &parent) {
    std::string path = parent + " " + c.name;
    out += ".SS \"" + roff(path.substr(1)) + "\"\n";
    out += "\\fB" + roff(p.name + path) + "\\fR";
    if (!c.flags.empty()) out += " [\\fIoptions\\fR]";
    if (!c.args_usage.empty()) out += " " + roff(c.args_usage);
    out += "\n.br\n" + roff(c.summary) + "\n";
    if (!c.aliases.empty()) out += ".br\nAlso: " + roff(c.aliases) + ".\n";
    if (!c.flags.empty()) {
        out += ".RS 4\n";
        man_flags(out, c.flags);
        out += ".RE\n";
    }
    for (const Command &s : c.subcommands) man_command(out, p, s, path);
}

} // namespace

std::vector<std::string> flag_words(const Flag &f) {
    std::vector<std::string> out;
    std::string_view names = f.names;
    while (!names.empty()) {
        size_t comma = names.find(',');
        std::string_view n = names.substr(0, comma);
        out.push_back((n.size() == 1 ? "-" : "--") + std::string(n));
        if (comma == std::string_view::npos) break;
        names.remove_prefix(comma + 1);
    }
    return out;
}

std::string flags_help(std::span<const Flag> flags, std::string_view indent, bool value_each) {
    std::vector<std::pair<std::string, std::string_view>> rows;
    size_t width = 0;
    for (const Flag &f : flags) {
        std::string left;
        for (const std::string &w : flag_words(f)) {
            if (!left.empty()) left += ", ";
            left += w;
            if (value_each && !f.value_name.empty()) left += " " + std::string(f.value_name);
        }
        if (!value_each && !f.value_name.empty()) left += " " + std::string(f.value_name);
        width = std::max(width, left.size());
        rows.emplace_back(std::move(left), f.usage);
    }
    std::string out;
    for (const auto &[left, usage] : rows) {
        out += std::string(indent) + left + std::string(width - left.size() + 2, ' ');
        out += usage;
        out += '\n';
    }
    return out;
}

// The script walks the words before the cursor: a word that names a
// subcommand of the path so far extends the path ("image", then "unpack");
// a flag that takes a value skips its value; any other word is a positional
// argument. It then offers the flags of the path (after "-"), its
// subcommands, or what its arguments are. Plain bash: no bash-completion
// helpers needed.
std::string bash_completion(const Program &p) {
    const std::string fn = fn_name(p);
    std::string out = "# bash completion for " + p.name + "\n# Generated by `" + p.name +
                      " __generate bash` from its command table (" + p.name + " " + p.version +
                      "); do not edit.\n\n";
    out += "__" + fn + "_data() {\n"
           "    cmds='' canon='' flags='' fileflags='' dirflags='' valflags='' args='' words='' argcmd=''\n"
           "    case \"$1\" in\n";
    for (const Node &n : flatten(p)) {
        out += "    " + sq(n.path) + ")\n";
        auto var = [&](const char *name, const std::string &value) {
            if (!value.empty()) out += std::string("        ") + name + "=" + sq(value) + "\n";
        };
        var("cmds", first_words(n.cmds));
        var("canon", joined(n.canon));
        var("flags", first_words(n.flags));
        var("fileflags", joined(n.file_flags));
        var("dirflags", joined(n.dir_flags));
        var("valflags", joined(n.value_flags));
        var("args", kind_word(n.args));
        var("words", joined(n.words));
        var("argcmd", n.args_command);
        out += "        ;;\n";
    }
    out += "    esac\n}\n\n";
    out += "_" + fn + "() {\n"
           "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"\" cmdpath='' w i pair skip=0 nargs=0\n"
           "    local cmds canon flags fileflags dirflags valflags args words argcmd\n"
           "    ((COMP_CWORD > 0)) && prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
           "    __" + fn + "_data ''\n"
           "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
           "        w=\"${COMP_WORDS[i]}\"\n"
           "        if ((skip)); then skip=0; continue; fi\n"
           "        if [[ \" $fileflags $dirflags $valflags \" == *\" $w \"* ]]; then skip=1; continue; fi\n"
           "        [[ $w == -* ]] && continue\n"
           "        if ((nargs == 0)) && [[ \" $cmds \" == *\" $w \"* ]]; then\n"
           "            for pair in $canon; do [[ $w == \"${pair%%=*}\" ]] && w=\"${pair#*=}\"; done\n"
           "            cmdpath=\"${cmdpath:+$cmdpath }$w\"\n"
           "            __" + fn + "_data \"$cmdpath\"\n"
           "        else\n"
           "            ((nargs++))\n"
           "        fi\n"
           "    done\n"
           "    COMPREPLY=()\n"
           "    if [[ \" $fileflags \" == *\" $prev \"* ]]; then\n"
           "        compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")); return\n"
           "    fi\n"
           "    if [[ \" $dirflags \" == *\" $prev \"* ]]; then\n"
           "        compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- \"$cur\")); return\n"
           "    fi\n"
           "    [[ \" $valflags \" == *\" $prev \"* ]] && return\n"
           "    if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\")); return; fi\n"
           "    if [[ -n $cmds ]] && ((nargs == 0)); then COMPREPLY=($(compgen -W \"$cmds\" -- \"$cur\")); return; fi\n"
           "    case \"$args\" in\n"
           "    file) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
           "    dir) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- \"$cur\")) ;;\n"
           "    words) ((nargs == 0)) && COMPREPLY=($(compgen -W \"$words\" -- \"$cur\")) ;;\n"
           "    command) ((nargs == 0)) && COMPREPLY=($(compgen -W \"$(eval \"$argcmd\" 2>/dev/null)\" -- \"$cur\")) ;;\n"
           "    esac\n"
           "}\n\n"
           "complete -F _" + fn + " " + p.name + "\n";
    return out;
}

// The same walk as the bash script, over zsh's $words, offering flags and
// subcommands with their descriptions (_describe).
std::string zsh_completion(const Program &p) {
    const std::string fn = fn_name(p);
    auto described = [](const std::vector<std::pair<std::string, std::string>> &v) {
        std::string out;
        for (const auto &[w, d] : v) {
            std::string entry;
            for (char c : w) entry += c == ':' ? std::string("\\:") : std::string(1, c);
            out += " " + sq(entry + ":" + d);
        }
        return out;
    };
    std::string out = "#compdef " + p.name + "\n# zsh completion for " + p.name + "\n# Generated by `" + p.name +
                      " __generate zsh` from its command table (" + p.name + " " + p.version + "); do not edit.\n\n";
    out += "__" + fn + "_data() {\n"
           "    cmds=() flags=() canon='' fileflags='' dirflags='' valflags='' argkind='' argwords='' argcmd=''\n"
           "    case \"$1\" in\n";
    for (const Node &n : flatten(p)) {
        out += "    " + sq(n.path) + ")\n";
        if (!n.cmds.empty()) out += "        cmds=(" + described(n.cmds) + " )\n";
        if (!n.flags.empty()) out += "        flags=(" + described(n.flags) + " )\n";
        auto var = [&](const char *name, const std::string &value) {
            if (!value.empty()) out += std::string("        ") + name + "=" + sq(value) + "\n";
        };
        var("canon", joined(n.canon));
        var("fileflags", joined(n.file_flags));
        var("dirflags", joined(n.dir_flags));
        var("valflags", joined(n.value_flags));
        var("argkind", kind_word(n.args));
        var("argwords", joined(n.words));
        var("argcmd", n.args_command);
        out += "        ;;\n";
    }
    out += "    esac\n}\n\n";
    out += "_" + fn + "() {\n"
           "    local cmdpath='' w i pair skip=0 nargs=0 names\n"
           "    local -a cmds flags\n"
           "    local canon fileflags dirflags valflags argkind argwords argcmd\n"
           "    local cur=${words[CURRENT]} prev=${words[CURRENT-1]}\n"
           "    __" + fn + "_data ''\n"
           "    for ((i = 2; i < CURRENT; i++)); do\n"
           "        w=${words[i]}\n"
           "        if ((skip)); then skip=0; continue; fi\n"
           "        if [[ \" $fileflags $dirflags $valflags \" == *\" $w \"* ]]; then skip=1; continue; fi\n"
           "        [[ $w == -* ]] && continue\n"
           "        names=\" ${(j: :)${(@)cmds%%:*}} \"\n"
           "        if ((nargs == 0)) && [[ $names == *\" $w \"* ]]; then\n"
           "            for pair in ${=canon}; do [[ $w == ${pair%%=*} ]] && w=${pair#*=}; done\n"
           "            cmdpath=\"${cmdpath:+$cmdpath }$w\"\n"
           "            __" + fn + "_data \"$cmdpath\"\n"
           "        else\n"
           "            ((nargs++))\n"
           "        fi\n"
           "    done\n"
           "    if [[ \" $fileflags \" == *\" $prev \"* ]]; then _files; return; fi\n"
           "    if [[ \" $dirflags \" == *\" $prev \"* ]]; then _files -/; return; fi\n"
           "    if [[ \" $valflags \" == *\" $prev \"* ]]; then _message -r 'a value'; return; fi\n"
           "    if [[ $cur == -* ]]; then _describe -t options option flags; return; fi\n"
           "    if ((${#cmds} && nargs == 0)); then _describe -t commands command cmds; return; fi\n"
           "    case $argkind in\n"
           "    file) _files ;;\n"
           "    dir) _files -/ ;;\n"
           "    words) ((nargs == 0)) && compadd -- ${=argwords} ;;\n"
           "    command) ((nargs == 0)) && compadd -- ${(f)\"$(eval $argcmd 2>/dev/null)\"} ;;\n"
           "    esac\n"
           "}\n\n"
           "_" + fn + " \"$@\"\n";
    return out;
}

std::string man_page(const Program &p) {
    std::string out = ".\\\" Generated by `" + p.name + " __generate man` from its command table; do not edit.\n";
    out += ".TH " + upper(p.name) + " " + std::to_string(p.man_section) + " \"\" \"" + roff(p.name + " " + p.version) +
           "\" \"" + (p.man_section == 8 ? "System Administration" : "User Commands") + "\"\n";
    out += ".SH NAME\n" + roff(p.name) + " \\- " + roff(p.summary) + "\n";
    out += ".SH SYNOPSIS\n\\fB" + roff(p.name) + "\\fR " + roff(p.synopsis) + "\n";
    if (!p.description.empty()) out += ".SH DESCRIPTION\n" + roff_paragraphs(p.description);
    if (!p.global_flags.empty()) {
        out += ".SH \"GLOBAL OPTIONS\"\n";
        man_flags(out, p.global_flags);
    }
    out += ".SH COMMANDS\n";
    for (const Command &c : p.commands) man_command(out, p, c, "");
    for (const Section &s : p.sections) out += ".SH \"" + roff(s.title) + "\"\n" + roff_paragraphs(s.body);
    return out;
}

} // namespace corral::cli_doc
