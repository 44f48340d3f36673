// herd/node_info.cpp — the agent's report of its node (node_info.hpp).
#include "herd/node_info.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace corral::herd {
namespace {

std::string goarch(const std::string &machine) {
    if (machine == "x86_64") return "amd64";
    if (machine == "aarch64") return "arm64";
    if (machine.rfind("armv", 0) == 0) return "arm";
    if (machine == "i686" || machine == "i386") return "386";
    return machine;  // ppc64le, s390x, riscv64 are GOARCH words already
}

int64_t mem_total_bytes() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    int64_t kib = 0;
    std::string unit;
    while (in >> key >> kib >> unit)
        if (key == "MemTotal:") return kib * 1024;
    return -1;
}

std::string os_image() {
    std::ifstream in("/etc/os-release");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("PRETTY_NAME=", 0) != 0) continue;
        std::string v = line.substr(12);
        if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) v = v.substr(1, v.size() - 2);
        return v;
    }
    return "Linux";
}

} // namespace

std::string local_architecture() {
    utsname u{};
    return ::uname(&u) == 0 ? goarch(u.machine) : "amd64";
}

nlohmann::json node_info(const std::string &pod_cidr) {
    nlohmann::json out = {{"pod_cidr", pod_cidr}, {"os_image", os_image()}};
    long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus > 0) out["cpu_millis"] = int64_t(cpus) * 1000;
    int64_t mem = mem_total_bytes();
    if (mem > 0) out["memory_bytes"] = mem;
    utsname u{};
    if (::uname(&u) == 0) {
        out["architecture"] = goarch(u.machine);
        out["kernel_version"] = u.release;
    }
    return out;
}

} // namespace corral::herd
