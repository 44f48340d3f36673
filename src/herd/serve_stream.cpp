// herd/serve_stream.cpp — `herd exec` through serve: an `exec` request hands
// its connection to a relay that opens a connection of its own to the pod's
// node agent, sends it the request and then copies bytes both ways until
// either side ends (the stream: exec_stream.hpp). serve's loop only looks
// the pod's node up (from memory and the store) and never waits for the
// node: the relay is a thread that touches nothing of serve's but the two
// fds it owns (serve starts no containers, so a thread here is safe).
#include "herd/serve.hpp"

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace corral::herd {
namespace {

constexpr std::chrono::seconds kStreamSetup{30};

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            pollfd p{fd, POLLOUT, 0};
            ::poll(&p, 1, 1000);
            continue;
        }
        if (n <= 0) return;
        data.remove_prefix(size_t(n));
    }
}

// Moves what `from` has into `buf`; false on EOF or error.
bool fill(int from, std::string &buf) {
    char chunk[65536];
    ssize_t n = ::read(from, chunk, sizeof chunk);
    if (n > 0) {
        buf.append(chunk, size_t(n));
        return true;
    }
    return n < 0 && (errno == EINTR || errno == EAGAIN);
}

// Writes what it can of `buf` to `to`; false on error.
bool drain(int to, std::string &buf) {
    ssize_t n = ::write(to, buf.data(), buf.size());
    if (n > 0) buf.erase(0, size_t(n));
    return n >= 0 || errno == EINTR || errno == EAGAIN;
}

void relay(NodeHandle::Connect connect, std::string node, json request, UniqueFd client) {
    auto fail = [&](Error e) { write_all(client.get(), to_line(error_response(e.context("node " + node))) + "\n"); };
    auto agent = connect();
    if (!agent) return fail(std::move(agent).error());
    LineChannel *ch = (*agent)->channel();
    if (!ch) return fail(Error(ErrorKind::unavailable, "no stream to the agent"));
    if (auto st = ch->send_line(to_line(request), deadline_in(kStreamSetup)); !st) return fail(std::move(st).error());
    int c = client.get(), a_in = ch->in_fd(), a_out = ch->out_fd();
    std::string to_agent, to_client;
    bool client_open = true, agent_open = true;
    // Until the agent has said all (its exit line, then EOF) and that is
    // delivered, or the client went away (the agent then ends the command).
    while ((agent_open || !to_client.empty()) && client_open) {
        pollfd p[4] = {{c, short(to_client.size() < (1 << 20) ? POLLIN : 0), 0},
                       {agent_open && to_client.size() < (1 << 20) ? a_in : -1, POLLIN, 0},
                       {to_client.empty() ? -1 : c, POLLOUT, 0},
                       {to_agent.empty() || !agent_open ? -1 : a_out, POLLOUT, 0}};
        if (::poll(p, 4, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) client_open = fill(c, to_agent);
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) agent_open = fill(a_in, to_client);
        if (p[2].revents & (POLLOUT | POLLERR)) client_open = drain(c, to_client) && client_open;
        if (p[3].revents & (POLLOUT | POLLERR)) agent_open = drain(a_out, to_agent) && agent_open;
    }
    // Leaving closes both: the agent sees its client gone.
}

} // namespace

Result<NodeHandle *> Controller::node_of_pod(const std::string &ns, const std::string &name) {
    auto obj = CORRAL_TRY(store_.get_object("Pod", ns, name));
    if (!obj) return pod_kind().not_found(name);
    auto node_name = CORRAL_TRY(store_.pod_node(obj->uid));
    NodeHandle *node = node_name ? node_named(*node_name) : nullptr;
    if (!node) return Error(ErrorKind::unavailable, "pod \"" + name + "\" is not scheduled to a node yet");
    return node;
}

std::optional<bool> hand_over_exec(std::string_view line, LineChannel &client, Controller &controller) {
    auto req = parse_request_line(line, serve_ops());
    if (!req || (*req)["op"] != "exec") return std::nullopt;
    json request = std::move(*req);
    if (!request.contains("namespace")) request["namespace"] = "default";
    auto answer_now = [&](const Error &e) { client.queue_line(to_line(error_response(e))); };
    auto node = controller.node_of_pod(request["namespace"], request["name"]);
    if (!node) {
        answer_now(node.error());
        return false;  // an ordinary error answer: the client stays serve's
    }
    UniqueFd fd(::fcntl(client.in_fd(), F_DUPFD_CLOEXEC, 3));
    if (!fd) {
        answer_now(Error::from_errno(errno, "exec: dup the client connection"));
        return false;
    }
    std::thread(relay, (*node)->connector(), (*node)->name(), std::move(request), std::move(fd)).detach();
    return true;
}

} // namespace corral::herd
