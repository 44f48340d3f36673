// The creation steps (src/runtime/steps.hpp) as `--debug`, `--log-format
// json`, `--trace FILE` and docs/internals.md show them: the steps the code
// runs, in the table's order, and nothing listed by hand a second time.
#include "integration/harness.hpp"

#include "runtime/steps.hpp"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

namespace corral_it {
namespace {

using corral::kStepTable;
using corral::StepSide;

int table_index(const std::string &name) {
    for (size_t i = 0; i < corral::kStepCount; ++i)
        if (name == kStepTable[i].name) return static_cast<int>(i);
    return -1;
}

// One step as a run reported it.
struct Seen {
    std::string side, step;
    double start = 0, dur = 0; // ms (debug) or µs (trace): only compared with each other
};

// Steps of the table that a run of the fixture config (no hooks, no
// terminal, no user namespace, noNewPrivileges, a mount namespace) does not
// make, and why. Every other row must show up.
const std::set<std::string> kNotInAFixtureRun = {
    "make_exec_fifo",          // create only
    "write_id_mappings",       // a user namespace
    "send_console_fd",         // --console-socket
    "write_pid_file",          // --pid-file
    "release_init",            // start
    "run_poststart_hooks",     // poststart hooks
    "fork_into_pid_namespace", // a pid namespace owned by a user namespace entered after clone
    "chroot_into_rootfs",      // no mount namespace
    "load_seccomp_filter",     // linux.seccomp
};

// The order check: on each side, the steps that do not nest inside another
// (by their times) come in the table's order; a nested one is a depth-1 row
// (or load_seccomp_filter, the table's one documented exception).
void expect_table_order(const std::vector<Seen> &seen, const std::string &where) {
    for (const char *side : {"parent", "init"}) {
        int last = -1;
        std::string last_name;
        std::vector<const Seen *> top;
        for (const Seen &s : seen) {
            if (s.side != side) continue;
            int idx = table_index(s.step);
            ASSERT_GE(idx, 0) << where << ": step `" << s.step << "` is not in the table";
            EXPECT_EQ(std::string(kStepTable[idx].side == StepSide::init ? "init" : "parent"), s.side)
                << where << ": " << s.step;
            bool nested = std::any_of(top.begin(), top.end(), [&](const Seen *t) {
                // Strictly inside: a step may begin the instant the one before ended.
                return s.start >= t->start && s.start < t->start + t->dur && s.start + s.dur <= t->start + t->dur + 1e-6;
            });
            if (nested) {
                EXPECT_TRUE(kStepTable[idx].depth == 1 || s.step == "load_seccomp_filter")
                    << where << ": `" << s.step << "` nests in another step but is a depth-0 row";
                EXPECT_GE(idx, last) << where << ": `" << s.step << "` after `" << last_name << "`";
            } else {
                EXPECT_EQ(kStepTable[idx].depth, 0) << where << ": `" << s.step << "` is a depth-1 row outside its step";
                EXPECT_GE(idx, last) << where << ": `" << s.step << "` came after `" << last_name
                                     << "`, the table has it before";
                top.push_back(&s);
            }
            if (idx >= last) {
                last = idx;
                last_name = s.step;
            }
        }
    }
}

void expect_every_step(const std::vector<Seen> &seen, const std::string &where) {
    std::set<std::string> names;
    for (const Seen &s : seen) names.insert(s.step);
    for (const auto &row : kStepTable) {
        if (kNotInAFixtureRun.count(row.name)) continue;
        EXPECT_TRUE(names.count(row.name)) << where << ": no `" << row.name << "` step";
    }
}

class Steps : public ContainerTest {
protected:
    void SetUp() override {
        ContainerTest::SetUp();
        if (runtime_is_runc()) GTEST_SKIP() << "corral's step table: runc has other steps";
    }
};

TEST_F(Steps, DebugTimesEveryStepOfTheTableInItsOrder) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "exit", "0"});
    b.write();
    Result r = rt({"--debug", "run", "--bundle", b.dir, b.id});
    ASSERT_EQ(r.status, 0) << r;
    // time="..." level=debug msg="step load_config 0.120 ms" side=parent step=load_config start_ms=0.4 duration_ms=0.12
    std::regex line(R"re(msg="(?:init: )?step [^"]*" side=(\w+) step=(\w+) start_ms=([0-9.]+) duration_ms=([0-9.]+))re");
    std::vector<Seen> seen;
    for (const auto &l : lines(r.err)) {
        std::smatch m;
        if (std::regex_search(l, m, line)) seen.push_back({m[1], m[2], std::stod(m[3]), std::stod(m[4])});
    }
    ASSERT_FALSE(seen.empty()) << "no step lines in --debug output\n" << r;
    expect_every_step(seen, "--debug");
    expect_table_order(seen, "--debug");
}

