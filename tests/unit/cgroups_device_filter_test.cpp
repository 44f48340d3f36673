// The cgroup v2 device filter (src/cgroups/v2/device_filter.hpp):
//   - device_policy(): what rule lists reduce to, and what it refuses;
//   - device_filter_program(): run in a small interpreter of the eBPF
//     instructions it emits, for every device and access in a grid, and
//     compared with the policy (emulation check, no kernel needed);
//   - the kernel: the verifier loads every program (root), and a program
//     attached to a real cgroup2 cgroup decides what a process in it may
//     open — on this hybrid host the cgroup2 tree at /sys/fs/cgroup/unified
//     is enough, in the v2 VM it is /sys/fs/cgroup. Only /corral-test/<unique>
//     there is touched, and removed again.
#include "cgroups/manager.hpp"
#include "cgroups/v2/device_filter.hpp"
#include "common/fs.hpp"
#include "unit/cgroups_testutil.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace corral;
using namespace corral::cgroups;
using namespace corral::cgroups::v2;
using corral::cgroups::testing::dev_rule;

namespace {

using Rules = std::vector<spec::DeviceRule>;
const auto any = std::nullopt;

Rules deny_all_then_defaults() {
    Rules r{dev_rule(false, "", any, any, "rwm"), dev_rule(true, "c", 10, 229, "rwm")};
    for (auto &d : default_allowed_devices()) r.push_back(d);
    return r;
}

DevicePolicy policy_of(const Rules &rules) {
    auto p = device_policy(rules);
    EXPECT_TRUE(p) << p.error().message();
    return p ? *p : DevicePolicy{};
}

// --- an interpreter for the instructions device_filter_program() emits -----

struct Run {
    bool ok = false; // false: an instruction it does not know, or it ran off the end
    uint32_t r0 = 0;
    std::string why;
};

Run interpret(const std::vector<bpf_insn> &prog, const bpf_cgroup_dev_ctx &ctx) {
    uint64_t reg[11] = {};
    size_t pc = 0;
    for (int steps = 0; steps < 100000 && pc < prog.size(); ++steps) {
        const bpf_insn &i = prog[pc++];
        uint64_t &dst = reg[i.dst_reg];
        uint64_t imm64 = static_cast<uint64_t>(static_cast<int64_t>(i.imm));
        auto jump_if = [&](bool cond) {
            if (cond) pc = static_cast<size_t>(static_cast<long>(pc) + i.off);
        };
        switch (i.code) {
        case BPF_LDX | BPF_MEM | BPF_W: {
            if (i.src_reg != BPF_REG_1 || i.off < 0 || i.off + 4 > static_cast<int>(sizeof ctx))
                return {false, 0, "load outside the context"};
            uint32_t v;
            std::memcpy(&v, reinterpret_cast<const char *>(&ctx) + i.off, 4);
            dst = v;
            break;
        }
        case BPF_ALU | BPF_AND | BPF_K: dst = static_cast<uint32_t>(dst) & static_cast<uint32_t>(i.imm); break;
        case BPF_ALU | BPF_RSH | BPF_K: dst = static_cast<uint32_t>(dst) >> i.imm; break;
        case BPF_ALU | BPF_MOV | BPF_K: dst = static_cast<uint32_t>(i.imm); break;
        case BPF_JMP | BPF_JNE | BPF_K: jump_if(dst != imm64); break;
        case BPF_JMP | BPF_JSET | BPF_K: jump_if((dst & imm64) != 0); break;
        case BPF_JMP32 | BPF_JNE | BPF_K: jump_if(static_cast<uint32_t>(dst) != static_cast<uint32_t>(i.imm)); break;
        case BPF_JMP | BPF_JA: jump_if(true); break;
        case BPF_JMP | BPF_EXIT: return {true, static_cast<uint32_t>(reg[0]), ""};
        default: return {false, 0, "unknown opcode " + std::to_string(i.code) + " at " + std::to_string(pc - 1)};
        }
    }
    return {false, 0, "ran off the end"};
}

// Every (type, major, minor, access) of a grid around the rules' numbers:
// the program must decide exactly as the policy does.
void expect_program_matches_policy(const Rules &rules) {
    DevicePolicy p = policy_of(rules);
    auto prog = device_filter_program(p);
    const uint32_t majors[] = {0, 1, 4, 5, 7, 8, 10, 136, 254, 0x7fffffff, 0x80000000u, 0xffffffffu};
    const uint32_t minors[] = {0, 1, 2, 3, 5, 7, 8, 9, 200, 229, 0xffffffffu};
    int checked = 0;
    for (char type : {'c', 'b'})
        for (uint32_t major : majors)
            for (uint32_t minor : minors)
                for (uint8_t access = 1; access <= kDevAll; ++access) {
                    bpf_cgroup_dev_ctx ctx{};
                    ctx.access_type = (uint32_t{access} << 16) |
                                      (type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK);
                    ctx.major = major;
                    ctx.minor = minor;
                    Run run = interpret(prog, ctx);
                    ASSERT_TRUE(run.ok) << run.why;
                    bool want = device_policy_allows(p, type, major, minor, access);
                    ASSERT_EQ(run.r0, want ? 1u : 0u)
                        << type << ' ' << major << ':' << minor << " access " << int(access);
                    ++checked;
                }
    EXPECT_EQ(checked, 2 * 12 * 11 * 7);
}

bool allows(const DevicePolicy &p, char type, uint32_t major, uint32_t minor, const char *access) {
    uint8_t a = 0;
    for (const char *c = access; *c; ++c) a |= *c == 'r' ? kDevRead : *c == 'w' ? kDevWrite : kDevMknod;
    return device_policy_allows(p, type, major, minor, a);
}

} // namespace

