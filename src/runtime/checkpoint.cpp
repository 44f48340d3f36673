// checkpoint.cpp — `checkpoint` and `restore` by running the criu binary.
//
// runc talks to `criu swrk` over an RPC socket; we run `criu dump` and
// `criu restore` with the same options on the command line:
//
//   runc RPC field                 criu command line
//   Pid, ImagesDirFd, WorkDirFd    -t PID -D IMAGES -W WORK
//   LogFile, LogLevel 4            -o dump.log -v4
//   Root                           --root ROOTFS (restore: a bind mount of it)
//   ManageCgroups(+Mode)           --manage-cgroups[=MODE]
//   FreezeCgroup                   --freeze-cgroup FREEZER-CGROUP
//   ExtMnt {dest: dest}            --external mnt[DEST]:DEST   (dump)
//   ExtMnt {dest: source}          --external mnt[DEST]:SOURCE (restore)
//   External net[inode]            --external net[INO]:extRootNetNS, restore: --inherit-fd
//   InheritFd (stdio pipes)        --inherit-fd fd[N]:pipe:[INO]
//   RstSibling + swrk              --restore-detached --pidfile FILE (and we are a subreaper)
//
// The order of a restore, and what undoes each step if a later one fails:
//   1. read the bundle, claim the id (state dir)            -> remove the state dir
//   2. the cgroup, with the bundle's limits                 -> destroy the cgroup
//   3. criu restore, in a private mount namespace holding
//      the rootfs bind mount (gone when criu exits)         -> kill what the pidfile names
//   4. state.json (running), --pid-file                     (committed)
#include "corral/checkpoint.hpp"

