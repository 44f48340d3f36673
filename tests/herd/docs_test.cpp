// Docs that cannot drift (issue 14): every command of README.md's herd
// section and of docs/herd.md's Quick start is run here as written, in
// order, against a real `herd serve` and agent, and the output the docs show
// is compared with what the commands print, by shape.
//
// The blocks to run follow an HTML comment `<!-- herd-doc-test -->` and are
// console transcripts: `$ COMMAND` (continued by a trailing backslash, or a
// heredoc up to its terminator), then the output the doc shows, if any.
// One script per file runs in bash from the repository root, with only
// these substitutions, so the test stays private and leaves nothing:
//   - `/tmp/herd-demo` becomes a fresh temp dir;
//   - `build/bin/` becomes this build's bin dir;
//   - `herd serve --start-agent` gets agent flags for a cgroup root under
//     /corral-test, a bridge and a subnet of the test's own (never herd0,
//     10.88.0.0/16, /herd: those stay the machine's).
//
// Shape: the same number of lines (a line `...` in the doc stands for any
// number of lines); each line split into columns on runs of two or more
// spaces, the same number of columns; a column without digits (a header, a
// STATUS word, "created") must be equal, one with digits (names with hashes,
// ages, counts, pids) may differ.
#include "herd/e2e_util.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace herd_e2e {
namespace {

struct Step {
    std::string command;
    std::vector<std::string> expected;  // lines; empty: the doc shows no output
    int line = 0;                       // in the doc
};

std::string source_dir() {
    std::string fixtures = CORRAL_FIXTURES;  // <src>/rootfs-fixtures/out
    return fixtures.substr(0, fixtures.rfind("/rootfs-fixtures/"));
}

// The steps of every marked block of a markdown file.
std::vector<Step> doc_steps(const std::string &path) {
    std::istringstream in(read_text(path));
    std::vector<std::string> lines;
    std::string l;
    while (std::getline(in, l)) lines.push_back(l);
    std::vector<Step> steps;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].find("<!-- herd-doc-test -->") == std::string::npos) continue;
        size_t k = i + 1;
        while (k < lines.size() && lines[k].rfind("```", 0) != 0) ++k;
        for (++k; k < lines.size() && lines[k].rfind("```", 0) != 0; ++k) {
            const std::string &line = lines[k];
            if (line.rfind("$ ", 0) == 0) {
                Step st;
                st.line = static_cast<int>(k + 1);
                st.command = line.substr(2);
                std::smatch m;
                static const std::regex heredoc(R"(<<-?\s*'?([A-Za-z_]+)'?)");
                // Continuations and heredoc bodies belong to the command.
                while (!st.command.empty() && st.command.back() == '\\' && k + 1 < lines.size())
                    st.command += "\n" + lines[++k];
                if (std::regex_search(st.command, m, heredoc)) {
                    std::string end = m[1].str();
                    while (k + 1 < lines.size()) {
                        st.command += "\n" + lines[++k];
                        if (lines[k] == end) break;
                    }
                }
                steps.push_back(std::move(st));
            } else if (!steps.empty()) {
                steps.back().expected.push_back(line);
            }
        }
        i = k;
    }
    return steps;
}

std::vector<std::string> columns(const std::string &line) {
    std::vector<std::string> out;
    static const std::regex sep(R"(\s{2,})");
    std::string t = line;
    while (!t.empty() && t.back() == ' ') t.pop_back();
    while (!t.empty() && t.front() == ' ') t.erase(0, 1);
    if (t.empty()) return out;
    for (std::sregex_token_iterator it(t.begin(), t.end(), sep, -1), end; it != end; ++it) out.push_back(*it);
    return out;
}

