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

}  // namespace
}  // namespace corral_it
