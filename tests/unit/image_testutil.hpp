// Helpers of the image tests: temp dirs that clean up their mounts, running
// shell tools (umoci, skopeo, tar), tar files built entry by entry with
// libarchive's writer (for hostile layers no normal tool makes), OCI layouts
// written by hand around them, and tree snapshots to compare two rootfs.
#pragma once

#include "image/sha256.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <vector>

namespace image_test {

using json = nlohmann::json;

inline std::string fixtures() {
    std::string here = __FILE__; // tests/unit/image_testutil.hpp
    for (int i = 0; i < 3; ++i) here = here.substr(0, here.rfind('/'));
    return here + "/rootfs-fixtures/out";
}

// The executable `tool` found in $PATH, or "": a direct lookup (no shell),
// so that a test skips only when the tool is truly absent.
inline std::string on_path(const std::string &tool) {
    const char *path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    for (size_t i = 0; i <= dirs.size();) {
        size_t j = dirs.find(':', i);
        if (j == std::string::npos) j = dirs.size();
        std::string cand = (j > i ? dirs.substr(i, j - i) : std::string(".")) + "/" + tool;
        struct stat st {};
        if (::stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(cand.c_str(), X_OK) == 0) return cand;
        i = j + 1;
    }
    return "";
}

inline bool have(const char *tool) { return !on_path(tool).empty(); }

struct Sh {
    int status = -1;
    std::string out;
};

// bash -euo pipefail -c SCRIPT, stdout and stderr together.
inline Sh sh(const std::string &script) {
    std::string cmd = "bash -euo pipefail -c '";
    for (char c : script) cmd += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += "' 2>&1";
    Sh r;
    FILE *p = ::popen(cmd.c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

inline std::string read_all(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void write_all(const std::string &path, const std::string &data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
}

inline bool exists(const std::string &path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

// Is anything mounted at or below `path`?
inline bool mounts_under(const std::string &path) {
    std::istringstream in(read_all("/proc/self/mountinfo"));
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string a, b, c, d, target;
        f >> a >> b >> c >> d >> target;
        if (target == path || target.rfind(path + "/", 0) == 0) return true;
    }
    return false;
}

// A temp dir under /tmp; on destruction every mount below it is detached
// and the tree removed.
class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/corral-image-test-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    // A name of lower-case letters and digits only: podman and buildah take
    // an `oci:` layout's path for an image name, which must be lower case.
    struct LowerCase {};
    explicit TempDir(LowerCase) {
        std::random_device rd;
        for (;;) {
            char name[64];
            std::snprintf(name, sizeof name, "/tmp/corral-image-test-%08x", static_cast<unsigned>(rd()));
            if (::mkdir(name, 0700) == 0 || errno != EEXIST) {
                path = name;
                return;
            }
        }
    }
    ~TempDir() {
        for (int round = 0; round < 8; ++round) {
            std::vector<std::string> targets;
            std::istringstream in(read_all("/proc/self/mountinfo"));
            for (std::string line; std::getline(in, line);) {
                std::istringstream f(line);
                std::string a, b, c, d, target;
                f >> a >> b >> c >> d >> target;
                if (target == path || target.rfind(path + "/", 0) == 0) targets.push_back(target);
            }
            if (targets.empty()) break;
            std::sort(targets.begin(), targets.end(), [](auto &x, auto &y) { return x.size() > y.size(); });
            for (auto &t : targets) ::umount2(t.c_str(), MNT_DETACH);
        }
        sh("rm -rf --one-file-system '" + path + "'");
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    std::string operator/(const std::string &sub) const { return path + "/" + sub; }
    std::string path;
};

// --- tar files entry by entry ---------------------------------------------------

struct Entry {
    std::string name;
    char type = 'f';            // f file, d dir, l symlink, h hard link, c char dev, b block dev, p fifo
    std::string data;           // file content, or link target
    mode_t mode = 0644;
    uid_t uid = 0;
    gid_t gid = 0;
    dev_t rdev = 0;
    time_t mtime = 946684800;   // 2000-01-01
    std::map<std::string, std::string> xattrs;
    int64_t size = -1;          // declared size if not data.size() (sparse tests)
};

inline Entry file(std::string name, std::string data, mode_t mode = 0644) {
    Entry e;
    e.name = std::move(name);
    e.data = std::move(data);
    e.mode = mode;
    return e;
}
inline Entry dir(std::string name, mode_t mode = 0755) {
    Entry e;
    e.name = std::move(name);
    e.type = 'd';
    e.mode = mode;
    return e;
}
inline Entry slink(std::string name, std::string target) {
    Entry e;
    e.name = std::move(name);
    e.type = 'l';
    e.data = std::move(target);
    e.mode = 0777;
    return e;
}
inline Entry hlink(std::string name, std::string target) {
    Entry e;
    e.name = std::move(name);
    e.type = 'h';
    e.data = std::move(target);
    return e;
}

// A pax tar of `entries`, compressed with "gzip", "zstd" or "" (none).
inline std::string make_tar(const std::vector<Entry> &entries, const std::string &compression = "") {
    std::string out;
    archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (compression == "gzip") archive_write_add_filter_gzip(a);
    if (compression == "zstd") archive_write_add_filter_zstd(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open(
        a, &out, nullptr,
        [](archive *, void *ud, const void *buf, size_t n) -> la_ssize_t {
            static_cast<std::string *>(ud)->append(static_cast<const char *>(buf), n);
            return static_cast<la_ssize_t>(n);
        },
        nullptr);
    for (const auto &e : entries) {
        archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e.name.c_str());
        archive_entry_set_uid(ae, e.uid);
        archive_entry_set_gid(ae, e.gid);
        archive_entry_set_mtime(ae, e.mtime, 0);
        archive_entry_set_perm(ae, e.mode & 07777);
        for (auto &[k, v] : e.xattrs) archive_entry_xattr_add_entry(ae, k.c_str(), v.data(), v.size());
        switch (e.type) {
        case 'f':
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_size(ae, e.size >= 0 ? e.size : static_cast<int64_t>(e.data.size()));
            break;
        case 'd': archive_entry_set_filetype(ae, AE_IFDIR); break;
        case 'l':
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_symlink(ae, e.data.c_str());
            break;
        case 'h':
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_hardlink(ae, e.data.c_str());
            archive_entry_set_size(ae, 0);
            break;
        case 'c':
        case 'b':
            archive_entry_set_filetype(ae, e.type == 'c' ? AE_IFCHR : AE_IFBLK);
            archive_entry_set_rdev(ae, e.rdev);
            break;
        case 'p': archive_entry_set_filetype(ae, AE_IFIFO); break;
        }
        archive_write_header(a, ae);
        if (e.type == 'f' && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

inline std::string gunzip_tar_digest(const std::string &tar) { // diff_id of an uncompressed tar
    corral::image::Sha256 h;
    h.update(tar);
    return "sha256:" + h.hex();
}

// --- OCI layouts by hand ----------------------------------------------------------

struct Blob {
    std::string digest;
    uint64_t size;
};

inline Blob put_blob(const std::string &layout, const std::string &data) {
    std::string digest = corral::image::sha256_digest(data);
    sh("mkdir -p '" + layout + "/blobs/sha256'");
    write_all(layout + "/blobs/sha256/" + digest.substr(7), data);
    return {digest, data.size()};
}

struct Layer {
    std::string blob;     // as stored (maybe compressed)
    std::string tar;      // uncompressed (for the diff_id)
    std::string media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
};

inline Layer gz_layer(const std::vector<Entry> &entries) {
    return {make_tar(entries, "gzip"), make_tar(entries, ""), "application/vnd.oci.image.layer.v1.tar+gzip"};
}

// An OCI layout at `layout` with one image tagged `tag`. Returns the
// manifest descriptor JSON.
inline json write_layout(const std::string &layout, const std::vector<Layer> &layers, json config_section = json::object(),
                         const std::string &tag = "latest", const std::string &arch = "amd64") {
    sh("mkdir -p '" + layout + "/blobs/sha256'");
    write_all(layout + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    json diff_ids = json::array(), descs = json::array();
    for (auto &l : layers) {
        diff_ids.push_back(gunzip_tar_digest(l.tar));
        Blob b = put_blob(layout, l.blob);
        descs.push_back({{"mediaType", l.media_type}, {"digest", b.digest}, {"size", b.size}});
    }
    json config = {{"architecture", arch}, {"os", "linux"}, {"config", config_section},
                   {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
    Blob c = put_blob(layout, config.dump());
    json manifest = {{"schemaVersion", 2},
                     {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                     {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", c.digest}, {"size", c.size}}},
                     {"layers", descs}};
    Blob m = put_blob(layout, manifest.dump());
    json desc = {{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", m.digest}, {"size", m.size},
                 {"annotations", {{"org.opencontainers.image.ref.name", tag}}}};
    json index = {{"schemaVersion", 2}, {"manifests", json::array({desc})}};
    write_all(layout + "/index.json", index.dump());
    return desc;
}

// --- tree snapshots -----------------------------------------------------------------

struct Node {
    char type = '?';
    mode_t mode = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    off_t size = 0;
    int64_t mtime = 0;
    dev_t rdev = 0;
    std::string content; // sha256 of a file, target of a symlink
    std::map<std::string, std::string> xattrs;
    ino_t ino = 0;
    nlink_t nlink = 0;
};

inline std::map<std::string, std::string> xattrs_of(const std::string &path) {
    std::map<std::string, std::string> out;
    char names[8192];
    ssize_t n = ::llistxattr(path.c_str(), names, sizeof names);
    for (ssize_t i = 0; i < n;) {
        std::string name = names + i;
        i += static_cast<ssize_t>(name.size()) + 1;
        if (name.rfind("trusted.overlay.", 0) == 0 || name == "security.selinux") continue;
        char value[8192];
        ssize_t v = ::lgetxattr(path.c_str(), name.c_str(), value, sizeof value);
        if (v >= 0) out[name] = std::string(value, static_cast<size_t>(v));
    }
    return out;
}

inline void snapshot_into(const std::string &root, const std::string &rel, std::map<std::string, Node> &out) {
    std::string path = rel.empty() ? root : root + "/" + rel;
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0) return;
    Node n;
    n.mode = st.st_mode & 07777;
    n.uid = st.st_uid;
    n.gid = st.st_gid;
    n.mtime = st.st_mtim.tv_sec;
    n.ino = st.st_ino;
    n.nlink = st.st_nlink;
    n.xattrs = xattrs_of(path);
    switch (st.st_mode & S_IFMT) {
    case S_IFREG: {
        n.type = 'f';
        n.size = st.st_size;
        n.content = corral::image::sha256_digest(read_all(path));
        break;
    }
    case S_IFDIR: n.type = 'd'; break;
    case S_IFLNK: {
        n.type = 'l';
        char buf[4096];
        ssize_t len = ::readlink(path.c_str(), buf, sizeof buf);
        n.content.assign(buf, len > 0 ? static_cast<size_t>(len) : 0);
        break;
    }
    case S_IFCHR: n.type = 'c', n.rdev = st.st_rdev; break;
    case S_IFBLK: n.type = 'b', n.rdev = st.st_rdev; break;
    case S_IFIFO: n.type = 'p'; break;
    default: n.type = 's';
    }
    out[rel.empty() ? "/" : rel] = n;
    if (n.type != 'd') return;
    DIR *d = ::opendir(path.c_str());
    if (!d) return;
    std::vector<std::string> names;
    while (dirent *e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.push_back(e->d_name);
    ::closedir(d);
    for (auto &name : names) snapshot_into(root, rel.empty() ? name : rel + "/" + name, out);
}

inline std::map<std::string, Node> snapshot(const std::string &root) {
    std::map<std::string, Node> out;
    snapshot_into(root, "", out);
    return out;
}

// Hard-link groups: sets of paths sharing an inode (files with nlink > 1).
inline std::set<std::set<std::string>> link_groups(const std::map<std::string, Node> &tree) {
    std::map<ino_t, std::set<std::string>> by_ino;
    for (auto &[p, n] : tree)
        if (n.type != 'd' && n.nlink > 1) by_ino[n.ino].insert(p);
    std::set<std::set<std::string>> out;
    for (auto &[i, s] : by_ino)
        if (s.size() > 1) out.insert(s);
    return out;
}

// "" when equal; else one line per difference (at most 40). Directory
// mtimes are not compared (unpackers differ on when they restore them).
inline std::string diff_trees(const std::map<std::string, Node> &a, const std::map<std::string, Node> &b,
                              bool compare_links = true) {
    std::ostringstream d;
    int shown = 0;
    auto note = [&](const std::string &s) {
        if (shown++ < 40) d << s << "\n";
    };
    for (auto &[p, n] : a) {
        auto it = b.find(p);
        if (it == b.end()) {
            note("only in first: " + p);
            continue;
        }
        const Node &m = it->second;
        if (n.type != m.type) note(p + ": type " + n.type + " vs " + m.type);
        else {
            if (n.mode != m.mode) note(p + ": mode " + std::to_string(n.mode) + " vs " + std::to_string(m.mode));
            if (n.uid != m.uid || n.gid != m.gid) note(p + ": owner differs");
            if (n.content != m.content) note(p + ": content differs");
            if (n.rdev != m.rdev) note(p + ": rdev differs");
            if (n.xattrs != m.xattrs) note(p + ": xattrs differ");
            if (n.type != 'd' && n.mtime != m.mtime)
                note(p + ": mtime " + std::to_string(n.mtime) + " vs " + std::to_string(m.mtime));
        }
    }
    for (auto &[p, n] : b)
        if (!a.count(p)) note("only in second: " + p);
    if (compare_links && link_groups(a) != link_groups(b)) note("hard link groups differ");
    return d.str();
}

} // namespace image_test
