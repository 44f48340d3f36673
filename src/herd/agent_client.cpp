// herd/agent_client.cpp — the client side of the agent's JSON-lines socket.
#include "herd/agent_api.hpp"

#include "common/fd.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace corral::herd {
namespace {

class SocketAgentClient final : public AgentClient {
public:
    SocketAgentClient(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

    Result<json> call(const json &request) override {
        std::string line = request.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
        size_t off = 0;
        while (off < line.size()) {
            ssize_t n = ::send(fd_.get(), line.data() + off, line.size() - off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return Error::from_errno(errno, "send to agent", path_);
            off += size_t(n);
        }
        // One response line; bytes after it (none, as the agent answers one
        // request at a time) are kept for the next call.
        size_t nl;
        while ((nl = buf_.find('\n')) == std::string::npos) {
            char chunk[65536];
            ssize_t n = ::read(fd_.get(), chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return Error::from_errno(errno, "read from agent", path_);
            if (n == 0) return Error("agent at " + path_ + " closed the connection");
            buf_.append(chunk, size_t(n));
        }
        std::string resp = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        json j = json::parse(resp, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return Error("agent at " + path_ + ": invalid response line");
        if (!j.value("ok", false)) return Error(j.value("error", std::string("agent request failed")));
        return j;
    }

private:
    UniqueFd fd_;
    std::string path_;
    std::string buf_;
};

} // namespace

Result<std::unique_ptr<AgentClient>> connect_agent_socket(const std::string &socket_path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof addr.sun_path)
        return Error("agent socket path too long (max " + std::to_string(sizeof addr.sun_path - 1) + ")", 0,
                     socket_path);
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return Error::from_errno(errno, "socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) < 0)
        return Error::from_errno(errno, "connect to agent", socket_path);
    return std::unique_ptr<AgentClient>(new SocketAgentClient(std::move(fd), socket_path));
}

} // namespace corral::herd
