// child_util.hpp — tools for the container's init after clone, where only
// async-signal-safe calls are allowed: no malloc, no stdio, no exceptions.
// A fixed-size message builder, a logger that writes runc-format lines with
// write(2), and the fatal-error path that reports to the parent and _exits.
#pragma once

#include "runtime/plan.hpp"
#include "runtime/sync.hpp"

#include <cstddef>
#include <cstdint>
#include <ctime>

namespace corral {

// A string built on the stack. Appends silently truncate at the capacity.
class Msg {
public:
    Msg() { buf_[0] = 0; }
    Msg &operator<<(const char *s) {
        while (s && *s && n_ < sizeof buf_ - 1) buf_[n_++] = *s++;
        buf_[n_] = 0;
        return *this;
    }
    Msg &operator<<(const std::string &s) { return *this << s.c_str(); }
    Msg &operator<<(long long v) {
        char tmp[24];
        int i = 0;
        unsigned long long u = v < 0 ? 0ULL - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
        do tmp[i++] = static_cast<char>('0' + u % 10);
        while ((u /= 10) && i < 23);
        if (v < 0 && n_ < sizeof buf_ - 1) buf_[n_++] = '-';
        while (i > 0 && n_ < sizeof buf_ - 1) buf_[n_++] = tmp[--i];
        buf_[n_] = 0;
        return *this;
    }
    Msg &operator<<(int v) { return *this << static_cast<long long>(v); }
    Msg &operator<<(unsigned v) { return *this << static_cast<long long>(v); }
    Msg &operator<<(long v) { return *this << static_cast<long long>(v); }
    Msg &operator<<(unsigned long v) { return *this << static_cast<long long>(v); }
    const char *c_str() const { return buf_; }
    size_t size() const { return n_; }

private:
    char buf_[1024];
    size_t n_ = 0;
};

// Append the names of CLONE_NEW* flags: "mount uts ipc pid network".
void append_namespace_names(Msg &m, unsigned long flags);

// Write one log line (debug level) to the plan's log fd in runc's format.
void child_log(const ChildPlan &plan, const Msg &msg);

// Report `what: strerror(err)` to the parent as SyncMsg::Error and _exit(1).
[[noreturn]] void child_fail(const ChildPlan &plan, int err, const Msg &what);

// strerror is not async-signal-safe; this table is.
const char *errno_text(int err);

} // namespace corral

// Log a creation step at debug level (only formats when --debug is on).
#define CHILD_STEP(plan, expr)                                                 \
    do {                                                                       \
        if ((plan).debug) {                                                    \
            ::corral::Msg _m;                                                  \
            _m << expr;                                                        \
            ::corral::child_log((plan), _m);                                   \
        }                                                                      \
    } while (0)
