// stats.hpp — a container's cgroup statistics as runc's `events` reports them.
//
// cgroups::Manager::stats() has the few numbers the engine itself needs; runc's
// `events --stats` shows much more (per-CPU usage, the whole memory.stat, blkio
// entries, cpuset, hugetlb), so this reads those files directly from the
// cgroup directories recorded for the container. Everything is best effort, as
// a reader of statistics wants: a missing file leaves its numbers at zero.
#pragma once

#include "cgroups/manager.hpp"
#include "corral/container.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corral {

// `paths` as cgroups::Manager::paths() lists them: v1 (controller, dir)
// pairs; v2 ("", dir). `hugepages_dir` lists the host's huge page sizes.
ContainerStats collect_stats(cgroups::Mode mode, const std::vector<std::pair<std::string, std::string>> &paths,
                             const std::string &hugepages_dir = "/sys/kernel/mm/hugepages");

// "hugepages-2048kB" → "2MB", "hugepages-1048576kB" → "1GB" (runc's names);
// empty if the name is not of that form.
std::string hugepage_size_name(std::string_view dirname);

// cpuset.cpus / cpuset.mems lists ("0-3,7") as numbers; malformed parts are skipped.
std::vector<uint16_t> parse_cpu_list(std::string_view list);

} // namespace corral
