// state.cpp — the per-container state directory (see state.hpp for the layout).
//
// Locking: every command that changes a container holds an exclusive POSIX
// record lock on <dir>/lock for its whole run. The directory appears only
// once its lock file exists and is locked (built under a temporary name,
// then renamed into place), so "no lock file" means "not ours or going away".
// A waiter may get the lock only after the holder removed the directory
// (delete, failed create); it then finds the directory dead (no state.json
// can be looked up in it) and reports "container does not exist", exactly as
// if it had come a moment later.
#include "runtime/state.hpp"

#include "common/fs.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <cstdlib>
#include <linux/fs.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

namespace corral {
namespace {

constexpr const char *kStateFile = "state.json";
constexpr const char *kExecFifo = "exec.fifo";
constexpr const char *kLockFile = "lock";
const std::string kNewPrefix = ".new-";
constexpr const char *kNotExist = "container does not exist";

using ordered_json = nlohmann::ordered_json;

bool is_id_char(unsigned char c) {
    // \w in Go's RE2 is ASCII only: [0-9A-Za-z_]; plus runc's '+', '-', '.'.
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '+' || c == '-' || c == '.';
}

Result<ContainerStatus> status_from_string(std::string_view s) {
    if (s == "creating") return ContainerStatus::creating;
    if (s == "created") return ContainerStatus::created;
    if (s == "running") return ContainerStatus::running;
    if (s == "paused") return ContainerStatus::paused;
    if (s == "stopped") return ContainerStatus::stopped;
    return Error("unknown status `" + std::string(s) + "`");
}

const char *status_name(ContainerStatus s) {
    switch (s) {
    case ContainerStatus::creating: return "creating";
    case ContainerStatus::created: return "created";
    case ContainerStatus::running: return "running";
    case ContainerStatus::paused: return "paused";
    case ContainerStatus::stopped: return "stopped";
    }
    return "stopped";
}

const char *mode_name(cgroups::Mode m) {
    switch (m) {
    case cgroups::Mode::v1: return "v1";
    case cgroups::Mode::v2: return "v2";
    case cgroups::Mode::disabled: return "disabled";
    }
    return "disabled";
}

Result<cgroups::Mode> mode_from_string(std::string_view s) {
    if (s == "v1") return cgroups::Mode::v1;
    if (s == "v2") return cgroups::Mode::v2;
    if (s == "disabled") return cgroups::Mode::disabled;
    return Error("unknown cgroup mode `" + std::string(s) + "`");
}

// Fields 3 (state) and 22 (starttime) of /proc/PID/stat. The command name
// (field 2) may hold spaces and parentheses, so parse from the last ')'.
bool read_proc_stat(pid_t pid, char *state, unsigned long long *start_time) {
    if (pid <= 0) return false;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    auto text = read_file(path);
    if (!text) return false;
    const std::string &s = *text;
    auto close = s.rfind(')');
    if (close == std::string::npos || close + 2 >= s.size()) return false;
    const char *p = s.c_str() + close + 2; // field 3
    *state = *p;
    // Skip fields 3..21 to reach 22.
    for (int field = 3; field < 22; ++field) {
        p = std::strchr(p, ' ');
        if (!p) return false;
        ++p;
    }
    char *end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(p, &end, 10);
    if (errno || end == p) return false;
    *start_time = v;
    return true;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    return s;
}

// The freezer is read straight from the paths state.json recorded rather
// than through a cgroups::Manager: it is one small read, and `state`/`list`
// call it for every container.
bool cgroup_frozen(const StateRecord &rec) {
    for (const auto &[controller, path] : rec.cgroup_paths) {
        if (rec.cgroup_mode == cgroups::Mode::v1 && controller == "freezer") {
            auto st = read_file(path_join(path, "freezer.state"));
            if (st && trim(*st) == "FROZEN") return true;
        } else if (rec.cgroup_mode == cgroups::Mode::v2 && (controller.empty() || controller == "unified")) {
            auto st = read_file(path_join(path, "cgroup.freeze"));
            if (st && trim(*st) == "1") return true;
        }
    }
    return false;
}

ContainerStatus live_status_impl(const StateRecord &rec, bool fifo_exists) {
    char pstate = 0;
    unsigned long long start = 0;
    if (!read_proc_stat(rec.oci.pid, &pstate, &start)) return ContainerStatus::stopped;
    // A different start time means the pid now names another process.
    if (rec.init_start_time != 0 && start != rec.init_start_time) return ContainerStatus::stopped;
    if (pstate == 'Z' || pstate == 'X' || pstate == 'x') return ContainerStatus::stopped;
    // runc checks the freezer before the fifo: a frozen created container is "paused".
    if (cgroup_frozen(rec)) return ContainerStatus::paused;
    if (fifo_exists) return ContainerStatus::created;
    if (rec.oci.status == ContainerStatus::creating) return ContainerStatus::creating;
    return ContainerStatus::running;
}

// Whether another process holds the record lock (F_GETLK: asks, never waits).
bool lock_held(const std::string &lock_path) {
    int raw = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (raw < 0) return false;
    UniqueFd fd(raw);
    struct flock l {};
    l.l_type = F_WRLCK;
    l.l_whence = SEEK_SET;
    return ::fcntl(fd.get(), F_GETLK, &l) == 0 && l.l_type != F_UNLCK;
}

// Take the exclusive record lock on an open lock file, waiting for it.
Status lock_exclusive(int fd, const std::string &path) {
    struct flock l {};
    l.l_type = F_WRLCK;
    l.l_whence = SEEK_SET; // l_start = l_len = 0: the whole file
    while (::fcntl(fd, F_SETLKW, &l) < 0) {
        if (errno == EINTR) continue;
        return Error::from_errno(errno, "lock", path);
    }
    return ok();
}

// Open <dir>/lock and wait for its lock. ENOENT: the directory is not (or no
// longer) a container's.
Result<UniqueFd> open_and_lock(int dirfd, const std::string &dir_path) {
    int raw = ::openat(dirfd, kLockFile, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    std::string lock_path = path_join(dir_path, kLockFile);
    if (raw < 0) return Error::from_errno(errno, "open", lock_path);
    UniqueFd fd(raw);
    CORRAL_TRY(lock_exclusive(fd.get(), lock_path));
    return fd;
}

int rename_noreplace(const std::string &from, const std::string &to) {
    return static_cast<int>(
        ::syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE));
}

} // namespace

Status validate_container_id(const std::string &id) {
    bool valid = !id.empty() && id != "." && id != ".." &&
                 std::all_of(id.begin(), id.end(), [](char c) { return is_id_char(static_cast<unsigned char>(c)); });
    if (!valid) return Error("invalid container ID format: " + id, EINVAL);
    return ok();
}

Result<StateDir> StateDir::create(const std::string &root, const std::string &id) {
    CORRAL_TRY(validate_container_id(id));
    CORRAL_TRY_CTX(mkdir_p(root, 0700), "create state root");
    std::string path = path_join(root, id);
    auto exists = [&] { return Error("container with given ID already exists: " + id, EEXIST, path); };
    if (::access(path.c_str(), F_OK) == 0) return exists();

    // Build it under a temporary name with its lock file locked, then publish
    // it with one rename: nobody ever sees the directory unlocked.
    // The id in the temporary name lets `delete` find one that a create
    // killed right here left behind (remove_abandoned_new_dirs).
    std::string tmp = path_join(root, kNewPrefix + id + "-XXXXXX");
    if (!::mkdtemp(tmp.data())) return Error::from_errno(errno, "mkdtemp", tmp);
    auto fail = [&](Error e) {
        (void)remove_tree(tmp);
        return e;
    };
    if (::chmod(tmp.c_str(), 0711) < 0) return fail(Error::from_errno(errno, "chmod", tmp));
    auto dir = open_file(tmp, O_RDONLY | O_DIRECTORY);
    if (!dir) return fail(std::move(dir).error());
    int raw = ::openat(dir->get(), kLockFile, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (raw < 0) return fail(Error::from_errno(errno, "create", path_join(tmp, kLockFile)));
    UniqueFd lock(raw);
    if (auto st = lock_exclusive(lock.get(), path_join(tmp, kLockFile)); !st) return fail(std::move(st).error());
    if (rename_noreplace(tmp, path) < 0) {
        if (errno == EEXIST || errno == ENOTEMPTY) return fail(exists());
        return fail(Error::from_errno(errno, "rename `" + tmp + "` to", path));
    }
    return StateDir(std::move(path), std::move(*dir), std::move(lock));
}

Result<StateDir> StateDir::open(const std::string &root, const std::string &id) {
    CORRAL_TRY(validate_container_id(id));
    std::string path = path_join(root, id);
    int raw = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (raw < 0) {
        if (errno == ENOENT) return Error(kNotExist, ENOENT, path);
        return Error::from_errno(errno, "open", path);
    }
    UniqueFd dir(raw);
    auto lock = open_and_lock(dir.get(), path);
    if (!lock) {
        if (lock.error().err() == ENOENT) return Error(kNotExist, ENOENT, path);
        return std::move(lock).error();
    }
    // After the wait the directory may be gone (deleted, or a failed create
    // cleaned up): a lookup in a removed directory fails with ENOENT.
    if (::faccessat(dir.get(), kStateFile, F_OK, 0) < 0) {
        if (errno == ENOENT) return Error(kNotExist, ENOENT, path);
        return Error::from_errno(errno, "access", path_join(path, kStateFile));
    }
    return StateDir(std::move(path), std::move(dir), std::move(*lock));
}

void remove_abandoned_new_dirs(const std::string &root, const std::string &id) {
    if (!validate_container_id(id)) return;
    int raw = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (raw < 0) return;
    DIR *d = ::fdopendir(raw);
    if (!d) {
        ::close(raw);
        return;
    }
    const std::string prefix = kNewPrefix + id + "-";
    std::vector<std::string> abandoned;
    while (dirent *e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0) continue;
        // Its create is gone if nobody holds the lock (or it never made one).
        int lock = ::openat(dirfd(d), (name + "/" + kLockFile).c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (lock >= 0) {
            UniqueFd fd(lock);
            struct flock l {};
            l.l_type = F_WRLCK;
            l.l_whence = SEEK_SET;
            if (::fcntl(fd.get(), F_SETLK, &l) < 0) continue; // a create in progress
        }
        abandoned.push_back(path_join(root, name));
    }
    ::closedir(d);
    for (const auto &path : abandoned) (void)remove_tree(path);
}

void remove_stale_state_dir(const std::string &root, const std::string &id) {
    if (!validate_container_id(id)) return;
    std::string path = path_join(root, id);
    int raw = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (raw < 0) return;
    UniqueFd dir(raw);
    // With a lock file, wait for its holder (a create in progress finishes
    // with state.json or removes the directory itself). Without one it was
    // never a published container directory of ours, or is half removed.
    auto lock = open_and_lock(dir.get(), path);
    if (!lock && lock.error().err() != ENOENT) return;
    if (::faccessat(dir.get(), kStateFile, F_OK, 0) == 0 || errno != ENOENT) return;
    struct stat st {};
    if (::fstat(dir.get(), &st) < 0 || st.st_nlink == 0) return; // already removed
    (void)remove_tree(path);
}

Status StateDir::write(const StateRecord &rec) {
    return write_file_atomic(path_join(path_, kStateFile), state_record_to_json(rec), 0600)
        .context("write container state");
}

Result<StateRecord> StateDir::read() const {
    std::string file = path_join(path_, kStateFile);
    auto text = read_file(file);
    if (!text) {
        if (text.error().err() == ENOENT) return Error(kNotExist, ENOENT, path_);
        return std::move(text).error();
    }
    return state_record_from_json(*text, file);
}

Status StateDir::remove() {
    auto st = remove_tree(path_);
    lock_.reset(); // waiters get the lock now and find the directory gone
    return st;
}

Result<StateRecord> read_state_unlocked(const std::string &root, const std::string &id) {
    CORRAL_TRY(validate_container_id(id));
    std::string file = path_join(path_join(root, id), kStateFile);
    auto text = read_file(file);
    if (!text) {
        if (text.error().err() == ENOENT) return Error(kNotExist, ENOENT, file);
        return std::move(text).error();
    }
    return state_record_from_json(*text, file);
}

Result<std::vector<std::string>> list_container_ids(const std::string &root) {
    std::vector<std::string> ids;
    int raw = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (raw < 0) {
        if (errno == ENOENT) return ids; // nothing created yet
        return Error::from_errno(errno, "open", root);
    }
    DIR *d = ::fdopendir(raw);
    if (!d) {
        int e = errno;
        ::close(raw);
        return Error::from_errno(e, "opendir", root);
    }
    while (dirent *e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
        if (!validate_container_id(name)) continue;
        std::string file = name + "/" + kStateFile;
        if (::faccessat(dirfd(d), file.c_str(), F_OK, 0) == 0) ids.push_back(std::move(name));
    }
    ::closedir(d);
    std::sort(ids.begin(), ids.end());
    return ids;
}

// A record still saying "creating" was written by a create that holds the
// lock until it finishes. Once nobody holds it, that create was killed half
// way: the container never came to be, and it is "stopped" (delete removes
// what it left: remove() in ops.cpp).
ContainerStatus live_status(const StateDir &dir, const StateRecord &rec) {
    if (rec.oci.status == ContainerStatus::creating) return ContainerStatus::stopped; // we hold the lock
    bool fifo = ::faccessat(dir.fd(), kExecFifo, F_OK, 0) == 0;
    return live_status_impl(rec, fifo);
}

ContainerStatus live_status(const std::string &state_dir, const StateRecord &rec) {
    if (rec.oci.status == ContainerStatus::creating)
        return lock_held(path_join(state_dir, kLockFile)) ? ContainerStatus::creating : ContainerStatus::stopped;
    bool fifo = ::access(path_join(state_dir, kExecFifo).c_str(), F_OK) == 0;
    return live_status_impl(rec, fifo);
}

unsigned long long process_start_time(pid_t pid) {
    char state = 0;
    unsigned long long start = 0;
    if (!read_proc_stat(pid, &state, &start)) return 0;
    return start;
}

std::string now_rfc3339_nano() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return format_rfc3339_nano(ts);
}

std::string format_rfc3339_nano(const timespec &ts) {
    tm t{};
    gmtime_r(&ts.tv_sec, &t);
    char buf[64];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
    std::string out(buf, n);
    if (ts.tv_nsec > 0) {
        char frac[32];
        snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
        std::string f = frac;
        while (f.back() == '0') f.pop_back();
        out += f;
    }
    out += 'Z';
    return out;
}

void append_go_json_string(std::string &out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    auto u_escape = [&](unsigned code) {
        out += "\\u";
        out += hex[(code >> 12) & 0xf];
        out += hex[(code >> 8) & 0xf];
        out += hex[(code >> 4) & 0xf];
        out += hex[code & 0xf];
    };
    out += '"';
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '<': case '>': case '&': u_escape(c); break;
            default:
                if (c < 0x20) u_escape(c);
                else out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        // Decode one UTF-8 sequence; Go writes invalid bytes as U+FFFD.
        size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
        unsigned code = len == 4 ? c & 0x07 : len == 3 ? c & 0x0f : c & 0x1f;
        bool valid = len != 0 && i + len <= s.size();
        for (size_t k = 1; valid && k < len; ++k) {
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80) valid = false;
            code = (code << 6) | (cc & 0x3f);
        }
        if (valid) {
            // Reject overlong forms, surrogates and values past U+10FFFF.
            if ((len == 2 && code < 0x80) || (len == 3 && code < 0x800) || (len == 4 && code < 0x10000) ||
                (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff)
                valid = false;
        }
        if (!valid) {
            out += "\\ufffd";
            ++i;
            continue;
        }
        if (code == 0x2028 || code == 0x2029) u_escape(code);
        else out.append(s.substr(i, len));
        i += len;
    }
    out += '"';
}

