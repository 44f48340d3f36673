// `events` statistics: read from fake cgroup v1 and v2 trees, and printed in
// the exact JSON shape runc 1.1.5 prints (field order, omitempty, null
// network_interfaces), checked against output captured from runc.
#include "common/fs.hpp"
#include "runtime/stats.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <limits>
#include <unistd.h>

using namespace corral;

namespace {

class FakeTree : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/corral-stats-test-XXXXXX";
        root_ = ::mkdtemp(tmpl);
    }
    void TearDown() override { (void)remove_tree(root_); }

    std::string dir(const std::string &name) {
        std::string d = root_ + "/" + name;
        EXPECT_TRUE(mkdir_p(d));
        return d;
    }
    void put(const std::string &d, const std::string &file, const std::string &text) {
        ASSERT_TRUE(write_file_atomic(d + "/" + file, text, 0644));
    }

    std::string root_;
};

// All zero (as runc prints cpuset on v2, where it reads none): structs are
// always there, omitempty numbers and lists are not, intel_rdt is {}.
TEST(StatsJson, EmptyStatsAreRuncsZeroShape) {
    ContainerStats s;
    EXPECT_EQ(stats_to_json(s),
              R"({"cpu":{"usage":{"kernel":0,"user":0},"throttling":{}},)"
              R"("cpuset":{"cpu_exclusive":0,"mem_hardwall":0,"mem_exclusive":0,"memory_migrate":0,)"
              R"("memory_spread_page":0,"memory_spread_slab":0,"memory_pressure":0,"sched_load_balance":0,)"
              R"("sched_relax_domain_level":0},)"
              R"("memory":{"usage":{"limit":0,"failcnt":0},"swap":{"limit":0,"failcnt":0},)"
              R"("kernel":{"limit":0,"failcnt":0},"kernelTCP":{"limit":0,"failcnt":0}},)"
              R"("pids":{},"blkio":{},"hugetlb":{},"intel_rdt":{},"network_interfaces":null})");
}

TEST(StatsJson, EventsAreOneLine) {
    EXPECT_EQ(event_to_json(Event{"oom", "c1", std::nullopt}), R"({"type":"oom","id":"c1"})");
    std::string stats = event_to_json(Event{"stats", "c1", ContainerStats{}});
    EXPECT_EQ(stats.rfind(R"({"type":"stats","id":"c1","data":{"cpu":)", 0), 0u) << stats;
    EXPECT_EQ(stats.find('\n'), std::string::npos);
}

TEST(StatsJson, FilledStatsFollowGosOmitempty) {
    ContainerStats s;
    s.cpu.total = 14322150;
    s.cpu.percpu = {13634318, 687832};
    s.cpu.percpu_kernel = {7992080, 0};
    s.cpu.percpu_user = {0, 0};
    s.cpu.kernel = 10000000;
    s.cpu.periods = 3;
    s.cpuset.cpus = {0, 1};
    s.cpuset.mems = {0};
    s.cpuset.sched_load_balance = 1;
    s.cpuset.sched_relax_domain_level = -1;
    s.memory.cache = 4096;
    s.memory.usage = {67108864, 565248, 2244608, 0};
    s.memory.kernel_tcp = {9223372036854771712ull, 0, 0, 0};
    s.memory.raw = {{"rss", 45056}, {"active_anon", 4096}};
    s.pids.current = 1;
    s.blkio.io_service_bytes_recursive = {{8, 0, "Read", 4096}, {8, 0, "Total", 0}};
    s.hugetlb["2MB"] = {0, 0, 0};
    EXPECT_EQ(stats_to_json(s),
              R"({"cpu":{"usage":{"total":14322150,"percpu":[13634318,687832],"percpu_kernel":[7992080,0],)"
              R"("percpu_user":[0,0],"kernel":10000000,"user":0},"throttling":{"periods":3}},)"
              R"("cpuset":{"cpus":[0,1],"cpu_exclusive":0,"mems":[0],"mem_hardwall":0,"mem_exclusive":0,)"
              R"("memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,"memory_pressure":0,)"
              R"("sched_load_balance":1,"sched_relax_domain_level":-1},)"
              R"("memory":{"cache":4096,"usage":{"limit":67108864,"usage":565248,"max":2244608,"failcnt":0},)"
              R"("swap":{"limit":0,"failcnt":0},"kernel":{"limit":0,"failcnt":0},)"
              R"("kernelTCP":{"limit":9223372036854771712,"failcnt":0},"raw":{"active_anon":4096,"rss":45056}},)"
              R"("pids":{"current":1},)"
              R"("blkio":{"ioServiceBytesRecursive":[{"major":8,"op":"Read","value":4096},{"major":8,"op":"Total"}]},)"
              R"("hugetlb":{"2MB":{"failcnt":0}},"intel_rdt":{},"network_interfaces":null})");
}

