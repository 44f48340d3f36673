// Rootless containers: a real unprivileged account runs the runtime with its
// own state directory ($XDG_RUNTIME_DIR), a bundle it owns and a config from
// `spec --rootless`; the container sees uid 0 mapped onto the caller (one id,
// written directly) or onto the caller plus its /etc/subuid range (newuidmap).
// Also, as root: a user namespace with a pid namespace the init can only make
// after joining another namespace (the init forks into its pid namespace).
//
// The account is the fixed `corral-rootless-test` (created when missing, kept
// for the next run: concurrent runs share it safely, since each test only
// touches the processes and files under its own scratch directory).
#include "integration/harness.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace corral_it {
namespace {

constexpr const char *kUser = "corral-rootless-test";

struct IdRange {
    uint32_t start = 0, count = 0;
};

// name:start:count in /etc/subuid or /etc/subgid.
IdRange sub_range(const std::string &file, const std::string &name, uid_t id) {
    for (const auto &line : lines(read_file(file))) {
        std::istringstream in(line);
        std::string who, start, count;
        if (!std::getline(in, who, ':') || !std::getline(in, start, ':') || !std::getline(in, count)) continue;
        if (who == name || who == std::to_string(id)) return {static_cast<uint32_t>(std::stoul(start)), static_cast<uint32_t>(std::stoul(count))};
    }
    return {};
}

// "0 1000 1" whatever the padding.
std::string squeeze(const std::string &text) {
    std::istringstream in(text);
    std::string out, w;
    while (in >> w) out += (out.empty() ? "" : " ") + w;
    return out;
}

std::string id_map_line(uint32_t inside, uint32_t outside, uint32_t count) {
    return std::to_string(inside) + " " + std::to_string(outside) + " " + std::to_string(count);
}

bool is_under(const std::string &path, const std::string &dir) {
    return path == dir || path.rfind(dir + "/", 0) == 0;
}

class Rootless : public ContainerTest {
protected:
    void SetUp() override {
        ContainerTest::SetUp();
        if (IsSkipped()) return;
        if (access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "setpriv (util-linux) is missing";
        ASSERT_NO_FATAL_FAILURE(ensure_user());
        // Everything the user owns lives under one directory of ours.
        home_ = scratch_ + "/user";
        xdg_ = home_ + "/run";
        bundle_ = home_ + "/bundle";
        fs::create_directories(xdg_);
        fs::create_directories(bundle_);
        chmod(xdg_.c_str(), 0700);
        Result cp = run_command({"cp", "-a", fixture_rootfs(), bundle_ + "/rootfs"}, {}, scratch_);
        ASSERT_EQ(cp.status, 0) << cp;
        Result own = run_command({"chown", "-R", std::to_string(uid_) + ":" + std::to_string(gid_), home_}, {}, scratch_);
        ASSERT_EQ(own.status, 0) << own;
        state_root_ = xdg_ + "/" + fs::path(runtime()).filename().string(); // runc: .../runc
    }

    void TearDown() override {
        if (!home_.empty()) {
            for (const auto &id : ids_)
                if (exists(state_root_ + "/" + id)) as_user({runtime(), "delete", "--force", id});
            for (pid_t pid : user_processes_here()) {
                std::fprintf(stderr, "[rootless] killing leftover process %d\n", pid);
                kill(pid, SIGKILL);
            }
            eventually([&] { return user_processes_here().empty(); }, milliseconds(2000));
        }
        for (const auto &dir : delegated_) {
            for (const auto &id : ids_) rmdir((dir + "/" + id).c_str()); // a container's, if it was left
            rmdir(dir.c_str());
        }
        ContainerTest::TearDown();
    }

    void ensure_user() {
        if (!getpwnam(kUser)) {
            Result r = run_command({"useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
                                    "/usr/sbin/nologin", kUser}, {}, scratch_);
            // A concurrent run may have made it first.
            ASSERT_TRUE(getpwnam(kUser)) << r;
        }
        const passwd *pw = getpwnam(kUser);
        uid_ = pw->pw_uid;
        gid_ = pw->pw_gid;
        subuid_ = sub_range("/etc/subuid", kUser, uid_);
        subgid_ = sub_range("/etc/subgid", kUser, gid_);
        if (subuid_.count == 0 || subgid_.count == 0) {
            // useradd gives new users ranges only where login.defs says so.
            Result r = run_command({"usermod", "--add-subuids", "300000-365535", "--add-subgids", "300000-365535", kUser},
                                   {}, scratch_);
            EXPECT_EQ(r.status, 0) << r;
            subuid_ = sub_range("/etc/subuid", kUser, uid_);
            subgid_ = sub_range("/etc/subgid", kUser, gid_);
        }
    }

    // The user's processes whose root or cwd lies under our scratch
    // directory: containers this test started, nobody else's.
    std::vector<pid_t> user_processes_here() {
        std::vector<pid_t> out;
        DIR *d = opendir("/proc");
        if (!d) return out;
        while (dirent *e = readdir(d)) {
            char *end;
            long pid = std::strtol(e->d_name, &end, 10);
            if (*end || pid <= 0) continue;
            std::string proc = std::string("/proc/") + e->d_name;
            if (!process_alive(static_cast<pid_t>(pid))) continue;
            bool ours = false;
            for (const char *link : {"/root", "/cwd"}) {
                char buf[4096];
                ssize_t n = readlink((proc + link).c_str(), buf, sizeof buf - 1);
                if (n > 0 && is_under(std::string(buf, static_cast<size_t>(n)), home_)) ours = true;
            }
            if (ours) out.push_back(static_cast<pid_t>(pid));
        }
        closedir(d);
        return out;
    }

    // Run as the test user, with only the environment a login would give.
    Result as_user(const std::vector<std::string> &argv, const RunOptions &opts = {}) {
        std::vector<std::string> full = {"setpriv", "--reuid", std::to_string(uid_), "--regid", std::to_string(gid_),
                                         "--init-groups", "env", "-i", "HOME=" + home_, "USER=" + std::string(kUser),
                                         "XDG_RUNTIME_DIR=" + xdg_, "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"};
        full.insert(full.end(), argv.begin(), argv.end());
        return run_command(full, opts, scratch_);
    }

    // as_user, from inside the cgroup v2 `leaf`: root's shell moves itself
    // there, then drops to the user (what a login into a delegated slice
    // gives). setpriv by its path: busybox's sh would exec its own applet.
    Result as_user_in(const std::string &leaf, const std::vector<std::string> &argv, const RunOptions &opts = {}) {
        std::vector<std::string> full = {"sh", "-c", "echo $$ >\"$0/cgroup.procs\" && exec \"$@\"", leaf,
                                         "/usr/bin/setpriv", "--reuid", std::to_string(uid_), "--regid", std::to_string(gid_),
                                         "--init-groups", "env", "-i", "HOME=" + home_, "USER=" + std::string(kUser),
                                         "XDG_RUNTIME_DIR=" + xdg_, "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"};
        full.insert(full.end(), argv.begin(), argv.end());
        return run_command(full, opts, scratch_);
    }

    // create + start as the user; the state JSON of the running container
    // (a null JSON and a test failure if a step fails).
    json create_and_start_as_user(const std::string &id) {
        for (const auto &args : {std::vector<std::string>{runtime(), "create", "--bundle", bundle_, id},
                                 std::vector<std::string>{runtime(), "start", id}}) {
            Result r = as_user(args);
            if (r.status != 0) {
                ADD_FAILURE() << r;
                return nullptr;
            }
        }
        Result r = as_user({runtime(), "state", id});
        EXPECT_EQ(r.status, 0) << r;
        return json::parse(r.out, nullptr, false);
    }

    // `spec --rootless` as the user, then the changes a test wants.
    json rootless_spec() {
        Result r = as_user({"sh", "-c", "cd " + bundle_ + " && exec " + runtime() + " spec --rootless"});
        EXPECT_EQ(r.status, 0) << r;
        json c = json::parse(read_file(bundle_ + "/config.json"), nullptr, false);
        EXPECT_TRUE(c.is_object()) << read_file(bundle_ + "/config.json");
        if (!c.is_object()) return json::object();
        c["process"]["terminal"] = false;
        c["process"]["args"] = {"/probe", "report"};
        return c;
    }
    void write_config(const json &c) {
        write_file(bundle_ + "/config.json", c.dump(2));
        chown((bundle_ + "/config.json").c_str(), uid_, gid_);
    }
    std::string new_id() {
        ids_.push_back("rl-" + std::to_string(getpid()) + "-" + std::to_string(ids_.size()));
        return ids_.back();
    }

    // Nothing of the container is left: state, processes, mounts.
    void expect_nothing_left(const std::string &id) {
        EXPECT_FALSE(exists(state_root_ + "/" + id)) << "state directory left behind";
        EXPECT_TRUE(user_processes_here().empty()) << "container processes left behind";
        EXPECT_TRUE(mounts_mentioning(bundle_).empty());
        Result list = as_user({runtime(), "list", "-q"});
        EXPECT_EQ(list.out.find(id), std::string::npos) << list;
    }

    // Rootless.ADelegatedCgroupIsUsed, per cgroup version.
    void delegated_v1();
    void delegated_v2();

    uid_t uid_ = 0;
    gid_t gid_ = 0;
    IdRange subuid_, subgid_;
    std::string home_, xdg_, bundle_, state_root_;
    std::vector<std::string> ids_, delegated_;
};

TEST_F(Rootless, SpecMapsTheCallerAndRunWorksWithOneId) {
    json c = rootless_spec();
    ASSERT_TRUE(c.contains("linux"));
    EXPECT_EQ(c["linux"]["uidMappings"], json::parse(R"([{"containerID":0,"hostID":)" + std::to_string(uid_) + R"(,"size":1}])"));
    EXPECT_EQ(c["linux"]["gidMappings"], json::parse(R"([{"containerID":0,"hostID":)" + std::to_string(gid_) + R"(,"size":1}])"));
    write_config(c);
    std::string id = new_id();
    // No --root: the state goes under $XDG_RUNTIME_DIR.
    Result r = as_user({runtime(), "--debug", "run", "--bundle", bundle_, id});
    ASSERT_EQ(r.status, 0) << r;
    json rep = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(rep.is_object()) << r;
    EXPECT_EQ(rep["uid"], 0);
    EXPECT_EQ(rep["euid"], 0);
    EXPECT_EQ(rep["gid"], 0);
    EXPECT_EQ(rep["pid"], 1);
    EXPECT_NE(rep["namespaces"]["user"], ns_of("/proc/self/ns/user"));
    EXPECT_EQ(rep["root_readonly"], "EROFS");
    if (!runtime_is_runc()) {
        EXPECT_NE(r.err.find("rootless: no cgroup for the container"), std::string::npos) << r;
        EXPECT_TRUE(exists(xdg_ + "/corral")) << "state root not under $XDG_RUNTIME_DIR";
    }
    expect_nothing_left(id);

    // The maps as the container sees them; setgroups had to be denied.
    c["process"]["args"] = {"/bin/sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups"};
    write_config(c);
    id = new_id();
    r = as_user({runtime(), "run", "--bundle", bundle_, id});
    ASSERT_EQ(r.status, 0) << r;
    auto l = lines(r.out);
    ASSERT_EQ(l.size(), 3u) << r;
    EXPECT_EQ(squeeze(l[0]), id_map_line(0, uid_, 1));
    EXPECT_EQ(squeeze(l[1]), id_map_line(0, gid_, 1));
    EXPECT_EQ(l[2], "deny");
    expect_nothing_left(id);
}

// process.oomScoreAdj in a rootless container: raising it needs no
// privilege, and it is written before the init enters the user namespace
// (after that its /proc/self/oom_score_adj is no longer its own to write).
// exec takes the container's value too (runc 1.1.5 leaves exec at the caller's).
TEST_F(Rootless, OomScoreAdjOfTheInitAndOfAnExec) {
    json c = rootless_spec();
    c["process"]["oomScoreAdj"] = 700;
    c["process"]["args"] = {"/probe", "sleep", "inf"};
    write_config(c);
    std::string id = new_id();
    json st = create_and_start_as_user(id);
    pid_t pid = st.is_object() ? st.value("pid", 0) : 0;
    ASSERT_GT(pid, 0) << st.dump();
    EXPECT_EQ(read_file("/proc/" + std::to_string(pid) + "/oom_score_adj"), "700\n");
    Result r;
    if (!runtime_is_runc()) {
        r = as_user({runtime(), "exec", id, "/bin/cat", "/proc/self/oom_score_adj"});
        EXPECT_EQ(r.status, 0) << r;
        EXPECT_EQ(r.out, "700\n") << r;
    }
    r = as_user({runtime(), "delete", "--force", id});
    EXPECT_EQ(r.status, 0) << r;
    expect_nothing_left(id);
}

TEST_F(Rootless, SeveralIdsThroughNewuidmapAndTheWholeLifecycle) {
    if (access("/usr/bin/newuidmap", X_OK) != 0 || access("/usr/bin/newgidmap", X_OK) != 0)
        GTEST_SKIP() << "newuidmap/newgidmap (package uidmap) are missing";
    if (subuid_.count < 1000 || subgid_.count < 1000)
        GTEST_SKIP() << kUser << " has no /etc/subuid and /etc/subgid range of 1000 ids or more";
    json c = rootless_spec();
    c["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", uid_}, {"size", 1}},
                                 {{"containerID", 1}, {"hostID", subuid_.start}, {"size", subuid_.count}}};
    c["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", gid_}, {"size", 1}},
                                 {{"containerID", 1}, {"hostID", subgid_.start}, {"size", subgid_.count}}};
    // The image's `probe` user (1000:1000) maps to subuid start + 999.
    c["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
    // With newgidmap setgroups stays allowed, so additional groups work
    // (as crun; runc 1.1 refuses them in any rootless container).
    json groups = runtime_is_runc() ? json::array() : json::array({5});
    if (!groups.empty()) c["process"]["user"]["additionalGids"] = groups;
    c["process"]["args"] = {"/probe", "sleep", "inf"};
    write_config(c);
    std::string id = new_id();
    json st = create_and_start_as_user(id);
    ASSERT_TRUE(st.is_object());
    EXPECT_EQ(st.value("status", ""), "running") << st.dump();
    pid_t pid = st.value("pid", 0);
    ASSERT_GT(pid, 0);
    Result r;
    // On the host the init runs as the mapped ids.
    std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
    std::string want_uid = std::to_string(subuid_.start + 999);
    EXPECT_NE(status.find("\nUid:\t" + want_uid + "\t" + want_uid), std::string::npos) << status;

    // exec: the same maps, the process's groups (setgroups is allowed here).
    r = as_user({runtime(), "exec", id, "/bin/sh", "-c", "cat /proc/self/uid_map /proc/self/setgroups; /probe whoami"});
    ASSERT_EQ(r.status, 0) << r;
    auto l = lines(r.out);
    ASSERT_EQ(l.size(), 4u) << r;
    EXPECT_EQ(squeeze(l[0]), id_map_line(0, uid_, 1));
    EXPECT_EQ(squeeze(l[1]), id_map_line(1, subuid_.start, subuid_.count));
    EXPECT_EQ(l[2], "allow");
    json who = json::parse(l[3], nullptr, false);
    EXPECT_EQ(who["uid"], 1000) << l[3];
    EXPECT_EQ(who["gid"], 1000) << l[3];
    if (!runtime_is_runc()) {  // runc 1.1 leaves the caller's groups (seen as 0) in place
        EXPECT_EQ(who["groups"], groups) << l[3];
    }
    // exec joins the pid namespace from inside the user namespace.
    r = as_user({runtime(), "exec", id, "/bin/sh", "-c", "echo $$; cat /proc/1/cmdline"});
    ASSERT_EQ(r.status, 0) << r;
    l = lines(r.out);
    ASSERT_GE(l.size(), 2u) << r;
    EXPECT_NE(l[0], "1");
    EXPECT_EQ(l[1].substr(0, 6), std::string("/probe", 6)) << r;

    r = as_user({runtime(), "kill", id, "KILL"});
    EXPECT_EQ(r.status, 0) << r;
    ASSERT_TRUE(eventually([&] {
        Result s = as_user({runtime(), "state", id});
        return s.out.find("\"stopped\"") != std::string::npos;
    }));
    r = as_user({runtime(), "delete", id});
    EXPECT_EQ(r.status, 0) << r;
    expect_nothing_left(id);
}

