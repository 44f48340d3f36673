// units.hpp — the systemd1 Manager calls the driver makes: start a transient
// unit, change its properties, stop it; each waits for its job as runc does,
// so "started" means the processes are in the unit's cgroup and "stopped"
// means they are gone.
#pragma once

#include "cgroups/systemd/bus.hpp"
#include "cgroups/systemd/properties.hpp"

#include <string>
#include <vector>

namespace corral::cgroups::systemd {

// StartTransientUnit(UNIT, "replace", PROPS) and wait for the job. A slice
// that exists already is fine (another container, or the kubelet, made it).
// A scope of that name that exists is most likely a failed leftover: it is
// reset once and started again; if it is still there, that is the error.
// *QUEUED says whether systemd accepted a start job of ours, so that a
// caller undoing a failed start stops only a unit it made, never another
// container's.
Status start_transient_unit(Bus &bus, const std::string &unit, const std::vector<Property> &props, bool *queued);

// SetUnitProperties(UNIT, runtime=true, PROPS): for this boot only, as the
// unit itself is.
Status set_unit_properties(Bus &bus, const std::string &unit, const std::vector<Property> &props);

// StopUnit(UNIT, "replace") and wait for the job (systemd kills what is
// left in the unit), then ResetFailedUnit so a failed unit does not linger.
// A unit that does not exist is not an error.
Status stop_unit(Bus &bus, const std::string &unit);

} // namespace corral::cgroups::systemd
