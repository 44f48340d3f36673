#include "integration/resources.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace corral_it {

bool cgroup_v2() { return exists("/sys/fs/cgroup/cgroup.controllers"); }

std::string cgroup_file(const std::string &cgroup_path, const std::string &v1_controller, const std::string &v1_file,
                        const std::string &v2_file) {
    if (cgroup_v2()) return "/sys/fs/cgroup" + cgroup_path + "/" + v2_file;
    return "/sys/fs/cgroup/" + v1_controller + cgroup_path + "/" + v1_file;
}

std::vector<std::string> cgroup_dirs_at(const std::string &cgroup_path) {
    std::vector<std::string> out;
    if (cgroup_v2()) {
        if (exists("/sys/fs/cgroup" + cgroup_path)) out.push_back("/sys/fs/cgroup" + cgroup_path);
        return out;
    }
    for (const char *c : {"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids", "systemd",
                          "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc", "unified"}) {
        std::string dir = std::string("/sys/fs/cgroup/") + c + cgroup_path;
        if (exists(dir)) out.push_back(dir);
    }
    return out;
}

namespace {

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::optional<long long> number(const std::string &text) {
    std::string t = trimmed(text);
    if (t == "max") return -1;
    if (t.empty()) return std::nullopt;
    try {
        size_t used = 0;
        long long v = std::stoll(t, &used);
        if (used != t.size()) return std::nullopt;
        return v;
    } catch (const std::exception &) {
        return std::nullopt;
    }
}

}  // namespace

std::optional<long long> memory_limit_of(const std::string &cgroup_path) {
    auto v = number(read_file(cgroup_file(cgroup_path, "memory", "memory.limit_in_bytes", "memory.max")));
    // v1 reports "unlimited" as the largest page-aligned value.
    if (v && *v >= (1LL << 62)) return -1;
    return v;
}

std::optional<long long> pids_limit_of(const std::string &cgroup_path) {
    return number(read_file(cgroup_file(cgroup_path, "pids", "pids.max", "pids.max")));
}

std::optional<std::pair<long long, long long>> cpu_quota_of(const std::string &cgroup_path) {
    if (cgroup_v2()) {
        std::istringstream in(read_file(cgroup_file(cgroup_path, "cpu", "", "cpu.max")));
        std::string quota, period;
        if (!(in >> quota >> period)) return std::nullopt;
        auto q = number(quota), p = number(period);
        if (!q || !p) return std::nullopt;
        return std::make_pair(*q, *p);
    }
    auto q = number(read_file(cgroup_file(cgroup_path, "cpu", "cpu.cfs_quota_us", "")));
    auto p = number(read_file(cgroup_file(cgroup_path, "cpu", "cpu.cfs_period_us", "")));
    if (!q || !p) return std::nullopt;
    return std::make_pair(*q, *p);
}

std::optional<long long> cpu_usage_ns(const std::string &cgroup_path) {
    if (!cgroup_v2()) return number(read_file(cgroup_file(cgroup_path, "cpuacct", "cpuacct.usage", "")));
    for (const auto &line : lines(read_file(cgroup_file(cgroup_path, "", "", "cpu.stat")))) {
        if (line.rfind("usage_usec ", 0) != 0) continue;
        auto v = number(line.substr(11));
        if (v) return *v * 1000;
    }
    return std::nullopt;
}

bool cgroup_frozen(const std::string &cgroup_path) {
    if (!cgroup_v2()) return trimmed(read_file(cgroup_file(cgroup_path, "freezer", "freezer.state", ""))) == "FROZEN";
    for (const auto &line : lines(read_file(cgroup_file(cgroup_path, "", "", "cgroup.events"))))
        if (line == "frozen 1") return true;
    return false;
}

std::string cgroup_of(pid_t pid, const std::string &controller) {
    for (const auto &line : lines(read_file("/proc/" + std::to_string(pid) + "/cgroup"))) {
        auto first = line.find(':');
        auto second = line.find(':', first + 1);
        if (first == std::string::npos || second == std::string::npos) continue;
        std::string controllers = line.substr(first + 1, second - first - 1);
        std::string path = line.substr(second + 1);
        if (cgroup_v2()) {
            if (line.rfind("0::", 0) == 0) return path;
            continue;
        }
        std::istringstream names(controllers);
        for (std::string name; std::getline(names, name, ',');)
            if (name == controller) return path;
    }
    return {};
}

