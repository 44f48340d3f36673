#include "runtime/child_util.hpp"

#include <cerrno>
#include <sched.h>
#include <unistd.h>

namespace corral {
namespace {

// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
void civil_from_days(long long z, int &y, unsigned &m, unsigned &d) {
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = static_cast<unsigned>(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long yy = static_cast<long long>(yoe) + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int>(yy + (m <= 2));
}

void two(Msg &m, unsigned v) {
    char s[3] = {static_cast<char>('0' + v / 10 % 10), static_cast<char>('0' + v % 10), 0};
    m << s;
}

void append_time(Msg &m) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    int y;
    unsigned mo, d;
    civil_from_days(ts.tv_sec / 86400, y, mo, d);
    long sec = ts.tv_sec % 86400;
    m << static_cast<long long>(y) << "-";
    two(m, mo);
    m << "-";
    two(m, d);
    m << "T";
    two(m, static_cast<unsigned>(sec / 3600));
    m << ":";
    two(m, static_cast<unsigned>(sec / 60 % 60));
    m << ":";
    two(m, static_cast<unsigned>(sec % 60));
    char frac[11] = ".000000000";
    long ns = ts.tv_nsec;
    for (int i = 9; i >= 1; --i, ns /= 10) frac[i] = static_cast<char>('0' + ns % 10);
    m << frac << "Z";
}

void append_escaped(Msg &m, const char *s) {
    char one[2] = {0, 0};
    for (; *s; ++s) {
        if (*s == '"' || *s == '\\') m << "\\";
        one[0] = *s;
        m << one;
    }
}

} // namespace

void append_namespace_names(Msg &m, unsigned long flags) {
    static constexpr struct {
        unsigned long flag;
        const char *name;
    } kNames[] = {{CLONE_NEWUSER, "user"}, {CLONE_NEWNS, "mount"},   {CLONE_NEWUTS, "uts"},
                  {CLONE_NEWIPC, "ipc"},   {CLONE_NEWPID, "pid"},    {CLONE_NEWNET, "network"},
                  {CLONE_NEWCGROUP, "cgroup"}, {CLONE_NEWTIME, "time"}};
    bool first = true;
    for (const auto &n : kNames)
        if (flags & n.flag) {
            m << (first ? "" : " ") << n.name;
            first = false;
        }
    if (first) m << "none";
}

void child_log(const ChildPlan &plan, const Msg &msg) {
    if (plan.log_fd < 0) return;
    Msg line;
    if (plan.log_json) {
        line << "{\"level\":\"debug\",\"msg\":\"init: ";
        append_escaped(line, msg.c_str());
        line << "\",\"time\":\"";
        append_time(line);
        line << "\"}\n";
    } else {
        line << "time=\"";
        append_time(line);
        line << "\" level=debug msg=\"init: ";
        append_escaped(line, msg.c_str());
        line << "\"\n";
    }
    (void)!::write(plan.log_fd, line.c_str(), line.size());
}

void child_fail(const ChildPlan &plan, int err, const Msg &what) {
    Msg m;
    m << what.c_str();
    if (err) m << ": " << errno_text(err);
    if (sync_send(plan.sync_fd, SyncMsg::Error, err, m.c_str(), static_cast<uint32_t>(m.size())) < 0) {
        // `create` has returned and nobody listens: say it on stderr.
        Msg line;
        line << "corral init: " << m.c_str() << "\n";
        (void)!::write(2, line.c_str(), line.size());
    }
    _exit(1);
}

const char *errno_text(int err) {
    switch (err) {
    case EPERM: return "Operation not permitted";
    case ENOENT: return "No such file or directory";
    case ESRCH: return "No such process";
    case EINTR: return "Interrupted system call";
    case EIO: return "Input/output error";
    case ENXIO: return "No such device or address";
    case E2BIG: return "Argument list too long";
    case ENOEXEC: return "Exec format error";
    case EBADF: return "Bad file descriptor";
    case ECHILD: return "No child processes";
    case EAGAIN: return "Resource temporarily unavailable";
    case ENOMEM: return "Cannot allocate memory";
    case EACCES: return "Permission denied";
    case EFAULT: return "Bad address";
    case EBUSY: return "Device or resource busy";
    case EEXIST: return "File exists";
    case EXDEV: return "Invalid cross-device link";
    case ENODEV: return "No such device";
    case ENOTDIR: return "Not a directory";
    case EISDIR: return "Is a directory";
    case EINVAL: return "Invalid argument";
    case ENFILE: return "Too many open files in system";
    case EMFILE: return "Too many open files";
    case ENOTTY: return "Inappropriate ioctl for device";
    case ETXTBSY: return "Text file busy";
    case EFBIG: return "File too large";
    case ENOSPC: return "No space left on device";
    case EROFS: return "Read-only file system";
    case EMLINK: return "Too many links";
    case EPIPE: return "Broken pipe";
    case ERANGE: return "Numerical result out of range";
    case ENAMETOOLONG: return "File name too long";
    case ENOSYS: return "Function not implemented";
    case ENOTEMPTY: return "Directory not empty";
    case ELOOP: return "Too many levels of symbolic links";
    case EOPNOTSUPP: return "Operation not supported";
    case EPROTO: return "Protocol error";
    default: return "Unknown error";
    }
}

} // namespace corral
