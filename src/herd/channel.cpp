// herd/channel.cpp — see channel.hpp.
#include "herd/channel.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace corral::herd {

using json = nlohmann::json;

Deadline deadline_in(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

namespace {

void set_nonblocking(int fd) {
    if (fd < 0) return;
    int fl = ::fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK)) ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int ms_until(Deadline d) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(d - std::chrono::steady_clock::now()).count();
    return int(std::clamp<int64_t>(left, 0, 24 * 3600 * 1000));
}

} // namespace

// --- LineChannel ---------------------------------------------------------------

LineChannel::LineChannel(UniqueFd fd, std::string peer, size_t max_line)
    : in_(std::move(fd)), peer_(std::move(peer)), max_line_(max_line) {
    set_nonblocking(in_.get());
}

LineChannel::LineChannel(UniqueFd in, UniqueFd out, std::string peer, size_t max_line)
    : in_(std::move(in)), out_(std::move(out)), peer_(std::move(peer)), max_line_(max_line) {
    set_nonblocking(in_.get());
    set_nonblocking(out_.get());
}

Error LineChannel::transport(std::string what) const {
    return Error(ErrorKind::transport, peer_ + ": " + what);
}

Status LineChannel::read_available() {
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(in_.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return ok();
        if (n < 0) return Error::from_errno(errno, "read from " + peer_).with_kind(ErrorKind::transport);
        if (n == 0) {
            eof_ = true;
            return ok();
        }
        split_lines(std::string_view(buf, size_t(n)));
    }
}

void LineChannel::split_lines(std::string_view chunk) {
    while (!chunk.empty()) {
        size_t nl = chunk.find('\n');
        std::string_view piece = chunk.substr(0, nl);
        if (!discarding_) {
            if (partial_.size() + piece.size() > max_line_) {
                // Not kept: its bytes are dropped up to its end, where one
                // error stands for it.
                partial_.clear();
                partial_.shrink_to_fit();
                discarding_ = true;
            } else {
                partial_.append(piece);
            }
        }
        if (nl == std::string_view::npos) return;
        if (discarding_) {
            lines_.emplace_back(Error(ErrorKind::invalid, "line longer than " + std::to_string(max_line_) + " bytes"));
            discarding_ = false;
        } else {
            lines_.emplace_back(std::move(partial_));
            partial_.clear();
        }
        chunk.remove_prefix(nl + 1);
    }
}

std::optional<Result<std::string>> LineChannel::next_line() {
    if (lines_.empty()) return std::nullopt;
    Result<std::string> r = std::move(lines_.front());
    lines_.pop_front();
    return r;
}

void LineChannel::queue_line(std::string_view line) {
    out_buf_.append(line);
    out_buf_ += '\n';
}

Status LineChannel::write_available() {
    size_t off = 0;
    Status st;
    while (off < out_buf_.size()) {
        ssize_t n = out_.valid() ? ::write(out_.get(), out_buf_.data() + off, out_buf_.size() - off)
                                 : ::send(in_.get(), out_buf_.data() + off, out_buf_.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK && !out_.valid())
            n = ::write(in_.get(), out_buf_.data() + off, out_buf_.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n < 0) {
            st = Error::from_errno(errno, "write to " + peer_).with_kind(ErrorKind::transport);
            break;
        }
        off += size_t(n);
    }
    out_buf_.erase(0, off);
    return st;
}

Status LineChannel::wait_for(int fd, short events, Deadline deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, ms_until(deadline));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno(errno, "poll " + peer_).with_kind(ErrorKind::transport);
        if (n == 0) return transport("no answer before the deadline");
        return ok();
    }
}

Status LineChannel::send_line(std::string_view line, Deadline deadline) {
    queue_line(line);
    for (;;) {
        CORRAL_TRY(write_available());
        if (!wants_write()) return ok();
        CORRAL_TRY(wait_for(out_fd(), POLLOUT, deadline));
    }
}

Result<std::string> LineChannel::receive_line(Deadline deadline) {
    for (;;) {
        if (auto line = next_line()) {
            if (!*line) return transport("answer longer than " + std::to_string(max_line_) + " bytes");
            return std::move(**line);
        }
        if (eof_) return transport("closed the connection without an answer");
        CORRAL_TRY(wait_for(in_fd(), POLLIN, deadline));
        CORRAL_TRY(read_available());
    }
}

// --- JSON lines ------------------------------------------------------------------

