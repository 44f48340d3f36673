// tests/herd/pod_runtime_test.cpp — PodRuntime with the real corral binary:
// pods (infra + containers) on this node, their namespaces, cgroups and
// limits, Kubernetes command/args/env semantics, logs, OOM detection,
// teardown that leaves nothing, and CNI networking with a hostPort.
//
// Each test has its own state dir, corral --root, image store (the fixture
// layout imported as fixture:1) and cgroup root /corral-test/herd-<random>;
// a CNI test its own bridge and subnet. The test process is a subreaper, so
// container inits are its children and their exit statuses are seen.
#include "herd/pod_runtime.hpp"
#include "herd_test_util.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <fstream>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

using namespace corral;
using namespace corral::herd;
using namespace std::chrono_literals;

namespace {

std::string read_text(const std::string &path) {
    auto t = read_file(path);
    return t ? *t : std::string();
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// Waits until FILE contains TEXT.
bool wait_for_text(const std::string &file, const std::string &text, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (read_text(file).find(text) != std::string::npos) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

class PodRuntimeTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        herd_test::become_subreaper();
        store_dir_ = new herd_test::TempDir("herd-b1-store");
        import_error_ = new std::string(
            herd_test::import_fixture_image(CORRAL_BIN, CORRAL_FIXTURES, store_dir_->path() + "/store"));
    }
    static void TearDownTestSuite() {
        // Drop the image's layers before the directory goes away.
        herd_test::run({CORRAL_BIN, "image", "rm", "--store", store_dir_->path() + "/store", "fixture:1"});
        delete store_dir_;
        delete import_error_;
    }

    void SetUp() override {
        if (geteuid() != 0) GTEST_SKIP() << "needs root (cgroups, namespaces, mounts)";
        // A failed import is corral's own failure, not a missing tool: it
        // fails every test here rather than skipping it.
        ASSERT_TRUE(import_error_->empty()) << "corral image import of the fixture failed: " << *import_error_;
        ASSERT_TRUE(path_exists(std::string(HERD_BIN).substr(0, std::string(HERD_BIN).rfind('/')) + "/herd-pause"))
            << "herd-pause was not built next to herd (it is part of the build)";
        tmp_ = std::make_unique<herd_test::TempDir>("herd-b1");
        cgroup_root_ = herd_test::unique_cgroup_root();
        cfg_.state_dir = tmp_->path() + "/state";
        cfg_.corral_bin = CORRAL_BIN;
        cfg_.image_store = store_dir_->path() + "/store";
        cfg_.pause_bin = std::string(HERD_BIN).substr(0, std::string(HERD_BIN).rfind('/')) + "/herd-pause";
        cfg_.cgroup_root = cgroup_root_;
        cfg_.network.plugin_dir = "/nonexistent";  // loopback only unless a test turns CNI on
        runtime_ = std::make_unique<PodRuntime>(cfg_);
    }

    void TearDown() override {
        if (!runtime_) return;
        for (auto &[pod, infra] : pods_) (void)runtime_->remove_pod(pod, infra);
        herd_test::reap_all();
        herd_test::remove_cgroup_root(cgroup_root_);
        if (!cgroup_root_.empty()) {
            // /corral-test itself may be shared with other tests: only ours goes.
            EXPECT_FALSE(herd_test::cgroup_root_exists_anywhere(cgroup_root_)) << cgroup_root_ << " left behind";
        }
        runtime_.reset();
        tmp_.reset();
    }

    Pod make_pod(const std::string &name, std::vector<Container> containers) {
        Pod pod;
        pod.metadata.name = name;
        pod.metadata.uid = herd_test::random_suffix(8) + "-" + herd_test::random_suffix(4) + "-" + herd_test::random_suffix(12);
        pod.spec.containers = std::move(containers);
        return pod;
    }
    static Container container(const std::string &name, std::vector<std::string> command,
                               std::vector<std::string> args = {}) {
        Container c;
        c.name = name;
        c.image = "fixture:1";
        c.command = std::move(command);
        c.args = std::move(args);
        return c;
    }

    // Starts the infra, remembered for teardown.
    InfraInfo start_pod(const Pod &pod) {
        auto infra = runtime_->start_infra(pod);
        EXPECT_TRUE(infra.ok()) << infra.error().message();
        if (!infra) return {};
        pods_.emplace_back(pod, *infra);
        return *infra;
    }
    StartedContainer start(const Pod &pod, const Container &c, const InfraInfo &infra) {
        auto s = runtime_->start_container(pod, c, infra);
        EXPECT_TRUE(s.ok()) << s.error().message();
        return s ? *s : StartedContainer{};
    }
    std::string cgroup_file(const std::string &controller, const Pod &pod, const std::string &sub,
                            const std::string &file) {
        std::string rel = cgroup_root_ + "/pod" + pod.metadata.uid + (sub.empty() ? "" : "/" + sub);
        return "/sys/fs/cgroup/" + controller + rel + "/" + file;
    }

    static herd_test::TempDir *store_dir_;
    static std::string *import_error_;
    std::unique_ptr<herd_test::TempDir> tmp_;
    std::string cgroup_root_;
    RuntimeConfig cfg_;
    std::unique_ptr<PodRuntime> runtime_;
    std::vector<std::pair<Pod, InfraInfo>> pods_;
};

herd_test::TempDir *PodRuntimeTest::store_dir_ = nullptr;
std::string *PodRuntimeTest::import_error_ = nullptr;

bool cgroup_v1() { return path_exists("/sys/fs/cgroup/memory/memory.limit_in_bytes") || path_exists("/sys/fs/cgroup/memory/cgroup.procs"); }

TEST_F(PodRuntimeTest, TwoContainersShareTheInfraNamespacesAndHaveTheirOwnLimitedCgroups) {
    Container a = container("app", {"/probe", "sleep", "inf"});
    a.resources.memory_limit_bytes = 32 << 20;
    a.resources.cpu_limit_millis = 500;
    a.resources.cpu_request_millis = 250;
    Container b = container("sidecar", {"/probe", "sleep", "inf"});
    b.resources.memory_limit_bytes = 16 << 20;
    b.resources.cpu_limit_millis = 200;  // request defaults to the limit
    Pod pod = make_pod("two", {a, b});
    InfraInfo infra = start_pod(pod);
    ASSERT_GT(infra.pid, 0);
    EXPECT_EQ(infra.corral_id, runtime_->infra_id(pod));
    EXPECT_TRUE(infra.network.ip.empty());
    EXPECT_FALSE(infra.network_warning.empty()) << "no CNI: the pod has loopback only and says so";
    auto sa = start(pod, a, infra);
    auto sb = start(pod, b, infra);
    ASSERT_GT(sa.pid, 0);
    ASSERT_GT(sb.pid, 0);
    EXPECT_EQ(sa.corral_id, runtime_->container_id(pod, "app"));

    // The pod's namespaces are the infra's; mount and pid are each container's own.
    for (const char *ns : {"net", "ipc", "uts"}) {
        EXPECT_EQ(herd_test::ns_link(sa.pid, ns), herd_test::ns_link(infra.pid, ns)) << ns;
        EXPECT_EQ(herd_test::ns_link(sb.pid, ns), herd_test::ns_link(infra.pid, ns)) << ns;
        EXPECT_NE(herd_test::ns_link(sa.pid, ns), herd_test::ns_link(getpid(), ns)) << ns;
    }
    for (const char *ns : {"mnt", "pid"}) {
        EXPECT_NE(herd_test::ns_link(sa.pid, ns), herd_test::ns_link(sb.pid, ns)) << ns;
        EXPECT_NE(herd_test::ns_link(sa.pid, ns), herd_test::ns_link(infra.pid, ns)) << ns;
    }

    // Each in its own cgroup under the pod parent.
    std::string cg = read_text("/proc/" + std::to_string(sa.pid) + "/cgroup");
    EXPECT_NE(cg.find(cgroup_root_ + "/pod" + pod.metadata.uid + "/app"), std::string::npos) << cg;
    cg = read_text("/proc/" + std::to_string(infra.pid) + "/cgroup");
    EXPECT_NE(cg.find(cgroup_root_ + "/pod" + pod.metadata.uid + "/_infra"), std::string::npos) << cg;

    if (!cgroup_v1()) {
        // cgroup v2 (scripts/cgroupv2-vm): the same limits in v2's files,
        // shares as weight by runc's formula 1 + (shares - 2) * 9999 / 262142.
        EXPECT_EQ(trim(read_text(cgroup_file("", pod, "app", "memory.max"))), std::to_string(32 << 20));
        EXPECT_EQ(trim(read_text(cgroup_file("", pod, "sidecar", "memory.max"))), std::to_string(16 << 20));
        EXPECT_EQ(trim(read_text(cgroup_file("", pod, "app", "cpu.max"))), "50000 100000");
        EXPECT_EQ(trim(read_text(cgroup_file("", pod, "app", "cpu.weight"))), "10");
        EXPECT_EQ(trim(read_text(cgroup_file("", pod, "sidecar", "cpu.max"))), "20000 100000");
        EXPECT_EQ(trim(read_text(cgroup_file("", pod, "sidecar", "cpu.weight"))), "8");
        if (path_exists(cgroup_file("", pod, "app", "memory.swap.max"))) {  // no swap beyond the limit
            EXPECT_EQ(trim(read_text(cgroup_file("", pod, "app", "memory.swap.max"))), "0");
        }
        EXPECT_EQ(trim(read_text(cgroup_file("", pod, "", "memory.max"))), std::to_string(48 << 20));
        EXPECT_EQ(trim(read_text(cgroup_file("", pod, "", "cpu.max"))), "70000 100000");
        EXPECT_EQ(trim(read_text(cgroup_file("", pod, "", "cpu.weight"))), "18");
        return;
    }
    EXPECT_EQ(trim(read_text(cgroup_file("memory", pod, "app", "memory.limit_in_bytes"))), std::to_string(32 << 20));
    EXPECT_EQ(trim(read_text(cgroup_file("memory", pod, "sidecar", "memory.limit_in_bytes"))), std::to_string(16 << 20));
    EXPECT_EQ(trim(read_text(cgroup_file("cpu", pod, "app", "cpu.cfs_quota_us"))), "50000");
    EXPECT_EQ(trim(read_text(cgroup_file("cpu", pod, "app", "cpu.cfs_period_us"))), "100000");
    EXPECT_EQ(trim(read_text(cgroup_file("cpu", pod, "app", "cpu.shares"))), "256");
    EXPECT_EQ(trim(read_text(cgroup_file("cpu", pod, "sidecar", "cpu.cfs_quota_us"))), "20000");
    EXPECT_EQ(trim(read_text(cgroup_file("cpu", pod, "sidecar", "cpu.shares"))), "204");
    // The pod parent: the sums.
    EXPECT_EQ(trim(read_text(cgroup_file("memory", pod, "", "memory.limit_in_bytes"))), std::to_string(48 << 20));
    EXPECT_EQ(trim(read_text(cgroup_file("cpu", pod, "", "cpu.cfs_quota_us"))), "70000");
    EXPECT_EQ(trim(read_text(cgroup_file("cpu", pod, "", "cpu.shares"))), "460");
}

TEST_F(PodRuntimeTest, CommandArgsAndEnvFollowKubernetesAndOutputGoesToTheLog) {
    Pod pod = make_pod("cmds", {});
    // command replaces the image's Cmd; $(VAR) expands from the container's env; $$ escapes.
    Container c1 = container("c1", {"/bin/echo", "$(GREETING)-x"}, {"$(UNDEFINED)", "$$(GREETING)"});
    c1.env = {{"GREETING", "hello"}};
    // args alone replace Cmd (the image has no Entrypoint).
    Container c2 = container("c2", {}, {"/bin/sh", "-c", "echo args-only $GREETING; hostname; echo err >&2"});
    c2.env = {{"GREETING", "there"}};
    // Neither: the image's Cmd (/bin/sh, stdin /dev/null: exits at once, 0).
    Container c3 = container("c3", {});
    // workingDir and the image's env (PATH=/bin) with the container's added.
    Container c4 = container("c4", {"/bin/sh", "-c", "pwd; echo $PATH $EXTRA"});
    c4.working_dir = "/tmp";
    c4.env = {{"EXTRA", "yes"}};
    // lo is up in the pod's network namespace (probes and sidecars use it).
    Container c5 = container("c5", {"/bin/sh", "-c", "ip -o link show lo | grep -q ',UP' && echo lo-up"});
    // Only stdin (/dev/null), stdout and stderr (the log) reach the container.
    Container c6 = container("c6", {"/probe", "fds"});
    pod.spec.containers = {c1, c2, c3, c4, c5, c6};
    InfraInfo infra = start_pod(pod);
    ASSERT_GT(infra.pid, 0);
    std::map<std::string, int> status;
    for (const auto &c : pod.spec.containers) {
        auto s = start(pod, c, infra);
        ASSERT_GT(s.pid, 0) << c.name;
        EXPECT_EQ(s.log_path, runtime_->log_path(pod, c.name, false));
        status[c.name] = herd_test::wait_exit(s.pid, 10s);
    }
    for (auto &[name, st] : status) {
        ASSERT_TRUE(WIFEXITED(st)) << name << " status " << st;
        EXPECT_EQ(WEXITSTATUS(st), 0) << name << ": " << read_text(runtime_->log_path(pod, name, false));
    }
    EXPECT_EQ(read_text(runtime_->log_path(pod, "c1", false)), "hello-x $(UNDEFINED) $(GREETING)\n");
    EXPECT_EQ(read_text(runtime_->log_path(pod, "c2", false)), "args-only there\ncmds\nerr\n");
    EXPECT_EQ(read_text(runtime_->log_path(pod, "c3", false)), "");
    EXPECT_EQ(read_text(runtime_->log_path(pod, "c4", false)), "/tmp\n/bin yes\n");
    EXPECT_EQ(read_text(runtime_->log_path(pod, "c5", false)), "lo-up\n");
    {
        json fds = json::parse(read_text(runtime_->log_path(pod, "c6", false)), nullptr, false);
        ASSERT_TRUE(fds.is_object()) << read_text(runtime_->log_path(pod, "c6", false));
        ASSERT_EQ(fds["open_fds"].size(), 3u) << fds.dump();
        EXPECT_EQ(fds["open_fds"][0]["target"], "/dev/null");
        EXPECT_EQ(fds["open_fds"][1]["target"].get<std::string>().find("/current.log") != std::string::npos, true)
            << fds.dump();
    }

    // A restart: the old output becomes previous.log, the new one current.log.
    Container again = c1;
    again.command = {"/bin/echo", "second"};
    again.args = {};
    auto s = start(pod, again, infra);
    ASSERT_GT(s.pid, 0);
    herd_test::wait_exit(s.pid, 10s);
    EXPECT_EQ(read_text(runtime_->log_path(pod, "c1", true)), "hello-x $(UNDEFINED) $(GREETING)\n");
    EXPECT_EQ(read_text(runtime_->log_path(pod, "c1", false)), "second\n");
    auto state = runtime_->container_state(s.corral_id);
    ASSERT_TRUE(state.has_value());
    EXPECT_EQ(state->status, "stopped");
    EXPECT_GT(state->created, 0);
}

TEST_F(PodRuntimeTest, ErrorsNameTheStepAndLeaveNoContainer) {
    Container bad = container("bad", {"/probe", "exit", "0"});
    bad.image = "no-such-image:9";
    Pod pod = make_pod("errs", {bad});
    InfraInfo infra = start_pod(pod);
    ASSERT_GT(infra.pid, 0);
    auto s = runtime_->start_container(pod, bad, infra);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message().find("no-such-image:9"), std::string::npos) << s.error().message();
    Container missing = container("missing", {"/no/such/binary"});
    s = runtime_->start_container(pod, missing, infra);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message().find("corral create"), std::string::npos) << s.error().message();
    EXPECT_FALSE(runtime_->container_state(runtime_->container_id(pod, "missing")).has_value());
    EXPECT_FALSE(path_exists(runtime_->pod_dir(pod) + "/missing/bundle"));
}

