// herd/node_bootstrap.cpp — probe, install, start the agent (node_bootstrap.hpp).
#include "herd/node_bootstrap.hpp"

#include "common/fs.hpp"
#include "herd/daemon.hpp"

#include <sys/utsname.h>
#include <thread>

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

namespace corral::herd {
namespace {

// Run on the node by `sh -s -- BIN STATE`: one key=value per line. POSIX sh
// and coreutils only (a fresh node has nothing of ours).
constexpr const char *kProbeScript = R"SH(
bin=$1 state=$2
echo "kernel=$(uname -r)"
echo "arch=$(uname -m)"
echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)"
echo "memory=$(awk '/^MemTotal:/ { printf "%d", $2 * 1024 }' /proc/meminfo)"
t=$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)
if [ "$t" = cgroup2fs ]; then m=v2
elif [ -d /sys/fs/cgroup/unified ] && [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then m=hybrid
else m=v1; fi
echo "cgroup=$m"
echo "os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
for b in herd herd-pause corral corral-image; do
  [ -f "$bin/$b" ] && echo "sha256_$b=$(sha256sum "$bin/$b" | cut -d' ' -f1)"
done
[ -x "$bin/herd" ] && echo "herd_version=$("$bin/herd" version 2>/dev/null | head -n 1)"
[ -x "$bin/corral" ] && echo "corral_version=$("$bin/corral" --version 2>/dev/null | head -n 1)"
[ -S "$state/agent/agent.sock" ] && echo "agent_socket=yes"
exit 0
)SH";

const char *kBinaries[] = {"herd", "herd-pause", "corral", "corral-image"};

// "herd version 0.1.0" -> "0.1.0": the first word starting with a digit.
std::string version_word(const std::string &line) {
    size_t i = 0;
    while (i < line.size()) {
        size_t end = line.find(' ', i);
        std::string w = line.substr(i, end == std::string::npos ? std::string::npos : end - i);
        if (!w.empty() && w[0] == 'v' && w.size() > 1 && std::isdigit(static_cast<unsigned char>(w[1]))) w.erase(0, 1);
        if (!w.empty() && std::isdigit(static_cast<unsigned char>(w[0]))) return w;
        if (end == std::string::npos) break;
        i = end + 1;
    }
    return line;
}

std::string local_arch() {
    utsname u{};
    ::uname(&u);
    return u.machine;
}

Result<std::string> local_sha256(const std::string &path) {
    auto r = CORRAL_TRY(run_program(ProgramRun{.argv = {"/usr/bin/sha256sum", path}, .timeout_ms = 30000}));
    if (!r.ok()) return Error("sha256sum " + path + ": " + r.last_error_line());
    return r.out.substr(0, r.out.find(' '));
}

Status ping_agent(const SshTransport &t, const InventoryNode &node, BootstrapReport &report) {
    auto s = CORRAL_TRY(t.open_agent(node));
    auto r = call_over(s.channel, {{"op", "ping"}}, deadline_in(std::chrono::seconds(10)));
    if (!r) {
        std::string why = s.stderr_text();
        while (!why.empty() && why.back() == '\n') why.pop_back();
        return Error(ErrorKind::unavailable, "node \"" + node.name + "\": agent: " + (why.empty() ? r.error().message() : why));
    }
    report.agent_version = r->value("version", "");
    return ok();
}

} // namespace

