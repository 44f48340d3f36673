// Namespaces, as seen from inside the container by the probe.
#include "integration/harness.hpp"

#include <sstream>

namespace corral_it {
namespace {

class Namespaces : public ContainerTest {};

TEST_F(Namespaces, ContainerGetsItsOwnPidUtsIpcNetMountAndCgroupNamespaces) {
    Bundle &b = make_bundle();
    b.config["hostname"] = "it-host";
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());

    EXPECT_EQ(r["pid"], 1) << "the process is the init of a new pid namespace";
    EXPECT_EQ(r["hostname"], "it-host");
    for (const char *ns : {"pid", "net", "ipc", "uts", "mnt", "cgroup"}) {
        std::string host = ns_of(std::string("/proc/self/ns/") + ns);
        EXPECT_NE(r["namespaces"][ns], host) << ns << " namespace is the host's";
    }
    EXPECT_EQ(r["namespaces"]["user"], ns_of("/proc/self/ns/user")) << "no user namespace was asked for";
}

TEST_F(Namespaces, NewNetworkNamespaceHasOnlyLoopback) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "read", "/proc/net/dev"});
    Result r = run_bundle(b);
    ASSERT_EQ(r.status, 0) << r;
    std::vector<std::string> interfaces;
    auto all = lines(r.out);
    for (size_t i = 2; i < all.size(); ++i) {  // two header lines
        auto colon = all[i].find(':');
        if (colon == std::string::npos) continue;
        std::string name = all[i].substr(0, colon);
        name.erase(0, name.find_first_not_of(' '));
        interfaces.push_back(name);
    }
    EXPECT_EQ(interfaces, std::vector<std::string>{"lo"}) << r.out;
}

// IFF_UP of `lo` as /sys/class/net/lo/flags shows it inside the container
// (sysfs of a new network namespace lists that namespace's interfaces).
constexpr unsigned kIffUp = 0x1;
unsigned loopback_flags(const Result &r) {
    EXPECT_EQ(r.status, 0) << r;
    return static_cast<unsigned>(std::stoul(r.out.empty() ? "0" : r.out, nullptr, 16));
}

// runc and crun bring up `lo` of a new network namespace (127.0.0.1 works).
TEST_F(Namespaces, NewNetworkNamespaceHasLoopbackUp) {
    Bundle &b = make_bundle();
    b.set_args({"/bin/cat", "/sys/class/net/lo/flags"});
    EXPECT_TRUE(loopback_flags(run_bundle(b)) & kIffUp);
}

TEST_F(Namespaces, NewNetworkNamespaceInAUserNamespaceHasLoopbackUp) {
    Bundle &b = make_bundle();
    b.config["linux"]["namespaces"].push_back({{"type", "user"}});
    b.config["linux"]["uidMappings"] = json::array({{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}});
    b.config["linux"]["gidMappings"] = json::array({{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}});
    b.set_args({"/bin/cat", "/sys/class/net/lo/flags"});
    EXPECT_TRUE(loopback_flags(run_bundle(b)) & kIffUp);
}

// A joined network namespace is the owner's business: `lo` stays down.
TEST_F(Namespaces, JoinedNetworkNamespaceIsLeftAsItIs) {
    Process holder({"unshare", "-n", "sleep", "60"}, {}, make_dir("netns-holder"));
    std::string path = "/proc/" + std::to_string(holder.pid()) + "/ns/net";
    ASSERT_TRUE(eventually([&] { return ns_of(path) != ns_of("/proc/self/ns/net"); })) << "unshare -n did not start";
    Bundle &b = make_bundle();
    for (auto &ns : b.config["linux"]["namespaces"])
        if (ns["type"] == "network") ns["path"] = path;
    b.set_args({"/bin/cat", "/sys/class/net/lo/flags"});
    EXPECT_FALSE(loopback_flags(run_bundle(b)) & kIffUp);
}

TEST_F(Namespaces, UserNamespaceMapsContainerRootToHostRange) {
    Bundle &b = make_bundle();
    b.config["linux"]["namespaces"].push_back({{"type", "user"}});
    b.config["linux"]["uidMappings"] = json::array({{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}});
    b.config["linux"]["gidMappings"] = json::array({{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}});

    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["uid"], 0);
    EXPECT_EQ(r["gid"], 0);
    EXPECT_NE(r["namespaces"]["user"], ns_of("/proc/self/ns/user"));

    for (const char *map : {"uid_map", "gid_map"}) {
        b.set_args({"/probe", "read", std::string("/proc/self/") + map});
        Result m = run_bundle(b);
        ASSERT_EQ(m.status, 0) << m;
        auto l = lines(m.out);
        ASSERT_EQ(l.size(), 1u) << m.out;
        std::istringstream f(l[0]);
        long inside = -1, outside = -1, size = -1;
        f >> inside >> outside >> size;
        EXPECT_EQ(inside, 0) << map << ": " << m.out;
        EXPECT_EQ(outside, 100000) << map << ": " << m.out;
        EXPECT_EQ(size, 65536) << map << ": " << m.out;
    }
}

TEST_F(Namespaces, JoinsAnExistingNetworkNamespaceByPath) {
    Bundle &first = make_bundle();
    pid_t pid = start_sleeper(first);
    ASSERT_GT(pid, 0);
    std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
    std::string want = ns_of(path);
    ASSERT_FALSE(want.empty());

    Bundle &second = make_bundle();
    for (auto &ns : second.config["linux"]["namespaces"])
        if (ns["type"] == "network") ns["path"] = path;
    json r = probe(second, {"report"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["namespaces"]["net"], want) << "joined " << path;
    EXPECT_NE(r["namespaces"]["pid"], ns_of("/proc/" + std::to_string(pid) + "/ns/pid"))
        << "only the network namespace is shared";
}

}  // namespace
}  // namespace corral_it
