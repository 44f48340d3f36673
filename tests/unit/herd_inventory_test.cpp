// The pool's inventory (src/herd/inventory.hpp): every field read, and every
// bad field named with the file, line, node and field.
#include "herd/inventory.hpp"

#include "common/fs.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <unistd.h>

using namespace corral;
using namespace corral::herd;

namespace {

const char *kFull = R"(apiVersion: herd.io/v1
kind: Inventory
nodes:
  - name: node1
    ssh: root@10.77.0.11:2222
    identityFile: /keys/id_ed25519
    proxyJump: admin@bastion:22
    knownHostsFile: /keys/known_hosts
    hostKeyPolicy: accept-new
    labels:
      zone: a
      herd.io/gpu: "true"
    taints:
      - {key: dedicated, value: db, effect: NoSchedule}
      - {key: flaky, effect: NoExecute}
    reserved: {cpu: 500m, memory: 256Mi}
    binDir: /opt/herd/bin
    stateDir: /srv/herd
    cgroupRoot: /herd-node1
    sourceDir: /build/arm64
  - name: edge.example
    ssh: edge
)";

// The message of the error parse_inventory gives for text.
std::string error_of(const std::string &text) {
    auto inv = parse_inventory(text, "pool.yaml");
    if (inv) return "(parsed)";
    EXPECT_EQ(inv.error().kind(), ErrorKind::invalid) << inv.error().message();
    return inv.error().message();
}

std::string one_node(const std::string &extra) {
    return "nodes:\n  - name: node1\n    ssh: root@10.0.0.1\n" + extra;
}

} // namespace

TEST(HerdInventory, ReadsEveryField) {
    auto inv = parse_inventory(kFull, "pool.yaml");
    ASSERT_TRUE(inv) << inv.error().message();
    ASSERT_EQ(inv->nodes.size(), 2u);
    const InventoryNode &n = inv->nodes[0];
    EXPECT_EQ(n.name, "node1");
    EXPECT_EQ(n.line, 4);
    EXPECT_EQ(n.dest.user, "root");
    EXPECT_EQ(n.dest.host, "10.77.0.11");
    EXPECT_EQ(n.dest.port, 2222);
    EXPECT_EQ(n.dest.target(), "root@10.77.0.11");
    EXPECT_EQ(n.identity_file, "/keys/id_ed25519");
    EXPECT_EQ(n.proxy_jump, "admin@bastion:22");
    EXPECT_EQ(n.known_hosts_file, "/keys/known_hosts");
    EXPECT_EQ(n.host_key_policy, HostKeyPolicy::accept_new);
    EXPECT_EQ(n.labels.at("zone"), "a");
    EXPECT_EQ(n.labels.at("herd.io/gpu"), "true");
    ASSERT_EQ(n.taints.size(), 2u);
    EXPECT_EQ(n.taints[0].key, "dedicated");
    EXPECT_EQ(n.taints[0].value, "db");
    EXPECT_EQ(n.taints[0].effect, "NoSchedule");
    EXPECT_EQ(n.taints[1].value, "");
    EXPECT_EQ(n.taints[1].effect, "NoExecute");
    EXPECT_EQ(n.reserved_cpu_millis, 500);
    EXPECT_EQ(n.reserved_memory_bytes, 256 << 20);
    EXPECT_EQ(n.bin_dir, "/opt/herd/bin");
    EXPECT_EQ(n.state_dir, "/srv/herd");
    EXPECT_EQ(n.cgroup_root, "/herd-node1");
    EXPECT_EQ(n.source_dir, "/build/arm64");

    // A Host alias alone, and the defaults.
    const InventoryNode &e = inv->nodes[1];
    EXPECT_EQ(e.dest.host, "edge");
    EXPECT_EQ(e.dest.user, "");
    EXPECT_EQ(e.dest.port, 0);
    EXPECT_EQ(e.host_key_policy, HostKeyPolicy::strict);
    EXPECT_EQ(e.bin_dir, "/usr/local/bin");
    EXPECT_EQ(e.state_dir, "/var/lib/herd");
    EXPECT_EQ(e.cgroup_root, "/herd");
    EXPECT_TRUE(e.labels.empty());
    EXPECT_EQ(inv->find("edge.example"), &inv->nodes[1]);
    EXPECT_EQ(inv->find("node9"), nullptr);
}

