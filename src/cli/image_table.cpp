// corral image's subcommands as a table: names, arguments, flags, one-line
// descriptions. Both binaries link it: `corral` for `corral help image`,
// completion and the man page (no libarchive there), `corral-image` to parse
// and dispatch (src/cli/image.cpp holds what each subcommand runs).
#include "cli/args.hpp"

namespace corral::cli {
namespace {

constexpr Flag kStore{"store", "DIR", "layer store directory (default: $CORRAL_IMAGE_STORE or /var/lib/corral/image)"};
constexpr Flag kPlatform{"platform", "OS/ARCH[/VARIANT]",
                         "the image for this platform from an index (default: this machine's)"};
constexpr Flag kMaxSize{"max-size", "SIZE",
                        "refuse images that unpack to more than SIZE (file sizes summed; default: no limit)"};
constexpr Flag kMinFree{"min-free", "SIZE", "stop before the store's filesystem has less than SIZE free (default: 256M)"};
constexpr Flag kQuiet{"quiet,q", "", "no progress output"};
constexpr Flag kJobs{"jobs,j", "N", "layers unpacked (pull: also downloaded) at once (default: pull 3, else 1)"};

constexpr Flag kUnpackFlags[] = {kStore, kPlatform, kMaxSize, kMinFree, kQuiet, kJobs,
                                 {"copy", "", "copy the layers into rootfs instead of mounting an overlay"}};
constexpr Flag kImportFlags[] = {kStore, kPlatform, kMaxSize, kMinFree, kQuiet, kJobs,
                                 {"name", "NAME", "the name to keep it under (default: its tag)"}};
constexpr Flag kLsFlags[] = {kStore, {"format,f", "value", "table or json (default: table)"}, {"quiet,q", "", "only digests"}};
constexpr Flag kInspectFlags[] = {kStore, kPlatform};
constexpr Flag kStoreOnly[] = {kStore};
// Registries (podman's flags and spellings).
constexpr Flag kAuthFile{"authfile", "FILE", "credentials file (default: $REGISTRY_AUTH_FILE, "
                                             "$XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json)"};
constexpr Flag kCertDir{"cert-dir", "DIR", "CAs (*.crt) and a client certificate (*.cert, *.key) for the registry, "
                                           "instead of /etc/containers/certs.d/HOST and /etc/docker/certs.d/HOST"};
constexpr Flag kTlsVerify{"tls-verify", "", "verify the registry's certificate; --tls-verify=false: https without "
                                            "verification, else plain http (default: registries.conf's insecure)"};
constexpr Flag kCreds{"creds", "USER:PASSWORD", "credentials for this command instead of the auth file's"};
constexpr Flag kPullFlags[] = {kStore, kPlatform, kMaxSize, kMinFree, kQuiet, kJobs, kAuthFile, kCertDir, kTlsVerify, kCreds};
constexpr Flag kPushFlags[] = {kStore, kQuiet, kAuthFile, kCertDir, kTlsVerify, kCreds,
                               {"chunk-size", "SIZE", "upload blobs larger than SIZE in chunks of SIZE (default: 32M)"},
                               {"mount-from", "REPO", "mount blobs the registry has in REPO instead of uploading them",
                                true},
                               {"digestfile", "FILE", "write the pushed manifest's digest to FILE"}};
constexpr Flag kLoginFlags[] = {kAuthFile, kCertDir, kTlsVerify,
                                {"username,u", "USER", "user name"},
                                {"password,p", "PASSWORD", "password (visible in ps: prefer --password-stdin)"},
                                {"password-stdin", "", "read the password from stdin"}};
constexpr Flag kLogoutFlags[] = {kAuthFile, {"all,a", "", "remove the credentials of every registry"}};

// Positional arguments: SOURCE and BUNDLE are paths (an image name also
// works as SOURCE, the shell offers files).
const Command kSubs[] = {
    {.name = "unpack", .summary = "make a runtime bundle (config.json and rootfs) from an image",
     .args_usage = "SOURCE BUNDLE", .flags = kUnpackFlags, .min_args = 2, .max_args = 2},
    {.name = "import", .summary = "unpack an image's layers into the store and keep the image by name",
     .args_usage = "SOURCE", .flags = kImportFlags, .min_args = 1, .max_args = 1},
    {.name = "pull", .summary = "pull an image from a registry into the store (kept under its full name)",
     .args_usage = "REFERENCE", .flags = kPullFlags, .min_args = 1, .max_args = 1},
    {.name = "push", .summary = "push an image (a layout or archive, an index with all its images) to a registry",
     .args_usage = "SOURCE REFERENCE", .flags = kPushFlags, .min_args = 2, .max_args = 2},
    {.name = "login", .summary = "check credentials against a registry and keep them in the auth file",
     .args_usage = "REGISTRY", .flags = kLoginFlags, .min_args = 1, .max_args = 1},
    {.name = "logout", .summary = "remove a registry's credentials from the auth file", .args_usage = "[REGISTRY]",
     .flags = kLogoutFlags, .min_args = 0, .max_args = 1},
    {.name = "ls", .summary = "list the images in the store", .args_usage = "", .flags = kLsFlags},
    {.name = "inspect", .summary = "show an image's manifest digest, config and layers as JSON",
     .args_usage = "SOURCE", .flags = kInspectFlags, .min_args = 1, .max_args = 1},
    {.name = "rm", .summary = "remove an image name (or, by digest, the image) from the store; gc frees its layers",
     .args_usage = "IMAGE...", .flags = kStoreOnly, .min_args = 1, .max_args = -1},
    {.name = "gc", .summary = "remove layers no bundle and no image uses", .args_usage = "", .flags = kStoreOnly},
    {.name = "mount", .summary = "mount an unpacked bundle's rootfs again (after a reboot)", .args_usage = "BUNDLE",
     .min_args = 1, .max_args = 1},
    {.name = "umount", .summary = "unmount an unpacked bundle's rootfs", .args_usage = "BUNDLE", .min_args = 1,
     .max_args = 1},
    {.name = "rm-bundle", .summary = "unmount and delete bundles made by unpack, releasing their layers",
     .args_usage = "BUNDLE...", .min_args = 1, .max_args = -1},
};

} // namespace

std::span<const Command> image_subcommands() { return kSubs; }

const std::string_view kImageDescription =
    "SOURCE is an OCI image layout directory, an oci-archive or a docker-archive file, optionally with :TAG or "
    "@sha256:DIGEST; or the name or digest of an image imported or pulled into the store. REFERENCE is a registry's "
    "image: [REGISTRY/]REPOSITORY[:TAG][@DIGEST], docker.io when no registry is named (busybox is "
    "docker.io/library/busybox:latest).";

} // namespace corral::cli
