// sd-bus through dlopen(), and a small RAII connection to systemd.
#include "cgroups/systemd/bus.hpp"

#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

namespace corral::cgroups::systemd {

// Every sd-bus function we call, typed by its declaration in the header.
struct SdBusApi {
#define CORRAL_SD_FUNCS(X)                                                                                              \
    X(sd_bus_open_system) X(sd_bus_new) X(sd_bus_set_address) X(sd_bus_start) X(sd_bus_flush_close_unref)              \
    X(sd_bus_message_new_method_call) X(sd_bus_message_append_basic) X(sd_bus_message_append_array)                  \
    X(sd_bus_message_open_container) X(sd_bus_message_close_container) X(sd_bus_message_read_basic)                  \
    X(sd_bus_message_unref) X(sd_bus_call) X(sd_bus_error_free) X(sd_bus_match_signal) X(sd_bus_slot_unref)          \
    X(sd_bus_process) X(sd_bus_wait)
#define CORRAL_SD_FIELD(name) decltype(&::name) name = nullptr;
    CORRAL_SD_FUNCS(CORRAL_SD_FIELD)
#undef CORRAL_SD_FIELD
};

namespace {

// Loaded once per process; the handle stays open for the process's life.
Result<const SdBusApi *> load_api() {
    static SdBusApi api;
    static std::string failure;
    static bool loaded = [] {
        void *h = ::dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *e = ::dlerror();
            failure = e ? e : "dlopen failed";
            return false;
        }
#define CORRAL_SD_LOAD(name)                                                                                            \
    api.name = reinterpret_cast<decltype(api.name)>(::dlsym(h, #name));                                               \
    if (!api.name) {                                                                                                   \
        failure = "libsystemd.so.0 has no " #name;                                                                     \
        return false;                                                                                                  \
    }
        CORRAL_SD_FUNCS(CORRAL_SD_LOAD)
#undef CORRAL_SD_LOAD
        return true;
    }();
    if (!loaded) return Error("the systemd cgroup driver needs libsystemd (package libsystemd0): " + failure);
    return &api;
}

// Owns a message reference.
class Message {
public:
    Message(const SdBusApi &api) : api_(api) {}
    ~Message() {
        if (m_) api_.sd_bus_message_unref(m_);
    }
    Message(const Message &) = delete;
    Message &operator=(const Message &) = delete;
    sd_bus_message *get() const { return m_; }
    sd_bus_message **out() { return &m_; }

private:
    const SdBusApi &api_;
    sd_bus_message *m_ = nullptr;
};

// Owns an sd_bus_error's strings.
class BusError {
public:
    BusError(const SdBusApi &api) : api_(api) {}
    ~BusError() { api_.sd_bus_error_free(&e_); }
    BusError(const BusError &) = delete;
    BusError &operator=(const BusError &) = delete;
    sd_bus_error *get() { return &e_; }
    bool set() const { return e_.name != nullptr; }
    std::string name() const { return e_.name ? e_.name : ""; }
    // "org.freedesktop.systemd1.NoSuchUnit: Unit x.scope not loaded."
    std::string text(int r) const {
        if (!e_.name) return std::strerror(-r);
        return std::string(e_.name) + (e_.message ? std::string(": ") + e_.message : std::string());
    }

private:
    const SdBusApi &api_;
    sd_bus_error e_ = SD_BUS_ERROR_NULL;
};

uint64_t now_usec() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000 + uint64_t(ts.tv_nsec) / 1000;
}

constexpr const char *kPrivateSocket = "/run/systemd/private";

} // namespace

Result<std::unique_ptr<Bus>> Bus::connect() {
    const SdBusApi &api = *CORRAL_TRY(load_api());
    sd_bus *bus = nullptr;
    const char *how = "system bus";
    int r = api.sd_bus_open_system(&bus);
    if (r < 0) {
        std::string system_error = std::strerror(-r);
        bus = nullptr;
        // No dbus-daemon (a minimal host, a container's systemd, early
        // boot): systemd itself listens on a private socket, for root only.
        // runc (go-systemd) falls back the same way.
        if (::geteuid() != 0)
            return Error("connect to the D-Bus system bus: " + system_error +
                         " (systemd's private socket is for root only)");
        how = "systemd's private socket";
        int p = api.sd_bus_new(&bus);
        if (p >= 0) p = api.sd_bus_set_address(bus, (std::string("unix:path=") + kPrivateSocket).c_str());
        if (p >= 0) p = api.sd_bus_start(bus);
        if (p < 0) {
            if (bus) api.sd_bus_flush_close_unref(bus);
            return Error("connect to systemd: D-Bus system bus: " + system_error + "; " + kPrivateSocket + ": " +
                         std::strerror(-p));
        }
    }
    std::unique_ptr<Bus> b(new Bus(api, bus, how));
    // Listen for JobRemoved before any job exists. No sender filter: on the
    // private socket messages carry none. systemd sends the signal to the
    // client that queued the job even if it never called Subscribe().
    r = api.sd_bus_match_signal(bus, &b->match_, nullptr, "/org/freedesktop/systemd1",
                                "org.freedesktop.systemd1.Manager", "JobRemoved", &Bus::on_job_removed, b.get());
    if (r < 0) return Error::from_errno(-r, std::string("listen for systemd's JobRemoved on the ") + how);
    return b;
}

Bus::~Bus() {
    if (match_) api_.sd_bus_slot_unref(match_);
    if (bus_) api_.sd_bus_flush_close_unref(bus_);
}

int Bus::on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *) {
    auto *self = static_cast<Bus *>(userdata);
    const SdBusApi &api = self->api_;
    uint32_t id = 0;
    const char *job = nullptr, *unit = nullptr, *result = nullptr;
    // JobRemoved(u id, o job, s unit, s result)
    if (api.sd_bus_message_read_basic(m, 'u', &id) < 0 || api.sd_bus_message_read_basic(m, 'o', &job) < 0 ||
        api.sd_bus_message_read_basic(m, 's', &unit) < 0 || api.sd_bus_message_read_basic(m, 's', &result) < 0)
        return 0; // not ours to fail on; a malformed signal is ignored
    self->finished_jobs_[job] = result;
    return 0;
}

