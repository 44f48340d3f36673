// herd describe pod|deployment NAME: kubectl's describe text, events last.
//
// Like kubectl's describers (pkg/describe/describe.go): "Key:  value" lines
// aligned at one column, containers and conditions indented beneath, and
// the object's events as a table ("Events:  <none>" when there are none).
#include "herd/cli_internal.hpp"

#include <cstdio>

namespace corral::herd::cli {

namespace {

// Lines of "Key:  value" with the values in one column, as a tabwriter would.
class Describer {
public:
    // An empty key continues the field above: the value in the same column.
    void field(int indent, const std::string &key, const std::string &value) {
        lines_.push_back({indent, key.empty() ? "" : key + ":", value, true});
    }
    void text(int indent, const std::string &line) { lines_.push_back({indent, line, "", false}); }
    std::string str() const {
        // One value column per indent level, wide enough for its longest key.
        std::map<int, size_t> width;
        for (const Line &l : lines_)
            if (l.keyed) width[l.indent] = std::max(width[l.indent], l.key.size());
        std::string out;
        for (const Line &l : lines_) {
            std::string line = std::string(l.indent, ' ') + l.key;
            if (l.keyed && !l.value.empty()) line += std::string(width[l.indent] - l.key.size() + 2, ' ') + l.value;
            if (l.keyed && l.key.empty()) line = std::string(l.indent + width[l.indent] + 2, ' ') + l.value;
            out += line + "\n";
        }
        return out;
    }

private:
    struct Line {
        int indent;
        std::string key, value;
        bool keyed;
    };
    std::vector<Line> lines_;
};

std::string none(const std::string &s) { return s.empty() ? "<none>" : s; }

void map_field(Describer &d, int indent, const std::string &key, const json &m) {
    if (!m.is_object() || m.empty()) {
        d.field(indent, key, "<none>");
        return;
    }
    bool first = true;
    for (auto it = m.begin(); it != m.end(); ++it) {
        std::string v = it.key() + "=" + (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
        if (first) d.field(indent, key, v);
        else d.field(indent, "", v);  // continuation lines: an empty key keeps the column
        first = false;
    }
}

std::string time_text(const std::string &rfc3339) {
    int64_t t = parse_time(rfc3339);
    if (t < 0) return rfc3339;
    time_t tt = static_cast<time_t>(t);
    struct tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
}

void state_fields(Describer &d, int indent, const std::string &key, const json &state) {
    if (at(state, {"running"}).is_object()) {
        d.field(indent, key, "Running");
        d.field(indent + 2, "Started", time_text(str(state, {"running", "startedAt"})));
    } else if (at(state, {"waiting"}).is_object()) {
        d.field(indent, key, "Waiting");
        d.field(indent + 2, "Reason", str(state, {"waiting", "reason"}));
        if (!str(state, {"waiting", "message"}).empty()) d.field(indent + 2, "Message", str(state, {"waiting", "message"}));
    } else if (at(state, {"terminated"}).is_object()) {
        const json &t = at(state, {"terminated"});
        d.field(indent, key, "Terminated");
        d.field(indent + 2, "Reason", str(t, {"reason"}));
        if (!str(t, {"message"}).empty()) d.field(indent + 2, "Message", str(t, {"message"}));
        d.field(indent + 2, "Exit Code", std::to_string(num(t, {"exitCode"})));
        if (num(t, {"signal"}) != 0) d.field(indent + 2, "Signal", std::to_string(num(t, {"signal"})));
        d.field(indent + 2, "Started", time_text(str(t, {"startedAt"})));
        d.field(indent + 2, "Finished", time_text(str(t, {"finishedAt"})));
    } else {
        d.field(indent, key, key == "State" ? "Waiting" : "");
    }
}

std::string probe_text(const json &p) {
    std::string how;
    if (at(p, {"exec"}).is_object()) {
        how = "exec [";
        const json &cmd = at(p, {"exec", "command"});
        if (cmd.is_array())
            for (size_t i = 0; i < cmd.size(); ++i) how += (i ? " " : "") + (cmd[i].is_string() ? cmd[i].get<std::string>() : cmd[i].dump());
        how += "]";
    } else if (at(p, {"httpGet"}).is_object()) {
        how = "http-get http://" + str(p, {"httpGet", "host"}) + ":" + str(p, {"httpGet", "port"}) + str(p, {"httpGet", "path"}, "/");
    } else if (at(p, {"tcpSocket"}).is_object()) {
        how = "tcp-socket " + str(p, {"tcpSocket", "host"}) + ":" + str(p, {"tcpSocket", "port"});
    }
    return how + " delay=" + std::to_string(num(p, {"initialDelaySeconds"}, 0)) +
           "s timeout=" + std::to_string(num(p, {"timeoutSeconds"}, 1)) +
           "s period=" + std::to_string(num(p, {"periodSeconds"}, 10)) +
           "s #success=" + std::to_string(num(p, {"successThreshold"}, 1)) +
           " #failure=" + std::to_string(num(p, {"failureThreshold"}, 3));
}

// A container's spec (image, command, limits, probes, env), and its status
// when the pod has one.
void container_fields(Describer &d, const json &c, const json &status) {
    d.text(2, str(c, {"name"}) + ":");
    if (status.is_object()) d.field(4, "Container ID", str(status, {"containerID"}));
    d.field(4, "Image", str(c, {"image"}));
    const json &ports = at(c, {"ports"});
    if (ports.is_array() && !ports.empty()) {
        std::string p;
        for (const json &port : ports) {
            if (!p.empty()) p += ", ";
            p += std::to_string(num(port, {"containerPort"})) + "/" + str(port, {"protocol"}, "TCP");
        }
        d.field(4, "Port", p);
    }
    for (const char *key : {"command", "args"}) {
        const json &v = at(c, {key});
        if (!v.is_array() || v.empty()) continue;
        d.field(4, key == std::string("command") ? "Command" : "Args", "");
        for (const json &a : v) d.text(6, a.is_string() ? a.get<std::string>() : a.dump());
    }
    if (status.is_object()) {
        state_fields(d, 4, "State", at(status, {"state"}));
        if (!at(status, {"lastState"}).empty()) state_fields(d, 4, "Last State", at(status, {"lastState"}));
        d.field(4, "Ready", at(status, {"ready"}) == true ? "True" : "False");
        d.field(4, "Restart Count", std::to_string(num(status, {"restartCount"})));
    }
    for (const char *which : {"limits", "requests"}) {
        const json &r = at(c, {"resources", which});
        if (!r.is_object() || r.empty()) continue;
        d.field(4, which == std::string("limits") ? "Limits" : "Requests", "");
        for (auto it = r.begin(); it != r.end(); ++it)
            d.field(6, it.key(), it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
    }
    for (auto [key, title] : {std::pair{"livenessProbe", "Liveness"}, {"readinessProbe", "Readiness"}, {"startupProbe", "Startup"}})
        if (at(c, {key}).is_object()) d.field(4, title, probe_text(at(c, {key})));
    const json &env = at(c, {"env"});
    if (env.is_array() && !env.empty()) {
        d.field(4, "Environment", "");
        for (const json &e : env) d.field(6, str(e, {"name"}), str(e, {"value"}));
    } else {
        d.field(4, "Environment", "<none>");
    }
}

void events_table(std::string &out, const json &events) {
    if (!events.is_array() || events.empty()) {
        out += "Events:  <none>\n";
        return;
    }
    std::vector<std::vector<std::string>> rows = {{"Type", "Reason", "Age", "From", "Message"},
                                                  {"----", "------", "----", "----", "-------"}};
    for (const json &e : events) {
        std::string when = str(e, {"time"});
        std::string a = age(when);
        if (num(e, {"count"}, 1) > 1) a += " (x" + std::to_string(num(e, {"count"})) + ")";
        rows.push_back({str(e, {"type"}, "Normal"), str(e, {"reason"}), a, str(e, {"source"}, "herd"), str(e, {"message"})});
    }
    out += "Events:\n";
    std::string table = render_table(rows);
    size_t start = 0;
    while (start < table.size()) {
        size_t nl = table.find('\n', start);
        out += "  " + table.substr(start, nl - start + 1);
        start = nl + 1;
    }
}

// Kubernetes' QoS class: Guaranteed when every container limits cpu and
// memory with requests equal to the limits (a missing request defaults to
// the limit), BestEffort when none asks for anything, Burstable otherwise.
std::string qos_class(const json &containers) {
    bool any = false, guaranteed = true;
    if (containers.is_array())
        for (const json &c : containers)
            for (const char *res : {"cpu", "memory"}) {
                std::string limit = str(c, {"resources", "limits", res});
                std::string request = str(c, {"resources", "requests", res});
                if (!limit.empty() || !request.empty()) any = true;
                if (limit.empty() || (!request.empty() && request != limit)) guaranteed = false;
            }
    if (!any) return "BestEffort";
    return guaranteed ? "Guaranteed" : "Burstable";
}

std::string describe_pod(const json &pod, const json &events) {
    Describer d;
    d.field(0, "Name", str(pod, {"metadata", "name"}));
    d.field(0, "Namespace", str(pod, {"metadata", "namespace"}, "default"));
    d.field(0, "Node", none(str(pod, {"spec", "nodeName"})));
    d.field(0, "Start Time", time_text(str(pod, {"status", "startTime"})));
    map_field(d, 0, "Labels", at(pod, {"metadata", "labels"}));
    map_field(d, 0, "Annotations", at(pod, {"metadata", "annotations"}));
    d.field(0, "Status", pod_status_text(pod) == "Terminating" ? "Terminating" : str(pod, {"status", "phase"}, "Pending"));
    if (!str(pod, {"status", "reason"}).empty()) d.field(0, "Reason", str(pod, {"status", "reason"}));
    if (!str(pod, {"status", "message"}).empty()) d.field(0, "Message", str(pod, {"status", "message"}));
    d.field(0, "IP", str(pod, {"status", "podIP"}));
    const json &owners = at(pod, {"metadata", "ownerReferences"});
    if (owners.is_array() && !owners.empty())
        d.field(0, "Controlled By", str(owners[0], {"kind"}) + "/" + str(owners[0], {"name"}));
    d.text(0, "Containers:");
    const json &statuses = at(pod, {"status", "containerStatuses"});
    const json &containers = at(pod, {"spec", "containers"});
    if (containers.is_array())
        for (const json &c : containers) {
            json status;
            if (statuses.is_array())
                for (const json &s : statuses)
                    if (str(s, {"name"}) == str(c, {"name"})) status = s;
            container_fields(d, c, status);
        }
    const json &conditions = at(pod, {"status", "conditions"});
    std::string out = d.str();
    if (conditions.is_array() && !conditions.empty()) {
        std::vector<std::vector<std::string>> rows = {{"Type", "Status"}};
        for (const json &c : conditions) rows.push_back({str(c, {"type"}), str(c, {"status"})});
        out += "Conditions:\n";
        std::string table = render_table(rows);
        for (size_t start = 0; start < table.size();) {
            size_t nl = table.find('\n', start);
            out += "  " + table.substr(start, nl - start + 1);
            start = nl + 1;
        }
    }
    Describer tail;
    tail.field(0, "QoS Class", qos_class(containers));
    tail.field(0, "Restart Policy", str(pod, {"spec", "restartPolicy"}, "Always"));
    map_field(tail, 0, "Node-Selectors", at(pod, {"spec", "nodeSelector"}));
    tail.field(0, "Host Network", at(pod, {"spec", "hostNetwork"}) == true ? "true" : "false");
    out += tail.str();
    events_table(out, events);
    return out;
}

std::string describe_deployment(const json &dep, const json &events) {
    Describer d;
    d.field(0, "Name", str(dep, {"metadata", "name"}));
    d.field(0, "Namespace", str(dep, {"metadata", "namespace"}, "default"));
    d.field(0, "CreationTimestamp", time_text(str(dep, {"metadata", "creationTimestamp"})));
    map_field(d, 0, "Labels", at(dep, {"metadata", "labels"}));
    map_field(d, 0, "Annotations", at(dep, {"metadata", "annotations"}));
    std::string selector;
    const json &ml = at(dep, {"spec", "selector", "matchLabels"});
    if (ml.is_object())
        for (auto it = ml.begin(); it != ml.end(); ++it)
            selector += (selector.empty() ? "" : ",") + it.key() + "=" + (it.value().is_string() ? it.value().get<std::string>() : "");
    d.field(0, "Selector", selector);
    int64_t want = num(dep, {"spec", "replicas"}, 1);
    d.field(0, "Replicas", std::to_string(want) + " desired | " + std::to_string(num(dep, {"status", "updatedReplicas"})) +
                               " updated | " + std::to_string(num(dep, {"status", "replicas"})) + " total | " +
                               std::to_string(num(dep, {"status", "availableReplicas"})) + " available | " +
                               std::to_string(num(dep, {"status", "unavailableReplicas"})) + " unavailable");
    std::string strategy = str(dep, {"spec", "strategy", "type"}, "RollingUpdate");
    d.field(0, "StrategyType", strategy);
    d.field(0, "MinReadySeconds", std::to_string(num(dep, {"spec", "minReadySeconds"}, 0)));
    if (strategy == "RollingUpdate")
        d.field(0, "RollingUpdateStrategy",
                str(dep, {"spec", "strategy", "rollingUpdate", "maxUnavailable"}, "25%") + " max unavailable, " +
                    str(dep, {"spec", "strategy", "rollingUpdate", "maxSurge"}, "25%") + " max surge");
    d.text(0, "Pod Template:");
    map_field(d, 2, "Labels", at(dep, {"spec", "template", "metadata", "labels"}));
    d.text(2, "Containers:");
    std::string out = d.str();
    const json &containers = at(dep, {"spec", "template", "spec", "containers"});
    Describer cd;
    if (containers.is_array())
        for (const json &c : containers) container_fields(cd, c, json());
    std::string ctext = cd.str();
    for (size_t start = 0; start < ctext.size();) {  // one level deeper than a pod's
        size_t nl = ctext.find('\n', start);
        out += "  " + ctext.substr(start, nl - start + 1);
        start = nl + 1;
    }
    const json &conditions = at(dep, {"status", "conditions"});
    if (conditions.is_array() && !conditions.empty()) {
        std::vector<std::vector<std::string>> rows = {{"Type", "Status", "Reason"}, {"----", "------", "------"}};
        for (const json &c : conditions) rows.push_back({str(c, {"type"}), str(c, {"status"}), str(c, {"reason"})});
        out += "Conditions:\n";
        std::string table = render_table(rows);
        for (size_t start = 0; start < table.size();) {
            size_t nl = table.find('\n', start);
            out += "  " + table.substr(start, nl - start + 1);
            start = nl + 1;
        }
    }
    out += "NewReplicaSet:  " + none(str(dep, {"metadata", "annotations", "deployment.kubernetes.io/revision"}).empty()
                                         ? ""
                                         : "revision " + str(dep, {"metadata", "annotations", "deployment.kubernetes.io/revision"})) +
           "\n";
    events_table(out, events);
    return out;
}

} // namespace

int cmd_describe(const Context &ctx, const Args &args) {
    auto ref = parse_resource(args.positional);
    if (!ref) return fail(ref.error());
    if (ref->kind != Kind::pod && ref->kind != Kind::deployment) return fail("herd describes pods and deployments");
    std::vector<std::string> names = ref->names;
    if (names.empty()) {  // kubectl: every object of the kind (matching -l)
        std::map<std::string, std::string> selector;
        if (args.has("selector")) {
            auto sel = parse_selector(args.get("selector"));
            if (!sel) return fail(sel.error());
            selector = *sel;
        }
        auto items = get_objects(ctx, ref->kind, "", selector);
        if (!items) return fail(items.error());
        for (const json &i : *items) names.push_back(str(i, {"metadata", "name"}));
        if (names.empty()) {
            std::fprintf(stderr, "No resources found in %s namespace.\n", ctx.namespace_.c_str());
            return 0;
        }
    }
    int status = 0;
    for (size_t i = 0; i < names.size(); ++i) {
        auto resp = ask(ctx, {{"op", "describe"}, {"kind", singular(ref->kind)}, {"namespace", ctx.namespace_}, {"name", names[i]}});
        if (!resp) {
            status = fail(resp.error());
            continue;
        }
        const json &object = at(*resp, {"object"});
        if (!object.is_object()) {
            std::fprintf(stderr, "Error from server (NotFound): %s \"%s\" not found\n", plural(ref->kind).c_str(), names[i].c_str());
            status = 1;
            continue;
        }
        if (i) std::fputs("\n\n", stdout);
        std::string text = ref->kind == Kind::pod ? describe_pod(object, at(*resp, {"events"}))
                                                  : describe_deployment(object, at(*resp, {"events"}));
        std::fputs(text.c_str(), stdout);
    }
    return status;
}

} // namespace corral::herd::cli
