// ops.cpp — the simple runtime operations: state, list, kill, delete,
// signal names and `features`. Messages and behaviour follow runc 1.1
// (measured against the installed runc), since clients match its strings:
// containerd: "container not running", "no such process", "does not exist";
// podman: "does not exist".
#include "corral/container.hpp"

#include "cgroups/manager.hpp"
#include "common/fs.hpp"
#include "common/pidfd.hpp"
#include "runtime/hooks.hpp"
#include "runtime/seccomp.hpp"
#include "runtime/plan_build.hpp"
#include "runtime/state.hpp"

#include <nlohmann/json.hpp>
#include <seccomp.h> // seccomp_version()
#include <sys/capability.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

namespace corral {
namespace {

constexpr const char *kNotExist = "container does not exist";
constexpr const char *kNotRunning = "container not running";

// Go's syscall.Errno strings are the kernel's, lower-case ("no such
// process"); containerd matches them, so turn glibc's "No such process" into that.
std::string go_strerror(int err) {
    std::string s = std::strerror(err);
    if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
    return s;
}

bool is_not_exist(const Error &e) { return e.message() == kNotExist; }

std::string dir_of(const Context &ctx, const std::string &id) { return path_join(ctx.root, id); }

// The public view of a record: live status, pid 0 once stopped (as runc).
State public_state(const std::string &state_dir, const StateRecord &rec) {
    State s = rec.oci;
    s.status = live_status(state_dir, rec);
    if (s.status == ContainerStatus::stopped) s.pid = 0;
    if (s.oci_version.empty()) s.oci_version = spec::kOciVersion;
    return s;
}

// The caller's user name from the host's /etc/passwd, read directly rather
// than through getpwuid_r: NSS would dlopen() libnss_*.so, which a static
// corral (scripts/build-static) must not need. "#UID" when absent.
std::string owner_name(uid_t uid) {
    auto text = read_file("/etc/passwd");
    if (text) {
        const std::string want = std::to_string(uid);
        std::string_view all(*text);
        while (!all.empty()) { // name:password:uid:...
            size_t end = all.find('\n');
            std::string_view line = all.substr(0, end);
            all = end == std::string_view::npos ? std::string_view{} : all.substr(end + 1);
            size_t c1 = line.find(':');
            size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
            size_t c3 = c2 == std::string_view::npos ? c2 : line.find(':', c2 + 1);
            if (c3 != std::string_view::npos && line.substr(c2 + 1, c3 - c2 - 1) == want && c1 > 0)
                return std::string(line.substr(0, c1));
        }
    }
    return "#" + std::to_string(uid);
}

// The copy of config.json the engine keeps in the state directory: hooks and
// namespaces for delete. A missing or broken copy only costs the poststop hooks.
std::optional<spec::Spec> load_saved_spec(const std::string &state_dir, const Logger &log) {
    std::string file = path_join(state_dir, "config.json");
    auto text = read_file(file);
    if (!text) {
        log.debug("no saved config: " + text.error().message());
        return std::nullopt;
    }
    auto s = spec::parse_spec(*text, file);
    if (!s) {
        log.warn("read saved config: " + s.error().message());
        return std::nullopt;
    }
    return std::move(*s);
}

Result<std::unique_ptr<cgroups::Manager>> open_cgroup(const Context &ctx, const StateRecord &rec) {
    cgroups::Options opts;
    opts.cgroups_path = rec.cgroups_path;
    opts.container_id = rec.oci.id;
    opts.systemd = ctx.systemd_cgroup;
    opts.paths = rec.cgroup_paths; // as created: a relative cgroupsPath may resolve elsewhere now
    opts.logger = &ctx.log;
    return cgroups::open_manager(rec.cgroup_mode, opts);
}

// A pidfd for the init, verified against the recorded start time so the pid
// cannot have been reused between the check and the signal.
Result<UniqueFd> open_init(const StateRecord &rec) {
    if (rec.oci.pid <= 0) return Error(kNotRunning, ESRCH);
    int fd = sys_pidfd_open(rec.oci.pid);
    if (fd < 0) {
        if (errno == ESRCH) return Error(kNotRunning, ESRCH);
        return Error("open init process: " + go_strerror(errno), errno);
    }
    UniqueFd pidfd(fd);
    unsigned long long start = process_start_time(rec.oci.pid);
    if (start == 0 || (rec.init_start_time != 0 && start != rec.init_start_time)) return Error(kNotRunning, ESRCH);
    return pidfd;
}

// Signal every process of the cgroup. Freezing first stops them from forking
// new ones behind our back; a paused container stays paused unless killed.
Status signal_all(cgroups::Manager &cg, int sig, bool was_paused, const Logger &log) {
    if (auto st = cg.freeze(); !st) log.warn("freeze before signalling: " + st.error().message());
    auto pids = cg.pids();
    if (pids) {
        for (pid_t p : *pids) {
            if (::kill(p, sig) < 0 && errno != ESRCH)
                log.warn("signal " + std::to_string(sig) + " to pid " + std::to_string(p) + ": " + go_strerror(errno));
        }
    }
    if (!was_paused || sig == SIGKILL) {
        if (auto st = cg.thaw(); !st) log.warn("thaw after signalling: " + st.error().message());
    }
    if (!pids) return std::move(pids).error().context("list the container's processes");
    log.debug("sent signal " + std::to_string(sig) + " to " + std::to_string(pids->size()) + " processes");
    return ok();
}

// Wait (up to `ms`) for the cgroup to hold no process, so it can be removed.
void wait_cgroup_empty(const cgroups::Manager &cg, int ms) {
    for (int waited = 0; waited < ms; waited += 10) {
        auto pids = cg.pids();
        if (!pids || pids->empty()) return;
        ::usleep(10 * 1000);
    }
}

// SIGKILL the init and wait until it is gone (runc waits up to 10 s too).
Status kill_init_and_wait(const Context &ctx, const StateRecord &rec, cgroups::Manager *cg, bool paused) {
    auto pidfd = open_init(rec);
    if (!pidfd) return ok(); // already gone
    ctx.log.debug("send SIGKILL to init " + std::to_string(rec.oci.pid));
    if (sys_pidfd_send_signal(pidfd->get(), SIGKILL) < 0 && errno != ESRCH)
        return Error("unable to signal init: " + go_strerror(errno), errno);
    // A v1-frozen task only dies once thawed.
    if (paused && cg) {
        if (auto st = cg->thaw(); !st) ctx.log.warn("thaw: " + st.error().message());
    }
    pollfd p{pidfd->get(), POLLIN, 0};
    for (int left = 10000; left > 0;) {
        int r = ::poll(&p, 1, 100);
        if (r > 0) return ok();
        if (r < 0 && errno != EINTR) return Error::from_errno(errno, "wait for init");
        left -= 100;
    }
    return Error("container init still running");
}

void append_state_json(std::string &out, const State &s, bool indent) {
    const char *nl = indent ? "\n  " : "";
    const char *sep = indent ? ": " : ":";
    auto field = [&](const char *name, bool first = false) {
        if (!first) out += ',';
        out += nl;
        out += '"';
        out += name;
        out += '"';
        out += sep;
    };
    out += '{';
    field("ociVersion", true);
    append_go_json_string(out, s.oci_version);
    field("id");
    append_go_json_string(out, s.id);
    field("pid");
    out += std::to_string(s.pid);
    field("status");
    append_go_json_string(out, to_string(s.status));
    field("bundle");
    append_go_json_string(out, s.bundle);
    field("rootfs");
    append_go_json_string(out, s.rootfs);
    field("created");
    append_go_json_string(out, s.created);
    if (!s.annotations.empty()) {
        field("annotations");
        out += '{';
        bool first = true;
        for (const auto &[k, v] : s.annotations) {
            if (!first) out += ',';
            first = false;
            if (indent) out += "\n    ";
            append_go_json_string(out, k);
            out += sep;
            append_go_json_string(out, v);
        }
        if (indent) out += "\n  ";
        out += '}';
    }
    field("owner");
    append_go_json_string(out, s.owner);
    if (indent) out += '\n';
    out += '}';
}

} // namespace

const char *to_string(ContainerStatus s) {
    switch (s) {
    case ContainerStatus::creating: return "creating";
    case ContainerStatus::created: return "created";
    case ContainerStatus::running: return "running";
    case ContainerStatus::paused: return "paused";
    case ContainerStatus::stopped: return "stopped";
    }
    return "unknown";
}

std::string state_to_json(const State &s) {
    std::string out;
    append_state_json(out, s, true);
    return out;
}

std::string state_list_to_json(const std::vector<State> &states) {
    // Go marshals an empty (nil) slice as null; runc prints exactly that.
    if (states.empty()) return "null";
    std::string out = "[";
    for (size_t i = 0; i < states.size(); ++i) {
        if (i) out += ',';
        append_state_json(out, states[i], false);
    }
    out += ']';
    return out;
}

Result<State> state(const Context &ctx, const std::string &id) {
    ctx.log.debug("state of container `" + id + "`");
    StateRecord rec = CORRAL_TRY(read_state_unlocked(ctx.root, id));
    return public_state(dir_of(ctx, id), rec);
}

Result<std::vector<State>> list(const Context &ctx) {
    ctx.log.debug("list containers under " + ctx.root);
    auto ids = CORRAL_TRY(list_container_ids(ctx.root));
    std::vector<State> out;
    for (const auto &id : ids) {
        std::string dir = dir_of(ctx, id);
        struct stat st {};
        if (::stat(dir.c_str(), &st) < 0) continue; // deleted meanwhile
        auto rec = read_state_unlocked(ctx.root, id);
        if (!rec) {
            if (!is_not_exist(rec.error())) ctx.log.warn("load container " + id + ": " + rec.error().message());
            continue;
        }
        State s = public_state(dir, *rec);
        s.owner = owner_name(st.st_uid); // `list` shows the owner; `state` leaves it empty (runc)
        out.push_back(std::move(s));
    }
    return out;
}

Status kill(const Context &ctx, const std::string &id, int signal, bool all) {
    ctx.log.debug("kill container `" + id + "` with signal " + std::to_string(signal) + (all ? " (all processes)" : ""));
    StateDir dir = CORRAL_TRY(StateDir::open(ctx.root, id));
    StateRecord rec = CORRAL_TRY(dir.read());
    ContainerStatus status = live_status(dir, rec);
    ctx.log.debug("container `" + id + "` is " + to_string(status));

    if (all && rec.cgroup_mode == cgroups::Mode::disabled) {
        // No cgroup to enumerate: the init is all we know of (with its own
        // pid namespace, SIGKILL to it takes the rest along).
        ctx.log.warn("cgroups are disabled: signalling only the init of `" + id + "`");
        if (status == ContainerStatus::stopped) return ok();
        all = false;
    }
    if (all) {
        auto cg = open_cgroup(ctx, rec);
        if (!cg) {
            if (status == ContainerStatus::stopped) return ok();
            return std::move(cg).error().context("open cgroup");
        }
        if (status == ContainerStatus::stopped) {
            // runc: nothing to do once the cgroup is gone or empty.
            auto pids = (*cg)->pids();
            if (!pids || pids->empty()) return ok();
        }
        return signal_all(**cg, signal, status == ContainerStatus::paused, ctx.log);
    }

    if (status == ContainerStatus::stopped) return Error(kNotRunning, ESRCH);
    UniqueFd pidfd = CORRAL_TRY(open_init(rec));
    if (sys_pidfd_send_signal(pidfd.get(), signal) < 0)
        return Error("unable to signal init: " + go_strerror(errno), errno);
    if (status == ContainerStatus::paused && signal == SIGKILL) {
        // A v1-frozen task dies only once thawed; other signals wait for resume.
        if (auto cg = open_cgroup(ctx, rec)) {
            if (auto st = (*cg)->thaw(); !st) ctx.log.warn("thaw: " + st.error().message());
        }
    }
    return ok();
}

Status remove(const Context &ctx, const std::string &id, bool force) {
    ctx.log.debug("delete container `" + id + "`" + (force ? " (force)" : ""));
    remove_abandoned_new_dirs(ctx.root, id);
    auto opened = StateDir::open(ctx.root, id);
    if (!opened) {
        if (is_not_exist(opened.error())) {
            remove_stale_state_dir(ctx.root, id); // runc removes those too
            if (force) return ok();
        }
        return std::move(opened).error();
    }
    StateDir &dir = *opened;
    auto rec_r = dir.read();
    if (!rec_r) {
        if (!force) return std::move(rec_r).error();
        ctx.log.warn("delete `" + id + "` with unreadable state: " + rec_r.error().message());
        return dir.remove();
    }
    StateRecord &rec = *rec_r;
    ContainerStatus status = live_status(dir, rec);
    ctx.log.debug("container `" + id + "` is " + to_string(status));

    std::unique_ptr<cgroups::Manager> cg_owner;
    if (rec.cgroup_mode != cgroups::Mode::disabled) {
        auto cg_r = open_cgroup(ctx, rec);
        if (cg_r) cg_owner = std::move(*cg_r);
        else ctx.log.warn("open cgroup of `" + id + "`: " + cg_r.error().message());
    }
    cgroups::Manager *cg = cg_owner.get();

    // A create that was killed half way (its record still says "creating";
    // we hold the lock, so it is gone): its init may live on, waiting on
    // exec.fifo, and its cgroup may hold strays. None of it ran user code:
    // removed without --force, like a created container.
    const bool failed_create = rec.oci.status == ContainerStatus::creating;
    if (failed_create) {
        ctx.log.debug("container `" + id + "` was never fully created: remove what its create left");
        CORRAL_TRY(kill_init_and_wait(ctx, rec, cg, false));
    }
    switch (status) {
    case ContainerStatus::stopped: break;
    case ContainerStatus::created: // never ran user code: runc deletes it without --force
        CORRAL_TRY(kill_init_and_wait(ctx, rec, cg, false));
        break;
    default:
        if (!force)
            return Error("cannot delete container " + id + " that is not stopped: " + to_string(status));
        CORRAL_TRY(kill_init_and_wait(ctx, rec, cg, status == ContainerStatus::paused));
    }

    auto saved = load_saved_spec(dir.path(), ctx.log);
    Status result;
    if (cg) {
        // Without a pid namespace of its own, the init's death does not take
        // the container's other processes with it.
        const spec::Namespace *pidns = saved ? saved->find_namespace("pid") : nullptr;
        if (failed_create || (saved && (!pidns || !pidns->path.empty()))) {
            ctx.log.debug("kill the remaining processes of `" + id + "`");
            if (auto st = signal_all(*cg, SIGKILL, false, ctx.log); !st) ctx.log.warn(st.error().message());
        }
        wait_cgroup_empty(*cg, 5000);
        ctx.log.debug("destroy the cgroup of `" + id + "`");
        if (auto st = cg->destroy(); !st) result = std::move(st).context("destroy cgroup");
    }

    if (saved && saved->hooks && !saved->hooks->poststop.empty()) {
        State hs = rec.oci;
        hs.status = ContainerStatus::stopped;
        hs.pid = 0;
        if (hs.oci_version.empty()) hs.oci_version = spec::kOciVersion;
        (void)run_hooks(saved->hooks->poststop, "poststop", hs, ctx.log); // failures are warnings
    }

    ctx.log.debug("remove state directory " + dir.path());
    if (auto st = dir.remove(); !st && result) result = std::move(st);
    return result;
}

Result<int> parse_signal(std::string_view s) {
    auto unknown = [&] { return Error("unknown signal \"" + std::string(s) + "\"", EINVAL); };
    if (s.empty()) return unknown();
    if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (s.size() > 10) return unknown();
        long long v = std::stoll(std::string(s));
        if (v > INT_MAX) return unknown();
        return static_cast<int>(v); // out-of-range numbers fail at kill(), as in runc
    }
    std::string name(s);
    for (auto &c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (name.rfind("SIG", 0) == 0) name.erase(0, 3);

    static const struct { const char *name; int sig; } table[] = {
        {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},     {"ILL", SIGILL},
        {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"IOT", SIGIOT},       {"BUS", SIGBUS},
        {"FPE", SIGFPE},     {"KILL", SIGKILL},     {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
        {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},     {"TERM", SIGTERM},
        {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CLD", SIGCHLD},      {"CONT", SIGCONT},
        {"STOP", SIGSTOP},   {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},
        {"URG", SIGURG},     {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM},
        {"PROF", SIGPROF},   {"WINCH", SIGWINCH},   {"IO", SIGIO},         {"POLL", SIGPOLL},
        {"PWR", SIGPWR},     {"SYS", SIGSYS},
    };
    for (const auto &e : table)
        if (name == e.name) return e.sig;

    // RTMIN, RTMIN+N, RTMAX, RTMAX-N (glibc's SIGRTMIN, as the container's libc sees it).
    auto rt = [&](std::string_view base, int origin, char sign) -> std::optional<int> {
        std::string_view n(name);
        if (n.substr(0, base.size()) != base) return std::nullopt;
        n.remove_prefix(base.size());
        if (n.empty()) return origin;
        if (n[0] != sign || n.size() < 2 || n.size() > 3) return std::nullopt;
        n.remove_prefix(1);
        if (!std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
        int off = std::stoi(std::string(n));
        int v = sign == '+' ? origin + off : origin - off;
        if (v < SIGRTMIN || v > SIGRTMAX) return std::nullopt;
        return v;
    };
    if (auto v = rt("RTMIN", SIGRTMIN, '+')) return *v;
    if (auto v = rt("RTMAX", SIGRTMAX, '-')) return *v;
    return unknown();
}

std::string features_json() {
    using json = nlohmann::ordered_json;
    json f;
    f["ociVersionMin"] = "1.0.0";
    f["ociVersionMax"] = spec::kOciVersion;
    f["hooks"] = {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"};
    f["mountOptions"] = known_mount_options();

    json linux;
    linux["namespaces"] = {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"};
    json caps = json::array();
    for (cap_value_t c = 0; c < 64; ++c) {
        char *n = cap_to_name(c);
        if (!n) break;
        std::string name = n;
        cap_free(n);
        if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) break; // past libcap's names
        for (auto &ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        caps.push_back(name);
    }
    linux["capabilities"] = caps;
    linux["cgroup"] = {{"v1", true}, {"v2", true}, {"systemd", true}, {"systemdUser", false}, {"rdma", true}};

    json seccomp;
    seccomp["enabled"] = true;
    seccomp["actions"] = seccomp_known_actions();
    seccomp["operators"] = seccomp_known_operators();
    seccomp["archs"] = seccomp_known_archs();
    seccomp["knownFlags"] = seccomp_known_flags();
    seccomp["supportedFlags"] = seccomp_supported_flags();
    linux["seccomp"] = seccomp;
    linux["apparmor"] = {{"enabled", apparmor_enabled()}};
    linux["selinux"] = {{"enabled", false}};
    linux["intelRdt"] = {{"enabled", false}};
    linux["mountExtensions"] = {{"idmap", {{"enabled", false}}}};
    f["linux"] = linux;

    const scmp_version *v = seccomp_version();
    std::string seccomp_ver = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro);
    // As runc's org.opencontainers.runc.checkpoint.enabled: the commands are
    // there (through the criu binary); whether CRIU works is the kernel's say.
    f["annotations"] = {{"io.github.corral.checkpoint.enabled", "true"},
                        {"io.github.corral.version", CORRAL_VERSION},
                        {"io.github.seccomp.libseccomp.version", seccomp_ver}};
    return f.dump(4);
}

} // namespace corral