#include "cgroups/manager.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "common/pidfd.hpp"
#include "runtime/plan_build.hpp"
#include "runtime/state.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace corral {
namespace {

using json = nlohmann::json;

constexpr int kMinCriuVersion = 30000;  // runc's minimum: CRIU 3.0 (the version RPC)
constexpr int kLsmProfileVersion = 31600; // CRIU < 3.16 cannot change the LSM profile
constexpr const char *kCheckpointInfo = "corral-checkpoint.json";
constexpr const char *kDescriptors = "descriptors.json"; // runc's name and format

// --- running criu ------------------------------------------------------------

struct CriuCommand {
    std::string binary;
    std::vector<std::string> args;                // without argv[0]
    std::vector<std::pair<int, int>> extra_fds;   // (our fd, fd number in criu), numbers >= 3
    std::string root_bind;                        // restore: bind this at root_mountpoint first
    std::string root_mountpoint;
    bool capture_stdout = false;
};

struct CriuOutcome {
    int status = -1; // exit code, or 128+N if killed
    std::string out; // with capture_stdout
};

// In the child, between fork and exec: only system calls, then _exit on failure.
[[noreturn]] void child_fail(const char *what) {
    int err = errno;
    char buf[256];
    int n = snprintf(buf, sizeof buf, "corral: %s: %s\n", what, strerror(err));
    if (n > 0) (void)!::write(STDERR_FILENO, buf, static_cast<size_t>(std::min(n, 255)));
    _exit(127);
}

Result<CriuOutcome> run_criu(const CriuCommand &c, const Logger &log) {
    std::vector<std::string> argv_s{c.binary};
    argv_s.insert(argv_s.end(), c.args.begin(), c.args.end());
    std::string shown;
    for (const auto &a : argv_s) shown += (shown.empty() ? "" : " ") + a;
    log.debug("run " + shown);
    std::vector<char *> argv;
    for (auto &a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);

    int pipefd[2] = {-1, -1};
    if (c.capture_stdout && ::pipe2(pipefd, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe for criu");
    UniqueFd rd(pipefd[0]), wr(pipefd[1]);
    // The fd numbers criu keeps: 0-2 and the extra ones.
    std::vector<int> keep{0, 1, 2};
    for (auto [from, to] : c.extra_fds) keep.push_back(to);
    std::sort(keep.begin(), keep.end());

    pid_t pid = ::fork();
    if (pid < 0) return Error::from_errno(errno, "fork for criu");
    if (pid == 0) {
        ::signal(SIGPIPE, SIG_DFL);
        if (c.capture_stdout && ::dup2(wr.get(), STDOUT_FILENO) < 0) child_fail("dup2 stdout");
        // Move the extra fds out of the way first, so that placing one never
        // overwrites another still to be placed.
        std::vector<int> high;
        for (auto [from, to] : c.extra_fds) {
            int h = ::fcntl(from, F_DUPFD, 1024);
            if (h < 0) child_fail("dup fd for criu");
            high.push_back(h);
        }
        for (size_t i = 0; i < high.size(); ++i)
            if (::dup2(high[i], c.extra_fds[i].second) < 0) child_fail("dup2 fd for criu");
        // Close everything else (CVE-2024-21626's lesson: nothing leaks into children).
        for (size_t i = 0; i < keep.size(); ++i) {
            unsigned first = static_cast<unsigned>(keep[i]) + 1;
            unsigned last = i + 1 < keep.size() ? static_cast<unsigned>(keep[i + 1]) - 1 : ~0U;
            if (first <= last && ::syscall(SYS_close_range, first, last, 0) < 0) child_fail("close_range");
        }
        if (!c.root_bind.empty()) {
            // A private mount namespace: the rootfs bind mount CRIU needs as
            // --root (a mount point whose parent is not overmounted) never
            // shows on the host and goes away with criu.
            if (::unshare(CLONE_NEWNS) < 0) child_fail("unshare mount namespace");
            if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) child_fail("make / private");
            if (::mount(c.root_bind.c_str(), c.root_mountpoint.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
                child_fail("bind the rootfs for criu");
        }
        ::execv(c.binary.c_str(), argv.data());
        child_fail("exec criu");
    }
    wr.reset();
    CriuOutcome out;
    if (c.capture_stdout) {
        auto text = read_fd(rd.get());
        if (text) out.out = std::move(*text);
    }
    int ws = 0;
    while (::waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR) return Error::from_errno(errno, "wait for criu");
    }
    out.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    return out;
}

// "criu dump failed: vdso: Unexpected rt vDSO area bounds; ... (see /w/dump.log)"
Error criu_failure(std::string_view action, const std::string &log_path, int status) {
    std::string reason;
    if (auto text = read_file(log_path)) reason = criu_log_errors(*text);
    if (reason.empty()) reason = "exit status " + std::to_string(status) + ", no error in its log";
    return Error("criu " + std::string(action) + " failed: " + reason + " (see " + log_path + ")");
}

Result<std::string> checked_criu(const Context &ctx) {
    const Logger &log = ctx.log;
    std::string criu = CORRAL_TRY(find_criu(ctx.criu));
    int version = CORRAL_TRY(criu_version(criu));
    log.debug("criu " + criu + " version " + std::to_string(version));
    if (version < kMinCriuVersion)
        return Error("CRIU version " + std::to_string(version) + " must be " + std::to_string(kMinCriuVersion) +
                     " or higher");
    return criu;
}

// --- what CRIU must treat as external -----------------------------------------

bool is_bind_mount(const spec::Mount &m) {
    if (m.type == "bind") return true;
    return std::any_of(m.options.begin(), m.options.end(), [](const std::string &o) { return o == "bind" || o == "rbind"; });
}

bool under(const std::string &path, const std::string &dir) {
    return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && (dir == "/" || path[dir.size()] == '/');
}

// Mount points (field 5) and filesystem types of a mountinfo file.
std::vector<std::pair<std::string, std::string>> mountinfo_points(const std::string &file) {
    std::vector<std::pair<std::string, std::string>> out;
    auto text = read_file(file);
    if (!text) return out;
    size_t pos = 0;
    const std::string &all = *text;
    while (pos < all.size()) {
        size_t eol = all.find('\n', pos);
        if (eol == std::string::npos) eol = all.size();
        std::string line = all.substr(pos, eol - pos);
        pos = eol + 1;
        size_t dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        size_t i = 0;
        std::string mp;
        for (int f = 0; f < 5 && i != std::string::npos; ++f) {
            size_t sp = line.find(' ', i);
            if (f == 4) mp = line.substr(i, sp - i);
            i = sp == std::string::npos ? sp : sp + 1;
        }
        std::string fstype = line.substr(dash + 3, line.find(' ', dash + 3) - (dash + 3));
        out.emplace_back(mp, fstype);
    }
    return out;
}

const char *const kDefaultDevices[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/random", "/dev/urandom"};

// Dump: the external mounts, keyed by their destination (runc's choice of id).
std::vector<std::pair<std::string, std::string>> dump_external_mounts(const spec::Spec &s, pid_t init) {
    std::vector<std::pair<std::string, std::string>> ext;
    const std::string proc = "/proc/" + std::to_string(init);
    auto container_mounts = mountinfo_points(proc + "/mountinfo");
    for (const auto &m : s.mounts) {
        std::string dest = clean_path("/" + m.destination);
        if (is_bind_mount(m)) {
            ext.emplace_back(dest, dest);
        } else if ((m.type == "cgroup" || m.type == "cgroup2") && !s.find_namespace("cgroup")) {
            // cgroup v1 without a cgroup namespace: a tmpfs with one bind mount
            // per hierarchy of the container's own cgroups (runc likewise).
            for (const auto &[mp, fstype] : container_mounts)
                if ((fstype == "cgroup" || fstype == "cgroup2") && under(mp, dest)) ext.emplace_back(mp, mp);
        }
    }
    // Masked files are /dev/null bound over them: one id for all.
    if (s.linux)
        for (const auto &p : s.linux->masked_paths) {
            struct stat st {};
            if (::stat((proc + "/root" + p).c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) ext.emplace_back(p, "/dev/null");
        }
    // Device nodes may be bind mounts of the host's (user namespaces).
    for (const char *d : kDefaultDevices) ext.emplace_back(d, d);
    if (s.linux)
        for (const auto &d : s.linux->devices) ext.emplace_back(clean_path(d.path), clean_path(d.path));
    return ext;
}

// Where the cgroup v1 hierarchies are mounted on the host: mount point per
// path of `cg_paths` lying below it.
std::vector<std::pair<std::string, std::string>> host_cgroup_mounts(
    const std::vector<std::pair<std::string, std::string>> &cg_paths) {
    std::vector<std::pair<std::string, std::string>> out; // (host mount point, container's host path)
    for (const auto &[mp, fstype] : mountinfo_points("/proc/self/mountinfo")) {
        if (fstype != "cgroup") continue;
        for (const auto &[ctrl, host] : cg_paths) {
            (void)ctrl;
            if (host == mp || under(host, mp)) {
                out.emplace_back(mp, host);
                break;
            }
        }
    }
    return out;
}

// Restore: the same ids, now mapped to what the new container should get.
std::vector<std::pair<std::string, std::string>> restore_external_mounts(
    const spec::Spec &s, const std::string &bundle, const std::vector<std::pair<std::string, std::string>> &cg_paths) {
    std::vector<std::pair<std::string, std::string>> ext;
    for (const auto &m : s.mounts) {
        std::string dest = clean_path("/" + m.destination);
        if (is_bind_mount(m)) {
            std::string src = m.source.empty() || m.source[0] == '/' ? m.source : bundle + "/" + m.source;
            ext.emplace_back(dest, src);
        } else if ((m.type == "cgroup" || m.type == "cgroup2") && !s.find_namespace("cgroup")) {
            for (const auto &[mp, host] : host_cgroup_mounts(cg_paths))
                ext.emplace_back(dest + mp.substr(mp.rfind('/')), host);
        }
    }
    if (s.linux && !s.linux->masked_paths.empty()) ext.emplace_back("/dev/null", "/dev/null");
    for (const char *d : kDefaultDevices) ext.emplace_back(d, d);
    if (s.linux)
        for (const auto &d : s.linux->devices) ext.emplace_back(clean_path(d.path), clean_path(d.path));
    return ext;
}

void add_external_mounts(std::vector<std::string> &args, const std::vector<std::pair<std::string, std::string>> &ext) {
    std::vector<std::string> seen;
    for (const auto &[key, val] : ext) {
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue; // first wins
        seen.push_back(key);
        args.push_back("--external");
        args.push_back("mnt[" + key + "]:" + val);
    }
}

// Namespaces joined by path stay outside the images: CRIU records them as
// external (by inode) and restore hands it the namespace to use.
struct ExternalNs {
    const char *type;     // OCI name
    const char *proc;     // /proc/PID/ns name, CRIU's resource name
    const char *criu_key; // runc's keys
};
constexpr ExternalNs kExternalNs[] = {{"network", "net", "extRootNetNS"}, {"pid", "pid", "extRootPidNS"}};

Status check_manage_cgroups_mode(const std::string &mode) {
    if (mode.empty() || mode == "soft" || mode == "full" || mode == "strict") return ok();
    return Error("Invalid manage cgroups mode"); // runc's words
}

Status add_empty_ns(std::vector<std::string> &args, const std::string &ns) {
    if (ns.empty()) return ok();
    if (ns != "network") return Error("namespace \"" + ns + "\" is not supported");
    args.push_back("--empty-ns");
    args.push_back("net");
    return ok();
}

std::string manage_cgroups_arg(const std::string &mode) {
    return mode.empty() ? "--manage-cgroups" : "--manage-cgroups=" + mode;
}

Status make_dir(const std::string &path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST) return Error::from_errno(errno, "mkdir", path);
    return ok();
}

std::string rootfs_of(const spec::Spec &s, const std::string &bundle) {
    std::string p = s.root ? s.root->path : "rootfs";
    if (p.empty() || p[0] != '/') p = bundle + "/" + p;
    char real[PATH_MAX];
    if (::realpath(p.c_str(), real)) return real;
    return clean_path(p);
}

// A pidfd-verified SIGKILL and wait, for a restored process we must undo.
void kill_and_wait(pid_t pid) {
    int fd = sys_pidfd_open(pid);
    if (fd < 0) return;
    UniqueFd pidfd(fd);
    sys_pidfd_send_signal(fd, SIGKILL);
    pollfd p{fd, POLLIN, 0};
    (void)::poll(&p, 1, 5000);
    (void)::waitpid(pid, nullptr, WNOHANG);
}

std::string now_rfc3339() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return format_rfc3339_nano(ts);
}

} // namespace

// --- CRIU helpers ----------------------------------------------------------------

Result<std::string> find_criu(const std::string &name) {
    auto usable = [](const std::string &f) {
        struct stat st {};
        return ::stat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(f.c_str(), X_OK) == 0;
    };
    if (name.find('/') != std::string::npos) {
        if (usable(name)) return name;
        return Error("CRIU version check failed: fork/exec " + name + ": no such file or directory", ENOENT, name);
    }
    const char *path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    size_t pos = 0;
    while (pos <= dirs.size()) {
        size_t colon = dirs.find(':', pos);
        if (colon == std::string::npos) colon = dirs.size();
        std::string dir = dirs.substr(pos, colon - pos);
        pos = colon + 1;
        if (dir.empty()) dir = ".";
        std::string candidate = dir + "/" + name;
        if (usable(candidate)) return candidate;
    }
    return Error("CRIU version check failed: exec: \"" + name + "\": executable file not found in $PATH", ENOENT);
}

int parse_criu_version(std::string_view text) {
    size_t at = text.find("Version:");
    if (at == std::string_view::npos) return 0;
    at += 8;
    while (at < text.size() && text[at] == ' ') ++at;
    int parts[3] = {0, 0, 0};
    for (int i = 0; i < 3 && at < text.size(); ++i) {
        if (!std::isdigit(static_cast<unsigned char>(text[at]))) {
            if (i == 0) return 0;
            break;
        }
        while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])))
            parts[i] = parts[i] * 10 + (text[at++] - '0');
        if (at < text.size() && text[at] == '.') ++at;
        else break;
    }
    return parts[0] * 10000 + parts[1] * 100 + parts[2];
}

