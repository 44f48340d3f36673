#include "image/source.hpp"

#include "common/fs.hpp"
#include "image/archive_ptr.hpp"
#include "image/fsutil.hpp"
#include "image/layer.hpp"
#include "image/sha256.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <set>
#include <vector>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace corral::image {

using json = nlohmann::json;

namespace {

constexpr uint64_t kIndexLimit = 4u << 20;   // image-spec: manifests and indexes SHOULD be small
constexpr uint64_t kConfigLimit = 16u << 20;

// "./a//b/" and "/a/b" -> "a/b"; "" if it has ".." (never used then). A
// leading slash means the archive's root, as in layers (layer.cpp, whose
// clean_entry_name this is): GNU tar writes `./index.json` for
// `tar -C layout -c .`, and `/index.json` with `--transform` or `-P`; these
// names only index the archive.
std::string archive_name(const char *raw) {
    auto name = clean_entry_name(raw);
    return name ? *name : std::string();
}

// Where the symlink entry `link` of an archive points: `target` taken from
// the link's directory, within the archive (`..` may climb to its root, never
// above: then ""). `docker save` (before docker 25) stores a layer it has
// already written as `<id>/layer.tar -> ../<first id>/layer.tar` and lists the
// link in manifest.json; podman and skopeo write such links too.
std::string archive_link_target(const std::string &link, const std::string &target) {
    std::vector<std::string> parts;
    auto push = [&](std::string_view path) {
        size_t i = 0;
        while (i <= path.size()) {
            size_t j = path.find('/', i);
            if (j == std::string_view::npos) j = path.size();
            std::string_view part = path.substr(i, j - i);
            i = j + 1;
            if (part.empty() || part == ".") continue;
            if (part == "..") {
                if (parts.empty()) return false;
                parts.pop_back();
            } else {
                parts.emplace_back(part);
            }
        }
        return true;
    };
    if (target.empty()) return {};
    if (target[0] != '/') push(split_parent(link).first);
    if (!push(target)) return {};
    std::string out;
    for (auto &p : parts) out += (out.empty() ? "" : "/") + p;
    return out;
}

// Link entries (symlinks and hard links, name -> target) of an archive as
// aliases of the regular files `have` reports: a chain of at most 8 links.
template <class Have>
std::map<std::string, std::string> resolve_links(const std::map<std::string, std::pair<bool, std::string>> &links,
                                                 const Have &have) {
    std::map<std::string, std::string> out;
    for (const auto &[name, link] : links) {
        std::string cur = name;
        bool symbolic = link.first;
        std::string target = link.second;
        for (int hop = 0; hop < 8; ++hop) {
            std::string to = symbolic ? archive_link_target(cur, target) : archive_name(target.c_str());
            if (to.empty()) break;
            if (have(to)) {
                out[name] = to;
                break;
            }
            auto next = links.find(to);
            if (next == links.end()) break;
            cur = to;
            symbolic = next->second.first;
            target = next->second.second;
        }
    }
    return out;
}

// --- files of a layout directory ---------------------------------------------

class DirFiles : public SourceFiles {
public:
    DirFiles(std::string path, UniqueFd dir, std::string remove_on_close = {},
             std::map<std::string, std::string> aliases = {})
        : dir_(std::move(dir)), remove_(std::move(remove_on_close)), aliases_(std::move(aliases)) {
        path_ = std::move(path);
    }
    ~DirFiles() override {
        if (!remove_.empty()) (void)remove_tree(remove_);
    }
    Result<BlobRange> find(const std::string &wanted) const override {
        auto alias = aliases_.find(archive_name(wanted.c_str()));
        const std::string &name = alias != aliases_.end() ? alias->second : wanted;
        auto fd = open_beneath(dir_.get(), name, O_RDONLY);
        if (!fd) return Error::from_errno(fd.error().err(), "open", path_join(path_, name));
        struct stat st {};
        if (::fstat(fd->get(), &st) < 0) return Error::from_errno(errno, "stat", path_join(path_, name));
        if (!S_ISREG(st.st_mode)) return Error("`" + path_join(path_, name) + "` is not a regular file", EINVAL);
        return BlobRange{std::make_shared<const UniqueFd>(std::move(*fd)), 0, static_cast<uint64_t>(st.st_size)};
    }

private:
    UniqueFd dir_;
    std::string remove_;
    std::map<std::string, std::string> aliases_; // a spooled archive's links -> the files they name
};

// --- files of an uncompressed tar: byte ranges of the archive ---------------------

class TarFiles : public SourceFiles {
public:
    TarFiles(std::string path, std::shared_ptr<const UniqueFd> fd, std::map<std::string, std::pair<uint64_t, uint64_t>> index)
        : fd_(std::move(fd)), index_(std::move(index)) {
        path_ = std::move(path);
    }
    Result<BlobRange> find(const std::string &name) const override {
        auto it = index_.find(archive_name(name.c_str())); // manifest.json may say "./x.tar"
        if (it == index_.end()) return Error::from_errno(ENOENT, "find in archive " + path_, name);
        return BlobRange{fd_, it->second.first, it->second.second};
    }

private:
    std::shared_ptr<const UniqueFd> fd_;
    std::map<std::string, std::pair<uint64_t, uint64_t>> index_;
};

Result<std::unique_ptr<SourceFiles>> spool_archive(const std::string &path, const std::string &spool_parent) {
    CORRAL_TRY(mkdir_p(spool_parent, 0700));
    std::string dir = path_join(spool_parent, "spool-" + unique_name());
    if (::mkdir(dir.c_str(), 0700) < 0) return Error::from_errno(errno, "mkdir", dir);
    auto fail = [&](Error e) -> Error {
        (void)remove_tree(dir);
        return std::move(e).context("unpack archive `" + path + "`");
    };
    UniqueFd root = CORRAL_TRY(open_file(dir, O_RDONLY | O_DIRECTORY));
    ArchivePtr a(archive_read_new());
    archive_read_support_filter_all(a.get());
    archive_read_support_format_tar(a.get());
    if (archive_read_open_filename(a.get(), path.c_str(), 1 << 20) != ARCHIVE_OK)
        return fail(Error(archive_error_string(a.get()) ? archive_error_string(a.get()) : "cannot read"));
    archive_entry *e = nullptr;
    std::set<std::string> files;
    std::map<std::string, std::pair<bool, std::string>> links; // not written: resolved to aliases
    for (;;) {
        int r = archive_read_next_header(a.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) return fail(Error(archive_error_string(a.get())));
        std::string name = archive_name(archive_entry_pathname(e));
        if (name.empty()) continue;
        if (const char *link = archive_entry_hardlink(e)) {
            links[name] = {false, link};
            continue;
        }
        if (archive_entry_filetype(e) == AE_IFLNK && archive_entry_symlink(e)) {
            links[name] = {true, archive_entry_symlink(e)};
            continue;
        }
        if (archive_entry_filetype(e) != AE_IFREG) continue;
        files.insert(name);
        // Parents as plain directories, never through a symlink.
        auto [parent, base] = split_parent(name);
        std::string sofar;
        size_t i = 0;
        while (!parent.empty() && i <= parent.size()) {
            size_t j = parent.find('/', i);
            if (j == std::string::npos) j = parent.size();
            sofar = parent.substr(0, j);
            i = j + 1;
            auto pfd = open_beneath(root.get(), split_parent(sofar).first, O_PATH | O_DIRECTORY);
            if (!pfd) return fail(std::move(pfd).error());
            if (::mkdirat(pfd->get(), split_parent(sofar).second.c_str(), 0700) < 0 && errno != EEXIST)
                return fail(Error::from_errno(errno, "mkdir", sofar));
        }
        auto pfd = open_beneath(root.get(), parent, O_PATH | O_DIRECTORY);
        if (!pfd) return fail(std::move(pfd).error());
        int fd = ::openat(pfd->get(), base.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) return fail(Error::from_errno(errno, "create", name));
        UniqueFd out(fd);
        char buf[1 << 16];
        for (;;) {
            la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
            if (n < 0) return fail(Error(archive_error_string(a.get())));
            if (n == 0) break;
            auto st = write_all(out.get(), std::string_view(buf, static_cast<size_t>(n)), name);
            if (!st) return fail(std::move(st).error());
        }
    }
    auto aliases = resolve_links(links, [&](const std::string &n) { return files.count(n) > 0; });
    return std::unique_ptr<SourceFiles>(std::make_unique<DirFiles>(path, std::move(root), dir, std::move(aliases)));
}

Result<std::unique_ptr<SourceFiles>> open_archive(const std::string &path, const std::string &spool_parent) {
    UniqueFd fd = CORRAL_TRY(open_file(path, O_RDONLY));
    ArchivePtr a(archive_read_new());
    archive_read_support_filter_all(a.get());
    archive_read_support_format_tar(a.get());
    if (archive_read_open_fd(a.get(), fd.get(), 1 << 16) != ARCHIVE_OK)
        return Error("`" + path + "` is not a directory or a tar archive: " +
                         (archive_error_string(a.get()) ? archive_error_string(a.get()) : "unknown format"),
                     EINVAL);
    if (archive_filter_count(a.get()) > 1) return spool_archive(path, spool_parent);
    std::map<std::string, std::pair<uint64_t, uint64_t>> index;
    std::map<std::string, std::pair<bool, std::string>> links;
    archive_entry *e = nullptr;
    for (;;) {
        int r = archive_read_next_header(a.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) return Error("read archive `" + path + "`: " + archive_error_string(a.get()), EINVAL);
        std::string name = archive_name(archive_entry_pathname(e));
        if (name.empty()) continue;
        if (const char *link = archive_entry_hardlink(e)) {
            links[name] = {false, link};
            continue;
        }
        if (archive_entry_filetype(e) == AE_IFLNK && archive_entry_symlink(e)) {
            links[name] = {true, archive_entry_symlink(e)};
            continue;
        }
        if (archive_entry_filetype(e) != AE_IFREG || archive_entry_sparse_count(e) > 0) continue;
        // After the header the archive stands at the entry's first data byte.
        index[name] = {static_cast<uint64_t>(archive_filter_bytes(a.get(), 0)), static_cast<uint64_t>(archive_entry_size(e))};
    }
    a.reset();
    for (auto &[name, to] : resolve_links(links, [&](const std::string &n) { return index.count(n) > 0; }))
        index[name] = index[to];
    return std::unique_ptr<SourceFiles>(
        std::make_unique<TarFiles>(path, std::make_shared<const UniqueFd>(std::move(fd)), std::move(index)));
}

// --- JSON helpers -------------------------------------------------------------

Result<json> parse_json(const std::string &text, const std::string &what) {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Error(what + ": not valid JSON", EINVAL);
    if (!j.is_object()) return Error(what + ": not a JSON object", EINVAL);
    return j;
}

std::string str_of(const json &j, const char *key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

struct Descriptor {
    std::string media_type, digest;
    uint64_t size = 0;
    std::map<std::string, std::string> annotations;
    bool has_platform = false;
    Platform platform;
};

Result<Descriptor> parse_descriptor(const json &j, const std::string &what) {
    if (!j.is_object()) return Error(what + ": not an object", EINVAL);
    Descriptor d;
    d.media_type = str_of(j, "mediaType");
    d.digest = str_of(j, "digest");
    CORRAL_TRY_CTX(check_digest(d.digest, what + ".digest"), "");
    auto size = j.find("size");
    if (size == j.end() || !size->is_number_unsigned()) return Error(what + ".size: expected a non-negative integer", EINVAL);
    d.size = size->get<uint64_t>();
    if (auto a = j.find("annotations"); a != j.end() && a->is_object())
        for (auto &[k, v] : a->items())
            if (v.is_string()) d.annotations[k] = v.get<std::string>();
    if (auto p = j.find("platform"); p != j.end() && p->is_object()) {
        d.has_platform = true;
        d.platform.os = str_of(*p, "os");
        d.platform.architecture = str_of(*p, "architecture");
        d.platform.variant = str_of(*p, "variant");
    }
    return d;
}

std::string blob_path(const std::string &digest) {
    auto colon = digest.find(':');
    return "blobs/" + digest.substr(0, colon) + "/" + digest.substr(colon + 1);
}

// Read a blob named by a descriptor, checking size, then digest.
Result<std::string> read_blob(const SourceFiles &files, const std::string &digest, uint64_t size, uint64_t limit,
                              const std::string &what) {
    if (size > limit) return Error(what + " " + digest + ": " + std::to_string(size) + " bytes is too large", EFBIG);
    std::string path = blob_path(digest);
    BlobRange r = CORRAL_TRY_CTX(files.find(path), what + " " + digest);
    if (r.length != size)
        return Error(what + " " + digest + ": size mismatch: the descriptor says " + std::to_string(size) +
                         " bytes, the blob has " + std::to_string(r.length),
                     EINVAL);
    std::string data = CORRAL_TRY(read_range(r, limit, what + " " + digest));
    std::string got = sha256_digest(data);
    if (got != digest) return Error(what + " " + digest + ": digest mismatch: the blob's content hashes to " + got, EINVAL);
    return data;
}

constexpr const char *kOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr const char *kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr const char *kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char *kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

bool is_index_type(const std::string &t) { return t == kOciIndex || t == kDockerList; }

bool layer_type_supported(const std::string &t) {
    static const char *const kTypes[] = {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    };
    return std::find(std::begin(kTypes), std::end(kTypes), t) != std::end(kTypes);
}

bool platform_matches(const Platform &have, const Platform &want) {
    if (have.os != want.os || have.architecture != want.architecture) return false;
    if (want.variant.empty()) return true;
    // arm64 images often leave out the (only) variant v8.
    if (have.variant.empty() && want.architecture == "arm64" && want.variant == "v8") return true;
    return have.variant == want.variant;
}

// Fill config-derived fields: diff_ids, platform.
Status apply_config(ResolvedImage &img, const std::string &what) {
    json cfg = CORRAL_TRY(parse_json(img.config_json, what));
    auto rootfs = cfg.find("rootfs");
    if (rootfs == cfg.end() || !rootfs->is_object()) return Error(what + ": no rootfs", EINVAL);
    if (str_of(*rootfs, "type") != "layers")
        return Error(what + ": rootfs.type is `" + str_of(*rootfs, "type") + "`, expected `layers`", EINVAL);
    auto ids = rootfs->find("diff_ids");
    if (ids == rootfs->end() || !ids->is_array()) return Error(what + ": rootfs.diff_ids missing", EINVAL);
    if (ids->size() != img.layers.size())
        return Error(what + ": " + std::to_string(ids->size()) + " diff_ids for " + std::to_string(img.layers.size()) +
                         " layers",
                     EINVAL);
    for (size_t i = 0; i < ids->size(); ++i) {
        const json &id = (*ids)[i];
        std::string s = id.is_string() ? id.get<std::string>() : std::string();
        CORRAL_TRY(check_digest(s, what + ": rootfs.diff_ids[" + std::to_string(i) + "]"));
        img.layers[i].diff_id = s;
    }
    img.platform.os = str_of(cfg, "os");
    img.platform.architecture = str_of(cfg, "architecture");
    img.platform.variant = str_of(cfg, "variant");
    return ok();
}

// --- OCI layouts ----------------------------------------------------------------

Result<ResolvedImage> read_manifest(const SourceFiles &files, const Descriptor &d) {
    std::string text = CORRAL_TRY(read_blob(files, d.digest, d.size, kIndexLimit, "manifest"));
    json m = CORRAL_TRY(parse_json(text, "manifest " + d.digest));
    std::string what = "manifest " + d.digest;
    if (!m.contains("schemaVersion") || m["schemaVersion"] != 2) return Error(what + ": schemaVersion is not 2", EINVAL);
    ResolvedImage img;
    img.digest = d.digest;
    img.manifest_json = text;
    auto cfg = m.find("config");
    if (cfg == m.end()) return Error(what + ": no config", EINVAL);
    Descriptor c = CORRAL_TRY(parse_descriptor(*cfg, what + ": config"));
    img.config_digest = c.digest;
    img.config_json = CORRAL_TRY(read_blob(files, c.digest, c.size, kConfigLimit, "image config"));
    auto layers = m.find("layers");
    if (layers == m.end() || !layers->is_array()) return Error(what + ": no layers", EINVAL);
    for (size_t i = 0; i < layers->size(); ++i) {
        std::string lw = what + ": layers[" + std::to_string(i) + "]";
        Descriptor l = CORRAL_TRY(parse_descriptor((*layers)[i], lw));
        if (!layer_type_supported(l.media_type)) return Error(lw + ": unsupported media type `" + l.media_type + "`", ENOTSUP);
        img.layers.push_back({l.digest, l.media_type, l.size, "", blob_path(l.digest)});
    }
    if (auto a = m.find("annotations"); a != m.end() && a->is_object())
        for (auto &[k, v] : a->items())
            if (v.is_string()) img.manifest_annotations[k] = v.get<std::string>();
    CORRAL_TRY(apply_config(img, "image config " + c.digest));
    return img;
}

Result<ResolvedImage> follow(const SourceFiles &files, const Descriptor &d, const Platform &platform, int depth);

Result<ResolvedImage> follow_index(const SourceFiles &files, const json &index, const std::string &what,
                                   const Platform &platform, int depth) {
    auto ms = index.find("manifests");
    if (ms == index.end() || !ms->is_array()) return Error(what + ": no manifests", EINVAL);
    std::vector<Descriptor> all;
    for (size_t i = 0; i < ms->size(); ++i)
        all.push_back(CORRAL_TRY(parse_descriptor((*ms)[i], what + ": manifests[" + std::to_string(i) + "]")));
    std::vector<Descriptor> matching;
    for (auto &d : all)
        if (d.has_platform && platform_matches(d.platform, platform)) matching.push_back(d);
    if (matching.empty() && all.size() == 1 && !all[0].has_platform) matching.push_back(all[0]);
    if (matching.empty()) {
        std::string have;
        for (auto &d : all) have += (have.empty() ? "" : ", ") + (d.has_platform ? d.platform.str() : std::string("?"));
        return Error(what + ": no image for " + platform.str() + " (it has: " + (have.empty() ? "none" : have) + ")", ENOENT);
    }
    // Prefer an exact variant match.
    for (auto &d : matching)
        if (d.platform.variant == platform.variant) return follow(files, d, platform, depth + 1);
    return follow(files, matching.front(), platform, depth + 1);
}

Result<ResolvedImage> follow(const SourceFiles &files, const Descriptor &d, const Platform &platform, int depth) {
    if (depth > 8) return Error("image index " + d.digest + ": nested too deeply", ELOOP);
    std::string type = d.media_type;
    if (is_index_type(type)) {
        std::string text = CORRAL_TRY(read_blob(files, d.digest, d.size, kIndexLimit, "image index"));
        json idx = CORRAL_TRY(parse_json(text, "image index " + d.digest));
        return follow_index(files, idx, "image index " + d.digest, platform, depth);
    }
    if (type == kOciManifest || type == kDockerManifest) return read_manifest(files, d);
    if (type.empty()) {
        // Older layouts leave the media type out of the descriptor: ask the blob.
        std::string text = CORRAL_TRY(read_blob(files, d.digest, d.size, kIndexLimit, "manifest"));
        json j = CORRAL_TRY(parse_json(text, "manifest " + d.digest));
        Descriptor typed = d;
        typed.media_type = j.contains("manifests") ? kOciIndex : kOciManifest;
        if (auto t = str_of(j, "mediaType"); !t.empty()) typed.media_type = t;
        if (typed.media_type.empty()) return Error("manifest " + d.digest + ": unknown media type", EINVAL);
        return follow(files, typed, platform, depth);
    }
    return Error("descriptor " + d.digest + ": unsupported media type `" + type + "`", ENOTSUP);
}

Result<ResolvedImage> resolve_oci(const SourceFiles &files, const Selector &sel, const Platform &platform) {
    const std::string &where = files.path();
    auto layout_file = files.find("oci-layout");
    if (!layout_file) return Error("`" + where + "` is not an OCI image layout: it has no oci-layout file", EINVAL);
    json layout = CORRAL_TRY(parse_json(CORRAL_TRY(read_range(*layout_file, 4096, "oci-layout")), where + ": oci-layout"));
    if (str_of(layout, "imageLayoutVersion").rfind("1.", 0) != 0)
        return Error(where + ": unsupported imageLayoutVersion `" + str_of(layout, "imageLayoutVersion") + "`", ENOTSUP);
    std::string text = CORRAL_TRY(read_range(CORRAL_TRY(files.find("index.json")), kIndexLimit, "index.json"));
    json index = CORRAL_TRY(parse_json(text, where + ": index.json"));
    auto ms = index.find("manifests");
    if (ms == index.end() || !ms->is_array()) return Error(where + ": index.json has no manifests", EINVAL);
    std::vector<Descriptor> all;
    for (size_t i = 0; i < ms->size(); ++i)
        all.push_back(CORRAL_TRY(parse_descriptor((*ms)[i], where + ": index.json: manifests[" + std::to_string(i) + "]")));

    auto tag_of = [](const Descriptor &d) {
        auto it = d.annotations.find("org.opencontainers.image.ref.name");
        return it == d.annotations.end() ? std::string() : it->second;
    };
    std::vector<Descriptor> chosen;
    if (!sel.digest.empty()) {
        CORRAL_TRY(check_digest(sel.digest, "@digest"));
        for (auto &d : all)
            if (d.digest == sel.digest) chosen.push_back(d);
        if (chosen.empty()) {
            // Any manifest or index among the blobs will do.
            auto r = files.find(blob_path(sel.digest));
            if (!r) return Error(where + ": no blob " + sel.digest, ENOENT);
            chosen.push_back(Descriptor{"", sel.digest, r->length, {}, false, {}});
        }
    } else {
        std::vector<std::string> tags;
        for (auto &d : all) {
            std::string t = tag_of(d);
            if (!t.empty() && std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(t);
            if (!sel.tag.empty() ? t == sel.tag : true) chosen.push_back(d);
        }
        auto tag_list = [&] {
            std::string s;
            for (auto &t : tags) s += (s.empty() ? "" : ", ") + t;
            return s.empty() ? std::string("none") : s;
        };
        if (chosen.empty()) return Error(where + ": no image tagged `" + sel.tag + "` (tags: " + tag_list() + ")", ENOENT);
        if (sel.tag.empty() && chosen.size() > 1) {
            // Several images and no tag: only fine if all are one tag's platforms.
            if (tags.size() != 1)
                return Error(where + ": holds " + std::to_string(chosen.size()) + " images: choose one with :TAG (tags: " +
                                 tag_list() + ")",
                             EINVAL);
        }
    }
    ResolvedImage img;
    if (chosen.size() == 1) {
        img = CORRAL_TRY(follow(files, chosen[0], platform, 0));
    } else {
        // One tag, several manifests: pick by platform as an index would.
        json fake = {{"manifests", json::array()}};
        for (size_t i = 0; i < all.size(); ++i)
            if (std::find_if(chosen.begin(), chosen.end(), [&](auto &c) { return c.digest == all[i].digest; }) != chosen.end())
                fake["manifests"].push_back((*ms)[i]);
        img = CORRAL_TRY(follow_index(files, fake, where + ": index.json", platform, 0));
    }
    for (auto &d : all)
        if (std::string t = tag_of(d); !t.empty() && (d.digest == img.digest || (chosen.size() && d.digest == chosen[0].digest)))
            if (std::find(img.names.begin(), img.names.end(), t) == img.names.end()) img.names.push_back(t);
    return img;
}

// --- docker save archives ---------------------------------------------------------

std::string hex_in_name(const std::string &name) {
    // "abc...64.json" or "blobs/sha256/abc...64"
    std::string base = split_parent(name).second;
    if (base.size() >= 64) {
        std::string h = base.substr(0, 64);
        if (h.find_first_not_of("0123456789abcdef") == std::string::npos && (base.size() == 64 || base.substr(64) == ".json"))
            return h;
    }
    return {};
}

// "docker.io/library/busybox:latest" is also "busybox:latest", "busybox"
// and "latest". podman names what it built or tagged without a registry
// "localhost/NAME" (`podman tag X example/img:v1` saves
// "localhost/example/img:v1"): that is "example/img:v1" too.
std::string short_docker_ref(std::string ref) {
    if (ref.rfind("localhost/", 0) == 0) ref = ref.substr(10);
    if (ref.rfind("docker.io/", 0) == 0) ref = ref.substr(10);
    if (ref.rfind("library/", 0) == 0) ref = ref.substr(8);
    return ref;
}

bool docker_ref_matches(const std::string &repo_tag, const std::string &want) {
    std::string have = short_docker_ref(repo_tag), w = short_docker_ref(want);
    if (have == w) return true;
    auto colon = have.rfind(':');
    if (colon == std::string::npos || have.find('/', colon) != std::string::npos) return false;
    auto wc = w.rfind(':'), ws = w.rfind('/');
    if (wc == std::string::npos || (ws != std::string::npos && ws > wc))
        return have == w + ":latest" || have.substr(colon + 1) == w; // a name without tag, or a bare tag
    return false;
}

Result<ResolvedImage> resolve_docker(const SourceFiles &files, const Selector &sel) {
    const std::string &where = files.path();
    std::string text = CORRAL_TRY(read_range(CORRAL_TRY(files.find("manifest.json")), kIndexLimit, "manifest.json"));
    json m = json::parse(text, nullptr, false);
    if (m.is_discarded() || !m.is_array()) return Error(where + ": manifest.json: not a JSON array", EINVAL);
    std::vector<size_t> chosen;
    std::vector<std::string> tags;
    for (size_t i = 0; i < m.size(); ++i) {
        const json &e = m[i];
        if (!e.is_object()) return Error(where + ": manifest.json[" + std::to_string(i) + "]: not an object", EINVAL);
        std::vector<std::string> rt;
        if (auto t = e.find("RepoTags"); t != e.end() && t->is_array())
            for (auto &x : *t)
                if (x.is_string()) rt.push_back(x.get<std::string>());
        tags.insert(tags.end(), rt.begin(), rt.end());
        bool match = true;
        if (!sel.tag.empty()) {
            match = false;
            for (auto &t : rt)
                if (docker_ref_matches(t, sel.tag)) match = true;
        } else if (!sel.digest.empty()) {
            match = "sha256:" + hex_in_name(str_of(e, "Config")) == sel.digest;
        }
        if (match) chosen.push_back(i);
    }
    std::string tag_list;
    for (auto &t : tags) tag_list += (tag_list.empty() ? "" : ", ") + t;
    if (chosen.empty())
        return Error(where + ": no image " + (sel.tag.empty() ? sel.digest : "tagged `" + sel.tag + "`") +
                         " (tags: " + (tag_list.empty() ? "none" : tag_list) + ")",
                     ENOENT);
    if (chosen.size() > 1)
        return Error(where + ": holds " + std::to_string(chosen.size()) + " images: choose one with :TAG (tags: " +
                         tag_list + ")",
                     EINVAL);
    const json &e = m[chosen[0]];
    ResolvedImage img;
    std::string cfg_name = str_of(e, "Config");
    BlobRange cr = CORRAL_TRY_CTX(files.find(cfg_name), where + ": image config");
    img.config_json = CORRAL_TRY(read_range(cr, kConfigLimit, "image config " + cfg_name));
    img.config_digest = sha256_digest(img.config_json);
    if (std::string h = hex_in_name(cfg_name); !h.empty() && "sha256:" + h != img.config_digest)
        return Error(where + ": image config " + cfg_name + ": digest mismatch: the content hashes to " + img.config_digest,
                     EINVAL);
    img.digest = img.config_digest;
    auto layers = e.find("Layers");
    if (layers == e.end() || !layers->is_array()) return Error(where + ": manifest.json: no Layers", EINVAL);
    for (auto &l : *layers) {
        if (!l.is_string()) return Error(where + ": manifest.json: Layers: expected strings", EINVAL);
        std::string p = l.get<std::string>();
        BlobRange r = CORRAL_TRY_CTX(files.find(p), where + ": layer");
        img.layers.push_back({"", "application/vnd.docker.image.rootfs.diff.tar", r.length, "", p});
    }
    if (auto t = e.find("RepoTags"); t != e.end() && t->is_array())
        for (auto &x : *t)
            if (x.is_string()) img.names.push_back(x.get<std::string>());
    CORRAL_TRY(apply_config(img, "image config " + img.config_digest));
    return img;
}

} // namespace

Result<std::string> read_range(const BlobRange &r, uint64_t limit, const std::string &what) {
    if (r.length > limit) return Error(what + ": " + std::to_string(r.length) + " bytes is too large", EFBIG);
    std::string out(r.length, '\0');
    uint64_t done = 0;
    while (done < r.length) {
        ssize_t n = ::pread(r.fd->get(), out.data() + done, r.length - done, static_cast<off_t>(r.offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::from_errno(errno, "read " + what);
        }
        if (n == 0) return Error(what + ": truncated: " + std::to_string(done) + " of " + std::to_string(r.length) + " bytes", EIO);
        done += static_cast<uint64_t>(n);
    }
    return out;
}

Result<std::unique_ptr<SourceFiles>> open_source_files(const std::string &path, const std::string &spool_parent) {
    struct stat st {};
    if (::stat(path.c_str(), &st) < 0) return Error::from_errno(errno, "open image source", path);
    if (S_ISDIR(st.st_mode)) {
        UniqueFd dir = CORRAL_TRY(open_file(path, O_PATH | O_DIRECTORY));
        return std::unique_ptr<SourceFiles>(std::make_unique<DirFiles>(path, std::move(dir)));
    }
    return open_archive(path, spool_parent);
}

Result<ResolvedImage> resolve_image(const SourceFiles &files, const Selector &sel, const Platform &platform) {
    if (files.find("index.json")) return resolve_oci(files, sel, platform);
    if (files.find("manifest.json")) return resolve_docker(files, sel);
    return Error("`" + files.path() +
                     "` is neither an OCI image layout (no index.json) nor a docker-archive (no manifest.json)",
                 EINVAL);
}

std::optional<SourceRef> parse_source_ref(const std::string &text) {
    auto exists = [](const std::string &p) {
        struct stat st {};
        return !p.empty() && ::stat(p.c_str(), &st) == 0;
    };
    if (auto at = text.rfind('@'); at != std::string::npos && text.compare(at + 1, 7, "sha256:") == 0) {
        std::string path = text.substr(0, at);
        if (exists(path)) return SourceRef{path, {"", text.substr(at + 1)}};
    }
    if (exists(text)) return SourceRef{text, {}};
    // The longest existing prefix: try from the right.
    for (size_t colon = text.rfind(':'); colon != std::string::npos && colon > 0; colon = text.rfind(':', colon - 1)) {
        std::string path = text.substr(0, colon);
        if (exists(path)) return SourceRef{path, {text.substr(colon + 1), ""}};
        if (colon == 0) break;
    }
    return std::nullopt;
}

Status check_digest(const std::string &digest, const std::string &what) {
    if (digest.rfind("sha256:", 0) != 0) {
        auto colon = digest.find(':');
        if (colon != std::string::npos && colon > 0)
            return Error(what + ": digest algorithm `" + digest.substr(0, colon) + "` is not supported (only sha256)",
                         ENOTSUP);
        return Error(what + ": `" + digest + "` is not a digest (sha256:<64 hex digits>)", EINVAL);
    }
    std::string_view hex = std::string_view(digest).substr(7);
    if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string_view::npos)
        return Error(what + ": `" + digest + "` is not a digest (sha256:<64 hex digits>)", EINVAL);
    return ok();
}

std::string host_architecture() {
    struct utsname u {};
    ::uname(&u);
    std::string m = u.machine;
    if (m == "x86_64") return "amd64";
    if (m == "aarch64" || m == "arm64") return "arm64";
    if (m.rfind("armv", 0) == 0) return "arm";
    if (m == "i386" || m == "i686") return "386";
    return m; // ppc64le, s390x, riscv64 are spelled alike
}

Platform Platform::host() {
    Platform p;
    p.architecture = host_architecture();
    return p;
}

Result<Platform> Platform::parse(std::string_view text) {
    Platform p;
    p.os.clear();
    std::vector<std::string> parts;
    size_t i = 0;
    while (i <= text.size()) {
        size_t j = text.find('/', i);
        if (j == std::string_view::npos) j = text.size();
        parts.emplace_back(text.substr(i, j - i));
        i = j + 1;
    }
    if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
        return Error("platform `" + std::string(text) + "`: expected OS/ARCH[/VARIANT], e.g. linux/amd64", EINVAL);
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) p.variant = parts[2];
    return p;
}

std::string Platform::str() const {
    std::string s = os + "/" + architecture;
    if (!variant.empty()) s += "/" + variant;
    return s;
}

} // namespace corral::image
