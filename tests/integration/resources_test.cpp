// Resource control through linux.resources and the runtime's resource
// commands: memory (OOM kill, events), cpu (CFS quota, cpuset, shares), pids,
// and `update` on a running container. Limits are read back from the
// container's cgroup on the host (v1 or v2 layout, see resources.hpp) or from
// inside, and enforced limits are checked by what the probe manages to do.
//
// Suite names match the cgroup v2 VM lane's filter (scripts/cgroupv2-vm).
#include "integration/resources.hpp"

#include <algorithm>
#include <filesystem>
#include <thread>

namespace corral_it {
namespace {

class MemoryLimit : public ResourceTest {};
class OomEvents : public ResourceTest {};
class ResourceEvents : public ResourceTest {};
class ResourceLimits : public ResourceTest {};
class CpuLimit : public ResourceTest {};
class PidsLimit : public ResourceTest {};
class ResourceUpdate : public ResourceTest {};
class ResourceCommands : public ResourceTest {};

const json kMemory32M = {{"limit", 32 * MiB}};

// The highest "allocated N MB" line of a memhog's output (0 if none).
long allocated_mb(const std::string &out) {
    long last = 0;
    for (const auto &line : lines(out))
        if (line.rfind("allocated ", 0) == 0) last = std::atol(line.c_str() + 10);
    return last;
}

// --- memory -------------------------------------------------------------------

TEST_F(MemoryLimit, ProgramAboveTheLimitIsOomKilled) {
    Bundle &b = make_bundle();
    b.config["linux"]["resources"]["memory"] = kMemory32M;
    b.set_args({"/probe", "memhog", "64"});
    Result r = run_bundle(b);
    EXPECT_EQ(r.status, 137) << "the OOM killer's SIGKILL\n" << r;
    EXPECT_EQ(r.out.find("done"), std::string::npos) << r;
    long mb = allocated_mb(r.out);
    EXPECT_GT(mb, 8) << "memhog could not even start\n" << r;
    EXPECT_LE(mb, 32) << "memhog got past the 32 MiB limit\n" << r;
}

TEST_F(MemoryLimit, ProgramBelowTheLimitRuns) {
    Bundle &b = make_bundle();
    b.config["linux"]["resources"]["memory"] = {{"limit", 64 * MiB}};
    b.set_args({"/probe", "memhog", "24"});
    Result r = run_bundle(b);
    EXPECT_EQ(r.status, 0) << r;
    EXPECT_NE(r.out.find("done 24 MB"), std::string::npos) << r;
}

TEST_F(MemoryLimit, LimitIsInTheContainersCgroupOnTheHost) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_limited(b, {{"memory", kMemory32M}}), 0);
    EXPECT_EQ(memory_limit_of(cgroup_path(b)), 32 * MiB)
        << cgroup_file(cgroup_path(b), "memory", "memory.limit_in_bytes", "memory.max");
}

TEST_F(MemoryLimit, LimitIsVisibleInsideThroughTheCgroupNamespace) {
    // The fixture has a cgroup namespace and mounts cgroup at /sys/fs/cgroup:
    // the container's own cgroup is the root of what it sees.
    Bundle &b = make_bundle();
    b.config["linux"]["resources"]["memory"] = kMemory32M;
    std::string inside = cgroup_v2() ? "/sys/fs/cgroup/memory.max" : "/sys/fs/cgroup/memory/memory.limit_in_bytes";
    b.set_args({"/probe", "read", inside});
    Result r = run_bundle(b);
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_EQ(r.out, std::to_string(32 * MiB) + "\n") << inside;
}

