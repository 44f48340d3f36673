// corral/error.hpp — the one error type of libcorral, and Result<T>.
//
// Every fallible function returns Result<T>. An Error carries a message that
// grows context as it travels up ("create container `c1`: mount `proc` at
// `/proc`: Operation not permitted"), the errno that caused it (0 if none) and
// the path that failed (empty if none), and its kind: what went wrong in
// words a caller can act on without reading the message (herd carries it in
// its line protocols as "reason" and reports it as kubectl does). Errors
// cannot be ignored silently: Result is [[nodiscard]].
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace corral {

// What kind of failure an Error is. `unknown` is every error nobody
// classified (most of the runtime's); the others are set where the cause is
// known, never guessed from the message text.
enum class ErrorKind {
    unknown,
    not_found,       // the named object does not exist
    already_exists,  // an object of that name exists
    invalid,         // the request or object is malformed
    conflict,        // the request clashes with the current state
    unavailable,     // a needed service is not there (yet): try again later
    transport,       // the channel to a peer failed: nothing is known of the request's fate
};

// "not_found", "already_exists", ... (the wire names); and back (unknown
// for a name it does not know).
std::string_view error_kind_name(ErrorKind kind) noexcept;
ErrorKind error_kind_from_name(std::string_view name) noexcept;

class Error {
public:
    Error() = default;
    explicit Error(std::string message, int err = 0, std::string path = {})
        : message_(std::move(message)), errno_(err), path_(std::move(path)) {}
    Error(ErrorKind kind, std::string message, int err = 0, std::string path = {})
        : message_(std::move(message)), errno_(err), path_(std::move(path)), kind_(kind) {}

    // An error from a failed system call: "what `path`: strerror(err)".
    static Error from_errno(int err, std::string_view what, std::string_view path = {});

    // Prepend context: "context: message".
    Error &context(std::string_view ctx) &;
    Error &&context(std::string_view ctx) &&;

    const std::string &message() const noexcept { return message_; }
    int err() const noexcept { return errno_; }
    const std::string &path() const noexcept { return path_; }
    ErrorKind kind() const noexcept { return kind_; }
    bool is(ErrorKind k) const noexcept { return kind_ == k; }

    // Classify: the message and context stay as they are.
    Error &with_kind(ErrorKind kind) & {
        kind_ = kind;
        return *this;
    }
    Error &&with_kind(ErrorKind kind) && { return std::move(with_kind(kind)); }

private:
    std::string message_;
    int errno_ = 0;
    std::string path_;
    ErrorKind kind_ = ErrorKind::unknown;
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T &value() & { return std::get<0>(v_); }
    const T &value() const & { return std::get<0>(v_); }
    T &&value() && { return std::get<0>(std::move(v_)); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }
    T &&operator*() && { return std::move(*this).value(); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }

    Error &error() & { return std::get<1>(v_); }
    const Error &error() const & { return std::get<1>(v_); }
    Error &&error() && { return std::get<1>(std::move(v_)); }

    // Add context to the error, if any, and pass the result on.
    Result &&context(std::string_view ctx) && {
        if (!ok()) std::get<1>(v_).context(ctx);
        return std::move(*this);
    }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error e) : err_(std::move(e)), failed_(true) {}

    bool ok() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return ok(); }
    void value() const {}

    Error &error() & { return err_; }
    const Error &error() const & { return err_; }
    Error &&error() && { return std::move(err_); }

    Result &&context(std::string_view ctx) && {
        if (failed_) err_.context(ctx);
        return std::move(*this);
    }

private:
    Error err_;
    bool failed_ = false;
};

using Status = Result<void>;

inline Status ok() { return {}; }

} // namespace corral

// TRY(expr): evaluate a Result; on error return it from the enclosing
// function, otherwise yield its value. (A GNU statement expression: g++ and
// clang both have it, and it keeps call sites to one line.)
#define CORRAL_TRY(expr)                                                       \
    ({                                                                         \
        auto _corral_r = (expr);                                               \
        if (!_corral_r.ok()) return std::move(_corral_r).error();              \
        std::move(_corral_r).value();                                          \
    })

// TRY_CTX(expr, ctx): like TRY, adding context to the error.
#define CORRAL_TRY_CTX(expr, ctx)                                              \
    ({                                                                         \
        auto _corral_r = (expr);                                               \
        if (!_corral_r.ok()) return std::move(_corral_r.error().context(ctx)); \
        std::move(_corral_r).value();                                          \
    })
