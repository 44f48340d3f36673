// registry.cpp — the distribution API client (registry.hpp).
//
// Why libcurl: HTTP/1.1 and 2, TLS with OpenSSL (CA bundles from memory,
// client certificates), proxies from the environment, redirects that drop
// credentials when they leave the host, and a multi interface that lets a
// layer's body be pulled chunk by chunk by the unpacker's reader, so a blob
// is never stored before it is unpacked.
#include "image/registry.hpp"

#include "common/fs.hpp"
#include "image/sha256.hpp"
#include "image/store.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace corral::image {

using json = nlohmann::json;

namespace {

constexpr const char *kManifestAccept =
    "Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

void curl_init_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string s) {
    for (char &c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    return s.substr(i);
}

std::string url_escape(const std::string &s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            char b[4];
            std::snprintf(b, sizeof b, "%%%02X", c);
            out += b;
        }
    }
    return out;
}

struct CurlDeleter {
    void operator()(CURL *c) const { curl_easy_cleanup(c); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;
struct SlistDeleter {
    void operator()(curl_slist *l) const { curl_slist_free_all(l); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

size_t header_cb(char *data, size_t size, size_t n, void *ud) {
    auto *resp = static_cast<HttpResponse *>(ud);
    std::string line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) resp->headers.clear(); // a new response (after a redirect or 100)
    auto colon = line.find(':');
    if (colon != std::string::npos) resp->headers[lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
    return size * n;
}

struct BodySink {
    std::string *body;
    uint64_t max;
    bool overflow = false;
};

size_t body_cb(char *data, size_t size, size_t n, void *ud) {
    auto *s = static_cast<BodySink *>(ud);
    if (s->body->size() + size * n > s->max) {
        s->overflow = true;
        return 0;
    }
    s->body->append(data, size * n);
    return size * n;
}

// "Bearer realm="...",service="...",scope="..."" -> scheme and parameters.
struct Challenge {
    std::string scheme;
    std::map<std::string, std::string> params;
};

Challenge parse_challenge(const std::string &text) {
    Challenge c;
    size_t i = text.find(' ');
    c.scheme = lower(text.substr(0, i));
    while (i != std::string::npos && i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
        size_t eq = text.find('=', i);
        if (eq == std::string::npos) break;
        std::string key = lower(trim(text.substr(i, eq - i)));
        std::string val;
        i = eq + 1;
        if (i < text.size() && text[i] == '"') {
            ++i;
            while (i < text.size() && text[i] != '"') {
                if (text[i] == '\\' && i + 1 < text.size()) ++i;
                val += text[i++];
            }
            ++i;
        } else {
            size_t end = text.find(',', i);
            val = trim(text.substr(i, end == std::string::npos ? std::string::npos : end - i));
            i = end;
        }
        c.params[key] = val;
    }
    return c;
}

std::string home_dir() {
    const char *h = std::getenv("HOME");
    return h && *h ? h : "/root";
}

// "registry.example", "https://index.docker.io/v1/" and "http://host:5000/v2"
// as auth.json keys all name a registry host.
std::string auth_key_host(std::string key) {
    for (const char *scheme : {"https://", "http://"})
        if (key.rfind(scheme, 0) == 0) key = key.substr(std::strlen(scheme));
    auto slash = key.find('/');
    std::string host = key.substr(0, slash);
    if (host == "index.docker.io" || host == "registry-1.docker.io") host = "docker.io";
    return host;
}

// The body's error list ({"errors":[{"code":..,"message":..}]}) as one line.
std::string registry_errors(const HttpResponse &r) {
    json j = json::parse(r.body, nullptr, false);
    std::string out;
    if (j.is_object() && j.contains("errors") && j["errors"].is_array())
        for (auto &e : j["errors"]) {
            if (!e.is_object()) continue;
            std::string code = e.value("code", ""), msg = e.value("message", "");
            out += (out.empty() ? "" : "; ") + (code.empty() ? msg : code + (msg.empty() ? "" : ": " + msg));
        }
    return out;
}

Error http_error(const std::string &what, const HttpResponse &r) {
    std::string detail = registry_errors(r);
    int err = r.status == 404 ? ENOENT : r.status == 401 || r.status == 403 ? EACCES : EIO;
    return Error(what + ": HTTP " + std::to_string(r.status) + (detail.empty() ? "" : " (" + detail + ")"), err);
}

} // namespace

// --- references --------------------------------------------------------------

std::string Reference::str() const {
    std::string s = name();
    if (!tag.empty()) s += ":" + tag;
    if (!digest.empty()) s += "@" + digest;
    return s;
}

Result<Reference> parse_reference(std::string_view input) {
    std::string text(input);
    for (const char *scheme : {"docker://", "//"})
        if (text.rfind(scheme, 0) == 0) text = text.substr(std::strlen(scheme));
    auto bad = [&](const std::string &why) { return Error("image reference `" + std::string(input) + "`: " + why, EINVAL); };
    if (text.empty()) return bad("empty");
    Reference r;
    if (auto at = text.find('@'); at != std::string::npos) {
        r.digest = text.substr(at + 1);
        text = text.substr(0, at);
        CORRAL_TRY_CTX(check_digest(r.digest, "digest"), "image reference `" + std::string(input) + "`");
    }
    auto slash = text.find('/');
    std::string first = text.substr(0, slash);
    if (slash != std::string::npos &&
        (first.find_first_of(".:") != std::string::npos || first == "localhost" ||
         first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos)) {
        r.registry = first;
        text = text.substr(slash + 1);
    } else {
        r.registry = "docker.io";
    }
    if (r.registry == "index.docker.io") r.registry = "docker.io";
    auto colon = text.rfind(':');
    if (colon != std::string::npos && text.find('/', colon) == std::string::npos) {
        r.tag = text.substr(colon + 1);
        text = text.substr(0, colon);
        if (r.tag.empty() || r.tag.size() > 128 ||
            r.tag.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != std::string::npos ||
            r.tag[0] == '.' || r.tag[0] == '-')
            return bad("invalid tag `" + r.tag + "`");
    }
    if (text.empty()) return bad("no repository name");
    if (text.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-/") != std::string::npos)
        return bad("repository `" + text + "` must be lower-case letters, digits and . _ - /");
    if (text.front() == '/' || text.back() == '/' || text.find("//") != std::string::npos)
        return bad("repository `" + text + "`: empty path component");
    if (r.registry == "docker.io" && text.find('/') == std::string::npos) text = "library/" + text;
    r.repository = text;
    if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
    return r;
}

std::string api_host(const std::string &registry) {
    return registry == "docker.io" ? "registry-1.docker.io" : registry;
}

// --- base64 ----------------------------------------------------------------------

std::string base64_encode(std::string_view in) {
    static const char *k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
    }
    if (i + 1 == in.size()) {
        uint32_t v = uint8_t(in[i]) << 16;
        out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
    } else if (i + 2 == in.size()) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
        out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
    }
    return out;
}

Result<std::string> base64_decode(std::string_view in) {
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        int v;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+' || c == '-') v = 62;
        else if (c == '/' || c == '_') v = 63;
        else if (c == '=' || c == '\n' || c == '\r') continue;
        else return Error("not base64", EINVAL);
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return out;
}

// --- credentials -------------------------------------------------------------------

Result<std::optional<Credentials>> find_credentials(const std::string &registry, const std::string &explicit_file) {
    std::vector<std::string> files;
    if (!explicit_file.empty()) {
        files.push_back(explicit_file);
    } else {
        if (const char *f = std::getenv("REGISTRY_AUTH_FILE"); f && *f) files.push_back(f);
        if (const char *x = std::getenv("XDG_RUNTIME_DIR"); x && *x) files.push_back(std::string(x) + "/containers/auth.json");
        else files.push_back("/run/containers/" + std::to_string(::getuid()) + "/auth.json");
        if (const char *d = std::getenv("DOCKER_CONFIG"); d && *d) files.push_back(std::string(d) + "/config.json");
        else files.push_back(home_dir() + "/.docker/config.json");
    }
    for (auto &f : files) {
        auto text = read_file(f);
        if (!text) {
            if (text.error().err() == ENOENT) continue;
            return std::move(text).error();
        }
        json j = json::parse(*text, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return Error(f + ": not valid JSON", EINVAL);
        auto auths = j.find("auths");
        if (auths == j.end() || !auths->is_object()) continue;
        for (auto &[key, entry] : auths->items()) {
            if (auth_key_host(key) != registry || !entry.is_object()) continue;
            std::string a = entry.value("auth", "");
            if (a.empty()) continue; // a credential helper's entry: not ours to run
            auto plain = base64_decode(a);
            auto colon = plain ? plain->find(':') : std::string::npos;
            if (colon == std::string::npos) return Error(f + ": auths." + key + ".auth: not base64 of user:password", EINVAL);
            return std::optional<Credentials>(Credentials{plain->substr(0, colon), plain->substr(colon + 1)});
        }
    }
    return std::optional<Credentials>();
}

std::string auth_file_for_writing(const std::string &explicit_file) {
    if (!explicit_file.empty()) return explicit_file;
    if (const char *f = std::getenv("REGISTRY_AUTH_FILE"); f && *f) return f;
    if (const char *x = std::getenv("XDG_RUNTIME_DIR"); x && *x) return std::string(x) + "/containers/auth.json";
    return "/run/containers/" + std::to_string(::getuid()) + "/auth.json";
}

// --- registries.conf -------------------------------------------------------------

namespace {

struct ConfRegistry {
    std::string prefix, location;
    bool insecure = false, blocked = false;
    struct Mirror {
        std::string location;
        bool insecure = false;
    };
    std::vector<Mirror> mirrors;
};

struct Conf {
    std::vector<ConfRegistry> registries;
    std::vector<std::string> v1_insecure;
};

std::string toml_string(const std::string &v) {
    std::string s = trim(v);
    if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) return s.substr(1, s.size() - 2);
    return s;
}

std::vector<std::string> toml_array(const std::string &v) {
    std::vector<std::string> out;
    std::string s = trim(v);
    if (s.empty() || s.front() != '[') return out;
    s = s.substr(1, s.find(']') == std::string::npos ? std::string::npos : s.find(']') - 1);
    size_t i = 0;
    while (i <= s.size()) {
        size_t j = s.find(',', i);
        std::string item = toml_string(s.substr(i, j == std::string::npos ? std::string::npos : j - i));
        if (!item.empty()) out.push_back(item);
        if (j == std::string::npos) break;
        i = j + 1;
    }
    return out;
}

// A line without its comment (a '#' outside quotes).
std::string strip_comment(const std::string &line) {
    char quote = 0;
    for (size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quote) {
            if (c == '\\' && quote == '"') ++i;
            else if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '#') {
            return line.substr(0, i);
        }
    }
    return line;
}

// The subset of TOML registries.conf files use: tables, arrays of tables,
// `key = "string" | true | false | [ "a", "b" ]` on one line, comments.
Status parse_conf(const std::string &path, const std::string &text, Conf &conf) {
    std::string table;
    size_t lineno = 0;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t nl = text.find('\n', pos);
        std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? text.size() + 1 : nl + 1;
        ++lineno;
        line = trim(strip_comment(line));
        if (line.empty()) continue;
        // A multi-line array: read on to its closing bracket.
        if (auto eq = line.find('='); eq != std::string::npos && trim(line.substr(eq + 1)).rfind("[", 0) == 0) {
            while (line.find(']') == std::string::npos && pos <= text.size()) {
                size_t nl2 = text.find('\n', pos);
                line += " " + trim(strip_comment(text.substr(pos, nl2 == std::string::npos ? std::string::npos : nl2 - pos)));
                pos = nl2 == std::string::npos ? text.size() + 1 : nl2 + 1;
                ++lineno;
            }
        }
        if (line.rfind("[[", 0) == 0) {
            table = trim(line.substr(2, line.find("]]") - 2));
            if (table == "registry") conf.registries.emplace_back();
            else if (table == "registry.mirror") {
                if (conf.registries.empty())
                    return Error(path + ":" + std::to_string(lineno) + ": [[registry.mirror]] before any [[registry]]", EINVAL);
                conf.registries.back().mirrors.emplace_back();
            }
            continue;
        }
        if (line.front() == '[') {
            table = trim(line.substr(1, line.find(']') - 1));
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string::npos) return Error(path + ":" + std::to_string(lineno) + ": expected key = value", EINVAL);
        std::string key = toml_string(line.substr(0, eq)), val = trim(line.substr(eq + 1));
        if (table == "registry" && !conf.registries.empty()) {
            auto &r = conf.registries.back();
            if (key == "location") r.location = toml_string(val);
            else if (key == "prefix") r.prefix = toml_string(val);
            else if (key == "insecure") r.insecure = val == "true";
            else if (key == "blocked") r.blocked = val == "true";
        } else if (table == "registry.mirror" && !conf.registries.empty()) {
            auto &m = conf.registries.back().mirrors.back();
            if (key == "location") m.location = toml_string(val);
            else if (key == "insecure") m.insecure = val == "true";
        } else if (table == "registries.insecure" && key == "registries") {
            for (auto &r : toml_array(val)) conf.v1_insecure.push_back(r);
        }
    }
    return ok();
}

Result<Conf> load_conf(const std::string &explicit_path) {
    Conf conf;
    std::vector<std::string> files;
    const char *env = std::getenv("CONTAINERS_REGISTRIES_CONF");
    if (!explicit_path.empty()) {
        files.push_back(explicit_path);
    } else if (env && *env) {
        files.push_back(env);
    } else {
        files.push_back("/etc/containers/registries.conf");
        if (DIR *d = ::opendir("/etc/containers/registries.conf.d")) {
            std::vector<std::string> names;
            while (dirent *e = ::readdir(d)) {
                std::string n = e->d_name;
                if (n.size() > 5 && n.compare(n.size() - 5, 5, ".conf") == 0) names.push_back(n);
            }
            ::closedir(d);
            std::sort(names.begin(), names.end());
            for (auto &n : names) files.push_back("/etc/containers/registries.conf.d/" + n);
        }
    }
    for (auto &f : files) {
        auto text = read_file(f);
        if (!text) {
            if (text.error().err() == ENOENT && explicit_path.empty()) continue;
            return std::move(text).error();
        }
        CORRAL_TRY(parse_conf(f, *text, conf));
    }
    return conf;
}

// Does `prefix` cover "registry/repository" (at a component boundary)?
bool prefix_matches(const std::string &prefix, const std::string &name) {
    if (prefix.empty()) return false;
    if (name.rfind(prefix, 0) != 0) return false;
    return name.size() == prefix.size() || name[prefix.size()] == '/' || prefix.back() == '/';
}

// "host:5000/some/prefix" -> host, path prefix.
std::pair<std::string, std::string> split_location(const std::string &loc) {
    auto slash = loc.find('/');
    if (slash == std::string::npos) return {loc, ""};
    return {loc.substr(0, slash), loc.substr(slash + 1)};
}

} // namespace

