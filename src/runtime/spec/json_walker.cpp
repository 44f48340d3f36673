#include "runtime/spec/json_walker.hpp"

#include <cstdio>
#include <cstring>

namespace corral::spec::detail {

std::string Walker::path() const {
    std::string p;
    for (const Seg &s : segs_) {
        switch (s.kind) {
        case Seg::Field:
            if (!p.empty()) p += '.';
            p += s.name;
            break;
        case Seg::Index:
            p += '[';
            p += std::to_string(s.index);
            p += ']';
            break;
        case Seg::MapKey:
            // Map keys are data ("net.ipv4.ip_forward"), so quote them.
            p += "[\"";
            p += s.name;
            p += "\"]";
            break;
        }
    }
    return p;
}

bool Walker::fail(std::string_view message) {
    if (!error_.empty()) return false; // keep the first error
    error_ = source_;
    error_ += ": ";
    std::string p = path();
    if (!p.empty()) {
        error_ += p;
        error_ += ": ";
    }
    error_ += message;
    return false;
}

bool Walker::type_error(std::string_view expected, const json &got) {
    std::string m = "expected ";
    m += expected;
    m += ", got ";
    m += got.type_name();
    return fail(m);
}

bool int_range_error(Walker &w, std::string_view type, std::string_view literal) {
    std::string m(literal);
    m += " is out of range for ";
    m += type;
    return w.fail(m);
}

bool float_for_int_error(Walker &w, bool is_unsigned, double d) {
    char buf[64];
    // An integer literal too long for 64 bits arrives here as a double.
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) >= 9.2e18) {
        std::snprintf(buf, sizeof buf, "%.17g", d);
        return w.fail(std::string(buf) + " is out of range for a 64-bit integer");
    }
    std::snprintf(buf, sizeof buf, "%.17g", d);
    std::string m = is_unsigned ? "expected unsigned integer, got " : "expected integer, got ";
    m += buf;
    return w.fail(m);
}

bool read(Walker &w, const json &v, std::string &out) {
    const auto *s = v.get_ptr<const json::string_t *>();
    if (!s) return w.type_error("string", v);
    // Every string may end up in a C API (path, argv, environ), where a NUL
    // would silently cut it short.
    if (std::memchr(s->data(), '\0', s->size())) return w.fail("string contains a NUL byte");
    out = *s;
    return true;
}

bool read(Walker &w, const json &v, bool &out) {
    const auto *b = v.get_ptr<const json::boolean_t *>();
    if (!b) return w.type_error("boolean", v);
    out = *b;
    return true;
}

bool read(Walker &w, const json &v, std::map<std::string, std::string> &out) {
    if (!expect_object(w, v)) return false;
    out.clear();
    // The tree's object keys are sorted, like the map: append at the end.
    for (auto it = v.begin(); it != v.end(); ++it) {
        const std::string &key = it.key(); // lives in the tree
        auto s = w.map_key(key);
        std::string str;
        if (!read(w, *it, str)) return false;
        out.emplace_hint(out.end(), key, std::move(str));
    }
    return true;
}

} // namespace corral::spec::detail