TEST_F(Rootless, LimitsWithoutAWritableCgroupFailAndLeaveNothing) {
    json c = rootless_spec();
    c["linux"]["resources"] = {{"pids", {{"limit", 64}}}};
    write_config(c);
    std::string id = new_id();
    Result r = as_user({runtime(), "run", "--bundle", bundle_, id});
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find("cgroup"), std::string::npos) << r;
    if (!runtime_is_runc()) {
        EXPECT_NE(r.err.find("linux.resources.pids"), std::string::npos) << r;
    }
    expect_nothing_left(id);
    // Nor a cgroup of that name anywhere (v1: in any hierarchy).
    std::error_code ec;
    for (fs::recursive_directory_iterator it("/sys/fs/cgroup", fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec))
        EXPECT_NE(it->path().filename().string().find(id), 0u) << "cgroup left: " << it->path();
}

// cgroup v1: as an administrator would, a cgroup per hierarchy, owned by
// the user (v1 has no common-ancestor rule: owning the target is enough).
void Rootless::delegated_v1() {
    std::string parent = "corral-rootless-" + std::to_string(getpid());
    std::error_code ec;
    for (const auto &h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
        if (h.is_symlink(ec) || !h.is_directory(ec)) continue;
        std::string dir = h.path().string() + "/" + parent;
        if (mkdir(dir.c_str(), 0755) != 0) continue;
        delegated_.insert(delegated_.begin(), dir);
        Result own = run_command({"chown", "-R", std::to_string(uid_) + ":" + std::to_string(gid_), dir}, {}, scratch_);
        ASSERT_EQ(own.status, 0) << own;
    }
    ASSERT_FALSE(delegated_.empty());
    // cpuset: a new v1 cgroup starts without cpus or mems.
    for (const char *f : {"cpuset.cpus", "cpuset.mems"}) {
        std::string parent_dir = "/sys/fs/cgroup/cpuset/" + parent;
        if (exists(parent_dir)) write_file(parent_dir + "/" + f, read_file(std::string("/sys/fs/cgroup/cpuset/") + f));
    }
    json c = rootless_spec();
    std::string id = new_id();
    c["linux"]["cgroupsPath"] = "/" + parent + "/" + id;
    c["linux"]["resources"] = {{"pids", {{"limit", 64}}}};
    c["process"]["args"] = {"/probe", "sleep", "inf"};
    write_config(c);
    Result r = as_user({runtime(), "create", "--bundle", bundle_, id});
    ASSERT_EQ(r.status, 0) << r;
    json st = json::parse(as_user({runtime(), "state", id}).out, nullptr, false);
    pid_t pid = st.value("pid", 0);
    ASSERT_GT(pid, 0);
    std::string pids_dir = "/sys/fs/cgroup/pids/" + parent + "/" + id;
    EXPECT_EQ(read_file(pids_dir + "/pids.max"), "64\n");
    auto members = lines(read_file(pids_dir + "/cgroup.procs"));
    EXPECT_NE(std::find(members.begin(), members.end(), std::to_string(pid)), members.end());
    r = as_user({runtime(), "delete", "--force", id});
    EXPECT_EQ(r.status, 0) << r;
    EXPECT_FALSE(exists(pids_dir)) << "the container's cgroup is left";
    expect_nothing_left(id);
}

