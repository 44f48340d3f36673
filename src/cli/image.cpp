// corral image SUBCOMMAND ...: OCI images to bundles, over the layer store.
//
//   corral image unpack SOURCE BUNDLE     a ready bundle (config.json + rootfs)
//   corral image import SOURCE            layers into the store, image kept by name
//   corral image ls | inspect SOURCE | rm IMAGE | gc
//   corral image mount BUNDLE | umount BUNDLE | rm-bundle BUNDLE
//
// SOURCE: LAYOUT-DIR, OCI-ARCHIVE or DOCKER-ARCHIVE, optionally with :TAG or
// @sha256:DIGEST; or the name or digest of an imported image.
#include "cli/args.hpp"

#include "common/fs.hpp"
#include "corral/image.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <tuple>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace corral::cli {

extern const Command kImageCommand; // below; declared in main.cpp's table

namespace {

using json = nlohmann::json;

constexpr Flag kStoreFlag{"store", "DIR",
                          "layer store directory (default: $CORRAL_IMAGE_STORE or /var/lib/corral/image)"};

// --- helpers ----------------------------------------------------------------------

// "512M", "1G", "1048576", "64MiB".
Result<uint64_t> parse_size(const std::string &text, std::string_view flag) {
    size_t i = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    std::string num = text.substr(0, i), unit = text.substr(i);
    if (unit.size() > 1 && (unit.ends_with("iB") || unit.ends_with("B"))) unit.resize(unit.ends_with("iB") ? unit.size() - 2 : unit.size() - 1);
    int shift = 0;
    if (unit == "K" || unit == "k") shift = 10;
    else if (unit == "M" || unit == "m") shift = 20;
    else if (unit == "G" || unit == "g") shift = 30;
    else if (unit == "T" || unit == "t") shift = 40;
    else if (!unit.empty()) num.clear();
    if (num.empty() || num.size() > 15)
        return Error("invalid value \"" + text + "\" for flag -" + std::string(flag) + ": expected a size like 512M or 2G");
    return std::stoull(num) << shift;
}

std::string human(uint64_t bytes) {
    char buf[32];
    if (bytes >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1f GB", double(bytes) / (1ull << 30));
    else if (bytes >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1f MB", double(bytes) / (1ull << 20));
    else if (bytes >= 1024) std::snprintf(buf, sizeof buf, "%.1f kB", double(bytes) / 1024);
    else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    return buf;
}

// A progress line on stderr, only on a terminal, at most ten times a second.
std::function<void(const image::Progress &)> progress_printer(bool quiet) {
    if (quiet || !::isatty(STDERR_FILENO)) return {};
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    return [last](const image::Progress &p) {
        auto now = std::chrono::steady_clock::now();
        if (!p.done && now - *last < std::chrono::milliseconds(100)) return;
        *last = now;
        std::string line = "\runpacking layer " + std::to_string(p.layer) + "/" + std::to_string(p.layers) + ": " +
                           human(p.bytes) + " / " + human(p.total) + "   ";
        if (p.done) line += "\n";
        (void)!::write(STDERR_FILENO, line.data(), line.size());
    };
}

// Pull's progress on a terminal: a line per layer, as podman shows it
// ("Copying blob 1a2b3c4d5e6f [=====>      ] 1.2 MB / 3.4 MB"), redrawn in
// place at most ten times a second; nothing when not a terminal.
std::function<void(const image::Progress &)> layer_progress_printer(bool quiet) {
    if (quiet || !::isatty(STDERR_FILENO)) return {};
    struct State {
        std::vector<std::string> order;
        std::map<std::string, std::tuple<uint64_t, uint64_t, bool>> layers;
        size_t drawn = 0;
        std::chrono::steady_clock::time_point last;
    };
    auto st = std::make_shared<State>();
    return [st](const image::Progress &p) {
        if (!p.digest.empty()) {
            if (!st->layers.count(p.digest)) st->order.push_back(p.digest);
            st->layers[p.digest] = {p.layer_bytes, p.layer_size, p.layer_done};
        }
        auto now = std::chrono::steady_clock::now();
        if (!p.done && !p.layer_done && now - st->last < std::chrono::milliseconds(100)) return;
        st->last = now;
        std::string out;
        if (st->drawn) out += "\x1b[" + std::to_string(st->drawn) + "A";
        for (auto &d : st->order) {
            auto [bytes, size, done] = st->layers[d];
            int width = 30, fill = size ? static_cast<int>(width * double(bytes) / double(size)) : width;
            std::string bar(static_cast<size_t>(std::min(fill, width)), '=');
            if (!done && fill < width) bar += ">";
            bar.resize(static_cast<size_t>(width), ' ');
            out += "\r\x1b[2KCopying blob " + d.substr(d.find(':') + 1, 12) + (done ? " done " : " [" + bar + "] ") +
                   human(bytes) + " / " + human(size) + "\n";
        }
        st->drawn = st->order.size();
        (void)!::write(STDERR_FILENO, out.data(), out.size());
    };
}

json info_json(const image::ImageInfo &i) {
    json layers = json::array();
    for (auto &l : i.layers)
        layers.push_back({{"digest", l.digest}, {"diffID", l.diff_id}, {"mediaType", l.media_type}, {"size", l.size},
                          {"stored", l.stored}});
    json config = json::parse(i.config_json, nullptr, false);
    return {{"digest", i.digest},
            {"names", i.names},
            {"platform", i.platform.str()},
            {"created", i.created},
            {"size", i.size},
            {"configDigest", i.config_digest},
            {"layers", layers},
            {"config", config.is_discarded() ? json(nullptr) : config}};
}

// --- subcommands ------------------------------------------------------------------

Result<int> run_unpack(Env &env, const Args &args, image::Options &opts) {
    auto info = image::unpack(env.ctx, args.positional[0], absolute_path(args.positional[1]), opts);
    if (!info) return std::move(info).error().context("corral image unpack");
    env.ctx.log.debug("bundle " + info->bundle + ": " + std::to_string(info->layers_unpacked) + " layers unpacked, " +
                      std::to_string(info->layers_reused) + " reused, rootfs " + (info->overlay ? "overlay" : "copy"));
    return 0;
}

Result<int> run_import(Env &env, const Args &args, image::Options &opts) {
    auto info = image::import_image(env.ctx, args.positional[0], args.get("name"), opts);
    if (!info) return std::move(info).error().context("corral image import");
    CORRAL_TRY(print(info->digest + "\n"));
    return 0;
}

Result<image::RegistryOptions> registry_options(const Args &args) {
    image::RegistryOptions r;
    r.auth_file = args.get("authfile");
    r.cert_dir = args.get("cert-dir");
    if (args.has("tls-verify")) r.tls_verify = args.flag("tls-verify") ? 1 : 0;
    if (args.has("creds")) {
        std::string c = args.get("creds");
        auto colon = c.find(':');
        r.username = c.substr(0, colon);
        if (colon != std::string::npos) r.password = c.substr(colon + 1);
        if (r.username.empty()) return Error("invalid value \"" + c + "\" for flag -creds: expected USER:PASSWORD");
    }
    return r;
}

Result<int> run_pull(Env &env, const Args &args, image::Options &opts) {
    auto ropts = CORRAL_TRY(registry_options(args));
    opts.progress = layer_progress_printer(args.flag("quiet"));
    auto info = image::pull(env.ctx, args.positional[0], opts, ropts);
    if (!info) return std::move(info).error().context("corral image pull");
    CORRAL_TRY(print(info->digest + "\n"));
    return 0;
}

Result<int> run_push(Env &env, const Args &args, image::Options &opts) {
    auto ropts = CORRAL_TRY(registry_options(args));
    if (args.has("chunk-size")) ropts.chunk_size = CORRAL_TRY(parse_size(args.get("chunk-size"), "chunk-size"));
    if (ropts.chunk_size == 0) return Error("invalid value \"0\" for flag -chunk-size");
    ropts.mount_from = args.all("mount-from");
    auto digest = image::push(env.ctx, args.positional[0], args.positional[1], opts, ropts);
    if (!digest) return std::move(digest).error().context("corral image push");
    if (args.has("digestfile")) CORRAL_TRY(write_file_atomic(args.get("digestfile"), *digest, 0644));
    if (!args.flag("quiet")) CORRAL_TRY(print(*digest + "\n"));
    return 0;
}

Result<int> run_login(Env &env, const Args &args, image::Options &) {
    auto ropts = CORRAL_TRY(registry_options(args));
    ropts.username = args.get("username");
    ropts.password = args.get("password");
    if (args.flag("password-stdin")) {
        if (args.has("password")) return Error("corral image login: --password and --password-stdin together");
        std::string pw = CORRAL_TRY(read_fd(STDIN_FILENO));
        while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
        ropts.password = pw;
    }
    CORRAL_TRY_CTX(image::login(env.ctx, args.positional[0], ropts), "corral image login");
    CORRAL_TRY(print("Login Succeeded!\n"));
    return 0;
}

Result<int> run_logout(Env &env, const Args &args, image::Options &) {
    auto ropts = CORRAL_TRY(registry_options(args));
    bool all = args.flag("all");
    if (!all && args.positional.empty()) return Error("corral image logout: name a registry, or --all");
    CORRAL_TRY_CTX(image::logout(env.ctx, all ? "" : args.positional[0], all, ropts), "corral image logout");
    CORRAL_TRY(print(all ? "Removed login credentials for all registries\n"
                         : "Removed login credentials for " + args.positional[0] + "\n"));
    return 0;
}

Result<int> run_ls(Env &env, const Args &args, image::Options &opts) {
    auto images = CORRAL_TRY(image::list(env.ctx, opts));
    std::string format = args.get("format", "table");
    if (format == "json") {
        json all = json::array();
        for (auto &i : images) {
            json j = info_json(i);
            j.erase("config");
            all.push_back(j);
        }
        CORRAL_TRY(print(all.dump() + "\n"));
        return 0;
    }
    if (format != "table") return Error("invalid format option: " + format);
    if (args.flag("quiet")) {
        std::string out;
        for (auto &i : images) out += i.digest + "\n";
        CORRAL_TRY(print(out));
        return 0;
    }
    std::vector<std::vector<std::string>> rows = {{"NAME", "DIGEST", "PLATFORM", "LAYERS", "SIZE", "CREATED"}};
    for (auto &i : images) {
        std::vector<std::string> names = i.names.empty() ? std::vector<std::string>{"<none>"} : i.names;
        for (auto &n : names)
            rows.push_back({n, i.digest.substr(7, 12), i.platform.str(), std::to_string(i.layers.size()), human(i.size),
                            i.created});
    }
    std::vector<size_t> w(6, 0);
    for (auto &r : rows)
        for (size_t c = 0; c < 6; ++c) w[c] = std::max(w[c], r[c].size() + 3);
    std::string out;
    for (auto &r : rows) {
        for (size_t c = 0; c < 5; ++c) out += r[c] + std::string(w[c] - r[c].size(), ' ');
        out += r[5] + "\n";
    }
    CORRAL_TRY(print(out));
    return 0;
}

Result<int> run_inspect(Env &env, const Args &args, image::Options &opts) {
    auto info = image::inspect(env.ctx, args.positional[0], opts);
    if (!info) return std::move(info).error().context("corral image inspect");
    CORRAL_TRY(print(info_json(*info).dump(2) + "\n"));
    return 0;
}

Result<int> run_rm(Env &env, const Args &args, image::Options &opts) {
    for (auto &ref : args.positional) CORRAL_TRY_CTX(image::remove(env.ctx, ref, opts), "corral image rm");
    return 0;
}

Result<int> run_gc(Env &env, const Args &, image::Options &opts) {
    auto report = CORRAL_TRY_CTX(image::gc(env.ctx, opts), "corral image gc");
    CORRAL_TRY(print("removed " + std::to_string(report.layers_removed) + " layers (" + human(report.bytes_freed) +
                     "), " + std::to_string(report.stale_refs) + " stale bundle refs, " +
                     std::to_string(report.temp_removed) + " interrupted unpacks\n"));
    return 0;
}

Result<int> run_mount(Env &env, const Args &args, image::Options &) {
    CORRAL_TRY_CTX(image::mount_bundle(env.ctx, absolute_path(args.positional[0])), "corral image mount");
    return 0;
}

Result<int> run_umount(Env &env, const Args &args, image::Options &) {
    CORRAL_TRY_CTX(image::unmount_bundle(env.ctx, absolute_path(args.positional[0])), "corral image umount");
    return 0;
}

Result<int> run_rm_bundle(Env &env, const Args &args, image::Options &) {
    for (auto &b : args.positional)
        CORRAL_TRY_CTX(image::remove_bundle(env.ctx, absolute_path(b)), "corral image rm-bundle");
    return 0;
}

// What each subcommand of the table (src/cli/image_table.cpp) runs.
struct Runner {
    std::string_view name;
    Result<int> (*run)(Env &, const Args &, image::Options &);
};
constexpr Runner kRunners[] = {
    {"unpack", run_unpack}, {"import", run_import}, {"pull", run_pull},     {"push", run_push},
    {"login", run_login},   {"logout", run_logout}, {"ls", run_ls},         {"inspect", run_inspect},
    {"rm", run_rm},         {"gc", run_gc},         {"mount", run_mount},   {"umount", run_umount},
    {"rm-bundle", run_rm_bundle},
};

const Command *find_sub(std::string_view name) {
    for (const Command &s : image_subcommands())
        if (s.name == name) return &s;
    return nullptr;
}

Result<int> run_image(Env &env, const Args &top) {
    if (top.positional.empty()) {
        CORRAL_TRY(print(command_help(kImageCommand, "corral")));
        return 0;
    }
    const std::string &name = top.positional[0];
    if (name == "help" || name == "h") { // corral image help [COMMAND]
        if (top.positional.size() < 2) {
            CORRAL_TRY(print(command_help(kImageCommand, "corral")));
            return 0;
        }
        const Command *sub = find_sub(top.positional[1]);
        if (!sub) return Error("corral image: no help topic for `" + top.positional[1] + "` (see `corral image --help`)");
        CORRAL_TRY(print(command_help(*sub, "corral image")));
        return 0;
    }
    const Command *sub = find_sub(name);
    if (!sub) return Error("corral image: unknown command `" + name + "` (see `corral image --help`)");
    std::span<const std::string> rest(top.positional.data() + 1, top.positional.size() - 1);
    Args args = CORRAL_TRY(parse_args(sub->flags, rest, /*interleaved=*/true));
    if (args.flag("help")) {
        CORRAL_TRY(print(command_help(*sub, "corral image")));
        return 0;
    }
    int n = static_cast<int>(args.positional.size());
    if (n < sub->min_args || (sub->max_args >= 0 && n > sub->max_args))
        return Error("corral image " + std::string(sub->name) + ": usage: corral image " + std::string(sub->name) + " " +
                     std::string(sub->args_usage));
    const Runner *runner = nullptr;
    for (const Runner &r : kRunners)
        if (r.name == sub->name) runner = &r;
    if (!runner) return Error("corral image " + std::string(sub->name) + ": not built into this corral-image");

    image::Options opts;
    const char *env_store = std::getenv("CORRAL_IMAGE_STORE");
    std::string store = args.get("store", top.get("store", env_store && *env_store ? env_store : image::kDefaultStore));
    opts.store = absolute_path(store);
    if (auto p = args.get("platform"); !p.empty()) opts.platform = CORRAL_TRY(image::Platform::parse(p));
    if (args.has("max-size")) opts.max_size = CORRAL_TRY(parse_size(args.get("max-size"), "max-size"));
    if (args.has("min-free")) opts.min_free = CORRAL_TRY(parse_size(args.get("min-free"), "min-free"));
    if (args.has("jobs")) {
        std::string j = args.get("jobs");
        int n = j.size() <= 2 && j.find_first_not_of("0123456789") == std::string::npos ? std::atoi(j.c_str()) : 0;
        if (n < 1 || n > 64) return Error("invalid value \"" + j + "\" for flag -jobs: expected 1 to 64");
        opts.jobs = static_cast<unsigned>(n);
    }
    opts.copy = args.flag("copy");
    opts.progress = progress_printer(args.flag("quiet"));
    return runner->run(env, args, opts);
}

constexpr Flag kTopFlags[] = {kStoreFlag};

} // namespace

// declared in main.cpp's table
const Command kImageCommand{
    .name = "image",
    .summary = "unpack OCI images into bundles; manage the layer store",
    .args_usage = "COMMAND [ARGS...]",
    .flags = kTopFlags,
    .min_args = 0,
    .max_args = -1,
    .interleaved = false,
    .run = run_image,
    .subcommands = image_subcommands,
    .description = kImageDescription,
};

} // namespace corral::cli
