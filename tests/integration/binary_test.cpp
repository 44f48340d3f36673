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
