// linux.cgroupsPath "slice:prefix:name" → unit, slice and cgroup path.
#include "cgroups/systemd/unit_path.hpp"

#include <vector>

namespace corral::cgroups::systemd {

namespace {

constexpr std::string_view kSliceSuffix = ".slice";
// systemd refuses unit names longer than this (UNIT_NAME_MAX - 1).
constexpr size_t kUnitNameMax = 255;

// The characters systemd accepts in a unit name, less '\\' (an escape) and
// '@' (templates): what container ids, prefixes and Kubernetes' slice names
// use. ':' cannot occur, it separates the three parts.
bool is_unit_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
}

bool all_unit_chars(std::string_view s) {
    for (char c : s)
        if (!is_unit_char(c)) return false;
    return true;
}

Error bad_path(std::string_view cgroups_path, std::string_view why) {
    return Error("linux.cgroupsPath `" + std::string(cgroups_path) + "`: " + std::string(why));
}

} // namespace

Result<std::string> expand_slice(std::string_view slice) {
    auto refuse = [&](std::string_view why) {
        return Error("slice `" + std::string(slice) + "`: " + std::string(why));
    };
    if (slice.size() <= kSliceSuffix.size() || !slice.ends_with(kSliceSuffix))
        return refuse("a slice name ends with `.slice`");
    std::string_view base = slice.substr(0, slice.size() - kSliceSuffix.size());
    if (base == "-") return std::string(); // the root slice
    if (!all_unit_chars(base)) return refuse("only letters, digits, `-`, `_` and `.` may name a slice");
    // Each dash opens a level: a-b-c.slice lives in a-b.slice, which lives
    // in a.slice. An empty level cannot be named.
    std::string path, prefix;
    size_t pos = 0;
    while (true) {
        size_t dash = base.find('-', pos);
        std::string_view part = base.substr(pos, dash == std::string_view::npos ? std::string_view::npos : dash - pos);
        if (part.empty()) return refuse("a `-` must separate two non-empty names");
        prefix += part;
        path += "/" + prefix + std::string(kSliceSuffix);
        if (dash == std::string_view::npos) break;
        prefix += '-';
        pos = dash + 1;
    }
    return path;
}

Result<UnitPath> parse_unit_path(std::string_view cgroups_path, std::string_view container_id) {
    std::string owned;
    if (cgroups_path.empty()) {
        // runc's default is "system.slice:runc:<id>"; ours names us.
        if (container_id.empty()) return Error("no linux.cgroupsPath and no container id to derive one from");
        owned = "system.slice:corral:" + std::string(container_id);
        cgroups_path = owned;
    }
    std::vector<std::string_view> parts;
    size_t pos = 0;
    while (true) {
        size_t colon = cgroups_path.find(':', pos);
        parts.push_back(cgroups_path.substr(pos, colon == std::string_view::npos ? std::string_view::npos : colon - pos));
        if (colon == std::string_view::npos) break;
        pos = colon + 1;
    }
    if (parts.size() != 3)
        return bad_path(cgroups_path, "with --systemd-cgroup it must have the form `slice:prefix:name` "
                                      "(e.g. `system.slice:corral:ID`)");
    std::string_view slice = parts[0], prefix = parts[1], name = parts[2];

    UnitPath out;
    // Root's containers go in system.slice when no slice is given, as with
    // runc (a rootless runc would use user.slice of the user's manager).
    out.slice = slice.empty() ? "system.slice" : std::string(slice);
    auto parent = expand_slice(out.slice);
    if (!parent) return bad_path(cgroups_path, parent.error().message());

    if (name.empty()) return bad_path(cgroups_path, "the name (after the second `:`) is empty");
    if (!all_unit_chars(name) || !all_unit_chars(prefix))
        return bad_path(cgroups_path, "only letters, digits, `-`, `_` and `.` may appear in the prefix and name");
    if (name.ends_with(kSliceSuffix)) {
        // A name ending in .slice asks for a slice (the kubelet makes its pod
        // slices this way); the prefix is not used. systemd places a slice by
        // its name, so it must name a child of the given slice.
        out.unit = std::string(name);
        auto own = expand_slice(name);
        if (!own) return bad_path(cgroups_path, own.error().message());
        std::string expected = *parent + "/" + out.unit;
        if (*own != expected)
            return bad_path(cgroups_path, "slice `" + out.unit + "` is not a child of `" + out.slice +
                                              "`: systemd places a slice by its name (`" +
                                              (out.slice == "-.slice" ? std::string() : out.slice.substr(0, out.slice.size() - 6) + "-") +
                                              "NAME.slice`)");
        out.cgroup = *own;
    } else {
        // A scope. runc 1.1 writes "-name.scope" for an empty prefix; a
        // leading dash helps no one, so an empty prefix gives "name.scope".
        out.unit = (prefix.empty() ? std::string() : std::string(prefix) + "-") + std::string(name) + ".scope";
        out.cgroup = *parent + "/" + out.unit;
    }
    if (out.unit.size() > kUnitNameMax)
        return bad_path(cgroups_path, "unit name `" + out.unit + "` is longer than systemd's " +
                                          std::to_string(kUnitNameMax) + " characters");
    return out;
}

} // namespace corral::cgroups::systemd
