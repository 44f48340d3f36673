// Field paths for error messages: `linux.seccomp.syscalls[3].names` and
// quoted values, shared by the spec validator and the seccomp compiler.
//
// Named apart from std::quoted on purpose: an unqualified `quoted(s)` with a
// std::string argument finds std::quoted by argument-dependent lookup
// wherever <iomanip> happens to be visible, and picks it over ours.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace corral {

// "value", with double quotes, as runc's messages print a bad value.
inline std::string in_quotes(std::string_view s) {
    std::string q = "\"";
    q += s;
    q += '"';
    return q;
}

// base[i]
inline std::string indexed(std::string_view base, size_t i) {
    std::string p(base);
    p += '[';
    p += std::to_string(i);
    p += ']';
    return p;
}

} // namespace corral
