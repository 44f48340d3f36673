// One GoogleTest binary over the end-to-end suite (tests/e2e/suite.py): it
// runs the suite once with the baseline runtime (runc) and once with corral,
// then reports one test per case: a case passes when corral passes it. A
// case the baseline fails too is skipped only if tests/e2e/expected-skips
// lists it with the reason (it cannot work on this machine, e.g. CRIU on this
// kernel); any other baseline failure fails the case, so a broken set-up (a
// client that did not start fails every one of its cases with both
// runtimes) can never pass as a row of skips. E2E_Suite.* checks the runs
// themselves: each produced a result for every case, and left nothing
// behind (the suite's teardown_errors: containers, cgroups, mounts).
// The suite itself lives in Python because its CRI client is gRPC; this
// binary only puts it under CTest.
//
// Environment: E2E_RUNTIME (default CORRAL_BIN), E2E_BASELINE (default runc
// on PATH), E2E_ONLY (regex of case ids). Needs root, podman and containerd
// (scripts/e2e installs them); only where one is truly absent is every case
// skipped, with the reason.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char *kPython = "/usr/bin/python3"; // Debian's, with grpcio

std::string env_or(const char *name, std::string fallback) {
    const char *v = std::getenv(name);
    return v && *v ? v : std::move(fallback);
}

std::string quote(const std::string &s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

// stdout of a shell command, or nullopt if it failed.
std::optional<std::string> capture(const std::string &cmd) {
    FILE *p = popen(cmd.c_str(), "r");
    if (!p) return std::nullopt;
    std::string out;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    return pclose(p) == 0 ? std::optional(out) : std::nullopt;
}

bool have(const char *tool) { return std::system(("command -v " + std::string(tool) + " >/dev/null").c_str()) == 0; }

// Why the suite cannot run here, or empty.
std::string missing_prerequisite() {
    if (geteuid() != 0) return "needs root";
    for (const char *tool : {"podman", "containerd", "ctr", "skopeo", "umoci"})
        if (!have(tool)) return std::string(tool) + " is not installed (scripts/e2e installs it)";
    if (std::system((std::string(kPython) + " -c 'import grpc, grpc_tools' 2>/dev/null").c_str()) != 0)
        return "python3-grpcio / python3-grpc-tools are not installed (scripts/e2e installs them)";
    if (!fs::exists(fs::path(CORRAL_FIXTURES) / "busybox.oci.tar")) return "no fixtures: run rootfs-fixtures/build.sh";
    return {};
}

struct SuiteRun {
    bool produced = false;               // the suite wrote its JSON
    std::map<std::string, json> cases;   // by id
    std::vector<std::string> teardown_errors;
};

struct Runs {
    std::string skip_reason;
    std::string baseline_name, candidate_name;
    std::map<std::string, json> baseline, candidate;
    SuiteRun baseline_run, candidate_run;
    std::map<std::string, std::string> expected_skips; // case id -> why it cannot pass here
};

// tests/e2e/expected-skips: "CASE-ID  reason" lines, # comments.
std::map<std::string, std::string> read_expected_skips() {
    std::map<std::string, std::string> m;
    std::ifstream in(CORRAL_E2E_EXPECTED_SKIPS);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        size_t sp = line.find_first_of(" \t");
        if (sp == std::string::npos) continue;
        m[line.substr(0, sp)] = line.substr(line.find_first_not_of(" \t", sp));
    }
    return m;
}

json run_suite(const std::string &runtime, const std::string &name, const fs::path &out) {
    std::string cmd = std::string(kPython) + " " + quote(CORRAL_E2E_SUITE) + " run --runtime " + quote(runtime) +
                      " --name " + quote(name) + " --json " + quote(out.string());
    if (auto only = env_or("E2E_ONLY", ""); !only.empty()) cmd += " --only " + quote(only);
    std::system(cmd.c_str()); // its progress goes to our stdout; failures are in the JSON
    std::ifstream in(out);
    if (!in) return json::object();
    return json::parse(in, nullptr, false);
}

// Both runs, once, on first use.
const Runs &runs() {
    static const Runs r = [] {
        Runs r;
        r.skip_reason = missing_prerequisite();
        if (!r.skip_reason.empty()) return r;
        std::string candidate = env_or("E2E_RUNTIME", CORRAL_BIN);
        std::string baseline = env_or("E2E_BASELINE", capture("command -v runc").value_or(""));
        while (!baseline.empty() && baseline.back() == '\n') baseline.pop_back();
        r.candidate_name = fs::path(candidate).filename();
        r.baseline_name = baseline.empty() ? "" : fs::path(baseline).filename().string();
        char dir[] = "/tmp/corral-e2e-results-XXXXXX";
        if (!mkdtemp(dir)) {
            r.skip_reason = "mkdtemp failed";
            return r;
        }
        auto index = [](const json &j) {
            SuiteRun run;
            run.produced = j.is_object() && j.contains("cases");
            if (run.produced)
                for (const auto &c : j["cases"]) run.cases[c["id"].get<std::string>()] = c;
            if (j.is_object() && j.contains("teardown_errors"))
                for (const auto &e : j["teardown_errors"]) run.teardown_errors.push_back(e.get<std::string>());
            return run;
        };
        r.expected_skips = read_expected_skips();
        if (!baseline.empty()) {
            r.baseline_run = index(run_suite(baseline, r.baseline_name, fs::path(dir) / "baseline.json"));
            r.baseline = r.baseline_run.cases;
        }
        r.candidate_run = index(run_suite(candidate, r.candidate_name, fs::path(dir) / "candidate.json"));
        r.candidate = r.candidate_run.cases;
        fs::remove_all(dir);
        return r;
    }();
    return r;
}

