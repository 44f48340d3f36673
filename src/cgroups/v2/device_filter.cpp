// The cgroup v2 device filter: rules → policy → eBPF instructions → kernel.
// See device_filter.hpp for the semantics.
#include "cgroups/v2/device_filter.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <sys/syscall.h>
#include <unistd.h>

namespace corral::cgroups::v2 {

namespace {

// --- step 1: rules → policy ---------------------------------------------

std::string num(int64_t v) { return v < 0 ? std::string("*") : std::to_string(v); }

std::string access_string(uint8_t a) {
    std::string s;
    if (a & kDevRead) s += 'r';
    if (a & kDevWrite) s += 'w';
    if (a & kDevMknod) s += 'm';
    return s;
}

std::string exception_string(const DeviceException &e) {
    return std::string(1, e.type) + ' ' + num(e.major) + ':' + num(e.minor) + ' ' + access_string(e.access);
}

struct ParsedRule {
    char type; // 'a', 'c', 'b'
    int64_t major, minor;
    uint8_t access;
};

Result<ParsedRule> parse_rule(const spec::DeviceRule &r, const std::string &where) {
    char type = r.type.empty() ? 'a' : r.type[0];
    if (r.type.size() > 1 || (type != 'a' && type != 'c' && type != 'b'))
        return Error(where + ".type: `" + r.type + "` is not one of a, c, b");
    if (r.access.empty()) return Error(where + ".access: must not be empty");
    uint8_t access = 0;
    for (char c : r.access) {
        switch (c) {
        case 'r': access |= kDevRead; break;
        case 'w': access |= kDevWrite; break;
        case 'm': access |= kDevMknod; break;
        default: return Error(where + ".access: `" + r.access + "` is not a combination of r, w, m");
        }
    }
    int64_t major = r.major.value_or(-1), minor = r.minor.value_or(-1);
    if (major < -1 || minor < -1 || major > int64_t{UINT32_MAX} || minor > int64_t{UINT32_MAX})
        return Error(where + ": major and minor must be in [0, 4294967295] (or -1 for any)");
    return ParsedRule{type, major, minor, access};
}

bool same_device(const DeviceException &a, const DeviceException &b) {
    return a.type == b.type && a.major == b.major && a.minor == b.minor;
}

// A rule with the opposite verdict of the default: its bits join the
// exception of the same type:major:minor, or a new one.
void add_exception(DevicePolicy &p, const DeviceException &e) {
    for (auto &x : p.exceptions)
        if (same_device(x, e)) {
            x.access |= e.access;
            return;
        }
    p.exceptions.push_back(e);
}

// A rule with the default's verdict: its bits leave the exception of the
// same type:major:minor. It cannot narrow a wildcard exception (v1 keeps no
// such thing as "c 1:* but not 1:3"), so that is an error, as in runc.
Status remove_exception(DevicePolicy &p, const DeviceException &e, const std::string &where) {
    for (const DeviceException &wild : {DeviceException{e.type, -1, e.minor, 0},
                                        DeviceException{e.type, e.major, -1, 0}, DeviceException{e.type, -1, -1, 0}}) {
        if (same_device(wild, e)) continue;
        for (const auto &x : p.exceptions)
            if (same_device(x, wild) && (x.access & e.access))
                return Error(where + ": `" + std::string(p.default_allow ? "allow " : "deny ") + exception_string(e) +
                             "` would punch a hole in the earlier wildcard rule `" +
                             std::string(p.default_allow ? "deny " : "allow ") + exception_string(x) +
                             "`, which cgroup v1 silently ignores (runc refuses it too): list what the wildcard "
                             "should cover instead");
    }
    for (size_t i = 0; i < p.exceptions.size(); ++i) {
        auto &x = p.exceptions[i];
        if (!same_device(x, e)) continue;
        x.access &= static_cast<uint8_t>(~e.access);
        if (x.access == 0) p.exceptions.erase(p.exceptions.begin() + static_cast<long>(i));
        break;
    }
    return ok();
}

// --- step 2: policy → instructions ----------------------------------------

// Registers once the context is read (struct bpf_cgroup_dev_ctx):
enum : uint8_t {
    R0 = BPF_REG_0, // return value; scratch
    R1 = BPF_REG_1, // the context
    R2 = BPF_REG_2, // device type: low 16 bits of access_type (BPF_DEVCG_DEV_*)
    R3 = BPF_REG_3, // access: high 16 bits of access_type (BPF_DEVCG_ACC_*)
    R4 = BPF_REG_4, // major
    R5 = BPF_REG_5, // minor
};

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}

bpf_insn load_u32(uint8_t dst, uint8_t base, int16_t off) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, base, off, 0); }
bpf_insn alu32(uint8_t op, uint8_t dst, int32_t imm) { return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm); }
bpf_insn jump(uint8_t op, uint8_t dst, int32_t imm, int16_t off) {
    return insn(BPF_JMP | op | BPF_K, dst, 0, off, imm);
}
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// "if REG != VALUE goto skip": values above INT32_MAX need a 32-bit compare
// (a 64-bit one would sign-extend the immediate), which needs Linux 5.1.
bpf_insn jump_if_not(uint8_t reg, int64_t value) {
    if (value > INT32_MAX)
        return insn(BPF_JMP32 | BPF_JNE | BPF_K, reg, 0, 0, static_cast<int32_t>(static_cast<uint32_t>(value)));
    return jump(BPF_JNE, reg, static_cast<int32_t>(value), 0);
}

