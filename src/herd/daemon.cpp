// herd/daemon.cpp — see daemon.hpp.
//
// /proc/net/unix lists every unix socket of this network namespace with its
// inode, flags and bound path; the listening one has __SO_ACCEPTCON
// (0x10000) in its flags (accepted connections show the same path, without
// it). Its owner is the process with an fd that links to socket:[inode].
#include "herd/daemon.hpp"

#include "common/fs.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace corral::herd {

namespace {

constexpr unsigned long kAcceptCon = 0x10000;  // __SO_ACCEPTCON

std::optional<std::string> listening_inode(const std::string &path) {
    std::ifstream in("/proc/net/unix");
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        // Num RefCount Protocol Flags Type St Inode [Path]
        std::istringstream f(line);
        std::string num, refs, proto, flags, type, st, inode, p;
        if (!(f >> num >> refs >> proto >> flags >> type >> st >> inode)) continue;
        std::getline(f >> std::ws, p);
        if (p != path) continue;
        if (std::stoul(flags, nullptr, 16) & kAcceptCon) return inode;
    }
    return std::nullopt;
}

bool holds_socket(const std::string &pid, const std::string &target) {
    std::string dir = "/proc/" + pid + "/fd";
    DIR *d = ::opendir(dir.c_str());
    if (!d) return false;
    bool found = false;
    char buf[64];
    while (dirent *e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        ssize_t n = ::readlink((dir + "/" + e->d_name).c_str(), buf, sizeof buf - 1);
        if (n <= 0) continue;
        if (std::string(buf, static_cast<size_t>(n)) == target) {
            found = true;
            break;
        }
    }
    ::closedir(d);
    return found;
}

} // namespace

Result<std::optional<pid_t>> find_listener(const std::string &socket_path) {
    if (!path_exists(socket_path)) return std::optional<pid_t>{};
    auto inode = listening_inode(socket_path);
    if (!inode) return std::optional<pid_t>{};
    std::string target = "socket:[" + *inode + "]";
    DIR *d = ::opendir("/proc");
    if (!d) return Error::from_errno(errno, "open", "/proc");
    std::optional<pid_t> found;
    while (dirent *e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        if (holds_socket(name, target)) {
            found = static_cast<pid_t>(std::stol(name));
            break;
        }
    }
    ::closedir(d);
    return found;
}

Status stop_process(pid_t pid, int timeout_ms) {
    if (::kill(pid, SIGTERM) != 0) {
        if (errno == ESRCH) return ok();
        return Error::from_errno(errno, "kill " + std::to_string(pid));
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        // Gone, or a zombie waiting for its parent: either way it has stopped.
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string text;
        if (!std::getline(stat, text)) return ok();
        size_t paren = text.rfind(')');
        if (paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z') return ok();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return Error("process " + std::to_string(pid) + " did not stop within " + std::to_string(timeout_ms / 1000) +
                 " s of SIGTERM");
}

std::string self_exe_path() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "/proc/self/exe";
    std::string path(buf, static_cast<size_t>(n));
    if (::access(path.c_str(), X_OK) != 0) return "/proc/self/exe";  // "... (deleted)"
    return path;
}

} // namespace corral::herd
