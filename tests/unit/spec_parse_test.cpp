// Tests of parse_spec / parse_process / load_spec / default_spec_json:
// every field family read into the typed structs, and every kind of bad
// input reported with the JSON path of the field.
#include "corral/spec.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace corral;
using namespace corral::spec;
using nlohmann::json;

namespace {

std::filesystem::path data_dir() {
    return std::filesystem::path(__FILE__).parent_path() / "data" / "spec";
}

std::string read_fixture(const std::string &name) {
    std::ifstream in(data_dir() / name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Parse, expecting failure; return the message.
std::string parse_error(std::string_view text) {
    auto r = parse_spec(text);
    if (r) return "<parsed fine>";
    return r.error().message();
}

std::string parse_error_json(const json &j) { return parse_error(std::string_view(j.dump())); }

json full_json() { return json::parse(read_fixture("full.json")); }

} // namespace

// --- runc's own output -------------------------------------------------------

TEST(DefaultSpec, ParsesAndValidates) {
    for (bool rootless : {false, true}) {
        SCOPED_TRACE(rootless ? "rootless" : "root");
        auto r = parse_spec(default_spec_json(rootless));
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_TRUE(validate_spec(*r)) << validate_spec(*r).error().message();
        EXPECT_TRUE(spec_warnings(*r).empty());
        EXPECT_EQ(r->oci_version, "1.2.0");
        EXPECT_EQ(r->process->args, std::vector<std::string>{"sh"});
        EXPECT_EQ(r->mounts.size(), 7u);
        EXPECT_EQ(r->find_namespace("user") != nullptr, rootless);
        EXPECT_EQ(r->find_namespace("network") != nullptr, !rootless);
        EXPECT_EQ(r->linux->resources.has_value(), !rootless);
    }
}

// The text `runc spec` (1.1) writes, with our version: tabs, member order,
// no trailing newline, and the same document as runc's copied below. The
// byte-for-byte comparison with a live runc is Binary.SpecIsWhatLiveRuncSpecWrites.
TEST(DefaultSpec, SameTextShapeAndDocumentAsRunc11) {
    std::string ours = default_spec_json(false);
    EXPECT_EQ(ours.rfind("{\n\t\"ociVersion\": \"1.2.0\",\n\t\"process\": {\n\t\t\"terminal\": true,", 0), 0u);
    EXPECT_EQ(ours.back(), '}');
    EXPECT_NE(ours.find("\t\t\t\t\"ptmxmode=0666\",\n\t\t\t\t\"mode=0620\",\n\t\t\t\t\"gid=5\"\n"), std::string::npos);
    EXPECT_NE(ours.find("\"hostname\": \"runc\""), std::string::npos);
    // Same document as runc's (parsed, so whitespace cannot hide a difference).
    json runc = json::parse(R"({"ociVersion":"1.0.2-dev","process":{"terminal":true,"user":{"uid":0,"gid":0},
      "args":["sh"],"env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","TERM=xterm"],
      "cwd":"/","capabilities":{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],
      "effective":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],
      "permitted":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],
      "ambient":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"]},
      "rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"noNewPrivileges":true},
      "root":{"path":"rootfs","readonly":true},"hostname":"runc","mounts":[
      {"destination":"/proc","type":"proc","source":"proc"},
      {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
      {"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
      {"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]},
      {"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]},
      {"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]},
      {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]}],
      "linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}]},
      "namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}],
      "maskedPaths":["/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list",
      "/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"],
      "readonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}})");
    runc["ociVersion"] = "1.2.0";
    EXPECT_EQ(json::parse(ours), runc);
}

TEST(DefaultSpec, RootlessMapsTheCallingUser) {
    json j = json::parse(default_spec_json(true));
    EXPECT_EQ(j["linux"]["uidMappings"][0]["hostID"], geteuid());
    EXPECT_EQ(j["linux"]["gidMappings"][0]["hostID"], getegid());
    EXPECT_EQ(j["mounts"][5]["source"], "/sys");
    EXPECT_EQ(j["mounts"][2]["options"].size(), 5u); // no gid=5
    EXPECT_FALSE(j["linux"].contains("resources"));
}

// --- every field family --------------------------------------------------------

TEST(ParseSpec, FullConfigEveryField) {
    auto r = parse_spec(read_fixture("full.json"));
    ASSERT_TRUE(r) << r.error().message();
    const Spec &s = *r;
    EXPECT_EQ(s.oci_version, "1.2.0");
    ASSERT_TRUE(s.root);
    EXPECT_EQ(s.root->path, "rootfs");
    EXPECT_TRUE(s.root->readonly);
    EXPECT_EQ(s.hostname, "slartibartfast");
    EXPECT_EQ(s.domainname, "example.test");
    EXPECT_EQ(s.annotations.at("com.example.key1"), "value1");
    EXPECT_EQ(s.annotations.at("com.example.empty"), "");

    // mounts
    ASSERT_EQ(s.mounts.size(), 3u);
    EXPECT_EQ(s.mounts[0].destination, "/proc");
    EXPECT_TRUE(s.mounts[0].options.empty());
    EXPECT_EQ(s.mounts[1].options[3], "size=65536k");
    const Mount &m = s.mounts[2];
    EXPECT_EQ(m.type, "none");
    EXPECT_EQ(m.source, "/volumes/testing");
    ASSERT_EQ(m.uid_mappings.size(), 1u);
    EXPECT_EQ(m.uid_mappings[0].container_id, 0u);
    EXPECT_EQ(m.uid_mappings[0].host_id, 100000u);
    EXPECT_EQ(m.uid_mappings[0].size, 65536u);
    EXPECT_EQ(m.gid_mappings[0].host_id, 200000u);

    // process
    ASSERT_TRUE(s.process);
    const Process &p = *s.process;
    EXPECT_TRUE(p.terminal);
    ASSERT_TRUE(p.console_size);
    EXPECT_EQ(p.console_size->height, 25u);
    EXPECT_EQ(p.console_size->width, 80u);
    EXPECT_EQ(p.user.uid, 1u);
    EXPECT_EQ(p.user.gid, 2u);
    EXPECT_EQ(p.user.umask, 63u);
    EXPECT_EQ(p.user.additional_gids, (std::vector<uint32_t>{5, 6}));
    EXPECT_EQ(p.user.username, "ignored");
    EXPECT_EQ(p.args, (std::vector<std::string>{"sh", "-c", "echo hi"}));
    EXPECT_EQ(p.env[1], "TERM=xterm");
    EXPECT_EQ(p.cwd, "/root");
    EXPECT_EQ(p.command_line, "windows only");
    ASSERT_TRUE(p.capabilities);
    EXPECT_EQ(p.capabilities->bounding.size(), 3u);
    EXPECT_EQ(p.capabilities->effective.size(), 2u);
    EXPECT_EQ(p.capabilities->inheritable, std::vector<std::string>{"CAP_KILL"});
    EXPECT_EQ(p.capabilities->permitted.size(), 3u);
    EXPECT_EQ(p.capabilities->ambient, std::vector<std::string>{"CAP_NET_BIND_SERVICE"});
    ASSERT_EQ(p.rlimits.size(), 2u);
    EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
    EXPECT_EQ(p.rlimits[0].soft, 1024u);
    EXPECT_EQ(p.rlimits[0].hard, 4096u);
    EXPECT_EQ(p.rlimits[1].hard, UINT64_MAX); // RLIM_INFINITY
    EXPECT_EQ(p.apparmor_profile, "acme_secure_profile");
    EXPECT_EQ(p.selinux_label, "system_u:system_r:svirt_lxc_net_t:s0:c124,c675");
    EXPECT_TRUE(p.no_new_privileges);
    EXPECT_EQ(p.oom_score_adj, -500);
    ASSERT_TRUE(p.scheduler);
    EXPECT_EQ(p.scheduler->policy, "SCHED_DEADLINE");
    EXPECT_EQ(p.scheduler->nice, -5);
    EXPECT_EQ(p.scheduler->priority, 0);
    EXPECT_EQ(p.scheduler->flags, std::vector<std::string>{"SCHED_FLAG_RESET_ON_FORK"});
    EXPECT_EQ(p.scheduler->runtime, 10000000u);
    EXPECT_EQ(p.scheduler->deadline, 20000000u);
    EXPECT_EQ(p.scheduler->period, 30000000u);
    ASSERT_TRUE(p.io_priority);
    EXPECT_EQ(p.io_priority->klass, "IOPRIO_CLASS_BE");
    EXPECT_EQ(p.io_priority->priority, 4);
    ASSERT_TRUE(p.exec_cpu_affinity);
    EXPECT_EQ(p.exec_cpu_affinity->initial, "7");
    EXPECT_EQ(p.exec_cpu_affinity->final, "0-3,7");

    // hooks
    ASSERT_TRUE(s.hooks);
    const Hooks &h = *s.hooks;
    ASSERT_EQ(h.prestart.size(), 1u);
    EXPECT_EQ(h.prestart[0].path, "/usr/bin/fix-mounts");
    EXPECT_EQ(h.prestart[0].args, (std::vector<std::string>{"fix-mounts", "arg1"}));
    EXPECT_EQ(h.prestart[0].env, std::vector<std::string>{"key1=value1"});
    EXPECT_FALSE(h.prestart[0].timeout);
    EXPECT_EQ(h.create_runtime[0].timeout, 7);
    EXPECT_EQ(h.create_container[0].path, "/usr/bin/mount-hook");
    EXPECT_EQ(h.start_container[0].path, "/usr/bin/refresh-ldcache");
    EXPECT_EQ(h.poststart[0].timeout, 5);
    EXPECT_EQ(h.poststop[0].args[1], "-f");

    // linux
    ASSERT_TRUE(s.linux);
    const Linux &l = *s.linux;
    ASSERT_EQ(l.namespaces.size(), 8u);
    EXPECT_EQ(l.namespaces[1].type, "network");
    EXPECT_EQ(l.namespaces[1].path, "/var/run/netns/neta");
    EXPECT_EQ(s.find_namespace("network"), &l.namespaces[1]);
    EXPECT_EQ(s.find_namespace("time"), &l.namespaces[7]);
    EXPECT_EQ(s.find_namespace("bogus"), nullptr);
    EXPECT_EQ(l.uid_mappings[0].host_id, 1000u);
    EXPECT_EQ(l.uid_mappings[0].size, 32000u);
    EXPECT_EQ(l.gid_mappings[0].host_id, 2000u);
    EXPECT_EQ(l.gid_mappings[0].size, 16000u);
    EXPECT_EQ(l.time_offsets.at("monotonic").secs, -86400);
    EXPECT_EQ(l.time_offsets.at("monotonic").nanosecs, 500u);
    EXPECT_EQ(l.time_offsets.at("boottime").secs, 3600);
    EXPECT_EQ(l.time_offsets.at("boottime").nanosecs, 0u);
    ASSERT_EQ(l.devices.size(), 3u);
    EXPECT_EQ(l.devices[0].path, "/dev/fuse");
    EXPECT_EQ(l.devices[0].type, "c");
    EXPECT_EQ(l.devices[0].major, 10);
    EXPECT_EQ(l.devices[0].minor, 229);
    EXPECT_EQ(l.devices[0].file_mode, 438u);
    EXPECT_EQ(l.devices[0].uid, 0u);
    EXPECT_EQ(l.devices[0].gid, 0u);
    EXPECT_FALSE(l.devices[1].file_mode);
    EXPECT_EQ(l.devices[2].type, "p"); // no major/minor needed
    EXPECT_EQ(l.cgroups_path, "/myRuntime/myContainer");
    EXPECT_EQ(l.rootfs_propagation, "slave");
    EXPECT_EQ(l.masked_paths, (std::vector<std::string>{"/proc/kcore", "/proc/keys"}));
    EXPECT_EQ(l.readonly_paths, std::vector<std::string>{"/proc/sys"});
    EXPECT_EQ(l.mount_label, "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811");
    EXPECT_EQ(l.sysctl.at("net.ipv4.ip_forward"), "1");
    EXPECT_EQ(l.sysctl.size(), 3u);
    ASSERT_TRUE(l.personality);
    EXPECT_EQ(l.personality->domain, "LINUX32");
    EXPECT_TRUE(l.personality->flags.empty());

    // linux.resources
    ASSERT_TRUE(l.resources);
    const Resources &res = *l.resources;
    ASSERT_EQ(res.devices.size(), 2u);
    EXPECT_FALSE(res.devices[0].allow);
    EXPECT_EQ(res.devices[0].type, "");
    EXPECT_FALSE(res.devices[0].major);
    EXPECT_EQ(res.devices[0].access, "rwm");
    EXPECT_TRUE(res.devices[1].allow);
    EXPECT_EQ(res.devices[1].type, "c");
    EXPECT_EQ(res.devices[1].major, 10);
    EXPECT_EQ(res.devices[1].minor, 229);
    ASSERT_TRUE(res.memory);
    EXPECT_EQ(res.memory->limit, 536870912);
    EXPECT_EQ(res.memory->reservation, 268435456);
    EXPECT_EQ(res.memory->swap, -1);
    EXPECT_EQ(res.memory->kernel, -1);
    EXPECT_EQ(res.memory->kernel_tcp, 0);
    EXPECT_EQ(res.memory->swappiness, 60u);
    EXPECT_EQ(res.memory->disable_oom_killer, false);
    EXPECT_EQ(res.memory->use_hierarchy, true);
    EXPECT_EQ(res.memory->check_before_update, true);
    ASSERT_TRUE(res.cpu);
    EXPECT_EQ(res.cpu->shares, 1024u);
    EXPECT_EQ(res.cpu->quota, 1000000);
    EXPECT_EQ(res.cpu->burst, 500000u);
    EXPECT_EQ(res.cpu->period, 500000u);
    EXPECT_EQ(res.cpu->realtime_runtime, 950000);
    EXPECT_EQ(res.cpu->realtime_period, 1000000u);
    EXPECT_EQ(res.cpu->cpus, "2-3");
    EXPECT_EQ(res.cpu->mems, "0-7");
    EXPECT_EQ(res.cpu->idle, 1);
    ASSERT_TRUE(res.pids);
    EXPECT_EQ(res.pids->limit, 32771);
    ASSERT_TRUE(res.block_io);
    EXPECT_EQ(res.block_io->weight, 10);
    EXPECT_EQ(res.block_io->leaf_weight, 20);
    ASSERT_EQ(res.block_io->weight_device.size(), 2u);
    EXPECT_EQ(res.block_io->weight_device[0].major, 8);
    EXPECT_EQ(res.block_io->weight_device[0].weight, 500);
    EXPECT_EQ(res.block_io->weight_device[0].leaf_weight, 300);
    EXPECT_FALSE(res.block_io->weight_device[1].leaf_weight);
    EXPECT_EQ(res.block_io->throttle_read_bps_device[0].rate, 600u);
    EXPECT_EQ(res.block_io->throttle_write_bps_device[0].rate, 700u);
    EXPECT_EQ(res.block_io->throttle_read_iops_device[0].rate, 800u);
    EXPECT_EQ(res.block_io->throttle_write_iops_device[0].minor, 16);
    ASSERT_EQ(res.hugepage_limits.size(), 2u);
    EXPECT_EQ(res.hugepage_limits[1].page_size, "64KB");
    EXPECT_EQ(res.hugepage_limits[1].limit, 1000000u);
    ASSERT_TRUE(res.network);
    EXPECT_EQ(res.network->class_id, 1048577u);
    EXPECT_EQ(res.network->priorities[1].name, "eth1");
    EXPECT_EQ(res.network->priorities[1].priority, 1000u);
    EXPECT_EQ(res.unified.at("io.max"), "259:0 rbps=2097152 wiops=120");
    ASSERT_EQ(res.rdma_raw.size(), 2u);
    EXPECT_EQ(res.rdma_raw.at("mlx5_1"), R"({"hcaHandles":3,"hcaObjects":10000})");
    EXPECT_EQ(res.rdma_raw.at("rxe3"), R"({"hcaObjects":10000})");

    // linux.seccomp
    ASSERT_TRUE(l.seccomp);
    const Seccomp &sc = *l.seccomp;
    EXPECT_EQ(sc.default_action, "SCMP_ACT_ERRNO");
    EXPECT_EQ(sc.default_errno_ret, 38u);
    EXPECT_EQ(sc.architectures.size(), 3u);
    EXPECT_EQ(sc.flags, std::vector<std::string>{"SECCOMP_FILTER_FLAG_LOG"});
    EXPECT_EQ(sc.listener_path, "/run/seccomp-agent.sock");
    EXPECT_EQ(sc.listener_metadata, "MKNOD=/dev/null");
    ASSERT_EQ(sc.syscalls.size(), 4u);
    EXPECT_EQ(sc.syscalls[0].names, (std::vector<std::string>{"getcwd", "chmod"}));
    EXPECT_FALSE(sc.syscalls[0].errno_ret);
    ASSERT_EQ(sc.syscalls[1].args.size(), 2u);
    EXPECT_EQ(sc.syscalls[1].args[0].index, 0u);
    EXPECT_EQ(sc.syscalls[1].args[0].value, 8u);
    EXPECT_EQ(sc.syscalls[1].args[0].value_two, 0u);
    EXPECT_EQ(sc.syscalls[1].args[0].op, "SCMP_CMP_EQ");
    EXPECT_EQ(sc.syscalls[1].args[1].value_two, UINT64_MAX);
    EXPECT_EQ(sc.syscalls[3].errno_ret, 1u);

    EXPECT_TRUE(validate_spec(s)) << validate_spec(s).error().message();
}

TEST(ParseSpec, MinimalConfigLeavesDefaults) {
    auto r = parse_spec(R"({"ociVersion": "1.2.0"})");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_FALSE(r->root);
    EXPECT_FALSE(r->process);
    EXPECT_FALSE(r->linux);
    EXPECT_FALSE(r->hooks);
    EXPECT_TRUE(r->mounts.empty());
    EXPECT_EQ(r->find_namespace("pid"), nullptr);
}

// config.md "Extensibility": unknown properties MUST NOT be errors.
TEST(ParseSpec, IgnoresUnknownProperties) {
    json j = json::parse(default_spec_json(false));
    j["someFutureField"] = {{"x", 1}};
    j["windows"] = {{"layerFolders", json::array()}};
    j["process"]["futureProcessThing"] = "x";
    j["process"]["user"]["futureUserThing"] = 1;
    j["mounts"][0]["futureMountThing"] = true;
    j["linux"]["netDevices"] = {{"eth0", {{"name", "ctr0"}}}};
    j["linux"]["memoryPolicy"] = {{"mode", "MPOL_BIND"}};
    j["linux"]["resources"]["futureController"] = {{"a", 1}};
    auto r = parse_spec(j.dump());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(validate_spec(*r));
}

// Go's encoding/json, which produces most configs, treats null as "not set".
TEST(ParseSpec, NullMeansAbsentForOptionalFields) {
    json j = json::parse(default_spec_json(false));
    j["annotations"] = nullptr;
    j["hooks"] = nullptr;
    j["process"]["rlimits"] = nullptr;
    j["process"]["capabilities"] = nullptr;
    j["linux"]["resources"] = nullptr;
    j["mounts"][0]["options"] = nullptr;
    auto r = parse_spec(j.dump());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->process->rlimits.empty());
    EXPECT_FALSE(r->process->capabilities);
    EXPECT_FALSE(r->linux->resources);
    EXPECT_FALSE(r->hooks);
}

TEST(ParseSpec, NullForRequiredFieldIsATypeError) {
    json j = json::parse(default_spec_json(false));
    j["process"]["cwd"] = nullptr;
    EXPECT_EQ(parse_error_json(j), "config.json: process.cwd: expected string, got null");
}

// Docker wrote swappiness -1 cast to uint64 to mean "unset"; runc accepts it.
TEST(ParseSpec, SwappinessMinusOneAsUint64MeansUnset) {
    json j = json::parse(default_spec_json(false));
    j["linux"]["resources"]["memory"] = {{"swappiness", UINT64_MAX}};
    auto r = parse_spec(j.dump());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_FALSE(r->linux->resources->memory->swappiness);
}

// --- bad JSON -----------------------------------------------------------------

TEST(ParseSpec, MalformedJsonNamesLineAndColumn) {
    EXPECT_EQ(parse_error("{\n  \"ociVersion\": \"1.2.0\",\n  \"root\": tru\n}"),
              "config.json: invalid JSON at line 3, column 14: syntax error while parsing value - "
              "invalid literal; last read: '\"root\": tru<U+000A>'");
    EXPECT_EQ(parse_error(""), "config.json: invalid JSON at line 1, column 1: syntax error while parsing "
                               "value - unexpected end of input; expected '[', '{', or a literal");
    EXPECT_EQ(parse_error("{\"ociVersion\": \"1.2.0\",}"), "config.json: invalid JSON at line 1, column 24: syntax error "
                                                        "while parsing object key - unexpected '}'; expected string literal");
    EXPECT_EQ(parse_error("{\"a\":\n\n   [1,\n2 3]}").rfind("config.json: invalid JSON at line 4, column 3: ", 0), 0u);
    EXPECT_EQ(parse_error("{\"a\": 1} trailing").rfind("config.json: invalid JSON at line 1, column 12: ", 0), 0u);
    // Raw bytes in the parser's message are escaped, not echoed.
    std::string bad_utf8 = parse_error("{\"ociVersion\": \"\xff\"}");
    EXPECT_EQ(bad_utf8.rfind("config.json: invalid JSON at line 1, column 17: ", 0), 0u) << bad_utf8;
    EXPECT_NE(bad_utf8.find("\\xff"), std::string::npos) << bad_utf8;
}

TEST(ParseSpec, TopLevelMustBeAnObject) {
    EXPECT_EQ(parse_error("[]"), "config.json: expected object, got array");
    EXPECT_EQ(parse_error("\"x\""), "config.json: expected object, got string");
}

TEST(ParseSpec, SourceNameIsUsed) {
    auto r = parse_spec("{}", "/b/config.json");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "/b/config.json: ociVersion: required field is missing");
}

TEST(ParseSpec, RequiredFieldsMissing) {
    struct Case {
        const char *pointer; // member to remove
        const char *message;
    } cases[] = {
        {"/ociVersion", "config.json: ociVersion: required field is missing"},
        {"/root/path", "config.json: root.path: required field is missing"},
        {"/process/cwd", "config.json: process.cwd: required field is missing"},
        {"/process/user/uid", "config.json: process.user.uid: required field is missing"},
        {"/process/user/gid", "config.json: process.user.gid: required field is missing"},
        {"/process/consoleSize/width", "config.json: process.consoleSize.width: required field is missing"},
        {"/process/rlimits/1/soft", "config.json: process.rlimits[1].soft: required field is missing"},
        {"/process/scheduler/policy", "config.json: process.scheduler.policy: required field is missing"},
        {"/process/ioPriority/priority", "config.json: process.ioPriority.priority: required field is missing"},
        {"/mounts/2/destination", "config.json: mounts[2].destination: required field is missing"},
        {"/mounts/2/uidMappings/0/hostID", "config.json: mounts[2].uidMappings[0].hostID: required field is missing"},
        {"/hooks/poststop/0/path", "config.json: hooks.poststop[0].path: required field is missing"},
        {"/linux/namespaces/3/type", "config.json: linux.namespaces[3].type: required field is missing"},
        {"/linux/uidMappings/0/size", "config.json: linux.uidMappings[0].size: required field is missing"},
        {"/linux/devices/0/major", "config.json: linux.devices[0].major: required field is missing"},
        {"/linux/devices/1/path", "config.json: linux.devices[1].path: required field is missing"},
        {"/linux/resources/devices/1/allow", "config.json: linux.resources.devices[1].allow: required field is missing"},
        {"/linux/resources/pids/limit", "config.json: linux.resources.pids.limit: required field is missing"},
        {"/linux/resources/blockIO/throttleReadBpsDevice/0/rate",
         "config.json: linux.resources.blockIO.throttleReadBpsDevice[0].rate: required field is missing"},
        {"/linux/resources/blockIO/weightDevice/1/minor",
         "config.json: linux.resources.blockIO.weightDevice[1].minor: required field is missing"},
        {"/linux/resources/hugepageLimits/0/pageSize",
         "config.json: linux.resources.hugepageLimits[0].pageSize: required field is missing"},
        {"/linux/resources/network/priorities/0/priority",
         "config.json: linux.resources.network.priorities[0].priority: required field is missing"},
        {"/linux/seccomp/defaultAction", "config.json: linux.seccomp.defaultAction: required field is missing"},
        {"/linux/seccomp/syscalls/0/names", "config.json: linux.seccomp.syscalls[0].names: required field is missing"},
        {"/linux/seccomp/syscalls/1/args/0/op", "config.json: linux.seccomp.syscalls[1].args[0].op: required field is missing"},
        {"/linux/seccomp/syscalls/1/args/1/value",
         "config.json: linux.seccomp.syscalls[1].args[1].value: required field is missing"},
        {"/linux/personality/domain", "config.json: linux.personality.domain: required field is missing"},
    };
    for (const Case &c : cases) {
        json j = full_json();
        json::json_pointer ptr(c.pointer);
        j[ptr.parent_pointer()].erase(ptr.back());
        EXPECT_EQ(parse_error_json(j), c.message) << c.pointer;
    }
}

TEST(ParseSpec, RdmaEntryNeedsALimit) {
    json j = full_json();
    j["linux"]["resources"]["rdma"]["rxe3"] = json::object();
    EXPECT_EQ(parse_error_json(j),
              "config.json: linux.resources.rdma[\"rxe3\"]: one of hcaHandles or hcaObjects is required");
}

// intelRdt is a MUST-act-or-fail feature corral does not implement.
TEST(ParseSpec, IntelRdtIsRefused) {
    json j = full_json();
    j["linux"]["intelRdt"] = {{"closID", "guaranteed_group"}};
    EXPECT_EQ(parse_error_json(j), "config.json: linux.intelRdt: not supported by corral");
}

TEST(ParseSpec, NulBytesInStringsAreRefused) {
    json j = full_json();
    j["process"]["args"][1] = std::string("-c\0evil", 7);
    EXPECT_EQ(parse_error_json(j), "config.json: process.args[1]: string contains a NUL byte");
}

// Go and nlohmann keep the last of repeated members; so do we.
TEST(ParseSpec, RepeatedMemberLastWins) {
    auto r = parse_spec(R"({"ociVersion": "1.0.0", "hostname": "a", "ociVersion": "1.2.0",
                            "annotations": {"k": "1", "k": "2"}})");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->oci_version, "1.2.0");
    EXPECT_EQ(r->annotations.at("k"), "2");
}

