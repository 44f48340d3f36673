// herd/inventory.cpp — reading and writing the pool's inventory (inventory.hpp).
#include "herd/inventory.hpp"

#include "common/fs.hpp"
#include "herd/manifest.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace corral::herd {
namespace {

const std::vector<std::string> kTopFields = {"apiVersion", "kind", "nodes"};
const std::vector<std::string> kNodeFields = {"name", "ssh", "identityFile", "proxyJump", "knownHostsFile",
                                              "hostKeyPolicy", "labels", "taints", "reserved", "binDir",
                                              "stateDir", "cgroupRoot", "sourceDir"};
const std::vector<std::string> kTaintFields = {"key", "value", "effect"};
const std::vector<std::string> kReservedFields = {"cpu", "memory"};

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cur = row[j];
            bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (same ? 0 : 1)});
            prev = cur;
        }
    }
    return row[b.size()];
}

// ` (did you mean "identityFile"?)` for a near miss, else nothing.
std::string hint(std::string_view field, const std::vector<std::string> &known) {
    std::string best;
    size_t best_d = 3;  // at most two edits away
    for (const std::string &k : known) {
        size_t d = edit_distance(field, k);
        if (d < best_d) best_d = d, best = k;
    }
    return best.empty() ? std::string() : " (did you mean \"" + best + "\"?)";
}

// DNS-1123 subdomain, as Kubernetes node names.
bool valid_node_name(const std::string &s) {
    if (s.empty() || s.size() > 253) return false;
    size_t label_len = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '.') {
            if (label_len == 0 || s[i - 1] == '-') return false;
            label_len = 0;
            continue;
        }
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-') return false;
        if (label_len == 0 && c == '-') return false;
        if (++label_len > 63) return false;
    }
    return s.back() != '-' && s.back() != '.';
}

// A label key: [prefix/]name, as Kubernetes (prefix a DNS subdomain, name
// 1-63 of [A-Za-z0-9-_.], alphanumeric at both ends).
bool valid_label_name(std::string_view n) {
    if (n.empty() || n.size() > 63) return false;
    auto an = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
    if (!an(n.front()) || !an(n.back())) return false;
    return std::all_of(n.begin(), n.end(), [&](char c) { return an(c) || c == '-' || c == '_' || c == '.'; });
}
bool valid_label_key(const std::string &k) {
    size_t slash = k.find('/');
    if (slash == std::string::npos) return valid_label_name(k);
    std::string prefix = k.substr(0, slash);
    bool lower = std::all_of(prefix.begin(), prefix.end(), [](char c) { return !std::isupper(static_cast<unsigned char>(c)); });
    return lower && valid_node_name(prefix) && valid_label_name(std::string_view(k).substr(slash + 1));
}
bool valid_label_value(const std::string &v) { return v.empty() || valid_label_name(v); }

class Parser {
public:
    explicit Parser(std::string path) : path_(std::move(path)) {}

    Error error(const YAML::Node &at, const std::string &node, const std::string &field, const std::string &what) const {
        std::string msg = path_;
        if (at.IsDefined() && at.Mark().line >= 0) msg += ":" + std::to_string(at.Mark().line + 1);
        msg += ": ";
        if (!node.empty()) msg += "node \"" + node + "\": ";
        if (!field.empty()) msg += field + ": ";
        msg += what;
        return Error(ErrorKind::invalid, msg, 0, path_);
    }

    // A string scalar (numbers and booleans as written are accepted: YAML
    // reads `port: 22` either way).
    Result<std::string> scalar(const YAML::Node &v, const std::string &node, const std::string &field) const {
        if (!v.IsScalar()) return error(v, node, field, "must be a string");
        return v.Scalar();
    }

