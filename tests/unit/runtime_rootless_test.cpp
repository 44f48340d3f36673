// rootless.hpp: the decisions made for an unprivileged caller, without
// running a container (tests/integration/rootless_test.cpp runs them).
#include "runtime/rootless.hpp"

#include "runtime/plan_build.hpp"

#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <sched.h>
#include <string>
#include <unistd.h>

namespace corral {
namespace {

TEST(RootlessIdMaps, FormatsForProcAndForTheTools) {
    std::vector<spec::IdMapping> maps = {{0, 1000, 1}, {1, 100000, 65536}};
    EXPECT_EQ(format_id_map(maps), "0 1000 1\n1 100000 65536\n");
    EXPECT_EQ(id_map_tool_args(maps), (std::vector<std::string>{"0", "1000", "1", "1", "100000", "65536"}));
    EXPECT_EQ(format_id_map({}), "");
}

TEST(RootlessIdMaps, SetgroupsIsDeniedOnlyForTheCallersOwnGidAlone) {
    EXPECT_TRUE(must_deny_setgroups({{0, 1000, 1}}, 1000, true));
    EXPECT_TRUE(must_deny_setgroups({{5, 1000, 1}}, 1000, true)); // any id inside
    EXPECT_FALSE(must_deny_setgroups({{0, 1000, 1}}, 1000, false)); // root writes any map
    EXPECT_FALSE(must_deny_setgroups({{0, 1000, 1}, {1, 100000, 65536}}, 1000, true)); // newgidmap
    EXPECT_FALSE(must_deny_setgroups({{0, 1001, 1}}, 1000, true)); // someone else's gid: newgidmap decides
    EXPECT_FALSE(must_deny_setgroups({{0, 1000, 2}}, 1000, true));
    EXPECT_FALSE(must_deny_setgroups({}, 1000, true));
}

TEST(Rootless, TheFlagWinsOverDetection) {
    Context ctx;
    ctx.rootless = true;
    EXPECT_TRUE(is_rootless(ctx));
    ctx.rootless = false;
    EXPECT_FALSE(is_rootless(ctx));
    ctx.rootless.reset();
    bool initial_ns = !in_user_namespace();
    EXPECT_EQ(is_rootless(ctx), geteuid() != 0 || !initial_ns);
}

TEST(Rootless, SetgroupsStateIsReadOnlyFromProcPaths) {
    EXPECT_FALSE(setgroups_denied_for("/var/run/userns/x"));
    EXPECT_FALSE(setgroups_denied_for("/proc/self/ns/net")); // not a user namespace path
    std::ifstream in("/proc/self/setgroups");
    std::string mine;
    in >> mine;
    EXPECT_EQ(setgroups_denied_for("/proc/self/ns/user"), mine == "deny");
}

TEST(RootlessCgroups, PermissionErrorsAreTheSkippableOnes) {
    EXPECT_TRUE(is_permission_error(Error("x", EACCES)));
    EXPECT_TRUE(is_permission_error(Error("x", EPERM)));
    EXPECT_TRUE(is_permission_error(Error("x", EROFS)));
    EXPECT_FALSE(is_permission_error(Error("x", ENOENT)));
    EXPECT_FALSE(is_permission_error(Error("x")));
}

TEST(RootlessCgroups, FirstLimitNamesTheConfigField) {
    spec::Resources r;
    EXPECT_EQ(first_limit_set(r), "");
    r.devices.push_back({false, "", std::nullopt, std::nullopt, "rwm"});
    EXPECT_EQ(first_limit_set(r), "") << "device rules are not limits a rootless container needs";
    r.memory.emplace();
    EXPECT_EQ(first_limit_set(r), "") << "an empty object writes nothing";
    r.pids = spec::Pids{0};
    EXPECT_EQ(first_limit_set(r), "");
    r.pids->limit = 64;
    EXPECT_EQ(first_limit_set(r), "pids");
    r.memory->limit = 1 << 20;
    EXPECT_EQ(first_limit_set(r), "memory");
    spec::Resources c;
    c.cpu.emplace();
    c.cpu->cpus = "0";
    EXPECT_EQ(first_limit_set(c), "cpu");
    spec::Resources u;
    u.unified["memory.high"] = "1M";
    EXPECT_EQ(first_limit_set(u), "unified");
    EXPECT_TRUE(without_device_rules(r).devices.empty());
    EXPECT_EQ(without_device_rules(r).pids->limit, 64);
}

class OwnCgroups : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/corral-rootless-unit-XXXXXX";
        int fd = mkstemp(tmpl);
        ASSERT_GE(fd, 0);
        close(fd);
        file_ = tmpl;
    }
    void TearDown() override { unlink(file_.c_str()); }
    void write(const std::string &text) { std::ofstream(file_) << text; }
    std::string file_;
};

TEST_F(OwnCgroups, V1HasOneDirectoryPerLine) {
    write("12:name=systemd:/user.slice/session-1.scope\n4:memory:/a/b\n2:cpu,cpuacct:/\n0::/user.slice\n");
    auto paths = own_cgroup_paths(false, "/sys/fs/cgroup", file_);
    std::vector<std::pair<std::string, std::string>> want = {
        {"name=systemd", "/sys/fs/cgroup/systemd/user.slice/session-1.scope"},
        {"memory", "/sys/fs/cgroup/memory/a/b"},
        {"cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct"}};
    EXPECT_EQ(paths, want);
}

