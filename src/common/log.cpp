#include "corral/log.hpp"

#include <ctime>
#include <string>
#include <unistd.h>

namespace corral {
namespace {

const char *level_name(LogLevel l) {
    switch (l) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
    }
    return "info";
}

// RFC 3339 with nanoseconds, UTC, as runc's logrus writes it.
std::string now_rfc3339() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t{};
    gmtime_r(&ts.tv_sec, &t);
    char buf[64];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
    snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
    return buf;
}

void append_json_string(std::string &out, std::string_view s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default:
            if (c < 0x20) {
                char esc[8];
                snprintf(esc, sizeof esc, "\\u%04x", c);
                out += esc;
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    out += '"';
}

} // namespace

void Logger::log(LogLevel level, std::string_view msg, std::string_view key, std::string_view value) const {
    if (key.empty()) log(level, msg, std::initializer_list<LogField>{});
    else log(level, msg, {LogField{key, value, false}});
}

void Logger::log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) const {
    if (!enabled(level)) return;
    std::string line;
    line.reserve(msg.size() + 80);
    if (format_ == LogFormat::json) {
        line += "{\"level\":\"";
        line += level_name(level);
        line += "\",\"msg\":";
        append_json_string(line, msg);
        for (const LogField &f : fields) {
            line += ',';
            append_json_string(line, f.key);
            line += ':';
            if (f.number) line += f.value;
            else append_json_string(line, f.value);
        }
        line += ",\"time\":\"";
        line += now_rfc3339();
        line += "\"}\n";
    } else {
        line += "time=\"";
        line += now_rfc3339();
        line += "\" level=";
        line += level_name(level);
        line += " msg=";
        append_json_string(line, msg);
        for (const LogField &f : fields) {
            line += ' ';
            line += f.key;
            line += '=';
            // logrus quotes a value only when it needs to.
            bool plain = !f.value.empty() && f.value.find_first_of(" \"=\\\n\t") == std::string_view::npos;
            if (plain) line += f.value;
            else append_json_string(line, f.value);
        }
        line += '\n';
    }
    // One write per line so concurrent writers (O_APPEND) never interleave.
    (void)!::write(fd_, line.data(), line.size());
}

} // namespace corral