Result<int> criu_version(const std::string &criu) {
    static const Logger quiet;
    CriuCommand c{.binary = criu, .args = {"--version"}, .capture_stdout = true};
    CriuOutcome out = CORRAL_TRY(run_criu(c, quiet).context("CRIU version check failed"));
    int v = parse_criu_version(out.out);
    if (out.status != 0 || v == 0)
        return Error("CRIU version check failed: `" + criu + " --version` exited " + std::to_string(out.status) +
                     (out.out.empty() ? std::string() : ": " + out.out));
    return v;
}

std::string criu_log_errors(std::string_view log, size_t max_lines) {
    std::string out;
    size_t n = 0, pos = 0;
    while (pos < log.size() && n < max_lines) {
        size_t eol = log.find('\n', pos);
        if (eol == std::string_view::npos) eol = log.size();
        std::string_view line = log.substr(pos, eol - pos);
        pos = eol + 1;
        size_t e = line.find("Error (");
        if (e == std::string_view::npos) continue;
        size_t close = line.find("): ", e);
        std::string_view msg = close == std::string_view::npos ? line.substr(e) : line.substr(close + 3);
        while (!msg.empty() && (msg.back() == ' ' || msg.back() == '\r')) msg.remove_suffix(1);
        if (msg.empty()) continue;
        if (!out.empty()) out += "; ";
        out += msg;
        ++n;
    }
    return out;
}

