// unit_path.hpp — linux.cgroupsPath as the systemd driver reads it:
// "slice:prefix:name" → a unit name, the slice it goes in, and the cgroup
// path systemd gives it. Pure string work, unit-tested
// (tests/unit/cgroups_systemd_test.cpp).
//
// The rules are runc's, which containerd, podman and the kubelet rely on:
//   "system.slice:docker:abc"  → unit "docker-abc.scope" in "system.slice",
//                                 cgroup "/system.slice/docker-abc.scope"
//   ":docker:abc"              → the same (an empty slice means system.slice)
//   "kubepods-pod1.slice:cri:x"→ "/kubepods.slice/kubepods-pod1.slice/cri-x.scope"
//   "system.slice:x:y.slice"   → a slice unit "y.slice" is asked for; it must
//                                 be a child of the given slice by its name
//   ""                         → "system.slice:corral:<id>" (runc: runc:<id>)
#pragma once

#include "corral/error.hpp"

#include <string>
#include <string_view>

namespace corral::cgroups::systemd {

struct UnitPath {
    std::string slice;  // the parent slice unit: "system.slice", "-.slice" for the root
    std::string unit;   // "docker-abc.scope", or "a-b.slice" when a slice was asked for
    std::string cgroup; // absolute, below every hierarchy's root: "/system.slice/docker-abc.scope"

    bool is_slice() const { return unit.size() > 6 && unit.ends_with(".slice"); }
};

// "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" → "" (the
// root slice). systemd nests slices by the dashes in their names; a name
// that is not a slice, has an empty part ("a--b", "-a", "a-") or a '/' is
// refused, naming it.
Result<std::string> expand_slice(std::string_view slice);

// Parse CGROUPS_PATH (linux.cgroupsPath) for --systemd-cgroup; CONTAINER_ID
// builds the default when it is empty. Errors name linux.cgroupsPath.
Result<UnitPath> parse_unit_path(std::string_view cgroups_path, std::string_view container_id);

} // namespace corral::cgroups::systemd