TEST_F(PodRuntimeTest, AFailedInfraUndoesItself) {
    cfg_.pause_bin = tmp_->path() + "/no-herd-pause";
    runtime_ = std::make_unique<PodRuntime>(cfg_);
    Pod pod = make_pod("noinfra", {container("c", {"/probe", "sleep", "inf"})});
    auto infra = runtime_->start_infra(pod);
    ASSERT_FALSE(infra.ok());
    EXPECT_NE(infra.error().message().find("no-herd-pause"), std::string::npos) << infra.error().message();
    EXPECT_FALSE(path_exists(runtime_->pod_dir(pod)));
    EXPECT_TRUE(runtime_->saved_pods().empty());
    // An infra that corral cannot run (not a program) is undone too.
    cfg_.pause_bin = tmp_->path() + "/not-a-program";
    ASSERT_TRUE(write_file_atomic(cfg_.pause_bin, "just text\n", 0755).ok());
    runtime_ = std::make_unique<PodRuntime>(cfg_);
    infra = runtime_->start_infra(pod);
    if (infra) pods_.emplace_back(pod, *infra);
    ASSERT_FALSE(infra.ok());
    // corral starts it and it fails at exec: start_infra finds it gone.
    EXPECT_NE(infra.error().message().find("start pod default/noinfra"), std::string::npos) << infra.error().message();
    EXPECT_FALSE(path_exists(runtime_->pod_dir(pod)));
    EXPECT_FALSE(runtime_->container_state(runtime_->infra_id(pod)).has_value());
}

