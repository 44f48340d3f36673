// Tests of validate_spec / validate_process / spec_warnings: one case per
// rule, each asserting the exact message, so the field path is pinned.
#include "corral/spec.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

using namespace corral;
using namespace corral::spec;
using nlohmann::json;

namespace {

json full_json() {
    std::ifstream in(std::filesystem::path(__FILE__).parent_path() / "data" / "spec" / "full.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str());
}

// Remove one namespace type from the full config.
void drop_ns(json &j, const std::string &type) {
    auto &ns = j["linux"]["namespaces"];
    for (auto it = ns.begin(); it != ns.end(); ++it)
        if ((*it)["type"] == type) {
            ns.erase(it);
            return;
        }
}

// Mutate the (valid) full config, parse it, validate it: the message, or
// "<valid>".
std::string validation_error(const std::function<void(json &)> &mutate) {
    json j = full_json();
    mutate(j);
    auto r = parse_spec(j.dump());
    if (!r) return "<parse failed> " + r.error().message();
    auto st = validate_spec(*r);
    return st ? "<valid>" : st.error().message();
}

struct Case {
    const char *name;
    std::function<void(json &)> mutate;
    const char *message; // "<valid>" for configs that must pass
};

void run(const std::vector<Case> &cases) {
    for (const Case &c : cases) EXPECT_EQ(validation_error(c.mutate), c.message) << c.name;
}

} // namespace

TEST(ValidateSpec, FullFixtureIsValid) { EXPECT_EQ(validation_error([](json &) {}), "<valid>"); }

TEST(ValidateSpec, OciVersion) {
    run({
        {"empty", [](json &j) { j["ociVersion"] = ""; }, "config.json: ociVersion: \"\" is not a SemVer 2.0.0 version"},
        {"two parts", [](json &j) { j["ociVersion"] = "1.2"; }, "config.json: ociVersion: \"1.2\" is not a SemVer 2.0.0 version"},
        {"leading zero", [](json &j) { j["ociVersion"] = "1.02.0"; },
         "config.json: ociVersion: \"1.02.0\" is not a SemVer 2.0.0 version"},
        {"empty prerelease", [](json &j) { j["ociVersion"] = "1.2.0-"; },
         "config.json: ociVersion: \"1.2.0-\" is not a SemVer 2.0.0 version"},
        {"major 2", [](json &j) { j["ociVersion"] = "2.0.0"; },
         "config.json: ociVersion: version 2.0.0 is not supported (corral implements 1.2.0)"},
        {"runc's dev version", [](json &j) { j["ociVersion"] = "1.0.2-dev"; }, "<valid>"},
        {"build metadata", [](json &j) { j["ociVersion"] = "1.2.0+build.5"; }, "<valid>"},
        {"newer minor", [](json &j) { j["ociVersion"] = "1.3.0-rc.1"; }, "<valid>"},
    });
}

TEST(ValidateSpec, RootAndMounts) {
    run({
        {"no root", [](json &j) { j.erase("root"); }, "config.json: root: required field is missing"},
        {"empty root path", [](json &j) { j["root"]["path"] = ""; }, "config.json: root.path: must not be empty"},
        {"empty destination", [](json &j) { j["mounts"][1]["destination"] = ""; },
         "config.json: mounts[1].destination: must not be empty"},
        // Deprecated but allowed on Linux ("relative to /"); a warning.
        {"relative destination", [](json &j) { j["mounts"][1]["destination"] = "dev"; }, "<valid>"},
        {"uid without gid mappings", [](json &j) { j["mounts"][2].erase("gidMappings"); },
         "config.json: mounts[2].gidMappings: must be given together with uidMappings"},
        {"gid without uid mappings", [](json &j) { j["mounts"][2].erase("uidMappings"); },
         "config.json: mounts[2].uidMappings: must be given together with gidMappings"},
        {"idmap with nothing to map from",
         [](json &j) {
             j["mounts"][2].erase("uidMappings");
             j["mounts"][2].erase("gidMappings");
             drop_ns(j, "user");
         },
         "config.json: mounts[2].options: idmap needs uidMappings/gidMappings or a user namespace"},
        {"idmap taking the user namespace's mapping",
         [](json &j) {
             j["mounts"][2].erase("uidMappings");
             j["mounts"][2].erase("gidMappings");
         },
         "<valid>"},
    });
}

TEST(ValidateSpec, Process) {
    run({
        {"relative cwd", [](json &j) { j["process"]["cwd"] = "root"; },
         "config.json: process.cwd: must be an absolute path, got \"root\""},
        {"no args", [](json &j) { j["process"].erase("args"); }, "config.json: process.args: must contain at least one entry"},
        {"empty args", [](json &j) { j["process"]["args"] = json::array(); },
         "config.json: process.args: must contain at least one entry"},
        {"empty argv0", [](json &j) { j["process"]["args"][0] = ""; }, "config.json: process.args[0]: must not be empty"},
        {"env without =", [](json &j) { j["process"]["env"][1] = "TERM"; },
         "config.json: process.env[1]: \"TERM\" is not of the form NAME=value"},
        {"env without name", [](json &j) { j["process"]["env"][0] = "=x"; },
         "config.json: process.env[0]: variable name is empty"},
        {"env with empty value", [](json &j) { j["process"]["env"][0] = "EMPTY="; }, "<valid>"},
        {"unknown rlimit", [](json &j) { j["process"]["rlimits"][1]["type"] = "RLIMIT_FOO"; },
         "config.json: process.rlimits[1].type: unknown rlimit type \"RLIMIT_FOO\""},
        {"duplicate rlimit", [](json &j) { j["process"]["rlimits"][1]["type"] = "RLIMIT_NOFILE"; },
         "config.json: process.rlimits[1].type: duplicate rlimit type \"RLIMIT_NOFILE\" (also at process.rlimits[0])"},
        {"soft above hard", [](json &j) { j["process"]["rlimits"][0]["soft"] = 5000; },
         "config.json: process.rlimits[0].soft: 5000 is above the hard limit 4096"},
        {"oomScoreAdj", [](json &j) { j["process"]["oomScoreAdj"] = 1001; },
         "config.json: process.oomScoreAdj: 1001 is outside -1000..1000"},
        {"sched policy", [](json &j) { j["process"]["scheduler"]["policy"] = "SCHED_FAST"; },
         "config.json: process.scheduler.policy: unknown scheduling policy \"SCHED_FAST\""},
        {"sched flag", [](json &j) { j["process"]["scheduler"]["flags"][0] = "SCHED_FLAG_X"; },
         "config.json: process.scheduler.flags[0]: unknown scheduler flag \"SCHED_FLAG_X\""},
        {"nice", [](json &j) { j["process"]["scheduler"]["nice"] = 20; },
         "config.json: process.scheduler.nice: 20 is outside -20..19"},
        {"priority for SCHED_OTHER",
         [](json &j) {
             j["process"]["scheduler"] = {{"policy", "SCHED_OTHER"}, {"priority", 5}};
         },
         "config.json: process.scheduler.priority: only SCHED_FIFO and SCHED_RR take a priority"},
        {"priority for SCHED_RR", [](json &j) { j["process"]["scheduler"] = {{"policy", "SCHED_RR"}, {"priority", 5}}; },
         "<valid>"},
        {"deadline fields for SCHED_BATCH", [](json &j) { j["process"]["scheduler"]["policy"] = "SCHED_BATCH"; },
         "config.json: process.scheduler: runtime, deadline and period are only for SCHED_DEADLINE"},
        {"io class", [](json &j) { j["process"]["ioPriority"]["class"] = "IOPRIO_CLASS_NONE"; },
         "config.json: process.ioPriority.class: unknown I/O priority class \"IOPRIO_CLASS_NONE\""},
        {"io priority", [](json &j) { j["process"]["ioPriority"]["priority"] = 8; },
         "config.json: process.ioPriority.priority: 8 is outside 0..7"},
        {"cpu affinity", [](json &j) { j["process"]["execCPUAffinity"]["final"] = "0-3;7"; },
         "config.json: process.execCPUAffinity.final: \"0-3;7\" is not a CPU list"},
        // capabilities(7) names that cannot be mapped: a warning, not an error.
        {"unknown capability", [](json &j) { j["process"]["capabilities"]["bounding"][0] = "CAP_FUTURE"; }, "<valid>"},
        {"consoleSize without terminal", [](json &j) { j["process"]["terminal"] = false; }, "<valid>"},
    });
}

TEST(ValidateSpec, HostnameHooksAnnotations) {
    run({
        {"hostname, no uts", [](json &j) { drop_ns(j, "uts"); j["linux"]["sysctl"].erase("kernel.domainname"); },
         "config.json: hostname: unable to set hostname without a private UTS namespace (linux.namespaces lists no uts namespace, new or joined by path)"},
        {"domainname, no uts",
         [](json &j) {
             drop_ns(j, "uts");
             j.erase("hostname");
             j["linux"]["sysctl"].erase("kernel.domainname");
         },
         "config.json: domainname: unable to set domainname without a private UTS namespace (linux.namespaces lists no uts namespace, new or joined by path)"},
        {"joined uts", [](json &j) { j["linux"]["namespaces"][4]["path"] = "/proc/1/ns/uts"; }, "<valid>"},
        {"relative hook", [](json &j) { j["hooks"]["createRuntime"][0]["path"] = "setup"; },
         "config.json: hooks.createRuntime[0].path: must be an absolute path, got \"setup\""},
        {"prestart hook", [](json &j) { j["hooks"]["prestart"][0]["path"] = ""; },
         "config.json: hooks.prestart[0].path: must be an absolute path, got \"\""},
        {"zero timeout", [](json &j) { j["hooks"]["poststart"][0]["timeout"] = 0; },
         "config.json: hooks.poststart[0].timeout: must be greater than zero, got 0"},
        {"negative timeout", [](json &j) { j["hooks"]["poststop"][0]["timeout"] = -1; },
         "config.json: hooks.poststop[0].timeout: must be greater than zero, got -1"},
        {"empty annotation key", [](json &j) { j["annotations"][""] = "x"; },
         "config.json: annotations[\"\"]: key must not be empty"},
    });
}

TEST(ValidateSpec, Namespaces) {
    run({
        {"unknown type", [](json &j) { j["linux"]["namespaces"][1]["type"] = "foo"; },
         "config.json: linux.namespaces[1].type: unknown namespace type \"foo\""},
        {"duplicate", [](json &j) { j["linux"]["namespaces"][3]["type"] = "pid"; },
         "config.json: linux.namespaces[3].type: duplicate namespace type \"pid\" (also at linux.namespaces[0])"},
        {"relative path", [](json &j) { j["linux"]["namespaces"][1]["path"] = "netns"; },
         "config.json: linux.namespaces[1].path: must be an absolute path, got \"netns\""},
        {"uid mappings, no userns", [](json &j) { drop_ns(j, "user"); },
         "config.json: linux.uidMappings: needs a user namespace"},
        {"gid mappings, no userns",
         [](json &j) {
             drop_ns(j, "user");
             j["linux"].erase("uidMappings");
         },
         "config.json: linux.gidMappings: needs a user namespace"},
        {"time offsets, no timens", [](json &j) { drop_ns(j, "time"); },
         "config.json: linux.timeOffsets: needs a time namespace"},
        {"unknown clock", [](json &j) { j["linux"]["timeOffsets"]["realtime"] = {{"secs", 1}}; },
         "config.json: linux.timeOffsets[\"realtime\"]: unknown clock (monotonic or boottime)"},
        {"nanosecs", [](json &j) { j["linux"]["timeOffsets"]["monotonic"]["nanosecs"] = 1000000000; },
         "config.json: linux.timeOffsets[\"monotonic\"].nanosecs: 1000000000 is not below one second"},
        {"no linux at all", [](json &j) { j.erase("linux"); j.erase("hostname"); j.erase("domainname");
             j["mounts"][2]["options"] = {"rbind"}; }, "<valid>"},
    });
}

TEST(ValidateSpec, DevicesAndPaths) {
    run({
        {"device type", [](json &j) { j["linux"]["devices"][0]["type"] = "x"; },
         "config.json: linux.devices[0].type: must be c, b, u or p, got \"x\""},
        {"device path", [](json &j) { j["linux"]["devices"][1]["path"] = "dev/sda"; },
         "config.json: linux.devices[1].path: must be an absolute path, got \"dev/sda\""},
        {"propagation", [](json &j) { j["linux"]["rootfsPropagation"] = "bogus"; },
         "config.json: linux.rootfsPropagation: must be shared, slave, private or unbindable, got \"bogus\""},
        {"rshared (runc, CRI-O)", [](json &j) { j["linux"]["rootfsPropagation"] = "rshared"; }, "<valid>"},
        {"masked path", [](json &j) { j["linux"]["maskedPaths"][1] = "proc/keys"; },
         "config.json: linux.maskedPaths[1]: must be an absolute path, got \"proc/keys\""},
        {"readonly path", [](json &j) { j["linux"]["readonlyPaths"][0] = ""; },
         "config.json: linux.readonlyPaths[0]: must be an absolute path, got \"\""},
        {"masking without mountns", [](json &j) { drop_ns(j, "mount"); },
         "config.json: linux.maskedPaths: unable to restrict sys entries without a private MNT namespace (linux.namespaces lists no mount namespace)"},
    });
}

TEST(ValidateSpec, Resources) {
    run({
        {"rule type", [](json &j) { j["linux"]["resources"]["devices"][1]["type"] = "u"; },
         "config.json: linux.resources.devices[1].type: must be a, c or b, got \"u\""},
        {"rule access", [](json &j) { j["linux"]["resources"]["devices"][0]["access"] = "rwx"; },
         "config.json: linux.resources.devices[0].access: \"rwx\" is not made of r, w and m"},
        {"memory -2", [](json &j) { j["linux"]["resources"]["memory"]["limit"] = -2; },
         "config.json: linux.resources.memory.limit: -2 is neither a number of bytes nor -1 (unlimited)"},
        {"kernelTCP -5", [](json &j) { j["linux"]["resources"]["memory"]["kernelTCP"] = -5; },
         "config.json: linux.resources.memory.kernelTCP: -5 is neither a number of bytes nor -1 (unlimited)"},
        {"swappiness", [](json &j) { j["linux"]["resources"]["memory"]["swappiness"] = 101; },
         "config.json: linux.resources.memory.swappiness: 101 is outside 0..100"},
        {"burst above quota", [](json &j) { j["linux"]["resources"]["cpu"]["burst"] = 1000001; },
         "config.json: linux.resources.cpu.burst: 1000001 is larger than quota 1000000"},
        {"burst with unlimited quota", [](json &j) { j["linux"]["resources"]["cpu"]["quota"] = -1; }, "<valid>"},
        {"idle", [](json &j) { j["linux"]["resources"]["cpu"]["idle"] = 2; },
         "config.json: linux.resources.cpu.idle: must be 0 or 1, got 2"},
        {"weightDevice without weights",
         [](json &j) {
             j["linux"]["resources"]["blockIO"]["weightDevice"][1].erase("weight");
         },
         "config.json: linux.resources.blockIO.weightDevice[1]: one of weight or leafWeight is required"},
        {"page size lowercase", [](json &j) { j["linux"]["resources"]["hugepageLimits"][1]["pageSize"] = "64kB"; },
         "config.json: linux.resources.hugepageLimits[1].pageSize: \"64kB\" is not of the form <size><K|M|G...>B"},
        {"page size leading zero", [](json &j) { j["linux"]["resources"]["hugepageLimits"][0]["pageSize"] = "02MB"; },
         "config.json: linux.resources.hugepageLimits[0].pageSize: \"02MB\" is not of the form <size><K|M|G...>B"},
        {"page size 1GB", [](json &j) { j["linux"]["resources"]["hugepageLimits"][0]["pageSize"] = "1GB"; }, "<valid>"},
        {"unified escape", [](json &j) { j["linux"]["resources"]["unified"]["../../cgroup.procs"] = "1"; },
         "config.json: linux.resources.unified[\"../../cgroup.procs\"]: must be a cgroup file name"},
        {"unified dotdot", [](json &j) { j["linux"]["resources"]["unified"][".."] = "1"; },
         "config.json: linux.resources.unified[\"..\"]: must be a cgroup file name"},
    });
}

TEST(ValidateSpec, Sysctl) {
    run({
        {"ipc sysctl, no ipcns", [](json &j) { drop_ns(j, "ipc"); },
         "config.json: linux.sysctl[\"kernel.shmmax\"]: needs an ipc namespace"},
        {"mqueue sysctl", [](json &j) { drop_ns(j, "ipc"); j["linux"]["sysctl"] = {{"fs.mqueue.msg_max", "10"}}; },
         "config.json: linux.sysctl[\"fs.mqueue.msg_max\"]: needs an ipc namespace"},
        {"net sysctl, no netns", [](json &j) { drop_ns(j, "network"); },
         "config.json: linux.sysctl[\"net.ipv4.ip_forward\"]: needs a network namespace"},
        {"slash form", [](json &j) { j["linux"]["sysctl"] = {{"net/ipv4/conf/eno2.100/rp_filter", "1"}}; }, "<valid>"},
        {"vlan dot in dotted form", [](json &j) { j["linux"]["sysctl"] = {{"net.ipv4.conf.eno2/100.rp_filter", "1"}}; },
         "<valid>"},
        {"hostname sysctl", [](json &j) { j["linux"]["sysctl"]["kernel.hostname"] = "x"; },
         "config.json: linux.sysctl[\"kernel.hostname\"]: conflicts with the hostname field; set that instead"},
        {"not namespaced", [](json &j) { j["linux"]["sysctl"]["kernel.panic"] = "1"; },
         "config.json: linux.sysctl[\"kernel.panic\"]: is not namespaced: setting it would change the host"},
        {"empty component", [](json &j) { j["linux"]["sysctl"]["net..ipv4"] = "1"; },
         "config.json: linux.sysctl[\"net..ipv4\"]: is not a valid sysctl name"},
        {"dot-dot component", [](json &j) { j["linux"]["sysctl"] = {{"net/../../kernel/panic", "1"}}; },
         "config.json: linux.sysctl[\"net/../../kernel/panic\"]: is not a valid sysctl name"},
    });
}

TEST(ValidateSpec, Seccomp) {
    run({
        {"default action", [](json &j) { j["linux"]["seccomp"]["defaultAction"] = "SCMP_ACT_MAYBE"; },
         "config.json: linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_MAYBE\""},
        {"notify default", [](json &j) { j["linux"]["seccomp"]["defaultAction"] = "SCMP_ACT_NOTIFY"; },
         "config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"},
        {"errno for allow", [](json &j) { j["linux"]["seccomp"]["defaultAction"] = "SCMP_ACT_ALLOW"; },
         "config.json: linux.seccomp.defaultErrnoRet: action \"SCMP_ACT_ALLOW\" takes no errno"},
        {"errno for trace", [](json &j) { j["linux"]["seccomp"]["defaultAction"] = "SCMP_ACT_TRACE"; }, "<valid>"},
        {"arch", [](json &j) { j["linux"]["seccomp"]["architectures"][2] = "SCMP_ARCH_Z80"; },
         "config.json: linux.seccomp.architectures[2]: unknown architecture \"SCMP_ARCH_Z80\""},
        {"flag", [](json &j) { j["linux"]["seccomp"]["flags"][0] = "SECCOMP_FILTER_FLAG_X"; },
         "config.json: linux.seccomp.flags[0]: unknown seccomp flag \"SECCOMP_FILTER_FLAG_X\""},
        {"metadata without listener", [](json &j) { j["linux"]["seccomp"].erase("listenerPath"); },
         "config.json: linux.seccomp.listenerMetadata: must not be set without listenerPath"},
        {"notify without listener",
         [](json &j) {
             j["linux"]["seccomp"].erase("listenerPath");
             j["linux"]["seccomp"].erase("listenerMetadata");
         },
         "config.json: linux.seccomp.syscalls[2].action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath"},
        {"no names", [](json &j) { j["linux"]["seccomp"]["syscalls"][1]["names"] = json::array(); },
         "config.json: linux.seccomp.syscalls[1].names: must contain at least one entry"},
        {"empty name", [](json &j) { j["linux"]["seccomp"]["syscalls"][0]["names"][1] = ""; },
         "config.json: linux.seccomp.syscalls[0].names[1]: must not be empty"},
        {"action", [](json &j) { j["linux"]["seccomp"]["syscalls"][0]["action"] = "ALLOW"; },
         "config.json: linux.seccomp.syscalls[0].action: unknown seccomp action \"ALLOW\""},
        {"errnoRet for kill", [](json &j) { j["linux"]["seccomp"]["syscalls"][3]["action"] = "SCMP_ACT_KILL_PROCESS"; },
         "config.json: linux.seccomp.syscalls[3].errnoRet: action \"SCMP_ACT_KILL_PROCESS\" takes no errno"},
        {"arg index", [](json &j) { j["linux"]["seccomp"]["syscalls"][1]["args"][1]["index"] = 6; },
         "config.json: linux.seccomp.syscalls[1].args[1].index: 6 is outside 0..5"},
        {"arg op", [](json &j) { j["linux"]["seccomp"]["syscalls"][1]["args"][0]["op"] = "SCMP_CMP_LIKE"; },
         "config.json: linux.seccomp.syscalls[1].args[0].op: unknown seccomp operator \"SCMP_CMP_LIKE\""},
    });
}

TEST(ValidateSpec, Personality) {
    run({
        {"domain", [](json &j) { j["linux"]["personality"]["domain"] = "BSD"; },
         "config.json: linux.personality.domain: must be LINUX or LINUX32, got \"BSD\""},
        {"flags", [](json &j) { j["linux"]["personality"]["flags"] = {"ADDR_NO_RANDOMIZE"}; },
         "config.json: linux.personality.flags[0]: unsupported flag \"ADDR_NO_RANDOMIZE\""},
    });
}

TEST(ValidateProcess, PathsAreRelativeToTheProcess) {
    auto p = parse_process(R"({"cwd": "home", "args": ["sh"]})");
    ASSERT_TRUE(p) << p.error().message();
    auto st = validate_process(*p);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message(), "process.json: cwd: must be an absolute path, got \"home\"");

    p = parse_process(R"({"cwd": "/", "args": ["sh"], "rlimits": [{"type": "RLIMIT_X", "soft": 1, "hard": 1}]})");
    ASSERT_TRUE(p);
    st = validate_process(*p, "/run/p.json");
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message(), "/run/p.json: rlimits[0].type: unknown rlimit type \"RLIMIT_X\"");
}

TEST(SpecWarnings, UnknownCapabilitiesAndRelativeDestinations) {
    json j = full_json();
    j["process"]["capabilities"]["permitted"][1] = "CAP_FUTURE";
    j["mounts"][1]["destination"] = "dev";
    auto r = parse_spec(j.dump());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(validate_spec(*r));
    EXPECT_EQ(spec_warnings(*r), (std::vector<std::string>{
                                     "config.json: mounts[1].destination: relative destination \"dev\" is "
                                     "deprecated; taken as relative to /",
                                     "config.json: process.capabilities.permitted[1]: unknown capability "
                                     "\"CAP_FUTURE\", ignored",
                                 }));
}
