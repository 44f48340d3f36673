#include "runtime/step_recorder.hpp"

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "runtime/child_util.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

namespace corral {
namespace {

std::string ms(int64_t ns, int decimals = 3) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, static_cast<double>(ns) / 1e6);
    return buf;
}

std::string us(int64_t ns) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns) / 1e3);
    return buf;
}

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "\"0x%llx\"", static_cast<unsigned long long>(v));
    return buf;
}

std::string mount_flag_names(unsigned long f) {
    static constexpr struct {
        unsigned long flag;
        const char *name;
    } kNames[] = {{MS_RDONLY, "MS_RDONLY"},   {MS_NOSUID, "MS_NOSUID"},     {MS_NODEV, "MS_NODEV"},
                  {MS_NOEXEC, "MS_NOEXEC"},   {MS_SYNCHRONOUS, "MS_SYNCHRONOUS"}, {MS_REMOUNT, "MS_REMOUNT"},
                  {MS_MANDLOCK, "MS_MANDLOCK"}, {MS_DIRSYNC, "MS_DIRSYNC"}, {MS_NOATIME, "MS_NOATIME"},
                  {MS_NODIRATIME, "MS_NODIRATIME"}, {MS_BIND, "MS_BIND"}, {MS_MOVE, "MS_MOVE"},
                  {MS_REC, "MS_REC"},         {MS_SILENT, "MS_SILENT"},     {MS_UNBINDABLE, "MS_UNBINDABLE"},
                  {MS_PRIVATE, "MS_PRIVATE"}, {MS_SLAVE, "MS_SLAVE"},       {MS_SHARED, "MS_SHARED"},
                  {MS_RELATIME, "MS_RELATIME"}, {MS_STRICTATIME, "MS_STRICTATIME"}};
    std::string out;
    for (const auto &n : kNames)
        if (f & n.flag) out += (out.empty() ? "" : "|") + std::string(n.name);
    return out.empty() ? "0" : out;
}


std::string string_array(const std::vector<std::string> &v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + json_quote(v[i]);
    return out + "]";
}

const char *side_name(bool init) { return init ? "init" : "parent"; }

} // namespace

std::string clone_flags_text(uint64_t f) {
    Msg m;
    append_namespace_names(m, static_cast<unsigned long>(f & ~static_cast<uint64_t>(CLONE_INTO_CGROUP)));
    std::string out = "CLONE_NEW{";
    out += m.c_str();
    out += "}";
    if (f & CLONE_INTO_CGROUP) out += "|CLONE_INTO_CGROUP";
    return out;
}