TEST_F(PodRuntimeTest, OomKillIsDetected) {
    Container hog = container("hog", {"/probe", "memhog", "64"});
    hog.resources.memory_limit_bytes = 16 << 20;
    Container fine = container("fine", {"/probe", "exit", "3"});
    Pod pod = make_pod("oom", {hog, fine});
    InfraInfo infra = start_pod(pod);
    ASSERT_GT(infra.pid, 0);
    auto h = start(pod, hog, infra);
    auto f = start(pod, fine, infra);
    ASSERT_GT(h.pid, 0);
    ASSERT_GT(f.pid, 0);
    int st = herd_test::wait_exit(h.pid, 20s);
    ASSERT_NE(st, -1) << "memhog did not end";
    ASSERT_TRUE(WIFSIGNALED(st)) << "status " << st << ": " << read_text(h.log_path);
    EXPECT_EQ(WTERMSIG(st), SIGKILL);
    EXPECT_TRUE(runtime_->was_oom_killed(h.corral_id));
    st = herd_test::wait_exit(f.pid, 10s);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 3);
    EXPECT_FALSE(runtime_->was_oom_killed(f.corral_id));
    // Removing the container (and its cgroup) forgets it.
    ASSERT_TRUE(runtime_->remove_container(h.corral_id).ok());
    EXPECT_FALSE(runtime_->was_oom_killed(h.corral_id));
}

