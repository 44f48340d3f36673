// kubectl habits in herd (issue 14): `get -o jsonpath=`, `-o custom-columns=`,
// several kinds in one `get`, `get -w`, and `port-forward`, each through the
// `herd` CLI against a private serve and agent (tests/herd/e2e_util.hpp).
#include "herd/e2e_util.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <regex>
#include <set>
#include <sys/socket.h>

namespace herd_e2e {
namespace {

using Clock = std::chrono::steady_clock;

// A `herd` command left running (get -w, port-forward) with its stdout on a
// pipe; killed and reaped by the destructor if it is still there.
class Background {
public:
    explicit Background(const std::vector<std::string> &argv) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) return;
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(p[1], 1);
            int null = ::open("/dev/null", O_RDONLY);
            ::dup2(null, 0);
            std::vector<char *> a;
            for (const auto &s : argv) a.push_back(const_cast<char *>(s.c_str()));
            a.push_back(nullptr);
            ::execv(a[0], a.data());
            _exit(127);
        }
        ::close(p[1]);
        out_fd_ = p[0];
    }
    ~Background() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (out_fd_ >= 0) ::close(out_fd_);
    }
    Background(const Background &) = delete;
    Background &operator=(const Background &) = delete;

    // Reads stdout until pred(everything so far) holds; false at the deadline or EOF.
    bool read_until(const std::function<bool(const std::string &)> &pred, std::chrono::seconds timeout) {
        auto deadline = Clock::now() + timeout;
        while (!pred(out_)) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) return false;
            pollfd pfd{out_fd_, POLLIN, 0};
            if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
            char buf[4096];
            ssize_t n = ::read(out_fd_, buf, sizeof buf);
            if (n <= 0) return pred(out_);
            out_.append(buf, static_cast<size_t>(n));
        }
        return true;
    }
    // Sends sig and waits (up to 30 s) for the exit; the exit status, or -1.
    int stop(int sig) {
        ::kill(pid_, sig);
        for (int i = 0; i < 300; ++i) {
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                reaped_ = true;
                return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            }
            std::this_thread::sleep_for(100ms);
        }
        return -1;
    }
    const std::string &out() const { return out_; }
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    bool reaped_ = false;
    std::string out_;
};

std::vector<std::string> lines_of(const std::string &text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) out.push_back(line);
    return out;
}

std::vector<std::string> words(const std::string &line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    std::string w;
    while (in >> w) out.push_back(w);
    return out;
}

class HerdKubectl : public ClusterTest {
protected:
    HerdCluster &c() { return *cluster_; }

    std::string ok(const std::vector<std::string> &args, int timeout_s = 180) {
        RunResult r = c().herd(args, timeout_s);
        std::string cmd;
        for (const auto &a : args) cmd += " " + a;
        EXPECT_EQ(r.status, 0) << "herd" << cmd << "\n" << r.text() << "\n" << c().daemon_logs();
        return r.out;
    }

    std::vector<std::string> herd_argv(const std::vector<std::string> &args) {
        std::vector<std::string> argv = {HERD_BIN, "--state-dir", c().serve_state()};
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
    }

};

