// exec: a new process joins the running container (its namespaces, cgroup,
// hostname) with its own env, cwd and user; its exit status comes back; and
// ps lists what runs in the container.
#include "integration/resources.hpp"

#include <algorithm>
#include <sstream>

namespace corral_it {
namespace {

class ExecInContainer : public ResourceTest {};
class ResourcePs : public ResourceTest {};
// The table runs the host's ps(1), which the cgroup v2 VM lacks: a suite name
// outside the VM lane's filter.
class ProcessTable : public ResourceTest {};

TEST_F(ExecInContainer, JoinsTheInitsNamespacesHostnameAndCgroup) {
    Bundle &b = make_bundle();
    pid_t init = start_sleeper(b);
    ASSERT_GT(init, 0);

    Result rep = exec(b, {"/probe", "report"});
    ASSERT_EQ(rep.status, 0) << rep;
    json r = json::parse(rep.out, nullptr, false);
    ASSERT_TRUE(r.is_object()) << rep;
    EXPECT_NE(r["pid"], 1) << "exec'd process is not the init";
    EXPECT_GT(r["pid"].get<int>(), 1);
    EXPECT_EQ(r["hostname"], b.config["hostname"]);
    for (const char *ns : {"pid", "net", "ipc", "uts", "mnt", "cgroup"})
        EXPECT_EQ(r["namespaces"][ns], ns_of("/proc/" + std::to_string(init) + "/ns/" + ns)) << ns;

    Result cmdline = exec(b, {"/probe", "read", "/proc/1/cmdline"});
    ASSERT_EQ(cmdline.status, 0) << cmdline;
    EXPECT_EQ(cmdline.out, std::string("/probe\0sleep\0inf\0", 17)) << "pid 1 in the container is the init";

    pid_t extra = exec_sleeper(b);
    ASSERT_GT(extra, 0);
    EXPECT_EQ(read_file("/proc/" + std::to_string(extra) + "/cgroup"),
              read_file("/proc/" + std::to_string(init) + "/cgroup"))
        << "the exec'd process is not in the init's cgroups";
    auto procs = processes_of(b.id);
    EXPECT_NE(std::find(procs.begin(), procs.end(), extra), procs.end());
}

TEST_F(ExecInContainer, EnvCwdAndUserApply) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_sleeper(b), 0);
    Result rep = exec(b, {"/probe", "report"}, {"--env", "FOO=bar", "--env", "TWO=2", "--cwd", "/bin", "--user", "1000:1000"});
    ASSERT_EQ(rep.status, 0) << rep;
    json r = json::parse(rep.out, nullptr, false);
    ASSERT_TRUE(r.is_object()) << rep;
    EXPECT_EQ(r["uid"], 1000);
    EXPECT_EQ(r["euid"], 1000);
    EXPECT_EQ(r["gid"], 1000);
    EXPECT_EQ(r["egid"], 1000);
    EXPECT_EQ(r["cwd"], "/bin");
    auto env = r["env"].get<std::vector<std::string>>();
    for (const char *want : {"FOO=bar", "TWO=2", "PATH=/bin:/usr/bin"})
        EXPECT_NE(std::find(env.begin(), env.end(), want), env.end()) << want << " missing: " << r["env"].dump();
}

TEST_F(ExecInContainer, ExitStatusAndStdioComeBack) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_sleeper(b), 0);
    Result seven = exec(b, {"/probe", "exit", "7"});
    EXPECT_EQ(seven.status, 7) << seven;
    Result zero = exec(b, {"/probe", "exit", "0"});
    EXPECT_EQ(zero.status, 0) << zero;
    RunOptions in;
    in.stdin_data = "through stdin\n";
    Result cat = exec(b, {"/probe", "cat"}, {}, in);
    EXPECT_EQ(cat.status, 0) << cat;
    EXPECT_EQ(cat.out, "through stdin\n") << cat;
    EXPECT_EQ(status_of(b), "running") << "the exec's exit ended the container";
}

TEST_F(ExecInContainer, ProcessJsonLikeContainerd) {
    // containerd: exec --process FILE --detach --pid-file FILE ID
    Bundle &b = make_bundle();
    pid_t init = start_sleeper(b);
    ASSERT_GT(init, 0);
    std::string dir = make_dir("process");
    json process = b.config["process"];
    process["args"] = {"/probe", "sleep", "inf"};
    process["env"] = {"PATH=/bin", "FROM_JSON=yes"};
    write_file(dir + "/process.json", process.dump());
    Result e = rt({"exec", "--process", dir + "/process.json", "--detach", "--pid-file", dir + "/pid", b.id});
    ASSERT_EQ(e.status, 0) << e;
    pid_t pid = std::atoi(read_file(dir + "/pid").c_str());
    ASSERT_GT(pid, 0) << "pid file: " << read_file(dir + "/pid");
    EXPECT_TRUE(process_alive(pid));
    std::string environ = read_file("/proc/" + std::to_string(pid) + "/environ");
    EXPECT_NE(environ.find("FROM_JSON=yes"), std::string::npos);
    EXPECT_EQ(ns_of("/proc/" + std::to_string(pid) + "/ns/pid"), ns_of("/proc/" + std::to_string(init) + "/ns/pid"));
}

