// v2 devices: linux.resources.devices enforced by an eBPF program attached
// to the cgroup (device_filter.hpp has the program and its semantics).
#include "cgroups/v2/v2.hpp"

#include "common/fs.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sstream>
#include <unistd.h>

namespace corral::cgroups::v2 {

namespace {

// In a user namespace other than the initial one, uid_map is not the
// identity over the whole range.
bool in_user_namespace() {
    auto text = read_file("/proc/self/uid_map");
    if (!text) return false;
    std::istringstream in(*text);
    uint64_t inside = 0, outside = 0, count = 0;
    if (!(in >> inside >> outside >> count)) return false;
    std::string more;
    return inside != 0 || outside != 0 || count != 4294967295u || (in >> more);
}

Status load_and_attach(const std::string &dir, const std::vector<bpf_insn> &program) {
    UniqueFd cgroup = CORRAL_TRY(open_file(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    UniqueFd prog = CORRAL_TRY(load_device_filter(program));
    return attach_device_filter(cgroup.get(), prog.get()).context("cgroup `" + dir + "`");
}

} // namespace

Result<DevicePolicy> check_devices(const std::vector<spec::DeviceRule> &rules) { return device_policy(rules); }

Status set_devices(const Knobs &k, const std::string &dir, size_t rule_count, const DevicePolicy &policy,
                   const DeviceFilterHook &hook) {
    std::vector<bpf_insn> program = device_filter_program(policy);
    if (k.logger)
        k.logger->debug("load device filter (" + std::to_string(rule_count) + " rules, " +
                        std::to_string(program.size()) + " insns)");
    if (hook) return hook(dir, program);
    auto st = load_and_attach(dir, program);
    if (st) return ok();
    // As runc (canSkipEBPFError): without the privileges for bpf(2) a
    // rootless runtime cannot filter devices, and has no mknod on the host
    // either; a policy that allows everything loses nothing.
    bool allow_all = policy.default_allow && policy.exceptions.empty();
    if (in_user_namespace() || ::geteuid() != 0 || allow_all) {
        k.warn("linux.resources.devices: device rules are not enforced: " + st.error().message());
        return ok();
    }
    return std::move(st).error().context("linux.resources.devices: cannot enforce the device rules on cgroup v2");
}

} // namespace corral::cgroups::v2
