// SPDX-License-Identifier: BSD-2-Clause
#include "error.hpp"
#include "options.hpp"

#include <gtest/gtest.h>

using namespace xb;

TEST(Names, InterfaceNamesFollowTheKernel) {
    EXPECT_TRUE(valid_ifname("eth0"));
    EXPECT_TRUE(valid_ifname("tap-guest.1"));
    EXPECT_TRUE(valid_ifname("abcdefghijklmno"));   // 15
    EXPECT_FALSE(valid_ifname("abcdefghijklmnop")); // 16
    EXPECT_FALSE(valid_ifname(""));
    EXPECT_FALSE(valid_ifname("."));
    EXPECT_FALSE(valid_ifname(".."));
    EXPECT_FALSE(valid_ifname("a/b"));
    EXPECT_FALSE(valid_ifname("a:b"));
    EXPECT_FALSE(valid_ifname("a b"));
    EXPECT_FALSE(valid_ifname("tap%d")) << "a template: the kernel would pick the name";
}

TEST(Names, BridgeNamesAreSafeDirectoryNames) {
    EXPECT_TRUE(valid_bridge_name("xbr0"));
    EXPECT_TRUE(valid_bridge_name("lab_1-b"));
    EXPECT_FALSE(valid_bridge_name("lab.1")) << "bpffs refuses dots";
    EXPECT_FALSE(valid_bridge_name("x*y"));
    EXPECT_FALSE(valid_bridge_name("ünï"));
    EXPECT_FALSE(valid_bridge_name("abcdefghijklmnop"));
}

TEST(Options, XdpMode) {
    EXPECT_EQ(parse_xdp_mode("auto"), XdpMode::Auto);
    EXPECT_EQ(parse_xdp_mode("native"), XdpMode::Native);
    EXPECT_EQ(parse_xdp_mode("none"), XdpMode::None);
    EXPECT_FALSE(parse_xdp_mode("generic"));
    EXPECT_FALSE(parse_xdp_mode("offload"));
    EXPECT_FALSE(parse_xdp_mode(""));
}

TEST(Options, Numbers) {
    EXPECT_EQ(parse_number("300", 0, 1000), 300);
    EXPECT_EQ(parse_number("0", 0, 1000), 0);
    EXPECT_FALSE(parse_number("-1", 0, 1000));
    EXPECT_FALSE(parse_number("1001", 0, 1000));
    EXPECT_FALSE(parse_number("12s", 0, 1000));
    EXPECT_FALSE(parse_number("", 0, 1000));
    EXPECT_FALSE(parse_number("99999999999999999999999", 0, 1000));
}

TEST(PortPlan, FirstPortIsTheUplinkByDefault) {
    auto p = plan_ports({"eth0", "tap0", "tap1"}, std::nullopt, 255);
    EXPECT_EQ(p.ports, (std::vector<std::string>{"eth0", "tap0", "tap1"}));
    EXPECT_EQ(p.uplink, "eth0");
}

TEST(PortPlan, NamedUplinkMovesToTheFrontOrIsAdded) {
    auto p = plan_ports({"tap0", "eth0", "tap1"}, std::string("eth0"), 255);
    EXPECT_EQ(p.ports, (std::vector<std::string>{"eth0", "tap0", "tap1"}));
    EXPECT_EQ(p.uplink, "eth0");
    auto q = plan_ports({"tap0"}, std::string("eth1"), 255);
    EXPECT_EQ(q.ports, (std::vector<std::string>{"eth1", "tap0"}));
}

TEST(PortPlan, UplinkNone) {
    auto p = plan_ports({"tap0", "tap1"}, std::string("none"), 255);
    EXPECT_EQ(p.ports, (std::vector<std::string>{"tap0", "tap1"}));
    EXPECT_FALSE(p.uplink);
}

TEST(PortPlan, RejectsBadInput) {
    EXPECT_THROW(plan_ports({"eth0", "eth0"}, std::nullopt, 255), Error);
    EXPECT_THROW(plan_ports({"a/b"}, std::nullopt, 255), Error);
    EXPECT_THROW(plan_ports({"a", "b", "c"}, std::nullopt, 2), Error);
    EXPECT_THROW(plan_ports({"tap0"}, std::string("bad name"), 255), Error);
    try {
        plan_ports({"tap0", "tap0"}, std::nullopt, 255);
    } catch (const Error &e) {
        EXPECT_STREQ(e.what(), "port tap0 is given twice");
    }
}
