// Small devices (issue 22, docs/edge.md): a container whose memory cgroup is
// limited to 512 KiB starts and runs. The limit covers everything charged to
// the container's cgroup from the moment the init joins it: the runtime's own
// init process until it execs the user program, then the program. runc's Go
// init needs several MiB; corral's C++ init must fit in 512 KiB with room to
// spare. cgroup v1 only for now: on v2 (the VM lane's Linux 6.1) the same
// shell was OOM-killed at 512 KiB, as v2 charges the kernel's memory for the
// cgroup's tasks (slab, page tables, stacks) too; the sleeper fitted.
#include "integration/resources.hpp"

#include <thread>

namespace corral_it {
namespace {

class MemoryLimitTiny : public ResourceTest {};

constexpr long long k512KiB = 512 * 1024;

TEST_F(MemoryLimitTiny, ProgramRunsToItsEndUnder512KiB) {
    Bundle &b = make_bundle();
    b.config["linux"]["resources"]["memory"] = {{"limit", k512KiB}};
    b.set_args({"/bin/sh", "-c", "echo small is beautiful; /bin/ls /bin >/dev/null && echo listed"});
    Result r = run_bundle(b);
    EXPECT_EQ(r.status, 0) << "137 is the OOM killer: the 512 KiB were not enough\n" << r;
    EXPECT_NE(r.out.find("small is beautiful\nlisted\n"), std::string::npos) << r;
}

TEST_F(MemoryLimitTiny, SleeperStaysUpUnderTheLimitAndExecWorks) {
    Bundle &b = make_bundle();
    pid_t init = start_limited(b, {{"memory", {{"limit", k512KiB}}}});
    ASSERT_GT(init, 0);
    const std::string cg = cgroup_path(b);
    EXPECT_EQ(memory_limit_of(cg), k512KiB);
    std::this_thread::sleep_for(milliseconds(300));
    EXPECT_TRUE(process_alive(init)) << "the init was killed under the 512 KiB limit";
    // An exec'd process joins the same cgroup and fits too.
    Result e = exec(b, {"/bin/echo", "exec fits"});
    EXPECT_EQ(e.status, 0) << e;
    EXPECT_NE(e.out.find("exec fits"), std::string::npos) << e;
    // What the cgroup peaked at, for docs/benchmarks.md.
    std::string peak = read_file(cgroup_file(cg, "memory", "memory.max_usage_in_bytes", "memory.peak"));
    if (!peak.empty()) {
        EXPECT_LE(std::stoll(peak), k512KiB);
        RecordProperty("peak_bytes", peak.substr(0, peak.find('\n')));
        std::printf("peak memory of the 512 KiB container's cgroup: %s", peak.c_str());
    }
}

} // namespace
} // namespace corral_it