TEST(HerdInventory, EmptyPoolAndEmptyFile) {
    auto inv = parse_inventory("nodes: []\n", "pool.yaml");
    ASSERT_TRUE(inv) << inv.error().message();
    EXPECT_TRUE(inv->nodes.empty());
    EXPECT_EQ(error_of(""), "pool.yaml: nodes: the file is empty: it needs a list of nodes");
}

TEST(HerdInventory, TyposInFieldNamesAreNamedWithAHint) {
    EXPECT_EQ(error_of(one_node("    identityFle: /k\n")),
              "pool.yaml:4: node \"node1\": identityFle: unknown field (did you mean \"identityFile\"?)");
    EXPECT_EQ(error_of(one_node("    lables: {a: b}\n")),
              "pool.yaml:4: node \"node1\": lables: unknown field (did you mean \"labels\"?)");
    EXPECT_EQ(error_of(one_node("    colour: red\n")), "pool.yaml:4: node \"node1\": colour: unknown field");
    EXPECT_EQ(error_of("nodse: []\n"), "pool.yaml:1: nodse: unknown field (did you mean \"nodes\"?)");
    EXPECT_EQ(error_of(one_node("    taints: [{key: a, efect: NoSchedule}]\n")),
              "pool.yaml:4: node \"node1\": taints[0].efect: unknown field (did you mean \"effect\"?)");
    EXPECT_EQ(error_of(one_node("    reserved: {cpus: 1}\n")),
              "pool.yaml:4: node \"node1\": reserved.cpus: unknown field (did you mean \"cpu\"?)");
}

