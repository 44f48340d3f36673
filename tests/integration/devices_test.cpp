// Device nodes under /dev, as seen from inside the container.
#include "integration/harness.hpp"

namespace corral_it {
namespace {

class Devices : public ContainerTest {};

json device(const json &devices, const std::string &path) {
    for (const auto &d : devices)
        if (d["path"] == path) return d;
    return json();
}

TEST_F(Devices, DefaultDevicesHaveRightNumbersAndMode) {
    Bundle &b = make_bundle();
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    struct Want {
        const char *path;
        int major, minor;
    };
    for (auto [path, major, minor] : {Want{"/dev/null", 1, 3}, Want{"/dev/zero", 1, 5}, Want{"/dev/full", 1, 7},
                                      Want{"/dev/random", 1, 8}, Want{"/dev/urandom", 1, 9}, Want{"/dev/tty", 5, 0}}) {
        json d = device(r["devices"], path);
        ASSERT_TRUE(d.is_object()) << path << " missing: " << r["devices"].dump(1);
        EXPECT_EQ(d["type"], "char") << d.dump();
        EXPECT_EQ(d["major"], major) << d.dump();
        EXPECT_EQ(d["minor"], minor) << d.dump();
        EXPECT_EQ(d["mode"], "0666") << d.dump();
        EXPECT_EQ(d["uid"], 0) << d.dump();
    }
}

TEST_F(Devices, PtmxAndStdioLinksPointIntoPtsAndProc) {
    Bundle &b = make_bundle();
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    struct Want {
        const char *path, *target;
    };
    for (auto [path, target] : {Want{"/dev/ptmx", "pts/ptmx"}, Want{"/dev/fd", "/proc/self/fd"},
                                Want{"/dev/stdin", "/proc/self/fd/0"}, Want{"/dev/stdout", "/proc/self/fd/1"},
                                Want{"/dev/stderr", "/proc/self/fd/2"}}) {
        json d = device(r["devices"], path);
        ASSERT_TRUE(d.is_object()) << path << " missing: " << r["devices"].dump(1);
        EXPECT_EQ(d["type"], "symlink") << d.dump();
        EXPECT_EQ(d["target"], target) << d.dump();
    }
}

TEST_F(Devices, LinuxDevicesAddsNodeWithExactModeAndOwner) {
    Bundle &b = make_bundle();
    b.config["linux"]["devices"] = json::array({
        {{"path", "/dev/mynull"}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"fileMode", 0600}, {"uid", 1000},
         {"gid", 1000}},
        {{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"fileMode", 0640}, {"uid", 0}, {"gid", 5}},
    });
    json d = probe(b, {"stat", "/dev/mynull"});
    ASSERT_TRUE(d.is_object());
    EXPECT_EQ(d["exists"], true) << d.dump();
    EXPECT_EQ(d["type"], "char") << d.dump();
    EXPECT_EQ(d["major"], 1);
    EXPECT_EQ(d["minor"], 3);
    EXPECT_EQ(d["mode"], "0600");
    EXPECT_EQ(d["uid"], 1000);
    EXPECT_EQ(d["gid"], 1000);

    json f = probe(b, {"stat", "/dev/fuse"});
    ASSERT_TRUE(f.is_object());
    EXPECT_EQ(f["type"], "char") << f.dump();
    EXPECT_EQ(f["major"], 10);
    EXPECT_EQ(f["minor"], 229);
    EXPECT_EQ(f["mode"], "0640");
    EXPECT_EQ(f["gid"], 5);
}

// linux.resources.devices enforced by the cgroup: the v1 devices controller
// on a v1 host, an eBPF device program on cgroup v2 (scripts/cgroupv2-vm runs
// the Devices.Cgroup* cases). /dev/kmsg (c 1:11) is bound from the host: a
// node the runtime did not create, so no rule allows it unless the test adds
// one. Opening it write-only needs no privilege (kmsg checks readers only),
// so EPERM can only come from the device rules.
TEST_F(Devices, CgroupDeniesANodeNoRuleAllows) {
    Bundle &b = make_bundle(); // linux.resources.devices: deny all (+ the runtime's defaults)
    b.add_bind("/dev/kmsg", "/dev/kmsg");
    json r = probe(b, {"try", "open-write", "/dev/kmsg"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["result"], "EPERM") << r.dump();
}

TEST_F(Devices, CgroupAllowsANodeARuleAllows) {
    Bundle &b = make_bundle();
    b.add_bind("/dev/kmsg", "/dev/kmsg");
    b.config["linux"]["resources"]["devices"].push_back(
        {{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 11}, {"access", "w"}});
    json r = probe(b, {"try", "open-write", "/dev/kmsg"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["result"], "OK") << r.dump();
}

TEST_F(Devices, CgroupAllowAllThenDenyOneAccess) {
    // Denying w of /dev/kmsg stops a write-only open; denying only r does not.
    for (auto [denied, want] : {std::pair{"w", "EPERM"}, std::pair{"r", "OK"}}) {
        Bundle &b = make_bundle();
        b.add_bind("/dev/kmsg", "/dev/kmsg");
        b.config["linux"]["resources"]["devices"] = json::array({
            {{"allow", true}, {"access", "rwm"}},
            {{"allow", false}, {"type", "c"}, {"major", 1}, {"minor", 11}, {"access", denied}},
        });
        json r = probe(b, {"try", "open-write", "/dev/kmsg"});
        ASSERT_TRUE(r.is_object()) << "deny " << denied;
        EXPECT_EQ(r["result"], want) << "deny " << denied << ": " << r.dump();
    }
}

}  // namespace
}  // namespace corral_it
