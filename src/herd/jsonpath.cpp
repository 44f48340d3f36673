// herd/jsonpath.cpp — kubectl's JSONPath templates (see jsonpath.hpp).
//
// A template parses into a list of nodes (text, expression, range with a
// body); an expression into a list of steps, each mapping the current
// results to the next ones. Results are pointers into the input, which
// outlives the evaluation.
#include "herd/jsonpath.hpp"

#include <cctype>
#include <cstdlib>
#include <optional>

namespace corral::herd {

using json = nlohmann::json;

namespace {

struct Filter;

struct Step {
    enum class Kind { child, recursive, wildcard, indices, slice, filter };
    Kind kind = Kind::child;
    // child: one key, or a union of ['a.b', 'c'] (each a key path: "a.b" is a
    // then b, "a\.b" one key); recursive: one key or "*".
    std::vector<std::vector<std::string>> keys;
    std::vector<long> indices;
    std::optional<long> start, end;
    long step = 1;
    std::shared_ptr<const Filter> filter;
};

struct Filter {
    std::vector<Step> left;
    std::string op;                   // "": the left side exists
    std::optional<std::vector<Step>> right_path;
    json right_value;
};

} // namespace

struct JsonPath::Node {
    enum class Kind { text, expr, range };
    Kind kind = Kind::text;
    std::string text;
    bool from_root = false;  // "$...": from the input, not the range's current item
    std::vector<Step> path;
    std::vector<Node> body;
};

namespace {

using Node = JsonPath::Node;
using Values = std::vector<const json *>;

Error syntax(std::string_view what, std::string_view where) {
    return Error("jsonpath: " + std::string(what) + " in \"" + std::string(where) + "\"");
}

// The index of the quote that ends the string starting at s[i] (a quote).
std::optional<size_t> end_of_quote(std::string_view s, size_t i) {
    char q = s[i];
    for (size_t k = i + 1; k < s.size(); ++k) {
        if (s[k] == '\\') {
            ++k;
            continue;
        }
        if (s[k] == q) return k;
    }
    return std::nullopt;
}

// The closing bracket matching s[i] ('{', '[' or '('), skipping quotes.
std::optional<size_t> matching(std::string_view s, size_t i) {
    char open = s[i];
    char close = open == '{' ? '}' : open == '[' ? ']' : ')';
    int depth = 0;
    for (size_t k = i; k < s.size(); ++k) {
        if (s[k] == '"' || s[k] == '\'') {
            auto e = end_of_quote(s, k);
            if (!e) return std::nullopt;
            k = *e;
        } else if (s[k] == open) {
            ++depth;
        } else if (s[k] == close && --depth == 0) {
            return k;
        }
    }
    return std::nullopt;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// A quoted literal: "..." or '...' with \n \t \r \\ \" \' escapes.
Result<std::string> unquote(std::string_view q, std::string_view where) {
    if (q.size() < 2 || q.back() != q.front()) return syntax("unterminated quote", where);
    std::string out;
    for (size_t i = 1; i + 1 < q.size(); ++i) {
        if (q[i] != '\\' || i + 2 >= q.size()) {
            out += q[i];
            continue;
        }
        char c = q[++i];
        out += c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
    }
    return out;
}

// Splits on commas outside quotes.
std::vector<std::string_view> split_commas(std::string_view s) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (size_t k = 0; k < s.size(); ++k) {
        if (s[k] == '"' || s[k] == '\'') {
            auto e = end_of_quote(s, k);
            if (!e) break;
            k = *e;
        } else if (s[k] == ',') {
            out.push_back(trim(s.substr(start, k - start)));
            start = k + 1;
        }
    }
    out.push_back(trim(s.substr(start)));
    return out;
}

Result<long> parse_long(std::string_view s, std::string_view where) {
    s = trim(s);
    if (s.empty()) return syntax("empty index", where);
    std::string text(s);
    char *end = nullptr;
    long v = std::strtol(text.c_str(), &end, 10);
    if (!end || *end) return syntax("invalid index \"" + text + "\"", where);
    return v;
}

Result<std::vector<Step>> parse_path(std::string_view e, std::string_view where, bool *from_root = nullptr);

// The inside of [...]: *, ?(filter), 'key'[,'key'], N[,N], start:end:step.
Result<Step> parse_bracket(std::string_view in, std::string_view where) {
    Step st;
    in = trim(in);
    if (in == "*") {
        st.kind = Step::Kind::wildcard;
        return st;
    }
    if (in.size() >= 3 && in[0] == '?' && in[1] == '(' && in.back() == ')') {
        std::string_view cond = trim(in.substr(2, in.size() - 3));
        auto f = std::make_shared<Filter>();
        static constexpr std::string_view ops[] = {"==", "!=", "<=", ">=", "<", ">"};
        size_t at = std::string_view::npos;
        std::string_view op;
        for (size_t k = 0; k < cond.size() && at == std::string_view::npos; ++k) {
            if (cond[k] == '"' || cond[k] == '\'') {
                auto q = end_of_quote(cond, k);
                if (!q) return syntax("unterminated quote", where);
                k = *q;
                continue;
            }
            for (std::string_view o : ops)
                if (cond.substr(k, o.size()) == o) {
                    at = k;
                    op = o;
                    break;
                }
        }
        std::string_view left = at == std::string_view::npos ? cond : trim(cond.substr(0, at));
        f->left = CORRAL_TRY(parse_path(left, where));
        if (at != std::string_view::npos) {
            f->op = std::string(op);
            std::string_view right = trim(cond.substr(at + op.size()));
            if (right.empty()) return syntax("filter without a right side", where);
            if (right[0] == '"' || right[0] == '\'') {
                f->right_value = CORRAL_TRY(unquote(right, where));
            } else if (right[0] == '@' || right[0] == '$' || right[0] == '.') {
                f->right_path = CORRAL_TRY(parse_path(right, where));
            } else {
                json v = json::parse(std::string(right), nullptr, false);
                if (v.is_discarded() || v.is_object() || v.is_array())
                    return syntax("invalid filter value \"" + std::string(right) + "\"", where);
                f->right_value = std::move(v);
            }
        }
        st.kind = Step::Kind::filter;
        st.filter = std::move(f);
        return st;
    }
    if (in.empty()) return syntax("empty []", where);
    if (in[0] == '"' || in[0] == '\'') {
        st.kind = Step::Kind::child;
        for (std::string_view part : split_commas(in)) {
            // Unquoted, "\." is left as is by unquote's rule; split on the other dots.
            if (part.size() < 2 || (part[0] != '"' && part[0] != '\'') || part.back() != part[0])
                return syntax("unterminated quote", where);
            std::vector<std::string> path(1);
            for (size_t k = 1; k + 1 < part.size(); ++k) {
                if (part[k] == '\\' && k + 2 < part.size()) {
                    path.back() += part[++k];
                } else if (part[k] == '.') {
                    path.emplace_back();
                } else {
                    path.back() += part[k];
                }
            }
            st.keys.push_back(std::move(path));
        }
        return st;
    }
    if (in.find(':') != std::string_view::npos) {
        st.kind = Step::Kind::slice;
        std::vector<std::string_view> parts;
        size_t start = 0;
        for (size_t k = 0; k <= in.size(); ++k)
            if (k == in.size() || in[k] == ':') {
                parts.push_back(trim(in.substr(start, k - start)));
                start = k + 1;
            }
        if (parts.size() > 3) return syntax("a slice has at most three parts", where);
        if (!parts[0].empty()) st.start = CORRAL_TRY(parse_long(parts[0], where));
        if (parts.size() > 1 && !parts[1].empty()) st.end = CORRAL_TRY(parse_long(parts[1], where));
        if (parts.size() > 2 && !parts[2].empty()) st.step = CORRAL_TRY(parse_long(parts[2], where));
        if (st.step == 0) return syntax("slice step 0", where);
        return st;
    }
    st.kind = Step::Kind::indices;
    for (std::string_view part : split_commas(in)) st.indices.push_back(CORRAL_TRY(parse_long(part, where)));
    return st;
}

// A field name after '.': up to the next unescaped '.' or '['; "\." is a dot.
std::string read_field(std::string_view e, size_t &i) {
    std::string name;
    while (i < e.size() && e[i] != '.' && e[i] != '[') {
        if (e[i] == '\\' && i + 1 < e.size()) ++i;
        name += e[i++];
    }
    return name;
}

Result<std::vector<Step>> parse_path(std::string_view e, std::string_view where, bool *from_root) {
    std::vector<Step> steps;
    e = trim(e);
    size_t i = 0;
    if (i < e.size() && (e[i] == '$' || e[i] == '@')) {
        if (from_root) *from_root = e[i] == '$';
        ++i;
    }
    while (i < e.size()) {
        if (e.substr(i, 2) == "..") {
            i += 2;
            Step st;
            st.kind = Step::Kind::recursive;
            std::string name = i < e.size() && e[i] == '*' ? (++i, std::string("*")) : read_field(e, i);
            if (name.empty()) return syntax("a name must follow ..", where);
            st.keys.push_back({name});
            steps.push_back(std::move(st));
        } else if (e[i] == '.') {
            ++i;
            if (i < e.size() && e[i] == '*') {
                ++i;
                Step st;
                st.kind = Step::Kind::wildcard;
                steps.push_back(std::move(st));
                continue;
            }
            std::string name = read_field(e, i);
            if (name.empty()) continue;  // "{.}" or ".[0]": the current value
            Step st;
            st.keys.push_back({std::move(name)});
            steps.push_back(std::move(st));
        } else if (e[i] == '[') {
            auto close = matching(e, i);
            if (!close) return syntax("unclosed [", where);
            steps.push_back(CORRAL_TRY(parse_bracket(e.substr(i + 1, *close - i - 1), where)));
            i = *close + 1;
        } else {
            return syntax("unexpected \"" + std::string(e.substr(i, 1)) + "\" (a field starts with a dot)", where);
        }
    }
    return steps;
}

// Text and {...} blocks up to the end, or up to {end} when in a range.
Result<std::vector<Node>> parse_nodes(std::string_view t, size_t &i, bool in_range) {
    std::vector<Node> out;
    bool ended = false;
    while (i < t.size()) {
        size_t open = t.find('{', i);
        if (open != i) {
            Node text;
            text.text = std::string(t.substr(i, open == std::string_view::npos ? std::string_view::npos : open - i));
            out.push_back(std::move(text));
            if (open == std::string_view::npos) {
                i = t.size();
                break;
            }
        }
        auto close = matching(t, open);
        if (!close) return syntax("unclosed {", t);
        std::string_view inside = trim(t.substr(open + 1, *close - open - 1));
        i = *close + 1;
        if (inside == "end") {
            if (!in_range) return syntax("{end} without {range}", t);
            ended = true;
            break;
        }
        Node n;
        if (inside.substr(0, 6) == "range " || inside.substr(0, 6) == "range\t") {
            n.kind = Node::Kind::range;
            n.path = CORRAL_TRY(parse_path(inside.substr(6), t, &n.from_root));
            n.body = CORRAL_TRY(parse_nodes(t, i, true));
            out.push_back(std::move(n));
            continue;
        }
        if (!inside.empty() && (inside[0] == '"' || inside[0] == '\'')) {
            n.text = CORRAL_TRY(unquote(inside, t));
            out.push_back(std::move(n));
            continue;
        }
        n.kind = Node::Kind::expr;
        n.path = CORRAL_TRY(parse_path(inside, t, &n.from_root));
        out.push_back(std::move(n));
    }
    if (in_range && !ended) return syntax("{range} without {end}", t);
    return out;
}

// --- evaluation -------------------------------------------------------------------

Values eval(const std::vector<Step> &steps, Values cur);

void descend(const json &v, const std::string &key, Values &out) {
    if (v.is_object()) {
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (key == "*" || it.key() == key) out.push_back(&it.value());
            descend(it.value(), key, out);
        }
    } else if (v.is_array()) {
        for (const json &e : v) {
            if (key == "*") out.push_back(&e);
            descend(e, key, out);
        }
    }
}

int compare(const json &a, const json &b) {
    if (a.is_number() && b.is_number()) {
        double x = a.get<double>(), y = b.get<double>();
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.is_string() && b.is_string()) return a.get<std::string>().compare(b.get<std::string>());
    return a == b ? 0 : 2;  // 2: not comparable, only != holds
}

bool holds(const Filter &f, const json &item) {
    Values left = eval(f.left, {&item});
    if (f.op.empty()) return !left.empty() && !left[0]->is_null() && *left[0] != false;
    if (left.empty()) return false;
    json right = f.right_value;
    if (f.right_path) {
        Values r = eval(*f.right_path, {&item});
        if (r.empty()) return false;
        right = *r[0];
    }
    int c = compare(*left[0], right);
    if (f.op == "==") return c == 0;
    if (f.op == "!=") return c != 0;
    if (c == 2) return false;
    if (f.op == "<") return c < 0;
    if (f.op == "<=") return c <= 0;
    if (f.op == ">") return c > 0;
    return c >= 0;
}

Values apply_step(const Step &st, const Values &cur) {
    Values out;
    if (st.kind == Step::Kind::child) {
        // A union lists all results of its first member, then of the next.
        for (const auto &path : st.keys) {
            Values vs = cur;
            for (const std::string &k : path) {
                Values next;
                for (const json *v : vs)
                    if (v->is_object())
                        if (auto it = v->find(k); it != v->end()) next.push_back(&*it);
                vs = std::move(next);
            }
            out.insert(out.end(), vs.begin(), vs.end());
        }
        return out;
    }
    for (const json *v : cur) {
        switch (st.kind) {
        case Step::Kind::child:
            break;
        case Step::Kind::recursive:
            descend(*v, st.keys[0][0], out);
            break;
        case Step::Kind::wildcard:
            if (v->is_object() || v->is_array())
                for (const json &e : *v) out.push_back(&e);
            break;
        case Step::Kind::indices:
            if (v->is_array())
                for (long idx : st.indices) {
                    long n = static_cast<long>(v->size());
                    long k = idx < 0 ? idx + n : idx;
                    if (k >= 0 && k < n) out.push_back(&(*v)[static_cast<size_t>(k)]);
                }
            break;
        case Step::Kind::slice: {
            if (!v->is_array()) break;
            long n = static_cast<long>(v->size());
            auto norm = [n](long x) { return x < 0 ? std::max(0L, x + n) : std::min(x, n); };
            if (st.step > 0) {
                long b = norm(st.start.value_or(0)), e = norm(st.end.value_or(n));
                for (long k = b; k < e; k += st.step) out.push_back(&(*v)[static_cast<size_t>(k)]);
            } else {
                long b = st.start ? std::min(norm(*st.start), n - 1) : n - 1;
                long e = st.end ? norm(*st.end) : -1;
                for (long k = b; k > e && k >= 0; k += st.step) out.push_back(&(*v)[static_cast<size_t>(k)]);
            }
            break;
        }
        case Step::Kind::filter:
            if (v->is_array() || v->is_object())
                for (const json &e : *v)
                    if (holds(*st.filter, e)) out.push_back(&e);
            break;
        }
    }
    return out;
}

Values eval(const std::vector<Step> &steps, Values cur) {
    for (const Step &st : steps) cur = apply_step(st, cur);
    return cur;
}

void run(const std::vector<Node> &nodes, const json &root, const json &current, std::string &out) {
    for (const Node &n : nodes) {
        switch (n.kind) {
        case Node::Kind::text:
            out += n.text;
            break;
        case Node::Kind::expr: {
            Values vs = eval(n.path, {n.from_root ? &root : &current});
            for (size_t k = 0; k < vs.size(); ++k) {
                if (k) out += ' ';
                out += jsonpath_text(*vs[k]);
            }
            break;
        }
        case Node::Kind::range:
            for (const json *v : eval(n.path, {n.from_root ? &root : &current})) run(n.body, root, *v, out);
            break;
        }
    }
}

} // namespace

std::string jsonpath_text(const json &value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_null()) return "";
    return value.dump();
}

JsonPath::JsonPath() = default;
JsonPath::JsonPath(const JsonPath &) = default;
JsonPath &JsonPath::operator=(const JsonPath &) = default;
JsonPath::JsonPath(JsonPath &&) noexcept = default;
JsonPath &JsonPath::operator=(JsonPath &&) noexcept = default;
JsonPath::~JsonPath() = default;

Result<JsonPath> JsonPath::parse(std::string_view tmpl) {
    JsonPath p;
    size_t i = 0;
    p.nodes_ = CORRAL_TRY(parse_nodes(tmpl, i, false));
    return p;
}

std::string JsonPath::execute(const json &input) const {
    std::string out;
    run(nodes_, input, input, out);
    return out;
}

std::vector<json> JsonPath::values(const json &input) const {
    std::vector<json> out;
    for (const Node &n : nodes_) {
        if (n.kind != Node::Kind::expr) continue;
        for (const json *v : eval(n.path, {&input})) out.push_back(*v);
    }
    return out;
}

} // namespace corral::herd
