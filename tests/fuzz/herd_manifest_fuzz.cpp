// herd_manifest_fuzz: arbitrary bytes as a manifest file (YAML, several
// documents) through herd's parser, as `herd apply -f` reads it. Any input
// must give objects or an Error: no crash, no leak, no hang. The resource
// quantities it parses are fuzzed on their own by herd_quantity_fuzz.
//
// Seeds: tests/fuzz/corpus/herd_manifest/ (Pods, Deployments, Services,
// ConfigMaps as Kubernetes' docs write them). Run with scripts/fuzz.
#include "herd/manifest.hpp"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string text(reinterpret_cast<const char *>(data), size);
    (void)corral::herd::parse_manifests(text, "fuzz.yaml");
    return 0;
}
