// Whole images through the store: hostile images (bad digests and sizes,
// truncated gzip, escaping layers, a sparse-file bomb made by GNU tar) are
// rejected with an error naming the blob and leave nothing in the store or
// the bundle; choosing by tag, digest and platform; users resolved against
// the image's own passwd and group files.
#include "corral/image.hpp"
#include "image/runtime_config.hpp"
#include "image/source.hpp"

#include "image_testutil.hpp"

namespace corral::image {
namespace {

using namespace image_test;

class StoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (overlay mounts, whiteouts)";
        opts.store = tmp / "store";
        layout = tmp / "layout";
    }
    // Nothing in layers/ or tmp/ of the store, no bundle directory.
    void expect_nothing_left(const std::string &bundle) {
        for (const char *sub : {"layers", "tmp"}) {
            auto s = snapshot(opts.store + "/" + sub);
            EXPECT_LE(s.size(), 1u) << "left in the store's " << sub << ": " << (s.size() > 1 ? std::next(s.begin())->first : "");
        }
        EXPECT_FALSE(exists(bundle)) << "the bundle directory was left behind";
    }
    std::string blob_file(const std::string &digest) { return layout + "/blobs/sha256/" + digest.substr(7); }
    json manifest_of(const json &desc) { return json::parse(read_all(blob_file(desc["digest"]))); }

    TempDir tmp;
    Context ctx;
    Options opts;
    std::string layout;
    Layer base = gz_layer({dir("etc"), file("etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:100:101::/home/app:/bin/sh\n"),
                           file("etc/group", "root:x:0:\napp:x:101:\nextra:x:300:app,other\n"), dir("bin"),
                           file("bin/tool", "#!/bin/sh\n", 0755)});
};

TEST_F(StoreTest, CorruptLayerBlobIsRejectedByDigest) {
    json desc = write_layout(layout, {base, gz_layer({file("two", "2")})});
    std::string layer = manifest_of(desc)["layers"][1]["digest"];
    std::string data = read_all(blob_file(layer));
    data[data.size() / 2] ^= 0x55; // same size, other bytes
    write_all(blob_file(layer), data);
    auto b = unpack(ctx, layout, tmp / "bundle", opts);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message().find("layer 2/2 (" + layer + ")"), std::string::npos) << b.error().message();
    expect_nothing_left(tmp / "bundle");
}

TEST_F(StoreTest, SizeMismatchIsRejectedBeforeReading) {
    json desc = write_layout(layout, {base});
    std::string layer = manifest_of(desc)["layers"][0]["digest"];
    write_all(blob_file(layer), read_all(blob_file(layer)) + "extra");
    auto b = unpack(ctx, layout, tmp / "bundle", opts);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message().find("size mismatch"), std::string::npos) << b.error().message();
    EXPECT_NE(b.error().message().find(layer), std::string::npos);
    expect_nothing_left(tmp / "bundle");
}

TEST_F(StoreTest, CorruptConfigOrManifestIsRejected) {
    json desc = write_layout(layout, {base});
    std::string cfg = manifest_of(desc)["config"]["digest"];
    std::string text = read_all(blob_file(cfg));
    text[text.find("amd64")] = 'A';
    write_all(blob_file(cfg), text);
    auto b = unpack(ctx, layout, tmp / "bundle", opts);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message().find("image config " + cfg + ": digest mismatch"), std::string::npos)
        << b.error().message();
    expect_nothing_left(tmp / "bundle");
}

TEST_F(StoreTest, TruncatedGzipLeavesNothing) {
    std::string big(2 << 20, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
    Layer bad = gz_layer({file("big", big)});
    bad.blob.resize(bad.blob.size() / 2); // the descriptor agrees with the truncated blob
    write_layout(layout, {base, bad});
    auto b = unpack(ctx, layout, tmp / "bundle", opts);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message().find("layer 2/2"), std::string::npos) << b.error().message();
    expect_nothing_left(tmp / "bundle");
}

TEST_F(StoreTest, EscapingLayerLeavesNothingNotEvenItsGoodLowerLayers) {
    write_layout(layout, {base, gz_layer({slink("evil", tmp.path), file("evil/written-through-symlink", "x")})});
    auto b = unpack(ctx, layout, tmp / "bundle", opts);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message().find("refusing to write through it"), std::string::npos) << b.error().message();
    EXPECT_FALSE(exists(tmp / "written-through-symlink"));
    expect_nothing_left(tmp / "bundle");
}

