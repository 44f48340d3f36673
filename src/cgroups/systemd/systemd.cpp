// The systemd driver: a transient scope over D-Bus, the files through the
// v2/v1 backend (see systemd.hpp).
#include "cgroups/systemd/systemd.hpp"

#include "cgroups/systemd/bus.hpp"
#include "cgroups/systemd/properties.hpp"
#include "cgroups/systemd/unit_path.hpp"
#include "cgroups/systemd/units.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace corral::cgroups::systemd {

bool systemd_running() {
    // systemd creates this directory early at boot; nothing else does.
    struct stat st {};
    return ::lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

namespace {

// The seed: a process for the scope to be started with (see systemd.hpp).
// It dies with its parent.
Result<pid_t> spawn_seed() {
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) return Error::from_errno(errno, "fork a process to start the scope with");
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) _exit(0); // the parent died before prctl
        // Nothing of ours stays open in it: not a pipe a caller reads to EOF
        // on corral's stdout, not the state directory's lock.
        int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0)
            for (int fd = 0; fd <= 2; ++fd) ::dup2(null, fd);
        ::syscall(SYS_close_range, 3U, ~0U, 0U);
        ::prctl(PR_SET_NAME, "corral-scope");
        while (true) ::pause();
    }
    return pid;
}

class SystemdManager final : public Manager {
public:
    // OPENED: the manager of an existing container, whose unit it owns.
    SystemdManager(Mode mode, UnitPath unit, std::string container_id, std::unique_ptr<Manager> fs,
                   const Logger *logger, bool opened)
        : mode_(mode), unit_(std::move(unit)), id_(std::move(container_id)), fs_(std::move(fs)), logger_(logger),
          owns_unit_(opened) {}
    ~SystemdManager() override { release_seed(); }

    Mode mode() const override { return mode_; }

    Status create() override {
        if (!unit_.is_slice() && seed_ < 0) seed_ = CORRAL_TRY(spawn_seed());
        Bus &bus = *CORRAL_TRY(connected());
        auto props = unit_properties(unit_, "corral container " + id_, seed_, mode_);
        debug("start unit " + unit_.unit + " in " + unit_.slice + " over the " + bus.how());
        CORRAL_TRY(start_transient_unit(bus, unit_.unit, props, &owns_unit_));
        // v1: the hierarchies systemd does not manage (cpuset, freezer...)
        // are ours to make; v2: the controllers in the ancestors, as runc's
        // fs2 does after starting the unit. Existing directories are fine.
        return fs_->create();
    }

    Status add_process(pid_t pid) override { return fs_->add_process(pid); }

    Status apply(const spec::Resources &resources) override {
        // systemd first (it would write its values over ours later), then
        // the files, which hold everything, systemd's properties or not.
        auto props = CORRAL_TRY(resource_properties(mode_, resources));
        if (!props.empty()) {
            Bus &bus = *CORRAL_TRY(connected());
            CORRAL_TRY(set_unit_properties(bus, unit_.unit, props));
        }
        // The connection is not kept: create_container clones the init next,
        // and the init would hold the socket (close-on-exec) until `start`.
        bus_.reset();
        // On v1 systemd may remove the unit's directory in a hierarchy it
        // manages but no longer counts the unit in (it moves the processes up
        // first) when it applies new properties: make sure ours are there.
        if (mode_ == Mode::v1 && !props.empty()) CORRAL_TRY(fs_->create());
        return fs_->apply(resources);
    }

    Status destroy() override {
        release_seed();
        // A create that failed because the unit exists (another container's
        // scope of the same name) must leave that unit and its cgroups alone.
        if (!owns_unit_) return ok();
        Status first = ok();
        if (auto bus = connected(); !bus) {
            first = std::move(bus).error().context("stop unit `" + unit_.unit + "`");
        } else {
            debug("stop unit " + unit_.unit + " over the " + (*bus)->how());
            first = stop_unit(**bus, unit_.unit);
        }
        bus_.reset();
        // What systemd does not remove: v1 hierarchies it does not manage,
        // and anything left if systemd could not be asked.
        if (auto st = fs_->destroy(); !st && first) first = std::move(st);
        return first;
    }

    Status freeze() override { return fs_->freeze(); }
    Status thaw() override { return fs_->thaw(); }
    Result<std::vector<pid_t>> pids() const override { return fs_->pids(); }
    Result<Stats> stats() const override { return fs_->stats(); }
    Result<uint64_t> oom_kill_count() const override { return fs_->oom_kill_count(); }
    std::vector<std::pair<std::string, std::string>> paths() const override { return fs_->paths(); }

private:
    Result<Bus *> connected() {
        if (!bus_) bus_ = CORRAL_TRY(Bus::connect());
        return bus_.get();
    }

    void debug(const std::string &msg) const {
        if (logger_) logger_->debug(msg);
    }

    void release_seed() {
        if (seed_ <= 0) return;
        ::kill(seed_, SIGKILL);
        while (::waitpid(seed_, nullptr, 0) < 0 && errno == EINTR) {}
        seed_ = -1;
    }

    Mode mode_;
    UnitPath unit_;
    std::string id_;
    std::unique_ptr<Manager> fs_; // the v2 or v1 backend on the unit's cgroup
    std::unique_ptr<Bus> bus_;    // connected when needed
    pid_t seed_ = -1;
    const Logger *logger_; // may be null
    bool owns_unit_;       // opened, or a start job of ours was queued
};

} // namespace

Result<std::unique_ptr<Manager>> make_systemd_manager(Mode mode, const Options &options, bool open) {
    if (mode == Mode::disabled)
        return Error("the systemd cgroup driver (--systemd-cgroup): cgroups are disabled on this host");
    UnitPath unit = CORRAL_TRY(parse_unit_path(options.cgroups_path, options.container_id));
    Options fs = options;
    fs.systemd = false;
    fs.cgroups_path = unit.cgroup;
    if (!systemd_running()) {
        // Nothing of systemd's can exist for a container here: delete and
        // friends go on with the files alone; creating one cannot work.
        if (open) return open_manager(mode, fs);
        return Error("the systemd cgroup driver (--systemd-cgroup) needs systemd as init, and systemd is not "
                     "running on this host (no /run/systemd/system); use the cgroupfs driver (the default)");
    }
    if (!open && ::geteuid() != 0)
        return Error("the systemd cgroup driver (--systemd-cgroup) for a rootless container (a user's systemd "
                     "instance) is not supported yet; use the cgroupfs driver (the default)");
    auto inner = CORRAL_TRY(open ? open_manager(mode, fs) : make_manager(mode, fs));
    return std::unique_ptr<Manager>(new SystemdManager(mode, std::move(unit), options.container_id, std::move(inner), options.logger, open));
}

} // namespace corral::cgroups::systemd