// --- rules → policy ----------------------------------------------------------

TEST(DevicePolicy, NoAllRuleMeansDenyAndTheLastAllRuleSetsTheDefault) {
    DevicePolicy p = policy_of({dev_rule(true, "c", 1, 3, "rwm")});
    EXPECT_FALSE(p.default_allow);
    EXPECT_EQ(p.exceptions, (std::vector<DeviceException>{{'c', 1, 3, kDevAll}}));
    EXPECT_TRUE(allows(p, 'c', 1, 3, "rw"));
    EXPECT_FALSE(allows(p, 'c', 1, 5, "r"));

    // Everything before the last "a *:* rwm" is forgotten, as v1 does.
    p = policy_of({dev_rule(true, "c", 1, 3, "rwm"), dev_rule(true, "a", any, any, "rwm"),
                   dev_rule(false, "b", 8, any, "w")});
    EXPECT_TRUE(p.default_allow);
    EXPECT_EQ(p.exceptions, (std::vector<DeviceException>{{'b', 8, -1, kDevWrite}}));
    p = policy_of({dev_rule(true, "a", any, any, "rwm"), dev_rule(false, "b", 8, any, "w"),
                   dev_rule(false, "", any, any, "rwm")});
    EXPECT_FALSE(p.default_allow);
    EXPECT_TRUE(p.exceptions.empty());
    EXPECT_TRUE(policy_of({}).exceptions.empty());
}

TEST(DevicePolicy, SameDeviceMergesAndAnAllRuleNarrowerThanEverythingIsOneForCAndB) {
    // "allow r" then "allow w" of one device is one exception "rw", as in v1:
    // a read-write open is allowed.
    DevicePolicy p = policy_of({dev_rule(false, "a", any, any, "rwm"), dev_rule(true, "c", 1, 3, "r"),
                                dev_rule(true, "c", 1, 3, "w"), dev_rule(true, "a", 7, any, "m")});
    EXPECT_EQ(p.exceptions, (std::vector<DeviceException>{
                                {'c', 1, 3, kDevRead | kDevWrite}, {'c', 7, -1, kDevMknod}, {'b', 7, -1, kDevMknod}}));
    EXPECT_TRUE(allows(p, 'c', 1, 3, "rw"));
    EXPECT_FALSE(allows(p, 'c', 1, 3, "m"));
    EXPECT_TRUE(allows(p, 'b', 7, 12, "m"));
    // A rule with the default's verdict takes bits away from the same device.
    p = policy_of({dev_rule(false, "", any, any, "rwm"), dev_rule(true, "c", 1, 3, "rwm"),
                   dev_rule(false, "c", 1, 3, "w"), dev_rule(true, "c", 1, 5, "r"), dev_rule(false, "c", 1, 5, "r")});
    EXPECT_EQ(p.exceptions, (std::vector<DeviceException>{{'c', 1, 3, kDevRead | kDevMknod}}));
    // In allow-all mode the same, the other way round.
    p = policy_of({dev_rule(true, "a", any, any, "rwm"), dev_rule(false, "c", 1, 5, "rw"),
                   dev_rule(true, "c", 1, 5, "r")});
    EXPECT_EQ(p.exceptions, (std::vector<DeviceException>{{'c', 1, 5, kDevWrite}}));
}