// GNU tar's sparse format: a 1 GiB file in a tar of a few kB.
TEST_F(StoreTest, SparseBombTakesNoDiskAndMaxSizeRefusesIt) {
    if (!have("tar")) GTEST_SKIP() << "GNU tar missing";
    Sh r = sh("mkdir -p " + (tmp / "src") + " && truncate -s 1G " + (tmp / "src/bomb") + " && printf tail >> " +
              (tmp / "src/bomb") + " && tar --sparse --format=gnu -C " + (tmp / "src") + " -cf " + (tmp / "bomb.tar") +
              " bomb");
    ASSERT_EQ(r.status, 0) << r.out;
    std::string tar = read_all(tmp / "bomb.tar");
    ASSERT_LT(tar.size(), 1u << 20);
    write_layout(layout, {base, Layer{tar, tar, "application/vnd.oci.image.layer.v1.tar"}});

    Options limited = opts;
    limited.max_size = 512ull << 20;
    auto b = unpack(ctx, layout, tmp / "bundle", limited);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().err(), EFBIG);
    EXPECT_NE(b.error().message().find("--max-size"), std::string::npos) << b.error().message();
    expect_nothing_left(tmp / "bundle");

    b = unpack(ctx, layout, tmp / "bundle", opts); // no limit: holes, not a gigabyte
    ASSERT_TRUE(b) << b.error().message();
    struct stat st {};
    ASSERT_EQ(::stat((tmp / "bundle/rootfs/bomb").c_str(), &st), 0);
    EXPECT_EQ(st.st_size, (1ll << 30) + 4);
    EXPECT_LT(st.st_blocks * 512, 1 << 20);
    ASSERT_TRUE(remove_bundle(ctx, tmp / "bundle"));
}

TEST_F(StoreTest, SelectsByTagDigestAndPlatform) {
    json amd = write_layout(layout, {base}, json::object(), "multi", "amd64");
    std::string amd_index = read_all(layout + "/index.json");
    json arm = write_layout(layout, {base, gz_layer({file("arm", "yes")})}, json::object(), "multi", "arm64");
    amd["platform"] = {{"os", "linux"}, {"architecture", "amd64"}};
    arm["platform"] = {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}};
    amd.erase("annotations");
    arm.erase("annotations");
    json idx = {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"}, {"manifests", {amd, arm}}};
    Blob ib = put_blob(layout, idx.dump());
    json top = {{"schemaVersion", 2},
                {"manifests",
                 {{{"mediaType", "application/vnd.oci.image.index.v1+json"},
                   {"digest", ib.digest},
                   {"size", ib.size},
                   {"annotations", {{"org.opencontainers.image.ref.name", "multi"}}}},
                  {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"digest", amd["digest"]},
                   {"size", amd["size"]},
                   {"annotations", {{"org.opencontainers.image.ref.name", "plain"}}}}}}};
    write_all(layout + "/index.json", top.dump());

    auto i = inspect(ctx, layout + ":multi", opts);
    ASSERT_TRUE(i) << i.error().message();
    EXPECT_EQ(i->digest, amd["digest"]);
    Options arm_opts = opts;
    arm_opts.platform = *Platform::parse("linux/arm64");
    i = inspect(ctx, layout + ":multi", arm_opts);
    ASSERT_TRUE(i) << i.error().message();
    EXPECT_EQ(i->digest, arm["digest"]);
    EXPECT_EQ(i->layers.size(), 2u);
    arm_opts.platform = *Platform::parse("linux/riscv64");
    i = inspect(ctx, layout + ":multi", arm_opts);
    ASSERT_FALSE(i);
    EXPECT_NE(i.error().message().find("no image for linux/riscv64 (it has: linux/amd64, linux/arm64/v8)"),
              std::string::npos)
        << i.error().message();
    i = inspect(ctx, layout + "@" + arm["digest"].get<std::string>(), opts);
    ASSERT_TRUE(i) << i.error().message();
    EXPECT_EQ(i->digest, arm["digest"]);
    i = inspect(ctx, layout, opts);
    ASSERT_FALSE(i) << "two tags: which one?";
    EXPECT_NE(i.error().message().find("choose one with :TAG (tags: multi, plain)"), std::string::npos)
        << i.error().message();
    (void)amd_index;
}

