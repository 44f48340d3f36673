// properties.hpp — unit properties for a container's scope: the ones every
// scope gets (Delegate, Slice, PIDs...) and linux.resources in systemd's
// terms. Plain data, so the conversions are unit-tested without a bus;
// bus.cpp marshals them.
//
// Why the limits go to systemd at all, when the v1/v2 backends write them to
// the cgroup files anyway (and do, right after): systemd owns the cgroup.
// On a daemon-reload or any property change it writes *its* idea of the
// limits back into the files; a limit it was never told about would be
// reset. runc's systemd managers do the same: properties first, then the
// files.
#pragma once

#include "cgroups/manager.hpp"
#include "cgroups/systemd/unit_path.hpp"

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <variant>
#include <vector>

namespace corral::cgroups::systemd {

// systemd's "infinity" for the uint64 limits.
inline constexpr uint64_t kInfinity = UINT64_MAX;

using DeviceAllowList = std::vector<std::pair<std::string, std::string>>; // (node, "rwm")

struct Property {
    using Value = std::variant<bool, uint64_t, std::string, std::vector<uint32_t>, std::vector<uint8_t>,
                               std::vector<std::string>, DeviceAllowList>;
    std::string name;
    Value value; // D-Bus b, t, s, au, ay, as, a(ss)
};

// What StartTransientUnit gets besides the limits. PID (> 0) is placed in a
// scope; a slice takes no processes (PID ignored).
std::vector<Property> unit_properties(const UnitPath &unit, const std::string &description, pid_t pid, Mode mode);

// linux.resources as properties. MODE picks the v1 names (MemoryLimit,
// CPUShares, BlockIOWeight) or the v2 ones (MemoryMax, CPUWeight...).
// cpuset (AllowedCPUs/AllowedMemoryNodes) is given on v2 only: systemd has
// no cpuset support on v1, the fs backend writes it there.
// Device rules become DevicePolicy/DeviceAllow on v1 only (device_properties).
// On v2 systemd leaves the fs backend's eBPF program alone (it attaches its
// own only for a unit with a device policy), and a second, systemd-made
// program would only add a translation that can differ from ours.
Result<std::vector<Property>> resource_properties(Mode mode, const spec::Resources &resources);

// Device rules (linux.resources.devices plus the defaults) for systemd on
// cgroup v1, where systemd writes the devices files itself whenever it
// (re)applies a unit's settings: a unit without a device policy gets "a" in
// devices.allow there, which would undo the container's rules. An allow-list
// (default deny) becomes DevicePolicy=strict with a DeviceAllow per
// exception: "/dev/char/M:m" (systemd parses those without a node), a
// whole major by its driver name from /proc/devices ("char-pts"), any char
// device as "char-*". A deny-list (default allow) cannot be said in
// systemd's terms: nothing is set, as runc does, and the fs backend's files
// hold the denials until systemd rewrites them. PROC_DEVICES is
// /proc/devices's text.
Result<std::vector<Property>> device_properties(const std::vector<spec::DeviceRule> &rules,
                                                std::string_view proc_devices);

// "0-3,8" → the little-endian bitmask systemd's AllowedCPUs takes
// (bit N of byte N/8). Errors name the list.
Result<std::vector<uint8_t>> cpu_list_to_mask(std::string_view list);

// linux.resources.cpu quota/period → CPUQuotaPerSecUSec: the quota per
// second of CPU time, rounded up to systemd's 10 ms (1%) granularity;
// infinity when quota is not positive.
uint64_t cpu_quota_per_sec_usec(int64_t quota, uint64_t period);

} // namespace corral::cgroups::systemd
