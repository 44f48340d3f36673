#include "integration/harness.hpp"

#include "support/cgroup_parent.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <ftw.h>
#include <poll.h>
#include <sstream>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace corral_it {

// --- where things are -------------------------------------------------------

std::string runtime() {
    if (const char *env = std::getenv("CORRAL_TEST_RUNTIME"); env && *env) return env;
    return CORRAL_BIN;
}

bool runtime_is_runc() { return fs::path(runtime()).filename() == "runc"; }

std::string fixtures_dir() { return CORRAL_FIXTURES; }
std::string fixture_rootfs() { return fixtures_dir() + "/rootfs"; }

std::string skip_reason() {
    if (geteuid() != 0) return "integration tests create real containers and need root";
    if (!exists(fixture_rootfs() + "/probe") || !exists(fixtures_dir() + "/bundle/config.json"))
        return "fixtures missing in " + fixtures_dir() + ": run rootfs-fixtures/build.sh first";
    std::string rt = runtime();
    if (rt.find('/') != std::string::npos) {
        if (access(rt.c_str(), X_OK) != 0) return "runtime " + rt + " is not an executable";
    }
    return {};
}

// --- small host helpers -------------------------------------------------------

std::string read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const std::string &path, const std::string &text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) ADD_FAILURE() << "cannot write " << path;
}

bool exists(const std::string &path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

std::string ns_of(const std::string &proc_ns) {
    char buf[256];
    ssize_t n = readlink(proc_ns.c_str(), buf, sizeof buf - 1);
    if (n < 0) return {};
    return std::string(buf, static_cast<size_t>(n));
}

bool process_alive(pid_t pid) {
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto paren = stat.rfind(')');
    if (stat.empty() || paren == std::string::npos || paren + 2 >= stat.size()) return false;
    char state = stat[paren + 2];
    return state != 'Z' && state != 'X';
}

std::vector<std::string> lines(const std::string &text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        out.push_back(line);
    }
    return out;
}

bool eventually(const std::function<bool()> &pred, milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(milliseconds(10));
    }
}

std::vector<std::string> cgroup_dirs_of(const std::string &id) {
    std::vector<std::string> out;
    std::error_code ec;
    // cgroup v2 (the VM lane): one unified tree at /sys/fs/cgroup.
    if (exists("/sys/fs/cgroup/cgroup.controllers")) {
        std::string dir = "/sys/fs/cgroup/corral-test/" + id;
        if (exists(dir)) out.push_back(dir);
        return out;
    }
    for (const auto &h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
        std::string dir = h.path().string() + "/corral-test/" + id;
        if (exists(dir)) out.push_back(dir);
    }
    return out;
}

