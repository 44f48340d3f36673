// Images made by other tools, not by our own fixtures: each is unpacked by
// corral (overlay and --copy) and compared with what the tool, or another
// unpacker, makes of the same image (paths, types, modes, owners, contents,
// xattrs, device numbers, file mtimes, hard-link groups):
//   - umoci: `umoci insert ... /` writes a `/` root entry and `/bin/x` names;
//     a later GNU tar layer lists no root (its attributes stay the base's);
//   - buildah: `from scratch` + `copy` + `commit` (uncompressed OCI layers,
//     no root entry), then a layer over it written in the mounted working
//     container (whiteouts, hard links, setuid, a file capability, an xattr,
//     owners, a device node, a fifo), committed as an OCI layout (plain and
//     gzip), an oci-archive and a docker-archive with docker media types;
//   - podman: `save` as a docker-archive (one image, and several with -m)
//     and an oci-archive, against `podman image mount`;
//   - tar files written by GNU tar (`./` names, `/` names by --transform,
//     bare names) and python3's tarfile (`/`, `//x`, `.`, absolute hard-link
//     targets), against GNU tar's own extraction and `umoci unpack`; the
//     layout re-packed by GNU tar with `./` and `/` names;
//   - `docker save` archives (before docker 25) whose repeated layers are
//     symlinks (or a hard link) to the first copy, by python3's tarfile.
// A test skips only when a tool is not installed (looked up in $PATH).
#include "corral/image.hpp"

#include "image_testutil.hpp"

#include <climits>
#include <initializer_list>

namespace corral::image {
namespace {

using namespace image_test;

class ToolImages : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (owners, device nodes, whiteouts)";
        if (!exists(fixtures() + "/rootfs/bin/busybox")) GTEST_SKIP() << "fixtures missing: run rootfs-fixtures/build.sh";
        opts.store = tmp / "store";
    }

    // "" if every tool is in $PATH, else which are not.
    static std::string missing(std::initializer_list<const char *> tools) {
        std::string out;
        for (const char *t : tools)
            if (on_path(t).empty()) out += std::string(out.empty() ? "" : ", ") + t;
        return out.empty() ? out : "not installed: " + out + " (scripts/deps installs them)";
    }

    // bash with T (this test's temp dir), FIX (the fixture rootfs), and B and
    // P: buildah and podman on their own vfs stores below T.
    Sh run(const std::string &script) {
        return sh("T=" + tmp.path + "; FIX=" + fixtures() + "/rootfs\n" +
                  "export TMPDIR=$T/tmp; mkdir -p $TMPDIR\n"
                  "B() { buildah --root $T/buildah --runroot $T/buildah-run --storage-driver vfs \"$@\"; }\n"
                  "P() { podman --root $T/podman --runroot $T/podman-run --tmpdir $T/podman-tmp --storage-driver vfs "
                  "--events-backend file --cgroup-manager cgroupfs \"$@\"; }\n" +
                  script);
    }

    // The rootfs corral makes of `source`, as an overlay (and as a copy
    // unless `overlay_only`), equals the tree at `ref`; `layers` (unless 0)
    // were unpacked or found in the store.
    void expect_unpacks_like(const std::string &source, const std::string &ref, size_t layers, bool overlay_only = false) {
        auto theirs = snapshot(ref);
        ASSERT_GT(theirs.size(), 1u) << "the reference " << ref << " is empty";
        for (bool copy : {false, true}) {
            if (copy && overlay_only) break;
            SCOPED_TRACE(source + (copy ? " (copy)" : " (overlay)"));
            std::string bundle = tmp / ("bundle-" + std::to_string(++bundles_));
            opts.copy = copy;
            auto b = unpack(ctx, source, bundle, opts);
            ASSERT_TRUE(b) << b.error().message();
            if (layers) {
                EXPECT_EQ(b->layers_unpacked + b->layers_reused, layers);
            }
            EXPECT_EQ(b->overlay, !copy);
            EXPECT_EQ(diff_trees(theirs, snapshot(bundle + "/rootfs")), "");
        }
        opts.copy = false;
    }