TEST_F(StoreTest, ConfigResolvesTheUserInTheImage) {
    write_layout(layout, {base},
                 {{"User", "app"},
                  {"Entrypoint", {"/bin/tool"}},
                  {"Cmd", {"--flag"}},
                  {"WorkingDir", "/srv"},
                  {"Env", {"A=1"}},
                  {"Labels", {{"l", "v"}}},
                  {"StopSignal", "SIGINT"}});
    auto b = unpack(ctx, layout, tmp / "bundle", opts);
    ASSERT_TRUE(b) << b.error().message();
    json c = json::parse(read_all(tmp / "bundle/config.json"));
    EXPECT_EQ(c["process"]["user"], json({{"uid", 100}, {"gid", 101}, {"additionalGids", {300}}}));
    EXPECT_EQ(c["process"]["args"], json({"/bin/tool", "--flag"}));
    EXPECT_EQ(c["process"]["cwd"], "/srv");
    EXPECT_EQ(c["process"]["env"][0], "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    EXPECT_EQ(c["process"]["env"][1], "A=1");
    EXPECT_EQ(c["annotations"]["l"], "v");
    EXPECT_EQ(c["annotations"]["org.opencontainers.image.stopSignal"], "SIGINT");
    ASSERT_TRUE(remove_bundle(ctx, tmp / "bundle"));

    write_layout(tmp / "l2", {base}, {{"User", "nobody"}});
    b = unpack(ctx, tmp / "l2", tmp / "bundle", opts);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message().find("user `nobody` is not in the image's /etc/passwd"), std::string::npos)
        << b.error().message();
    EXPECT_FALSE(exists(tmp / "bundle"));
    EXPECT_FALSE(mounts_under(tmp.path));
}

TEST(ResolveUser, Forms) {
    std::string passwd = "root:x:0:0::/root:/bin/sh\napp:x:100:101::/:/bin/sh\n# comment\nbad line\n";
    std::string group = "root:x:0:\napp:x:101:\nwheel:x:10:app\nstaff:x:50:other,app\n";
    auto u = resolve_user("", passwd, group);
    EXPECT_EQ(u->uid, 0u);
    u = resolve_user("app", passwd, group);
    EXPECT_EQ(u->uid, 100u);
    EXPECT_EQ(u->gid, 101u);
    EXPECT_EQ(u->additional_gids, (std::vector<uint32_t>{10, 50}));
    u = resolve_user("100", passwd, group);
    EXPECT_EQ(u->gid, 101u) << "a known uid takes its passwd group";
    u = resolve_user("4242", passwd, group);
    EXPECT_EQ(u->uid, 4242u);
    EXPECT_EQ(u->gid, 0u);
    u = resolve_user("4242:7", passwd, group);
    EXPECT_EQ(u->gid, 7u);
    u = resolve_user("app:wheel", passwd, group);
    EXPECT_EQ(u->gid, 10u);
    EXPECT_TRUE(u->additional_gids.empty());
    u = resolve_user("0:staff", passwd, group);
    EXPECT_EQ(u->gid, 50u);
    EXPECT_FALSE(resolve_user("ghost", passwd, group));
    EXPECT_FALSE(resolve_user("app:ghosts", passwd, group));
    EXPECT_FALSE(resolve_user(":5", passwd, group));
}

TEST(SourceRef, LongestExistingPrefix) {
    TempDir tmp;
    sh("mkdir -p '" + (tmp / "a:b") + "' && touch '" + (tmp / "img.tar") + "'");
    auto r = parse_source_ref(tmp / "a:b");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->path, tmp / "a:b");
    r = parse_source_ref(tmp / "a:b:tag");
    EXPECT_EQ(r->sel.tag, "tag");
    r = parse_source_ref(tmp / "img.tar:library/busybox:1.36");
    EXPECT_EQ(r->path, tmp / "img.tar");
    EXPECT_EQ(r->sel.tag, "library/busybox:1.36");
    r = parse_source_ref(tmp / "img.tar@sha256:abc");
    EXPECT_EQ(r->sel.digest, "sha256:abc");
    EXPECT_FALSE(parse_source_ref("busybox:latest"));
}

} // namespace
} // namespace corral::image
