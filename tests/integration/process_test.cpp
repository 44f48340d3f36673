// The container process: user, groups, umask, cwd, environment,
// capabilities, no_new_privs, rlimits, oom_score_adj and open fds.
#include "integration/harness.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace corral_it {
namespace {

class ProcessConfig : public ContainerTest {};

std::vector<int> fd_numbers(const json &open_fds) {
    std::vector<int> out;
    for (const auto &f : open_fds) out.push_back(f["fd"].get<int>());
    return out;
}

TEST_F(ProcessConfig, UserGroupsAndUmaskAreApplied) {
    Bundle &b = make_bundle();
    b.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}, {"additionalGids", {10, 20}}, {"umask", 0077}};
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["uid"], 1000);
    EXPECT_EQ(r["euid"], 1000);
    EXPECT_EQ(r["gid"], 1000);
    EXPECT_EQ(r["egid"], 1000);
    EXPECT_EQ(r["groups"], json::array({10, 20}));
    EXPECT_EQ(r["umask"], "0077");
}

TEST_F(ProcessConfig, CwdIsTheConfiguredDirectory) {
    Bundle &b = make_bundle();
    b.add_tmpfs("/tmp");
    b.config["process"]["cwd"] = "/tmp";
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["cwd"], "/tmp");
}

TEST_F(ProcessConfig, MissingCwdIsCreated) {
    // Inside a tmpfs, so that nothing is created in the shared rootfs.
    Bundle &b = make_bundle();
    b.add_tmpfs("/tmp");
    b.config["process"]["cwd"] = "/tmp/new/dir";
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["cwd"], "/tmp/new/dir");
}

TEST_F(ProcessConfig, EnvironmentIsPassedExactly) {
    Bundle &b = make_bundle();
    std::vector<std::string> env = {"PATH=/bin:/usr/bin", "HOME=/root", "A=1", "WITH_SPACE=two words", "EMPTY=",
                                    "EQUALS=a=b"};
    b.config["process"]["env"] = env;
    json r = probe(b, {"env"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["env"], json(env));
}

TEST_F(ProcessConfig, ReducedCapabilitySetIsExact) {
    Bundle &b = make_bundle();
    json only = {"CAP_NET_BIND_SERVICE"};
    b.config["process"]["capabilities"] = {
        {"bounding", only}, {"effective", only}, {"permitted", only}, {"inheritable", only}};
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    const json &caps = r["capabilities"];
    EXPECT_EQ(caps["bounding"], "0000000000000400");
    EXPECT_EQ(caps["effective"], "0000000000000400");
    EXPECT_EQ(caps["permitted"], "0000000000000400");
    EXPECT_EQ(caps["inheritable"], "0000000000000400");
    EXPECT_EQ(caps["ambient"], "0000000000000000");
}

TEST_F(ProcessConfig, AmbientCapabilitiesReachANonRootProcess) {
    Bundle &b = make_bundle();
    json only = {"CAP_NET_BIND_SERVICE"};
    b.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
    b.config["process"]["capabilities"] = {{"bounding", only},    {"effective", only}, {"permitted", only},
                                           {"inheritable", only}, {"ambient", only}};
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["uid"], 1000);
    EXPECT_EQ(r["capabilities"]["ambient"], "0000000000000400");
    EXPECT_EQ(r["capabilities"]["effective"], "0000000000000400") << "ambient caps become effective at exec";
}

TEST_F(ProcessConfig, NoNewPrivilegesFollowsTheConfig) {
    Bundle &b = make_bundle();
    b.config["process"]["noNewPrivileges"] = true;
    EXPECT_EQ(probe(b, {"report"})["no_new_privs"], 1);
    b.config["process"]["noNewPrivileges"] = false;
    EXPECT_EQ(probe(b, {"report"})["no_new_privs"], 0);
}

TEST_F(ProcessConfig, RlimitIsLowered) {
    // Only lowering: this host lacks CAP_SYS_RESOURCE, so a hard limit can
    // not be raised above the runtime's own.
    Bundle &b = make_bundle();
    b.config["process"]["rlimits"] = json::array({{{"type", "RLIMIT_NOFILE"}, {"soft", 512}, {"hard", 512}},
                                                  {{"type", "RLIMIT_CORE"}, {"soft", 0}, {"hard", 0}}});
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["rlimits"]["NOFILE"], json::array({512, 512}));
    EXPECT_EQ(r["rlimits"]["CORE"], json::array({0, 0}));
}

TEST_F(ProcessConfig, OomScoreAdjIsRaised) {
    Bundle &b = make_bundle();
    b.config["process"]["oomScoreAdj"] = 500;
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["oom_score_adj"], 500);
}

// A user namespace mapping the container's root to host uid 100000: once the
// init becomes that root (setresuid(0) in the namespace) the kernel makes it
// non-dumpable and /proc/self/oom_score_adj belongs to the host's root, so
// the value must be written before (as runc does).
void map_root_to_100000(Bundle &b) {
    b.config["linux"]["namespaces"].push_back({{"type", "user"}});
    b.config["linux"]["uidMappings"] = json::array({{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}});
    b.config["linux"]["gidMappings"] = json::array({{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}});
}