// cgroup v2, delegated as systemd delegates a user's slice (the kernel's
// cgroup-v2.rst, "Delegation"): root makes /corral-rootless-<pid>, enables
// pids and memory down to it, and gives the user the directory and its
// cgroup.procs, cgroup.subtree_control and cgroup.threads (not its limits:
// those belong to the parent). The caller must live inside the delegated
// subtree, since moving a process needs write access to cgroup.procs of the
// common ancestor of where it is and where it goes: root puts the shell
// that becomes the runtime into a leaf, .../session, then drops to the user.
// The runtime, as the user, makes /corral-rootless-<pid>/<id>, writes
// pids.max and starts the init there; delete removes it.
void Rootless::delegated_v2() {
    const std::string root = "/sys/fs/cgroup";
    for (const char *ctl : {"pids", "memory"})
        if (read_file(root + "/cgroup.controllers").find(ctl) == std::string::npos)
            FAIL() << "the " << ctl << " controller is not in " << root << "/cgroup.controllers";
    std::string parent = "corral-rootless-" + std::to_string(getpid());
    std::string dir = root + "/" + parent, session = dir + "/session";
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << dir << ": " << std::strerror(errno);
    delegated_ = {session, dir}; // TearDown removes them in this order
    ASSERT_EQ(mkdir(session.c_str(), 0755), 0) << session << ": " << std::strerror(errno);
    // The controllers down to the delegated cgroup (the root's are set on a
    // real host by systemd; enabling what is enabled is a no-op).
    for (const std::string &d : {root, dir}) {
        std::ofstream out(d + "/cgroup.subtree_control");
        out << "+pids +memory" << std::flush;
        ASSERT_TRUE(out.good()) << "enable pids and memory in " << d << "/cgroup.subtree_control";
    }
    const std::string owner = std::to_string(uid_) + ":" + std::to_string(gid_);
    Result own = run_command({"chown", owner, dir, dir + "/cgroup.procs", dir + "/cgroup.subtree_control",
                              dir + "/cgroup.threads", session, session + "/cgroup.procs",
                              session + "/cgroup.subtree_control", session + "/cgroup.threads"},
                             {}, scratch_);
    ASSERT_EQ(own.status, 0) << own;

    json c = rootless_spec();
    std::string id = new_id();
    const std::string cg = dir + "/" + id;
    c["linux"]["cgroupsPath"] = "/" + parent + "/" + id;
    c["linux"]["resources"] = {{"pids", {{"limit", 64}}}};
    c["process"]["args"] = {"/probe", "sleep", "inf"};
    write_config(c);

    // Negative first: called from outside the subtree (the root cgroup, not
    // the user's), the init cannot be moved in: a clear error, nothing left.
    Result r = as_user({runtime(), "create", "--bundle", bundle_, id});
    EXPECT_NE(r.status, 0) << r;
    if (!runtime_is_runc()) {
        EXPECT_NE(r.err.find("delegated"), std::string::npos) << r;
    }
    EXPECT_FALSE(exists(cg)) << "the container's cgroup is left after a failed create";
    expect_nothing_left(id);

    // From the delegated leaf: the limit is set and the init lives there.
    id = new_id();
    const std::string cg2 = dir + "/" + id;
    c["linux"]["cgroupsPath"] = "/" + parent + "/" + id;
    write_config(c);
    r = as_user_in(session, {runtime(), "create", "--bundle", bundle_, id});
    ASSERT_EQ(r.status, 0) << r;
    r = as_user({runtime(), "state", id});
    json st = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(st.is_object()) << r;
    pid_t pid = st.value("pid", 0);
    ASSERT_GT(pid, 0) << r;
    EXPECT_EQ(read_file(cg2 + "/pids.max"), "64\n");
    auto members = lines(read_file(cg2 + "/cgroup.procs"));
    EXPECT_NE(std::find(members.begin(), members.end(), std::to_string(pid)), members.end()) << read_file(cg2 + "/cgroup.procs");
    EXPECT_EQ(read_file("/proc/" + std::to_string(pid) + "/cgroup"), "0::/" + parent + "/" + id + "\n");
    // The runtime made it as the user (not as root behind our back).
    struct stat sb {};
    ASSERT_EQ(stat(cg2.c_str(), &sb), 0) << cg2;
    EXPECT_EQ(sb.st_uid, uid_);
    EXPECT_EQ(read_file(session + "/cgroup.procs"), "") << "the runtime is gone, its leaf is empty";
    r = as_user({runtime(), "start", id});
    EXPECT_EQ(r.status, 0) << r;
    // exec from the leaf joins the init's cgroup; from outside the subtree
    // it cannot, and runs in the caller's (as runc's rootless exec).
    const std::vector<std::string> cgroups = {runtime(), "exec", id, "/bin/sh", "-c", "cat /proc/1/cgroup /proc/self/cgroup"};
    r = as_user_in(session, cgroups);
    ASSERT_EQ(r.status, 0) << r;
    auto l = lines(r.out);
    ASSERT_EQ(l.size(), 2u) << r;
    EXPECT_EQ(l[1], l[0]) << "exec from the delegated leaf is not in the init's cgroup";
    if (!runtime_is_runc()) {
        r = as_user(cgroups);
        ASSERT_EQ(r.status, 0) << r;
        l = lines(r.out);
        ASSERT_EQ(l.size(), 2u) << r;
        EXPECT_NE(l[1], l[0]) << r;
    }
    r = as_user({runtime(), "delete", "--force", id});
    EXPECT_EQ(r.status, 0) << r;
    EXPECT_FALSE(exists(cg2)) << "the container's cgroup is left";
    EXPECT_TRUE(exists(dir)) << "delete removed the delegated parent, which is the administrator's";
    expect_nothing_left(id);
}