bool caller_in_root_cgroups(std::string *why_not) {
    for (const auto &line : lines(read_file("/proc/self/cgroup"))) {
        auto second = line.find(':', line.find(':') + 1);
        if (second == std::string::npos) continue;
        bool unified = line.rfind("0::", 0) == 0;
        // On a v1 host the unified line is the (controller-less) hybrid tree.
        if (unified && !cgroup_v2()) continue;
        if (!unified && cgroup_v2()) continue;
        std::string path = line.substr(second + 1);
        if (path != "/") {
            if (why_not) *why_not = "this process's cgroup is not the root: " + line;
            return false;
        }
    }
    return true;
}

json find_event(const std::string &text, const std::string &type) {
    for (const auto &line : lines(text)) {
        json e = json::parse(line, nullptr, false);
        if (e.is_object() && e.value("type", "") == type) return e;
    }
    return json();
}

// --- the console socket -------------------------------------------------------

ConsoleSocket::ConsoleSocket(std::string path) : path_(std::move(path)) {
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path) return;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    std::copy(path_.begin(), path_.end(), addr.sun_path);
    if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || listen(fd, 1) != 0) {
        close(fd);
        return;
    }
    listener_ = fd;
}

ConsoleSocket::~ConsoleSocket() {
    for (int fd : received_) close(fd);
    if (listener_ >= 0) close(listener_);
}

int ConsoleSocket::accept_console(milliseconds timeout) {
    pollfd p = {listener_, POLLIN, 0};
    if (listener_ < 0 || poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
    int conn = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) return -1;
    char payload[4096];
    iovec iov = {payload, sizeof payload};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    int got = -1;
    if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) >= 0) {
        for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) std::memcpy(&got, CMSG_DATA(c), sizeof got);
    }
    close(conn);
    if (got >= 0) received_.push_back(got);
    return got;
}

std::string ConsoleSocket::drain(int master, milliseconds timeout) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buf[4096];
        ssize_t n = read(master, buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;  // EIO: the last slave fd is closed
    }
    return out;
}

// --- the fixture ----------------------------------------------------------------

pid_t ResourceTest::start_limited(Bundle &b, const json &resources) {
    for (const auto &[key, value] : resources.items()) b.config["linux"]["resources"][key] = value;
    return start_sleeper(b);
}

Result ResourceTest::exec(const Bundle &b, const std::vector<std::string> &args, const std::vector<std::string> &flags,
                          const RunOptions &opts) {
    std::vector<std::string> argv = {"exec"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(b.id);
    argv.insert(argv.end(), args.begin(), args.end());
    return rt(argv, opts);
}

pid_t ResourceTest::exec_sleeper(const Bundle &b) {
    std::string pid_file = make_dir("exec") + "/pid";
    Result r = exec(b, {"/probe", "sleep", "inf"}, {"--detach", "--pid-file", pid_file});
    if (r.status != 0) {
        ADD_FAILURE() << r;
        return 0;
    }
    std::string text = read_file(pid_file);
    pid_t pid = static_cast<pid_t>(std::atol(text.c_str()));
    if (pid <= 0) ADD_FAILURE() << "exec --pid-file wrote '" << text << "'";
    return pid;
}

json ResourceTest::stats(const Bundle &b) {
    Result r = rt({"events", "--stats", b.id});
    if (r.status != 0) {
        ADD_FAILURE() << r;
        return json();
    }
    json s = json::parse(r.out, nullptr, false);
    if (!s.is_object()) {
        ADD_FAILURE() << "events --stats printed no JSON object\n" << r;
        return json();
    }
    return s;
}

bool ResourceTest::becomes(const Bundle &b, const std::string &status, milliseconds timeout) {
    return eventually([&] { return status_of(b) == status; }, timeout);
}

}  // namespace corral_it
