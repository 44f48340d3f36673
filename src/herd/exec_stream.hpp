// herd/exec_stream.hpp — `exec` over the line protocols: after the answer
// {"ok": true, "stream": true} to an `exec` request, the connection carries
// the command's streams, one JSON object per line, until the exit:
//
//   client -> agent  {"stdin": "<base64>"}   bytes for the command's stdin
//                    {"stdin_close": true}   its EOF
//                    {"resize": {"rows": R, "cols": C}}   (with tty)
//   agent -> client  {"stdout": "<base64>"}, {"stderr": "<base64>"}
//                    {"exit": code}          the last line (128+signal if killed)
//
// Bytes are base64: a command's output need not be UTF-8, a JSON line must
// be. serve relays such a connection to the pod's node agent as it is
// (serve_stream.cpp); the CLI (cli_logs.cpp, cmd_exec) and the agent
// (agent_exec.cpp) are its two ends. A client that goes away ends the
// command (SIGKILL to the `corral exec` behind it).
#pragma once

#include <string>
#include <string_view>

namespace corral::herd {

std::string base64_encode(std::string_view bytes);
// Ignores characters outside the alphabet (line breaks); stops at '='.
std::string base64_decode(std::string_view text);

} // namespace corral::herd
