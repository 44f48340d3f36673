// image.cpp — the public operations of corral/image.hpp, over the source
// reader (source.cpp), the layer unpacker (layer.cpp), the store (store.cpp)
// and the rootfs builders (rootfs.cpp).
#include "corral/image.hpp"

#include "common/fs.hpp"
#include "image/fsutil.hpp"
#include "image/layer.hpp"
#include "image/registry.hpp"
#include "image/rootfs.hpp"
#include "image/runtime_config.hpp"
#include "image/sha256.hpp"
#include "image/source.hpp"
#include "image/store.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <set>
#include <climits>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <map>
#include <mutex>
#include <thread>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace corral::image {

using json = nlohmann::json;

namespace {

constexpr const char *kBundleDir = ".corral";          // BUNDLE/.corral/{upper,work,image.json}
constexpr const char *kBundleRecord = ".corral/image.json";

std::string absolute(const std::string &p) {
    if (!p.empty() && p[0] == '/') return clean_path(p);
    char cwd[PATH_MAX];
    if (!::getcwd(cwd, sizeof cwd)) return p;
    return clean_path(path_join(cwd, p));
}

std::string now_rfc3339() {
    char buf[32];
    time_t t = ::time(nullptr);
    struct tm tm {};
    ::gmtime_r(&t, &tm);
    ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// "dir/busybox.oci.tar" -> "busybox"
std::string stem(const std::string &path) {
    std::string base = split_parent(clean_path(absolute(path))).second;
    for (const char *ext : {".tar", ".oci", ".docker"})
        if (base.size() > std::strlen(ext) && base.compare(base.size() - std::strlen(ext), std::string::npos, ext) == 0)
            base.resize(base.size() - std::strlen(ext));
    return base;
}

struct Prepared {
    ResolvedImage img;
    std::unique_ptr<SourceFiles> files; // null: the image comes from the store
    std::string source_path;
};

Result<Prepared> prepare(const Context &ctx, const Store &store, const std::string &source, const Options &opts) {
    Prepared p;
    if (auto ref = parse_source_ref(source)) {
        p.source_path = ref->path;
        ctx.log.debug("image source " + ref->path + (ref->sel.tag.empty() ? "" : " tag " + ref->sel.tag) +
                      (ref->sel.digest.empty() ? "" : " digest " + ref->sel.digest));
        p.files = CORRAL_TRY(open_source_files(ref->path, store.tmp()));
        p.img = CORRAL_TRY_CTX(resolve_image(*p.files, ref->sel, opts.platform), "image `" + source + "`");
        return p;
    }
    auto found = store.find_image(source);
    if (!found) {
        if (found.error().err() == ENOENT)
            return Error("no image `" + source + "`: not a layout or archive path, and not in the store " + store.root(),
                         ENOENT);
        return std::move(found).error();
    }
    p.img = std::move(*found);
    return p;
}

struct Chain {
    std::vector<std::string> dirs; // layer trees, bottom first
    size_t unpacked = 0, reused = 0;
};

// Removes staged layer directories unless committed.
struct Staged {
    std::vector<std::pair<std::string, std::string>> dirs; // diff_id, tmp dir
    ~Staged() {
        for (auto &[d, dir] : dirs) (void)remove_tree(dir);
    }
};

uint64_t stored_layer_size(const Store &store, const std::string &diff_id) {
    auto text = read_file(store.layer_dir(diff_id) + "/layer.json");
    if (!text) return 0;
    json j = json::parse(*text, nullptr, false);
    return j.is_object() ? j.value("apparent_bytes", uint64_t(0)) : 0;
}

// One layer to unpack into the store's tmp/.
struct Job {
    size_t index = 0;       // in the image's layers
    std::string what, tmp;  // for messages; STORE/tmp/layer-...
    LayerStats stats;
    Status result;
};

// Every layer of `p.img` in the store: unpack the missing ones into the
// store's tmp/, all of them, then rename them into layers/ (so a failure
// leaves nothing in the store). Up to `opts.jobs` layers unpack at once (each
// has its own directory; from a registry each also downloads as it
// unpacks); the attributes of the parents a layer leaves out are taken from
// the layers below afterwards, bottom up, when those are complete.
Result<Chain> ensure_layers(const Context &ctx, const Store &store, const Prepared &p, const Options &opts,
                            unsigned default_jobs = 1) {
    const auto &layers = p.img.layers;
    Chain chain;
    chain.dirs.resize(layers.size());
    std::atomic<uint64_t> size_used{0};
    Progress progress;
    std::map<std::string, size_t> first_of; // diff_id -> job
    std::vector<Job> jobs;
    std::vector<ptrdiff_t> job_of(layers.size(), -1);
    for (size_t i = 0; i < layers.size(); ++i) {
        const LayerRef &l = layers[i];
        if (store.has_layer(l.diff_id)) {
            size_used += stored_layer_size(store, l.diff_id);
            chain.dirs[i] = store.layer_fs(l.diff_id);
            ++chain.reused;
            continue;
        }
        if (auto it = first_of.find(l.diff_id); it != first_of.end()) {
            job_of[i] = static_cast<ptrdiff_t>(it->second);
            continue;
        }
        Job j;
        j.index = i;
        j.what = "layer " + std::to_string(i + 1) + "/" + std::to_string(layers.size()) + " (" +
                 (l.digest.empty() ? l.path : l.digest) + ")";
        if (!p.files)
            return Error(j.what + ": diff_id " + l.diff_id + " is missing from the store: import the image again", ENOENT);
        first_of[l.diff_id] = jobs.size();
        job_of[i] = static_cast<ptrdiff_t>(jobs.size());
        jobs.push_back(std::move(j));
        progress.layers++;
        progress.total += l.size;
    }
    UniqueFd free_fd = CORRAL_TRY(open_file(store.tmp(), O_RDONLY | O_DIRECTORY));
    ApplyLimits limits{opts.max_size, &size_used, opts.min_free, free_fd.get()};
    Staged staged;
    for (auto &j : jobs) {
        const LayerRef &l = layers[j.index];
        j.tmp = store.tmp() + "/layer-" + digest_hex(l.diff_id).substr(0, 12) + "-" + unique_name();
        if (::mkdir(j.tmp.c_str(), 0700) < 0) return Error::from_errno(errno, "mkdir", j.tmp);
        staged.dirs.emplace_back(l.diff_id, j.tmp);
        if (::mkdir((j.tmp + "/fs").c_str(), 0755) < 0) return Error::from_errno(errno, "mkdir", j.tmp + "/fs");
    }

    std::mutex mu; // progress, and the next job
    std::atomic<bool> failed{false};
    size_t next = 0, started = 0;
    auto work = [&] {
        for (;;) {
            Job *j;
            size_t number;
            {
                std::lock_guard lk(mu);
                if (next >= jobs.size() || failed) return;
                j = &jobs[next++];
                number = ++started;
            }
            const LayerRef &l = layers[j->index];
            j->result = [&]() -> Status {
                UniqueFd fs = CORRAL_TRY(open_file(j->tmp + "/fs", O_RDONLY | O_DIRECTORY));
                ctx.log.debug("unpack " + j->what + " into " + j->tmp);
                BlobRange blob = CORRAL_TRY_CTX(p.files->find(l.path), j->what);
                LayerInput in{blob, l.digest, l.size, l.diff_id, j->what};
                uint64_t mine = 0;
                auto on_bytes = [&](uint64_t n) {
                    std::lock_guard lk(mu);
                    mine += n;
                    progress.bytes += n;
                    progress.layer = number;
                    progress.digest = l.digest;
                    progress.layer_bytes = mine;
                    progress.layer_size = l.size;
                    progress.layer_done = false;
                    if (opts.progress) opts.progress(progress);
                };
                j->stats = CORRAL_TRY(apply_layer(fs.get(), in, limits, ctx.log, on_bytes));
                std::lock_guard lk(mu);
                progress.layer = number;
                progress.digest = l.digest;
                progress.layer_bytes = progress.layer_size = l.size;
                progress.layer_done = true;
                if (opts.progress) opts.progress(progress);
                return ok();
            }();
            if (!j->result) failed = true;
        }
    };
    unsigned want = opts.jobs ? opts.jobs : default_jobs;
    unsigned n_threads = std::max(1u, std::min<unsigned>(want, static_cast<unsigned>(jobs.size())));
    if (n_threads <= 1) {
        work();
    } else {
        std::vector<std::thread> threads;
        for (unsigned t = 0; t < n_threads; ++t) threads.emplace_back(work);
        for (auto &t : threads) t.join();
    }
    for (auto &j : jobs)
        if (!j.result) return std::move(j.result).error(); // the first failing layer, in image order
    for (auto &j : jobs)
        if (j.index >= layers.size()) return Error("internal: job without layer", EINVAL);

    // Bottom up: parents a layer left out take the attributes from below.
    for (size_t i = 0; i < layers.size(); ++i) {
        if (job_of[i] < 0) continue;
        Job &j = jobs[static_cast<size_t>(job_of[i])];
        if (j.index != i) {
            chain.dirs[i] = jobs[static_cast<size_t>(job_of[i])].tmp + "/fs";
            continue;
        }
        const LayerRef &l = layers[i];
        UniqueFd fs = CORRAL_TRY(open_file(j.tmp + "/fs", O_RDONLY | O_DIRECTORY));
        std::vector<std::string> lowers(chain.dirs.rend() - static_cast<long>(i), chain.dirs.rend());
        CORRAL_TRY_CTX(inherit_implicit_dirs(fs.get(), j.stats.implicit_dirs, lowers), j.what);
        json meta = {{"diff_id", l.diff_id}, {"digest", l.digest},        {"media_type", l.media_type},
                     {"size", l.size},       {"entries", j.stats.entries}, {"files", j.stats.files},
                     {"apparent_bytes", j.stats.apparent_bytes}, {"written_bytes", j.stats.written_bytes},
                     {"created", now_rfc3339()}};
        CORRAL_TRY(write_file_atomic(j.tmp + "/layer.json", meta.dump(1, '\t') + "\n", 0600));
        chain.dirs[i] = j.tmp + "/fs";
        ++chain.unpacked;
    }
    progress.done = true;
    progress.layer_done = false;
    progress.digest.clear();
    if (opts.progress && progress.layers) opts.progress(progress);

    // Commit: complete, verified layers only.
    for (auto &[diff_id, tmp] : staged.dirs) {
        std::string dest = store.layer_dir(diff_id);
        if (::rename(tmp.c_str(), dest.c_str()) == 0) {
            tmp.clear();
            continue;
        }
        if (errno != EEXIST && errno != ENOTEMPTY) return Error::from_errno(errno, "move layer into the store", dest);
        // Another unpack stored the same layer meanwhile: ours goes.
    }
    for (auto it = staged.dirs.begin(); it != staged.dirs.end();)
        it = it->second.empty() ? staged.dirs.erase(it) : it + 1;
    for (size_t i = 0; i < layers.size(); ++i) chain.dirs[i] = store.layer_fs(layers[i].diff_id);
    return chain;
}

ImageInfo info_of(const ResolvedImage &img, const Store *store) {
    ImageInfo info;
    info.digest = img.digest;
    info.names = img.names;
    info.config_digest = img.config_digest;
    info.config_json = img.config_json;
    info.platform = img.platform;
    json cfg = json::parse(img.config_json, nullptr, false);
    if (cfg.is_object() && cfg.contains("created") && cfg["created"].is_string()) info.created = cfg["created"];
    for (auto &l : img.layers) {
        info.layers.push_back({l.digest, l.diff_id, l.media_type, l.size, store && store->has_layer(l.diff_id)});
        info.size += l.size;
    }
    return info;
}

// --- bundles --------------------------------------------------------------------

// Undo steps of a bundle being made, run in reverse unless dismissed.
class Undo {
public:
    ~Undo() {
        for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
    }
    void add(std::function<void()> f) { steps_.push_back(std::move(f)); }
    void dismiss() { steps_.clear(); }

private:
    std::vector<std::function<void()>> steps_;
};

std::string ref_id(const std::string &bundle) { return sha256_digest(bundle).substr(7, 32); }

Result<bool> dir_is_empty(const std::string &path) {
    DIR *d = ::opendir(path.c_str());
    if (!d) return Error::from_errno(errno, "open", path);
    bool empty = true;
    while (dirent *e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") {
            empty = false;
            break;
        }
    }
    ::closedir(d);
    return empty;
}

bool is_overlay_mounted(const std::string &path) {
    struct statfs sfs {};
    return ::statfs(path.c_str(), &sfs) == 0 && sfs.f_type == OVERLAYFS_SUPER_MAGIC;
}

Result<BundleInfo> make_bundle(const Context &ctx, const Store &store, const ResolvedImage &img, const Chain &chain,
                               const std::string &bundle, const Options &opts) {
    Undo undo;
    struct stat st {};
    if (::stat(bundle.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return Error("bundle `" + bundle + "` exists and is not a directory", EEXIST);
        if (!CORRAL_TRY(dir_is_empty(bundle))) return Error("bundle `" + bundle + "` exists and is not empty", EEXIST);
    } else {
        CORRAL_TRY(mkdir_p(split_parent(bundle).first.empty() ? "/" : split_parent(bundle).first, 0755));
        if (::mkdir(bundle.c_str(), 0755) < 0) return Error::from_errno(errno, "mkdir", bundle);
        undo.add([bundle] { ::rmdir(bundle.c_str()); });
    }
    const std::string rootfs = bundle + "/rootfs", meta = bundle + "/" + kBundleDir;
    const std::string upper = meta + "/upper", work = meta + "/work";
    if (::mkdir(rootfs.c_str(), 0755) < 0) return Error::from_errno(errno, "mkdir", rootfs);
    undo.add([rootfs] { (void)remove_tree(rootfs); });
    if (::mkdir(meta.c_str(), 0700) < 0) return Error::from_errno(errno, "mkdir", meta);
    undo.add([meta] { (void)remove_tree(meta); });

    bool overlay = false;
    if (!opts.copy && !chain.dirs.empty()) {
        if (::mkdir(upper.c_str(), 0755) < 0) return Error::from_errno(errno, "mkdir", upper);
        if (::mkdir(work.c_str(), 0700) < 0) return Error::from_errno(errno, "mkdir", work);
        // The merged root shows the upper directory's attributes.
        CORRAL_TRY(copy_dir_attrs(chain.dirs.back(), upper));
        std::vector<std::string> lowers(chain.dirs.rbegin(), chain.dirs.rend());
        auto st2 = mount_overlay(lowers, upper, work, rootfs);
        if (st2) {
            overlay = true;
            undo.add([rootfs] { ::umount2(rootfs.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW); });
        } else if (overlay_unavailable(st2.error().err())) {
            ctx.log.warn("overlayfs unavailable (" + st2.error().message() + "): copying the layers instead");
            (void)remove_tree(upper);
            (void)remove_tree(work);
        } else {
            return std::move(st2).error();
        }
    }
    if (!overlay) CORRAL_TRY_CTX(copy_layers(chain.dirs, rootfs, ctx.log), "bundle `" + bundle + "`");
    ctx.log.debug(std::string("bundle rootfs: ") + (overlay ? "overlay of " : "copy of ") +
                  std::to_string(chain.dirs.size()) + " layers");

    UniqueFd rootfs_fd = CORRAL_TRY(open_file(rootfs, O_RDONLY | O_DIRECTORY));
    std::string config = CORRAL_TRY(runtime_config(img, rootfs_fd.get(), ctx.log));
    std::string config_path = bundle + "/config.json";
    CORRAL_TRY(write_file_atomic(config_path, config, 0644));
    undo.add([config_path] { ::unlink(config_path.c_str()); });

    std::string id = ref_id(bundle);
    json layers = json::array();
    for (auto &l : img.layers) layers.push_back(l.diff_id);
    json record = {{"store", store.root()}, {"ref", id},          {"bundle", bundle},
                   {"image", img.digest},   {"names", img.names}, {"layers", layers},
                   {"overlay", overlay},    {"created", now_rfc3339()}};
    CORRAL_TRY(write_file_atomic(bundle + "/" + kBundleRecord, record.dump(1, '\t') + "\n", 0600));
    std::string ref_path = store.refs_dir() + "/" + id + ".json";
    CORRAL_TRY(write_file_atomic(ref_path, record.dump(1, '\t') + "\n", 0600));

    undo.dismiss();
    BundleInfo info;
    info.bundle = bundle;
    info.image_digest = img.digest;
    info.overlay = overlay;
    info.layers_unpacked = chain.unpacked;
    info.layers_reused = chain.reused;
    return info;
}

struct BundleRecord {
    std::string store, ref, bundle, image;
    std::vector<std::string> layers;
    bool overlay = false;
};

Result<BundleRecord> read_bundle_record(const std::string &bundle) {
    std::string path = bundle + "/" + kBundleRecord;
    auto text = read_file(path);
    if (!text) {
        if (text.error().err() == ENOENT)
            return Error("`" + bundle + "` is not a bundle made by `corral image unpack` (no " + kBundleRecord + ")", ENOENT);
        return std::move(text).error();
    }
    json j = json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Error(path + ": not valid JSON", EINVAL);
    BundleRecord r;
    r.store = j.value("store", "");
    r.ref = j.value("ref", "");
    r.bundle = j.value("bundle", "");
    r.image = j.value("image", "");
    r.layers = j.value("layers", std::vector<std::string>{});
    r.overlay = j.value("overlay", false);
    return r;
}

Status unmount_rootfs(const std::string &rootfs) {
    if (!is_overlay_mounted(rootfs)) return ok();
    if (::umount2(rootfs.c_str(), UMOUNT_NOFOLLOW) < 0) {
        if (errno == EBUSY) return Error("unmount `" + rootfs + "`: in use (a container still runs from it?)", EBUSY, rootfs);
        if (errno != EINVAL) return Error::from_errno(errno, "unmount", rootfs);
    }
    return ok();
}

// Keep `img` in the store under `names`: the names it already has stay, a
// name another image had moves to this one.
Result<ImageInfo> keep_image(const Store &store, ResolvedImage img, std::vector<std::string> names) {
    auto existing = CORRAL_TRY(store.images());
    for (auto &other : existing) {
        if (other.digest == img.digest) {
            for (auto &n : other.names)
                if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
            continue;
        }
        bool changed = false;
        for (auto &n : names) {
            auto it = std::find(other.names.begin(), other.names.end(), n);
            if (it != other.names.end()) other.names.erase(it), changed = true;
        }
        if (changed) CORRAL_TRY(store.save_image(other));
    }
    img.names = names;
    for (auto &l : img.layers) l.path.clear();
    CORRAL_TRY(store.save_image(img));
    return info_of(img, &store);
}

} // namespace

Result<BundleInfo> unpack(const Context &ctx, const std::string &source, const std::string &bundle_path,
                          const Options &opts) {
    std::string bundle = absolute(bundle_path);
    Store store = CORRAL_TRY(Store::open(opts.store));
    UniqueFd lock = CORRAL_TRY(store.lock(false));
    Prepared p = CORRAL_TRY(prepare(ctx, store, source, opts));
    Chain chain = CORRAL_TRY(ensure_layers(ctx, store, p, opts));
    return make_bundle(ctx, store, p.img, chain, bundle, opts);
}

Result<ImageInfo> import_image(const Context &ctx, const std::string &source, const std::string &name,
                               const Options &opts) {
    Store store = CORRAL_TRY(Store::open(opts.store));
    UniqueFd lock = CORRAL_TRY(store.lock(false));
    Prepared p = CORRAL_TRY(prepare(ctx, store, source, opts));
    CORRAL_TRY(ensure_layers(ctx, store, p, opts));
    ResolvedImage img = p.img;
    std::vector<std::string> names;
    if (!name.empty()) {
        names.push_back(name);
    } else if (!p.source_path.empty()) {
        for (auto &t : img.names)
            names.push_back(t.find_first_of(":/") != std::string::npos ? t : stem(p.source_path) + ":" + t);
    }
    return keep_image(store, std::move(img), std::move(names));
}

Result<ImageInfo> pull(const Context &ctx, const std::string &text, const Options &opts, const RegistryOptions &ropts) {
    Reference ref = CORRAL_TRY_CTX(parse_reference(text), "pull");
    std::string what = "pull " + ref.str();
    Store store = CORRAL_TRY(Store::open(opts.store));
    UniqueFd lock = CORRAL_TRY(store.lock(false));
    auto session = CORRAL_TRY_CTX(open_session(ctx, ref, ropts, "pull"), what);
    Prepared p;
    p.files = CORRAL_TRY_CTX(open_registry_files(session, ref), what);
    p.source_path = ref.str();
    Selector sel;
    sel.tag = ref.tag;
    p.img = CORRAL_TRY_CTX(resolve_image(*p.files, sel, opts.platform), what);
    CORRAL_TRY_CTX(ensure_layers(ctx, store, p, opts, 3), what);
    return keep_image(store, std::move(p.img), {ref.str()});
}

Result<ImageInfo> inspect(const Context &ctx, const std::string &source, const Options &opts) {
    Store store = CORRAL_TRY(Store::open(opts.store));
    UniqueFd lock = CORRAL_TRY(store.lock(false)); // a compressed archive spools into tmp/: keep gc out
    Prepared p = CORRAL_TRY(prepare(ctx, store, source, opts));
    return info_of(p.img, &store);
}

Result<std::vector<ImageInfo>> list(const Context &, const Options &opts) {
    Store store = CORRAL_TRY(Store::open(opts.store));
    std::vector<ImageInfo> out;
    for (auto &img : CORRAL_TRY(store.images())) out.push_back(info_of(img, &store));
    return out;
}

Status remove(const Context &ctx, const std::string &ref, const Options &opts) {
    Store store = CORRAL_TRY(Store::open(opts.store));
    UniqueFd lock = CORRAL_TRY(store.lock(true));
    ResolvedImage img = CORRAL_TRY(store.find_image(ref));
    std::string with_tag = ref.find(':') == std::string::npos ? ref + ":latest" : ref;
    auto it = std::find(img.names.begin(), img.names.end(), ref);
    if (it == img.names.end()) it = std::find(img.names.begin(), img.names.end(), with_tag);
    if (it != img.names.end()) {
        img.names.erase(it);
        if (!img.names.empty()) {
            ctx.log.debug("untag " + ref);
            return store.save_image(img);
        }
    }
    ctx.log.debug("remove image " + img.digest);
    return store.delete_image(img.digest);
}

Result<GcReport> gc(const Context &ctx, const Options &opts) {
    Store store = CORRAL_TRY(Store::open(opts.store));
    UniqueFd lock = CORRAL_TRY(store.lock(true));
    GcReport report;
    std::set<std::string> live;
    for (auto &img : CORRAL_TRY(store.images()))
        for (auto &l : img.layers) live.insert(digest_hex(l.diff_id));

    auto list_dir = [](const std::string &dir) {
        std::vector<std::string> names;
        if (DIR *d = ::opendir(dir.c_str())) {
            while (dirent *e = ::readdir(d)) {
                std::string_view n = e->d_name;
                if (n != "." && n != "..") names.emplace_back(n);
            }
            ::closedir(d);
        }
        return names;
    };
    // A ref is live while its bundle still names it.
    for (auto &name : list_dir(store.refs_dir())) {
        std::string path = store.refs_dir() + "/" + name;
        auto text = read_file(path);
        json j = text ? json::parse(*text, nullptr, false) : json();
        bool alive = false;
        if (j.is_object()) {
            auto rec = read_bundle_record(j.value("bundle", ""));
            alive = rec && rec->ref == j.value("ref", "") && rec->store == store.root();
            if (alive)
                for (auto &l : rec->layers) live.insert(digest_hex(l));
        }
        if (!alive) {
            ctx.log.debug("gc: stale ref " + name);
            ::unlink(path.c_str());
            ++report.stale_refs;
        }
    }
    for (auto &hex : list_dir(store.root() + "/layers")) {
        if (live.count(hex)) continue;
        std::string dir = store.root() + "/layers/" + hex;
        // Out of layers/ first: a removal cut short never leaves half a layer there.
        std::string doomed = store.tmp() + "/gc-" + hex.substr(0, 12) + "-" + unique_name();
        if (::rename(dir.c_str(), doomed.c_str()) < 0) return Error::from_errno(errno, "move aside", dir);
        if (auto fd = open_file(doomed, O_RDONLY | O_DIRECTORY)) report.bytes_freed += disk_usage(fd->get());
        CORRAL_TRY(remove_tree(doomed));
        ctx.log.debug("gc: removed layer sha256:" + hex);
        ++report.layers_removed;
    }
    for (auto &name : list_dir(store.tmp())) {
        if (name.rfind("gc-", 0) != 0) ++report.temp_removed;
        CORRAL_TRY(remove_tree(store.tmp() + "/" + name));
    }
    return report;
}

Status mount_bundle(const Context &ctx, const std::string &bundle_path) {
    std::string bundle = absolute(bundle_path);
    BundleRecord rec = CORRAL_TRY(read_bundle_record(bundle));
    if (!rec.overlay) return ok(); // a copy needs no mount
    std::string rootfs = bundle + "/rootfs";
    if (is_overlay_mounted(rootfs)) return ok();
    Store store = CORRAL_TRY(Store::open(rec.store));
    UniqueFd lock = CORRAL_TRY(store.lock(false));
    std::vector<std::string> lowers;
    for (auto it = rec.layers.rbegin(); it != rec.layers.rend(); ++it) {
        if (!store.has_layer(*it))
            return Error("bundle `" + bundle + "`: layer " + *it + " is no longer in the store " + store.root(), ENOENT);
        lowers.push_back(store.layer_fs(*it));
    }
    ctx.log.debug("mount overlay of " + std::to_string(lowers.size()) + " layers at " + rootfs);
    return mount_overlay(lowers, bundle + "/" + kBundleDir + "/upper", bundle + "/" + kBundleDir + "/work", rootfs);
}

Status unmount_bundle(const Context &, const std::string &bundle_path) {
    std::string bundle = absolute(bundle_path);
    CORRAL_TRY(read_bundle_record(bundle));
    return unmount_rootfs(bundle + "/rootfs");
}

Status remove_bundle(const Context &ctx, const std::string &bundle_path) {
    std::string bundle = absolute(bundle_path);
    BundleRecord rec = CORRAL_TRY(read_bundle_record(bundle));
    CORRAL_TRY(unmount_rootfs(bundle + "/rootfs"));
    CORRAL_TRY(remove_tree(bundle + "/rootfs"));
    std::string config = bundle + "/config.json";
    if (::unlink(config.c_str()) < 0 && errno != ENOENT) return Error::from_errno(errno, "remove", config);
    CORRAL_TRY(remove_tree(bundle + "/" + kBundleDir));
    if (::rmdir(bundle.c_str()) < 0 && errno != ENOTEMPTY && errno != EEXIST)
        ctx.log.debug("keep bundle directory " + bundle + ": " + std::strerror(errno));
    if (!rec.store.empty() && !rec.ref.empty()) {
        std::string ref = rec.store + "/refs/" + rec.ref + ".json";
        if (::unlink(ref.c_str()) < 0 && errno != ENOENT) return Error::from_errno(errno, "remove", ref);
    }
    return ok();
}

} // namespace corral::image