    TempDir tmp{TempDir::LowerCase{}};
    Context ctx;
    Options opts;
    int bundles_ = 0;
};

// corral-image, built beside this test binary; "" if it is not there.
std::string corral_image_bin() {
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return "";
    std::string dir(self, static_cast<size_t>(n));
    std::string bin = dir.substr(0, dir.rfind('/')) + "/corral-image";
    return ::access(bin.c_str(), X_OK) == 0 ? bin : "";
}

// The issue's case: `umoci insert` of a directory at `/` writes the root as
// `/` and the files as `/etc/passwd`, which corral refused ("entry `/`:
// absolute path").
TEST_F(ToolImages, UmociInsertAtTheRoot) {
    if (auto m = missing({"umoci", "skopeo", "jq"}); !m.empty()) GTEST_SKIP() << m;
    Sh r = run(R"SH(
umoci init --layout $T/l
umoci new --image $T/l:img
mkdir -p $T/src/etc $T/src/usr/bin
cp -p $FIX/etc/passwd $FIX/etc/group $T/src/etc/
echo tool > $T/src/usr/bin/tool
ln $T/src/usr/bin/tool $T/src/usr/bin/tool-hl
ln -s tool $T/src/usr/bin/tool-sl
chown 5:6 $T/src; chmod 0750 $T/src
umoci insert --image $T/l:img $T/src /
# a layer by GNU tar that lists no root: the root keeps the base's attributes
mkdir -p $T/l2/etc; echo box > $T/l2/etc/hostname
tar --numeric-owner --owner=0 --group=0 -C $T/l2 -cf $T/l2.tar etc
umoci raw add-layer --image $T/l:img $T/l2.tar
umoci config --image $T/l:img --config.cmd /bin/sh --architecture amd64 --os linux
m=$(jq -r '.manifests[0].digest' $T/l/index.json | cut -d: -f2)
first=$(jq -r '.layers[0].digest' $T/l/blobs/sha256/$m | cut -d: -f2)
tar -tzf $T/l/blobs/sha256/$first > $T/first-layer-names
umoci unpack --image $T/l:img $T/ref >/dev/null
skopeo copy -q oci:$T/l:img docker-archive:$T/l.docker.tar:example/l:v1
)SH");
    ASSERT_EQ(r.status, 0) << r.out;
    std::string names = read_all(tmp / "first-layer-names");
    ASSERT_EQ(names.substr(0, 2), "/\n") << "umoci no longer writes a `/` entry first:\n" << names;

    auto ref = snapshot(tmp / "ref/rootfs");
    EXPECT_EQ(ref["/"].mode, 0750u) << "umoci applies the root entry";
    EXPECT_EQ(ref["/"].uid, 5u);
    expect_unpacks_like(tmp / "l:img", tmp / "ref/rootfs", 2);
    expect_unpacks_like(tmp / "l.docker.tar", tmp / "ref/rootfs", 2);

    // And through the command a user runs.
    std::string cli = corral_image_bin();
    if (cli.empty()) GTEST_SKIP() << "corral-image is not built beside unit_image: the CLI part is not run";
    r = sh(cli + " image unpack -q --store " + (tmp / "cli-store") + " " + (tmp / "l:img") + " " + (tmp / "cli-bundle"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(diff_trees(ref, snapshot(tmp / "cli-bundle/rootfs")), "");
    r = sh(cli + " image rm-bundle " + (tmp / "cli-bundle"));
    EXPECT_EQ(r.status, 0) << r.out;
}

TEST_F(ToolImages, Buildah) {
    if (auto m = missing({"buildah", "umoci", "jq", "setcap"}); !m.empty()) GTEST_SKIP() << m;
    Sh r = run(R"SH(
c=$(B from scratch)
mkdir -p $T/files/etc
cp -p $FIX/etc/passwd $FIX/etc/group $T/files/etc/
B copy $c $T/files/etc /etc >/dev/null
B copy --chmod 0755 $c $FIX/etc/hostname /bin/tool >/dev/null
B copy --chown 1000:1000 $c $T/files/etc/passwd /home/u/passwd >/dev/null
B config --cmd /bin/sh --env PATH=/bin $c
B commit -q $c oci:$T/b:scratch >/dev/null
B rm $c >/dev/null
# a second layer: changes made in the mounted working container, diffed by buildah
c=$(B from oci:$T/b:scratch)
m=$(B mount $c)
rm $m/etc/group
rm -rf $m/home/u
chmod 4755 $m/bin/tool
mkdir -p $m/usr/lib $m/dev $m/run
echo data > $m/usr/lib/f; ln $m/usr/lib/f $m/usr/lib/g
ln -s ../lib/f $m/usr/lib/s
echo capped > $m/usr/lib/capped; setcap cap_net_raw+ep $m/usr/lib/capped
python3 -c "import os; os.setxattr('$m/usr/lib/f', 'user.origin', b'buildah')"
mkdir -p $m/home/probe; echo hi > $m/home/probe/file; chown -R 1000:1000 $m/home/probe; chmod 0700 $m/home/probe
mknod $m/dev/null c 1 3; chmod 0666 $m/dev/null
mkfifo $m/run/fifo
B commit -q $c oci:$T/b:over >/dev/null
B commit -q --disable-compression=false $c oci:$T/b:gz >/dev/null
B commit -q --format docker $c docker-archive:$T/b.docker.tar:example/b:v1 >/dev/null
B umount $c >/dev/null; B rm $c >/dev/null
umoci unpack --image $T/b:scratch $T/ref1 >/dev/null
umoci unpack --image $T/b:over $T/ref2 >/dev/null
for t in scratch over gz; do
  m=$(jq -r ".manifests[] | select(.annotations[\"org.opencontainers.image.ref.name\"] == \"$t\") | .digest" $T/b/index.json | cut -d: -f2)
  jq -r '.layers[].mediaType' $T/b/blobs/sha256/$m | sort -u > $T/types-$t
done
)SH");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(read_all(tmp / "types-over"), "application/vnd.oci.image.layer.v1.tar\n");
    EXPECT_EQ(read_all(tmp / "types-gz"), "application/vnd.oci.image.layer.v1.tar\napplication/vnd.oci.image.layer.v1.tar+gzip\n")
        << "the base layer as it was, the new one compressed";

    expect_unpacks_like(tmp / "b:scratch", tmp / "ref1/rootfs", 1);
    auto ref2 = snapshot(tmp / "ref2/rootfs");
    EXPECT_FALSE(ref2.count("etc/group")) << "whiteout";
    EXPECT_FALSE(ref2.count("home/u"));
    EXPECT_EQ(ref2["bin/tool"].mode, 04755u) << "a change of mode alone";
    EXPECT_TRUE(ref2["usr/lib/capped"].xattrs.count("security.capability"));
    EXPECT_EQ(ref2["usr/lib/f"].ino, ref2["usr/lib/g"].ino);
    EXPECT_EQ(ref2["dev/null"].type, 'c');
    expect_unpacks_like(tmp / "b:over", tmp / "ref2/rootfs", 2);
    for (std::string source : {tmp / "b:gz", tmp / "b.docker.tar:example/b:v1"})
        expect_unpacks_like(source, tmp / "ref2/rootfs", 2, /*overlay_only=*/true);
}

TEST_F(ToolImages, PodmanSave) {
    if (auto m = missing({"podman", "umoci"}); !m.empty()) GTEST_SKIP() << m;
    Sh r = run(R"SH(
umoci init --layout $T/l
umoci new --image $T/l:img
mkdir -p $T/src/etc $T/src/bin $T/src/data
cp -p $FIX/etc/passwd $FIX/etc/group $T/src/etc/
cp -p $FIX/etc/hostname $T/src/bin/tool; ln $T/src/bin/tool $T/src/bin/tool-hl
echo gone > $T/src/data/gone; echo keep > $T/src/data/keep
umoci insert --image $T/l:img $T/src /
mkdir -p $T/l2/data $T/l2/opt; touch $T/l2/data/.wh.gone; echo new > $T/l2/opt/new
tar --numeric-owner --owner=0 --group=0 -C $T/l2 -cf $T/l2.tar .
umoci raw add-layer --image $T/l:img $T/l2.tar
umoci config --image $T/l:img --config.cmd /bin/sh --architecture amd64 --os linux
umoci new --image $T/l:other
mkdir -p $T/src2/etc; echo other > $T/src2/etc/hostname
umoci insert --image $T/l:other $T/src2 /
umoci config --image $T/l:other --architecture amd64 --os linux
P tag "$(P pull -q oci:$T/l:img)" example/img:v1
P tag "$(P pull -q oci:$T/l:other)" example/other:v2
P save -q --format docker-archive -o $T/p.docker.tar example/img:v1
P save -q -m --format docker-archive -o $T/p.multi.tar example/img:v1 example/other:v2
P save -q --format oci-archive -o $T/p.oci.tar example/img:v1
P save -q --format oci-dir -o $T/p-oci-dir example/img:v1
mkdir -p $T/ref
cp -a "$(P image mount example/img:v1)/." $T/ref/
P image unmount example/img:v1 >/dev/null
tar -tf $T/p.docker.tar > $T/archive-names
# the same archive re-packed by GNU tar with `/` names
mkdir $T/px; tar -xf $T/p.docker.tar -C $T/px
tar --transform 's,^\./,/,;s,^\.$,/,' -C $T/px -cf $T/p.slash.tar .
)SH");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(read_all(tmp / "archive-names").find("/layer.tar"), std::string::npos) << "the legacy per-layer directories";
    auto ref = snapshot(tmp / "ref");
    EXPECT_FALSE(ref.count("data/gone"));
    EXPECT_TRUE(ref.count("opt/new"));
    expect_unpacks_like(tmp / "p.docker.tar", tmp / "ref", 2);
    for (std::string source : {tmp / "p.docker.tar:localhost/example/img:v1", tmp / "p.docker.tar:v1",
                               tmp / "p.docker.tar:example/img:v1", tmp / "p.multi.tar:example/img:v1",
                               tmp / "p.multi.tar:localhost/example/img:v1", tmp / "p.oci.tar", tmp / "p-oci-dir",
                               tmp / "p.slash.tar"})
        expect_unpacks_like(source, tmp / "ref", 2, /*overlay_only=*/true);
    // The other image of the -m archive, by the name it was tagged with.
    auto b = unpack(ctx, tmp / "p.multi.tar:example/other:v2", tmp / "other", opts);
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(read_all(tmp / "other/rootfs/etc/hostname"), "other\n");
}

// Layers straight from tar writers, in a layout written by hand (media
// types plain, gzip, zstd, and docker's), checked against GNU tar's own
// extraction and `umoci unpack`.
TEST_F(ToolImages, TarNamesWithSlashDotAndBarePrefixes) {
    if (auto m = missing({"tar", "python3", "zstd", "gzip", "umoci"}); !m.empty()) GTEST_SKIP() << m;
    Sh r = run(R"SH(
# layer 1 by python3's tarfile: every spelling of the root and of names below it
python3 - "$T/a.tar" "$FIX" <<'EOF'
import io, sys, tarfile
out, fix = sys.argv[1], sys.argv[2]
t = tarfile.open(out, "w", format=tarfile.PAX_FORMAT)
def add(name, kind, data=b"", mode=0o755, link="", uid=0, gid=0):
    i = tarfile.TarInfo(name)
    i.type, i.mode, i.uid, i.gid, i.mtime, i.linkname = kind, mode, uid, gid, 946684800, link
    i.size = len(data) if kind == tarfile.REGTYPE else 0
    t.addfile(i, io.BytesIO(data) if i.size else None)
D, F, L, S = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.LNKTYPE, tarfile.SYMTYPE
add("/", D, mode=0o751, uid=3, gid=4)
add("//etc/", D)
add("/etc/passwd", F, open(fix + "/etc/passwd", "rb").read(), 0o644)
add("./etc/group", F, open(fix + "/etc/group", "rb").read(), 0o644)
add(".", D, mode=0o755)
add("./usr/", D); add("usr/bin/", D, mode=0o711, uid=1000, gid=1000)
add("/usr/bin/tool", F, b"#!/bin/sh\necho tool\n", 0o4755)
add("//usr/bin/tool-hl", L, link="/usr/bin/tool")
add("./usr/bin/tool-hl2", L, link="./usr/bin/tool")
add("/bin", S, link="usr/bin", mode=0o777)
add("/gone/", D); add("/gone/f", F, b"gone\n", 0o600)
t.close()
EOF
# layer 2 by GNU tar with ./ names: a whiteout and a new file
mkdir -p $T/b/etc; touch $T/b/.wh.gone; echo box > $T/b/etc/hostname; chmod 0755 $T/b
touch -d @946684800 $T/b/etc/hostname
tar --numeric-owner --owner=0 --group=0 -C $T/b -cf $T/b.tar .
# layer 3 by GNU tar, `/` names by --transform; layer 4 bare names
mkdir -p $T/c/opt; echo c > $T/c/opt/c; chmod 0755 $T/c
tar --numeric-owner --owner=0 --group=0 --transform 's,^\./,/,;s,^\.$,/,' -C $T/c -cf $T/c.tar .
mkdir -p $T/d/opt; echo d > $T/d/opt/d
tar --numeric-owner --owner=0 --group=0 -C $T/d -cf $T/d.tar opt
for x in a b c d; do tar -tf $T/$x.tar | sed -n 1p > $T/$x.first; done
gzip -n -k $T/b.tar $T/c.tar; zstd -q $T/c.tar -o $T/c.tar.zst
# what GNU tar makes of the first layer by itself
mkdir $T/gnu; tar --numeric-owner -xpf $T/a.tar -C $T/gnu 2>/dev/null
)SH");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(read_all(tmp / "a.first"), "/\n");
    EXPECT_EQ(read_all(tmp / "b.first"), "./\n");
    EXPECT_EQ(read_all(tmp / "c.first"), "/\n");
    EXPECT_EQ(read_all(tmp / "d.first"), "opt/\n");

    const std::string a = read_all(tmp / "a.tar"), b = read_all(tmp / "b.tar"), c = read_all(tmp / "c.tar"),
                      d = read_all(tmp / "d.tar");
    const std::string oci = "application/vnd.oci.image.layer.v1.tar", docker = "application/vnd.docker.image.rootfs.diff.tar";
    write_layout(tmp / "one", {Layer{a, a, oci}});
    // umoci reads no zstd: its reference comes from the gzip layout.
    write_layout(tmp / "oci", {Layer{a, a, oci}, Layer{read_all(tmp / "b.tar.gz"), b, oci + "+gzip"},
                               Layer{read_all(tmp / "c.tar.gz"), c, oci + "+gzip"}, Layer{d, d, oci}});
    write_layout(tmp / "zstd", {Layer{a, a, oci}, Layer{read_all(tmp / "b.tar.gz"), b, oci + "+gzip"},
                                Layer{read_all(tmp / "c.tar.zst"), c, oci + "+zstd"}, Layer{d, d, oci}});
    write_layout(tmp / "docker", {Layer{a, a, docker}, Layer{read_all(tmp / "b.tar.gz"), b, docker + ".gzip"},
                                  Layer{c, c, docker}, Layer{d, d, docker}});

    // One layer: what GNU tar extracts.
    auto gnu = snapshot(tmp / "gnu");
    EXPECT_EQ(gnu["usr/bin/tool-hl"].ino, gnu["usr/bin/tool"].ino);
    expect_unpacks_like(tmp / "one", tmp / "gnu", 1);

    // Four layers: what umoci unpacks, and spelled out.
    r = sh("umoci unpack --image " + (tmp / "oci:latest") + " " + (tmp / "ref") + " >/dev/null");
    ASSERT_EQ(r.status, 0) << r.out;
    auto ref = snapshot(tmp / "ref/rootfs");
    EXPECT_EQ(ref["/"].mode, 0755u) << "the last root entry of the top layer that has one";
    EXPECT_FALSE(ref.count("gone"));
    EXPECT_EQ(ref["usr/bin"].uid, 1000u);
    EXPECT_EQ(ref["usr/bin/tool"].mode, 04755u);
    EXPECT_EQ(ref["usr/bin/tool-hl2"].ino, ref["usr/bin/tool"].ino);
    EXPECT_EQ(ref["bin"].content, "usr/bin");
    EXPECT_TRUE(ref.count("opt/c") && ref.count("opt/d") && ref.count("etc/hostname"));
    expect_unpacks_like(tmp / "oci", tmp / "ref/rootfs", 4);
    expect_unpacks_like(tmp / "zstd", tmp / "ref/rootfs", 4);

    // The layout as an archive by GNU tar: `./` names, `/` names, and gzip
    // (spooled, not indexed).
    r = run(R"SH(
tar -C $T/oci -cf $T/oci-dot.tar .
tar --transform 's,^\./,/,;s,^\.$,/,' -C $T/oci -cf $T/oci-slash.tar .
gzip -n -k $T/oci-slash.tar
tar -tf $T/oci-slash.tar > $T/archive-names
)SH");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(read_all(tmp / "archive-names").find("\n/index.json\n"), std::string::npos) << read_all(tmp / "archive-names");
    for (std::string source : {tmp / "oci-dot.tar", tmp / "oci-slash.tar", tmp / "oci-slash.tar.gz"})
        expect_unpacks_like(source, tmp / "ref/rootfs", 4, /*overlay_only=*/true);
    expect_unpacks_like(tmp / "docker", tmp / "ref/rootfs", 4);
}

// An opaque marker at the top of a layer (`./.wh..wh..opq`, as GNU tar of a
// directory holding one writes it) hides every layer below, as umoci
// unpacks it; overlayfs ignores that mark on a layer's root.
TEST_F(ToolImages, OpaqueMarkerAtALayersRoot) {
    if (auto m = missing({"tar", "umoci"}); !m.empty()) GTEST_SKIP() << m;
    Sh r = run(R"SH(
mkdir -p $T/a/etc $T/a/usr; echo a > $T/a/etc/a; echo u > $T/a/usr/u
tar --numeric-owner --owner=0 --group=0 -C $T/a -cf $T/a.tar etc usr
mkdir -p $T/b/etc; touch $T/b/.wh..wh..opq; echo b > $T/b/etc/b
tar --numeric-owner --owner=0 --group=0 -C $T/b -cf $T/b.tar .
mkdir -p $T/c/etc; echo c > $T/c/etc/c
tar --numeric-owner --owner=0 --group=0 -C $T/c -cf $T/c.tar etc
umoci init --layout $T/l
umoci new --image $T/l:img
for x in a b c; do umoci raw add-layer --image $T/l:img $T/$x.tar; done
umoci config --image $T/l:img --config.cmd /bin/sh --architecture amd64 --os linux
umoci unpack --image $T/l:img $T/ref >/dev/null
)SH");
    ASSERT_EQ(r.status, 0) << r.out;
    auto ref = snapshot(tmp / "ref/rootfs");
    EXPECT_FALSE(ref.count("etc/a") || ref.count("usr")) << "hidden by the opaque root of layer 2";
    EXPECT_TRUE(ref.count("etc/b") && ref.count("etc/c"));
    expect_unpacks_like(tmp / "l:img", tmp / "ref/rootfs", 3);
}

// `docker save` before docker 25 writes each layer as `<id>/layer.tar` and a
// layer it has written already (an empty layer repeated, a layer shared by
// two images) as a symlink to the first, listed as such in manifest.json.
// Written by python3's tarfile in that layout, with a chain of two links, or
// a hard link; indexed (plain) and spooled (gzip).
TEST_F(ToolImages, DockerSaveArchivesWithLinkedLayers) {
    if (auto m = missing({"tar", "python3", "gzip"}); !m.empty()) GTEST_SKIP() << m;
    Sh r = run(R"SH(
python3 - "$T" "$FIX" <<'PY'
import hashlib, io, json, sys, tarfile
T, fix = sys.argv[1], sys.argv[2]
def layer(files):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in files:
            i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o644; i.mtime = 946684800
            t.addfile(i, io.BytesIO(data))
    return b.getvalue()
l1 = layer([("etc/passwd", open(fix + "/etc/passwd", "rb").read())])
empty = layer([])
l2 = layer([("etc/group", open(fix + "/etc/group", "rb").read())])
sha = lambda b: hashlib.sha256(b).hexdigest()
layers = [l1, empty, l2, empty, empty]
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(l) for l in layers]}}).encode()
ids = ["%064x" % (n + 1) for n in range(len(layers))]
def archive(path, last):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        def add(name, data=b"", kind=tarfile.REGTYPE, link=""):
            i = tarfile.TarInfo(name); i.type = kind; i.linkname = link; i.mode = 0o644
            i.size = len(data) if kind == tarfile.REGTYPE else 0
            t.addfile(i, io.BytesIO(data) if i.size else None)
        for n, l in enumerate(layers):
            d = ids[n]
            add(d, kind=tarfile.DIRTYPE); add(d + "/VERSION", b"1.0"); add(d + "/json", b"{}")
            if n == 3:
                add(d + "/layer.tar", kind=tarfile.SYMTYPE, link="../" + ids[1] + "/layer.tar")
            elif n == 4 and last == "symlink":  # a link to a link
                add(d + "/layer.tar", kind=tarfile.SYMTYPE, link="../" + ids[3] + "/layer.tar")
            elif n == 4:
                add(d + "/layer.tar", kind=tarfile.LNKTYPE, link=ids[1] + "/layer.tar")
            else:
                add(d + "/layer.tar", l)
        add(sha(config) + ".json", config)
        add("manifest.json", json.dumps([{"Config": sha(config) + ".json", "RepoTags": ["example/saved:v1"],
                                          "Layers": [d + "/layer.tar" for d in ids]}]).encode())
        add("repositories", json.dumps({"example/saved": {"v1": ids[-1]}}).encode())
archive(T + "/saved-symlinks.tar", "symlink")
archive(T + "/saved-hardlink.tar", "hardlink")
open(T + "/l1.tar", "wb").write(l1); open(T + "/l2.tar", "wb").write(l2)
PY
gzip -n -k $T/saved-symlinks.tar $T/saved-hardlink.tar
mkdir $T/gnu; tar -xpf $T/l1.tar -C $T/gnu; tar -xpf $T/l2.tar -C $T/gnu
)SH");
    ASSERT_EQ(r.status, 0) << r.out;
    for (std::string source : {tmp / "saved-symlinks.tar", tmp / "saved-hardlink.tar:example/saved:v1",
                               tmp / "saved-symlinks.tar.gz", tmp / "saved-hardlink.tar.gz"})
        expect_unpacks_like(source, tmp / "gnu", /*layers: repeated ones are counted once or not at all*/ 0,
                            /*overlay_only=*/true);
    // The copy applies the repeated layers again; the same rootfs.
    expect_unpacks_like(tmp / "saved-symlinks.tar", tmp / "gnu", 0);
}

} // namespace
} // namespace corral::image