    Status known_fields(const YAML::Node &map, const std::vector<std::string> &known, const std::string &node,
                        const std::string &where) const {
        for (const auto &kv : map) {
            if (!kv.first.IsScalar()) return error(kv.first, node, where, "a field name must be a string");
            const std::string &k = kv.first.Scalar();
            if (std::find(known.begin(), known.end(), k) == known.end()) {
                std::string field = where.empty() ? k : where + "." + k;
                return error(kv.first, node, field, "unknown field" + hint(k, known));
            }
        }
        return ok();
    }

    Result<InventoryNode> node(const YAML::Node &y, size_t index) const {
        std::string label = "nodes[" + std::to_string(index) + "]";
        if (!y.IsMap()) return error(y, "", label, "must be a mapping with name and ssh");
        InventoryNode n;
        n.line = y.Mark().line >= 0 ? y.Mark().line + 1 : 0;
        // The name first, so every later error names the node.
        std::string who;
        if (YAML::Node v = y["name"]; v) {
            n.name = CORRAL_TRY(scalar(v, "", label + ".name"));
            if (!valid_node_name(n.name))
                return error(v, "", label + ".name",
                             "\"" + n.name + "\" is not a valid node name (lower-case letters, digits, '-' and '.', "
                             "starting and ending with a letter or digit, at most 253)");
            who = n.name;
        } else {
            return error(y, "", label + ".name", "required");
        }
        CORRAL_TRY(known_fields(y, kNodeFields, who, ""));

        YAML::Node ssh = y["ssh"];
        if (!ssh) return error(y, who, "ssh", "required: [user@]host[:port] or a Host alias of ~/.ssh/config");
        n.ssh = CORRAL_TRY(scalar(ssh, who, "ssh"));
        auto dest = parse_ssh_destination(n.ssh);
        if (!dest) return error(ssh, who, "ssh", dest.error().message());
        n.dest = *dest;

        auto str = [&](const char *field, std::string &out) -> Status {
            if (YAML::Node v = y[field]; v) {
                out = CORRAL_TRY(scalar(v, who, field));
                if (out.empty()) return error(v, who, field, "must not be empty");
            }
            return ok();
        };
        CORRAL_TRY(str("identityFile", n.identity_file));
        CORRAL_TRY(str("proxyJump", n.proxy_jump));
        CORRAL_TRY(str("knownHostsFile", n.known_hosts_file));
        CORRAL_TRY(str("sourceDir", n.source_dir));
        for (auto [field, out] : {std::pair{"binDir", &n.bin_dir}, {"stateDir", &n.state_dir}, {"cgroupRoot", &n.cgroup_root}}) {
            CORRAL_TRY(str(field, *out));
            if ((*out)[0] != '/') return error(y[field], who, field, "must be an absolute path, got \"" + *out + "\"");
            if (out->find_first_of(" \t\n'\"\\$`;&|<>*?") != std::string::npos)
                return error(y[field], who, field, "must be a plain path (no spaces or shell characters), got \"" + *out + "\"");
        }
        if (!n.proxy_jump.empty() && n.proxy_jump.find_first_of(" \t\n") != std::string::npos)
            return error(y["proxyJump"], who, "proxyJump", "must be [user@]host[:port][,...] without spaces");

        if (YAML::Node v = y["hostKeyPolicy"]; v) {
            std::string p = CORRAL_TRY(scalar(v, who, "hostKeyPolicy"));
            if (p == "strict") n.host_key_policy = HostKeyPolicy::strict;
            else if (p == "accept-new") n.host_key_policy = HostKeyPolicy::accept_new;
            else return error(v, who, "hostKeyPolicy", "must be strict or accept-new, got \"" + p + "\"");
        }

        if (YAML::Node v = y["labels"]; v && !v.IsNull()) {
            if (!v.IsMap()) return error(v, who, "labels", "must be a mapping of key: value");
            for (const auto &kv : v) {
                std::string k = CORRAL_TRY(scalar(kv.first, who, "labels"));
                std::string val = CORRAL_TRY(scalar(kv.second, who, "labels." + k));
                if (!valid_label_key(k)) return error(kv.first, who, "labels." + k, "not a valid label key");
                if (!valid_label_value(val))
                    return error(kv.second, who, "labels." + k, "\"" + val + "\" is not a valid label value");
                n.labels[k] = val;
            }
        }

        if (YAML::Node v = y["taints"]; v && !v.IsNull()) {
            if (!v.IsSequence()) return error(v, who, "taints", "must be a list of {key, value, effect}");
            for (size_t i = 0; i < v.size(); ++i) {
                YAML::Node t = v[i];
                std::string where = "taints[" + std::to_string(i) + "]";
                if (!t.IsMap()) return error(t, who, where, "must be a mapping {key, value, effect}");
                CORRAL_TRY(known_fields(t, kTaintFields, who, where));
                InventoryTaint taint;
                if (!t["key"]) return error(t, who, where + ".key", "required");
                taint.key = CORRAL_TRY(scalar(t["key"], who, where + ".key"));
                if (!valid_label_key(taint.key))
                    return error(t["key"], who, where + ".key", "\"" + taint.key + "\" is not a valid taint key");
                if (t["value"]) taint.value = CORRAL_TRY(scalar(t["value"], who, where + ".value"));
                if (!valid_label_value(taint.value))
                    return error(t["value"], who, where + ".value", "\"" + taint.value + "\" is not a valid taint value");
                if (!t["effect"]) return error(t, who, where + ".effect", "required: NoSchedule, PreferNoSchedule or NoExecute");
                taint.effect = CORRAL_TRY(scalar(t["effect"], who, where + ".effect"));
                if (taint.effect != "NoSchedule" && taint.effect != "PreferNoSchedule" && taint.effect != "NoExecute")
                    return error(t["effect"], who, where + ".effect",
                                 "must be NoSchedule, PreferNoSchedule or NoExecute, got \"" + taint.effect + "\"");
                n.taints.push_back(taint);
            }
        }

        if (YAML::Node v = y["reserved"]; v && !v.IsNull()) {
            if (!v.IsMap()) return error(v, who, "reserved", "must be a mapping {cpu, memory}");
            CORRAL_TRY(known_fields(v, kReservedFields, who, "reserved"));
            if (YAML::Node c = v["cpu"]; c) {
                std::string s = CORRAL_TRY(scalar(c, who, "reserved.cpu"));
                auto m = parse_cpu_millis(s);
                if (!m || *m < 0) return error(c, who, "reserved.cpu", "\"" + s + "\" is not a CPU quantity (500m, 1, 1.5)");
                n.reserved_cpu_millis = *m;
            }
            if (YAML::Node mem = v["memory"]; mem) {
                std::string s = CORRAL_TRY(scalar(mem, who, "reserved.memory"));
                auto b = parse_memory_bytes(s);
                if (!b || *b < 0)
                    return error(mem, who, "reserved.memory", "\"" + s + "\" is not a memory quantity (256Mi, 1Gi, 500M)");
                n.reserved_memory_bytes = *b;
            }
        }
        return n;
    }

