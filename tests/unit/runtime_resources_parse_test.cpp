// What `update`, `events` and `ps` take from their command line, checked
// against what runc 1.1.5 accepts and the messages it prints (measured with
// the installed runc): memory sizes (docker/go-units RAMInBytes), Go
// durations, Go int flags, the update flags → linux.resources, the
// --resources JSON, and runc's `ps` filter. Also `update` on a state
// directory: refused when stopped, the new values recorded in config.json.
#include "common/fs.hpp"
#include "runtime/state.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <limits>
#include <sys/wait.h>
#include <unistd.h>

using namespace corral;
using namespace std::chrono_literals;

namespace {

constexpr int64_t MiB = 1024 * 1024;

int64_t ram(std::string_view s) {
    auto r = parse_ram_in_bytes(s);
    EXPECT_TRUE(r) << s << ": " << r.error().message();
    return r ? *r : -42;
}

std::string ram_error(std::string_view s) {
    auto r = parse_ram_in_bytes(s);
    EXPECT_FALSE(r) << s << " parsed as " << *r;
    return r ? std::string() : r.error().message();
}

TEST(RamInBytes, AcceptsRuncsForms) {
    EXPECT_EQ(ram("4096"), 4096);
    EXPECT_EQ(ram("0"), 0);
    EXPECT_EQ(ram("512m"), 512 * MiB);
    EXPECT_EQ(ram("1g"), 1024 * MiB);
    EXPECT_EQ(ram("1G"), 1024 * MiB);
    EXPECT_EQ(ram("1gib"), 1024 * MiB);
    EXPECT_EQ(ram("64MiB"), 64 * MiB);
    EXPECT_EQ(ram("64mb"), 64 * MiB);
    EXPECT_EQ(ram("64Mi"), 64 * MiB);
    EXPECT_EQ(ram("12kb"), 12288);
    EXPECT_EQ(ram("1.5m"), 1572864);
    EXPECT_EQ(ram("0.5k"), 512);
    EXPECT_EQ(ram("1 m"), MiB);
    EXPECT_EQ(ram("64 "), 64);
    EXPECT_EQ(ram("64b"), 64);
    EXPECT_EQ(ram("64ib"), 64); // the pattern allows "i" without a unit, as runc does
    EXPECT_EQ(ram("1t"), 1099511627776);
    EXPECT_EQ(ram("1p"), 1125899906842624);
}

TEST(RamInBytes, RefusesWithRuncsMessages) {
    EXPECT_EQ(ram_error("1x"), "invalid size: '1x'");
    EXPECT_EQ(ram_error("-2"), "invalid size: '-2'");
    EXPECT_EQ(ram_error("m"), "invalid size: 'm'");
    EXPECT_EQ(ram_error(".5m"), "invalid size: '.5m'");
    EXPECT_EQ(ram_error("1e3"), "invalid size: '1e3'");
    EXPECT_EQ(ram_error("+5m"), "invalid size: '+5m'");
    EXPECT_EQ(ram_error(""), "invalid size: ''");
    EXPECT_EQ(ram_error("1.5.3m"), "strconv.ParseFloat: parsing \"1.5.3\": invalid syntax");
}

TEST(RamInBytes, OverflowIsGosIntegerIndefinite) {
    // runc then fails writing -9223372036854775808 to the cgroup; so do we.
    EXPECT_EQ(ram("99999999999999999999"), std::numeric_limits<int64_t>::min());
    EXPECT_EQ(ram("8p"), 9007199254740992);
}

std::chrono::nanoseconds dur(std::string_view s) {
    auto r = parse_go_duration(s);
    EXPECT_TRUE(r) << s << ": " << r.error().message();
    return r ? *r : std::chrono::nanoseconds(-42);
}

std::string dur_error(std::string_view s) {
    auto r = parse_go_duration(s);
    EXPECT_FALSE(r) << s << " parsed as " << r->count();
    return r ? std::string() : r.error().message();
}

TEST(GoDuration, ParsesLikeTimeParseDuration) {
    EXPECT_EQ(dur("5s"), 5s);
    EXPECT_EQ(dur("500ms"), 500ms);
    EXPECT_EQ(dur("1m30s"), 90s);
    EXPECT_EQ(dur("1.5h"), 90min);
    EXPECT_EQ(dur("0"), 0s);
    EXPECT_EQ(dur("-1s"), -1s);
    EXPECT_EQ(dur("+2s"), 2s);
    EXPECT_EQ(dur("300ns"), 300ns);
    EXPECT_EQ(dur("7us"), 7us);
    EXPECT_EQ(dur("7\xc2\xb5s"), 7us);
    EXPECT_EQ(dur(".5s"), 500ms);
    EXPECT_EQ(dur("1.s"), 1s);
    EXPECT_EQ(dur("1h2m3s4ms"), 1h + 2min + 3s + 4ms);
    EXPECT_EQ(dur("2562047h"), 2562047h);
}

TEST(GoDuration, RefusesWithGosMessages) {
    EXPECT_EQ(dur_error(""), "time: invalid duration \"\"");
    EXPECT_EQ(dur_error("1"), "time: missing unit in duration \"1\"");
    EXPECT_EQ(dur_error("1x"), "time: unknown unit \"x\" in duration \"1x\"");
    EXPECT_EQ(dur_error("s"), "time: invalid duration \"s\"");
    EXPECT_EQ(dur_error(".s"), "time: invalid duration \".s\"");
    EXPECT_EQ(dur_error("1.5"), "time: missing unit in duration \"1.5\"");
    EXPECT_EQ(dur_error("3000000h"), "time: invalid duration \"3000000h\"");
}

TEST(IntFlag, ParsesLikeGosFlagPackage) {
    auto v = [](std::string_view s) {
        auto r = parse_int_flag("pids-limit", s);
        EXPECT_TRUE(r) << s << ": " << r.error().message();
        return r ? *r : -42;
    };
    EXPECT_EQ(v("100"), 100);
    EXPECT_EQ(v("-1"), -1);
    EXPECT_EQ(v("0x20"), 32);
    EXPECT_EQ(v("010"), 8);
    EXPECT_EQ(v("0o17"), 15);
    EXPECT_EQ(v("0b101"), 5);
    EXPECT_EQ(v("1_000"), 1000);
    EXPECT_EQ(v("0"), 0);
    EXPECT_EQ(v("9223372036854775807"), std::numeric_limits<int64_t>::max());
    EXPECT_EQ(v("-9223372036854775808"), std::numeric_limits<int64_t>::min());

    auto e = [](std::string_view s) {
        auto r = parse_int_flag("pids-limit", s);
        EXPECT_FALSE(r) << s;
        return r ? std::string() : r.error().message();
    };
    EXPECT_EQ(e("abc"), "invalid value \"abc\" for flag -pids-limit: parse error");
    EXPECT_EQ(e(""), "invalid value \"\" for flag -pids-limit: parse error");
    EXPECT_EQ(e("1__0"), "invalid value \"1__0\" for flag -pids-limit: parse error");
    EXPECT_EQ(e("_1"), "invalid value \"_1\" for flag -pids-limit: parse error");
    EXPECT_EQ(e("08"), "invalid value \"08\" for flag -pids-limit: parse error");
    EXPECT_EQ(e("99999999999999999999"), "invalid value \"99999999999999999999\" for flag -pids-limit: value out of range");
    EXPECT_EQ(e("9223372036854775808"), "invalid value \"9223372036854775808\" for flag -pids-limit: value out of range");
}

TEST(UpdateFlags, BecomeResources) {
    UpdateFlags f;
    f.memory = "64m";
    f.memory_reservation = "16m";
    f.memory_swap = "-1";
    f.cpu_share = "512";
    f.cpu_quota = "+5000";
    f.cpu_period = "100000";
    f.cpu_rt_period = "1000000";
    f.cpu_rt_runtime = "-1";
    f.cpuset_cpus = "0-1";
    f.cpuset_mems = "0";
    f.pids_limit = 50;
    f.blkio_weight = 500;
    auto r = resources_from_update_flags(f);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_TRUE(r->memory);
    EXPECT_EQ(r->memory->limit, 64 * MiB);
    EXPECT_EQ(r->memory->reservation, 16 * MiB);
    EXPECT_EQ(r->memory->swap, -1);
    EXPECT_FALSE(r->memory->kernel);
    ASSERT_TRUE(r->cpu);
    EXPECT_EQ(r->cpu->shares, 512u);
    EXPECT_EQ(r->cpu->quota, 5000);
    EXPECT_EQ(r->cpu->period, 100000u);
    EXPECT_EQ(r->cpu->realtime_period, 1000000u);
    EXPECT_EQ(r->cpu->realtime_runtime, -1);
    EXPECT_EQ(r->cpu->cpus, "0-1");
    EXPECT_EQ(r->cpu->mems, "0");
    ASSERT_TRUE(r->pids);
    EXPECT_EQ(r->pids->limit, 50);
    ASSERT_TRUE(r->block_io);
    EXPECT_EQ(r->block_io->weight, 500);
}

TEST(UpdateFlags, UnsetAndEmptyFlagsChangeNothing) {
    UpdateFlags f;
    f.memory = "";
    f.cpuset_cpus = "";
    f.pids_limit = 0;
    f.blkio_weight = 65536; // uint16(65536) == 0, as runc's cast
    auto r = resources_from_update_flags(f);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_FALSE(r->memory);
    EXPECT_FALSE(r->cpu);
    EXPECT_FALSE(r->pids);
    EXPECT_FALSE(r->block_io);

    UpdateFlags w;
    w.blkio_weight = 70000;
    auto rw = resources_from_update_flags(w);
    ASSERT_TRUE(rw && rw->block_io);
    EXPECT_EQ(rw->block_io->weight, 4464); // what runc writes, and the kernel refuses
}

TEST(UpdateFlags, KernelMemoryIsParsedThenIgnored) {
    UpdateFlags f;
    f.kernel_memory = "10m";
    auto r = resources_from_update_flags(f);
    ASSERT_TRUE(r && r->memory);
    EXPECT_EQ(r->memory->kernel, 10 * MiB); // update() warns and drops it
    f.kernel_memory = "1x";
    auto bad = resources_from_update_flags(f);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(), "invalid value for kernel-memory: invalid size: '1x'");
}