std::string describe(const json &c) {
    std::ostringstream os;
    os << c.value("detail", std::string("(no detail)")) << "\n";
    if (c.contains("runtime_calls") && !c["runtime_calls"].empty()) {
        os << "runtime calls:\n";
        for (const auto &l : c["runtime_calls"]) os << "  " << l.get<std::string>() << "\n";
    }
    if (c.contains("evidence")) os << "runtime logs:\n" << c["evidence"].get<std::string>() << "\n";
    return os.str();
}

class E2ECase : public ::testing::Test {
  public:
    explicit E2ECase(std::string id) : id_(std::move(id)) {}
    void TestBody() override {
        const Runs &r = runs();
        if (!r.skip_reason.empty()) GTEST_SKIP() << r.skip_reason;
        ASSERT_FALSE(r.baseline_name.empty()) << "no baseline runtime (runc) to compare with";
        auto b = r.baseline.find(id_);
        ASSERT_NE(b, r.baseline.end()) << id_ << " was not run with " << r.baseline_name;
        if (b->second.value("status", std::string()) != "pass") {
            auto expected = r.expected_skips.find(id_);
            if (expected != r.expected_skips.end())
                GTEST_SKIP() << "expected skip (tests/e2e/expected-skips): " << expected->second
                             << "\n" << r.baseline_name << ": " << b->second.value("detail", "");
            FAIL() << id_ << " fails with the baseline " << r.baseline_name << " too, and tests/e2e/expected-skips "
                   << "does not list it: the machine or a client's set-up is broken, not only corral:\n"
                   << describe(b->second);
        }
        auto c = r.candidate.find(id_);
        ASSERT_NE(c, r.candidate.end()) << id_ << " was not run with " << r.candidate_name;
        EXPECT_EQ(c->second.value("status", std::string()), "pass") << r.candidate_name << " fails " << id_ << " ("
                                               << c->second.value("operation", "") << "):\n"
                                               << describe(c->second);
    }

  private:
    std::string id_;
};

// The runs themselves: complete, and nothing left behind.
class E2ERun : public ::testing::Test {
  public:
    E2ERun(bool candidate, size_t expected_cases) : candidate_(candidate), expected_(expected_cases) {}
    void TestBody() override {
        const Runs &r = runs();
        if (!r.skip_reason.empty()) GTEST_SKIP() << r.skip_reason;
        const SuiteRun &run = candidate_ ? r.candidate_run : r.baseline_run;
        const std::string &name = candidate_ ? r.candidate_name : r.baseline_name;
        ASSERT_TRUE(run.produced) << "the suite wrote no results with " << name;
        if (std::getenv("E2E_ONLY") == nullptr) {
            EXPECT_EQ(run.cases.size(), expected_) << "cases run with " << name << " vs cases listed";
        }
        for (const auto &e : run.teardown_errors) ADD_FAILURE() << name << " left something behind: " << e;
    }

  private:
    bool candidate_;
    size_t expected_;
};

std::string test_name(std::string id) {
    for (char &ch : id)
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return id;
}

} // namespace

int main(int argc, char **argv) {
    ::testing::InitGoogleTest(&argc, argv);
    auto list = capture(std::string(kPython) + " " + quote(CORRAL_E2E_SUITE) + " list");
    if (!list) {
        std::fprintf(stderr, "e2e: cannot list the cases of %s\n", CORRAL_E2E_SUITE);
        return 1;
    }
    std::istringstream lines(*list);
    size_t listed = 0;
    for (std::string line; std::getline(lines, line);) {
        std::string id = line.substr(0, line.find(' '));
        if (id.empty()) continue;
        std::string suite = test_name(id.substr(0, id.find('/')));
        ::testing::RegisterTest(("E2E_" + suite).c_str(), test_name(id.substr(id.find('/') + 1)).c_str(), nullptr,
                                id.c_str(), __FILE__, __LINE__, [id]() -> ::testing::Test * { return new E2ECase(id); });
        ++listed;
    }
    ::testing::RegisterTest("E2E_Suite", "CandidateRunIsCompleteAndLeavesNothingBehind", nullptr, nullptr, __FILE__,
                            __LINE__, [listed]() -> ::testing::Test * { return new E2ERun(true, listed); });
    ::testing::RegisterTest("E2E_Suite", "BaselineRunIsCompleteAndLeavesNothingBehind", nullptr, nullptr, __FILE__,
                            __LINE__, [listed]() -> ::testing::Test * { return new E2ERun(false, listed); });
    return RUN_ALL_TESTS();
}
