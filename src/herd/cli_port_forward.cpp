// herd port-forward POD [LOCAL:]REMOTE... — kubectl's port-forward.
//
// Pods are reached at their address on the node's pod network (the `herd0`
// bridge by default: the bridge is the pods' gateway, so the host routes to
// every pod IP; network.cpp), or at the node's own address with
// hostNetwork. So the forwarder is a plain TCP relay in this process: it
// listens on 127.0.0.1:LOCAL, connects each accepted connection to
// POD_IP:REMOTE and copies bytes both ways, half-closes included, in one
// poll loop. It is bounded (at most kMaxConnections at once, kBuffer bytes
// buffered per direction: a slow side stops the reads of the other) and ends
// on SIGINT or SIGTERM, closing everything it opened.
#include "herd/cli_internal.hpp"

#include "common/fd.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace corral::herd::cli {

namespace {

constexpr size_t kMaxConnections = 128;
constexpr size_t kBuffer = 64 * 1024;

struct PortPair {
    uint16_t local = 0;  // 0: any free port
    uint16_t remote = 0;
};

Result<uint16_t> parse_port(const std::string &text, const std::string &spec) {
    if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos)
        return Error("invalid port \"" + text + "\" in \"" + spec + "\"");
    unsigned long v = std::stoul(text);
    if (v > 65535) return Error("invalid port \"" + text + "\" in \"" + spec + "\" (at most 65535)");
    return static_cast<uint16_t>(v);
}

// "8080" (8080:8080), "9000:8080", ":8080" (a free local port).
Result<PortPair> parse_port_pair(const std::string &spec) {
    PortPair p;
    size_t colon = spec.find(':');
    if (colon == std::string::npos) {
        p.remote = CORRAL_TRY(parse_port(spec, spec));
        p.local = p.remote;
    } else {
        if (colon > 0) p.local = CORRAL_TRY(parse_port(spec.substr(0, colon), spec));
        p.remote = CORRAL_TRY(parse_port(spec.substr(colon + 1), spec));
    }
    if (p.remote == 0) return Error("invalid remote port 0 in \"" + spec + "\"");
    return p;
}

struct Listener {
    UniqueFd fd;
    uint16_t local = 0, remote = 0;
};

Result<Listener> listen_on(const std::string &address, const PortPair &p) {
    Listener l;
    l.remote = p.remote;
    l.fd = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!l.fd) return Error::from_errno(errno, "socket");
    int one = 1;
    ::setsockopt(l.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(p.local);
    if (::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1)
        return Error("invalid --address \"" + address + "\" (an IPv4 address)");
    if (::bind(l.fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) < 0)
        return Error::from_errno(errno, "unable to listen on port " + std::to_string(p.local) + ": bind",
                                 address + ":" + std::to_string(p.local));
    if (::listen(l.fd.get(), 64) < 0) return Error::from_errno(errno, "listen");
    socklen_t len = sizeof a;
    if (::getsockname(l.fd.get(), reinterpret_cast<sockaddr *>(&a), &len) < 0)
        return Error::from_errno(errno, "getsockname");
    l.local = ntohs(a.sin_port);
    return l;
}

// One forwarded connection: the client that connected to us and our
// connection to the pod, with what is on its way in each direction.
struct Relay {
    UniqueFd client, pod;
    bool connecting = true;
    bool client_eof = false, pod_eof = false;        // read side saw EOF
    bool client_shut = false, pod_shut = false;      // we sent our FIN
    std::string to_pod, to_client;
    uint16_t local = 0, remote = 0;
    bool failed = false;

    bool done() const {
        return failed || (client_eof && pod_eof && to_pod.empty() && to_client.empty());
    }
};

Result<UniqueFd> connect_pod(const std::string &ip, uint16_t port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return Error::from_errno(errno, "socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) return Error("the pod's IP \"" + ip + "\" is not IPv4");
    if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) < 0 && errno != EINPROGRESS)
        return Error::from_errno(errno, "connect", ip + ":" + std::to_string(port));
    return fd;
}

// Reads what fits into buf; false on EOF or error (eof set on EOF).
bool pump_in(int fd, std::string &buf, bool &eof) {
    char chunk[16384];
    size_t room = kBuffer - buf.size();
    ssize_t n = ::read(fd, chunk, std::min(room, sizeof chunk));
    if (n > 0) {
        buf.append(chunk, static_cast<size_t>(n));
        return true;
    }
    if (n == 0) {
        eof = true;
        return true;
    }
    return errno == EAGAIN || errno == EINTR;
}

bool pump_out(int fd, std::string &buf) {
    ssize_t n = ::send(fd, buf.data(), buf.size(), MSG_NOSIGNAL);
    if (n > 0) {
        buf.erase(0, static_cast<size_t>(n));
        return true;
    }
    return n < 0 && (errno == EAGAIN || errno == EINTR);
}

} // namespace