TEST_F(PodRuntimeTest, SignalStopsAndRemovePodLeavesNothing) {
    Container c = container("sig", {"/probe", "signals"});
    Container d = container("sleeper", {"/probe", "sleep", "inf"});
    Pod pod = make_pod("gone", {c, d});
    InfraInfo infra = start_pod(pod);
    ASSERT_GT(infra.pid, 0);
    auto s = start(pod, c, infra);
    auto t = start(pod, d, infra);
    ASSERT_GT(s.pid, 0);
    ASSERT_TRUE(wait_for_text(s.log_path, "ready"));
    ASSERT_TRUE(runtime_->signal_container(s.corral_id, SIGTERM).ok());
    int st = herd_test::wait_exit(s.pid, 10s);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
    EXPECT_NE(read_text(s.log_path).find("15"), std::string::npos);
    // Signalling a stopped or unknown container is no error.
    EXPECT_TRUE(runtime_->signal_container(s.corral_id, SIGTERM).ok());
    EXPECT_TRUE(runtime_->signal_container("herd-nothere-x", SIGKILL).ok());

    // Saved for adoption.
    auto saved = runtime_->saved_pods();
    ASSERT_EQ(saved.size(), 1u);
    EXPECT_EQ(saved[0].metadata.uid, pod.metadata.uid);
    auto adopted = runtime_->saved_infra(pod);
    ASSERT_TRUE(adopted.has_value());
    EXPECT_EQ(adopted->pid, infra.pid);

    // Still running: sleeper. remove_pod stops it and everything else.
    ASSERT_TRUE(runtime_->remove_pod(pod, infra).ok());
    pods_.clear();
    herd_test::wait_exit(t.pid, 5s);
    herd_test::wait_exit(infra.pid, 5s);
    EXPECT_FALSE(herd_test::process_alive(t.pid));
    EXPECT_FALSE(herd_test::process_alive(infra.pid));
    EXPECT_EQ(trim(herd_test::run({CORRAL_BIN, "--root", runtime_->config().corral_root, "list", "-q"})), "");
    EXPECT_FALSE(path_exists(runtime_->pod_dir(pod)));
    for (const char *ctl : {"memory", "cpu", "pids", "freezer", "devices", "cpuset", "blkio", "unified"})
        EXPECT_FALSE(path_exists("/sys/fs/cgroup/" + std::string(ctl) + runtime_->pod_cgroup(pod))) << ctl;
    std::string mounts = read_text("/proc/self/mountinfo");
    EXPECT_EQ(mounts.find(tmp_->path()), std::string::npos) << "a mount under the state dir is left";
    EXPECT_TRUE(runtime_->saved_pods().empty());
    // Twice is fine.
    EXPECT_TRUE(runtime_->remove_pod(pod, infra).ok());
}

