// herd/jsonpath.hpp — kubectl's JSONPath templates (`-o jsonpath=...`,
// `-o custom-columns=...`), the subset kubectl documents
// (kubernetes.io/docs/reference/kubectl/jsonpath):
//
//   text                 printed as is                 kind is {.kind}
//   {.a.b} {$.a} {@}     a field, the root, the current object
//   {['a.b']} {.a\.b}    a key with dots in it
//   {..name}             recursive descent
//   {.items[*].x}        wildcard (also .*)
//   {.a[0]} {.a[-1]}     an index; negative counts from the end
//   {.a[1:3]} {.a[::2]}  slices [start:end:step]
//   {.a[0,2]} {['x','y']} unions of indices or keys
//   {.a[?(@.k=="v")]}    filters: == != < <= > >= against a literal or a path,
//                        or [?(@.k)]: the key is there
//   {range EXPR}...{end} the body once per result of EXPR (nestable)
//   {"\n"} {"\t"}        quoted literals
//
// Several results of one expression are printed separated by a space;
// strings print bare, everything else as compact JSON. A missing key prints
// nothing (kubectl's --allow-missing-template-keys=true, its default).
#pragma once

#include "corral/error.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace corral::herd {

class JsonPath {
public:
    // Parses a template; an error names the position and what was wrong.
    static Result<JsonPath> parse(std::string_view tmpl);

    // The template filled in from input.
    std::string execute(const nlohmann::json &input) const;

    // The results of a template that is one expression ("{.a.b}" or, as
    // custom-columns writes it, ".a.b"): the values it selects, for callers
    // that print them their own way.
    std::vector<nlohmann::json> values(const nlohmann::json &input) const;

    struct Node;  // the parsed template (jsonpath.cpp)
    JsonPath(const JsonPath &);
    JsonPath &operator=(const JsonPath &);
    JsonPath(JsonPath &&) noexcept;
    JsonPath &operator=(JsonPath &&) noexcept;
    ~JsonPath();

private:
    JsonPath();
    std::vector<Node> nodes_;
};

// One value as kubectl's jsonpath printer shows it: strings bare, other
// values as compact JSON, null as "".
std::string jsonpath_text(const nlohmann::json &value);

} // namespace corral::herd
