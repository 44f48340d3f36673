// Mounts, as seen from inside the container: the standard filesystems, bind
// and tmpfs mounts from config.json, a symlinked destination that points out
// of the rootfs, a read-only root, masked and read-only paths.
#include "integration/harness.hpp"

#include <algorithm>
#include <sys/stat.h>
#include <unistd.h>

namespace corral_it {
namespace {

class Mounts : public ContainerTest {};

// The mount that is visible at `target` (the last one in mountinfo order).
json mount_at(const json &mounts, const std::string &target) {
    json found;
    for (const auto &m : mounts)
        if (m["target"] == target) found = m;
    return found;
}

bool has(const json &list, const std::string &value) {
    if (!list.is_array()) return false;
    return std::find(list.begin(), list.end(), value) != list.end();
}

TEST_F(Mounts, StandardFilesystemsAreMountedWithTheirTypes) {
    Bundle &b = make_bundle();
    json r = probe(b, {"mounts"});
    ASSERT_TRUE(r.is_object());
    const json &mounts = r["mounts"];
    struct Want {
        const char *target, *fstype;
    };
    for (auto [target, fstype] : {Want{"/proc", "proc"}, Want{"/dev", "tmpfs"}, Want{"/dev/pts", "devpts"},
                                  Want{"/dev/shm", "tmpfs"}, Want{"/dev/mqueue", "mqueue"}, Want{"/sys", "sysfs"}}) {
        json m = mount_at(mounts, target);
        ASSERT_TRUE(m.is_object()) << "nothing mounted at " << target << "\n" << mounts.dump(1);
        EXPECT_EQ(m["fstype"], fstype) << target;
    }
    EXPECT_TRUE(has(mount_at(mounts, "/sys")["options"], "ro")) << "/sys must be read-only";
    EXPECT_TRUE(has(mount_at(mounts, "/dev/shm")["options"], "nodev"));
    EXPECT_TRUE(has(mount_at(mounts, "/dev/pts")["super_options"], "gid=5"));
}

TEST_F(Mounts, ReadOnlyBindMountShowsHostFileAndRejectsWrites) {
    std::string host = make_dir("bind-src");
    write_file(host + "/hello.txt", "from the host");
    Bundle &b = make_bundle();
    b.add_bind(host, "/var", /*readonly=*/true);

    b.set_args({"/probe", "read", "/var/hello.txt"});
    Result r = run_bundle(b);
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_EQ(r.out, "from the host");

    b.set_args({"/probe", "write", "/var/new.txt", "x"});
    r = run_bundle(b);
    EXPECT_EQ(r.status, 1) << r;
    EXPECT_NE(r.err.find("EROFS"), std::string::npos) << r;
    EXPECT_FALSE(exists(host + "/new.txt"));

    json m = mount_at(probe(b, {"mounts"})["mounts"], "/var");
    EXPECT_TRUE(has(m["options"], "ro")) << m.dump();
}

TEST_F(Mounts, WritableBindMountWritesThroughToTheHost) {
    std::string host = make_dir("bind-rw");
    Bundle &b = make_bundle();
    b.add_bind(host, "/var");
    b.set_args({"/probe", "write", "/var/out.txt", "from the container"});
    Result r = run_bundle(b);
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_EQ(read_file(host + "/out.txt"), "from the container");
}

TEST_F(Mounts, TmpfsHonoursItsSizeOption) {
    Bundle &b = make_bundle();
    b.add_tmpfs("/tmp", {"nosuid", "size=1m", "mode=1777"});
    json m = mount_at(probe(b, {"mounts"})["mounts"], "/tmp");
    ASSERT_TRUE(m.is_object());
    EXPECT_EQ(m["fstype"], "tmpfs");
    EXPECT_TRUE(has(m["super_options"], "size=1024k")) << m.dump();
    EXPECT_TRUE(has(m["options"], "nosuid")) << m.dump();
}

TEST_F(Mounts, RelativeMountDestinationIsResolvedFromRoot) {
    // runtime-spec 1.2: a relative destination is deprecated but valid, and
    // means the path under "/" (runc does the same, with a warning).
    Bundle &b = make_bundle();
    b.add_mount({{"destination", "tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"size=2m"}}});
    json m = mount_at(probe(b, {"mounts"})["mounts"], "/tmp");
    ASSERT_TRUE(m.is_object()) << "no mount at /tmp";
    EXPECT_TRUE(has(m["super_options"], "size=2048k")) << m.dump();
}

// A private rootfs copy in which /evil -> <host dir> (an absolute link that
// points outside): a runtime that follows the link on the host would create
// <host dir>/sub and mount over it.
class SymlinkedDestination : public Mounts {
protected:
    void SetUp() override {
        Mounts::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        rootfs = scratch_ + "/rootfs-copy";
        Result cp = run_command({"cp", "-a", fixture_rootfs(), rootfs}, {}, scratch_);
        ASSERT_EQ(cp.status, 0) << cp;
        target = make_dir("host-target");
        write_file(target + "/keep", "untouched");
        ASSERT_EQ(symlink(target.c_str(), (rootfs + "/evil").c_str()), 0);
        // As in Debian images (/var/run -> /run), and a relative one.
        ASSERT_EQ(symlink("/run", (rootfs + "/var/run").c_str()), 0);
        ASSERT_EQ(symlink("../run", (rootfs + "/var/lock").c_str()), 0);
    }
    Bundle &bundle() {
        Bundle &b = make_bundle();
        b.config["root"]["path"] = rootfs;
        b.add_mount({{"destination", "/evil/sub"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"size=1m"}}});
        return b;
    }
    std::string rootfs, target;
};

TEST_F(SymlinkedDestination, NeverTouchesTheHostPath) {
    // Whether the runtime refuses the mount or resolves it in the rootfs, the
    // host directory stays as it was.
    Bundle &b = bundle();
    b.set_args({"/probe", "exit", "0"});
    Result r = run_bundle(b);
    EXPECT_FALSE(exists(target + "/sub")) << "the runtime created a directory on the host through the symlink\n"
                                          << r;
    EXPECT_EQ(read_file(target + "/keep"), "untouched");
    EXPECT_TRUE(mounts_mentioning(target).empty());
}

TEST_F(SymlinkedDestination, DanglingLinkIsCreatedInsideTheRootfsLikeRunc) {
    // runc (securejoin) follows the link as if the rootfs were "/", and
    // makes the missing directories there: the tmpfs lands at
    // <rootfs>/<host dir>/sub (the link dangles inside the rootfs).
    Bundle &b = bundle();
    json r = probe(b, {"mounts"});
    ASSERT_TRUE(r.is_object());
    json m = mount_at(r["mounts"], target + "/sub");
    EXPECT_TRUE(m.is_object() && m["fstype"] == "tmpfs")
        << "expected the tmpfs at " << target << "/sub inside the rootfs\n"
        << r["mounts"].dump(1);
    EXPECT_TRUE(exists(rootfs + target + "/sub")) << "the destination is made inside the rootfs copy";
    EXPECT_FALSE(exists(target + "/sub"));
}

TEST_F(SymlinkedDestination, AbsoluteLinkWithinTheRootfsIsFollowedInsideIt) {
    // Kubernetes mounts its service account token at /var/run/secrets/...;
    // in Debian-based images /var/run is the absolute link /run.
    Bundle &b = make_bundle();
    b.config["root"]["path"] = rootfs;
    b.add_mount({{"destination", "/var/run/secrets"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"size=1m"}}});
    json r = probe(b, {"mounts"});
    ASSERT_TRUE(r.is_object());
    json m = mount_at(r["mounts"], "/run/secrets");
    EXPECT_TRUE(m.is_object() && m["fstype"] == "tmpfs") << r["mounts"].dump(1);
    EXPECT_FALSE(exists("/run/secrets")) << "made on the host";
}

TEST_F(SymlinkedDestination, RelativeLinkWithinTheRootfsIsFollowedInsideIt) {
    Bundle &b = make_bundle();
    b.config["root"]["path"] = rootfs;
    b.add_mount({{"destination", "/var/lock/sub"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"size=1m"}}});
    json r = probe(b, {"mounts"});
    ASSERT_TRUE(r.is_object());
    json m = mount_at(r["mounts"], "/run/sub");
    EXPECT_TRUE(m.is_object() && m["fstype"] == "tmpfs") << r["mounts"].dump(1);
}

TEST_F(Mounts, ReadonlyRootRejectsWrites) {
    Bundle &b = make_bundle();
    b.config["root"]["readonly"] = true;
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["root_readonly"], "EROFS");
    EXPECT_TRUE(has(mount_at(r["mounts"], "/")["options"], "ro"));
}

TEST_F(Mounts, MaskedPathsReadAsEmpty) {
    ASSERT_FALSE(read_file("/proc/timer_list").empty()) << "host precondition: /proc/timer_list has content";
    Bundle &b = make_bundle();
    for (const char *path : {"/proc/timer_list", "/proc/keys"}) {
        b.set_args({"/probe", "read", path});
        Result r = run_bundle(b);
        EXPECT_EQ(r.status, 0) << r;
        EXPECT_EQ(r.out, "") << path << " is not masked";
    }
    // A masked directory is hidden under an empty read-only mount.
    json m = mount_at(probe(b, {"mounts"})["mounts"], "/proc/acpi");
    if (exists("/proc/acpi")) {
        ASSERT_TRUE(m.is_object()) << "/proc/acpi is not masked";
        EXPECT_TRUE(has(m["options"], "ro")) << m.dump();
    }
}

TEST_F(Mounts, ReadonlyPathsCannotBeWritten) {
    Bundle &b = make_bundle();
    json m = mount_at(probe(b, {"mounts"})["mounts"], "/proc/sys");
    ASSERT_TRUE(m.is_object()) << "no mount at /proc/sys";
    EXPECT_TRUE(has(m["options"], "ro")) << m.dump();

    b.set_args({"/probe", "write", "/proc/sys/kernel/domainname", "x"});
    Result r = run_bundle(b);
    EXPECT_EQ(r.status, 1) << r;
    EXPECT_NE(r.err.find("EROFS"), std::string::npos) << r;
}

TEST_F(Mounts, RootfsPropagationValuesAreAcceptedAndBogusOnesRejected) {
    // Every mount of this host is private, so the modes look alike from
    // inside (runc also makes the rootfs's parent private for pivot_root):
    // what is checked is that each is accepted, and that a bogus one is not.
    for (const char *mode : {"shared", "slave", "private", "rshared", "rslave", "rprivate"}) {
        Bundle &b = make_bundle();
        b.config["linux"]["rootfsPropagation"] = mode;
        b.set_args({"/probe", "exit", "0"});
        Result r = run_bundle(b);
        EXPECT_EQ(r.status, 0) << "rootfsPropagation " << mode << "\n" << r;
    }
    Bundle &b = make_bundle();
    b.config["linux"]["rootfsPropagation"] = "bogus";
    b.set_args({"/probe", "exit", "0"});
    Result r = run_bundle(b);
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find("rootfsPropagation"), std::string::npos) << r;
}

}  // namespace
}  // namespace corral_it
