// herd/node_info.hpp — what an agent tells serve about its node (the
// "node_info" of its ping answer): allocatable CPU and memory, architecture,
// kernel, OS image and the pod subnet it uses. serve's scheduler places pods
// by it (scheduler.hpp); `herd get nodes` shows it.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace corral::herd {

// CPUs online (as millicores), MemTotal (bytes), uname's machine in GOARCH
// words, the kernel release, PRETTY_NAME of /etc/os-release, and pod_cidr.
// Allocatable is the whole machine for now: reserving CPU and memory for the
// system is the node pool's (issue 16) inventory setting.
nlohmann::json node_info(const std::string &pod_cidr);

// This machine's architecture in GOARCH words (amd64, arm64, ...).
std::string local_architecture();

} // namespace corral::herd
