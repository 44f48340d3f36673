// A real `herd agent` and a real `herd serve` given hostile request lines:
// wrong types, unknown ops, truncated JSON, invalid UTF-8, deep nesting,
// a line over the 16 MiB bound. Each line gets an {"ok": false, "reason":
// "invalid"} answer on the same connection, and both daemons stay up and
// keep answering (issue 15). The private cluster is e2e_util.hpp's.
#include "herd/channel.hpp"
#include "herd/e2e_util.hpp"

#include <gtest/gtest.h>

namespace herd_e2e {
namespace {

using corral::herd::LineChannel;

std::vector<std::string> hostile_lines() {
    return {
        R"({"op": 5})",
        R"({"op": null})",
        R"({"op": ["ping"]})",
        R"({"op": {"op": "ping"}})",
        R"({"op": "no_such_op"})",
        R"({"op": ""})",
        R"({})",
        R"([1, 2, 3])",
        R"("ping")",
        "42",
        "null",
        R"({"op": "ping")",
        R"({"op": "pi)",
        "{",
        "}",
        "{\"op\": \"\xff\xfe\"}",
        "{\"op\": \"ping\", \"x\": \"\xc3\x28\"}",
        "\xc0\xaf",
        R"({"op": "apply_pod", "pod": 5})",
        R"({"op": "apply_pod", "pod": {"metadata": 1}})",
        R"({"op": "delete_pod", "name": ["x"]})",
        R"({"op": "list_pods", "since": "yesterday"})",
        R"({"op": "logs", "name": "x", "offset": "end"})",
        R"({"op": "apply", "objects": "all"})",
        R"({"op": "apply", "objects": [5, "x", null]})",
        R"({"op": "get", "kind": 7})",
        R"({"op": "scale", "name": "web", "replicas": "many"})",
        R"({"op": "rollout_undo", "name": "web", "to_revision": 1.5})",
        std::string(200000, '[') + std::string(200000, ']'),
        std::string(corral::herd::kMaxRequestLine + 1000, 'x'),
    };
}

class HerdHostileInput : public ClusterTest {
protected:

    // Every hostile line on one connection: each answered `invalid`, then a
    // ping on the same connection still answered.
    void expect_all_refused(const std::string &socket, const std::string &who) {
        auto ch = corral::herd::connect_unix(socket, who, corral::herd::kMaxResponseLine);
        ASSERT_TRUE(ch) << ch.error().message();
        for (const std::string &line : hostile_lines()) {
            std::string shown = line.size() > 60 ? line.substr(0, 60) + "... (" + std::to_string(line.size()) + " bytes)" : line;
            ASSERT_TRUE(ch->send_line(line, corral::herd::deadline_in(60s)).ok()) << who << ": " << shown;
            auto answer = ch->receive_line(corral::herd::deadline_in(60s));
            ASSERT_TRUE(answer) << who << " gave no answer to " << shown << ": " << answer.error().message()
                                << "\n" << cluster_->daemon_logs();
            json j = json::parse(*answer, nullptr, false);
            ASSERT_TRUE(j.is_object()) << *answer;
            EXPECT_EQ(j.value("ok", true), false) << who << ": " << shown << " -> " << *answer;
            EXPECT_EQ(j.value("reason", ""), "invalid") << who << ": " << shown << " -> " << *answer;
            EXPECT_FALSE(j.value("error", "").empty()) << *answer;
        }
        auto ping = corral::herd::call_over(*ch, {{"op", "ping"}}, corral::herd::deadline_in(60s));
        EXPECT_TRUE(ping) << who << " stopped answering: " << ping.error().message();
        // A client that leaves in the middle of a line harms no one.
        {
            auto half = corral::herd::connect_unix(socket, who, corral::herd::kMaxResponseLine);
            ASSERT_TRUE(half);
            ASSERT_EQ(::write(half->out_fd(), "{\"op\": \"pi", 10), 10);
        }
        auto again = corral::herd::connect_unix(socket, who, corral::herd::kMaxResponseLine);
        ASSERT_TRUE(again) << again.error().message();
        ping = corral::herd::call_over(*again, {{"op", "ping"}}, corral::herd::deadline_in(60s));
        EXPECT_TRUE(ping) << who << " stopped answering: " << ping.error().message();
    }

};

TEST_F(HerdHostileInput, AgentAnswersEveryHostileLineWithInvalidAndStaysUp) {
    expect_all_refused(cluster_->agent_state() + "/agent.sock", "herd agent");
    EXPECT_TRUE(cluster_->agent_alive()) << cluster_->daemon_logs();
}

TEST_F(HerdHostileInput, ServeAnswersEveryHostileLineWithInvalidAndStaysUp) {
    expect_all_refused(cluster_->serve_state() + "/herd.sock", "herd serve");
    EXPECT_TRUE(cluster_->serve_alive()) << cluster_->daemon_logs();
    // And the CLI still works through it, kubectl's way for a missing object.
    RunResult r = cluster_->herd({"get", "pod", "nope"}, 60);
    EXPECT_EQ(r.status, 1) << r.text();
    EXPECT_NE(r.err.find("Error from server (NotFound): pods \"nope\" not found"), std::string::npos) << r.text();
}

} // namespace
} // namespace herd_e2e
