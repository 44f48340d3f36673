// tests/herd/herd_test_util.hpp — helpers shared by the herd tests
// (header-only: CMake compiles only tests/herd/*_test.cpp).
//
//   TempDir                 a directory under /tmp, removed (not across mounts) at the end
//   import_fixture_image    the fixture layout into a private image store, as "fixture:1"
//   unique_cgroup_root      /corral-test/herd-<random>, and remove_cgroup_root for teardown
//   become_subreaper        container inits started through corral become our children
//   wait_exit / reap_all    waitpid with a deadline; reap whatever zombies were re-parented to us
#pragma once

#include "common/fs.hpp"
#include "herd/run_program.hpp"
#include "support/cgroup_parent.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <dirent.h>
#include <functional>
#include <random>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace herd_test {

inline std::string random_suffix(size_t n = 8) {
    static const char hex[] = "0123456789abcdef";
    std::random_device rd;
    std::string s;
    for (size_t i = 0; i < n; ++i) s += hex[rd() % 16];
    return s;
}

class TempDir {
public:
    explicit TempDir(const std::string &prefix = "herd-test") {
        std::string tmpl = "/tmp/" + prefix + ".XXXXXX";
        if (!mkdtemp(tmpl.data())) std::abort();
        path_ = tmpl;
    }
    ~TempDir() { (void)corral::remove_tree(path_); }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }
    std::string operator/(const std::string &rel) const { return path_ + "/" + rel; }

private:
    std::string path_;
};

// Runs a program to completion; its stdout, or "" with *err set.
inline std::string run(const std::vector<std::string> &argv, std::string *err = nullptr, int *exit_code = nullptr) {
    corral::herd::ProgramRun r;
    r.argv = argv;
    auto res = corral::herd::run_program(r);
    if (!res) {
        if (err) *err = res.error().message();
        if (exit_code) *exit_code = -1;
        return "";
    }
    if (exit_code) *exit_code = res->exit_code;
    if (err) *err = res->err;
    return res->out;
}

// Imports CORRAL_FIXTURES/layout into STORE under NAME ("" on success, else the error).
inline std::string import_fixture_image(const std::string &corral_bin, const std::string &fixtures,
                                        const std::string &store, const std::string &name = "fixture:1") {
    std::string err;
    int code = 0;
    run({corral_bin, "image", "import", "--store", store, "-q", "--name", name, fixtures + "/layout"}, &err, &code);
    return code == 0 ? "" : (err.empty() ? "import failed" : err);
}

inline std::string unique_cgroup_root() { return "/corral-test/herd-" + random_suffix(); }

// At the end of the run, the shared parent /corral-test goes too, if no
// test (of any binary) still uses it.
class CgroupParentCleanup : public ::testing::Environment {
public:
    void TearDown() override { corral_test::remove_cgroup_parent(); }
};
inline ::testing::Environment *const g_cgroup_parent_cleanup = ::testing::AddGlobalTestEnvironment(new CgroupParentCleanup);

// Removes ROOT (absolute, under /corral-test) from every cgroup hierarchy,
// children first. Only ever our own test paths.
inline void remove_cgroup_root(const std::string &root) {
    if (root.rfind("/corral-test/", 0) != 0) return;
    std::vector<std::string> hierarchies;
    if (corral::path_exists("/sys/fs/cgroup/cgroup.controllers")) hierarchies.push_back("/sys/fs/cgroup");
    else if (DIR *d = opendir("/sys/fs/cgroup")) {
        while (dirent *e = readdir(d))
            if (e->d_type == DT_DIR && e->d_name[0] != '.') hierarchies.push_back(std::string("/sys/fs/cgroup/") + e->d_name);
        closedir(d);
    }
    std::function<void(const std::string &)> rm = [&](const std::string &dir) {
        if (DIR *d = opendir(dir.c_str())) {
            std::vector<std::string> kids;
            while (dirent *e = readdir(d))
                if (e->d_type == DT_DIR && e->d_name[0] != '.') kids.push_back(dir + "/" + e->d_name);
            closedir(d);
            for (auto &k : kids) rm(k);
        }
        for (int i = 0; i < 100 && rmdir(dir.c_str()) < 0 && errno == EBUSY; ++i) usleep(10000);
    };
    for (auto &h : hierarchies) rm(h + root);
}

inline bool cgroup_root_exists_anywhere(const std::string &root) {
    if (DIR *d = opendir("/sys/fs/cgroup")) {
        bool found = corral::path_exists("/sys/fs/cgroup" + root);
        while (dirent *e = readdir(d))
            if (e->d_type == DT_DIR && e->d_name[0] != '.' &&
                corral::path_exists(std::string("/sys/fs/cgroup/") + e->d_name + root))
                found = true;
        closedir(d);
        return found;
    }
    return false;
}

inline void become_subreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1); }

// The exit status (as waitpid's) of child PID, or -1 after the timeout.
inline int wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0) return -1;
        if (std::chrono::steady_clock::now() >= deadline) return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

inline void reap_all() {
    while (waitpid(-1, nullptr, WNOHANG) > 0) {}
}

inline bool process_alive(pid_t pid) {
    // A zombie child of ours is not alive: reap first.
    int status;
    waitpid(pid, &status, WNOHANG);
    return kill(pid, 0) == 0;
}

inline std::string ns_link(pid_t pid, const std::string &ns) {
    char buf[128];
    std::string path = "/proc/" + std::to_string(pid) + "/ns/" + ns;
    ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

} // namespace herd_test
