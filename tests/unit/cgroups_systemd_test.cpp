// The systemd driver's pure parts: cgroupsPath "slice:prefix:name" → unit
// and cgroup path (runc's rules), linux.resources → unit properties, and the
// refusal on a host where systemd is not init.
#include "cgroups/manager.hpp"
#include "cgroups/systemd/properties.hpp"
#include "cgroups/systemd/systemd.hpp"
#include "cgroups/systemd/unit_path.hpp"

#include <gtest/gtest.h>

using namespace corral;
using namespace corral::cgroups;
using namespace corral::cgroups::systemd;

namespace {

std::string expanded(std::string_view slice) {
    auto r = expand_slice(slice);
    return r ? *r : "ERROR: " + r.error().message();
}

const Property *find(const std::vector<Property> &props, std::string_view name) {
    for (const auto &p : props)
        if (p.name == name) return &p;
    return nullptr;
}

uint64_t u64(const std::vector<Property> &props, std::string_view name) {
    const Property *p = find(props, name);
    if (!p || !std::holds_alternative<uint64_t>(p->value)) return 0xdead;
    return std::get<uint64_t>(p->value);
}

} // namespace

TEST(SystemdSlice, ExpandsDashesIntoNestedParents) {
    EXPECT_EQ(expanded("system.slice"), "/system.slice");
    EXPECT_EQ(expanded("a-b.slice"), "/a.slice/a-b.slice");
    EXPECT_EQ(expanded("kubepods-burstable-pod12_34.slice"),
              "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12_34.slice");
    EXPECT_EQ(expanded("-.slice"), ""); // the root slice
}

TEST(SystemdSlice, RefusesMalformedNames) {
    for (const char *bad : {"system", ".slice", "a--b.slice", "-a.slice", "a-.slice", "a/b.slice", "a b.slice",
                            "system.scope"}) {
        auto r = expand_slice(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_NE(r.error().message().find(bad), std::string::npos) << r.error().message();
    }
}

TEST(SystemdUnitPath, ScopeInGivenSlice) {
    auto u = parse_unit_path("system.slice:docker:abc", "id");
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(u->slice, "system.slice");
    EXPECT_EQ(u->unit, "docker-abc.scope");
    EXPECT_EQ(u->cgroup, "/system.slice/docker-abc.scope");
    EXPECT_FALSE(u->is_slice());

    u = parse_unit_path("corral-t-x.slice:cri:c1", "id");
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(u->cgroup, "/corral.slice/corral-t.slice/corral-t-x.slice/cri-c1.scope");
}

TEST(SystemdUnitPath, DefaultsAsRunc) {
    // Empty slice: system.slice (root's containers).
    auto u = parse_unit_path(":docker:abc", "id");
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(u->cgroup, "/system.slice/docker-abc.scope");
    // Empty cgroupsPath: runc's "system.slice:runc:<id>", with our name.
    u = parse_unit_path("", "c1");
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(u->unit, "corral-c1.scope");
    EXPECT_EQ(u->slice, "system.slice");
    // Empty prefix: no leading dash.
    u = parse_unit_path("system.slice::abc", "id");
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(u->unit, "abc.scope");
    // Root slice.
    u = parse_unit_path("-.slice:p:n", "id");
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(u->cgroup, "/p-n.scope");
}

TEST(SystemdUnitPath, NameEndingInSliceMakesASlice) {
    auto u = parse_unit_path("kubepods.slice:cri:kubepods-pod1.slice", "id");
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_TRUE(u->is_slice());
    EXPECT_EQ(u->unit, "kubepods-pod1.slice");
    EXPECT_EQ(u->cgroup, "/kubepods.slice/kubepods-pod1.slice");
    // systemd places a slice by its name: "x.slice" cannot go in system.slice.
    auto bad = parse_unit_path("system.slice:p:x.slice", "id");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find("not a child of `system.slice`"), std::string::npos) << bad.error().message();
}

