// herd/manifest.cpp — strict parsing, validation and JSON of Pods and
// Deployments: YAML and documents here; names and metadata in
// manifest_meta.cpp, Pods in manifest_pod.cpp, Deployments in
// manifest_deployment.cpp, the reader they share in manifest_internal.hpp.
//
// One parser serves manifests (YAML, via parse_manifests) and the wire (JSON
// between herd, serve and the agent): both go through the *_from_json
// functions below, which read every object with a `Fields` reader that
// remembers which keys were read, so a key nobody read is an "unknown field"
// with its full path — the behaviour of `kubectl apply --validate=strict`.
//
// The checks after reading follow the API server's validation
// (k8s.io/kubernetes/pkg/apis/core/validation) for the fields we accept, and
// the defaults follow its defaulting (pkg/apis/core/v1/defaults.go), so a
// manifest herd accepts is accepted by Kubernetes too.
//
// Every error names the field: "spec.template.spec.containers[0].image:
// required". The field path also travels in Error::path(), so parse_manifests
// can look up the YAML line it came from.
#include "herd/manifest.hpp"
#include "herd/manifest_internal.hpp"

#include "common/fs.hpp"

#include <cstdio>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <dirent.h>
#include <limits>
#include <regex>
#include <set>
#include <sys/stat.h>
#include <unistd.h>