// A cgroup delegated to the user is used, with its limit, on either version.
TEST_F(Rootless, ADelegatedCgroupIsUsed) {
    if (exists("/sys/fs/cgroup/cgroup.controllers"))
        delegated_v2(); // scripts/cgroupv2-vm
    else
        delegated_v1();
}

// As root: a new user namespace and a new pid namespace while joining
// another namespace by path. The user namespace is then made after clone, so
// the init makes the pid namespace after it and forks into it: only a pid
// namespace owned by the container's user namespace lets it mount /proc.
class UserNamespace : public ContainerTest {};

TEST_F(UserNamespace, NewPidNamespaceWithAJoinedNetworkNamespace) {
    RunOptions quick;
    Process holder({"unshare", "--net", "/bin/sleep", "30"}, quick, scratch_);
    std::string netns = "/proc/" + std::to_string(holder.pid()) + "/ns/net";
    ASSERT_TRUE(eventually([&] { return !ns_of(netns).empty() && ns_of(netns) != ns_of("/proc/self/ns/net"); }));
    Bundle &b = make_bundle();
    b.config["linux"]["namespaces"] = {{{"type", "pid"}},  {{"type", "ipc"}},  {{"type", "uts"}},
                                       {{"type", "mount"}}, {{"type", "user"}},
                                       {{"type", "network"}, {"path", netns}}};
    b.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 200000}, {"size", 65536}}};
    b.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 200000}, {"size", 65536}}};
    if (runtime_is_runc())  // runc 1.1 tries sysfs and fails (EPERM); corral binds /sys then
        for (auto &m : b.config["mounts"])
            if (m["type"] == "sysfs") m = {{"destination", "/sys"}, {"type", "bind"}, {"source", "/sys"}, {"options", {"rbind", "ro"}}};
    json rep = probe(b, {"report"});
    ASSERT_TRUE(rep.is_object());
    EXPECT_EQ(rep["pid"], 1);
    EXPECT_EQ(rep["uid"], 0);
    EXPECT_EQ(rep["namespaces"]["net"], ns_of(netns));
    EXPECT_NE(rep["namespaces"]["user"], ns_of("/proc/self/ns/user"));
    EXPECT_NE(rep["namespaces"]["pid"], ns_of("/proc/self/ns/pid"));
    bool proc_mounted = false;
    for (const auto &m : rep["mounts"]) proc_mounted |= m["target"] == "/proc" && m["fstype"] == "proc";
    EXPECT_TRUE(proc_mounted) << rep["mounts"].dump();
    EXPECT_TRUE(processes_of(b.id).empty());
}

