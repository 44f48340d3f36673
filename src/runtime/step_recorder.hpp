// step_recorder.hpp — the parent's side of the step timings (steps.hpp):
// its own steps, the init's StepLog, and what becomes of them at the end of
// a command: `--debug` lines (one per step, with side, step, start and
// duration fields; JSON with --log-format json) and, with `--trace FILE`, a
// Chrome trace-event file (Perfetto, chrome://tracing) with the parent and
// the init as two tracks and each step's syscall arguments.
//
// Off (no debug log, no trace file) it records nothing and costs nothing.
#pragma once

#include "corral/context.hpp"
#include "corral/error.hpp"
#include "runtime/plan.hpp"
#include "runtime/steps.hpp"

#include <string>
#include <sys/types.h>
#include <vector>

namespace corral {

class StepRecorder {
public:
    // `command`: "run", "create", "start", "exec" (the trace's process name).
    StepRecorder(const Context &ctx, std::string command);
    ~StepRecorder(); // report(), unless done
    StepRecorder(const StepRecorder &) = delete;
    StepRecorder &operator=(const StepRecorder &) = delete;

    bool on() const { return on_; }

    // A parent step: begin returns its index for end(). end_open closes the
    // last unfinished event of a step (clone_init, which outlives create_container).
    size_t begin(Step s);
    void end(size_t idx);
    void end_open(Step s);
    void add(Step s, int64_t begin_ns, int64_t end_ns);

    // The init's StepLog: anonymous shared memory (run, exec), or the state
    // directory's `steps` file (create makes it, start reads it). Null when off.
    StepLog *init_log();
    Status create_init_log_file(const std::string &path);
    Status open_init_log_file(const std::string &path);
    void set_init_pid(pid_t pid) { init_pid_ = pid; }
    // The init's execve ended when the parent saw EOF on the sync socket, or
    // (start) when exec.fifo's reader saw POLLHUP.
    void execve_done(int64_t at);

    // Trace arguments: "key": value pairs of a step's event (value is JSON).
    void arg(Step s, const std::string &key, const std::string &json_value);
    // The syscalls' arguments the init will use, from its plan (trace only).
    void describe_plan(const ChildPlan &plan);

    // Debug lines and the trace file; once (later calls do nothing).
    void report();

private:
    struct Event {
        Step step;
        int item;
        int64_t begin, end;
        bool init;
    };
    std::vector<Event> collect() const;

    const Context &ctx_;
    std::string command_;
    bool on_ = false;
    bool reported_ = false;
    std::vector<Event> parent_;
    StepLog *log_ = nullptr;
    size_t log_size_ = 0;
    pid_t init_pid_ = 0;
    int64_t from_ns_ = 0; // `start`: only the init's events from here on are its
    std::vector<std::string> args_;       // per Step: JSON members
    std::vector<std::string> mount_args_; // per mount of the plan
};

// RAII for a parent step.
class ParentStep {
public:
    ParentStep(StepRecorder &r, Step s) : r_(r), idx_(r.begin(s)) {}
    ~ParentStep() { r_.end(idx_); }
    ParentStep(const ParentStep &) = delete;
    ParentStep &operator=(const ParentStep &) = delete;

private:
    StepRecorder &r_;
    size_t idx_;
};

// "CLONE_NEW{mount uts ipc pid network}|CLONE_INTO_CGROUP".
std::string clone_flags_text(uint64_t clone3_flags);

// JSON string literal of s (quotes included).
std::string json_quote(std::string_view s);

} // namespace corral
