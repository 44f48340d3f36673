// herd get / herd events: kubectl's tables, and -o wide|json|yaml|name.
//
// The columns and the STATUS/READY/RESTARTS words follow kubectl's printers
// (pkg/printers/internalversion/printers.go), so that a reader who knows
// `kubectl get pods` reads `herd get pods` without a second look.
#include "herd/cli_internal.hpp"

#include "herd/manifest.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace corral::herd::cli {

// --- pods: kubectl's printPod ----------------------------------------------------------

namespace {

struct PodSummary {
    std::string status;
    int ready = 0, total = 0;
    int restarts = 0;
    int64_t last_restart = -1;  // the newest lastState.terminated.finishedAt
};

bool has_condition(const json &conditions, const std::string &type) {
    if (!conditions.is_array()) return false;
    for (const json &c : conditions)
        if (str(c, {"type"}) == type && str(c, {"status"}) == "True") return true;
    return false;
}

PodSummary summarize_pod(const json &pod) {
    PodSummary s;
    const json &containers = at(pod, {"spec", "containers"});
    s.total = containers.is_array() ? static_cast<int>(containers.size()) : 0;
    s.status = str(pod, {"status", "phase"}, "Pending");
    if (!str(pod, {"status", "reason"}).empty()) s.status = str(pod, {"status", "reason"});
    bool has_running = false;
    const json &statuses = at(pod, {"status", "containerStatuses"});
    if (statuses.is_array()) {
        // Backwards, as kubectl does: the first container's reason wins.
        for (auto it = statuses.rbegin(); it != statuses.rend(); ++it) {
            const json &cs = *it;
            s.restarts += static_cast<int>(num(cs, {"restartCount"}));
            int64_t finished = parse_time(str(cs, {"lastState", "terminated", "finishedAt"}));
            s.last_restart = std::max(s.last_restart, finished);
            const json &waiting = at(cs, {"state", "waiting"});
            const json &terminated = at(cs, {"state", "terminated"});
            if (waiting.is_object() && !str(waiting, {"reason"}).empty()) {
                s.status = str(waiting, {"reason"});
            } else if (terminated.is_object() && !str(terminated, {"reason"}).empty()) {
                s.status = str(terminated, {"reason"});
            } else if (terminated.is_object()) {
                s.status = num(terminated, {"signal"}) != 0
                               ? "Signal:" + std::to_string(num(terminated, {"signal"}))
                               : "ExitCode:" + std::to_string(num(terminated, {"exitCode"}));
            } else if (at(cs, {"ready"}) == true && at(cs, {"state", "running"}).is_object()) {
                has_running = true;
                ++s.ready;
            }
        }
    }
    if (s.status == "Completed" && has_running)
        s.status = has_condition(at(pod, {"status", "conditions"}), "Ready") ? "Running" : "NotReady";
    if (!at(pod, {"metadata", "deletionTimestamp"}).is_null()) s.status = "Terminating";
    return s;
}

std::string or_none(const std::string &s) { return s.empty() ? "<none>" : s; }

std::string labels_text(const json &labels) {
    std::string out;
    if (labels.is_object())
        for (auto it = labels.begin(); it != labels.end(); ++it) {
            if (!out.empty()) out += ",";
            out += it.key() + "=" + (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
        }
    return out.empty() ? "<none>" : out;
}

std::vector<std::string> pod_row(const json &pod, bool wide) {
    PodSummary s = summarize_pod(pod);
    std::string restarts = std::to_string(s.restarts);
    if (s.restarts > 0 && s.last_restart > 0)
        restarts += " (" + human_duration(static_cast<int64_t>(std::time(nullptr)) - s.last_restart) + " ago)";
    std::vector<std::string> row = {str(pod, {"metadata", "name"}),
                                    std::to_string(s.ready) + "/" + std::to_string(s.total), s.status, restarts,
                                    age(str(pod, {"metadata", "creationTimestamp"}))};
    if (wide) {
        row.push_back(or_none(str(pod, {"status", "podIP"})));
        row.push_back(or_none(str(pod, {"spec", "nodeName"})));
        row.push_back("<none>");  // NOMINATED NODE
        row.push_back("<none>");  // READINESS GATES
    }
    return row;
}

std::string join_containers(const json &pod_spec, const char *field) {
    std::string out;
    const json &containers = at(pod_spec, {"containers"});
    if (containers.is_array())
        for (const json &c : containers) {
            if (!out.empty()) out += ",";
            out += str(c, {field});
        }
    return out;
}

std::string selector_text(const json &match_labels) {
    std::string t = labels_text(match_labels);
    return t;
}

std::vector<std::string> deployment_row(const json &d, bool wide) {
    int64_t want = num(d, {"spec", "replicas"}, 1);
    std::vector<std::string> row = {str(d, {"metadata", "name"}),
                                    std::to_string(num(d, {"status", "readyReplicas"})) + "/" + std::to_string(want),
                                    std::to_string(num(d, {"status", "updatedReplicas"})),
                                    std::to_string(num(d, {"status", "availableReplicas"})),
                                    age(str(d, {"metadata", "creationTimestamp"}))};
    if (wide) {
        const json &spec = at(d, {"spec", "template", "spec"});
        row.push_back(join_containers(spec, "name"));
        row.push_back(join_containers(spec, "image"));
        row.push_back(selector_text(at(d, {"spec", "selector", "matchLabels"})));
    }
    return row;
}

std::vector<std::string> node_row(const json &n, bool wide) {
    std::string status = "Unknown";
    const json &conditions = at(n, {"status", "conditions"});
    if (conditions.is_array())
        for (const json &c : conditions)
            if (str(c, {"type"}) == "Ready") status = str(c, {"status"}) == "True" ? "Ready" : "NotReady";
    if (at(n, {"spec", "unschedulable"}) == true) status += ",SchedulingDisabled";
    std::string roles;
    const json &labels = at(n, {"metadata", "labels"});
    if (labels.is_object())
        for (auto it = labels.begin(); it != labels.end(); ++it)
            if (it.key().rfind("node-role.kubernetes.io/", 0) == 0) {
                if (!roles.empty()) roles += ",";
                roles += it.key().substr(24);
            }
    std::vector<std::string> row = {str(n, {"metadata", "name"}), status, or_none(roles),
                                    age(str(n, {"metadata", "creationTimestamp"})),
                                    or_none(str(n, {"status", "nodeInfo", "kubeletVersion"}))};
    if (wide) {
        std::string internal, external;
        const json &addresses = at(n, {"status", "addresses"});
        if (addresses.is_array())
            for (const json &a : addresses) {
                if (str(a, {"type"}) == "InternalIP") internal = str(a, {"address"});
                if (str(a, {"type"}) == "ExternalIP") external = str(a, {"address"});
            }
        row.push_back(or_none(internal));
        row.push_back(or_none(external));
        row.push_back(or_none(str(n, {"status", "nodeInfo", "osImage"})));
        row.push_back(or_none(str(n, {"status", "nodeInfo", "kernelVersion"})));
        row.push_back(or_none(str(n, {"status", "nodeInfo", "containerRuntimeVersion"})));
    }
    return row;
}

std::vector<std::string> header(Kind kind, bool wide) {
    switch (kind) {
    case Kind::pod:
        if (wide) return {"NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"};
        return {"NAME", "READY", "STATUS", "RESTARTS", "AGE"};
    case Kind::deployment:
        if (wide) return {"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"};
        return {"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"};
    default:
        if (wide)
            return {"NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE",
                    "KERNEL-VERSION", "CONTAINER-RUNTIME"};
        return {"NAME", "STATUS", "ROLES", "AGE", "VERSION"};
    }
}

} // namespace

std::string pod_status_text(const json &pod) { return summarize_pod(pod).status; }

std::string pod_ready_text(const json &pod) {
    PodSummary s = summarize_pod(pod);
    return std::to_string(s.ready) + "/" + std::to_string(s.total);
}

bool pod_ready(const json &pod) { return has_condition(at(pod, {"status", "conditions"}), "Ready"); }

// --- herd get ------------------------------------------------------------------------------

int cmd_get(const Context &ctx, const Args &args) {
    if (args.positional.empty())
        return fail("you must specify the type of resource to get: pods, deployments or nodes");
    auto ref = parse_resource(args.positional);
    if (!ref) return fail(ref.error());
    std::string output = args.get("output");
    if (!output.empty() && output != "wide" && output != "json" && output != "yaml" && output != "name")
        return fail("unable to match a printer suitable for the output format \"" + output +
                    "\", allowed formats are: json,name,wide,yaml");
    std::map<std::string, std::string> selector;
    if (args.has("selector")) {
        auto sel = parse_selector(args.get("selector"));
        if (!sel) return fail(sel.error());
        selector = std::move(*sel);
    }

    std::vector<json> items;
    int status = 0;
    if (ref->names.empty()) {
        auto got = get_objects(ctx, ref->kind, "", selector);
        if (!got) return fail(got.error());
        items = std::move(*got);
    } else {
        for (const std::string &name : ref->names) {
            auto got = get_objects(ctx, ref->kind, name, selector);
            if (!got) {
                status = fail(got.error());
                continue;
            }
            if (got->empty()) {
                std::fprintf(stderr, "Error from server (NotFound): %s%s \"%s\" not found\n", plural(ref->kind).c_str(),
                             ref->kind == Kind::deployment ? ".apps" : "", name.c_str());
                status = 1;
                continue;
            }
            items.insert(items.end(), got->begin(), got->end());
        }
    }

    if (output == "json" || output == "yaml") {
        json doc;
        if (ref->names.size() == 1 && items.size() == 1) {
            doc = items[0];
        } else {
            doc = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}, {"metadata", {{"resourceVersion", ""}}}};
        }
        std::string text = output == "json" ? doc.dump(4) + "\n" : to_yaml(doc);
        std::fputs(text.c_str(), stdout);
        return status;
    }
    if (output == "name") {
        for (const json &item : items)
            std::printf("%s/%s\n", qualified(ref->kind).c_str(), str(item, {"metadata", "name"}).c_str());
        return status;
    }
    if (items.empty()) {
        if (ref->names.empty()) {
            if (ctx.all_namespaces || ref->kind == Kind::node)
                std::fprintf(stderr, "No resources found\n");
            else
                std::fprintf(stderr, "No resources found in %s namespace.\n", ctx.namespace_.c_str());
        }
        return status;
    }
    bool wide = output == "wide";
    bool with_ns = ctx.all_namespaces && ref->kind != Kind::node;
    bool show_labels = args.flag("show-labels");
    std::vector<std::vector<std::string>> rows;
    rows.push_back(header(ref->kind, wide));
    if (with_ns) rows.back().insert(rows.back().begin(), "NAMESPACE");
    if (show_labels) rows.back().push_back("LABELS");
    for (const json &item : items) {
        std::vector<std::string> row = ref->kind == Kind::pod          ? pod_row(item, wide)
                                       : ref->kind == Kind::deployment ? deployment_row(item, wide)
                                                                       : node_row(item, wide);
        if (with_ns) row.insert(row.begin(), str(item, {"metadata", "namespace"}, "default"));
        if (show_labels) row.push_back(labels_text(at(item, {"metadata", "labels"})));
        rows.push_back(std::move(row));
    }
    std::fputs(render_table(rows).c_str(), stdout);
    return status;
}

