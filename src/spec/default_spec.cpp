// default_spec.cpp — the config.json `corral spec` writes: the same document
// as runc 1.1's `runc spec` (and `runc spec --rootless`), member for member
// and in the same order, tab-indented, but with our ociVersion.
#include "corral/spec.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

namespace corral::spec {

std::string default_spec_json(bool rootless) {
    using ojson = nlohmann::ordered_json; // keeps runc's member order
    const ojson caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};

    ojson process = {
        {"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"ambient", caps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true},
    };

    ojson devpts_options = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"};
    // An unprivileged user cannot map gid 5 (tty), so rootless drops it.
    if (!rootless) devpts_options.push_back("gid=5");
    // A new sysfs needs a network namespace owned by our user namespace;
    // rootless bind-mounts the host's /sys instead (read-only).
    ojson sys = rootless
                    ? ojson{{"destination", "/sys"}, {"type", "none"}, {"source", "/sys"},
                            {"options", {"rbind", "nosuid", "noexec", "nodev", "ro"}}}
                    : ojson{{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
                            {"options", {"nosuid", "noexec", "nodev", "ro"}}};
    ojson mounts = {
        {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"}, {"options", devpts_options}},
        {{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"},
         {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
        {{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"},
         {"options", {"nosuid", "noexec", "nodev"}}},
        sys,
        {{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"},
         {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}},
    };

    ojson linux = ojson::object();
    if (rootless) {
        // Map root in the container to the user running `corral spec`, as
        // runc does.
        linux["uidMappings"] = {{{"containerID", 0}, {"hostID", geteuid()}, {"size", 1}}};
        linux["gidMappings"] = {{{"containerID", 0}, {"hostID", getegid()}, {"size", 1}}};
        // No device cgroup rules (an unprivileged user cannot set them) and
        // no network namespace (there would be no network), but a user one.
        linux["namespaces"] = {{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                               {{"type", "mount"}}, {{"type", "user"}}};
    } else {
        linux["resources"] = {{"devices", {{{"allow", false}, {"access", "rwm"}}}}};
        linux["namespaces"] = {{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}},
                               {{"type", "uts"}}, {{"type", "mount"}}};
    }
    linux["maskedPaths"] = {"/proc/acpi",         "/proc/asound",     "/proc/kcore",
                            "/proc/keys",         "/proc/latency_stats", "/proc/timer_list",
                            "/proc/timer_stats",  "/proc/sched_debug", "/sys/firmware",
                            "/proc/scsi"};
    linux["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};

    ojson spec = {
        {"ociVersion", kOciVersion},
        {"process", std::move(process)},
        {"root", {{"path", "rootfs"}, {"readonly", true}}},
        {"hostname", "runc"},
        {"mounts", std::move(mounts)},
        {"linux", std::move(linux)},
    };
    return spec.dump(1, '\t'); // runc: tab indent, no trailing newline
}

} // namespace corral::spec
