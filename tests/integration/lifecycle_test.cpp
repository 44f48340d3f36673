// The container lifecycle through the CLI: create, state, start, list, kill,
// delete, --pid-file, and the ids a runtime must refuse.
#include "integration/harness.hpp"

#include <filesystem>
#include <regex>
#include <thread>

namespace corral_it {
namespace {

class Lifecycle : public ContainerTest {
protected:
    // Paths under --root whose name mentions `id` (runc keeps <root>/<id>/).
    std::vector<std::string> state_entries(const std::string &id) {
        std::vector<std::string> out;
        std::error_code ec;
        for (const auto &e : std::filesystem::recursive_directory_iterator(root_, ec))
            if (e.path().filename().string().find(id) != std::string::npos) out.push_back(e.path().string());
        return out;
    }
    bool becomes(const std::string &id, const std::string &status) {
        return eventually([&] { return state(id).value("status", "") == status; });
    }
};

TEST_F(Lifecycle, CreateLeavesInitWaitingUntilStart) {
    std::string host = make_dir("marker");
    Bundle &b = make_bundle();
    b.add_bind(host, "/var");
    b.set_args({"/probe", "write", "/var/marker", "x"});
    ASSERT_TRUE(create(b));

    json s = state(b.id);
    ASSERT_FALSE(s.empty()) << "state failed";
    EXPECT_EQ(s["status"], "created");
    EXPECT_EQ(s["bundle"], b.dir);
    pid_t pid = s.value("pid", 0);
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(process_alive(pid)) << "the init waits for start";
    std::this_thread::sleep_for(milliseconds(300));
    EXPECT_FALSE(exists(host + "/marker")) << "the user program ran before start";

    Result r = rt({"start", b.id});
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_TRUE(eventually([&] { return exists(host + "/marker"); })) << "the user program did not run after start";
    EXPECT_TRUE(becomes(b.id, "stopped"));
    EXPECT_EQ(state(b.id)["pid"], 0) << "a stopped container reports pid 0";
}

TEST_F(Lifecycle, WaitingInitHoldsNothingOfTheStateRootButItsFifo) {
    // Between create and start the init may keep the fifo that start opens,
    // nothing else of --root (runc keeps only exec.fifo). An inherited fd of
    // the state directory or lock file shares its flock: `start` and
    // `delete` then wait forever if the lock is not released explicitly.
    Bundle &b = make_bundle();
    b.set_args({"/probe", "exit", "0"});
    ASSERT_TRUE(create(b));
    pid_t pid = state(b.id).value("pid", 0);
    ASSERT_GT(pid, 0);
    std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(fd_dir, ec)) {
        std::string target = ns_of(e.path().string());  // readlink
        if (target.rfind(root_, 0) != 0) continue;
        EXPECT_EQ(std::filesystem::symlink_status(target).type(), std::filesystem::file_type::fifo)
            << "the waiting init holds fd " << e.path().filename().string() << " -> " << target;
    }
}

TEST_F(Lifecycle, DeleteOfACreatedContainerNeedsNoForce) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "sleep", "inf"});
    ASSERT_TRUE(create(b));
    pid_t pid = state(b.id).value("pid", 0);
    ASSERT_GT(pid, 0);
    Result r = rt({"delete", b.id});
    EXPECT_EQ(r.status, 0) << r;
    EXPECT_TRUE(eventually([&] { return !process_alive(pid); })) << "the waiting init survived delete";
    EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{});
}

TEST_F(Lifecycle, ForceDeleteOfACreatedContainerWorks) {
    // containerd always deletes with --force, also containers never started.
    Bundle &b = make_bundle();
    b.set_args({"/probe", "sleep", "inf"});
    ASSERT_TRUE(create(b));
    pid_t pid = state(b.id).value("pid", 0);
    ASSERT_GT(pid, 0);
    Result r = rt({"delete", "--force", b.id});
    EXPECT_EQ(r.status, 0) << r;
    EXPECT_TRUE(eventually([&] { return !process_alive(pid); })) << "the waiting init survived delete --force";
    EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{});
}