std::string state_record_to_json(const StateRecord &rec) {
    ordered_json j;
    j["ociVersion"] = rec.oci.oci_version;
    j["id"] = rec.oci.id;
    j["status"] = status_name(rec.oci.status);
    j["pid"] = rec.oci.pid;
    j["bundle"] = rec.oci.bundle;
    j["rootfs"] = rec.oci.rootfs;
    j["created"] = rec.oci.created;
    j["annotations"] = ordered_json::object();
    for (const auto &[k, v] : rec.oci.annotations) j["annotations"][k] = v;
    j["owner"] = rec.oci.owner;
    j["initStartTime"] = rec.init_start_time;
    j["cgroupMode"] = mode_name(rec.cgroup_mode);
    j["cgroupsPath"] = rec.cgroups_path;
    // Arrays of [key, value]: order is kept and keys need not be unique.
    j["cgroupPaths"] = ordered_json::array();
    for (const auto &[k, v] : rec.cgroup_paths) j["cgroupPaths"].push_back({k, v});
    j["namespacePaths"] = ordered_json::array();
    for (const auto &[k, v] : rec.namespace_paths) j["namespacePaths"].push_back({k, v});
    j["createdByRun"] = rec.created_by_run;
    // Invalid UTF-8 (from a bundle path, say) is replaced rather than thrown on.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<StateRecord> state_record_from_json(std::string_view text, const std::string &source) {
    try {
        auto j = ordered_json::parse(text);
        if (!j.is_object()) return Error(source + ": expected a JSON object");
        StateRecord rec;
        auto str = [&](const char *key) { return j.contains(key) ? j.at(key).get<std::string>() : std::string(); };
        rec.oci.oci_version = str("ociVersion");
        rec.oci.id = str("id");
        if (j.contains("status")) {
            auto s = status_from_string(j.at("status").get<std::string>());
            if (!s) return std::move(s).error().context(source + ": status");
            rec.oci.status = *s;
        }
        rec.oci.pid = j.value("pid", 0);
        rec.oci.bundle = str("bundle");
        rec.oci.rootfs = str("rootfs");
        rec.oci.created = str("created");
        if (j.contains("annotations"))
            for (const auto &[k, v] : j.at("annotations").items()) rec.oci.annotations[k] = v.get<std::string>();
        rec.oci.owner = str("owner");
        rec.init_start_time = j.value("initStartTime", 0ULL);
        if (j.contains("cgroupMode")) {
            auto m = mode_from_string(j.at("cgroupMode").get<std::string>());
            if (!m) return std::move(m).error().context(source + ": cgroupMode");
            rec.cgroup_mode = *m;
        }
        rec.cgroups_path = str("cgroupsPath");
        auto pairs = [&](const char *key, std::vector<std::pair<std::string, std::string>> &out) {
            if (!j.contains(key)) return;
            for (const auto &p : j.at(key)) out.emplace_back(p.at(0).get<std::string>(), p.at(1).get<std::string>());
        };
        pairs("cgroupPaths", rec.cgroup_paths);
        pairs("namespacePaths", rec.namespace_paths);
        rec.created_by_run = j.value("createdByRun", false);
        if (rec.oci.id.empty()) return Error(source + ": missing `id`");
        return rec;
    } catch (const nlohmann::json::exception &e) {
        return Error(source + ": " + e.what());
    }
}

} // namespace corral