TEST(ParseSpec, TinyAndEscapedInputs) {
    auto r = parse_spec(R"({"ociVersion":"1"})"); // shorter than any small-string buffer
    ASSERT_TRUE(r);
    EXPECT_EQ(r->oci_version, "1");
    r = parse_spec(R"({"ociVersion":"1.2.0","hostname":"\u00e9t\u00e9\ud83d\ude00\n"})");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->hostname, "\u00e9t\u00e9\U0001F600\n");
}

// Unknown members are skipped, however deep: nothing recurses into them.
TEST(ParseSpec, DeepUnknownNestingIsHarmless) {
    std::string deep = R"({"ociVersion": "1.2.0", "x": )" + std::string(200000, '[') + std::string(200000, ']') + "}";
    auto r = parse_spec(deep);
    EXPECT_TRUE(r) << r.error().message();
    std::string rdma = R"({"ociVersion": "1.2.0", "linux": {"resources": {"rdma": {"d": {"hcaHandles": 1, "y": )" +
                       std::string(100000, '[') + std::string(100000, ']') + "}}}}}";
    r = parse_spec(rdma);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->linux->resources->rdma_raw.at("d"), R"({"hcaHandles":1})");
}

// Every prefix of a valid config is an error with the source name, never a
// crash or an exception; so is any single corrupted byte.
TEST(ParseSpec, TruncatedOrCorruptedInputNeverCrashes) {
    const std::string text = read_fixture("full.json");
    for (size_t n = 0; n + 1 < text.size(); ++n) {
        auto r = parse_spec(std::string_view(text).substr(0, n));
        if (r) continue; // impossible for a JSON object cut short, but not the point
        ASSERT_EQ(r.error().message().rfind("config.json: ", 0), 0u) << n;
    }
    uint32_t seed = 12345;
    for (int i = 0; i < 3000; ++i) {
        seed = seed * 1103515245u + 12345u;
        std::string bad = text;
        bad[(seed >> 8) % bad.size()] = static_cast<char>(seed >> 24);
        auto r = parse_spec(bad);
        if (!r) EXPECT_EQ(r.error().message().rfind("config.json: ", 0), 0u);
        else (void)validate_spec(*r);
    }
}

