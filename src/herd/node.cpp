// herd/node.cpp — NodeHandle (the non-blocking link to one agent), what a
// node reports, pod subnets, and the v1/Node object (see node.hpp).
#include "herd/node.hpp"

#include "herd/manifest.hpp"
#include "herd/node_info.hpp"
#include "herd/status.hpp"

#include <arpa/inet.h>

#include <ctime>

namespace corral::herd {

Status NodeHandle::connect() {
    if (client_) return ok();
    auto c = connect_();
    if (!c) {
        Error e = std::move(c).error().context("node " + name_);
        // Whatever the cause, the node cannot be reached.
        if (!e.is(ErrorKind::unavailable)) e.with_kind(ErrorKind::transport);
        return e;
    }
    client_ = std::move(*c);
    return ok();
}

void NodeHandle::fail_all(Error e) {
    client_.reset();
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto &p : pending) p.done(Error(e));
}

void NodeHandle::deliver(Result<std::string> line) {
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    if (line) {
        rtt_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - p.sent).count();
    }
    Result<json> r = line ? parse_response_line(*line, "node " + name_)
                          : Result<json>(line.error().is(ErrorKind::transport)
                                             ? std::move(line).error().context("node " + name_)
                                             : Error(ErrorKind::transport, "node " + name_ + ": answer too long"));
    bool broken = !r && r.error().is(ErrorKind::transport);
    Error copy = broken ? r.error() : Error();
    if (!r && !broken) r.error().context("node " + name_);
    p.done(std::move(r));
    if (broken) fail_all(std::move(copy));
}

void NodeHandle::submit(const json &request, Done done) {
    if (auto st = connect(); !st) return done(std::move(st).error());
    LineChannel *ch = client_->channel();
    if (!ch) {  // a client that answers at once
        auto sent = std::chrono::steady_clock::now();
        auto r = call(request);
        rtt_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent).count();
        return done(std::move(r));
    }
    ch->queue_line(to_line(request));
    pending_.push_back({std::move(done), deadline_in(timeout_), std::chrono::steady_clock::now()});
    if (auto st = ch->write_available(); !st) fail_all(std::move(st).error().context("node " + name_));
}

size_t NodeHandle::add_poll_fds(std::vector<pollfd> &fds) {
    LineChannel *ch = client_ ? client_->channel() : nullptr;
    if (!ch || pending_.empty()) return 0;
    fds.push_back({ch->in_fd(), POLLIN, 0});
    if (!ch->wants_write()) return 1;
    fds.push_back({ch->out_fd(), POLLOUT, 0});
    return 2;
}

void NodeHandle::pump(const pollfd *mine, size_t n) {
    LineChannel *ch = client_ ? client_->channel() : nullptr;
    if (!ch || n == 0) return;
    short rev = 0;
    for (size_t i = 0; i < n; ++i) rev |= mine[i].revents;
    if (rev & POLLOUT) {
        if (auto st = ch->write_available(); !st) return fail_all(std::move(st).error().context("node " + name_));
    }
    if (!(rev & (POLLIN | POLLHUP | POLLERR))) return;
    if (auto st = ch->read_available(); !st) return fail_all(std::move(st).error().context("node " + name_));
    // Callbacks may submit more: take one answer at a time.
    while (client_ && !pending_.empty()) {
        auto line = client_->channel()->next_line();
        if (!line) break;
        deliver(std::move(*line));
    }
    if (client_ && client_->channel()->eof() && !pending_.empty())
        fail_all(Error(ErrorKind::transport, "node " + name_ + ": the agent closed the connection"));
}

void NodeHandle::expire(Deadline now) {
    if (!pending_.empty() && pending_.front().deadline <= now)
        fail_all(Error(ErrorKind::transport, "node " + name_ + ": no answer within " +
                                                 std::to_string(timeout_.count() / 1000) + " s"));
}

std::optional<Deadline> NodeHandle::next_deadline() const {
    if (pending_.empty()) return std::nullopt;
    return pending_.front().deadline;
}

