// The step table (src/runtime/steps.hpp) is well formed: names unique, every
// depth-1 row under a depth-0 row of its side, the init's rows after the
// parent's, and the init's StepLog recorder async-signal-safe in shape
// (fixed size, plain stores).
#include "runtime/steps.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <type_traits>

namespace {

using namespace corral;

TEST(StepTable, NamesAreUniqueAndRowsMatchTheirEnum) {
    std::set<std::string> names;
    for (size_t i = 0; i < kStepCount; ++i) {
        EXPECT_TRUE(names.insert(kStepTable[i].name).second) << kStepTable[i].name << " twice";
        EXPECT_EQ(static_cast<size_t>(kStepTable[i].step), i) << kStepTable[i].name;
        EXPECT_NE(std::string(kStepTable[i].source), "") << kStepTable[i].name;
    }
}

TEST(StepTable, NestedRowsFollowARowOfTheirSideAndTheInitComesAfterTheParent) {
    bool seen_init = false;
    for (size_t i = 0; i < kStepCount; ++i) {
        const StepInfo &row = kStepTable[i];
        if (row.side == StepSide::init) seen_init = true;
        else EXPECT_FALSE(seen_init) << row.name << ": a parent row among the init's";
        if (row.depth == 1) {
            ASSERT_GT(i, 0u);
            size_t k = i;
            while (k > 0 && kStepTable[k - 1].depth == 1) --k;
            ASSERT_GT(k, 0u) << row.name;
            EXPECT_EQ(kStepTable[k - 1].side, row.side) << row.name << " nests in a row of the other side";
        }
    }
}

TEST(StepLogRecorder, RecordsBeginAndEndInPlaceAndSkipsWhenOff) {
    static_assert(std::is_trivially_copyable_v<StepLog>, "the init writes it with plain stores");
    StepLog log{};
    log.magic = StepLog::kMagic;
    {
        InitStep a(&log, Step::join_cgroup);
        InitStep b(&log, Step::mount_one, 3);
        EXPECT_EQ(log.count, 2u);
        EXPECT_EQ(log.events[1].end_ns, 0);
    }
    EXPECT_EQ(log.events[0].step, static_cast<uint16_t>(Step::join_cgroup));
    EXPECT_EQ(log.events[1].item, 3);
    EXPECT_GE(log.events[0].end_ns, log.events[1].end_ns);
    EXPECT_GE(log.events[1].end_ns, log.events[1].begin_ns);
    { InitStep off(nullptr, Step::execve); }
    log.count = StepLog::kMax;
    { InitStep full(&log, Step::execve); } // dropped, counted
    EXPECT_EQ(log.count, StepLog::kMax + 1);
}

} // namespace
