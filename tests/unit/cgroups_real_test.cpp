// The manager of this host's cgroups (v1 here; v2 in the qemu VM), for
// real: a child process is placed in /corral-test/<unique>, limited, frozen,
// thawed, measured, and everything is removed again — also on failure.
//
// Needs root. Only ever touches /corral-test/<unique> (and /corral-test when
// it is empty) in each hierarchy.
#include "cgroups/manager.hpp"
#include "common/fs.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace corral;
using namespace corral::cgroups;

namespace {

const char *kRoot = "/sys/fs/cgroup";

std::string trimmed(const std::string &path) {
    auto r = read_file(path);
    if (!r) return "<" + r.error().message() + ">";
    std::string s = *r;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

char proc_state(pid_t pid) {
    std::string stat = trimmed("/proc/" + std::to_string(pid) + "/stat");
    auto paren = stat.rfind(')');
    return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

// A child that waits for a byte on `go`, then touches 8 MiB and answers on
// `ack`, then sleeps until killed. Only async-signal-safe calls after fork.
pid_t spawn_child(int go_read, int ack_write) {
    pid_t pid = ::fork();
    if (pid != 0) return pid;
    char c;
    if (::read(go_read, &c, 1) != 1) ::_exit(1);
    const size_t size = 8 << 20;
    void *p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) ::_exit(2);
    for (size_t i = 0; i < size; i += 4096) static_cast<volatile char *>(p)[i] = 1;
    if (::write(ack_write, "k", 1) != 1) ::_exit(3);
    for (;;) ::pause();
}

class RealCgroup : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
        mode = detect_mode(kRoot);
        if (mode == Mode::disabled) GTEST_SKIP() << "no cgroup hierarchy mounted under " << kRoot;
        static std::atomic<int> counter{0};
        inner = "/corral-test/unit-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
        opts.cgroups_path = inner;
        opts.container_id = "unit";
        auto made = make_manager(mode, opts);
        ASSERT_TRUE(made) << made.error().message();
        m = std::move(*made);
    }

    void TearDown() override {
        if (child > 0) {
            ::kill(child, SIGKILL);
            ::waitpid(child, nullptr, 0);
        }
        if (m) {
            (void)m->thaw();
            (void)m->destroy();
        }
        // Whatever destroy() left (it is what is under test): only our own paths.
        if (!inner.empty()) {
            std::vector<std::string> tops = {kRoot};
            if (DIR *d = ::opendir(kRoot)) {
                while (dirent *e = ::readdir(d))
                    if (e->d_name[0] != '.') tops.push_back(std::string(kRoot) + "/" + e->d_name);
                ::closedir(d);
            }
            for (const auto &top : tops) {
                ::rmdir((top + inner).c_str());
                ::rmdir((top + "/corral-test").c_str()); // fails harmlessly while others use it
            }
        }
        for (int fd : {go[0], go[1], ack[0], ack[1]})
            if (fd >= 0) ::close(fd);
    }

    std::string path_of(const std::string &key) const {
        for (const auto &[k, p] : m->paths())
            if (k == key) return p;
        return {};
    }

    Mode mode = Mode::disabled;
    std::string inner;
    Options opts;
    std::unique_ptr<Manager> m;
    pid_t child = -1;
    int go[2] = {-1, -1}, ack[2] = {-1, -1};
};

} // namespace

