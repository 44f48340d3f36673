#include "spec/json_tree.hpp"

#include "common/json_sax.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace corral::spec::detail {

using json = nlohmann::json;

const char *Node::type_name() const {
    switch (type) {
    case Type::Null: return "null";
    case Type::Boolean: return "boolean";
    case Type::Integer:
    case Type::Unsigned:
    case Type::Float: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
    }
    return "?";
}

const Node *Node::find(std::string_view name) const {
    const Node *found = nullptr;
    for (const Node *c = first; c; c = c->next)
        if (c->key == name) found = c;
    return found;
}

namespace {

// Make a parser message printable: it may quote the offending raw bytes.
std::string printable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    return out;
}

} // namespace

// nlohmann's SAX interface, building a Tree: values are appended in document
// order and linked to their parent's child list.
class TreeBuilder {
public:
    TreeBuilder(Tree &t, std::string_view text, std::string_view source)
        : t_(t), text_(text), source_(source) {
        // Rough guess from real configs (about one value per 16 bytes).
        t_.nodes_.reserve(text.size() / 16 + 16);
        t_.strings_capacity_ = text.size();
        t_.strings_ = std::make_unique<char[]>(text.size() + 1);
        stack_.reserve(16);
    }

    // --- the SAX interface ---
    bool null() {
        add(Node::Type::Null);
        return true;
    }
    bool boolean(bool b) {
        add(Node::Type::Boolean).boolean = b;
        return true;
    }
    bool number_integer(json::number_integer_t i) {
        add(Node::Type::Integer).integer = i;
        return true;
    }
    bool number_unsigned(json::number_unsigned_t u) {
        add(Node::Type::Unsigned).uinteger = u;
        return true;
    }
    bool number_float(json::number_float_t d, const json::string_t &) {
        add(Node::Type::Float).number = d;
        return true;
    }
    bool string(json::string_t &s) {
        std::string_view v = keep(s);
        add(Node::Type::String).str = v;
        return true;
    }
    bool binary(json::binary_t &) { return false; } // not produced by the JSON lexer
    bool start_object(std::size_t) { return open(Node::Type::Object); }
    bool key(json::string_t &k) {
        key_ = keep(k);
        return true;
    }
    bool end_object() { return close(); }
    bool start_array(std::size_t) { return open(Node::Type::Array); }
    bool end_array() { return close(); }
    bool parse_error(std::size_t position, const std::string &, const nlohmann::detail::exception &e) {
        error_ = format_error(position, e.what());
        return false;
    }

    std::string take_error() { return std::move(error_); }

    // Turn the build-time indices into pointers; the vector is final now.
    void link() {
        Node *base = t_.nodes_.data();
        for (Node &n : t_.nodes_) {
            n.first = n.first_index ? base + n.first_index : nullptr;
            n.next = n.next_index ? base + n.next_index : nullptr;
        }
    }

private:
    struct Open {
        uint32_t index; // the container
        uint32_t last;  // its last child so far, 0 if none (the root is never a child)
    };

    std::string_view keep(const std::string &s) {
        if (t_.strings_used_ + s.size() <= t_.strings_capacity_) {
            char *p = t_.strings_.get() + t_.strings_used_;
            std::copy(s.begin(), s.end(), p);
            t_.strings_used_ += s.size();
            return {p, s.size()};
        }
        return t_.spill_.emplace_back(s); // deque: elements never move
    }

    Node &add(Node::Type type) {
        auto index = static_cast<uint32_t>(t_.nodes_.size());
        Node &n = t_.nodes_.emplace_back();
        n.type = type;
        if (!stack_.empty()) {
            Open &parent = stack_.back();
            Node &p = t_.nodes_[parent.index];
            if (p.type == Node::Type::Object) n.key = key_;
            if (parent.last == 0) p.first_index = index;
            else t_.nodes_[parent.last].next_index = index;
            parent.last = index;
            ++p.size;
        }
        return n;
    }

    bool open(Node::Type type) {
        add(type);
        stack_.push_back({static_cast<uint32_t>(t_.nodes_.size() - 1), 0});
        return true;
    }

    bool close() {
        stack_.pop_back();
        return true;
    }

    // "SOURCE: invalid JSON at line L, column C: <parser message>".
    std::string format_error(size_t position, std::string_view what) const {
        // `position` counts the bytes read, up to and including the
        // offending one. nlohmann's own line/column are those after it (a
        // newline ending a bad literal shows as column 0 of the next line),
        // so point at the offending byte ourselves.
        size_t off = std::min<size_t>(position ? position - 1 : 0, text_.size());
        std::string_view before = text_.substr(0, off);
        size_t line = 1 + static_cast<size_t>(std::count(before.begin(), before.end(), '\n'));
        size_t line_start = before.rfind('\n');
        size_t column = off - (line_start == std::string_view::npos ? 0 : line_start + 1) + 1;
        // what: "[json.exception.parse_error.101] parse error at line 3,
        // column 11: syntax error while parsing value - invalid literal; ..."
        if (auto col = what.find(", column "); col != std::string_view::npos)
            if (auto colon = what.find(": ", col); colon != std::string_view::npos) what.remove_prefix(colon + 2);
        std::string msg(source_);
        msg += ": invalid JSON at line " + std::to_string(line) + ", column " + std::to_string(column) + ": ";
        msg += printable(what);
        return msg;
    }

    Tree &t_;
    std::string_view text_, source_;
    std::vector<Open> stack_;
    std::string_view key_;
    std::string error_;
};

Result<Tree> Tree::parse(std::string_view text, std::string_view source) {
    Tree t;
    TreeBuilder b(t, text, source);
    // Strict: one value, then only whitespace to the end.
    if (!sax_parse_json(text, &b)) return Error(b.take_error());
    b.link();
    return t;
}

} // namespace corral::spec::detail
