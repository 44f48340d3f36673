// bus.hpp — a D-Bus connection to systemd, through libsystemd's sd-bus.
//
// libsystemd is opened with dlopen() the first time the systemd driver needs
// it, not linked: libsystemd.so pulls in six more shared libraries (gcrypt,
// lz4, zstd, lzma...), and mapping and relocating them costs every `corral`
// invocation a millisecond or more, when container start is a few ms and
// most runs never use this driver. The sd-bus headers (libsystemd-dev) still
// type every call (decltype of the declared functions).
#pragma once

#include "cgroups/systemd/properties.hpp"
#include "corral/error.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <systemd/sd-bus.h> // types only: the functions are dlopen()ed
#include <vector>


namespace corral::cgroups::systemd {

struct SdBusApi; // the dlopen()ed functions

// One connection, closed by the destructor. Method calls wait for their
// reply; JobRemoved signals are collected from the moment of connect(), so
// a job that ends before its caller starts waiting is not missed.
class Bus {
public:
    // The system bus; if no dbus-daemon answers and we are root, systemd's
    // private socket /run/systemd/private (systemd answers there without a
    // bus daemon: minimal hosts and early boot have none). Errors say which
    // was tried and why each failed.
    static Result<std::unique_ptr<Bus>> connect();
    ~Bus();
    Bus(const Bus &) = delete;
    Bus &operator=(const Bus &) = delete;

    // Call org.freedesktop.systemd1.Manager.METHOD. ARGS appends the
    // arguments; READ reads the reply (may be null). A D-Bus error comes back
    // as "NAME: MESSAGE", with the error name also in *ERROR_NAME if given.
    Status call_manager(const char *method, const std::function<int(sd_bus_message *)> &args,
                        const std::function<int(sd_bus_message *)> &read, std::string *error_name = nullptr);

    // Append "a(sv)" of PROPS to M.
    int append_properties(sd_bus_message *m, const std::vector<Property> &props);
    // An empty array of CONTENTS ("(sa(sv))").
    int append_empty_array(sd_bus_message *m, const char *contents);
    int append_string(sd_bus_message *m, const std::string &s);
    int append_bool(sd_bus_message *m, bool b);
    // Read one object path ('o') from a reply.
    int read_object_path(sd_bus_message *m, std::string &out);

    // Wait until JobRemoved names JOB (an object path); returns its result
    // ("done", "failed", "canceled", "timeout", "dependency", "skipped").
    Result<std::string> wait_for_job(const std::string &job, uint64_t timeout_usec);

    const char *how() const { return how_; } // "system bus" or "systemd's private socket"

private:
    Bus(const SdBusApi &api, sd_bus *bus, const char *how) : api_(api), bus_(bus), how_(how) {}
    static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error);

    const SdBusApi &api_;
    sd_bus *bus_ = nullptr;
    sd_bus_slot *match_ = nullptr;
    const char *how_;
    std::map<std::string, std::string> finished_jobs_; // job path → result
};

} // namespace corral::cgroups::systemd