TEST_F(MemoryLimit, OomKilledContainerIsStoppedAndDeletes) {
    Bundle &b = make_bundle();
    b.config["linux"]["resources"]["memory"] = kMemory32M;
    b.set_args({"/probe", "memhog", "64"});
    ASSERT_TRUE(create(b));
    Result s = rt({"start", b.id});
    ASSERT_EQ(s.status, 0) << s;
    EXPECT_TRUE(becomes(b, "stopped")) << "state: " << state(b.id).dump();
    json st = state(b.id);
    EXPECT_EQ(st.value("pid", -1), 0) << st.dump();
    Result d = rt({"delete", b.id});
    EXPECT_EQ(d.status, 0) << d;
    EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{});
    EXPECT_EQ(processes_of(b.id), std::vector<pid_t>{});
    Result gone = rt({"state", b.id});
    EXPECT_NE(gone.status, 0) << gone;
    EXPECT_NE(gone.err.find("does not exist"), std::string::npos) << gone;
}

TEST_F(MemoryLimit, SwapReservationAndSwappiness) {
    Bundle &b = make_bundle();
    json memory = {{"limit", 32 * MiB}, {"swap", 64 * MiB}, {"reservation", 16 * MiB}};
    if (!cgroup_v2()) memory["swappiness"] = 10;  // v1 only
    ASSERT_GT(start_limited(b, {{"memory", memory}}), 0);
    std::string cg = cgroup_path(b);
    EXPECT_EQ(memory_limit_of(cg), 32 * MiB);
    // v1: memsw is memory+swap; v2: memory.swap.max is the swap alone.
    std::string swap = cgroup_file(cg, "memory", "memory.memsw.limit_in_bytes", "memory.swap.max");
    if (exists(swap)) {
        EXPECT_EQ(read_file(swap), std::to_string(cgroup_v2() ? 32 * MiB : 64 * MiB) + "\n") << swap;
    }
    std::string low = cgroup_file(cg, "memory", "memory.soft_limit_in_bytes", "memory.low");
    EXPECT_EQ(read_file(low), std::to_string(16 * MiB) + "\n") << low;
    if (!cgroup_v2()) {
        EXPECT_EQ(read_file(cgroup_file(cg, "memory", "memory.swappiness", "")), "10\n");
    }
}

TEST_F(MemoryLimit, OomKillOfAnExecdProcessLeavesTheInitRunning) {
    // runc leaves memory.oom.group alone: the OOM killer takes the biggest
    // process, not the whole container (a client asks for the group kill
    // through linux.resources.unified, as the kubelet does).
    Bundle &b = make_bundle();
    pid_t init = start_limited(b, {{"memory", kMemory32M}});
    ASSERT_GT(init, 0);
    Result hog = exec(b, {"/probe", "memhog", "64"});
    EXPECT_EQ(hog.status, 137) << hog;
    // Had the OOM kill taken the group, the init would die right after the
    // hog: give it a moment to show (a pass cannot be a late failure's luck
    // because the init is checked again through the state below).
    eventually([&] { return !process_alive(init); }, milliseconds(500));
    std::string group = cgroup_v2() ? read_file(cgroup_file(cgroup_path(b), "", "", "memory.oom.group")) : "";
    if (!group.empty() && group.back() == '\n') group.pop_back();
    EXPECT_TRUE(process_alive(init)) << "the OOM kill of an exec'd process took the init too"
                                     << (group.empty() ? "" : " (memory.oom.group is " + group + ")");
    EXPECT_EQ(status_of(b), "running");
}

TEST_F(MemoryLimit, OomGroupOnlyWhenTheConfigAsksForIt) {
    if (!cgroup_v2()) GTEST_SKIP() << "memory.oom.group is a cgroup v2 file";
    Bundle &plain = make_bundle();
    ASSERT_GT(start_limited(plain, {{"memory", kMemory32M}}), 0);
    std::string file = cgroup_file(cgroup_path(plain), "", "", "memory.oom.group");
    if (!exists(file)) GTEST_SKIP() << "no memory.oom.group in this kernel";
    EXPECT_EQ(read_file(file), "0\n") << "runc does not set memory.oom.group by itself";

    Bundle &asked = make_bundle();
    ASSERT_GT(start_limited(asked, {{"memory", kMemory32M}, {"unified", {{"memory.oom.group", "1"}}}}), 0);
    EXPECT_EQ(read_file(cgroup_file(cgroup_path(asked), "", "", "memory.oom.group")), "1\n");
}

