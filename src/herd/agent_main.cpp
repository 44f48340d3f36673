// Placeholder while herd is being written: replaced by its owner.
#include "herd/commands.hpp"
#include <cstdio>
namespace corral::herd {
int agent_main(const Argv &) { std::fprintf(stderr, "herd agent: not written yet\n"); return 1; }
}
