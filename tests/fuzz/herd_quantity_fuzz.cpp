// herd_quantity_fuzz: arbitrary bytes as a Kubernetes quantity ("250m",
// "1.5Gi", "1e3", "10s"): CPU millicores, memory bytes, durations. Any input
// must give a value or an Error; no overflow (UBSan), no crash.
#include "herd/manifest.hpp"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 256) return 0; // quantities are short; longer says nothing new
    std::string text(reinterpret_cast<const char *>(data), size);
    (void)corral::herd::parse_cpu_millis(text);
    (void)corral::herd::parse_memory_bytes(text);
    (void)corral::herd::parse_duration_ms(text);
    return 0;
}
