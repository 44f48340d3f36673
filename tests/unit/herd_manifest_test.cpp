// Manifests: strict parsing like `kubectl apply --validate=strict`, the API
// server's validation and defaults, JSON round trips, YAML output, files and
// directories, template hashes.
#include "herd/manifest.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <filesystem>
#include <unistd.h>
#include <functional>

using namespace corral::herd;

namespace {

std::string data_dir() { return (std::filesystem::path(__FILE__).parent_path() / "data" / "herd").string(); }

#define EXPECT_CONTAINS(haystack, needle)                                                                   \
    EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "expected \"" << (needle)           \
                                                                      << "\" in: " << (haystack)

json minimal_pod() {
    return json::parse(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                           "spec": {"containers": [{"name": "c", "image": "img"}]}})");
}

json minimal_deployment() {
    return json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                                    "template": {"metadata": {"labels": {"app": "web"}},
                                                 "spec": {"containers": [{"name": "c", "image": "img"}]}}}})");
}

// The message parse_manifests gives for DOC, or "<accepted>".
std::string rejection(const json &doc, const ParseOptions &opts = {}) {
    auto r = parse_manifests(doc.dump(), "t.yaml", opts);
    return r.ok() ? "<accepted>" : r.error().message();
}

// --- accepted manifests ---------------------------------------------------------------

TEST(HerdManifest, RealisticDeployment) {
    auto objects = load_manifests(data_dir() + "/web-deployment.yaml");
    ASSERT_TRUE(objects.ok()) << objects.error().message();
    ASSERT_EQ(objects->size(), 1u);
    const Object &o = (*objects)[0];
    EXPECT_EQ(o.kind, Object::Kind::deployment);
    EXPECT_EQ(o.kind_name(), "Deployment");
    EXPECT_EQ(o.source, data_dir() + "/web-deployment.yaml: document 1");
    const Deployment &d = *o.deployment;
    EXPECT_EQ(d.metadata.name, "web");
    EXPECT_EQ(d.metadata.namespace_, "default");
    EXPECT_EQ(d.spec.replicas, 3);
    EXPECT_EQ(d.spec.selector, (std::map<std::string, std::string>{{"app", "web"}}));
    EXPECT_EQ(d.spec.strategy, "RollingUpdate");
    EXPECT_EQ(d.spec.max_surge.value, 1);
    EXPECT_FALSE(d.spec.max_surge.percent);
    EXPECT_EQ(d.spec.max_unavailable.value, 0);
    EXPECT_EQ(d.spec.min_ready_seconds, 2);
    EXPECT_EQ(d.spec.revision_history_limit, 5);
    EXPECT_EQ(d.spec.progress_deadline_seconds, 120);

    const PodTemplate &t = d.spec.template_;
    EXPECT_EQ(t.metadata.labels.at("tier"), "frontend");
    EXPECT_EQ(t.metadata.annotations.at("herd.io/backoff-initial"), "500ms");
    const PodSpec &ps = t.spec;
    EXPECT_EQ(ps.restart_policy, "Always");
    EXPECT_EQ(ps.termination_grace_period_seconds, 5);
    EXPECT_EQ(ps.node_selector.at("kubernetes.io/os"), "linux");
    ASSERT_EQ(ps.tolerations.size(), 1u);
    EXPECT_EQ(ps.tolerations[0].operator_, "Exists");
    EXPECT_EQ(ps.tolerations[0].effect, "NoSchedule");
    ASSERT_EQ(ps.containers.size(), 2u);

    const Container &c = ps.containers[0];
    EXPECT_EQ(c.name, "app");
    EXPECT_EQ(c.image, "fixture:latest");
    EXPECT_EQ(c.command, std::vector<std::string>{"/probe"});
    EXPECT_EQ(c.args, (std::vector<std::string>{"sleep", "inf"}));
    EXPECT_EQ(c.working_dir, "/");
    ASSERT_EQ(c.env.size(), 2u);
    EXPECT_EQ(c.env[1].name, "REPLICA_HINT");
    EXPECT_EQ(c.env[1].value, "3");
    ASSERT_EQ(c.ports.size(), 1u);
    EXPECT_EQ(c.ports[0].container_port, 8080);
    EXPECT_EQ(c.ports[0].protocol, "TCP");
    EXPECT_EQ(c.resources.cpu_request_millis, 250);
    EXPECT_EQ(c.resources.cpu_limit_millis, 1000);
    EXPECT_EQ(c.resources.memory_request_bytes, 64 << 20);
    EXPECT_EQ(c.resources.memory_limit_bytes, 128 << 20);

    ASSERT_TRUE(c.liveness_probe);
    EXPECT_EQ(c.liveness_probe->kind, Probe::Kind::exec);
    EXPECT_EQ(c.liveness_probe->command, (std::vector<std::string>{"/probe", "exit", "0"}));
    EXPECT_EQ(c.liveness_probe->initial_delay_seconds, 1);
    EXPECT_EQ(c.liveness_probe->period_seconds, 2);
    EXPECT_EQ(c.liveness_probe->timeout_seconds, 1);  // default
    ASSERT_TRUE(c.readiness_probe);
    EXPECT_EQ(c.readiness_probe->kind, Probe::Kind::tcp_socket);
    EXPECT_EQ(c.readiness_probe->port, 8080);  // the named port "http", resolved
    EXPECT_EQ(c.readiness_probe->failure_threshold, 3);
    ASSERT_TRUE(c.startup_probe);
    EXPECT_EQ(c.startup_probe->kind, Probe::Kind::http_get);
    EXPECT_EQ(c.startup_probe->path, "/healthz");
    EXPECT_EQ(c.startup_probe->scheme, "HTTP");
    ASSERT_EQ(c.startup_probe->http_headers.size(), 1u);
    EXPECT_EQ(c.startup_probe->http_headers[0].value, "startup");

    // A memory limit alone requests the limit, as Kubernetes defaults it.
    const Container &side = ps.containers[1];
    EXPECT_EQ(side.resources.memory_request_bytes, 32 << 20);
    EXPECT_EQ(side.resources.requests_text.at("memory"), "32Mi");
    EXPECT_FALSE(side.resources.cpu_request_millis);
}