// --- events -------------------------------------------------------------------

TEST_F(ResourceEvents, StatsShowTheMemoryAndPidsLimits) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_limited(b, {{"memory", kMemory32M}, {"pids", {{"limit", 20}}}}), 0);
    json s = stats(b);
    ASSERT_TRUE(s.is_object());
    EXPECT_EQ(s["type"], "stats") << s.dump();
    EXPECT_EQ(s["id"], b.id) << s.dump();
    const json &data = s["data"];
    ASSERT_TRUE(data.is_object()) << s.dump();
    EXPECT_EQ(data["memory"]["usage"]["limit"], 32 * MiB) << data["memory"].dump();
    EXPECT_GT(data["memory"]["usage"].value("usage", 0LL), 0) << data["memory"].dump();
    EXPECT_EQ(data["pids"]["limit"], 20) << data["pids"].dump();
    EXPECT_EQ(data["pids"]["current"], 1) << "only the init runs\n" << data["pids"].dump();
    EXPECT_GT(data["cpu"]["usage"].value("total", 0LL), 0) << data["cpu"].dump();
}

TEST_F(OomEvents, StreamingEventsReportAnOomKillOfAnExec) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_limited(b, {{"memory", kMemory32M}}), 0);
    auto events = rt_spawn({"events", "--interval", "1s", b.id});
    // The first stats line says that events watches the container.
    ASSERT_TRUE(events->wait_for_output("\"type\":\"stats\"", milliseconds(4000)))
        << "no stats line within 4 s\nstdout: " << events->out() << "\nstderr: " << events->err();
    Result hog = exec(b, {"/probe", "memhog", "64"});
    EXPECT_EQ(hog.status, 137) << hog;
    EXPECT_TRUE(events->wait_for_output("\"type\":\"oom\"", milliseconds(4000)))
        << "no oom event\nstdout: " << events->out() << "\nstderr: " << events->err();
    json oom = find_event(events->out(), "oom");
    EXPECT_EQ(oom.value("id", ""), b.id) << oom.dump();
    for (const auto &line : lines(events->out())) {
        json e = json::parse(line, nullptr, false);
        if (!e.is_object()) continue;  // a line cut by reading while events writes
        EXPECT_TRUE(e.contains("type") && e.value("id", "") == b.id) << line;
    }
    // Whether the init survives: MemoryLimit.OomKillOfAnExecdProcessLeavesTheInitRunning.
}

TEST_F(ResourceEvents, IntervalSetsThePaceOfStats) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_sleeper(b), 0);
    auto events = rt_spawn({"events", "--interval", "500ms", b.id});
    auto stats_lines = [&] {
        int n = 0;
        for (const auto &line : lines(events->out())) {
            json e = json::parse(line, nullptr, false);
            if (e.is_object() && e.value("type", "") == "stats" && e.value("id", "") == b.id) ++n;
        }
        return n;
    };
    // Wait for the events, with a deadline generous for a loaded machine: a
    // late line is no failure. Lines may come later than the interval,
    // never sooner: two intervals lie between the first and the third.
    ASSERT_TRUE(eventually([&] { return stats_lines() >= 1; }, milliseconds(10000))) << events->err();
    auto first = std::chrono::steady_clock::now();
    ASSERT_TRUE(eventually([&] { return stats_lines() >= 3; }, milliseconds(10000))) << events->out() << events->err();
    auto third = std::chrono::steady_clock::now();
    // Observed by polling every few ms: allow that much early.
    EXPECT_GE(third - first, milliseconds(900)) << "stats came faster than every 500 ms\n" << events->out();
    EXPECT_TRUE(events->running()) << events->err();
}