Result<std::vector<Endpoint>> endpoints_for(const Reference &ref, const RegistryOptions &opts) {
    Conf conf = CORRAL_TRY(load_conf(opts.registries_conf));
    std::string name = ref.name();
    const ConfRegistry *best = nullptr;
    size_t best_len = 0;
    for (auto &r : conf.registries) {
        std::string prefix = r.prefix.empty() ? r.location : r.prefix;
        if (prefix_matches(prefix, name) && prefix.size() >= best_len) best = &r, best_len = prefix.size();
    }
    if (best && best->blocked) return Error("registry " + ref.registry + " is blocked in registries.conf", EACCES);
    std::vector<Endpoint> out;
    // The rest of the name below the matched prefix moves to the new location.
    std::string rest = best ? name.substr(std::min(best_len, name.size())) : std::string();
    if (!rest.empty() && rest[0] == '/') rest = rest.substr(1);
    auto at = [&](const std::string &location, bool insecure, bool mirror) {
        auto [host, path] = split_location(location);
        std::string repo = path.empty() ? rest : rest.empty() ? path : path + "/" + rest;
        if (host == "docker.io" && repo.find('/') == std::string::npos) repo = "library/" + repo;
        out.push_back({host, repo, insecure, mirror});
    };
    if (best) {
        for (auto &m : best->mirrors) at(m.location, m.insecure, true);
        at(best->location.empty() ? best_len ? (best->prefix.empty() ? best->location : best->prefix) : name
                                  : best->location,
           best->insecure, false);
    } else {
        out.push_back({ref.registry, ref.repository, false, false});
    }
    bool v1_insecure = std::find(conf.v1_insecure.begin(), conf.v1_insecure.end(), ref.registry) != conf.v1_insecure.end();
    for (auto &e : out) {
        if (!e.mirror) {
            if (v1_insecure) e.insecure = true;
            if (opts.tls_verify >= 0) e.insecure = opts.tls_verify == 0;
        }
    }
    return out;
}