// --- checkpoint ----------------------------------------------------------------------

Status checkpoint(const Context &ctx, const std::string &id, const CheckpointOptions &opts) {
    ctx.log.debug("checkpoint container `" + id + "` to " + opts.image_path);
    std::string criu = CORRAL_TRY(checked_criu(ctx));
    if (opts.image_path.empty()) return Error("invalid directory to save checkpoint");
    CORRAL_TRY(check_manage_cgroups_mode(opts.manage_cgroups_mode));

    std::string image_path, work_path;
    bool leave_running = opts.leave_running || opts.pre_dump;
    {
        StateDir dir = CORRAL_TRY(StateDir::open(ctx.root, id));
        StateRecord rec = CORRAL_TRY(dir.read());
        ContainerStatus status = live_status(dir, rec);
        if (status != ContainerStatus::running && status != ContainerStatus::paused)
            return Error(std::string("Container cannot be checkpointed in ") + to_string(status) + " state");
        std::string config_file = path_join(dir.path(), "config.json");
        spec::Spec s = CORRAL_TRY(spec::parse_spec(CORRAL_TRY(read_file(config_file)), config_file));
        const pid_t init = rec.oci.pid;
        const std::string proc = "/proc/" + std::to_string(init);

        // Since a container can be checkpointed more than once, the
        // directories may exist already.
        CORRAL_TRY(make_dir(opts.image_path, 0700));
        image_path = opts.image_path;
        work_path = opts.work_path.empty() ? image_path : opts.work_path;
        CORRAL_TRY(make_dir(work_path, 0700));

        std::vector<std::string> a{opts.pre_dump ? "pre-dump" : "dump", "-t", std::to_string(init), "-D", image_path,
                                   "-W", work_path, "-o", "dump.log", "-v4", "--root", rec.oci.rootfs,
                                   manage_cgroups_arg(opts.manage_cgroups_mode)};
        if (opts.leave_running && !opts.pre_dump) a.push_back("--leave-running");
        if (opts.tcp_established) a.push_back("--tcp-established");
        if (opts.ext_unix_sk) a.push_back("--ext-unix-sk");
        if (opts.shell_job) a.push_back("--shell-job");
        if (opts.file_locks) a.push_back("--file-locks");
        if (opts.auto_dedup) a.push_back("--auto-dedup");
        CORRAL_TRY(add_empty_ns(a, opts.empty_ns));
        // CRIU freezes with the freezer cgroup rather than ptrace when it can.
        for (const auto &[ctrl, path] : rec.cgroup_paths)
            if (ctrl == "freezer" || (rec.cgroup_mode == cgroups::Mode::v2 && ctrl.empty())) {
                a.insert(a.end(), {"--freeze-cgroup", path});
                break;
            }
        if (!opts.page_server.empty()) {
            size_t colon = opts.page_server.rfind(':');
            if (colon == std::string::npos || colon == 0) return Error("Use --page-server ADDRESS:PORT to specify page server");
            std::string port = opts.page_server.substr(colon + 1);
            if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos) return Error("Invalid port number");
            a.insert(a.end(), {"--page-server", "--address", opts.page_server.substr(0, colon), "--port", port});
        }
        if (!opts.parent_path.empty()) a.insert(a.end(), {"--prev-images-dir", opts.parent_path, "--track-mem"});
        CriuCommand cmd{.binary = criu};
        if (opts.lazy_pages) {
            a.push_back("--lazy-pages");
            if (opts.status_fd >= 0) {
                int fl = ::fcntl(opts.status_fd, F_GETFL);
                if (fl < 0)
                    return Error("invalid --status-fd argument " + std::to_string(opts.status_fd) + ": " +
                                 std::strerror(errno));
                if ((fl & O_ACCMODE) == O_RDONLY)
                    return Error("invalid --status-fd argument " + std::to_string(opts.status_fd) + ": not writable");
                if (opts.status_fd > 2) cmd.extra_fds.emplace_back(opts.status_fd, opts.status_fd);
                a.insert(a.end(), {"--status-fd", std::to_string(opts.status_fd)});
            }
        }
        json info;
        info["id"] = id;
        info["bundle"] = rec.oci.bundle;
        info["rootfs"] = rec.oci.rootfs;
        info["pid"] = init;
        info["external_namespaces"] = json::object();
        if (!opts.pre_dump) {
            add_external_mounts(a, dump_external_mounts(s, init));
            for (const auto &ns : kExternalNs) {
                const spec::Namespace *n = s.find_namespace(ns.type);
                if (!n || n->path.empty()) continue;
                struct stat st {};
                if (::stat((proc + "/ns/" + ns.proc).c_str(), &st) < 0)
                    return Error::from_errno(errno, "stat", proc + "/ns/" + ns.proc);
                a.insert(a.end(), {"--external", std::string(ns.proc) + "[" + std::to_string(st.st_ino) + "]:" + ns.criu_key});
                info["external_namespaces"][ns.type] = ns.criu_key;
            }
            // What restore needs that CRIU does not keep.
            json fds = json::array();
            for (int fd = 0; fd < 3; ++fd) {
                char target[PATH_MAX];
                ssize_t n = ::readlink((proc + "/fd/" + std::to_string(fd)).c_str(), target, sizeof target - 1);
                fds.push_back(n > 0 ? std::string(target, static_cast<size_t>(n)) : std::string("/dev/null"));
            }
            CORRAL_TRY(write_file_atomic(path_join(image_path, kDescriptors), fds.dump(), 0600));
            info["state"] = json::parse(state_record_to_json(rec), nullptr, false);
            CORRAL_TRY(write_file_atomic(path_join(image_path, kCheckpointInfo), info.dump(2) + "\n", 0600));
            CORRAL_TRY(write_file_atomic(path_join(image_path, "corral-config.json"),
                                         CORRAL_TRY(read_file(config_file)), 0600));
        }
        cmd.args = std::move(a);

        CriuOutcome out = CORRAL_TRY(run_criu(cmd, ctx.log));
        if (out.status != 0) {
            // CRIU thaws what it froze when it fails; make sure, since the
            // container must be left as it was.
            if (status == ContainerStatus::running && rec.cgroup_mode != cgroups::Mode::disabled) {
                cgroups::Options o;
                o.cgroups_path = rec.cgroups_path;
                o.container_id = id;
                o.paths = rec.cgroup_paths;
                if (auto cg = cgroups::open_manager(rec.cgroup_mode, o))
                    if (auto t = (*cg)->thaw(); !t) ctx.log.warn("thaw after failed checkpoint: " + t.error().message());
            }
            return criu_failure(opts.pre_dump ? "pre-dump" : "dump", path_join(work_path, "dump.log"), out.status);
        }
        ctx.log.debug("criu dump of `" + id + "` done");
    } // the lock is released here: delete takes it again
    if (!leave_running) {
        // CRIU ended the processes; the container is gone, as after runc's checkpoint.
        if (auto st = remove(ctx, id, /*force=*/true); !st)
            ctx.log.warn("delete `" + id + "` after checkpoint: " + st.error().message());
    }
    return ok();
}