TEST_F(PodRuntimeTest, HostNetworkPodKeepsTheNodesNetworkAndHostname) {
    Container c = container("h", {"/bin/sh", "-c", "hostname; sleep 100"});
    Pod pod = make_pod("hostnet", {c});
    pod.spec.host_network = true;
    InfraInfo infra = start_pod(pod);
    ASSERT_GT(infra.pid, 0);
    EXPECT_TRUE(infra.network_warning.empty());
    auto s = start(pod, c, infra);
    ASSERT_GT(s.pid, 0);
    EXPECT_EQ(herd_test::ns_link(s.pid, "net"), herd_test::ns_link(getpid(), "net"));
    EXPECT_EQ(herd_test::ns_link(s.pid, "uts"), herd_test::ns_link(getpid(), "uts"));
    EXPECT_EQ(herd_test::ns_link(s.pid, "ipc"), herd_test::ns_link(infra.pid, "ipc"));
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    EXPECT_TRUE(wait_for_text(s.log_path, std::string(host) + "\n"));
}

TEST_F(PodRuntimeTest, LogsAreRotatedByCopyTruncate) {
    cfg_.log_max_bytes = 500;  // the 100 lines below are about 800 bytes
    runtime_ = std::make_unique<PodRuntime>(cfg_);
    Container c = container("talk", {"/bin/sh", "-c", "i=0; while [ $i -lt 100 ]; do echo line-$i; i=$((i+1)); done; sleep 100"});
    Pod pod = make_pod("logs", {c});
    InfraInfo infra = start_pod(pod);
    auto s = start(pod, c, infra);
    ASSERT_TRUE(wait_for_text(s.log_path, "line-99"));
    runtime_->rotate_logs_if_needed(pod);
    EXPECT_EQ(read_text(s.log_path), "");
    EXPECT_NE(read_text(s.log_path + ".1").find("line-99"), std::string::npos);
}