TEST(HugepageNames, AreRuncs) {
    EXPECT_EQ(hugepage_size_name("hugepages-2048kB"), "2MB");
    EXPECT_EQ(hugepage_size_name("hugepages-1048576kB"), "1GB");
    EXPECT_EQ(hugepage_size_name("hugepages-64kB"), "64KB");
    EXPECT_EQ(hugepage_size_name("hugepages-32768kB"), "32MB");
    EXPECT_EQ(hugepage_size_name("hugepages-"), "");
    EXPECT_EQ(hugepage_size_name("other"), "");
}

TEST(CpuList, ExpandsRanges) {
    EXPECT_EQ(parse_cpu_list("0-1\n"), (std::vector<uint16_t>{0, 1}));
    EXPECT_EQ(parse_cpu_list("0,2-4,7"), (std::vector<uint16_t>{0, 2, 3, 4, 7}));
    EXPECT_EQ(parse_cpu_list(""), std::vector<uint16_t>{});
}

TEST_F(FakeTree, V1ReadsEveryController) {
    std::string acct = dir("cpu,cpuacct/c"), mem = dir("memory/c"), cpuset = dir("cpuset/c"), pids = dir("pids/c"),
                blkio = dir("blkio/c"), huge = dir("hugetlb/c"), pages = dir("hugepages");
    dir("hugepages/hugepages-2048kB");
    put(acct, "cpuacct.usage", "128150822\n");
    put(acct, "cpuacct.usage_percpu", "121521265 6629557 \n");
    put(acct, "cpuacct.usage_all", "cpu user system\n0 0 128000000\n1 0 0\n");
    put(acct, "cpuacct.stat", "user 1\nsystem 12\n");
    put(acct, "cpu.stat", "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\nnr_bursts 0\n");
    put(cpuset, "cpuset.cpus", "0-1\n");
    put(cpuset, "cpuset.mems", "0\n");
    put(cpuset, "cpuset.sched_load_balance", "1\n");
    put(cpuset, "cpuset.sched_relax_domain_level", "-1\n");
    put(mem, "memory.stat", "cache 8192\nrss 53248\nhierarchical_memory_limit 33554432\n");
    put(mem, "memory.usage_in_bytes", "286720\n");
    put(mem, "memory.max_usage_in_bytes", "33554432\n");
    put(mem, "memory.limit_in_bytes", "33554432\n");
    put(mem, "memory.failcnt", "7\n");
    put(mem, "memory.memsw.usage_in_bytes", "286720\n");
    put(mem, "memory.memsw.limit_in_bytes", "33554432\n");
    put(mem, "memory.kmem.limit_in_bytes", "9223372036854771712\n");
    put(pids, "pids.current", "3\n");
    put(pids, "pids.max", "max\n");
    put(blkio, "blkio.bfq.io_serviced_recursive", "Total 0\n");
    put(blkio, "blkio.throttle.io_serviced_recursive", "8:0 Read 2\n8:0 Write 1\n8:0 Total 3\nTotal 3\n");
    put(blkio, "blkio.throttle.io_service_bytes_recursive", "8:0 Read 8192\n8:0 Write 4096\nTotal 12288\n");
    put(huge, "hugetlb.2MB.usage_in_bytes", "0\n");
    put(huge, "hugetlb.2MB.failcnt", "1\n");

    ContainerStats s = collect_stats(cgroups::Mode::v1,
                                     {{"cpu", acct}, {"cpuacct", acct}, {"cpuset", cpuset}, {"memory", mem},
                                      {"pids", pids}, {"blkio", blkio}, {"hugetlb", huge}, {"devices", dir("devices/c")}},
                                     pages);
    long hz = ::sysconf(_SC_CLK_TCK);
    uint64_t tick = 1000000000ull / static_cast<uint64_t>(hz > 0 ? hz : 100);
    EXPECT_EQ(s.cpu.total, 128150822u);
    EXPECT_EQ(s.cpu.percpu, (std::vector<uint64_t>{121521265, 6629557}));
    EXPECT_EQ(s.cpu.percpu_kernel, (std::vector<uint64_t>{128000000, 0}));
    EXPECT_EQ(s.cpu.percpu_user, (std::vector<uint64_t>{0, 0}));
    EXPECT_EQ(s.cpu.user, 1 * tick);
    EXPECT_EQ(s.cpu.kernel, 12 * tick);
    EXPECT_EQ(s.cpu.periods, 10u);
    EXPECT_EQ(s.cpu.throttled_periods, 2u);
    EXPECT_EQ(s.cpu.throttled_time, 5000u);
    EXPECT_EQ(s.cpuset.cpus, (std::vector<uint16_t>{0, 1}));
    EXPECT_EQ(s.cpuset.sched_relax_domain_level, -1);
    EXPECT_EQ(s.memory.cache, 8192u);
    EXPECT_EQ(s.memory.raw.size(), 3u);
    EXPECT_EQ(s.memory.usage.usage, 286720u);
    EXPECT_EQ(s.memory.usage.max, 33554432u);
    EXPECT_EQ(s.memory.usage.limit, 33554432u);
    EXPECT_EQ(s.memory.usage.failcnt, 7u);
    EXPECT_EQ(s.memory.swap.limit, 33554432u);
    EXPECT_EQ(s.memory.kernel.limit, 9223372036854771712u);
    EXPECT_EQ(s.memory.kernel_tcp.limit, 0u); // no kmem.tcp files here
    EXPECT_EQ(s.pids.current, 3u);
    EXPECT_EQ(s.pids.limit, 0u); // "max"
    // bfq's group has no entries, so the throttle group is read (runc's order).
    ASSERT_EQ(s.blkio.io_serviced_recursive.size(), 3u);
    EXPECT_EQ(s.blkio.io_serviced_recursive[2].op, "Total");
    ASSERT_EQ(s.blkio.io_service_bytes_recursive.size(), 2u);
    EXPECT_EQ(s.blkio.io_service_bytes_recursive[0].value, 8192u);
    ASSERT_EQ(s.hugetlb.count("2MB"), 1u);
    EXPECT_EQ(s.hugetlb["2MB"].failcnt, 1u);

    auto j = nlohmann::json::parse(stats_to_json(s));
    EXPECT_EQ(j["blkio"]["ioServicedRecursive"][0], nlohmann::json({{"major", 8}, {"op", "Read"}, {"value", 2}}));
    EXPECT_EQ(j["hugetlb"]["2MB"], nlohmann::json({{"failcnt", 1}}));
    EXPECT_EQ(j["pids"], nlohmann::json({{"current", 3}}));
}

