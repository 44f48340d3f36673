// herd/pod_runtime.cpp — pods and containers made with the `corral` binary
// (see pod_runtime.hpp for the layout on disk and the cgroup mapping).
//
// Making a pod, in order:
//   1. pods/<uid>/pod.json                       what the pod is, for adoption
//   2. the infra: `corral create` + `start` of herd-pause with new mount, IPC,
//      UTS (hostname = pod name) and network namespaces, in its own cgroup
//      under the pod's parent cgroup
//   3. the pod parent's limits (sum of the containers'), lo up, CNI ADD
// and each container:
//   1. `corral image inspect` (Entrypoint, Cmd) and `corral image unpack` by
//      digest into a fresh bundle
//   2. config.json rewritten as the kubelet would have the runtime run it:
//      args, env, joined namespaces, cgroup, limits, io.kubernetes.* annotations
//   3. current.log opened O_APPEND and given to `corral create` as stdout and
//      stderr: corral (like runc, non-terminal, detached) hands its stdio
//      to the container process, so the container writes the log directly
//      and no process of ours sits in between
//   4. `corral start`; the pid comes from --pid-file.
// Container inits are forked by corral, which exits: they are re-parented
// to the nearest subreaper, which must be the caller (the agent sets
// PR_SET_CHILD_SUBREAPER) so that it can wait for them and see exit codes.
#include "herd/pod_runtime.hpp"

#include "common/fs.hpp"
#include "herd/pod_cgroups.hpp"
#include "herd/run_program.hpp"
#include "herd/status.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/sendfile.h>
#include <unistd.h>