TEST_F(Lifecycle, StateReportsEveryField) {
    Bundle &b = make_bundle();
    b.config["annotations"] = {{"org.example.key", "value"}};
    pid_t pid = start_sleeper(b);
    ASSERT_GT(pid, 0);
    json s = state(b.id);
    ASSERT_FALSE(s.empty()) << "state failed";
    for (const char *field : {"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"})
        EXPECT_TRUE(s.contains(field)) << "missing " << field << ": " << s.dump();
    EXPECT_TRUE(s["ociVersion"].is_string() && !s["ociVersion"].get<std::string>().empty());
    EXPECT_EQ(s["id"], b.id);
    EXPECT_EQ(s["pid"], pid);
    EXPECT_EQ(s["status"], "running");
    EXPECT_EQ(s["bundle"], b.dir);
    EXPECT_EQ(s["rootfs"], fixture_rootfs());
    EXPECT_TRUE(s["owner"].is_string());
    static const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d))");
    EXPECT_TRUE(std::regex_match(s.value("created", ""), rfc3339)) << s["created"];
    EXPECT_EQ(s["annotations"], json({{"org.example.key", "value"}}));
}

TEST_F(Lifecycle, ListShowsContainersAsTableJsonAndIds) {
    Bundle &a = make_bundle();
    Bundle &b = make_bundle();
    a.set_args({"/probe", "sleep", "inf"});
    b.set_args({"/probe", "sleep", "inf"});
    ASSERT_TRUE(create(a));
    ASSERT_TRUE(create(b));

    Result table = rt({"list"});
    ASSERT_EQ(table.status, 0) << table;
    auto rows = lines(table.out);
    ASSERT_EQ(rows.size(), 3u) << table.out;
    EXPECT_EQ(rows[0].rfind("ID", 0), 0u) << "header first: " << rows[0];
    for (const auto *bundle : {&a, &b}) {
        bool found = false;
        for (const auto &row : rows)
            if (row.rfind(bundle->id + " ", 0) == 0 && row.find("created") != std::string::npos &&
                row.find(bundle->dir) != std::string::npos)
                found = true;
        EXPECT_TRUE(found) << bundle->id << " not listed as created:\n" << table.out;
    }

    Result quiet = rt({"list", "-q"});
    ASSERT_EQ(quiet.status, 0) << quiet;
    auto ids = lines(quiet.out);
    std::sort(ids.begin(), ids.end());
    std::vector<std::string> want = {a.id, b.id};
    std::sort(want.begin(), want.end());
    EXPECT_EQ(ids, want);

    Result js = rt({"list", "--format", "json"});
    ASSERT_EQ(js.status, 0) << js;
    json arr = json::parse(js.out, nullptr, false);
    ASSERT_TRUE(arr.is_array()) << js;
    ASSERT_EQ(arr.size(), 2u) << js.out;
    for (const auto &c : arr) {
        EXPECT_TRUE(c["id"] == a.id || c["id"] == b.id) << c.dump();
        EXPECT_EQ(c["status"], "created");
        EXPECT_GT(c.value("pid", 0), 0);
    }
}

TEST_F(Lifecycle, KillAcceptsSignalNamesAndNumbers) {
    for (const char *sig : {"KILL", "SIGKILL", "9"}) {
        Bundle &b = make_bundle();
        pid_t pid = start_sleeper(b);
        ASSERT_GT(pid, 0);
        Result r = rt({"kill", b.id, sig});
        EXPECT_EQ(r.status, 0) << r;
        EXPECT_TRUE(becomes(b.id, "stopped")) << "after kill " << sig;
        EXPECT_FALSE(process_alive(pid));
    }
}

