// corral update [flags] <container-id>: change the cgroup limits of a running
// container, from runc's flags or from a linux.resources JSON (--resources
// FILE, "-" for stdin), which then replaces every other flag.
#include "cli/args.hpp"

#include "common/fs.hpp"

#include <unistd.h>

namespace corral::cli {
namespace {

constexpr Flag kFlags[] = {
    {"resources,r", "value",
     "path to the file containing the resources to update or '-' to read from the standard input\n\n"
     "The accepted format is as follow (unchanged values can be omitted):\n\n"
     "{\n"
     "  \"memory\": {\n"
     "    \"limit\": 0,\n"
     "    \"reservation\": 0,\n"
     "    \"swap\": 0\n"
     "  },\n"
     "  \"cpu\": {\n"
     "    \"shares\": 0,\n"
     "    \"quota\": 0,\n"
     "    \"period\": 0,\n"
     "    \"realtimeRuntime\": 0,\n"
     "    \"realtimePeriod\": 0,\n"
     "    \"cpus\": \"\",\n"
     "    \"mems\": \"\"\n"
     "  },\n"
     "  \"blockIO\": {\n"
     "    \"weight\": 0\n"
     "  }\n"
     "}\n\n"
     "Note: if data is to be read from a file or the standard input, all\n"
     "other options are ignored."},
    {"blkio-weight", "value", "Specifies per cgroup weight, range is from 10 to 1000 (default: 0)"},
    {"cpu-period", "value", "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"},
    {"cpu-quota", "value", "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"},
    {"cpu-share", "value", "CPU shares (relative weight vs. other containers)"},
    {"cpu-rt-period", "value", "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"},
    {"cpu-rt-runtime", "value", "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"},
    {"cpuset-cpus", "value", "CPU(s) to use"},
    {"cpuset-mems", "value", "Memory node(s) to use"},
    {"memory", "value", "Memory limit (in bytes)"},
    {"memory-reservation", "value", "Memory reservation or soft_limit (in bytes)"},
    {"memory-swap", "value", "Total memory usage (memory + swap); set '-1' to enable unlimited swap"},
    {"pids-limit", "value", "Maximum number of pids allowed in the container (default: 0)"},
    {"l3-cache-schema", "value", "The string of Intel RDT/CAT L3 cache schema"},
    {"mem-bw-schema", "value", "The string of Intel RDT/MBA memory bandwidth schema"},
    {"kernel-memory", "value", "(obsoleted; do not use)"},
    {"kernel-memory-tcp", "value", "(obsoleted; do not use)"},
};

std::optional<std::string> opt(const Args &args, std::string_view name) {
    if (!args.has(name)) return std::nullopt;
    return args.get(name);
}

Result<int> run_update(Env &env, const Args &args) {
    const std::string &id = args.positional[0];
    // runc's int flags fail while the flags are parsed, before anything else.
    UpdateFlags f;
    if (args.has("pids-limit")) f.pids_limit = CORRAL_TRY(parse_int_flag("pids-limit", args.get("pids-limit")));
    if (args.has("blkio-weight")) f.blkio_weight = CORRAL_TRY(parse_int_flag("blkio-weight", args.get("blkio-weight")));
    CORRAL_TRY(corral::state(env.ctx, id)); // "container does not exist" comes first, as in runc

    spec::Resources resources;
    if (std::string in = args.get("resources"); !in.empty()) {
        std::string text = in == "-" ? CORRAL_TRY(read_fd(STDIN_FILENO)) : CORRAL_TRY(read_file(in));
        resources = CORRAL_TRY(parse_update_resources(text, in == "-" ? "stdin" : in));
    } else {
        f.memory = opt(args, "memory");
        f.memory_reservation = opt(args, "memory-reservation");
        f.memory_swap = opt(args, "memory-swap");
        f.kernel_memory = opt(args, "kernel-memory");
        f.kernel_memory_tcp = opt(args, "kernel-memory-tcp");
        f.cpu_share = opt(args, "cpu-share");
        f.cpu_period = opt(args, "cpu-period");
        f.cpu_rt_period = opt(args, "cpu-rt-period");
        f.cpu_quota = opt(args, "cpu-quota");
        f.cpu_rt_runtime = opt(args, "cpu-rt-runtime");
        f.cpuset_cpus = opt(args, "cpuset-cpus");
        f.cpuset_mems = opt(args, "cpuset-mems");
        resources = CORRAL_TRY(resources_from_update_flags(f));
    }
    // corral has no Intel RDT support; runc's words for a host without it.
    if (!args.get("l3-cache-schema").empty()) return Error("Intel RDT/CAT: l3 cache schema is not enabled");
    if (!args.get("mem-bw-schema").empty()) return Error("Intel RDT/MBA: memory bandwidth schema is not enabled");

    CORRAL_TRY(corral::update(env.ctx, id, resources));
    return 0;
}

} // namespace

extern const Command kUpdateCommand; // external linkage: main.cpp lists it
const Command kUpdateCommand{
    .name = "update",
    .summary = "update container resource constraints",
    .args_usage = "<container-id>",
    .flags = kFlags,
    .min_args = 1,
    .max_args = 1,
    .run = run_update,
};

} // namespace corral::cli
