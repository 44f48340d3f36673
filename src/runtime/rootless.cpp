// rootless.cpp — see rootless.hpp for what changes when the caller is not root.
#include "runtime/rootless.hpp"

#include "common/fd.hpp"
#include "common/fs.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace corral {
namespace {

// Run a setuid helper (newuidmap/newgidmap) and wait for it. Signals may be
// blocked in the caller (`run` blocks them all): the helper starts with an
// empty mask and default handlers. Its stderr becomes part of the error.
Status run_id_map_tool(const std::string &tool, const std::vector<std::string> &args) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe for " + tool);
    UniqueFd rd(pipefd[0]), wr(pipefd[1]);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, wr.get(), STDERR_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char *> argv;
    argv.push_back(const_cast<char *>(tool.c_str()));
    for (const auto &a : args) argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, tool.c_str(), &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    wr.reset();
    if (rc != 0) {
        if (rc == ENOENT)
            return Error(tool + " not found: mapping more than the caller's own id needs it (Debian package "
                         "uidmap) and ranges for the user in /etc/subuid and /etc/subgid", rc);
        return Error::from_errno(rc, "run " + tool);
    }
    std::string err;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (err.size() < 4096) err.append(buf, static_cast<size_t>(n));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return Error::from_errno(errno, "wait for " + tool);
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::string cmd = tool;
        for (const auto &a : args) cmd += " " + a;
        return Error("`" + cmd + "` failed" + (err.empty() ? std::string() : ": " + err) +
                     " (are the ids in /etc/subuid and /etc/subgid for this user?)");
    }
    return ok();
}

// One map: direct write, or the setuid tool when the kernel says EPERM.
Status write_one_map(const Logger &log, pid_t pid, const char *file, const char *tool,
                     const std::vector<spec::IdMapping> &maps, const char *field) {
    const std::string path = "/proc/" + std::to_string(pid) + "/" + file;
    auto direct = write_file(path, format_id_map(maps));
    if (direct) return ok();
    if (direct.error().err() != EPERM) return std::move(direct).error().context(std::string("config.json: ") + field);
    log.debug(std::string("write ") + path + ": permission denied; using " + tool);
    std::vector<std::string> args = {std::to_string(pid)};
    for (auto &a : id_map_tool_args(maps)) args.push_back(std::move(a));
    return run_id_map_tool(tool, args).context(std::string("config.json: ") + field);
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

} // namespace

// --- deciding ---------------------------------------------------------------

bool in_user_namespace() {
    // Read once: the runtime itself never changes its user namespace (only
    // the init does, after clone), and every create asks.
    static const bool answer = [] {
        auto text = read_file("/proc/self/uid_map");
        if (!text) return false; // no user namespaces at all
        std::istringstream in(*text);
        unsigned long long inside = 1, outside = 1, size = 0;
        in >> inside >> outside >> size;
        // The initial namespace maps every id onto itself: "0 0 4294967295".
        return !(inside == 0 && outside == 0 && size == 4294967295ULL);
    }();
    return answer;
}

bool is_rootless(const Context &ctx) {
    if (ctx.rootless) return *ctx.rootless;
    return ::geteuid() != 0 || in_user_namespace();
}

// --- id maps --------------------------------------------------------------------

std::string format_id_map(const std::vector<spec::IdMapping> &maps) {
    std::string out;
    for (const auto &m : maps)
        out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
    return out;
}

std::vector<std::string> id_map_tool_args(const std::vector<spec::IdMapping> &maps) {
    std::vector<std::string> out;
    for (const auto &m : maps) {
        out.push_back(std::to_string(m.container_id));
        out.push_back(std::to_string(m.host_id));
        out.push_back(std::to_string(m.size));
    }
    return out;
}

bool must_deny_setgroups(const std::vector<spec::IdMapping> &gid_maps, gid_t egid, bool rootless) {
    return rootless && gid_maps.size() == 1 && gid_maps[0].host_id == egid && gid_maps[0].size == 1;
}

