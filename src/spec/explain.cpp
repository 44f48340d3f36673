// explain.cpp — `corral spec --explain`: the default config.json, each field
// with its meaning beside it, for someone learning what a container is made of.
//
// The notes are keyed by the field's path in the document ("process.user.uid",
// "mounts[].options"), and some by a value as well ("linux.namespaces[].type=pid"),
// so the default document itself is what is walked: a field added to
// default_spec.cpp without a note here fails tests/unit/spec_explain_test.cpp.
#include "corral/spec.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace corral::spec {
namespace {

const std::map<std::string, std::string, std::less<>> &notes() {
    static const std::map<std::string, std::string, std::less<>> kNotes = {
        {"ociVersion", "the runtime-spec version this file follows"},
        {"process", "the program the container runs (its init), and how"},
        {"process.terminal", "give it a pseudo-terminal (needs a console; `run` uses yours)"},
        {"process.user", "who it runs as, inside the container"},
        {"process.user.uid", "user id (0: the container's root)"},
        {"process.user.gid", "group id"},
        {"process.args", "the command line; args[0] is looked up in PATH below"},
        {"process.env", "its environment"},
        {"process.cwd", "working directory, inside the rootfs"},
        {"process.capabilities", "root's powers it keeps (capabilities(7)); the rest are dropped"},
        {"process.capabilities.bounding", "the most it can ever gain, even by running a setuid binary"},
        {"process.capabilities.effective", "what the kernel checks now"},
        {"process.capabilities.permitted", "what it may make effective"},
        {"process.capabilities.inheritable", "what survives execve for programs marked so"},
        {"process.capabilities.ambient", "what survives execve into any program"},
        {"process.capabilities.*=CAP_AUDIT_WRITE", "write to the kernel's audit log"},
        {"process.capabilities.*=CAP_KILL", "signal processes of other users (in its pid namespace)"},
        {"process.capabilities.*=CAP_NET_BIND_SERVICE", "listen on ports below 1024"},
        {"process.rlimits", "resource limits (setrlimit(2)), inherited by its children"},
        {"process.rlimits[].type", "which limit"},
        {"process.rlimits[].type=RLIMIT_NOFILE", "open files at once"},
        {"process.rlimits[].hard", "the ceiling (raising it needs CAP_SYS_RESOURCE)"},
        {"process.rlimits[].soft", "the limit in force"},
        {"process.noNewPrivileges", "execve can never grant more (setuid bits, file capabilities are ignored)"},
        {"root", "the container's root filesystem"},
        {"root.path", "a directory, relative to the bundle: pivot_root makes it `/`"},
        {"root.readonly", "mount it read-only"},
        {"hostname", "the name in its own uts namespace"},
        {"mounts", "filesystems mounted inside the rootfs, in this order, before pivot_root"},
        {"mounts[].destination", "where, inside the container"},
        {"mounts[].destination=/proc", "processes of its pid namespace only"},
        {"mounts[].destination=/dev", "a private /dev: a tmpfs the runtime fills with a few device nodes"},
        {"mounts[].destination=/dev/pts", "its own pseudo-terminals (newinstance)"},
        {"mounts[].destination=/dev/shm", "POSIX shared memory, its own"},
        {"mounts[].destination=/dev/mqueue", "POSIX message queues of its ipc namespace"},
        {"mounts[].destination=/sys", "sysfs, read-only"},
        {"mounts[].destination=/sys/fs/cgroup", "its own cgroup, read-only"},
        {"mounts[].type", "filesystem type (mount(2)'s fstype); none with bind"},
        {"mounts[].source", "what is mounted: a device, a host path for a bind, or a name"},
        {"mounts[].options", "mount flags (nosuid, ro, bind...) and the filesystem's own options (mode=, size=)"},
        {"linux", "what only Linux has: namespaces, cgroups, devices, paths to hide"},
        {"linux.uidMappings", "user namespace: which host uids its uids are (written to uid_map)"},
        {"linux.gidMappings", "the same for groups (gid_map)"},
        {"linux.uidMappings[].containerID", "first id inside"},
        {"linux.uidMappings[].hostID", "the host id it is"},
        {"linux.uidMappings[].size", "how many ids in a row"},
        {"linux.gidMappings[].containerID", "first id inside"},
        {"linux.gidMappings[].hostID", "the host id it is"},
        {"linux.gidMappings[].size", "how many ids in a row"},
        {"linux.resources", "limits, written to the container's cgroup"},
        {"linux.resources.devices", "which device nodes it may use (cgroup devices controller)"},
        {"linux.resources.devices[].allow", "allow or deny"},
        {"linux.resources.devices[].access", "r read, w write, m mknod"},
        {"linux.namespaces", "what it gets its own view of (clone3 flags); a path instead joins one"},
        {"linux.namespaces[].type", "which namespace"},
        {"linux.namespaces[].type=pid", "own process ids: its init is pid 1"},
        {"linux.namespaces[].type=network", "own network stack: only a loopback interface"},
        {"linux.namespaces[].type=ipc", "own System V IPC and message queues"},
        {"linux.namespaces[].type=uts", "own hostname"},
        {"linux.namespaces[].type=mount", "own mount table: the mounts above stay inside"},
        {"linux.namespaces[].type=user", "own user ids: root inside, an ordinary user outside"},
        {"linux.namespaces[].type=cgroup", "its cgroup appears as the root"},
        {"linux.maskedPaths", "hidden: /dev/null bound over files, an empty read-only tmpfs over directories"},
        {"linux.readonlyPaths", "bound read-only: kernel knobs it may read but not change"},
    };
    return kNotes;
}

std::string note_for(const std::string &path, const std::string &value) {
    const auto &n = notes();
    if (!value.empty()) {
        if (auto it = n.find(path + "=" + value); it != n.end()) return it->second;
        // Values of any capability set share one note.
        if (path.starts_with("process.capabilities.")) {
            if (auto it = n.find("process.capabilities.*=" + value); it != n.end()) return it->second;
        }
    }
    if (auto it = n.find(path); it != n.end()) return it->second;
    return {};
}

std::string join(const std::vector<std::string> &stack) {
    std::string out;
    for (const auto &s : stack) {
        if (s.empty()) continue; // the document itself
        if (s == "[]") out += "[]";
        else out += (out.empty() ? "" : ".") + s;
    }
    return out;
}

} // namespace

