// util.hpp — what the v1 and v2 backends share: knob I/O with errors that
// name the file and the value, parsing of cgroupfs file formats, path
// resolution, and cgroup removal. Internal to src/cgroups/.
#pragma once

#include "cgroups/manager.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace corral::cgroups::detail {

// How a backend writes knobs: every write goes through here so that errors
// are uniform ("write `max` to `/sys/fs/cgroup/pids/x/pids.max`: Invalid
// argument") and the test/tracing observer sees each successful write.
struct Knobs {
    const Logger *logger = nullptr;
    WriteObserver on_write;

    Status write(const std::string &dir, std::string_view file, std::string_view value) const;
    void warn(std::string_view msg) const;
};

// Read a knob and strip the trailing newline.
Result<std::string> read_knob(const std::string &dir, std::string_view file);
// A knob holding one unsigned number; "max" reads as UINT64_MAX.
Result<uint64_t> read_knob_uint(const std::string &dir, std::string_view file);
// Parse an unsigned decimal; "max" is UINT64_MAX. nullopt if malformed.
std::optional<uint64_t> parse_uint(std::string_view s);
// In a "key value\n" file (memory.stat, cpu.stat, memory.events, ...) the
// value of `key`; nullopt if missing or malformed.
std::optional<uint64_t> find_key(std::string_view content, std::string_view key);

std::string join(const std::string &dir, std::string_view name);
bool file_exists(const std::string &path);

// Write a pid to DIR/cgroup.procs. EINVAL can mean the task is still being
// created (TASK_NEW), so it is retried a few times, as runc does.
Status write_pid(const Knobs &knobs, const std::string &dir, pid_t pid);

// All pids in DIR/cgroup.procs and in the cgroup.procs of every descendant.
Result<std::vector<pid_t>> read_pids_recursive(const std::string &dir);

// rmdir each of DIRS and their child cgroups (deepest first). Missing is
// fine; EBUSY (tasks still exiting) is retried, for all of them together,
// with growing sleeps for well under a second. The first failure is returned
// after every directory has been tried.
Status remove_cgroups(const std::vector<std::string> &dirs);

// runc's CleanPath for cgroupsPath: absolute paths are cleaned lexically;
// relative ones are cleaned without letting ".." climb above their start.
// Returns "" for a relative path that cleans to nothing.
std::string clean_cgroup_path(std::string_view p);

// /proc/self/cgroup as (controllers, path) per line: ("cpu,cpuacct", "/a"),
// ("name=systemd", "/"), ("", "/x") for the v2 line "0::/x".
Result<std::vector<std::pair<std::string, std::string>>> read_proc_cgroup(const std::string &file);
// The path of the line whose controller list holds `controller` ("" for v2).
std::optional<std::string> own_cgroup_of(const std::vector<std::pair<std::string, std::string>> &lines,
                                         std::string_view controller);

// The inner cgroup path (absolute "/a/b" or relative "a/b") from the options,
// following runc: empty cgroupsPath → the container id, relative.
Result<std::string> inner_path(const Options &options);

// rdma_raw entry {"hcaHandles": N, "hcaObjects": M} → "hca_handle=N hca_object=M".
Result<std::string> rdma_limit_line(std::string_view device, std::string_view raw_json);

std::string to_dec(int64_t v);
std::string to_udec(uint64_t v);

// pids and hugetlb, whose files are the same under v1 and v2
// (pids_hugetlb.cpp). LIMIT_FILE names hugetlb's limit: "limit_in_bytes"
// (v1) or "max" (v2).
Status set_pids(const Knobs &k, const std::string &dir, const spec::Pids &pids);
void stat_pids(const std::string &dir, Stats &s);
Status check_hugetlb(const std::string &dir, const std::vector<spec::HugepageLimit> &limits,
                     std::string_view limit_file);
Status set_hugetlb(const Knobs &k, const std::string &dir, const std::vector<spec::HugepageLimit> &limits,
                   std::string_view limit_file);

} // namespace corral::cgroups::detail