// --- numbers ------------------------------------------------------------------

TEST(ParseSpec, IntegerRangesPerCType) {
    struct Case {
        const char *pointer;
        json value;
        const char *message; // nullptr: must parse
    } cases[] = {
        // uint32
        {"/process/user/uid", 4294967295u, nullptr},
        {"/process/user/uid", 4294967296u, "config.json: process.user.uid: 4294967296 is out of range for uint32"},
        {"/process/user/uid", -1, "config.json: process.user.uid: expected unsigned integer, got -1"},
        {"/process/user/additionalGids/1", -6, "config.json: process.user.additionalGids[1]: expected unsigned integer, got -6"},
        {"/linux/uidMappings/0/hostID", 4294967296u,
         "config.json: linux.uidMappings[0].hostID: 4294967296 is out of range for uint32"},
        // uint64: the full range, and one past it
        {"/process/rlimits/0/hard", 18446744073709551615u, nullptr},
        {"/process/rlimits/0/soft", -1, "config.json: process.rlimits[0].soft: expected unsigned integer, got -1"},
        {"/linux/resources/cpu/shares", -2, "config.json: linux.resources.cpu.shares: expected unsigned integer, got -2"},
        // int64: -1 is fine for memory limits, the extremes too
        {"/linux/resources/memory/limit", -1, nullptr},
        {"/linux/resources/memory/swap", INT64_MIN, nullptr},
        {"/linux/resources/memory/limit", 9223372036854775807, nullptr},
        {"/linux/resources/memory/limit", 9223372036854775808u,
         "config.json: linux.resources.memory.limit: 9223372036854775808 is out of range for int64"},
        {"/linux/resources/cpu/quota", -1, nullptr},
        {"/linux/resources/pids/limit", -1, nullptr},
        // uint16
        {"/linux/resources/blockIO/weight", 65535, nullptr},
        {"/linux/resources/blockIO/weight", 65536, "config.json: linux.resources.blockIO.weight: 65536 is out of range for uint16"},
        // int32
        {"/process/oomScoreAdj", -2147483648LL, nullptr},
        {"/process/oomScoreAdj", 2147483648LL, "config.json: process.oomScoreAdj: 2147483648 is out of range for int32"},
        {"/process/scheduler/nice", -2147483649LL, "config.json: process.scheduler.nice: -2147483649 is out of range for int32"},
        {"/hooks/poststart/0/timeout", -3, nullptr}, // int; the validator wants > 0
        // fractions and exponents are not integers (Go refuses them too)
        {"/process/user/gid", 1.5, "config.json: process.user.gid: expected unsigned integer, got 1.5"},
        {"/process/user/gid", 1e3, "config.json: process.user.gid: expected unsigned integer, got 1000 written with a fraction or exponent"},
        {"/linux/devices/0/major", -0.5, "config.json: linux.devices[0].major: expected integer, got -0.5"},
    };
    for (const Case &c : cases) {
        json j = full_json();
        j[json::json_pointer(c.pointer)] = c.value;
        auto r = parse_spec(j.dump());
        if (c.message == nullptr) {
            EXPECT_TRUE(r) << c.pointer << ": " << r.error().message();
        } else {
            EXPECT_EQ(r ? "<parsed fine>" : r.error().message(), c.message) << c.pointer;
        }
    }
}

