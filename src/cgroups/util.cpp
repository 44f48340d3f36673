#include "cgroups/util.hpp"

#include "common/fs.hpp"

#include <cerrno>
#include <charconv>
#include <chrono>
#include <dirent.h>
#include <fcntl.h>
#include <limits>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace corral::cgroups::detail {

Status Knobs::write(const std::string &dir, std::string_view file, std::string_view value) const {
    std::string path = join(dir, file);
    CORRAL_TRY(write_file(path, value));
    if (on_write) on_write(path, value);
    return ok();
}

void Knobs::warn(std::string_view msg) const {
    if (logger) logger->warn(msg);
}

std::string join(const std::string &dir, std::string_view name) {
    std::string p;
    p.reserve(dir.size() + 1 + name.size());
    p += dir;
    p += '/';
    p += name;
    return p;
}

bool file_exists(const std::string &path) { return ::access(path.c_str(), F_OK) == 0; }

Result<std::string> read_knob(const std::string &dir, std::string_view file) {
    std::string s = CORRAL_TRY(read_file(join(dir, file)));
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::optional<uint64_t> parse_uint(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    if (s == "max") return std::numeric_limits<uint64_t>::max();
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

Result<uint64_t> read_knob_uint(const std::string &dir, std::string_view file) {
    std::string s = CORRAL_TRY(read_knob(dir, file));
    auto v = parse_uint(s);
    if (!v) return Error("parse `" + join(dir, file) + "`: not a number: `" + s + "`");
    return *v;
}

std::optional<uint64_t> find_key(std::string_view content, std::string_view key) {
    size_t pos = 0;
    while (pos < content.size()) {
        size_t eol = content.find('\n', pos);
        if (eol == std::string_view::npos) eol = content.size();
        std::string_view line = content.substr(pos, eol - pos);
        if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ')
            return parse_uint(line.substr(key.size() + 1));
        pos = eol + 1;
    }
    return std::nullopt;
}

Status write_pid(const Knobs &knobs, const std::string &dir, pid_t pid) {
    std::string value = std::to_string(pid);
    for (int attempt = 0;; ++attempt) {
        auto st = knobs.write(dir, "cgroup.procs", value);
        if (st || st.error().err() != EINVAL || attempt == 4) return st;
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
}

namespace {

Status read_procs_into(const std::string &dir, std::vector<pid_t> &out) {
    std::string s = CORRAL_TRY(read_file(join(dir, "cgroup.procs")));
    std::string_view v = s;
    size_t pos = 0;
    while (pos < v.size()) {
        size_t eol = v.find('\n', pos);
        if (eol == std::string_view::npos) eol = v.size();
        if (eol > pos) {
            pid_t pid = 0;
            auto [p, ec] = std::from_chars(v.data() + pos, v.data() + eol, pid);
            if (ec == std::errc() && p == v.data() + eol) out.push_back(pid);
        }
        pos = eol + 1;
    }
    return ok();
}

// Names of the subdirectories of DIR (child cgroups).
std::vector<std::string> child_dirs(const std::string &dir) {
    std::vector<std::string> out;
    DIR *d = ::opendir(dir.c_str());
    if (!d) return out;
    while (dirent *e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n == "." || n == "..") continue;
        if (e->d_type == DT_DIR) {
            out.emplace_back(n);
        } else if (e->d_type == DT_UNKNOWN) {
            struct stat st {};
            if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                out.emplace_back(n);
        }
    }
    ::closedir(d);
    return out;
}

Status collect_pids(const std::string &dir, std::vector<pid_t> &out) {
    CORRAL_TRY(read_procs_into(dir, out));
    for (const auto &child : child_dirs(dir)) CORRAL_TRY(collect_pids(join(dir, child), out));
    return ok();
}

// One pass: children first, then DIR itself. Returns the errno of the first
// failure (0 when DIR is gone).
int rmdir_tree_once(const std::string &dir) {
    int first_err = 0;
    for (const auto &child : child_dirs(dir)) {
        int e = rmdir_tree_once(join(dir, child));
        if (e && !first_err) first_err = e;
    }
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return 0;
    return first_err ? first_err : errno;
}

} // namespace

Result<std::vector<pid_t>> read_pids_recursive(const std::string &dir) {
    std::vector<pid_t> out;
    CORRAL_TRY(collect_pids(dir, out));
    return out;
}

Status remove_cgroups(const std::vector<std::string> &dirs) {
    using clock = std::chrono::steady_clock;
    auto deadline = clock::now() + std::chrono::milliseconds(1000);
    auto delay = std::chrono::milliseconds(10);
    std::vector<std::string> left = dirs;
    Status failed;
    for (;;) {
        std::vector<std::string> busy;
        for (const auto &dir : left) {
            int err = rmdir_tree_once(dir);
            if (err == EBUSY) {
                busy.push_back(dir);
            } else if (err != 0 && failed) {
                // EPERM, EROFS...: will not get better by waiting.
                failed = Error::from_errno(err, "remove cgroup", dir);
            }
        }
        if (busy.empty()) return failed;
        if (clock::now() + delay > deadline)
            return failed ? Error::from_errno(EBUSY, "remove cgroup", busy.front()) : std::move(failed);
        std::this_thread::sleep_for(delay);
        delay *= 2;
        left = std::move(busy);
    }
}

std::string clean_cgroup_path(std::string_view p) {
    if (p.empty()) return {};
    if (p.front() == '/') return clean_path(p);
    // Relative: clean as if rooted at "/", then drop the leading "/" — so
    // "../../x" cannot climb out of the caller's cgroup (runc's CleanPath).
    std::string c = clean_path(std::string("/") + std::string(p));
    return c == "/" ? std::string() : c.substr(1);
}

Result<std::vector<std::pair<std::string, std::string>>> read_proc_cgroup(const std::string &file) {
    std::string s = CORRAL_TRY(read_file(file));
    std::vector<std::pair<std::string, std::string>> out;
    std::string_view v = s;
    size_t pos = 0;
    while (pos < v.size()) {
        size_t eol = v.find('\n', pos);
        if (eol == std::string_view::npos) eol = v.size();
        std::string_view line = v.substr(pos, eol - pos);
        pos = eol + 1;
        if (line.empty()) continue;
        size_t c1 = line.find(':');
        size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
        if (c2 == std::string_view::npos) return Error("parse `" + file + "`: bad line `" + std::string(line) + "`");
        out.emplace_back(std::string(line.substr(c1 + 1, c2 - c1 - 1)), std::string(line.substr(c2 + 1)));
    }
    return out;
}

std::optional<std::string> own_cgroup_of(const std::vector<std::pair<std::string, std::string>> &lines,
                                         std::string_view controller) {
    for (const auto &[ctrls, path] : lines) {
        if (controller.empty()) {
            if (ctrls.empty()) return path;
            continue;
        }
        std::string_view list = ctrls;
        size_t pos = 0;
        while (pos <= list.size()) {
            size_t comma = list.find(',', pos);
            if (comma == std::string_view::npos) comma = list.size();
            if (list.substr(pos, comma - pos) == controller) return path;
            pos = comma + 1;
        }
    }
    return std::nullopt;
}

Result<std::string> inner_path(const Options &options) {
    std::string inner;
    if (!options.cgroups_path.empty()) {
        inner = clean_cgroup_path(options.cgroups_path);
        if (inner.empty() || inner == "/")
            return Error("cgroupsPath `" + options.cgroups_path + "` names the caller's or the root cgroup");
    } else {
        if (options.container_id.empty()) return Error("no cgroupsPath and no container id to derive one from");
        inner = clean_cgroup_path(options.container_id);
        if (inner.empty() || inner.find('/') != std::string::npos)
            return Error("container id `" + options.container_id + "` cannot name a cgroup");
    }
    return inner;
}

namespace {
std::optional<uint64_t> json_number_field(std::string_view json, std::string_view key) {
    std::string quoted = "\"" + std::string(key) + "\"";
    size_t k = json.find(quoted);
    if (k == std::string_view::npos) return std::nullopt;
    size_t i = k + quoted.size();
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == ':')) ++i;
    size_t j = i;
    while (j < json.size() && json[j] >= '0' && json[j] <= '9') ++j;
    if (j == i) return std::nullopt;
    return parse_uint(json.substr(i, j - i));
}
} // namespace

Result<std::string> rdma_limit_line(std::string_view device, std::string_view raw_json) {
    auto handles = json_number_field(raw_json, "hcaHandles");
    auto objects = json_number_field(raw_json, "hcaObjects");
    if (!handles && !objects)
        return Error("linux.resources.rdma." + std::string(device) + ": neither hcaHandles nor hcaObjects is set");
    std::string line(device);
    if (handles) line += " hca_handle=" + to_udec(*handles);
    if (objects) line += " hca_object=" + to_udec(*objects);
    return line;
}

std::string to_dec(int64_t v) { return std::to_string(v); }
std::string to_udec(uint64_t v) { return std::to_string(v); }

} // namespace corral::cgroups::detail