TEST_F(HerdKubectl, GetJsonPathCustomColumnsAndSeveralKinds) {
    ok({"apply", "-f", manifest("steady-deployment.yaml")});
    ok({"rollout", "status", "deployment/steady", "--timeout", "120s"});
    std::vector<json> pods = c().pods("app=steady");
    ASSERT_EQ(pods.size(), 2u);
    std::set<std::string> names;
    for (const json &p : pods) names.insert(p["metadata"]["name"].get<std::string>());

    // jsonpath: kubectl's space-separated results, range/end and "\n" literals.
    std::string flat = ok({"get", "pods", "-o", "jsonpath={.items[*].metadata.name}"});
    std::vector<std::string> got = words(flat);
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), names) << flat;
    EXPECT_EQ(flat.find('\n'), std::string::npos) << "no newline unless the template has one";
    std::string ranged = ok({"get", "pods", "-o", R"(jsonpath={range .items[*]}{.metadata.name}={.status.phase}{"\n"}{end})"});
    for (const std::string &l : lines_of(ranged)) EXPECT_TRUE(names.count(l.substr(0, l.find('='))) && l.ends_with("=Running")) << l;
    EXPECT_EQ(lines_of(ranged).size(), 2u);
    std::string one = *names.begin();
    EXPECT_EQ(ok({"get", "pod", one, "-o", "jsonpath={.metadata.name}"}), one);  // one object: no List

    // custom-columns: the header as given, <none> for a missing field.
    std::vector<std::string> cc = lines_of(ok({"get", "pods", "-o", "custom-columns=NAME:.metadata.name,PHASE:.status.phase,NOPE:.spec.nope"}));
    ASSERT_EQ(cc.size(), 3u);
    EXPECT_EQ(words(cc[0]), (std::vector<std::string>{"NAME", "PHASE", "NOPE"}));
    for (size_t i = 1; i < cc.size(); ++i) {
        std::vector<std::string> w = words(cc[i]);
        ASSERT_EQ(w.size(), 3u) << cc[i];
        EXPECT_TRUE(names.count(w[0])) << cc[i];
        EXPECT_EQ(w[1], "Running");
        EXPECT_EQ(w[2], "<none>");
    }

    // Several kinds: one table per kind, kind/name prefixes, a blank line between.
    std::vector<std::string> multi = lines_of(ok({"get", "pods,deployments"}));
    ASSERT_EQ(multi.size(), 6u) << ok({"get", "pods,deployments"});
    EXPECT_EQ(words(multi[0])[0], "NAME");
    EXPECT_EQ(words(multi[0])[2], "STATUS");
    EXPECT_TRUE(names.count(words(multi[1])[0].substr(4))) << multi[1];
    EXPECT_TRUE(multi[1].starts_with("pod/")) << multi[1];
    EXPECT_EQ(multi[3], "");
    EXPECT_EQ(words(multi[4])[2], "UP-TO-DATE");
    EXPECT_TRUE(multi[5].starts_with("deployment.apps/steady ")) << multi[5];
    EXPECT_EQ(lines_of(ok({"get", "all"})), multi);
    EXPECT_EQ(lines_of(ok({"get", "all", "-o", "name"})).size(), 3u);
    // KIND/NAME arguments: listed in the order given.
    EXPECT_EQ(ok({"get", "deploy/steady", "pod/" + one, "-o", "name"}), "deployment.apps/steady\npod/" + one + "\n");

    // Wrong formats are refused with kubectl's words.
    RunResult bad = c().herd({"get", "pods", "-o", "jsonpath={.items[*"});
    EXPECT_EQ(bad.status, 1);
    EXPECT_NE(bad.err.find("jsonpath"), std::string::npos) << bad.err;
    bad = c().herd({"get", "pods", "-o", "custom-columns=NAME"});
    EXPECT_EQ(bad.status, 1);
    EXPECT_NE(bad.err.find("expected <header>:<json-path-expr>"), std::string::npos) << bad.err;
}

TEST_F(HerdKubectl, WatchPrintsALinePerChange) {
    ok({"apply", "-f", manifest("steady-deployment.yaml")});
    ok({"rollout", "status", "deployment/steady", "--timeout", "120s"});
    Background watch(herd_argv({"get", "pods", "-w"}));
    // The table first: a header and the two pods.
    ASSERT_TRUE(watch.read_until([](const std::string &s) { return lines_of(s).size() >= 3; }, 60s)) << watch.out();
    std::vector<std::string> first = lines_of(watch.out());
    EXPECT_EQ(words(first[0]), (std::vector<std::string>{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}));
    std::set<std::string> before = {words(first[1])[0], words(first[2])[0]};

    // A third replica: it appears as rows without a header, until Running 1/1.
    ok({"scale", "deployment", "steady", "--replicas", "3"});
    std::string added;
    ASSERT_TRUE(watch.read_until(
        [&](const std::string &s) {
            for (const std::string &l : lines_of(s)) {
                std::vector<std::string> w = words(l);
                if (w.size() >= 3 && !before.count(w[0]) && w[0] != "NAME" && w[1] == "1/1" && w[2] == "Running") {
                    added = w[0];
                    return true;
                }
            }
            return false;
        },
        120s))
        << watch.out();
    size_t headers = 0;
    for (const std::string &l : lines_of(watch.out())) headers += l.starts_with("NAME ");
    EXPECT_EQ(headers, 1u) << watch.out();
    // Unchanged pods are not printed again, however long the watch runs.
    std::vector<std::string> all = lines_of(watch.out());
    for (size_t i = 3; i < all.size(); ++i) EXPECT_EQ(before.count(words(all[i])[0]), 0u) << watch.out();
    EXPECT_EQ(watch.stop(SIGINT), 128 + SIGINT);
}