TEST(SystemdUnitPath, ErrorsNameLinuxCgroupsPath) {
    for (const char *bad : {"/absolute/path", "a:b", "a:b:c:d", "system.slice:p:", "system.slice:p/q:n",
                            "system.slice:p:n/../..", "nota-slice:p:n", "a--b.slice:p:n"}) {
        auto r = parse_unit_path(bad, "id");
        ASSERT_FALSE(r) << bad;
        EXPECT_NE(r.error().message().find("linux.cgroupsPath `" + std::string(bad) + "`"), std::string::npos)
            << r.error().message();
    }
    auto r = parse_unit_path("relative/path", "id");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("slice:prefix:name"), std::string::npos) << r.error().message();
    std::string long_name(300, 'x');
    EXPECT_FALSE(parse_unit_path("system.slice:p:" + long_name, "id"));
}

TEST(SystemdProperties, ScopeGetsDelegateSlicePidAndAccounting) {
    auto u = *parse_unit_path("system.slice:corral-test:c1", "c1");
    auto props = unit_properties(u, "corral container c1", 4242, Mode::v2);
    ASSERT_TRUE(find(props, "Delegate"));
    EXPECT_EQ(std::get<bool>(find(props, "Delegate")->value), true);
    EXPECT_EQ(std::get<std::string>(find(props, "Slice")->value), "system.slice");
    EXPECT_EQ(std::get<std::vector<uint32_t>>(find(props, "PIDs")->value), std::vector<uint32_t>{4242});
    EXPECT_EQ(std::get<bool>(find(props, "DefaultDependencies")->value), false);
    EXPECT_TRUE(find(props, "IOAccounting"));
    EXPECT_TRUE(find(unit_properties(u, "d", 1, Mode::v1), "BlockIOAccounting"));

    auto s = *parse_unit_path("kubepods.slice:cri:kubepods-p1.slice", "c1");
    props = unit_properties(s, "d", 4242, Mode::v2);
    EXPECT_FALSE(find(props, "PIDs")); // slices hold no processes of their own
    EXPECT_FALSE(find(props, "Delegate"));
    EXPECT_EQ(std::get<std::vector<std::string>>(find(props, "Wants")->value),
              std::vector<std::string>{"kubepods.slice"});
}

TEST(SystemdProperties, ResourcesInV2AndV1Terms) {
    spec::Resources r;
    r.memory.emplace();
    r.memory->limit = 64 << 20;
    r.memory->swap = 96 << 20;
    r.cpu.emplace();
    r.cpu->shares = 1024;
    r.cpu->quota = 50000;
    r.cpu->period = 100000;
    r.cpu->cpus = "0-1";
    r.pids.emplace();
    r.pids->limit = 42;

    auto v2 = resource_properties(Mode::v2, r);
    ASSERT_TRUE(v2) << v2.error().message();
    EXPECT_EQ(u64(*v2, "MemoryMax"), 64u << 20);
    EXPECT_EQ(u64(*v2, "MemorySwapMax"), 32u << 20); // swap only on v2
    EXPECT_EQ(u64(*v2, "CPUWeight"), cpu_shares_to_weight(1024));
    EXPECT_EQ(u64(*v2, "CPUQuotaPerSecUSec"), 500000u);
    EXPECT_EQ(u64(*v2, "CPUQuotaPeriodUSec"), 100000u);
    EXPECT_EQ(u64(*v2, "TasksMax"), 42u);
    EXPECT_EQ(std::get<std::vector<uint8_t>>(find(*v2, "AllowedCPUs")->value), std::vector<uint8_t>{0x3});
    EXPECT_FALSE(find(*v2, "MemoryLimit"));

    auto v1 = resource_properties(Mode::v1, r);
    ASSERT_TRUE(v1) << v1.error().message();
    EXPECT_EQ(u64(*v1, "MemoryLimit"), 64u << 20);
    EXPECT_EQ(u64(*v1, "CPUShares"), 1024u);
    EXPECT_FALSE(find(*v1, "MemoryMax"));
    EXPECT_FALSE(find(*v1, "AllowedCPUs")); // systemd has no cpuset on v1: the files do it

    spec::Resources unlimited;
    unlimited.memory.emplace();
    unlimited.memory->limit = -1;
    unlimited.pids.emplace();
    unlimited.pids->limit = -1;
    unlimited.unified["memory.high"] = "max";
    auto inf = *resource_properties(Mode::v2, unlimited);
    EXPECT_EQ(u64(inf, "MemoryMax"), kInfinity);
    EXPECT_EQ(u64(inf, "TasksMax"), kInfinity);
    EXPECT_EQ(u64(inf, "MemoryHigh"), kInfinity);
    EXPECT_TRUE(resource_properties(Mode::v2, spec::Resources{})->empty());
}

