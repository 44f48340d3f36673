// herd_agent_proto_fuzz: arbitrary bytes as a client's stream to `herd
// agent` (agent_api.hpp): line splitting with a bound, then the agent's
// request parser (herd_proto_fuzz.hpp says what must hold).
#include "herd/agent_api.hpp"
#include "herd_proto_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return herd_fuzz::run_one(data, size, corral::herd::agent_ops());
}