TEST_F(HerdKubectl, PortForwardRelaysBytesBothWays) {
    // busybox nc as an echo server on 8080, in the pod's own network namespace.
    std::string path = c().dir() + "/echo.yaml";
    {
        std::ofstream f(path);
        f << "apiVersion: v1\nkind: Pod\nmetadata:\n  name: echo\nspec:\n  terminationGracePeriodSeconds: 1\n"
             "  containers:\n    - name: echo\n      image: busybox:v1\n"
             "      command: [\"/bin/nc\", \"-ll\", \"-p\", \"8080\", \"-e\", \"/bin/cat\"]\n";
    }
    ok({"apply", "-f", path});
    ok({"wait", "--for=condition=Ready", "pod/echo", "--timeout", "120s"});
    json pod = c().pod("echo");
    ASSERT_TRUE(pod.is_object());
    ASSERT_FALSE(pod["status"].value("podIP", "").empty()) << pod.dump(2);

    Background pf(herd_argv({"port-forward", "echo", ":8080"}));
    std::smatch m;
    std::regex re(R"(Forwarding from 127\.0\.0\.1:([0-9]+) -> 8080\n)");
    ASSERT_TRUE(pf.read_until([&](const std::string &s) { return std::regex_search(s, m, re); }, 60s)) << pf.out();
    int port = std::stoi(m[1].str());
    ASSERT_GT(port, 0);

    // Two connections at once, each a round trip of 256 KiB (more than the
    // relay's buffers), ended by our half-close: the echo comes back whole.
    auto round_trip = [&](char fill) -> std::string {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
            ::close(fd);
            return "connect failed";
        }
        std::string payload(256 * 1024, fill);
        payload += "\nend\n";
        std::thread writer([&] {
            size_t off = 0;
            while (off < payload.size()) {
                ssize_t n = ::send(fd, payload.data() + off, payload.size() - off, MSG_NOSIGNAL);
                if (n <= 0) break;
                off += static_cast<size_t>(n);
            }
            ::shutdown(fd, SHUT_WR);
        });
        std::string back;
        char buf[65536];
        pollfd pfd{fd, POLLIN, 0};
        while (::poll(&pfd, 1, 60000) > 0) {
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n <= 0) break;
            back.append(buf, static_cast<size_t>(n));
        }
        writer.join();
        ::close(fd);
        return back == payload ? "ok" : "got " + std::to_string(back.size()) + " of " + std::to_string(payload.size()) + " bytes";
    };
    std::string r2;
    std::thread second([&] { r2 = round_trip('b'); });
    EXPECT_EQ(round_trip('a'), "ok");
    second.join();
    EXPECT_EQ(r2, "ok");
    EXPECT_TRUE(pf.read_until([&](const std::string &s) { return s.find("Handling connection for " + std::to_string(port)) != std::string::npos; }, 10s))
        << pf.out();

    // SIGINT ends it and the port is closed.
    EXPECT_EQ(pf.stop(SIGINT), 0);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_NE(::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
    ::close(fd);

    // Bad input: a pod that is not there, a bad port.
    RunResult r = c().herd({"port-forward", "nope", "8080"});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("pods \"nope\" not found"), std::string::npos) << r.err;
    r = c().herd({"port-forward", "echo", "80x"});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("invalid port \"80x\""), std::string::npos) << r.err;
}


TEST_F(HerdKubectl, ContainersThatNeverStartedGetKubectlsWords) {
    // An image the store does not have: the container waits (CreateContainerError).
    std::string path = c().dir() + "/never.yaml";
    {
        std::ofstream f(path);
        f << "apiVersion: v1\nkind: Pod\nmetadata:\n  name: never\nspec:\n  hostNetwork: true\n"
             "  containers:\n    - name: main\n      image: busybox:nope\n      command: [\"/bin/true\"]\n";
    }
    ok({"apply", "-f", path});
    ASSERT_TRUE(wait_until(
        [&] {
            json p = c().pod("never");
            return p.is_object() && p["status"]["containerStatuses"].is_array() &&
                   !p["status"]["containerStatuses"].empty() &&
                   p["status"]["containerStatuses"][0]["state"].contains("waiting") &&
                   p["status"]["containerStatuses"][0]["state"]["waiting"].value("reason", "") != "ContainerCreating";
        },
        60s))
        << c().pod("never").dump(2);
    RunResult logs = c().herd({"logs", "never"});
    EXPECT_EQ(logs.status, 1) << logs.text();
    EXPECT_NE(logs.err.find("container \"main\" in pod \"never\" is waiting to start: "), std::string::npos)
        << logs.err;
    EXPECT_EQ(logs.out, "");
    RunResult exec = c().herd({"exec", "never", "--", "/bin/true"});
    EXPECT_EQ(exec.status, 1) << exec.text();
    EXPECT_NE(exec.err.find("container \"main\" in pod \"never\" is waiting to start: "), std::string::npos) << exec.err;
    EXPECT_EQ(exec.err.find("level="), std::string::npos) << "corral's raw log line: " << exec.err;

    // A misspelt required field is the unknown field it is.
    std::string typo = c().dir() + "/typo.yaml";
    {
        std::ofstream f(typo);
        f << "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  contianers:\n"
             "    - name: main\n      image: busybox:v1\n";
    }
    RunResult bad = c().herd({"apply", "-f", typo});
    EXPECT_EQ(bad.status, 1) << bad.text();
    EXPECT_NE(bad.err.find("typo.yaml:6: document 1 (Pod p): unknown field \"spec.contianers\""), std::string::npos)
        << bad.err;
    EXPECT_EQ(bad.err.find("required"), std::string::npos) << bad.err;
}

} // namespace
} // namespace herd_e2e
