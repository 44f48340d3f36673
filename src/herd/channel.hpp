// herd/channel.hpp — the one line-protocol channel of herd: the CLI to serve,
// serve to its agents, and the agent's own clients all speak JSON lines
// through it.
//
// Channel Design
//   - A LineChannel owns a pair of fds: one to read, one to write. For a
//     unix socket both are the same socket; for a pipe pair or an ssh
//     child's stdio they differ. Both are made non-blocking.
//   - Every line ends with '\n' and is at most max_line bytes. A longer
//     line is not buffered: its bytes are dropped up to its newline and the
//     reader gets one "too long" line in its place, so a server answers it
//     with an error and the stream stays in step.
//   - Two ways to drive it: an event loop (poll on in_fd()/out_fd(), then
//     read_available() / next_line() / queue_line() / write_available()),
//     or a blocking caller with a deadline (send_line(), receive_line()).
//   - A failure of the channel itself (read/write error, EOF, the deadline,
//     an over-long or unparsable response) is an Error of kind `transport`:
//     nothing is known of the request's fate and the stream is out of step,
//     so the caller drops the channel. A peer's {"ok": false, "error": ...,
//     "reason": ...} answer is an ordinary Error with the peer's kind: the
//     channel stays.
//
// The wire format of both protocols (agent_api.hpp, serve_api.hpp):
//   request  {"op": "<op>", ...arguments}
//   response {"ok": true, ...results} | {"ok": false, "error": "message", "reason": "<kind>"}
// reason is error_kind_name() of the Error (corral/error.hpp): not_found,
// already_exists, invalid, conflict, unavailable, unknown.
#pragma once

#include "common/fd.hpp"
#include "corral/error.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace corral::herd {

using Deadline = std::chrono::steady_clock::time_point;
Deadline deadline_in(std::chrono::milliseconds d);

// A request line may be this long (a large `apply`); a response line much
// longer (16 MiB of logs, escaped).
constexpr size_t kMaxRequestLine = 16u << 20;
constexpr size_t kMaxResponseLine = 128u << 20;

class LineChannel {
public:
    // A socket: reads and writes the same fd.
    LineChannel(UniqueFd fd, std::string peer, size_t max_line);
    // A pair: reads `in`, writes `out` (pipes, stdin/stdout).
    LineChannel(UniqueFd in, UniqueFd out, std::string peer, size_t max_line);
    LineChannel(LineChannel &&) noexcept = default;
    LineChannel &operator=(LineChannel &&) noexcept = default;

    int in_fd() const noexcept { return in_.get(); }
    int out_fd() const noexcept { return out_.valid() ? out_.get() : in_.get(); }
    const std::string &peer() const noexcept { return peer_; }
    // Output is queued that the peer has not taken yet.
    bool wants_write() const noexcept { return !out_buf_.empty(); }
    // The peer closed its side (lines it sent before are still returned).
    bool eof() const noexcept { return eof_; }

    // --- event-loop side
    // Reads what is there without blocking. EOF sets eof(); a read error is
    // a transport Error.
    Status read_available();
    // The next complete line: its text, or an Error (kind invalid) standing
    // for a line longer than max_line. nullopt: no complete line yet.
    std::optional<Result<std::string>> next_line();
    // Queues one line (a '\n' is added).
    void queue_line(std::string_view line);
    // Writes queued output without blocking; a write error (the peer went
    // away) is a transport Error.
    Status write_available();

    // --- blocking side, bounded by a deadline (errors are transport)
    Status send_line(std::string_view line, Deadline deadline);
    Result<std::string> receive_line(Deadline deadline);

private:
    Error transport(std::string what) const;
    Status wait_for(int fd, short events, Deadline deadline);

    UniqueFd in_, out_;  // out_ invalid: write in_
    std::string peer_;
    size_t max_line_;
    void split_lines(std::string_view chunk);

    std::deque<Result<std::string>> lines_;  // complete lines (or over-long ones), in order
    std::string partial_;                    // the line being read
    bool discarding_ = false;                // inside an over-long line: drop to its '\n'
    std::string out_buf_;
    bool eof_ = false;
};

// --- the JSON lines both protocols share

// One JSON value as one line: compact, invalid UTF-8 replaced.
std::string to_line(const nlohmann::json &j);
// The answer to a failed request: {"ok": false, "error": ..., "reason": ...}.
nlohmann::json error_response(const Error &e);
// A response line as the caller sees it: the object when "ok" is true; the
// peer's Error (with its reason as kind) when false; a transport Error when
// the line is not a response at all.
Result<nlohmann::json> parse_response_line(std::string_view line, std::string_view peer);

// One request, one response, over a channel used only by this caller.
// A transport Error means the channel must be dropped.
Result<nlohmann::json> call_over(LineChannel &ch, const nlohmann::json &request, Deadline deadline);

// Connects to a unix socket (blocking connect, then non-blocking); ENOENT
// and ECONNREFUSED are `unavailable` (nobody listens), other errors
// `transport`.
Result<LineChannel> connect_unix(const std::string &path, std::string peer, size_t max_line);
// The server side: bound, listening, non-blocking, mode 0600. A stale socket
// file (no one answering) is replaced; a live one is an `already_exists`
// error naming `what` ("herd serve", "agent").
Result<UniqueFd> listen_unix(const std::string &path, std::string_view what);

// --- request parsing, apart from the handlers (fuzzed: tests/fuzz)

enum class ArgType { string, integer, boolean, object, array };
struct ArgSpec {
    std::string_view name;
    ArgType type;
    bool required = false;
};
struct OpSpec {
    std::string_view op;
    std::span<const ArgSpec> args;
};

// A request line checked against a protocol's table of ops: a JSON object
// (valid UTF-8), "op" a string naming a known op, every known argument of
// the type the table says (unknown arguments are ignored, for clients newer
// than the server). Anything else is an Error of kind `invalid`; a handler
// given the result may read its arguments without type checks.
Result<nlohmann::json> parse_request_line(std::string_view line, std::span<const OpSpec> ops);
// The same checks on a request already parsed (handlers called directly).
Result<nlohmann::json> check_request(nlohmann::json request, std::span<const OpSpec> ops);

} // namespace corral::herd
