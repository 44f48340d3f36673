#include "image/store.hpp"

#include "common/fs.hpp"
#include "image/fsutil.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace corral::image {

using json = nlohmann::json;

std::string digest_hex(const std::string &digest) {
    auto colon = digest.find(':');
    return colon == std::string::npos ? digest : digest.substr(colon + 1);
}

Result<Store> Store::open(const std::string &root) {
    if (root.empty() || root[0] != '/') return Error("store `" + root + "`: must be an absolute path", EINVAL);
    for (const char *sub : {"", "/layers", "/images", "/refs", "/tmp"})
        CORRAL_TRY_CTX(mkdir_p(root + sub, 0700), "open image store");
    Store s;
    s.root_ = clean_path(root);
    s.root_fd_ = CORRAL_TRY(open_file(s.root_, O_RDONLY | O_DIRECTORY));
    return s;
}

Result<UniqueFd> Store::lock(bool exclusive) const {
    UniqueFd fd = CORRAL_TRY(open_file(root_ + "/lock", O_RDWR | O_CREAT, 0600));
    int r;
    do r = ::flock(fd.get(), exclusive ? LOCK_EX : LOCK_SH);
    while (r < 0 && errno == EINTR);
    if (r < 0) return Error::from_errno(errno, "lock image store", root_);
    return fd;
}

std::string Store::layer_dir(const std::string &diff_id) const { return root_ + "/layers/" + digest_hex(diff_id); }
std::string Store::layer_fs(const std::string &diff_id) const { return layer_dir(diff_id) + "/fs"; }

bool Store::has_layer(const std::string &diff_id) const {
    struct stat st {};
    return ::stat((layer_dir(diff_id) + "/layer.json").c_str(), &st) == 0;
}

std::string image_record_json(const ResolvedImage &img) {
    json j;
    j["digest"] = img.digest;
    j["names"] = img.names;
    j["manifest"] = img.manifest_json;
    j["config_digest"] = img.config_digest;
    j["config"] = img.config_json;
    j["platform"] = {{"os", img.platform.os}, {"architecture", img.platform.architecture}, {"variant", img.platform.variant}};
    j["annotations"] = img.manifest_annotations;
    json layers = json::array();
    for (auto &l : img.layers)
        layers.push_back({{"digest", l.digest}, {"media_type", l.media_type}, {"size", l.size}, {"diff_id", l.diff_id}});
    j["layers"] = layers;
    return j.dump(1, '\t') + "\n";
}

Result<ResolvedImage> parse_image_record(const std::string &text, const std::string &what) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Error(what + ": not valid JSON", EINVAL);
    try {
        ResolvedImage img;
        img.digest = j.at("digest").get<std::string>();
        img.names = j.value("names", std::vector<std::string>{});
        img.manifest_json = j.value("manifest", "");
        img.config_digest = j.at("config_digest").get<std::string>();
        img.config_json = j.at("config").get<std::string>();
        const json &p = j.at("platform");
        img.platform = {p.value("os", ""), p.value("architecture", ""), p.value("variant", "")};
        img.manifest_annotations = j.value("annotations", std::map<std::string, std::string>{});
        for (auto &l : j.at("layers"))
            img.layers.push_back({l.value("digest", ""), l.value("media_type", ""), l.value("size", uint64_t(0)),
                                  l.at("diff_id").get<std::string>(), ""});
        return img;
    } catch (const json::exception &e) {
        return Error(what + ": " + e.what(), EINVAL);
    }
}

Result<std::vector<ResolvedImage>> Store::images() const {
    std::vector<ResolvedImage> out;
    std::string dir = root_ + "/images";
    DIR *d = ::opendir(dir.c_str());
    if (!d) return Error::from_errno(errno, "open", dir);
    std::vector<std::string> names;
    while (dirent *e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n.size() == 69 && n.compare(64, 5, ".json") == 0) names.push_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (auto &n : names) {
        auto text = read_file(dir + "/" + n);
        if (!text) continue; // removed meanwhile
        out.push_back(CORRAL_TRY(parse_image_record(*text, dir + "/" + n)));
    }
    return out;
}

Status Store::save_image(const ResolvedImage &img) const {
    return write_file_atomic(root_ + "/images/" + digest_hex(img.digest) + ".json", image_record_json(img), 0600);
}

Status Store::delete_image(const std::string &digest) const {
    std::string path = root_ + "/images/" + digest_hex(digest) + ".json";
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) return Error::from_errno(errno, "remove", path);
    return ok();
}

Result<ResolvedImage> Store::find_image(const std::string &ref) const {
    auto all = CORRAL_TRY(images());
    std::vector<ResolvedImage *> hits;
    std::string with_tag = ref.find(':') == std::string::npos ? ref + ":latest" : ref;
    for (auto &img : all)
        if (std::find(img.names.begin(), img.names.end(), ref) != img.names.end() ||
            std::find(img.names.begin(), img.names.end(), with_tag) != img.names.end())
            hits.push_back(&img);
    if (hits.empty()) {
        std::string hex = ref.rfind("sha256:", 0) == 0 ? ref.substr(7) : ref;
        bool is_hex = hex.size() >= 6 && hex.find_first_not_of("0123456789abcdef") == std::string::npos;
        if (is_hex)
            for (auto &img : all)
                if (digest_hex(img.digest).rfind(hex, 0) == 0) hits.push_back(&img);
    }
    if (hits.empty()) return Error("no image `" + ref + "` in the store " + root_, ENOENT);
    if (hits.size() > 1) return Error("`" + ref + "` names " + std::to_string(hits.size()) + " images in the store: give more of the digest", EINVAL);
    return std::move(*hits[0]);
}

} // namespace corral::image
