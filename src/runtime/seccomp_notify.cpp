// seccomp_notify.cpp — see seccomp_notify.hpp.
#include "runtime/seccomp_notify.hpp"

#include "common/fd.hpp"
#include "runtime/hooks.hpp"
#include "runtime/state.hpp"
#include "runtime/sync.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace corral {

Status check_notify_profile(const spec::Seccomp &s, std::string_view source) {
    const std::string base = std::string(source) + ": linux.seccomp";
    for (size_t i = 0; i < s.syscalls.size(); ++i) {
        const auto &sc = s.syscalls[i];
        if (sc.action != "SCMP_ACT_NOTIFY") continue;
        for (size_t j = 0; j < sc.names.size(); ++j)
            if (sc.names[j] == "sendmsg")
                return Error(base + ".syscalls[" + std::to_string(i) + "].names[" + std::to_string(j) +
                             "]: SCMP_ACT_NOTIFY cannot be used for \"sendmsg\": the init passes the listener fd "
                             "to the runtime with it");
    }
    if (s.listener_path.empty())
        return Error(base + ".listenerPath: SCMP_ACT_NOTIFY needs a listener to send the notification fd to");
    return ok();
}

std::string container_process_state_json(const State &state, pid_t pid, std::string_view metadata) {
    // Member order and spelling as runc's specs.ContainerProcessState.
    std::string out = "{\"ociVersion\":";
    append_go_json_string(out, spec::kOciVersion);
    out += ",\"fds\":[\"seccompFd\"],\"pid\":" + std::to_string(pid);
    if (!metadata.empty()) {
        out += ",\"metadata\":";
        append_go_json_string(out, metadata);
    }
    out += ",\"state\":" + hook_state_json(state) + "}";
    return out;
}

Status send_to_seccomp_listener(const std::string &listener_path, const std::string &state_json, int fd) {
    const std::string what = "linux.seccomp.listenerPath";
    UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock) return Error::from_errno(errno, "socket for " + what);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (listener_path.size() >= sizeof addr.sun_path) return Error(what + ": path too long: " + listener_path);
    std::memcpy(addr.sun_path, listener_path.c_str(), listener_path.size() + 1);
    int r;
    do r = ::connect(sock.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr);
    while (r < 0 && errno == EINTR);
    if (r < 0) return Error::from_errno(errno, "connect to the seccomp agent at " + what, listener_path);
    // One sendmsg, as runc's utils.SendFds: a blocking AF_UNIX stream
    // socket takes the whole (small) JSON, the fd riding on its first byte.
    if (send_with_fd(sock.get(), state_json.data(), state_json.size(), fd) < 0)
        return Error::from_errno(errno, "send the seccomp notify fd to " + what, listener_path);
    return ok();
}

} // namespace corral
