// seccomp_notify.hpp: which notify profiles the init can hand over, and the
// "container process state" a seccomp agent receives with the fd.
#include "runtime/seccomp_notify.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace corral {
namespace {

spec::Seccomp notify(std::vector<std::string> names) {
    spec::Seccomp s;
    s.default_action = "SCMP_ACT_ALLOW";
    s.listener_path = "/run/agent.sock";
    s.syscalls.push_back({std::move(names), "SCMP_ACT_NOTIFY", std::nullopt, {}});
    return s;
}

TEST(SeccompNotifyProfile, MkdirIsFine) { EXPECT_TRUE(check_notify_profile(notify({"mkdir", "mkdirat"}), "config.json")); }

TEST(SeccompNotifyProfile, SendmsgWouldHangTheInit) {
    auto st = check_notify_profile(notify({"mkdir", "sendmsg"}), "config.json");
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message(),
              "config.json: linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for \"sendmsg\": the "
              "init passes the listener fd to the runtime with it");
    // Another action on sendmsg is no problem.
    spec::Seccomp s = notify({"mkdir"});
    s.syscalls.push_back({{"sendmsg"}, "SCMP_ACT_ERRNO", std::nullopt, {}});
    EXPECT_TRUE(check_notify_profile(s, "config.json"));
}

TEST(SeccompNotifyProfile, NeedsAListener) {
    spec::Seccomp s = notify({"mkdir"});
    s.listener_path.clear();
    auto st = check_notify_profile(s, "config.json");
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message().find("linux.seccomp.listenerPath"), std::string::npos) << st.error().message();
}

TEST(ContainerProcessState, RuncsMembersInRuncsOrder) {
    State st{"1.2.0", "web", ContainerStatus::creating, 42, "/srv/b", "/srv/b/rootfs", "", {{"a", "b"}}, ""};
    EXPECT_EQ(container_process_state_json(st, 42, "MKNOD=/dev/null"),
              std::string("{\"ociVersion\":\"") + spec::kOciVersion +
                  "\",\"fds\":[\"seccompFd\"],\"pid\":42,\"metadata\":\"MKNOD=/dev/null\",\"state\":"
                  "{\"ociVersion\":\"1.2.0\",\"id\":\"web\",\"status\":\"creating\",\"pid\":42,\"bundle\":\"/srv/b\","
                  "\"annotations\":{\"a\":\"b\"}}}");
}

TEST(ContainerProcessState, ExecsPidAndNoEmptyMetadata) {
    State st{"1.2.0", "web", ContainerStatus::running, 42, "/srv/b", "/srv/b/rootfs", "", {}, ""};
    auto j = nlohmann::json::parse(container_process_state_json(st, 77, ""));
    EXPECT_EQ(j["pid"], 77);
    EXPECT_EQ(j["state"]["pid"], 42);
    EXPECT_EQ(j["state"]["status"], "running");
    EXPECT_FALSE(j.contains("metadata"));
}

} // namespace
} // namespace corral