Status write_user_ns_maps(const Logger &log, pid_t pid, const spec::Linux &lx, bool rootless) {
    const std::string proc = "/proc/" + std::to_string(pid);
    if (must_deny_setgroups(lx.gid_mappings, ::getegid(), rootless)) {
        // The kernel lets an unprivileged process write a gid_map of its own
        // gid only once setgroups is denied: otherwise dropping a group with
        // setgroups could grant access that a "deny" ACL on it withholds.
        log.debug("write `deny` to " + proc + "/setgroups (rootless: only our own gid is mapped)");
        CORRAL_TRY_CTX(write_file(proc + "/setgroups", "deny"), "rootless user namespace");
    }
    log.debug("write uid_map and gid_map of " + proc);
    CORRAL_TRY(write_one_map(log, pid, "uid_map", "newuidmap", lx.uid_mappings, "linux.uidMappings"));
    CORRAL_TRY(write_one_map(log, pid, "gid_map", "newgidmap", lx.gid_mappings, "linux.gidMappings"));
    return ok();
}

bool setgroups_denied_for(const std::string &user_ns_path) {
    // "/proc/PID/ns/user" → "/proc/PID/setgroups"
    const std::string tail = "/ns/user";
    if (!starts_with(user_ns_path, "/proc/") || user_ns_path.size() <= tail.size() ||
        user_ns_path.compare(user_ns_path.size() - tail.size(), tail.size(), tail) != 0)
        return false;
    auto text = read_file(user_ns_path.substr(0, user_ns_path.size() - tail.size()) + "/setgroups");
    return text && starts_with(*text, "deny");
}

// --- cgroups ------------------------------------------------------------------

bool is_permission_error(const Error &e) { return e.err() == EACCES || e.err() == EPERM || e.err() == EROFS; }

std::string first_limit_set(const spec::Resources &r) {
    if (const auto &m = r.memory; m && (m->limit || m->reservation || m->swap || m->kernel || m->kernel_tcp ||
                                        m->swappiness || m->disable_oom_killer || m->use_hierarchy))
        return "memory";
    if (const auto &c = r.cpu; c && (c->shares || c->quota || c->burst || c->period || c->realtime_runtime ||
                                     c->realtime_period || !c->cpus.empty() || !c->mems.empty() || c->idle))
        return "cpu";
    if (r.pids && r.pids->limit != 0) return "pids";
    if (const auto &b = r.block_io;
        b && (b->weight || b->leaf_weight || !b->weight_device.empty() || !b->throttle_read_bps_device.empty() ||
              !b->throttle_write_bps_device.empty() || !b->throttle_read_iops_device.empty() ||
              !b->throttle_write_iops_device.empty()))
        return "blockIO";
    if (!r.hugepage_limits.empty()) return "hugepageLimits";
    if (r.network && (r.network->class_id || !r.network->priorities.empty())) return "network";
    if (!r.unified.empty()) return "unified";
    if (!r.rdma_raw.empty()) return "rdma";
    return {};
}

spec::Resources without_device_rules(spec::Resources r) {
    r.devices.clear();
    return r;
}

std::vector<std::pair<std::string, std::string>> own_cgroup_paths(bool v2, const std::string &root,
                                                                  const std::string &proc_self_cgroup) {
    std::vector<std::pair<std::string, std::string>> out;
    auto text = read_file(proc_self_cgroup);
    if (!text) return out;
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) {
        // "4:memory:/a/b", "9:name=systemd:/", "0::/x"
        size_t c1 = line.find(':');
        size_t c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
        if (c2 == std::string::npos) continue;
        std::string controllers = line.substr(c1 + 1, c2 - c1 - 1);
        std::string path = line.substr(c2 + 1);
        if (path.empty() || path[0] != '/') continue;
        if (v2) {
            if (controllers.empty()) out.emplace_back("", clean_path(root + path));
            continue;
        }
        if (controllers.empty()) continue; // the cgroup2 line of a hybrid host
        std::string dir = starts_with(controllers, "name=") ? controllers.substr(5) : controllers;
        out.emplace_back(controllers, clean_path(root + "/" + dir + path));
    }
    return out;
}

// --- mounts -------------------------------------------------------------------

spec::Mount sysfs_as_bind_if_needed(const spec::Mount &m, bool new_user_ns, bool new_net_ns, bool &changed) {
    changed = false;
    if (m.type != "sysfs" || !new_user_ns || new_net_ns) return m;
    spec::Mount b = m;
    b.type = "bind";
    b.source = "/sys";
    b.options = {"rbind"};
    for (const auto &o : m.options)
        if (o != "bind" && o != "rbind") b.options.push_back(o);
    changed = true;
    return b;
}

} // namespace corral
