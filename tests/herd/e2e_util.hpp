// tests/herd/e2e_util.hpp — a private herd on the local node for one test
// (header-only: CMake compiles only tests/herd/*_test.cpp).
//
// HerdCluster gives each test its own image store (the fixture layout
// imported as busybox:v1 and busybox:v2), corral root, agent and serve state
// dirs under a temp dir, a cgroup root /corral-test/herd-<random> and its own
// CNI bridge and subnet. It starts `herd agent` and `herd serve` as children
// of the test, so a test can SIGKILL them by pid and start them again, and
// drives everything through the `herd` CLI, as a user would. teardown()
// deletes what the test made, stops the daemons, removes whatever is left
// and says what that was: a test fails when anything was left behind
// (containers, cgroups, mounts, processes, iptables rules).
#pragma once

#include "common/fs.hpp"
#include "herd/agent_api.hpp"
#include "herd/run_program.hpp"
#include "herd/serve_api.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace herd_e2e {

using json = nlohmann::json;
using namespace std::chrono_literals;

struct RunResult {
    int status = -1;  // exit status, or 128+signal; -1: could not run
    std::string out, err;
    std::string text() const { return "exit " + std::to_string(status) + "\nstdout:\n" + out + "\nstderr:\n" + err; }
};

// Runs argv (argv[0] by path), stdin empty; SIGKILL after timeout_s.
inline RunResult run(const std::vector<std::string> &argv, int timeout_s = 120) {
    corral::herd::ProgramRun r;
    r.argv = argv;
    r.timeout_ms = timeout_s * 1000;
    RunResult out;
    auto res = corral::herd::run_program(r);
    if (!res) {
        out.err = res.error().message();
        return out;
    }
    out.status = res->exit_code;
    out.out = std::move(res->out);
    out.err = std::move(res->err);
    return out;
}

// Polls pred every interval until it holds or the timeout passes.
inline bool wait_until(const std::function<bool()> &pred, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds interval = 200ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(interval);
    }
}

// tests/herd/manifests/NAME (found beside this header).
inline std::string manifest(const std::string &name) {
    std::string here = __FILE__;
    return here.substr(0, here.rfind('/')) + "/manifests/" + name;
}

inline std::string random_hex(size_t n) {
    static const char hex[] = "0123456789abcdef";
    std::random_device rd;
    std::string s;
    for (size_t i = 0; i < n; ++i) s += hex[rd() % 16];
    return s;
}

inline std::string read_text(const std::string &path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Directories under dir, deepest first (for rmdir).
inline void subdirs_deepest_first(const std::string &dir, std::vector<std::string> &out) {
    DIR *d = ::opendir(dir.c_str());
    if (!d) return;
    while (dirent *e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == ".." || e->d_type != DT_DIR) continue;
        subdirs_deepest_first(dir + "/" + name, out);
    }
    ::closedir(d);
    out.push_back(dir);
}

// The v1 hierarchies (and cgroup2) mounted under /sys/fs/cgroup.
inline std::vector<std::string> cgroup_hierarchies() {
    std::vector<std::string> out;
    for (const char *h : {"memory", "cpu", "cpuacct", "cpuset", "pids", "devices", "freezer", "blkio", "systemd", "unified"})
        if (corral::path_exists(std::string("/sys/fs/cgroup/") + h)) out.push_back(std::string("/sys/fs/cgroup/") + h);
    return out;
}

