// SPDX-License-Identifier: BSD-2-Clause
#include "mac.hpp"

#include <gtest/gtest.h>

using namespace xb;

TEST(Mac, ParsesColonAndDashForms) {
    auto m = parse_mac("52:54:00:12:34:5A");
    ASSERT_TRUE(m);
    EXPECT_EQ(format_mac(*m), "52:54:00:12:34:5a");
    auto d = parse_mac("00-25-9c-19-b8-e9");
    ASSERT_TRUE(d);
    EXPECT_EQ(format_mac(*d), "00:25:9c:19:b8:e9");
}

TEST(Mac, RejectsMalformed) {
    for (const char *bad :
         {"", "52:54:00:12:34", "52:54:00:12:34:5", "52:54:00:12:34:567", "52-54:00:12:34:56",
          "52:54:00:12:34:5g", "5254.0012.3456", "52:54:00:12:34:56:", " 52:54:00:12:34:5"})
        EXPECT_FALSE(parse_mac(bad)) << bad;
}

TEST(Mac, Classifies) {
    EXPECT_TRUE(is_multicast(*parse_mac("01:00:5e:00:00:01")));
    EXPECT_TRUE(is_multicast(*parse_mac("ff:ff:ff:ff:ff:ff")));
    EXPECT_FALSE(is_multicast(*parse_mac("52:54:00:00:00:01")));
    EXPECT_TRUE(is_zero(*parse_mac("00:00:00:00:00:00")));
    EXPECT_TRUE(is_valid_unicast(*parse_mac("02:00:00:00:00:01")));
    EXPECT_FALSE(is_valid_unicast(*parse_mac("00:00:00:00:00:00")));
    EXPECT_FALSE(is_valid_unicast(*parse_mac("33:33:00:00:00:01")));
}