TEST(UpdateFlags, RefuseWithRuncsMessagesInRuncsOrder) {
    auto error = [](const UpdateFlags &f) {
        auto r = resources_from_update_flags(f);
        EXPECT_FALSE(r);
        return r ? std::string() : r.error().message();
    };
    UpdateFlags f;
    f.memory = "1x";
    EXPECT_EQ(error(f), "invalid value for memory: invalid size: '1x'");
    f.cpu_quota = "abc";
    EXPECT_EQ(error(f), "invalid value for cpu-quota: strconv.ParseInt: parsing \"abc\": invalid syntax");
    f.cpu_share = "-1";
    EXPECT_EQ(error(f), "invalid value for cpu-share: strconv.ParseUint: parsing \"-1\": invalid syntax");
    f.cpu_period = "99999999999999999999";
    EXPECT_EQ(error(f),
              "invalid value for cpu-period: strconv.ParseUint: parsing \"99999999999999999999\": value out of range");
    UpdateFlags m;
    m.memory_swap = "1.5.3m";
    EXPECT_EQ(error(m), "invalid value for memory-swap: strconv.ParseFloat: parsing \"1.5.3\": invalid syntax");
}

TEST(UpdateResourcesJson, ReadsTheFieldsAndToleratesWhatRuncDoes) {
    auto r = parse_update_resources(R"({"memory":{"limit":33554432,"swap":-1},"cpu":{"shares":512,"cpus":"0"},)"
                                    R"("pids":{"limit":40},"blockIO":{"weight":300},"bogus":1} trailing words)",
                                    "stdin");
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_TRUE(r->memory && r->cpu && r->pids && r->block_io);
    EXPECT_EQ(r->memory->limit, 32 * MiB);
    EXPECT_EQ(r->memory->swap, -1);
    EXPECT_EQ(r->cpu->shares, 512u);
    EXPECT_EQ(r->cpu->cpus, "0");
    EXPECT_EQ(r->pids->limit, 40);
    EXPECT_EQ(r->block_io->weight, 300);

    auto null = parse_update_resources("null\n", "stdin");
    ASSERT_TRUE(null) << null.error().message();
    EXPECT_FALSE(null->memory);
    auto empty = parse_update_resources("{}", "stdin");
    ASSERT_TRUE(empty) << empty.error().message();
}

