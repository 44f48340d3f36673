// Known container escapes, attempted for real from inside containers; every
// test states the CVE it guards against. See docs/security.md.
//
// - CVE-2019-5736: a container process overwrites the runtime binary through
//   /proc/PID/exe, after making the runtime execute itself in the container
//   (args[0] or a symlink -> /proc/self/exe) or while `exec` is in progress.
//   The attacked runtime is always a private COPY of the binary under test,
//   so a successful attack destroys only that copy.
// - CVE-2024-21626: a host fd leaked into the container, and process.cwd
//   reaching the host through such an fd or through "..".
// - CVE-2019-16884 / CVE-2021-30465 family: mount destinations that are
//   symlinks out of the rootfs (to /, /proc/self/root, ../../..) or lie on
//   procfs.
// - /proc and /sys hardening: masked and read-only paths stay so, the
//   dropped capabilities are really gone, no_new_privs defeats setuid.
#include "integration/harness.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace corral_it {
namespace {

// --- CVE-2019-5736 -------------------------------------------------------------

// The runtime under test, resolved to a file (runc is given by name).
std::string runtime_file() {
    std::string rt = runtime();
    if (rt.find('/') != std::string::npos) return rt;
    std::istringstream path(std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin");
    for (std::string dir; std::getline(path, dir, ':');)
        if (access((dir + "/" + rt).c_str(), X_OK) == 0) return dir + "/" + rt;
    return rt;
}

class Cve2019_5736 : public ContainerTest {
protected:
    void SetUp() override {
        ContainerTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        // The runtime we attack: a private copy, run by every command here.
        std::string dir = make_dir("runtime");
        copy = dir + "/" + fs::path(runtime_file()).filename().string();
        std::error_code ec;
        fs::copy_file(runtime_file(), copy, ec);
        ASSERT_FALSE(ec) << "copy " << runtime_file() << ": " << ec.message();
        ASSERT_EQ(chmod(copy.c_str(), 0755), 0);
        copy_hash = sha256(copy);
        ASSERT_FALSE(copy_hash.empty());

        // A rootfs copy with the runtime's shared libraries (any glibc image
        // has them: they let the runtime binary really run in there), a
        // symlink to /proc/self/exe, and a fifo a victim blocks on.
        rootfs = scratch_ + "/rootfs-copy";
        Result cp = run_command({"cp", "-a", fixture_rootfs(), rootfs}, {}, scratch_);
        ASSERT_EQ(cp.status, 0) << cp;
        Result ldd = run_command({"ldd", copy}, {}, scratch_);
        for (const auto &line : lines(ldd.out)) {
            std::istringstream words(line);
            for (std::string w; words >> w;) {
                if (w.empty() || w[0] != '/') continue;
                fs::create_directories(fs::path(rootfs + w).parent_path());
                fs::copy_file(w, rootfs + w, fs::copy_options::overwrite_existing, ec);
                ASSERT_FALSE(ec) << "copy " << w << ": " << ec.message();
            }
        }
        ASSERT_EQ(symlink("/proc/self/exe", (rootfs + "/evil").c_str()), 0);
        ASSERT_EQ(mkfifo((rootfs + "/fifo").c_str(), 0666), 0);
    }

    static std::string sha256(const std::string &path) {
        Result r = run_command({"sha256sum", path}, {}, "/tmp");
        return r.status == 0 ? r.out.substr(0, 64) : std::string();
    }

    // `COPY --root ROOT args...`
    Result rtc(const std::vector<std::string> &args, const RunOptions &opts = {}) {
        std::vector<std::string> argv = {copy, "--root", root_};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_command(argv, opts, scratch_);
    }
    std::unique_ptr<Process> rtc_spawn(const std::vector<std::string> &args, const RunOptions &opts = {}) {
        std::vector<std::string> argv = {copy, "--root", root_};
        argv.insert(argv.end(), args.begin(), args.end());
        return std::make_unique<Process>(argv, opts, scratch_);
    }

    Bundle &bundle() {
        Bundle &b = make_bundle();
        b.config["root"]["path"] = rootfs;
        b.config["hostname"] = "corral"; // the probe's escape commands insist on it
        return b;
    }

    // The attacker: a container whose init scans /proc and attacks every
    // foreign executable it can open. Returns its `create` process (the
    // container writes its output there) once it is ready.
    std::unique_ptr<Process> start_attacker(Bundle &a) {
        a.set_args({"/probe", "exe-attack", "20", "/fifo"});
        a.write();
        auto created = rtc_spawn({"create", "--bundle", a.dir, a.id});
        Result c = created->wait();
        EXPECT_EQ(c.status, 0) << c;
        Result s = rtc({"start", a.id});
        EXPECT_EQ(s.status, 0) << s;
        EXPECT_TRUE(created->wait_for_output("ready\n")) << created->out();
        return created;
    }

    // Stop the attacker (it may retry writes until nothing executes the
    // binary any more: give it a moment first) and parse its report.
    json attacker_report(Bundle &a, Process &out) {
        std::this_thread::sleep_for(milliseconds(500));
        rtc({"kill", a.id, "TERM"});
        EXPECT_TRUE(out.wait_for_output("}\n", milliseconds(5000))) << out.out();
        std::string text = out.out();
        auto brace = text.find('{');
        json r = json::parse(brace == std::string::npos ? std::string() : text.substr(brace), nullptr, false);
        EXPECT_TRUE(r.is_object()) << "attacker printed: " << text;
        return r.is_object() ? r : json::object();
    }

    // The attack reached the runtime binary and failed to write it.
    void expect_attack_failed(const json &report) {
        EXPECT_EQ(sha256(copy), copy_hash) << "the runtime binary was overwritten from inside the container\n"
                                           << report.dump(1);
        ASSERT_TRUE(report.contains("targets"));
        EXPECT_FALSE(report["targets"].empty())
            << "the attacker never reached the runtime's executable (the test did not exercise the attack)\n"
            << report.dump(1);
        for (const auto &t : report["targets"]) {
            std::string w = t.value("write", "");
            EXPECT_NE(w, "OK") << t.dump();
            EXPECT_TRUE(w == "EROFS" || w == "EPERM" || w == "EACCES")
                << "expected a definitive refusal, got " << t.dump();
        }
    }

    std::string copy, copy_hash, rootfs;
};

TEST_F(Cve2019_5736, InitExecutingProcSelfExeCannotOverwriteTheRuntime) {
    // The victim's args[0] is a symlink to /proc/self/exe: its init, still
    // the runtime, executes the runtime binary inside the container. It
    // shares the attacker's pid namespace, so the attacker also sees the
    // init while it waits for `start` (where it must not be reachable).
    Bundle &a = bundle();
    auto attacker = start_attacker(a);
    pid_t apid = state(a.id).value("pid", 0);
    ASSERT_GT(apid, 0);

    Bundle &v = bundle();
    for (auto &ns : v.config["linux"]["namespaces"])
        if (ns["type"] == "pid") ns["path"] = "/proc/" + std::to_string(apid) + "/ns/pid";
    v.set_args({"/evil", "--log", "/fifo", "state", "no-such-container"});
    v.write();
    Result c = rtc({"create", "--bundle", v.dir, v.id});
    ASSERT_EQ(c.status, 0) << c;
    std::this_thread::sleep_for(milliseconds(300)); // the attacker tries the waiting init
    Result s = rtc({"start", v.id});
    ASSERT_EQ(s.status, 0) << s;
    EXPECT_TRUE(eventually([&] { return processes_of(v.id).empty(); }, milliseconds(8000)))
        << "the victim did not finish";

    json report = attacker_report(a, *attacker);
    expect_attack_failed(report);
    if (!runtime_is_runc()) {
        EXPECT_GT(report.value("denied", 0), 0) << "the waiting init's /proc/PID/exe was open to the container";
    }
}

TEST_F(Cve2019_5736, ExecOfProcSelfExeCannotOverwriteTheRuntime) {
    // `exec` clones the runtime into the container's pid namespace; the
    // exec'd command is a symlink to /proc/self/exe (docker exec variant).
    Bundle &a = bundle();
    auto attacker = start_attacker(a);
    Result e = rtc({"exec", a.id, "/evil", "--log", "/fifo", "state", "no-such-container"},
                   RunOptions{.timeout = milliseconds(15000)});
    (void)e; // the runtime-in-the-container fails: there is no such container
    json report = attacker_report(a, *attacker);
    expect_attack_failed(report);
}

// --- CVE-2024-21626 ------------------------------------------------------------

class Cve2024_21626 : public ContainerTest {
protected:
    static std::vector<int> fd_numbers(const json &open_fds) {
        std::vector<int> out;
        for (const auto &f : open_fds) out.push_back(f["fd"].get<int>());
        return out;
    }
    // `exec ID ARGS...` in a running container; stdout parsed (null if not JSON).
    json exec_probe(Bundle &b, const std::vector<std::string> &flags, const std::vector<std::string> &args,
                    Result *raw = nullptr) {
        std::vector<std::string> argv = {"exec"};
        argv.insert(argv.end(), flags.begin(), flags.end());
        argv.push_back(b.id);
        argv.insert(argv.end(), args.begin(), args.end());
        Result r = rt(argv);
        if (raw) *raw = r;
        return r.status == 0 ? json::parse(r.out, nullptr, false) : json();
    }
};

TEST_F(Cve2024_21626, ExecSeesOnlyStdioFds) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_sleeper(b), 0);
    Result raw;
    json r = exec_probe(b, {}, {"/probe", "fds"}, &raw);
    ASSERT_TRUE(r.is_object()) << raw;
    EXPECT_EQ(fd_numbers(r["open_fds"]), (std::vector<int>{0, 1, 2})) << r.dump();
}

