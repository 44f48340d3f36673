// herd logs / herd exec: the two commands that reach into a running pod.
//
// logs reads the container's log file through serve (which asks the pod's
// agent) in chunks, following it with -f by asking again from the offset the
// last answer gave. exec asks serve where the container runs and then
// becomes `corral --root R exec ID CMD...` (execv: the terminal, signals and
// exit status are the command's own, with no proxy in between).
#include "herd/cli_internal.hpp"

#include "common/fd.hpp"
#include "herd/channel.hpp"
#include "herd/exec_stream.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <csignal>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <thread>
#include <unistd.h>

namespace corral::herd::cli {

namespace {

constexpr int64_t kChunk = 1 << 20;  // bytes per logs request

// The container to use: -c, or the pod's only one, or (as kubectl) the
// kubectl.kubernetes.io/default-container annotation or the first one, said
// on stderr.
Result<std::string> pick_container(const Context &ctx, const std::string &pod_name, const std::string &given) {
    auto pods = CORRAL_TRY(get_objects(ctx, Kind::pod, pod_name));
    if (pods.empty()) return Error(ErrorKind::not_found, "pods \"" + pod_name + "\" not found");
    const json &containers = at(pods[0], {"spec", "containers"});
    std::vector<std::string> names;
    if (containers.is_array())
        for (const json &c : containers) names.push_back(str(c, {"name"}));
    if (!given.empty()) {
        for (const std::string &n : names)
            if (n == given) return given;
        std::string all;
        for (const std::string &n : names) all += (all.empty() ? "" : " ") + n;
        return Error("container " + given + " is not valid for pod " + pod_name + " (choose one of: [" + all + "])");
    }
    if (names.empty()) return Error("pod " + pod_name + " has no containers");
    if (names.size() == 1) return names[0];
    std::string chosen = str(pods[0], {"metadata", "annotations", "kubectl.kubernetes.io/default-container"}, names[0]);
    std::string all;
    for (const std::string &n : names) all += (all.empty() ? "" : ", ") + n;
    std::fprintf(stderr, "Defaulted container \"%s\" out of: %s\n", chosen.c_str(), all.c_str());
    return chosen;
}

// Keeps the last n lines of text.
std::string last_lines(const std::string &text, int64_t n) {
    if (n < 0) return text;
    if (n == 0) return "";
    size_t pos = text.size();
    if (pos > 0 && text[pos - 1] == '\n') --pos;  // the final newline ends the last line
    while (pos > 0) {
        size_t nl = text.rfind('\n', pos - 1);
        if (nl == std::string::npos) return text;
        if (--n == 0) return text.substr(nl + 1);
        pos = nl;
    }
    return text;
}

// The status of one container of a pod (null when the agent reported none yet).
json container_status(const json &pod, const std::string &container) {
    const json &statuses = at(pod, {"status", "containerStatuses"});
    if (statuses.is_array())
        for (const json &cs : statuses)
            if (str(cs, {"name"}) == container) return cs;
    return nullptr;
}

// kubectl's (the API server's) answer for the log of a container that never
// ran: "container "x" in pod "y" is waiting to start: REASON". Empty when it
// has run at least once, so there is a log to show.
std::string never_started(const json &pod, const std::string &pod_name, const std::string &container) {
    json cs = container_status(pod, container);
    bool has_run = cs.is_object() && (num(cs, {"restartCount"}) > 0 || at(cs, {"state", "running"}).is_object() ||
                                      at(cs, {"state", "terminated"}).is_object() ||
                                      at(cs, {"lastState", "terminated"}).is_object());
    if (has_run) return "";
    std::string reason = cs.is_object() ? str(cs, {"state", "waiting", "reason"}) : "";
    std::string message = cs.is_object() ? str(cs, {"state", "waiting", "message"}) : "";
    if (reason.empty()) reason = "ContainerCreating";
    std::string out = "container \"" + container + "\" in pod \"" + pod_name + "\" is waiting to start: " + reason;
    if (!message.empty()) out += " (" + message + ")";
    return out;
}

Result<json> the_pod(const Context &ctx, const std::string &name) {
    auto pods = CORRAL_TRY(get_objects(ctx, Kind::pod, name));
    if (pods.empty()) return Error("pods \"" + name + "\" not found");
    return pods[0];
}

} // namespace

int cmd_logs(const Context &ctx, const Args &args) {
    if (args.positional.size() != 1) return fail("expected one pod name: herd logs POD [-c CONTAINER]");
    std::string pod = args.positional[0];
    if (size_t slash = pod.find('/'); slash != std::string::npos) {
        if (parse_kind(pod.substr(0, slash)) != Kind::pod) return fail("herd logs takes a pod (pod/NAME or NAME)");
        pod = pod.substr(slash + 1);
    }
    auto container = pick_container(ctx, pod, args.get("container"));
    if (!container) return fail(container.error());
    int64_t tail = -1;
    if (args.has("tail")) {
        try {
            tail = std::stoll(args.get("tail"));
        } catch (...) {
            return fail("invalid --tail \"" + args.get("tail") + "\"");
        }
    }
    bool previous = args.flag("previous");
    bool follow = args.flag("follow") && !previous;
    {
        auto p = the_pod(ctx, pod);
        if (!p) return fail(p.error());
        if (std::string why = never_started(*p, pod, *container); !why.empty())
            return fail(Error("Error from server (BadRequest): " + why));
        if (previous && num(container_status(*p, *container), {"restartCount"}) == 0 &&
            !at(container_status(*p, *container), {"lastState", "terminated"}).is_object())
            return fail(Error("Error from server (BadRequest): previous terminated container \"" + *container + "\" in pod \"" + pod +
                              "\" not found"));
    }

    // Everything there is now; --tail keeps the end of it.
    int64_t offset = 0;
    std::string text;
    auto read_chunk = [&]() -> Result<std::string> {
        json resp = CORRAL_TRY(ask(ctx, {{"op", "logs"},
                                         {"namespace", ctx.namespace_},
                                         {"name", pod},
                                         {"container", *container},
                                         {"previous", previous},
                                         {"offset", offset},
                                         {"limit_bytes", kChunk}}));
        std::string data = str(resp, {"data"});
        int64_t next = num(resp, {"offset"}, offset + static_cast<int64_t>(data.size()));
        // A log that was rotated (copy-truncate) starts again from 0.
        offset = next;
        return data;
    };
    while (true) {
        auto chunk = read_chunk();
        if (!chunk) return fail(chunk.error());
        text += *chunk;
        if (static_cast<int64_t>(chunk->size()) < kChunk) break;
        if (tail >= 0 && text.size() > static_cast<size_t>(4 * kChunk)) text = last_lines(text, tail);
    }
    text = last_lines(text, tail);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    if (!follow) return 0;
    // -f: ask again from the offset until the pod goes away (or ^C).
    while (true) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        auto chunk = read_chunk();
        if (!chunk) {
            if (chunk.error().is(ErrorKind::not_found)) return 0;
            return fail(chunk.error());
        }
        if (!chunk->empty()) {
            std::fwrite(chunk->data(), 1, chunk->size(), stdout);
            std::fflush(stdout);
        }
    }
}