// --- the session ----------------------------------------------------------------

Session::~Session() = default;

std::string Session::base_url() const { return (use_http_ ? "http://" : "https://") + api_host(ep_.host); }

void Session::add_scope(const std::string &scope) {
    std::lock_guard lk(mu_);
    if (std::find(scopes_.begin(), scopes_.end(), scope) == scopes_.end()) {
        scopes_.push_back(scope);
        token_.clear(); // the next 401 fetches a token for all of them
    }
}

std::string Session::auth_header() const {
    std::lock_guard lk(mu_);
    if (!token_.empty()) return "Authorization: Bearer " + token_;
    if (basic_ && creds_) return "Authorization: Basic " + base64_encode(creds_->username + ":" + creds_->password);
    return "";
}

void Session::setup_tls(void *c) const {
    CURL *curl = static_cast<CURL *>(c);
    if (!verify_) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!ca_pem_.empty()) {
        curl_blob blob{const_cast<char *>(ca_pem_.data()), ca_pem_.size(), CURL_BLOB_NOCOPY};
        curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (!client_cert_.empty()) {
        curl_easy_setopt(curl, CURLOPT_SSLCERT, client_cert_.c_str());
        curl_easy_setopt(curl, CURLOPT_SSLKEY, client_key_.c_str());
    }
}

