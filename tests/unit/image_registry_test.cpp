// The registry client's pure parts: references (docker's short names),
// registries.conf endpoints (insecure, mirrors, blocked), auth files, base64.
#include "image/registry.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <unistd.h>

using namespace corral::image;

namespace {

std::string ref_str(const std::string &text) {
    auto r = parse_reference(text);
    return r ? r->str() : "error: " + r.error().message();
}

TEST(RegistryReference, DockerShortNames) {
    EXPECT_EQ(ref_str("busybox"), "docker.io/library/busybox:latest");
    EXPECT_EQ(ref_str("busybox:1.36"), "docker.io/library/busybox:1.36");
    EXPECT_EQ(ref_str("user/app"), "docker.io/user/app:latest");
    EXPECT_EQ(ref_str("docker.io/busybox"), "docker.io/library/busybox:latest");
    EXPECT_EQ(ref_str("index.docker.io/library/busybox"), "docker.io/library/busybox:latest");
    EXPECT_EQ(ref_str("docker://quay.io/a/b:v"), "quay.io/a/b:v");
    EXPECT_EQ(ref_str("localhost/app"), "localhost/app:latest");
    EXPECT_EQ(ref_str("127.0.0.1:5000/a/b/c:1.0"), "127.0.0.1:5000/a/b/c:1.0");
    std::string d = "sha256:" + std::string(64, 'a');
    EXPECT_EQ(ref_str("host:5000/app@" + d), "host:5000/app@" + d);
    EXPECT_EQ(ref_str("app:v1@" + d), "docker.io/library/app:v1@" + d);
    auto r = parse_reference("host:5000/app");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->registry, "host:5000");
    EXPECT_EQ(r->repository, "app");
    EXPECT_EQ(api_host("docker.io"), "registry-1.docker.io");
}

TEST(RegistryReference, BadReferencesSayWhy) {
    EXPECT_NE(ref_str("Busybox").find("lower-case"), std::string::npos);
    EXPECT_NE(ref_str("app:").find("invalid tag"), std::string::npos);
    EXPECT_NE(ref_str("app@sha256:12").find("digest"), std::string::npos);
    EXPECT_NE(ref_str("").find("empty"), std::string::npos);
    EXPECT_NE(ref_str("host:5000//x").find("empty path component"), std::string::npos);
}

class TempFiles : public ::testing::Test {
protected:
    void SetUp() override {
        char t[] = "/tmp/corral-registry-unit-XXXXXX";
        dir = ::mkdtemp(t);
    }
    void TearDown() override { (void)!std::system(("rm -rf '" + dir + "'").c_str()); }
    std::string write(const std::string &name, const std::string &text) {
        std::ofstream(dir + "/" + name) << text;
        return dir + "/" + name;
    }
    std::string dir;
};

TEST_F(TempFiles, EndpointsFromRegistriesConf) {
    RegistryOptions o;
    o.registries_conf = write("r.conf", R"(# a comment with "quotes" = in it
unqualified-search-registries = ["docker.io"]

[[registry]]
prefix = "example.com/team"
location = "internal.example:5000/mirror-of-team"
insecure = true

[[registry.mirror]]
location = "cache.local/team"

[[registry]]
location = "blocked.example"
blocked = true

[registries.insecure]
registries = [
  "old.example", # a comment "with quotes"
]
)");
    auto eps = endpoints_for(*parse_reference("example.com/team/app:1"), o);
    ASSERT_TRUE(eps) << eps.error().message();
    ASSERT_EQ(eps->size(), 2u);
    EXPECT_EQ((*eps)[0].host, "cache.local");
    EXPECT_EQ((*eps)[0].repository, "team/app");
    EXPECT_TRUE((*eps)[0].mirror);
    EXPECT_FALSE((*eps)[0].insecure);
    EXPECT_EQ((*eps)[1].host, "internal.example:5000");
    EXPECT_EQ((*eps)[1].repository, "mirror-of-team/app");
    EXPECT_TRUE((*eps)[1].insecure);

    auto other = endpoints_for(*parse_reference("example.com/teams/app"), o); // not below the prefix
    ASSERT_TRUE(other);
    ASSERT_EQ(other->size(), 1u);
    EXPECT_EQ((*other)[0].host, "example.com");
    EXPECT_FALSE((*other)[0].insecure);

    auto blocked = endpoints_for(*parse_reference("blocked.example/x"), o);
    ASSERT_FALSE(blocked);
    EXPECT_NE(blocked.error().message().find("blocked"), std::string::npos);

    auto old = endpoints_for(*parse_reference("old.example/x"), o);
    ASSERT_TRUE(old);
    EXPECT_TRUE((*old)[0].insecure);
    o.tls_verify = 1; // --tls-verify wins over the file
    old = endpoints_for(*parse_reference("old.example/x"), o);
    EXPECT_FALSE((*old)[0].insecure);
}

TEST_F(TempFiles, CredentialsFromAuthFiles) {
    std::string f = write("auth.json", R"({"auths":{
        "https://index.docker.io/v1/": {"auth": ")" + base64_encode("hub:pw") + R"("},
        "reg.example:5000": {"auth": ")" + base64_encode("me:p:w") + R"("},
        "helper.example": {}}})");
    auto c = find_credentials("docker.io", f);
    ASSERT_TRUE(c && *c);
    EXPECT_EQ((*c)->username, "hub");
    EXPECT_EQ((*c)->password, "pw");
    c = find_credentials("reg.example:5000", f);
    ASSERT_TRUE(c && *c);
    EXPECT_EQ((*c)->password, "p:w");
    c = find_credentials("helper.example", f);
    ASSERT_TRUE(c);
    EXPECT_FALSE(*c);
    std::string bad = write("bad.json", "{");
    auto e = find_credentials("x", bad);
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().message().find(bad), std::string::npos);
}

TEST(RegistryBase64, RoundTrips) {
    for (std::string s : {"", "a", "ab", "abc", "user:pässword"}) {
        auto d = base64_decode(base64_encode(s));
        ASSERT_TRUE(d);
        EXPECT_EQ(*d, s);
    }
    EXPECT_EQ(base64_encode("tester:s3cret"), "dGVzdGVyOnMzY3JldA==");
}

} // namespace