TEST(HerdManifest, Defaults) {
    auto objects = parse_manifests(minimal_pod().dump() + "\n---\n" + minimal_deployment().dump(), "t.yaml");
    ASSERT_TRUE(objects.ok()) << objects.error().message();
    const Pod &p = *(*objects)[0].pod;
    EXPECT_EQ(p.metadata.namespace_, "default");
    EXPECT_EQ(p.spec.restart_policy, "Always");
    EXPECT_EQ(p.spec.termination_grace_period_seconds, 30);
    EXPECT_FALSE(p.spec.host_network);
    const Deployment &d = *(*objects)[1].deployment;
    EXPECT_EQ(d.spec.strategy, "RollingUpdate");
    EXPECT_EQ(d.spec.max_surge.value, 25);
    EXPECT_TRUE(d.spec.max_surge.percent);
    EXPECT_EQ(d.spec.max_unavailable.value, 25);
    EXPECT_TRUE(d.spec.max_unavailable.percent);
    EXPECT_EQ(d.spec.revision_history_limit, 10);
    EXPECT_EQ(d.spec.progress_deadline_seconds, 600);
    EXPECT_EQ(d.spec.min_ready_seconds, 0);
}

TEST(HerdManifest, ProbeDefaultsAndZeroMeansDefault) {
    json doc = minimal_pod();
    doc["spec"]["containers"][0]["livenessProbe"] = {{"exec", {{"command", {"true"}}}}, {"periodSeconds", 0}};
    auto objects = parse_manifests(doc.dump(), "t.yaml");
    ASSERT_TRUE(objects.ok()) << objects.error().message();
    const Probe &p = *(*objects)[0].pod->spec.containers[0].liveness_probe;
    EXPECT_EQ(p.initial_delay_seconds, 0);
    EXPECT_EQ(p.period_seconds, 10);
    EXPECT_EQ(p.timeout_seconds, 1);
    EXPECT_EQ(p.success_threshold, 1);
    EXPECT_EQ(p.failure_threshold, 3);
}

TEST(HerdManifest, KubectlDryRunOutput) {
    auto objects = load_manifests(data_dir() + "/dry-run.yaml");
    ASSERT_TRUE(objects.ok()) << objects.error().message();
    EXPECT_EQ((*objects)[0].deployment->spec.template_.spec.containers[0].name, "fixture");
}

TEST(HerdManifest, MultiDocumentFile) {
    auto objects = load_manifests(data_dir() + "/multi.yaml");
    ASSERT_TRUE(objects.ok()) << objects.error().message();
    ASSERT_EQ(objects->size(), 2u);  // the empty document between the two `---` is skipped
    EXPECT_EQ((*objects)[0].kind, Object::Kind::pod);
    EXPECT_EQ((*objects)[0].pod->spec.restart_policy, "Never");
    EXPECT_EQ((*objects)[0].pod->spec.containers[0].command[2], "3");
    EXPECT_EQ((*objects)[1].kind, Object::Kind::deployment);
    EXPECT_EQ((*objects)[1].deployment->metadata.name, "api");
}

TEST(HerdManifest, Directory) {
    auto objects = load_manifests(data_dir() + "/dir");
    ASSERT_TRUE(objects.ok()) << objects.error().message();
    ASSERT_EQ(objects->size(), 2u);  // README.txt is not read
    EXPECT_EQ((*objects)[0].metadata().name, "a");
    EXPECT_EQ((*objects)[1].metadata().name, "b");
    EXPECT_CONTAINS((*objects)[1].source, "b-pod.json: document 1");
}

TEST(HerdManifest, YamlAnchorsAndMergeKeys) {
    // Kubernetes' YAML decoder resolves aliases and `<<` merge keys.
    std::string yaml = R"(apiVersion: v1
kind: Pod
metadata:
  name: merged
spec:
  containers:
  - &base
    name: a
    image: img
    env: [{name: MODE, value: base}]
  - <<: *base
    name: b
)";
    auto objects = parse_manifests(yaml, "m.yaml");
    ASSERT_TRUE(objects.ok()) << objects.error().message();
    const auto &cs = (*objects)[0].pod->spec.containers;
    ASSERT_EQ(cs.size(), 2u);
    EXPECT_EQ(cs[1].name, "b");  // the key written beside the merge wins
    EXPECT_EQ(cs[1].image, "img");
    EXPECT_EQ(cs[1].env[0].value, "base");
}

