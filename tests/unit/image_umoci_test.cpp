// Images made by tools that are not ours (umoci, skopeo, GNU tar) from the
// busybox fixture, with several layers: deletions (whiteouts), an opaque
// directory, hard links (also to a file of a lower layer), symlinks,
// setuid/setgid files, a file capability, xattrs, owners, device nodes.
// The rootfs `unpack` makes — overlay or copy, from a layout, an oci-archive,
// a docker-archive or zstd layers — must equal what `umoci unpack` makes.
// Also: layers are stored once and shared, refs, gc.
#include "corral/image.hpp"

#include "image_testutil.hpp"

#include <chrono>
#include <cstdio>

namespace corral::image {
namespace {

using namespace image_test;

// One image for the whole suite (umoci is not fast).
class UmociImage : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (::geteuid() != 0 || !have("umoci") || !have("skopeo") || !exists(fixtures() + "/rootfs/bin/busybox")) return;
        dir_ = new TempDir;
        const std::string t = dir_->path, fix = fixtures() + "/rootfs";
        Sh r = sh(R"SH(
T=)SH" + t + R"SH(; FIX=)SH" + fix + R"SH(
L=$T/layout
umoci init --layout $L
umoci new --image $L:img
umoci unpack --image $L:img $T/work >/dev/null
R=$T/work/rootfs
cp -a $FIX/. $R/
mkdir -p $R/opt/app/sub $R/data $R/srv/tree/deep
echo one > $R/opt/app/a; echo two > $R/opt/app/sub/b; echo old > $R/opt/app/old
echo del > $R/data/gone; echo keep > $R/data/keep
echo x > $R/srv/tree/deep/file
chmod 1777 $R/tmp
umoci repack --image $L:img $T/work
rm -rf $T/work
# layer 2: changes over layer 1
umoci unpack --image $L:img $T/work >/dev/null
R=$T/work/rootfs
rm $R/data/gone
rm -rf $R/opt/app/sub $R/srv/tree
echo changed > $R/opt/app/a
ln $R/bin/busybox $R/usr/bin/bb-hardlink
ln -s /bin/busybox $R/usr/bin/bb-symlink
ln -s ../nowhere $R/usr/bin/dangling
cp $R/bin/busybox $R/usr/bin/suid; chmod 4755 $R/usr/bin/suid
cp $R/bin/busybox $R/usr/bin/sgid; chmod 2711 $R/usr/bin/sgid
echo capped > $R/usr/bin/capped; setcap cap_net_raw+ep $R/usr/bin/capped
python3 -c "import os; os.setxattr('$R/opt/app/a', 'user.origin', b'layer2')"
mkdir -p $R/home/probe; echo hi > $R/home/probe/file; chown -R 1000:1000 $R/home/probe; chmod 0700 $R/home/probe
mknod $R/dev/null c 1 3; chmod 0666 $R/dev/null
mkfifo $R/run/fifo
umoci repack --image $L:img $T/work
rm -rf $T/work
# layer 3, by GNU tar: an opaque directory, a whiteout, a dir over a file
mkdir -p $T/l3/opt/app $T/l3/data
touch $T/l3/opt/app/.wh..wh..opq $T/l3/data/.wh.keep
echo fresh > $T/l3/opt/app/fresh
tar --numeric-owner --owner=0 --group=0 --mtime=@946684800 -C $T/l3 -cf $T/l3.tar opt data
umoci raw add-layer --image $L:img $T/l3.tar
umoci config --image $L:img --config.entrypoint /bin/sh --config.cmd -c --config.cmd "echo hi" \
  --config.env PATH=/bin:/usr/bin --config.env LANG=C --config.user probe --config.workingdir /home/probe \
  --config.exposedports 80/tcp --config.exposedports 53/udp --config.volume /data --config.label org.example.x=y \
  --architecture amd64 --os linux
umoci unpack --image $L:img $T/ref >/dev/null
)SH");
        if (r.status != 0) {
            setup_error_ = "building the image with umoci failed:\n" + r.out;
            return;
        }
        layout_ = t + "/layout";
        ref_ = t + "/ref/rootfs";
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root";
        if (!have("umoci") || !have("skopeo")) GTEST_SKIP() << "umoci or skopeo missing (scripts/deps)";
        if (!exists(fixtures() + "/rootfs/bin/busybox")) GTEST_SKIP() << "fixtures missing: run rootfs-fixtures/build.sh";
        ASSERT_TRUE(setup_error_.empty()) << setup_error_;
        opts.store = tmp / "store";
    }
    Result<BundleInfo> unpack_to(const std::string &source, const std::string &bundle) {
        return unpack(ctx, source, bundle, opts);
    }
    // The store holds exactly these layers (and nothing half-done).
    std::vector<std::string> stored_layers() {
        std::vector<std::string> out;
        for (auto &[p, n] : snapshot(opts.store + "/layers"))
            if (p != "/" && p.find('/') == std::string::npos) out.push_back(p);
        return out;
    }

