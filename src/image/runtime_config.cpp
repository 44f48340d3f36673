#include "image/runtime_config.hpp"

#include "common/fs.hpp"
#include "corral/spec.hpp"
#include "image/fsutil.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sstream>

namespace corral::image {

using ojson = nlohmann::ordered_json;

namespace {

constexpr const char *kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::optional<uint32_t> parse_id(const std::string &s) {
    if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    uint64_t v = std::stoull(s);
    if (v > 0xffffffffu) return std::nullopt;
    return static_cast<uint32_t>(v);
}

std::vector<std::string> split(const std::string &s, char sep) {
    std::vector<std::string> out;
    size_t i = 0;
    for (;;) {
        size_t j = s.find(sep, i);
        out.push_back(s.substr(i, j == std::string::npos ? std::string::npos : j - i));
        if (j == std::string::npos) break;
        i = j + 1;
    }
    return out;
}

struct PasswdEntry {
    std::string name;
    uint32_t uid = 0, gid = 0;
};
struct GroupEntry {
    std::string name;
    uint32_t gid = 0;
    std::vector<std::string> members;
};

std::vector<PasswdEntry> parse_passwd(const std::string &text) {
    std::vector<PasswdEntry> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        auto f = split(line, ':');
        if (f.size() < 4) continue;
        auto uid = parse_id(f[2]), gid = parse_id(f[3]);
        if (!uid || !gid) continue;
        out.push_back({f[0], *uid, *gid});
    }
    return out;
}

std::vector<GroupEntry> parse_group(const std::string &text) {
    std::vector<GroupEntry> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        auto f = split(line, ':');
        if (f.size() < 3) continue;
        auto gid = parse_id(f[2]);
        if (!gid) continue;
        GroupEntry g{f[0], *gid, {}};
        if (f.size() >= 4 && !f[3].empty()) g.members = split(f[3], ',');
        out.push_back(std::move(g));
    }
    return out;
}

// /etc/passwd of the image, "" if it has none.
std::string read_image_file(int rootfs_fd, const char *path, const Logger &log) {
    auto fd = open_in_root(rootfs_fd, path, O_RDONLY);
    if (!fd) return {};
    auto text = read_fd(fd->get());
    if (!text || text->size() > (4u << 20)) {
        log.warn(std::string("image ") + path + ": unreadable, ignored");
        return {};
    }
    return *text;
}

std::string json_str(const ojson &j, const char *key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> json_strings(const ojson &j, const char *key) {
    std::vector<std::string> out;
    auto it = j.find(key);
    if (it == j.end() || !it->is_array()) return out;
    for (auto &v : *it)
        if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
}

std::string joined_keys(const ojson &j, const char *key) {
    std::vector<std::string> keys;
    auto it = j.find(key);
    if (it == j.end() || !it->is_object()) return {};
    for (auto &[k, v] : it->items()) keys.push_back(k);
    std::sort(keys.begin(), keys.end());
    std::string out;
    for (auto &k : keys) out += (out.empty() ? "" : ",") + k;
    return out;
}

} // namespace

Result<UserIds> resolve_user(const std::string &user, const std::string &passwd, const std::string &group) {
    UserIds ids;
    if (user.empty()) return ids;
    auto colon = user.find(':');
    std::string u = user.substr(0, colon);
    std::string g = colon == std::string::npos ? std::string() : user.substr(colon + 1);
    if (u.empty()) return Error("user `" + user + "`: no user before the `:`", EINVAL);
    auto users = parse_passwd(passwd);
    auto groups = parse_group(group);

    const PasswdEntry *pw = nullptr;
    if (auto uid = parse_id(u)) {
        ids.uid = *uid;
        for (auto &e : users)
            if (e.uid == *uid) {
                pw = &e;
                break;
            }
    } else {
        for (auto &e : users)
            if (e.name == u) {
                pw = &e;
                break;
            }
        if (!pw) return Error("user `" + u + "` is not in the image's /etc/passwd", ENOENT);
        ids.uid = pw->uid;
    }
    ids.gid = pw ? pw->gid : 0;
    if (!g.empty()) {
        if (auto gid = parse_id(g)) {
            ids.gid = *gid;
        } else {
            auto it = std::find_if(groups.begin(), groups.end(), [&](auto &e) { return e.name == g; });
            if (it == groups.end()) return Error("group `" + g + "` is not in the image's /etc/group", ENOENT);
            ids.gid = it->gid;
        }
    }
    // Supplementary groups: those listing the user by name (as runc and
    // docker do), unless a group was given explicitly.
    if (pw && g.empty())
        for (auto &e : groups)
            if (e.gid != ids.gid && std::find(e.members.begin(), e.members.end(), pw->name) != e.members.end() &&
                std::find(ids.additional_gids.begin(), ids.additional_gids.end(), e.gid) == ids.additional_gids.end())
                ids.additional_gids.push_back(e.gid);
    return ids;
}