// --- restore ---------------------------------------------------------------------------

Result<int> restore(const Context &ctx, const std::string &id, const RestoreOptions &opts) {
    ctx.log.debug("restore container `" + id + "` from " + opts.image_path);
    std::string criu = CORRAL_TRY(checked_criu(ctx));
    if (opts.image_path.empty()) return Error("invalid directory to restore checkpoint");
    CORRAL_TRY(check_manage_cgroups_mode(opts.manage_cgroups_mode));
    if (!opts.lsm_profile.empty() && CORRAL_TRY(criu_version(criu)) < kLsmProfileVersion)
        return Error("--lsm-profile requires at least CRIU 3.16");
    {
        struct stat st {};
        if (::stat(opts.image_path.c_str(), &st) < 0) return Error::from_errno(errno, "open", opts.image_path);
    }
    // 1. The bundle, checked before anything is made.
    char real[PATH_MAX];
    if (!::realpath(opts.bundle.empty() ? "." : opts.bundle.c_str(), real))
        return Error::from_errno(errno, "bundle", opts.bundle);
    const std::string bundle = real;
    const std::string config_file = bundle + "/config.json";
    const std::string config_text = CORRAL_TRY(read_file(config_file));
    spec::Spec s = CORRAL_TRY(spec::parse_spec(config_text, config_file));
    CORRAL_TRY(spec::validate_spec(s, config_file));
    if (s.process && s.process->terminal)
        return Error("restore of a container with a terminal is not supported: the criu command line cannot hand "
                     "back the pty master (runc uses criu's RPC option orphan_pts_master)");
    if (!opts.console_socket.empty())
        return Error("cannot use console socket if runc will not detach or allocate tty");
    if (opts.no_pivot) ctx.log.debug("--no-pivot: CRIU restores the mount namespace itself; ignored");
    json info = json::object();
    if (auto text = read_file(path_join(opts.image_path, kCheckpointInfo))) {
        info = json::parse(*text, nullptr, false);
        if (info.is_discarded()) info = json::object();
    } else {
        ctx.log.warn("no " + std::string(kCheckpointInfo) + " in " + opts.image_path + " (not made by corral?)");
    }
    std::string work_path = opts.work_path.empty() ? opts.image_path : opts.work_path;
    CORRAL_TRY(make_dir(work_path, 0700));
    const std::string rootfs = rootfs_of(s, bundle);

    // Steps 1-3 are undone on any failure (see the comment at the top).
    struct Undo {
        const Context &ctx;
        std::optional<StateDir> dir;
        std::unique_ptr<cgroups::Manager> cgroup;
        pid_t pid = 0;
        bool committed = false;
        ~Undo() {
            if (committed) return;
            if (pid > 0) kill_and_wait(pid);
            if (cgroup)
                if (auto st = cgroup->destroy(); !st) ctx.log.warn("restore cleanup: " + st.error().message());
            if (dir) {
                (void)::rmdir((dir->path() + "/criu-root").c_str());
                if (auto st = dir->remove(); !st) ctx.log.warn("restore cleanup: " + st.error().message());
            }
        }
    } undo{ctx, std::nullopt, nullptr};

    undo.dir.emplace(CORRAL_TRY(StateDir::create(ctx.root, id)));
    StateDir &dir = *undo.dir;
    // 2. The cgroup with the bundle's limits; CRIU puts the tasks in it (--cgroup-root).
    cgroups::Mode mode = cgroups::detect_mode();
    if (mode != cgroups::Mode::disabled) {
        cgroups::Options o;
        o.cgroups_path = s.linux ? s.linux->cgroups_path : std::string();
        o.container_id = id;
        o.systemd = ctx.systemd_cgroup;
        o.logger = &ctx.log;
        undo.cgroup = CORRAL_TRY(cgroups::make_manager(mode, o));
        CORRAL_TRY_CTX(undo.cgroup->create(), "create cgroup");
        CORRAL_TRY_CTX(undo.cgroup->apply(effective_resources(s)), "apply linux.resources");
    }
    const auto cg_paths = undo.cgroup ? undo.cgroup->paths() : std::vector<std::pair<std::string, std::string>>{};

    // 3. criu restore.
    const std::string criu_root = dir.path() + "/criu-root";
    CORRAL_TRY(make_dir(criu_root, 0755));
    const std::string pidfile = dir.path() + "/restore.pid";
    std::vector<std::string> a{"restore", "-D", opts.image_path, "-W", work_path, "-o", "restore.log", "-v4",
                               "--root", criu_root, "--restore-detached", "--pidfile", pidfile,
                               "--evasive-devices", manage_cgroups_arg(opts.manage_cgroups_mode)};
    if (opts.tcp_established) a.push_back("--tcp-established");
    if (opts.ext_unix_sk) a.push_back("--ext-unix-sk");
    if (opts.shell_job) a.push_back("--shell-job");
    if (opts.file_locks) a.push_back("--file-locks");
    if (opts.auto_dedup) a.push_back("--auto-dedup");
    if (opts.lazy_pages) a.push_back("--lazy-pages");
    if (!opts.lsm_profile.empty()) a.insert(a.end(), {"--lsm-profile", opts.lsm_profile});
    if (!opts.lsm_mount_context.empty()) a.insert(a.end(), {"--lsm-mount-context", opts.lsm_mount_context});
    CORRAL_TRY(add_empty_ns(a, opts.empty_ns));
    // The restored tasks go below the new container's cgroup.
    for (const auto &[mp, host] : host_cgroup_mounts(cg_paths)) {
        a.insert(a.end(), {"--cgroup-root", host.size() > mp.size() ? host.substr(mp.size()) : "/"});
        break;
    }
    if (mode == cgroups::Mode::v2 && !cg_paths.empty())
        a.insert(a.end(), {"--cgroup-root", cg_paths.front().second.substr(std::string("/sys/fs/cgroup").size())});
    add_external_mounts(a, restore_external_mounts(s, bundle, cg_paths));
    CriuCommand cmd{.binary = criu, .root_bind = rootfs, .root_mountpoint = criu_root};
    std::vector<UniqueFd> ns_fds;
    int next_fd = 3;
    if (info.contains("external_namespaces") && info["external_namespaces"].is_object()) {
        for (const auto &ns : kExternalNs) {
            if (!info["external_namespaces"].contains(ns.type)) continue;
            const spec::Namespace *n = s.find_namespace(ns.type);
            if (!n || n->path.empty())
                return Error(std::string("the checkpoint was made in an existing ") + ns.type +
                             " namespace: config.json must name one (linux.namespaces path) to restore into");
            ns_fds.push_back(CORRAL_TRY(open_file(n->path, O_RDONLY)));
            cmd.extra_fds.emplace_back(ns_fds.back().get(), next_fd);
            a.insert(a.end(), {"--inherit-fd", "fd[" + std::to_string(next_fd) + "]:" + ns.criu_key});
            ++next_fd;
        }
    }
    // The init's stdio pipes (descriptors.json) become ours: conmon's, containerd's.
    if (auto text = read_file(path_join(opts.image_path, kDescriptors))) {
        json fds = json::parse(*text, nullptr, false);
        if (fds.is_array())
            for (size_t i = 0; i < fds.size() && i < 3; ++i)
                if (fds[i].is_string()) {
                    std::string d = fds[i];
                    if (d.rfind("pipe:", 0) == 0 || d.rfind("socket:", 0) == 0)
                        a.insert(a.end(), {"--inherit-fd", "fd[" + std::to_string(i) + "]:" + d});
                }
    }
    cmd.args = std::move(a);

    // The restored init is reparented to us when criu detaches, so that a
    // foreground restore can wait for it as `run` does.
    if (!opts.detach && !opts.no_subreaper && ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        return Error::from_errno(errno, "become a subreaper");
    CriuOutcome out = CORRAL_TRY(run_criu(cmd, ctx.log));
    (void)::rmdir(criu_root.c_str());
    if (auto text = read_file(pidfile)) undo.pid = std::atoi(text->c_str());
    if (out.status != 0) return criu_failure("restore", path_join(work_path, "restore.log"), out.status);
    if (undo.pid <= 0) return Error("criu restore wrote no pid to " + pidfile);
    const pid_t pid = undo.pid;
    ctx.log.debug("criu restored `" + id + "`, init pid " + std::to_string(pid));

    // 4. Record it as running.
    StateRecord rec;
    rec.oci = State{spec::kOciVersion, id, ContainerStatus::running, pid, bundle, rootfs, now_rfc3339(), s.annotations, ""};
    rec.init_start_time = process_start_time(pid);
    if (undo.cgroup) {
        rec.cgroup_mode = undo.cgroup->mode();
        rec.cgroups_path = s.linux ? s.linux->cgroups_path : std::string();
        rec.cgroup_paths = cg_paths;
    }
    if (s.linux)
        for (const auto &ns : s.linux->namespaces)
            if (const char *name = namespace_proc_name(ns.type))
                rec.namespace_paths.emplace_back(ns.type, ns.path.empty() ? "/proc/" + std::to_string(pid) + "/ns/" + name : ns.path);
    CORRAL_TRY(write_file_atomic(dir.path() + "/config.json", config_text));
    CORRAL_TRY(dir.write(rec));
    (void)::unlink(pidfile.c_str());
    if (!opts.pid_file.empty()) CORRAL_TRY(write_file_atomic(opts.pid_file, std::to_string(pid), 0644).context("--pid-file"));
    undo.committed = true;
    undo.dir.reset(); // release the lock
    if (opts.detach) return 0;

    // Foreground: wait for the container, then delete it, like `run`.
    int ws = 0, code = 0;
    if (::waitpid(pid, &ws, 0) == pid) {
        code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    } else {
        int fd = sys_pidfd_open(pid); // not our child (--no-subreaper)
        if (fd >= 0) {
            UniqueFd pidfd(fd);
            pollfd p{fd, POLLIN, 0};
            while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
            }
        }
    }
    if (auto st = remove(ctx, id, /*force=*/true); !st) ctx.log.warn("delete `" + id + "`: " + st.error().message());
    return code;
}

} // namespace corral
