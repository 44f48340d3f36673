// The v1 and v2 managers against fake cgroupfs trees: which files get which
// values, in which order, and which settings are refused before any write.
#include "unit/cgroups_testutil.hpp"

#include <linux/bpf.h>

#include <algorithm>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

using namespace corral;
using namespace corral::cgroups;
using namespace corral::cgroups::testing;

namespace {

std::unique_ptr<Manager> make(Mode mode, const Options &o) {
    auto m = make_manager(mode, o);
    if (!m) ADD_FAILURE() << m.error().message();
    return m ? std::move(*m) : nullptr;
}

class FakeV1 : public ::testing::Test {
protected:
    void SetUp() override {
        root = tmp.path();
        make_v1_hierarchy_root(root);
        make_v1_cgroup(root, "/corral-test/c1");
        log.root = root;
        opts.root = root;
        opts.cgroups_path = "/corral-test/c1";
        opts.on_write = log.observer();
        m = make(Mode::v1, opts);
        ASSERT_TRUE(m);
    }
    std::string at(const char *h, const char *file) const { return get(root + "/" + h + "/corral-test/c1/" + file); }

    TempDir tmp;
    std::string root;
    WriteLog log;
    Options opts;
    std::unique_ptr<Manager> m;
};

class FakeV2 : public ::testing::Test {
protected:
    void SetUp() override {
        root = tmp.path();
        make_v2_tree(root, "/corral-test/c1");
        log.root = root;
        opts.root = root;
        opts.cgroups_path = "/corral-test/c1";
        opts.on_write = log.observer();
        // A fake tree is no cgroupfs: record the device programs instead.
        opts.device_filter = [this](const std::string &dir, const std::vector<bpf_insn> &program) {
            programs.emplace_back(dir, program.size());
            return ok();
        };
        m = make(Mode::v2, opts);
        ASSERT_TRUE(m);
    }
    std::string at(const char *file) const { return get(root + "/corral-test/c1/" + file); }

    TempDir tmp;
    std::string root;
    WriteLog log;
    Options opts;
    std::vector<std::pair<std::string, size_t>> programs; // (cgroup dir, instructions)
    std::unique_ptr<Manager> m;
};

} // namespace

// --- detect_mode -------------------------------------------------------------

TEST(DetectMode, FakeTrees) {
    TempDir v1, v2, none, hybrid;
    make_v1_hierarchy_root(v1.path());
    EXPECT_EQ(detect_mode(v1.path()), Mode::v1);
    make_v2_tree(v2.path(), "/x");
    EXPECT_EQ(detect_mode(v2.path()), Mode::v2);
    EXPECT_EQ(detect_mode(none.path()), Mode::disabled);
    EXPECT_EQ(detect_mode(none.path() + "/missing"), Mode::disabled);
    // Hybrid: a cgroup2 "unified" holding a controller does not make it v2.
    make_v1_hierarchy_root(hybrid.path());
    put(hybrid.path() + "/unified/cgroup.controllers", "hugetlb\n");
    put(hybrid.path() + "/unified/cgroup.procs");
    EXPECT_EQ(detect_mode(hybrid.path()), Mode::v1);
}

// --- v1 ----------------------------------------------------------------------

TEST_F(FakeV1, PathsPerHierarchyWithRuncKeys) {
    auto paths = m->paths();
    ASSERT_EQ(paths.size(), 9u);
    std::map<std::string, std::string> byKey(paths.begin(), paths.end());
    EXPECT_EQ(byKey["memory"], root + "/memory/corral-test/c1");
    EXPECT_EQ(byKey["name=systemd"], root + "/systemd/corral-test/c1");
    EXPECT_EQ(byKey["cpuacct"], root + "/cpuacct/corral-test/c1");
    EXPECT_EQ(byKey.count(""), 0u); // no cgroup2 in this fake host
}