std::string to_line(const json &j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json error_response(const Error &e) {
    ErrorKind k = e.kind() == ErrorKind::transport ? ErrorKind::unavailable : e.kind();
    return json{{"ok", false}, {"error", e.message()}, {"reason", std::string(error_kind_name(k))}};
}

Result<json> parse_response_line(std::string_view line, std::string_view peer) {
    json j = json::parse(line, nullptr, false);
    const auto bad = [&] {
        return Error(ErrorKind::transport, std::string(peer) + ": the answer is not a protocol response");
    };
    if (j.is_discarded() || !j.is_object()) return bad();
    auto ok_it = j.find("ok");
    if (ok_it == j.end() || !ok_it->is_boolean()) return bad();
    if (ok_it->get<bool>()) return j;
    auto err_it = j.find("error");
    auto reason_it = j.find("reason");
    std::string msg = err_it != j.end() && err_it->is_string() ? err_it->get<std::string>()
                                                               : std::string(peer) + ": request failed";
    ErrorKind kind = reason_it != j.end() && reason_it->is_string()
                         ? error_kind_from_name(reason_it->get_ref<const std::string &>())
                         : ErrorKind::unknown;
    // A peer cannot make us drop our channel to it by saying "transport".
    if (kind == ErrorKind::transport) kind = ErrorKind::unknown;
    return Error(kind, std::move(msg));
}

Result<json> call_over(LineChannel &ch, const json &request, Deadline deadline) {
    CORRAL_TRY(ch.send_line(to_line(request), deadline));
    std::string line = CORRAL_TRY(ch.receive_line(deadline));
    return parse_response_line(line, ch.peer());
}

// --- unix sockets ------------------------------------------------------------------

namespace {

Result<sockaddr_un> unix_address(const std::string &path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path)
        return Error(ErrorKind::invalid,
                     "socket path too long (max " + std::to_string(sizeof addr.sun_path - 1) + " bytes)",
                     ENAMETOOLONG, path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

} // namespace

Result<LineChannel> connect_unix(const std::string &path, std::string peer, size_t max_line) {
    sockaddr_un addr = CORRAL_TRY(unix_address(path));
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return Error::from_errno(errno, "socket").with_kind(ErrorKind::transport);
    if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) < 0) {
        int err = errno;
        bool absent = err == ENOENT || err == ECONNREFUSED;
        return Error::from_errno(err, "connect to " + peer, path)
            .with_kind(absent ? ErrorKind::unavailable : ErrorKind::transport);
    }
    return LineChannel(std::move(fd), std::move(peer), max_line);
}

Result<UniqueFd> listen_unix(const std::string &path, std::string_view what) {
    sockaddr_un addr = CORRAL_TRY(unix_address(path));
    // A live socket means another server owns it; a dead one is what a
    // killed server leaves behind.
    {
        UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0)
            return Error(ErrorKind::already_exists, "another " + std::string(what) + " is listening on " + path,
                         EADDRINUSE, path);
    }
    ::unlink(path.c_str());
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return Error::from_errno(errno, "socket");
    // Root's API: nobody else may connect, not even between bind and chmod.
    mode_t old = ::umask(0077);
    int rc = ::bind(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr);
    ::umask(old);
    if (rc < 0) return Error::from_errno(errno, "bind", path);
    ::chmod(path.c_str(), 0600);
    if (::listen(fd.get(), 64) < 0) return Error::from_errno(errno, "listen", path);
    return fd;
}

// --- requests ------------------------------------------------------------------------

namespace {

bool has_type(const json &v, ArgType t) {
    switch (t) {
    case ArgType::string: return v.is_string();
    case ArgType::integer: return v.is_number_integer();
    case ArgType::boolean: return v.is_boolean();
    case ArgType::object: return v.is_object();
    case ArgType::array: return v.is_array();
    }
    return false;
}

std::string_view type_name(ArgType t) {
    switch (t) {
    case ArgType::string: return "a string";
    case ArgType::integer: return "an integer";
    case ArgType::boolean: return "a boolean";
    case ArgType::object: return "an object";
    case ArgType::array: return "a list";
    }
    return "?";
}

Error invalid_request(std::string msg) { return Error(ErrorKind::invalid, "bad request: " + std::move(msg)); }

} // namespace

Result<json> parse_request_line(std::string_view line, std::span<const OpSpec> ops) {
    json req = json::parse(line, nullptr, false);
    if (req.is_discarded()) return invalid_request("not JSON (or not UTF-8)");
    return check_request(std::move(req), ops);
}

Result<json> check_request(json req, std::span<const OpSpec> ops) {
    const auto invalid = invalid_request;
    if (!req.is_object()) return invalid("not a JSON object");
    auto op_it = req.find("op");
    if (op_it == req.end() || !op_it->is_string()) return invalid("\"op\" must be a string");
    const std::string &op = op_it->get_ref<const std::string &>();
    const OpSpec *spec = nullptr;
    std::string known;
    for (const OpSpec &s : ops) {
        if (s.op == op) spec = &s;
        known += (known.empty() ? "" : ", ") + std::string(s.op);
    }
    if (!spec) {
        std::string shown = op.size() > 64 ? op.substr(0, 64) + "..." : op;
        return invalid("unknown op \"" + shown + "\" (" + known + ")");
    }
    for (const ArgSpec &a : spec->args) {
        auto it = req.find(std::string(a.name));
        if (it == req.end() || it->is_null()) {
            if (a.required) return invalid(op + ": missing \"" + std::string(a.name) + "\"");
            if (it != req.end()) req.erase(it);  // null = absent
            continue;
        }
        if (!has_type(*it, a.type))
            return invalid(op + ": \"" + std::string(a.name) + "\" must be " + std::string(type_name(a.type)));
    }
    return req;
}

} // namespace corral::herd