// One exception: tests that jump past the block when they fail, then the verdict.
void append_exception(std::vector<bpf_insn> &out, const DeviceException &e, bool default_allow) {
    std::vector<bpf_insn> block;
    std::vector<size_t> to_skip; // jumps whose target is the end of the block
    auto skip_if = [&](bpf_insn i) {
        to_skip.push_back(block.size());
        block.push_back(i);
    };
    skip_if(jump(BPF_JNE, R2, e.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0));
    if (e.access != kDevAll) {
        if (!default_allow) {
            // An allow exception covers the request only if it has every bit asked for.
            skip_if(jump(BPF_JSET, R3, kDevAll & ~e.access, 0));
        } else {
            // A deny exception covers the request if it has any bit asked for.
            block.push_back(jump(BPF_JSET, R3, e.access, 1));
            skip_if(insn(BPF_JMP | BPF_JA, 0, 0, 0, 0));
        }
    }
    if (e.major >= 0) skip_if(jump_if_not(R4, e.major));
    if (e.minor >= 0) skip_if(jump_if_not(R5, e.minor));
    block.push_back(alu32(BPF_MOV, R0, default_allow ? 0 : 1));
    block.push_back(exit_insn());
    for (size_t at : to_skip) block[at].off = static_cast<int16_t>(block.size() - at - 1);
    out.insert(out.end(), block.begin(), block.end());
}

// --- step 3: the kernel ---------------------------------------------------

uint64_t ptr_to_u64(const void *p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

int bpf(int cmd, bpf_attr &attr) { return static_cast<int>(::syscall(SYS_bpf, cmd, &attr, sizeof attr)); }

} // namespace

Result<DevicePolicy> device_policy(const std::vector<spec::DeviceRule> &rules) {
    DevicePolicy p; // no "a" rule: deny, as after the v1 backend's "a" to devices.deny
    for (size_t i = 0; i < rules.size(); ++i) {
        std::string where = "linux.resources.devices[" + std::to_string(i) + "]";
        ParsedRule r = CORRAL_TRY(parse_rule(rules[i], where));
        bool allow = rules[i].allow;
        if (r.type == 'a' && r.major < 0 && r.minor < 0 && r.access == kDevAll) {
            p = DevicePolicy{allow, {}}; // every device: a new default, earlier rules forgotten
            continue;
        }
        // A narrower "a" rule is the same rule for c and for b (as the v1 backend writes it).
        for (char type : r.type == 'a' ? std::string("cb") : std::string(1, r.type)) {
            DeviceException e{type, r.major, r.minor, r.access};
            if (allow != p.default_allow)
                add_exception(p, e);
            else
                CORRAL_TRY(remove_exception(p, e, where));
        }
    }
    return p;
}

bool device_policy_allows(const DevicePolicy &policy, char type, uint32_t major, uint32_t minor, uint8_t access) {
    for (const auto &e : policy.exceptions) {
        bool device = e.type == type && (e.major < 0 || e.major == major) && (e.minor < 0 || e.minor == minor);
        if (!device) continue;
        if (!policy.default_allow && (access & ~e.access) == 0) return true;
        if (policy.default_allow && (access & e.access) != 0) return false;
    }
    return policy.default_allow;
}

std::vector<bpf_insn> device_filter_program(const DevicePolicy &policy) {
    std::vector<bpf_insn> out;
    if (!policy.exceptions.empty()) {
        out.push_back(load_u32(R2, R1, offsetof(bpf_cgroup_dev_ctx, access_type)));
        out.push_back(alu32(BPF_AND, R2, 0xffff));
        out.push_back(load_u32(R3, R1, offsetof(bpf_cgroup_dev_ctx, access_type)));
        out.push_back(alu32(BPF_RSH, R3, 16));
        out.push_back(load_u32(R4, R1, offsetof(bpf_cgroup_dev_ctx, major)));
        out.push_back(load_u32(R5, R1, offsetof(bpf_cgroup_dev_ctx, minor)));
        // Last rule first, as runc and crun emit them. The exceptions all
        // have the same verdict, so the order only matters to a reader.
        for (auto it = policy.exceptions.rbegin(); it != policy.exceptions.rend(); ++it)
            append_exception(out, *it, policy.default_allow);
    }
    out.push_back(alu32(BPF_MOV, R0, policy.default_allow ? 1 : 0));
    out.push_back(exit_insn());
    return out;
}

