// --systemd-cgroup: the container's cgroup is a transient scope unit of
// systemd (cgroupsPath "slice:prefix:name"), with its limits as unit
// properties and in the cgroup files.
//
// Where systemd is not init (our hosts) only the refusal is tested. The
// rest needs systemd as PID 1: the cgroup v2 VM lane boots a guest with
// systemd (scripts/cgroupv2-vm, tests/vm/systemd/) and runs this suite there.
#include "integration/resources.hpp"

#include <dirent.h>
#include <unistd.h>

namespace corral_it {
namespace {

bool systemd_is_init() { return exists("/run/systemd/system"); }
constexpr const char *kNeedsSystemd = "systemd is not init here; the cgroup v2 VM lane boots it";

class SystemdCgroup : public ResourceTest {
protected:
    void TearDown() override {
        // Units a failed test left: stop them so the next test starts clean.
        for (const auto &unit : units_) (void)systemctl({"stop", unit});
        // On v1 the hierarchies systemd does not manage (cpuset, freezer...)
        // keep the custom slices' directories that corral made for the
        // scope: the slices are shared, runc leaves them too; a test does not.
        if (DIR *d = opendir("/sys/fs/cgroup")) {
            while (dirent *e = readdir(d)) {
                std::string h = std::string("/sys/fs/cgroup/") + e->d_name;
                if (e->d_name[0] == '.') continue;
                rmdir((h + "/corral.slice/corral-it.slice").c_str());
                rmdir((h + "/corral.slice").c_str());
            }
            closedir(d);
        }
        ContainerTest::TearDown();
    }

    // The runtime with --systemd-cgroup (a global flag, as containerd passes it).
    Result sd(const std::vector<std::string> &args) {
        std::vector<std::string> a = {"--systemd-cgroup"};
        a.insert(a.end(), args.begin(), args.end());
        return rt(a);
    }

    Result systemctl(const std::vector<std::string> &args) {
        std::vector<std::string> argv = {"systemctl"};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_command(argv, {}, scratch_);
    }
    // `systemctl show -p PROP --value UNIT`, trimmed.
    std::string unit_property(const std::string &unit, const std::string &prop) {
        Result r = systemctl({"show", "-p", prop, "--value", unit});
        std::string v = r.out;
        while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
        return v;
    }

    // A bundle whose cgroupsPath is SLICE:corral-test:<id>; returns the unit.
    std::string systemd_bundle(Bundle &b, const std::string &slice) {
        b.config["linux"]["cgroupsPath"] = slice + ":corral-test:" + b.id;
        std::string unit = "corral-test-" + b.id + ".scope";
        units_.push_back(unit);
        return unit;
    }

    std::vector<std::string> units_;
};

TEST_F(SystemdCgroup, RefusedClearlyWhereSystemdIsNotInit) {
    if (systemd_is_init()) GTEST_SKIP() << "systemd is init here";
    Bundle &b = make_bundle();
    systemd_bundle(b, "system.slice");
    b.write();
    Result r = sd({"create", "--bundle", b.dir, b.id});
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find("systemd is not running"), std::string::npos) << r;
    EXPECT_FALSE(exists(root_ + "/" + b.id)) << "a refused create leaves no state";
}

TEST_F(SystemdCgroup, MalformedCgroupsPathIsNamed) {
    Bundle &b = make_bundle();
    b.config["linux"]["cgroupsPath"] = "/corral-test/" + b.id; // a cgroupfs path
    b.write();
    Result r = sd({"create", "--bundle", b.dir, b.id});
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find("linux.cgroupsPath `/corral-test/" + b.id + "`"), std::string::npos) << r;
    EXPECT_NE(r.err.find("slice:prefix:name"), std::string::npos) << r;
}