std::vector<pid_t> processes_of(const std::string &id) {
    std::vector<pid_t> out;
    const std::string tail = "/corral-test/" + id;
    DIR *d = opendir("/proc");
    if (!d) return out;
    while (dirent *e = readdir(d)) {
        char *end;
        long pid = std::strtol(e->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        for (const auto &line : lines(read_file("/proc/" + std::string(e->d_name) + "/cgroup"))) {
            auto at = line.find(tail);
            if (at == std::string::npos) continue;
            size_t after = at + tail.size();
            if (after == line.size() || line[after] == '/') {
                out.push_back(static_cast<pid_t>(pid));
                break;
            }
        }
    }
    closedir(d);
    return out;
}

std::vector<std::string> mounts_mentioning(const std::string &needle) {
    std::vector<std::string> out;
    for (const auto &line : lines(read_file("/proc/self/mountinfo")))
        if (line.find(needle) != std::string::npos) out.push_back(line);
    return out;
}

namespace {

// Detach every mount at or below `dir` (deepest first), then delete the tree
// without crossing into other filesystems or following symlinks, so a mount a
// runtime left behind can never make us delete a host directory.
void remove_tree(const std::string &dir) {
    if (dir.size() < 6 || dir.rfind("/tmp/", 0) != 0) {
        ADD_FAILURE() << "refusing to remove " << dir;
        return;
    }
    for (int round = 0; round < 8; ++round) {
        std::vector<std::string> targets;
        for (const auto &line : lines(read_file("/proc/self/mountinfo"))) {
            std::istringstream f(line);
            std::string a, b, c, d, target;
            f >> a >> b >> c >> d >> target;
            if (target == dir || target.rfind(dir + "/", 0) == 0) targets.push_back(target);
        }
        if (targets.empty()) break;
        std::sort(targets.begin(), targets.end(), [](auto &x, auto &y) { return x.size() > y.size(); });
        for (const auto &t : targets) {
            std::fprintf(stderr, "[harness] detaching leftover mount %s\n", t.c_str());
            umount2(t.c_str(), MNT_DETACH);
        }
    }
    nftw(
        dir.c_str(),
        [](const char *path, const struct stat *, int flag, FTW *) -> int {
            if (flag == FTW_DP)
                rmdir(path);
            else
                unlink(path);
            return 0;
        },
        32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

std::atomic<unsigned> g_counter{0};

std::string unique_suffix() { return std::to_string(getpid()) + "-" + std::to_string(++g_counter); }

}  // namespace

// --- running a command --------------------------------------------------------

std::string Result::describe() const {
    std::ostringstream s;
    s << "command: " << command << "\nstatus: " << status << (timed_out ? " (timed out)" : "")
      << "\nstdout: " << out << "\nstderr: " << err;
    return s.str();
}

std::ostream &operator<<(std::ostream &os, const Result &r) { return os << r.describe(); }

Process::Process(const std::vector<std::string> &argv, const RunOptions &opts, const std::string &scratch)
    : argv_(argv) {
    std::string base = scratch + "/cmd-" + unique_suffix();
    out_path_ = base + ".out";
    err_path_ = base + ".err";
    int in_fd;
    if (opts.stdin_data.empty()) {
        in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    } else {
        write_file(base + ".in", opts.stdin_data);
        in_fd = open((base + ".in").c_str(), O_RDONLY | O_CLOEXEC);
    }
    int out_fd = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    int err_fd = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (in_fd < 0 || out_fd < 0 || err_fd < 0) {
        ADD_FAILURE() << "cannot open stdio files under " << scratch << ": " << std::strerror(errno);
        return;
    }
    std::vector<char *> cargv;
    for (const auto &a : argv_) cargv.push_back(const_cast<char *>(a.c_str()));
    cargv.push_back(nullptr);
    std::vector<int> sources = {in_fd, out_fd, err_fd};
    sources.insert(sources.end(), opts.pass_fds.begin(), opts.pass_fds.end());

    pid_ = fork();
    if (pid_ == 0) {
        // Only async-signal-safe calls from here on.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        int moved[64];
        size_t n = sources.size() < 64 ? sources.size() : 64;
        for (size_t i = 0; i < n; ++i) {
            moved[i] = fcntl(sources[i], F_DUPFD_CLOEXEC, 100);
            if (moved[i] < 0) _exit(126);
        }
        for (size_t i = 0; i < n; ++i)
            if (dup2(moved[i], static_cast<int>(i)) < 0) _exit(126);
        syscall(SYS_close_range, static_cast<unsigned>(n), ~0U, 0U);
        execvp(cargv[0], cargv.data());
        const char msg[] = "harness: exec failed\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(127);
    }
    close(in_fd);
    close(out_fd);
    close(err_fd);
    if (pid_ < 0) {
        ADD_FAILURE() << "fork: " << std::strerror(errno);
        return;
    }
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
}

Process::~Process() {
    if (pid_ > 0 && !reaped_) {
        kill(pid_, SIGKILL);
        reap(0);
    }
    if (pidfd_ >= 0) close(pidfd_);
}

std::string Process::out() const { return read_file(out_path_); }
std::string Process::err() const { return read_file(err_path_); }

void Process::signal(int sig) const {
    if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

bool Process::reap(int flags) {
    if (reaped_) return true;
    if (pid_ <= 0) return true;
    int st;
    pid_t r;
    do {
        r = waitpid(pid_, &st, flags);
    } while (r < 0 && errno == EINTR);
    if (r == pid_) {
        wait_status_ = st;
        reaped_ = true;
    } else if (r < 0) {
        reaped_ = true;  // not our child any more: nothing to wait for
        wait_status_ = 0xff00;
    }
    return reaped_;
}

bool Process::running() { return !reap(WNOHANG); }

bool Process::wait_for_output(const std::string &needle, milliseconds timeout) {
    return eventually(
        [&] {
            if (out().find(needle) != std::string::npos) return true;
            return false;
        },
        timeout);
}

Result Process::wait(milliseconds timeout) {
    Result r;
    for (size_t i = 0; i < argv_.size(); ++i) r.command += (i ? " " : "") + argv_[i];
    if (pid_ <= 0) return r;
    if (!reaped_) {
        struct pollfd p = {pidfd_, POLLIN, 0};
        int ready = pidfd_ >= 0 ? poll(&p, 1, static_cast<int>(timeout.count())) : 1;
        if (ready == 0) {
            kill(pid_, SIGKILL);
            r.timed_out = true;
        }
        reap(0);
    }
    if (WIFEXITED(wait_status_))
        r.status = WEXITSTATUS(wait_status_);
    else if (WIFSIGNALED(wait_status_))
        r.status = 128 + WTERMSIG(wait_status_);
    r.out = out();
    r.err = err();
    if (r.timed_out) ADD_FAILURE() << "timed out after " << timeout.count() << " ms, killed:\n" << r;
    return r;
}

Result run_command(const std::vector<std::string> &argv, const RunOptions &opts, const std::string &scratch) {
    Process p(argv, opts, scratch);
    return p.wait(opts.timeout);
}

// --- bundles ------------------------------------------------------------------

Bundle::Bundle(std::string dir_, std::string id_) : id(std::move(id_)), dir(std::move(dir_)) {
    config = json::parse(read_file(fixtures_dir() + "/bundle/config.json"));
    config["root"]["path"] = fixture_rootfs();
    config["linux"]["cgroupsPath"] = "/corral-test/" + id;
}

void Bundle::write() const { write_file(dir + "/config.json", config.dump(2)); }

void Bundle::set_args(const std::vector<std::string> &args) { config["process"]["args"] = args; }

void Bundle::add_mount(json mount) { config["mounts"].push_back(std::move(mount)); }

void Bundle::add_tmpfs(const std::string &dest, std::vector<std::string> options) {
    if (options.empty()) options = {"nosuid", "nodev", "mode=1777"};
    add_mount({{"destination", dest}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", options}});
}

void Bundle::add_bind(const std::string &source, const std::string &dest, bool readonly) {
    std::vector<std::string> options = {"rbind"};
    if (readonly) options.push_back("ro");
    add_mount({{"destination", dest}, {"type", "bind"}, {"source", source}, {"options", options}});
}

void Bundle::add_hook(const std::string &kind, json hook) { config["hooks"][kind].push_back(std::move(hook)); }

// --- the fixture base class ---------------------------------------------------

void ContainerTest::SetUp() {
    if (std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
    char tmpl[] = "/tmp/corral-it-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << std::strerror(errno);
    scratch_ = tmpl;
    chmod(scratch_.c_str(), 0755);
    root_ = scratch_ + "/state";
}

void ContainerTest::TearDown() {
    if (scratch_.empty()) return;
    for (const auto &b : bundles_) {
        if (exists(root_ + "/" + b->id)) {
            RunOptions quick;
            quick.timeout = milliseconds(5000);
            Process p(rt_argv({"delete", "--force", b->id}), quick, scratch_);
            p.wait(quick.timeout);
        }
        // Whatever the runtime left: our processes (by PID), our cgroups.
        for (pid_t pid : processes_of(b->id)) {
            std::fprintf(stderr, "[harness] killing leftover process %d of %s\n", pid, b->id.c_str());
            kill(pid, SIGKILL);
        }
        eventually([&] { return processes_of(b->id).empty(); }, milliseconds(2000));
        for (const auto &dir : cgroup_dirs_of(b->id)) {
            // Nested cgroups first (a runtime may make sub-cgroups).
            std::vector<std::string> sub;
            std::error_code ec;
            for (const auto &e : fs::recursive_directory_iterator(dir, ec))
                if (e.is_directory(ec)) sub.push_back(e.path().string());
            std::sort(sub.begin(), sub.end(), [](auto &x, auto &y) { return x.size() > y.size(); });
            for (const auto &s : sub) rmdir(s.c_str());
            if (rmdir(dir.c_str()) != 0)
                std::fprintf(stderr, "[harness] cannot remove cgroup %s: %s\n", dir.c_str(), std::strerror(errno));
        }
    }
    remove_tree(scratch_);
}

Bundle &ContainerTest::make_bundle() {
    std::string suffix = unique_suffix();
    std::string dir = scratch_ + "/bundle-" + suffix;
    fs::create_directories(dir);
    bundles_.push_back(std::make_unique<Bundle>(dir, "it-" + suffix));
    return *bundles_.back();
}

std::string ContainerTest::make_dir(const std::string &tag) {
    std::string dir = scratch_ + "/" + tag + "-" + unique_suffix();
    fs::create_directories(dir);
    chmod(dir.c_str(), 0755);
    return dir;
}

std::vector<std::string> ContainerTest::rt_argv(const std::vector<std::string> &args) const {
    std::vector<std::string> argv = {runtime(), "--root", root_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

Result ContainerTest::rt(const std::vector<std::string> &args, const RunOptions &opts) {
    return run_command(rt_argv(args), opts, scratch_);
}

std::unique_ptr<Process> ContainerTest::rt_spawn(const std::vector<std::string> &args, const RunOptions &opts) {
    return std::make_unique<Process>(rt_argv(args), opts, scratch_);
}

Result ContainerTest::run_bundle(Bundle &b, const RunOptions &opts) {
    b.write();
    return rt({"run", "--bundle", b.dir, b.id}, opts);
}

json ContainerTest::probe(Bundle &b, const std::vector<std::string> &probe_args, const RunOptions &opts) {
    std::vector<std::string> args = {"/probe"};
    args.insert(args.end(), probe_args.begin(), probe_args.end());
    b.set_args(args);
    Result r = run_bundle(b, opts);
    if (r.status != 0) {
        ADD_FAILURE() << "probe failed\n" << r;
        return json();
    }
    try {
        return json::parse(r.out);
    } catch (const std::exception &e) {
        ADD_FAILURE() << "probe output is not JSON (" << e.what() << ")\n" << r;
        return json();
    }
}

::testing::AssertionResult ContainerTest::create(Bundle &b, const std::vector<std::string> &extra) {
    b.write();
    std::vector<std::string> args = {"create", "--bundle", b.dir};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(b.id);
    Result r = rt(args);
    if (r.status != 0) return ::testing::AssertionFailure() << r;
    return ::testing::AssertionSuccess();
}

json ContainerTest::state(const std::string &id) {
    Result r = rt({"state", id});
    if (r.status != 0) return json::object();
    json s = json::parse(r.out, nullptr, false);
    if (!s.is_object()) {
        ADD_FAILURE() << "state output is not a JSON object\n" << r;
        return json::object();
    }
    return s;
}

pid_t ContainerTest::start_sleeper(Bundle &b) {
    b.set_args({"/probe", "sleep", "inf"});
    auto created = create(b);
    if (!created) {
        ADD_FAILURE() << created.message();
        return 0;
    }
    Result r = rt({"start", b.id});
    if (r.status != 0) {
        ADD_FAILURE() << r;
        return 0;
    }
    json s = state(b.id);
    if (!s.contains("pid")) {
        ADD_FAILURE() << "no state for " << b.id;
        return 0;
    }
    return s["pid"].get<pid_t>();
}

// --- suite-wide checks ----------------------------------------------------------

namespace {

// Snapshot of the shared fixture rootfs (names and mtimes of its top level):
// tests must never write into it, since every container uses it.
std::string rootfs_fingerprint() {
    std::ostringstream s;
    std::vector<std::string> names;
    DIR *d = opendir(fixture_rootfs().c_str());
    if (!d) return {};
    while (dirent *e = readdir(d)) names.push_back(e->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto &n : names) {
        struct stat st;
        if (lstat((fixture_rootfs() + "/" + n).c_str(), &st) == 0) s << n << ":" << st.st_mtim.tv_sec << "\n";
    }
    return s.str();
}

class SuiteGuard : public ::testing::Environment {
public:
    void SetUp() override {
        std::fprintf(stderr, "[harness] runtime under test: %s\n", runtime().c_str());
        before_ = rootfs_fingerprint();
    }
    void TearDown() override {
        if (!before_.empty() && rootfs_fingerprint() != before_)
            ADD_FAILURE() << "the shared fixture rootfs " << fixture_rootfs()
                          << " changed during the tests (a runtime created a path in it)\nbefore:\n"
                          << before_ << "after:\n"
                          << rootfs_fingerprint();
        // Our parent cgroup, only if no test (of any suite) still uses it.
        corral_test::remove_cgroup_parent();
    }

private:
    std::string before_;
};

[[maybe_unused]] ::testing::Environment *const g_guard = ::testing::AddGlobalTestEnvironment(new SuiteGuard);

}  // namespace

}  // namespace corral_it