    static TempDir *dir_;
    static std::string layout_, ref_, setup_error_;
    TempDir tmp;
    Context ctx;
    Options opts;
};

TempDir *UmociImage::dir_ = nullptr;
std::string UmociImage::layout_, UmociImage::ref_, UmociImage::setup_error_;

TEST_F(UmociImage, OverlayRootfsEqualsUmociUnpack) {
    auto b = unpack_to(layout_ + ":img", tmp / "bundle");
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_TRUE(b->overlay);
    EXPECT_EQ(b->layers_unpacked, 3u);
    auto ours = snapshot(tmp / "bundle/rootfs");
    auto theirs = snapshot(ref_);
    EXPECT_EQ(diff_trees(theirs, ours), "");
    // What the layers did, spelled out.
    EXPECT_FALSE(ours.count("data/gone")) << "whiteout";
    EXPECT_FALSE(ours.count("data/keep")) << "whiteout from the GNU tar layer";
    EXPECT_FALSE(ours.count("opt/app/a")) << "opaque directory hides the lower layers";
    EXPECT_TRUE(ours.count("opt/app/fresh"));
    EXPECT_FALSE(ours.count("srv/tree"));
    EXPECT_EQ(ours["usr/bin/suid"].mode, 04755u);
    EXPECT_EQ(ours["usr/bin/sgid"].mode, 02711u);
    EXPECT_TRUE(ours["usr/bin/capped"].xattrs.count("security.capability"));
    EXPECT_EQ(ours["home/probe/file"].uid, 1000u);
    EXPECT_EQ(ours["dev/null"].type, 'c');
    EXPECT_EQ(ours["tmp"].mode, 01777u);
    EXPECT_EQ(ours["usr/bin/bb-hardlink"].ino, ours["bin/busybox"].ino);
}

TEST_F(UmociImage, CopyRootfsEqualsUmociUnpack) {
    opts.copy = true;
    auto b = unpack_to(layout_ + ":img", tmp / "bundle");
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_FALSE(b->overlay);
    EXPECT_EQ(diff_trees(snapshot(ref_), snapshot(tmp / "bundle/rootfs")), "");
}

TEST_F(UmociImage, ArchivesAndZstdLayersGiveTheSameRootfs) {
    Sh r = sh("skopeo copy -q oci:" + layout_ + ":img oci-archive:" + (tmp / "img.oci.tar") + ":img && " +
              "skopeo copy -q oci:" + layout_ + ":img docker-archive:" + (tmp / "img.docker.tar") + ":example/img:v1 && " +
              "skopeo copy -q --dest-compress-format zstd oci:" + layout_ + ":img oci:" + (tmp / "zstd") + ":img && " +
              "gzip -c " + (tmp / "img.oci.tar") + " > " + (tmp / "img.oci.tar.gz"));
    ASSERT_EQ(r.status, 0) << r.out;
    ASSERT_EQ(sh("grep -rlq tar+zstd " + (tmp / "zstd/blobs")).status, 0) << "skopeo did not write zstd layers";
    auto theirs = snapshot(ref_);
    int i = 0;
    for (std::string source : {tmp / "img.oci.tar", tmp / "img.docker.tar:example/img:v1", tmp / "img.docker.tar",
                               tmp / "zstd:img", tmp / "img.oci.tar.gz:img"}) {
        SCOPED_TRACE(source);
        std::string bundle = tmp / ("b" + std::to_string(++i));
        opts.store = tmp / ("store" + std::to_string(i)); // unpack every time
        auto b = unpack_to(source, bundle);
        ASSERT_TRUE(b) << b.error().message();
        EXPECT_EQ(b->layers_unpacked, 3u);
        EXPECT_EQ(diff_trees(theirs, snapshot(bundle + "/rootfs")), "");
    }
    EXPECT_TRUE(snapshot(opts.store + "/tmp").size() == 1) << "the spool of the compressed archive is gone";
}

TEST_F(UmociImage, ConfigFollowsTheImage) {
    ASSERT_TRUE(unpack_to(layout_ + ":img", tmp / "bundle"));
    json c = json::parse(read_all(tmp / "bundle/config.json"));
    EXPECT_EQ(c["process"]["args"], json({"/bin/sh", "-c", "echo hi"}));
    EXPECT_EQ(c["process"]["env"], json({"PATH=/bin:/usr/bin", "LANG=C"}));
    EXPECT_EQ(c["process"]["cwd"], "/home/probe");
    EXPECT_EQ(c["process"]["user"]["uid"], 1000);
    EXPECT_EQ(c["process"]["user"]["gid"], 1000);
    EXPECT_EQ(c["process"]["terminal"], false);
    EXPECT_EQ(c["root"]["path"], "rootfs");
    auto &a = c["annotations"];
    EXPECT_EQ(a["org.example.x"], "y");
    EXPECT_EQ(a["org.opencontainers.image.exposedPorts"], "53/udp,80/tcp");
    EXPECT_EQ(a["corral.image.volumes"], "/data");
    EXPECT_EQ(a["org.opencontainers.image.architecture"], "amd64");
    EXPECT_EQ(a["org.opencontainers.image.ref.name"], "img");
}