TEST_F(Steps, JsonLogHasStepAndDurationFields) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "exit", "0"});
    b.write();
    std::string log = scratch_ + "/log.json";
    Result r = rt({"--log", log, "--log-format", "json", "--debug", "run", "--bundle", b.dir, b.id});
    ASSERT_EQ(r.status, 0) << r;
    std::vector<Seen> seen;
    for (const auto &l : lines(read_file(log))) {
        json e = json::parse(l, nullptr, false);
        ASSERT_TRUE(e.is_object()) << l;
        if (!e.contains("step")) continue;
        ASSERT_TRUE(e["step"].is_string() && e["side"].is_string()) << l;
        ASSERT_TRUE(e["duration_ms"].is_number() && e["start_ms"].is_number()) << l;
        EXPECT_GE(e["duration_ms"].get<double>(), 0) << l;
        seen.push_back({e["side"], e["step"], e["start_ms"], e["duration_ms"]});
    }
    expect_every_step(seen, "--log-format json");
    expect_table_order(seen, "--log-format json");
}

// Read a trace file: the X events by track, checked against the table.
struct Trace {
    json doc;
    std::vector<json> events; // ph X
    std::map<int, std::string> track_names;
};

Trace read_trace(const std::string &path) {
    Trace t;
    t.doc = json::parse(read_file(path), nullptr, false);
    if (!t.doc.is_object() || !t.doc.contains("traceEvents") || !t.doc["traceEvents"].is_array()) return t;
    for (const auto &e : t.doc["traceEvents"]) {
        if (e.value("ph", "") == "X") t.events.push_back(e);
        if (e.value("ph", "") == "M" && e.value("name", "") == "process_name")
            t.track_names[e.value("pid", 0)] = e["args"].value("name", "");
    }
    return t;
}

