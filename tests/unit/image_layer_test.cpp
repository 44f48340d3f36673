// The layer unpacker on tars built entry by entry: what a layer may hold
// (modes, owners, setuid, xattrs, file capabilities, links, devices,
// whiteouts, opaque directories, times) and the hostile corpus (escapes by
// name, through symlinks and hard links; bad digests, truncated and
// oversized streams): each rejected, nothing written outside.
#include "image/layer.hpp"

#include "image_testutil.hpp"

#include <memory>

namespace corral::image {
namespace {

using namespace image_test;

class LayerTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "layers with owners, devices and whiteouts need root";
        ASSERT_EQ(::mkdir((tmp / "layer").c_str(), 0755), 0);
        ASSERT_EQ(::mkdir((tmp / "outside").c_str(), 0755), 0);
        write_all(tmp / "outside/secret", "secret");
        root = ::open((tmp / "layer").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    void TearDown() override {
        if (root >= 0) ::close(root);
    }

    // Apply a blob (compressed or not) whose uncompressed form is `tar`.
    Result<LayerStats> apply(const std::string &blob, const std::string &tar, const ApplyLimits &limits = {},
                             std::string digest = "") {
        std::string path = tmp / ("blob-" + std::to_string(++n));
        write_all(path, blob);
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        LayerInput in;
        in.blob = BlobRange{std::make_shared<const UniqueFd>(fd), 0, blob.size()};
        in.digest = digest.empty() ? sha256_digest(blob) : digest;
        in.size = blob.size();
        in.diff_id = gunzip_tar_digest(tar);
        in.what = "layer test";
        return apply_layer(root, in, limits, Logger{});
    }
    Result<LayerStats> apply_entries(const std::vector<Entry> &entries, const std::string &compression = "gzip") {
        return apply(make_tar(entries, compression), make_tar(entries, ""));
    }
    // Nothing appeared next to the layer, and the secret is intact.
    void expect_outside_untouched() {
        auto top = snapshot(tmp.path);
        for (auto &[p, node] : top) {
            bool ours = p == "/" || p.rfind("layer", 0) == 0 || p.rfind("blob-", 0) == 0 || p == "outside" ||
                        p == "outside/secret";
            EXPECT_TRUE(ours) << "written outside the layer: " << p;
        }
        EXPECT_EQ(read_all(tmp / "outside/secret"), "secret");
        EXPECT_FALSE(exists("/escape-by-layer-test"));
    }
    std::string at(const std::string &rel) { return tmp / ("layer/" + rel); }

    TempDir tmp;
    int root = -1;
    int n = 0;
};

TEST_F(LayerTest, KeepsModesOwnersXattrsCapabilitiesAndTimes) {
    Entry suid = file("bin/su", "su", 04755);
    suid.uid = 0;
    Entry owned = file("home/u/f", "x", 0640);
    owned.uid = 1000;
    owned.gid = 1001;
    Entry capped = file("bin/ping", "ping", 0755);
    // VFS_CAP_REVISION_2, cap_net_raw (13) permitted+effective
    std::string cap("\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
    capped.xattrs["security.capability"] = cap;
    capped.xattrs["user.note"] = "hello";
    Entry sgid_dir = dir("shared", 02775);
    sgid_dir.gid = 50;
    sgid_dir.mtime = 1234567890;
    Entry dev = {"dev/null", 'c', "", 0666, 0, 0, makedev(1, 3)};
    Entry fifo = {"run/fifo", 'p', "", 0600};
    ASSERT_TRUE(apply_entries({dir("bin"), suid, dir("home"), dir("home/u", 0700), owned, capped, sgid_dir,
                               file("shared/x", "x"), dir("dev"), dev, dir("run"), fifo}));
    struct stat st {};
    ASSERT_EQ(::stat(at("bin/su").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 04755u);
    ASSERT_EQ(::stat(at("home/u/f").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 1000u);
    EXPECT_EQ(st.st_gid, 1001u);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_EQ(st.st_mtim.tv_sec, 946684800);
    auto x = xattrs_of(at("bin/ping"));
    EXPECT_EQ(x["security.capability"], cap);
    EXPECT_EQ(x["user.note"], "hello");
    ASSERT_EQ(::stat(at("shared").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 02775u);
    EXPECT_EQ(st.st_gid, 50u);
    EXPECT_EQ(st.st_mtim.tv_sec, 1234567890) << "directory times are set after their children";
    ASSERT_EQ(::lstat(at("dev/null").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, makedev(1, 3));
    EXPECT_EQ(st.st_mode & 07777, 0666u);
    ASSERT_EQ(::lstat(at("run/fifo").c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST_F(LayerTest, LinksWhiteoutsAndOpaqueDirsInOverlayFormat) {
    ASSERT_TRUE(apply_entries({dir("a"), file("a/f", "data"), hlink("a/g", "a/f"), slink("a/s", "/etc/passwd"),
                               file(".wh.gone", ""), dir("o"), file("o/.wh..wh..opq", ""), file("o/kept", "k"),
                               file("a/.wh.old", ""), file(".wh..wh.plnk", "")},
                              "zstd"));
    struct stat f {}, g {}, s {};
    ASSERT_EQ(::stat(at("a/f").c_str(), &f), 0);
    ASSERT_EQ(::stat(at("a/g").c_str(), &g), 0);
    EXPECT_EQ(f.st_ino, g.st_ino);
    EXPECT_EQ(f.st_nlink, 2u);
    ASSERT_EQ(::lstat(at("a/s").c_str(), &s), 0);
    EXPECT_TRUE(S_ISLNK(s.st_mode));
    struct stat w {};
    ASSERT_EQ(::lstat(at("gone").c_str(), &w), 0);
    EXPECT_TRUE(S_ISCHR(w.st_mode) && w.st_rdev == makedev(0, 0)) << "a whiteout is a 0/0 char device";
    ASSERT_EQ(::lstat(at("a/old").c_str(), &w), 0);
    EXPECT_TRUE(S_ISCHR(w.st_mode));
    char v[4] = {};
    EXPECT_EQ(::getxattr(at("o").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
    EXPECT_EQ(v[0], 'y');
    EXPECT_EQ(read_all(at("o/kept")), "k");
    EXPECT_FALSE(exists(at(".wh.gone")));
    EXPECT_FALSE(exists(at(".wh..wh.plnk")));
}

TEST_F(LayerTest, ImplicitParentsAreMadeAndReported) {
    auto st = apply_entries({file("x/y/z", "deep")});
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(read_all(at("x/y/z")), "deep");
    EXPECT_EQ(st->implicit_dirs, (std::vector<std::string>{"", "x", "x/y"})) << "the root was not listed either";
}

TEST_F(LayerTest, NamesAreBytesWhateverTheLocale) {
    auto st = apply_entries({dir("d\xc3\xafr"), file("d\xc3\xafr/f\xc3\xafle", "x"), slink("l\xc3\xafnk", "d\xc3\xafr")});
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(read_all(at("d\xc3\xafr/f\xc3\xafle")), "x");
    EXPECT_TRUE(exists(at("l\xc3\xafnk")));
}

TEST_F(LayerTest, LaterEntriesReplaceEarlierOnes) {
    ASSERT_TRUE(apply_entries({dir("d"), file("d/f", "1"), file("d", "now a file"), slink("s", "nowhere"),
                               file("s", "now a file too")}));
    EXPECT_EQ(read_all(at("d")), "now a file");
    EXPECT_EQ(read_all(at("s")), "now a file too");
}

// umoci 0.4.7's `insert` ends its layer tar right after the last file's
// data (no padding, no end-of-archive blocks); Go's tar reader takes it, so
// must we, but only when nothing of an entry's data is missing.
TEST_F(LayerTest, ALayerEndingRightAfterTheLastFilesDataIsRead) {
    const std::string content = "the last file, 33 bytes of data\n";
    std::string tar = make_tar({dir("/"), dir("/etc"), file("/etc/passwd", content, 0640)});
    std::string cut = tar.substr(0, tar.rfind(content) + content.size());
    ASSERT_NE(cut.size() % 512, 0u);
    auto st = apply(cut, cut);
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(read_all(at("etc/passwd")), content);
    EXPECT_EQ(snapshot(at(""))["etc/passwd"].mode, 0640u) << "the entry is finished after its data";
    EXPECT_EQ(st->files, 1u);

    // Data missing (cut inside the file, or inside a header): still an error.
    for (size_t keep : {tar.rfind(content) + 5, tar.rfind(content) - 100}) {
        SCOPED_TRACE(keep);
        std::string shorter = tar.substr(0, keep);
        sh("rm -rf '" + at("") + "'* ");
        st = apply(shorter, shorter);
        ASSERT_FALSE(st);
        EXPECT_NE(st.error().message().find("runcated"), std::string::npos) << st.error().message();
    }
}

// --- the hostile corpus ----------------------------------------------------------------

TEST_F(LayerTest, RejectsDotDotNames) {
    auto st = apply_entries({file("../escape", "x")});
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message().find("`..`"), std::string::npos) << st.error().message();
    st = apply_entries({dir("a"), file("a/../../outside/secret", "pwned")});
    ASSERT_FALSE(st);
    expect_outside_untouched();
}

// umoci writes `/` and `/bin/x`, GNU tar `./` and `./bin/x`: all of them
// name paths below the layer's root, never the host's.
TEST_F(LayerTest, AbsoluteAndDotNamesStayBelowTheRoot) {
    Entry root = dir("/", 0750);
    root.uid = 7;
    root.gid = 8;
    root.mtime = 1000000000;
    Entry etc = dir("./etc", 0711);
    etc.uid = 3;
    auto st = apply_entries({root, file("/escape-by-layer-test", "x"), etc, file("/etc/passwd", "root:x:0:0::/:/bin/sh\n"),
                             hlink("./etc/passwd-", "/etc/passwd"), hlink("//etc/passwd.2", "./etc/passwd"),
                             file("//double", "d"), dir("/gone"), file("/gone/f", "f"), file("/.wh.gone", ""),
                             dir("./o"), file("./o/f", "f"), file("/o/.wh..wh..opq", ""), dir("."), dir("./")});
    ASSERT_TRUE(st) << st.error().message();
    expect_outside_untouched();
    EXPECT_EQ(read_all(at("escape-by-layer-test")), "x");
    EXPECT_EQ(read_all(at("double")), "d");
    auto tree = snapshot(at(""));
    EXPECT_EQ(tree["/"].mode, 0755u) << "the last root entry wins";
    EXPECT_EQ(tree["/"].uid, 0u);
    EXPECT_EQ(tree["etc"].mode, 0711u);
    EXPECT_EQ(tree["etc"].uid, 3u);
    EXPECT_EQ(tree["etc/passwd-"].ino, tree["etc/passwd"].ino) << "an absolute hard-link target is in the layer";
    EXPECT_EQ(tree["etc/passwd.2"].ino, tree["etc/passwd"].ino);
    EXPECT_EQ(tree["gone"].type, 'c') << "a whiteout with a leading slash";
    EXPECT_EQ(tree["gone"].rdev, makedev(0, 0));
    char v[4] = {};
    EXPECT_EQ(::getxattr(at("o").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
    EXPECT_TRUE(st->implicit_dirs.empty()) << "the root was listed";

    // A single root entry sets the root's owner, mode and time.
    sh("rm -rf '" + at("") + "'* ");
    st = apply_entries({root, file("/f", "f")});
    ASSERT_TRUE(st) << st.error().message();
    tree = snapshot(at(""));
    EXPECT_EQ(tree["/"].mode, 0750u);
    EXPECT_EQ(tree["/"].uid, 7u);
    EXPECT_EQ(tree["/"].gid, 8u);
    EXPECT_EQ(tree["/"].mtime, 1000000000);
}

TEST_F(LayerTest, TheRootEntryMustBeADirectory) {
    for (Entry e : {file(".", "x"), slink("./", "/etc"), hlink("/.", "f")}) {
        SCOPED_TRACE(e.name);
        auto st = apply_entries({file("f", "f"), e});
        ASSERT_FALSE(st);
        EXPECT_NE(st.error().message().find("the root must be a directory"), std::string::npos) << st.error().message();
        expect_outside_untouched();
    }
}

TEST_F(LayerTest, DotDotIsRefusedWhateverThePrefix) {
    for (std::string name : {"/../escape-by-layer-test", "./../escape-by-layer-test", "//a/../../escape-by-layer-test",
                             "/.."}) {
        SCOPED_TRACE(name);
        auto st = apply_entries({file(name, "x")});
        ASSERT_FALSE(st);
        EXPECT_NE(st.error().message().find("`..`"), std::string::npos) << st.error().message();
        st = apply_entries({file("f", "f"), hlink("h", name)});
        ASSERT_FALSE(st) << "hard-link target " << name;
        st = apply_entries({file(name + "/.wh.x", "")});
        ASSERT_FALSE(st) << "whiteout under " << name;
        expect_outside_untouched();
    }
}

TEST_F(LayerTest, NeverWritesThroughASymlinkItPlanted) {
    for (std::string target : {tmp / "outside", std::string("../outside"), std::string("/")}) {
        SCOPED_TRACE(target);
        sh("rm -rf '" + at("") + "'* ");
        auto st = apply_entries({slink("link", target), file("link/secret", "pwned"), file("link/tmp/new", "pwned")});
        ASSERT_FALSE(st);
        EXPECT_EQ(st.error().err(), ELOOP);
        EXPECT_NE(st.error().message().find("is a symlink: refusing to write through it"), std::string::npos)
            << st.error().message();
        expect_outside_untouched();
    }
}

TEST_F(LayerTest, SymlinkDirectoryChainsAreRefusedToo) {
    auto st = apply_entries({dir("a"), slink("a/up", ".."), slink("a/b", "up/up/outside"), file("a/b/secret", "pwned")});
    ASSERT_FALSE(st);
    expect_outside_untouched();
}

TEST_F(LayerTest, RejectsHardLinksOutOfTheLayer) {
    for (std::string target : {std::string("../outside/secret"), tmp / "outside/secret", std::string("/etc/passwd"),
                               std::string("missing/file")}) {
        SCOPED_TRACE(target);
        auto st = apply_entries({hlink("h", target)});
        ASSERT_FALSE(st);
        expect_outside_untouched();
    }
}

TEST_F(LayerTest, AHardLinkToASymlinkLinksTheSymlinkAndWritesNeverFollowIt) {
    ASSERT_TRUE(apply_entries({slink("s", tmp / "outside/secret"), hlink("h", "s"), file("h", "pwned"),
                               file("s", "pwned too")}));
    expect_outside_untouched();
    EXPECT_EQ(read_all(at("h")), "pwned");
}

TEST_F(LayerTest, DropsXattrsThatSteerOverlayfs) {
    Entry d = dir("d");
    d.xattrs["trusted.overlay.redirect"] = "/etc";
    d.xattrs["trusted.overlay.metacopy"] = "";
    ASSERT_TRUE(apply_entries({d}));
    EXPECT_TRUE(xattrs_of(at("d")).empty());
    char v[64];
    EXPECT_LT(::getxattr(at("d").c_str(), "trusted.overlay.redirect", v, sizeof v), 0);
}

TEST_F(LayerTest, RejectsBadWhiteouts) {
    EXPECT_FALSE(apply_entries({file(".wh...", "")}));
    expect_outside_untouched();
}

TEST_F(LayerTest, DigestMismatchIsAnErrorNamingTheLayer) {
    std::string tar = make_tar({file("f", "x")}, "");
    std::string gz = make_tar({file("f", "x")}, "gzip");
    auto st = apply(gz, tar, {}, "sha256:" + std::string(64, 'a'));
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message().find("layer test: digest mismatch"), std::string::npos) << st.error().message();
}

TEST_F(LayerTest, DiffIdMismatchIsAnError) {
    std::string gz = make_tar({file("f", "x")}, "gzip");
    auto st = apply(gz, make_tar({file("f", "y")}, ""));
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message().find("diff_id mismatch"), std::string::npos) << st.error().message();
}

TEST_F(LayerTest, TruncatedGzipIsAnError) {
    std::string big(1 << 20, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) >> 3);
    std::vector<Entry> entries = {file("big", big)};
    std::string gz = make_tar(entries, "gzip");
    auto st = apply(gz.substr(0, gz.size() / 2), make_tar(entries, ""));
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message().find("layer test"), std::string::npos) << st.error().message();
}

TEST_F(LayerTest, GarbageIsNotATar) {
    std::string junk(10000, 'j');
    auto st = apply(junk, junk);
    ASSERT_FALSE(st);
}

TEST_F(LayerTest, ZerosBecomeHoles) {
    // 64 MiB of zeros with a little data in the middle: a few kB on disk.
    std::string data(64 << 20, '\0');
    std::memcpy(&data[32 << 20], "middle", 6);
    auto st = apply_entries({file("zeros", data)});
    ASSERT_TRUE(st) << st.error().message();
    struct stat s {};
    ASSERT_EQ(::stat(at("zeros").c_str(), &s), 0);
    EXPECT_EQ(s.st_size, 64 << 20);
    EXPECT_LT(s.st_blocks * 512, 1 << 20);
    EXPECT_EQ(st->written_bytes, 4096u);
    std::string back = read_all(at("zeros"));
    EXPECT_EQ(back.substr(32 << 20, 6), "middle");
}

TEST_F(LayerTest, MaxSizeStopsTheUnpack) {
    std::atomic<uint64_t> used{0};
    ApplyLimits limits{1 << 20, &used, 0, -1};
    std::vector<Entry> entries = {file("a", std::string(600 << 10, 'a')), file("b", std::string(600 << 10, 'b'))};
    auto st = apply(make_tar(entries, "gzip"), make_tar(entries, ""), limits);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().err(), EFBIG);
    EXPECT_NE(st.error().message().find("--max-size"), std::string::npos) << st.error().message();
}

TEST_F(LayerTest, MinFreeStopsTheUnpack) {
    std::atomic<uint64_t> used{0};
    int fd = ::open(tmp.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ApplyLimits limits{0, &used, ~0ull >> 1, fd};
    std::vector<Entry> entries = {file("a", "x")};
    auto st = apply(make_tar(entries, "gzip"), make_tar(entries, ""), limits);
    ::close(fd);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().err(), ENOSPC);
}

TEST(CleanEntryName, NormalisesAndRejects) {
    EXPECT_EQ(*clean_entry_name("./a//b/"), "a/b");
    EXPECT_EQ(*clean_entry_name("./"), "");
    EXPECT_EQ(*clean_entry_name("a/./b"), "a/b");
    EXPECT_EQ(*clean_entry_name("/a"), "a");
    EXPECT_EQ(*clean_entry_name("//a///b/."), "a/b");
    for (const char *root : {"/", "./", ".", "//", "/./", "./."}) EXPECT_EQ(*clean_entry_name(root), "") << root;
    EXPECT_FALSE(clean_entry_name("/../a"));
    EXPECT_FALSE(clean_entry_name("./.."));
    EXPECT_FALSE(clean_entry_name("a/../b"));
    EXPECT_FALSE(clean_entry_name(".."));
    EXPECT_FALSE(clean_entry_name(""));
}

} // namespace
} // namespace corral::image