std::string json_quote(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", c);
            out += esc;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

StepRecorder::StepRecorder(const Context &ctx, std::string command)
    : ctx_(ctx), command_(std::move(command)),
      on_(ctx.log.enabled(LogLevel::debug) || !ctx.trace_file.empty()) {
    if (on_) {
        parent_.reserve(32);
        args_.resize(kStepCount);
    }
}

StepRecorder::~StepRecorder() {
    report();
    if (log_) ::munmap(log_, log_size_);
}

size_t StepRecorder::begin(Step s) {
    if (!on_) return 0;
    parent_.push_back(Event{s, -1, step_clock(), 0, false});
    return parent_.size() - 1;
}

void StepRecorder::end(size_t idx) {
    if (on_ && idx < parent_.size() && parent_[idx].end == 0) parent_[idx].end = step_clock();
}

void StepRecorder::end_open(Step s) {
    for (size_t i = parent_.size(); i-- > 0;)
        if (parent_[i].step == s && parent_[i].end == 0) {
            parent_[i].end = step_clock();
            return;
        }
}

void StepRecorder::add(Step s, int64_t begin_ns, int64_t end_ns) {
    if (on_) parent_.push_back(Event{s, -1, begin_ns, end_ns, false});
}

StepLog *StepRecorder::init_log() {
    if (log_) return log_; // create: the state directory's file
    if (!on_) return nullptr;
    if (!log_) {
        void *m = ::mmap(nullptr, sizeof(StepLog), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            ctx_.log.debug("steps: no shared memory for the init's timings: " + std::string(errno_text(errno)));
            return nullptr;
        }
        log_ = static_cast<StepLog *>(m);
        log_size_ = sizeof(StepLog);
        log_->magic = StepLog::kMagic;
    }
    return log_;
}

Status StepRecorder::create_init_log_file(const std::string &path) {
    UniqueFd fd = CORRAL_TRY(open_file(path, O_RDWR | O_CREAT | O_EXCL, 0600));
    if (::ftruncate(fd.get(), sizeof(StepLog)) < 0) return Error::from_errno(errno, "ftruncate", path);
    void *m = ::mmap(nullptr, sizeof(StepLog), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (m == MAP_FAILED) return Error::from_errno(errno, "mmap", path);
    log_ = static_cast<StepLog *>(m);
    log_size_ = sizeof(StepLog);
    log_->magic = StepLog::kMagic;
    return ok();
}

Status StepRecorder::open_init_log_file(const std::string &path) {
    if (!on_) return ok();
    UniqueFd fd = CORRAL_TRY(open_file(path, O_RDWR));
    void *m = ::mmap(nullptr, sizeof(StepLog), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (m == MAP_FAILED) return Error::from_errno(errno, "mmap", path);
    log_ = static_cast<StepLog *>(m);
    log_size_ = sizeof(StepLog);
    if (log_->magic != StepLog::kMagic) return Error("not a step log", EINVAL, path);
    // The init's steps before Ready were `create`'s; ours begin with its wait.
    for (uint32_t i = 0; i < std::min(log_->count, StepLog::kMax); ++i)
        if (log_->events[i].step == static_cast<uint16_t>(Step::wait_for_start)) from_ns_ = log_->events[i].begin_ns;
    if (from_ns_ == 0) from_ns_ = step_clock();
    return ok();
}

void StepRecorder::execve_done(int64_t at) {
    if (!log_) return;
    for (uint32_t i = std::min(log_->count, StepLog::kMax); i-- > 0;)
        if (log_->events[i].step == static_cast<uint16_t>(Step::execve) && log_->events[i].end_ns == 0) {
            log_->events[i].end_ns = at;
            return;
        }
}

void StepRecorder::arg(Step s, const std::string &key, const std::string &json_value) {
    if (!on_) return;
    std::string &a = args_[static_cast<size_t>(s)];
    if (!a.empty()) a += ',';
    a += json_quote(key) + ":" + json_value;
}

void StepRecorder::describe_plan(const ChildPlan &p) {
    if (!on_ || ctx_.trace_file.empty()) return;
    for (const auto &j : p.joins)
        arg(Step::join_namespaces, "setns", json_quote(j.path + " (" + clone_flags_text(static_cast<uint64_t>(j.type)) + ")"));
    if (p.unshare_flags) arg(Step::unshare_namespaces, "unshare", json_quote(clone_flags_text(p.unshare_flags)));
    if (p.set_hostname) arg(Step::set_host_names, "sethostname", json_quote(p.hostname));
    if (p.set_domainname) arg(Step::set_host_names, "setdomainname", json_quote(p.domainname));
    arg(Step::prepare_rootfs, "propagation", json_quote("mount(NULL, \"/\", NULL, " + mount_flag_names(p.root_propagation) + ")"));
    arg(Step::prepare_rootfs, "bind_rootfs", json_quote("mount(\"" + p.rootfs + "\", \"" + p.rootfs + "\", NULL, MS_BIND|MS_REC)"));
    for (const auto &m : p.mounts) {
        std::string a = "\"source\":" + json_quote(m.source) + ",\"target\":" + json_quote(m.destination) +
                        ",\"fstype\":" + json_quote(m.fstype) + ",\"flags\":" + json_quote(mount_flag_names(m.flags));
        if (!m.data.empty()) a += ",\"data\":" + json_quote(m.data);
        if (m.propagation) a += ",\"propagation\":" + json_quote(mount_flag_names(m.propagation));
        mount_args_.push_back(std::move(a));
    }
    arg(Step::create_devices, "devices", std::to_string(p.devices.size()));
    if (p.setup_rootfs) {
        arg(Step::pivot_into_rootfs, "pivot_root", json_quote("pivot_root(\".\", \".\") in " + p.rootfs));
        arg(Step::pivot_into_rootfs, "umount2", json_quote("umount2(\".\", MNT_DETACH)"));
    } else {
        arg(Step::chroot_into_rootfs, "chroot", json_quote(p.rootfs));
    }
    if (!p.masked_paths.empty()) arg(Step::finish_rootfs, "masked_paths", string_array(p.masked_paths));
    if (!p.readonly_paths.empty()) arg(Step::finish_rootfs, "readonly_paths", string_array(p.readonly_paths));
    if (p.readonly_root) arg(Step::finish_rootfs, "readonly_root", "true");
    arg(Step::change_user, "setresuid", std::to_string(p.uid));
    arg(Step::change_user, "setresgid", std::to_string(p.gid));
    arg(Step::change_user, "capset_effective", hex(p.cap_effective));
    arg(Step::change_user, "capset_permitted", hex(p.cap_permitted));
    arg(Step::change_user, "capset_inheritable", hex(p.cap_inheritable));
    arg(Step::change_user, "capbset", hex(p.cap_bounding));
    arg(Step::change_user, "no_new_privs", p.no_new_privileges ? "true" : "false");
    if (p.seccomp) {
        arg(Step::load_seccomp_filter, "instructions", std::to_string(p.seccomp->filter.size()));
        arg(Step::load_seccomp_filter, "notify", p.seccomp->needs_notify_fd ? "true" : "false");
    }
    arg(Step::execve, "argv", string_array(p.args));
    arg(Step::execve, "envc", std::to_string(p.env.size()));
    arg(Step::close_fds_on_exec, "close_range", json_quote("close_range(" + std::to_string(3 + p.preserve_fds) +
                                                          ", ~0U, CLOSE_RANGE_CLOEXEC)"));
}

std::vector<StepRecorder::Event> StepRecorder::collect() const {
    std::vector<Event> all = parent_;
    int64_t now = step_clock();
    if (log_) {
        uint32_t n = std::min(log_->count, StepLog::kMax);
        for (uint32_t i = 0; i < n; ++i) {
            const StepEvent &e = log_->events[i];
            if (e.step >= kStepCount || e.begin_ns == 0) continue;
            if (from_ns_ && e.begin_ns < from_ns_) continue;
            all.push_back(Event{static_cast<Step>(e.step), e.item, e.begin_ns, e.end_ns, true});
        }
    }
    for (auto &e : all)
        if (e.end == 0) e.end = -now; // unfinished: drawn to now, marked
    std::stable_sort(all.begin(), all.end(), [](const Event &a, const Event &b) { return a.begin < b.begin; });
    return all;
}

void StepRecorder::report() {
    if (!on_ || reported_) return;
    reported_ = true;
    std::vector<Event> all = collect();
    if (all.empty()) return;
    int64_t t0 = all.front().begin;
    if (ctx_.log.enabled(LogLevel::debug)) {
        for (const auto &e : all) {
            const StepInfo &info = step_info(e.step);
            bool finished = e.end > 0;
            int64_t end = finished ? e.end : -e.end;
            std::string what = info.name;
            if (e.step == Step::mount_one && e.item >= 0) what += " #" + std::to_string(e.item);
            // The fields to the nanosecond: a step may last less than a microsecond.
            std::string dur = ms(end - e.begin, 6);
            std::string start = ms(e.begin - t0, 6);
            std::string msg = std::string(e.init ? "init: " : "") + "step " + what + " " + ms(end - e.begin) + " ms" +
                              (finished ? "" : " (unfinished)");
            ctx_.log.log(LogLevel::debug, msg,
                         {{"side", side_name(e.init), false},
                          {"step", info.name, false},
                          {"start_ms", start, true},
                          {"duration_ms", dur, true}});
        }
    }
    if (ctx_.trace_file.empty()) return;
    pid_t self = ::getpid();
    pid_t init = init_pid_ > 0 ? init_pid_ : self + 1;
    std::string out = "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"command\":" + json_quote("corral " + command_) +
                      ",\"steps\":\"src/runtime/steps.hpp\"},\"traceEvents\":[\n";
    auto meta = [&](pid_t pid, const std::string &name) {
        out += "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" + std::to_string(pid) + ",\"tid\":" +
               std::to_string(pid) + ",\"args\":{\"name\":" + json_quote(name) + "}},\n";
        out += "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" + std::to_string(pid) + ",\"tid\":" +
               std::to_string(pid) + ",\"args\":{\"name\":" + json_quote(name) + "}},\n";
    };
    meta(self, "corral " + command_ + " (parent)");
    bool any_init = std::any_of(all.begin(), all.end(), [](const Event &e) { return e.init; });
    if (any_init) meta(init, "container init (child)");
    for (size_t i = 0; i < all.size(); ++i) {
        const Event &e = all[i];
        const StepInfo &info = step_info(e.step);
        bool finished = e.end > 0;
        int64_t end = finished ? e.end : -e.end;
        pid_t pid = e.init ? init : self;
        std::string args = "\"code\":" + json_quote(info.source) + ",\"syscalls\":" + json_quote(info.syscalls);
        if (*info.spec) args += ",\"spec\":" + json_quote(info.spec);
        if (e.step == Step::mount_one && e.item >= 0 && static_cast<size_t>(e.item) < mount_args_.size())
            args += "," + mount_args_[static_cast<size_t>(e.item)];
        else if (!args_[static_cast<size_t>(e.step)].empty())
            args += "," + args_[static_cast<size_t>(e.step)];
        if (!finished) args += ",\"unfinished\":true";
        out += "{\"name\":" + json_quote(info.name) + ",\"cat\":\"" + side_name(e.init) +
               "\",\"ph\":\"X\",\"ts\":" + us(e.begin) + ",\"dur\":" + us(end - e.begin) +
               ",\"pid\":" + std::to_string(pid) + ",\"tid\":" + std::to_string(pid) + ",\"args\":{" + args + "}}";
        out += i + 1 < all.size() ? ",\n" : "\n";
    }
    out += "]}\n";
    if (auto st = write_file_atomic(ctx_.trace_file, out, 0644); !st)
        ctx_.log.warn("--trace: " + st.error().message());
}

} // namespace corral
