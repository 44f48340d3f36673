// json_tree.hpp — a read-only JSON tree built from nlohmann's SAX parser.
//
// Why not nlohmann::json itself: its DOM allocates a node per value and a
// std::map per object, which costs more than the lexing. Here every value
// is one entry in a vector reserved up front, and every string is a view
// into one buffer reserved to the input's size (a decoded JSON string is
// never longer than its source text, so the buffer never moves). A config
// parses in about half the time, which counts: container start time is our
// headline figure.
#pragma once

#include "corral/error.hpp"

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace corral::spec::detail {

struct Node {
    enum class Type : uint8_t { Null, Boolean, Integer, Unsigned, Float, String, Array, Object };

    Type type = Type::Null;
    bool boolean = false;
    uint32_t size = 0;     // members of an object, elements of an array
    std::string_view key;  // the member name, when the parent is an object
    std::string_view str;  // Type::String
    union {
        int64_t integer;   // Type::Integer (nlohmann: negative literals)
        uint64_t uinteger; // Type::Unsigned (non-negative literals)
        double number;     // Type::Float (fractions, exponents, > 64 bits)
    };
    const Node *first = nullptr; // first child of an array or object
    const Node *next = nullptr;  // next sibling
    uint32_t first_index = 0, next_index = 0; // the same links while building

    Node() : integer(0) {}

    bool is_null() const { return type == Type::Null; }
    bool is_object() const { return type == Type::Object; }
    bool is_array() const { return type == Type::Array; }
    bool is_string() const { return type == Type::String; }
    // The words JSON users know: "string", "number", "object", ...
    const char *type_name() const;

    // Object member by name; the last one wins if a name repeats (as in Go
    // and nlohmann). nullptr if absent.
    const Node *find(std::string_view name) const;
};

class Tree {
public:
    // Parse `text`. A syntax error reads "SOURCE: invalid JSON at line L,
    // column C: <what the parser expected>". Never throws but bad_alloc.
    static Result<Tree> parse(std::string_view text, std::string_view source);

    const Node &root() const { return nodes_.front(); }

    Tree(Tree &&) = default;
    Tree &operator=(Tree &&) = default;

private:
    Tree() = default;
    friend class TreeBuilder;

    std::vector<Node> nodes_;             // linked by pointers once complete
    std::unique_ptr<char[]> strings_;     // input-sized; string views point here
    size_t strings_used_ = 0, strings_capacity_ = 0;
    std::deque<std::string> spill_;       // only if strings_ would overflow (it cannot)
};

} // namespace corral::spec::detail
