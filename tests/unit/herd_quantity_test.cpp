// Kubernetes quantities (cpu in millicores, memory in bytes), Go durations
// for the herd.io/backoff-* annotations, and maxSurge/maxUnavailable rounding.
#include "herd/manifest.hpp"

#include <gtest/gtest.h>

using namespace corral::herd;

namespace {

struct Case {
    const char *text;
    int64_t value;
};

TEST(HerdQuantity, CpuMillis) {
    const Case cases[] = {
        {"500m", 500}, {"0.5", 500},   {"2", 2000},   {"1", 1000},      {"0", 0},
        {".5", 500},   {"1.", 1000},   {"+1", 1000},  {"100m", 100},    {"0.1", 100},  // exact, not 101
        {"1e3", 1000000}, {"1k", 1000000}, {"250u", 1},  // finer than 1m rounds up
        {"100n", 1},   {"0.0001", 1},  {"1500m", 1500}, {"2.5", 2500},  {"0.001", 1},
    };
    for (auto &c : cases) {
        auto r = parse_cpu_millis(c.text);
        ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message();
        EXPECT_EQ(*r, c.value) << c.text;
    }
}

TEST(HerdQuantity, MemoryBytes) {
    const Case cases[] = {
        {"256Mi", 268435456},     {"1G", 1000000000},  {"128974848", 128974848}, {"129e6", 129000000},
        {"1.5Gi", 1610612736},    {"1Ki", 1024},       {"1k", 1000},             {"0", 0},
        {"123Mi", 128974848},     {"129M", 129000000}, {"1Ti", 1099511627776},   {"1E", 1000000000000000000},
        {"1m", 1},  // a thousandth of a byte rounds up to one, as Kubernetes
        {"0.5Ki", 512},           {"1E3", 1000},       {"1e+3", 1000},
    };
    for (auto &c : cases) {
        auto r = parse_memory_bytes(c.text);
        ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message();
        EXPECT_EQ(*r, c.value) << c.text;
    }
}

TEST(HerdQuantity, Rejected) {
    const char *bad[] = {"12X", "-1", "", "1.2.3", "Mi", "1Mi2", "e3", "1e", "1 Gi", " 1", "1Gi ", "0x10",
                         "1KiB", "abc", "--1", "1e1000", "16Ei", "99999999999999999999"};
    for (const char *text : bad) {
        EXPECT_FALSE(parse_memory_bytes(text).ok()) << "memory " << text;
        EXPECT_FALSE(parse_cpu_millis(text).ok()) << "cpu " << text;
    }
    auto r = parse_memory_bytes("12X");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(), "invalid quantity \"12X\": unknown suffix \"X\"");
    EXPECT_EQ(parse_cpu_millis("-1").error().message(), "invalid quantity \"-1\": must not be negative");
    EXPECT_EQ(parse_cpu_millis("").error().message(), "invalid quantity \"\": empty");
    EXPECT_EQ(parse_cpu_millis("lots").error().message(),
              "invalid quantity \"lots\": expected a number with an optional suffix (500m, 0.5, 256Mi, 1G, 129e6)");
}

TEST(HerdDuration, Accepted) {
    const Case cases[] = {{"10s", 10000}, {"500ms", 500}, {"5m", 300000}, {"1h30m", 5400000}, {"1.5s", 1500},
                          {"0", 0},       {"2h", 7200000}, {"1m30s", 90000}, {"1500us", 1}, {"0.5m", 30000}};
    for (auto &c : cases) {
        auto r = parse_duration_ms(c.text);
        ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message();
        EXPECT_EQ(*r, c.value) << c.text;
    }
}

TEST(HerdDuration, Rejected) {
    for (const char *text : {"", "10", "5x", "-1s", "s", "1..5s", "1s5", "ten seconds", " 1s"})
        EXPECT_FALSE(parse_duration_ms(text).ok()) << text;
    EXPECT_EQ(parse_duration_ms("10").error().message(),
              "invalid duration \"10\": missing unit after \"10\" (ns, us, ms, s, m, h)");
}

TEST(HerdIntOrPercent, RoundsLikeKubernetes) {
    IntOrPercent pct{25, true};
    EXPECT_EQ(pct.resolve(3, true), 1);   // maxSurge rounds up
    EXPECT_EQ(pct.resolve(3, false), 0);  // maxUnavailable rounds down
    EXPECT_EQ(pct.resolve(4, true), 1);
    EXPECT_EQ(pct.resolve(10, true), 3);
    EXPECT_EQ(pct.resolve(10, false), 2);
    IntOrPercent abs{2, false};
    EXPECT_EQ(abs.resolve(10, true), 2);
    EXPECT_EQ(abs.resolve(0, false), 2);
}

} // namespace
