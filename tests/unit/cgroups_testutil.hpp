// cgroups_testutil.hpp — fake cgroupfs trees in a temp dir for the cgroup
// unit tests: plain directories and files, so every knob write lands in a
// file we can read back, and a recorder of the order of writes.
#pragma once

#include "cgroups/manager.hpp"
#include "common/fs.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace corral::cgroups::testing {

class TempDir {
public:
    // tmpfs when there is one: these trees are many tiny files, and on the
    // VMs' ext4 creating and removing them waits on the journal.
    TempDir() {
        char shm[] = "/dev/shm/corral-cgroups-XXXXXX";
        char tmp[] = "/tmp/corral-cgroups-XXXXXX";
        if (::mkdtemp(shm)) {
            path_ = shm;
        } else if (::mkdtemp(tmp)) {
            path_ = tmp;
        } else {
            std::abort();
        }
    }
    ~TempDir() { (void)remove_tree(path_); }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }

private:
    std::string path_;
};

// Create a file (and its directory) holding CONTENT.
inline void put(const std::string &path, std::string_view content = {}) {
    auto slash = path.find_last_of('/');
    ASSERT_TRUE(mkdir_p(path.substr(0, slash)));
    ASSERT_TRUE(write_file_atomic(path, content, 0644));
}

inline std::string get(const std::string &path) {
    auto r = read_file(path);
    if (!r) return "<" + r.error().message() + ">";
    return *r;
}

// Every successful write, in order, as "path-relative-to-root=value".
struct WriteLog {
    std::string root;
    std::vector<std::string> writes;

    WriteObserver observer() {
        return [this](const std::string &path, std::string_view value) {
            std::string p = path.compare(0, root.size(), root) == 0 ? path.substr(root.size()) : path;
            writes.push_back(p + "=" + std::string(value));
        };
    }
    // The writes to paths ending in SUFFIX.
    std::vector<std::string> to(std::string_view suffix) const {
        std::vector<std::string> out;
        for (const auto &w : writes) {
            auto eq = w.find('=');
            std::string_view p(w.data(), eq);
            if (p.size() >= suffix.size() && p.substr(p.size() - suffix.size()) == suffix) out.push_back(w);
        }
        return out;
    }
};

// A v1 host: one directory per hierarchy, each with cgroup.procs, and the
// container's cgroup INNER pre-created with the knobs the kernel would make.
inline void make_v1_hierarchy_root(const std::string &root) {
    for (const char *h : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"})
        put(root + "/" + h + "/cgroup.procs");
    put(root + "/cpuset/cpuset.cpus", "0-3\n");
    put(root + "/cpuset/cpuset.mems", "0\n");
}

inline void make_v1_cgroup(const std::string &root, const std::string &inner) {
    auto in = [&](const char *h, const char *file, std::string_view content = {}) {
        put(root + "/" + h + inner + "/" + file, content);
    };
    for (const char *h : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"})
        in(h, "cgroup.procs");
    for (const char *f : {"cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.cfs_burst_us",
                          "cpu.rt_period_us", "cpu.rt_runtime_us", "cpu.idle"})
        in("cpu", f);
    in("cpu", "cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 12345\n");
    in("cpuacct", "cpuacct.usage", "5000000\n");
    in("cpuacct", "cpuacct.stat", "user 2\nsystem 1\n");
    in("cpuset", "cpuset.cpus", "\n");
    in("cpuset", "cpuset.mems", "\n");
    // Parents have the knobs too (empty here: someone created them without filling them).
    for (std::string dir = inner.substr(0, inner.find_last_of('/')); !dir.empty();
         dir = dir.substr(0, dir.find_last_of('/'))) {
        put(root + "/cpuset" + dir + "/cpuset.cpus", "\n");
        put(root + "/cpuset" + dir + "/cpuset.mems", "\n");
    }
    in("memory", "memory.limit_in_bytes", "9223372036854771712\n");
    in("memory", "memory.memsw.limit_in_bytes", "9223372036854771712\n");
    for (const char *f : {"memory.soft_limit_in_bytes", "memory.kmem.limit_in_bytes", "memory.kmem.tcp.limit_in_bytes",
                          "memory.swappiness", "memory.use_hierarchy"})
        in("memory", f);
    in("memory", "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    in("memory", "memory.usage_in_bytes", "4096\n");
    in("memory", "memory.max_usage_in_bytes", "8192\n");
    in("memory", "memory.failcnt", "1\n");
    in("memory", "memory.memsw.usage_in_bytes", "4096\n");
    in("memory", "memory.stat", "cache 100\nrss 200\ntotal_cache 100\n");
    in("pids", "pids.max", "max\n");
    in("pids", "pids.current", "1\n");
    for (const char *f : {"devices.allow", "devices.deny"}) in("devices", f);
    in("devices", "devices.list", "a *:* rwm\n");
    in("freezer", "freezer.state", "THAWED\n");
    for (const char *f : {"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                          "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"})
        in("blkio", f);
}

// A v2 host: the unified root with its controllers, and the container's
// cgroup INNER (and its parents) pre-created with knobs.
inline void make_v2_tree(const std::string &root, const std::string &inner,
                         std::string_view controllers = "cpuset cpu io memory hugetlb pids rdma misc") {
    put(root + "/cgroup.controllers", std::string(controllers) + "\n");
    put(root + "/cgroup.subtree_control");
    put(root + "/cgroup.procs");
    std::string dir = root;
    size_t pos = 1;
    while (pos <= inner.size()) {
        size_t next = inner.find('/', pos);
        if (next == std::string::npos) next = inner.size();
        dir = root + inner.substr(0, next);
        put(dir + "/cgroup.controllers", std::string(controllers) + "\n");
        put(dir + "/cgroup.subtree_control");
        put(dir + "/cgroup.procs");
        pos = next + 1;
    }
    for (const char *f : {"cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle", "cpuset.cpus", "cpuset.mems",
                          "memory.max", "memory.low", "memory.swap.max", "memory.oom.group", "memory.high",
                          "pids.max", "io.weight", "io.max", "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "rdma.max",
                          "cgroup.freeze"})
        put(dir + "/" + f);
    put(dir + "/cpu.max", "max 100000\n");
    put(dir + "/cpu.stat", "usage_usec 7\nuser_usec 5\nsystem_usec 2\nnr_periods 4\nnr_throttled 1\nthrottled_usec 9\n");
    put(dir + "/memory.current", "1000\n");
    put(dir + "/memory.max", "max\n");
    put(dir + "/memory.peak", "3000\n");
    put(dir + "/memory.stat", "anon 600\nfile 300\n");
    put(dir + "/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
    put(dir + "/memory.swap.current", "10\n");
    put(dir + "/memory.swap.max", "max\n");
    put(dir + "/pids.current", "2\n");
    put(dir + "/pids.max", "max\n");
    put(dir + "/cgroup.events", "populated 1\nfrozen 1\n");
}

inline spec::DeviceRule dev_rule(bool allow, const char *type, std::optional<int64_t> major,
                                 std::optional<int64_t> minor, const char *access) {
    spec::DeviceRule r;
    r.allow = allow;
    r.type = type;
    r.major = major;
    r.minor = minor;
    r.access = access;
    return r;
}

} // namespace corral::cgroups::testing
