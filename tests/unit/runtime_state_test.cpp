// State store: id rules, create/open/lock, atomic writes, JSON round trip,
// live status (dead pid, pid reuse, zombie, created, paused).
#include "common/fs.hpp"
#include "runtime/state.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace corral;

namespace {

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/corral-state-test-XXXXXX";
        path_ = ::mkdtemp(tmpl);
    }
    ~TempDir() { (void)remove_tree(path_); }
    const std::string &path() const { return path_; }

private:
    std::string path_;
};

StateRecord sample_record(const std::string &id) {
    StateRecord rec;
    rec.oci.oci_version = "1.2.0";
    rec.oci.id = id;
    rec.oci.status = ContainerStatus::created;
    rec.oci.pid = ::getpid();
    rec.oci.bundle = "/srv/bundle";
    rec.oci.rootfs = "/srv/bundle/rootfs";
    rec.oci.created = "2024-05-01T10:00:00.5Z";
    rec.oci.annotations = {{"a", "1"}, {"b<&>", "x\"y"}};
    rec.init_start_time = process_start_time(::getpid());
    rec.cgroup_mode = cgroups::Mode::v1;
    rec.cgroups_path = "/corral/c1";
    rec.cgroup_paths = {{"memory", "/sys/fs/cgroup/memory/corral/c1"}, {"freezer", "/sys/fs/cgroup/freezer/corral/c1"}};
    rec.namespace_paths = {{"pid", "/proc/1/ns/pid"}};
    rec.created_by_run = true;
    return rec;
}

} // namespace

TEST(ContainerId, FollowsRuncRule) {
    for (const char *ok_id : {"a", "web-1", "x_y.z+1", "ABC", "...", "a..b", "0"})
        EXPECT_TRUE(validate_container_id(ok_id)) << ok_id;
    for (const char *bad : {"", ".", "..", "a/b", "/a", "a b", "é", "a\n", "a:b", "a*"}) {
        auto st = validate_container_id(bad);
        ASSERT_FALSE(st) << bad;
        EXPECT_EQ(st.error().message(), std::string("invalid container ID format: ") + bad);
    }
}

TEST(StateDir, CreateThenOpenAndRemove) {
    TempDir tmp;
    std::string root = tmp.path() + "/root"; // created on demand
    {
        auto d = StateDir::create(root, "c1");
        ASSERT_TRUE(d) << d.error().message();
        EXPECT_EQ(d->path(), root + "/c1");
        ASSERT_TRUE(d->write(sample_record("c1")));
        struct stat st {};
        ASSERT_EQ(::stat(root.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0700u);
    }
    auto again = StateDir::create(root, "c1");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().message(), "container with given ID already exists: c1");

    auto d = StateDir::open(root, "c1");
    ASSERT_TRUE(d) << d.error().message();
    auto rec = d->read();
    ASSERT_TRUE(rec) << rec.error().message();
    EXPECT_EQ(rec->oci.id, "c1");
    ASSERT_TRUE(d->remove());
    EXPECT_FALSE(path_exists(root + "/c1"));

    auto gone = StateDir::open(root, "c1");
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().message(), "container does not exist");
    auto bad = StateDir::open(root, "../etc");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(), "invalid container ID format: ../etc");
}

TEST(StateDir, DirectoryWithoutStateDoesNotExist) {
    TempDir tmp;
    ASSERT_EQ(::mkdir((tmp.path() + "/half").c_str(), 0711), 0);
    auto d = StateDir::open(tmp.path(), "half");
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().message(), "container does not exist");
    auto ids = list_container_ids(tmp.path());
    ASSERT_TRUE(ids);
    EXPECT_TRUE(ids->empty());
}