TEST_F(Cve2024_21626, DotDotCwdStaysInsideTheRootfs) {
    Bundle &b = make_bundle();
    b.config["process"]["cwd"] = "/../../../";
    json r = probe(b, {"cwd"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["cwd"], "/") << r.dump();
    EXPECT_TRUE(r["is_root"].get<bool>()) << r.dump();

    Bundle &e = make_bundle();
    ASSERT_GT(start_sleeper(e), 0);
    Result raw;
    json x = exec_probe(e, {"--cwd", "/../../../"}, {"/probe", "cwd"}, &raw);
    ASSERT_TRUE(x.is_object()) << raw;
    EXPECT_EQ(x["cwd"], "/") << x.dump();
    EXPECT_TRUE(x["is_root"].get<bool>()) << x.dump();
}

// runc 1.1.11 and older left a host directory fd (the cgroup's) open in the
// init, and process.cwd = /proc/self/fd/N put the container's program in it,
// outside its root. Whatever N: the runtime refuses, or the cwd is inside.
TEST_F(Cve2024_21626, CwdThroughAProcSelfFdCannotReachTheHost) {
    {
        // Control: a container like those below runs, so "refused" below
        // means refused for its cwd, not a runtime that runs nothing.
        Bundle &b = make_bundle();
        b.set_args({"/probe", "cwd"});
        Result r = run_bundle(b);
        ASSERT_EQ(r.status, 0) << "control container failed\n" << r;
        json j = json::parse(r.out, nullptr, false);
        ASSERT_TRUE(j.is_object() && j["reachable"].get<bool>()) << r;
    }
    for (int fd = 3; fd <= 15; ++fd) {
        std::string cwd = "/proc/self/fd/" + std::to_string(fd);
        Bundle &b = make_bundle();
        b.config["process"]["cwd"] = cwd;
        b.set_args({"/probe", "cwd"});
        Result r = run_bundle(b);
        if (r.status != 0) continue; // refused: fine
        json j = json::parse(r.out, nullptr, false);
        ASSERT_TRUE(j.is_object()) << r;
        EXPECT_TRUE(j["reachable"].get<bool>()) << "process.cwd " << cwd << " is outside the container: " << j.dump();
    }
}

TEST_F(Cve2024_21626, ExecCwdThroughAProcSelfFdCannotReachTheHost) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_sleeper(b), 0);
    {
        Result raw; // control: an exec with a plain cwd works
        json j = exec_probe(b, {"--cwd", "/"}, {"/probe", "cwd"}, &raw);
        ASSERT_EQ(raw.status, 0) << "control exec failed\n" << raw;
        ASSERT_TRUE(j.is_object() && j["reachable"].get<bool>()) << raw;
    }
    for (int fd = 3; fd <= 15; ++fd) {
        std::string cwd = "/proc/self/fd/" + std::to_string(fd);
        Result raw;
        json j = exec_probe(b, {"--cwd", cwd}, {"/probe", "cwd"}, &raw);
        if (raw.status != 0) continue; // refused: fine
        ASSERT_TRUE(j.is_object()) << raw;
        EXPECT_TRUE(j["reachable"].get<bool>()) << "exec --cwd " << cwd << " is outside the container: " << j.dump();
    }
}

