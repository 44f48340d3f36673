// The line channel (herd/channel.hpp) over real socket pairs and pipes, the
// request parsers of both protocols, and NodeHandle's rule: only a transport
// failure drops the connection to an agent, a refusal does not.
#include "herd/agent_api.hpp"
#include "herd/channel.hpp"
#include "herd/serve.hpp"
#include "herd/serve_api.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

using namespace corral;
using namespace corral::herd;
using namespace std::chrono_literals;

namespace {

struct Pair {
    UniqueFd a, b;
};

Pair socket_pair() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

void write_raw(int fd, std::string_view s) { ASSERT_EQ(::write(fd, s.data(), s.size()), ssize_t(s.size())); }

TEST(HerdChannel, LinesSplitAcrossWritesComeOutWhole) {
    Pair p = socket_pair();
    LineChannel ch(std::move(p.a), "peer", 64);
    write_raw(p.b.get(), "{\"op\":");
    ASSERT_TRUE(ch.read_available().ok());
    EXPECT_FALSE(ch.next_line().has_value());
    write_raw(p.b.get(), "\"ping\"}\nsecond\nthi");
    ASSERT_TRUE(ch.read_available().ok());
    auto l1 = ch.next_line();
    ASSERT_TRUE(l1 && *l1);
    EXPECT_EQ(**l1, "{\"op\":\"ping\"}");
    auto l2 = ch.next_line();
    ASSERT_TRUE(l2 && *l2);
    EXPECT_EQ(**l2, "second");
    EXPECT_FALSE(ch.next_line().has_value());
    p.b.reset();
    ASSERT_TRUE(ch.read_available().ok());
    EXPECT_TRUE(ch.eof());
    EXPECT_FALSE(ch.next_line().has_value());  // an unfinished line at EOF is no request
}

TEST(HerdChannel, AnOverLongLineBecomesOneInvalidErrorInItsPlace) {
    Pair p = socket_pair();
    LineChannel ch(std::move(p.a), "peer", 16);
    write_raw(p.b.get(), "short\n" + std::string(40, 'x'));
    ASSERT_TRUE(ch.read_available().ok());
    write_raw(p.b.get(), std::string(40, 'y') + "\nafter\n");
    ASSERT_TRUE(ch.read_available().ok());
    auto l1 = ch.next_line();
    ASSERT_TRUE(l1 && *l1);
    EXPECT_EQ(**l1, "short");
    auto l2 = ch.next_line();
    ASSERT_TRUE(l2.has_value());
    ASSERT_FALSE(*l2);
    EXPECT_TRUE(l2->error().is(ErrorKind::invalid)) << l2->error().message();
    auto l3 = ch.next_line();
    ASSERT_TRUE(l3 && *l3);
    EXPECT_EQ(**l3, "after");
}

TEST(HerdChannel, ReceiveFailsAsTransportOnDeadlineAndOnEof) {
    Pair p = socket_pair();
    LineChannel ch(std::move(p.a), "peer", 1024);
    auto r = ch.receive_line(deadline_in(50ms));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(ErrorKind::transport)) << r.error().message();
    p.b.reset();
    r = ch.receive_line(deadline_in(10s));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(ErrorKind::transport)) << r.error().message();
}

