// `corral image unpack` makes bundles the runtime under test runs (corral,
// or runc with CORRAL_TEST_RUNTIME: the bundle is a plain OCI bundle). The
// image is the fixture's OCI layout and oci-archive (made by umoci/skopeo);
// `corral image` itself is always the corral built beside these tests.
#include "integration/harness.hpp"

namespace corral_it {
namespace {

class ImageBundle : public ContainerTest {
protected:
    void SetUp() override {
        ContainerTest::SetUp();
        if (IsSkipped()) return;
        if (!exists(fixtures_dir() + "/layout/index.json")) GTEST_SKIP() << "no fixture image (umoci/skopeo missing?)";
        store_ = make_dir("store");
    }
    void TearDown() override {
        // Unmount and delete every bundle we unpacked (the harness would
        // only detach leftover mounts).
        for (auto &dir : unpacked_) {
            if (!exists(dir + "/.corral")) continue;
            Result r = image({"rm-bundle", dir});
            EXPECT_EQ(r.status, 0) << r;
        }
        ContainerTest::TearDown();
    }

    Result image(std::vector<std::string> args) {
        std::vector<std::string> argv = {CORRAL_BIN, "image"};
        argv.insert(argv.end(), args.begin(), args.end());
        if (args[0] != "rm-bundle" && args[0] != "mount" && args[0] != "umount") argv.push_back("--store=" + store_);
        return run_command(argv, {}, scratch_);
    }

    // A harness bundle whose rootfs and config come from the image.
    Bundle &unpacked(const std::string &source) {
        Bundle &b = make_bundle();
        Result r = image({"unpack", source, b.dir});
        EXPECT_EQ(r.status, 0) << r;
        unpacked_.push_back(b.dir);
        json cgroups = b.config["linux"]["cgroupsPath"];
        b.config = json::parse(read_file(b.dir + "/config.json"));
        b.config["linux"]["cgroupsPath"] = cgroups;
        if (runtime_is_runc()) b.config["ociVersion"] = "1.0.2-dev";
        return b;
    }

    std::string store_;
    std::vector<std::string> unpacked_;
};

TEST_F(ImageBundle, RunsFromTheOverlayRootfs) {
    Bundle &b = unpacked(fixtures_dir() + "/layout:latest");
    EXPECT_EQ(b.config["process"]["args"], json({"/bin/sh"}));
    EXPECT_EQ(mounts_mentioning(b.dir + "/rootfs").size(), 1u) << "rootfs is one overlay mount";
    json r = probe(b, {"report"});
    ASSERT_FALSE(r.is_null());
    EXPECT_EQ(r["uid"], 0);
    EXPECT_EQ(r["cwd"], "/");
    EXPECT_EQ(r["root_readonly"], "OK") << "an image bundle's root is writable";
    EXPECT_EQ(r["env"][0], "PATH=/bin"); // runc adds HOME
    bool overlay_root = false;
    for (auto &m : r["mounts"])
        if (m["target"] == "/" && m["fstype"] == "overlay") overlay_root = true;
    EXPECT_TRUE(overlay_root) << r["mounts"].dump();
}

TEST_F(ImageBundle, WritesLandInTheBundleNotInTheStore) {
    Bundle &a = unpacked(fixtures_dir() + "/busybox.oci.tar");
    Bundle &b = unpacked(fixtures_dir() + "/layout");
    a.set_args({"/probe", "write", "/etc/marker", "from-a"});
    Result r = run_bundle(a);
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_EQ(read_file(a.dir + "/.corral/upper/etc/marker"), "from-a");
    json s = probe(b, {"stat", "/etc/marker"});
    EXPECT_EQ(s.value("exists", true), false) << "the other bundle shares the layer, not the writes";
}

TEST_F(ImageBundle, UserFromTheImageConfig) {
    // The fixture's passwd has probe (1000) and group probe (1000).
    std::string layout = make_dir("layout");
    Result r = run_command({"bash", "-c",
                            "cp -a " + fixtures_dir() + "/layout/. " + layout + " && umoci config --image " + layout +
                                ":latest --config.user probe --config.workingdir /tmp"},
                           {}, scratch_);
    ASSERT_EQ(r.status, 0) << r;
    Bundle &b = unpacked(layout + ":latest");
    json w = probe(b, {"whoami"});
    ASSERT_FALSE(w.is_null());
    EXPECT_EQ(w["uid"], 1000);
    EXPECT_EQ(w["gid"], 1000);
    EXPECT_EQ(w["user"], "probe");
}

TEST_F(ImageBundle, CliStoreCommands) {
    Result r = image({"import", fixtures_dir() + "/busybox.oci.tar"});
    ASSERT_EQ(r.status, 0) << r;
    std::string digest = lines(r.out).at(0);
    EXPECT_EQ(digest.rfind("sha256:", 0), 0u) << r.out;
    r = image({"ls"});
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_NE(r.out.find("busybox:latest"), std::string::npos) << r.out;
    r = image({"inspect", "busybox"});
    ASSERT_EQ(r.status, 0) << r;
    json info = json::parse(r.out);
    EXPECT_EQ(info["digest"], digest);
    EXPECT_EQ(info["layers"][0]["stored"], true);
    Bundle &b = unpacked("busybox:latest");
    json s = probe(b, {"whoami"});
    EXPECT_EQ(s["uid"], 0);
    r = image({"gc"});
    EXPECT_NE(r.out.find("removed 0 layers"), std::string::npos) << r;
    r = image({"rm", "busybox"});
    ASSERT_EQ(r.status, 0) << r;
    r = image({"rm-bundle", b.dir});
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_FALSE(exists(b.dir));
    r = image({"gc"});
    EXPECT_NE(r.out.find("removed 1 layers"), std::string::npos) << r;
}

TEST_F(ImageBundle, CliReportsABadBlobAndLeavesNothing) {
    std::string layout = make_dir("layout");
    Result r = run_command({"cp", "-a", fixtures_dir() + "/layout/.", layout}, {}, scratch_);
    ASSERT_EQ(r.status, 0) << r;
    json index = json::parse(read_file(layout + "/index.json"));
    std::string manifest = index["manifests"][0]["digest"];
    json m = json::parse(read_file(layout + "/blobs/sha256/" + manifest.substr(7)));
    std::string layer = m["layers"][0]["digest"];
    std::string blob = layout + "/blobs/sha256/" + layer.substr(7);
    std::string data = read_file(blob);
    data[100] ^= 1;
    write_file(blob, data);
    std::string bundle = scratch_ + "/bad-bundle";
    r = image({"unpack", layout, bundle});
    EXPECT_EQ(r.status, 1) << r;
    EXPECT_NE(r.err.find("layer 1/1 (" + layer + ")"), std::string::npos) << r;
    EXPECT_FALSE(exists(bundle));
    r = image({"gc"});
    EXPECT_NE(r.out.find("removed 0 layers"), std::string::npos) << r;
    EXPECT_NE(r.out.find("0 interrupted unpacks"), std::string::npos) << r;
}

} // namespace
} // namespace corral_it
