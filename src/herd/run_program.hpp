// herd/run_program.hpp — run a helper program (corral, a CNI plugin) and
// wait for it: fork + execve, stdin from a string, stdout/stderr captured or
// handed over as they are.
//
// Only for single-threaded callers (the agent, tests): the child does nothing
// between fork and execve but dup2, close_range and resetting the signal
// mask, all async-signal-safe. The child's signal mask and dispositions are
// reset because the agent blocks signals for its signalfd, and a container
// started by corral must not inherit a blocked SIGTERM.
#pragma once

#include "corral/error.hpp"

#include <string>
#include <vector>

namespace corral::herd {

struct ProgramRun {
    std::vector<std::string> argv;          // argv[0] is the path to execute
    std::vector<std::string> extra_env;     // NAME=VALUE added to (or replacing in) the caller's environment
    std::string stdin_data;                 // written to the child's stdin, then closed
    int stdin_fd = -1;                      // >= 0: the child's stdin as is (stdin_data unused)
    int stdout_fd = -1;                     // >= 0: the child's stdout as is (not captured)
    int stderr_fd = -1;                     // >= 0: the child's stderr as is (not captured)
    int timeout_ms = 60000;                 // then SIGKILL, and an error
};

struct ProgramResult {
    int exit_code = 0;   // 128 + signal when killed by one
    std::string out, err;
    bool ok() const { return exit_code == 0; }
    // The last non-empty line of stderr (or stdout), for error messages.
    std::string last_error_line() const;
};

// Fails only when the program could not be run (or timed out); a non-zero
// exit is a result, not an error.
Result<ProgramResult> run_program(const ProgramRun &run);

} // namespace corral::herd