TEST_F(RealCgroup, LimitJoinFreezeThawStatsDestroy) {
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    ASSERT_TRUE(m->create()) << m->create().error().message();
    auto t1 = clock::now();

    spec::Resources r;
    r.memory = spec::Memory{};
    r.memory->limit = 256 << 20;
    r.pids = spec::Pids{100};
    r.cpu = spec::Cpu{};
    r.cpu->quota = 50000;
    r.cpu->period = 100000;
    r.cpu->shares = 512;
    r.devices = {spec::DeviceRule{false, "", std::nullopt, std::nullopt, "rwm"}};
    for (auto &d : default_allowed_devices()) r.devices.push_back(d);
    auto applied = m->apply(r);
    ASSERT_TRUE(applied) << applied.error().message();
    auto t2 = clock::now();

    if (mode == Mode::v1) {
        EXPECT_EQ(trimmed(path_of("memory") + "/memory.limit_in_bytes"), std::to_string(256 << 20));
        EXPECT_EQ(trimmed(path_of("pids") + "/pids.max"), "100");
        EXPECT_EQ(trimmed(path_of("cpu") + "/cpu.cfs_quota_us"), "50000");
        EXPECT_EQ(trimmed(path_of("cpu") + "/cpu.shares"), "512");
        std::string list = trimmed(path_of("devices") + "/devices.list");
        EXPECT_NE(list.find("c 1:3 rwm"), std::string::npos) << list;
        EXPECT_EQ(list.find("a *:* rwm"), std::string::npos) << list;
        EXPECT_NE(trimmed(path_of("cpuset") + "/cpuset.cpus"), ""); // filled from the parent
    } else {
        std::string dir = path_of("");
        EXPECT_EQ(trimmed(dir + "/memory.max"), std::to_string(256 << 20));
        EXPECT_EQ(trimmed(dir + "/pids.max"), "100");
        EXPECT_EQ(trimmed(dir + "/cpu.max"), "50000 100000");
        EXPECT_EQ(trimmed(dir + "/cpu.weight"), std::to_string(cpu_shares_to_weight(512)));
    }

    ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(ack, O_CLOEXEC), 0);
    child = spawn_child(go[0], ack[1]);
    ASSERT_GT(child, 0);
    auto t3 = clock::now();
    auto added = m->add_process(child);
    ASSERT_TRUE(added) << added.error().message();
    auto t4 = clock::now();
    auto us = [](auto a, auto b) { return std::chrono::duration_cast<std::chrono::microseconds>(b - a).count(); };
    std::printf("[ timing   ] create %lld us, apply %lld us, add_process %lld us (%zu paths)\n",
                static_cast<long long>(us(t0, t1)), static_cast<long long>(us(t1, t2)),
                static_cast<long long>(us(t3, t4)), m->paths().size());

    // The child is in our cgroup in every hierarchy, name=systemd and cgroup2 included.
    std::string cg = trimmed("/proc/" + std::to_string(child) + "/cgroup");
    size_t lines = 0, pos = 0;
    while (pos < cg.size()) {
        size_t eol = cg.find('\n', pos);
        if (eol == std::string::npos) eol = cg.size();
        std::string line = cg.substr(pos, eol - pos);
        pos = eol + 1;
        ++lines;
        EXPECT_TRUE(line.size() > inner.size() && line.compare(line.size() - inner.size(), inner.size(), inner) == 0)
            << "not in " << inner << ": " << line;
    }
    EXPECT_GE(lines, 1u);

    // Let it use some memory inside the cgroup.
    ASSERT_EQ(::write(go[1], "g", 1), 1);
    pollfd p{ack[0], POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1) << "child did not answer";
    char c;
    ASSERT_EQ(::read(ack[0], &c, 1), 1);

    auto frozen = m->freeze();
    ASSERT_TRUE(frozen) << frozen.error().message();
    if (mode == Mode::v1) {
        EXPECT_EQ(trimmed(path_of("freezer") + "/freezer.state"), "FROZEN");
        char st = proc_state(child);
        EXPECT_TRUE(st == 'D' || st == 'T') << "state " << st;
    } else {
        EXPECT_NE(trimmed(path_of("") + "/cgroup.events").find("frozen 1"), std::string::npos);
    }
    ASSERT_TRUE(m->thaw());
    if (mode == Mode::v1) {
        EXPECT_EQ(trimmed(path_of("freezer") + "/freezer.state"), "THAWED");
        EXPECT_NE(proc_state(child), 'D');
    } else {
        EXPECT_EQ(trimmed(path_of("") + "/cgroup.freeze"), "0");
    }

    auto stats = m->stats();
    ASSERT_TRUE(stats) << stats.error().message();
    EXPECT_GT(stats->memory_usage, 0u);
    EXPECT_EQ(stats->memory_limit, uint64_t{256} << 20);
    EXPECT_EQ(stats->pids_current, 1u);
    EXPECT_EQ(stats->pids_limit, 100u);
    EXPECT_GT(stats->cpu_usage_total_ns, 0u);
    auto ooms = m->oom_kill_count();
    ASSERT_TRUE(ooms) << ooms.error().message();
    EXPECT_EQ(*ooms, 0u);
    auto pids = m->pids();
    ASSERT_TRUE(pids);
    EXPECT_EQ(*pids, std::vector<pid_t>{child});

    // A value the kernel refuses names the file and the value.
    spec::Resources bad;
    bad.pids = spec::Pids{int64_t{1} << 40};
    auto refused = m->apply(bad);
    ASSERT_FALSE(refused);
    std::string pids_dir = mode == Mode::v1 ? path_of("pids") : path_of("");
    EXPECT_EQ(refused.error().message(),
              "write `1099511627776` to `" + pids_dir + "/pids.max`: Invalid argument");

    ::kill(child, SIGKILL);
    ASSERT_EQ(::waitpid(child, nullptr, 0), child);
    child = -1;
    auto t5 = clock::now();
    auto destroyed = m->destroy();
    ASSERT_TRUE(destroyed) << destroyed.error().message();
    std::printf("[ timing   ] destroy %lld us\n", static_cast<long long>(us(t5, clock::now())));
    for (const auto &[key, path] : m->paths()) EXPECT_FALSE(path_exists(path)) << key << " " << path;
    EXPECT_TRUE(m->destroy()); // gone already: fine
}