std::string explain_default_spec(bool rootless) {
    std::string doc = default_spec_json(rootless);
    std::string out =
        "// The config.json `corral spec` writes (runtime-spec, config.md and config-linux.md), explained.\n"
        "// Not a config.json itself (JSON has no comments): `corral spec` writes the file.\n";
    std::set<std::string> explained; // values already noted
    std::vector<std::string> stack; // keys of the open objects/arrays; "[]" for an array's element
    size_t pos = 0;
    while (pos < doc.size()) {
        size_t nl = doc.find('\n', pos);
        if (nl == std::string::npos) nl = doc.size();
        std::string line = doc.substr(pos, nl - pos);
        pos = nl + 1;
        size_t b = line.find_first_not_of(" \t");
        std::string body = b == std::string::npos ? "" : line.substr(b);
        std::string key, value, note;
        if (body.starts_with("\"")) {
            size_t q = body.find('"', 1);
            bool is_key = q != std::string::npos && q + 1 < body.size() && body[q + 1] == ':';
            if (is_key) {
                key = body.substr(1, q - 1);
                std::string rest = body.substr(q + 2);
                size_t r = rest.find_first_not_of(' ');
                rest = r == std::string::npos ? "" : rest.substr(r);
                if (rest.ends_with(",")) rest.pop_back();
                if (rest.size() >= 2 && rest.front() == '"') value = rest.substr(1, rest.size() - 2);
                std::vector<std::string> path = stack;
                path.push_back(key);
                note = note_for(join(path), value);
                if (rest == "{" || rest == "[") stack.push_back(key);
            } else { // a string in an array
                std::string v = body;
                if (v.ends_with(",")) v.pop_back();
                if (v.size() >= 2) v = v.substr(1, v.size() - 2);
                std::string path = join(stack);
                std::string specific = note_for(path, v);
                // A value's note once (the capabilities repeat in each set).
                if (specific != note_for(path, "") && explained.insert(v).second) note = specific;
            }
        } else if (body == "{") {
            stack.push_back(stack.empty() ? "" : "[]"); // "": the document itself
        } else if (body.starts_with("}") || body.starts_with("]")) {
            if (!stack.empty()) stack.pop_back();
        }
        // runc's tabs become two spaces, which keeps the notes in one column.
        std::string expanded;
        for (char c : line) expanded += c == '\t' ? std::string("  ") : std::string(1, c);
        if (note.empty()) {
            out += expanded + "\n";
            continue;
        }
        constexpr size_t kColumn = 48;
        expanded += expanded.size() < kColumn ? std::string(kColumn - expanded.size(), ' ') : std::string("  ");
        out += expanded + "// " + note + "\n";
    }
    return out;
}

} // namespace corral::spec
