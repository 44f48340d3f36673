// herd agent — the node agent's command line (the supervisor is agent.cpp).
//
//   herd agent [--state-dir DIR] [--corral BIN] [--corral-root DIR]
//              [--image-store DIR] [--cgroup-root /herd] [--node-name NAME]
//              [--cni-subnet CIDR] [--cni-bridge NAME] [--log-max-bytes N]
//              [--stdio] [--debug]
#include "herd/agent.hpp"
#include "herd/commands.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <unistd.h>

namespace corral::herd {
namespace {

const char *kAgentUsage =
    "usage: herd agent [options]\n"
    "  the node agent: owns this node's pods; keeps them running when stopped\n"
    "  --state-dir DIR     state (pods, logs, agent.sock) (default $HERD_STATE_DIR/agent or /var/lib/herd/agent)\n"
    "  --corral BIN        the corral binary (default: next to herd)\n"
    "  --corral-root DIR   corral --root (default <state dir>/corral)\n"
    "  --image-store DIR   corral image store (default: corral's)\n"
    "  --cgroup-root PATH  absolute cgroup parent of the pods (default /herd)\n"
    "  --node-name NAME    the node's name (default: the host name)\n"
    "  --log-max-bytes N   a container log's size before rotation (default 10 MiB)\n"
    "  --cni-subnet CIDR   pod addresses (default 10.88.0.0/16)\n"
    "  --cni-bridge NAME   the bridge (default herd0)\n"
    "  --stdio             also serve one client on stdin/stdout (ssh); its EOF stops the agent\n"
    "  --connect           no agent: bridge stdin/stdout to the running agent's socket (ssh NODE herd agent --connect)\n"
    "  --debug             debug lines on stderr\n";

} // namespace

int agent_main(const Argv &args) {
    for (const std::string &a : args)
        if (a == "--connect") return agent_connect_main(args);  // agent_connect.cpp
    AgentConfig cfg;
    // As serve's default for the agent it starts: <serve's state dir>/agent.
    const char *env_dir = std::getenv("HERD_STATE_DIR");
    cfg.runtime.state_dir = std::string(env_dir && *env_dir ? env_dir : "/var/lib/herd") + "/agent";
    bool debug = false;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string &a = args[i];
        auto value = [&](const char *name) -> const std::string * {
            if (i + 1 >= args.size()) {
                std::fprintf(stderr, "herd agent: %s needs a value\n", name);
                return nullptr;
            }
            return &args[++i];
        };
        const std::string *v = nullptr;
        if (a == "--help" || a == "-h") {
            std::fputs(kAgentUsage, stdout);
            return 0;
        } else if (a == "--stdio") {
            cfg.stdio = true;
        } else if (a == "--debug") {
            debug = true;
        } else if (a == "--state-dir") {
            if (!(v = value("--state-dir"))) return 2;
            cfg.runtime.state_dir = *v;
        } else if (a == "--corral") {
            if (!(v = value("--corral"))) return 2;
            cfg.runtime.corral_bin = *v;
        } else if (a == "--corral-root") {
            if (!(v = value("--corral-root"))) return 2;
            cfg.runtime.corral_root = *v;
        } else if (a == "--image-store") {
            if (!(v = value("--image-store"))) return 2;
            cfg.runtime.image_store = *v;
        } else if (a == "--cgroup-root") {
            if (!(v = value("--cgroup-root"))) return 2;
            if (v->empty() || (*v)[0] != '/') {
                std::fprintf(stderr, "herd agent: --cgroup-root must be absolute, got \"%s\"\n", v->c_str());
                return 2;
            }
            cfg.runtime.cgroup_root = *v;
        } else if (a == "--log-max-bytes") {
            if (!(v = value("--log-max-bytes"))) return 2;
            char *end = nullptr;
            unsigned long long n = std::strtoull(v->c_str(), &end, 10);
            if (!end || *end || n < 4096) {
                std::fprintf(stderr, "herd agent: --log-max-bytes must be a number of bytes >= 4096, got \"%s\"\n",
                             v->c_str());
                return 2;
            }
            cfg.runtime.log_max_bytes = n;
        } else if (a == "--node-name") {
            if (!(v = value("--node-name"))) return 2;
            cfg.node_name = *v;
        } else if (a == "--cni-subnet") {
            if (!(v = value("--cni-subnet"))) return 2;
            cfg.runtime.network.subnet = *v;
        } else if (a == "--cni-bridge") {
            if (!(v = value("--cni-bridge"))) return 2;
            cfg.runtime.network.bridge = *v;
        } else {
            std::fprintf(stderr, "herd agent: unknown option %s\n%s", a.c_str(), kAgentUsage);
            return 2;
        }
    }
    cfg.runtime.debug = debug;
    if (debug) {
        cfg.debug = [](const std::string &line) {
            std::string t = rfc3339();
            std::fprintf(stderr, "%s herd agent: %s\n", t.c_str(), line.c_str());
        };
    }
    auto agent = Agent::create(std::move(cfg));
    if (!agent) {
        std::fprintf(stderr, "herd agent: %s\n", agent.error().message().c_str());
        return 1;
    }
    auto st = (*agent)->run();
    if (!st) {
        std::fprintf(stderr, "herd agent: %s\n", st.error().message().c_str());
        return 1;
    }
    return 0;
}

} // namespace corral::herd
