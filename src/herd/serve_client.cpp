// herd/serve_client.cpp — the serve protocol's table of ops and the CLI's
// side of the serve socket (serve_api.hpp), over a LineChannel.
#include "herd/serve_api.hpp"

namespace corral::herd {

namespace {

constexpr ArgSpec kApply[] = {{"objects", ArgType::array, true}, {"ignore_unknown", ArgType::boolean}};
constexpr ArgSpec kDelete[] = {{"kind", ArgType::string, true},
                               {"namespace", ArgType::string},
                               {"name", ArgType::string, true}};
constexpr ArgSpec kGet[] = {{"kind", ArgType::string, true}, {"namespace", ArgType::string}, {"name", ArgType::string}};
constexpr ArgSpec kDescribe[] = {{"kind", ArgType::string, true},
                                 {"namespace", ArgType::string},
                                 {"name", ArgType::string, true}};
constexpr ArgSpec kScale[] = {{"namespace", ArgType::string},
                              {"name", ArgType::string, true},
                              {"replicas", ArgType::integer, true}};
constexpr ArgSpec kRolloutUndo[] = {{"namespace", ArgType::string},
                                    {"name", ArgType::string, true},
                                    {"to_revision", ArgType::integer}};
constexpr ArgSpec kNamed[] = {{"namespace", ArgType::string}, {"name", ArgType::string, true}};
constexpr ArgSpec kEvents[] = {{"namespace", ArgType::string}, {"object", ArgType::string}};
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
constexpr OpSpec kServeOps[] = {
    {"ping", {}},
    {"apply", kApply},
    {"delete", kDelete},
    {"get", kGet},
    {"describe", kDescribe},
    {"scale", kScale},
    {"rollout_undo", kRolloutUndo},
    {"rollout_history", kNamed},
    {"events", kEvents},
    {"logs", kLogs},
    {"exec_target", kExecTarget},
    {"exec", kExec},
};

} // namespace

std::span<const OpSpec> serve_ops() { return kServeOps; }

Result<nlohmann::json> call_serve(const std::string &socket_path, const nlohmann::json &request,
                                  std::chrono::milliseconds timeout) {
    LineChannel ch = CORRAL_TRY(connect_unix(socket_path, "herd serve", kMaxResponseLine));
    return call_over(ch, request, deadline_in(timeout));
}

} // namespace corral::herd