namespace {

void common_opts(CURL *curl) {
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "corral/" CORRAL_VERSION);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    // A connection that stalls for 30 s is cut (and a layer resumed).
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 8L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
}

} // namespace

Result<HttpResponse> Session::perform(const HttpRequest &req, const std::string &auth) {
    CurlPtr curl(curl_easy_init());
    if (!curl) return Error("curl_easy_init failed", ENOMEM);
    std::string url = req.path.rfind("http", 0) == 0 ? req.path : base_url() + req.path;
    HttpResponse resp;
    BodySink sink{&resp.body, req.max_body};
    SlistPtr headers;
    auto add = [&](const std::string &h) { headers.reset(curl_slist_append(headers.release(), h.c_str())); };
    for (auto &h : req.headers) add(h);
    if (!auth.empty()) add(auth);
    if (req.has_body && req.method != "GET") add("Expect:");
    common_opts(curl.get());
    setup_tls(curl.get());
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &resp);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &sink);
    if (req.method == "HEAD") {
        curl_easy_setopt(curl.get(), CURLOPT_NOBODY, 1L);
    } else if (req.method != "GET") {
        curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, req.method.c_str());
        curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, req.body.data());
        curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
    // Redirects of writes are not followed (an upload's body is not re-sent).
    if (req.method != "GET" && req.method != "HEAD") curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 0L);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, errbuf);
    ctx_.log.debug("registry: " + req.method + " " + url);
    CURLcode rc = curl_easy_perform(curl.get());
    if (sink.overflow) return Error(req.method + " " + url + ": the answer is larger than " + std::to_string(req.max_body) + " bytes", EFBIG);
    if (rc != CURLE_OK)
        return Error(req.method + " " + url + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(rc)), rc == CURLE_PEER_FAILED_VERIFICATION ? EPERM : EIO);
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &resp.status);
    return resp;
}