TEST(DevicePolicy, MatchingIsTheV1Kernels) {
    // Deny by default: ONE exception must cover every requested bit.
    DevicePolicy p = policy_of({dev_rule(true, "c", 1, any, "r"), dev_rule(true, "c", any, 3, "w")});
    EXPECT_TRUE(allows(p, 'c', 1, 3, "r"));
    EXPECT_TRUE(allows(p, 'c', 1, 3, "w"));
    EXPECT_FALSE(allows(p, 'c', 1, 3, "rw"));
    EXPECT_FALSE(allows(p, 'b', 1, 3, "r"));
    // Allow by default: an exception denies if it has ANY requested bit.
    p = policy_of({dev_rule(true, "a", any, any, "rwm"), dev_rule(false, "c", 1, 3, "w")});
    EXPECT_TRUE(allows(p, 'c', 1, 3, "r"));
    EXPECT_FALSE(allows(p, 'c', 1, 3, "rw"));
    EXPECT_TRUE(allows(p, 'b', 1, 3, "rw"));
}

TEST(DevicePolicy, RefusesHolesInWildcardsAndBadRules) {
    auto refused = [](const Rules &rules) {
        auto p = device_policy(rules);
        EXPECT_FALSE(p);
        return p ? std::string() : p.error().message();
    };
    EXPECT_EQ(refused({dev_rule(false, "", any, any, "rwm"), dev_rule(true, "c", any, any, "rw"),
                       dev_rule(false, "c", 1, 3, "w")}),
              "linux.resources.devices[2]: `deny c 1:3 w` would punch a hole in the earlier wildcard rule "
              "`allow c *:* rw`, which cgroup v1 silently ignores (runc refuses it too): list what the wildcard "
              "should cover instead");
    EXPECT_NE(refused({dev_rule(true, "a", any, any, "rwm"), dev_rule(false, "b", 8, any, "rwm"),
                       dev_rule(true, "b", 8, 1, "r")})
                  .find("`allow b 8:1 r` would punch a hole in the earlier wildcard rule `deny b 8:* rwm`"),
              std::string::npos);
    // No overlap in bits, or the same wildcard: fine.
    EXPECT_TRUE(device_policy({dev_rule(true, "c", any, any, "m"), dev_rule(false, "c", 1, 3, "rw")}));
    EXPECT_TRUE(device_policy({dev_rule(true, "c", 1, any, "rwm"), dev_rule(false, "c", 1, any, "w")}));

    EXPECT_EQ(refused({dev_rule(true, "u", 1, 3, "rwm")}),
              "linux.resources.devices[0].type: `u` is not one of a, c, b");
    EXPECT_EQ(refused({dev_rule(true, "c", 1, 3, "")}), "linux.resources.devices[0].access: must not be empty");
    EXPECT_EQ(refused({dev_rule(true, "c", 1, 3, "rwx")}),
              "linux.resources.devices[0].access: `rwx` is not a combination of r, w, m");
    EXPECT_NE(refused({dev_rule(true, "c", -2, 3, "r")}).find("linux.resources.devices[0]: major and minor"),
              std::string::npos);
    EXPECT_NE(refused({dev_rule(true, "c", 1, int64_t{1} << 32, "r")}).find("major and minor"), std::string::npos);
}

// --- policy → program --------------------------------------------------------

