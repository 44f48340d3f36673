// `run` in the foreground: its exit status is the container's, and it
// forwards the signals it receives to the container.
#include "integration/harness.hpp"

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

TEST_F(ExitAndSignals, RunForwardsSignalsToTheContainer) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "signals"});
    b.write();
    auto p = rt_spawn({"run", "--bundle", b.dir, b.id});
    ASSERT_TRUE(p->wait_for_output("ready\n")) << p->out() << p->err();
    p->signal(SIGUSR1);
    ASSERT_TRUE(p->wait_for_output("ready\n10\n")) << "SIGUSR1 not forwarded: " << p->out() << p->err();
    p->signal(SIGTERM);
    Result r = p->wait(milliseconds(10000));
    EXPECT_EQ(r.status, 0) << r;
    EXPECT_EQ(lines(r.out), (std::vector<std::string>{"ready", "10", "15"})) << r;
}

}  // namespace
}  // namespace corral_it
