// herd/yaml_out.cpp — JSON to YAML text, for `herd get -o yaml`.
//
// Block style as kubectl prints it: sorted keys (nlohmann keeps them
// sorted), sequence items at their key's indentation. A string is written
// plain only if every YAML reader takes it back as that same string — not
// "true", "yes", "1e3", "0x1F", "2026-11-23T18:30:00Z" (YAML 1.1 readers,
// such as the one kubectl uses, turn those into booleans, numbers and
// timestamps) — and double-quoted otherwise, with JSON's escapes, which are
// valid YAML.
#include "herd/manifest.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

namespace corral::herd {

namespace {

// Words that YAML 1.1 or 1.2 resolve to null or a boolean.
bool is_reserved_word(const std::string &s) {
    static const char *const words[] = {"null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"};
    std::string lower = s;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const char *w : words)
        if (lower == w) return true;
    return false;
}

// Could a YAML reader take this for a number or a timestamp? Conservative:
// it starts like a number and holds only characters numbers, hex, octal,
// sexagesimal and timestamps are made of. "500m" and "256Mi" stay plain.
bool looks_numeric(const std::string &s) {
    if (!(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '+' || s[0] == '-' || s[0] == '.')) return false;
    static constexpr std::string_view chars = "0123456789abcdefABCDEFxXoOtTzZ+-._: ";
    return std::all_of(s.begin(), s.end(), [](char c) { return chars.find(c) != std::string_view::npos; });
}

bool can_be_plain(const std::string &s) {
    if (s.empty() || is_reserved_word(s) || looks_numeric(s)) return false;
    if (std::isspace(static_cast<unsigned char>(s.front())) || std::isspace(static_cast<unsigned char>(s.back())))
        return false;
    if (std::strchr("-?:,[]{}#&*!|>'\"%@`", s[0])) return false;
    if (s.back() == ':' || s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return false;
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

std::string scalar(const json &v) {
    switch (v.type()) {
    case json::value_t::string: {
        const auto &s = v.get_ref<const std::string &>();
        return can_be_plain(s) ? s : v.dump();
    }
    case json::value_t::number_float: {
        double d = v.get<double>();
        if (std::isnan(d)) return ".nan";
        if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
        return v.dump();
    }
    case json::value_t::object: return "{}";
    case json::value_t::array: return "[]";
    default: return v.dump();  // integers, booleans, null
    }
}


void emit_array(const json &arr, int indent, bool inline_first, std::string &out);

// Keys at INDENT; with INLINE_FIRST the first key continues the current line
// (after a sequence's "- ").
void emit_object(const json &obj, int indent, bool inline_first, std::string &out) {
    bool first = true;
    for (auto &[key, value] : obj.items()) {
        if (!(first && inline_first)) out.append(indent, ' ');
        first = false;
        out += scalar(json(key)) + ":";
        if (value.is_object() && !value.empty()) {
            out += "\n";
            emit_object(value, indent + 2, false, out);
        } else if (value.is_array() && !value.empty()) {
            out += "\n";
            emit_array(value, indent, false, out);
        } else {
            out += " " + scalar(value) + "\n";
        }
    }
}

void emit_array(const json &arr, int indent, bool inline_first, std::string &out) {
    bool first = true;
    for (const auto &item : arr) {
        if (!(first && inline_first)) out.append(indent, ' ');
        first = false;
        out += "- ";
        if (item.is_object() && !item.empty()) emit_object(item, indent + 2, true, out);
        else if (item.is_array() && !item.empty()) emit_array(item, indent + 2, true, out);
        else out += scalar(item) + "\n";
    }
}

} // namespace

std::string to_yaml(const json &v) {
    std::string out;
    if (v.is_object() && !v.empty()) emit_object(v, 0, false, out);
    else if (v.is_array() && !v.empty()) emit_array(v, 0, false, out);
    else out = scalar(v) + "\n";
    return out;
}

} // namespace corral::herd