TEST(DeviceFilterProgram, SizeAndShape) {
    // Allow all / deny all: "r0 = verdict; exit".
    auto prog = device_filter_program(policy_of({dev_rule(true, "a", any, any, "rwm")}));
    ASSERT_EQ(prog.size(), 2u);
    EXPECT_EQ(prog[0].code, BPF_ALU | BPF_MOV | BPF_K);
    EXPECT_EQ(prog[0].imm, 1);
    EXPECT_EQ(prog[1].code, BPF_JMP | BPF_EXIT);
    EXPECT_EQ(device_filter_program(policy_of({dev_rule(false, "a", any, any, "rwm")}))[0].imm, 0);
    // 6 instructions read the context; "c 1:3 rwm": type, major, minor, verdict (5).
    EXPECT_EQ(device_filter_program(policy_of({dev_rule(true, "c", 1, 3, "rwm")})).size(), 6u + 5 + 2);
    // Access bits cost one jump when allowing, two when denying.
    EXPECT_EQ(device_filter_program(policy_of({dev_rule(true, "c", 1, 3, "r")})).size(), 6u + 6 + 2);
    EXPECT_EQ(device_filter_program(policy_of({dev_rule(true, "a", any, any, "rwm"), dev_rule(false, "c", 1, 3, "r")}))
                  .size(),
              6u + 7 + 2);
    // What the runtime sends for a default container.
    EXPECT_EQ(device_filter_program(policy_of(deny_all_then_defaults())).size(), 65u);
}

TEST(DeviceFilterProgram, DecidesAsThePolicyForEveryDeviceAndAccess) {
    expect_program_matches_policy(deny_all_then_defaults());
    expect_program_matches_policy({dev_rule(true, "a", any, any, "rwm")});
    expect_program_matches_policy({dev_rule(false, "a", any, any, "rwm")});
    expect_program_matches_policy({dev_rule(true, "a", any, any, "rwm"), dev_rule(false, "c", 1, 5, "rwm"),
                                   dev_rule(false, "b", 8, any, "w"), dev_rule(false, "c", any, 3, "m")});
    expect_program_matches_policy({dev_rule(true, "c", 1, any, "r"), dev_rule(true, "c", any, 3, "w"),
                                   dev_rule(true, "b", 7, 0, "rw"), dev_rule(true, "a", 136, any, "m")});
    // Numbers above INT32_MAX (a 32-bit compare).
    expect_program_matches_policy(
        {dev_rule(true, "c", 0xffffffffLL, 1, "r"), dev_rule(true, "b", 0x80000000LL, any, "rwm")});
}

// --- the kernel --------------------------------------------------------------

namespace {

bool can_load_bpf() { return ::geteuid() == 0; }

} // namespace

TEST(DeviceFilterKernel, VerifierAcceptsEveryProgram) {
    if (!can_load_bpf()) GTEST_SKIP() << "needs root for BPF_PROG_LOAD";
    for (const Rules &rules : std::vector<Rules>{
             deny_all_then_defaults(),
             {dev_rule(true, "a", any, any, "rwm")},
             {},
             {dev_rule(true, "a", any, any, "rwm"), dev_rule(false, "c", 1, 5, "rw"),
              dev_rule(false, "b", 8, any, "w")},
             {dev_rule(true, "c", 0xffffffffLL, 1, "r"), dev_rule(true, "a", 7, any, "m")},
         }) {
        auto prog = device_filter_program(policy_of(rules));
        auto fd = load_device_filter(prog);
        ASSERT_TRUE(fd) << fd.error().message();
        EXPECT_TRUE(fd->valid());
    }
}

TEST(DeviceFilterKernel, AVerifierRefusalSaysWhy) {
    if (!can_load_bpf()) GTEST_SKIP() << "needs root for BPF_PROG_LOAD";
    bpf_insn exit_only{};
    exit_only.code = BPF_JMP | BPF_EXIT; // r0 never set
    auto fd = load_device_filter({exit_only});
    ASSERT_FALSE(fd);
    EXPECT_NE(fd.error().message().find("load the eBPF device program (BPF_PROG_LOAD, 1 instructions)"),
              std::string::npos)
        << fd.error().message();
    EXPECT_NE(fd.error().message().find("verifier: "), std::string::npos) << fd.error().message();
    EXPECT_NE(fd.error().message().find("R0"), std::string::npos) << fd.error().message();
}

