// v1 freezer: freezer.state FROZEN / THAWED.
//
// Freezing is not atomic: the state reads FREEZING until every task has
// stopped, and a v1 freeze can stay stuck there while new tasks keep
// arriving (fork, or exec joining). So, like runc: write FROZEN, read it
// back, retry; thaw and pause now and then to let stragglers settle; and
// never leave the cgroup half frozen on failure.
#include "cgroups/v1/v1.hpp"

#include <chrono>
#include <thread>

namespace corral::cgroups::v1 {

Status freeze(const Knobs &k, const std::string &dir) {
    constexpr int kAttempts = 1000;
    for (int i = 0; i < kAttempts; ++i) {
        if (i % 50 == 49) {
            (void)k.write(dir, "freezer.state", "THAWED");
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        auto st = k.write(dir, "freezer.state", "FROZEN");
        if (!st) {
            (void)k.write(dir, "freezer.state", "THAWED");
            return st;
        }
        if (i % 25 == 24) std::this_thread::sleep_for(std::chrono::microseconds(10));
        auto state = detail::read_knob(dir, "freezer.state");
        if (!state) {
            (void)k.write(dir, "freezer.state", "THAWED");
            return std::move(state).error();
        }
        if (*state == "FROZEN") return ok();
        if (*state != "FREEZING") {
            (void)k.write(dir, "freezer.state", "THAWED");
            return Error("freeze `" + dir + "`: unexpected freezer.state `" + *state + "`");
        }
    }
    (void)k.write(dir, "freezer.state", "THAWED");
    return Error("freeze `" + dir + "`: still FREEZING after " + std::to_string(kAttempts) +
                 " attempts (tasks keep joining?)");
}

Status thaw(const Knobs &k, const std::string &dir) { return k.write(dir, "freezer.state", "THAWED"); }

} // namespace corral::cgroups::v1