TEST_F(FakeV1, CreateFillsEmptyCpusetsFromTheTopDown) {
    auto st = m->create();
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(at("cpuset", "cpuset.cpus"), "0-3");
    EXPECT_EQ(at("cpuset", "cpuset.mems"), "0");
    // The empty parent first, then the leaf; nothing else is written at create.
    EXPECT_EQ(log.writes, (std::vector<std::string>{
                              "/cpuset/corral-test/cpuset.cpus=0-3", "/cpuset/corral-test/cpuset.mems=0",
                              "/cpuset/corral-test/c1/cpuset.cpus=0-3", "/cpuset/corral-test/c1/cpuset.mems=0"}));
}

TEST_F(FakeV1, NothingSetWritesNothing) {
    spec::Resources r;
    r.memory = spec::Memory{};
    r.cpu = spec::Cpu{};
    r.pids = spec::Pids{}; // limit 0: leave pids.max alone (runc)
    r.block_io = spec::BlockIO{};
    ASSERT_TRUE(m->apply(r));
    EXPECT_TRUE(log.writes.empty()) << ::testing::PrintToString(log.writes);
}

TEST_F(FakeV1, AppliesEveryV1Resource) {
    spec::Resources r;
    spec::Cpu cpu;
    cpu.shares = 512;
    cpu.quota = 50000;
    cpu.period = 100000;
    cpu.burst = 1000;
    cpu.realtime_runtime = 950;
    cpu.realtime_period = 1000;
    cpu.idle = 0;
    cpu.cpus = "0-1";
    cpu.mems = "0";
    r.cpu = cpu;
    spec::Memory mem;
    mem.limit = 100 << 20;
    mem.swap = 200 << 20;
    mem.reservation = 50 << 20;
    mem.kernel = 30 << 20;
    mem.kernel_tcp = 10 << 20;
    mem.swappiness = 10;
    mem.disable_oom_killer = true;
    mem.use_hierarchy = true;
    r.memory = mem;
    r.pids = spec::Pids{42};
    spec::BlockIO io;
    io.throttle_read_bps_device = {{8, 0, 1048576}};
    io.throttle_write_iops_device = {{8, 16, 300}};
    r.block_io = io;
    r.devices = {dev_rule(false, "", std::nullopt, std::nullopt, "rwm"), dev_rule(true, "c", 1, 3, "rwm"),
                 dev_rule(true, "c", 136, std::nullopt, "rw")};
    ASSERT_TRUE(m->apply(r)) << m->apply(r).error().message();

    EXPECT_EQ(at("cpu", "cpu.shares"), "512");
    EXPECT_EQ(at("cpu", "cpu.cfs_quota_us"), "50000");
    EXPECT_EQ(at("cpu", "cpu.cfs_period_us"), "100000");
    EXPECT_EQ(at("cpu", "cpu.cfs_burst_us"), "1000");
    EXPECT_EQ(at("cpu", "cpu.rt_runtime_us"), "950");
    EXPECT_EQ(at("cpu", "cpu.rt_period_us"), "1000");
    EXPECT_EQ(at("cpu", "cpu.idle"), "0");
    EXPECT_EQ(at("cpuset", "cpuset.cpus"), "0-1");
    EXPECT_EQ(at("cpuset", "cpuset.mems"), "0");
    EXPECT_EQ(at("memory", "memory.limit_in_bytes"), std::to_string(100 << 20));
    EXPECT_EQ(at("memory", "memory.memsw.limit_in_bytes"), std::to_string(200 << 20));
    EXPECT_EQ(at("memory", "memory.soft_limit_in_bytes"), std::to_string(50 << 20));
    EXPECT_EQ(at("memory", "memory.kmem.limit_in_bytes"), std::to_string(30 << 20));
    EXPECT_EQ(at("memory", "memory.kmem.tcp.limit_in_bytes"), std::to_string(10 << 20));
    EXPECT_EQ(at("memory", "memory.swappiness"), "10");
    EXPECT_EQ(at("memory", "memory.oom_control"), "1");
    EXPECT_EQ(at("memory", "memory.use_hierarchy"), "1");
    EXPECT_EQ(at("pids", "pids.max"), "42");
    EXPECT_EQ(at("blkio", "blkio.throttle.read_bps_device"), "8:0 1048576");
    EXPECT_EQ(at("blkio", "blkio.throttle.write_iops_device"), "8:16 300");
    // Devices: deny all first, then the rules in order (the leading deny-all is not repeated).
    EXPECT_EQ(log.to("/devices.deny").size() + log.to("/devices.allow").size(), 3u);
    std::vector<std::string> dev;
    for (const auto &w : log.writes)
        if (w.find("/devices.") != std::string::npos) dev.push_back(w.substr(w.find("/devices.")));
    EXPECT_EQ(dev, (std::vector<std::string>{"/devices.deny=a", "/devices.allow=c 1:3 rwm",
                                             "/devices.allow=c 136:* rw"}));
}

