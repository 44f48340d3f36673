// herd apply / delete / scale: the commands that change desired state.
//
// apply validates every manifest here, with the same parser serve uses
// (manifest.hpp), before anything is sent: a bad file is reported with its
// field path and nothing at all is applied, as `kubectl apply
// --validate=strict` does.
#include "herd/cli_internal.hpp"
#include "herd/kinds.hpp"

#include "herd/manifest.hpp"

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

namespace corral::herd::cli {

namespace {

// Every object of every -f path, validated; -n fills in (or checks) the
// namespace as kubectl does.
Result<std::vector<Object>> load_all(const Context &ctx, const Args &args, bool ignore_unknown) {
    ParseOptions opts;
    opts.ignore_unknown = ignore_unknown;
    std::vector<Object> all;
    std::set<std::string> seen;
    for (const auto &path : args.values.at("filename")) {
        auto objects = load_manifests(path, opts);
        if (!objects) return std::move(objects).error();
        for (Object &o : *objects) {
            ObjectMeta &meta = o.pod ? o.pod->metadata : o.deployment->metadata;
            if (args.has("namespace")) {
                if (meta.namespace_ == "default") meta.namespace_ = ctx.namespace_;
                else if (meta.namespace_ != ctx.namespace_)
                    return Error(o.source + ": the namespace from the provided object \"" + meta.namespace_ +
                                 "\" does not match the namespace \"" + ctx.namespace_ +
                                 "\". You must pass '--namespace=" + meta.namespace_ + "' to perform this operation.");
            }
            std::string key = o.kind_name() + "/" + meta.namespace_ + "/" + meta.name;
            if (!seen.insert(key).second)
                return Error(o.source + ": metadata.name: Duplicate value: " + o.kind_name() + " \"" + meta.name +
                             "\" is defined twice");
            all.push_back(std::move(o));
        }
    }
    return all;
}

std::string object_ref(const Object &o) {
    return find_kind(o.kind_name())->display(o.metadata().name);
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

bool is_not_found(const Error &e) { return e.is(ErrorKind::not_found); }

// Waits until the pod is gone from serve's list (or the deadline passes).
bool wait_pod_gone(const Context &ctx, const std::string &name, int64_t deadline_ms) {
    while (true) {
        auto got = get_objects(ctx, Kind::pod, name);
        if (got && got->empty()) return true;
        if (!got && is_not_found(got.error())) return true;
        if (deadline_ms > 0 && now_ms() > deadline_ms) return false;
        sleep_ms(200);
    }
}

// One delete request; prints kubectl's line. Returns the exit status.
int delete_one(const Context &ctx, const Args &args, Kind kind, const std::string &ns, const std::string &name,
               std::vector<std::string> &pods_to_wait) {
    auto resp = ask(ctx, {{"op", "delete"}, {"kind", singular(kind)}, {"namespace", ns}, {"name", name}});
    if (!resp) {
        if (is_not_found(resp.error()) && args.flag("ignore-not-found")) return 0;
        if (is_not_found(resp.error())) {
            std::fprintf(stderr, "Error from server (NotFound): %s%s \"%s\" not found\n", plural(kind).c_str(),
                         kind == Kind::deployment ? ".apps" : "", name.c_str());
            return 1;
        }
        return fail(resp.error());
    }
    std::string result = str(*resp, {"result"});
    if (result.empty()) result = qualified(kind) + " \"" + name + "\" deleted";
    std::printf("%s\n", result.c_str());
    if (kind == Kind::pod) pods_to_wait.push_back(name);
    return 0;
}

} // namespace

// --- herd apply ----------------------------------------------------------------------------

int cmd_apply(const Context &ctx, const Args &args) {
    if (!args.has("filename")) return fail("must specify -f FILE|DIR");
    if (!args.positional.empty()) return fail("unexpected arguments: " + args.positional[0]);
    bool ignore_unknown = args.flag("ignore-unknown");
    auto objects = load_all(ctx, args, ignore_unknown);
    if (!objects) return fail(objects.error().message());
    if (objects->empty()) return fail("no objects passed to apply");

    if (args.flag("dry-run")) {
        for (const Object &o : *objects) std::printf("%s configured (dry run)\n", object_ref(o).c_str());
        return 0;
    }
    json wire = json::array();
    for (const Object &o : *objects) wire.push_back(o.pod ? to_json(*o.pod) : to_json(*o.deployment));
    auto resp = ask(ctx, {{"op", "apply"}, {"objects", wire}, {"ignore_unknown", ignore_unknown}});
    if (!resp) return fail(resp.error());
    const json &results = at(*resp, {"results"});
    if (results.is_array() && !results.empty()) {
        for (const json &r : results) std::printf("%s\n", r.is_string() ? r.get<std::string>().c_str() : r.dump().c_str());
    } else {
        for (const Object &o : *objects) std::printf("%s configured\n", object_ref(o).c_str());
    }
    return 0;
}

// --- herd delete -----------------------------------------------------------------------------

int cmd_delete(const Context &ctx, const Args &args) {
    int64_t timeout_ms = 120000;
    if (args.has("timeout")) {
        auto t = parse_timeout_ms(args.get("timeout"));
        if (!t) return fail(t.error().message());
        timeout_ms = *t;
    }
    bool wait = !args.has("wait") || args.flag("wait");
    std::vector<std::string> pods_to_wait;
    int status = 0;
    if (args.has("filename")) {
        if (!args.positional.empty()) return fail("cannot use -f together with resource arguments");
        auto objects = load_all(ctx, args, true);
        if (!objects) return fail(objects.error().message());
        for (const Object &o : *objects) {
            Kind kind = parse_kind(o.kind_name());
            status |= delete_one(ctx, args, kind, o.metadata().namespace_, o.metadata().name, pods_to_wait);
        }
    } else {
        auto ref = parse_resource(args.positional);
        if (!ref) return fail(ref.error());
        if (ref->kind == Kind::node) return fail("herd does not delete nodes");
        if (ref->names.empty()) return fail("resource(s) were provided, but no name was specified");
        for (const std::string &name : ref->names)
            status |= delete_one(ctx, args, ref->kind, ctx.namespace_, name, pods_to_wait);
    }
    if (wait) {
        int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
        for (const std::string &name : pods_to_wait)
            if (!wait_pod_gone(ctx, name, deadline)) {
                std::fprintf(stderr, "error: timed out waiting for pod \"%s\" to be deleted\n", name.c_str());
                status = 1;
            }
    }
    return status;
}

// --- herd scale ------------------------------------------------------------------------------

int cmd_scale(const Context &ctx, const Args &args) {
    auto ref = parse_resource(args.positional);
    if (!ref) return fail(ref.error());
    if (ref->kind != Kind::deployment) return fail("herd scales deployments only");
    if (ref->names.size() != 1) return fail("expected one deployment name");
    if (!args.has("replicas")) return fail("required flag(s) \"replicas\" not set");
    int replicas = -1;
    try {
        size_t used = 0;
        replicas = std::stoi(args.get("replicas"), &used);
        if (used != args.get("replicas").size()) replicas = -1;
    } catch (...) {
    }
    if (replicas < 0) return fail("invalid --replicas \"" + args.get("replicas") + "\": a count of 0 or more");
    auto resp = ask(ctx, {{"op", "scale"}, {"namespace", ctx.namespace_}, {"name", ref->names[0]}, {"replicas", replicas}});
    if (!resp) return fail(resp.error());
    std::string result = str(*resp, {"result"});
    std::printf("%s\n", result.empty() ? ("deployment.apps/" + ref->names[0] + " scaled").c_str() : result.c_str());
    return 0;
}

} // namespace corral::herd::cli
