// corral/image.hpp — OCI images to runtime bundles, over a content-addressed
// layer store.
//
//   corral::Context ctx;
//   corral::image::Options opts;                 // store /var/lib/corral/image
//   auto b = corral::image::unpack(ctx, "busybox-layout:latest", "/srv/b1", opts);
//   // /srv/b1/config.json from the image config, /srv/b1/rootfs an overlay
//   // of the stored layers with a private upper dir in /srv/b1/.corral/
//   corral::image::remove_bundle(ctx, "/srv/b1");  // unmount, delete, drop the ref
//   corral::image::gc(ctx, opts);                   // layers no bundle or image uses
//
// A source is an OCI image layout directory, an oci-archive, a `docker save`
// archive (each optionally followed by `:TAG` or `@sha256:DIGEST`), or the
// name or digest of an image imported into the store. Every blob is checked
// against its digest and size while it streams; a layer is unpacked once per
// diff_id and shared by every bundle and image that has it. docs/image.md has
// the store's layout and the rules for hostile layers.
#pragma once

#include "corral/context.hpp"
#include "corral/error.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace corral::image {

struct Platform {
    std::string os = "linux";
    std::string architecture; // GOARCH names: amd64, arm64, ...
    std::string variant;      // v8, v7...; empty: any

    static Platform host();
    // "linux/amd64", "linux/arm64/v8".
    static Result<Platform> parse(std::string_view text);
    std::string str() const;
};

// What unpack reports while it reads layers (only layers not yet stored).
struct Progress {
    size_t layer = 0;   // 1-based, of `layers`
    size_t layers = 0;
    uint64_t bytes = 0; // blob bytes read so far, over all layers
    uint64_t total = 0; // blob bytes to read in all
    bool done = false;  // the last call
    // The layer this call is about (layers unpack in parallel): its blob
    // digest, bytes read of it, its size, and whether it is complete.
    std::string digest;
    uint64_t layer_bytes = 0;
    uint64_t layer_size = 0;
    bool layer_done = false;
};

inline constexpr const char *kDefaultStore = "/var/lib/corral/image";

struct Options {
    std::string store = kDefaultStore;
    Platform platform = Platform::host();
    // The most an image may unpack to: the sum of its files' sizes (as
    // `du --apparent-size`, holes included). 0: no limit.
    uint64_t max_size = 0;
    // Unpacking stops before the store's filesystem has less than this free.
    uint64_t min_free = 256ull << 20;
    // Make the bundle's rootfs a copy of the layers even where overlayfs works.
    bool copy = false;
    // Called from the unpacking threads, one call at a time; keep it short.
    std::function<void(const Progress &)> progress;
    // Layers unpacked (and, from a registry, downloaded) at once; 0: 3 for
    // pull, 1 for unpack and import (no gain measured yet from a local
    // layout on 2 shared cores: docs/image.md).
    unsigned jobs = 0;
};

// Talking to registries (pull, push, login, logout); docs/image.md.
struct RegistryOptions {
    std::string auth_file;            // --authfile: instead of the usual auth files
    std::string cert_dir;             // --cert-dir: CAs (*.crt) and client certs (*.cert/*.key), instead of certs.d
    int tls_verify = -1;              // --tls-verify: 1 https verified, 0 insecure (https unverified, else http), -1 registries.conf
    std::string registries_conf;      // "" = $CONTAINERS_REGISTRIES_CONF, else /etc/containers/registries.conf(.d)
    std::string username, password;   // --creds / login
    uint64_t chunk_size = 32ull << 20; // push: blobs larger than this go in PATCH chunks of this size
    std::vector<std::string> mount_from; // push: repositories (same registry) to mount blobs from
};

struct LayerInfo {
    std::string digest;     // of the blob ("" for a docker-archive layer: the archive has none)
    std::string diff_id;    // of the uncompressed tar: the key in the store
    std::string media_type;
    uint64_t size = 0;      // of the blob
    bool stored = false;    // unpacked in the store
};

struct ImageInfo {
    std::string digest;               // of the manifest (docker-archive: of the config)
    std::vector<std::string> names;   // tags / store names
    std::string config_digest;
    std::string config_json;          // the image config as in the image
    Platform platform;
    std::string created;
    std::vector<LayerInfo> layers;
    uint64_t size = 0;                // sum of layer blob sizes
};

struct BundleInfo {
    std::string bundle;
    std::string image_digest;
    bool overlay = false;          // rootfs is an overlay mount (else a copy)
    size_t layers_unpacked = 0;    // new in the store
    size_t layers_reused = 0;      // already there
};

struct GcReport {
    size_t layers_removed = 0;
    uint64_t bytes_freed = 0;
    size_t stale_refs = 0; // refs of bundles that no longer exist
    size_t temp_removed = 0;
};

// Make BUNDLE (missing or empty): config.json and rootfs.
Result<BundleInfo> unpack(const Context &ctx, const std::string &source, const std::string &bundle,
                          const Options &opts);
// Unpack an image's layers into the store and keep it under `name`
// (default: the source's tag, e.g. "busybox:latest").
Result<ImageInfo> import_image(const Context &ctx, const std::string &source, const std::string &name,
                               const Options &opts);
// Describe an image (nothing is unpacked).
Result<ImageInfo> inspect(const Context &ctx, const std::string &source, const Options &opts);
// Images imported into the store.
Result<std::vector<ImageInfo>> list(const Context &ctx, const Options &opts);
// Drop an imported image (by name: that name; by digest: the image). Its
// layers stay until gc.
Status remove(const Context &ctx, const std::string &ref, const Options &opts);
// Remove layers that no bundle and no imported image uses, and leftovers of
// interrupted unpacks.
Result<GcReport> gc(const Context &ctx, const Options &opts);

// Pull `ref` (`busybox`, `registry.example:5000/app:1.4`, `...@sha256:...`)
// into the store, kept under its full name (docker.io/library/busybox:latest).
// Layers already stored are not fetched.
Result<ImageInfo> pull(const Context &ctx, const std::string &ref, const Options &opts, const RegistryOptions &ropts);
// Push an image (a layout or archive SOURCE[:TAG]; a tag naming an index
// pushes every image of it) to `ref`. Returns the pushed manifest's digest.
Result<std::string> push(const Context &ctx, const std::string &source, const std::string &ref, const Options &opts,
                         const RegistryOptions &ropts);
// Check the credentials against `registry` and store them in the auth file.
Status login(const Context &ctx, const std::string &registry, const RegistryOptions &ropts);
// Drop the registry's credentials from the auth file (all: every registry's).
Status logout(const Context &ctx, const std::string &registry, bool all, const RegistryOptions &ropts);

// Mount a bundle's rootfs again (after a reboot). The store is the one that
// made the bundle.
Status mount_bundle(const Context &ctx, const std::string &bundle);
Status unmount_bundle(const Context &ctx, const std::string &bundle);
// Unmount, delete what unpack made in the bundle, drop its ref.
Status remove_bundle(const Context &ctx, const std::string &bundle);

} // namespace corral::image