// What a herd test run left behind, removed as it is found: containers in
// corral's root, cgroups under CGROUP_ROOT, mounts and processes under DIR,
// iptables rules of SUBNET, and the BRIDGE (the node's, kept across pods as
// cni0 is; ours goes with the test). "" = nothing was left.
inline std::string sweep_leftovers(const std::string &corral_root, const std::string &cgroup_root,
                                   const std::string &dir, const std::string &subnet, const std::string &bridge) {
    using namespace std::chrono_literals;
    std::string left;
    // Containers corral still knows.
    if (corral::path_exists(corral_root)) {
        RunResult l = run({CORRAL_BIN, "--root", corral_root, "list", "-q"}, 30);
        std::istringstream ids(l.out);
        std::string id;
        while (std::getline(ids, id)) {
            if (id.empty()) continue;
            left += "container " + id + " left in corral's root\n";
            (void)run({CORRAL_BIN, "--root", corral_root, "delete", "--force", id}, 30);
        }
    }
    // Reap container inits re-parented to us (if another test made us a subreaper).
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    // Cgroups under the test root, in every hierarchy.
    for (const std::string &h : cgroup_hierarchies()) {
        std::string root = h + cgroup_root;
        if (!corral::path_exists(root)) continue;
        std::vector<std::string> dirs;
        subdirs_deepest_first(root, dirs);
        for (const std::string &d : dirs) {
            if (d != root) left += "cgroup " + d + " left behind\n";
            for (int i = 0; i < 50 && ::rmdir(d.c_str()) != 0 && errno == EBUSY; ++i) std::this_thread::sleep_for(100ms);
        }
    }
    // Mounts under our dir (image overlays, bundles).
    {
        std::istringstream mi(read_text("/proc/self/mountinfo"));
        std::string line;
        std::vector<std::string> mounts;
        while (std::getline(mi, line)) {
            std::istringstream f(line);
            std::string id, parent, dev, root, point;
            f >> id >> parent >> dev >> root >> point;
            if (point.rfind(dir + "/", 0) == 0) mounts.push_back(point);
        }
        std::sort(mounts.rbegin(), mounts.rend());
        for (const std::string &m : mounts) {
            left += "mount " + m + " left behind\n";
            ::umount2(m.c_str(), MNT_DETACH);
        }
    }
    // Processes that still name our directories (herd-pause, corral, daemons).
    if (DIR *d = ::opendir("/proc")) {
        while (dirent *e = ::readdir(d)) {
            if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
            std::string cmd = read_text(std::string("/proc/") + e->d_name + "/cmdline");
            std::replace(cmd.begin(), cmd.end(), '\0', ' ');
            if (cmd.find(dir + "/") != std::string::npos) {
                left += "process " + std::string(e->d_name) + " (" + cmd + ") left behind\n";
                ::kill(std::atoi(e->d_name), SIGKILL);
            }
        }
        ::closedir(d);
    }
    // iptables rules naming our subnet (CNI's masquerade and port maps).
    RunResult ipt = run({"/bin/sh", "-c", "iptables-save 2>/dev/null | grep -F '" + subnet.substr(0, subnet.size() - 4) + "' || true"}, 30);
    if (!ipt.out.empty()) left += "iptables rules for " + subnet + " left behind:\n" + ipt.out;
    // The bridge is the node's, kept across pods (as cni0 is); ours goes with the test.
    (void)run({"/bin/sh", "-c", "ip link del " + bridge + " 2>/dev/null || true"}, 30);
    return left;
}

class HerdCluster {
public:
    // serve_args: more arguments for `herd serve` (e.g. --node-grace-ms).
    explicit HerdCluster(std::vector<std::string> serve_args = {}) : serve_args_(std::move(serve_args)) {
        std::string tmpl = "/tmp/herd-e2e.XXXXXX";
        if (!::mkdtemp(tmpl.data())) {
            setup_error_ = "mkdtemp failed";
            return;
        }
        dir_ = tmpl;
        store_ = dir_ + "/store";
        corral_root_ = dir_ + "/corral";
        agent_state_ = dir_ + "/agent";
        serve_state_ = dir_ + "/serve";
        std::string tag = random_hex(8);
        cgroup_root_ = "/corral-test/herd-" + tag;
        bridge_ = "hd" + tag.substr(0, 6);  // IFNAMSIZ: at most 15 characters
        // A /24 of 10.201.0.0/16 that no other test is likely to have.
        subnet_ = "10.201." + std::to_string(std::random_device{}() % 250 + 1) + ".0/24";
        for (const char *name : {"busybox:v1", "busybox:v2"}) {
            RunResult r = run({CORRAL_BIN, "image", "import", "--store", store_, "-q", "--name", name,
                               std::string(CORRAL_FIXTURES) + "/layout"});
            if (r.status != 0) {
                setup_error_ = std::string("corral image import ") + name + ": " + r.text();
                return;
            }
        }
        if (!start_agent() || !start_serve()) return;
    }

    ~HerdCluster() {
        if (!torn_down_) (void)teardown();
    }
    HerdCluster(const HerdCluster &) = delete;
    HerdCluster &operator=(const HerdCluster &) = delete;

    const std::string &setup_error() const { return setup_error_; }
    const std::string &cgroup_root() const { return cgroup_root_; }
    const std::string &dir() const { return dir_; }
    const std::string &serve_state() const { return serve_state_; }
    const std::string &agent_state() const { return agent_state_; }
    bool agent_alive() const { return alive(agent_pid_); }
    pid_t agent_pid() const { return agent_pid_; }
    bool serve_alive() const { return alive(serve_pid_); }
    const std::string &store() const { return store_; }

    // `herd --state-dir S ARGS...`
    RunResult herd(const std::vector<std::string> &args, int timeout_s = 180) {
        std::vector<std::string> argv = {HERD_BIN, "--state-dir", serve_state_};
        argv.insert(argv.end(), args.begin(), args.end());
        return run(argv, timeout_s);
    }