TEST(UpdateResourcesJson, ErrorsNameTheSourceAndTheField) {
    auto msg = [](std::string_view text) {
        auto r = parse_update_resources(text, "res.json");
        EXPECT_FALSE(r) << text;
        return r ? std::string() : r.error().message();
    };
    EXPECT_EQ(msg(R"({"memory":{"limit":"x"}})"), "res.json: memory.limit: expected integer, got string");
    EXPECT_EQ(msg("[1]"), "res.json: expected a JSON object of linux.resources");
    EXPECT_EQ(msg("   \n"), "res.json: EOF (no resources JSON)");
    EXPECT_EQ(msg("{not json").rfind("res.json: [json.exception.parse_error", 0), 0u);
}

TEST(PsFilter, KeepsTheHeaderAndTheContainersLines) {
    std::string ps = "UID        PID  PPID  C STIME TTY          TIME CMD\n"
                     "root         1     0  0 10:00 ?        00:00:01 /sbin/init\n"
                     "root      5103     1  0 16:21 ?        00:00:00 /probe sleep inf\n"
                     "root      5104  5103  0 16:21 ?        00:00:00 sh\n";
    auto out = filter_ps_output(ps, {5104, 5103});
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(*out, "UID        PID  PPID  C STIME TTY          TIME CMD\n"
                    "root      5103     1  0 16:21 ?        00:00:00 /probe sleep inf\n"
                    "root      5104  5103  0 16:21 ?        00:00:00 sh\n");
    auto none = filter_ps_output(ps, {});
    ASSERT_TRUE(none);
    EXPECT_EQ(*none, "UID        PID  PPID  C STIME TTY          TIME CMD\n");
    // `ps -o pid,comm`: PID is the first column.
    auto first = filter_ps_output("  PID COMMAND\n 5103 probe\n    7 other\n", {5103});
    ASSERT_TRUE(first);
    EXPECT_EQ(*first, "  PID COMMAND\n 5103 probe\n");
}