// --- Mount destinations: symlinks out of the rootfs, procfs ----------------------
// (CVE-2019-16884, CVE-2021-30465 family)

class MountEscape : public ContainerTest {
protected:
    void SetUp() override {
        ContainerTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        rootfs = scratch_ + "/rootfs-copy";
        Result cp = run_command({"cp", "-a", fixture_rootfs(), rootfs}, {}, scratch_);
        ASSERT_EQ(cp.status, 0) << cp;
        ASSERT_EQ(symlink("/", (rootfs + "/to-root").c_str()), 0);
        ASSERT_EQ(symlink("/proc/self/root", (rootfs + "/to-proc-root").c_str()), 0);
        ASSERT_EQ(symlink("../../..", (rootfs + "/to-parent").c_str()), 0);
        // A name no host has at its root: where a runtime that followed the
        // link on the host would mount.
        name = "corral-escape-" + std::to_string(getpid()) + "-" + std::to_string(::time(nullptr));
    }
    void TearDown() override {
        if (!name.empty() && exists("/" + name)) {
            ADD_FAILURE() << "/" << name << " was created on the host";
            ::rmdir(("/" + name).c_str());
        }
        ContainerTest::TearDown();
    }
    // A tmpfs at `dest`; the container reports its mounts.
    Result run_with_tmpfs_at(const std::string &dest, Bundle *&out) {
        Bundle &b = make_bundle();
        b.config["root"]["path"] = rootfs;
        b.add_mount({{"destination", dest}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"size=1m"}}});
        b.set_args({"/probe", "mounts"});
        out = &b;
        return run_bundle(b);
    }
    // Control: the same container with a tmpfs at a plain path runs and
    // has it, so a refusal below is about the symlink, not a runtime that
    // runs nothing.
    void expect_plain_tmpfs_works() {
        Bundle *b = nullptr;
        Result r = run_with_tmpfs_at("/plain-" + name, b);
        ASSERT_EQ(r.status, 0) << "control container failed\n" << r;
        ASSERT_NE(r.out.find("/plain-" + name), std::string::npos) << r;
        ::rmdir((rootfs + "/plain-" + name).c_str());
    }
    void expect_inside_or_refused(const std::string &link) {
        ASSERT_NO_FATAL_FAILURE(expect_plain_tmpfs_works());
        Bundle *b = nullptr;
        Result r = run_with_tmpfs_at("/" + link + "/" + name, b);
        EXPECT_FALSE(exists("/" + name)) << "the runtime followed /" << link << " on the host\n" << r;
        EXPECT_TRUE(mounts_mentioning(name).empty()) << "a mount leaked to the host";
        if (r.status != 0) return; // refused: fine, as long as the host is untouched
        json j = json::parse(r.out, nullptr, false);
        ASSERT_TRUE(j.is_object()) << r;
        bool inside = false;
        for (const auto &m : j["mounts"])
            inside |= m["target"] == "/" + name && m["fstype"] == "tmpfs";
        EXPECT_TRUE(inside) << "expected the tmpfs at /" << name << " inside the container\n" << j["mounts"].dump(1);
        EXPECT_TRUE(exists(rootfs + "/" + name)) << "the mount point is made inside the rootfs copy";
    }
    std::string rootfs, name;
};