    json get_json(const std::vector<std::string> &args) {
        std::vector<std::string> a = {"get"};
        a.insert(a.end(), args.begin(), args.end());
        a.insert(a.end(), {"-o", "json"});
        RunResult r = herd(a, 60);
        if (r.status != 0) return nullptr;
        json j = json::parse(r.out, nullptr, false);
        return j.is_discarded() ? json(nullptr) : j;
    }

    std::vector<json> pods(const std::string &selector = "") {
        json list = selector.empty() ? get_json({"pods"}) : get_json({"pods", "-l", selector});
        std::vector<json> out;
        if (list.is_object() && list["items"].is_array())
            for (const json &p : list["items"]) out.push_back(p);
        return out;
    }
    json pod(const std::string &name) { return get_json({"pod", name}); }
    json deployment(const std::string &name) { return get_json({"deployment", name}); }

    // The corral container behind a pod's container, and its pid (0 when it
    // is not running), from serve's exec_target and `corral state`.
    struct ContainerProc {
        pid_t pid = 0;
        std::string status, corral_id, error;
    };
    ContainerProc container(const std::string &pod, const std::string &container) {
        ContainerProc out;
        auto target = corral::herd::call_serve(serve_state_ + "/herd.sock",
                                               {{"op", "exec_target"}, {"namespace", "default"}, {"name", pod}, {"container", container}});
        if (!target) {
            out.error = target.error().message();
            return out;
        }
        out.corral_id = target->value("corral_id", "");
        std::string bin = target->value("corral_bin", std::string(CORRAL_BIN));
        std::string root = target->value("corral_root", corral_root_);
        RunResult r = run({bin, "--root", root, "state", out.corral_id}, 30);
        json st = json::parse(r.out, nullptr, false);
        if (r.status != 0 || !st.is_object()) {
            out.error = "corral state " + out.corral_id + ": " + r.text();
            return out;
        }
        out.status = st.value("status", "");
        if (out.status == "running") out.pid = st.value("pid", 0);
        return out;
    }

    bool start_agent() {
        (void)corral::mkdir_p(agent_state_);
        agent_pid_ = spawn_daemon({HERD_BIN, "agent", "--state-dir", agent_state_, "--corral", CORRAL_BIN,
                                   "--corral-root", corral_root_, "--image-store", store_, "--cgroup-root", cgroup_root_,
                                   "--cni-bridge", bridge_, "--cni-subnet", subnet_, "--debug"},
                                  dir_ + "/agent.log");
        std::string sock = agent_state_ + "/agent.sock";
        if (!agent_pid_ || !wait_until([&] { return corral::path_exists(sock) || !alive(agent_pid_); }, 30s) ||
            !alive(agent_pid_)) {
            setup_error_ = "herd agent did not start:\n" + read_text(dir_ + "/agent.log");
            return false;
        }
        return true;
    }

    bool start_serve() {
        (void)corral::mkdir_p(serve_state_);
        std::vector<std::string> argv = {HERD_BIN, "serve", "--state-dir", serve_state_, "--agent-state-dir",
                                         agent_state_, "--debug"};
        argv.insert(argv.end(), serve_args_.begin(), serve_args_.end());
        serve_pid_ = spawn_daemon(argv, dir_ + "/serve.log");
        bool up = serve_pid_ && wait_until([&] { return !alive(serve_pid_) || herd({"get", "nodes"}, 10).status == 0; }, 30s) &&
                  alive(serve_pid_);
        if (!up) {
            setup_error_ = "herd serve did not start:\n" + read_text(dir_ + "/serve.log");
            return false;
        }
        return true;
    }

    void kill_agent(int sig = SIGKILL) { stop(agent_pid_, sig); }
    void kill_serve(int sig = SIGKILL) { stop(serve_pid_, sig); }

    std::string daemon_logs() const {
        auto tail = [](const std::string &text) { return text.size() > 6000 ? "..." + text.substr(text.size() - 6000) : text; };
        return "--- serve.log (tail) ---\n" + tail(read_text(dir_ + "/serve.log")) + "\n--- agent.log (tail) ---\n" +
               tail(read_text(dir_ + "/agent.log"));
    }

    // The cgroup directory (absolute, under /sys/fs/cgroup/CONTROLLER) of a process.
    static std::string cgroup_of(pid_t pid, const std::string &controller) {
        std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/cgroup"));
        std::string line;
        while (std::getline(in, line)) {
            // "4:memory:/corral-test/herd-x/pod.../web", "3:cpu,cpuacct:/..."
            size_t a = line.find(':'), b = line.find(':', a + 1);
            if (a == std::string::npos || b == std::string::npos) continue;
            std::string controllers = "," + line.substr(a + 1, b - a - 1) + ",";
            if (controllers.find("," + controller + ",") == std::string::npos) continue;
            std::string mount = "/sys/fs/cgroup/" + controller;
            return mount + line.substr(b + 1);
        }
        return "";
    }