TEST(PsFilter, RuncsErrors) {
    auto no_pid = filter_ps_output("COMMAND\nprobe\n", {1});
    ASSERT_FALSE(no_pid);
    EXPECT_EQ(no_pid.error().message(), "couldn't find PID field in ps output");
    auto bad = filter_ps_output("PID CMD\nx y\n", {1});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(), "unable to parse pid: strconv.Atoi: parsing \"x\": invalid syntax");
}

TEST(PsJson, IsGosEncodingOfTheList) {
    EXPECT_EQ(pids_to_json({}), "null");
    EXPECT_EQ(pids_to_json({5103}), "[5103]");
    EXPECT_EQ(pids_to_json({1, 22, 333}), "[1,22,333]");
}

// --- update and pause on hand-written state directories (cgroups disabled) ---

class UpdateState : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/corral-res-test-XXXXXX";
        root_ = ::mkdtemp(tmpl);
        ctx_.root = root_ + "/state";
    }
    void TearDown() override {
        for (pid_t p : children_) {
            ::kill(p, SIGKILL);
            int st;
            ::waitpid(p, &st, 0);
        }
        (void)remove_tree(root_);
    }
    pid_t spawn_init() {
        pid_t p = ::fork();
        if (p == 0) {
            for (;;) ::pause();
        }
        children_.push_back(p);
        return p;
    }
    void make_container(const std::string &id, pid_t pid, const std::string &config) {
        auto d = StateDir::create(ctx_.root, id);
        ASSERT_TRUE(d) << d.error().message();
        StateRecord rec;
        rec.oci.oci_version = "1.2.0";
        rec.oci.id = id;
        rec.oci.status = ContainerStatus::running;
        rec.oci.pid = pid;
        rec.oci.bundle = "/srv/" + id;
        rec.oci.created = "2024-05-01T10:00:00.123Z";
        rec.init_start_time = pid > 0 ? process_start_time(pid) : 0;
        rec.cgroup_mode = cgroups::Mode::disabled;
        ASSERT_TRUE(d->write(rec));
        ASSERT_TRUE(write_file_atomic(d->path() + "/config.json", config));
    }
    nlohmann::json saved_resources(const std::string &id) {
        auto text = read_file(ctx_.root + "/" + id + "/config.json");
        EXPECT_TRUE(text);
        auto j = nlohmann::json::parse(text ? *text : "{}", nullptr, false);
        return j["linux"]["resources"];
    }

    std::string root_;
    Context ctx_;
    std::vector<pid_t> children_;
};

