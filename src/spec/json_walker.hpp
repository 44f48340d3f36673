// json_walker.hpp — a typed reader over a parsed JSON tree that knows where
// it is, so every error names the field: "config.json: process.user.uid:
// expected unsigned integer, got string".
//
// The path is kept as a stack of segments (field names point into string
// literals or into the tree being read) and rendered only when an error
// happens: reading a valid config builds no strings for paths.
//
// Readers return false after recording the first error; callers pass the
// false straight up. Nothing here throws.
#pragma once

#include "spec/json_tree.hpp"

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace corral::spec::detail {

class Walker {
public:
    explicit Walker(std::string_view source) : source_(source) { segs_.reserve(16); }

    // A path segment, popped when the scope ends.
    class [[nodiscard]] Scope {
    public:
        explicit Scope(Walker &w) : w_(w) {}
        ~Scope() { w_.segs_.pop_back(); }
        Scope(const Scope &) = delete;
        Scope &operator=(const Scope &) = delete;

    private:
        Walker &w_;
    };

    Scope field(std::string_view name) { return push({Seg::Field, name, 0}); }
    Scope index(size_t i) { return push({Seg::Index, {}, i}); }
    Scope map_key(std::string_view key) { return push({Seg::MapKey, key, 0}); }

    // Record an error at the current path. Always returns false.
    bool fail(std::string_view message);
    bool type_error(std::string_view expected, const Node &got);

    Error take_error() { return Error(std::move(error_)); }
    // "process.user.uid", "mounts[2].destination", "annotations[\"a.b\"]".
    std::string path() const;

private:
    struct Seg {
        enum Kind { Field, Index, MapKey } kind;
        std::string_view name;
        size_t index;
    };
    Scope push(Seg s) {
        segs_.push_back(s);
        return Scope(*this);
    }

    std::string_view source_;
    std::vector<Seg> segs_;
    std::string error_;
};

// --- scalar readers -------------------------------------------------------

bool read(Walker &w, const Node &v, std::string &out);
bool read(Walker &w, const Node &v, bool &out);

// How an integer that did not fit is described: "uint32", "int64", ...
template <class T> constexpr const char *int_type_name() {
    if constexpr (std::is_same_v<T, uint16_t>) return "uint16";
    else if constexpr (std::is_same_v<T, uint32_t>) return "uint32";
    else if constexpr (std::is_same_v<T, uint64_t>) return "uint64";
    else if constexpr (std::is_same_v<T, int32_t>) return "int32";
    else if constexpr (std::is_same_v<T, int64_t>) return "int64";
    else static_assert(sizeof(T) == 0, "unsupported integer type");
}

bool int_range_error(Walker &w, std::string_view type, std::string_view literal);
bool float_for_int_error(Walker &w, bool is_unsigned, double d);

// Integers: the JSON number must be an integer literal that fits T exactly.
// nlohmann's lexer reports non-negative literals as uint64, negative ones as
// int64, and anything else (fractions, exponents, integers beyond 64 bits)
// as double.
template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
bool read(Walker &w, const Node &v, T &out) {
    constexpr bool is_unsigned = std::is_unsigned_v<T>;
    using Lim = std::numeric_limits<T>;
    switch (v.type) {
    case Node::Type::Unsigned:
        if (v.uinteger > static_cast<uint64_t>(Lim::max()))
            return int_range_error(w, int_type_name<T>(), std::to_string(v.uinteger));
        out = static_cast<T>(v.uinteger);
        return true;
    case Node::Type::Integer:
        if constexpr (is_unsigned) {
            if (v.integer < 0) return w.fail("expected unsigned integer, got " + std::to_string(v.integer));
            if (static_cast<uint64_t>(v.integer) > static_cast<uint64_t>(Lim::max()))
                return int_range_error(w, int_type_name<T>(), std::to_string(v.integer));
        } else {
            if (v.integer < static_cast<int64_t>(Lim::min()) || v.integer > static_cast<int64_t>(Lim::max()))
                return int_range_error(w, int_type_name<T>(), std::to_string(v.integer));
        }
        out = static_cast<T>(v.integer);
        return true;
    case Node::Type::Float:
        return float_for_int_error(w, is_unsigned, v.number);
    default:
        return w.type_error(is_unsigned ? "unsigned integer" : "integer", v);
    }
}

// --- containers -------------------------------------------------------------

template <class T> bool read(Walker &w, const Node &v, std::vector<T> &out);
template <class T> bool read(Walker &w, const Node &v, std::optional<T> &out);
bool read(Walker &w, const Node &v, std::map<std::string, std::string> &out);

template <class T> bool read(Walker &w, const Node &v, std::vector<T> &out) {
    if (!v.is_array()) return w.type_error("array", v);
    out.clear();
    out.reserve(v.size);
    size_t i = 0;
    for (const Node *e = v.first; e; e = e->next) {
        auto s = w.index(i++);
        if (!read(w, *e, out.emplace_back())) return false;
    }
    return true;
}

template <class T> bool read(Walker &w, const Node &v, std::optional<T> &out) {
    return read(w, v, out.emplace());
}

// --- object members ---------------------------------------------------------

// Look up a member. Absent and null are the same (as in Go's encoding/json,
// which every config producer uses): both mean "not set".
inline const Node *member(const Node &obj, std::string_view name) {
    const Node *v = obj.find(name);
    return v && !v->is_null() ? v : nullptr;
}

// OPTIONAL member: left untouched when absent or null.
template <class T> bool opt(Walker &w, const Node &obj, std::string_view name, T &out) {
    const Node *v = member(obj, name);
    if (!v) return true;
    auto s = w.field(name);
    return read(w, *v, out);
}

// REQUIRED member. A null value is reported as the wrong type.
template <class T> bool req(Walker &w, const Node &obj, std::string_view name, T &out) {
    const Node *v = obj.find(name);
    auto s = w.field(name);
    if (!v) return w.fail("required field is missing");
    return read(w, *v, out);
}

inline bool expect_object(Walker &w, const Node &v) {
    return v.is_object() || w.type_error("object", v);
}

} // namespace corral::spec::detail