TEST_F(Lifecycle, KillOfUnknownContainerSaysDoesNotExist) {
    Result r = rt({"kill", "it-no-such-container", "9"});
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r;
    Result s = rt({"state", "it-no-such-container"});
    EXPECT_NE(s.status, 0) << s;
    EXPECT_NE(s.err.find("does not exist"), std::string::npos) << "podman and containerd match this text\n" << s;
}

TEST_F(Lifecycle, DeleteOfRunningContainerNeedsForce) {
    Bundle &b = make_bundle();
    pid_t pid = start_sleeper(b);
    ASSERT_GT(pid, 0);

    Result r = rt({"delete", b.id});
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find("cannot delete container " + b.id + " that is not stopped: running"), std::string::npos)
        << r;
    EXPECT_EQ(state(b.id).value("status", ""), "running");
    EXPECT_TRUE(process_alive(pid));

    r = rt({"delete", "--force", b.id});
    EXPECT_EQ(r.status, 0) << r;
    EXPECT_TRUE(eventually([&] { return !process_alive(pid); }));
    Result s = rt({"state", b.id});
    EXPECT_NE(s.status, 0) << s;
}

TEST_F(Lifecycle, DeleteRemovesStateDirAndCgroups) {
    Bundle &b = make_bundle();
    pid_t pid = start_sleeper(b);
    ASSERT_GT(pid, 0);
    EXPECT_FALSE(state_entries(b.id).empty()) << "no state under --root " << root_;
    EXPECT_FALSE(cgroup_dirs_of(b.id).empty()) << "the running container has no cgroup";

    Result r = rt({"kill", b.id, "KILL"});
    ASSERT_EQ(r.status, 0) << r;
    ASSERT_TRUE(becomes(b.id, "stopped"));
    r = rt({"delete", b.id});
    ASSERT_EQ(r.status, 0) << r;

    EXPECT_EQ(state_entries(b.id), std::vector<std::string>{});
    EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{});
    EXPECT_EQ(processes_of(b.id), std::vector<pid_t>{});
}

TEST_F(Lifecycle, PidFileHoldsTheInitPid) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "sleep", "inf"});
    std::string pid_file = scratch_ + "/init.pid";
    ASSERT_TRUE(create(b, {"--pid-file", pid_file}));
    json s = state(b.id);
    ASSERT_FALSE(s.empty()) << "state failed";
    std::string text = read_file(pid_file);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    EXPECT_EQ(text, std::to_string(s.value("pid", 0)));
}

TEST_F(Lifecycle, DuplicateIdFailsAndLeavesTheFirstContainerUnharmed) {
    Bundle &first = make_bundle();
    pid_t pid = start_sleeper(first);
    ASSERT_GT(pid, 0);

    Bundle &second = make_bundle();
    second.config["linux"]["cgroupsPath"] = first.config["linux"]["cgroupsPath"];
    second.set_args({"/probe", "sleep", "inf"});
    second.write();
    Result r = rt({"create", "--bundle", second.dir, first.id});
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find("already exists"), std::string::npos) << r;

    json s = state(first.id);
    EXPECT_EQ(s.value("status", ""), "running") << s.dump();
    EXPECT_EQ(s.value("pid", 0), pid);
    EXPECT_EQ(s.value("bundle", ""), first.dir);
    EXPECT_TRUE(process_alive(pid));
    auto procs = processes_of(first.id);
    EXPECT_NE(std::find(procs.begin(), procs.end(), pid), procs.end()) << "the first init left its cgroup";
}

TEST_F(Lifecycle, InvalidIdsAreRejected) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "sleep", "inf"});
    b.write();
    for (const char *id : {"../escape", "a/b", "..", "has space"}) {
        Result r = rt({"create", "--bundle", b.dir, id});
        EXPECT_NE(r.status, 0) << r;
        EXPECT_NE(r.err.find("invalid"), std::string::npos) << r;
    }
    EXPECT_FALSE(exists(scratch_ + "/escape")) << "an id escaped --root";
    EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{});
    EXPECT_EQ(processes_of(b.id), std::vector<pid_t>{});
}

}  // namespace
}  // namespace corral_it