TEST_F(FakeV1, MemswOrderFollowsRunc) {
    // Current limit unlimited: raising memsw... the current limit (huge) is
    // not below the new memsw, so the limit goes first, then memsw.
    spec::Resources r;
    r.memory = spec::Memory{};
    r.memory->limit = 100;
    r.memory->swap = 200;
    ASSERT_TRUE(m->apply(r));
    auto order = log.to("_in_bytes");
    ASSERT_EQ(order.size(), 2u);
    EXPECT_NE(order[0].find("memory.limit_in_bytes=100"), std::string::npos);
    EXPECT_NE(order[1].find("memory.memsw.limit_in_bytes=200"), std::string::npos);

    // Now current limit 100 < new memsw 1000: memsw first, then the limit.
    log.writes.clear();
    r.memory->limit = 500;
    r.memory->swap = 1000;
    ASSERT_TRUE(m->apply(r));
    order = log.to("_in_bytes");
    ASSERT_EQ(order.size(), 2u);
    EXPECT_NE(order[0].find("memory.memsw.limit_in_bytes=1000"), std::string::npos);
    EXPECT_NE(order[1].find("memory.limit_in_bytes=500"), std::string::npos);

    // Unlimited memory, swap unset: memsw goes unlimited too.
    log.writes.clear();
    r.memory->limit = -1;
    r.memory->swap.reset();
    ASSERT_TRUE(m->apply(r));
    order = log.to("_in_bytes");
    ASSERT_EQ(order.size(), 2u);
    EXPECT_NE(order[0].find("memory.memsw.limit_in_bytes=-1"), std::string::npos);
    EXPECT_NE(order[1].find("memory.limit_in_bytes=-1"), std::string::npos);
}

TEST_F(FakeV1, UnsupportedSettingsFailBeforeAnyWrite) {
    auto expect_refused = [&](const spec::Resources &r, const std::string &needle) {
        log.writes.clear();
        auto st = m->apply(r);
        ASSERT_FALSE(st);
        EXPECT_NE(st.error().message().find(needle), std::string::npos) << st.error().message();
        EXPECT_TRUE(log.writes.empty()) << ::testing::PrintToString(log.writes);
    };
    spec::Resources base;
    base.pids = spec::Pids{10}; // would be written if the check came too late
    {
        auto r = base;
        r.unified["memory.high"] = "1";
        expect_refused(r, "cgroup v2 settings cannot be applied on a cgroup v1 host");
    }
    {
        auto r = base;
        r.hugepage_limits = {{"2MB", 1 << 21}};
        expect_refused(r, "hugetlb cgroup controller is not mounted");
    }
    {
        auto r = base;
        r.network = spec::Network{};
        r.network->class_id = 7;
        expect_refused(r, "net_cls cgroup controller is not mounted");
    }
    {
        auto r = base;
        r.block_io = spec::BlockIO{};
        r.block_io->weight = 500;
        expect_refused(r, "no blkio.weight or blkio.bfq.weight");
    }
    {
        auto r = base;
        r.memory = spec::Memory{};
        r.memory->swappiness = 101;
        expect_refused(r, "out of range (0-100)");
    }
    {
        ::unlink((root + "/cpu/corral-test/c1/cpu.idle").c_str());
        auto r = base;
        r.cpu = spec::Cpu{};
        r.cpu->idle = 1;
        expect_refused(r, "cpu.idle: not supported by this kernel");
    }
}

