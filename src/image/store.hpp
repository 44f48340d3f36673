// store.hpp — the content-addressed layer store.
//
//   STORE/lock                 flock: shared while unpacking/importing, exclusive for gc and rm
//   STORE/layers/HEX/fs/       one unpacked layer (overlayfs format), HEX = its diff_id
//   STORE/layers/HEX/layer.json
//   STORE/images/HEX.json      an imported image (HEX = manifest digest): names, manifest, config, layers
//   STORE/refs/ID.json         one per bundle made from the store: the bundle and its layers
//   STORE/tmp/                 unpacks in progress; a layer is renamed into layers/ only when
//                              it is complete and verified
#pragma once

#include "common/fd.hpp"
#include "corral/error.hpp"
#include "image/source.hpp"

#include <string>
#include <vector>

namespace corral::image {

class Store {
public:
    // Open (and make, if missing) the store at `root`.
    static Result<Store> open(const std::string &root);

    const std::string &root() const { return root_; }
    int root_fd() const { return root_fd_.get(); }

    // Hold the returned fd for the duration of the operation.
    Result<UniqueFd> lock(bool exclusive) const;

    std::string layer_dir(const std::string &diff_id) const; // STORE/layers/HEX
    std::string layer_fs(const std::string &diff_id) const;  // STORE/layers/HEX/fs
    bool has_layer(const std::string &diff_id) const;
    std::string tmp() const { return root_ + "/tmp"; }

    // Imported images.
    Result<std::vector<ResolvedImage>> images() const;
    Status save_image(const ResolvedImage &img) const;
    Status delete_image(const std::string &digest) const;
    // By name ("busybox:latest", "busybox" = "busybox:latest"), digest, or a
    // unique hex prefix (at least 6 digits) of the digest.
    Result<ResolvedImage> find_image(const std::string &ref) const;

    std::string refs_dir() const { return root_ + "/refs"; }

private:
    std::string root_;
    UniqueFd root_fd_;
};

std::string digest_hex(const std::string &digest); // "sha256:HEX" -> "HEX"

// ResolvedImage <-> the JSON of STORE/images/HEX.json.
std::string image_record_json(const ResolvedImage &img);
Result<ResolvedImage> parse_image_record(const std::string &text, const std::string &what);

} // namespace corral::image
