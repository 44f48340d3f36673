// common/cli_doc: the help rows, completion scripts and man page made from a
// command table. The bash script is run by bash here (COMP_WORDS set as bash
// sets them), so the test checks what it completes, not how it is written.
#include "common/cli_doc.hpp"
#include "common/fs.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace corral;
using namespace corral::cli_doc;

namespace {

const Flag kBundle{"bundle,b", "DIR", "the bundle"};
const Flag kQuiet{"quiet,q", "", "say less"};
const Flag kFormat{"format", "value", "table or json"};
const Flag kPid{"pid-file", "value", "where the pid goes", false, Complete::file};

Program sample() {
    Program p;
    p.name = "toy";
    p.man_section = 8;
    p.summary = "a toy runtime";
    p.synopsis = "[global options] command";
    p.version = "1.2.3";
    p.description = "First paragraph, with a -dash and a \\backslash.\n\n  toy run c1\n  toy state c1\n\n.dot starts this";
    p.global_flags = {{"root", "DIR", "state dir"}, {"debug", "", "debug output"}};
    Command run{.name = "run", .args_usage = "<id>", .summary = "run it", .flags = {kBundle, kQuiet, kPid}};
    run.args = Complete::command;
    run.args_command = "printf 'c1\\nc2\\n'";
    Command unpack{.name = "unpack", .args_usage = "SOURCE BUNDLE", .summary = "unpack an image", .flags = {kFormat}};
    unpack.args = Complete::file;
    Command image{.name = "image", .aliases = "img", .args_usage = "COMMAND", .summary = "images", .flags = {}};
    image.subcommands = {unpack, Command{.name = "ls", .summary = "list"}};
    Command get{.name = "get", .args_usage = "KIND", .summary = "get things"};
    get.args = Complete::words;
    get.words = {"pods", "nodes"};
    p.commands = {run, image, get};
    p.sections = {{"SEE ALSO", "runc(8)"}};
    return p;
}

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/cli-doc-test-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { (void)!std::system(("rm -rf '" + path + "'").c_str()); }
};

std::string run_output(const std::string &command) {
    std::string out;
    FILE *f = ::popen(command.c_str(), "r");
    if (!f) return "popen failed";
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    int st = ::pclose(f);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) out += "[exit " + std::to_string(st) + "]";
    return out;
}

// What the generated bash completion offers for `words` (the last one is
// being typed), one per line.
std::string complete(const std::string &script_file, const std::string &words) {
    return run_output("bash -c 'source " + script_file + "; COMP_WORDS=(" + words +
                      "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _toy; printf \"%s\\n\" \"${COMPREPLY[@]}\"' 2>&1");
}

} // namespace

TEST(CliDocFlagsHelp, BothLayouts) {
    const Flag flags[] = {kBundle, kQuiet};
    EXPECT_EQ(flags_help(flags, "   ", true), "   --bundle DIR, -b DIR  the bundle\n"
                                              "   --quiet, -q           say less\n");
    EXPECT_EQ(flags_help(flags, "  ", false), "  --bundle, -b DIR  the bundle\n"
                                              "  --quiet, -q       say less\n");
}

TEST(CliDocBash, CompletesCommandsSubcommandsFlagsAndArguments) {
    TempDir dir;
    std::string file = dir.path + "/toy";
    ASSERT_TRUE(write_file_atomic(file, bash_completion(sample())).ok());
    EXPECT_EQ(run_output("bash -c 'source " + file + "; complete -p toy'"), "complete -F _toy toy\n");
    EXPECT_EQ(complete(file, "toy r"), "run\n");
    EXPECT_EQ(complete(file, "toy i"), "image\nimg\n");
    EXPECT_EQ(complete(file, "toy image \"\""), "unpack\nls\n");
    EXPECT_EQ(complete(file, "toy img u"), "unpack\n") << "an alias leads on like the name";
    EXPECT_EQ(complete(file, "toy --root /tmp image u"), "unpack\n") << "a global flag's value is skipped";
    EXPECT_EQ(complete(file, "toy image unpack --f"), "--format\n");
    EXPECT_EQ(complete(file, "toy --"), "--root\n--debug\n--help\n");
    EXPECT_EQ(complete(file, "toy run -"), "--bundle\n-b\n--quiet\n-q\n--pid-file\n--help\n-h\n");
    EXPECT_EQ(complete(file, "toy run c"), "c1\nc2\n") << "positional: the lines of args_command";
    EXPECT_EQ(complete(file, "toy run c1 c"), "\n") << "only the first positional argument";
    ASSERT_EQ(::mkdir((dir.path + "/sub").c_str(), 0700), 0);
    EXPECT_EQ(complete(file, "toy run --bundle " + dir.path + "/"), dir.path + "/sub\n")
        << "a DIR value: directories (the file toy is not one)";
    EXPECT_EQ(complete(file, "toy run --pid-file " + dir.path + "/t"), dir.path + "/toy\n") << "a file value";
    EXPECT_EQ(complete(file, "toy get p"), "pods\n");
    EXPECT_EQ(complete(file, "toy get pods p"), "\n");
}