TEST(ParseSpec, IntegersBeyond64BitsAreOutOfRange) {
    std::string text = read_fixture("full.json");
    auto at = text.find("\"hard\": 4096");
    ASSERT_NE(at, std::string::npos);
    text.replace(at, 12, "\"hard\": 18446744073709551616");
    EXPECT_EQ(parse_error(text),
              "config.json: process.rlimits[0].hard: 1.8446744073709552e+19 is out of range for a 64-bit integer");
    text.replace(text.find("18446744073709551616"), 20, "99999999999999999999999999999999");
    EXPECT_EQ(parse_error(text).rfind("config.json: process.rlimits[0].hard: ", 0), 0u);
}

// --- wrong types everywhere -------------------------------------------------------

namespace {

// Maps whose keys are data: their entries are written map["key"].
bool is_map(const std::string &path) {
    return path == "annotations" || path == "linux.sysctl" || path == "linux.timeOffsets" ||
           path == "linux.resources.unified" || path == "linux.resources.rdma";
}

// Visit every value in the tree with its path in our notation.
void each_value(const json &j, const std::string &path, const json::json_pointer &ptr,
                const std::function<void(const json &, const std::string &, const json::json_pointer &)> &f) {
    if (!path.empty()) f(j, path, ptr);
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) {
            std::string child = is_map(path) ? path + "[\"" + it.key() + "\"]"
                                             : (path.empty() ? it.key() : path + "." + it.key());
            each_value(*it, child, ptr / it.key(), f);
        }
    } else if (j.is_array()) {
        for (size_t i = 0; i < j.size(); ++i)
            each_value(j[i], path + "[" + std::to_string(i) + "]", ptr / i, f);
    }
}

