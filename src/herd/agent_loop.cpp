// herd/agent_loop.cpp — the agent's poll loop (agent_internal.hpp): setup,
// the loop over signalfd, timerfd, the socket and its clients, adopted
// containers' pidfds and start workers' pipes; what is due at each turn;
// reaping children.
#include "herd/agent_internal.hpp"

#include "common/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

namespace corral::herd {

Status Agent::Impl::setup(int64_t now) {
    CORRAL_TRY(mkdir_p(cfg.runtime.state_dir, 0700));
    // Container inits outlive the `corral` that started them: as a child
    // subreaper we inherit them, and waitpid gives their exit status.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return Error::from_errno(errno, "prctl(PR_SET_CHILD_SUBREAPER)");

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    // Blocked for the signalfd; children reset their mask (probe.cpp, and
    // corral's container init resets every signal).
    if (::sigprocmask(SIG_BLOCK, &mask, nullptr) < 0) return Error::from_errno(errno, "sigprocmask");
    ::signal(SIGPIPE, SIG_IGN);
    signal_fd.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signal_fd) return Error::from_errno(errno, "signalfd");
    timer_fd.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (!timer_fd) return Error::from_errno(errno, "timerfd_create");

    listen_fd = CORRAL_TRY(listen_unix(cfg.socket_path, "agent"));

    if (cfg.stdio) {
        UniqueFd in(::fcntl(0, F_DUPFD_CLOEXEC, 3)), out(::fcntl(1, F_DUPFD_CLOEXEC, 3));
        if (!in || !out) return Error::from_errno(errno, "dup stdin/stdout");
        clients.push_back(Client{LineChannel(std::move(in), std::move(out), "stdio client", kMaxRequestLine), true});
    }
    next_rotate = now + kLogRotatePeriodMs;
    adopt_all();
    return ok();
}

void Agent::Impl::arm_timer(int64_t at) {
    itimerspec its{};
    if (at != kNever) {
        at = std::max<int64_t>(at, 1);
        its.it_value.tv_sec = at / 1000;
        its.it_value.tv_nsec = (at % 1000) * 1'000'000;
    }
    ::timerfd_settime(timer_fd.get(), TFD_TIMER_ABSTIME, &its, nullptr);
}

Status Agent::Impl::run() {
    while (!stop) {
        int64_t now = mono_ms();
        run_due(now);
        arm_timer(next_deadline());

        std::vector<pollfd> fds;
        fds.push_back({signal_fd.get(), POLLIN, 0});
        fds.push_back({timer_fd.get(), POLLIN, 0});
        fds.push_back({listen_fd.get(), POLLIN, 0});
        size_t first_client = fds.size();
        // Each client: its read fd, then its write fd (the same for a
        // socket) when output waits.
        for (auto &c : clients) {
            fds.push_back({c.ch.in_fd(), POLLIN, 0});
            fds.push_back({c.ch.out_fd(), short(c.ch.wants_write() ? POLLOUT : 0), 0});
        }
        // Adopted containers: their pidfd becomes readable when they exit.
        size_t first_pidfd = fds.size();
        std::vector<std::pair<std::string, size_t>> watched;
        for (auto &[uid, e] : pods)
            for (size_t i = 0; i < e.containers.size(); ++i)
                if (e.containers[i].pidfd) {
                    fds.push_back({e.containers[i].pidfd.get(), POLLIN, 0});
                    watched.emplace_back(uid, i);
                }
        // Start workers: their pipe carries the result, then EOF.
        size_t first_worker = fds.size();
        for (auto &w : workers) fds.push_back({w.out ? w.out.get() : -1, POLLIN, 0});
        // Exec sessions: the commands' output and stdin.
        size_t first_exec = fds.size();
        std::vector<std::pair<size_t, int>> exec_owners;
        add_exec_fds(fds, exec_owners);
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            return Error::from_errno(errno, "poll");
        }
        now = mono_ms();
        if (fds[0].revents & POLLIN) {
            signalfd_siginfo si;
            while (::read(signal_fd.get(), &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                    debug("signal " + std::to_string(si.ssi_signo) + ": stopping the agent, pods keep running");
                    stop = true;
                }
            }
            reap_children(now);  // SIGCHLD coalesces: always reap everything
        }
        if (fds[1].revents & POLLIN) {
            uint64_t ticks;
            (void)!::read(timer_fd.get(), &ticks, sizeof ticks);
        }
        for (size_t k = 0; k < watched.size(); ++k) {
            if (!(fds[first_pidfd + k].revents & (POLLIN | POLLHUP))) continue;
            auto it = pods.find(watched[k].first);
            if (it == pods.end()) continue;
            on_container_exit(it->second, watched[k].second, std::nullopt, now);
        }
        for (size_t k = 0; k < workers.size() && first_worker + k < fds.size(); ++k)
            if (fds[first_worker + k].revents & (POLLIN | POLLHUP | POLLERR)) read_worker(workers[k]);
        finish_workers(now);
        exec_events(fds.data() + first_exec, exec_owners);
        if (fds[2].revents & POLLIN) accept_clients();
        for (size_t k = 0; k < (first_pidfd - first_client) / 2; ++k) {
            short in_rev = fds[first_client + 2 * k].revents;
            short out_rev = fds[first_client + 2 * k + 1].revents;
            Client &c = clients[k];
            if (in_rev & (POLLIN | POLLHUP | POLLERR)) read_client(c);
            if (out_rev & POLLOUT) flush_client(c);
            if ((out_rev & POLLERR) && c.ch.out_fd() != c.ch.in_fd()) {
                c.closing = true;  // nobody reads our answers any more
                if (c.stdio) stop = true;
            }
        }
        clients.erase(std::remove_if(clients.begin(), clients.end(),
                                     [](const Client &c) { return c.closing && (!c.ch.wants_write() || c.stdio); }),
                      clients.end());
    }
    for (auto &c : clients) flush_client(c);
    for (auto &[uid, e] : pods) save(e);
    ::unlink(cfg.socket_path.c_str());
    return ok();
}

