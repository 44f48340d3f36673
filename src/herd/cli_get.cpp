// herd get / herd events: kubectl's tables, -o wide|json|yaml|name|jsonpath=|custom-columns=,
// several kinds at once and -w.
//
// The columns and the STATUS/READY/RESTARTS words follow kubectl's printers
// (pkg/printers/internalversion/printers.go), so that a reader who knows
// `kubectl get pods` reads `herd get pods` without a second look.
#include "herd/cli_internal.hpp"

#include "herd/jsonpath.hpp"
#include "herd/manifest.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <thread>

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

// "250m/2" and "512Mi/3.8Gi": what the node's pods request of what it can
// give (allocatable), as `kubectl describe node` sums it; "?" where the
// agent did not say.
std::string cpu_human(int64_t millis) {
    if (millis % 1000 == 0) return std::to_string(millis / 1000);
    return std::to_string(millis) + "m";
}
std::string memory_human(int64_t bytes) {
    static const char *units[] = {"", "Ki", "Mi", "Gi", "Ti"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    if (v == double(int64_t(v))) std::snprintf(buf, sizeof buf, "%lld%s", static_cast<long long>(v), units[u]);
    else std::snprintf(buf, sizeof buf, "%.1f%s", v, units[u]);
    return buf;
}
std::string used_of(const json &n, const char *resource) {
    bool cpu = std::string(resource) == "cpu";
    auto amount = [&](const std::string &text) -> std::string {
        if (text.empty()) return "?";
        if (cpu) {
            auto v = parse_cpu_millis(text);
            return v ? cpu_human(*v) : text;
        }
        auto v = parse_memory_bytes(text);
        return v ? memory_human(*v) : text;
    };
    return amount(str(n, {"status", "herd", "allocated", resource})) + "/" +
           amount(str(n, {"status", "allocatable", resource}));
}
std::string heartbeat_text(const json &n) {
    std::string t = str(n, {"status", "herd", "lastContact"});
    return t.empty() ? "<never>" : age(t) + " ago";
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
    row.push_back(used_of(n, "cpu"));
    row.push_back(used_of(n, "memory"));
    row.push_back(heartbeat_text(n));
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
        // herd adds what kubectl leaves to `describe node`: CPU and memory
        // requested of allocatable, and the agent's last answer.
        if (wide)
            return {"NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE",
                    "KERNEL-VERSION", "CONTAINER-RUNTIME", "CPU", "MEMORY", "HEARTBEAT"};
        return {"NAME", "STATUS", "ROLES", "AGE", "VERSION", "CPU", "MEMORY", "HEARTBEAT"};
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
//
// `herd get KIND[,KIND...] [NAME...]`, `herd get KIND/NAME...`, `herd get all`:
// one table per kind; with several kinds each name gets kubectl's `kind/`
// prefix (pod/web-1, deployment.apps/web) and a blank line separates the
// tables. `-o jsonpath=T` and `-o custom-columns=H:PATH,...` use jsonpath.hpp;
// `-w` prints the table, then a row for each object that changes, appears or
// goes away (polling serve every second), until interrupted.

namespace {

struct KindGroup {
    Kind kind = Kind::unknown;
    std::vector<std::string> names;  // empty: all
};

Result<std::vector<KindGroup>> parse_groups(const std::vector<std::string> &positional) {
    std::vector<KindGroup> groups;
    auto group_of = [&](Kind k) -> KindGroup & {
        for (KindGroup &g : groups)
            if (g.kind == k) return g;
        groups.push_back({k, {}});
        return groups.back();
    };
    auto unknown = [](std::string_view word) {
        return Error("the server doesn't have a resource type \"" + std::string(word) +
                     "\" (herd knows pods, deployments, nodes, all)");
    };
    bool all_slashed = std::all_of(positional.begin(), positional.end(),
                                   [](const std::string &p) { return p.find('/') != std::string::npos; });
    if (all_slashed) {  // pod/a deployment/b
        for (const std::string &p : positional) {
            size_t slash = p.find('/');
            Kind k = parse_kind(p.substr(0, slash));
            if (k == Kind::unknown) return unknown(p.substr(0, slash));
            group_of(k).names.push_back(p.substr(slash + 1));
        }
        return groups;
    }
    std::string_view kinds = positional[0];
    while (true) {
        size_t comma = kinds.find(',');
        std::string_view word = kinds.substr(0, comma);
        if (word == "all") {
            group_of(Kind::pod);
            group_of(Kind::deployment);
        } else {
            Kind k = parse_kind(word);
            if (k == Kind::unknown) return unknown(word);
            group_of(k);
        }
        if (comma == std::string_view::npos) break;
        kinds.remove_prefix(comma + 1);
    }
    for (size_t i = 1; i < positional.size(); ++i) {
        if (positional[i].find('/') != std::string::npos)
            return Error("there is no need to specify a resource type as a separate argument when passing "
                         "arguments in resource/name form");
        for (KindGroup &g : groups) g.names.push_back(positional[i]);
    }
    return groups;
}

// -o: kubectl's printers.
struct OutputFormat {
    enum class Type { table, wide, json, yaml, name, jsonpath, custom_columns };
    Type type = Type::table;
    std::optional<JsonPath> path;  // jsonpath
    std::vector<std::pair<std::string, JsonPath>> columns;  // custom-columns
};

// kubectl takes jsonpath='{...}' (the shell removed the quotes) and also
// keeps quotes a script left on: '{.a}' with the quotes is the template.
std::string strip_quotes(std::string t) {
    if (t.size() >= 2 && (t.front() == '\'' || t.front() == '"') && t.back() == t.front()) t = t.substr(1, t.size() - 2);
    return t;
}

Result<OutputFormat> parse_output(const std::string &o) {
    OutputFormat f;
    using T = OutputFormat::Type;
    if (o.empty()) return f;
    if (o == "wide") f.type = T::wide;
    else if (o == "json") f.type = T::json;
    else if (o == "yaml") f.type = T::yaml;
    else if (o == "name") f.type = T::name;
    else if (o == "jsonpath" || o == "custom-columns")
        return Error("template format specified but no template given (-o " + o + "=...)");
    else if (o.rfind("jsonpath=", 0) == 0) {
        f.type = T::jsonpath;
        f.path = CORRAL_TRY(JsonPath::parse(strip_quotes(o.substr(9))));
    } else if (o.rfind("custom-columns=", 0) == 0) {
        f.type = T::custom_columns;
        std::string spec = o.substr(15);
        size_t start = 0;
        while (start <= spec.size()) {
            size_t comma = spec.find(',', start);
            std::string col = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            size_t colon = col.find(':');
            if (colon == std::string::npos || colon == 0 || colon + 1 == col.size())
                return Error("unexpected custom-columns spec: " + col + ", expected <header>:<json-path-expr>");
            std::string expr = col.substr(colon + 1);
            // kubectl's RelaxedJSONPathExpression: ".a.b", "a.b" and "{.a.b}" are the same.
            if (expr.front() != '{') expr = "{" + std::string(expr.front() == '.' ? "" : ".") + expr + "}";
            f.columns.emplace_back(col.substr(0, colon), CORRAL_TRY(JsonPath::parse(expr)));
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
    } else {
        return Error("unable to match a printer suitable for the output format \"" + o +
                     "\", allowed formats are: custom-columns,json,jsonpath,name,wide,yaml");
    }
    return f;
}

struct Item {
    Kind kind;
    json object;
    std::string key() const {
        return qualified(kind) + "/" + str(object, {"metadata", "namespace"}) + "/" + str(object, {"metadata", "name"});
    }
};

// What serve has for the groups; names it does not have are reported as
// kubectl does and make the exit status 1 (report_missing: the first list).
Result<std::vector<Item>> fetch(const Context &ctx, const std::vector<KindGroup> &groups,
                                const std::map<std::string, std::string> &selector, bool report_missing, int &status) {
    std::vector<Item> items;
    for (const KindGroup &g : groups) {
        if (g.names.empty()) {
            for (json &o : CORRAL_TRY(get_objects(ctx, g.kind, "", selector))) items.push_back({g.kind, std::move(o)});
            continue;
        }
        for (const std::string &name : g.names) {
            auto got = get_objects(ctx, g.kind, name, selector);
            if (!got) return std::move(got).error();
            if (got->empty() && report_missing) {
                std::fprintf(stderr, "Error from server (NotFound): %s%s \"%s\" not found\n", plural(g.kind).c_str(),
                             g.kind == Kind::deployment ? ".apps" : "", name.c_str());
                status = 1;
            }
            for (json &o : *got) items.push_back({g.kind, std::move(o)});
        }
    }
    return items;
}

struct TableStyle {
    bool wide = false, with_ns = false, show_labels = false, with_kind = false;
};

std::vector<std::string> table_header(Kind kind, const TableStyle &st) {
    std::vector<std::string> h = header(kind, st.wide);
    if (st.with_ns && kind != Kind::node) h.insert(h.begin(), "NAMESPACE");
    if (st.show_labels) h.push_back("LABELS");
    return h;
}

std::vector<std::string> table_row(const Item &it, const TableStyle &st) {
    std::vector<std::string> row = it.kind == Kind::pod          ? pod_row(it.object, st.wide)
                                   : it.kind == Kind::deployment ? deployment_row(it.object, st.wide)
                                                                 : node_row(it.object, st.wide);
    if (st.with_kind) row[0] = qualified(it.kind) + "/" + row[0];
    if (st.with_ns && it.kind != Kind::node) row.insert(row.begin(), str(it.object, {"metadata", "namespace"}, "default"));
    if (st.show_labels) row.push_back(labels_text(at(it.object, {"metadata", "labels"})));
    return row;
}

std::vector<std::string> custom_row(const json &object, const OutputFormat &f) {
    std::vector<std::string> row;
    for (const auto &[name, path] : f.columns) {
        std::string cell;
        for (const json &v : path.values(object)) cell += (cell.empty() ? "" : ",") + jsonpath_text(v);
        row.push_back(cell.empty() ? "<none>" : cell);
    }
    return row;
}

// One object as the watch prints it after the first listing.
std::string watch_line(const Item &it, const OutputFormat &f, const TableStyle &st) {
    using T = OutputFormat::Type;
    switch (f.type) {
    case T::json: return it.object.dump(4) + "\n";
    case T::yaml: return "---\n" + to_yaml(it.object);
    case T::name: return qualified(it.kind) + "/" + str(it.object, {"metadata", "name"}) + "\n";
    case T::jsonpath: return f.path->execute(it.object);
    case T::custom_columns: {
        std::vector<std::vector<std::string>> rows;
        std::vector<std::string> head;
        for (const auto &c : f.columns) head.push_back(c.first);
        rows.push_back(std::move(head));
        rows.push_back(custom_row(it.object, f));
        std::string t = render_table(rows);
        return t.substr(t.find('\n') + 1);
    }
    default: break;
    }
    std::vector<std::vector<std::string>> rows = {table_header(it.kind, st), table_row(it, st)};
    std::string t = render_table(rows);
    return t.substr(t.find('\n') + 1);
}

// What a change is: the row without its clocks (AGE, "(5s ago)").
std::string signature(const Item &it, const TableStyle &st) {
    std::vector<std::string> head = table_header(it.kind, st), row = table_row(it, st);
    std::string sig;
    for (size_t i = 0; i < row.size() && i < head.size(); ++i) {
        if (head[i] == "AGE") continue;
        std::string cell = row[i];
        if (head[i] == "RESTARTS") cell = cell.substr(0, cell.find(" ("));
        sig += cell + "\t";
    }
    return sig;
}

// Prints everything once, as `get` does without -w.
int print_items(const Context &ctx, const std::vector<KindGroup> &groups, const std::vector<Item> &items,
                const OutputFormat &f, const TableStyle &st, int status) {
    using T = OutputFormat::Type;
    bool single = groups.size() == 1 && groups[0].names.size() == 1 && items.size() == 1;
    if (f.type == T::json || f.type == T::yaml || f.type == T::jsonpath) {
        json doc;
        if (single) {
            doc = items[0].object;
        } else {
            json list = json::array();
            for (const Item &it : items) list.push_back(it.object);
            doc = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", list}, {"metadata", {{"resourceVersion", ""}}}};
        }
        std::string text = f.type == T::json   ? doc.dump(4) + "\n"
                           : f.type == T::yaml ? to_yaml(doc)
                                               : f.path->execute(doc);
        std::fputs(text.c_str(), stdout);
        return status;
    }
    if (f.type == T::name) {
        for (const Item &it : items)
            std::printf("%s/%s\n", qualified(it.kind).c_str(), str(it.object, {"metadata", "name"}).c_str());
        return status;
    }
    if (items.empty()) {
        bool named = std::any_of(groups.begin(), groups.end(), [](const KindGroup &g) { return !g.names.empty(); });
        if (!named) {
            if (ctx.all_namespaces || (groups.size() == 1 && groups[0].kind == Kind::node))
                std::fprintf(stderr, "No resources found\n");
            else
                std::fprintf(stderr, "No resources found in %s namespace.\n", ctx.namespace_.c_str());
        }
        return status;
    }
    if (f.type == T::custom_columns) {
        std::vector<std::vector<std::string>> rows(1);
        for (const auto &c : f.columns) rows[0].push_back(c.first);
        for (const Item &it : items) rows.push_back(custom_row(it.object, f));
        std::fputs(render_table(rows).c_str(), stdout);
        return status;
    }
    bool first = true;
    for (const KindGroup &g : groups) {
        std::vector<std::vector<std::string>> rows = {table_header(g.kind, st)};
        for (const Item &it : items)
            if (it.kind == g.kind) rows.push_back(table_row(it, st));
        if (rows.size() == 1) continue;
        if (!first) std::fputs("\n", stdout);
        first = false;
        std::fputs(render_table(rows).c_str(), stdout);
    }
    return status;
}

} // namespace

int cmd_get(const Context &ctx, const Args &args) {
    if (args.positional.empty())
        return fail("you must specify the type of resource to get: pods, deployments or nodes");
    auto groups = parse_groups(args.positional);
    if (!groups) return fail(groups.error().message());  // ours, not the server's: "error: ..."
    auto format = parse_output(args.get("output"));
    if (!format) return fail(format.error().message());
    std::map<std::string, std::string> selector;
    if (args.has("selector")) {
        auto sel = parse_selector(args.get("selector"));
        if (!sel) return fail(sel.error());
        selector = std::move(*sel);
    }
    TableStyle style;
    style.wide = format->type == OutputFormat::Type::wide;
    style.with_ns = ctx.all_namespaces;
    style.show_labels = args.flag("show-labels");
    style.with_kind = groups->size() > 1;

    int status = 0;
    auto items = fetch(ctx, *groups, selector, true, status);
    if (!items) return fail(items.error());
    status = print_items(ctx, *groups, *items, *format, style, status);
    if (!args.flag("watch")) return status;

    // -w: a line per change until interrupted (kubectl's shape: the table
    // first, then rows without a header). Deleted objects print their last row.
    std::fflush(stdout);
    std::map<std::string, std::pair<std::string, Item>> seen;  // key -> signature, last state
    for (Item &it : *items) {
        std::string key = it.key(), sig = signature(it, style);  // before `it` is moved from
        seen.emplace(std::move(key), std::make_pair(std::move(sig), std::move(it)));
    }
    while (true) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        int ignored = 0;
        auto now = fetch(ctx, *groups, selector, false, ignored);
        if (!now) return fail(now.error());
        std::map<std::string, bool> present;
        for (Item &it : *now) {
            std::string key = it.key();
            present[key] = true;
            std::string sig = signature(it, style);
            auto old = seen.find(key);
            if (old != seen.end() && old->second.first == sig) continue;
            std::fputs(watch_line(it, *format, style).c_str(), stdout);
            seen[key] = std::make_pair(std::move(sig), std::move(it));
        }
        for (auto it = seen.begin(); it != seen.end();) {
            if (present.count(it->first)) {
                ++it;
                continue;
            }
            std::fputs(watch_line(it->second.second, *format, style).c_str(), stdout);
            it = seen.erase(it);
        }
        std::fflush(stdout);
    }
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
