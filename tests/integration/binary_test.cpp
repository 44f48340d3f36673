// The corral binary itself: what it links. Its start-up cost and peak RSS are
// the headline figures (scripts/bench), and every shared object it needs is
// mapped, relocated and counted in the RSS of every command, twice with the
// CVE-2019-5736 re-exec. libarchive lives in corral-image; libstdc++,
// libseccomp and libcap are linked statically; nothing may pull in libm.

#include "integration/harness.hpp"

#include <cstdio>
#include <regex>

namespace corral_it {
namespace {

std::vector<std::string> needed_libraries(const std::string &binary) {
    std::vector<std::string> out;
    FILE *p = popen(("readelf -d '" + binary + "' 2>/dev/null").c_str(), "re");
    if (!p) return out;
    char line[512];
    static const std::regex needed(R"(\(NEEDED\).*\[(.*)\])");
    while (std::fgets(line, sizeof line, p)) {
        std::cmatch m;
        if (std::regex_search(line, m, needed)) out.push_back(m[1]);
    }
    pclose(p);
    return out;
}

TEST(Binary, CorralLinksLibcOnly) {
    if (runtime_is_runc()) GTEST_SKIP() << "SKIPPED: checks corral's own binary, not " << runtime();
    if (std::system("command -v readelf >/dev/null") != 0) GTEST_SKIP() << "SKIPPED: readelf (binutils) is not installed";
    auto libs = needed_libraries(runtime());
    ASSERT_FALSE(libs.empty()) << "readelf found no NEEDED entries in " << runtime();
    for (const auto &lib : libs)
        EXPECT_TRUE(lib == "libc.so.6" || lib.starts_with("ld-linux"))
            << runtime() << " needs " << lib << ": the runtime must link libc only (see CMakeLists.txt)";
}

} // namespace
} // namespace corral_it

// `corral spec` writes what a live `runc spec` writes, byte for byte, but
// for the ociVersion each reports (runc 1.1 says 1.0.2-dev).
TEST(Binary, SpecIsWhatLiveRuncSpecWrites) {
    if (std::system("command -v runc >/dev/null 2>&1") != 0) GTEST_SKIP() << "runc is not installed (Debian package runc)";
    char tmpl[] = "/tmp/corral-spec-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    std::string cmd = "cd " + dir + " && mkdir runc corral && (cd runc && runc spec) && (cd corral && " +
                      corral_it::runtime() + " spec)";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::string runc = corral_it::read_file(dir + "/runc/config.json");
    std::string ours = corral_it::read_file(dir + "/corral/config.json");
    std::system(("rm -rf " + dir).c_str());
    ASSERT_FALSE(runc.empty());
    const std::string runc_version = "\"ociVersion\": \"1.0.2-dev\"", our_version = "\"ociVersion\": \"1.2.0\"";
    size_t at = runc.find(runc_version);
    ASSERT_NE(at, std::string::npos) << "runc's spec version changed: " << runc.substr(0, 80);
    runc.replace(at, runc_version.size(), our_version);
    EXPECT_EQ(ours, runc);
}