Status Bus::call_manager(const char *method, const std::function<int(sd_bus_message *)> &args,
                         const std::function<int(sd_bus_message *)> &read, std::string *error_name) {
    Message m(api_), reply(api_);
    BusError err(api_);
    int r = api_.sd_bus_message_new_method_call(bus_, m.out(), "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                                "org.freedesktop.systemd1.Manager", method);
    if (r >= 0 && args) r = args(m.get());
    if (r < 0) return Error::from_errno(-r, std::string("build the D-Bus call ") + method);
    r = api_.sd_bus_call(bus_, m.get(), 0 /* sd-bus's default, 25 s */, err.get(), reply.out());
    if (r < 0) {
        if (error_name) *error_name = err.name();
        return Error(std::string(method) + " over the " + how_ + ": " + err.text(r), err.set() ? 0 : -r);
    }
    if (read && (r = read(reply.get())) < 0)
        return Error::from_errno(-r, std::string("read the reply to ") + method);
    return ok();
}

int Bus::append_string(sd_bus_message *m, const std::string &s) {
    return api_.sd_bus_message_append_basic(m, 's', s.c_str());
}

int Bus::append_empty_array(sd_bus_message *m, const char *contents) {
    int r = api_.sd_bus_message_open_container(m, 'a', contents);
    return r < 0 ? r : api_.sd_bus_message_close_container(m);
}

int Bus::append_bool(sd_bus_message *m, bool b) {
    int v = b; // D-Bus booleans are 32-bit
    return api_.sd_bus_message_append_basic(m, 'b', &v);
}

int Bus::read_object_path(sd_bus_message *m, std::string &out) {
    const char *p = nullptr;
    int r = api_.sd_bus_message_read_basic(m, 'o', &p);
    if (r >= 0) out = p ? p : "";
    return r;
}

int Bus::append_properties(sd_bus_message *m, const std::vector<Property> &props) {
    int r = api_.sd_bus_message_open_container(m, 'a', "(sv)");
    for (const auto &p : props) {
        if (r < 0) return r;
        r = api_.sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0) r = api_.sd_bus_message_append_basic(m, 's', p.name.c_str());
        if (r < 0) return r;
        r = std::visit(
            [&](const auto &v) -> int {
                using T = std::decay_t<decltype(v)>;
                const char *sig = std::is_same_v<T, bool>                    ? "b"
                                  : std::is_same_v<T, uint64_t>              ? "t"
                                  : std::is_same_v<T, std::string>           ? "s"
                                  : std::is_same_v<T, std::vector<uint32_t>> ? "au"
                                  : std::is_same_v<T, std::vector<uint8_t>>  ? "ay"
                                  : std::is_same_v<T, DeviceAllowList>       ? "a(ss)"
                                                                             : "as";
                int q = api_.sd_bus_message_open_container(m, 'v', sig);
                if (q < 0) return q;
                if constexpr (std::is_same_v<T, bool>) {
                    q = append_bool(m, v);
                } else if constexpr (std::is_same_v<T, uint64_t>) {
                    q = api_.sd_bus_message_append_basic(m, 't', &v);
                } else if constexpr (std::is_same_v<T, std::string>) {
                    q = append_string(m, v);
                } else if constexpr (std::is_same_v<T, std::vector<uint32_t>>) {
                    q = api_.sd_bus_message_append_array(m, 'u', v.data(), v.size() * sizeof(uint32_t));
                } else if constexpr (std::is_same_v<T, std::vector<uint8_t>>) {
                    q = api_.sd_bus_message_append_array(m, 'y', v.data(), v.size());
                } else if constexpr (std::is_same_v<T, DeviceAllowList>) {
                    q = api_.sd_bus_message_open_container(m, 'a', "(ss)");
                    for (const auto &[node, access] : v) {
                        if (q >= 0) q = api_.sd_bus_message_open_container(m, 'r', "ss");
                        if (q >= 0) q = append_string(m, node);
                        if (q >= 0) q = append_string(m, access);
                        if (q >= 0) q = api_.sd_bus_message_close_container(m);
                    }
                    if (q >= 0) q = api_.sd_bus_message_close_container(m);
                } else {
                    q = api_.sd_bus_message_open_container(m, 'a', "s");
                    for (const auto &s : v)
                        if (q >= 0) q = append_string(m, s);
                    if (q >= 0) q = api_.sd_bus_message_close_container(m);
                }
                if (q < 0) return q;
                return api_.sd_bus_message_close_container(m);
            },
            p.value);
        if (r >= 0) r = api_.sd_bus_message_close_container(m);
    }
    if (r < 0) return r;
    return api_.sd_bus_message_close_container(m);
}

Result<std::string> Bus::wait_for_job(const std::string &job, uint64_t timeout_usec) {
    const uint64_t deadline = now_usec() + timeout_usec;
    while (true) {
        if (auto it = finished_jobs_.find(job); it != finished_jobs_.end()) {
            std::string result = it->second;
            finished_jobs_.erase(it);
            return result;
        }
        int r = api_.sd_bus_process(bus_, nullptr);
        if (r < 0) return Error::from_errno(-r, std::string("read from the ") + how_);
        if (r > 0) continue; // something was handled: look again before waiting
        uint64_t now = now_usec();
        if (now >= deadline)
            return Error("job " + job + " did not finish within " + std::to_string(timeout_usec / 1000000) + " s");
        r = api_.sd_bus_wait(bus_, deadline - now);
        if (r < 0 && r != -EINTR) return Error::from_errno(-r, std::string("wait on the ") + how_);
    }
}

} // namespace corral::cgroups::systemd