TEST(HerdChannel, WorksOverAPairOfPipes) {
    int to[2], from[2];
    ASSERT_EQ(::pipe2(to, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(from, O_CLOEXEC), 0);
    // Our side reads `from` and writes `to`; the peer the other way round.
    LineChannel ours(UniqueFd(from[0]), UniqueFd(to[1]), "peer", 1024);
    LineChannel theirs(UniqueFd(to[0]), UniqueFd(from[1]), "us", 1024);
    ASSERT_TRUE(ours.send_line("{\"op\":\"ping\"}", deadline_in(10s)).ok());
    auto req = theirs.receive_line(deadline_in(10s));
    ASSERT_TRUE(req) << req.error().message();
    EXPECT_EQ(*req, "{\"op\":\"ping\"}");
    ASSERT_TRUE(theirs.send_line(to_line(json{{"ok", true}, {"node", "n1"}}), deadline_in(10s)).ok());
    auto resp = ours.receive_line(deadline_in(10s));
    ASSERT_TRUE(resp) << resp.error().message();
    auto parsed = parse_response_line(*resp, "peer");
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ((*parsed)["node"], "n1");
}

TEST(HerdChannel, ResponsesCarryTheErrorKindAsReason) {
    json j = error_response(Error(ErrorKind::not_found, "pods \"x\" not found"));
    EXPECT_EQ(j["ok"], false);
    EXPECT_EQ(j["reason"], "not_found");
    auto back = parse_response_line(to_line(j), "serve");
    ASSERT_FALSE(back);
    EXPECT_TRUE(back.error().is(ErrorKind::not_found));
    EXPECT_EQ(back.error().message(), "pods \"x\" not found");
    // A peer cannot make us drop the channel by naming `transport`.
    back = parse_response_line(R"({"ok": false, "error": "x", "reason": "transport"})", "serve");
    ASSERT_FALSE(back);
    EXPECT_FALSE(back.error().is(ErrorKind::transport));
    // Not a response at all: the channel is out of step.
    for (const char *bad : {"", "{", "[]", "{\"ok\": 1}", "{\"error\": \"x\"}"}) {
        back = parse_response_line(bad, "serve");
        ASSERT_FALSE(back) << bad;
        EXPECT_TRUE(back.error().is(ErrorKind::transport)) << bad;
    }
}

TEST(HerdChannel, RequestsOfWrongShapeAreInvalid) {
    const std::string bad_lines[] = {
        R"({"op": 5})",
        R"({"op": null})",
        R"({"op": "nope"})",
        R"(["ping"])",
        R"({"op": "ping")",
        "{\"op\": \"\xff\"}",
        R"({"op": "delete_pod"})",
        R"({"op": "delete_pod", "name": 5})",
        R"({"op": "list_pods", "since": "3"})",
        R"({"op": "logs", "name": "p", "previous": "yes"})",
        R"({"op": "apply_pod", "pod": []})",
    };
    for (const std::string &line : bad_lines) {
        auto r = parse_request_line(line, agent_ops());
        ASSERT_FALSE(r) << line;
        EXPECT_TRUE(r.error().is(ErrorKind::invalid)) << line << ": " << r.error().message();
    }
    auto ok = parse_request_line(R"({"op": "logs", "name": "p", "offset": -1, "future_arg": [1]})", agent_ops());
    ASSERT_TRUE(ok) << ok.error().message();
    auto s = parse_request_line(R"({"op": "scale", "name": "web", "replicas": "3"})", serve_ops());
    ASSERT_FALSE(s);
    EXPECT_TRUE(s.error().is(ErrorKind::invalid));
    s = parse_request_line(R"({"op": "get", "kind": "pods", "name": null})", serve_ops());
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_FALSE(s->contains("name"));  // null is absent
}

// An agent client that answers from a script and counts its connections.
class ScriptedClient : public AgentClient {
public:
    explicit ScriptedClient(int *calls) : calls_(calls) {}
    Result<json> call(const json &request) override {
        ++*calls_;
        std::string op = request.value("op", "");
        if (op == "refuse") return Error(ErrorKind::not_found, "pod default/x not found on this node");
        if (op == "break") return Error(ErrorKind::transport, "agent: closed the connection without an answer");
        return json{{"ok", true}};
    }

private:
    int *calls_;
};

TEST(HerdNodeHandle, ARefusalKeepsTheConnectionATransportFailureDropsIt) {
    int connects = 0, calls = 0;
    NodeHandle node("n1", [&]() -> Result<std::unique_ptr<AgentClient>> {
        ++connects;
        return std::unique_ptr<AgentClient>(new ScriptedClient(&calls));
    });
    ASSERT_TRUE(node.call({{"op", "ping"}}));
    auto r = node.call({{"op", "refuse"}});
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(ErrorKind::not_found));
    ASSERT_TRUE(node.call({{"op", "ping"}}));
    EXPECT_EQ(connects, 1) << "an {\"ok\": false} answer must not reconnect";
    r = node.call({{"op", "break"}});
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(ErrorKind::transport));
    ASSERT_TRUE(node.call({{"op", "ping"}}));
    EXPECT_EQ(connects, 2) << "a transport failure must reconnect";
    EXPECT_EQ(calls, 5);
}

TEST(HerdNodeHandle, AnUnreachableAgentIsAnErrorOfKindUnavailableOrTransport) {
    NodeHandle node("n1", [] { return connect_agent_socket("/nonexistent/herd-test/agent.sock"); });
    auto r = node.call({{"op", "ping"}});
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(ErrorKind::unavailable)) << r.error().message();
}

} // namespace