// A value of another JSON type, and the words the error uses for the original.
std::pair<json, std::string> wrong_type_for(const json &v) {
    switch (v.type()) {
    case json::value_t::string: return {42, "expected string, got number"};
    case json::value_t::boolean: return {"yes", "expected boolean, got string"};
    case json::value_t::number_unsigned:
    case json::value_t::number_integer: return {"7", "integer, got string"};
    case json::value_t::array: return {json::object(), "expected array, got object"};
    case json::value_t::object: return {json::array(), "expected object, got array"};
    default: return {nullptr, ""};
    }
}

} // namespace

// Mutate every value of the full config to a wrong type, one at a time: each
// must fail, with the error naming exactly that field.
TEST(ParseSpec, WrongTypeAnywhereNamesThePath) {
    const json base = full_json();
    size_t checked = 0;
    each_value(base, "", json::json_pointer(), [&](const json &v, const std::string &path, const json::json_pointer &ptr) {
        auto [bad, words] = wrong_type_for(v);
        if (words.empty()) return;
        json j = base;
        j[ptr] = bad;
        std::string err = parse_error_json(j);
        std::string want = "config.json: " + path + ": ";
        EXPECT_EQ(err.rfind(want, 0), 0u) << "mutated " << path << " -> " << err;
        EXPECT_NE(err.find(words), std::string::npos) << "mutated " << path << " -> " << err;
        ++checked;
    });
    EXPECT_GT(checked, 300u); // the fixture covers the whole schema
}