TEST_F(MountEscape, DestinationThroughSymlinkToSlashLandsInside) { expect_inside_or_refused("to-root"); }

TEST_F(MountEscape, DestinationThroughSymlinkToProcSelfRootLandsInside) { expect_inside_or_refused("to-proc-root"); }

TEST_F(MountEscape, DestinationThroughRelativeSymlinkUpwardsLandsInside) { expect_inside_or_refused("to-parent"); }

// CVE-2021-30465: a racer (here: the host, as another container sharing a
// volume would) swaps a directory on the destination's path with a symlink
// to "/" while containers are created. Resolution and mount use one fd, so
// every mount lands inside, whichever of the two it met.
TEST_F(MountEscape, RacingSymlinkSwapNeverLeavesTheRootfs) {
    if (runtime_is_runc())
        GTEST_SKIP() << "runc 1.1.5 loses this race: it creates the directory on the host (CVE-2024-45310, "
                        "fixed in runc 1.1.14); not run against the baseline, to leave the host alone";
    std::string dir = rootfs + "/race/dir", link = rootfs + "/race/link";
    fs::create_directories(dir);
    ASSERT_EQ(symlink("/", link.c_str()), 0);
    std::atomic<bool> stop{false};
    std::atomic<long> swaps{0};
    std::thread racer([&] {
        while (!stop)
            if (renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE) == 0) ++swaps;
    });
    int ran = 0;
    bool escaped = false, leaked = false;
    Result last;
    for (int i = 0; i < 20 && !escaped && !leaked; ++i) {
        Bundle *b = nullptr;
        last = run_with_tmpfs_at("/race/dir/" + name, b);
        ran += last.status == 0;
        escaped = exists("/" + name);
        leaked = !mounts_mentioning(name).empty();
    }
    stop = true;
    racer.join(); // on every path: a joinable thread would abort the whole test binary
    std::fprintf(stderr, "[race] %ld swaps while %d containers ran\n", swaps.load(), ran);
    EXPECT_FALSE(escaped) << "a racing symlink made the runtime create /" << name << " on the host\n" << last;
    EXPECT_FALSE(leaked) << "a mount leaked to the host";
    EXPECT_GT(swaps.load(), 100) << "the racer hardly ran";
    if (!escaped) {
        EXPECT_GT(ran, 0) << "no container could be created at all while racing";
    }
}

