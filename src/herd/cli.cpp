// Placeholder while herd is being written: replaced by its owner.
#include "herd/commands.hpp"
#include <cstdio>
namespace corral::herd {
int cli_main(const std::string &c, const Argv &) { std::fprintf(stderr, "herd %s: not written yet\n", c.c_str()); return 1; }
}