bool line_matches(const std::string &want, const std::string &got) {
    std::vector<std::string> w = columns(want), g = columns(got);
    if (w.size() != g.size()) return false;
    for (size_t i = 0; i < w.size(); ++i) {
        bool variable = std::any_of(w[i].begin(), w[i].end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
        if (!variable && w[i] != g[i]) return false;
    }
    return true;
}

// Does the output have the doc's shape? ("..." matches any lines.)
bool shape_matches(const std::vector<std::string> &want, size_t wi, const std::vector<std::string> &got, size_t gi) {
    if (wi == want.size()) return gi == got.size();
    if (want[wi] == "...") {
        for (size_t k = gi; k <= got.size(); ++k)
            if (shape_matches(want, wi + 1, got, k)) return true;
        return false;
    }
    return gi < got.size() && line_matches(want[wi], got[gi]) && shape_matches(want, wi + 1, got, gi + 1);
}

class HerdDocs : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (containers, cgroups)";
        if (!corral::path_exists(std::string(CORRAL_FIXTURES) + "/layout/index.json"))
            GTEST_SKIP() << "no fixture image: run rootfs-fixtures/build.sh";
        std::string tmpl = "/tmp/herd-doc.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        std::string tag = random_hex(8);
        cgroup_root_ = "/corral-test/herd-doc-" + tag;
        bridge_ = "hq" + tag.substr(0, 6);
        subnet_ = "10.202." + std::to_string(std::random_device{}() % 250 + 1) + ".0/24";
    }
    void TearDown() override {
        if (dir_.empty()) return;
        EXPECT_EQ(cleanup(), "") << "left behind by the doc's commands";
    }

    std::string bin_dir() const {
        std::string h = HERD_BIN;
        return h.substr(0, h.rfind('/') + 1);
    }

    std::string substitute(std::string cmd) const {
        auto replace_all = [&](const std::string &from, const std::string &to) {
            for (size_t p = cmd.find(from); p != std::string::npos; p = cmd.find(from, p + to.size()))
                cmd.replace(p, from.size(), to);
        };
        replace_all("/tmp/herd-demo", dir_);
        replace_all("build/bin/", bin_dir());
        replace_all("herd serve --start-agent",
                    "herd serve --start-agent --agent-arg --cgroup-root --agent-arg " + cgroup_root_ +
                        " --agent-arg --cni-bridge --agent-arg " + bridge_ + " --agent-arg --cni-subnet --agent-arg " +
                        subnet_);
        return cmd;
    }

    // Runs the marked blocks of one file; the failures, one per step.
    void run_doc(const std::string &relative) {
        std::vector<Step> steps = doc_steps(source_dir() + "/" + relative);
        ASSERT_FALSE(steps.empty()) << relative << " has no <!-- herd-doc-test --> block";
        std::string script = "cd '" + source_dir() + "'\nunset HERD_STATE_DIR\n";
        for (size_t i = 0; i < steps.size(); ++i) {
            script += "printf '\\n@@herd-doc-step %d\\n' " + std::to_string(i) + "\n";
            script += substitute(steps[i].command) + "\n";
            script += "printf '\\n@@herd-doc-rc %d\\n' $?\n";
        }
        RunResult r = run({"/bin/bash", "-c", script}, 900);
        ASSERT_EQ(r.status, 0) << r.text();
        // Split stdout at the markers.
        std::vector<std::string> outputs(steps.size());
        std::vector<int> rcs(steps.size(), -1);
        std::istringstream in(r.out);
        std::string line;
        int cur = -1;
        std::vector<std::string> buf;
        static const std::regex step_re(R"(@@herd-doc-step (\d+))"), rc_re(R"(@@herd-doc-rc (\d+))");
        std::smatch m;
        std::vector<std::vector<std::string>> got(steps.size());
        while (std::getline(in, line)) {
            if (std::regex_match(line, m, step_re)) {
                cur = std::stoi(m[1].str());
                continue;
            }
            if (cur >= 0 && std::regex_match(line, m, rc_re)) {
                rcs[static_cast<size_t>(cur)] = std::stoi(m[1].str());
                // The printf's leading newline ends the output's last line.
                auto &g = got[static_cast<size_t>(cur)];
                if (!g.empty() && g.back().empty()) g.pop_back();
                cur = -1;
                continue;
            }
            if (cur >= 0) got[static_cast<size_t>(cur)].push_back(line);
        }
        for (size_t i = 0; i < steps.size(); ++i) {
            std::string where = relative + ":" + std::to_string(steps[i].line) + ": $ " + steps[i].command;
            EXPECT_EQ(rcs[i], 0) << where << "\nstdout:\n" << join(got[i]) << "\nstderr of the script:\n" << r.err;
            if (!steps[i].expected.empty()) {
                EXPECT_TRUE(shape_matches(steps[i].expected, 0, got[i], 0))
                    << where << "\nthe doc shows:\n" << join(steps[i].expected) << "\nthe command printed:\n" << join(got[i]);
            }
        }
    }

    static std::string join(const std::vector<std::string> &lines) {
        std::string s;
        for (const auto &l : lines) s += l + "\n";
        return s;
    }

    // Whatever the doc's commands left (when one of them failed): deleted,
    // stopped and removed; what it was is returned ("" = nothing).
    std::string cleanup() {
        std::string left;
        std::string herd = HERD_BIN, serve_state = dir_ + "/serve";
        if (corral::path_exists(serve_state + "/herd.sock")) {
            RunResult deps = run({herd, "--state-dir", serve_state, "get", "deployments,pods", "-o", "name"}, 60);
            std::istringstream names(deps.out);
            std::string n;
            while (std::getline(names, n)) {
                if (n.empty()) continue;
                left += n + " left running\n";
                (void)run({herd, "--state-dir", serve_state, "delete", n, "--timeout", "120s"}, 180);
            }
        }
        RunResult stop = run({herd, "serve", "--stop", "--agent", "--state-dir", serve_state}, 90);
        if (stop.out.find(" stopped") != std::string::npos) left += "daemons left running: " + stop.out;
        std::string corral_root = serve_state + "/agent/corral";
        left += sweep_leftovers(corral_root, cgroup_root_, dir_, subnet_, bridge_);
        if (!left.empty()) {
            left += "--- serve.log ---\n" + read_text(dir_ + "/serve.log") + "\n--- agent.log ---\n" +
                    read_text(serve_state + "/agent/agent.log");
        }
        (void)corral::remove_tree(dir_);
        return left;
    }

    std::string dir_, cgroup_root_, bridge_, subnet_;
};

