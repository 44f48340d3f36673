// events.cpp — `events`: stats every interval and OOM notifications until the
// container stops.
//
// One thread, one poll() over:
//   - a pidfd of the init: readable once it exits (the container stopped);
//   - an OOM notifier: v1 an eventfd registered through cgroup.event_control
//     on memory.oom_control (it also fires when the cgroup is removed); v2
//     inotify on memory.events (IN_MODIFY; IN_IGNORED once it is removed);
//   - the time of the next stats event.
// The OOM *kill counter* (memory.oom_control / memory.events `oom_kill`) decides
// what to report, one "oom" event per kill: the v1 notification comes just
// before the kill is counted, so after one we re-read the counter for a moment;
// if no kill appears but the cgroup is under OOM (oom killer disabled), that is
// reported once too. The counter is also read every second, so a host where
// neither notifier can be set up still gets its OOM events.
//
// runc differs in one point: it keeps printing stats of a stopped container
// until its cgroup is removed by `delete`; we stop when the container stops
// (after reporting an OOM kill that stopped it), or when its cgroup goes away.
#include "corral/container.hpp"

#include "common/fs.hpp"
#include "common/pidfd.hpp"
#include "runtime/resources.hpp"
#include "runtime/stats.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace corral {
namespace {

using Clock = std::chrono::steady_clock;

const std::string *path_of(const std::vector<std::pair<std::string, std::string>> &paths, std::string_view key) {
    for (const auto &[k, p] : paths)
        if (k == key) return &p;
    return nullptr;
}

// The init's pidfd, if it is still the process state.json names.
UniqueFd open_init_pidfd(const StateRecord &rec) {
    if (rec.oci.pid <= 0) return {};
    UniqueFd fd(sys_pidfd_open(rec.oci.pid));
    if (!fd) return {};
    unsigned long long start = process_start_time(rec.oci.pid);
    if (start == 0 || (rec.init_start_time != 0 && start != rec.init_start_time)) return {};
    return fd;
}

// A readable fd when the cgroup may have a new OOM event, and the memory
// cgroup directory it watches.
struct OomNotifier {
    UniqueFd fd;
    bool v1 = false;
    std::string dir;
};

OomNotifier open_oom_notifier(cgroups::Mode mode, const std::vector<std::pair<std::string, std::string>> &paths,
                              const Logger &log) {
    OomNotifier n;
    if (mode == cgroups::Mode::v1) {
        const std::string *dir = path_of(paths, "memory");
        if (!dir) return n;
        n.dir = *dir;
        UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        auto control = open_file(*dir + "/memory.oom_control", O_RDONLY);
        if (!efd || !control) {
            log.debug("events: no OOM notifier: " +
                      (control ? std::string("eventfd failed") : control.error().message()));
            return n;
        }
        std::string line = std::to_string(efd.get()) + " " + std::to_string(control->get());
        if (auto st = write_file(*dir + "/cgroup.event_control", line); !st) {
            log.debug("events: no OOM notifier: " + st.error().message());
            return n;
        }
        // The kernel keeps its own reference to memory.oom_control.
        n.fd = std::move(efd);
        n.v1 = true;
    } else if (mode == cgroups::Mode::v2) {
        const std::string *dir = path_of(paths, "");
        if (!dir && !paths.empty()) dir = &paths.front().second;
        if (!dir) return n;
        n.dir = *dir;
        UniqueFd ifd(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
        if (!ifd || ::inotify_add_watch(ifd.get(), (*dir + "/memory.events").c_str(), IN_MODIFY) < 0) {
            log.debug("events: no OOM notifier: " +
                      Error::from_errno(errno, "inotify", *dir + "/memory.events").message());
            return n;
        }
        n.fd = std::move(ifd);
    }
    return n;
}

// Drain the notifier. False once the watched cgroup is gone.
bool drain(const OomNotifier &n) {
    char buf[4096];
    while (::read(n.fd.get(), buf, sizeof buf) > 0) {
        if (n.v1) break; // an eventfd read returns the whole count at once
    }
    std::string file = n.dir + (n.v1 ? "/memory.oom_control" : "/memory.events");
    return ::access(file.c_str(), F_OK) == 0;
}

// memory.oom_control says the cgroup is under OOM right now (v1 only).
bool under_oom(const OomNotifier &n) {
    if (!n.v1) return false;
    auto text = read_file(n.dir + "/memory.oom_control");
    return text && text->find("under_oom 1") != std::string::npos;
}

} // namespace

Status events(const Context &ctx, const std::string &id, const EventsOptions &opts,
              const std::function<Status(const Event &)> &sink) {
    if (opts.interval.count() <= 0) return Error("duration interval must be greater than 0");
    StateRecord rec = CORRAL_TRY(read_state_unlocked(ctx.root, id));
    if (live_status(path_join(ctx.root, id), rec) == ContainerStatus::stopped) return not_running_for_events(id);
    if (rec.cgroup_mode == cgroups::Mode::disabled)
        return Error("no events: cgroups are disabled on this host");
    auto cg = CORRAL_TRY_CTX(open_container_cgroup(ctx, rec), "open cgroup");
    const auto paths = cg->paths();

    UniqueFd init = open_init_pidfd(rec);
    OomNotifier notifier = open_oom_notifier(rec.cgroup_mode, paths, ctx.log);
    auto kills_now = [&]() -> std::optional<uint64_t> {
        auto k = cg->oom_kill_count();
        if (!k) return std::nullopt;
        return *k;
    };
    uint64_t kills = kills_now().value_or(0);
    ctx.log.debug("events of `" + id + "`: every " + std::to_string(opts.interval.count()) + " ns; " +
                  std::to_string(kills) + " OOM kills so far; notifier: " + (notifier.fd ? "yes" : "polling"));

    auto emit = [&](Event e) { return sink(e); };
    auto report_kills = [&]() -> Status {
        auto k = kills_now();
        if (!k || *k <= kills) return ok();
        for (uint64_t n = *k - kills; n > 0; --n) CORRAL_TRY(emit(Event{"oom", id, std::nullopt}));
        kills = *k;
        return ok();
    };

    Clock::time_point next_stats = Clock::now() + opts.interval;
    // After a notification without a counted kill yet: when to look at
    // under_oom. kNotSettling otherwise.
    constexpr Clock::time_point kNotSettling = Clock::time_point::max();
    Clock::time_point settle_until = kNotSettling;
    for (;;) {
        auto now = Clock::now();
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_stats - now).count() + 1;
        wait = std::min<long long>(wait, settle_until != kNotSettling ? 10 : 1000);
        if (wait < 0) wait = 0;
        pollfd fds[2] = {{init.get(), POLLIN, 0}, {notifier.fd.get(), POLLIN, 0}};
        int r = ::poll(fds, 2, static_cast<int>(wait));
        if (r < 0 && errno != EINTR) return Error::from_errno(errno, "events: poll");
        bool init_gone = !init || (r > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)));
        bool notified = r > 0 && (fds[1].revents & POLLIN);

        if (notified) {
            if (!drain(notifier)) {
                CORRAL_TRY(report_kills());
                ctx.log.debug("events: the cgroup of `" + id + "` is gone");
                return ok();
            }
            if (notifier.v1 && settle_until == kNotSettling) settle_until = Clock::now() + std::chrono::milliseconds(100);
        }
        uint64_t before = kills;
        CORRAL_TRY(report_kills());
        if (kills != before) settle_until = kNotSettling;
        if (settle_until != kNotSettling && Clock::now() >= settle_until) {
            settle_until = kNotSettling;
            if (under_oom(notifier)) CORRAL_TRY(emit(Event{"oom", id, std::nullopt}));
        }
        if (init_gone) {
            ctx.log.debug("events: container `" + id + "` stopped");
            return ok();
        }
        if (Clock::now() >= next_stats) {
            // As Go's ticker: a slow round drops ticks instead of bunching them.
            while (next_stats <= Clock::now()) next_stats += opts.interval;
            CORRAL_TRY(emit(Event{"stats", id, collect_stats(rec.cgroup_mode, paths)}));
        }
    }
}

} // namespace corral