TEST_F(Steps, TraceHasTwoTracksEveryStepAndTheInitInsideTheCloneStep) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "exit", "0"});
    b.write();
    std::string file = scratch_ + "/run.trace.json";
    Result r = rt({"run", "--trace", file, "--bundle", b.dir, b.id});
    ASSERT_EQ(r.status, 0) << r;
    Trace t = read_trace(file);
    ASSERT_TRUE(t.doc.is_object()) << "not JSON: " << read_file(file);
    ASSERT_FALSE(t.events.empty()) << read_file(file);
    std::set<int> pids;
    std::vector<Seen> seen;
    json clone;
    for (const auto &e : t.events) {
        for (const char *k : {"name", "cat"}) ASSERT_TRUE(e.contains(k) && e[k].is_string()) << e.dump();
        for (const char *k : {"ts", "dur", "pid", "tid"}) ASSERT_TRUE(e.contains(k) && e[k].is_number()) << e.dump();
        ASSERT_GE(e["dur"].get<double>(), 0) << e.dump();
        ASSERT_TRUE(e.contains("args") && e["args"].is_object()) << e.dump();
        EXPECT_FALSE(e["args"].contains("unfinished")) << e.dump();
        pids.insert(e["pid"].get<int>());
        seen.push_back({e["cat"], e["name"], e["ts"], e["dur"]});
        if (e["name"] == "clone_init") clone = e;
    }
    EXPECT_EQ(pids.size(), 2u) << "parent and init: two tracks\n" << read_file(file);
    EXPECT_EQ(t.track_names.size(), 2u) << read_file(file);
    expect_every_step(seen, "--trace");
    expect_table_order(seen, "--trace");

    ASSERT_TRUE(clone.is_object()) << "no clone_init event";
    EXPECT_NE(clone["args"].value("clone3_flags", "").find("CLONE_NEW"), std::string::npos) << clone.dump();
    double from = clone["ts"], to = from + clone["dur"].get<double>();
    for (const auto &e : t.events) {
        if (e["cat"] != "init") continue;
        EXPECT_NE(e["pid"], clone["pid"]) << "init step on the parent's track: " << e.dump();
        EXPECT_GE(e["ts"].get<double>(), from) << e["name"] << " begins before clone_init";
        EXPECT_LE(e["ts"].get<double>() + e["dur"].get<double>(), to + 1e-3) << e["name"] << " ends after clone_init";
        if (e["name"] == "mount_one") {
            for (const char *k : {"source", "target", "flags", "fstype"})
                EXPECT_TRUE(e["args"].contains(k)) << "mount without " << k << ": " << e.dump();
        }
        if (e["name"] == "pivot_into_rootfs") {
            EXPECT_TRUE(e["args"].contains("pivot_root")) << e.dump();
        }
        if (e["name"] == "change_user") {
            EXPECT_TRUE(e["args"].contains("capset_effective")) << e.dump();
        }
        if (e["name"] == "execve") {
            EXPECT_EQ(e["args"].value("argv", json::array()).at(0), "/probe") << e.dump();
        }
    }
}

TEST_F(Steps, CreateAndStartTraceTheirOwnSteps) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "exit", "0"});
    b.write();
    std::string created = scratch_ + "/create.json", started = scratch_ + "/start.json";
    Result r = rt({"create", "--trace", created, "--bundle", b.dir, b.id});
    ASSERT_EQ(r.status, 0) << r;
    r = rt({"start", "--trace", started, b.id});
    ASSERT_EQ(r.status, 0) << r;
    std::set<std::string> in_create, in_start;
    for (const auto &e : read_trace(created).events) in_create.insert(e["name"]);
    for (const auto &e : read_trace(started).events) in_start.insert(e["name"]);
    for (const char *s : {"make_exec_fifo", "clone_init", "wait_for_init_ready", "prepare_rootfs", "save_state"})
        EXPECT_TRUE(in_create.count(s)) << "create's trace lacks " << s << "\n" << read_file(created);
    EXPECT_FALSE(in_create.count("execve")) << "create does not see the exec";
    for (const char *s : {"release_init", "wait_for_start", "execve"})
        EXPECT_TRUE(in_start.count(s)) << "start's trace lacks " << s << "\n" << read_file(started);
    EXPECT_FALSE(in_start.count("prepare_rootfs")) << "create's steps in start's trace";
}

// docs/internals.md walks the table: one `## N. name` section per row, in order.
TEST(StepsDocs, InternalsWalksTheStepTableInOrder) {
    std::string path = std::string(CORRAL_FIXTURES) + "/../../docs/internals.md";
    std::string text = read_file(path);
    ASSERT_FALSE(text.empty()) << "cannot read " << path;
    std::regex heading(R"(^#{2,3} (\d+)\. `(\w+)`)");
    std::vector<std::string> documented;
    for (const auto &l : lines(text)) {
        std::smatch m;
        if (std::regex_search(l, m, heading)) documented.push_back(m[2]);
    }
    std::vector<std::string> table;
    for (const auto &row : kStepTable) table.emplace_back(row.name);
    EXPECT_EQ(documented, table) << "docs/internals.md's step sections are not src/runtime/steps.hpp's table";
    for (const auto &row : kStepTable)
        EXPECT_NE(text.find(row.source), std::string::npos) << "docs/internals.md does not name " << row.source;
}

} // namespace
} // namespace corral_it
