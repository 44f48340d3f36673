// Helpers for the resource-control tests (memory, cpu, pids, update, pause,
// resume, events, ps, exec, cgroup paths): a container's cgroup files read on
// the host in either layout, and the runtime's resource commands.
//
// Layouts: cgroup v2 when /sys/fs/cgroup/cgroup.controllers exists (the VM
// lane, scripts/cgroupv2-vm), else v1 with one hierarchy per controller under
// /sys/fs/cgroup/<controller> (our hosts). A "cgroup path" here is the path
// inside the hierarchy, e.g. the bundle's linux.cgroupsPath "/corral-test/<id>".
#pragma once

#include "integration/harness.hpp"

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace corral_it {

bool cgroup_v2();

// The host path of a cgroup file: /sys/fs/cgroup/<v1_controller><path>/<v1_file>
// on v1, /sys/fs/cgroup<path>/<v2_file> on v2.
std::string cgroup_file(const std::string &cgroup_path, const std::string &v1_controller, const std::string &v1_file,
                        const std::string &v2_file);
// The directories of a cgroup path: one per v1 controller that has it, or the v2 one.
std::vector<std::string> cgroup_dirs_at(const std::string &cgroup_path);

// Limits as the kernel holds them; nullopt if unreadable, -1 for "max"/unlimited.
std::optional<long long> memory_limit_of(const std::string &cgroup_path);
std::optional<long long> pids_limit_of(const std::string &cgroup_path);
// {quota, period} in microseconds; quota -1 when unlimited.
std::optional<std::pair<long long, long long>> cpu_quota_of(const std::string &cgroup_path);
// Cumulative CPU time of the cgroup in nanoseconds (cpuacct.usage / cpu.stat usage_usec).
std::optional<long long> cpu_usage_ns(const std::string &cgroup_path);
// True when the cgroup is frozen (freezer.state FROZEN / cgroup.events frozen 1).
bool cgroup_frozen(const std::string &cgroup_path);

// The cgroup path of `pid` for `controller` (v1: the line naming it; v2: the
// 0:: line), from /proc/PID/cgroup; "" if none.
std::string cgroup_of(pid_t pid, const std::string &controller);
// True when this process sits in the root cgroup of every hierarchy, so that
// a relative or empty cgroupsPath would create cgroups right under the root.
// False on our hosts, where the memory cgroup is the machine's /process_api/...
bool caller_in_root_cgroups(std::string *why_not);

// The first line of `text` that parses as a JSON object with "type" == type.
json find_event(const std::string &text, const std::string &type);
// Number bytes of a "MiB" count, for readability.
constexpr long long MiB = 1024 * 1024;

// A listening AF_UNIX socket for --console-socket; accept_console() takes the
// pty master a runtime passes with SCM_RIGHTS (-1 if none within the timeout).
class ConsoleSocket {
public:
    explicit ConsoleSocket(std::string path);
    ~ConsoleSocket();
    ConsoleSocket(const ConsoleSocket &) = delete;
    ConsoleSocket &operator=(const ConsoleSocket &) = delete;
    bool ok() const { return listener_ >= 0; }
    const std::string &path() const { return path_; }
    int accept_console(milliseconds timeout);  // owned by this object
    // Everything readable from `master` until EIO/EOF or the timeout.
    static std::string drain(int master, milliseconds timeout);

private:
    std::string path_;
    int listener_ = -1;
    std::vector<int> received_;
};

// Fixture for the resource tests: a bundle's cgroup path and the runtime's
// resource commands.
class ResourceTest : public ContainerTest {
protected:
    static std::string cgroup_path(const Bundle &b) { return b.config["linux"].value("cgroupsPath", ""); }
    // A sleeping container with these linux.resources; its init pid, 0 on failure.
    pid_t start_limited(Bundle &b, const json &resources);
    // `exec [flags...] ID args...`
    Result exec(const Bundle &b, const std::vector<std::string> &args, const std::vector<std::string> &flags = {},
                const RunOptions &opts = {});
    // `exec --detach --pid-file F ID /probe sleep inf`; the exec'd pid (0 on failure).
    pid_t exec_sleeper(const Bundle &b);
    // `events --stats ID` parsed; null JSON (and a test failure) if it fails.
    json stats(const Bundle &b);
    std::string status_of(const Bundle &b) { return state(b.id).value("status", ""); }
    bool becomes(const Bundle &b, const std::string &status, milliseconds timeout = milliseconds(5000));
};

}  // namespace corral_it
