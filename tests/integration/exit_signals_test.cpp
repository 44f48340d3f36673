// `run` in the foreground: its exit status is the container's, and it
// forwards the signals it receives to the container.
#include "integration/harness.hpp"

#include <algorithm>
#include <csignal>

namespace corral_it {
namespace {

class ExitAndSignals : public ContainerTest {};

TEST_F(ExitAndSignals, RunReturnsTheContainerExitStatus) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "exit", "42"});
    Result r = run_bundle(b);
    EXPECT_EQ(r.status, 42) << r;
    EXPECT_FALSE(exists(root_ + "/" + b.id)) << "run deletes the container after it exits";
}

TEST_F(ExitAndSignals, RunReturns128PlusTheSignalThatKilledTheContainer) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "sleep", "100"});
    b.write();
    auto p = rt_spawn({"run", "--bundle", b.dir, b.id});
    ASSERT_TRUE(eventually([&] { return state(b.id).value("status", "") == "running"; })) << p->err();
    Result k = rt({"kill", b.id, "KILL"});
    EXPECT_EQ(k.status, 0) << k;
    Result r = p->wait(milliseconds(10000));
    EXPECT_EQ(r.status, 128 + SIGKILL) << r;
}

// The probe's output lines. runc is written in Go, whose runtime sends
// itself SIGURG (23) for preemption, and runc forwards those too: drop them
// for runc only.
std::vector<std::string> signal_lines(const std::string &out) {
    std::vector<std::string> got;
    for (auto &l : lines(out))
        if (!(runtime_is_runc() && l == "23")) got.push_back(l);
    return got;
}

TEST_F(ExitAndSignals, RunForwardsSignalsToTheContainer) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "signals"});
    b.write();
    auto p = rt_spawn({"run", "--bundle", b.dir, b.id});
    ASSERT_TRUE(p->wait_for_output("ready\n")) << p->out() << p->err();
    p->signal(SIGUSR1);
    ASSERT_TRUE(eventually([&] {
        auto got = signal_lines(p->out());
        return std::find(got.begin(), got.end(), "10") != got.end();
    })) << "SIGUSR1 not forwarded: " << p->out() << p->err();
    p->signal(SIGTERM);
    Result r = p->wait(milliseconds(10000));
    EXPECT_EQ(r.status, 0) << r;
    EXPECT_EQ(signal_lines(r.out), (std::vector<std::string>{"ready", "10", "15"})) << r;
}

}  // namespace
}  // namespace corral_it