int cmd_port_forward(const Context &ctx, const Args &args) {
    if (args.positional.size() < 2)
        return fail("TYPE/NAME and list of ports are required for port-forward: herd port-forward POD [LOCAL:]REMOTE");
    std::string pod = args.positional[0];
    if (size_t slash = pod.find('/'); slash != std::string::npos) {
        if (parse_kind(pod.substr(0, slash)) != Kind::pod) return fail("herd port-forward takes a pod (pod/NAME or NAME)");
        pod = pod.substr(slash + 1);
    }
    std::vector<PortPair> pairs;
    for (size_t i = 1; i < args.positional.size(); ++i) {
        auto p = parse_port_pair(args.positional[i]);
        if (!p) return fail(p.error().message());
        pairs.push_back(*p);
    }
    auto pods = get_objects(ctx, Kind::pod, pod);
    if (!pods) return fail(pods.error());
    if (pods->empty()) return fail(Error("pods \"" + pod + "\" not found"));
    const json &p = (*pods)[0];
    std::string phase = str(p, {"status", "phase"}, "Pending");
    if (phase != "Running")
        return fail("unable to forward port because pod is not running. Current status=" + phase);
    std::string ip = str(p, {"status", "podIP"});
    if (ip.empty())
        return fail("pod " + pod + " has no IP address (the node's agent runs it without a pod network: "
                    "no CNI plugins in /usr/lib/cni)");

    // SIGINT/SIGTERM through a signalfd: the loop ends and every fd closes.
    sigset_t mask, old;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &mask, &old);
    struct Restore {
        sigset_t set;
        ~Restore() { ::sigprocmask(SIG_SETMASK, &set, nullptr); }
    } restore{old};
    UniqueFd sfd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sfd) return fail(Error::from_errno(errno, "signalfd"));

    std::string address = args.get("address", "127.0.0.1");
    std::vector<Listener> listeners;
    for (const PortPair &pp : pairs) {
        auto l = listen_on(address, pp);
        if (!l) return fail(l.error());
        std::printf("Forwarding from %s:%u -> %u\n", address.c_str(), l->local, l->remote);
        listeners.push_back(std::move(*l));
    }
    std::fflush(stdout);

    std::vector<std::unique_ptr<Relay>> relays;
    while (true) {
        // pollfds: the signalfd, the listeners (while there is room), then
        // two per relay.
        std::vector<pollfd> fds;
        fds.push_back({sfd.get(), POLLIN, 0});
        bool room = relays.size() < kMaxConnections;
        for (const Listener &l : listeners) fds.push_back({l.fd.get(), static_cast<short>(room ? POLLIN : 0), 0});
        for (const auto &r : relays) {
            short c = 0, s = 0;
            if (!r->connecting) {
                if (!r->client_eof && r->to_pod.size() < kBuffer) c |= POLLIN;
                if (!r->to_client.empty()) c |= POLLOUT;
                if (!r->pod_eof && r->to_client.size() < kBuffer) s |= POLLIN;
                if (!r->to_pod.empty()) s |= POLLOUT;
            } else {
                s |= POLLOUT;
            }
            // A side that is closed both ways would report POLLHUP forever.
            fds.push_back({r->client_eof && r->client_shut ? -1 : r->client.get(), c, 0});
            fds.push_back({r->pod_eof && r->pod_shut ? -1 : r->pod.get(), s, 0});
        }
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            return fail(Error::from_errno(errno, "poll"));
        }
        if (fds[0].revents) {
            // SIGINT or SIGTERM: taken off the signalfd, or it would kill us
            // when the mask is restored.
            signalfd_siginfo info;
            (void)!::read(sfd.get(), &info, sizeof info);
            return 0;
        }

        for (size_t i = 0; i < listeners.size(); ++i) {
            if (!(fds[1 + i].revents & POLLIN)) continue;
            UniqueFd client(::accept4(listeners[i].fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
            if (!client) continue;
            std::printf("Handling connection for %u\n", listeners[i].local);
            std::fflush(stdout);
            auto conn = connect_pod(ip, listeners[i].remote);
            if (!conn) {
                std::fprintf(stderr, "E: an error occurred forwarding %u -> %u: %s\n", listeners[i].local,
                             listeners[i].remote, conn.error().message().c_str());
                continue;
            }
            auto r = std::make_unique<Relay>();
            r->client = std::move(client);
            r->pod = std::move(*conn);
            r->local = listeners[i].local;
            r->remote = listeners[i].remote;
            relays.push_back(std::move(r));
        }

        size_t base = 1 + listeners.size();
        size_t polled = (fds.size() - base) / 2;  // relays added above were not polled yet
        for (size_t k = 0; k < polled; ++k) {
            Relay &r = *relays[k];
            short cev = fds[base + 2 * k].revents, sev = fds[base + 2 * k + 1].revents;
            if (r.connecting) {
                if (!sev) continue;
                int err = 0;
                socklen_t len = sizeof err;
                ::getsockopt(r.pod.get(), SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) {
                    std::fprintf(stderr, "E: an error occurred forwarding %u -> %u: connect %s:%u: %s\n", r.local,
                                 r.remote, ip.c_str(), r.remote, std::strerror(err));
                    r.failed = true;
                    continue;
                }
                r.connecting = false;
                continue;
            }
            bool ok = true;
            if (cev & (POLLIN | POLLHUP | POLLERR)) ok = ok && pump_in(r.client.get(), r.to_pod, r.client_eof);
            if (sev & (POLLIN | POLLHUP | POLLERR)) ok = ok && pump_in(r.pod.get(), r.to_client, r.pod_eof);
            if (ok && (cev & POLLOUT)) ok = pump_out(r.client.get(), r.to_client);
            if (ok && (sev & POLLOUT)) ok = pump_out(r.pod.get(), r.to_pod);
            // Pass each side's end on once what it sent is delivered.
            if (ok && r.client_eof && r.to_pod.empty() && !r.pod_shut) {
                ::shutdown(r.pod.get(), SHUT_WR);
                r.pod_shut = true;
            }
            if (ok && r.pod_eof && r.to_client.empty() && !r.client_shut) {
                ::shutdown(r.client.get(), SHUT_WR);
                r.client_shut = true;
            }
            if (!ok) r.failed = true;
        }
        std::erase_if(relays, [](const std::unique_ptr<Relay> &r) { return r->done(); });
    }
}

} // namespace corral::herd::cli