Result<UniqueFd> load_device_filter(const std::vector<bpf_insn> &program) {
    auto load = [&](char *log, uint32_t log_size) {
        bpf_attr attr;
        std::memset(&attr, 0, sizeof attr);
        attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
        attr.insns = ptr_to_u64(program.data());
        attr.insn_cnt = static_cast<uint32_t>(program.size());
        attr.license = ptr_to_u64(kDeviceFilterLicense);
        std::strncpy(attr.prog_name, "corral_devices", sizeof attr.prog_name - 1);
        if (log) {
            attr.log_buf = ptr_to_u64(log);
            attr.log_size = log_size;
            attr.log_level = 1;
        }
        return bpf(BPF_PROG_LOAD, attr);
    };
    int fd = load(nullptr, 0);
    if (fd >= 0) return UniqueFd(fd);
    int err = errno;
    Error e = Error::from_errno(err, "load the eBPF device program (BPF_PROG_LOAD, " +
                                         std::to_string(program.size()) + " instructions)");
    if (err == EINVAL || err == EACCES) {
        // The verifier refused it: ask again for its reasons.
        std::string log(64 * 1024, '\0');
        int again = load(log.data(), static_cast<uint32_t>(log.size()));
        if (again >= 0) {
            ::close(again);
        } else {
            log.resize(std::strlen(log.c_str()));
            while (!log.empty() && log.back() == '\n') log.pop_back();
            if (log.size() > 2000) log = "..." + log.substr(log.size() - 2000);
            if (!log.empty()) e = Error(e.message() + "; verifier: " + log, err);
        }
    }
    return e;
}

Result<std::vector<uint32_t>> attached_device_filters(int cgroup_fd) {
    std::vector<uint32_t> ids(16);
    for (int tries = 0; tries < 10; ++tries) {
        bpf_attr attr;
        std::memset(&attr, 0, sizeof attr);
        attr.query.target_fd = static_cast<uint32_t>(cgroup_fd);
        attr.query.attach_type = BPF_CGROUP_DEVICE;
        attr.query.prog_ids = ptr_to_u64(ids.data());
        attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
        if (bpf(BPF_PROG_QUERY, attr) == 0) {
            ids.resize(attr.query.prog_cnt);
            return ids;
        }
        if (errno != ENOSPC) return Error::from_errno(errno, "list the cgroup's device programs (BPF_PROG_QUERY)");
        ids.resize(std::max<size_t>(attr.query.prog_cnt, ids.size() * 2)); // more were attached meanwhile
    }
    return Error("list the cgroup's device programs (BPF_PROG_QUERY): the list keeps growing");
}

Status attach_device_filter(int cgroup_fd, int prog_fd) {
    // The programs attached now, opened before the new one joins them.
    std::vector<UniqueFd> old;
    for (uint32_t id : CORRAL_TRY(attached_device_filters(cgroup_fd))) {
        bpf_attr attr;
        std::memset(&attr, 0, sizeof attr);
        attr.prog_id = id;
        int fd = bpf(BPF_PROG_GET_FD_BY_ID, attr);
        if (fd >= 0) {
            old.emplace_back(fd);
            continue;
        }
        if (errno == ENOENT || errno == EPERM || errno == EACCES) continue; // gone, or not ours to touch
        return Error::from_errno(errno, "open device program " + std::to_string(id) + " (BPF_PROG_GET_FD_BY_ID)");
    }

    bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.target_fd = static_cast<uint32_t>(cgroup_fd);
    attr.attach_bpf_fd = static_cast<uint32_t>(prog_fd);
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, attr) != 0)
        return Error::from_errno(errno, "attach the eBPF device program (BPF_PROG_ATTACH, BPF_F_ALLOW_MULTI)");

    for (const auto &fd : old) {
        std::memset(&attr, 0, sizeof attr);
        attr.target_fd = static_cast<uint32_t>(cgroup_fd);
        attr.attach_bpf_fd = static_cast<uint32_t>(fd.get());
        attr.attach_type = BPF_CGROUP_DEVICE;
        // ENOENT: someone else detached it meanwhile, which is what we want.
        if (bpf(BPF_PROG_DETACH, attr) != 0 && errno != ENOENT)
            return Error::from_errno(errno, "detach the previous device program (BPF_PROG_DETACH)");
    }
    return ok();
}

} // namespace corral::cgroups::v2
