// herd/agent.cpp — the node agent: its small decisions (back-off, restart
// policy, pod phase), unit-tested without containers, and Agent itself. The
// supervisor's parts are in agent_*.cpp (agent_internal.hpp lists them).
#include "herd/agent_internal.hpp"

#include "common/fs.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <unistd.h>

namespace corral::herd {

// ---------------------------------------------------------------------------
// The small decisions
// ---------------------------------------------------------------------------

Result<BackoffPolicy> backoff_policy(const ObjectMeta &meta) {
    BackoffPolicy p;
    auto read = [&](const char *key, int64_t &out) -> Status {
        auto it = meta.annotations.find(key);
        if (it == meta.annotations.end()) return ok();
        auto ms = parse_duration_ms(it->second);  // manifest.hpp: Go's syntax
        if (!ms) return std::move(ms).error().context(std::string("metadata.annotations[") + key + "]");
        if (*ms <= 0) return Error(std::string("metadata.annotations[") + key + "]: must be positive");
        out = *ms;
        return ok();
    };
    CORRAL_TRY(read("herd.io/backoff-initial", p.initial_ms));
    CORRAL_TRY(read("herd.io/backoff-max", p.max_ms));
    CORRAL_TRY(read("herd.io/backoff-reset", p.reset_ms));
    if (p.max_ms < p.initial_ms) p.max_ms = p.initial_ms;
    return p;
}

int64_t next_backoff_ms(const BackoffPolicy &policy, int64_t previous_ms) {
    if (previous_ms <= 0) return policy.initial_ms;
    return std::min(policy.max_ms, previous_ms * 2);
}

std::string go_duration(int64_t ms) {
    if (ms < 1000) return std::to_string(ms) + "ms";
    std::string out;
    int64_t h = ms / 3'600'000, m = ms / 60'000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    if (h) out += std::to_string(h) + "h";
    if (h || m) out += std::to_string(m) + "m";
    out += std::to_string(s);
    if (frac) {
        char buf[8];
        std::snprintf(buf, sizeof buf, ".%03d", int(frac));
        std::string f = buf;
        while (f.back() == '0') f.pop_back();
        out += f;
    }
    return out + "s";
}

int exit_code_of(int wait_status) {
    if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
    return 255;
}

bool should_restart(const std::string &restart_policy, int exit_code) {
    if (restart_policy == "Never") return false;
    if (restart_policy == "OnFailure") return exit_code != 0;
    return true;  // Always
}

std::string pod_phase(const std::string &restart_policy, const std::vector<ContainerStatus> &statuses) {
    int waiting = 0, running = 0, stopped = 0, succeeded = 0;
    for (const auto &cs : statuses) {
        if (cs.state.running) {
            ++running;
        } else if (cs.state.terminated) {
            ++stopped;
            if (cs.state.terminated->exit_code == 0) ++succeeded;
        } else if (cs.last_state.terminated) {
            ++stopped;  // waiting to restart after having run
        } else {
            ++waiting;
        }
    }
    if (statuses.empty() || waiting > 0) return "Pending";
    if (running > 0) return "Running";
    if (stopped == int(statuses.size())) {
        if (restart_policy == "Always") return "Running";
        if (stopped == succeeded) return "Succeeded";
        if (restart_policy == "Never") return "Failed";
        return "Running";  // OnFailure: the failed ones restart
    }
    return "Pending";
}

json to_json(const AgentEvent &e) {
    return json{{"seq", e.seq},
                {"type", e.type},
                {"reason", e.reason},
                {"namespace", e.namespace_},
                {"object", e.object},
                {"message", e.message},
                {"count", e.count},
                {"firstTimestamp", e.first_timestamp},
                {"lastTimestamp", e.last_timestamp}};
}

// The node's address for status.hostIP (and podIP of hostNetwork pods): the
// first IPv4 address of an interface that is up and not loopback.
std::string node_ip() {
    ifaddrs *list = nullptr;
    if (::getifaddrs(&list) < 0) return "";
    std::string ip;
    for (ifaddrs *a = list; a && ip.empty(); a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
        if (!(a->ifa_flags & IFF_UP) || (a->ifa_flags & IFF_LOOPBACK)) continue;
        char buf[INET_ADDRSTRLEN];
        if (::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in *>(a->ifa_addr)->sin_addr, buf, sizeof buf)) ip = buf;
    }
    ::freeifaddrs(list);
    return ip;
}

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Agent::~Agent() = default;

Result<std::unique_ptr<Agent>> Agent::create(AgentConfig cfg) {
    if (cfg.runtime.state_dir.empty()) return Error("agent: no state dir");
    if (cfg.socket_path.empty()) cfg.socket_path = path_join(cfg.runtime.state_dir, "agent.sock");
    if (cfg.node_name.empty()) {
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        cfg.node_name = host;
    }
    auto impl = std::make_unique<Impl>(std::move(cfg));
    CORRAL_TRY_CTX(impl->setup(mono_ms()), "agent");
    return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

Status Agent::run() { return impl_->run(); }
json Agent::handle_request(const json &request) { return impl_->handle(request); }

} // namespace corral::herd
