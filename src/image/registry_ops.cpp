// registry_ops.cpp — `corral image push`, `login` and `logout` over the
// registry client (registry.hpp). `pull` is in image.cpp, beside the other
// operations that fill the store.
#include "corral/image.hpp"

#include "common/fs.hpp"
#include "image/registry.hpp"
#include "image/sha256.hpp"
#include "image/source.hpp"
#include "image/store.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <unistd.h>

namespace corral::image {

using json = nlohmann::json;

namespace {

constexpr uint64_t kManifestLimit = 4u << 20;

bool is_index(const std::string &t) {
    return t == "application/vnd.oci.image.index.v1+json" || t == "application/vnd.docker.distribution.manifest.list.v2+json";
}

std::string blob_name(const std::string &digest) { return "blobs/sha256/" + digest_hex(digest); }

// "/v2/..?_state=x" or "https://host/v2/..": an upload location plus a query parameter.
std::string with_param(const std::string &location, const std::string &param) {
    return location + (location.find('?') == std::string::npos ? "?" : "&") + param;
}

class Pusher {
public:
    Pusher(const Context &ctx, const SourceFiles &files, Session &s, const RegistryOptions &ropts)
        : ctx_(ctx), files_(files), s_(s), ropts_(ropts) {}

    // Push what `desc` names (an index: its manifests first), the manifest
    // itself last, under `tag` (or its digest).
    Status push_node(const json &desc, const std::string &tag, int depth) {
        if (depth > 8) return Error("image index nested too deeply", ELOOP);
        std::string digest = desc.value("digest", ""), type = desc.value("mediaType", "");
        CORRAL_TRY(check_digest(digest, "descriptor"));
        std::string body = CORRAL_TRY(read_small(digest, desc.value("size", uint64_t(0)), "manifest"));
        json m = json::parse(body, nullptr, false);
        if (!m.is_object()) return Error("manifest " + digest + ": not a JSON object", EINVAL);
        if (type.empty()) type = m.value("mediaType", m.contains("manifests") ? "application/vnd.oci.image.index.v1+json"
                                                                               : "application/vnd.oci.image.manifest.v1+json");
        if (is_index(type)) {
            if (!m.contains("manifests") || !m["manifests"].is_array()) return Error("image index " + digest + ": no manifests", EINVAL);
            for (auto &child : m["manifests"]) CORRAL_TRY(push_node(child, "", depth + 1));
        } else {
            if (!m.contains("config")) return Error("manifest " + digest + ": no config", EINVAL);
            CORRAL_TRY(push_blob(m["config"], "config"));
            if (m.contains("layers") && m["layers"].is_array()) {
                size_t i = 0;
                for (auto &l : m["layers"])
                    CORRAL_TRY(push_blob(l, "layer " + std::to_string(++i) + "/" + std::to_string(m["layers"].size())));
            }
        }
        HttpRequest put;
        put.method = "PUT";
        put.path = s_.repo_path() + "/manifests/" + (tag.empty() ? digest : tag);
        put.headers.push_back("Content-Type: " + type);
        put.body = body;
        put.has_body = true;
        HttpResponse r = CORRAL_TRY_CTX(s_.request(put), "manifest " + digest);
        if (r.status != 201 && r.status != 200) return http_error_of("put manifest " + digest, r);
        ctx_.log.debug("push: manifest " + digest + (tag.empty() ? "" : " as " + tag));
        return ok();
    }

    size_t uploaded = 0, existing = 0, mounted = 0;

private:
    Error http_error_of(const std::string &what, const HttpResponse &r) {
        json j = json::parse(r.body, nullptr, false);
        std::string detail;
        if (j.is_object() && j.contains("errors") && j["errors"].is_array())
            for (auto &e : j["errors"])
                if (e.is_object()) detail += (detail.empty() ? "" : "; ") + e.value("code", "") + ": " + e.value("message", "");
        return Error(what + ": HTTP " + std::to_string(r.status) + (detail.empty() ? "" : " (" + detail + ")"),
                     r.status == 401 || r.status == 403 ? EACCES : EIO);
    }

    Result<std::string> read_small(const std::string &digest, uint64_t size, const std::string &what) {
        BlobRange r = CORRAL_TRY_CTX(files_.find(blob_name(digest)), what + " " + digest + " is not in " + files_.path());
        if (r.length != size)
            return Error(what + " " + digest + ": size mismatch: the descriptor says " + std::to_string(size) +
                             " bytes, the blob has " + std::to_string(r.length),
                         EINVAL);
        std::string data = CORRAL_TRY(read_range(r, kManifestLimit, what + " " + digest));
        if (sha256_digest(data) != digest) return Error(what + " " + digest + ": digest mismatch in " + files_.path(), EINVAL);
        return data;
    }