// --- herd events -------------------------------------------------------------------------------

int cmd_events(const Context &ctx, const Args &) {
    auto resp = ask(ctx, {{"op", "events"}, {"namespace", ctx.all_namespaces ? "" : ctx.namespace_}});
    if (!resp) return fail(resp.error());
    const json &events = at(*resp, {"events"});
    if (!events.is_array() || events.empty()) {
        if (ctx.all_namespaces)
            std::fprintf(stderr, "No resources found\n");
        else
            std::fprintf(stderr, "No resources found in %s namespace.\n", ctx.namespace_.c_str());
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"});
    if (ctx.all_namespaces) rows.back().insert(rows.back().begin(), "NAMESPACE");
    for (const json &e : events) {
        std::string when = str(e, {"time"});
        if (when.empty()) when = str(e, {"lastTimestamp"});
        std::vector<std::string> row = {age(when), str(e, {"type"}, "Normal"), str(e, {"reason"}), str(e, {"object"}),
                                        str(e, {"message"})};
        int64_t count = num(e, {"count"}, 1);
        if (count > 1) row[0] += " (x" + std::to_string(count) + ")";
        if (ctx.all_namespaces) row.insert(row.begin(), str(e, {"namespace"}, "default"));
        rows.push_back(std::move(row));
    }
    std::fputs(render_table(rows).c_str(), stdout);
    return 0;
}

} // namespace corral::herd::cli
