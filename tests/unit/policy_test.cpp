// SPDX-License-Identifier: BSD-2-Clause
// The grammar of `port set PORT rate-limit ...` and `allowed-ip ...`.
#include "error.hpp"
#include "port_policy.hpp"

#include <gtest/gtest.h>

using namespace xb;

TEST(RateLimit, RatesAsTcWritesThemOrFramesPerSecond) {
    EXPECT_EQ(parse_rate_limit("1000pps", "100"), (RateLimit{1000, 100, false}));
    EXPECT_EQ(parse_rate_limit("2kpps", std::nullopt), (RateLimit{2000, 200, false}))
        << "burst: a tenth of a second";
    EXPECT_EQ(parse_rate_limit("5pps", std::nullopt), (RateLimit{5, 1, false}));
    EXPECT_EQ(parse_rate_limit("10mbit", "64k"), (RateLimit{1250000, 65536, true}));
    EXPECT_EQ(parse_rate_limit("10Mbit", "64kb"), (RateLimit{1250000, 65536, true}));
    EXPECT_EQ(parse_rate_limit("8kbit", "3000"), (RateLimit{1000, 3000, true}));
    EXPECT_EQ(parse_rate_limit("1gbit", "1m"), (RateLimit{125000000, 1048576, true}));
    EXPECT_EQ(parse_rate_limit("500kbps", std::nullopt), (RateLimit{500000, 50000, true}))
        << "bps: bytes, as in tc";
    EXPECT_EQ(parse_rate_limit("8bit", std::nullopt), (RateLimit{1, 1514, true}))
        << "at least a full-size frame of burst";
}

TEST(RateLimit, BadRatesAndBurstsAreRefused) {
    for (const char *bad : {"1000", "pps", "0pps", "-5pps", "1.5mbit", "10mbitx", "99gbps", "4bit"})
        EXPECT_THROW(parse_rate_limit(bad, std::nullopt), Error) << bad;
    EXPECT_THROW(parse_rate_limit("10mbit", "lots"), Error);
    EXPECT_THROW(parse_rate_limit("10mbit", "0"), Error);
    EXPECT_THROW(parse_rate_limit("100pps", "10k"), Error) << "frames take no size suffix";
    EXPECT_THROW(parse_rate_limit("10mbit", "5000000m"), Error);
}

TEST(RateLimit, FormatsWhatItParses) {
    for (const char *r : {"1000pps burst 100", "10mbit burst 65536", "1gbit burst 1000",
                          "8kbit burst 3000", "1001bps burst 2000"}) {
        const std::string s(r);
        const auto sp = s.find(" burst ");
        EXPECT_EQ(format_rate_limit(parse_rate_limit(s.substr(0, sp), s.substr(sp + 7))), s);
    }
}

TEST(AllowedIp, ListsOfUnicastAddresses) {
    const AllowedIps a = parse_allowed_ips("10.77.0.101,fd77::101,10.77.0.102,10.77.0.101");
    EXPECT_EQ(a.v4.size(), 2u) << "duplicates once";
    EXPECT_EQ(a.v6.size(), 1u);
    EXPECT_EQ(format_allowed_ips(a), "10.77.0.101,10.77.0.102,fd77::101");
    EXPECT_TRUE(parse_allowed_ips("none").empty());
    EXPECT_EQ(format_allowed_ips(parse_allowed_ips("none")), "none");
    for (const char *bad :
         {"", "10.77.0.300", "10.77.0.0/24", "10.77.0.1,", ",10.77.0.1", "224.0.0.1", "0.0.0.0",
          "255.255.255.255", "ff02::1", "::", "fe80::1", "eth0"})
        EXPECT_THROW(parse_allowed_ips(bad), Error) << bad;
}
