// kubectl's JSONPath templates: the examples of kubectl's own documentation
// (kubernetes.io/docs/reference/kubectl/jsonpath), on its input, with the
// output kubectl prints (results of one expression separated by a space,
// objects as JSON), plus the errors a typo must give.
#include "herd/jsonpath.hpp"

#include <gtest/gtest.h>

using corral::herd::JsonPath;
using json = nlohmann::json;

namespace {

const json kInput = json::parse(R"({
  "kind": "List",
  "items":[
    {
      "kind":"None",
      "metadata":{
        "name":"127.0.0.1",
        "labels":{"kubernetes.io/hostname":"127.0.0.1"}
      },
      "status":{
        "capacity":{"cpu":"4"},
        "addresses":[{"type": "LegacyHostIP", "address":"127.0.0.1"}]
      }
    },
    {
      "kind":"None",
      "metadata":{"name":"127.0.0.2"},
      "status":{
        "capacity":{"cpu":"8"},
        "addresses":[
          {"type": "LegacyHostIP", "address":"127.0.0.2"},
          {"type": "another", "address":"127.0.0.3"}
        ]
      }
    }
  ],
  "users":[
    {"name": "myself", "user": {}},
    {"name": "e2e", "user": {"username": "admin", "password": "secret"}}
  ]
})");

std::string run(const std::string &tmpl, const json &input = kInput) {
    auto p = JsonPath::parse(tmpl);
    if (!p) return "PARSE ERROR: " + p.error().message();
    return p->execute(input);
}

TEST(HerdJsonPath, KubectlDocumentedExamples) {
    EXPECT_EQ(run("kind is {.kind}"), "kind is List");
    EXPECT_EQ(json::parse(run("{@}")), kInput);
    EXPECT_EQ(run("{.kind}"), "List");
    EXPECT_EQ(run("{['kind']}"), "List");
    EXPECT_EQ(run("{$.kind}"), "List");
    EXPECT_EQ(run("{..name}"), "127.0.0.1 127.0.0.2 myself e2e");
    EXPECT_EQ(run("{.items[*].metadata.name}"), "127.0.0.1 127.0.0.2");
    EXPECT_EQ(run("{.users[0].name}"), "myself");
    EXPECT_EQ(run("{.items[*]['metadata.name', 'status.capacity']}"),
              R"(127.0.0.1 127.0.0.2 {"cpu":"4"} {"cpu":"8"})");
    EXPECT_EQ(run("{.items[*].status['capacity']}"), R"({"cpu":"4"} {"cpu":"8"})");
    EXPECT_EQ(run(R"({.users[?(@.name=="e2e")].user.password})"), "secret");
    EXPECT_EQ(run("{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}"),
              R"([127.0.0.1, {"cpu":"4"}] [127.0.0.2, {"cpu":"8"}] )");
    EXPECT_EQ(run(R"({range .items[*]}{.metadata.name}{"\t"}{end})"), "127.0.0.1\t127.0.0.2\t");
    EXPECT_EQ(run("{.items[-1].metadata.name}"), "127.0.0.2");
    EXPECT_EQ(run(R"({range .items[*]}{.metadata.name}{"\n"}{end})"), "127.0.0.1\n127.0.0.2\n");
}

TEST(HerdJsonPath, FieldsWithDotsAndSlashes) {
    EXPECT_EQ(run(R"({.items[0].metadata.labels.kubernetes\.io/hostname})"), "127.0.0.1");
    EXPECT_EQ(run(R"({.items[0].metadata.labels['kubernetes\.io/hostname']})"), "127.0.0.1");
    EXPECT_EQ(run(R"({['kind']})"), "List");
}

TEST(HerdJsonPath, SlicesUnionsAndWildcards) {
    json in = {{"a", {0, 1, 2, 3, 4, 5}}};
    EXPECT_EQ(run("{.a[1:3]}", in), "1 2");
    EXPECT_EQ(run("{.a[::2]}", in), "0 2 4");
    EXPECT_EQ(run("{.a[-2:]}", in), "4 5");
    EXPECT_EQ(run("{.a[0,2,5]}", in), "0 2 5");
    EXPECT_EQ(run("{.a[9]}", in), "");  // out of range: nothing, as a missing key
    EXPECT_EQ(run("{.*}", json{{"x", 1}, {"y", "two"}}), "1 two");
    EXPECT_EQ(run("{.users[*]['name']}"), "myself e2e");
}

TEST(HerdJsonPath, FiltersCompareNumbersAndStrings) {
    json in = {{"c", {{{"n", "a"}, {"v", 1}}, {{"n", "b"}, {"v", 5}}, {{"n", "c"}}}}};
    EXPECT_EQ(run("{.c[?(@.v>2)].n}", in), "b");
    EXPECT_EQ(run("{.c[?(@.v<=1)].n}", in), "a");
    EXPECT_EQ(run("{.c[?(@.n!='a')].n}", in), "b c");
    EXPECT_EQ(run("{.c[?(@.v)].n}", in), "a b");
}

TEST(HerdJsonPath, NestedRangesAndRootInsideRange) {
    EXPECT_EQ(run("{range .items[*]}{.metadata.name}:{range .status.addresses[*]}{.address},{end};{end}"),
              "127.0.0.1:127.0.0.1,;127.0.0.2:127.0.0.2,127.0.0.3,;");
    EXPECT_EQ(run("{range .users[*]}{$.kind}/{.name} {end}"), "List/myself List/e2e ");
}

TEST(HerdJsonPath, MissingKeysPrintNothing) {
    EXPECT_EQ(run("<{.nope.deeper}>"), "<>");
    EXPECT_EQ(run("{.items[*].status.podIP}"), "");
}

TEST(HerdJsonPath, ValuesOfOneExpression) {
    auto p = JsonPath::parse("{.items[*].status.capacity.cpu}");
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->values(kInput), (std::vector<json>{"4", "8"}));
}

TEST(HerdJsonPath, SyntaxErrorsAreReported) {
    for (const char *bad : {"{.items[*}", "{range .items[*]}{.x}", "{end}", "{.a[1:2:3:4]}", "{.a[x]}",
                            "{items}", "{.a[?(@.b==)]}", "{\"unterminated}"}) {
        auto p = JsonPath::parse(bad);
        EXPECT_FALSE(p.ok()) << bad;
        if (!p.ok()) {
            EXPECT_NE(p.error().message().find("jsonpath"), std::string::npos) << p.error().message();
        }
    }
}

} // namespace