TEST_F(ResourceEvents, StreamEndsOnceTheContainerIsGone) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_sleeper(b), 0);
    auto events = rt_spawn({"events", "--interval", "200ms", b.id});
    ASSERT_TRUE(events->wait_for_output("\"type\":\"stats\"", milliseconds(4000))) << events->err();
    ASSERT_EQ(rt({"kill", b.id, "KILL"}).status, 0);
    ASSERT_TRUE(becomes(b, "stopped"));
    Result d = rt({"delete", b.id});
    EXPECT_EQ(d.status, 0) << d;
    // runc ends when the container is deleted at the latest (earlier is fine).
    Result r = events->wait(milliseconds(4000));
    EXPECT_EQ(r.status, 0) << r;
}

// --- cpu ----------------------------------------------------------------------

TEST_F(CpuLimit, QuotaIsInTheContainersCgroup) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_limited(b, {{"cpu", {{"quota", 20000}, {"period", 100000}}}}), 0);
    auto q = cpu_quota_of(cgroup_path(b));
    ASSERT_TRUE(q.has_value());
    EXPECT_EQ(q->first, 20000);
    EXPECT_EQ(q->second, 100000);
}

TEST_F(CpuLimit, QuotaHoldsTheContainerToAFifthOfACore) {
    Bundle &b = make_bundle();
    b.config["linux"]["resources"]["cpu"] = {{"quota", 20000}, {"period", 100000}};
    b.set_args({"/probe", "cpuburn", "3"});
    b.write();
    auto run = rt_spawn({"run", "--bundle", b.dir, b.id});
    std::string cg = cgroup_path(b);
    ASSERT_TRUE(eventually([&] { return cpu_usage_ns(cg).value_or(0) > 0; }, milliseconds(4000)))
        << "no CPU usage in " << cg;
    // Measure the cgroup's usage over 2 s in the middle of the 3 s burn.
    std::this_thread::sleep_for(milliseconds(300));
    auto t0 = std::chrono::steady_clock::now();
    auto u0 = cpu_usage_ns(cg);
    std::this_thread::sleep_for(milliseconds(2000));
    auto u1 = cpu_usage_ns(cg);
    auto t1 = std::chrono::steady_clock::now();
    Result r = run->wait();
    ASSERT_TRUE(u0 && u1) << "cpu usage unreadable in " << cg;
    double wall = std::chrono::duration<double>(t1 - t0).count();
    double share = static_cast<double>(*u1 - *u0) / 1e9 / wall;
    // The quota is a ceiling: a loaded (or emulated) machine may give the
    // container less, never more. So the check is the ceiling, and that it ran.
    EXPECT_GT(share, 0.0) << "cgroup CPU usage " << share << " of a core";
    EXPECT_LE(share, 0.35) << "cgroup CPU usage " << share << " of a core";

    // The probe's own account of the whole burn.
    ASSERT_EQ(r.status, 0) << r;
    json burn = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(burn.is_object()) << r;
    double own = burn["cpu_seconds"].get<double>() / burn["wall_seconds"].get<double>();
    EXPECT_GT(own, 0.0) << r.out;
    EXPECT_LE(own, 0.35) << r.out;
}

TEST_F(CpuLimit, CpusetPinsTheContainer) {
    Bundle &b = make_bundle();
    b.config["linux"]["resources"]["cpu"] = {{"cpus", "0"}, {"mems", "0"}};
    json r = probe(b, {"report"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["cpus_allowed_list"], "0");
    EXPECT_EQ(r["mems_allowed_list"], "0");
}

TEST_F(CpuLimit, SharesBecomeTheCgroupsWeight) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_limited(b, {{"cpu", {{"shares", 512}}}}), 0);
    std::string file = cgroup_file(cgroup_path(b), "cpu", "cpu.shares", "cpu.weight");
    std::string got = read_file(file);
    // v2: runc's conversion 1 + ((shares - 2) * 9999) / 262142.
    EXPECT_EQ(got, cgroup_v2() ? "20\n" : "512\n") << file;
}