TEST_F(RealCgroup, ReopenedFromRecordedPathsDestroys) {
    ASSERT_TRUE(m->create());
    Options o;
    o.paths = m->paths();
    auto reopened = open_manager(mode, o);
    ASSERT_TRUE(reopened) << reopened.error().message();
    ASSERT_TRUE((*reopened)->destroy());
    for (const auto &[key, path] : m->paths()) EXPECT_FALSE(path_exists(path)) << key << " " << path;
}

TEST_F(RealCgroup, UnsupportedHereIsRefusedClearly) {
    ASSERT_TRUE(m->create());
    spec::Resources r;
    r.hugepage_limits = {{"2MB", 1 << 21}};
    auto st = m->apply(r);
    if (mode == Mode::v1 && path_of("hugetlb").empty()) {
        ASSERT_FALSE(st);
        EXPECT_NE(st.error().message().find("hugetlb cgroup controller is not mounted"), std::string::npos)
            << st.error().message();
    }
    spec::Resources net;
    net.network = spec::Network{};
    net.network->class_id = 0x100001;
    st = m->apply(net);
    if (path_of("net_cls").empty()) {
        ASSERT_FALSE(st);
        EXPECT_NE(st.error().message().find("net_cls"), std::string::npos) << st.error().message();
    }
}

TEST_F(RealCgroup, DestroyRefusesWhileTasksRemainThenSucceeds) {
    ASSERT_TRUE(m->create());
    ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(ack, O_CLOEXEC), 0);
    child = spawn_child(go[0], ack[1]);
    ASSERT_GT(child, 0);
    ASSERT_TRUE(m->add_process(child));
    // Retried for a while (tasks may be exiting), then EBUSY naming the cgroup.
    auto st = m->destroy();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().err(), EBUSY);
    EXPECT_NE(st.error().message().find(inner), std::string::npos) << st.error().message();

    ::kill(child, SIGKILL);
    ASSERT_EQ(::waitpid(child, nullptr, 0), child);
    child = -1;
    auto destroyed = m->destroy();
    ASSERT_TRUE(destroyed) << destroyed.error().message();
    for (const auto &[key, path] : m->paths()) EXPECT_FALSE(path_exists(path)) << key << " " << path;
}
