// registry.hpp — the OCI distribution API v2 client under `corral image
// pull/push/login/logout` (libcurl; docs/image.md "Registries").
//
//   Reference   "busybox" -> docker.io/library/busybox:latest (docker's short names)
//   Endpoints   where to talk to for a reference: registries.conf mirrors
//               first, then the registry; https, or http for one configured
//               insecure; CAs and client certificates from certs.d
//   Session     one registry endpoint: requests with the credentials of the
//               auth files, Basic or Bearer as the registry's 401 challenge
//               asks, tokens kept per scope
//   RegistryFiles  a SourceFiles over one repository: resolve_image() reads
//               an index.json made of the tag's manifest, manifests and
//               configs (fetched whole, checked by their digests) and layers
//               as streams (fetched while they unpack, resumed with Range
//               after a cut, never stored twice)
#pragma once

#include "corral/context.hpp"
#include "corral/error.hpp"
#include "corral/image.hpp"
#include "image/source.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace corral::image {

struct Reference {
    std::string registry;   // "docker.io", "127.0.0.1:5000"
    std::string repository; // "library/busybox"
    std::string tag;        // "latest" when neither tag nor digest is given
    std::string digest;     // "sha256:..."
    // "docker.io/library/busybox:latest", "host/repo@sha256:..."
    std::string str() const;
    std::string name() const { return registry + "/" + repository; }
    std::string tag_or_digest() const { return digest.empty() ? tag : digest; }
};

// Docker's rules: a first component with a '.' or ':' or equal to
// "localhost" is a registry, else docker.io; on docker.io a one-component
// name is in library/. Upper case in the repository is an error.
Result<Reference> parse_reference(std::string_view text);

// The registry's API host: docker.io is registry-1.docker.io.
std::string api_host(const std::string &registry);

// Credentials from the auth files (auth.json / docker's config.json):
// $REGISTRY_AUTH_FILE (or `explicit_file`), ${XDG_RUNTIME_DIR}/containers/auth.json,
// ~/.docker/config.json; the first file naming the registry wins.
struct Credentials {
    std::string username, password;
    bool empty() const { return username.empty() && password.empty(); }
};
Result<std::optional<Credentials>> find_credentials(const std::string &registry, const std::string &explicit_file);
// The file login writes and logout edits: `explicit_file`, else
// $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json, else
// /run/containers/UID/auth.json (podman's choices).
std::string auth_file_for_writing(const std::string &explicit_file);

std::string base64_encode(std::string_view in);
Result<std::string> base64_decode(std::string_view in);

// One place to talk to: a registry or one of its mirrors.
struct Endpoint {
    std::string host;        // host[:port] as the URL has it
    std::string repository;  // the repository there (a mirror's prefix may differ)
    bool insecure = false;   // http, or https without verification
    bool mirror = false;
};

// registries.conf (v2 `[[registry]]` tables with `location`, `prefix`,
// `insecure`, `blocked` and `[[registry.mirror]]`, and v1's
// `[registries.insecure] registries = [...]`): the endpoints to try for a
// reference, mirrors first. `tls_verify` (the --tls-verify flag), when set,
// overrides `insecure` for the registry itself.
Result<std::vector<Endpoint>> endpoints_for(const Reference &ref, const RegistryOptions &opts);

class Session;

// Open a session with the registry of `ref` (the first endpoint that
// answers /v2/). `actions` is "pull" or "pull,push".
Result<std::shared_ptr<Session>> open_session(const Context &ctx, const Reference &ref, const RegistryOptions &opts,
                                              const std::string &actions);

struct HttpResponse {
    long status = 0;
    std::map<std::string, std::string> headers; // lower-case names
    std::string body;
    std::string header(const std::string &name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

struct HttpRequest {
    std::string method = "GET";
    std::string path;          // "/v2/..." or an absolute URL (upload locations)
    std::vector<std::string> headers;
    std::string body;
    bool has_body = false;
    uint64_t max_body = 16u << 20; // a longer answer is an error
};

class Session {
public:
    ~Session();
    // A request with the session's credentials; a 401 is answered once
    // (Basic or Bearer, as its challenge says).
    Result<HttpResponse> request(HttpRequest req);
    // A blob as a stream of `size` bytes (for the layer unpacker).
    std::shared_ptr<BlobStream> blob_stream(const std::string &digest, uint64_t size, const std::string &what);
    // A manifest (any of the four media types) by tag or digest: its bytes
    // and media type; by digest they are checked against it.
    struct Manifest {
        std::string body, media_type, digest;
    };
    Result<Manifest> get_manifest(const std::string &tag_or_digest);
    const Endpoint &endpoint() const { return ep_; }
    std::string base_url() const;
    std::string repo_path() const { return "/v2/" + ep_.repository; }
    // Scopes a token has to cover ("repository:a/b:pull,push" ...).
    void add_scope(const std::string &scope);
    const Reference &reference() const { return ref_; }

private:
    friend Result<std::shared_ptr<Session>> open_session(const Context &, const Reference &, const RegistryOptions &,
                                                         const std::string &);
    friend class HttpBlobStream;
    Session(const Context &ctx) : ctx_(ctx) {}
    Result<HttpResponse> perform(const HttpRequest &req, const std::string &auth_header);
    Status answer_challenge(const std::string &challenge);
    void setup_tls(void *curl) const;
    std::string auth_header() const;

    const Context &ctx_;
    Reference ref_;
    Endpoint ep_;
    bool use_http_ = false;
    bool verify_ = true;
    std::string ca_pem_;                 // system CAs + certs.d's *.crt ("" = curl's default)
    std::string client_cert_, client_key_;
    std::optional<Credentials> creds_;
    std::vector<std::string> scopes_;
    mutable std::mutex mu_;
    std::string token_;                  // Bearer
    bool basic_ = false;                 // the registry asked for Basic
};

// The pieces of one repository as a SourceFiles for resolve_image(): the
// reference's manifest is index.json's one entry (tagged with the tag).
Result<std::unique_ptr<SourceFiles>> open_registry_files(std::shared_ptr<Session> session, const Reference &ref);

} // namespace corral::image