    Result<Inventory> parse(const std::string &text) const {
        YAML::Node root;
        try {
            root = YAML::Load(text);
        } catch (const YAML::ParserException &e) {
            return Error(ErrorKind::invalid,
                         path_ + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg, 0, path_);
        }
        Inventory inv;
        inv.path = path_;
        if (!root || root.IsNull()) return error(root, "", "nodes", "the file is empty: it needs a list of nodes");
        if (!root.IsMap()) return error(root, "", "", "must be a mapping with a `nodes` list");
        CORRAL_TRY(known_fields(root, kTopFields, "", ""));
        if (YAML::Node k = root["kind"]; k) {
            std::string kind = CORRAL_TRY(scalar(k, "", "kind"));
            if (kind != "Inventory") return error(k, "", "kind", "must be Inventory, got \"" + kind + "\"");
        }
        if (YAML::Node a = root["apiVersion"]; a) {
            std::string api = CORRAL_TRY(scalar(a, "", "apiVersion"));
            if (api != "herd.io/v1") return error(a, "", "apiVersion", "must be herd.io/v1, got \"" + api + "\"");
        }
        YAML::Node nodes = root["nodes"];
        if (!nodes || nodes.IsNull()) return inv;  // an empty pool: nodes are added by `herd node add`
        if (!nodes.IsSequence()) return error(nodes, "", "nodes", "must be a list");
        std::set<std::string> names;
        for (size_t i = 0; i < nodes.size(); ++i) {
            InventoryNode n = CORRAL_TRY(node(nodes[i], i));
            if (!names.insert(n.name).second)
                return error(nodes[i]["name"], n.name, "name", "a second node of this name (names are unique)");
            inv.nodes.push_back(std::move(n));
        }
        return inv;
    }

private:
    std::string path_;
};