TEST(HerdInventory, EveryBadFieldIsNamed) {
    struct Case {
        std::string text, message;
    };
    const Case cases[] = {
        {"nodes: {a: b}\n", "pool.yaml:1: nodes: must be a list"},
        {"- a\n", "pool.yaml:1: must be a mapping with a `nodes` list"},
        {"kind: Pod\nnodes: []\n", "pool.yaml:1: kind: must be Inventory, got \"Pod\""},
        {"apiVersion: v1\nnodes: []\n", "pool.yaml:1: apiVersion: must be herd.io/v1, got \"v1\""},
        {"nodes:\n  - just-a-string\n", "pool.yaml:2: nodes[0]: must be a mapping with name and ssh"},
        {"nodes:\n  - ssh: a@b\n", "pool.yaml:2: nodes[0].name: required"},
        {"nodes:\n  - name: Node_1\n    ssh: a@b\n",
         "pool.yaml:2: nodes[0].name: \"Node_1\" is not a valid node name (lower-case letters, digits, '-' and '.', "
         "starting and ending with a letter or digit, at most 253)"},
        {"nodes:\n  - name: [a]\n    ssh: a@b\n", "pool.yaml:2: nodes[0].name: must be a string"},
        {"nodes:\n  - name: node1\n", "pool.yaml:2: node \"node1\": ssh: required: [user@]host[:port] or a Host alias of ~/.ssh/config"},
        {one_node("").replace(one_node("").find("root@10.0.0.1"), 13, "root@10.0.0.1:99999"),
         "pool.yaml:3: node \"node1\": ssh: \"root@10.0.0.1:99999\": port 99999 is out of 1-65535"},
        {one_node("").replace(one_node("").find("root@10.0.0.1"), 13, "root@h:ssh"),
         "pool.yaml:3: node \"node1\": ssh: \"root@h:ssh\": port \"ssh\" is not a number"},
        {one_node("").replace(one_node("").find("root@10.0.0.1"), 13, "\"h; rm -rf /\""),
         "pool.yaml:3: node \"node1\": ssh: \"h; rm -rf /\" holds spaces or shell characters"},
        {one_node("").replace(one_node("").find("root@10.0.0.1"), 13, "ssh://h"),
         "pool.yaml:3: node \"node1\": ssh: write \"h\", without ssh://"},
        {one_node("").replace(one_node("").find("root@10.0.0.1"), 13, "fe80::1"),
         "pool.yaml:3: node \"node1\": ssh: \"fe80::1\": an IPv6 address goes in brackets: [addr]:port"},
        {one_node("").replace(one_node("").find("root@10.0.0.1"), 13, "\"-oProxyCommand=x\""),
         "pool.yaml:3: node \"node1\": ssh: \"-oProxyCommand=x\": a host cannot start with '-'"},
        {one_node("    identityFile: \"\"\n"), "pool.yaml:4: node \"node1\": identityFile: must not be empty"},
        {one_node("    identityFile: {a: b}\n"), "pool.yaml:4: node \"node1\": identityFile: must be a string"},
        {one_node("    proxyJump: \"a b\"\n"), "pool.yaml:4: node \"node1\": proxyJump: must be [user@]host[:port][,...] without spaces"},
        {one_node("    hostKeyPolicy: acept-new\n"),
         "pool.yaml:4: node \"node1\": hostKeyPolicy: must be strict or accept-new, got \"acept-new\""},
        {one_node("    hostKeyPolicy: no\n"), "pool.yaml:4: node \"node1\": hostKeyPolicy: must be strict or accept-new, got \"no\""},
        {one_node("    labels: [a]\n"), "pool.yaml:4: node \"node1\": labels: must be a mapping of key: value"},
        {one_node("    labels: {\"-bad\": x}\n"), "pool.yaml:4: node \"node1\": labels.-bad: not a valid label key"},
        {one_node("    labels: {zone: \"a b\"}\n"), "pool.yaml:4: node \"node1\": labels.zone: \"a b\" is not a valid label value"},
        {one_node("    taints: {key: a}\n"), "pool.yaml:4: node \"node1\": taints: must be a list of {key, value, effect}"},
        {one_node("    taints: [a]\n"), "pool.yaml:4: node \"node1\": taints[0]: must be a mapping {key, value, effect}"},
        {one_node("    taints: [{effect: NoSchedule}]\n"), "pool.yaml:4: node \"node1\": taints[0].key: required"},
        {one_node("    taints: [{key: a}]\n"),
         "pool.yaml:4: node \"node1\": taints[0].effect: required: NoSchedule, PreferNoSchedule or NoExecute"},
        {one_node("    taints: [{key: a, effect: NoSchedul}]\n"),
         "pool.yaml:4: node \"node1\": taints[0].effect: must be NoSchedule, PreferNoSchedule or NoExecute, got \"NoSchedul\""},
        {one_node("    taints: [{key: \"a b\", effect: NoSchedule}]\n"),
         "pool.yaml:4: node \"node1\": taints[0].key: \"a b\" is not a valid taint key"},
        {one_node("    taints: [{key: a, value: \"x y\", effect: NoSchedule}]\n"),
         "pool.yaml:4: node \"node1\": taints[0].value: \"x y\" is not a valid taint value"},
        {one_node("    reserved: 1\n"), "pool.yaml:4: node \"node1\": reserved: must be a mapping {cpu, memory}"},
        {one_node("    reserved: {cpu: lots}\n"), "pool.yaml:4: node \"node1\": reserved.cpu: \"lots\" is not a CPU quantity (500m, 1, 1.5)"},
        {one_node("    reserved: {memory: 12Q}\n"),
         "pool.yaml:4: node \"node1\": reserved.memory: \"12Q\" is not a memory quantity (256Mi, 1Gi, 500M)"},
        {one_node("    binDir: bin\n"), "pool.yaml:4: node \"node1\": binDir: must be an absolute path, got \"bin\""},
        {one_node("    stateDir: \"/a b\"\n"),
         "pool.yaml:4: node \"node1\": stateDir: must be a plain path (no spaces or shell characters), got \"/a b\""},
        {one_node("    cgroupRoot: herd\n"), "pool.yaml:4: node \"node1\": cgroupRoot: must be an absolute path, got \"herd\""},
        {one_node("  - name: node1\n    ssh: b\n"), "pool.yaml:4: node \"node1\": name: a second node of this name (names are unique)"},
        {"nodes:\n  - name: a\n    ssh: [b\n", "pool.yaml:4: not valid YAML: end of sequence flow not found"},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.text);
        EXPECT_EQ(error_of(c.text), c.message);
    }
}