TEST_F(FakeV1, BlkioWeightWhenTheSchedulerHasOne) {
    put(root + "/blkio/corral-test/c1/blkio.bfq.weight");
    put(root + "/blkio/corral-test/c1/blkio.bfq.weight_device");
    spec::Resources r;
    r.block_io = spec::BlockIO{};
    r.block_io->weight = 300;
    r.block_io->weight_device = {{8, 0, 700, std::nullopt}};
    ASSERT_TRUE(m->apply(r)) << m->apply(r).error().message();
    EXPECT_EQ(at("blkio", "blkio.bfq.weight"), "300");
    EXPECT_EQ(at("blkio", "blkio.bfq.weight_device"), "8:0 700");
}

TEST_F(FakeV1, DevicesUnchangedAreNotRewritten) {
    // devices.list already shows exactly the whitelist the rules produce.
    put(root + "/devices/corral-test/c1/devices.list", "c 1:3 rwm\nc *:* m\n");
    spec::Resources r;
    r.devices = {dev_rule(false, "a", std::nullopt, std::nullopt, "rwm"), dev_rule(true, "c", 1, 3, "r"),
                 dev_rule(true, "c", std::nullopt, std::nullopt, "m"), dev_rule(true, "c", 1, 3, "wm")};
    ASSERT_TRUE(m->apply(r));
    EXPECT_TRUE(log.writes.empty()) << ::testing::PrintToString(log.writes);
    // A narrower "a" rule is split into c and b (the kernel reads any "a" as everything).
    r.devices = {dev_rule(false, "a", std::nullopt, std::nullopt, "rwm"), dev_rule(true, "a", 7, std::nullopt, "r")};
    ASSERT_TRUE(m->apply(r));
    EXPECT_EQ(log.writes.size(), 3u);
    EXPECT_EQ(at("devices", "devices.allow"), "b 7:* r");
}

TEST_F(FakeV1, RuncDefaultDevicePolicy) {
    spec::Resources r;
    r.devices = {dev_rule(false, "", std::nullopt, std::nullopt, "rwm")};
    for (auto &d : default_allowed_devices()) r.devices.push_back(d);
    ASSERT_TRUE(m->apply(r));
    auto allow = log.to("/devices.allow");
    ASSERT_EQ(allow.size(), 11u);
    EXPECT_NE(allow[0].find("=c *:* m"), std::string::npos);
    EXPECT_NE(allow[8].find("=c 136:* rwm"), std::string::npos);
    EXPECT_NE(allow[10].find("=c 10:200 rwm"), std::string::npos);
}

TEST_F(FakeV1, FreezeThawAddProcessStats) {
    ASSERT_TRUE(m->freeze());
    EXPECT_EQ(at("freezer", "freezer.state"), "FROZEN");
    ASSERT_TRUE(m->thaw());
    EXPECT_EQ(at("freezer", "freezer.state"), "THAWED");

    ASSERT_TRUE(m->add_process(4242));
    EXPECT_EQ(log.to("/cgroup.procs").size(), 9u);
    EXPECT_EQ(at("memory", "cgroup.procs"), "4242");
    EXPECT_EQ(at("systemd", "cgroup.procs"), "4242");
    auto pids = m->pids();
    ASSERT_TRUE(pids);
    EXPECT_EQ(*pids, std::vector<pid_t>{4242});

    auto s = m->stats();
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(s->cpu_usage_total_ns, 5000000u);
    EXPECT_EQ(s->cpu_usage_user_ns, 2 * (1000000000ull / sysconf(_SC_CLK_TCK)));
    EXPECT_EQ(s->cpu_throttled_periods, 3u);
    EXPECT_EQ(s->cpu_throttled_time_ns, 12345u);
    EXPECT_EQ(s->memory_usage, 4096u);
    EXPECT_EQ(s->memory_max_usage, 8192u);
    EXPECT_EQ(s->memory_cache, 100u);
    EXPECT_EQ(s->memory_rss, 200u);
    EXPECT_EQ(s->pids_current, 1u);
    EXPECT_EQ(s->pids_limit, 0u); // "max"
    EXPECT_EQ(s->oom_kill, 2u);
    EXPECT_EQ(*m->oom_kill_count(), 2u);
}