Status Session::answer_challenge(const std::string &text) {
    Challenge c = parse_challenge(text);
    if (c.scheme == "basic") {
        if (!creds_) return Error(ep_.host + ": authentication required (no credentials: `corral image login " + ep_.host + "`)", EACCES);
        std::lock_guard lk(mu_);
        if (basic_) return Error(ep_.host + ": the registry refused the credentials (wrong username or password?)", EACCES);
        basic_ = true;
        return ok();
    }
    if (c.scheme != "bearer") return Error(ep_.host + ": unsupported authentication scheme `" + c.scheme + "`", ENOTSUP);
    std::string realm = c.params["realm"];
    if (realm.rfind("https://", 0) != 0 && realm.rfind("http://", 0) != 0)
        return Error(ep_.host + ": token realm `" + realm + "` is not an http(s) URL", EINVAL);
    std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
    bool first = true;
    auto param = [&](const std::string &k, const std::string &v) {
        url += (first ? "" : "&") + k + "=" + url_escape(v);
        first = false;
    };
    if (c.params.count("service")) param("service", c.params["service"]);
    std::vector<std::string> scopes;
    {
        std::lock_guard lk(mu_);
        scopes = scopes_;
    }
    if (c.params.count("scope") && std::find(scopes.begin(), scopes.end(), c.params["scope"]) == scopes.end())
        scopes.push_back(c.params["scope"]);
    for (auto &s : scopes) param("scope", s);
    std::string auth;
    if (creds_) auth = "Authorization: Basic " + base64_encode(creds_->username + ":" + creds_->password);
    HttpRequest treq;
    treq.path = url;
    treq.max_body = 1u << 20;
    HttpResponse r = CORRAL_TRY_CTX(perform(treq, auth), ep_.host + ": token");
    if (r.status == 401 || r.status == 403)
        return Error(ep_.host + ": the token service refused the credentials" +
                         std::string(creds_ ? " (wrong username or password?)" : " (no credentials: `corral image login`)"),
                     EACCES);
    if (r.status != 200) return http_error(ep_.host + ": token " + realm, r);
    json j = json::parse(r.body, nullptr, false);
    std::string token = j.is_object() ? j.value("token", j.value("access_token", "")) : "";
    if (token.empty()) return Error(ep_.host + ": the token service's answer has no token", EINVAL);
    std::lock_guard lk(mu_);
    if (token_ == token) return Error(ep_.host + ": the registry refused its own token service's token", EACCES);
    token_ = token;
    return ok();
}

Result<HttpResponse> Session::request(HttpRequest req) {
    for (int attempt = 0;; ++attempt) {
        HttpResponse r = CORRAL_TRY(perform(req, auth_header()));
        if (r.status != 401 || attempt >= 2) return r;
        std::string challenge = r.header("www-authenticate");
        if (challenge.empty()) return r;
        CORRAL_TRY(answer_challenge(challenge));
    }
}

Result<Session::Manifest> Session::get_manifest(const std::string &tag_or_digest) {
    HttpRequest req;
    req.path = repo_path() + "/manifests/" + tag_or_digest;
    req.headers.push_back(kManifestAccept);
    req.max_body = 4u << 20;
    std::string what = "manifest " + reference().name() + (tag_or_digest.rfind("sha256:", 0) == 0 ? "@" : ":") + tag_or_digest;
    HttpResponse r = CORRAL_TRY_CTX(request(req), what);
    if (r.status == 404)
        return Error(what + ": not found in " + ep_.host + (registry_errors(r).empty() ? "" : " (" + registry_errors(r) + ")"),
                     ENOENT);
    if (r.status != 200) return http_error(what, r);
    Manifest m;
    m.body = std::move(r.body);
    m.digest = sha256_digest(m.body);
    if (tag_or_digest.rfind("sha256:", 0) == 0 && m.digest != tag_or_digest)
        return Error(what + ": digest mismatch: the registry's answer hashes to " + m.digest, EINVAL);
    m.media_type = r.header("content-type");
    if (auto semi = m.media_type.find(';'); semi != std::string::npos) m.media_type = trim(m.media_type.substr(0, semi));
    json j = json::parse(m.body, nullptr, false);
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string()) m.media_type = j["mediaType"];
    if (m.media_type.empty() || m.media_type == "application/json")
        m.media_type = j.is_object() && j.contains("manifests") ? "application/vnd.oci.image.index.v1+json"
                                                                : "application/vnd.oci.image.manifest.v1+json";
    if (m.media_type == "application/vnd.docker.distribution.manifest.v1+prettyjws" ||
        m.media_type == "application/vnd.docker.distribution.manifest.v1+json")
        return Error(what + ": Docker schema 1 manifests are not supported", ENOTSUP);
    return m;
}

// --- a layer as a stream ------------------------------------------------------------

// The body of GET /v2/REPO/blobs/DIGEST, pulled as the unpacker reads it
// (curl's multi interface, driven from read()). A transfer that ends before
// `size` bytes is resumed with `Range: bytes=N-` (up to 5 times); the
// unpacker's hashes cover every byte either way.
class HttpBlobStream : public BlobStream {
public:
    HttpBlobStream(Session &s, std::string digest, uint64_t size, std::string what)
        : s_(s), digest_(std::move(digest)), size_(size), what_(std::move(what)) {}
    ~HttpBlobStream() override { stop(); }