// --- pids ---------------------------------------------------------------------

TEST_F(PidsLimit, ForkbombStopsBelowTheLimitWithEagain) {
    Bundle &b = make_bundle();
    b.config["linux"]["resources"]["pids"] = {{"limit", 20}};
    json r = probe(b, {"forkbomb", "100"});
    ASSERT_TRUE(r.is_object());
    EXPECT_EQ(r["requested"], 100);
    EXPECT_LT(r["forked"].get<int>(), 20) << r.dump();
    EXPECT_GE(r["forked"].get<int>(), 15) << "far below the limit: " << r.dump();
    EXPECT_EQ(r["errno"], "EAGAIN") << r.dump();
}

TEST_F(PidsLimit, LimitIsInTheContainersCgroup) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_limited(b, {{"pids", {{"limit", 20}}}}), 0);
    EXPECT_EQ(pids_limit_of(cgroup_path(b)), 20);
    Result inside = exec(b, {"/probe", "read", cgroup_v2() ? "/sys/fs/cgroup/pids.max" : "/sys/fs/cgroup/pids/pids.max"});
    EXPECT_EQ(inside.status, 0) << inside;
    EXPECT_EQ(inside.out, "20\n") << inside;
}

// --- other controllers ----------------------------------------------------------

// A whole disk's "major:minor" from /sys/block (not a loop, ram or zram device); "" if none.
std::string a_block_device() {
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto &e : std::filesystem::directory_iterator("/sys/block", ec)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    for (const auto &n : names) {
        if (n.rfind("loop", 0) == 0 || n.rfind("ram", 0) == 0 || n.rfind("zram", 0) == 0) continue;
        std::string dev = read_file("/sys/block/" + n + "/dev");
        while (!dev.empty() && dev.back() == '\n') dev.pop_back();
        if (!dev.empty()) return dev;
    }
    return {};
}

TEST_F(ResourceLimits, BlockIoThrottlesLandInTheCgroup) {
    std::string dev = a_block_device();
    if (dev.empty()) GTEST_SKIP() << "no disk under /sys/block to throttle";
    int major = std::atoi(dev.c_str()), minor = std::atoi(dev.c_str() + dev.find(':') + 1);
    Bundle &b = make_bundle();
    json device = {{"major", major}, {"minor", minor}};
    json read_bps = device, write_iops = device;
    read_bps["rate"] = 1048576;
    write_iops["rate"] = 100;
    ASSERT_GT(start_limited(b, {{"blockIO", {{"throttleReadBpsDevice", {read_bps}},
                                             {"throttleWriteIOPSDevice", {write_iops}}}}}),
              0);
    std::string cg = cgroup_path(b);
    if (cgroup_v2()) {
        std::string io_max = read_file(cgroup_file(cg, "", "", "io.max"));
        EXPECT_NE(io_max.find(dev + " "), std::string::npos) << io_max;
        EXPECT_NE(io_max.find("rbps=1048576"), std::string::npos) << io_max;
        EXPECT_NE(io_max.find("wiops=100"), std::string::npos) << io_max;
    } else {
        EXPECT_EQ(read_file(cgroup_file(cg, "blkio", "blkio.throttle.read_bps_device", "")), dev + " 1048576\n");
        EXPECT_EQ(read_file(cgroup_file(cg, "blkio", "blkio.throttle.write_iops_device", "")), dev + " 100\n");
    }
}