namespace corral::herd {
namespace manifest_detail {

// --- YAML to JSON ---------------------------------------------------------------------

// Where each field of a document was written, by field path.
using LineMap = std::map<std::string, int>;

// A plain (unquoted) YAML scalar resolved as Kubernetes' YAML decoder
// (go-yaml v2, YAML 1.1) sees it: null, booleans — including yes/no/on/off,
// so that `value: yes` is the same type error here as on a cluster —
// integers, floats, else a string. A quoted scalar is always a string.
json resolve_plain_scalar(const std::string &s) {
    static const std::regex int_re("[-+]?[0-9]+");
    static const std::regex hex_re("0x[0-9a-fA-F]+");
    static const std::regex oct_re("0o[0-7]+");
    static const std::regex float_re("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    for (const char *t : {"true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON"})
        if (s == t) return true;
    for (const char *f : {"false", "False", "FALSE", "no", "No", "NO", "n", "N", "off", "Off", "OFF"})
        if (s == f) return false;
    try {
        if (std::regex_match(s, int_re)) {
            if (s[0] == '-') return std::stoll(s);
            return std::stoull(s[0] == '+' ? s.substr(1) : s);
        }
        if (std::regex_match(s, hex_re)) return std::stoull(s.substr(2), nullptr, 16);
        if (std::regex_match(s, oct_re)) return std::stoull(s.substr(2), nullptr, 8);
        if (std::regex_match(s, float_re)) return std::stod(s);
    } catch (const std::out_of_range &) {
        return std::stod(s);  // too large for an integer: a number all the same
    }
    if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf") return std::numeric_limits<double>::infinity();
    if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return -std::numeric_limits<double>::infinity();
    if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
    return s;
}

Result<json> yaml_to_json(const YAML::Node &node, const std::string &path, LineMap &lines) {
    if (!path.empty() && node.Mark().line >= 0) lines.emplace(path, node.Mark().line + 1);
    switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: return json(nullptr);
    case YAML::NodeType::Scalar: {
        const std::string &tag = node.Tag();
        if (tag == "!" || tag == "tag:yaml.org,2002:str") return json(node.Scalar());
        return resolve_plain_scalar(node.Scalar());
    }
    case YAML::NodeType::Sequence: {
        json arr = json::array();
        size_t i = 0;
        for (const auto &item : node) arr.push_back(CORRAL_TRY(yaml_to_json(item, index_path(path, i++), lines)));
        return arr;
    }
    case YAML::NodeType::Map: {
        json obj = json::object();
        std::vector<YAML::Node> merges;  // `<<: *defaults`, applied after the keys written here
        for (const auto &kv : node) {
            if (!kv.first.IsScalar()) return field_error(path, "mapping keys must be strings");
            std::string key = kv.first.Scalar();
            if (key == "<<" && kv.first.Tag() == "?") {
                // YAML 1.1 merge key, which Kubernetes' decoder honours and
                // yaml-cpp leaves to us: a mapping or a list of them.
                if (kv.second.IsMap()) merges.push_back(kv.second);
                else if (kv.second.IsSequence())
                    for (const auto &m : kv.second) merges.push_back(m);
                for (const auto &m : merges)
                    if (!m.IsMap()) return field_error(key_path(path, key), "a merge key takes a mapping or a list of mappings");
                continue;
            }
            std::string child = key_path(path, key);
            if (obj.contains(key)) {
                lines[child] = kv.first.Mark().line + 1;  // point at the second one
                return field_error(child, "duplicate key");
            }
            lines.emplace(child, kv.first.Mark().line + 1);
            obj[key] = CORRAL_TRY(yaml_to_json(kv.second, child, lines));
        }
        for (const auto &m : merges) {
            json merged = CORRAL_TRY(yaml_to_json(m, path, lines));
            for (auto &[k, v] : merged.items())
                if (!obj.contains(k)) obj[k] = v;  // keys written here win, then earlier merges
        }
        return obj;
    }
    }
    return json(nullptr);
}

// The line of a field path, or of its nearest parent that was written.
int line_of(const LineMap &lines, std::string path) {
    while (!path.empty()) {
        if (auto it = lines.find(path); it != lines.end()) return it->second;
        auto cut = path.find_last_of(".[");
        if (cut == std::string::npos) break;
        path.resize(cut);
    }
    return 0;
}

std::string object_key(const Object &o) {
    return o.kind_name() + " " + o.metadata().namespace_ + "/" + o.metadata().name;
}

// One document: dispatch on apiVersion/kind, then the strict parse.
Result<Object> parse_document(const json &doc, const Ctx &ctx) {
    if (!doc.is_object()) return field_error("", "expected a Kubernetes object (a mapping), got " + type_name(doc));
    auto str = [&](const char *k) {
        auto it = doc.find(k);
        return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    std::string api_version = str("apiVersion"), kind = str("kind");
    if (api_version.empty()) return field_error("apiVersion", "required");
    if (kind.empty()) return field_error("kind", "required");
    Object o{};
    if (api_version == "v1" && kind == "Pod") {
        o.kind = Object::Kind::pod;
        o.pod = CORRAL_TRY(parse_pod(doc, ctx));
        o.pod->metadata.uid.clear();
        o.pod->metadata.creation_timestamp.clear();
    } else if (api_version == "apps/v1" && kind == "Deployment") {
        o.kind = Object::Kind::deployment;
        o.deployment = CORRAL_TRY(parse_deployment(doc, ctx));
        o.deployment->metadata.uid.clear();
        o.deployment->metadata.creation_timestamp.clear();
        o.deployment->spec.template_.metadata.creation_timestamp.clear();
    } else {
        return field_error("", "unsupported kind \"" + api_version + "/" + kind +
                                   "\" (herd accepts v1/Pod and apps/v1/Deployment)");
    }
    return o;
}

// "deploy.yaml: document 2 (Deployment web)" for messages, from what the
// document says before it is parsed.
std::string describe_document(const std::string &source, const json &doc) {
    std::string what;
    if (doc.is_object()) {
        auto kind = doc.find("kind");
        if (kind != doc.end() && kind->is_string()) what = kind->get<std::string>();
        auto meta = doc.find("metadata");
        if (meta != doc.end() && meta->is_object()) {
            auto name = meta->find("name");
            if (name != meta->end() && name->is_string()) what += (what.empty() ? "" : " ") + name->get<std::string>();
        }
    }
    return what.empty() ? source : source + " (" + what + ")";
}

Status check_duplicates(const std::vector<Object> &objects) {
    std::map<std::string, std::string> seen;  // key -> source
    for (auto &o : objects) {
        auto [it, fresh] = seen.emplace(object_key(o), o.source);
        if (!fresh) return Error(o.source + ": duplicate " + object_key(o) + " (also in " + it->second + ")");
    }
    return ok();
}

// YAML streams are Unicode text (YAML 1.2, 5.1: the printable characters
// and tab, LF, CR; UTF-8 here). Checked before yaml-cpp sees the text: the
// fuzzer (tests/fuzz/herd_manifest_fuzz.cpp) found that yaml-cpp 0.7 spins,
// allocating without end, on a manifest with invalid UTF-8 and control bytes.
Status check_yaml_text(const std::string &text, const std::string &file) {
    int line = 1;
    for (size_t i = 0; i < text.size();) {
        auto c = static_cast<unsigned char>(text[i]);
        auto bad = [&](const char *what) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02X", c);
            return Error(file + ":" + std::to_string(line) + ": invalid YAML: byte " + hex + " " + what, EINVAL);
        };
        if (c == '\n') ++line;
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return bad("is a control character");
            if (c == 0x7F) return bad("is a control character");
            ++i;
            continue;
        }
        size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (n == 0 || c == 0xC0 || c == 0xC1 || c > 0xF4 || i + n > text.size()) return bad("is not valid UTF-8");
        for (size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return bad("is not valid UTF-8");
        i += n;
    }
    return ok();
}

// One document of a YAML stream: its text and the line (0-based) it starts on.
struct DocumentText {
    std::string_view text;
    int first_line = 0;
};

bool is_marker_line(std::string_view line, std::string_view marker) {
    if (line.substr(0, 3) != marker) return false;
    return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

bool is_blank_or_comment(std::string_view text) {
    for (size_t i = 0; i < text.size();) {
        size_t end = text.find('\n', i);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(i, end - i);
        size_t first = line.find_first_not_of(" \t\r");
        if (first != std::string_view::npos && line[first] != '#') return false;
        i = end + 1;
    }
    return true;
}

// The documents of a stream, split at the `---` and `...` markers (which the
// YAML spec allows only at column 0, where they end even a block scalar).
// herd parses each document on its own with YAML::Load instead of calling
// YAML::LoadAll: yaml-cpp 0.7's LoadAll loops forever, allocating, on some
// malformed streams (yaml-cpp PR #1319; tests/fuzz/known-hangs history), while
// Load of the same text returns. Text after `---` on the marker line belongs
// to the document; the marker itself is blanked so that columns stay true.
std::vector<DocumentText> split_documents(std::string_view text, std::string &storage) {
    storage.assign(text);
    std::vector<DocumentText> docs;
    size_t doc_start = 0;
    int doc_line = 0, line_no = 0;
    auto close = [&](size_t end) {
        std::string_view piece(storage.data() + doc_start, end - doc_start);
        if (!is_blank_or_comment(piece)) docs.push_back({piece, doc_line});
    };
    for (size_t i = 0; i <= storage.size();) {
        size_t end = storage.find('\n', i);
        if (end == std::string::npos) end = storage.size();
        std::string_view line(storage.data() + i, end - i);
        if (is_marker_line(line, "---") || is_marker_line(line, "...")) {
            close(i);
            bool starts = line[0] == '-';
            storage.replace(i, 3, "   ");
            doc_start = starts ? i : end;  // text after `...` is not a document
            doc_line = starts ? line_no : line_no + 1;
        }
        ++line_no;
        i = end + 1;
    }
    close(storage.size());
    return docs;
}

Result<std::vector<Object>> parse_stream(const std::string &yaml_text, const std::string &file, const Ctx &ctx) {
    CORRAL_TRY(check_yaml_text(yaml_text, file));
    std::string storage;
    std::vector<Object> objects;
    std::vector<DocumentText> texts = split_documents(yaml_text, storage);
    for (size_t i = 0; i < texts.size(); ++i) {
        int offset = texts[i].first_line;
        YAML::Node node;
        try {
            node = YAML::Load(std::string(texts[i].text));
        } catch (const YAML::Exception &e) {
            return Error(file + ":" + std::to_string(e.mark.line + 1 + offset) + ": invalid YAML: " + e.msg);
        }
        std::string doc_name = "document " + std::to_string(i + 1);
        std::string source = file + ": " + doc_name;
        if (node.IsNull() || !node.IsDefined()) continue;  // an empty document, as kubectl skips it
        LineMap lines;
        auto doc = yaml_to_json(node, "", lines);
        int doc_line = node.Mark().line + 1 + offset;
        auto line_in_file = [&](const std::string &path) {
            int line = line_of(lines, path);
            return line ? line + offset : doc_line;
        };
        if (!doc)
            return Error(file + ":" + std::to_string(line_in_file(doc.error().path())) + ": " + doc_name + ": " +
                         doc.error().message());
        auto object = parse_document(*doc, ctx);
        if (!object)
            return Error(file + ":" + std::to_string(line_in_file(object.error().path())) + ": " +
                         describe_document(doc_name, *doc) + ": " + object.error().message());
        object->source = source;
        objects.push_back(std::move(*object));
    }
    return objects;
}


} // namespace manifest_detail

using namespace manifest_detail;

// --- public API ---------------------------------------------------------------------------

Result<std::vector<Object>> parse_manifests(const std::string &yaml_text, const std::string &file,
                                            const ParseOptions &opts) {
    Ctx ctx{opts.ignore_unknown};
    auto objects = CORRAL_TRY(parse_stream(yaml_text, file, ctx));
    CORRAL_TRY(check_duplicates(objects));
    return objects;
}

Result<std::vector<Object>> load_manifests(const std::string &path, const ParseOptions &opts) {
    Ctx ctx{opts.ignore_unknown};
    if (path == "-") {  // `herd apply -f -`, as kubectl: the manifests on standard input
        auto text = CORRAL_TRY_CTX(read_fd(STDIN_FILENO), "read manifests from standard input");
        auto objects = CORRAL_TRY(parse_stream(text, "<stdin>", ctx));
        CORRAL_TRY(check_duplicates(objects));
        return objects;
    }
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return Error::from_errno(errno, "read manifests", path);
    std::vector<std::string> files;
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = ::opendir(path.c_str());
        if (!dir) return Error::from_errno(errno, "open directory", path);
        while (dirent *e = ::readdir(dir)) {
            std::string name = e->d_name;
            auto ends_with = [&](std::string_view s) {
                return name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
            };
            if (name[0] != '.' && (ends_with(".yaml") || ends_with(".yml") || ends_with(".json")))
                files.push_back(path_join(path, name));
        }
        ::closedir(dir);
        std::sort(files.begin(), files.end());
        if (files.empty()) return Error("no *.yaml, *.yml or *.json files in directory", 0, path).context(path);
    } else {
        files.push_back(path);
    }
    std::vector<Object> all;
    for (auto &file : files) {
        auto text = CORRAL_TRY_CTX(read_file(file), "read manifests");
        auto objects = CORRAL_TRY(parse_stream(text, file, ctx));
        for (auto &o : objects) all.push_back(std::move(o));
    }
    CORRAL_TRY(check_duplicates(all));
    return all;
}

} // namespace corral::herd