TEST_F(FakeV1, ReopenFromRecordedPaths) {
    Options o;
    o.root = "/nonexistent"; // not consulted: the recorded paths are used as they are
    o.paths = m->paths();
    o.on_write = log.observer();
    auto reopened = open_manager(Mode::v1, o);
    ASSERT_TRUE(reopened) << reopened.error().message();
    EXPECT_EQ((*reopened)->paths(), m->paths());
    ASSERT_TRUE((*reopened)->freeze());
    EXPECT_EQ(at("freezer", "freezer.state"), "FROZEN");
}

TEST(FakeV1Paths, CoMountedAndRelativeAndHybrid) {
    TempDir tmp;
    const std::string root = tmp.path();
    for (const char *h : {"cpu,cpuacct", "memory", "devices", "systemd"}) put(root + "/" + h + "/cgroup.procs");
    ASSERT_EQ(::symlink("cpu,cpuacct", (root + "/cpu").c_str()), 0);
    ASSERT_EQ(::symlink("cpu,cpuacct", (root + "/cpuacct").c_str()), 0);
    put(root + "/unified/cgroup.controllers", "hugetlb\n");
    put(root + "/unified/cgroup.procs");
    put(root + "/self-cgroup",
        "9:name=systemd:/user.slice\n4:memory:/process_api/abc\n2:cpu,cpuacct:/\n1:devices:/dev-parent\n0::/u\n");

    Options o;
    o.root = root;
    o.proc_self_cgroup = root + "/self-cgroup";
    o.container_id = "ctr1"; // empty cgroupsPath: "ctr1" relative to our own cgroups (runc)
    auto m = make_manager(Mode::v1, o);
    ASSERT_TRUE(m) << m.error().message();
    auto paths = (*m)->paths();
    std::map<std::string, std::string> byKey(paths.begin(), paths.end());
    EXPECT_EQ(byKey["cpu"], root + "/cpu,cpuacct/ctr1");
    EXPECT_EQ(byKey["cpuacct"], root + "/cpu,cpuacct/ctr1");
    EXPECT_EQ(byKey["memory"], root + "/memory/process_api/abc/ctr1");
    EXPECT_EQ(byKey["devices"], root + "/devices/dev-parent/ctr1");
    EXPECT_EQ(byKey["name=systemd"], root + "/systemd/user.slice/ctr1");
    EXPECT_EQ(byKey[""], root + "/unified/u/ctr1");
    EXPECT_EQ(paths.size(), 6u);

    // Relative paths cannot climb out of our cgroup.
    o.cgroups_path = "../../a/b";
    m = make_manager(Mode::v1, o);
    ASSERT_TRUE(m);
    paths = (*m)->paths();
    byKey = {paths.begin(), paths.end()};
    EXPECT_EQ(byKey["memory"], root + "/memory/process_api/abc/a/b");
}

TEST(FakeV1Paths, RefusesRootAndSystemdAndNoDevices) {
    TempDir tmp;
    make_v1_hierarchy_root(tmp.path());
    Options o;
    o.root = tmp.path();
    o.cgroups_path = "/";
    EXPECT_FALSE(make_manager(Mode::v1, o));
    o.cgroups_path = "a/..";
    EXPECT_FALSE(make_manager(Mode::v1, o));
    o.cgroups_path = "system.slice:docker:abc";
    o.systemd = true;
    auto r = make_manager(Mode::v1, o);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("systemd cgroup driver"), std::string::npos);

    TempDir nodev;
    put(nodev.path() + "/memory/cgroup.procs");
    Options o2;
    o2.root = nodev.path();
    o2.cgroups_path = "/x";
    r = make_manager(Mode::v1, o2);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("devices cgroup hierarchy is not mounted"), std::string::npos);
}