// A user namespace joined by path (here one whose root is our root) with a
// new pid namespace: the init joins the user namespace, makes the pid
// namespace and forks into it; devices are bound, since mknod is refused.
TEST_F(UserNamespace, JoinedUserNamespaceWithANewPidNamespace) {
    RunOptions quick;
    Process holder({"unshare", "--user", "--map-root-user", "/bin/sleep", "30"}, quick, scratch_);
    std::string userns = "/proc/" + std::to_string(holder.pid()) + "/ns/user";
    ASSERT_TRUE(eventually([&] {
        return !ns_of(userns).empty() && ns_of(userns) != ns_of("/proc/self/ns/user") &&
               !read_file("/proc/" + std::to_string(holder.pid()) + "/uid_map").empty();
    }));
    Bundle &b = make_bundle();
    b.config["linux"]["namespaces"] = {{{"type", "pid"}},   {{"type", "ipc"}}, {{"type", "uts"}},
                                       {{"type", "mount"}}, {{"type", "network"}},
                                       {{"type", "user"}, {"path", userns}}};
    // What the joined namespace maps (runc wants them stated); gid 5 is not.
    b.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 0}, {"size", 1}}};
    b.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 0}, {"size", 1}}};
    for (auto &m : b.config["mounts"])
        if (m["type"] == "devpts") m["options"].erase(std::remove(m["options"].begin(), m["options"].end(), "gid=5"), m["options"].end());
    json rep = probe(b, {"report"});
    ASSERT_TRUE(rep.is_object());
    EXPECT_EQ(rep["pid"], 1);
    EXPECT_EQ(rep["namespaces"]["user"], ns_of(userns));
    EXPECT_NE(rep["namespaces"]["pid"], ns_of("/proc/self/ns/pid"));
    bool null_ok = false;
    for (const auto &d : rep["devices"])
        if (d["path"] == "/dev/null") null_ok = d["type"] == "char" && d["major"] == 1 && d["minor"] == 3;
    EXPECT_TRUE(null_ok) << rep["devices"].dump();
}

}  // namespace
}  // namespace corral_it
