// corral events [--stats] [--interval DURATION] <container-id>: the
// container's statistics (once with --stats, else every interval) and OOM
// notifications, one JSON object per line, until the container stops.
#include "cli/args.hpp"

namespace corral::cli {
namespace {

constexpr Flag kFlags[] = {
    {"interval", "value", "set the stats collection interval (default: 5s)"},
    {"stats", "", "display the container's stats then exit"},
};

Result<int> run_events(Env &env, const Args &args) {
    const std::string &id = args.positional[0];
    EventsOptions opts;
    if (args.has("interval")) {
        std::string v = args.get("interval");
        auto d = parse_go_duration(v);
        if (!d) return Error("invalid value \"" + v + "\" for flag -interval: parse error");
        opts.interval = *d;
    }
    CORRAL_TRY(corral::state(env.ctx, id)); // "container does not exist" first, as in runc
    if (opts.interval.count() <= 0) return Error("duration interval must be greater than 0");

    if (args.flag("stats")) {
        ContainerStats s = CORRAL_TRY(corral::stats(env.ctx, id));
        CORRAL_TRY(print(event_to_json(Event{"stats", id, std::move(s)}) + "\n"));
        return 0;
    }
    CORRAL_TRY(corral::events(env.ctx, id, opts, [](const Event &e) { return print(event_to_json(e) + "\n"); }));
    return 0;
}

} // namespace

extern const Command kEventsCommand; // external linkage: main.cpp lists it
const Command kEventsCommand{
    .name = "events",
    .summary = "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
    .args_usage = "<container-id>",
    .flags = kFlags,
    .min_args = 1,
    .max_args = 1,
    .run = run_events,
};

} // namespace corral::cli
