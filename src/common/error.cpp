#include "corral/error.hpp"

#include <cstring>

namespace corral {

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
