// sync.hpp — the one protocol between `corral create` (the parent) and the
// container's init process (the child), over a SOCK_SEQPACKET socketpair.
//
// Both ends of a message are fixed-size headers with an optional payload, so
// the child can read and write them with plain read/write: after clone it may
// only make async-signal-safe calls.
//
//   step  direction        message          meaning
//   ----  ---------------  ---------------  -------------------------------------------
//   1     parent -> child  Proceed          (only if a user namespace was made by clone,
//                                           or hooks run inside the container) id maps
//                                           written; payload: the state JSON for those hooks
//   2     child -> parent  NeedIdMaps       (only if the child unshares its user namespace
//   2     parent -> child  IdMapsDone        late, after joining others by path)
//   2b    child -> parent  Forked           (only if the pid namespace must belong to a user
//                                           namespace the child enters after clone: it
//                                           unshares or joins the pid namespace and forks
//                                           into it) err: the new init's pid. The first
//                                           child exits; the new init waits for Proceed (1)
//   3     child -> parent  RunCreateHooks   (only with prestart/createRuntime hooks) mounts
//   3     parent -> child  HooksDone         done, before pivot_root: the parent runs them
//   3b    child -> parent  SeccompFd        (only with SCMP_ACT_NOTIFY) the filter's listener
//   3b    parent -> child  SeccompFdDone     fd (SCM_RIGHTS); the parent has sent it to
//                                           listenerPath (seccomp_notify.hpp)
//   4     child -> parent  Ready            init is set up; carries the pty master
//                                           (SCM_RIGHTS) if process.terminal is set. With
//                                           `create` it then waits on exec.fifo for
//                                           `start`; with `run` it goes straight to exec
//   any   child -> parent  Error            a step failed: errno + message; child _exits
//   end   EOF on the socket                 execve succeeded (the socket is O_CLOEXEC)
//
// Every wait is a wake-up, and on small VMs a cross-CPU wake-up costs up to a
// millisecond, so the child waits only where it must: it joins its cgroup by
// itself (through cgroup.procs fds the parent opened), and `run` needs no
// "start" message.
// An unexpected message is an error that names what was expected and what came.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace corral {

enum class SyncMsg : uint32_t {
    NeedIdMaps = 1,
    IdMapsDone,
    Proceed,
    RunCreateHooks,
    HooksDone,
    Ready,
    Error,
    SeccompFd,
    SeccompFdDone,
    Forked,
};

constexpr const char *sync_msg_name(SyncMsg m) {
    switch (m) {
    case SyncMsg::NeedIdMaps: return "NeedIdMaps";
    case SyncMsg::IdMapsDone: return "IdMapsDone";
    case SyncMsg::Proceed: return "Proceed";
    case SyncMsg::RunCreateHooks: return "RunCreateHooks";
    case SyncMsg::HooksDone: return "HooksDone";
    case SyncMsg::Ready: return "Ready";
    case SyncMsg::Error: return "Error";
    case SyncMsg::SeccompFd: return "SeccompFd";
    case SyncMsg::SeccompFdDone: return "SeccompFdDone";
    case SyncMsg::Forked: return "Forked";
    }
    return "unknown";
}

struct SyncHeader {
    SyncMsg type;
    int32_t err;      // errno, for Error
    uint32_t len;     // payload bytes that follow in the same packet
};

// Largest packet: header + payload. Error texts and the hooks' state JSON fit.
inline constexpr size_t kSyncMaxPayload = 60 * 1024;

// Async-signal-safe: sendmsg of up to two buffers with an optional fd
// (SCM_RIGHTS). Also what sends a pty master to --console-socket.
inline int send_with_fd(int sock, const void *a, size_t alen, int pass_fd, const void *b = nullptr,
                        size_t blen = 0) {
    iovec iov[2] = {{const_cast<void *>(a), alen}, {const_cast<void *>(b), blen}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = blen ? 2 : 1;
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
    if (pass_fd >= 0) {
        std::memset(cbuf, 0, sizeof cbuf);
        msg.msg_control = cbuf;
        msg.msg_controllen = sizeof cbuf;
        cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    ssize_t n;
    do n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

// Async-signal-safe: send one message, with an optional fd (SCM_RIGHTS).
// A bare header goes out with write(2): after a seccomp filter has loaded
// (without noNewPrivileges the init's Ready comes after it), allow-lists
// written for runc, which only writes there, may deny sendmsg.
inline int sync_send(int sock, SyncMsg type, int32_t err = 0, const void *payload = nullptr,
                     uint32_t len = 0, int pass_fd = -1) {
    SyncHeader h{type, err, len};
    if (pass_fd < 0 && len == 0) {
        ssize_t n;
        do n = ::write(sock, &h, sizeof h);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -1 : 0;
    }
    return send_with_fd(sock, &h, sizeof h, pass_fd, payload, len);
}

// Async-signal-safe: receive one message. Returns 1 on a message, 0 on EOF,
// -1 on error. The payload (truncated to cap) lands in buf; *got_fd receives
// a passed fd (O_CLOEXEC) or -1.
inline int sync_recv(int sock, SyncHeader *h, void *buf = nullptr, size_t cap = 0,
                     int *got_fd = nullptr) {
    iovec iov[2] = {{h, sizeof *h}, {buf, cap}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = cap ? 2 : 1;
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    if (got_fd) *got_fd = -1;
    ssize_t n;
    do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    if (n == 0) return 0;
    if (static_cast<size_t>(n) < sizeof *h) {
        errno = EPROTO;
        return -1;
    }
    for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
            if (got_fd) *got_fd = fd;
            else ::close(fd);
        }
    }
    size_t payload = static_cast<size_t>(n) - sizeof *h;
    if (h->len > payload) h->len = static_cast<uint32_t>(payload);
    return 1;
}

} // namespace corral
