// herd/agent_client.cpp — the agent protocol's table of ops and its client
// side (agent_api.hpp), over a LineChannel (channel.hpp).
#include "herd/agent_api.hpp"

namespace corral::herd {

namespace {

constexpr ArgSpec kApplyPod[] = {{"pod", ArgType::object, true}};
constexpr ArgSpec kDeletePod[] = {{"namespace", ArgType::string},
                                  {"name", ArgType::string, true},
                                  {"grace_seconds", ArgType::integer}};
constexpr ArgSpec kListPods[] = {{"since", ArgType::integer}};
constexpr ArgSpec kLogs[] = {{"namespace", ArgType::string},     {"name", ArgType::string, true},
                             {"container", ArgType::string},     {"previous", ArgType::boolean},
                             {"offset", ArgType::integer},       {"limit_bytes", ArgType::integer}};
constexpr ArgSpec kExecTarget[] = {{"namespace", ArgType::string},
                                   {"name", ArgType::string, true},
                                   {"container", ArgType::string}};
constexpr ArgSpec kExec[] = {{"namespace", ArgType::string}, {"name", ArgType::string, true},
                             {"container", ArgType::string}, {"command", ArgType::array, true},
                             {"tty", ArgType::boolean},      {"stdin", ArgType::boolean},
                             {"rows", ArgType::integer},     {"cols", ArgType::integer}};
constexpr ArgSpec kStats[] = {{"namespace", ArgType::string}, {"name", ArgType::string}};
constexpr OpSpec kAgentOps[] = {
    {"ping", {}},           {"apply_pod", kApplyPod}, {"delete_pod", kDeletePod},
    {"list_pods", kListPods}, {"logs", kLogs},        {"exec_target", kExecTarget},
    {"stats", kStats},      {"exec", kExec},
};

class ChannelAgentClient final : public AgentClient {
public:
    ChannelAgentClient(LineChannel ch, std::chrono::milliseconds timeout) : ch_(std::move(ch)), timeout_(timeout) {}

    Result<json> call(const json &request) override {
        if (broken_) return Error(ErrorKind::transport, ch_.peer() + ": the connection was dropped after an error");
        auto r = call_over(ch_, request, deadline_in(timeout_));
        // The stream is out of step after a transport error: never reuse it.
        if (!r && r.error().is(ErrorKind::transport)) broken_ = true;
        return r;
    }

    LineChannel *channel() override { return broken_ ? nullptr : &ch_; }

private:
    LineChannel ch_;
    std::chrono::milliseconds timeout_;
    bool broken_ = false;
};

} // namespace

std::span<const OpSpec> agent_ops() { return kAgentOps; }

std::unique_ptr<AgentClient> agent_client_over(LineChannel channel, std::chrono::milliseconds timeout) {
    return std::make_unique<ChannelAgentClient>(std::move(channel), timeout);
}

Result<std::unique_ptr<AgentClient>> connect_agent_socket(const std::string &socket_path,
                                                          std::chrono::milliseconds timeout) {
    LineChannel ch = CORRAL_TRY(connect_unix(socket_path, "agent at " + socket_path, kMaxResponseLine));
    return agent_client_over(std::move(ch), timeout);
}

} // namespace corral::herd
