// corral checkpoint [--image-path DIR] [--work-path DIR] [--leave-running] ... <container-id>
// runc's flags and defaults (image path ./checkpoint); the work is done by
// libcorral through the criu binary (corral/checkpoint.hpp).
#include "cli/args.hpp"

#include "corral/checkpoint.hpp"

namespace corral::cli {
namespace {

constexpr Flag kFlags[] = {
    {"image-path", "value", "path for saving criu image files"},
    {"work-path", "value", "path for saving work files and logs"},
    {"parent-path", "value", "path for previous criu image files in pre-dump"},
    {"leave-running", "", "leave the process running after checkpointing"},
    {"tcp-established", "", "allow open tcp connections"},
    {"ext-unix-sk", "", "allow external unix sockets"},
    {"shell-job", "", "allow shell jobs"},
    {"lazy-pages", "", "use userfaultfd to lazily restore memory pages"},
    {"status-fd", "value", "criu writes \\0 to this FD once lazy-pages is ready (default: -1)"},
    {"page-server", "value", "ADDRESS:PORT of the page server"},
    {"file-locks", "", "handle file locks, for safety"},
    {"pre-dump", "", "dump container's memory information only, leave the container running after this"},
    {"manage-cgroups-mode", "value", "cgroups mode: 'soft' (default), 'full' and 'strict'"},
    {"empty-ns", "value", "create a namespace, but don't restore its properties"},
    {"auto-dedup", "", "enable auto deduplication of memory images"},
};

Result<int> run_checkpoint(Env &env, const Args &args) {
    CheckpointOptions o;
    o.image_path = absolute_path(args.get("image-path", "checkpoint")); // runc: ./checkpoint
    o.work_path = absolute_path(args.get("work-path"));
    o.parent_path = args.get("parent-path"); // relative to the image path, as CRIU takes it
    o.leave_running = args.flag("leave-running");
    o.tcp_established = args.flag("tcp-established");
    o.ext_unix_sk = args.flag("ext-unix-sk");
    o.shell_job = args.flag("shell-job");
    o.lazy_pages = args.flag("lazy-pages");
    if (args.has("status-fd")) o.status_fd = static_cast<int>(CORRAL_TRY(parse_int_flag("status-fd", args.get("status-fd"))));
    o.page_server = args.get("page-server");
    o.file_locks = args.flag("file-locks");
    o.pre_dump = args.flag("pre-dump");
    o.manage_cgroups_mode = args.get("manage-cgroups-mode");
    o.empty_ns = args.get("empty-ns");
    o.auto_dedup = args.flag("auto-dedup");
    CORRAL_TRY(corral::checkpoint(env.ctx, args.positional[0], o).context("checkpoint"));
    return 0;
}

} // namespace

extern const Command kCheckpointCommand; // external linkage: main.cpp lists it
const Command kCheckpointCommand{
    .name = "checkpoint",
    .summary = "checkpoint a running container",
    .args_usage = "<container-id>",
    .flags = kFlags,
    .min_args = 1,
    .max_args = 1,
    .run = run_checkpoint,
};

} // namespace corral::cli
