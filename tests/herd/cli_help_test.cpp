// herd's help, from its one command table (src/herd/cli.cpp): every command,
// serve and agent included, answers --help, -h and `herd help COMMAND` with
// exit 0 and its flags; the commands being added alongside (port-forward,
// get -w, -o jsonpath/custom-columns, serve --stop) are listed. No serve or
// agent is started.
#include "herd_test_util.hpp"

namespace {

using herd_test::run;

std::string herd_out(const std::vector<std::string> &args, int *code, std::string *err = nullptr) {
    std::vector<std::string> argv{HERD_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, err, code);
}

const char *const kCommands[] = {"apply", "get", "describe", "logs",   "exec",    "port-forward", "delete",
                                 "scale", "rollout", "wait", "events", "version", "serve",        "agent", "node"};

TEST(HerdHelp, EveryCommandAnswersHelpWithExitZero) {
    int code = -1;
    std::string top = herd_out({"--help"}, &code);
    ASSERT_EQ(code, 0) << top;
    for (const char *cmd : kCommands) {
        EXPECT_NE(top.find(std::string("  ") + cmd + " "), std::string::npos) << cmd << " not listed\n" << top;
        for (std::vector<std::string> argv : {std::vector<std::string>{cmd, "--help"}, {cmd, "-h"}, {"help", cmd}}) {
            std::string out = herd_out(argv, &code);
            EXPECT_EQ(code, 0) << argv[0] << " " << argv[1] << "\n" << out;
            EXPECT_NE(out.find(std::string("herd ") + cmd), std::string::npos) << out;
        }
    }
    std::string h = herd_out({"help"}, &code);
    EXPECT_EQ(code, 0);
    EXPECT_EQ(h, top);
}

TEST(HerdHelp, ListsTheNewFlags) {
    int code = -1;
    std::string get = herd_out({"get", "--help"}, &code);
    EXPECT_NE(get.find("--watch, -w"), std::string::npos) << get;
    EXPECT_NE(get.find("jsonpath=TEMPLATE"), std::string::npos) << get;
    EXPECT_NE(get.find("custom-columns=SPEC"), std::string::npos) << get;
    EXPECT_NE(get.find("all[,KIND...]"), std::string::npos) << get;
    std::string pf = herd_out({"help", "port-forward"}, &code);
    EXPECT_NE(pf.find("herd port-forward POD [LOCAL:]REMOTE"), std::string::npos) << pf;
    std::string serve = herd_out({"serve", "--help"}, &code);
    EXPECT_EQ(code, 0) << serve;
    EXPECT_NE(serve.find("--stop"), std::string::npos) << serve;
    EXPECT_NE(serve.find("--agent "), std::string::npos) << serve;
    EXPECT_NE(serve.find("--start-agent"), std::string::npos) << serve;
    std::string agent = herd_out({"agent", "-h"}, &code);
    EXPECT_EQ(code, 0) << agent;
    EXPECT_NE(agent.find("--cni-bridge NAME"), std::string::npos) << agent;
}

TEST(HerdHelp, UnknownCommandFails) {
    int code = -1;
    std::string err;
    herd_out({"nope"}, &code, &err);
    EXPECT_EQ(code, 1);
    EXPECT_NE(err.find("unknown command \"nope\""), std::string::npos) << err;
}

} // namespace