namespace corral::herd {
namespace {

constexpr const char *kInfraName = "_infra";
constexpr int64_t kInfraShares = 2;  // the kubelet's for a BestEffort cgroup

// The capabilities containerd (and docker) give a container by default: what
// images written for Kubernetes expect (nginx chowns, ping needs NET_RAW).
const char *const kDefaultCapabilities[] = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",          "CAP_FOWNER",     "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",          "CAP_SETFCAP",    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};

std::string directory_of(const std::string &path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
}

std::string absolute(const std::string &path) {
    if (path.empty() || path[0] == '/') return clean_path(path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return path;
    return clean_path(std::string(cwd) + "/" + path);
}

std::string self_exe_dir() {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    return directory_of(std::string(buf, static_cast<size_t>(n)));
}

std::string uid8(const Pod &pod) { return pod.metadata.uid.substr(0, 8); }

// Alive and not a zombie (/proc/PID/stat's state field).
bool process_running(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;
    auto paren = line.rfind(')');
    return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z' && line[paren + 2] != 'X';
}

// --- kubelet resource mapping (pod_cgroups.hpp has the CPU formulas) ------

json container_resources(const Container &c, json resources) {
    if (!resources.is_object()) resources = json::object();
    if (c.resources.memory_limit_bytes) {
        // No swap beyond the limit, as the kubelet asks (memory+swap = limit).
        resources["memory"]["limit"] = *c.resources.memory_limit_bytes;
        resources["memory"]["swap"] = *c.resources.memory_limit_bytes;
    }
    resources["cpu"]["shares"] = shares_from_millis(cpu_request(c));
    if (c.resources.cpu_limit_millis) {
        resources["cpu"]["quota"] = quota_from_millis(*c.resources.cpu_limit_millis);
        resources["cpu"]["period"] = kCpuPeriodUs;
    }
    return resources;
}

// --- Kubernetes command and environment semantics -------------------------

// $(VAR) references in env values, command and args, as Kubernetes expands
// them: a defined variable is replaced, an undefined reference stays as
// written, and $$ is a literal $.
std::string expand_references(const std::string &in, const std::map<std::string, std::string> &vars) {
    std::string out;
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '$' || i + 1 >= in.size()) {
            out += in[i];
            continue;
        }
        if (in[i + 1] == '$') {
            out += '$';
            ++i;
            continue;
        }
        if (in[i + 1] == '(') {
            size_t close = in.find(')', i + 2);
            if (close != std::string::npos) {
                std::string name = in.substr(i + 2, close - i - 2);
                if (auto it = vars.find(name); it != vars.end()) {
                    out += it->second;
                    i = close;
                    continue;
                }
            }
        }
        out += in[i];
    }
    return out;
}

// command replaces the image's Entrypoint and drops its Cmd; args replaces Cmd.
std::vector<std::string> process_args(const Container &c, const json &image_config,
                                      const std::map<std::string, std::string> &vars) {
    auto list = [&](const char *key) {
        std::vector<std::string> v;
        if (image_config.contains(key) && image_config.at(key).is_array())
            for (const auto &s : image_config.at(key)) v.push_back(s.get<std::string>());
        return v;
    };
    std::vector<std::string> args;
    if (!c.command.empty()) {
        args = c.command;
        args.insert(args.end(), c.args.begin(), c.args.end());
    } else {
        args = list("Entrypoint");
        std::vector<std::string> tail = c.args.empty() ? list("Cmd") : c.args;
        args.insert(args.end(), tail.begin(), tail.end());
    }
    // Only what the manifest wrote is expanded, as Kubernetes does.
    if (!c.command.empty() || !c.args.empty())
        for (auto &a : args) a = expand_references(a, vars);
    return args;
}

// Image env, then the container's (same name: the container's wins, in the
// image's position), then HOSTNAME as containerd sets it.
std::vector<std::string> process_env(const json &image_env, const Container &c, const std::string &hostname,
                                     std::map<std::string, std::string> &vars) {
    std::vector<std::pair<std::string, std::string>> env;
    auto set = [&](const std::string &name, const std::string &value) {
        for (auto &kv : env)
            if (kv.first == name) return void(kv.second = value);
        env.emplace_back(name, value);
    };
    if (image_env.is_array())
        for (const auto &e : image_env) {
            std::string kv = e.get<std::string>();
            auto eq = kv.find('=');
            set(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
        }
    if (!hostname.empty()) set("HOSTNAME", hostname);
    for (const auto &e : c.env) {
        std::string value = expand_references(e.value, vars);
        vars[e.name] = value;
        set(e.name, value);
    }
    std::vector<std::string> out;
    for (auto &[k, v] : env) out.push_back(k + "=" + v);
    return out;
}

// The hostname Kubernetes gives a pod: its name, cut to 63 characters.
std::string pod_hostname(const Pod &pod) { return pod.metadata.name.substr(0, 63); }

json kubernetes_annotations(const Pod &pod, const std::string &type, const std::string &sandbox_id) {
    return json{{"io.kubernetes.pod.name", pod.metadata.name},
                {"io.kubernetes.pod.namespace", pod.metadata.namespace_},
                {"io.kubernetes.pod.uid", pod.metadata.uid},
                {"io.kubernetes.cri.container-type", type},
                {"io.kubernetes.cri.sandbox-id", sandbox_id},
                {"io.kubernetes.cri.sandbox-name", pod.metadata.name},
                {"io.kubernetes.cri.sandbox-namespace", pod.metadata.namespace_},
                {"io.kubernetes.cri.sandbox-uid", pod.metadata.uid}};
}

json capabilities(const std::vector<std::string> &caps) {
    json list = json::array();
    for (const auto &c : caps) list.push_back(c);
    return json{{"bounding", list}, {"effective", list}, {"permitted", list}};
}

// --- corral ---------------------------------------------------------------

std::vector<std::string> corral_argv(const RuntimeConfig &cfg, std::vector<std::string> args) {
    std::vector<std::string> argv{cfg.corral_bin};
    if (cfg.debug) argv.push_back("--debug");
    argv.push_back("--root");
    argv.push_back(cfg.corral_root);
    argv.insert(argv.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
    return argv;
}

// The last "error" message of corral's --log-format json lines (its log
// file, or its stderr); "" when there is none.
std::string last_logged_error(const std::string &text) {
    std::string found;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        json j = json::parse(line, nullptr, false);
        if (j.is_object() && j.value("level", "") == "error") found = j.value("msg", "");
    }
    return found;
}

// Runs corral (its messages as JSON lines on stderr) with stdout captured; a
// non-zero exit becomes an Error with corral's own last error message.
Result<std::string> corral(const RuntimeConfig &cfg, std::vector<std::string> args, const std::string &what) {
    ProgramRun run;
    args.insert(args.begin(), {"--log-format", "json"});
    run.argv = corral_argv(cfg, std::move(args));
    auto r = run_program(run);
    if (!r) return std::move(r).error().context(what);
    if (!r->ok()) {
        std::string msg = last_logged_error(r->err);
        return Error(what + ": " + (msg.empty() ? r->last_error_line() : msg));
    }
    return std::move(r->out);
}

std::vector<std::string> image_args(const RuntimeConfig &cfg, std::vector<std::string> args) {
    std::vector<std::string> out{"image", args[0]};
    if (!cfg.image_store.empty()) {
        out.push_back("--store");
        out.push_back(cfg.image_store);
    }
    out.insert(out.end(), args.begin() + 1, args.end());
    return out;
}

// `corral create` + `corral start` with the given stdio; returns the pid.
// corral's own messages go to its --log file (json), which we read on
// failure: its stderr is the container's, so it ends up in the container's
// log too, where a user looking at `herd logs` also sees why nothing ran.
Result<pid_t> create_and_start(const RuntimeConfig &cfg, const std::string &id, const std::string &bundle,
                               const std::string &work_dir, int stdin_fd, int output_fd) {
    std::string pid_file = work_dir + "/pid";
    std::string log = work_dir + "/corral.log";
    unlink(pid_file.c_str());
    if (!cfg.debug) unlink(log.c_str());
    ProgramRun create;
    create.argv = corral_argv(cfg, {"--log", log, "--log-format", "json", "create", "--bundle", bundle,
                                    "--pid-file", pid_file, id});
    create.stdin_fd = stdin_fd;
    create.stdout_fd = output_fd;
    create.stderr_fd = output_fd;
    auto r = run_program(create);
    if (!r) return std::move(r).error().context("corral create " + id);
    if (!r->ok()) {
        auto text = read_file(log);
        std::string msg = text ? last_logged_error(*text) : "";
        return Error("corral create " + id + ": " + (msg.empty() ? "exit status " + std::to_string(r->exit_code) : msg));
    }
    auto pid_text = read_file(pid_file);
    if (!pid_text) return std::move(pid_text).error().context("corral create " + id + ": pid file");
    pid_t pid = static_cast<pid_t>(atoi(pid_text->c_str()));
    if (pid <= 0) return Error("corral create " + id + ": bad pid file " + pid_file);
    auto started = corral(cfg, {"start", id}, "corral start " + id);
    if (!started) return std::move(started).error();
    return pid;
}

// `corral state`: nullopt when corral does not know the container.
std::optional<json> corral_state(const RuntimeConfig &cfg, const std::string &id) {
    auto out = corral(cfg, {"state", id}, "corral state " + id);
    if (!out) return std::nullopt;
    json j = json::parse(*out, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    return j;
}

Status force_delete(const RuntimeConfig &cfg, const std::string &id) {
    auto r = corral(cfg, {"delete", "--force", id}, "corral delete " + id);
    // Not there (any more) is what we wanted: `corral state` says so.
    if (r || !corral_state(cfg, id)) return ok();
    return std::move(r).error();
}

Result<UniqueFd> open_dev_null() { return open_file("/dev/null", O_RDWR); }

// Copy-truncate: the writers keep their O_APPEND fds and go on at offset 0.
Status copy_truncate(const std::string &path, const std::string &rotated) {
    auto src = CORRAL_TRY(open_file(path, O_RDWR));
    auto dst = CORRAL_TRY(open_file(rotated, O_WRONLY | O_CREAT | O_TRUNC, 0640));
    struct stat st{};
    if (fstat(src.get(), &st) < 0) return Error::from_errno(errno, "stat", path);
    off_t off = 0;
    while (off < st.st_size) {
        ssize_t n = sendfile(dst.get(), src.get(), &off, static_cast<size_t>(st.st_size - off));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Error::from_errno(n < 0 ? errno : EIO, "copy log", rotated);
    }
    if (ftruncate(src.get(), 0) < 0) return Error::from_errno(errno, "truncate log", path);
    return ok();
}

} // namespace

// --- PodRuntime -----------------------------------------------------------

PodRuntime::PodRuntime(RuntimeConfig cfg) : cfg_(std::move(cfg)) {
    cfg_.state_dir = absolute(cfg_.state_dir);
    if (cfg_.corral_bin.empty()) cfg_.corral_bin = self_exe_dir() + "/corral";
    if (cfg_.pause_bin.empty()) cfg_.pause_bin = self_exe_dir() + "/herd-pause";
    if (cfg_.corral_root.empty()) cfg_.corral_root = cfg_.state_dir + "/corral";
    cfg_.corral_root = absolute(cfg_.corral_root);
    if (!cfg_.image_store.empty()) cfg_.image_store = absolute(cfg_.image_store);
    if (cfg_.network.cache_dir.empty()) cfg_.network.cache_dir = cfg_.state_dir + "/cni";
}

std::string PodRuntime::infra_id(const Pod &pod) const { return "herd-" + uid8(pod) + "-" + kInfraName; }

std::string PodRuntime::container_id(const Pod &pod, const std::string &container) const {
    return "herd-" + uid8(pod) + "-" + container;
}

std::string PodRuntime::log_path(const Pod &pod, const std::string &container, bool previous) const {
    return pod_dir(pod) + "/" + container + (previous ? "/previous.log" : "/current.log");
}

std::string PodRuntime::pod_dir(const Pod &pod) const { return cfg_.state_dir + "/pods/" + pod.metadata.uid; }

std::string PodRuntime::pod_cgroup(const Pod &pod) const {
    return clean_path(cfg_.cgroup_root + "/pod" + pod.metadata.uid);
}

// The pod and container a corral id of ours names: found by the uid prefix
// among the saved pods, so that calls given only an id (kill, OOM, remove)
// know the container's directory and cgroup.
std::optional<PodRuntime::Located> PodRuntime::locate(const std::string &corral_id) const {
    if (corral_id.rfind("herd-", 0) != 0) return std::nullopt;
    std::string pods = cfg_.state_dir + "/pods";
    DIR *d = opendir(pods.c_str());
    if (!d) return std::nullopt;
    std::optional<Located> found;
    while (dirent *e = readdir(d)) {
        std::string uid = e->d_name;
        if (uid == "." || uid == "..") continue;
        std::string prefix = "herd-" + uid.substr(0, 8) + "-";
        if (corral_id.size() > prefix.size() && corral_id.rfind(prefix, 0) == 0) {
            found = Located{uid, corral_id.substr(prefix.size())};
            break;
        }
    }
    closedir(d);
    return found;
}

Status PodRuntime::ensure_pause_rootfs() const {
    // One read-only rootfs for every infra: just the static herd-pause and
    // the mount point of /dev.
    std::string rootfs = cfg_.state_dir + "/pause-rootfs";
    std::string bin = rootfs + "/herd-pause";
    struct stat want{}, have{};
    if (stat(cfg_.pause_bin.c_str(), &want) < 0) return Error::from_errno(errno, "herd-pause binary", cfg_.pause_bin);
    if (stat(bin.c_str(), &have) == 0 && have.st_size == want.st_size) return ok();
    CORRAL_TRY(mkdir_p(rootfs + "/dev"));
    auto src = CORRAL_TRY(open_file(cfg_.pause_bin, O_RDONLY));
    std::string tmp = bin + ".tmp";
    auto dst = CORRAL_TRY(open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0755));
    off_t off = 0;
    while (off < want.st_size) {
        ssize_t n = sendfile(dst.get(), src.get(), &off, static_cast<size_t>(want.st_size - off));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Error::from_errno(n < 0 ? errno : EIO, "copy herd-pause", tmp);
    }
    dst.reset();
    if (rename(tmp.c_str(), bin.c_str()) < 0) return Error::from_errno(errno, "install herd-pause", bin);
    return ok();
}

json PodRuntime::infra_config(const Pod &pod) const {
    bool host_net = pod.spec.host_network;
    json ns = json::array({{{"type", "mount"}}, {{"type", "ipc"}}});
    // hostNetwork pods keep the node's network and, as in Kubernetes, its
    // hostname (UTS) too.
    if (!host_net) {
        ns.push_back({{"type", "uts"}});
        ns.push_back({{"type", "network"}});
    }
    json config{
        {"ociVersion", "1.2.0"},
        {"process",
         {{"terminal", false},
          {"user", {{"uid", 0}, {"gid", 0}}},
          {"args", {"/herd-pause"}},
          {"env", {"PATH=/"}},
          {"cwd", "/"},
          {"capabilities", capabilities({})},
          {"noNewPrivileges", true}}},
        {"root", {{"path", cfg_.state_dir + "/pause-rootfs"}, {"readonly", true}}},
        {"mounts", json::array({{{"destination", "/dev"},
                                 {"type", "tmpfs"},
                                 {"source", "tmpfs"},
                                 {"options", {"nosuid", "noexec", "mode=755", "size=64k"}}}})},
        {"linux",
         {{"namespaces", ns},
          {"cgroupsPath", pod_cgroup(pod) + "/" + kInfraName},
          {"resources", {{"cpu", {{"shares", kInfraShares}}}}}}},
        {"annotations", kubernetes_annotations(pod, "sandbox", infra_id(pod))}};
    if (!host_net) config["hostname"] = pod_hostname(pod);
    return config;
}

Result<InfraInfo> PodRuntime::start_infra(const Pod &pod) {
    if (pod.metadata.uid.empty()) return Error("pod " + pod.metadata.name + ": no metadata.uid");
    std::string what = "start pod " + pod.metadata.namespace_ + "/" + pod.metadata.name;
    std::string dir = pod_dir(pod);
    std::string bundle = dir + "/" + kInfraName;
    InfraInfo info;
    info.corral_id = infra_id(pod);

    // Any failure undoes what was made: corral's container, the network,
    // the cgroups, the directory.
    auto undo = [&](Error e) -> Error {
        InfraInfo partial = info;
        (void)remove_pod(pod, partial);
        return std::move(e.context(what));
    };
    if (auto st = mkdir_p(bundle, 0700); !st) return undo(std::move(st).error());
    if (auto st = write_file_atomic(dir + "/pod.json", to_json(pod).dump()); !st) return undo(std::move(st).error());
    if (auto st = ensure_pause_rootfs(); !st) return undo(std::move(st).error());
    if (auto st = write_file_atomic(bundle + "/config.json", infra_config(pod).dump(1)); !st)
        return undo(std::move(st).error());
    if (auto st = force_delete(cfg_, info.corral_id); !st) return undo(std::move(st).error());  // a crashed attempt's

    auto null_fd = open_dev_null();
    if (!null_fd) return undo(std::move(null_fd).error());
    auto pid = create_and_start(cfg_, info.corral_id, bundle, bundle, null_fd->get(), null_fd->get());
    if (!pid) return undo(std::move(pid).error());
    info.pid = *pid;
    // The pause process must still be there: an infra that dies at once (its
    // final execve failed, say) would leave the pod without namespaces.
    if (!process_running(info.pid))
        return undo(Error("the infra process " + std::to_string(info.pid) + " (" + cfg_.pause_bin + ") exited at once"));

    if (auto st = apply_pod_limits(pod, pod_cgroup(pod)); !st) return undo(std::move(st).error());
    if (!pod.spec.host_network) {
        // `lo` is up: the runtime brings up the loopback of a new netns (as runc does).
        info.network.netns_path = "/proc/" + std::to_string(info.pid) + "/ns/net";
        if (cni_available(cfg_.network)) {
            std::vector<ContainerPort> ports;
            for (const auto &c : pod.spec.containers) ports.insert(ports.end(), c.ports.begin(), c.ports.end());
            // A previous infra of this pod (died, or an agent crashed before
            // removing it) may still hold an address and rules: release them
            // first, so the pod does not leak a lease or get rules twice.
            if (auto st = teardown_pod_network(cfg_.network, pod.metadata.uid, "", ports); !st)
                return undo(std::move(st).error());
            auto net = setup_pod_network(cfg_.network, pod.metadata.uid, info.pid, ports);
            if (!net) return undo(std::move(net).error());
            info.network = *net;
        } else {
            info.network_warning = "CNI plugins (bridge, host-local, portmap) not found in " + cfg_.network.plugin_dir +
                                   ": pods get loopback only (install containernetworking-plugins)";
        }
    }
    json saved{{"ip", info.network.ip}, {"netns_path", info.network.netns_path}};
    if (auto st = write_file_atomic(dir + "/network.json", saved.dump()); !st) return undo(std::move(st).error());
    return info;
}

Result<StartedContainer> PodRuntime::start_container(const Pod &pod, const Container &c, const InfraInfo &infra) {
    std::string what = "start container " + c.name + " of pod " + pod.metadata.namespace_ + "/" + pod.metadata.name;
    std::string dir = pod_dir(pod) + "/" + c.name;
    std::string bundle = dir + "/bundle";
    StartedContainer out;
    out.corral_id = container_id(pod, c.name);
    out.log_path = log_path(pod, c.name, false);

    CORRAL_TRY_CTX(mkdir_p(dir, 0700), what);
    CORRAL_TRY_CTX(remove_container(out.corral_id), what);

    // 1. The image: inspect for Entrypoint/Cmd, then unpack that very digest.
    auto inspected = corral(cfg_, image_args(cfg_, {"inspect", c.image}), "image \"" + c.image + "\"");
    if (!inspected) return std::move(inspected).error().context(what);
    json image = json::parse(*inspected, nullptr, false);
    if (!image.is_object() || !image.contains("digest"))
        return Error(what + ": image \"" + c.image + "\": unexpected `corral image inspect` output");
    json image_config = image.contains("config") ? image["config"].value("config", json::object()) : json::object();
    std::string digest = image.at("digest").get<std::string>();
    // From here on a failure removes what was made (a half-unpacked bundle too).
    auto undo = [&](Error e) -> Error {
        (void)remove_container(out.corral_id);
        return std::move(e.context(what));
    };
    auto unpacked = corral(cfg_, image_args(cfg_, {"unpack", "-q", digest, bundle}),
                           "unpack image \"" + c.image + "\" into " + bundle);
    if (!unpacked) return undo(std::move(unpacked).error());

    // 2. config.json as the kubelet would have it.
    auto text = read_file(bundle + "/config.json");
    if (!text) return undo(std::move(text).error());
    json config = json::parse(*text, nullptr, false);
    if (!config.is_object()) return undo(Error("unpacked config.json is not JSON"));
    std::map<std::string, std::string> vars;
    json &proc = config["process"];
    proc["env"] = process_env(proc.value("env", json::array()), c, pod_hostname(pod), vars);
    proc["args"] = process_args(c, image_config, vars);
    if (proc["args"].empty())
        return undo(Error("no command: the image has neither Entrypoint nor Cmd and the container sets none"));
    if (!c.working_dir.empty()) proc["cwd"] = c.working_dir;
    proc["terminal"] = false;
    proc["capabilities"] = capabilities({std::begin(kDefaultCapabilities), std::end(kDefaultCapabilities)});
    config.erase("hostname");  // set once, by the infra, in the shared UTS namespace
    std::string ns_dir = "/proc/" + std::to_string(infra.pid) + "/ns/";
    json ns = json::array({{{"type", "pid"}}, {{"type", "mount"}}, {{"type", "ipc"}, {"path", ns_dir + "ipc"}}});
    if (!pod.spec.host_network) {
        ns.push_back({{"type", "uts"}, {"path", ns_dir + "uts"}});
        ns.push_back({{"type", "network"}, {"path", ns_dir + "net"}});
    }
    json &linux_section = config["linux"];
    linux_section["namespaces"] = ns;
    linux_section["cgroupsPath"] = pod_cgroup(pod) + "/" + c.name;
    linux_section["resources"] = container_resources(c, linux_section.value("resources", json::object()));
    json annotations = config.value("annotations", json::object());
    annotations.update(kubernetes_annotations(pod, "container", infra.corral_id));
    annotations["io.kubernetes.container.name"] = c.name;
    annotations["io.kubernetes.cri.container-name"] = c.name;
    annotations["io.kubernetes.cri.image-name"] = c.image;
    config["annotations"] = annotations;
    if (auto st = write_file_atomic(bundle + "/config.json", config.dump(1), 0644); !st)
        return undo(std::move(st).error());

    // 3. The log: the previous instance's becomes previous.log.
    if (path_exists(out.log_path) && rename(out.log_path.c_str(), log_path(pod, c.name, true).c_str()) < 0)
        return undo(Error::from_errno(errno, "keep previous log", out.log_path));
    auto log = open_file(out.log_path, O_WRONLY | O_CREAT | O_APPEND, 0640);
    if (!log) return undo(std::move(log).error());
    auto null_fd = open_dev_null();
    if (!null_fd) return undo(std::move(null_fd).error());

    // 4. create + start.
    auto pid = create_and_start(cfg_, out.corral_id, bundle, dir, null_fd->get(), log->get());
    if (!pid) return undo(std::move(pid).error());
    out.pid = *pid;
    out.started_at = static_cast<int64_t>(time(nullptr));
    return out;
}

Status PodRuntime::signal_container(const std::string &corral_id, int sig) {
    auto r = corral(cfg_, {"kill", corral_id, std::to_string(sig)}, "corral kill " + corral_id);
    if (r) return ok();
    // Gone, or its process has exited: nothing to signal.
    auto state = container_state(corral_id);
    if (!state || state->status == "stopped") return ok();
    return std::move(r).error();
}

Status PodRuntime::remove_container(const std::string &corral_id) {
    Status first = force_delete(cfg_, corral_id);
    auto where = locate(corral_id);
    if (!where) return first;
    std::string dir = cfg_.state_dir + "/pods/" + where->uid + "/" + where->container;
    std::string bundle = dir + "/bundle";
    if (path_exists(bundle)) {
        // rm-bundle unmounts the overlay and releases the layers; a bundle
        // whose unpack never finished is just a directory.
        Status st;
        if (path_exists(bundle + "/.corral/image.json")) {
            auto r = corral(cfg_, {"image", "rm-bundle", bundle}, "remove bundle " + bundle);
            if (!r) st = std::move(r).error();
        }
        if (path_exists(bundle) && st.ok()) st = remove_tree(bundle);
        if (!st && first.ok()) first = std::move(st);
    }
    std::string cgroup = clean_path(cfg_.cgroup_root + "/pod" + where->uid + "/" + where->container);
    if (auto st = remove_cgroup(cgroup); !st && first.ok()) first = std::move(st);
    return first;
}

Status PodRuntime::remove_pod(const Pod &pod, const InfraInfo &infra) {
    Status first;
    auto keep = [&](Status st) {
        if (!st && first.ok()) first = std::move(st);
    };
    for (const auto &c : pod.spec.containers) keep(remove_container(container_id(pod, c.name)));
    // CNI DEL while the namespace still exists, so the plugins can remove
    // the pod's side of the veth too.
    if (!pod.spec.host_network && cni_available(cfg_.network)) {
        std::string netns = infra.network.netns_path;
        if (netns.empty() && infra.pid > 0) netns = "/proc/" + std::to_string(infra.pid) + "/ns/net";
        std::vector<ContainerPort> ports;
        for (const auto &c : pod.spec.containers) ports.insert(ports.end(), c.ports.begin(), c.ports.end());
        keep(teardown_pod_network(cfg_.network, pod.metadata.uid, netns, ports));
    }
    keep(force_delete(cfg_, infra_id(pod)));
    keep(remove_cgroup(pod_cgroup(pod)));
    if (first.ok()) keep(remove_tree(pod_dir(pod)));
    if (!first) return std::move(first).error().context("remove pod " + pod.metadata.namespace_ + "/" + pod.metadata.name);
    return first;
}

bool PodRuntime::was_oom_killed(const std::string &corral_id) const {
    auto where = locate(corral_id);
    if (!where) return false;
    return cgroup_oom_kills(clean_path(cfg_.cgroup_root + "/pod" + where->uid + "/" + where->container)) > 0;
}

void PodRuntime::rotate_logs_if_needed(const Pod &pod) {
    // The pod's herd.io/log-max-bytes (validated when the manifest was read)
    // wins over the agent's --log-max-bytes.
    uint64_t max_bytes = cfg_.log_max_bytes;
    if (auto a = pod.metadata.annotations.find("herd.io/log-max-bytes"); a != pod.metadata.annotations.end()) {
        if (auto bytes = parse_memory_bytes(a->second); bytes && *bytes >= 4096) max_bytes = static_cast<uint64_t>(*bytes);
    }
    for (const auto &c : pod.spec.containers) {
        std::string path = log_path(pod, c.name, false);
        struct stat st{};
        if (stat(path.c_str(), &st) < 0 || static_cast<uint64_t>(st.st_size) <= max_bytes) continue;
        (void)copy_truncate(path, path + ".1");
    }
}

std::vector<Pod> PodRuntime::saved_pods() const {
    std::vector<Pod> out;
    std::string pods = cfg_.state_dir + "/pods";
    DIR *d = opendir(pods.c_str());
    if (!d) return out;
    std::vector<std::string> uids;
    while (dirent *e = readdir(d))
        if (e->d_name[0] != '.') uids.push_back(e->d_name);
    closedir(d);
    std::sort(uids.begin(), uids.end());
    for (const auto &uid : uids) {
        std::string file = pods + "/" + uid + "/pod.json";
        auto text = read_file(file);
        if (!text) continue;
        json j = json::parse(*text, nullptr, false);
        if (j.is_discarded()) continue;
        auto pod = pod_from_json(j, file);
        if (pod) out.push_back(std::move(*pod));
    }
    return out;
}

std::optional<PodRuntime::CorralState> PodRuntime::container_state(const std::string &corral_id) const {
    auto j = corral_state(cfg_, corral_id);
    if (!j) return std::nullopt;
    CorralState st;
    st.status = j->value("status", "");
    st.pid = j->value("pid", 0);
    st.created = parse_rfc3339(j->value("created", "")).value_or(0);
    return st;
}

Result<ContainerStats> PodRuntime::container_stats(const Pod &pod, const std::string &container) const {
    return cgroup_stats(pod_cgroup(pod) + "/" + container);
}

std::optional<InfraInfo> PodRuntime::saved_infra(const Pod &pod) const {
    auto state = container_state(infra_id(pod));
    if (!state || state->status != "running" || state->pid <= 0) return std::nullopt;
    InfraInfo info;
    info.corral_id = infra_id(pod);
    info.pid = state->pid;
    if (auto text = read_file(pod_dir(pod) + "/network.json"); text) {
        json j = json::parse(*text, nullptr, false);
        if (j.is_object()) {
            info.network.ip = j.value("ip", "");
            info.network.netns_path = j.value("netns_path", "");
        }
    }
    return info;
}

} // namespace corral::herd
