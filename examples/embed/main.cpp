// examples/embed: run one container through libcorral's public API only
// (docs/library.md). Usage: embed BUNDLE ID [STATE_ROOT]
// create() may re-execute this program once (the CVE-2019-5736 seal), so
// nothing with an effect comes before it.
#include <corral/container.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

int main(int argc, char **argv) {
    if (argc < 3) return std::fprintf(stderr, "usage: embed BUNDLE ID [STATE_ROOT]\n"), 2;
    std::setvbuf(stdout, nullptr, _IOLBF, 0); // our lines before the container's
    corral::Context ctx; // logs nowhere; the state root defaults to /run/corral
    if (argc > 3) ctx.root = argv[3];
    const std::string id = argv[2];
    auto fail = [&](const char *step, const corral::Error &e) {
        std::fprintf(stderr, "embed: %s %s: %s\n", step, id.c_str(), e.message().c_str());
        (void)corral::remove(ctx, id, /*force=*/true);
        return 1;
    };
    if (auto s = corral::create(ctx, id, {.bundle = argv[1]}); !s) return fail("create", s.error());
    if (auto st = corral::state(ctx, id); st) std::printf("%s pid %d\n", corral::to_string(st->status), st->pid);
    if (auto s = corral::start(ctx, id); !s) return fail("start", s.error());
    for (;;) { // wait: the init is not our child, so poll its state
        auto st = corral::state(ctx, id);
        if (!st) return fail("state", st.error());
        if (st->status == corral::ContainerStatus::stopped) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::printf("stopped\n");
    if (auto s = corral::remove(ctx, id, /*force=*/false); !s) return fail("delete", s.error());
    std::printf("deleted\n");
    return 0;
}
