// corral/context.hpp — what every libcorral call takes: the state root, the
// logger and the global options of the command line (runc's global flags).
// Its own header so that parts which need only this (corral image) do not
// depend on the runtime's API.
#pragma once

#include "corral/log.hpp"

#include <optional>
#include <string>

namespace corral {

struct Context {
    std::string root = "/run/corral"; // one directory per container below it
    Logger log;                       // where debug/info/errors go
    bool systemd_cgroup = false;      // --systemd-cgroup
    std::optional<bool> rootless;     // --rootless true|false; unset = auto
    std::string criu = "criu";
    std::string trace_file;           // --trace: the creation steps as a Chrome trace-event JSON (run, create, start, exec)        // --criu: checkpoint/restore's binary (a name looked up in PATH, or a path)
};

} // namespace corral