TEST(HerdDocsParse, TranscriptsSplitIntoCommandsAndOutput) {
    std::string path = "/tmp/herd-doc-parse-" + random_hex(8) + ".md";
    {
        std::ofstream f(path);
        f << "text\n```sh\n$ not marked\n```\n<!-- herd-doc-test -->\n```console\n$ echo a \\\n  b\na b\n"
             "$ cat >x <<'EOF'\nline\nEOF\n$ true\n```\n";
    }
    std::vector<Step> steps = doc_steps(path);
    ::unlink(path.c_str());
    ASSERT_EQ(steps.size(), 3u);
    EXPECT_EQ(steps[0].command, "echo a \\\n  b");
    EXPECT_EQ(steps[0].expected, (std::vector<std::string>{"a b"}));
    EXPECT_EQ(steps[1].command, "cat >x <<'EOF'\nline\nEOF");
    EXPECT_TRUE(steps[1].expected.empty());
    EXPECT_TRUE(shape_matches({"NAME   READY   AGE", "web-6c9f   1/1   12s"}, 0, {"NAME  READY  AGE", "web-77aa   0/1   3m"}, 0));
    EXPECT_FALSE(shape_matches({"NAME   STATUS"}, 0, {"NAME   PHASE"}, 0));
    EXPECT_FALSE(shape_matches({"a", "b"}, 0, {"a"}, 0));
    EXPECT_TRUE(shape_matches({"first", "...", "last"}, 0, {"first", "x", "y", "last"}, 0));
}

TEST_F(HerdDocs, ReadmeHerdSectionRunsAsWritten) { run_doc("README.md"); }

TEST_F(HerdDocs, QuickStartRunsAsWritten) { run_doc("docs/herd.md"); }

} // namespace
} // namespace herd_e2e