Result<std::string> runtime_config(const ResolvedImage &img, int rootfs_fd, const Logger &log) {
    ojson spec = ojson::parse(spec::default_spec_json(false));
    ojson cfg = ojson::parse(img.config_json, nullptr, false);
    if (cfg.is_discarded() || !cfg.is_object()) return Error("image config " + img.config_digest + ": not valid JSON", EINVAL);
    ojson c = cfg.contains("config") && cfg["config"].is_object() ? cfg["config"] : ojson::object();

    ojson &process = spec["process"];
    process["terminal"] = false;

    std::vector<std::string> args = json_strings(c, "Entrypoint");
    for (auto &a : json_strings(c, "Cmd")) args.push_back(a);
    if (args.empty()) {
        log.warn("image " + img.digest + " has neither Entrypoint nor Cmd: process.args stays `sh`");
    } else {
        process["args"] = args;
    }

    std::vector<std::string> env = json_strings(c, "Env");
    if (std::none_of(env.begin(), env.end(), [](auto &e) { return e.rfind("PATH=", 0) == 0; }))
        env.insert(env.begin(), kDefaultPath);
    process["env"] = env;

    std::string cwd = json_str(c, "WorkingDir");
    process["cwd"] = cwd.empty() ? "/" : (cwd[0] == '/' ? cwd : "/" + cwd);

    std::string user = json_str(c, "User");
    std::string passwd, group;
    if (!user.empty()) {
        passwd = read_image_file(rootfs_fd, "etc/passwd", log);
        group = read_image_file(rootfs_fd, "etc/group", log);
    }
    UserIds ids = CORRAL_TRY_CTX(resolve_user(user, passwd, group), "image " + img.digest);
    process["user"] = {{"uid", ids.uid}, {"gid", ids.gid}};
    if (!ids.additional_gids.empty()) process["user"]["additionalGids"] = ids.additional_gids;

    spec["root"] = {{"path", "rootfs"}, {"readonly", false}};

    ojson annotations = ojson::object();
    for (auto &[k, v] : img.manifest_annotations) annotations[k] = v;
    if (auto labels = c.find("Labels"); labels != c.end() && labels->is_object())
        for (auto &[k, v] : labels->items())
            if (v.is_string()) annotations[k] = v;
    auto put = [&](const char *key, const std::string &v) {
        if (!v.empty()) annotations[key] = v;
    };
    // image-spec conversion.md's annotations.
    put("org.opencontainers.image.os", json_str(cfg, "os"));
    put("org.opencontainers.image.architecture", json_str(cfg, "architecture"));
    put("org.opencontainers.image.variant", json_str(cfg, "variant"));
    put("org.opencontainers.image.os.version", json_str(cfg, "os.version"));
    put("org.opencontainers.image.author", json_str(cfg, "author"));
    put("org.opencontainers.image.created", json_str(cfg, "created"));
    put("org.opencontainers.image.stopSignal", json_str(c, "StopSignal"));
    put("org.opencontainers.image.exposedPorts", joined_keys(c, "ExposedPorts"));
    // Volumes have no key in the spec; ours, so tools can mount something there.
    put("corral.image.volumes", joined_keys(c, "Volumes"));
    put("corral.image.digest", img.digest);
    if (!img.names.empty()) put("org.opencontainers.image.ref.name", img.names.front());
    if (!annotations.empty()) spec["annotations"] = annotations;

    std::string text = spec.dump(1, '\t') + "\n";
    // What we write must be what we run: check it with our own parser.
    auto parsed = spec::parse_spec(text, "config.json");
    if (!parsed) return std::move(parsed).error().context("image " + img.digest + ": generated config.json is invalid");
    CORRAL_TRY_CTX(spec::validate_spec(*parsed, "config.json"), "image " + img.digest + ": generated config.json is invalid");
    return text;
}

} // namespace corral::image