// --- process.json (exec) ----------------------------------------------------------

TEST(ParseProcess, ExecProcessJson) {
    auto r = parse_process(read_fixture("exec-process.json"));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_FALSE(r->terminal);
    EXPECT_EQ(r->user.uid, 1000u);
    EXPECT_EQ(r->user.additional_gids, std::vector<uint32_t>{10});
    EXPECT_EQ(r->args, (std::vector<std::string>{"/bin/ps", "aux"}));
    EXPECT_EQ(r->cwd, "/home/user");
    EXPECT_EQ(r->capabilities->bounding, std::vector<std::string>{"CAP_KILL"});
    EXPECT_TRUE(r->capabilities->ambient.empty());
    EXPECT_EQ(r->apparmor_profile, "docker-default");
    EXPECT_EQ(r->exec_cpu_affinity->initial, "0");
    EXPECT_EQ(r->exec_cpu_affinity->final, "");
    EXPECT_TRUE(validate_process(*r));
}

TEST(ParseProcess, ErrorsAreRelativeToTheProcessObject) {
    auto r = parse_process(R"({"cwd": "/", "args": ["sh"], "user": {"uid": "root", "gid": 0}})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "process.json: user.uid: expected unsigned integer, got string");
    r = parse_process(R"({"args": ["sh"]})", "/tmp/p.json");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "/tmp/p.json: cwd: required field is missing");
    r = parse_process("{\"cwd\": ");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message().rfind("process.json: invalid JSON at line 1, column 9: ", 0), 0u);
}