TEST_F(ProcessConfig, OomScoreAdjIsRaisedInAUserNamespace) {
    Bundle &b = make_bundle();
    map_root_to_100000(b);
    b.config["process"]["oomScoreAdj"] = 500;
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["uid"], 0);
    EXPECT_EQ(r["oom_score_adj"], 500);
}

TEST_F(ProcessConfig, OomScoreAdjIsRaisedInAUserNamespaceMadeAfterJoins) {
    // Joining a namespace by path makes the init unshare the user namespace
    // itself after the joins (corral's other path to the namespace's root).
    Bundle &first = make_bundle();
    pid_t pid = start_sleeper(first);
    ASSERT_GT(pid, 0);
    Bundle &b = make_bundle();
    map_root_to_100000(b);
    for (auto &ns : b.config["linux"]["namespaces"])
        if (ns["type"] == "network") ns["path"] = "/proc/" + std::to_string(pid) + "/ns/net";
    // No sysfs: the joined network namespace belongs to the host's user
    // namespace, so the kernel refuses a new sysfs (corral binds /sys
    // instead; runc 1.1.5 fails).
    auto &mounts = b.config["mounts"];
    for (size_t i = mounts.size(); i-- > 0;)
        if (mounts[i]["destination"].get<std::string>().starts_with("/sys")) mounts.erase(i);
    b.config["process"]["oomScoreAdj"] = 500;
    b.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["uid"], 1000);
    EXPECT_EQ(r["oom_score_adj"], 500);
}

TEST_F(ProcessConfig, OomScoreAdjOfAnExecInAUserNamespace) {
    // `exec` takes the container's process.oomScoreAdj (runc 1.1.5 ignores
    // the one of an `exec --process` file, so the test does not use one).
    Bundle &b = make_bundle();
    map_root_to_100000(b);
    b.config["process"]["oomScoreAdj"] = 600;
    ASSERT_GT(start_sleeper(b), 0);
    Result e = rt({"exec", b.id, "/probe", "report"});
    ASSERT_EQ(e.status, 0) << e;
    json r = json::parse(e.out, nullptr, false);
    ASSERT_TRUE(r.is_object()) << e;
    EXPECT_EQ(r["oom_score_adj"], 600);
}

TEST_F(ProcessConfig, OnlyStdioFdsAreOpen) {
    // CVE-2024-21626: no fd of the runtime may leak into the container.
    Bundle &b = make_bundle();
    json r = probe(b, {"fds"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(fd_numbers(r["open_fds"]), (std::vector<int>{0, 1, 2})) << r.dump();
}

TEST_F(ProcessConfig, OnlyStdioFdsAreOpenAfterCreateAndStart) {
    // The path containerd and podman take: the init waits between create and
    // start holding the runtime's fds; none may survive the exec.
    Bundle &b = make_bundle();
    b.set_args({"/probe", "fds"});
    b.write();
    auto created = rt_spawn({"create", "--bundle", b.dir, b.id});  // the container inherits its stdout
    Result c = created->wait();
    ASSERT_EQ(c.status, 0) << c;
    Result s = rt({"start", b.id});
    ASSERT_EQ(s.status, 0) << s;
    ASSERT_TRUE(created->wait_for_output("}")) << created->out();
    json r = json::parse(created->out(), nullptr, false);
    ASSERT_TRUE(r.is_object()) << created->out();
    EXPECT_EQ(fd_numbers(r["open_fds"]), (std::vector<int>{0, 1, 2})) << r.dump();
}

TEST_F(ProcessConfig, PreserveFdsPassesExactlyTheExtraFds) {
    std::string dir = make_dir("fds");
    write_file(dir + "/a", "a");
    write_file(dir + "/b", "b");
    int a = open((dir + "/a").c_str(), O_RDONLY | O_CLOEXEC);
    int c = open((dir + "/b").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(a, 0);
    ASSERT_GE(c, 0);
    Bundle &b = make_bundle();
    b.set_args({"/probe", "fds"});
    b.write();
    RunOptions opts;
    opts.pass_fds = {a, c};
    Result r = rt({"run", "--preserve-fds", "2", "--bundle", b.dir, b.id}, opts);
    close(a);
    close(c);
    ASSERT_EQ(r.status, 0) << r;
    json j = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r;
    EXPECT_EQ(fd_numbers(j["open_fds"]), (std::vector<int>{0, 1, 2, 3, 4})) << j.dump();
    for (const auto &f : j["open_fds"]) {
        std::string target = f.value("target", "");
        if (f["fd"] == 3) {
            EXPECT_NE(target.find(dir + "/a"), std::string::npos) << f.dump();
        } else if (f["fd"] == 4) {
            EXPECT_NE(target.find(dir + "/b"), std::string::npos) << f.dump();
        }
    }
}

}  // namespace
}  // namespace corral_it