constexpr const char *kConfig = R"({"ociVersion":"1.2.0","process":{"cwd":"/","args":["/probe"]},)"
                                R"("root":{"path":"rootfs"},"linux":{"resources":{"memory":{"limit":33554432},)"
                                R"("cpu":{"shares":512,"period":100000},"devices":[{"allow":false,"access":"rwm"}]}}})";

TEST_F(UpdateState, RecordsTheAppliedValuesAndKeepsTheRest) {
    make_container("u1", spawn_init(), kConfig);
    spec::Resources r;
    r.memory.emplace();
    r.memory->limit = 64 * MiB;
    r.memory->reservation = 0; // "leave as is"
    r.cpu.emplace();
    r.cpu->quota = 50000;
    r.cpu->cpus = "0";
    r.pids = spec::Pids{50};
    r.hugepage_limits.push_back({"2MB", 1}); // runc's update ignores it
    auto st = update(ctx_, "u1", r);
    ASSERT_TRUE(st) << st.error().message();
    nlohmann::json res = saved_resources("u1");
    EXPECT_EQ(res["memory"], nlohmann::json({{"limit", 64 * MiB}}));
    EXPECT_EQ(res["cpu"], nlohmann::json({{"shares", 512}, {"period", 100000}, {"quota", 50000}, {"cpus", "0"}}));
    EXPECT_EQ(res["pids"], nlohmann::json({{"limit", 50}}));
    EXPECT_EQ(res["devices"].size(), 1u);
    EXPECT_FALSE(res.contains("hugepageLimits"));
    // The saved config still parses as a config.
    auto text = read_file(ctx_.root + "/u1/config.json");
    ASSERT_TRUE(text);
    EXPECT_TRUE(spec::parse_spec(*text));
}

TEST_F(UpdateState, StoppedOrUnknownContainersAreRefused) {
    pid_t p = ::fork();
    if (p == 0) _exit(0);
    int status;
    ::waitpid(p, &status, 0);
    make_container("gone", p, kConfig);
    spec::Resources r;
    r.pids = spec::Pids{5};
    auto st = update(ctx_, "gone", r);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message(), "container not running");
    EXPECT_EQ(saved_resources("gone").count("pids"), 0u);

    auto paused = pause(ctx_, "gone");
    ASSERT_FALSE(paused);
    EXPECT_EQ(paused.error().message(), "container not running");
    auto resumed = resume(ctx_, "gone");
    ASSERT_FALSE(resumed);
    EXPECT_EQ(resumed.error().message(), "container not paused");
    auto s = stats(ctx_, "gone");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message(), "container with id gone is not running");
    auto ev = events(ctx_, "gone", {}, [](const Event &) { return ok(); });
    ASSERT_FALSE(ev);
    EXPECT_EQ(ev.error().message(), "container with id gone is not running");
    auto pids = processes(ctx_, "gone");
    ASSERT_TRUE(pids) << pids.error().message();
    EXPECT_TRUE(pids->empty());

    auto none = update(ctx_, "nope", r);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().message(), "container does not exist");
}

TEST_F(UpdateState, EventsNeedAPositiveInterval) {
    make_container("e1", spawn_init(), kConfig);
    EventsOptions o;
    o.interval = 0s;
    auto st = events(ctx_, "e1", o, [](const Event &) { return ok(); });
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message(), "duration interval must be greater than 0");
}

} // namespace
