// herd/manifest.hpp — Kubernetes v1/Pod and apps/v1/Deployment, typed.
//
// herd reads the subset of the Kubernetes API that runs unchanged on a real
// cluster. Parsing is strict, like `kubectl --validate=strict`: a field we do
// not know is an error naming its path ("deploy.yaml: document 2:
// spec.template.spec.containers[0].resources.limits.memory: invalid quantity
// \"12X\""), unless ParseOptions::ignore_unknown is set. herd-only settings
// live in annotations under the `herd.io/` prefix (see docs/herd.md).
//
// The same types travel between `herd`, `herd serve` and `herd agent`: the
// wire format is the Kubernetes object itself as JSON (to_json / pod_from_json
// round-trip), so every process validates with this one parser.
#pragma once

#include "corral/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace corral::herd {

using json = nlohmann::json;

// --- quantities: "500m", "2", "256Mi", "1G", "1e3" ----------------------------
// Kubernetes resource.Quantity syntax. CPU is kept in millicores, memory in
// bytes; a value with finer precision than that is rounded up, as Kubernetes
// does.
Result<int64_t> parse_cpu_millis(const std::string &text);
Result<int64_t> parse_memory_bytes(const std::string &text);

// --- herd.io annotations ------------------------------------------------------
// Durations in Go's syntax ("10s", "500ms", "5m", "1h30m"), as the herd.io/
// backoff annotations take them (docs/herd-manifests.md). Validated at parse
// time, so the agent's own call cannot fail on an applied manifest.
Result<int64_t> parse_duration_ms(const std::string &text);

struct ObjectMeta {
    std::string name;
    std::string namespace_ = "default";
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    // Filled by herd serve, never read from a manifest: uid, creation time.
    std::string uid;
    std::string creation_timestamp;  // RFC 3339
};

struct EnvVar {
    std::string name, value;
};

struct ContainerPort {
    std::string name;
    int container_port = 0;
    int host_port = 0;          // 0: none
    std::string protocol = "TCP";
    std::string host_ip;
};

struct Resources {
    std::optional<int64_t> cpu_request_millis, cpu_limit_millis;
    std::optional<int64_t> memory_request_bytes, memory_limit_bytes;
    // The text as written, for round trips and `get -o yaml`.
    std::map<std::string, std::string> requests_text, limits_text;
};

struct Probe {
    enum class Kind { exec, http_get, tcp_socket } kind = Kind::exec;
    std::vector<std::string> command;  // exec
    std::string path = "/";            // httpGet
    std::string host;                  // httpGet/tcpSocket; "" = pod IP (herd: the pod's loopback)
    int port = 0;                      // httpGet/tcpSocket (named ports are resolved at parse time)
    std::string scheme = "HTTP";       // httpGet: only HTTP is supported
    std::vector<EnvVar> http_headers;
    // The five timing fields with Kubernetes' defaults.
    int initial_delay_seconds = 0;
    int period_seconds = 10;
    int timeout_seconds = 1;
    int success_threshold = 1;
    int failure_threshold = 3;
};

struct Container {
    std::string name;
    std::string image;
    std::vector<std::string> command;  // overrides the image's Entrypoint
    std::vector<std::string> args;     // overrides the image's Cmd
    std::string working_dir;
    std::vector<EnvVar> env;
    std::vector<ContainerPort> ports;
    Resources resources;
    std::optional<Probe> liveness_probe, readiness_probe, startup_probe;
    std::string image_pull_policy;     // accepted, herd never pulls
};

struct Toleration {
    std::string key, operator_ = "Equal", value, effect;
    std::optional<int64_t> toleration_seconds;
};

struct PodSpec {
    std::vector<Container> containers;
    std::string restart_policy = "Always";  // Always | OnFailure | Never
    int64_t termination_grace_period_seconds = 30;
    std::map<std::string, std::string> node_selector;
    std::vector<Toleration> tolerations;
    bool host_network = false;
};

struct Pod {
    ObjectMeta metadata;
    PodSpec spec;
};

struct PodTemplate {
    ObjectMeta metadata;  // labels (and annotations) only
    PodSpec spec;
};

// maxSurge / maxUnavailable: an absolute count or a percentage of replicas.
struct IntOrPercent {
    int value = 0;
    bool percent = false;
    // Kubernetes rounds surge up and unavailable down.
    int resolve(int replicas, bool round_up) const;
};

struct DeploymentSpec {
    int replicas = 1;
    std::map<std::string, std::string> selector;  // matchLabels
    PodTemplate template_;
    std::string strategy = "RollingUpdate";        // RollingUpdate | Recreate
    IntOrPercent max_surge{25, true}, max_unavailable{25, true};
    int min_ready_seconds = 0;
    int revision_history_limit = 10;
    int progress_deadline_seconds = 600;          // Progressing=False after this long
};

struct Deployment {
    ObjectMeta metadata;
    DeploymentSpec spec;
};

// One document of a manifest file.
struct Object {
    enum class Kind { pod, deployment } kind;
    std::string source;  // "FILE: document N", for messages
    std::optional<Pod> pod;
    std::optional<Deployment> deployment;
    const ObjectMeta &metadata() const { return pod ? pod->metadata : deployment->metadata; }
    std::string kind_name() const { return kind == Kind::pod ? "Pod" : "Deployment"; }
};

struct ParseOptions {
    bool ignore_unknown = false;  // --ignore-unknown: drop unknown fields instead of failing
};

// Every document of a YAML stream (several per file, `---`). Fails on the
// first invalid document; nothing is returned then, so nothing is applied.
// Also rejects two objects of one kind with the same namespace/name.
Result<std::vector<Object>> parse_manifests(const std::string &yaml_text, const std::string &file,
                                            const ParseOptions &opts = {});
// Every *.yaml / *.yml / *.json file of FILE (a file or a directory, sorted);
// "-" reads standard input, as `kubectl apply -f -`.
Result<std::vector<Object>> load_manifests(const std::string &path, const ParseOptions &opts = {});

// The Kubernetes JSON of an object (apiVersion, kind, metadata, spec): what
// `get -o json|yaml` prints and what herd processes send each other.
json to_json(const Pod &);
json to_json(const Deployment &);
json to_json(const PodSpec &);
Result<Pod> pod_from_json(const json &, const std::string &source = "pod");
Result<Deployment> deployment_from_json(const json &, const std::string &source = "deployment");

// A stable hash of a pod template (the pod-template-hash label), 10 chars.
std::string template_hash(const PodTemplate &);

// YAML text of a JSON value, for `-o yaml`.
std::string to_yaml(const json &);

} // namespace corral::herd
