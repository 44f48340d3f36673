// herd/serve_loop.cpp — the serve process (run_serve, serve.hpp): the
// controller and the unix socket server on <state_dir>/herd.sock in one
// poll loop. Clients' requests are answered from memory and the Store; the
// nodes' answers come in through the same loop, so nothing waits for a node.
#include "herd/serve.hpp"

#include "common/fs.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <ctime>

namespace corral::herd {

namespace {

std::string local_hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) < 0 || !buf[0]) return "localhost";
    std::string s = buf;
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

// Reads what the client sent and answers every complete line. False when
// the client is gone.
bool serve_client_input(LineChannel &c, Controller &controller, const Logger &log) {
    if (!c.read_available()) return false;
    while (auto line = c.next_line()) {
        json resp;
        if (!*line) resp = error_response(line->error());
        else if ((*line)->find_first_not_of(" \t\r") == std::string::npos) continue;
        else if (auto exec = hand_over_exec(**line, c, controller)) {
            if (*exec) return false;  // the connection is an exec stream now (serve_stream.cpp)
            continue;
        } else resp = controller.handle_line(**line);
        if (log.enabled(LogLevel::debug)) {
            log.debug(std::string("request: ") + (resp.value("ok", false) ? "ok" : "error: " + resp.value("error", "")));
        }
        c.queue_line(to_line(resp));
    }
    return true;
}

} // namespace

Status run_serve(const ServeOptions &opts, int stop_fd) {
    CORRAL_TRY(mkdir_p(opts.state_dir, 0700));
    // One serve per state dir: an exclusive lock held for the lifetime.
    std::string lock_path = path_join(opts.state_dir, "serve.lock");
    UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock) return Error::from_errno(errno, "open", lock_path);
    if (::flock(lock.get(), LOCK_EX | LOCK_NB) < 0) {
        return Error("another herd serve runs with state dir " + opts.state_dir);
    }
    CORRAL_TRY(check_cluster_cidr(opts.cluster_cidr, opts.node_cidr_mask_size));
    Store store = CORRAL_TRY(Store::open(opts.state_dir));
    std::string node_name = opts.node_name.empty() ? local_hostname() : opts.node_name;
    std::vector<NodeHandle> nodes;
    std::string agent_socket = opts.agent_socket;
    nodes.emplace_back(node_name, [agent_socket] { return connect_agent_socket(agent_socket); }, kAgentCallTimeout,
                       "unix:" + agent_socket);
    ControllerOptions copts;
    copts.log = opts.log;
    copts.node_grace_ms = opts.node_grace_ms;
    copts.cluster_cidr = opts.cluster_cidr;
    copts.node_cidr_mask_size = opts.node_cidr_mask_size;
    Controller controller(std::move(store), std::move(nodes), copts);
    if (opts.start_local_agent) CORRAL_TRY(opts.start_local_agent(controller.nodes().front().pod_cidr));

    std::string sock_path = path_join(opts.state_dir, "herd.sock");
    UniqueFd listener = CORRAL_TRY(listen_unix(sock_path, "herd serve"));
    opts.log.info("herd serve: listening on " + sock_path + ", node " + node_name + " via " + agent_socket);

    std::vector<std::unique_ptr<LineChannel>> clients;
    auto mono_ms = [] {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
    };
    int64_t next_tick = 0;
    Status result;
    for (;;) {
        int64_t now = mono_ms();
        if (controller.dirty() || now >= next_tick) {
            controller.sync();
            next_tick = mono_ms() + opts.tick_ms;
            now = mono_ms();
        }
        std::vector<pollfd> pfds;
        pfds.push_back({stop_fd, POLLIN, 0});
        pfds.push_back({listener.get(), POLLIN, 0});
        for (auto &c : clients) pfds.push_back({c->in_fd(), short(POLLIN | (c->wants_write() ? POLLOUT : 0)), 0});
        // The nodes' answers come in through the same loop: nothing here
        // waits for a node.
        size_t polled_clients = clients.size(), first_node_fd = pfds.size();
        std::vector<size_t> node_fds;
        int64_t timeout_ms = controller.dirty() ? 0 : std::max<int64_t>(0, next_tick - now);
        for (auto &node : controller.nodes()) {
            node_fds.push_back(node.add_poll_fds(pfds));
            if (auto d = node.next_deadline()) {
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*d - std::chrono::steady_clock::now());
                timeout_ms = std::min<int64_t>(timeout_ms, std::max<int64_t>(0, left.count()));
            }
        }
        int timeout = int(timeout_ms);
        int n = ::poll(pfds.data(), pfds.size(), timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            result = Error::from_errno(errno, "poll");
            break;
        }
        if (pfds[0].revents) break;  // asked to stop
        if (pfds[1].revents & POLLIN) {
            for (;;) {
                int cfd = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0) break;
                clients.push_back(std::make_unique<LineChannel>(UniqueFd(cfd), "herd client", kMaxRequestLine));
            }
        }
        for (size_t i = 0; i < clients.size(); ++i) {
            short rev = i < polled_clients ? pfds[i + 2].revents : 0;
            LineChannel &c = *clients[i];
            bool alive = true;
            if (rev & (POLLIN | POLLHUP | POLLERR)) alive = serve_client_input(c, controller, opts.log);
            if (alive) alive = c.write_available().ok();
            if (alive && c.eof() && !c.wants_write()) alive = false;
            if (!alive) clients[i].reset();
        }
        clients.erase(std::remove(clients.begin(), clients.end(), nullptr), clients.end());
        size_t at = first_node_fd;
        auto &nodes = controller.nodes();
        for (size_t k = 0; k < nodes.size(); ++k) {
            nodes[k].pump(pfds.data() + at, node_fds[k]);
            at += node_fds[k];
        }
        for (auto &node : nodes) node.expire(std::chrono::steady_clock::now());
    }
    ::unlink(sock_path.c_str());
    return result;
}

} // namespace corral::herd
