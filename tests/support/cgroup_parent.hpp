#pragma once
// The parent cgroup every test container lives under, /corral-test, shared
// by all test binaries (integration_tests, herd_tests, unit_cgroups).

#include <dirent.h>
#include <string>
#include <unistd.h>

namespace corral_test {

// Removes /corral-test from every hierarchy (cgroup v2, and each v1
// controller) where it is empty; rmdir fails where a test still uses it.
inline void remove_cgroup_parent() {
    rmdir("/sys/fs/cgroup/corral-test");  // cgroup v2
    if (DIR *d = opendir("/sys/fs/cgroup")) {
        while (dirent *e = readdir(d))
            if (e->d_type == DT_DIR && e->d_name[0] != '.')
                rmdir((std::string("/sys/fs/cgroup/") + e->d_name + "/corral-test").c_str());
        closedir(d);
    }
}

} // namespace corral_test
