// SPDX-License-Identifier: BSD-2-Clause
// The ageing rule, with a fake clock.
#include "fdb.hpp"

#include <gtest/gtest.h>

using namespace xb;

namespace {
constexpr uint64_t kSec = 1000000000ull;

xb_fdb_val entry(uint8_t type, uint64_t seen) {
    xb_fdb_val v{};
    v.ifindex = 3;
    v.type = type;
    v.updated_ns = seen;
    return v;
}
} // namespace

TEST(Ageing, DynamicEntriesExpireAfterAgeingTime) {
    const uint64_t ageing = 300 * kSec;
    const auto v = entry(XB_FDB_DYNAMIC, 1000 * kSec);
    EXPECT_FALSE(fdb_expired(v, 1000 * kSec, ageing));
    EXPECT_FALSE(fdb_expired(v, 1300 * kSec, ageing)); // exactly ageing_time: still there
    EXPECT_TRUE(fdb_expired(v, 1300 * kSec + 1, ageing));
}

TEST(Ageing, StaticAndLocalNeverExpire) {
    EXPECT_FALSE(fdb_expired(entry(XB_FDB_STATIC, 0), 1000000 * kSec, kSec));
    EXPECT_FALSE(fdb_expired(entry(XB_FDB_LOCAL, 0), 1000000 * kSec, kSec));
}

TEST(Ageing, ZeroMeansNever) {
    EXPECT_FALSE(fdb_expired(entry(XB_FDB_DYNAMIC, 0), 1000000 * kSec, 0));
}

TEST(Ageing, ATimestampAheadOfTheClockIsNotExpired) {
    // The datapath may stamp an entry between the controller's clock read and its check.
    EXPECT_FALSE(fdb_expired(entry(XB_FDB_DYNAMIC, 2000 * kSec), 1000 * kSec, kSec));
}