namespace {

// Puts the terminal in raw mode for the life of an exec -it.
struct RawTerminal {
    termios saved{};
    bool active = false;
    RawTerminal() {
        if (::tcgetattr(STDIN_FILENO, &saved) == 0) {
            termios raw = saved;
            ::cfmakeraw(&raw);
            active = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
        }
    }
    ~RawTerminal() {
        if (active) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    }
};

void write_out(int fd, const std::string &bytes) {
    for (size_t off = 0; off < bytes.size();) {
        ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += size_t(n);
    }
}

// The stream after the agent took the exec: our stdin to it, its stdout and
// stderr to ours, until its exit line; the exit status is the command's.
int exec_stream(LineChannel &ch, bool tty, bool with_stdin) {
    std::optional<RawTerminal> raw;
    sigset_t winch;
    sigemptyset(&winch);
    sigaddset(&winch, SIGWINCH);
    UniqueFd sig_fd;
    if (tty) {
        raw.emplace();
        ::sigprocmask(SIG_BLOCK, &winch, nullptr);
        sig_fd.reset(::signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK));
    }
    bool stdin_open = with_stdin;
    // Lines already read (with the first answer, or since): handled before
    // waiting for more. An exit status ends the stream.
    std::optional<int> exit_code;
    auto handle_lines = [&]() -> Status {
        while (auto line = ch.next_line()) {
            if (!*line) return std::move(*line).error();
            json msg = json::parse(**line, nullptr, false);
            if (!msg.is_object()) continue;
            if (msg.contains("stdout")) write_out(STDOUT_FILENO, base64_decode(msg.value("stdout", "")));
            if (msg.contains("stderr")) write_out(STDERR_FILENO, base64_decode(msg.value("stderr", "")));
            if (msg.contains("exit")) {
                exit_code = msg.value("exit", 1);
                return ok();
            }
            if (msg.value("ok", true) == false) return Error(msg.value("error", std::string("exec failed")));
        }
        return ok();
    };
    for (;;) {
        if (auto st = handle_lines(); !st) return fail(st.error());
        if (exit_code) return *exit_code;
        if (ch.eof()) return fail("exec: the stream from the node ended before the command's exit status");
        pollfd p[4] = {{ch.in_fd(), POLLIN, 0},
                       {ch.wants_write() ? ch.out_fd() : -1, POLLOUT, 0},
                       {stdin_open && !ch.wants_write() ? STDIN_FILENO : -1, POLLIN, 0},
                       {sig_fd ? sig_fd.get() : -1, POLLIN, 0}};
        if (::poll(p, 4, -1) < 0) {
            if (errno == EINTR) continue;
            return fail(Error::from_errno(errno, "exec: poll"));
        }
        if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[32768];
            ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
            if (n > 0) {
                ch.queue_line(to_line(json{{"stdin", base64_encode({buf, size_t(n)})}}));
            } else if (n == 0 || errno != EINTR) {
                stdin_open = false;
                ch.queue_line(to_line(json{{"stdin_close", true}}));
            }
        }
        if (p[3].revents & POLLIN) {
            signalfd_siginfo si;
            while (::read(sig_fd.get(), &si, sizeof si) == sizeof si) {
            }
            winsize ws{};
            if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                ch.queue_line(to_line(json{{"resize", {{"rows", ws.ws_row}, {"cols", ws.ws_col}}}}));
        }
        if (ch.wants_write())
            if (auto st = ch.write_available(); !st) return fail(st.error());
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
            if (auto st = ch.read_available(); !st) return fail(st.error());
    }
}

} // namespace