TEST_F(ResourceLimits, HugetlbLimitOrAClearRefusal) {
    if (!exists("/sys/kernel/mm/hugepages/hugepages-2048kB")) GTEST_SKIP() << "no 2 MB huge pages in this kernel";
    bool available = cgroup_v2() ? read_file("/sys/fs/cgroup/cgroup.controllers").find("hugetlb") != std::string::npos
                                 : exists("/sys/fs/cgroup/hugetlb");
    Bundle &b = make_bundle();
    json limits = json::array({{{"pageSize", "2MB"}, {"limit", 4 * MiB}}});
    if (!available) {
        // Our v1 hosts have hugetlb only in the (unused) cgroup2 tree: the
        // limit cannot be applied, and silently dropping it would be wrong.
        b.config["linux"]["resources"]["hugepageLimits"] = limits;
        b.set_args({"/probe", "exit", "0"});
        Result r = run_bundle(b);
        EXPECT_NE(r.status, 0) << r;
        EXPECT_NE(r.err.find("hugetlb"), std::string::npos) << r;
        EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{}) << "a failed run left its cgroup";
        return;
    }
    ASSERT_GT(start_limited(b, {{"hugepageLimits", limits}}), 0);
    std::string file = cgroup_file(cgroup_path(b), "hugetlb", "hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.max");
    EXPECT_EQ(read_file(file), std::to_string(4 * MiB) + "\n") << file;
}

TEST_F(ResourceLimits, UnifiedSettingsOnV2AndARefusalOnV1) {
    Bundle &b = make_bundle();
    json unified = {{"memory.high", std::to_string(48 * MiB)}, {"pids.max", "42"}};
    if (!cgroup_v2()) {
        b.config["linux"]["resources"]["unified"] = unified;
        b.set_args({"/probe", "exit", "0"});
        Result r = run_bundle(b);
        EXPECT_NE(r.status, 0) << r;
        EXPECT_NE(r.err.find("unified"), std::string::npos) << r;
        EXPECT_EQ(cgroup_dirs_of(b.id), std::vector<std::string>{}) << "a failed run left its cgroup";
        return;
    }
    ASSERT_GT(start_limited(b, {{"unified", unified}}), 0);
    EXPECT_EQ(read_file(cgroup_file(cgroup_path(b), "", "", "memory.high")), std::to_string(48 * MiB) + "\n");
    EXPECT_EQ(pids_limit_of(cgroup_path(b)), 42);
}

// --- update -------------------------------------------------------------------

TEST_F(ResourceUpdate, FlagsChangeTheLiveLimits) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_limited(b, {{"memory", kMemory32M},
                                {"pids", {{"limit", 20}}},
                                {"cpu", {{"quota", 20000}, {"period", 100000}}}}),
              0);
    std::string cg = cgroup_path(b);

    Result mem = rt({"update", "--memory", "64m", b.id});
    EXPECT_EQ(mem.status, 0) << mem;
    EXPECT_EQ(memory_limit_of(cg), 64 * MiB);

    Result bytes = rt({"update", "--memory", std::to_string(48 * MiB), b.id});
    EXPECT_EQ(bytes.status, 0) << bytes;
    EXPECT_EQ(memory_limit_of(cg), 48 * MiB);

    Result pids = rt({"update", "--pids-limit", "50", b.id});
    EXPECT_EQ(pids.status, 0) << pids;
    EXPECT_EQ(pids_limit_of(cg), 50);

    Result quota = rt({"update", "--cpu-quota", "50000", b.id});
    EXPECT_EQ(quota.status, 0) << quota;
    EXPECT_EQ(cpu_quota_of(cg), std::make_pair(50000LL, 100000LL));

    Result both = rt({"update", "--cpu-period", "200000", "--cpu-quota", "40000", b.id});
    EXPECT_EQ(both.status, 0) << both;
    EXPECT_EQ(cpu_quota_of(cg), std::make_pair(40000LL, 200000LL));

    // Unchanged by the later updates.
    EXPECT_EQ(memory_limit_of(cg), 48 * MiB);
    EXPECT_EQ(pids_limit_of(cg), 50);
    EXPECT_EQ(status_of(b), "running");
}

