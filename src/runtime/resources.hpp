// resources.hpp — what the resource operations (ops_resources.cpp) and the
// events loop (events.cpp) share.
#pragma once

#include "cgroups/manager.hpp"
#include "runtime/state.hpp"

#include <memory>

namespace corral {

inline constexpr const char *kContainerNotRunning = "container not running";

// The container's cgroup manager, re-opened from what state.json recorded.
Result<std::unique_ptr<cgroups::Manager>> open_container_cgroup(const Context &ctx, const StateRecord &rec);

// runc's error for `events` on a stopped container.
Error not_running_for_events(const std::string &id);

} // namespace corral