int compare_versions(const std::string &a, const std::string &b) {
    auto parts = [](const std::string &v) {
        std::vector<long> out;
        size_t i = 0;
        while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) {
            size_t j = i;
            while (j < v.size() && std::isdigit(static_cast<unsigned char>(v[j]))) ++j;
            out.push_back(std::stol(v.substr(i, j - i)));
            if (j < v.size() && v[j] == '.') i = j + 1;
            else break;
        }
        return out;
    };
    auto pa = parts(a), pb = parts(b);
    for (size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
        long x = i < pa.size() ? pa[i] : 0, y = i < pb.size() ? pb[i] : 0;
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

Result<HostFacts> probe_node(const SshTransport &t, const InventoryNode &node) {
    std::string remote = "sh -s -- " + shell_quote(node.bin_dir) + " " + shell_quote(node.state_dir);
    auto r = CORRAL_TRY(t.run(node, remote, kProbeScript, 30000));
    if (!r.ok()) return Error(ErrorKind::unavailable, "node \"" + node.name + "\": probe: " + r.last_error_line());
    HostFacts f;
    size_t pos = 0;
    while (pos < r.out.size()) {
        size_t nl = r.out.find('\n', pos);
        std::string line = r.out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? r.out.size() : nl + 1;
        size_t eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string k = line.substr(0, eq), v = line.substr(eq + 1);
        if (k == "kernel") f.kernel = v;
        else if (k == "arch") f.arch = v;
        else if (k == "cpus") f.cpus = std::atoi(v.c_str());
        else if (k == "memory") f.memory_bytes = std::atoll(v.c_str());
        else if (k == "cgroup") f.cgroup_mode = v;
        else if (k == "os") f.os = v;
        else if (k == "herd_version") f.herd_version = version_word(v);
        else if (k == "corral_version") f.corral_version = version_word(v);
        else if (k == "agent_socket") f.agent_socket = v == "yes";
        else if (k.rfind("sha256_", 0) == 0) f.sha256[k.substr(7)] = v;
    }
    if (f.arch.empty() || f.kernel.empty())
        return Error(ErrorKind::unavailable, "node \"" + node.name + "\": probe: no answer from the node's shell");
    return f;
}

Result<BootstrapReport> bootstrap_node(const SshTransport &t, const InventoryNode &node, const BootstrapOptions &opts) {
    BootstrapReport rep;
    rep.facts = CORRAL_TRY(probe_node(t, node));
    std::string src = !node.source_dir.empty() ? node.source_dir
                      : !opts.local_bin_dir.empty() ? opts.local_bin_dir
                                                    : self_exe_path().substr(0, self_exe_path().rfind('/'));
    if (node.source_dir.empty() && rep.facts.arch != local_arch())
        return Error(ErrorKind::invalid, "node \"" + node.name + "\": sourceDir: the node is " + rep.facts.arch +
                                             ", this machine " + local_arch() +
                                             ": set sourceDir to a directory of herd and corral binaries built for " +
                                             rep.facts.arch);
    if (opts.install) {
        const std::string mine = CORRAL_VERSION;
        bool changed = false;
        for (const char *b : kBinaries) {
            std::string local = src + "/" + b;
            if (!path_exists(local))
                return Error(ErrorKind::not_found, "node \"" + node.name + "\": no " + b + " to install in " + src +
                                                       (node.source_dir.empty() ? "" : " (sourceDir)"));
            std::string digest = CORRAL_TRY(local_sha256(local));
            auto have = rep.facts.sha256.find(b);
            if (have != rep.facts.sha256.end() && have->second == digest) continue;
            // Only herd and corral say their version; the helpers follow them.
            const std::string &theirs = std::string(b).rfind("corral", 0) == 0 ? rep.facts.corral_version : rep.facts.herd_version;
            if (have != rep.facts.sha256.end() && !theirs.empty() && compare_versions(theirs, mine) > 0) {
                rep.actions.push_back(std::string("kept ") + b + " " + theirs + " (newer than " + mine + ")");
                continue;
            }
            CORRAL_TRY(t.install_file(node, local, node.bin_dir + "/" + b, 120000));
            rep.actions.push_back(std::string(have == rep.facts.sha256.end() ? "installed " : "updated ") + b + " " +
                                  mine + " in " + node.bin_dir);
            changed = true;
        }
        if (changed) rep.facts = CORRAL_TRY(probe_node(t, node));
    }
    if (rep.facts.herd_version.empty())
        return Error(ErrorKind::not_found, "node \"" + node.name + "\": binDir: no herd in " + node.bin_dir);

    if (rep.facts.agent_socket && ping_agent(t, node, rep)) {
        rep.agent = "running";
        if (!rep.agent_version.empty() && rep.agent_version != rep.facts.herd_version)
            rep.actions.push_back("the agent runs herd " + rep.agent_version + " (installed: " + rep.facts.herd_version +
                                  "); it keeps running, restart it to update");
        return rep;
    }
    if (!opts.start_agent) {
        rep.agent = "not running";
        return rep;
    }
    std::string herd = shell_quote(node.bin_dir + "/herd");
    std::string cmd = "mkdir -p " + shell_quote(node.state_dir + "/agent") + " && setsid -f " + herd +
                      " agent --state-dir " + shell_quote(node.state_dir + "/agent") + " --cgroup-root " +
                      shell_quote(node.cgroup_root) + " --node-name " + shell_quote(node.name) + " </dev/null >>" +
                      shell_quote(node.state_dir + "/agent.log") + " 2>&1";
    auto r = CORRAL_TRY(t.run(node, cmd, "", 30000));
    if (!r.ok()) return Error(ErrorKind::unknown, "node \"" + node.name + "\": start the agent: " + r.last_error_line());
    Deadline until = deadline_in(std::chrono::seconds(10));
    Status last = ok();
    while (std::chrono::steady_clock::now() < until) {
        last = ping_agent(t, node, rep);
        if (last) {
            rep.agent = "started";
            rep.actions.push_back("started the agent (log " + node.state_dir + "/agent.log)");
            return rep;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    auto log = t.run(node, "tail -n 3 " + shell_quote(node.state_dir + "/agent.log"), "", 10000);
    return Error(ErrorKind::unavailable, "node \"" + node.name + "\": the agent started but does not answer: " +
                                             last.error().message() + (log && !log->out.empty() ? "; its log: " + log->out : ""));
}

} // namespace corral::herd
