// v1 devices: the rules of linux.resources.devices on top of deny-all, in
// order, as runc applies them.
//
// Writing "a" to devices.deny first briefly denies every device to the
// processes already in the cgroup. To keep `update` from doing that for
// nothing, the resulting whitelist is computed here the way the kernel keeps
// it (exceptions merged by exact type:major:minor, in insertion order) and
// compared with devices.list: if they match, nothing is written.
#include "cgroups/v1/v1.hpp"

#include "common/fs.hpp"

namespace corral::cgroups::v1 {

namespace {

enum : uint8_t { kRead = 1, kWrite = 2, kMknod = 4, kAll = 7 };

struct Rule {
    char type;           // 'a', 'c', 'b'
    int64_t major, minor; // -1: any
    uint8_t access;
    bool allow;
    bool all() const { return type == 'a'; }
};

std::string access_string(uint8_t a) {
    std::string s;
    if (a & kRead) s += 'r';
    if (a & kWrite) s += 'w';
    if (a & kMknod) s += 'm';
    return s;
}

std::string num(int64_t v) { return v < 0 ? std::string("*") : std::to_string(v); }

std::string rule_string(char type, int64_t major, int64_t minor, uint8_t access) {
    std::string s(1, type);
    s += ' ';
    s += num(major);
    s += ':';
    s += num(minor);
    s += ' ';
    s += access_string(access);
    return s;
}

// Validate and normalise. "a" means every device to the kernel whatever
// follows it, so an "a" rule narrower than "a *:* rwm" is split into the
// same rule for c and for b.
Result<std::vector<Rule>> normalise(const std::vector<spec::DeviceRule> &rules) {
    std::vector<Rule> out;
    for (size_t i = 0; i < rules.size(); ++i) {
        const auto &r = rules[i];
        std::string where = "linux.resources.devices[" + std::to_string(i) + "]";
        char type = r.type.empty() ? 'a' : r.type[0];
        if (r.type.size() > 1 || (type != 'a' && type != 'c' && type != 'b'))
            return Error(where + ".type: `" + r.type + "` is not one of a, c, b");
        if (r.access.empty()) return Error(where + ".access: must not be empty");
        uint8_t access = 0;
        for (char c : r.access) {
            switch (c) {
            case 'r': access |= kRead; break;
            case 'w': access |= kWrite; break;
            case 'm': access |= kMknod; break;
            default: return Error(where + ".access: `" + r.access + "` is not a combination of r, w, m");
            }
        }
        int64_t major = r.major.value_or(-1), minor = r.minor.value_or(-1);
        if (major < -1 || minor < -1) return Error(where + ": major and minor must be >= 0 (or -1 for any)");
        if (type == 'a' && (major >= 0 || minor >= 0 || access != kAll)) {
            out.push_back({'c', major, minor, access, r.allow});
            out.push_back({'b', major, minor, access, r.allow});
        } else {
            out.push_back({type, major, minor, access, r.allow});
        }
    }
    return out;
}

// The kernel's state after "a" to devices.deny and then every rule.
struct Emulated {
    bool allow_all = false;
    struct Exc {
        char type;
        int64_t major, minor;
        uint8_t access;
    };
    std::vector<Exc> exceptions;

    void add(const Rule &r) {
        for (auto &e : exceptions)
            if (e.type == r.type && e.major == r.major && e.minor == r.minor) {
                e.access |= r.access;
                return;
            }
        exceptions.push_back({r.type, r.major, r.minor, r.access});
    }
    void remove(const Rule &r) {
        for (size_t i = 0; i < exceptions.size(); ++i) {
            auto &e = exceptions[i];
            if (e.type == r.type && e.major == r.major && e.minor == r.minor) {
                e.access &= static_cast<uint8_t>(~r.access);
                if (e.access == 0) exceptions.erase(exceptions.begin() + static_cast<long>(i));
                return;
            }
        }
    }
    void apply(const Rule &r) {
        if (r.all()) {
            allow_all = r.allow;
            exceptions.clear();
        } else if (allow_all == r.allow) {
            remove(r); // allow in allow-all mode, deny in deny-all mode: drop the exception
        } else {
            add(r);
        }
    }
    // devices.list as the kernel prints it ("a *:* rwm" in allow-all mode,
    // whatever the exceptions).
    std::string list() const {
        if (allow_all) return "a *:* rwm\n";
        std::string s;
        for (const auto &e : exceptions) s += rule_string(e.type, e.major, e.minor, e.access) + "\n";
        return s;
    }
};

} // namespace

std::string device_rule_string(const spec::DeviceRule &rule) {
    char type = rule.type.empty() ? 'a' : rule.type[0];
    std::string s(1, type);
    s += ' ';
    s += rule.major && *rule.major >= 0 ? std::to_string(*rule.major) : std::string("*");
    s += ':';
    s += rule.minor && *rule.minor >= 0 ? std::to_string(*rule.minor) : std::string("*");
    s += ' ';
    s += rule.access;
    return s;
}

Status set_devices(const Knobs &k, const std::string &dir, const std::vector<spec::DeviceRule> &rules) {
    std::vector<Rule> norm = CORRAL_TRY(normalise(rules));
    Emulated target;
    for (const auto &r : norm) target.apply(r);
    // In allow-all mode devices.list hides the exceptions: compare only when it shows them all.
    bool comparable = !target.allow_all || target.exceptions.empty();
    if (auto current = read_file(detail::join(dir, "devices.list"));
        comparable && current && *current == target.list())
        return ok();

    CORRAL_TRY(k.write(dir, "devices.deny", "a"));
    size_t i = 0;
    while (i < norm.size() && norm[i].all() && !norm[i].allow) ++i; // already denied
    for (; i < norm.size(); ++i) {
        const Rule &r = norm[i];
        std::string value = r.all() ? std::string("a") : rule_string(r.type, r.major, r.minor, r.access);
        CORRAL_TRY(k.write(dir, r.allow ? "devices.allow" : "devices.deny", value));
    }
    return ok();
}

} // namespace corral::cgroups::v1
