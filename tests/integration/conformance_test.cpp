// Configs written by other tools, not by `corral spec` or our fixture: each
// test here is a shape that runc and crun run and that corral once refused
// or broke on (issue 12). Every one first proves the container ran.
#include "integration/harness.hpp"

#include <climits>
#include <csignal>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace corral_it {
namespace {

class Conformance : public ContainerTest {
protected:
    // A helper process in namespaces of its own (`unshare FLAGS sleep`),
    // whose /proc/PID/ns/* a container joins by path. Killed in TearDown.
    pid_t namespace_holder(const std::vector<std::string> &unshare_flags) {
        std::vector<std::string> argv{"unshare"};
        argv.insert(argv.end(), unshare_flags.begin(), unshare_flags.end());
        argv.insert(argv.end(), {"sleep", "120"});
        holders_.push_back(std::make_unique<Process>(argv, RunOptions{}, scratch_));
        pid_t pid = holders_.back()->pid();
        // Wait until unshare has exec'd sleep (its namespaces are made then).
        EXPECT_TRUE(eventually([&] { return read_file("/proc/" + std::to_string(pid) + "/comm") == "sleep\n"; }));
        return pid;
    }
    static void set_namespace(Bundle &b, const std::string &type, const std::string &path) {
        json &nss = b.config["linux"]["namespaces"];
        for (auto it = nss.begin(); it != nss.end(); ++it)
            if ((*it)["type"] == type) {
                nss.erase(it);
                break;
            }
        if (path != "-") nss.push_back(path.empty() ? json{{"type", type}} : json{{"type", type}, {"path", path}});
    }
    void TearDown() override {
        holders_.clear(); // SIGKILLs and reaps them
        ContainerTest::TearDown();
    }
    std::vector<std::unique_ptr<Process>> holders_;
};

// --- seccomp profiles that predate close_range ---------------------------------

// Docker, containerd and Kubernetes profiles from before Linux 5.9, and
// hand-written allow-lists, do not list close_range. Without
// noNewPrivileges the filter loads before the runtime's last steps; none of
// those steps may need close_range.
TEST_F(Conformance, SeccompProfileDenyingCloseRangeRunsWithoutNoNewPrivileges) {
    for (bool nnp : {false, true}) {
        SCOPED_TRACE(nnp ? "noNewPrivileges: true" : "noNewPrivileges: false");
        Bundle &b = make_bundle();
        b.config["process"]["noNewPrivileges"] = nnp;
        b.config["linux"]["seccomp"] = {
            {"defaultAction", "SCMP_ACT_ALLOW"},
            {"architectures", {"SCMP_ARCH_X86_64"}},
            {"syscalls", {{{"names", {"close_range"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
        json r = probe(b, {"fds"});
        ASSERT_FALSE(r.is_null());
        // ...and still no descriptor of the runtime reached the program.
        for (const auto &fd : r["open_fds"]) EXPECT_LT(fd["fd"].get<int>(), 3) << r.dump();
    }
}

// A kernel without close_range (Linux < 5.9), simulated: corral itself runs
// under a filter that fails close_range with ENOSYS. The init must still
// close every descriptor it inherited, and mark its own close-on-exec, by
// walking /proc/self/fd. An fd without O_CLOEXEC is passed to corral as a bait.
TEST_F(Conformance, WithoutCloseRangeNoInheritedDescriptorReachesTheContainer) {
    if (runtime_is_runc()) GTEST_SKIP() << "this test installs its filter around corral's own binary only";
    Bundle &b = make_bundle();
    b.set_args({"/probe", "fds"});
    b.write();
    std::vector<std::string> argv = rt_argv({"run", "--bundle", b.dir, b.id});
    std::string out_path = scratch_ + "/fds.out";
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int bait = ::open("/proc/self/status", O_RDONLY); // deliberately inheritable
        if (out < 0 || bait < 0 || dup2(out, 1) < 0) _exit(120);
        sock_filter filter[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close_range, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
            _exit(121);
        std::vector<char *> args;
        for (auto &a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(122);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << ": " << read_file(out_path);
    json r = json::parse(read_file(out_path), nullptr, false);
    ASSERT_TRUE(r.is_object()) << read_file(out_path);
    ASSERT_FALSE(r["open_fds"].empty());
    for (const auto &fd : r["open_fds"]) EXPECT_LT(fd["fd"].get<int>(), 3) << r.dump();
}

// --- devices --------------------------------------------------------------------

TEST_F(Conformance, FifoInLinuxDevicesIsCreated) {
    Bundle &b = make_bundle();
    b.config["linux"]["devices"] = {{{"path", "/dev/myfifo"}, {"type", "p"}, {"fileMode", 0640}, {"uid", 0}, {"gid", 0}},
                                    {{"path", "/dev/mynull"}, {"type", "c"}, {"major", 1}, {"minor", 3}}};
    json r = probe(b, {"stat", "/dev/myfifo"});
    ASSERT_FALSE(r.is_null());
    EXPECT_EQ(r["type"], "fifo") << r.dump();
    EXPECT_EQ(r["mode"], "0640") << r.dump();
}

// --- namespaces inherited or joined by path -------------------------------------

// runtime-spec: a namespace type not listed is inherited from the runtime.
// Without a mount namespace the root is still root.path (runc and crun
// chroot there), and nothing is mounted.
TEST_F(Conformance, UnlistedMountNamespaceIsInheritedAndTheRootIsStillTheRootfs) {
    Bundle &b = make_bundle();
    set_namespace(b, "mount", "-");
    b.config.erase("mounts");
    b.config["linux"].erase("maskedPaths");
    b.config["linux"].erase("readonlyPaths");
    b.config["root"]["readonly"] = false;
    b.set_args({"/probe", "sleep", "inf"}); // /probe exists only in the rootfs
    ASSERT_TRUE(create(b));
    pid_t pid = state(b.id).value("pid", 0);
    ASSERT_GT(pid, 0);
    std::string proc = "/proc/" + std::to_string(pid);
    EXPECT_EQ(ns_of(proc + "/ns/mnt"), ns_of("/proc/self/ns/mnt"));
    EXPECT_NE(ns_of(proc + "/ns/pid"), ns_of("/proc/self/ns/pid")); // the other namespaces are still new
    char root[PATH_MAX] = {};
    ASSERT_GT(readlink((proc + "/root").c_str(), root, sizeof root - 1), 0);
    char want[PATH_MAX];
    ASSERT_NE(realpath(fixture_rootfs().c_str(), want), nullptr);
    EXPECT_EQ(std::string(root), std::string(want));
    Result r = rt({"start", b.id});
    EXPECT_EQ(r.status, 0) << r;
    r = rt({"delete", "--force", b.id});
    EXPECT_EQ(r.status, 0) << r;
}

TEST_F(Conformance, UnlistedMountNamespaceRefusesMountsThatWouldChangeTheHost) {
    Bundle &b = make_bundle();
    set_namespace(b, "mount", "-");
    b.config["linux"].erase("maskedPaths");
    b.config["linux"].erase("readonlyPaths");
    b.config["root"]["readonly"] = false;
    b.write();
    Result r = rt({"run", "--bundle", b.dir, b.id});
    EXPECT_NE(r.status, 0) << r;
    if (!runtime_is_runc()) {
        EXPECT_NE(r.err.find("config.json: mounts:"), std::string::npos) << r;
    }
    EXPECT_TRUE(cgroup_dirs_of(b.id).empty());
    EXPECT_FALSE(exists(root_ + "/" + b.id));
}

TEST_F(Conformance, MountNamespaceJoinedByPathGetsTheRootfs) {
    pid_t holder = namespace_holder({"--mount", "--propagation", "private"});
    std::string mnt = "/proc/" + std::to_string(holder) + "/ns/mnt";
    Bundle &b = make_bundle();
    set_namespace(b, "mount", mnt);
    json r = probe(b, {"report"});
    ASSERT_FALSE(r.is_null());
    EXPECT_EQ(r["namespaces"]["mnt"], ns_of(mnt));
    EXPECT_EQ(r["hostname"], "corral");
}

TEST_F(Conformance, HostnameIsSetInAUtsNamespaceJoinedByPath) {
    pid_t holder = namespace_holder({"--uts"});
    std::string uts = "/proc/" + std::to_string(holder) + "/ns/uts";
    Bundle &b = make_bundle();
    set_namespace(b, "uts", uts);
    b.config["hostname"] = "joined-uts";
    json r = probe(b, {"report"});
    ASSERT_FALSE(r.is_null());
    EXPECT_EQ(r["namespaces"]["uts"], ns_of(uts));
    EXPECT_EQ(r["hostname"], "joined-uts");
    // The joined namespace itself now has that name.
    Result h = run_command({"nsenter", "--uts=" + uts, "hostname"}, {}, scratch_);
    EXPECT_EQ(h.out, "joined-uts\n") << h;
}

TEST_F(Conformance, HostnameWithoutAUtsNamespaceIsRefused) {
    Bundle &b = make_bundle();
    set_namespace(b, "uts", "-");
    b.write();
    Result r = rt({"run", "--bundle", b.dir, b.id});
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find("unable to set hostname without a private UTS namespace"), std::string::npos) << r;
}

// --- rootfsPropagation ------------------------------------------------------------

TEST_F(Conformance, UnbindableRootfsPropagation) {
    for (const char *prop : {"unbindable", "runbindable"}) {
        SCOPED_TRACE(prop);
        Bundle &b = make_bundle();
        b.config["linux"]["rootfsPropagation"] = prop;
        json r = probe(b, {"mounts"});
        ASSERT_FALSE(r.is_null());
        bool root_unbindable = false;
        for (const auto &m : r["mounts"])
            if (m["target"] == "/")
                for (const auto &p : m["propagation"]) root_unbindable |= p == "unbindable";
        EXPECT_TRUE(root_unbindable) << r.dump();
    }
}

// --- the state hooks see -------------------------------------------------------------

// runtime-spec: "creating" while the create operation runs (prestart,
// createRuntime, createContainer), "created" after it and before the
// program runs (startContainer), then "running" (poststart) and "stopped"
// (poststop).
TEST_F(Conformance, HooksSeeTheStatusOfTheirLifecycleStep) {
    std::string rec = make_dir("hooks");
    Bundle &b = make_bundle();
    b.add_bind(rec, "/var");
    auto hook = [](const std::string &dir, const std::string &name) {
        return json{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + dir + "/" + name + ".json"}}};
    };
    for (const char *kind : {"prestart", "createRuntime", "createContainer", "poststart", "poststop"})
        b.add_hook(kind, hook(rec, kind));
    b.add_hook("startContainer", hook("/var", "startContainer"));
    b.set_args({"/probe", "sleep", "0.2"});
    ASSERT_TRUE(create(b));
    Result r = rt({"start", b.id});
    ASSERT_EQ(r.status, 0) << r;
    ASSERT_TRUE(eventually([&] { return state(b.id).value("status", "") == "stopped"; }));
    r = rt({"delete", b.id});
    ASSERT_EQ(r.status, 0) << r;
    std::map<std::string, std::string> want{{"prestart", "creating"},      {"createRuntime", "creating"},
                                            {"createContainer", "creating"}, {"startContainer", "created"},
                                            {"poststart", "running"},      {"poststop", "stopped"}};
    if (runtime_is_runc()) want["poststart"] = "created"; // runc 1.1 runs poststart during create
    for (const auto &[kind, status] : want) {
        json s = json::parse(read_file(rec + "/" + kind + ".json"), nullptr, false);
        ASSERT_TRUE(s.is_object()) << kind;
        EXPECT_EQ(s["status"], status) << kind << ": " << s.dump();
        EXPECT_EQ(s["id"], b.id) << kind;
    }
}

// --- the environment -------------------------------------------------------------------

// HOME, when process.env lacks it, is the user's home from the container's
// /etc/passwd, as runc and crun set it (for exec too).
TEST_F(Conformance, HomeComesFromTheContainersPasswdWhenUnset) {
    Bundle &b = make_bundle();
    b.config["process"]["env"] = {"PATH=/bin"};
    json r = probe(b, {"env"});
    ASSERT_FALSE(r.is_null());
    bool found = false;
    for (const auto &e : r["env"]) found |= e == "HOME=/root";
    EXPECT_TRUE(found) << r.dump();
}

// --- AppArmor ----------------------------------------------------------------------------

// A profile asked for must be applied or the container refused: never run
// less confined than the config says.
TEST_F(Conformance, ApparmorProfileIsNeverIgnored) {
    bool enabled = read_file("/sys/module/apparmor/parameters/enabled").rfind("Y", 0) == 0;
    Bundle &b = make_bundle();
    b.config["process"]["apparmorProfile"] = enabled ? "corral-test-no-such-profile" : "corral-test-profile";
    b.write();
    Result r = rt({"run", "--bundle", b.dir, b.id});
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find("apparmor"), std::string::npos) << r;
    if (!runtime_is_runc()) {
        EXPECT_NE(r.err.find("process.apparmorProfile"), std::string::npos) << r;
    }
    EXPECT_TRUE(cgroup_dirs_of(b.id).empty());
    EXPECT_TRUE(processes_of(b.id).empty());
}

// --- supervision when whoever reads our output goes away ---------------------------------

// `corral --debug run … 2>&1 | head` once left corral spinning forever with
// the container's init an unreaped zombie: each debug line raised a SIGPIPE
// that corral forwarded to the init and logged, which raised another.
TEST_F(Conformance, RunWhoseLogReaderWentAwayStillReapsAndExits) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "sleep", "1"});
    b.write();
    std::string cmd;
    for (const auto &a : rt_argv({"--debug", "run", "--bundle", b.dir, b.id})) cmd += "'" + a + "' ";
    RunOptions o;
    o.timeout = milliseconds(20000);
    // The reader leaves once the init is being cloned: corral has blocked
    // its signals by then, so the SIGPIPE its next line raises is pending
    // when it starts forwarding signals (head -40 did the same).
    Result r = run_command({"/bin/sh", "-c", cmd + "2>&1 | sed -n '/clone init process/q'"}, o, scratch_);
    EXPECT_FALSE(r.timed_out) << r;
    EXPECT_EQ(r.status, 0) << r;
    EXPECT_TRUE(processes_of(b.id).empty());
    EXPECT_FALSE(exists(root_ + "/" + b.id));
}

} // namespace
} // namespace corral_it
