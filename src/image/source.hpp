// source.hpp — where an image comes from, and choosing one image in it.
//
// A source is a set of read-only files by relative name: an OCI image layout
// directory, or a tar archive of one (oci-archive) or of `docker save`. An
// uncompressed archive is indexed, not extracted: a blob is a byte range of
// the archive file. A compressed one is first spooled into a temporary
// directory (in the store, removed afterwards).
//
// resolve_image() follows index.json (or docker's manifest.json) to one
// image: by tag or digest, through nested indexes by platform. Every JSON
// blob it reads is checked against its descriptor's size and digest before
// it is parsed; layers are only located here (the unpacker verifies them as
// they stream).
#pragma once

#include "common/fd.hpp"
#include "corral/error.hpp"
#include "corral/image.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace corral::image {

// A blob read once, front to back, as it arrives (a registry's HTTP body):
// read() returns up to `n` bytes, 0 at the end, or an error. It checks
// nothing itself beyond what it is told (the reader hashes and counts).
class BlobStream {
public:
    virtual ~BlobStream() = default;
    virtual Result<size_t> read(char *buf, size_t n) = 0;
};

// A blob: a byte range of a file, or (stream set) a stream of `length` bytes.
struct BlobRange {
    std::shared_ptr<const UniqueFd> fd;
    uint64_t offset = 0;
    uint64_t length = 0;
    std::shared_ptr<BlobStream> stream;
};

class SourceFiles {
public:
    virtual ~SourceFiles() = default;
    // The file `name` ("blobs/sha256/HEX", "index.json"); ENOENT if missing.
    virtual Result<BlobRange> find(const std::string &name) const = 0;
    const std::string &path() const { return path_; }

protected:
    std::string path_;
};

// Open a layout directory or an archive. `spool_parent` is where a
// compressed archive is unpacked to (a fresh directory below it, removed
// with the returned object).
Result<std::unique_ptr<SourceFiles>> open_source_files(const std::string &path, const std::string &spool_parent);

// A whole small file, at most `limit` bytes (more is an error).
Result<std::string> read_range(const BlobRange &r, uint64_t limit, const std::string &what);

struct LayerRef {
    std::string digest;     // of the blob ("" when the source has none: docker-archive)
    std::string media_type;
    uint64_t size = 0;      // of the blob
    std::string diff_id;    // of the uncompressed tar, from the image config
    std::string path;       // the blob's file in the source
};

struct ResolvedImage {
    std::string digest;          // of the manifest; docker-archive: of the config
    std::string manifest_json;   // "" for docker-archive
    std::string config_digest;
    std::string config_json;
    std::vector<LayerRef> layers;
    std::vector<std::string> names; // its tags in the source
    Platform platform;              // from the config
    std::map<std::string, std::string> manifest_annotations;
};

struct Selector {
    std::string tag;    // ref.name (OCI) or RepoTag (docker)
    std::string digest; // of a manifest or index (OCI), of the config (docker)
};

Result<ResolvedImage> resolve_image(const SourceFiles &files, const Selector &sel, const Platform &platform);

// Split "PATH[:TAG|@DIGEST]" where PATH exists: the longest existing prefix
// wins, so paths with ':' in them work. Nothing exists: nullopt.
struct SourceRef {
    std::string path;
    Selector sel;
};
std::optional<SourceRef> parse_source_ref(const std::string &text);

// Check "sha256:<64 hex>" (the only algorithm we verify).
Status check_digest(const std::string &digest, const std::string &what);

// GOARCH name of this machine ("amd64").
std::string host_architecture();

} // namespace corral::image
