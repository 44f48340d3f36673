// corral/log.hpp — where libcorral's messages go.
//
// The library never prints on its own: it logs through the Logger the caller
// hands it in a Context. The CLI points it at stderr or at `--log FILE`, in
// runc's text or JSON-lines format (containerd parses the JSON form and reports
// the last "level":"error" line).
#pragma once

#include <initializer_list>
#include <string_view>

namespace corral {

enum class LogLevel { debug, info, warning, error };
enum class LogFormat { text, json };

// A field after msg. number: written bare in JSON ("duration_ms":0.412).
struct LogField {
    std::string_view key;
    std::string_view value;
    bool number = false;
};

class Logger {
public:
    Logger() = default;  // discards everything
    Logger(int fd, LogFormat format, LogLevel min_level)
        : fd_(fd), format_(format), min_(min_level) {}

    bool enabled(LogLevel level) const noexcept { return fd_ >= 0 && level >= min_; }
    void log(LogLevel level, std::string_view msg) const { log(level, msg, {}, {}); }
    // With one more field after msg, as logrus writes fields: text
    // `msg="container does not exist" id=c1`, JSON `"msg":"...","id":"c1"`.
    // An empty key: no field.
    void log(LogLevel level, std::string_view msg, std::string_view key, std::string_view value) const;
    // With several fields, in order (the creation steps' timings: side, step, start_ms, duration_ms).
    void log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) const;
    void debug(std::string_view msg) const { if (enabled(LogLevel::debug)) log(LogLevel::debug, msg); }
    void info(std::string_view msg) const { if (enabled(LogLevel::info)) log(LogLevel::info, msg); }
    void warn(std::string_view msg) const { if (enabled(LogLevel::warning)) log(LogLevel::warning, msg); }
    void error(std::string_view msg) const { if (enabled(LogLevel::error)) log(LogLevel::error, msg); }

    int fd() const noexcept { return fd_; }
    LogFormat format() const noexcept { return format_; }

private:
    int fd_ = -1;  // not owned
    LogFormat format_ = LogFormat::text;
    LogLevel min_ = LogLevel::warning;
};

} // namespace corral