    // Deletes every Deployment and Pod through the CLI and waits for the
    // pods to go; stops serve and the agent with SIGTERM; then removes by
    // force whatever is left and returns a description of it ("" = clean).
    std::string teardown() {
        torn_down_ = true;
        std::string left;
        if (dir_.empty()) return left;
        if (serve_pid_ && alive(serve_pid_)) {
            // Every namespace (-A), each object deleted in its own (-n).
            auto ns_of = [](json o) { return o["metadata"].value("namespace", std::string("default")); };
            json deps = get_json({"deployments", "-A"});
            if (deps.is_object())
                for (const json &d : deps["items"])
                    herd({"delete", "deployment", d["metadata"]["name"].get<std::string>(), "-n", ns_of(d)}, 60);
            json ps = get_json({"pods", "-A"});
            if (ps.is_object())
                for (const json &p : ps["items"])
                    herd({"delete", "pod", p["metadata"]["name"].get<std::string>(), "-n", ns_of(p), "--wait=false"}, 60);
            if (!wait_until([&] { json l = get_json({"pods", "-A"}); return l.is_object() && l["items"].empty(); }, 120s, 500ms))
                left += "pods still listed 120 s after delete\n";
        }
        // serve forgets a deleted pod at once; the agent stops it within its
        // grace period and lists it until its containers are gone.
        if (agent_pid_ && alive(agent_pid_) &&
            !wait_until([&] { return agent_pod_count() == 0; }, 120s, 300ms))
            left += "the agent still lists pods 120 s after they were deleted\n";
        stop(serve_pid_, SIGTERM);
        stop(agent_pid_, SIGTERM);
        left += sweep_leftovers(corral_root_, cgroup_root_, dir_, subnet_, bridge_);
        if (!left.empty()) left += daemon_logs();
        (void)corral::remove_tree(dir_);
        return left;
    }

    // How many pods the agent lists (-1 when it does not answer).
    int agent_pod_count() {
        auto client = corral::herd::connect_agent_socket(agent_state_ + "/agent.sock");
        if (!client) return -1;
        auto r = (*client)->call({{"op", "list_pods"}});
        if (!r || !(*r)["pods"].is_array()) return -1;
        return static_cast<int>((*r)["pods"].size());
    }

private:
    static bool alive(pid_t pid) {
        if (pid <= 0) return false;
        int st;
        return ::waitpid(pid, &st, WNOHANG) == 0;  // our child, not yet exited
    }

    // A daemon as our child: own process group, stdout+stderr to log.
    static pid_t spawn_daemon(const std::vector<std::string> &argv, const std::string &log) {
        int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) return 0;
        int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        std::vector<char *> cargv;
        std::vector<std::string> copy = argv;
        for (auto &a : copy) cargv.push_back(a.data());
        cargv.push_back(nullptr);
        pid_t pid = ::fork();
        if (pid == 0) {
            ::setpgid(0, 0);
            ::dup2(null, 0);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            sigset_t none;
            sigemptyset(&none);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            ::execv(cargv[0], cargv.data());
            ::_exit(127);
        }
        ::close(fd);
        ::close(null);
        return pid > 0 ? pid : 0;
    }

    // Signals our child daemon and reaps it (SIGKILL after 20 s).
    static void stop(pid_t &pid, int sig) {
        if (pid <= 0) return;
        ::kill(pid, sig);
        int st;
        for (int i = 0; i < 200; ++i) {
            if (::waitpid(pid, &st, WNOHANG) != 0) {
                pid = 0;
                return;
            }
            std::this_thread::sleep_for(100ms);
        }
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &st, 0);
        pid = 0;
    }

    std::string dir_, store_, corral_root_, agent_state_, serve_state_, cgroup_root_, bridge_, subnet_;
    pid_t agent_pid_ = 0, serve_pid_ = 0;
    std::string setup_error_;
    std::vector<std::string> serve_args_;
    bool torn_down_ = false;
};

// A test with its own herd serve and agent (HerdCluster), made for each test
// and torn down after it; the teardown must find nothing left behind.
class ClusterTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (containers, cgroups)";
        if (!corral::path_exists(std::string(CORRAL_FIXTURES) + "/layout/index.json"))
            GTEST_SKIP() << "no fixture image: run rootfs-fixtures/build.sh";
        cluster_ = std::make_unique<HerdCluster>();
        ASSERT_EQ(cluster_->setup_error(), "") << cluster_->daemon_logs();
    }
    void TearDown() override {
        if (cluster_) {
            EXPECT_EQ(cluster_->teardown(), "") << "left behind after the test";
        }
    }

    std::unique_ptr<HerdCluster> cluster_;
};

} // namespace herd_e2e
