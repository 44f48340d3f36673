// The command line a person meets first (issue 14): help on every command
// with runc's exit codes, errors that name the container while keeping the
// words clients match, and a hint when there is no config.json.
#include "integration/harness.hpp"

namespace corral_it {
namespace {

class Cli : public ContainerTest {};

const char *const kImageSubcommands[] = {"unpack", "import", "ls", "inspect", "rm", "gc", "mount", "umount", "rm-bundle"};

// runc 1.1.5: `runc --help`, `runc help create` and `runc create --help` exit
// 0 and print to stdout; scripts rely on the status.
TEST_F(Cli, HelpOfEveryCommandExitsZero) {
    Result top = rt({"--help"});
    ASSERT_EQ(top.status, 0) << top;
    for (const char *cmd : {"create", "start", "run", "exec", "state", "kill", "delete", "list", "spec", "features",
                            "pause", "resume", "ps", "events", "update", "checkpoint", "restore"}) {
        EXPECT_NE(top.out.find(std::string("   ") + cmd + " "), std::string::npos) << cmd << " not listed\n" << top;
        if (runtime_is_runc() && std::string(cmd) == "features") continue;
        for (std::vector<std::string> argv : {std::vector<std::string>{cmd, "--help"}, {cmd, "-h"}, {"help", cmd}}) {
            Result r = rt(argv);
            EXPECT_EQ(r.status, 0) << r;
            EXPECT_NE(r.out.find(std::string("USAGE:")), std::string::npos) << r;
        }
    }
    Result nope = rt({"help", "nope"});
    EXPECT_NE(nope.status, 0) << nope;
    EXPECT_NE(nope.err.find("No help topic for 'nope'"), std::string::npos) << nope;
}

TEST_F(Cli, ImageHelpListsItsSubcommands) {
    if (runtime_is_runc()) GTEST_SKIP() << "SKIPPED: corral image is corral's own";
    for (std::vector<std::string> argv : {std::vector<std::string>{"image", "--help"}, {"image", "-h"}, {"image", "help"},
                                          {"image"}, {"help", "image"}}) {
        Result r = rt(argv);
        EXPECT_EQ(r.status, 0) << r;
        for (const char *sub : kImageSubcommands)
            EXPECT_NE(r.out.find(std::string("   ") + sub + " "), std::string::npos) << sub << " not listed\n" << r;
    }
    for (const char *sub : kImageSubcommands) {
        for (std::vector<std::string> argv : {std::vector<std::string>{"image", "help", sub}, {"image", sub, "--help"}}) {
            Result r = rt(argv);
            EXPECT_EQ(r.status, 0) << r;
            EXPECT_NE(r.out.find(std::string("corral image ") + sub), std::string::npos) << r;
        }
    }
    Result unpack = rt({"image", "help", "unpack"});
    EXPECT_NE(unpack.out.find("--store DIR"), std::string::npos) << unpack;
    Result nope = rt({"image", "help", "nope"});
    EXPECT_NE(nope.status, 0) << nope;
}

// runc says `container does not exist`; containerd and podman look for
// "does not exist" in it. corral keeps runc's words in msg and names the
// container in a field of its own.
TEST_F(Cli, ErrorsAboutAMissingContainerNameIt) {
    const std::string id = "it-cli-no-such-container";
    for (std::vector<std::string> argv :
         {std::vector<std::string>{"state", id}, {"kill", id, "9"}, {"delete", id}, {"start", id}, {"exec", id, "true"},
          {"pause", id}, {"resume", id}}) {
        Result r = rt(argv);
        EXPECT_NE(r.status, 0) << r;
        EXPECT_NE(r.err.find("container does not exist"), std::string::npos) << "clients match these words\n" << r;
        if (!runtime_is_runc()) {
            EXPECT_NE(r.err.find(" id=" + id + "\n"), std::string::npos) << r;
        }
    }
    // JSON to a log file, as containerd asks; plain text on stderr too.
    if (runtime_is_runc()) return;
    std::string log = scratch_ + "/log.json";
    Result r = rt({"--log", log, "--log-format", "json", "state", id});
    EXPECT_NE(r.status, 0) << r;
    json line = json::parse(read_file(log), nullptr, false);
    ASSERT_TRUE(line.is_object()) << read_file(log);
    EXPECT_EQ(line.value("msg", ""), "container does not exist") << line.dump();
    EXPECT_EQ(line.value("id", ""), id) << line.dump();
    EXPECT_EQ(line.value("level", ""), "error") << line.dump();
    EXPECT_NE(r.err.find("container does not exist (id " + id + ")"), std::string::npos) << r;
}

TEST_F(Cli, RunWithoutConfigJsonSaysWhereToLook) {
    if (runtime_is_runc()) GTEST_SKIP() << "SKIPPED: the hint is corral's";
    std::string empty = make_dir("no-config");
    for (const char *cmd : {"run", "create"}) {
        Result r = rt({cmd, "--bundle", empty, "it-cli-no-config"});
        EXPECT_NE(r.status, 0) << r;
        EXPECT_NE(r.err.find(empty + "/config.json"), std::string::npos) << r;
        EXPECT_NE(r.err.find("use --bundle DIR or run in the bundle directory (corral spec writes one)"),
                  std::string::npos)
            << r;
        EXPECT_NE(r.err.find("id=it-cli-no-config"), std::string::npos) << r;
        EXPECT_FALSE(exists(root_ + "/it-cli-no-config")) << "state left behind";
    }
}

TEST_F(Cli, DetachedTerminalMessageSaysCorral) {
    if (runtime_is_runc()) GTEST_SKIP() << "SKIPPED: the wording is corral's";
    Bundle &b = make_bundle();
    b.config["process"]["terminal"] = true;
    b.write();
    Result r = rt({"run", "-d", "--bundle", b.dir, b.id});
    EXPECT_NE(r.status, 0) << r;
    EXPECT_NE(r.err.find("cannot allocate tty if corral will detach without setting console socket"),
              std::string::npos)
        << r;
    EXPECT_FALSE(exists(root_ + "/" + b.id)) << "state left behind";
}

}  // namespace
}  // namespace corral_it
