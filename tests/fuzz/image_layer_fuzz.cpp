// image_layer_fuzz: arbitrary bytes as a layer blob (tar, gzip or zstd),
// applied into an empty root as `corral image unpack` does. Any input must
// give a layer or an Error, and nothing may land outside the root: the root
// lies alone in a fresh parent directory, which must hold only it afterwards.
//
// Seeds: tests/fuzz/corpus/image_layer/ (small tars with links, whiteouts,
// `/` and `./` names). Run with scripts/fuzz.
#include "common/fs.hpp"
#include "corral/log.hpp"
#include "image/layer.hpp"

#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char tmpl[] = "/tmp/fuzz-layer-XXXXXX";
    if (!mkdtemp(tmpl)) return 0;
    std::string parent = tmpl, root = parent + "/root", blob = parent + "/blob";
    {
        int out = ::open(blob.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (out >= 0) {
            (void)!::write(out, data, size);
            ::close(out);
        }
    }
    ::mkdir(root.c_str(), 0755);
    int rootfd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    auto fd = std::make_shared<const corral::UniqueFd>(::open(blob.c_str(), O_RDONLY | O_CLOEXEC));
    if (rootfd >= 0 && fd->get() >= 0) {
        corral::image::LayerInput in;
        in.blob = {fd, 0, size};
        in.size = size;
        in.what = "fuzzed layer";
        std::atomic<uint64_t> used{0};
        corral::image::ApplyLimits limits;
        limits.max_size = 64u << 20; // a tar may claim any size: keep the disk safe
        limits.size_used = &used;
        corral::Logger log;
        (void)corral::image::apply_layer(rootfd, in, limits, log);
    }
    if (rootfd >= 0) ::close(rootfd);
    ::unlink(blob.c_str());
    // Only the root may be left in the parent.
    if (DIR *d = ::opendir(parent.c_str())) {
        while (dirent *e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name != "." && name != ".." && name != "root") {
                std::fprintf(stderr, "image_layer_fuzz: entry `%s` written outside the root\n", name.c_str());
                std::abort();
            }
        }
        ::closedir(d);
    }
    (void)corral::remove_tree(parent);
    return 0;
}