// --- v2 ----------------------------------------------------------------------

TEST_F(FakeV2, CreateEnablesControllersDownTheTree) {
    ASSERT_TRUE(m->create());
    const std::string all = "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc";
    EXPECT_EQ(get(root + "/cgroup.subtree_control"), all);
    EXPECT_EQ(get(root + "/corral-test/cgroup.subtree_control"), all);
    EXPECT_EQ(at("cgroup.subtree_control"), ""); // not in the leaf: it will hold processes
    EXPECT_NE(at("memory.oom.group"), "1"); // only when unified asks (runc, kubelet)
    EXPECT_EQ(log.writes.size(), 2u); // subtree_control of root and parent; no memory.oom.group
    EXPECT_EQ(m->paths(), (std::vector<std::pair<std::string, std::string>>{{"", root + "/corral-test/c1"}}));
}

TEST_F(FakeV2, AppliesConvertedResources) {
    spec::Resources r;
    spec::Cpu cpu;
    cpu.shares = 1024;
    cpu.quota = 50000;
    cpu.period = 100000;
    cpu.burst = 10000;
    cpu.cpus = "1";
    cpu.mems = "0";
    r.cpu = cpu;
    spec::Memory mem;
    mem.limit = 100 << 20;
    mem.swap = 300 << 20;
    mem.reservation = 10 << 20;
    r.memory = mem;
    r.pids = spec::Pids{-1};
    spec::BlockIO io;
    io.weight = 500;
    io.throttle_read_bps_device = {{259, 0, 2097152}};
    io.throttle_write_iops_device = {{259, 0, 120}};
    r.block_io = io;
    r.hugepage_limits = {{"2MB", 209715200}};
    r.rdma_raw["mlx5_1"] = R"({"hcaHandles": 3, "hcaObjects": 10000})";
    r.unified["memory.high"] = "90000000";
    r.devices = {dev_rule(false, "", std::nullopt, std::nullopt, "rwm")};
    ASSERT_TRUE(m->apply(r)) << m->apply(r).error().message();

    EXPECT_EQ(at("cpu.weight"), "39"); // runc's linear conversion of 1024
    EXPECT_EQ(at("cpu.max"), "50000 100000");
    EXPECT_EQ(at("cpu.max.burst"), "10000");
    EXPECT_EQ(at("cpuset.cpus"), "1");
    EXPECT_EQ(at("cpuset.mems"), "0");
    EXPECT_EQ(at("memory.max"), std::to_string(100 << 20));
    EXPECT_EQ(at("memory.swap.max"), std::to_string(200 << 20)); // swap only: 300M - 100M
    EXPECT_EQ(at("memory.low"), std::to_string(10 << 20));
    EXPECT_EQ(at("pids.max"), "max");
    EXPECT_EQ(at("io.weight"), "4950"); // no BFQ: 1 + (500-10)*9999/990
    EXPECT_EQ(log.to("/io.max"),
              (std::vector<std::string>{"/corral-test/c1/io.max=259:0 rbps=2097152",
                                        "/corral-test/c1/io.max=259:0 wiops=120"}));
    EXPECT_EQ(at("hugetlb.2MB.max"), "209715200");
    EXPECT_EQ(at("hugetlb.2MB.rsvd.max"), "209715200");
    EXPECT_EQ(at("rdma.max"), "mlx5_1 hca_handle=3 hca_object=10000");
    EXPECT_EQ(at("memory.high"), "90000000");
    EXPECT_NE(log.writes.back().find("memory.high"), std::string::npos); // unified last
}

TEST_F(FakeV2, SwapEqualToLimitDisablesSwapAndPeriodAloneKeepsQuota) {
    put(root + "/corral-test/c1/cpu.max", "25000 100000\n");
    spec::Resources r;
    r.memory = spec::Memory{};
    r.memory->limit = 1000;
    r.memory->swap = 1000;
    r.cpu = spec::Cpu{};
    r.cpu->period = 50000;
    ASSERT_TRUE(m->apply(r));
    EXPECT_EQ(at("memory.swap.max"), "0");
    EXPECT_EQ(at("cpu.max"), "25000 50000");
}

