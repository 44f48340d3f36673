// herd rollout status|history|undo and herd wait: commands that watch state
// change, by asking serve again every fraction of a second (serve has no
// watch stream; a poll every 250 ms costs it one SQLite read).
#include "herd/cli_internal.hpp"

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

namespace corral::herd::cli {

namespace {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// -1: no --timeout (the caller's default); 0: forever.
Result<int64_t> timeout_flag(const Args &args, int64_t def) {
    if (!args.has("timeout")) return def;
    return parse_timeout_ms(args.get("timeout"));
}

// kubectl's DeploymentStatusViewer: the message for the deployment's state,
// and whether the rollout is done. An error when it cannot progress.
Result<std::pair<std::string, bool>> rollout_state(const json &d) {
    std::string name = str(d, {"metadata", "name"});
    int64_t generation = num(d, {"metadata", "generation"}, 0);
    int64_t observed = num(d, {"status", "observedGeneration"}, generation);
    if (generation > observed) return std::pair{std::string("Waiting for deployment spec update to be observed..."), false};
    const json &conditions = at(d, {"status", "conditions"});
    if (conditions.is_array())
        for (const json &c : conditions)
            if (str(c, {"type"}) == "Progressing" && str(c, {"reason"}) == "ProgressDeadlineExceeded")
                return Error("deployment \"" + name + "\" exceeded its progress deadline");
    int64_t want = num(d, {"spec", "replicas"}, 1);
    int64_t updated = num(d, {"status", "updatedReplicas"});
    int64_t total = num(d, {"status", "replicas"});
    int64_t available = num(d, {"status", "availableReplicas"});
    auto waiting = [&](const std::string &what) {
        return std::pair{"Waiting for deployment \"" + name + "\" rollout to finish: " + what, false};
    };
    if (updated < want)
        return waiting(std::to_string(updated) + " out of " + std::to_string(want) + " new replicas have been updated...");
    if (total > updated) return waiting(std::to_string(total - updated) + " old replicas are pending termination...");
    if (available < updated)
        return waiting(std::to_string(available) + " of " + std::to_string(updated) + " updated replicas are available...");
    return std::pair{"deployment \"" + name + "\" successfully rolled out", true};
}

int rollout_status(const Context &ctx, const Args &args, const std::string &name) {
    auto timeout = timeout_flag(args, 0);
    if (!timeout) return fail(timeout.error().message());
    bool watch = !args.has("watch") || args.flag("watch");
    int64_t deadline = *timeout > 0 ? now_ms() + *timeout : 0;
    std::string last;
    while (true) {
        auto got = get_objects(ctx, Kind::deployment, name);
        if (!got) return fail(got.error());
        if (got->empty()) {
            std::fprintf(stderr, "Error from server (NotFound): deployments.apps \"%s\" not found\n", name.c_str());
            return 1;
        }
        auto state = rollout_state(got->front());
        if (!state) return fail(state.error().message());
        if (state->first != last) {
            std::printf("%s\n", state->first.c_str());
            std::fflush(stdout);
            last = state->first;
        }
        if (state->second || !watch) return 0;
        if (deadline && now_ms() > deadline) return fail("timed out waiting for the condition");
        sleep_ms(250);
    }
}

int rollout_history(const Context &ctx, const std::string &name) {
    auto resp = ask(ctx, {{"op", "rollout_history"}, {"namespace", ctx.namespace_}, {"name", name}});
    if (!resp) return fail(resp.error());
    std::vector<std::vector<std::string>> rows = {{"REVISION", "IMAGES", "CHANGE-CAUSE"}};
    const json &revisions = at(*resp, {"revisions"});
    if (revisions.is_array())
        for (const json &r : revisions) {
            std::string images = str(r, {"image"});
            const json &list = at(r, {"images"});
            if (list.is_array())
                for (const json &i : list) images += (images.empty() ? "" : ",") + (i.is_string() ? i.get<std::string>() : i.dump());
            rows.push_back({std::to_string(num(r, {"revision"})), images.empty() ? "<none>" : images,
                            str(r, {"change_cause"}, str(r, {"changeCause"}, "<none>"))});
        }
    std::printf("deployment.apps/%s\n%s\n", name.c_str(), render_table(rows).c_str());
    return 0;
}

int rollout_undo(const Context &ctx, const Args &args, const std::string &name) {
    int to_revision = 0;
    if (args.has("to-revision")) {
        try {
            to_revision = std::stoi(args.get("to-revision"));
        } catch (...) {
            return fail("invalid --to-revision \"" + args.get("to-revision") + "\"");
        }
    }
    auto resp = ask(ctx, {{"op", "rollout_undo"}, {"namespace", ctx.namespace_}, {"name", name}, {"to_revision", to_revision}});
    if (!resp) return fail(resp.error());
    std::string result = str(*resp, {"result"});
    std::printf("%s\n", result.empty() ? ("deployment.apps/" + name + " rolled back").c_str() : result.c_str());
    return 0;
}

// "condition=Ready", "condition=Ready=False", "delete".
struct WaitFor {
    bool deleted = false;
    std::string condition, value = "True";
};

Result<WaitFor> parse_for(const std::string &text) {
    WaitFor w;
    if (text == "delete") {
        w.deleted = true;
        return w;
    }
    if (text.rfind("condition=", 0) != 0 || text.size() == 10)
        return Error("unrecognized condition: \"" + text + "\" (use --for=condition=NAME[=VALUE] or --for=delete)");
    w.condition = text.substr(10);
    if (size_t eq = w.condition.find('='); eq != std::string::npos) {
        w.value = w.condition.substr(eq + 1);
        w.condition.resize(eq);
    }
    return w;
}

bool has_condition(const json &object, const WaitFor &w) {
    const json &conditions = at(object, {"status", "conditions"});
    if (!conditions.is_array()) return false;
    for (const json &c : conditions)
        if (str(c, {"type"}) == w.condition) return str(c, {"status"}) == w.value;
    return false;
}

} // namespace

int cmd_rollout(const Context &ctx, const Args &args) {
    if (args.positional.empty()) return fail("usage: herd rollout status|history|undo deployment NAME");
    std::string sub = args.positional[0];
    auto ref = parse_resource({args.positional.begin() + 1, args.positional.end()});
    if (!ref) return fail(ref.error());
    if (ref->kind != Kind::deployment) return fail("herd rolls out deployments only");
    if (ref->names.size() != 1) return fail("expected one deployment name");
    const std::string &name = ref->names[0];
    if (sub == "status") return rollout_status(ctx, args, name);
    if (sub == "history") return rollout_history(ctx, name);
    if (sub == "undo") return rollout_undo(ctx, args, name);
    return fail("unknown rollout command \"" + sub + "\" (status, history, undo)");
}

// herd wait: unlike kubectl, a selector that matches nothing yet is waited
// on too (serve creates a Deployment's pods a moment after apply).
int cmd_wait(const Context &ctx, const Args &args) {
    if (!args.has("for")) return fail("--for must be given: --for=condition=Ready or --for=delete");
    auto want = parse_for(args.get("for"));
    if (!want) return fail(want.error().message());
    auto ref = parse_resource(args.positional);
    if (!ref) return fail(ref.error());
    std::map<std::string, std::string> selector;
    if (args.has("selector")) {
        auto sel = parse_selector(args.get("selector"));
        if (!sel) return fail(sel.error());
        selector = *sel;
    }
    if (ref->names.empty() && !args.has("selector") && !args.flag("all"))
        return fail("resource(s) were provided, but no name was specified (give NAME, -l SELECTOR or --all)");
    auto timeout = timeout_flag(args, 30000);
    if (!timeout) return fail(timeout.error().message());
    int64_t deadline = *timeout > 0 ? now_ms() + *timeout : 0;

    std::set<std::string> reported;
    while (true) {
        std::vector<json> objects;
        bool complete = true;  // every named object was looked at
        if (ref->names.empty()) {
            auto got = get_objects(ctx, ref->kind, "", selector);
            if (!got) return fail(got.error());
            objects = std::move(*got);
        } else {
            for (const std::string &n : ref->names) {
                auto got = get_objects(ctx, ref->kind, n, selector);
                if (!got) return fail(got.error());
                if (got->empty() && !want->deleted) complete = false;
                objects.insert(objects.end(), got->begin(), got->end());
            }
        }
        bool done = complete;
        if (want->deleted) {
            done = objects.empty();
        } else {
            if (objects.empty()) done = false;
            for (const json &o : objects) {
                std::string name = str(o, {"metadata", "name"});
                if (has_condition(o, *want)) {
                    if (reported.insert(name).second)
                        std::printf("%s/%s condition met\n", singular(ref->kind).c_str(), name.c_str());
                } else {
                    done = false;
                }
            }
        }
        if (done) {
            if (want->deleted)
                for (const std::string &n : ref->names) std::printf("%s/%s deleted\n", singular(ref->kind).c_str(), n.c_str());
            return 0;
        }
        if (deadline && now_ms() > deadline) {
            std::string what = ref->names.empty() ? plural(ref->kind) : plural(ref->kind) + "/" + ref->names[0];
            std::fprintf(stderr, "error: timed out waiting for the condition on %s\n", what.c_str());
            return 1;
        }
        std::fflush(stdout);
        sleep_ms(250);
    }
}

} // namespace corral::herd::cli