    Result<std::string> read_chunk(const BlobRange &r, uint64_t off, uint64_t len, const std::string &what) {
        std::string buf(len, '\0');
        uint64_t done = 0;
        while (done < len) {
            ssize_t n = ::pread(r.fd->get(), buf.data() + done, len - done, static_cast<off_t>(r.offset + off + done));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return Error::from_errno(errno, "read", what);
            if (n == 0) return Error(what + ": truncated", EIO);
            done += static_cast<uint64_t>(n);
        }
        return buf;
    }

    std::string absolute(const std::string &location) {
        if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) return location;
        return s_.base_url() + location;
    }

    Status push_blob(const json &desc, const std::string &what_kind) {
        std::string digest = desc.value("digest", "");
        uint64_t size = desc.value("size", uint64_t(0));
        CORRAL_TRY(check_digest(digest, what_kind));
        std::string what = what_kind + " " + digest;
        HttpRequest head;
        head.method = "HEAD";
        head.path = s_.repo_path() + "/blobs/" + digest;
        HttpResponse h = CORRAL_TRY_CTX(s_.request(head), what);
        if (h.status == 200) {
            ctx_.log.debug("push: " + what + " exists");
            ++existing;
            return ok();
        }
        BlobRange blob = CORRAL_TRY_CTX(files_.find(blob_name(digest)), what + " is not in " + files_.path());
        if (blob.length != size)
            return Error(what + ": size mismatch: the descriptor says " + std::to_string(size) + " bytes, " + files_.path() +
                             " has " + std::to_string(blob.length),
                         EINVAL);
        std::string location;
        for (auto &from : ropts_.mount_from) {
            HttpRequest post;
            post.method = "POST";
            post.path = s_.repo_path() + "/blobs/uploads/?mount=" + digest + "&from=" + from;
            post.has_body = true;
            HttpResponse r = CORRAL_TRY_CTX(s_.request(post), what);
            if (r.status == 201) {
                ctx_.log.debug("push: " + what + " mounted from " + from);
                ++mounted;
                return ok();
            }
            if (r.status == 202) {
                location = r.header("location"); // not there: an upload instead
                break;
            }
        }
        if (location.empty()) {
            HttpRequest post;
            post.method = "POST";
            post.path = s_.repo_path() + "/blobs/uploads/";
            post.has_body = true;
            HttpResponse r = CORRAL_TRY_CTX(s_.request(post), what);
            if (r.status != 202) return http_error_of("start upload of " + what, r);
            location = r.header("location");
        }
        if (location.empty()) return Error(what + ": the registry gave no upload location", EIO);
        uint64_t chunk = ropts_.chunk_size ? ropts_.chunk_size : (32ull << 20);
        HttpRequest put;
        put.method = "PUT";
        put.has_body = true;
        put.headers.push_back("Content-Type: application/octet-stream");
        if (size <= chunk) {
            ctx_.log.debug("push: " + what + ": monolithic upload of " + std::to_string(size) + " bytes");
            put.body = CORRAL_TRY(read_chunk(blob, 0, size, what));
        } else {
            ctx_.log.debug("push: " + what + ": chunked upload of " + std::to_string(size) + " bytes");
            for (uint64_t off = 0; off < size; off += chunk) {
                uint64_t len = std::min(chunk, size - off);
                HttpRequest patch;
                patch.method = "PATCH";
                patch.path = absolute(location);
                patch.has_body = true;
                patch.headers.push_back("Content-Type: application/octet-stream");
                patch.headers.push_back("Content-Range: " + std::to_string(off) + "-" + std::to_string(off + len - 1));
                patch.body = CORRAL_TRY(read_chunk(blob, off, len, what));
                HttpResponse r = CORRAL_TRY_CTX(s_.request(patch), what);
                if (r.status != 202) return http_error_of("upload chunk at " + std::to_string(off) + " of " + what, r);
                if (auto l = r.header("location"); !l.empty()) location = l;
            }
        }
        put.path = absolute(with_param(location, "digest=" + digest));
        HttpResponse r = CORRAL_TRY_CTX(s_.request(put), what);
        if (r.status != 201) return http_error_of("finish upload of " + what, r);
        ++uploaded;
        return ok();
    }

    const Context &ctx_;
    const SourceFiles &files_;
    Session &s_;
    const RegistryOptions &ropts_;
};

Result<json> read_auth_file(const std::string &path) {
    auto text = read_file(path);
    if (!text) {
        if (text.error().err() == ENOENT) return json{{"auths", json::object()}};
        return std::move(text).error();
    }
    json j = json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Error(path + ": not valid JSON", EINVAL);
    if (!j.contains("auths") || !j["auths"].is_object()) j["auths"] = json::object();
    return j;
}

// "https://host:5000/v2/" or "host:5000" -> "host:5000".
std::string registry_of(std::string text) {
    for (const char *scheme : {"https://", "http://"})
        if (text.rfind(scheme, 0) == 0) text = text.substr(std::string(scheme).size());
    text = text.substr(0, text.find('/'));
    if (text == "index.docker.io" || text == "registry-1.docker.io") text = "docker.io";
    return text;
}

} // namespace