int cmd_exec(const Context &ctx, const Args &args) {
    if (args.positional.empty()) return fail("expected a pod name: herd exec POD [-c CONTAINER] -- COMMAND...");
    if (args.after_dashes.empty()) {
        if (args.positional.size() > 1)
            return fail("exec [POD] [COMMAND] is not supported; use exec [POD] -- [COMMAND]");
        return fail("you must specify at least one command for the container");
    }
    std::string pod = args.positional[0];
    if (size_t slash = pod.find('/'); slash != std::string::npos) pod = pod.substr(slash + 1);
    auto container = pick_container(ctx, pod, args.get("container"));
    if (!container) return fail(container.error());
    // A container that is not running gets herd's words, not corral's.
    {
        auto p = the_pod(ctx, pod);
        if (!p) return fail(p.error());
        json cs = container_status(*p, *container);
        if (!at(cs, {"state", "running"}).is_object()) {
            std::string why = never_started(*p, pod, *container);
            if (why.empty()) {
                std::string reason = str(cs, {"state", "terminated", "reason"});
                if (reason.empty()) reason = str(cs, {"state", "waiting", "reason"}, "not running");
                why = "container \"" + *container + "\" in pod \"" + pod + "\" is not running: " + reason;
            }
            return fail(Error("error: unable to exec: " + why));
        }
    }
    bool tty = args.flag("tty");
    if (tty && !isatty(STDIN_FILENO)) {
        std::fprintf(stderr, "Unable to use a TTY - input is not a terminal or the right kind of file\n");
        tty = false;
    }
    // Through serve to the pod's node agent, which runs the command
    // (exec_stream.hpp): nothing runs on this machine but this stream.
    json request{{"op", "exec"}, {"namespace", ctx.namespace_}, {"name", pod}, {"container", *container},
                 {"command", args.after_dashes}, {"tty", tty}, {"stdin", args.flag("stdin")}};
    winsize ws{};
    if (tty && ::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
        request["rows"] = ws.ws_row;
        request["cols"] = ws.ws_col;
    }
    if (ctx.debug) std::fprintf(stderr, "herd: exec through serve: %s\n", request.dump().c_str());
    auto ch = connect_unix(ctx.socket, "herd serve", kMaxResponseLine);
    if (!ch) return fail(ch.error());
    if (auto st = ch->send_line(to_line(request), deadline_in(std::chrono::seconds(30))); !st) return fail(st.error());
    auto first = ch->receive_line(deadline_in(std::chrono::seconds(60)));
    if (!first) return fail(first.error());
    if (auto r = parse_response_line(*first, "herd serve"); !r) return fail(r.error());
    return exec_stream(*ch, tty, args.flag("stdin"));
}

} // namespace corral::herd::cli
