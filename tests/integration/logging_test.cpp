// --debug, --log and --log-format, as containerd and podman use them.
#include "integration/harness.hpp"

namespace corral_it {
namespace {

class Logging : public ContainerTest {};

TEST_F(Logging, DebugPrintsTheCreationStepsByName) {
    if (runtime_is_runc()) GTEST_SKIP() << "runc's --debug output names other steps (nsexec, ...)";
    Bundle &b = make_bundle();
    b.set_args({"/probe", "exit", "0"});
    b.write();
    Result r = rt({"--debug", "run", "--bundle", b.dir, b.id});
    ASSERT_EQ(r.status, 0) << r;
    for (const char *step : {"set hostname", "mount proc", "pivot_root"})
        EXPECT_NE(r.err.find(step), std::string::npos) << "no `" << step << "` step in --debug output\n" << r;
}

TEST_F(Logging, JsonLogFileHasLevelMessageAndTimeOnEveryLine) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "exit", "0"});
    b.write();
    std::string log = scratch_ + "/log.json";
    Result r = rt({"--log", log, "--log-format", "json", "--debug", "run", "--bundle", b.dir, b.id});
    ASSERT_EQ(r.status, 0) << r;
    auto entries = lines(read_file(log));
    ASSERT_FALSE(entries.empty()) << "--debug wrote nothing to " << log;
    for (const auto &line : entries) {
        json e = json::parse(line, nullptr, false);
        ASSERT_TRUE(e.is_object()) << "not a JSON line: " << line;
        for (const char *key : {"level", "msg", "time"})
            EXPECT_TRUE(e.contains(key) && e[key].is_string()) << key << " missing: " << line;
    }
}

TEST_F(Logging, CreateErrorIsLoggedAsAnErrorLine) {
    Bundle &b = make_bundle();
    b.config["root"]["path"] = "/nonexistent/rootfs";
    b.write();
    std::string log = scratch_ + "/log.json";
    Result r = rt({"--log", log, "--log-format", "json", "create", "--bundle", b.dir, b.id});
    ASSERT_NE(r.status, 0) << r;
    // containerd reports the last "level":"error" line.
    json last_error;
    for (const auto &line : lines(read_file(log))) {
        json e = json::parse(line, nullptr, false);
        if (e.is_object() && e.value("level", "") == "error") last_error = e;
    }
    ASSERT_TRUE(last_error.is_object()) << "no error line in " << log << ":\n" << read_file(log);
    EXPECT_NE(last_error.value("msg", "").find("/nonexistent/rootfs"), std::string::npos) << last_error.dump();
}

TEST_F(Logging, TextLogFileHasLevelErrorLine) {
    Bundle &b = make_bundle();
    b.config["root"]["path"] = "/nonexistent/rootfs";
    b.write();
    std::string log = scratch_ + "/log.txt";
    Result r = rt({"--log", log, "create", "--bundle", b.dir, b.id});
    ASSERT_NE(r.status, 0) << r;
    std::string text = read_file(log);
    EXPECT_NE(text.find("level=error"), std::string::npos) << text;
    EXPECT_NE(text.find("/nonexistent/rootfs"), std::string::npos) << text;
}

}  // namespace
}  // namespace corral_it
