// Integration-test harness: runs the runtime binary (corral, or runc for a
// baseline) on real containers and reads back what the in-container `probe`
// saw. See rootfs-fixtures/README.md for the probe's commands and JSON.
//
// Every test derives from ContainerTest. It gets its own `--root` directory
// and scratch directory; every Bundle it makes gets a unique container id and
// the absolute cgroupsPath /corral-test/<id>. TearDown force-deletes those
// containers and removes everything the test made, also after a failure.
//
// The runtime under test is $CORRAL_TEST_RUNTIME if set (e.g. `runc`), else
// the corral built next to this test (CORRAL_BIN).
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <ostream>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace corral_it {

using json = nlohmann::json;
using std::chrono::milliseconds;

// --- where things are -------------------------------------------------------

std::string runtime();          // path or name of the runtime binary
bool runtime_is_runc();         // the baseline runtime, for runc-specific skips
std::string fixtures_dir();     // rootfs-fixtures/out
std::string fixture_rootfs();   // rootfs-fixtures/out/rootfs (never written to)
std::string skip_reason();      // why these tests cannot run here; "" if they can

// --- small host helpers -------------------------------------------------------

std::string read_file(const std::string &path);  // "" if unreadable
void write_file(const std::string &path, const std::string &text);
bool exists(const std::string &path);             // lstat succeeds
std::string ns_of(const std::string &proc_ns);    // readlink, e.g. "net:[4026531840]"
bool process_alive(pid_t pid);                    // exists and is not a zombie
std::vector<std::string> lines(const std::string &text);
// Wait until pred() holds, polling; false on timeout.
bool eventually(const std::function<bool()> &pred, milliseconds timeout = milliseconds(5000));

// Cgroup directories /sys/fs/cgroup/*/corral-test/<id> that exist.
std::vector<std::string> cgroup_dirs_of(const std::string &id);
// PIDs whose /proc/PID/cgroup mentions /corral-test/<id>.
std::vector<pid_t> processes_of(const std::string &id);
// Lines of /proc/self/mountinfo containing `needle`.
std::vector<std::string> mounts_mentioning(const std::string &needle);

// --- running a command --------------------------------------------------------

struct Result {
    int status = -1;  // exit code, or 128+N when killed by signal N
    std::string out;  // everything written to stdout (also by detached containers so far)
    std::string err;
    bool timed_out = false;
    std::string command;
    // For assertion messages: the command, status and both streams.
    std::string describe() const;
};
std::ostream &operator<<(std::ostream &os, const Result &r);

struct RunOptions {
    std::string stdin_data;            // fed through a file; empty = /dev/null
    milliseconds timeout{10000};       // then SIGKILL and a test failure
    std::vector<int> pass_fds;         // become fds 3, 4, ... in the child
};

// A started command. Its stdout and stderr go to files (not pipes), so a
// container that inherits them can never block the runtime or the test, and
// what it writes later can still be read with out().
class Process {
public:
    Process(const std::vector<std::string> &argv, const RunOptions &opts, const std::string &scratch);
    ~Process();  // SIGKILLs and reaps the command if it still runs
    Process(const Process &) = delete;
    Process &operator=(const Process &) = delete;

    pid_t pid() const { return pid_; }
    std::string out() const;
    std::string err() const;
    void signal(int sig) const;
    // Wait until stdout contains `needle` (false on timeout or exit without it).
    bool wait_for_output(const std::string &needle, milliseconds timeout = milliseconds(5000));
    bool running();
    // Wait for the exit; at the timeout SIGKILL it, mark timed_out and fail the test.
    Result wait(milliseconds timeout = milliseconds(10000));

private:
    bool reap(int flags);
    std::vector<std::string> argv_;
    std::string out_path_, err_path_;
    pid_t pid_ = -1;
    int pidfd_ = -1;
    int wait_status_ = 0;
    bool reaped_ = false;
};

// fork/exec, wait with a timeout.
Result run_command(const std::vector<std::string> &argv, const RunOptions &opts, const std::string &scratch);

// --- bundles ------------------------------------------------------------------

// A bundle directory with a copy of the fixture config.json. root.path is the
// absolute fixture rootfs (read-only and shared: tests write only to mounts
// they add); id is unique; linux.cgroupsPath = /corral-test/<id>.
class Bundle {
public:
    Bundle(std::string dir, std::string id);
    std::string id;
    std::string dir;
    json config;

    void write() const;  // config -> dir/config.json
    void set_args(const std::vector<std::string> &args);
    void add_mount(json mount);
    // A writable tmpfs at `dest` (must be an existing directory of the rootfs,
    // or lie inside an earlier tmpfs/bind mount).
    void add_tmpfs(const std::string &dest, std::vector<std::string> options = {});
    // Bind-mount the host directory `source` at `dest`.
    void add_bind(const std::string &source, const std::string &dest, bool readonly = false);
    void add_hook(const std::string &kind, json hook);
};

// Fixture base class: skips when the suite cannot run, owns the --root dir,
// a scratch dir and every bundle it hands out.
class ContainerTest : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;

    // A fresh bundle (unique id) with the fixture's config.
    Bundle &make_bundle();
    // A fresh host directory, removed in TearDown.
    std::string make_dir(const std::string &tag);

    // `RUNTIME --root ROOT args...`
    std::vector<std::string> rt_argv(const std::vector<std::string> &args) const;
    Result rt(const std::vector<std::string> &args, const RunOptions &opts = {});
    std::unique_ptr<Process> rt_spawn(const std::vector<std::string> &args, const RunOptions &opts = {});

    // `run --bundle B ID` in the foreground.
    Result run_bundle(Bundle &b, const RunOptions &opts = {});
    // Set process.args to /probe + args, run it, expect exit 0, parse stdout.
    // On failure records a test failure and returns null JSON.
    json probe(Bundle &b, const std::vector<std::string> &probe_args, const RunOptions &opts = {});
    // `create --bundle B ID` (args as set in the bundle), expect success.
    ::testing::AssertionResult create(Bundle &b, const std::vector<std::string> &extra = {});
    // `state ID` parsed; an empty object if it fails.
    json state(const std::string &id);
    // Create and start a container that sleeps forever; returns its init pid (0 on failure).
    pid_t start_sleeper(Bundle &b);

    std::string root_;     // --root of the runtime
    std::string scratch_;  // the test's own temp dir
    std::vector<std::unique_ptr<Bundle>> bundles_;
    std::vector<std::string> dirs_;
};

}  // namespace corral_it