    Result<size_t> read(char *out, size_t n) override {
        for (;;) {
            if (off_ < buf_.size()) {
                size_t k = std::min(n, buf_.size() - off_);
                std::memcpy(out, buf_.data() + off_, k);
                off_ += k;
                if (off_ == buf_.size()) buf_.clear(), off_ = 0;
                return k;
            }
            if (!error_.empty()) return Error(error_, EIO);
            if (pos_ >= size_ && done_) return size_t(0);
            if (!multi_ || done_) {
                if (pos_ >= size_) return size_t(0);
                if (started_ && ++resumes_ > 5) return Error(what_ + ": the connection broke 6 times: " + last_cut_, EIO);
                CORRAL_TRY(start());
            }
            int running = 0;
            curl_multi_perform(multi_, &running);
            int left = 0;
            while (CURLMsg *m = curl_multi_info_read(multi_, &left)) {
                if (m->msg != CURLMSG_DONE) continue;
                CURLcode rc = m->data.result;
                done_ = true;
                if (!error_.empty()) break;
                if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR) {
                    last_cut_ = curl_easy_strerror(rc);
                    s_.ctx_.log.debug("registry: " + what_ + ": transfer broke after " + std::to_string(pos_) + " of " +
                                      std::to_string(size_) + " bytes (" + last_cut_ + "): resuming");
                } else if (rc == CURLE_OK && pos_ < size_) {
                    last_cut_ = "the answer ended early";
                } else if (rc == CURLE_OK && pos_ > size_) {
                    error_ = what_ + ": size mismatch: the registry sent more than the descriptor's " + std::to_string(size_) + " bytes";
                }
            }
            if (!done_ && off_ >= buf_.size() && running) curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
        }
    }

private:
    static size_t write_cb(char *data, size_t size, size_t n, void *ud) {
        auto *self = static_cast<HttpBlobStream *>(ud);
        size_t len = size * n;
        if (!self->checked_) {
            self->checked_ = true;
            long status = 0;
            curl_easy_getinfo(self->easy_, CURLINFO_RESPONSE_CODE, &status);
            curl_off_t cl = -1;
            curl_easy_getinfo(self->easy_, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
            if (status == 200 && self->pos_ > 0) {
                self->skip_ = self->pos_; // no Range support: skip what we have
            } else if (status != 200 && status != 206) {
                self->error_ = self->what_ + ": HTTP " + std::to_string(status) + " from " + self->s_.ep_.host;
                return 0;
            }
            uint64_t expect = status == 206 ? self->size_ - self->pos_ : self->size_;
            if (cl >= 0 && static_cast<uint64_t>(cl) != expect) {
                self->error_ = self->what_ + ": size mismatch: the descriptor says " + std::to_string(self->size_) +
                               " bytes, the registry sends " + std::to_string(status == 206 ? cl + self->pos_ : cl);
                return 0;
            }
        }
        size_t start = 0;
        if (self->skip_) {
            start = static_cast<size_t>(std::min<uint64_t>(self->skip_, len));
            self->skip_ -= start;
        }
        if (self->pos_ + (len - start) > self->size_) {
            self->error_ = self->what_ + ": size mismatch: the registry sent more than the descriptor's " +
                           std::to_string(self->size_) + " bytes";
            return 0;
        }
        self->buf_.append(data + start, len - start);
        self->pos_ += len - start;
        return len;
    }

    void stop() {
        if (multi_) {
            if (easy_) curl_multi_remove_handle(multi_, easy_);
            curl_multi_cleanup(multi_);
            multi_ = nullptr;
        }
        if (easy_) curl_easy_cleanup(easy_), easy_ = nullptr;
        headers_.reset();
    }

    Status start() {
        stop();
        started_ = true;
        done_ = false;
        checked_ = false;
        skip_ = 0;
        multi_ = curl_multi_init();
        easy_ = curl_easy_init();
        if (!multi_ || !easy_) return Error("curl init failed", ENOMEM);
        std::string url = s_.base_url() + s_.repo_path() + "/blobs/" + digest_;
        std::string auth = s_.auth_header();
        if (!auth.empty()) headers_.reset(curl_slist_append(headers_.release(), auth.c_str()));
        if (pos_ > 0) {
            std::string range = "Range: bytes=" + std::to_string(pos_) + "-";
            headers_.reset(curl_slist_append(headers_.release(), range.c_str()));
            s_.ctx_.log.debug("registry: " + what_ + ": GET " + url + " from byte " + std::to_string(pos_));
        } else {
            s_.ctx_.log.debug("registry: GET " + url);
        }
        common_opts(easy_);
        s_.setup_tls(easy_);
        curl_easy_setopt(easy_, CURLOPT_URL, url.c_str());
        curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_.get());
        curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
        curl_multi_add_handle(multi_, easy_);
        return ok();
    }

    Session &s_;
    std::string digest_;
    uint64_t size_;
    std::string what_;
    CURLM *multi_ = nullptr;
    CURL *easy_ = nullptr;
    SlistPtr headers_;
    std::string buf_;
    size_t off_ = 0;
    uint64_t pos_ = 0, skip_ = 0;
    bool started_ = false, done_ = false, checked_ = false;
    int resumes_ = 0;
    std::string error_, last_cut_;
};