TEST_F(FakeV2, BfqWeightWhenPresent) {
    put(root + "/corral-test/c1/io.bfq.weight");
    spec::Resources r;
    r.block_io = spec::BlockIO{};
    r.block_io->weight = 500;
    r.block_io->weight_device = {{8, 0, 100, std::nullopt}};
    ASSERT_TRUE(m->apply(r));
    EXPECT_EQ(log.to("/io.bfq.weight"), (std::vector<std::string>{"/corral-test/c1/io.bfq.weight=500",
                                                                 "/corral-test/c1/io.bfq.weight=8:0 100"}));
}

TEST_F(FakeV2, RefusalsBeforeAnyWrite) {
    auto expect_refused = [&](const spec::Resources &r, const std::string &needle) {
        log.writes.clear();
        auto st = m->apply(r);
        ASSERT_FALSE(st);
        EXPECT_NE(st.error().message().find(needle), std::string::npos) << st.error().message();
        EXPECT_TRUE(log.writes.empty()) << ::testing::PrintToString(log.writes);
    };
    spec::Resources base;
    base.pids = spec::Pids{10};
    {
        // Taking w from 1:3 after allowing c 1:* punches a hole v1 cannot keep.
        auto r = base;
        r.devices = {dev_rule(false, "", std::nullopt, std::nullopt, "rwm"), dev_rule(true, "c", 1, std::nullopt, "rwm"),
                     dev_rule(false, "c", 1, 3, "w")};
        expect_refused(r, "linux.resources.devices[2]: `deny c 1:3 w` would punch a hole in the earlier "
                          "wildcard rule `allow c 1:* rwm`");
        EXPECT_TRUE(programs.empty());
    }
    {
        auto r = base;
        r.devices = {dev_rule(false, "x", 10, 200, "rwm")};
        expect_refused(r, "linux.resources.devices[0].type: `x` is not one of a, c, b");
    }
    for (const char *bad : {"../memory.max", "a/b", "..", "nodot"}) {
        auto r = base;
        r.unified[bad] = "1";
        expect_refused(r, "linux.resources.unified");
    }
    {
        auto r = base;
        r.unified["net_cls.classid"] = "1";
        expect_refused(r, "the net_cls controller is not available");
    }
    {
        auto r = base;
        r.memory = spec::Memory{};
        r.memory->limit = 100;
        r.memory->swap = 50;
        expect_refused(r, "memory+swap limit should be >= memory limit");
    }
    {
        auto r = base;
        r.cpu = spec::Cpu{};
        r.cpu->realtime_runtime = 100;
        expect_refused(r, "realtime group scheduling does not exist on cgroup v2");
    }
    {
        auto r = base;
        r.network = spec::Network{};
        r.network->class_id = 1;
        expect_refused(r, "net_cls and net_prio do not exist on cgroup v2");
    }
    {
        auto r = base;
        r.hugepage_limits = {{"1GB", 1}};
        expect_refused(r, "page size `1GB` is not supported");
    }
    {
        put(root + "/corral-test/c1/cgroup.controllers", "cpu memory\n");
        auto r = base;
        expect_refused(r, "the pids controller is not available");
    }
}