TEST(DeviceFilterKernel, ARefusalIsAnErrorNamingTheFieldUnlessNothingIsRestricted) {
    if (!can_load_bpf()) GTEST_SKIP() << "needs root for BPF_PROG_LOAD";
    // A plain directory is no cgroup: the program loads, the bpf(2) calls on
    // the directory fail (EBADF) as a refusal would, with no hook in the way.
    cgroups::testing::TempDir tmp;
    cgroups::testing::make_v2_tree(tmp.path(), "/corral-test/c1");
    char log_path[] = "/tmp/corral-devfilter-log-XXXXXX";
    UniqueFd log_fd(::mkstemp(log_path));
    ASSERT_TRUE(log_fd.valid());
    ::unlink(log_path);
    Logger logger(log_fd.get(), LogFormat::text, LogLevel::debug);
    Options o;
    o.root = tmp.path();
    o.cgroups_path = "/corral-test/c1";
    o.logger = &logger;
    auto m = make_manager(Mode::v2, o);
    ASSERT_TRUE(m) << m.error().message();

    spec::Resources r;
    r.devices = deny_all_then_defaults();
    auto st = (*m)->apply(r);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message().find("linux.resources.devices: cannot enforce the device rules on cgroup v2: "
                                        "cgroup `" + tmp.path() + "/corral-test/c1`: "),
              std::string::npos)
        << st.error().message();
    // Allowing everything loses nothing when the kernel says no: a warning.
    r.devices = {dev_rule(true, "a", any, any, "rwm")};
    st = (*m)->apply(r);
    EXPECT_TRUE(st) << st.error().message();

    ASSERT_EQ(::lseek(log_fd.get(), 0, SEEK_SET), 0);
    auto text = read_fd(log_fd.get());
    ASSERT_TRUE(text);
    EXPECT_NE(text->find("load device filter (13 rules, 65 insns)"), std::string::npos) << *text;
    EXPECT_NE(text->find("load device filter (1 rules, 2 insns)"), std::string::npos) << *text;
    EXPECT_NE(text->find("linux.resources.devices: device rules are not enforced: cgroup `"), std::string::npos)
        << *text;
}