std::shared_ptr<BlobStream> Session::blob_stream(const std::string &digest, uint64_t size, const std::string &what) {
    return std::make_shared<HttpBlobStream>(*this, digest, size, what);
}

// --- opening a session -------------------------------------------------------------

namespace {

// certs.d/<host[:port]>/: *.crt are CAs, NAME.cert + NAME.key a client certificate.
struct CertDir {
    std::string ca_pem, cert, key;
};

Result<CertDir> read_cert_dirs(const std::string &host, const std::string &explicit_dir) {
    std::vector<std::string> dirs;
    if (!explicit_dir.empty()) dirs.push_back(explicit_dir);
    else dirs = {"/etc/containers/certs.d/" + host, "/etc/docker/certs.d/" + host};
    CertDir out;
    for (auto &dir : dirs) {
        DIR *d = ::opendir(dir.c_str());
        if (!d) {
            if (errno == ENOENT && explicit_dir.empty()) continue;
            return Error::from_errno(errno, "open certificate directory", dir);
        }
        std::vector<std::string> names;
        while (dirent *e = ::readdir(d)) names.emplace_back(e->d_name);
        ::closedir(d);
        std::sort(names.begin(), names.end());
        for (auto &n : names) {
            auto ends = [&](const char *ext) {
                return n.size() > std::strlen(ext) && n.compare(n.size() - std::strlen(ext), std::string::npos, ext) == 0;
            };
            if (ends(".crt")) {
                out.ca_pem += CORRAL_TRY(read_file(dir + "/" + n)) + "\n";
            } else if (ends(".cert") && out.cert.empty()) {
                std::string key = dir + "/" + n.substr(0, n.size() - 5) + ".key";
                if (!path_exists(key)) return Error("client certificate " + dir + "/" + n + " has no key " + key, ENOENT);
                out.cert = dir + "/" + n;
                out.key = key;
            }
        }
    }
    return out;
}

bool tls_failure(const Error &e) {
    return e.message().find("SSL") != std::string::npos || e.message().find("TLS") != std::string::npos ||
           e.message().find("wrong version number") != std::string::npos;
}

} // namespace

Result<std::shared_ptr<Session>> open_session(const Context &ctx, const Reference &ref, const RegistryOptions &opts,
                                              const std::string &actions) {
    curl_init_once();
    std::vector<Endpoint> eps = CORRAL_TRY(endpoints_for(ref, opts));
    std::string errors;
    for (size_t i = 0; i < eps.size(); ++i) {
        const Endpoint &ep = eps[i];
        std::shared_ptr<Session> s(new Session(ctx));
        s->ref_ = ref;
        s->ep_ = ep;
        s->verify_ = !ep.insecure;
        CertDir certs = CORRAL_TRY(read_cert_dirs(ep.host, opts.cert_dir));
        if (!certs.ca_pem.empty()) {
            auto sys = read_file("/etc/ssl/certs/ca-certificates.crt");
            s->ca_pem_ = (sys ? *sys + "\n" : std::string()) + certs.ca_pem;
        }
        s->client_cert_ = certs.cert;
        s->client_key_ = certs.key;
        if (!opts.username.empty() || !opts.password.empty())
            s->creds_ = Credentials{opts.username, opts.password};
        else
            s->creds_ = CORRAL_TRY(find_credentials(ep.mirror ? ep.host : ref.registry, opts.auth_file));
        if (!ep.repository.empty() && !actions.empty()) s->scopes_.push_back("repository:" + ep.repository + ":" + actions);
        for (auto &from : opts.mount_from) s->scopes_.push_back("repository:" + from + ":pull");
        // Ping /v2/: the registry answers (200 or 401) and its challenge is
        // answered now, so that layers stream with a token already.
        HttpRequest ping;
        ping.path = "/v2/";
        auto r = s->request(ping);
        // Insecure: https without verification first, then plain http
        // whatever failed (containers/image does the same).
        if (!r && ep.insecure && r.error().err() != EACCES) {
            ctx.log.debug("registry " + ep.host + ": TLS failed (" + r.error().message() + "), trying http (insecure)");
            s->use_http_ = true;
            r = s->request(ping);
        }
        if (r && (r->status == 200 || r->status == 401 || r->status == 403)) {
            if (r->status != 200) {
                if (i + 1 < eps.size()) {
                    errors += (errors.empty() ? "" : "; ") + ep.host + ": HTTP " + std::to_string(r->status);
                    continue;
                }
                std::string how = s->creds_ ? "wrong username or password?" : "no credentials: `corral image login " + ref.registry + "`";
                return Error(ep.host + ": the registry refused the credentials (" + how + ")", EACCES);
            }
            if (ep.mirror) ctx.log.debug("registry: using mirror " + ep.host + " for " + ref.str());
            return s;
        }
        std::string why = r ? "HTTP " + std::to_string(r->status) + " from /v2/" : r.error().message();
        if (!r && !ep.insecure && tls_failure(r.error()))
            why += " (a registry without TLS must be configured insecure: --tls-verify=false or registries.conf)";
        if (!r && r.error().err() == EACCES) return std::move(r).error();
        errors += (errors.empty() ? "" : "; ") + ep.host + ": " + why;
    }
    return Error("registry " + ref.registry + ": " + errors, EIO);
}

