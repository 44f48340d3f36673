// linux.cgroupsPath: nested absolute paths, relative paths (under the
// caller's own cgroup) and no path at all (a cgroup per container, runc: the
// container id under the caller's cgroup). The container's cgroup is created
// with its limits and removed on delete.
//
// The relative and empty cases put cgroups under the cgroup of this test
// process. On our hosts that is the machine's memory cgroup /process_api/...,
// which we must never touch: they run only where the caller sits in the root
// cgroups (the cgroup v2 VM lane) and skip elsewhere.
#include "integration/resources.hpp"

#include <csignal>
#include <cstring>
#include <thread>
#include <unistd.h>

namespace corral_it {
namespace {

class CgroupPaths : public ResourceTest {
protected:
    void TearDown() override {
        ContainerTest::TearDown();
        // Cgroups outside /corral-test/<id> that the base class does not know:
        // only paths ending in one of our container ids, never "" or "/".
        for (const auto &path : extra_cgroups_) {
            bool ours = false;
            for (const auto &b : bundles_) {
                std::string tail = "/" + b->id;
                ours |= path.size() > tail.size() && path.compare(path.size() - tail.size(), tail.size(), tail) == 0;
                ours |= path == tail;
            }
            if (!ours) continue;
            for (const auto &dir : cgroup_dirs_at(path)) {
                for (const auto &line : lines(read_file(dir + "/cgroup.procs"))) {
                    pid_t pid = std::atoi(line.c_str());
                    if (pid > 0) {
                        std::fprintf(stderr, "[cgroup-paths] killing leftover process %d in %s\n", pid, dir.c_str());
                        kill(pid, SIGKILL);
                    }
                }
                eventually([&] { return read_file(dir + "/cgroup.procs").empty(); }, milliseconds(2000));
                if (rmdir(dir.c_str()) != 0)
                    std::fprintf(stderr, "[cgroup-paths] cannot remove %s: %s\n", dir.c_str(), std::strerror(errno));
            }
        }
    }
    // Why relative cgroup paths must not be tried here; "" if they may.
    static std::string relative_paths_unsafe() {
        std::string why;
        if (caller_in_root_cgroups(&why)) return {};
        return "relative and empty cgroupsPath nest under the caller's own cgroup, which is not ours (" + why +
               "); the cgroup v2 VM lane runs this test";
    }
    // The same cgroup for every controller we look at.
    void expect_cgroup(pid_t pid, const std::string &path) {
        for (const char *controller : {"memory", "pids", "cpu", "freezer"}) {
            EXPECT_EQ(cgroup_of(pid, controller), path) << controller << " of pid " << pid;
            if (cgroup_v2()) break;
        }
    }
    std::vector<std::string> extra_cgroups_;
};

TEST_F(CgroupPaths, NestedAbsolutePathIsCreatedAndTheContainersCgroupRemoved) {
    Bundle &b = make_bundle();
    std::string path = "/corral-test/" + b.id + "/a/b/" + b.id;
    b.config["linux"]["cgroupsPath"] = path;
    pid_t init = start_limited(b, {{"memory", {{"limit", 32 * MiB}}}, {"pids", {{"limit", 20}}}});
    ASSERT_GT(init, 0);
    expect_cgroup(init, path);
    EXPECT_FALSE(cgroup_dirs_at(path).empty()) << path;
    EXPECT_EQ(memory_limit_of(path), 32 * MiB);
    EXPECT_EQ(pids_limit_of(path), 20);

    Result d = rt({"delete", "--force", b.id});
    EXPECT_EQ(d.status, 0) << d;
    EXPECT_TRUE(eventually([&] { return !process_alive(init); }, milliseconds(3000)));
    EXPECT_EQ(cgroup_dirs_at(path), std::vector<std::string>{}) << "the container's cgroup outlived delete";
    // The parents a/b may stay (runc leaves them); TearDown removes them.
}

TEST_F(CgroupPaths, StoppedContainersNestedCgroupIsRemovedOnDelete) {
    Bundle &b = make_bundle();
    std::string path = "/corral-test/" + b.id + "/nested/" + b.id;
    b.config["linux"]["cgroupsPath"] = path;
    b.set_args({"/probe", "exit", "0"});
    ASSERT_TRUE(create(b));
    EXPECT_FALSE(cgroup_dirs_at(path).empty()) << "create makes the cgroup";
    ASSERT_EQ(rt({"start", b.id}).status, 0);
    ASSERT_TRUE(becomes(b, "stopped"));
    Result d = rt({"delete", b.id});
    EXPECT_EQ(d.status, 0) << d;
    EXPECT_EQ(cgroup_dirs_at(path), std::vector<std::string>{});
}

TEST_F(CgroupPaths, RelativePathNestsUnderTheCallersCgroup) {
    if (auto why = relative_paths_unsafe(); !why.empty()) GTEST_SKIP() << why;
    Bundle &b = make_bundle();
    b.config["linux"]["cgroupsPath"] = "corral-test/" + b.id;
    std::string path = "/corral-test/" + b.id;  // the caller's cgroup is /
    pid_t init = start_limited(b, {{"memory", {{"limit", 32 * MiB}}}});
    ASSERT_GT(init, 0);
    expect_cgroup(init, path);
    EXPECT_EQ(memory_limit_of(path), 32 * MiB);
    Result d = rt({"delete", "--force", b.id});
    EXPECT_EQ(d.status, 0) << d;
    EXPECT_EQ(cgroup_dirs_at(path), std::vector<std::string>{});
}

TEST_F(CgroupPaths, EmptyPathGivesEachContainerItsOwnCgroup) {
    if (auto why = relative_paths_unsafe(); !why.empty()) GTEST_SKIP() << why;
    Bundle &a = make_bundle();
    Bundle &b = make_bundle();
    for (Bundle *x : {&a, &b}) {
        x->config["linux"].erase("cgroupsPath");
        extra_cgroups_.push_back("/" + x->id);  // runc's default: the id under the caller's cgroup
    }
    pid_t init_a = start_limited(a, {{"pids", {{"limit", 20}}}});
    pid_t init_b = start_sleeper(b);
    ASSERT_GT(init_a, 0);
    ASSERT_GT(init_b, 0);
    std::string path_a = cgroup_of(init_a, "pids");
    std::string path_b = cgroup_of(init_b, "pids");
    extra_cgroups_.push_back(path_a);
    extra_cgroups_.push_back(path_b);
    auto ends_with = [](const std::string &s, const std::string &tail) {
        return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
    };
    EXPECT_TRUE(ends_with(path_a, "/" + a.id)) << path_a;
    EXPECT_TRUE(ends_with(path_b, "/" + b.id)) << path_b;
    EXPECT_EQ(path_a, "/" + a.id) << "runc: the id under the caller's cgroup (here the root)";
    EXPECT_EQ(pids_limit_of(path_a), 20) << "the limit is in the default cgroup";
    EXPECT_NE(pids_limit_of(path_b), 20);

    for (Bundle *x : {&a, &b}) {
        Result d = rt({"delete", "--force", x->id});
        EXPECT_EQ(d.status, 0) << d;
    }
    EXPECT_EQ(cgroup_dirs_at(path_a), std::vector<std::string>{});
    EXPECT_EQ(cgroup_dirs_at(path_b), std::vector<std::string>{});
}

}  // namespace
}  // namespace corral_it