std::string quote(const std::string &s) {
    // Plain when nothing YAML could misread; double-quoted otherwise.
    bool plain = !s.empty() && s.find_first_of(":#{}[],&*!|>'\"%@`\\ \t\n") == std::string::npos && s != "true" &&
                 s != "false" && s != "null" && s != "yes" && s != "no" && s != "~" &&
                 !std::isdigit(static_cast<unsigned char>(s[0])) && s[0] != '-';
    if (plain) return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out + "\"";
}

std::string millis_text(int64_t m) { return m % 1000 == 0 ? std::to_string(m / 1000) : std::to_string(m) + "m"; }

std::string bytes_text(int64_t b) {
    const char *units[] = {"Ki", "Mi", "Gi", "Ti"};
    std::string suffix;
    for (const char *u : units) {
        if (b == 0 || b % 1024 != 0) break;
        b /= 1024;
        suffix = u;
    }
    return std::to_string(b) + suffix;
}

} // namespace

const InventoryNode *Inventory::find(std::string_view name) const {
    for (const InventoryNode &n : nodes)
        if (n.name == name) return &n;
    return nullptr;
}

Result<SshDestination> parse_ssh_destination(const std::string &text) {
    SshDestination d;
    if (text.empty()) return Error(ErrorKind::invalid, "must not be empty");
    if (text.find_first_of(" \t\n'\"\\$`;&|<>*?") != std::string::npos)
        return Error(ErrorKind::invalid, "\"" + text + "\" holds spaces or shell characters");
    if (text.rfind("ssh://", 0) == 0) return Error(ErrorKind::invalid, "write \"" + text.substr(6) + "\", without ssh://");
    std::string rest = text;
    size_t at = rest.rfind('@');
    if (at != std::string::npos) {
        d.user = rest.substr(0, at);
        rest = rest.substr(at + 1);
        if (d.user.empty()) return Error(ErrorKind::invalid, "\"" + text + "\": empty user before @");
    }
    std::string port;
    if (!rest.empty() && rest[0] == '[') {
        size_t close = rest.find(']');
        if (close == std::string::npos) return Error(ErrorKind::invalid, "\"" + text + "\": no ] after an IPv6 address");
        d.host = rest.substr(1, close - 1);
        std::string after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') return Error(ErrorKind::invalid, "\"" + text + "\": after ] only :port may follow");
            port = after.substr(1);
            if (port.empty()) return Error(ErrorKind::invalid, "\"" + text + "\": empty port after ':'");
        }
    } else {
        size_t colon = rest.find(':');
        if (colon != std::string::npos) {
            if (rest.find(':', colon + 1) != std::string::npos)
                return Error(ErrorKind::invalid, "\"" + text + "\": an IPv6 address goes in brackets: [addr]:port");
            d.host = rest.substr(0, colon);
            port = rest.substr(colon + 1);
            if (port.empty()) return Error(ErrorKind::invalid, "\"" + text + "\": empty port after ':'");
        } else {
            d.host = rest;
        }
    }
    if (d.host.empty()) return Error(ErrorKind::invalid, "\"" + text + "\": no host");
    if (d.host[0] == '-') return Error(ErrorKind::invalid, "\"" + text + "\": a host cannot start with '-'");
    if (!port.empty()) {
        if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return Error(ErrorKind::invalid, "\"" + text + "\": port \"" + port + "\" is not a number");
        d.port = std::stoi(port);
        if (d.port < 1 || d.port > 65535) return Error(ErrorKind::invalid, "\"" + text + "\": port " + port + " is out of 1-65535");
    }
    return d;
}