// --- a repository as SourceFiles --------------------------------------------------

namespace {

Result<UniqueFd> memfd_with(const std::string &data, const std::string &what) {
    int fd = ::memfd_create("corral-blob", MFD_CLOEXEC);
    if (fd < 0) return Error::from_errno(errno, "memfd_create for", what);
    UniqueFd u(fd);
    CORRAL_TRY(write_all(fd, data, what));
    return u;
}

class RegistryFiles : public SourceFiles {
public:
    RegistryFiles(std::shared_ptr<Session> s, const Reference &ref) : s_(std::move(s)), ref_(ref) {
        path_ = ref.str();
    }

    Status init() {
        Session::Manifest m = CORRAL_TRY(s_->get_manifest(ref_.tag_or_digest()));
        json idx = {{"schemaVersion", 2},
                    {"manifests", json::array({{{"mediaType", m.media_type}, {"digest", m.digest}, {"size", m.body.size()}}})}};
        if (!ref_.tag.empty()) idx["manifests"][0]["annotations"] = {{"org.opencontainers.image.ref.name", ref_.tag}};
        CORRAL_TRY(put("index.json", idx.dump()));
        CORRAL_TRY(put("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
        return learn(m.digest, m.body);
    }

    Result<BlobRange> find(const std::string &name) const override {
        std::lock_guard lk(mu_);
        if (auto it = files_.find(name); it != files_.end()) return BlobRange{it->second, 0, sizes_.at(name), {}};
        if (name.rfind("blobs/sha256/", 0) != 0) return Error(ref_.str() + ": no " + name, ENOENT);
        std::string digest = "sha256:" + name.substr(13);
        auto kind = kinds_.find(digest);
        if (kind == kinds_.end()) return Error(ref_.str() + ": blob " + digest + " is not named by its manifests", ENOENT);
        if (kind->second.first == 'l') {
            BlobRange r;
            r.length = kind->second.second;
            r.stream = s_->blob_stream(digest, r.length, "blob " + digest);
            return r;
        }
        // Manifests and configs: small, fetched whole (checked by read_blob).
        std::string body;
        if (kind->second.first == 'm') {
            auto m = s_->get_manifest(digest);
            if (!m) return std::move(m).error();
            body = std::move(m->body);
            const_cast<RegistryFiles *>(this)->learn_locked(digest, body);
        } else {
            HttpRequest req;
            req.path = s_->repo_path() + "/blobs/" + digest;
            req.max_body = 16u << 20;
            auto r = s_->request(req);
            if (!r) return std::move(r).error().context("image config " + digest);
            if (r->status != 200) return http_error("image config " + digest, *r);
            body = std::move(r->body);
        }
        auto fd = memfd_with(body, digest);
        if (!fd) return std::move(fd).error();
        auto shared = std::make_shared<const UniqueFd>(std::move(*fd));
        files_[name] = shared;
        sizes_[name] = body.size();
        return BlobRange{shared, 0, body.size(), {}};
    }

private:
    Status put(const std::string &name, const std::string &data) {
        UniqueFd fd = CORRAL_TRY(memfd_with(data, name));
        files_[name] = std::make_shared<const UniqueFd>(std::move(fd));
        sizes_[name] = data.size();
        return ok();
    }
    Status learn(const std::string &digest, const std::string &body) {
        std::lock_guard lk(mu_);
        learn_locked(digest, body);
        auto fd = memfd_with(body, digest);
        if (!fd) return std::move(fd).error();
        std::string name = "blobs/sha256/" + digest_hex(digest);
        files_[name] = std::make_shared<const UniqueFd>(std::move(*fd));
        sizes_[name] = body.size();
        return ok();
    }
    // What the digests a manifest or index names are: child manifests ('m'),
    // configs ('c'), layers ('l', with their sizes).
    void learn_locked(const std::string &, const std::string &body) const {
        json j = json::parse(body, nullptr, false);
        if (!j.is_object()) return;
        auto note = [&](const json &d, char kind) {
            if (d.is_object() && d.contains("digest") && d["digest"].is_string())
                kinds_[d["digest"].get<std::string>()] = {kind, d.value("size", uint64_t(0))};
        };
        if (j.contains("manifests") && j["manifests"].is_array())
            for (auto &d : j["manifests"]) note(d, 'm');
        if (j.contains("config")) note(j["config"], 'c');
        if (j.contains("layers") && j["layers"].is_array())
            for (auto &d : j["layers"]) note(d, 'l');
    }

    std::shared_ptr<Session> s_;
    Reference ref_;
    mutable std::mutex mu_;
    mutable std::map<std::string, std::shared_ptr<const UniqueFd>> files_;
    mutable std::map<std::string, uint64_t> sizes_;
    mutable std::map<std::string, std::pair<char, uint64_t>> kinds_;
};

} // namespace

Result<std::unique_ptr<SourceFiles>> open_registry_files(std::shared_ptr<Session> session, const Reference &ref) {
    auto files = std::make_unique<RegistryFiles>(std::move(session), ref);
    CORRAL_TRY(files->init());
    return std::unique_ptr<SourceFiles>(std::move(files));
}

} // namespace corral::image
