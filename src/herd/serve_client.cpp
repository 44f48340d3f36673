// herd/serve_client.cpp — the CLI's side of the serve socket (serve_api.hpp).
#include "herd/serve_api.hpp"

#include "common/fd.hpp"
#include "common/fs.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace corral::herd {

Result<nlohmann::json> call_serve(const std::string &socket_path, const nlohmann::json &request) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof addr.sun_path) return Error("socket path too long", ENAMETOOLONG, socket_path);
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return Error::from_errno(errno, "socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) < 0) {
        int err = errno;
        return Error::from_errno(err, "connect to herd serve (is `herd serve` running?)", socket_path);
    }
    // serve answers from memory and SQLite; only logs/exec_target go on to
    // an agent. A minute without an answer means serve is stuck.
    timeval tv{60, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string line = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    CORRAL_TRY(write_all(fd.get(), line, "herd serve socket"));
    std::string in;
    char buf[65536];
    for (;;) {
        auto nl = in.find('\n');
        if (nl != std::string::npos) {
            in.resize(nl);
            break;
        }
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n > 0) {
            in.append(buf, size_t(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno(errno, "read from herd serve", socket_path);
        return Error("herd serve closed the connection without an answer", 0, socket_path);
    }
    auto resp = nlohmann::json::parse(in, nullptr, false);
    if (resp.is_discarded() || !resp.is_object()) return Error("herd serve sent a malformed answer", 0, socket_path);
    if (!resp.value("ok", false)) return Error(resp.value("error", std::string("herd serve: request failed")));
    return resp;
}

} // namespace corral::herd
