// `corral spec --explain`: every field of the default config.json has a note,
// and the document under the notes is the one `corral spec` writes.
#include "corral/spec.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

namespace {

std::string without_notes(const std::string &text) {
    std::istringstream in(text);
    std::string line, out;
    while (std::getline(in, line)) {
        if (line.starts_with("//")) continue;
        if (auto c = line.find("  // "); c != std::string::npos) line.erase(c);
        else if (auto d = line.find("// "); d != std::string::npos && line.find('"') == std::string::npos) line.erase(d);
        out += line + "\n";
    }
    return out;
}

class SpecExplain : public ::testing::TestWithParam<bool> {};

TEST_P(SpecExplain, EveryFieldHasANoteAndTheDocumentIsTheDefault) {
    std::string text = corral::spec::explain_default_spec(GetParam());
    std::istringstream in(text);
    std::string line;
    int fields = 0;
    while (std::getline(in, line)) {
        if (line.starts_with("//")) continue;
        auto quote = line.find('"');
        // A line naming a field: "key": ...
        if (quote != std::string::npos && line.find("\":", quote + 1) != std::string::npos) {
            ++fields;
            EXPECT_NE(line.find("// "), std::string::npos) << "no note for: " << line;
        }
    }
    EXPECT_GT(fields, 30);
    auto parsed = nlohmann::json::parse(without_notes(text), nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << without_notes(text);
    EXPECT_EQ(parsed, nlohmann::json::parse(corral::spec::default_spec_json(GetParam())));
}

INSTANTIATE_TEST_SUITE_P(RootfulAndRootless, SpecExplain, ::testing::Values(false, true),
                         [](const auto &info) { return info.param ? "rootless" : "rootful"; });

} // namespace