// The pod's herd.io/log-max-bytes wins over the agent's --log-max-bytes.
TEST_F(PodRuntimeTest, LogMaxBytesAnnotationWinsOverTheAgentsLimit) {
    cfg_.log_max_bytes = 1 << 20;
    runtime_ = std::make_unique<PodRuntime>(cfg_);
    // 600 lines of about 9 bytes: over the annotation's 4Ki, far under 1 MiB.
    Container c = container("talk", {"/bin/sh", "-c", "i=0; while [ $i -lt 600 ]; do echo line-$i; i=$((i+1)); done; sleep 100"});
    Pod pod = make_pod("logcap", {c});
    pod.metadata.annotations["herd.io/log-max-bytes"] = "4Ki";
    InfraInfo infra = start_pod(pod);
    auto s = start(pod, c, infra);
    ASSERT_TRUE(wait_for_text(s.log_path, "line-599"));
    runtime_->rotate_logs_if_needed(pod);
    EXPECT_EQ(read_text(s.log_path), "");
    EXPECT_NE(read_text(s.log_path + ".1").find("line-599"), std::string::npos);
}

// --- CNI ---------------------------------------------------------------------

// Connects to ip:port and returns what the server sends first.
std::string tcp_read(const std::string &ip, int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "";
    timeval tv{3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
    std::string out;
    if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0) {
        char buf[256];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) out.assign(buf, static_cast<size_t>(n));
    }
    close(fd);
    return out;
}