TEST_F(FakeV2, DeviceRulesBecomeOneProgramPerApply) {
    spec::Resources r;
    r.devices = {dev_rule(true, "a", std::nullopt, std::nullopt, "rwm")}; // privileged: allow all, 2 insns
    ASSERT_TRUE(m->apply(r));
    r.devices = {dev_rule(false, "", std::nullopt, std::nullopt, "rwm")}; // deny all
    ASSERT_TRUE(m->apply(r));
    r.devices.push_back(dev_rule(true, "c", 10, 229, "rwm")); // a linux.devices node
    for (auto &d : default_allowed_devices()) r.devices.push_back(d);
    ASSERT_TRUE(m->apply(r));
    std::string dir = root + "/corral-test/c1";
    using P = std::pair<std::string, size_t>;
    // 6 loads; c *:* m and b *:* m: type, access, verdict (4 each); nine
    // rwm rules on type major:minor (5 each); c 136:* rwm (4); the default (2).
    EXPECT_EQ(programs, (std::vector<P>{{dir, 2}, {dir, 2}, {dir, 6 + 2 * 4 + 9 * 5 + 4 + 2}}));
    EXPECT_TRUE(log.writes.empty()) << ::testing::PrintToString(log.writes);
    // No rules, no program: `update` without devices leaves the filter alone.
    programs.clear();
    r = spec::Resources{};
    r.pids = spec::Pids{10};
    ASSERT_TRUE(m->apply(r));
    EXPECT_TRUE(programs.empty());
}

TEST_F(FakeV2, FreezeStatsPidsReopen) {
    ASSERT_TRUE(m->freeze()); // cgroup.events already says "frozen 1"
    EXPECT_EQ(at("cgroup.freeze"), "1");
    ASSERT_TRUE(m->thaw());
    EXPECT_EQ(at("cgroup.freeze"), "0");

    put(root + "/corral-test/c1/cgroup.procs", "10\n11\n");
    put(root + "/corral-test/c1/sub/cgroup.procs", "12\n");
    auto pids = m->pids();
    ASSERT_TRUE(pids);
    std::sort(pids->begin(), pids->end());
    EXPECT_EQ(*pids, (std::vector<pid_t>{10, 11, 12}));

    auto s = m->stats();
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(s->cpu_usage_total_ns, 7000u);
    EXPECT_EQ(s->cpu_usage_user_ns, 5000u);
    EXPECT_EQ(s->cpu_throttled_time_ns, 9000u);
    EXPECT_EQ(s->memory_usage, 1000u);
    EXPECT_EQ(s->memory_max_usage, 3000u);
    EXPECT_EQ(s->memory_limit, UINT64_MAX);
    EXPECT_EQ(s->memory_cache, 300u);
    EXPECT_EQ(s->memory_rss, 600u);
    EXPECT_EQ(s->memory_failcnt, 4u);
    EXPECT_EQ(s->swap_usage, 1010u); // swap + memory, as v1 reports it
    EXPECT_EQ(s->pids_current, 2u);
    EXPECT_EQ(s->oom_kill, 1u);
    EXPECT_EQ(*m->oom_kill_count(), 1u);

    Options o = opts;
    o.paths = m->paths();
    o.cgroups_path.clear();
    auto reopened = open_manager(Mode::v2, o);
    ASSERT_TRUE(reopened);
    EXPECT_EQ((*reopened)->paths(), m->paths());
}

TEST(FakeV2Paths, RelativeGoesUnderTheParentOfOurCgroup) {
    TempDir tmp;
    make_v2_tree(tmp.path(), "/x");
    put(tmp.path() + "/self-cgroup", "0::/user.slice/session-1.scope\n");
    Options o;
    o.root = tmp.path();
    o.proc_self_cgroup = tmp.path() + "/self-cgroup";
    o.cgroups_path = "pod/ctr";
    auto m = make_manager(Mode::v2, o);
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ((*m)->paths()[0].second, tmp.path() + "/user.slice/pod/ctr");
}

// --- disabled ----------------------------------------------------------------

TEST(Disabled, NoOpsAndClearErrors) {
    auto m = make_manager(Mode::disabled, Options{});
    ASSERT_TRUE(m);
    EXPECT_TRUE((*m)->create());
    EXPECT_TRUE((*m)->add_process(1));
    spec::Resources r;
    r.pids = spec::Pids{5};
    EXPECT_TRUE((*m)->apply(r));
    EXPECT_TRUE((*m)->destroy());
    EXPECT_TRUE((*m)->paths().empty());
    auto f = (*m)->freeze();
    ASSERT_FALSE(f);
    EXPECT_NE(f.error().message().find("cgroups are disabled"), std::string::npos);
}
