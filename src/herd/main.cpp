// herd — the pod supervisor. One binary: the kubectl-like CLI, the
// long-running supervisor (`herd serve`) and the node agent (`herd agent`).
// See docs/herd.md.
//
// Global flags may come before the command, as with kubectl
// (`herd --state-dir /tmp/h get pods`): they are handed on to the command
// with its own arguments.
#include "herd/commands.hpp"

#include <cstring>
#include <string>

namespace {

// Global flags that take a value in the next argument when written apart.
bool takes_value(const std::string &a) { return a == "--state-dir" || a == "-n" || a == "--namespace"; }

} // namespace

int main(int argc, char **argv) {
    using namespace corral::herd;
    Argv leading;
    int i = 1;
    while (i < argc && argv[i][0] == '-' && std::strcmp(argv[i], "--help") && std::strcmp(argv[i], "-h") &&
           std::strcmp(argv[i], "--version")) {
        leading.push_back(argv[i]);
        if (takes_value(argv[i]) && i + 1 < argc) leading.push_back(argv[++i]);
        ++i;
    }
    if (i >= argc || !std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
        return cli_main("help", {});
    }
    std::string command = argv[i];
    Argv args(argv + i + 1, argv + argc);
    args.insert(args.begin(), leading.begin(), leading.end());
    // `herd serve --help`: the help of herd's command table (src/herd/cli.cpp),
    // like every other command's.
    if (command == "serve" || command == "agent") {
        for (const std::string &a : args) {
            if (a == "--") break;
            if (a == "--help" || a == "-h") return cli_main("help", {command});
        }
    }
    if (command == "agent") return agent_main(args);
    if (command == "serve") return serve_main(args);
    return cli_main(command, args);
}