std::string retry_tcp_read(const std::string &ip, int port) {
    for (int i = 0; i < 50; ++i) {
        std::string s = tcp_read(ip, port);
        if (!s.empty()) return s;
        std::this_thread::sleep_for(100ms);
    }
    return "";
}

std::string iptables_dump() {
    return herd_test::run({"/usr/sbin/iptables-save"}) + herd_test::run({"/usr/sbin/iptables-save", "-t", "nat"});
}

TEST_F(PodRuntimeTest, CniGivesThePodAnAddressAndAHostPort) {
    if (!cni_available(NetworkConfig{})) GTEST_SKIP() << "containernetworking-plugins not installed in /usr/lib/cni";
    if (!path_exists("/usr/sbin/iptables")) GTEST_SKIP() << "iptables not installed (portmap and ipMasq need it)";
    std::string before = herd_test::run({"/usr/sbin/iptables-save", "-t", "nat"});
    bool had_hostport_chains = before.find(":CNI-HOSTPORT-DNAT") != std::string::npos;

    std::string bridge = "hb1" + herd_test::random_suffix(6);
    std::random_device rd;
    int octet = 100 + static_cast<int>(rd() % 100);
    int host_port = 20000 + static_cast<int>(rd() % 20000);
    cfg_.network.plugin_dir = "/usr/lib/cni";
    cfg_.network.bridge = bridge;
    cfg_.network.subnet = "10.231." + std::to_string(octet) + ".0/24";
    runtime_ = std::make_unique<PodRuntime>(cfg_);

    Container web = container("web", {"/bin/nc", "-ll", "-p", "80", "-e", "/bin/echo", "pong"});
    web.ports = {ContainerPort{"http", 80, host_port, "TCP", ""}};
    Pod pod = make_pod("net", {web});
    InfraInfo infra = start_pod(pod);
    ASSERT_GT(infra.pid, 0);
    EXPECT_TRUE(infra.network_warning.empty());
    EXPECT_EQ(infra.network.ip.rfind("10.231." + std::to_string(octet) + ".", 0), 0u) << infra.network.ip;
    auto s = start(pod, web, infra);
    ASSERT_GT(s.pid, 0);

    EXPECT_EQ(retry_tcp_read(infra.network.ip, 80), "pong\n") << "pod IP";
    // The hostPort, on the bridge's (gateway) address and on 127.0.0.1.
    std::string gateway = "10.231." + std::to_string(octet) + ".1";
    EXPECT_EQ(retry_tcp_read(gateway, host_port), "pong\n") << "hostPort via " << gateway;
    EXPECT_EQ(retry_tcp_read("127.0.0.1", host_port), "pong\n") << "hostPort via 127.0.0.1";
    // Loopback is up inside the pod (probes need it): the container reaches its own port on 127.0.0.1.
    auto adopted = runtime_->saved_infra(pod);
    ASSERT_TRUE(adopted.has_value());
    EXPECT_EQ(adopted->network.ip, infra.network.ip);

    // The infra dies (and its container with it): a new infra for the same
    // pod releases the old lease and rules first, then works as before.
    kill(s.pid, SIGKILL);
    kill(infra.pid, SIGKILL);
    herd_test::wait_exit(s.pid, 5s);
    herd_test::wait_exit(infra.pid, 5s);
    ASSERT_TRUE(runtime_->remove_container(s.corral_id).ok());
    auto again = runtime_->start_infra(pod);
    ASSERT_TRUE(again.ok()) << again.error().message();
    pods_.clear();
    pods_.emplace_back(pod, *again);
    infra = *again;
    auto leases = [&] {
        int n = 0;
        if (DIR *d = opendir((cfg_.state_dir + "/cni/ipam/herd").c_str())) {
            while (dirent *e = readdir(d))
                if (isdigit(static_cast<unsigned char>(e->d_name[0]))) ++n;
            closedir(d);
        }
        return n;
    };
    EXPECT_EQ(leases(), 1);
    s = start(pod, web, infra);
    ASSERT_GT(s.pid, 0);
    EXPECT_EQ(retry_tcp_read("127.0.0.1", host_port), "pong\n") << "hostPort after a new infra";

    auto removed = runtime_->remove_pod(pod, infra);
    ASSERT_TRUE(removed.ok()) << removed.error().message();
    pods_.clear();
    herd_test::wait_exit(s.pid, 5s);
    herd_test::wait_exit(infra.pid, 5s);
    EXPECT_EQ(leases(), 0);
    EXPECT_EQ(read_text("/proc/self/mountinfo").find(tmp_->path()), std::string::npos) << "the pinned netns is left";
    std::string after = iptables_dump();
    EXPECT_EQ(after.find(pod.metadata.uid), std::string::npos) << "iptables rules of the pod left";
    EXPECT_EQ(after.find(std::to_string(host_port)), std::string::npos) << "hostPort rule left";
    EXPECT_EQ(tcp_read("127.0.0.1", host_port), "");
    // The address went back to host-local's pool.
    std::string ipam = cfg_.state_dir + "/cni/ipam/herd/" + infra.network.ip;
    EXPECT_FALSE(path_exists(ipam)) << ipam;

    // The bridge and the shared portmap chains are ours to remove (the plugins keep them).
    herd_test::run({"/usr/sbin/ip", "link", "del", bridge});
    // Only when no other pod (another test's) still has a mapping in them.
    std::string dnat = herd_test::run({"/usr/sbin/iptables", "-t", "nat", "-S", "CNI-HOSTPORT-DNAT"});
    bool dnat_empty = std::count(dnat.begin(), dnat.end(), '\n') <= 1;
    if (!had_hostport_chains && dnat_empty) {
        for (const char *rule : {"PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
                                 "OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
                                 "POSTROUTING -m comment --comment CNI portfwd requiring masquerade -j CNI-HOSTPORT-MASQ"}) {
            std::vector<std::string> argv{"/usr/sbin/iptables", "-t", "nat", "-D"};
            std::string r = rule;
            // split on spaces, but the comment text is one argument
            size_t cpos = r.find("--comment ");
            std::string head = cpos == std::string::npos ? r : r.substr(0, cpos + 9);
            std::istringstream in(head);
            for (std::string w; in >> w;) argv.push_back(w);
            if (cpos != std::string::npos) {
                std::string rest = r.substr(cpos + 10);
                size_t j = rest.find(" -j ");
                argv.push_back(rest.substr(0, j));
                argv.push_back("-j");
                argv.push_back(rest.substr(j + 4));
            }
            herd_test::run(argv);
        }
        for (const char *chain : {"CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ"}) {
            herd_test::run({"/usr/sbin/iptables", "-t", "nat", "-F", chain});
            herd_test::run({"/usr/sbin/iptables", "-t", "nat", "-X", chain});
        }
    }
}

} // namespace
