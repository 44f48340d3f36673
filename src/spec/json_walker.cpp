#include "spec/json_walker.hpp"

#include <cmath>
#include <cstdio>

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

bool Walker::type_error(std::string_view expected, const Node &got) {
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
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", d);
    // Whole without std::trunc, which -Os leaves as a call into libm (corral
    // links libc only): every double from 2^52 on is whole.
    const bool whole = std::isfinite(d) && (std::fabs(d) >= 0x1p52 || d == static_cast<double>(static_cast<int64_t>(d)));
    // An integer literal too long for 64 bits arrives here as a double.
    if (whole && std::fabs(d) >= 9.2e18) return w.fail(std::string(buf) + " is out of range for a 64-bit integer");
    std::string m = is_unsigned ? "expected unsigned integer, got " : "expected integer, got ";
    m += buf;
    // 1e3 and 1000.0 are whole, but not integer literals (Go refuses them too).
    if (whole) m += " written with a fraction or exponent";
    return w.fail(m);
}

bool read(Walker &w, const Node &v, std::string &out) {
    if (!v.is_string()) return w.type_error("string", v);
    // Every string may end up in a C API (path, argv, environ), where a NUL
    // would silently cut it short.
    if (v.str.find('\0') != std::string_view::npos) return w.fail("string contains a NUL byte");
    out = v.str;
    return true;
}

bool read(Walker &w, const Node &v, bool &out) {
    if (v.type != Node::Type::Boolean) return w.type_error("boolean", v);
    out = v.boolean;
    return true;
}

bool read(Walker &w, const Node &v, std::map<std::string, std::string> &out) {
    if (!expect_object(w, v)) return false;
    out.clear();
    for (const Node *m = v.first; m; m = m->next) {
        auto s = w.map_key(m->key);
        std::string str;
        if (!read(w, *m, str)) return false;
        out.insert_or_assign(std::string(m->key), std::move(str)); // a repeated key: the last wins
    }
    return true;
}

} // namespace corral::spec::detail