TEST_F(OwnCgroups, V2IsTheUnifiedLine) {
    write("0::/user.slice/user-1000.slice\n");
    auto paths = own_cgroup_paths(true, "/sys/fs/cgroup", file_);
    ASSERT_EQ(paths.size(), 1u);
    EXPECT_EQ(paths[0], (std::pair<std::string, std::string>{"", "/sys/fs/cgroup/user.slice/user-1000.slice"}));
    write("0::/\n");
    EXPECT_EQ(own_cgroup_paths(true, "/sys/fs/cgroup", file_)[0].second, "/sys/fs/cgroup");
}

TEST(RootlessMounts, SysfsBecomesABindOfTheHostsSysWithoutANetworkNamespace) {
    spec::Mount sysfs{"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}, {}, {}};
    bool changed = true;
    spec::Mount m = sysfs_as_bind_if_needed(sysfs, true, false, changed);
    EXPECT_TRUE(changed);
    EXPECT_EQ(m.type, "bind");
    EXPECT_EQ(m.source, "/sys");
    EXPECT_EQ(m.destination, "/sys");
    EXPECT_EQ(m.options, (std::vector<std::string>{"rbind", "nosuid", "noexec", "nodev", "ro"}));
    // Its own network namespace, or no user namespace: sysfs mounts fine.
    EXPECT_EQ(sysfs_as_bind_if_needed(sysfs, true, true, changed).type, "sysfs");
    EXPECT_FALSE(changed);
    EXPECT_EQ(sysfs_as_bind_if_needed(sysfs, false, false, changed).type, "sysfs");
    spec::Mount proc{"/proc", "proc", "proc", {}, {}, {}};
    EXPECT_EQ(sysfs_as_bind_if_needed(proc, true, false, changed).type, "proc");
    EXPECT_FALSE(changed);
}

// build_plan: which process makes which namespace, and the rootless choices.
class RootlessPlan : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/corral-rootless-plan-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        ASSERT_EQ(mkdir((dir_ + "/rootfs").c_str(), 0755), 0);
        auto s = spec::parse_spec(spec::default_spec_json(true));
        ASSERT_TRUE(s) << s.error().message();
        spec_ = std::move(*s);
        spec_.root->path = dir_ + "/rootfs";
        ctx_.root = dir_ + "/state";
    }
    void TearDown() override {
        rmdir((dir_ + "/rootfs").c_str());
        rmdir((dir_ + "/state/.cache/seccomp").c_str());
        rmdir((dir_ + "/state/.cache").c_str());
        rmdir((dir_ + "/state").c_str());
        rmdir(dir_.c_str());
    }
    Result<ChildPlan> plan() {
        std::string id = "unit";
        return build_plan({ctx_, id, dir_, spec_, opts_, nullptr});
    }
    std::string dir_;
    Context ctx_;
    CreateOptions opts_;
    spec::Spec spec_;
};

TEST_F(RootlessPlan, WithoutJoinsCloneMakesUserAndPidTogether) {
    ctx_.rootless = false; // the cgroup mount then needs no cgroup of the caller
    spec_.mounts.erase(spec_.mounts.end() - 1); // the cgroup mount
    auto p = plan();
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_TRUE(p->clone_flags & CLONE_NEWUSER);
    EXPECT_TRUE(p->clone_flags & CLONE_NEWPID) << "a pid namespace cloned with the user namespace belongs to it";
    EXPECT_FALSE(p->fork_into_pid_ns);
    EXPECT_FALSE(p->user_ns_late);
}

TEST_F(RootlessPlan, AJoinMakesTheInitForkIntoItsPidNamespace) {
    ctx_.rootless = false;
    spec_.mounts.erase(spec_.mounts.end() - 1);
    spec_.linux->namespaces.push_back({"network", "/proc/self/ns/net"});
    for (auto &m : spec_.mounts)
        if (m.destination == "/sys") m = {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}, {}, {}};
    auto p = plan();
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_TRUE(p->fork_into_pid_ns);
    EXPECT_TRUE(p->user_ns_late);
    EXPECT_EQ(p->clone_flags & (CLONE_NEWUSER | CLONE_NEWPID), 0u);
    EXPECT_TRUE(p->unshare_flags & CLONE_NEWPID);
    // No network namespace of the container's own: /sys is bound, not mounted.
    bool sys_bound = false;
    for (const auto &m : p->mounts)
        if (m.destination == "/sys") sys_bound = m.kind == MountPlan::Kind::bind && m.source == "/sys";
    EXPECT_TRUE(sys_bound);
}

TEST_F(RootlessPlan, OwnGidAloneMeansNoSetgroupsAndNoAdditionalGids) {
    ctx_.rootless = true;
    spec_.linux->gid_mappings = {{0, static_cast<uint32_t>(getegid()), 1}};
    auto p = plan();
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_FALSE(p->set_groups);
    EXPECT_TRUE(p->cgroup_join_best_effort);
    spec_.process->user.additional_gids = {5};
    p = plan();
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().message().find("cannot set any additional groups in a rootless container"), std::string::npos)
        << p.error().message();
}

TEST_F(RootlessPlan, AsRootEverythingStaysAsConfigured) {
    ctx_.rootless = false;
    spec_.mounts.erase(spec_.mounts.end() - 1);
    auto p = plan();
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_TRUE(p->set_groups);
    EXPECT_FALSE(p->cgroup_join_best_effort);
}

} // namespace
} // namespace corral
