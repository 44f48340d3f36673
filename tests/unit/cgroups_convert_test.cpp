// runc's v1 → v2 conversions and the small parsers the backends share.
#include "cgroups/manager.hpp"
#include "cgroups/util.hpp"
#include "cgroups/v1/v1.hpp"

#include <gtest/gtest.h>

using namespace corral;
using namespace corral::cgroups;

TEST(Convert, SharesToWeightIsRuncsLinearFormula) {
    EXPECT_EQ(cpu_shares_to_weight(0), 0u); // unset
    EXPECT_EQ(cpu_shares_to_weight(2), 1u);
    EXPECT_EQ(cpu_shares_to_weight(1024), 39u); // the default (the quadratic fit would give 100)
    EXPECT_EQ(cpu_shares_to_weight(262144), 10000u);
    EXPECT_EQ(cpu_shares_to_weight(1), 1u); // below the kernel minimum: no wrap-around
}

TEST(Convert, SwapIsMemoryPlusSwapOnV1SwapOnlyOnV2) {
    EXPECT_EQ(*memory_swap_to_v2(0, -1), -1);       // unlimited memory, swap unset: unlimited swap
    EXPECT_EQ(*memory_swap_to_v2(-1, 100), -1);     // "max"
    EXPECT_EQ(*memory_swap_to_v2(0, 100), 0);       // unset
    EXPECT_EQ(*memory_swap_to_v2(300, 100), 200);   // swap only
    EXPECT_EQ(*memory_swap_to_v2(100, 100), 0);     // no swap
    EXPECT_FALSE(memory_swap_to_v2(50, 100));       // memsw below memory
    EXPECT_FALSE(memory_swap_to_v2(100, 0));        // swap without a memory limit
    EXPECT_FALSE(memory_swap_to_v2(100, -1));
    EXPECT_EQ(memory_swap_to_v2(100, 0).error().message(), "unable to set swap limit without memory limit");
}

TEST(Convert, BlkioWeightToIoWeight) {
    EXPECT_EQ(blkio_weight_to_io_weight(0), 0u);
    EXPECT_EQ(blkio_weight_to_io_weight(10), 1u);
    EXPECT_EQ(blkio_weight_to_io_weight(500), 4950u);
    EXPECT_EQ(blkio_weight_to_io_weight(1000), 10000u);
}

TEST(Convert, DefaultAllowedDevicesAreRuncs) {
    auto d = default_allowed_devices();
    ASSERT_EQ(d.size(), 11u);
    std::vector<std::string> s;
    for (const auto &r : d) {
        EXPECT_TRUE(r.allow);
        s.push_back(v1::device_rule_string(r));
    }
    EXPECT_EQ(s, (std::vector<std::string>{"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm",
                                           "c 1:5 rwm", "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"}));
}

TEST(Util, CleanCgroupPath) {
    using detail::clean_cgroup_path;
    EXPECT_EQ(clean_cgroup_path("/a//b/../c/"), "/a/c");
    EXPECT_EQ(clean_cgroup_path("a/b"), "a/b");
    EXPECT_EQ(clean_cgroup_path("../../x"), "x"); // cannot climb out of our own cgroup
    EXPECT_EQ(clean_cgroup_path("a/.."), "");
    EXPECT_EQ(clean_cgroup_path(""), "");
}

TEST(Util, FindKeyAndParseUint) {
    using detail::find_key;
    std::string text = "nr_periods 10\nnr_throttled 3\nthrottled_time 12345\nmax 7";
    EXPECT_EQ(find_key(text, "nr_throttled"), 3u);
    EXPECT_EQ(find_key(text, "throttled_time"), 12345u);
    EXPECT_EQ(find_key(text, "max"), 7u);
    EXPECT_EQ(find_key(text, "nr"), std::nullopt); // whole keys only
    EXPECT_EQ(detail::parse_uint("max\n"), UINT64_MAX);
    EXPECT_EQ(detail::parse_uint("12x"), std::nullopt);
    EXPECT_EQ(detail::parse_uint(""), std::nullopt);
}

TEST(Util, OwnCgroupLookup) {
    std::vector<std::pair<std::string, std::string>> lines = {
        {"name=systemd", "/s"}, {"cpu,cpuacct", "/c"}, {"memory", "/m"}, {"", "/u"}};
    EXPECT_EQ(detail::own_cgroup_of(lines, "cpuacct"), "/c");
    EXPECT_EQ(detail::own_cgroup_of(lines, "name=systemd"), "/s");
    EXPECT_EQ(detail::own_cgroup_of(lines, ""), "/u");
    EXPECT_EQ(detail::own_cgroup_of(lines, "pids"), std::nullopt);
    EXPECT_EQ(detail::own_cgroup_of(lines, "cpu,"), std::nullopt);
}

TEST(Util, RdmaLine) {
    EXPECT_EQ(*detail::rdma_limit_line("mlx4_0", R"({"hcaObjects":1000})"), "mlx4_0 hca_object=1000");
    EXPECT_EQ(*detail::rdma_limit_line("rxe3", R"({ "hcaHandles" : 3, "hcaObjects": 10 })"),
              "rxe3 hca_handle=3 hca_object=10");
    EXPECT_FALSE(detail::rdma_limit_line("x", "{}"));
}

TEST(Util, InnerPathDefaultsToTheContainerId) {
    Options o;
    o.container_id = "abc";
    EXPECT_EQ(*detail::inner_path(o), "abc");
    o.cgroups_path = "/kubepods/pod1/abc";
    EXPECT_EQ(*detail::inner_path(o), "/kubepods/pod1/abc");
    o.cgroups_path.clear();
    o.container_id.clear();
    EXPECT_FALSE(detail::inner_path(o));
}