TEST(HerdInventory, SshDestinations) {
    auto d = parse_ssh_destination("[fe80::1]:2200");
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_EQ(d->host, "fe80::1");
    EXPECT_EQ(d->port, 2200);
    d = parse_ssh_destination("me@host.example");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->target(), "me@host.example");
    EXPECT_EQ(d->port, 0);
    EXPECT_FALSE(parse_ssh_destination("@host"));
    EXPECT_FALSE(parse_ssh_destination("user@"));
    EXPECT_FALSE(parse_ssh_destination("host:"));
    EXPECT_FALSE(parse_ssh_destination("[::1"));
    EXPECT_FALSE(parse_ssh_destination("[::1]x"));
}

TEST(HerdInventory, WrittenBackAndReadAgainIsTheSame) {
    auto inv = parse_inventory(kFull, "pool.yaml");
    ASSERT_TRUE(inv);
    std::string yaml = inventory_to_yaml(*inv);
    auto again = parse_inventory(yaml, "pool.yaml");
    ASSERT_TRUE(again) << again.error().message() << "\n" << yaml;
    EXPECT_EQ(inventory_to_yaml(*again), yaml);
    ASSERT_EQ(again->nodes.size(), 2u);
    const InventoryNode &n = again->nodes[0];
    EXPECT_EQ(n.dest.port, 2222);
    EXPECT_EQ(n.labels.at("herd.io/gpu"), "true");
    EXPECT_EQ(n.taints.size(), 2u);
    EXPECT_EQ(n.reserved_cpu_millis, 500);
    EXPECT_EQ(n.reserved_memory_bytes, 256 << 20);
    EXPECT_EQ(n.host_key_policy, HostKeyPolicy::accept_new);
    EXPECT_EQ(n.cgroup_root, "/herd-node1");
    EXPECT_EQ(inventory_to_yaml(Inventory{}), "# herd inventory (docs/herd-pool.md)\nnodes: []\n");
}

TEST(HerdInventory, LoadAndSaveAFile) {
    char tmpl[] = "/tmp/herd-inventory-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    std::string path = dir + "/inventory.yaml";
    auto missing = load_inventory(path);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind(), ErrorKind::not_found);
    EXPECT_NE(missing.error().message().find(path), std::string::npos);

    Inventory inv;
    inv.path = path;
    InventoryNode n;
    n.name = "node1";
    n.ssh = "root@10.0.0.1";
    n.dest = *parse_ssh_destination(n.ssh);
    n.labels["zone"] = "a";
    ASSERT_TRUE(check_new_node(inv, n));
    inv.nodes.push_back(n);
    auto again = check_new_node(inv, n);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().kind(), ErrorKind::already_exists);
    n.name = "Bad_Name";
    EXPECT_FALSE(check_new_node(inv, n));
    ASSERT_TRUE(save_inventory(inv));
    auto loaded = load_inventory(path);
    ASSERT_TRUE(loaded) << loaded.error().message();
    ASSERT_EQ(loaded->nodes.size(), 1u);
    EXPECT_EQ(loaded->nodes[0].labels.at("zone"), "a");
    ASSERT_TRUE(write_file(path, "nodes:\n  - name: x\n    ssh: a\n    hostKeyPolicy: maybe\n"));
    auto bad = load_inventory(path);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(), path + ":4: node \"x\": hostKeyPolicy: must be strict or accept-new, got \"maybe\"");
    ASSERT_TRUE(remove_tree(dir));
}