Result<Inventory> parse_inventory(const std::string &text, const std::string &path) {
    return Parser(path).parse(text);
}

Result<Inventory> load_inventory(const std::string &path) {
    if (!path_exists(path))
        return Error(ErrorKind::not_found, "no inventory " + path + " (herd node add NAME --ssh DEST makes one)", ENOENT, path);
    std::string text = CORRAL_TRY(read_file(path).context("read inventory"));
    return parse_inventory(text, path);
}

std::string inventory_to_yaml(const Inventory &inv) {
    InventoryNode defaults;
    std::string out = "# herd inventory (docs/herd-pool.md)\nnodes:";
    if (inv.nodes.empty()) return out + " []\n";
    out += "\n";
    for (const InventoryNode &n : inv.nodes) {
        out += "  - name: " + quote(n.name) + "\n";
        out += "    ssh: " + quote(n.ssh) + "\n";
        auto opt = [&](const char *field, const std::string &v, const std::string &def) {
            if (v != def) out += std::string("    ") + field + ": " + quote(v) + "\n";
        };
        opt("identityFile", n.identity_file, "");
        opt("proxyJump", n.proxy_jump, "");
        opt("knownHostsFile", n.known_hosts_file, "");
        if (n.host_key_policy == HostKeyPolicy::accept_new) out += "    hostKeyPolicy: accept-new\n";
        opt("binDir", n.bin_dir, defaults.bin_dir);
        opt("stateDir", n.state_dir, defaults.state_dir);
        opt("cgroupRoot", n.cgroup_root, defaults.cgroup_root);
        opt("sourceDir", n.source_dir, "");
        if (!n.labels.empty()) {
            out += "    labels:\n";
            for (const auto &[k, v] : n.labels) out += "      " + quote(k) + ": " + (v.empty() ? "\"\"" : quote(v)) + "\n";
        }
        if (!n.taints.empty()) {
            out += "    taints:\n";
            for (const InventoryTaint &t : n.taints) {
                out += "      - key: " + quote(t.key) + "\n";
                if (!t.value.empty()) out += "        value: " + quote(t.value) + "\n";
                out += "        effect: " + t.effect + "\n";
            }
        }
        if (n.reserved_cpu_millis || n.reserved_memory_bytes) {
            out += "    reserved:\n";
            if (n.reserved_cpu_millis) out += "      cpu: " + quote(millis_text(n.reserved_cpu_millis)) + "\n";
            if (n.reserved_memory_bytes) out += "      memory: " + quote(bytes_text(n.reserved_memory_bytes)) + "\n";
        }
    }
    return out;
}

Status save_inventory(const Inventory &inv) {
    return write_file_atomic(inv.path, inventory_to_yaml(inv), 0644).context("write inventory " + inv.path);
}

Status check_new_node(const Inventory &inv, const InventoryNode &node) {
    if (!valid_node_name(node.name))
        return Error(ErrorKind::invalid, "\"" + node.name + "\" is not a valid node name (lower-case letters, digits, "
                                         "'-' and '.', starting and ending with a letter or digit)");
    if (inv.find(node.name))
        return Error(ErrorKind::already_exists, "node \"" + node.name + "\" is in " + inv.path + " already");
    for (const auto &[k, v] : node.labels) {
        if (!valid_label_key(k)) return Error(ErrorKind::invalid, "label \"" + k + "\": not a valid label key");
        if (!valid_label_value(v)) return Error(ErrorKind::invalid, "label \"" + k + "\": \"" + v + "\" is not a valid value");
    }
    return ok();
}

} // namespace corral::herd
