// corral restore [--bundle DIR] [--image-path DIR] [--detach] [--pid-file F] ... <container-id>
// runc's flags and defaults (image path ./checkpoint); see corral/checkpoint.hpp.
#include "cli/args.hpp"

#include "corral/checkpoint.hpp"

namespace corral::cli {
namespace {

constexpr Flag kFlags[] = {
    {"console-socket", "value",
     "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's "
     "pseudoterminal"},
    {"image-path", "value", "path to criu image files for restoring"},
    {"work-path", "value", "path for saving work files and logs"},
    {"tcp-established", "", "allow open tcp connections"},
    {"ext-unix-sk", "", "allow external unix sockets"},
    {"shell-job", "", "allow shell jobs"},
    {"file-locks", "", "handle file locks, for safety"},
    {"manage-cgroups-mode", "value", "cgroups mode: 'soft' (default), 'full' and 'strict'"},
    {"bundle,b", "value", "path to the root of the bundle directory"},
    {"detach,d", "", "detach from the container's process"},
    {"pid-file", "value", "specify the file to write the process id to"},
    {"no-subreaper", "", "disable the use of the subreaper used to reap reparented processes"},
    {"no-pivot", "",
     "do not use pivot root to jail process inside rootfs.  This should be used whenever the rootfs is on top of a "
     "ramdisk"},
    {"empty-ns", "value", "create a namespace, but don't restore its properties"},
    {"auto-dedup", "", "enable auto deduplication of memory images"},
    {"lazy-pages", "", "use userfaultfd to lazily restore memory pages"},
    {"lsm-profile", "value", "Specify an LSM profile to be used during restore in the form of TYPE:NAME."},
    {"lsm-mount-context", "value", "Specify an LSM mount context to be used during restore."},
};

Result<int> run_restore(Env &env, const Args &args) {
    RestoreOptions o;
    o.bundle = absolute_path(args.get("bundle", "."));
    o.pid_file = absolute_path(args.get("pid-file"));
    o.console_socket = absolute_path(args.get("console-socket"));
    o.no_pivot = args.flag("no-pivot");
    o.image_path = absolute_path(args.get("image-path", "checkpoint")); // runc: ./checkpoint
    o.work_path = absolute_path(args.get("work-path"));
    o.tcp_established = args.flag("tcp-established");
    o.ext_unix_sk = args.flag("ext-unix-sk");
    o.shell_job = args.flag("shell-job");
    o.file_locks = args.flag("file-locks");
    o.manage_cgroups_mode = args.get("manage-cgroups-mode");
    o.detach = args.flag("detach");
    o.no_subreaper = args.flag("no-subreaper");
    o.empty_ns = args.get("empty-ns");
    o.auto_dedup = args.flag("auto-dedup");
    o.lazy_pages = args.flag("lazy-pages");
    o.lsm_profile = args.get("lsm-profile");
    o.lsm_mount_context = args.get("lsm-mount-context");
    return corral::restore(env.ctx, args.positional[0], o).context("restore");
}

} // namespace

extern const Command kRestoreCommand; // external linkage: main.cpp lists it
const Command kRestoreCommand{
    .name = "restore",
    .summary = "restore a container from a previous checkpoint",
    .args_usage = "<container-id>",
    .flags = kFlags,
    .min_args = 1,
    .max_args = 1,
    .run = run_restore,
};

} // namespace corral::cli
