// StartTransientUnit / SetUnitProperties / StopUnit / ResetFailedUnit.
#include "cgroups/systemd/units.hpp"

#include <systemd/sd-bus.h>

namespace corral::cgroups::systemd {

namespace {

// runc waits 30 s for a job; systemd's own default job timeout is longer,
// but a container create stuck for more than this has a real problem.
constexpr uint64_t kJobTimeoutUsec = 30 * 1000000ULL;

constexpr const char *kUnitExists = "org.freedesktop.systemd1.UnitExists";
constexpr const char *kNoSuchUnit = "org.freedesktop.systemd1.NoSuchUnit";
constexpr const char *kNotLoaded = "org.freedesktop.DBus.Error.UnknownObject";

Status wait_done(Bus &bus, const std::string &job, const std::string &what) {
    std::string result = CORRAL_TRY_CTX(bus.wait_for_job(job, kJobTimeoutUsec), what);
    if (result != "done") return Error(what + ": the job ended with result `" + result + "`");
    return ok();
}

Status start_once(Bus &bus, const std::string &unit, const std::vector<Property> &props, std::string *error_name,
                  bool *queued) {
    std::string job;
    CORRAL_TRY(bus.call_manager(
        "StartTransientUnit",
        [&](sd_bus_message *m) {
            int r = bus.append_string(m, unit);
            if (r >= 0) r = bus.append_string(m, "replace");
            if (r >= 0) r = bus.append_properties(m, props);
            if (r >= 0) r = bus.append_empty_array(m, "(sa(sv))"); // no auxiliary units
            return r;
        },
        [&](sd_bus_message *reply) { return bus.read_object_path(reply, job); }, error_name)
                   .context("start unit `" + unit + "`"));
    *queued = true;
    return wait_done(bus, job, "start unit `" + unit + "`");
}

Status reset_failed(Bus &bus, const std::string &unit) {
    std::string name;
    auto st = bus.call_manager(
        "ResetFailedUnit", [&](sd_bus_message *m) { return bus.append_string(m, unit); }, nullptr, &name);
    if (!st && (name == kNoSuchUnit || name == kNotLoaded)) return ok();
    return st;
}

} // namespace

Status start_transient_unit(Bus &bus, const std::string &unit, const std::vector<Property> &props, bool *queued) {
    *queued = false;
    std::string error_name;
    auto st = start_once(bus, unit, props, &error_name, queued);
    if (st || error_name != kUnitExists) return st;
    if (unit.ends_with(".slice")) return ok();
    CORRAL_TRY_CTX(reset_failed(bus, unit), "reset unit `" + unit + "`, which exists already");
    error_name.clear();
    return start_once(bus, unit, props, &error_name, queued)
        .context("unit `" + unit + "` exists already and is not a failed leftover (another container with this "
                 "linux.cgroupsPath?)");
}

Status set_unit_properties(Bus &bus, const std::string &unit, const std::vector<Property> &props) {
    if (props.empty()) return ok();
    return bus
        .call_manager(
            "SetUnitProperties",
            [&](sd_bus_message *m) {
                int r = bus.append_string(m, unit);
                if (r >= 0) r = bus.append_bool(m, true); // runtime: this boot only
                if (r >= 0) r = bus.append_properties(m, props);
                return r;
            },
            nullptr)
        .context("set properties of unit `" + unit + "`");
}

Status stop_unit(Bus &bus, const std::string &unit) {
    std::string job, error_name;
    auto st = bus.call_manager(
        "StopUnit",
        [&](sd_bus_message *m) {
            int r = bus.append_string(m, unit);
            if (r >= 0) r = bus.append_string(m, "replace");
            return r;
        },
        [&](sd_bus_message *reply) { return bus.read_object_path(reply, job); }, &error_name);
    if (!st) {
        if (error_name == kNoSuchUnit || error_name == kNotLoaded) return ok();
        return std::move(st).error().context("stop unit `" + unit + "`");
    }
    CORRAL_TRY(wait_done(bus, job, "stop unit `" + unit + "`"));
    // A scope whose processes were killed may be left "failed"; systemd
    // would keep it listed until someone resets it.
    return reset_failed(bus, unit).context("reset unit `" + unit + "`");
}

} // namespace corral::cgroups::systemd