TEST_F(UmociImage, LayersAreStoredOnceAndShared) {
    auto b1 = unpack_to(layout_ + ":img", tmp / "b1");
    ASSERT_TRUE(b1) << b1.error().message();
    auto layers = stored_layers();
    EXPECT_EQ(layers.size(), 3u);
    auto t0 = std::chrono::steady_clock::now();
    auto b2 = unpack_to(layout_ + ":img", tmp / "b2");
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(b2) << b2.error().message();
    EXPECT_EQ(b2->layers_unpacked, 0u);
    EXPECT_EQ(b2->layers_reused, 3u);
    // What makes it fast is checked above (no layer unpacked, all reused);
    // the time is printed, not judged: speed lives in scripts/bench-image.
    std::printf("[ timing   ] second bundle of a stored image: %.1f ms\n", ms);
    EXPECT_EQ(stored_layers(), layers);
    // Bundles are independent: a write in one is not seen by the other.
    write_all(tmp / "b1/rootfs/etc/hostname", "changed\n");
    EXPECT_NE(read_all(tmp / "b2/rootfs/etc/hostname"), "changed\n");

    // gc keeps what bundles use, then frees it when they are gone.
    auto g = gc(ctx, opts);
    ASSERT_TRUE(g) << g.error().message();
    EXPECT_EQ(g->layers_removed, 0u);
    ASSERT_TRUE(remove_bundle(ctx, tmp / "b1"));
    EXPECT_FALSE(exists(tmp / "b1"));
    g = gc(ctx, opts);
    EXPECT_EQ(g->layers_removed, 0u) << "b2 still uses them";
    // A bundle deleted behind our back leaves a stale ref that gc drops.
    ASSERT_TRUE(unmount_bundle(ctx, tmp / "b2"));
    sh("rm -rf " + (tmp / "b2"));
    g = gc(ctx, opts);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->stale_refs, 1u);
    EXPECT_EQ(g->layers_removed, 3u);
    EXPECT_GT(g->bytes_freed, 1000000u);
    EXPECT_TRUE(stored_layers().empty());
}

TEST_F(UmociImage, ImportedImagesKeepTheirLayersAndNameTheSource) {
    auto info = import_image(ctx, layout_ + ":img", "", opts);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(info->names, std::vector<std::string>{"layout:img"});
    auto all = list(ctx, opts);
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 1u);
    EXPECT_TRUE((*all)[0].layers[2].stored);
    // From the store by name, without the layout.
    auto b = unpack_to("layout:img", tmp / "b");
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(b->layers_unpacked, 0u);
    EXPECT_EQ(diff_trees(snapshot(ref_), snapshot(tmp / "b/rootfs")), "");
    ASSERT_TRUE(remove_bundle(ctx, tmp / "b"));
    auto g = gc(ctx, opts);
    EXPECT_EQ(g->layers_removed, 0u) << "the imported image still uses them";
    ASSERT_TRUE(remove(ctx, "layout:img", opts));
    EXPECT_TRUE(list(ctx, opts)->empty());
    g = gc(ctx, opts);
    EXPECT_EQ(g->layers_removed, 3u);
}

TEST_F(UmociImage, MountAgainAfterUnmount) {
    ASSERT_TRUE(unpack_to(layout_ + ":img", tmp / "b"));
    write_all(tmp / "b/rootfs/new-file", "kept in upper");
    ASSERT_TRUE(unmount_bundle(ctx, tmp / "b"));
    EXPECT_FALSE(exists(tmp / "b/rootfs/new-file"));
    ASSERT_TRUE(mount_bundle(ctx, tmp / "b"));
    EXPECT_EQ(read_all(tmp / "b/rootfs/new-file"), "kept in upper");
    ASSERT_TRUE(mount_bundle(ctx, tmp / "b")) << "mounting a mounted bundle is fine";
}

TEST_F(UmociImage, RefusesANonEmptyBundle) {
    sh("mkdir -p " + (tmp / "b") + " && touch " + (tmp / "b/x"));
    auto b = unpack_to(layout_ + ":img", tmp / "b");
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message().find("not empty"), std::string::npos);
    EXPECT_TRUE(exists(tmp / "b/x"));
}

TEST_F(UmociImage, UnknownTagListsTheTags) {
    auto b = unpack_to(layout_ + ":nope", tmp / "b");
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message().find("no image tagged `nope` (tags: img)"), std::string::npos) << b.error().message();
    EXPECT_FALSE(exists(tmp / "b"));
}

} // namespace
} // namespace corral::image