Result<json> NodeHandle::call(const json &request) {
    // Answers to requests in flight come first, in order.
    while (client_ && client_->channel() && !pending_.empty())
        deliver(client_->channel()->receive_line(pending_.front().deadline));
    CORRAL_TRY(connect());
    auto r = client_->call(request);
    if (!r) {
        // An {"ok": false} answer keeps the connection (over ssh a new one
        // would be a new session); only a broken channel is dropped, and
        // the next call connects again.
        if (r.error().is(ErrorKind::transport)) client_.reset();
        return std::move(r).error().context("node " + name_);
    }
    return r;
}

// --- what a node says of itself ----------------------------------------------------

NodeFacts node_facts_from_ping(const nlohmann::json &ping) {
    NodeFacts f;
    auto text = [](const nlohmann::json &j, const char *k) {
        return j.is_object() && j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
    };
    auto number = [](const nlohmann::json &j, const char *k) -> std::optional<int64_t> {
        if (j.is_object() && j.contains(k) && j[k].is_number_integer()) return j[k].get<int64_t>();
        return std::nullopt;
    };
    f.version = text(ping, "version");
    f.pods = number(ping, "pods").value_or(0);
    if (!ping.is_object() || !ping.contains("node_info") || !ping["node_info"].is_object()) return f;
    const nlohmann::json &i = ping["node_info"];
    f.cpu_millis = number(i, "cpu_millis");
    f.memory_bytes = number(i, "memory_bytes");
    f.architecture = text(i, "architecture");
    f.kernel_version = text(i, "kernel_version");
    f.os_image = text(i, "os_image");
    f.pod_cidr = text(i, "pod_cidr");
    return f;
}

namespace {

// Quantities as the API server prints them: "2", "1500m"; "8039892Ki".
std::string cpu_text(int64_t millis) {
    return millis % 1000 == 0 ? std::to_string(millis / 1000) : std::to_string(millis) + "m";
}
std::string memory_text(int64_t bytes) {
    return bytes % 1024 == 0 ? std::to_string(bytes / 1024) + "Ki" : std::to_string(bytes);
}

struct Cidr {
    uint32_t base = 0;
    int prefix = 0;
};

std::string cidr_text(uint32_t base, int prefix) {
    in_addr a{};
    a.s_addr = htonl(base);
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &a, buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(prefix);
}

Result<Cidr> parse_cidr(const std::string &text) {
    size_t slash = text.find('/');
    if (slash == std::string::npos) return Error(ErrorKind::invalid, "\"" + text + "\": not a CIDR (a.b.c.d/n)");
    in_addr a{};
    std::string ip = text.substr(0, slash), bits = text.substr(slash + 1);
    if (::inet_pton(AF_INET, ip.c_str(), &a) != 1 || bits.empty() || bits.size() > 2 ||
        bits.find_first_not_of("0123456789") != std::string::npos)
        return Error(ErrorKind::invalid, "\"" + text + "\": not an IPv4 CIDR (a.b.c.d/n)");
    Cidr c;
    c.prefix = std::stoi(bits);
    if (c.prefix > 32) return Error(ErrorKind::invalid, "\"" + text + "\": prefix longer than 32 bits");
    c.base = ntohl(a.s_addr);
    uint32_t m = c.prefix == 0 ? 0 : ~uint32_t(0) << (32 - c.prefix);
    if (c.base & ~m) return Error(ErrorKind::invalid, "\"" + text + "\": host bits set (did you mean " +
                                                        cidr_text(c.base & m, c.prefix) + "?)");
    return c;
}

} // namespace

std::map<std::string, std::string> node_labels(const NodeHandle &n) {
    std::map<std::string, std::string> l = n.labels;
    l["kubernetes.io/hostname"] = n.name();
    l["kubernetes.io/os"] = "linux";
    l["kubernetes.io/arch"] = n.facts.architecture.empty() ? local_architecture() : n.facts.architecture;
    return l;
}

Status check_cluster_cidr(const std::string &cluster_cidr, int mask) {
    auto c = parse_cidr(cluster_cidr);
    if (!c) return std::move(c).error().context("cluster CIDR");
    if (mask < c->prefix || mask > 30)
        return Error(ErrorKind::invalid, "node CIDR mask size " + std::to_string(mask) + ": must be between " +
                                             std::to_string(c->prefix) + " (the cluster CIDR's) and 30");
    return ok();
}