TEST_F(ExecInContainer, DetachedTtyNeedsAConsoleSocket) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_sleeper(b), 0);
    Result r = exec(b, {"/probe", "tty"}, {"--detach", "--tty"});
    EXPECT_NE(r.status, 0) << r;
    // runc says "if runc will detach", corral "if corral will detach"
    EXPECT_NE(r.err.find("without setting console socket"), std::string::npos) << r;
    EXPECT_EQ(processes_of(b.id).size(), 1u) << "a process was started anyway";
}

TEST_F(ExecInContainer, TtyMasterArrivesOnTheConsoleSocket) {
    Bundle &b = make_bundle();
    ASSERT_GT(start_sleeper(b), 0);
    ConsoleSocket sock(scratch_ + "/exec-console.sock");
    ASSERT_TRUE(sock.ok()) << sock.path();
    auto e = rt_spawn({"exec", "--detach", "--tty", "--console-socket", sock.path(), b.id, "/probe", "tty"});
    int master = sock.accept_console(milliseconds(8000));
    Result r = e->wait();
    ASSERT_EQ(r.status, 0) << r;
    ASSERT_GE(master, 0) << "no fd received on the console socket";
    std::string out = ConsoleSocket::drain(master, milliseconds(5000));
    auto open = out.find('{');
    auto close = out.rfind('}');
    ASSERT_TRUE(open != std::string::npos && close != std::string::npos) << "terminal output: " << out;
    json t = json::parse(out.substr(open, close - open + 1), nullptr, false);
    ASSERT_TRUE(t.is_object()) << out;
    for (const char *stream : {"stdin", "stdout", "stderr"}) EXPECT_EQ(t[stream]["isatty"], true) << t.dump();
    EXPECT_EQ(t["controlling_tty"], true) << t.dump();
}

TEST_F(ExecInContainer, FailsInAStoppedContainer) {
    Bundle &b = make_bundle();
    b.set_args({"/probe", "exit", "0"});
    ASSERT_TRUE(create(b));
    ASSERT_EQ(rt({"start", b.id}).status, 0);
    ASSERT_TRUE(becomes(b, "stopped"));
    Result e = exec(b, {"/probe", "exit", "0"});
    EXPECT_NE(e.status, 0) << e;
    EXPECT_NE(e.err.find("cannot exec in a stopped container"), std::string::npos) << e;
}

TEST_F(ExecInContainer, RunsInACreatedContainerBeforeStart) {
    // runc lets exec join a created container whose init still waits for start.
    Bundle &b = make_bundle();
    b.set_args({"/probe", "sleep", "inf"});
    ASSERT_TRUE(create(b));
    Result e = exec(b, {"/probe", "exit", "3"});
    EXPECT_EQ(e.status, 3) << e;
    EXPECT_EQ(status_of(b), "created");
    Result s = rt({"start", b.id});
    EXPECT_EQ(s.status, 0) << s;
    EXPECT_TRUE(becomes(b, "running"));
}

// --- ps -------------------------------------------------------------------------

TEST_F(ResourcePs, JsonListsTheInitAndExecdProcesses) {
    Bundle &b = make_bundle();
    pid_t init = start_sleeper(b);
    ASSERT_GT(init, 0);
    Result only = rt({"ps", "--format", "json", b.id});
    ASSERT_EQ(only.status, 0) << only;
    EXPECT_EQ(json::parse(only.out, nullptr, false), json::array({init})) << only;

    pid_t a = exec_sleeper(b);
    pid_t c = exec_sleeper(b);
    ASSERT_GT(a, 0);
    ASSERT_GT(c, 0);
    Result r = rt({"ps", "--format", "json", b.id});
    ASSERT_EQ(r.status, 0) << r;
    json pids = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(pids.is_array()) << r;
    std::vector<pid_t> got = pids.get<std::vector<pid_t>>();
    std::sort(got.begin(), got.end());
    std::vector<pid_t> want = {init, a, c};
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << r;
}

TEST_F(ResourcePs, ShortFormatFlag) {
    Bundle &b = make_bundle();
    pid_t init = start_sleeper(b);
    ASSERT_GT(init, 0);
    Result r = rt({"ps", "-f", "json", b.id});
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_EQ(json::parse(r.out, nullptr, false), json::array({init})) << r;
}

TEST_F(ProcessTable, TableShowsTheInitAndASecondProcess) {
    Bundle &b = make_bundle();
    pid_t init = start_sleeper(b);
    ASSERT_GT(init, 0);
    pid_t extra = exec_sleeper(b);
    ASSERT_GT(extra, 0);
    Result r = rt({"ps", b.id});
    ASSERT_EQ(r.status, 0) << r;
    auto rows = lines(r.out);
    ASSERT_FALSE(rows.empty()) << r;
    // The header of ps -ef; PID is the second column.
    std::istringstream header(rows[0]);
    std::string uid, pid_col;
    header >> uid >> pid_col;
    EXPECT_EQ(pid_col, "PID") << rows[0];
    std::vector<pid_t> listed;
    for (size_t i = 1; i < rows.size(); ++i) {
        std::istringstream row(rows[i]);
        std::string user;
        pid_t pid = 0;
        if (row >> user >> pid) listed.push_back(pid);
    }
    std::sort(listed.begin(), listed.end());
    std::vector<pid_t> want = {init, extra};
    std::sort(want.begin(), want.end());
    EXPECT_EQ(listed, want) << r;
}

}  // namespace
}  // namespace corral_it