// CVE-2019-16884: a mount over procfs files the runtime (or an LSM) relies
// on, such as /proc/self/attr/*, must be refused, as runc does for any
// destination inside /proc (but /proc itself and lxcfs's files). runc 1.1.5
// checks bind mounts only, so its baseline runs the bind variants.
class ProcfsDestination : public MountEscape {
protected:
    // A bundle with a tmpfs (dirs) or a bind of a host dir/file at `dest`.
    Bundle &bundle_with_mount(const std::string &dest, bool is_dir, bool bind) {
        Bundle &b = make_bundle();
        b.config["root"]["path"] = rootfs;
        if (bind) {
            std::string src = make_dir("src");
            if (!is_dir) {
                src += "/file";
                write_file(src, "fake\n");
            }
            b.add_bind(src, dest);
        } else {
            b.add_mount({{"destination", dest}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"size=1m"}}});
        }
        b.set_args({"/probe", "exit", "0"});
        return b;
    }
    // That mount at `dest`: refused?
    void expect_refused(const std::string &dest, bool is_dir, bool bind) {
        // Control: the same mount at a plain destination runs.
        ASSERT_NO_FATAL_FAILURE(expect_mount_runs("/" + name + "-ok", is_dir, bind));
        Result r = run_bundle(bundle_with_mount(dest, is_dir, bind));
        EXPECT_NE(r.status, 0) << (bind ? "a bind mount" : "a tmpfs") << " at " << dest << " covered procfs\n" << r;
    }
    void expect_mount_runs(const std::string &dest, bool is_dir, bool bind) {
        Result r = run_bundle(bundle_with_mount(dest, is_dir, bind));
        ASSERT_EQ(r.status, 0) << "control: " << (bind ? "a bind mount" : "a tmpfs") << " at " << dest << "\n" << r;
        ::unlink((rootfs + dest).c_str());
        ::rmdir((rootfs + dest).c_str());
    }
    bool tmpfs_variants() const { return !runtime_is_runc(); }
};

TEST_F(ProcfsDestination, MountsOverProcfsAreRefused) {
    struct Case {
        const char *dest;
        bool is_dir;
    };
    for (auto [dest, is_dir] : {Case{"/proc/self/attr", true}, Case{"/proc/self/attr/exec", false},
                                Case{"/proc/1/attr", true}, Case{"/proc/sys/kernel", true}}) {
        expect_refused(dest, is_dir, /*bind=*/true);
        if (is_dir && tmpfs_variants()) expect_refused(dest, is_dir, /*bind=*/false);
    }
}

TEST_F(ProcfsDestination, SymlinkIntoProcfsIsRefused) {
    ASSERT_EQ(symlink("/proc/sys", (rootfs + "/to-proc-sys").c_str()), 0);
    expect_refused("/to-proc-sys/kernel", true, /*bind=*/true);
    if (tmpfs_variants()) expect_refused("/to-proc-sys/kernel", true, /*bind=*/false);
}

TEST_F(ProcfsDestination, LxcfsStyleBindOverProcMeminfoIsAllowed) {
    // The one kind of mount on procfs that real setups need (lxcfs).
    std::string dir = make_dir("lxcfs");
    write_file(dir + "/meminfo", "MemTotal: 1 kB\n");
    Bundle &b = make_bundle();
    b.add_mount({{"destination", "/proc/meminfo"}, {"type", "bind"}, {"source", dir + "/meminfo"}, {"options", {"bind", "ro"}}});
    b.set_args({"/probe", "read", "/proc/meminfo"});
    Result r = run_bundle(b);
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_EQ(r.out, "MemTotal: 1 kB\n");
}

// --- /proc and /sys hardening ------------------------------------------------------