// --- reaping ---------------------------------------------------------------
void Agent::Impl::reap_children(int64_t now) {
    for (;;) {
        int st = 0;
        pid_t pid = ::waitpid(-1, &st, WNOHANG);
        if (pid <= 0) return;
        if (std::any_of(workers.begin(), workers.end(), [&](const StartWorker &w) { return w.pid == pid; })) {
            worker_reaped(pid, st);
            continue;
        }
        if (exec_reaped(pid, st)) continue;
        auto it = pids.find(pid);
        if (it == pids.end()) {
            // Perhaps a container whose start worker has not reported yet.
            unclaimed_exits.emplace_back(pid, st);
            if (unclaimed_exits.size() > 64) unclaimed_exits.pop_front();
            debug("reaped pid " + std::to_string(pid) + " (not claimed yet)");
            continue;
        }
        PidOwner owner = it->second;
        pids.erase(it);
        auto pe = pods.find(owner.uid);
        if (pe == pods.end() || owner.index >= pe->second.containers.size()) continue;
        PodEntry &e = pe->second;
        Supervised &s = e.containers[owner.index];
        if (owner.instance != s.instance) continue;  // a cancelled probe or an old instance
        if (!owner.probe) {
            if (s.pid == pid) on_container_exit(e, owner.index, st, now);
            continue;
        }
        ProbeRun &p = s.probe(*owner.probe);
        if (p.pid != pid) continue;
        p.pid = 0;
        p.deadline = kNever;
        bool success = !p.timed_out && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        std::string why = p.timed_out ? "timeout after " + std::to_string(probe_spec(e.rec.pod.spec.containers[owner.index], *owner.probe)->timeout_seconds) + "s"
                          : WIFEXITED(st) ? "exit status " + std::to_string(WEXITSTATUS(st))
                                          : "killed by signal " + std::to_string(WTERMSIG(st));
        probe_result(e, owner.index, *owner.probe, success, why, now);
    }
}

void Agent::Impl::run_due(int64_t now) {
    std::vector<std::string> finished;
    for (auto &[uid, e] : pods) {
        if (e.rec.deleting) {
            for (size_t i = 0; i < e.containers.size(); ++i) {
                auto &s = e.containers[i];
                if (s.pid > 0 && s.kill_at <= now) {
                    send_signal(s, SIGKILL);
                    s.kill_at = kNever;
                }
            }
            bool any_running = std::any_of(e.containers.begin(), e.containers.end(),
                                           [](const Supervised &s) { return s.pid > 0; });
            if (!any_running && !e.starting()) finished.push_back(uid);
            continue;
        }
        if (!e.infra_up) {
            if (!e.infra_starting && e.infra_retry_at <= now && workers.size() < kMaxStartWorkers)
                start_infra(e, now);
            continue;
        }
        for (size_t i = 0; i < e.containers.size(); ++i) {
            auto &s = e.containers[i];
            if (s.pid <= 0) {
                if (!s.done && !s.starting && s.restart_at <= now && workers.size() < kMaxStartWorkers)
                    start_container(e, i, now);
                continue;
            }
            if (s.stopping) {
                if (s.kill_at <= now) {
                    send_signal(s, SIGKILL);
                    s.kill_at = kNever;
                }
                continue;
            }
            for (auto k : {ProbeKind::startup, ProbeKind::liveness, ProbeKind::readiness}) {
                ProbeRun &p = s.probe(k);
                if (p.pid > 0) {
                    if (p.deadline <= now) {
                        ::kill(p.pid, SIGKILL);
                        p.timed_out = true;
                        p.deadline = kNever;
                    }
                } else if (p.next_at <= now && !s.stopping && s.pid > 0) {
                    run_probe(e, i, k, now);
                }
            }
        }
    }
    for (const auto &uid : finished) finish_delete(uid);
    if (now >= next_rotate) {
        for (auto &[uid, e] : pods)
            if (e.infra_up && !e.rec.deleting) runtime.rotate_logs_if_needed(e.rec.pod);
        next_rotate = now + kLogRotatePeriodMs;
    }
}

int64_t Agent::Impl::next_deadline() const {
    int64_t t = next_rotate;
    // With every start worker busy, a due start waits for one to finish
    // (its pipe wakes the loop), not for a timer that would spin.
    bool can_start = workers.size() < kMaxStartWorkers;
    for (const auto &[uid, e] : pods) {
        if (can_start && !e.infra_up && !e.infra_starting && !e.rec.deleting) t = std::min(t, e.infra_retry_at);
        for (const auto &s : e.containers) {
            if (s.pid <= 0) {
                if (can_start && !s.done && !s.starting && e.infra_up && !e.rec.deleting) t = std::min(t, s.restart_at);
                continue;
            }
            t = std::min(t, s.kill_at);
            for (const ProbeRun *p : {&s.startup, &s.liveness, &s.readiness})
                t = std::min(t, p->pid > 0 ? p->deadline : p->next_at);
        }
    }
    return t;
}

} // namespace corral::herd
