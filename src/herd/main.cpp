// herd — the pod supervisor. One binary: the kubectl-like CLI, the
// long-running supervisor (`herd serve`) and the node agent (`herd agent`).
// See docs/herd.md.
#include "herd/commands.hpp"

#include <cstdio>
#include <cstring>

int main(int argc, char **argv) {
    using namespace corral::herd;
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        return cli_main("help", {});
    }
    std::string command = argv[1];
    Argv args(argv + 2, argv + argc);
    if (command == "agent") return agent_main(args);
    if (command == "serve") return serve_main(args);
    return cli_main(command, args);
}
