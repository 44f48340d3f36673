#include "corral/error.hpp"

#include <cstring>

namespace corral {

namespace {
constexpr std::pair<ErrorKind, std::string_view> kKindNames[] = {
    {ErrorKind::unknown, "unknown"},         {ErrorKind::not_found, "not_found"},
    {ErrorKind::already_exists, "already_exists"}, {ErrorKind::invalid, "invalid"},
    {ErrorKind::conflict, "conflict"},       {ErrorKind::unavailable, "unavailable"},
    {ErrorKind::transport, "transport"},
};
} // namespace

std::string_view error_kind_name(ErrorKind kind) noexcept {
    for (const auto &[k, name] : kKindNames)
        if (k == kind) return name;
    return "unknown";
}

ErrorKind error_kind_from_name(std::string_view name) noexcept {
    for (const auto &[k, n] : kKindNames)
        if (n == name) return k;
    return ErrorKind::unknown;
}

Error Error::from_errno(int err, std::string_view what, std::string_view path) {
    std::string msg(what);
    if (!path.empty()) {
        msg += " `";
        msg += path;
        msg += '`';
    }
    msg += ": ";
    msg += std::strerror(err);
    return Error(std::move(msg), err, std::string(path));
}

Error &Error::context(std::string_view ctx) & {
    std::string m(ctx);
    m += ": ";
    m += message_;
    message_ = std::move(m);
    return *this;
}

Error &&Error::context(std::string_view ctx) && { return std::move(context(ctx)); }

} // namespace corral
