// herd/commands.hpp — the entry points `herd` (src/herd/main.cpp) dispatches to.
//
// Each takes the arguments after its command name and returns the exit
// status; only these functions print or parse argv (the rest of src/herd is
// library code).
#pragma once

#include <string>
#include <vector>

namespace corral::herd {

using Argv = std::vector<std::string>;

int agent_main(const Argv &args);  // herd agent [--state-dir DIR] [--corral BIN] [--stdio]   (agent_main.cpp)
int serve_main(const Argv &args);
// herd agent --connect: stdio bridged to the local agent's socket (agent_connect.cpp)
int agent_connect_main(const Argv &args);  // herd serve [--state-dir DIR] [--agent-state-dir DIR]    (serve_main.cpp)
// kubectl-like commands, talking to `herd serve` (cli_*.cpp):
int cli_main(const std::string &command, const Argv &args);

} // namespace corral::herd