namespace {

// The cgroup2 mount: /sys/fs/cgroup on a v2 host, /sys/fs/cgroup/unified on
// a hybrid one. Empty if there is none.
std::string cgroup2_root() {
    for (const char *dir : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
        struct statfs fs {};
        if (::statfs(dir, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return dir;
    }
    return {};
}

// A child in its own cgroup2 cgroup under /corral-test: it opens what the
// parent sends (one line per request: "PATH FLAGS"), and answers with the
// errno (0: it opened). Killed, reaped and its cgroup removed at the end.
class DeviceFilterCgroup : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root";
        root = cgroup2_root();
        if (root.empty()) GTEST_SKIP() << "no cgroup2 mount";
        dir = root + "/corral-test/devfilter-" + std::to_string(::getpid());
        ASSERT_TRUE(mkdir_p(dir)) << dir;
        made = true;
        auto fd = open_file(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd) << fd.error().message();
        cgroup = std::move(*fd);

        int to[2], from[2];
        ASSERT_EQ(::pipe2(to, O_CLOEXEC), 0);
        ASSERT_EQ(::pipe2(from, O_CLOEXEC), 0);
        child = ::fork();
        ASSERT_GE(child, 0);
        if (child == 0) serve(to[0], from[1]);
        ::close(to[0]);
        ::close(from[1]);
        req = UniqueFd(to[1]);
        ans = UniqueFd(from[0]);
        ASSERT_TRUE(write_file(dir + "/cgroup.procs", std::to_string(child)));
    }

    void TearDown() override {
        if (child > 0) {
            ::kill(child, SIGKILL);
            ::waitpid(child, nullptr, 0);
        }
        if (made) {
            // Retried briefly: the killed child may still be leaving the cgroup.
            for (int i = 0; i < 100 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) ::usleep(10000);
            struct stat st {};
            EXPECT_NE(::stat(dir.c_str(), &st), 0) << dir << " left behind";
            ::rmdir((root + "/corral-test").c_str()); // only if empty; others may use it
        }
    }

    // Only async-signal-safe calls: this is a fork of a threaded test binary.
    [[noreturn]] static void serve(int in, int out) {
        char buf[256];
        for (;;) {
            ssize_t n = ::read(in, buf, sizeof buf - 1);
            if (n <= 0) ::_exit(0);
            buf[n] = '\0';
            char *space = buf;
            while (*space && *space != ' ') ++space;
            int flags = O_RDONLY;
            if (*space) {
                *space = '\0';
                flags = space[1] == 'w' ? O_WRONLY : space[1] == 'b' ? O_RDWR : O_RDONLY;
            }
            int fd = ::open(buf, flags | O_CLOEXEC | O_NONBLOCK);
            int err = fd < 0 ? errno : 0;
            if (fd >= 0) ::close(fd);
            if (::write(out, &err, sizeof err) != sizeof err) ::_exit(1);
        }
    }

    // errno of the child's open(PATH): 0 if it opened. MODE: "r", "w", "b" (both).
    int open_in_child(const std::string &path, const char *mode = "r") {
        std::string line = path + " " + mode;
        if (::write(req.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) return -1;
        int err = -1;
        if (::read(ans.get(), &err, sizeof err) != sizeof err) return -1;
        return err;
    }

    Status attach(const Rules &rules) {
        auto p = device_policy(rules);
        if (!p) return std::move(p).error();
        auto prog = load_device_filter(device_filter_program(*p));
        if (!prog) return std::move(prog).error();
        return attach_device_filter(cgroup.get(), prog->get());
    }

    std::string root, dir;
    bool made = false;
    UniqueFd cgroup, req, ans;
    pid_t child = -1;
};

} // namespace

TEST_F(DeviceFilterCgroup, AttachedProgramDecidesWhatTheCgroupMayOpenAndUpdateReplacesIt) {
    ASSERT_EQ(open_in_child("/dev/zero"), 0) << "no filter yet";
    // What a default container gets: /dev/null and /dev/zero, not /dev/kmsg.
    ASSERT_TRUE(attach(deny_all_then_defaults()));
    auto ids = attached_device_filters(cgroup.get());
    ASSERT_TRUE(ids) << ids.error().message();
    ASSERT_EQ(ids->size(), 1u);
    EXPECT_EQ(open_in_child("/dev/null", "b"), 0);
    EXPECT_EQ(open_in_child("/dev/zero", "r"), 0);
    EXPECT_EQ(open_in_child("/dev/kmsg", "r"), EPERM);

    // Update: /dev/null read-only, /dev/zero gone. The new program replaces
    // the old one (attached first, then the old one detached).
    ASSERT_TRUE(attach({dev_rule(false, "a", any, any, "rwm"), dev_rule(true, "c", 1, 3, "r")}));
    auto ids2 = attached_device_filters(cgroup.get());
    ASSERT_TRUE(ids2) << ids2.error().message();
    ASSERT_EQ(ids2->size(), 1u);
    EXPECT_NE(ids2->front(), ids->front());
    EXPECT_EQ(open_in_child("/dev/null", "r"), 0);
    EXPECT_EQ(open_in_child("/dev/null", "b"), EPERM);
    EXPECT_EQ(open_in_child("/dev/zero", "r"), EPERM);

    // Allow all but write to /dev/null: a deny exception stops rw too.
    ASSERT_TRUE(attach({dev_rule(true, "a", any, any, "rwm"), dev_rule(false, "c", 1, 3, "w")}));
    EXPECT_EQ(open_in_child("/dev/null", "r"), 0);
    EXPECT_EQ(open_in_child("/dev/null", "b"), EPERM);
    EXPECT_EQ(open_in_child("/dev/zero", "b"), 0);
    EXPECT_EQ(attached_device_filters(cgroup.get())->size(), 1u);
}

TEST_F(DeviceFilterCgroup, ManagerAppliesTheRulesThroughTheV2Backend) {
    // The V2 manager on this cgroup, as `create` and `update` use it.
    Options o;
    o.root = root;
    o.cgroups_path = dir.substr(root.size());
    auto m = make_manager(Mode::v2, o);
    ASSERT_TRUE(m) << m.error().message();
    spec::Resources r;
    r.devices = deny_all_then_defaults();
    auto st = (*m)->apply(r);
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(open_in_child("/dev/null", "b"), 0);
    EXPECT_EQ(open_in_child("/dev/kmsg", "r"), EPERM);
    r.devices.push_back(dev_rule(true, "c", 1, 11, "r")); // /dev/kmsg
    st = (*m)->apply(r);
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(open_in_child("/dev/kmsg", "r"), 0);
    EXPECT_EQ(attached_device_filters(cgroup.get())->size(), 1u);
}