TEST_F(ResourceUpdate, ResourcesJsonFromStdin) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_limited(b, {{"memory", kMemory32M},
                                {"pids", {{"limit", 20}}},
                                {"cpu", {{"quota", 20000}, {"period", 100000}}}}),
              0);
    std::string cg = cgroup_path(b);
    json resources = {{"memory", {{"limit", 96 * MiB}}},
                      {"cpu", {{"quota", 30000}, {"period", 200000}}},
                      {"pids", {{"limit", 40}}}};
    RunOptions in;
    in.stdin_data = resources.dump();
    Result r = rt({"update", "--resources", "-", b.id}, in);
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_EQ(memory_limit_of(cg), 96 * MiB);
    EXPECT_EQ(cpu_quota_of(cg), std::make_pair(30000LL, 200000LL));
    EXPECT_EQ(pids_limit_of(cg), 40);
}

TEST_F(ResourceUpdate, ResourcesJsonFromAFileLeavesOtherLimits) {
    // podman: `update --resources=FILE`; fields left out stay as they are.
    Bundle &b = make_bundle();
    ASSERT_GT(start_limited(b, {{"memory", kMemory32M}, {"pids", {{"limit", 20}}}}), 0);
    std::string cg = cgroup_path(b);
    std::string file = make_dir("update") + "/resources.json";
    write_file(file, json({{"pids", {{"limit", 33}}}}).dump());
    Result r = rt({"update", "--resources=" + file, b.id});
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_EQ(pids_limit_of(cg), 33);
    EXPECT_EQ(memory_limit_of(cg), 32 * MiB) << "memory was not in the update";
}

TEST_F(ResourceUpdate, UpdatedMemoryLimitIsEnforced) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_limited(b, {{"memory", kMemory32M}}), 0);
    Result up = rt({"update", "--memory", "128m", b.id});
    ASSERT_EQ(up.status, 0) << up;
    Result fits = exec(b, {"/probe", "memhog", "48"});
    EXPECT_EQ(fits.status, 0) << "48 MB must fit once the limit is 128 MiB\n" << fits;
    EXPECT_NE(fits.out.find("done 48 MB"), std::string::npos) << fits;
    Result down = rt({"update", "--memory", "32m", b.id});
    ASSERT_EQ(down.status, 0) << down;
    Result killed = exec(b, {"/probe", "memhog", "48"});
    EXPECT_EQ(killed.status, 137) << "48 MB must not fit under 32 MiB again\n" << killed;
}

TEST_F(ResourceUpdate, RaisedPidsLimitLetsMoreProcessesFork) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_limited(b, {{"pids", {{"limit", 10}}}}), 0);
    Result before = exec(b, {"/probe", "forkbomb", "30"});
    ASSERT_EQ(before.status, 0) << before;
    json f0 = json::parse(before.out, nullptr, false);
    EXPECT_LT(f0.value("forked", 99), 10) << before;
    EXPECT_EQ(f0.value("errno", json()), "EAGAIN") << before;

    Result u = rt({"update", "--pids-limit", "50", b.id});
    ASSERT_EQ(u.status, 0) << u;
    Result after = exec(b, {"/probe", "forkbomb", "30"});
    ASSERT_EQ(after.status, 0) << after;
    json f1 = json::parse(after.out, nullptr, false);
    EXPECT_EQ(f1.value("forked", -1), 30) << after;
    EXPECT_TRUE(f1.value("errno", json("x")).is_null()) << after;
}