TEST(CliDocZsh, DescribesAndParses) {
    std::string z = zsh_completion(sample());
    EXPECT_EQ(z.rfind("#compdef toy\n", 0), 0u) << z;
    EXPECT_NE(z.find("'run:run it'"), std::string::npos) << z;
    EXPECT_NE(z.find("'--bundle:the bundle'"), std::string::npos) << z;
    EXPECT_NE(z.find("'image unpack')"), std::string::npos) << z;
    if (run_output("command -v zsh || true").empty()) return; // zsh is optional; its syntax is checked where it is
    TempDir dir;
    ASSERT_TRUE(write_file_atomic(dir.path + "/_toy", z).ok());
    EXPECT_EQ(run_output("zsh -n " + dir.path + "/_toy 2>&1"), "");
    // The walk, with zsh's completion builtins replaced by ones that print
    // what they were given.
    std::string driver = dir.path + "/drive.zsh";
    ASSERT_TRUE(write_file_atomic(driver, "_describe() { shift 3; print -l -- \"${(P)1[@]%%:*}\" }\n"
                                          "compadd() { shift; print -l -- \"$@\" }\n"
                                          "_files() { print \"files $*\" }\n"
                                          "source " + dir.path + "/_toy >/dev/null\n"
                                          "words=(\"$@\"); CURRENT=$#; _toy\n")
                    .ok());
    auto zsh = [&](const std::string &words) { return run_output("zsh -f " + driver + " " + words + " 2>&1"); };
    EXPECT_EQ(zsh("toy \"\""), "run\nimage\nimg\nget\n");
    EXPECT_EQ(zsh("toy img \"\""), "unpack\nls\n");
    EXPECT_EQ(zsh("toy --root /x image \"\""), "unpack\nls\n");
    EXPECT_EQ(zsh("toy run --bundle \"\""), "files -/\n");
    EXPECT_EQ(zsh("toy run c"), "c1\nc2\n");
    EXPECT_EQ(zsh("toy get \"\""), "pods\nnodes\n");
}

TEST(CliDocMan, EscapesAndListsEverything) {
    std::string m = man_page(sample());
    EXPECT_NE(m.find(".TH TOY 8 \"\" \"toy 1.2.3\" \"System Administration\"\n"), std::string::npos) << m;
    EXPECT_NE(m.find(".SH NAME\ntoy \\- a toy runtime\n"), std::string::npos) << m;
    EXPECT_NE(m.find("with a \\-dash and a \\ebackslash."), std::string::npos) << m;
    EXPECT_NE(m.find(".nf\ntoy run c1\ntoy state c1\n.fi\n"), std::string::npos) << "an indented example stays as is\n" << m;
    EXPECT_NE(m.find("\\&.dot starts this"), std::string::npos) << "a leading dot is not a request\n" << m;
    EXPECT_NE(m.find(".SS \"image unpack\""), std::string::npos) << m;
    EXPECT_NE(m.find("\\fB\\-\\-bundle\\fR \\fIDIR\\fR, \\fB\\-b\\fR \\fIDIR\\fR\nthe bundle\n"), std::string::npos) << m;
    EXPECT_NE(m.find(".SH \"GLOBAL OPTIONS\""), std::string::npos) << m;
    EXPECT_NE(m.find(".SH \"SEE ALSO\"\n.PP\nrunc(8)\n"), std::string::npos) << m;
    EXPECT_EQ(man_page(sample()), m) << "deterministic";
}