class Hardening : public ContainerTest {
protected:
    json try_op(Bundle &b, const std::string &op, const std::string &arg) {
        json r = probe(b, {"try", op, arg});
        return r.is_object() ? r : json::object();
    }
};

TEST_F(Hardening, MaskedPathsCannotBeUnmasked) {
    // Unmounting the mask needs CAP_SYS_ADMIN, which the default set lacks.
    for (const char *path : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware", "/proc/acpi"}) {
        if (!exists(path)) continue;
        Bundle &b = make_bundle();
        for (const char *op : {"umount", "umount-detach"}) {
            json r = try_op(b, op, path);
            EXPECT_EQ(r.value("result", ""), "EPERM") << op << " " << path << ": " << r.dump();
        }
        // And the mask is still there: an empty file or an empty directory.
        json st = probe(b, {"stat", path});
        if (st.value("type", "") == "file") {
            b.set_args({"/probe", "read", path});
            Result rd = run_bundle(b);
            EXPECT_EQ(rd.out, "") << path << " is readable";
        }
    }
}

TEST_F(Hardening, ReadonlyPathsCannotBeRemountedWritable) {
    Bundle &b = make_bundle();
    for (const char *path : {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/sys"}) {
        if (!exists(path)) continue;
        json r = try_op(b, "remount-rw", path);
        EXPECT_EQ(r.value("result", ""), "EPERM") << path << ": " << r.dump();
    }
    json w = try_op(b, "open-write", "/proc/sys/kernel/hostname");
    EXPECT_EQ(w.value("result", ""), "EROFS") << w.dump();
}

TEST_F(Hardening, DroppedCapabilitiesAreReallyGone) {
    // The fixture keeps CAP_AUDIT_WRITE, CAP_KILL and CAP_NET_BIND_SERVICE.
    Bundle &b = make_bundle();
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    const json &caps = r["capabilities"];
    EXPECT_EQ(caps["effective"], "0000000020000420");
    EXPECT_EQ(caps["permitted"], "0000000020000420");
    EXPECT_EQ(caps["bounding"], "0000000020000420");
    EXPECT_EQ(caps["inheritable"], "0000000000000000");
    EXPECT_EQ(caps["ambient"], "0000000000000000");
    EXPECT_EQ(try_op(b, "sethostname", "escaped").value("result", ""), "EPERM");
    EXPECT_EQ(try_op(b, "mount-tmpfs", "/tmp").value("result", ""), "EPERM");
    EXPECT_EQ(try_op(b, "umount", "/proc").value("result", ""), "EPERM");
}

class NoNewPrivs : public ContainerTest {
protected:
    void SetUp() override {
        ContainerTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        // A rootfs copy holding a setuid-root copy of the probe. (Not of
        // busybox: a setuid busybox drops the privilege itself for `id`
        // and most applets, so `id` shows uid 1000 even without
        // no_new_privs, and the control below could not fail.)
        rootfs = scratch_ + "/rootfs-copy";
        Result cp = run_command({"cp", "-a", fixture_rootfs(), rootfs}, {}, scratch_);
        ASSERT_EQ(cp.status, 0) << cp;
        std::error_code ec;
        fs::copy_file(rootfs + "/probe", rootfs + "/suid-probe", ec);
        ASSERT_FALSE(ec) << ec.message();
        ASSERT_EQ(chown((rootfs + "/suid-probe").c_str(), 0, 0), 0);
        ASSERT_EQ(chmod((rootfs + "/suid-probe").c_str(), 04755), 0);
    }
    json whoami(bool no_new_privs) {
        Bundle &b = make_bundle();
        b.config["root"]["path"] = rootfs;
        b.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
        b.config["process"]["noNewPrivileges"] = no_new_privs;
        b.set_args({"/suid-probe", "whoami"});
        Result r = run_bundle(b);
        EXPECT_EQ(r.status, 0) << r;
        json j = json::parse(r.out, nullptr, false);
        return j.is_object() ? j : json::object();
    }
    std::string rootfs;
};

TEST_F(NoNewPrivs, SetuidBinaryGainsNothing) {
    json with = whoami(true);
    EXPECT_EQ(with["uid"], 1000) << with.dump();
    EXPECT_EQ(with["euid"], 1000) << "no_new_privs: the setuid bit must not apply\n" << with.dump();
    // The control: without no_new_privs the same binary does become root,
    // so the check above is not vacuous.
    json without = whoami(false);
    EXPECT_EQ(without["euid"], 0) << "setuid is not effective in this rootfs copy\n" << without.dump();
}

}  // namespace
}  // namespace corral_it
