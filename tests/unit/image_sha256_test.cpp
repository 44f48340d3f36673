// SHA-256: the FIPS 180-4 vectors, through the SHA-NI and the portable block
// functions, whole and fed in odd pieces.
#include "image/sha256.hpp"

#include <gtest/gtest.h>

namespace corral::image {
namespace {

struct Vector {
    std::string input;
    const char *hex;
};

std::vector<Vector> vectors() {
    return {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {std::string(1000000, 'a'), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    };
}

class Sha256Test : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override { Sha256::force_portable(GetParam()); }
    void TearDown() override { Sha256::force_portable(false); }
};

TEST_P(Sha256Test, KnownVectors) {
    for (auto &v : vectors()) {
        Sha256 h;
        h.update(v.input);
        EXPECT_EQ(h.hex(), v.hex) << v.input.size() << " bytes";
    }
}

TEST_P(Sha256Test, PiecesGiveTheSameDigest) {
    std::string data(100003, '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + (i >> 7));
    Sha256 whole;
    whole.update(data);
    std::string expect = whole.hex();
    for (size_t piece : {1, 3, 63, 64, 65, 4096, 7777}) {
        Sha256 h;
        for (size_t i = 0; i < data.size(); i += piece) h.update(data.data() + i, std::min(piece, data.size() - i));
        EXPECT_EQ(h.hex(), expect) << "pieces of " << piece;
    }
}

TEST_P(Sha256Test, PaddingBoundaries) {
    // Lengths around the 56-byte padding edge, against the other block function.
    for (size_t len = 50; len < 140; ++len) {
        std::string s(len, 'q');
        Sha256 h;
        h.update(s);
        std::string mine = h.hex();
        Sha256::force_portable(!GetParam());
        Sha256 other;
        other.update(s);
        EXPECT_EQ(mine, other.hex()) << len;
        Sha256::force_portable(GetParam());
    }
}

INSTANTIATE_TEST_SUITE_P(BlockFunctions, Sha256Test, ::testing::Values(false, true),
                         [](const auto &info) { return info.param ? "portable" : "native"; });

TEST(Sha256Digest, Prefix) {
    EXPECT_EQ(sha256_digest("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

} // namespace
} // namespace corral::image
