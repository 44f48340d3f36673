// spec_fuzz: arbitrary bytes as config.json and as process.json, through
// the parser and the validator (what `create` and `exec --process` do with
// a file they are handed). Any input must give a value or an Error: no
// crash, no leak, no undefined behaviour, no hang.
//
// Seeds: tests/fuzz/corpus/spec/ (runc's default spec and variations);
// dictionary: tests/fuzz/spec.dict. Run with scripts/fuzz.
#include "corral/spec.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view text(reinterpret_cast<const char *>(data), size);
    if (auto spec = corral::spec::parse_spec(text)) {
        (void)corral::spec::validate_spec(*spec);
        (void)corral::spec::spec_warnings(*spec);
    }
    if (auto process = corral::spec::parse_process(text)) (void)corral::spec::validate_process(*process);
    return 0;
}