TEST(SystemdProperties, CpuQuotaRoundsUpToSystemdsPercent) {
    EXPECT_EQ(cpu_quota_per_sec_usec(50000, 100000), 500000u);
    EXPECT_EQ(cpu_quota_per_sec_usec(12345, 100000), 130000u); // 12.345% → 13%
    EXPECT_EQ(cpu_quota_per_sec_usec(20000, 0), 200000u);      // default period 100 ms
    EXPECT_EQ(cpu_quota_per_sec_usec(-1, 100000), kInfinity);
}

TEST(SystemdProperties, CpuListMask) {
    EXPECT_EQ(*cpu_list_to_mask("0"), std::vector<uint8_t>{0x1});
    EXPECT_EQ(*cpu_list_to_mask("0-2,9"), (std::vector<uint8_t>{0x7, 0x2}));
    for (const char *bad : {"", "a", "3-1", "1,,2", "0-99999"}) EXPECT_FALSE(cpu_list_to_mask(bad)) << bad;
}

TEST(SystemdDriver, RefusedClearlyWithoutSystemd) {
    if (systemd_running()) GTEST_SKIP() << "systemd runs here";
    Options o;
    o.systemd = true;
    o.cgroups_path = "system.slice:corral-test:c1";
    o.container_id = "c1";
    auto r = make_manager(detect_mode(), o);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("systemd is not running"), std::string::npos) << r.error().message();
    // A malformed path is named first, whatever the host.
    o.cgroups_path = "/not/systemd";
    r = make_manager(Mode::v2, o);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("linux.cgroupsPath `/not/systemd`"), std::string::npos);
}

TEST(SystemdProperties, DeviceRulesAsAnAllowListOnV1) {
    const char *proc_devices = "Character devices:\n  1 mem\n  5 /dev/tty\n136 pts\n\nBlock devices:\n  7 loop\n";
    std::vector<spec::DeviceRule> rules;
    spec::DeviceRule deny_all;
    deny_all.allow = false;
    deny_all.access = "rwm";
    rules.push_back(deny_all);
    for (auto r : default_allowed_devices()) rules.push_back(r);
    auto props = device_properties(rules, proc_devices);
    ASSERT_TRUE(props) << props.error().message();
    EXPECT_EQ(std::get<std::string>(find(*props, "DevicePolicy")->value), "strict");
    auto allow = std::get<DeviceAllowList>(find(*props, "DeviceAllow")->value);
    auto has = [&](const std::string &node, const std::string &access) {
        for (const auto &[n, a] : allow)
            if (n == node && a == access) return true;
        return false;
    };
    EXPECT_TRUE(has("/dev/char/1:3", "rwm"));  // /dev/null
    EXPECT_TRUE(has("char-pts", "rwm"));       // 136:*
    EXPECT_TRUE(has("char-*", "m"));           // mknod of any char device
    EXPECT_TRUE(has("block-*", "m"));
    EXPECT_TRUE(has("/dev/char/10:200", "rwm")); // net/tun

    // A deny-list cannot be said in systemd's terms: nothing is set.
    spec::DeviceRule allow_all = deny_all;
    allow_all.allow = true;
    spec::DeviceRule deny_one = deny_all;
    deny_one.type = "c";
    deny_one.major = 1;
    deny_one.minor = 5;
    auto none = device_properties({allow_all, deny_one}, proc_devices);
    ASSERT_TRUE(none) << none.error().message();
    EXPECT_TRUE(none->empty());
}
