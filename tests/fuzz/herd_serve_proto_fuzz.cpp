// herd_serve_proto_fuzz: arbitrary bytes as a CLI's stream to `herd serve`
// (serve_api.hpp): line splitting with a bound, then serve's request parser
// (herd_proto_fuzz.hpp says what must hold).
#include "herd/serve_api.hpp"
#include "herd_proto_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return herd_fuzz::run_one(data, size, corral::herd::serve_ops());
}