TEST(ParseProcess, NoUserMeansRoot) {
    auto r = parse_process(R"({"cwd": "/", "args": ["id"]})");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->user.uid, 0u);
    EXPECT_EQ(r->user.gid, 0u);
}

// --- load_spec -----------------------------------------------------------------

TEST(LoadSpec, ReadsBundleConfigAndNamesTheFile) {
    char tmpl[] = "/tmp/corral-spec-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    std::string file = dir + "/config.json";

    auto missing = load_spec(dir);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message().find(file), std::string::npos) << missing.error().message();

    std::ofstream(file) << default_spec_json(false);
    auto r = load_spec(dir);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->hostname, "runc");

    std::ofstream(file) << R"({"ociVersion": 1})";
    r = load_spec(dir);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), file + ": ociVersion: expected string, got number");
    std::filesystem::remove_all(dir);
}

// --- speed: container start time is the headline figure ---------------------------

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__OPTIMIZE__)
constexpr bool kTimingMeaningful = false;
#else
constexpr bool kTimingMeaningful = true;
#endif

TEST(ParseSpec, TypicalConfigParsesWellUnder100Microseconds) {
    if (!kTimingMeaningful) GTEST_SKIP() << "timing needs an optimized, uninstrumented build";
    const std::string text = default_spec_json(false);
    using clock = std::chrono::steady_clock;
    // Best of several batches, so a busy machine does not fail the test.
    double best_us = 1e9, best_full_us = 1e9;
    for (int batch = 0; batch < 20; ++batch) {
        constexpr int n = 100;
        auto t0 = clock::now();
        for (int i = 0; i < n; ++i) {
            auto r = parse_spec(text);
            ASSERT_TRUE(r);
        }
        auto t1 = clock::now();
        for (int i = 0; i < n; ++i) {
            auto r = parse_spec(text);
            ASSERT_TRUE(r && validate_spec(*r));
        }
        auto t2 = clock::now();
        best_us = std::min(best_us, std::chrono::duration<double, std::micro>(t1 - t0).count() / n);
        best_full_us = std::min(best_full_us, std::chrono::duration<double, std::micro>(t2 - t1).count() / n);
    }
    std::printf("parse_spec(runc default): %.1f us; with validate_spec: %.1f us\n", best_us, best_full_us);
    EXPECT_LT(best_full_us, 100.0);
}