TEST(HerdManifest, StandardInput) {
    // `herd apply -f -`: point fd 0 at a manifest for the call.
    int file = ::open((data_dir() + "/multi.yaml").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(file, 0);
    int saved = ::dup(STDIN_FILENO);
    ::dup2(file, STDIN_FILENO);
    auto objects = load_manifests("-");
    ::dup2(saved, STDIN_FILENO);
    ::close(saved);
    ::close(file);
    ASSERT_TRUE(objects.ok()) << objects.error().message();
    ASSERT_EQ(objects->size(), 2u);
    EXPECT_EQ((*objects)[0].source, "<stdin>: document 1");
}

TEST(HerdManifest, MissingFile) {
    auto objects = load_manifests(data_dir() + "/nope.yaml");
    ASSERT_FALSE(objects.ok());
    EXPECT_CONTAINS(objects.error().message(), "nope.yaml");
}

TEST(HerdManifest, StatusAndServerFieldsAreDropped) {
    json doc = minimal_pod();
    doc["status"] = {{"phase", "Running"}};
    doc["metadata"]["uid"] = "1234";
    doc["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z";
    auto objects = parse_manifests(doc.dump(), "t.yaml");
    ASSERT_TRUE(objects.ok()) << objects.error().message();
    EXPECT_EQ((*objects)[0].pod->metadata.uid, "");  // serve assigns them
    EXPECT_EQ((*objects)[0].pod->metadata.creation_timestamp, "");
}

TEST(HerdManifest, GetOutputAppliesAgain) {
    // `herd get pod -o yaml` (like kubectl's) carries what the server wrote:
    // status, uid, ownerReferences, resourceVersion... kubectl apply takes
    // such a file back, and so does herd, dropping them.
    json doc = minimal_pod();
    doc["metadata"]["resourceVersion"] = "42";
    doc["metadata"]["generation"] = 1;
    doc["metadata"]["ownerReferences"] = {{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "web-x"}}};
    doc["status"] = {{"phase", "Running"}};
    auto objects = parse_manifests(to_yaml(doc), "get.yaml");
    ASSERT_TRUE(objects.ok()) << objects.error().message();
    EXPECT_FALSE(to_json(*(*objects)[0].pod)["metadata"].contains("ownerReferences"));
}

TEST(HerdManifest, HostNetworkDefaultsHostPort) {
    json doc = minimal_pod();
    doc["spec"]["hostNetwork"] = true;
    doc["spec"]["containers"][0]["ports"] = {{{"containerPort", 8080}}};
    auto objects = parse_manifests(doc.dump(), "t.yaml");
    ASSERT_TRUE(objects.ok()) << objects.error().message();
    EXPECT_TRUE((*objects)[0].pod->spec.host_network);
    EXPECT_EQ((*objects)[0].pod->spec.containers[0].ports[0].host_port, 8080);
}

// --- rejected manifests: each with the path of the field -----------------------------

struct Bad {
    const char *what;
    bool deployment;  // start from minimal_deployment() instead of minimal_pod()
    std::function<void(json &)> edit;
    const char *expected;
};

// Containers live at spec.containers in a Pod: most cases use the Pod.
json &c0(json &doc) { return doc["spec"]["containers"][0]; }
json &tspec(json &doc) { return doc["spec"]["template"]["spec"]; }

const std::vector<Bad> &bad_cases() {
    static const std::vector<Bad> cases = {
        // unknown fields, at every level
        {"unknown container field", false, [](json &d) { c0(d)["imagePullSecret"] = "x"; },
         "unknown field \"spec.containers[0].imagePullSecret\""},
        {"unknown top-level field", false, [](json &d) { d["extra"] = 1; }, "unknown field \"extra\""},
        {"unknown metadata field", false, [](json &d) { d["metadata"]["generateName"] = "p-"; },
         "metadata.generateName: not supported by herd"},
        {"unknown template field", true, [](json &d) { tspec(d)["containers"][0]["stdin"] = true; },
         "spec.template.spec.containers[0].stdin: not supported by herd"},
        {"misspelt template field", true, [](json &d) { tspec(d)["containers"][0]["imagePullSecret"] = "x"; },
         "unknown field \"spec.template.spec.containers[0].imagePullSecret\""},
        // a misspelt required field is the unknown field it is, not "required"
        {"misspelt containers", false,
         [](json &d) {
             d["spec"]["contianers"] = d["spec"]["containers"];
             d["spec"].erase("containers");
         },
         "unknown field \"spec.contianers\""},
        {"misspelt template containers", true,
         [](json &d) {
             tspec(d)["Containers"] = tspec(d)["containers"];
             tspec(d).erase("containers");
         },
         "unknown field \"spec.template.spec.Containers\""},
        {"misspelt image", false,
         [](json &d) {
             c0(d)["imgae"] = c0(d)["image"];
             c0(d).erase("image");
         },
         "unknown field \"spec.containers[0].imgae\""},
        {"misspelt spec", false,
         [](json &d) {
             d["spce"] = d["spec"];
             d.erase("spec");
         },
         "unknown field \"spce\""},
        {"volumes", false, [](json &d) { d["spec"]["volumes"] = json::array(); },
         "spec.volumes: not supported by herd (a Kubernetes field herd does not implement; --ignore-unknown drops it)"},
        {"unknown probe handler", false, [](json &d) { c0(d)["livenessProbe"] = {{"grpc", {{"port", 1}}}}; },
         "spec.containers[0].livenessProbe.grpc: not supported by herd"},
        {"env valueFrom", false, [](json &d) { c0(d)["env"] = {{{"name", "A"}, {"valueFrom", json::object()}}}; },
         "spec.containers[0].env[0].valueFrom: not supported by herd"},
        {"matchExpressions", true, [](json &d) { d["spec"]["selector"]["matchExpressions"] = json::array(); },
         "spec.selector.matchExpressions: not supported by herd"},
        {"unsupported resource", false,
         [](json &d) { c0(d)["resources"] = {{"limits", {{"ephemeral-storage", "1Gi"}}}}; },
         "spec.containers[0].resources.limits[\"ephemeral-storage\"]: unsupported resource"},
        // types
        {"replicas as string", true, [](json &d) { d["spec"]["replicas"] = "3"; },
         "spec.replicas: expected integer, got string"},
        {"replicas as float", true, [](json &d) { d["spec"]["replicas"] = 1.5; },
         "spec.replicas: expected integer, got number"},
        {"env value as number", false, [](json &d) { c0(d)["env"] = {{{"name", "A"}, {"value", 80}}}; },
         "spec.containers[0].env[0].value: expected string, got integer"},
        {"command as string", false, [](json &d) { c0(d)["command"] = "/bin/sh"; },
         "spec.containers[0].command: expected array of strings, got string"},
        {"label value as number", false, [](json &d) { d["metadata"]["labels"] = {{"v", 1}}; },
         "metadata.labels.v: expected string, got integer"},
        {"containers as object", false, [](json &d) { d["spec"]["containers"] = json::object(); },
         "spec.containers: expected array, got object"},
        {"hostNetwork as string", false, [](json &d) { d["spec"]["hostNetwork"] = "true"; },
         "spec.hostNetwork: expected boolean, got string"},
        // kinds
        {"unsupported kind", false, [](json &d) { d["kind"] = "StatefulSet"; d["apiVersion"] = "apps/v1"; },
         "unsupported kind \"apps/v1/StatefulSet\""},
        {"Pod in apps/v1", false, [](json &d) { d["apiVersion"] = "apps/v1"; }, "unsupported kind \"apps/v1/Pod\""},
        {"no kind", false, [](json &d) { d.erase("kind"); }, "kind: required"},
        {"no apiVersion", false, [](json &d) { d.erase("apiVersion"); }, "apiVersion: required"},
        // names
        {"uppercase pod name", false, [](json &d) { d["metadata"]["name"] = "Web"; },
         "metadata.name: invalid name \"Web\""},
        {"no name", false, [](json &d) { d["metadata"].erase("name"); }, "metadata.name: required"},
        {"no metadata", false, [](json &d) { d.erase("metadata"); }, "metadata.name: required"},
        {"bad namespace", false, [](json &d) { d["metadata"]["namespace"] = "a.b"; },
         "metadata.namespace: invalid namespace \"a.b\""},
        {"container name with a dot", false, [](json &d) { c0(d)["name"] = "a.b"; },
         "spec.containers[0].name: invalid container name \"a.b\""},
        {"container name too long", false, [](json &d) { c0(d)["name"] = std::string(64, 'a'); },
         "spec.containers[0].name: invalid container name"},
        {"duplicate container names", false,
         [](json &d) { d["spec"]["containers"].push_back({{"name", "c"}, {"image", "i"}}); },
         "spec.containers[1].name: duplicate name \"c\""},
        {"bad label key", false, [](json &d) { d["metadata"]["labels"] = {{"-x", "y"}}; },
         "metadata.labels[\"-x\"]: invalid label key"},
        {"bad label value", false, [](json &d) { d["metadata"]["labels"] = {{"x", "a b"}}; },
         "metadata.labels.x: invalid label value \"a b\""},
        {"bad env name", false, [](json &d) { c0(d)["env"] = {{{"name", "1A"}, {"value", "x"}}}; },
         "spec.containers[0].env[0].name: invalid environment variable name \"1A\""},
        // required fields
        {"no image", false, [](json &d) { c0(d).erase("image"); }, "spec.containers[0].image: required"},
        {"no containers", false, [](json &d) { d["spec"]["containers"] = json::array(); },
         "spec.containers: required"},
        {"no spec", false, [](json &d) { d.erase("spec"); }, "spec.containers: required"},
        // quantities and resources
        {"bad cpu quantity", false, [](json &d) { c0(d)["resources"] = {{"limits", {{"cpu", "12X"}}}}; },
         "spec.containers[0].resources.limits.cpu: invalid quantity \"12X\""},
        {"bad memory quantity", true,
         [](json &d) { tspec(d)["containers"][0]["resources"] = {{"requests", {{"memory", "-1"}}}}; },
         "spec.template.spec.containers[0].resources.requests.memory: invalid quantity \"-1\""},
        {"empty quantity", false, [](json &d) { c0(d)["resources"] = {{"limits", {{"memory", ""}}}}; },
         "spec.containers[0].resources.limits.memory: invalid quantity \"\""},
        {"cpu request above limit", false,
         [](json &d) { c0(d)["resources"] = {{"requests", {{"cpu", "2"}}}, {"limits", {{"cpu", "1"}}}}; },
         "spec.containers[0].resources.requests.cpu: must be less than or equal to cpu limit"},
        {"memory request above limit", false,
         [](json &d) { c0(d)["resources"] = {{"requests", {{"memory", "1Gi"}}}, {"limits", {{"memory", "512Mi"}}}}; },
         "spec.containers[0].resources.requests.memory: must be less than or equal to memory limit"},
        // restart policy
        {"bad restartPolicy", false, [](json &d) { d["spec"]["restartPolicy"] = "Sometimes"; },
         "spec.restartPolicy: unsupported value \"Sometimes\""},
        {"Deployment with Never", true, [](json &d) { tspec(d)["restartPolicy"] = "Never"; },
         "spec.template.spec.restartPolicy: unsupported value \"Never\": supported values: \"Always\""},
        {"negative grace", false, [](json &d) { d["spec"]["terminationGracePeriodSeconds"] = -1; },
         "spec.terminationGracePeriodSeconds: must be greater than or equal to 0"},
        // probes
        {"probe without handler", false, [](json &d) { c0(d)["readinessProbe"] = {{"periodSeconds", 5}}; },
         "spec.containers[0].readinessProbe: must specify a handler type"},
        {"probe with two handlers", false,
         [](json &d) {
             c0(d)["livenessProbe"] = {{"exec", {{"command", {"true"}}}}, {"tcpSocket", {{"port", 80}}}};
         },
         "spec.containers[0].livenessProbe: may not specify more than 1 handler type"},
        {"probe port out of range", false, [](json &d) { c0(d)["livenessProbe"] = {{"tcpSocket", {{"port", 70000}}}}; },
         "spec.containers[0].livenessProbe.tcpSocket.port: must be between 1 and 65535"},
        {"probe port zero", false, [](json &d) { c0(d)["livenessProbe"] = {{"httpGet", {{"port", 0}}}}; },
         "spec.containers[0].livenessProbe.httpGet.port: must be between 1 and 65535"},
        {"probe named port missing", false, [](json &d) { c0(d)["readinessProbe"] = {{"httpGet", {{"port", "http"}}}}; },
         "spec.containers[0].readinessProbe.httpGet.port: no container port named \"http\""},
        {"probe without port", false, [](json &d) { c0(d)["readinessProbe"] = {{"tcpSocket", json::object()}}; },
         "spec.containers[0].readinessProbe.tcpSocket.port: required"},
        {"negative period", false,
         [](json &d) { c0(d)["livenessProbe"] = {{"exec", {{"command", {"true"}}}}, {"periodSeconds", -1}}; },
         "spec.containers[0].livenessProbe.periodSeconds: must be greater than or equal to 1"},
        {"negative timeout", false,
         [](json &d) { c0(d)["readinessProbe"] = {{"exec", {{"command", {"true"}}}}, {"timeoutSeconds", -2}}; },
         "spec.containers[0].readinessProbe.timeoutSeconds: must be greater than or equal to 1"},
        {"negative initial delay", false,
         [](json &d) { c0(d)["readinessProbe"] = {{"exec", {{"command", {"true"}}}}, {"initialDelaySeconds", -1}}; },
         "spec.containers[0].readinessProbe.initialDelaySeconds: must be greater than or equal to 0"},
        {"negative failureThreshold", false,
         [](json &d) { c0(d)["readinessProbe"] = {{"exec", {{"command", {"true"}}}}, {"failureThreshold", -1}}; },
         "spec.containers[0].readinessProbe.failureThreshold: must be greater than or equal to 1"},
        {"liveness successThreshold 2", false,
         [](json &d) { c0(d)["livenessProbe"] = {{"exec", {{"command", {"true"}}}}, {"successThreshold", 2}}; },
         "spec.containers[0].livenessProbe.successThreshold: must be 1"},
        {"startup successThreshold 3", false,
         [](json &d) { c0(d)["startupProbe"] = {{"exec", {{"command", {"true"}}}}, {"successThreshold", 3}}; },
         "spec.containers[0].startupProbe.successThreshold: must be 1"},
        {"exec without command", false, [](json &d) { c0(d)["livenessProbe"] = {{"exec", json::object()}}; },
         "spec.containers[0].livenessProbe.exec.command: required"},
        {"https probe", false,
         [](json &d) { c0(d)["livenessProbe"] = {{"httpGet", {{"port", 443}, {"scheme", "HTTPS"}}}}; },
         "spec.containers[0].livenessProbe.httpGet.scheme: HTTPS probes are not supported by herd"},
        // ports
        {"containerPort 0", false, [](json &d) { c0(d)["ports"] = {{{"containerPort", 0}}}; },
         "spec.containers[0].ports[0].containerPort: must be between 1 and 65535"},
        {"containerPort missing", false, [](json &d) { c0(d)["ports"] = {{{"name", "http"}}}; },
         "spec.containers[0].ports[0].containerPort: required"},
        {"bad protocol", false, [](json &d) { c0(d)["ports"] = {{{"containerPort", 80}, {"protocol", "HTTP"}}}; },
         "spec.containers[0].ports[0].protocol: unsupported value \"HTTP\""},
        {"bad port name", false, [](json &d) { c0(d)["ports"] = {{{"containerPort", 80}, {"name", "80"}}}; },
         "spec.containers[0].ports[0].name: invalid port name \"80\""},
        {"duplicate port name", false,
         [](json &d) {
             c0(d)["ports"] = {{{"containerPort", 80}, {"name", "web"}}, {{"containerPort", 81}, {"name", "web"}}};
         },
         "spec.containers[0].ports[1].name: duplicate port name \"web\""},
        {"hostNetwork with another hostPort", false,
         [](json &d) {
             d["spec"]["hostNetwork"] = true;
             c0(d)["ports"] = {{{"containerPort", 80}, {"hostPort", 8080}}};
         },
         "spec.containers[0].ports[0].hostPort: must match `containerPort` when `hostNetwork` is true"},
        // deployments
        {"selector mismatch", true, [](json &d) { d["spec"]["selector"]["matchLabels"]["app"] = "other"; },
         "spec.template.metadata.labels: does not match spec.selector.matchLabels"},
        {"selector label missing on template", true, [](json &d) { d["spec"]["selector"]["matchLabels"]["tier"] = "x"; },
         "spec.template.metadata.labels: does not match spec.selector.matchLabels"},
        {"empty selector", true, [](json &d) { d["spec"]["selector"]["matchLabels"] = json::object(); },
         "spec.selector.matchLabels: required"},
        {"no selector", true, [](json &d) { d["spec"].erase("selector"); }, "spec.selector: required"},
        {"no template", true, [](json &d) { d["spec"].erase("template"); }, "spec.template: required"},
        {"negative replicas", true, [](json &d) { d["spec"]["replicas"] = -1; },
         "spec.replicas: must be greater than or equal to 0"},
        {"bad strategy type", true, [](json &d) { d["spec"]["strategy"] = {{"type", "BlueGreen"}}; },
         "spec.strategy.type: unsupported value \"BlueGreen\""},
        {"surge and unavailable both 0", true,
         [](json &d) {
             d["spec"]["strategy"] = {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", 0}, {"maxUnavailable", "0%"}}}};
         },
         "spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when `maxSurge` is 0"},
        {"bad percent", true,
         [](json &d) { d["spec"]["strategy"] = {{"rollingUpdate", {{"maxSurge", "25 %"}}}}; },
         "spec.strategy.rollingUpdate.maxSurge: invalid value \"25 %\""},
        {"unavailable over 100%", true,
         [](json &d) { d["spec"]["strategy"] = {{"rollingUpdate", {{"maxUnavailable", "150%"}}}}; },
         "spec.strategy.rollingUpdate.maxUnavailable: must not be greater than 100%"},
        {"rollingUpdate with Recreate", true,
         [](json &d) { d["spec"]["strategy"] = {{"type", "Recreate"}, {"rollingUpdate", {{"maxSurge", 1}}}}; },
         "spec.strategy.rollingUpdate: may not be specified when strategy `type` is 'Recreate'"},
        {"progress deadline not above minReady", true,
         [](json &d) { d["spec"]["minReadySeconds"] = 10; d["spec"]["progressDeadlineSeconds"] = 10; },
         "spec.progressDeadlineSeconds: must be greater than minReadySeconds"},
        {"negative revisionHistoryLimit", true, [](json &d) { d["spec"]["revisionHistoryLimit"] = -1; },
         "spec.revisionHistoryLimit: must be greater than or equal to 0"},
        // tolerations
        {"toleration operator", false, [](json &d) { d["spec"]["tolerations"] = {{{"key", "k"}, {"operator", "In"}}}; },
         "spec.tolerations[0].operator: unsupported value \"In\""},
        {"toleration seconds without NoExecute", false,
         [](json &d) { d["spec"]["tolerations"] = {{{"key", "k"}, {"tolerationSeconds", 5}}}; },
         "spec.tolerations[0].effect: must be 'NoExecute' when `tolerationSeconds` is set"},
        // herd.io annotations
        {"bad backoff duration", false, [](json &d) { d["metadata"]["annotations"] = {{"herd.io/backoff-initial", "10"}}; },
         "metadata.annotations[\"herd.io/backoff-initial\"]: invalid duration \"10\""},
        {"bad backoff in template", true,
         [](json &d) { d["spec"]["template"]["metadata"]["annotations"] = {{"herd.io/backoff-max", "5 minutes"}}; },
         "spec.template.metadata.annotations[\"herd.io/backoff-max\"]: invalid duration"},
        {"zero backoff reset", false, [](json &d) { d["metadata"]["annotations"] = {{"herd.io/backoff-reset", "0"}}; },
         "metadata.annotations[\"herd.io/backoff-reset\"]: must be a positive duration"},
        {"bad log size", false, [](json &d) { d["metadata"]["annotations"] = {{"herd.io/log-max-bytes", "1XB"}}; },
         "metadata.annotations[\"herd.io/log-max-bytes\"]: invalid quantity \"1XB\""},
        {"misspelt herd annotation", false, [](json &d) { d["metadata"]["annotations"] = {{"herd.io/backof-max", "5s"}}; },
         "metadata.annotations[\"herd.io/backof-max\"]: unknown herd.io annotation"},
    };
    return cases;
}

TEST(HerdManifestRejects, EachWithItsFieldPath) {
    for (const Bad &b : bad_cases()) {
        json doc = b.deployment ? minimal_deployment() : minimal_pod();
        b.edit(doc);
        std::string msg = rejection(doc);
        EXPECT_CONTAINS(msg, b.expected) << " (case: " << b.what << ")";
        EXPECT_EQ(msg.rfind("t.yaml:", 0), 0u) << b.what << ": " << msg;
    }
}

TEST(HerdManifestRejects, MessageNamesFileDocumentObjectAndLine) {
    std::string yaml = R"(apiVersion: v1
kind: Pod
metadata:
  name: ok
spec:
  containers:
  - name: c
    image: img
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: three
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: img
)";
    auto r = parse_manifests(yaml, "web.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(), "web.yaml:15: document 2 (Deployment web): spec.replicas: expected integer, got string");

    std::string unknown = yaml;
    unknown.replace(unknown.find("replicas: three"), 15, "replicas: 3");
    unknown.replace(unknown.find("        image: img\n", 200), 19, "        image: img\n        imagePullSecret: x\n");
    r = parse_manifests(unknown, "web.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(), "web.yaml:25: document 2 (Deployment web): "
                                   "unknown field \"spec.template.spec.containers[0].imagePullSecret\"");
}

TEST(HerdManifestRejects, MissingFieldPointsAtItsParent) {
    std::string yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n";
    auto r = parse_manifests(yaml, "p.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(), "p.yaml:7: document 1 (Pod p): spec.containers[0].image: required");
}

TEST(HerdManifestRejects, Yaml11BooleansAsKubernetesReadsThem) {
    // go-yaml v2 (Kubernetes) reads a plain `yes` as a boolean: kubectl
    // rejects it in a string field, and so does herd. Quoted, it is a string.
    std::string yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
                       "  - name: c\n    image: img\n    env:\n    - name: DEBUG\n      value: yes\n";
    auto r = parse_manifests(yaml, "b.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(),
              "b.yaml:11: document 1 (Pod p): spec.containers[0].env[0].value: expected string, got boolean");
    yaml.replace(yaml.find("value: yes"), 10, "value: \"yes\"");
    r = parse_manifests(yaml, "b.yaml");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ((*r)[0].pod->spec.containers[0].env[0].value, "yes");
    // And `hostNetwork: on` is true.
    r = parse_manifests("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostNetwork: on\n"
                        "  containers: [{name: c, image: img}]\n",
                        "h.yaml");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_TRUE((*r)[0].pod->spec.host_network);
}

TEST(HerdManifestRejects, InvalidYaml) {
    auto r = parse_manifests("apiVersion: v1\nkind: [Pod\n", "bad.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_CONTAINS(r.error().message(), "bad.yaml:");
    EXPECT_CONTAINS(r.error().message(), "invalid YAML");
}

TEST(HerdManifestRejects, DuplicateYamlKey) {
    auto r = parse_manifests("apiVersion: v1\nkind: Pod\nkind: Pod\n", "dup.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(), "dup.yaml:3: document 1: kind: duplicate key");
}

TEST(HerdManifestRejects, NotAMapping) {
    auto r = parse_manifests("- a\n- b\n", "list.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_CONTAINS(r.error().message(), "list.yaml:1: document 1: expected a Kubernetes object");
}

TEST(HerdManifestRejects, DuplicateObjectsNothingReturned) {
    std::string two = minimal_pod().dump() + "\n---\n" + minimal_deployment().dump() + "\n---\n" + minimal_pod().dump();
    auto r = parse_manifests(two, "dup.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(), "dup.yaml: document 3: duplicate Pod default/p (also in dup.yaml: document 1)");

    // Same name, another namespace or another kind: not a duplicate.
    json other_ns = minimal_pod();
    other_ns["metadata"]["namespace"] = "prod";
    json same_name_deploy = minimal_deployment();
    same_name_deploy["metadata"]["name"] = "p";
    auto ok = parse_manifests(minimal_pod().dump() + "\n---\n" + other_ns.dump() + "\n---\n" + same_name_deploy.dump(),
                              "ok.yaml");
    EXPECT_TRUE(ok.ok()) << ok.error().message();
}

TEST(HerdManifestRejects, DuplicatesAcrossFilesOfADirectory) {
    auto dir = std::filesystem::temp_directory_path() / ("herd-manifest-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    for (const char *name : {"one.yaml", "two.yml"}) {
        FILE *f = std::fopen((dir / name).c_str(), "w");
        std::fputs(minimal_pod().dump().c_str(), f);
        std::fclose(f);
    }
    auto r = load_manifests(dir.string());
    std::filesystem::remove_all(dir);
    ASSERT_FALSE(r.ok());
    EXPECT_CONTAINS(r.error().message(), "two.yml: document 1: duplicate Pod default/p (also in ");
    EXPECT_CONTAINS(r.error().message(), "one.yaml: document 1)");
}

// --- --ignore-unknown ----------------------------------------------------------------

TEST(HerdManifest, IgnoreUnknownDropsUnknownFields) {
    json doc = minimal_deployment();
    doc["spec"]["paused"] = false;
    tspec(doc)["dnsPolicy"] = "ClusterFirst";
    tspec(doc)["containers"][0]["imagePullSecret"] = "x";
    tspec(doc)["containers"][0]["resources"] = {{"limits", {{"memory", "64Mi"}, {"ephemeral-storage", "1Gi"}}}};
    EXPECT_NE(rejection(doc), "<accepted>");  // strict: the first of them is the error
    doc["metadata"]["annotations"] = {{"herd.io/future-setting", "1"}};

    auto r = parse_manifests(doc.dump(), "t.yaml", ParseOptions{.ignore_unknown = true});
    ASSERT_TRUE(r.ok()) << r.error().message();
    const Deployment &d = *(*r)[0].deployment;
    EXPECT_EQ(d.spec.template_.spec.containers[0].resources.memory_limit_bytes, 64 << 20);
    json out = to_json(d);
    EXPECT_FALSE(out["spec"].contains("paused"));
    EXPECT_FALSE(out["spec"]["template"]["spec"].contains("dnsPolicy"));
    EXPECT_EQ(out["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"].size(), 1u);

    // Invalid values of known fields are still errors.
    tspec(doc)["containers"][0]["image"] = "";
    EXPECT_CONTAINS(rejection(doc, ParseOptions{.ignore_unknown = true}),
                    "spec.template.spec.containers[0].image: required");
}

// --- JSON round trips ------------------------------------------------------------------

TEST(HerdManifestJson, DeploymentRoundTrip) {
    auto objects = load_manifests(data_dir() + "/web-deployment.yaml");
    ASSERT_TRUE(objects.ok()) << objects.error().message();
    Deployment d = *(*objects)[0].deployment;
    d.metadata.uid = "0b7c9d3e-uid";
    d.metadata.creation_timestamp = "2026-11-23T18:30:00Z";
    json first = to_json(d);
    EXPECT_EQ(first["apiVersion"], "apps/v1");
    EXPECT_EQ(first["kind"], "Deployment");
    EXPECT_EQ(first["metadata"]["uid"], "0b7c9d3e-uid");
    EXPECT_EQ(first["spec"]["strategy"]["rollingUpdate"]["maxSurge"], 1);
    auto &c = first["spec"]["template"]["spec"]["containers"][0];
    EXPECT_EQ(c["readinessProbe"]["tcpSocket"]["port"], 8080);
    EXPECT_EQ(c["resources"]["limits"]["cpu"], "1");
    EXPECT_EQ(c["resources"]["requests"]["memory"], "64Mi");

    auto back = deployment_from_json(first);
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(back->metadata.uid, "0b7c9d3e-uid");  // the wire keeps what serve assigned
    EXPECT_EQ(to_json(*back), first);
    EXPECT_EQ(template_hash(back->spec.template_), template_hash(d.spec.template_));
}

TEST(HerdManifestJson, PodRoundTrip) {
    json doc = minimal_pod();
    doc["spec"]["restartPolicy"] = "OnFailure";
    doc["spec"]["hostNetwork"] = true;
    doc["spec"]["nodeSelector"] = {{"disk", "ssd"}};
    doc["spec"]["tolerations"] = {{{"key", "k"}, {"value", "v"}, {"effect", "NoExecute"}, {"tolerationSeconds", 30}}};
    c0(doc)["ports"] = {{{"containerPort", 53}, {"protocol", "UDP"}, {"name", "dns"}}};
    c0(doc)["env"] = {{{"name", "A"}, {"value", ""}}};
    c0(doc)["livenessProbe"] = {{"httpGet", {{"port", "dns"}, {"host", "127.0.0.1"}}}, {"timeoutSeconds", 3}};
    c0(doc)["resources"] = {{"requests", {{"cpu", 0.5}}}};
    auto pod = pod_from_json(doc);
    ASSERT_TRUE(pod.ok()) << pod.error().message();
    EXPECT_EQ(pod->spec.containers[0].resources.cpu_request_millis, 500);
    json first = to_json(*pod);
    EXPECT_EQ(first["spec"]["containers"][0]["ports"][0]["hostPort"], 53);
    EXPECT_EQ(first["spec"]["containers"][0]["livenessProbe"]["httpGet"]["path"], "/");
    auto back = pod_from_json(first);
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(to_json(*back), first);
    EXPECT_EQ(to_json(back->spec), first["spec"]);
}

TEST(HerdManifestJson, WireFormErrorsNameTheSource) {
    json doc = minimal_pod();
    c0(doc)["bogus"] = 1;
    auto r = pod_from_json(doc, "agent apply_pod");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(), "agent apply_pod: unknown field \"spec.containers[0].bogus\"");
    // The wire may leave out apiVersion/kind (list_pods sends {metadata, spec, status}).
    doc = minimal_pod();
    doc.erase("apiVersion");
    doc.erase("kind");
    doc["status"] = {{"phase", "Running"}};
    EXPECT_TRUE(pod_from_json(doc).ok());
    doc["kind"] = "Deployment";
    EXPECT_FALSE(pod_from_json(doc).ok());
}

// --- YAML output --------------------------------------------------------------------------

TEST(HerdManifestYaml, KubectlLikeBlockStyle) {
    json doc = minimal_pod();
    c0(doc)["args"] = {"sleep", "inf"};
    std::string y = to_yaml(doc);
    EXPECT_EQ(y, "apiVersion: v1\n"
                 "kind: Pod\n"
                 "metadata:\n"
                 "  name: p\n"
                 "spec:\n"
                 "  containers:\n"
                 "  - args:\n"
                 "    - sleep\n"
                 "    - inf\n"
                 "    image: img\n"
                 "    name: c\n");
}

TEST(HerdManifestYaml, QuotesWhatWouldReadBackAsAnotherType) {
    json v = {{"a", "true"}, {"b", "yes"}, {"c", "1e3"}, {"d", "0x1F"}, {"e", "2026-11-23T18:30:00Z"},
              {"f", ""},     {"g", "a: b"}, {"h", "- x"}, {"i", "line\nbreak"}, {"j", "500m"},
              {"k", "256Mi"}, {"l", "null"}, {"m", " lead"}, {"n", json::array()}, {"o", json::object()},
              {"p", 3},      {"q", 1.5},    {"r", false}, {"s", nullptr}, {"t", "3"}};
    std::string y = to_yaml(v);
    for (const char *line : {"a: \"true\"\n", "b: \"yes\"\n", "c: \"1e3\"\n", "d: \"0x1F\"\n",
                             "e: \"2026-11-23T18:30:00Z\"\n", "f: \"\"\n", "g: \"a: b\"\n", "h: \"- x\"\n",
                             "i: \"line\\nbreak\"\n", "j: 500m\n", "k: 256Mi\n", "l: \"null\"\n", "m: \" lead\"\n",
                             "\"n\": []\n", "o: {}\n", "p: 3\n", "q: 1.5\n", "r: false\n", "s: null\n", "t: \"3\"\n"})
        EXPECT_CONTAINS(y, line);
}

TEST(HerdManifestYaml, ReadsBackToTheSameObjects) {
    auto objects = load_manifests(data_dir() + "/web-deployment.yaml");
    ASSERT_TRUE(objects.ok()) << objects.error().message();
    json first = to_json(*(*objects)[0].deployment);
    std::string y = to_yaml(first);
    auto again = parse_manifests(y, "out.yaml");
    ASSERT_TRUE(again.ok()) << again.error().message() << "\n" << y;
    EXPECT_EQ(to_json(*(*again)[0].deployment), first);

    json nested = {{"list", {json::array({1, 2}), json::object({{"k", json::array({"x"})}})}}};
    auto reparsed = parse_manifests(to_yaml(nested), "n.yaml");  // not an object herd knows, but valid YAML
    ASSERT_FALSE(reparsed.ok());
    EXPECT_CONTAINS(reparsed.error().message(), "apiVersion: required");
}

// --- template hash -------------------------------------------------------------------------

TEST(HerdTemplateHash, StableAndSensitive) {
    auto d = deployment_from_json(minimal_deployment());
    ASSERT_TRUE(d.ok()) << d.error().message();
    PodTemplate t = d->spec.template_;
    std::string h = template_hash(t);
    EXPECT_EQ(h.size(), 10u);
    EXPECT_EQ(h.find_first_not_of("bcdfghjklmnpqrstvwxz2456789"), std::string::npos) << h;
    // A fixed value: the hash must not change between herd versions, or a
    // restarted serve would see every Deployment as edited and roll it.
    EXPECT_EQ(h, template_hash(t));
    EXPECT_EQ(h, "psfqzghthr") << "update this constant only with a migration note";

    PodTemplate labelled = t;
    labelled.metadata.labels["pod-template-hash"] = h;  // stamping the label keeps the hash
    EXPECT_EQ(template_hash(labelled), h);

    PodTemplate edited = t;
    edited.spec.containers[0].image = "img:v2";
    EXPECT_NE(template_hash(edited), h);
    PodTemplate env = t;
    env.spec.containers[0].env.push_back({"A", "1"});
    EXPECT_NE(template_hash(env), h);

    // Replicas and strategy are not part of the template.
    json scaled = minimal_deployment();
    scaled["spec"]["replicas"] = 7;
    scaled["spec"]["strategy"] = {{"type", "Recreate"}};
    EXPECT_EQ(template_hash(deployment_from_json(scaled)->spec.template_), h);
}

} // namespace

// yaml-cpp 0.7 spins without end on some invalid text (found by
// tests/fuzz/herd_manifest_fuzz.cpp): such bytes are refused first, with the
// file and line.
TEST(ManifestText, InvalidUtf8AndControlBytesAreRefusedWithTheLine) {
    using corral::herd::parse_manifests;
    auto bad = parse_manifests("apiVersion: v1\nkind: Pod\nmetadata:\n  name: \xff\xff\n", "m.yaml");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(), "m.yaml:4: invalid YAML: byte 0xFF is not valid UTF-8");
    auto ctl = parse_manifests(std::string("apiVersion: v1\nkind: Pod\x01\n"), "m.yaml");
    ASSERT_FALSE(ctl);
    EXPECT_EQ(ctl.error().message(), "m.yaml:2: invalid YAML: byte 0x01 is a control character");
    // Valid UTF-8 beyond ASCII is fine where YAML allows it.
    auto ok = parse_manifests("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n    note: \"caf\xc3\xa9\"\n"
                              "spec:\n  containers:\n  - name: c\n    image: i\n",
                              "m.yaml");
    EXPECT_TRUE(ok) << ok.error().message();
}

// yaml-cpp 0.7's LoadAll spins forever on some malformed streams (found by
// herd_manifest_fuzz); herd splits the stream itself and must return an
// error at once, with the line counted in the whole file.
TEST(HerdManifestStream, MalformedFlowFoundByTheFuzzerReturns) {
    // yaml-cpp reads this text as an empty document: no objects, and above
    // all no hang. (herd apply then says that the file holds no objects.)
    std::string text = "# TPerioontainers:\n       ,- name: main\n          ima:geep\", \"inf\"]";
    auto r = parse_manifests(text, "fuzz.yaml");
    EXPECT_TRUE(!r.ok() || r->empty());
    r = parse_manifests("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n"
                        "---\n,\n",
                        "two.yaml");
    ASSERT_TRUE(!r.ok() || r->size() == 1);
}

TEST(HerdManifestStream, DocumentMarkersAndLinesAcrossTheStream) {
    std::string pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: NAME\nspec:\n  containers:\n  - name: c\n    image: i\n";
    auto named = [&](const std::string &n) { return pod.substr(0, pod.find("NAME")) + n + pod.substr(pod.find("NAME") + 4); };
    // A leading `---`, comments between documents, `...`, and a document
    // that starts on its marker line.
    std::string text = "# web\n---\n" + named("a") + "...\n# between\n---\n" + named("b") + "--- {apiVersion: v1, kind: Pod, "
                       "metadata: {name: c}, spec: {containers: [{name: c, image: i}]}}\n---\n";
    auto r = parse_manifests(text, "s.yaml");
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ((*r)[0].metadata().name, "a");
    EXPECT_EQ((*r)[1].metadata().name, "b");
    EXPECT_EQ((*r)[2].metadata().name, "c");
    EXPECT_EQ((*r)[2].source, "s.yaml: document 3");

    // An error in the second document is reported at its line in the file.
    std::string bad = named("a") + "---\n" + named("b");
    bad.replace(bad.rfind("image: i"), 8, "image: [i]");
    r = parse_manifests(bad, "l.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(), "l.yaml:17: document 2 (Pod b): spec.containers[0].image: expected string, got array");
}