TEST_F(SystemdCgroup, ScopeHoldsTheInitWithItsLimitsAndGoesOnDelete) {
    if (!systemd_is_init()) GTEST_SKIP() << kNeedsSystemd;
    Bundle &b = make_bundle();
    std::string unit = systemd_bundle(b, "system.slice");
    b.config["linux"]["resources"] = {{"memory", {{"limit", 64 * MiB}}},
                                      {"pids", {{"limit", 50}}},
                                      {"cpu", {{"shares", 512}, {"quota", 50000}, {"period", 100000}}}};
    b.set_args({"/probe", "sleep", "inf"});
    b.write();
    Result c = sd({"--debug", "create", "--bundle", b.dir, b.id});
    ASSERT_EQ(c.status, 0) << c;
    // The system bus when a dbus-daemon runs, else systemd's private socket
    // (the VM lane runs this suite both ways).
    bool dbus = exists("/run/dbus/system_bus_socket");
    EXPECT_NE(c.err.find("start unit " + unit + " in system.slice over the " +
                         (dbus ? "system bus" : "systemd's private socket")),
              std::string::npos)
        << c;
    ASSERT_EQ(sd({"start", b.id}).status, 0);
    pid_t pid = state(b.id).value("pid", 0);
    ASSERT_GT(pid, 0);

    const std::string cg = "/system.slice/" + unit;
    EXPECT_EQ(unit_property(unit, "ActiveState"), "active");
    EXPECT_EQ(unit_property(unit, "ControlGroup"), cg);
    EXPECT_EQ(unit_property(unit, "Delegate"), "yes");
    EXPECT_EQ(unit_property(unit, "Slice"), "system.slice");
    EXPECT_EQ(cgroup_of(pid, "memory"), cg);
    // Only the init: the placeholder the scope was started with is gone.
    EXPECT_EQ(lines(read_file(cgroup_file(cg, "memory", "cgroup.procs", "cgroup.procs"))),
              std::vector<std::string>{std::to_string(pid)});
    // Limits: in the files, and known to systemd (which would otherwise
    // write its own back one day).
    EXPECT_EQ(memory_limit_of(cg), 64 * MiB);
    EXPECT_EQ(pids_limit_of(cg), 50);
    auto quota = cpu_quota_of(cg);
    ASSERT_TRUE(quota);
    EXPECT_EQ(quota->first, 50000);
    EXPECT_EQ(quota->second, 100000);
    EXPECT_EQ(unit_property(unit, cgroup_v2() ? "MemoryMax" : "MemoryLimit"), std::to_string(64 * MiB));
    EXPECT_EQ(unit_property(unit, "TasksMax"), "50");
    EXPECT_EQ(unit_property(unit, "CPUQuotaPerSecUSec"), "500ms");
    if (!cgroup_v2()) {
        // systemd writes the v1 devices files itself: it must hold the
        // container's allow-list, not its own "allow everything".
        EXPECT_EQ(unit_property(unit, "DevicePolicy"), "strict");
        std::string list = read_file("/sys/fs/cgroup/devices" + cg + "/devices.list");
        EXPECT_NE(list.find("c 1:3 rwm"), std::string::npos) << list;
        EXPECT_EQ(list.find("a *:* rwm"), std::string::npos) << list;
    }

    // update goes to systemd too.
    Result u = sd({"update", "--pids-limit", "60", b.id});
    EXPECT_EQ(u.status, 0) << u;
    EXPECT_EQ(pids_limit_of(cg), 60);
    EXPECT_EQ(unit_property(unit, "TasksMax"), "60");

    Result d = sd({"delete", "--force", b.id});
    EXPECT_EQ(d.status, 0) << d;
    EXPECT_TRUE(eventually([&] { return cgroup_dirs_at(cg).empty(); })) << cg << " still exists";
    std::string load = unit_property(unit, "LoadState");
    std::string active = unit_property(unit, "ActiveState");
    EXPECT_TRUE(load == "not-found" || active == "inactive") << unit << ": " << load << "/" << active;
    EXPECT_FALSE(process_alive(pid));
}

TEST_F(SystemdCgroup, CustomSliceNestsByItsName) {
    if (!systemd_is_init()) GTEST_SKIP() << kNeedsSystemd;
    Bundle &b = make_bundle();
    std::string unit = systemd_bundle(b, "corral-it.slice");
    units_.push_back("corral-it.slice"); // made by systemd for the scope; stopped in TearDown
    units_.push_back("corral.slice");
    pid_t pid = 0;
    b.set_args({"/probe", "sleep", "inf"});
    b.write();
    Result c = sd({"create", "--bundle", b.dir, b.id});
    ASSERT_EQ(c.status, 0) << c;
    ASSERT_EQ(sd({"start", b.id}).status, 0);
    pid = state(b.id).value("pid", 0);
    const std::string cg = "/corral.slice/corral-it.slice/" + unit;
    EXPECT_EQ(unit_property(unit, "ActiveState"), "active");
    EXPECT_EQ(unit_property(unit, "Slice"), "corral-it.slice");
    EXPECT_EQ(cgroup_of(pid, "memory"), cg);
    Result d = sd({"delete", "--force", b.id});
    EXPECT_EQ(d.status, 0) << d;
    EXPECT_TRUE(eventually([&] { return cgroup_dirs_at(cg).empty(); })) << cg << " still exists";
}

TEST_F(SystemdCgroup, SecondContainerOnTheSameUnitIsRefused) {
    if (!systemd_is_init()) GTEST_SKIP() << kNeedsSystemd;
    Bundle &first = make_bundle();
    std::string unit = systemd_bundle(first, "system.slice");
    first.set_args({"/probe", "sleep", "inf"});
    first.write();
    Result c = sd({"create", "--bundle", first.dir, first.id});
    ASSERT_EQ(c.status, 0) << c;
    Bundle &second = make_bundle();
    second.config["linux"]["cgroupsPath"] = first.config["linux"]["cgroupsPath"];
    second.write();
    Result again = sd({"create", "--bundle", second.dir, second.id});
    EXPECT_NE(again.status, 0) << again;
    EXPECT_NE(again.err.find("unit `" + unit + "` exists already"), std::string::npos) << again;
    EXPECT_NE(again.err.find("UnitExists"), std::string::npos) << again; // the D-Bus error's name
    // The first one is untouched.
    EXPECT_EQ(unit_property(unit, "ActiveState"), "active");
    EXPECT_EQ(sd({"delete", "--force", first.id}).status, 0);
}

TEST_F(SystemdCgroup, FailedCreateLeavesNoUnit) {
    if (!systemd_is_init()) GTEST_SKIP() << kNeedsSystemd;
    Bundle &b = make_bundle();
    std::string unit = systemd_bundle(b, "system.slice");
    b.set_args({"/no/such/program"}); // fails in the init, after the scope was made
    b.write();
    Result c = sd({"create", "--bundle", b.dir, b.id});
    ASSERT_NE(c.status, 0) << c;
    const std::string cg = "/system.slice/" + unit;
    EXPECT_TRUE(eventually([&] { return cgroup_dirs_at(cg).empty(); })) << cg << " still exists";
    std::string load = unit_property(unit, "LoadState");
    std::string active = unit_property(unit, "ActiveState");
    EXPECT_TRUE(load == "not-found" || active == "inactive") << unit << ": " << load << "/" << active;
    EXPECT_FALSE(exists(root_ + "/" + b.id));
}

} // namespace
} // namespace corral_it
