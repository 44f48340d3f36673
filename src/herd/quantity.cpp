// herd/quantity.cpp — Kubernetes resource quantities and Go durations.
//
// A quantity is <number><suffix> (k8s.io/apimachinery resource.Quantity):
//   number  = [+-] digits [. digits]   (".5" and "5." too)
//   suffix  = binary  Ki Mi Gi Ti Pi Ei           (powers of 1024)
//           | decimal n u m "" k M G T P E          (powers of 1000)
//           | exponent e<int> / E<int>             ("129e6")
// We keep CPU in millicores and memory in bytes, so the value is scaled and
// rounded up to a whole unit, as Kubernetes rounds ("100n" cpu is 1m). The
// arithmetic is exact (an integer mantissa and a power of ten), because
// "0.1" in binary floating point would round 100m up to 101m.
#include "herd/manifest.hpp"

#include <cctype>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace corral::herd {

namespace {

using i128 = __int128;
constexpr i128 kMax = std::numeric_limits<int64_t>::max();

struct Suffix {
    int pow10 = 0;  // decimal exponent of the suffix
    int pow2 = 0;   // binary exponent of the suffix
};

// The suffix part of a quantity, or nothing if it is not one of Kubernetes'.
std::optional<Suffix> parse_suffix(std::string_view s) {
    if (s.empty()) return Suffix{};
    if (s.size() == 2 && s[1] == 'i') {
        static constexpr std::string_view binary = "KMGTPE";
        auto at = binary.find(s[0]);
        if (at == std::string_view::npos) return std::nullopt;
        return Suffix{0, 10 * static_cast<int>(at + 1)};
    }
    if (s.size() == 1) {
        switch (s[0]) {
        case 'n': return Suffix{-9, 0};
        case 'u': return Suffix{-6, 0};
        case 'm': return Suffix{-3, 0};
        case 'k': return Suffix{3, 0};
        case 'M': return Suffix{6, 0};
        case 'G': return Suffix{9, 0};
        case 'T': return Suffix{12, 0};
        case 'P': return Suffix{15, 0};
        case 'E': return Suffix{18, 0};
        default: return std::nullopt;
        }
    }
    // Decimal exponent: e3, E-2, e+6.
    if (s[0] != 'e' && s[0] != 'E') return std::nullopt;
    size_t i = 1;
    bool negative = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
    if (i == s.size() || s.size() - i > 3) return std::nullopt;  // |exponent| < 1000
    int exp = 0;
    for (; i < s.size(); ++i) {
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
        exp = exp * 10 + (s[i] - '0');
    }
    return Suffix{negative ? -exp : exp, 0};
}

// value * 10^scale10, rounded up to an integer; errors name the text.
Result<int64_t> parse_quantity_scaled(const std::string &text, int scale10) {
    auto invalid = [&](std::string_view why) {
        return Error("invalid quantity \"" + text + "\": " +
                     (why.empty() ? "expected a number with an optional suffix (500m, 0.5, 256Mi, 1G, 129e6)"
                                  : std::string(why)));
    };
    if (text.empty()) return invalid("empty");
    size_t i = 0;
    bool negative = false;
    if (text[i] == '+' || text[i] == '-') negative = text[i++] == '-';
    // Mantissa: all digits of the number as one integer; fraction digits
    // lower the decimal exponent. Leading zeros do not count towards the
    // precision limit.
    i128 mantissa = 0;
    int digits = 0, significant = 0, fraction_digits = 0;
    bool seen_point = false;
    for (; i < text.size(); ++i) {
        char c = text[i];
        if (c == '.') {
            if (seen_point) return invalid("");
            seen_point = true;
            continue;
        }
        if (!std::isdigit(static_cast<unsigned char>(c))) break;
        ++digits;
        if (seen_point) ++fraction_digits;
        if (mantissa == 0 && c == '0') continue;
        if (++significant > 30) return invalid("too many digits");
        mantissa = mantissa * 10 + (c - '0');
    }
    if (digits == 0) return invalid("");
    auto suffix = parse_suffix(std::string_view(text).substr(i));
    if (!suffix) return invalid("unknown suffix \"" + text.substr(i) + "\"");
    if (negative && mantissa != 0) return invalid("must not be negative");

    i128 value = mantissa;
    for (int k = 0; k < suffix->pow2; ++k) {
        value *= 2;
        if (value > kMax) return invalid("too large");
    }
    int exp10 = suffix->pow10 - fraction_digits + scale10;
    for (; exp10 > 0; --exp10) {
        value *= 10;
        if (value > kMax) return invalid("too large");
    }
    if (exp10 < 0) {
        // Divide by 10^-exp10, rounding up. A divisor beyond int128 means
        // the value is below one unit: it rounds up to 1 (or stays 0).
        if (-exp10 > 38) return int64_t(value == 0 ? 0 : 1);
        i128 divisor = 1;
        for (int k = 0; k < -exp10; ++k) divisor *= 10;
        value = value / divisor + (value % divisor != 0 ? 1 : 0);
    }
    if (value > kMax) return invalid("too large");
    return static_cast<int64_t>(value);
}

} // namespace

Result<int64_t> parse_cpu_millis(const std::string &text) { return parse_quantity_scaled(text, 3); }

Result<int64_t> parse_memory_bytes(const std::string &text) { return parse_quantity_scaled(text, 0); }

// Go's time.ParseDuration without the sign: a sequence of <number><unit>,
// units ns us µs ms s m h ("1h30m", "1.5s", "500ms"). Rounded down to
// milliseconds; "0" alone is allowed, as in Go.
Result<int64_t> parse_duration_ms(const std::string &text) {
    auto invalid = [&](std::string_view why) {
        return Error("invalid duration \"" + text + "\": " + std::string(why));
    };
    if (text == "0") return int64_t(0);
    if (text.empty()) return invalid("empty (expected e.g. \"10s\", \"500ms\", \"5m\")");
    long double total_ns = 0;
    size_t i = 0;
    while (i < text.size()) {
        size_t start = i;
        while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
        if (i == start) return invalid("expected a number at \"" + text.substr(start) + "\"");
        std::string number = text.substr(start, i - start);
        if (number == "." || number.find('.') != number.rfind('.')) return invalid("bad number \"" + number + "\"");
        size_t unit_start = i;
        while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) && text[i] != '.') ++i;
        std::string unit = text.substr(unit_start, i - unit_start);
        long double scale;
        if (unit == "ns") scale = 1;
        else if (unit == "us" || unit == "\xC2\xB5s") scale = 1e3L;
        else if (unit == "ms") scale = 1e6L;
        else if (unit == "s") scale = 1e9L;
        else if (unit == "m") scale = 60e9L;
        else if (unit == "h") scale = 3600e9L;
        else if (unit.empty()) return invalid("missing unit after \"" + number + "\" (ns, us, ms, s, m, h)");
        else return invalid("unknown unit \"" + unit + "\" (ns, us, ms, s, m, h)");
        total_ns += std::stold(number) * scale;
    }
    long double ms = total_ns / 1e6L;
    if (ms > static_cast<long double>(std::numeric_limits<int64_t>::max() / 2)) return invalid("too large");
    return static_cast<int64_t>(ms);
}

int IntOrPercent::resolve(int replicas, bool round_up) const {
    if (!percent) return value;
    int64_t scaled = int64_t(value) * replicas;
    return static_cast<int>(round_up ? (scaled + 99) / 100 : scaled / 100);
}

} // namespace corral::herd