TEST(StateDir, WriteIsAtomicAndLeavesNoTemporary) {
    TempDir tmp;
    auto d = StateDir::create(tmp.path(), "c1");
    ASSERT_TRUE(d);
    auto rec = sample_record("c1");
    ASSERT_TRUE(d->write(rec));
    rec.oci.status = ContainerStatus::running;
    ASSERT_TRUE(d->write(rec));
    EXPECT_FALSE(path_exists(d->path() + "/state.json.tmp"));
    struct stat st {};
    ASSERT_EQ(::stat((d->path() + "/state.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    // A reader racing with writers only ever sees a whole record.
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        StateRecord r = rec;
        for (int i = 0; !stop; ++i) {
            r.oci.bundle = std::string(static_cast<size_t>(1000 + i % 3000), 'b');
            (void)d->write(r);
        }
    });
    for (int i = 0; i < 300; ++i) {
        auto r = read_state_unlocked(tmp.path(), "c1");
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(r->oci.id, "c1");
    }
    stop = true;
    writer.join();
}

// Try the container's lock from a fresh process without waiting: 0 = got it.
int try_lock_in_child(const std::string &dir) {
    pid_t child = ::fork();
    if (child == 0) {
        int fd = ::open((dir + "/lock").c_str(), O_RDWR);
        struct flock l {};
        l.l_type = F_WRLCK;
        l.l_whence = SEEK_SET;
        _exit(fd >= 0 && ::fcntl(fd, F_SETLK, &l) == 0 ? 0 : 1);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(StateDir, LockExcludesAnotherProcess) {
    TempDir tmp;
    auto d = StateDir::create(tmp.path(), "c1");
    ASSERT_TRUE(d);
    ASSERT_TRUE(d->write(sample_record("c1")));

    // Another process cannot take the lock while we hold it...
    EXPECT_EQ(try_lock_in_child(d->path()), 1);

    // ...and open() waits until we let go, then sees what we did (removed it).
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        auto o = StateDir::open(tmp.path(), "c1");
        _exit(!o && o.error().message() == "container does not exist" ? 0 : 1);
    }
    int status = 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_EQ(::waitpid(child, &status, WNOHANG), 0) << "open() did not wait for the lock";
    ASSERT_TRUE(d->remove());
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(StateDir, OpenWaitsThenSeesTheNewState) {
    TempDir tmp;
    {
        auto d = StateDir::create(tmp.path(), "c1");
        ASSERT_TRUE(d);
        ASSERT_TRUE(d->write(sample_record("c1")));
    }
    auto d = StateDir::open(tmp.path(), "c1");
    ASSERT_TRUE(d);
    pid_t child = ::fork();
    if (child == 0) {
        auto o = StateDir::open(tmp.path(), "c1");
        if (!o) _exit(2);
        auto r = o->read();
        _exit(r && r->oci.status == ContainerStatus::stopped ? 0 : 1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto rec = sample_record("c1");
    rec.oci.status = ContainerStatus::stopped;
    ASSERT_TRUE(d->write(rec));
    d = Error("release"); // drop the StateDir: unlock
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << WEXITSTATUS(status);
}

TEST(StateDir, ForkedChildDoesNotKeepTheLock) {
    // The container's init is forked while create holds the lock and lives
    // on without exec'ing: it must not keep the lock, or `start` waits forever.
    TempDir tmp;
    auto d = StateDir::create(tmp.path(), "c1");
    ASSERT_TRUE(d);
    ASSERT_TRUE(d->write(sample_record("c1")));
    int go[2];
    ASSERT_EQ(::pipe(go), 0);
    pid_t init = ::fork();
    if (init == 0) {
        ::close(go[1]);
        char c;
        (void)!::read(go[0], &c, 1); // holds copies of every other fd until told to go
        _exit(0);
    }
    std::string path = d->path();
    d = Error("release");
    EXPECT_EQ(try_lock_in_child(path), 0) << "the forked child still holds the lock";
    ::close(go[1]);
    int status;
    ::waitpid(init, &status, 0);
    ::close(go[0]);
}

TEST(StateDir, CreateNeverShowsAnUnlockedDirectory) {
    TempDir tmp;
    auto d = StateDir::create(tmp.path(), "c1");
    ASSERT_TRUE(d);
    EXPECT_TRUE(path_exists(d->path() + "/lock"));
    // Nothing but the published directory is left in the root.
    auto names = list_container_ids(tmp.path());
    ASSERT_TRUE(names);
    int entries = 0;
    for (DIR *dir = ::opendir(tmp.path().c_str()); dir;) {
        dirent *e = ::readdir(dir);
        if (!e) {
            ::closedir(dir);
            break;
        }
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++entries;
    }
    EXPECT_EQ(entries, 1);
}

TEST(StateDir, StaleDirectoryIsRemovedOnlyWithoutState) {
    TempDir tmp;
    ASSERT_EQ(::mkdir((tmp.path() + "/half").c_str(), 0711), 0);
    remove_stale_state_dir(tmp.path(), "half");
    EXPECT_FALSE(path_exists(tmp.path() + "/half"));
    {
        auto d = StateDir::create(tmp.path(), "full");
        ASSERT_TRUE(d);
        ASSERT_TRUE(d->write(sample_record("full")));
    }
    remove_stale_state_dir(tmp.path(), "full");
    EXPECT_TRUE(path_exists(tmp.path() + "/full/state.json"));
    {
        auto d = StateDir::create(tmp.path(), "nostate"); // a create killed before writing state.json
        ASSERT_TRUE(d);
    }
    remove_stale_state_dir(tmp.path(), "nostate");
    EXPECT_FALSE(path_exists(tmp.path() + "/nostate"));
}

TEST(StateJson, RoundTrips) {
    auto rec = sample_record("c1");
    std::string text = state_record_to_json(rec);
    auto back = state_record_from_json(text, "state.json");
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->oci.id, rec.oci.id);
    EXPECT_EQ(back->oci.status, rec.oci.status);
    EXPECT_EQ(back->oci.pid, rec.oci.pid);
    EXPECT_EQ(back->oci.bundle, rec.oci.bundle);
    EXPECT_EQ(back->oci.rootfs, rec.oci.rootfs);
    EXPECT_EQ(back->oci.created, rec.oci.created);
    EXPECT_EQ(back->oci.annotations, rec.oci.annotations);
    EXPECT_EQ(back->init_start_time, rec.init_start_time);
    EXPECT_EQ(back->cgroup_mode, rec.cgroup_mode);
    EXPECT_EQ(back->cgroups_path, rec.cgroups_path);
    EXPECT_EQ(back->cgroup_paths, rec.cgroup_paths);
    EXPECT_EQ(back->namespace_paths, rec.namespace_paths);
    EXPECT_TRUE(back->created_by_run);
}

TEST(StateJson, BadInputIsAnErrorNotAnException) {
    for (const char *bad : {"", "{", "[]", "{\"id\":5}", "{\"id\":\"x\",\"status\":\"dancing\"}", "{\"pid\":1}"}) {
        auto r = state_record_from_json(bad, "/run/x/state.json");
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().message().rfind("/run/x/state.json", 0), 0u) << r.error().message();
    }
}

TEST(ProcessStartTime, MatchesProcAndIsZeroWhenGone) {
    EXPECT_GT(process_start_time(::getpid()), 0u);
    pid_t child = ::fork();
    if (child == 0) _exit(0);
    int st;
    ::waitpid(child, &st, 0);
    EXPECT_EQ(process_start_time(child), 0u);
}

TEST(LiveStatus, StoppedForDeadPidReusedPidAndZombie) {
    TempDir tmp;
    auto d = StateDir::create(tmp.path(), "c1");
    ASSERT_TRUE(d);
    auto rec = sample_record("c1");
    rec.cgroup_paths.clear();
    EXPECT_EQ(live_status(*d, rec), ContainerStatus::running);

    // The recorded start time does not match: the pid now names another process.
    rec.init_start_time += 1;
    EXPECT_EQ(live_status(*d, rec), ContainerStatus::stopped);

    // A pid that is gone.
    pid_t child = ::fork();
    if (child == 0) _exit(0);
    int st;
    ::waitpid(child, &st, 0);
    rec.oci.pid = child;
    rec.init_start_time = 0;
    EXPECT_EQ(live_status(*d, rec), ContainerStatus::stopped);

    // A zombie: exited, not yet reaped.
    child = ::fork();
    if (child == 0) _exit(0);
    rec.oci.pid = child;
    for (int i = 0; i < 200; ++i) {
        if (live_status(*d, rec) == ContainerStatus::stopped) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(live_status(*d, rec), ContainerStatus::stopped);
    ::waitpid(child, &st, 0);

    rec.oci.pid = 0;
    EXPECT_EQ(live_status(*d, rec), ContainerStatus::stopped);
}

TEST(LiveStatus, CreatedWhileFifoExistsPausedWhenFrozen) {
    TempDir tmp;
    auto d = StateDir::create(tmp.path(), "c1");
    ASSERT_TRUE(d);
    auto rec = sample_record("c1");
    std::string freezer = tmp.path() + "/freezer";
    ASSERT_TRUE(mkdir_p(freezer));
    rec.cgroup_paths = {{"freezer", freezer}};
    ASSERT_TRUE(write_file_atomic(freezer + "/freezer.state", "THAWED\n"));

    ASSERT_EQ(::mkfifo((d->path() + "/exec.fifo").c_str(), 0622), 0);
    EXPECT_EQ(live_status(*d, rec), ContainerStatus::created);
    EXPECT_EQ(live_status(d->path(), rec), ContainerStatus::created);
    ASSERT_EQ(::unlink((d->path() + "/exec.fifo").c_str()), 0);
    EXPECT_EQ(live_status(*d, rec), ContainerStatus::running);

    ASSERT_TRUE(write_file_atomic(freezer + "/freezer.state", "FROZEN\n"));
    EXPECT_EQ(live_status(*d, rec), ContainerStatus::paused);

    // cgroup v2: cgroup.freeze under the unified path (key "").
    rec.cgroup_mode = cgroups::Mode::v2;
    rec.cgroup_paths = {{"", freezer}};
    ASSERT_TRUE(write_file_atomic(freezer + "/cgroup.freeze", "0\n"));
    EXPECT_EQ(live_status(*d, rec), ContainerStatus::running);
    ASSERT_TRUE(write_file_atomic(freezer + "/cgroup.freeze", "1\n"));
    EXPECT_EQ(live_status(*d, rec), ContainerStatus::paused);
}

TEST(ListContainerIds, SortedDirectoriesWithState) {
    TempDir tmp;
    for (const char *id : {"zeta", "alpha", "mid"}) {
        auto d = StateDir::create(tmp.path(), id);
        ASSERT_TRUE(d);
        ASSERT_TRUE(d->write(sample_record(id)));
    }
    ASSERT_TRUE(write_file_atomic(tmp.path() + "/stray-file", "x"));
    auto ids = list_container_ids(tmp.path());
    ASSERT_TRUE(ids);
    EXPECT_EQ(*ids, (std::vector<std::string>{"alpha", "mid", "zeta"}));
    auto none = list_container_ids(tmp.path() + "/missing");
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
}

TEST(Rfc3339Nano, TrimsTrailingZerosLikeGo) {
    EXPECT_EQ(format_rfc3339_nano({0, 0}), "1970-01-01T00:00:00Z");
    EXPECT_EQ(format_rfc3339_nano({1714557600, 500000000}), "2024-05-01T10:00:00.5Z");
    EXPECT_EQ(format_rfc3339_nano({1714557600, 123456789}), "2024-05-01T10:00:00.123456789Z");
    EXPECT_EQ(format_rfc3339_nano({1714557600, 1000}), "2024-05-01T10:00:00.000001Z");
}

TEST(GoJsonString, EscapesLikeEncodingJson) {
    auto q = [](std::string_view s) {
        std::string out;
        append_go_json_string(out, s);
        return out;
    };
    EXPECT_EQ(q("plain"), "\"plain\"");
    EXPECT_EQ(q("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(q("<&>"), "\"\\u003c\\u0026\\u003e\"");
    EXPECT_EQ(q("\n\t\r\b\x01"), "\"\\n\\t\\r\\u0008\\u0001\"");
    EXPECT_EQ(q("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
    EXPECT_EQ(q("\xe2\x80\xa8"), "\"\\u2028\"");
    EXPECT_EQ(q("bad\xff"), "\"bad\\ufffd\"");
}
