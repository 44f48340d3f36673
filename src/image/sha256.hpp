// sha256.hpp — a streaming SHA-256, self-contained (no OpenSSL).
//
// Every blob of an image is hashed as it streams through the unpacker, so the
// hash runs at the speed of the whole pipeline: on CPUs with the SHA
// extensions (Intel since Ice Lake/Goldmont, AMD since Zen) the block
// function uses them (about 1.5 GB/s a core), elsewhere a portable one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace corral::image {

class Sha256 {
public:
    Sha256() noexcept { reset(); }
    void reset() noexcept;
    void update(const void *data, size_t len) noexcept;
    void update(std::string_view s) noexcept { update(s.data(), s.size()); }
    std::array<uint8_t, 32> finish() noexcept;
    // finish() as 64 lowercase hex digits.
    std::string hex() noexcept;

    // For tests: force the portable block function even on a CPU with SHA-NI.
    static void force_portable(bool on) noexcept;
    static bool using_sha_ni() noexcept;

private:
    uint32_t state_[8];
    uint8_t buf_[64];
    size_t buf_len_ = 0;
    uint64_t total_ = 0;
};

// "sha256:<hex>" of a string.
std::string sha256_digest(std::string_view data);

} // namespace corral::image