TEST_F(ResourceUpdate, SwapReservationSharesAndCpuset) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_limited(b, {{"memory", {{"limit", 32 * MiB}, {"swap", 64 * MiB}}},
                                {"cpu", {{"shares", 512}, {"cpus", "0"}}}}),
              0);
    std::string cg = cgroup_path(b);
    std::string cpus = std::thread::hardware_concurrency() > 1 ? "1" : "0";
    Result u = rt({"update", "--memory-swap", "96m", "--memory-reservation", "8m", "--cpu-share", "256", "--cpuset-cpus",
                   cpus, b.id});
    ASSERT_EQ(u.status, 0) << u;
    std::string swap = cgroup_file(cg, "memory", "memory.memsw.limit_in_bytes", "memory.swap.max");
    if (exists(swap)) {
        EXPECT_EQ(read_file(swap), std::to_string(cgroup_v2() ? 64 * MiB : 96 * MiB) + "\n") << swap;
    }
    EXPECT_EQ(read_file(cgroup_file(cg, "memory", "memory.soft_limit_in_bytes", "memory.low")),
              std::to_string(8 * MiB) + "\n");
    // v2: 1 + ((256 - 2) * 9999) / 262142 = 10.
    EXPECT_EQ(read_file(cgroup_file(cg, "cpu", "cpu.shares", "cpu.weight")), cgroup_v2() ? "10\n" : "256\n");
    EXPECT_EQ(read_file(cgroup_file(cg, "cpuset", "cpuset.cpus", "cpuset.cpus")), cpus + "\n");
    EXPECT_EQ(memory_limit_of(cg), 32 * MiB) << "the memory limit was not part of the update";
}

TEST_F(ResourceUpdate, InvalidValueIsRefusedAndChangesNothing) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_limited(b, {{"memory", kMemory32M}, {"pids", {{"limit", 20}}}}), 0);
    Result r = rt({"update", "--memory", "abc", b.id});
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find("memory"), std::string::npos) << r;
    RunOptions bad;
    bad.stdin_data = "{not json";
    Result j = rt({"update", "--resources", "-", b.id}, bad);
    EXPECT_NE(j.status, 0) << j;
    EXPECT_EQ(memory_limit_of(cgroup_path(b)), 32 * MiB);
    EXPECT_EQ(pids_limit_of(cgroup_path(b)), 20);
    EXPECT_EQ(status_of(b), "running");
}

TEST_F(ResourceUpdate, PidsLimitMinusOneLiftsTheLimit) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_limited(b, {{"pids", {{"limit", 20}}}}), 0);
    Result r = rt({"update", "--pids-limit", "-1", b.id});
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_EQ(pids_limit_of(cgroup_path(b)), -1) << "pids.max should read max";
}

// --- commands on a container that is not running -------------------------------

TEST_F(ResourceCommands, RefuseAStoppedContainer) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "exit", "0"});
    ASSERT_TRUE(create(b));
    Result s = rt({"start", b.id});
    ASSERT_EQ(s.status, 0) << s;
    ASSERT_TRUE(becomes(b, "stopped"));

    // exec: ExecInContainer.FailsInAStoppedContainer.
    Result p = rt({"pause", b.id});
    EXPECT_NE(p.status, 0) << p;
    EXPECT_NE(p.err.find("container not running"), std::string::npos) << p;
    Result r = rt({"resume", b.id});
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find("container not paused"), std::string::npos) << r;
    Result u = rt({"update", "--memory", "64m", b.id});
    EXPECT_NE(u.status, 0) << u;
    EXPECT_NE(u.err.find("not running"), std::string::npos) << u;
    Result ev = rt({"events", "--stats", b.id});
    EXPECT_NE(ev.status, 0) << ev;
    EXPECT_NE(ev.err.find("not running"), std::string::npos) << ev;
    EXPECT_EQ(status_of(b), "stopped");
}

TEST_F(ResourceCommands, RefuseAnUnknownContainer) {
    for (const std::vector<std::string> &args :
         {std::vector<std::string>{"exec", "no-such-container", "/probe"}, {"pause", "no-such-container"},
          {"resume", "no-such-container"}, {"update", "--memory", "64m", "no-such-container"},
          {"events", "--stats", "no-such-container"}, {"ps", "no-such-container"}}) {
        Result r = rt(args);
        EXPECT_NE(r.status, 0) << r;
        EXPECT_NE(r.err.find("does not exist"), std::string::npos) << "containerd matches this text\n" << r;
    }
}

}  // namespace
}  // namespace corral_it