TEST_F(FakeTree, V2ReadsTheUnifiedFiles) {
    std::string cg = dir("unified/c"), pages = dir("hugepages");
    dir("hugepages/hugepages-2048kB");
    put(cg, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\n"
                        "throttled_usec 20\n");
    put(cg, "memory.stat", "anon 4096\nfile 8192\n");
    put(cg, "memory.current", "12288\n");
    put(cg, "memory.max", "33554432\n");
    put(cg, "memory.swap.current", "100\n");
    put(cg, "memory.swap.max", "max\n");
    put(cg, "pids.current", "2\n");
    put(cg, "pids.max", "20\n");
    put(cg, "io.stat", "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
    put(cg, "hugetlb.2MB.current", "2097152\n");
    put(cg, "hugetlb.2MB.events", "max 3\n");

    ContainerStats s = collect_stats(cgroups::Mode::v2, {{"", cg}}, pages);
    EXPECT_EQ(s.cpu.total, 1500000u);
    EXPECT_EQ(s.cpu.user, 1000000u);
    EXPECT_EQ(s.cpu.kernel, 500000u);
    EXPECT_EQ(s.cpu.throttled_time, 20000u);
    EXPECT_TRUE(s.cpu.percpu.empty());
    EXPECT_EQ(s.memory.cache, 8192u);
    EXPECT_EQ(s.memory.usage.usage, 12288u);
    EXPECT_EQ(s.memory.usage.limit, 33554432u);
    EXPECT_EQ(s.memory.swap.usage, 12388u);                         // swap + memory, as v1's memsw
    EXPECT_EQ(s.memory.swap.limit, std::numeric_limits<uint64_t>::max()); // "max" stays max
    EXPECT_EQ(s.pids.limit, 20u);
    ASSERT_EQ(s.blkio.io_service_bytes_recursive.size(), 2u);
    EXPECT_EQ(s.blkio.io_service_bytes_recursive[0].op, "Read");
    EXPECT_EQ(s.blkio.io_service_bytes_recursive[0].value, 4096u);
    EXPECT_EQ(s.blkio.io_service_bytes_recursive[1].op, "Write");
    ASSERT_EQ(s.blkio.io_serviced_recursive.size(), 2u);
    EXPECT_EQ(s.hugetlb["2MB"].usage, 2097152u);
    EXPECT_EQ(s.hugetlb["2MB"].failcnt, 3u);
}

TEST_F(FakeTree, MissingFilesReadAsZero) {
    ContainerStats s = collect_stats(cgroups::Mode::v1, {{"memory", root_ + "/gone"}, {"cpu", root_ + "/gone"}},
                                     root_ + "/no-hugepages");
    EXPECT_EQ(s.memory.usage.limit, 0u);
    EXPECT_TRUE(s.memory.raw.empty());
    EXPECT_TRUE(s.hugetlb.empty());
}

} // namespace