Result<std::string> allocate_pod_cidr(const std::string &cluster_cidr, int mask, const std::set<std::string> &taken) {
    CORRAL_TRY(check_cluster_cidr(cluster_cidr, mask));
    Cidr c = *parse_cidr(cluster_cidr);
    uint64_t count = uint64_t(1) << (mask - c.prefix);
    uint64_t step = uint64_t(1) << (32 - mask);
    for (uint64_t i = 0; i < count; ++i) {
        std::string s = cidr_text(uint32_t(c.base + i * step), mask);
        if (!taken.count(s)) return s;
    }
    return Error(ErrorKind::unavailable, "cluster CIDR " + cluster_cidr + ": every /" + std::to_string(mask) +
                                             " is handed out already");
}

// --- the v1/Node object ----------------------------------------------------------------

nlohmann::json node_object(const NodeHandle &n, int64_t now_ms, int64_t grace_ms, const NodeUsage &usage) {
    // Ready while the agent answered list_pods within the grace period; after
    // it, Unknown (kubectl: NotReady), as the node lifecycle controller says
    // of a kubelet that stopped posting its status.
    bool fresh = n.reachable && now_ms - n.last_heartbeat * 1000 <= grace_ms;
    std::string status = fresh ? "True" : (n.last_heartbeat ? "Unknown" : "False");
    std::string why = n.reachable ? "no answer for " + std::to_string((now_ms / 1000 - n.last_heartbeat)) + " s"
                                  : n.last_error;
    nlohmann::json cond = {{"type", "Ready"},
                           {"status", status},
                           {"reason", fresh ? "KubeletReady" : "NodeStatusUnknown"},
                           {"message", fresh ? "herd agent is posting ready status" : "herd agent does not answer: " + why},
                           {"lastHeartbeatTime", n.last_heartbeat ? rfc3339(n.last_heartbeat) : ""}};
    nlohmann::json labels = nlohmann::json::object();
    for (const auto &[k, v] : node_labels(n)) labels[k] = v;
    nlohmann::json capacity = nlohmann::json::object();
    if (n.facts.cpu_millis) capacity["cpu"] = cpu_text(*n.facts.cpu_millis);
    if (n.facts.memory_bytes) capacity["memory"] = memory_text(*n.facts.memory_bytes);
    nlohmann::json spec = nlohmann::json::object();
    if (!n.pod_cidr.empty()) {
        spec["podCIDR"] = n.pod_cidr;
        spec["podCIDRs"] = nlohmann::json::array({n.pod_cidr});
    }
    nlohmann::json herd = {{"address", n.address()},
                           {"lastContact", n.last_heartbeat ? rfc3339(n.last_heartbeat) : ""},
                           {"allocated", {{"cpu", cpu_text(usage.cpu_millis)}, {"memory", memory_text(usage.memory_bytes)}}},
                           {"pods", usage.pods}};
    if (n.rtt_ms >= 0) herd["rttMillis"] = n.rtt_ms;
    if (!n.facts.pod_cidr.empty()) herd["agentPodCIDR"] = n.facts.pod_cidr;
    return {{"apiVersion", "v1"},
            {"kind", "Node"},
            {"metadata", {{"name", n.name()}, {"creationTimestamp", rfc3339(n.created)}, {"labels", labels}}},
            {"spec", spec},
            {"status",
             {{"conditions", nlohmann::json::array({cond})},
              {"capacity", capacity},
              {"allocatable", capacity},
              {"addresses", nlohmann::json::array({{{"type", "Hostname"}, {"address", n.name()}}})},
              {"nodeInfo",
               {{"kubeletVersion", n.facts.version.empty() ? "herd" : "herd-" + n.facts.version},
                {"operatingSystem", "linux"},
                {"architecture", labels["kubernetes.io/arch"]},
                {"kernelVersion", n.facts.kernel_version},
                {"osImage", n.facts.os_image},
                {"containerRuntimeVersion", "corral"}}},
              {"pods", n.facts.pods},
              {"herd", herd}}}};
}

} // namespace corral::herd