Result<std::string> push(const Context &ctx, const std::string &source, const std::string &ref_text, const Options &opts,
                         const RegistryOptions &ropts) {
    Reference ref = CORRAL_TRY_CTX(parse_reference(ref_text), "push");
    std::string what = "push " + ref.str();
    auto sref = parse_source_ref(source);
    if (!sref)
        return Error(what + ": `" + source +
                         "` is not an OCI layout or archive (images in the store keep unpacked layers, not their blobs: "
                         "push from a layout or an archive)",
                     ENOENT);
    Store store = CORRAL_TRY(Store::open(opts.store)); // a compressed archive spools into its tmp/
    UniqueFd lock = CORRAL_TRY(store.lock(false));
    auto files = CORRAL_TRY(open_source_files(sref->path, store.tmp()));
    auto index_file = files->find("index.json");
    if (!index_file) return Error(what + ": " + sref->path + " has no index.json (push takes OCI layouts and oci-archives)", EINVAL);
    json index = json::parse(CORRAL_TRY(read_range(*index_file, kManifestLimit, "index.json")), nullptr, false);
    if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array())
        return Error(what + ": " + sref->path + ": index.json has no manifests", EINVAL);
    std::vector<json> chosen;
    std::string tags;
    for (auto &d : index["manifests"]) {
        std::string t;
        if (d.contains("annotations") && d["annotations"].is_object())
            t = d["annotations"].value("org.opencontainers.image.ref.name", "");
        if (!t.empty()) tags += (tags.empty() ? "" : ", ") + t;
        if (!sref->sel.digest.empty() ? d.value("digest", "") == sref->sel.digest
                                      : sref->sel.tag.empty() || t == sref->sel.tag)
            chosen.push_back(d);
    }
    if (chosen.empty())
        return Error(what + ": " + sref->path + ": no image " +
                         (sref->sel.digest.empty() ? "tagged `" + sref->sel.tag + "`" : sref->sel.digest) + " (tags: " +
                         (tags.empty() ? "none" : tags) + ")",
                     ENOENT);
    if (chosen.size() > 1)
        return Error(what + ": " + sref->path + " holds " + std::to_string(chosen.size()) + " images: choose one with :TAG (tags: " +
                         tags + ")",
                     EINVAL);
    auto session = CORRAL_TRY_CTX(open_session(ctx, ref, ropts, "pull,push"), what);
    Pusher pusher(ctx, *files, *session, ropts);
    CORRAL_TRY_CTX(pusher.push_node(chosen[0], ref.digest.empty() ? ref.tag : "", 0), what);
    std::string digest = chosen[0].value("digest", "");
    if (!ref.digest.empty() && ref.digest != digest)
        return Error(what + ": the image's digest is " + digest + ", not the reference's " + ref.digest, EINVAL);
    ctx.log.debug("push: " + std::to_string(pusher.uploaded) + " blobs uploaded, " + std::to_string(pusher.existing) +
                  " already there, " + std::to_string(pusher.mounted) + " mounted");
    return digest;
}

Status login(const Context &ctx, const std::string &registry_text, const RegistryOptions &ropts) {
    std::string registry = registry_of(registry_text);
    if (registry.empty()) return Error("login: no registry given", EINVAL);
    if (ropts.username.empty()) return Error("login " + registry + ": no username (--username)", EINVAL);
    if (ropts.password.empty()) return Error("login " + registry + ": no password (--password or --password-stdin)", EINVAL);
    Reference ref;
    ref.registry = registry;
    CORRAL_TRY_CTX(open_session(ctx, ref, ropts, ""), "login " + registry);
    std::string path = auth_file_for_writing(ropts.auth_file);
    json j = CORRAL_TRY(read_auth_file(path));
    j["auths"][registry] = {{"auth", base64_encode(ropts.username + ":" + ropts.password)}};
    auto slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0) CORRAL_TRY(mkdir_p(path.substr(0, slash), 0700));
    CORRAL_TRY(write_file_atomic(path, j.dump(1, '\t') + "\n", 0600));
    ctx.log.debug("login: credentials for " + registry + " in " + path);
    return ok();
}

Status logout(const Context &ctx, const std::string &registry_text, bool all, const RegistryOptions &ropts) {
    std::string path = auth_file_for_writing(ropts.auth_file);
    json j = CORRAL_TRY(read_auth_file(path));
    if (all) {
        j["auths"] = json::object();
    } else {
        std::string registry = registry_of(registry_text);
        bool found = false;
        for (auto it = j["auths"].begin(); it != j["auths"].end();) {
            if (registry_of(it.key()) == registry) {
                it = j["auths"].erase(it);
                found = true;
            } else {
                ++it;
            }
        }
        if (!found) return Error("logout: not logged into " + registry + " (" + path + ")", ENOENT);
    }
    if (!path_exists(path)) return ok();
    CORRAL_TRY(write_file_atomic(path, j.dump(1, '\t') + "\n", 0600));
    ctx.log.debug("logout: " + path + " updated");
    return ok();
}

} // namespace corral::image
