// A create that fails, at whatever step, reports what was wrong and leaves
// nothing behind: no state, no cgroup, no process, no mount.
#include "integration/harness.hpp"

#include <filesystem>
#include <sys/resource.h>

namespace corral_it {
namespace {

struct BadConfig {
    std::string name;
    std::function<void(json &)> mutate;
    std::string raw;          // written as config.json instead of the JSON, if set
    std::string expect;       // must appear in stderr
    std::string runc_expect;  // runc 1.1's wording, where it differs
    std::function<std::string()> unless;  // a reason to skip on this host, or ""
};

std::ostream &operator<<(std::ostream &os, const BadConfig &c) { return os << c.name; }

class FailedCreate : public ContainerTest, public ::testing::WithParamInterface<BadConfig> {};

TEST_P(FailedCreate, ReportsTheCauseAndLeavesNothingBehind) {
    const BadConfig &c = GetParam();
    if (c.unless)
        if (std::string why = c.unless(); !why.empty()) GTEST_SKIP() << why;
    Bundle &b = make_bundle();
    b.set_args({"/probe", "sleep", "inf"});
    if (c.mutate) c.mutate(b.config);
    b.write();
    if (!c.raw.empty()) write_file(b.dir + "/config.json", c.raw);

    Result r = rt({"create", "--bundle", b.dir, b.id});
    EXPECT_NE(r.status, 0) << r;
    const std::string &want = runtime_is_runc() && !c.runc_expect.empty() ? c.runc_expect : c.expect;
    // runc's text log format escapes quotes: compare without the escapes.
    std::string err = r.err;
    for (size_t at; (at = err.find("\\\"")) != std::string::npos;) err.erase(at, 1);
    EXPECT_NE(err.find(want), std::string::npos) << "the error should name `" << want << "`\n" << r;

    std::vector<std::string> state;
    std::error_code ec;
    for (const auto &e : std::filesystem::recursive_directory_iterator(root_, ec))
        if (e.path().string().find(b.id) != std::string::npos) state.push_back(e.path().string());
    EXPECT_EQ(state, std::vector<std::string>{}) << "state left under --root";
    EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{}) << "cgroup left";
    EXPECT_EQ(processes_of(b.id), std::vector<pid_t>{}) << "process left in the container's cgroup";
    EXPECT_EQ(mounts_mentioning(b.dir), std::vector<std::string>{}) << "mount left on the host";
    EXPECT_NE(rt({"state", b.id}).status, 0) << "state still answers";
}

json bind(const std::string &source, const std::string &dest) {
    return {{"destination", dest}, {"type", "bind"}, {"source", source}, {"options", {"rbind"}}};
}

const BadConfig kBadConfigs[] = {
    {"BadJson", nullptr, "{ not json", "config.json", "invalid character"},
    {"UnknownNamespaceType", [](json &j) { j["linux"]["namespaces"].push_back({{"type", "bogus"}}); }, "", "bogus"},
    {"MissingRootfs", [](json &j) { j["root"]["path"] = "/nonexistent/rootfs"; }, "", "/nonexistent/rootfs"},
    {"ExecutableNotInPath", [](json &j) { j["process"]["args"] = {"nope"}; }, "",
     "exec: \"nope\": executable file not found in $PATH"},
    // The kernel refuses the mount itself (tmpfs cannot parse the size): the
    // mount step must fail the create, not go on without the mount. On /tmp,
    // which the fixture has: a new mount point would change the shared rootfs.
    {"MountTheKernelRefuses",
     [](json &j) {
         j["mounts"].push_back({{"destination", "/tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"},
                                {"options", {"size=notanumber"}}});
     },
     "", "/tmp"},
    {"MissingBindSource", [](json &j) { j["mounts"].push_back(bind("/nonexistent/bind-src", "/var")); }, "",
     "/nonexistent/bind-src"},
    {"FailingCreateContainerHook",
     [](json &j) { j["hooks"]["createContainer"] = {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "exit 7"}}}}; }, "",
     "hook"},
    {"NonNamespacedSysctl", [](json &j) { j["linux"]["sysctl"] = {{"kernel.bogus_nonexistent", "1"}}; }, "",
     "kernel.bogus_nonexistent"},
    {"UnknownNetSysctl", [](json &j) { j["linux"]["sysctl"] = {{"net.ipv4.bogus_nonexistent", "1"}}; }, "",
     "bogus_nonexistent"},
    {"UnknownRlimit",
     [](json &j) { j["process"]["rlimits"] = {{{"type", "RLIMIT_BOGUS"}, {"soft", 1}, {"hard", 1}}}; }, "",
     "RLIMIT_BOGUS"},
    {"RaisedHardRlimitWithoutCapSysResource",
     [](json &j) {
         rlimit now = {};
         getrlimit(RLIMIT_NOFILE, &now);
         j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 1024}, {"hard", now.rlim_max + 1000}}};
     },
     "", "RLIMIT_NOFILE", "operation not permitted",
     [] {
         // CAP_SYS_RESOURCE is bit 24 of CapBnd.
         for (const auto &line : lines(read_file("/proc/self/status")))
             if (line.rfind("CapBnd:", 0) == 0 && (std::stoull(line.substr(7), nullptr, 16) >> 24 & 1))
                 return std::string("this host has CAP_SYS_RESOURCE: raising a hard rlimit works");
         return std::string();
     }},
    {"NoArgs", [](json &j) { j["process"]["args"] = json::array(); }, "", "args"},
};

INSTANTIATE_TEST_SUITE_P(BadConfigs, FailedCreate, ::testing::ValuesIn(kBadConfigs),
                         [](const auto &info) { return info.param.name; });

}  // namespace
}  // namespace corral_it
