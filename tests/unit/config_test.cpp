// SPDX-License-Identifier: BSD-2-Clause
#include "config.hpp"

#include <xbridge/abi.h>

#include <array>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

using namespace xb;

namespace {

BridgeConfig parse(const std::string &text) {
    return parse_config(text, "xbr0.toml", "xbr0");
}

// The error a file gets, or "" when it parses.
std::string error_of(const std::string &text) {
    try {
        parse(text);
    } catch (const ConfigError &e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST(Config, FullFileParses) {
    const auto c = parse(R"(
name = "lab"
uplink = "eth0"
xdp-mode = "none"
ageing-time = 120
max-learned = 1000
fdb-size = 4096
max-ports = 8
metrics = "0.0.0.0:9100"

[ports.tap1]
tap = { user = "libvirt-qemu", group = "kvm", queues = 4, mtu = 9000 }
locked = true
flood = false

[ports.eth0]
storm-limit = 5000

[ports.tap0]
isolated = true
hairpin = true
mcast-flood = false
bcast-flood = false
learning = false

[ports.vm1-0]
guest = true

[[fdb]]
mac = "52:54:00:12:34:56"
port = "tap1"

[[fdb]]
mac = "52:54:00:12:34:57"
port = "tap0"
vlan = 10
)");
    EXPECT_EQ(c.name, "lab");
    EXPECT_EQ(c.uplink, "eth0");
    EXPECT_EQ(c.xdp_mode, XdpMode::None);
    EXPECT_EQ(c.setting("ageing-time"), 120u);
    EXPECT_EQ(c.max_learned, 1000u);
    EXPECT_EQ(c.fdb_size, 4096u);
    EXPECT_EQ(c.max_ports, 8u);
    EXPECT_EQ(c.metrics, "0.0.0.0:9100");
    ASSERT_EQ(c.ports.size(), 4u);
    EXPECT_EQ(c.ports[0].name, "eth0") << "the uplink comes first";
    EXPECT_EQ(c.ports[0].storm_pps, 5000u);
    EXPECT_EQ(c.ports[0].flags, XB_PORT_DEFAULT_FLAGS);
    EXPECT_EQ(c.ports[1].name, "tap0");
    EXPECT_EQ(c.ports[1].flags, uint32_t(XB_PORT_FLOOD | XB_PORT_ISOLATED | XB_PORT_HAIRPIN));
    EXPECT_EQ(c.ports[2].name, "tap1");
    EXPECT_EQ(c.ports[2].flags, uint32_t(XB_PORT_DEFAULT_FLAGS & ~XB_PORT_FLOOD) | XB_PORT_LOCKED);
    ASSERT_TRUE(c.ports[2].tap);
    EXPECT_EQ(c.ports[2].tap->user, "libvirt-qemu");
    EXPECT_EQ(c.ports[2].tap->group, "kvm");
    EXPECT_EQ(c.ports[2].tap->queues, 4u);
    EXPECT_EQ(c.ports[2].tap->mtu, 9000u);
    EXPECT_EQ(c.ports[2].line, 11);
    EXPECT_TRUE(c.ports[3].guest);
    ASSERT_EQ(c.fdb.size(), 2u);
    EXPECT_EQ(c.fdb[0].port, "tap1");
    EXPECT_EQ(c.fdb[0].vlan, 0);
    EXPECT_EQ(c.fdb[1].vlan, 10);
    EXPECT_EQ(c.fdb[1].line, 33);
}

TEST(Config, MinimalFileTakesDefaults) {
    const auto c = parse("uplink = \"eth0\"\n");
    EXPECT_EQ(c.name, "xbr0") << "the file's stem";
    EXPECT_EQ(c.xdp_mode, XdpMode::Auto);
    EXPECT_EQ(c.setting("ageing-time"), 300u) << "the kernel bridge's default";
    EXPECT_FALSE(c.fdb_size);
    ASSERT_EQ(c.ports.size(), 1u) << "the uplink is a port without a table of its own";
    EXPECT_EQ(c.ports[0].name, "eth0");
    const auto n = parse("uplink = \"none\"\n[ports.tap0]\ntap = {}\n");
    EXPECT_FALSE(n.uplink);
    ASSERT_EQ(n.ports.size(), 1u);
    EXPECT_EQ(n.ports[0].tap, TapConfig{});
}

TEST(Config, ErrorsNameTheLineAndTheReason) {
    EXPECT_EQ(error_of("uplink = \"eth0\"\nageing-time = -1\n"),
              "xbr0.toml:2: ageing-time = -1 is out of range (0-1000000)");
    EXPECT_EQ(error_of("uplink = \"eth0\"\n\n[ports.tap0]\nlernin = true\n"),
              "xbr0.toml:4: unknown key 'lernin' in ports.tap0 (known: learning, flood, "
              "mcast-flood, bcast-flood, locked, isolated, hairpin, mcast-router, bpdu-guard, "
              "dhcp-server, ra-guard, storm-limit, tap, guest, vlans, rate-limit, allowed-ip)");
    EXPECT_EQ(error_of("uplink = \"eth0\"\n[ports.tap0]\nlocked = \"yes\"\n"),
              "xbr0.toml:3: locked must be true or false");
    EXPECT_EQ(error_of("uplink = \"eth0\"\n[[fdb]]\nmac = \"52:54:00:12:34:5\"\nport = \"eth0\"\n"),
              "xbr0.toml:3: '52:54:00:12:34:5' is not a MAC address");
    EXPECT_EQ(
        error_of("uplink = \"eth0\"\n[[fdb]]\nmac = \"01:00:5e:00:00:01\"\nport = \"eth0\"\n"),
        "xbr0.toml:3: 01:00:5e:00:00:01 is not a unicast address");
    EXPECT_EQ(
        error_of("uplink = \"eth0\"\n[[fdb]]\nmac = \"52:54:00:12:34:56\"\nport = \"tap9\"\n"),
        "xbr0.toml:4: port 'tap9' is not a port of this bridge");
    EXPECT_EQ(error_of("uplink = \"eth0\"\n[[fdb]]\nmac = \"52:54:00:12:34:56\"\nport = "
                       "\"eth0\"\n[[fdb]]\nmac = \"52:54:00:12:34:56\"\nport = \"eth0\"\n"),
              "xbr0.toml:5: 52:54:00:12:34:56 vlan 0 is already in the FDB (line 2)");
    EXPECT_EQ(error_of("ageing-time = 3\n"),
              "xbr0.toml: no uplink: uplink = \"DEV\" (the host's port) or \"none\"");
    EXPECT_EQ(error_of("uplink = \"eth0\"\nmetrics = \"9477\"\n"),
              "xbr0.toml:2: metrics '9477' is not ADDR:PORT or off");
    EXPECT_EQ(error_of("uplink = \"eth0\"\n[ports.tap0]\ntap = { queues = 300 }\n"),
              "xbr0.toml:3: queues = 300 is out of range (1-256)");
    EXPECT_EQ(error_of("uplink = \"eth0\"\nxdp-mode = \"generic\"\n"),
              "xbr0.toml:2: xdp-mode 'generic' is not auto, native or none");
    EXPECT_EQ(error_of("uplink = \"eth0\"\n[ports.eth0]\ntap = {}\n"),
              "xbr0.toml:2: ports.eth0: the uplink is an existing device, not a tap");
    EXPECT_EQ(error_of("uplink = \"eth0\"\nmax-ports = 1\n[ports.tap0]\n"),
              "xbr0.toml:2: 2 ports, more than max-ports (1)");
    EXPECT_EQ(error_of("uplink = \"eth0\"\n[ports.\"a/b\"]\n"),
              "xbr0.toml:2: 'a/b' is not a valid interface name");
    EXPECT_EQ(error_of("uplink = \"eth0\"\nname = \"a.b\"\n"),
              "xbr0.toml:2: invalid bridge name 'a.b' (1-15 characters of A-Z a-z 0-9 _ -)");
    // TOML's own errors keep toml++'s wording, on one line with the line number.
    const std::string syntax = error_of("uplink = \"eth0\"\n[ports.tap0\n");
    EXPECT_EQ(syntax.rfind("xbr0.toml:2: ", 0), 0u) << syntax;
    EXPECT_EQ(syntax.find('\n'), std::string::npos) << syntax;
    const std::string dup = error_of("uplink = \"eth0\"\n[ports.tap0]\n[ports.tap0]\n");
    EXPECT_EQ(dup.rfind("xbr0.toml:3: ", 0), 0u) << dup;
}

TEST(Config, UnknownKeysAreRefusedNotIgnored) {
    // A table this build does not know, and a bridge setting of a later build: a file
    // that needs them must not be taken for one without.
    EXPECT_EQ(error_of("uplink = \"eth0\"\n[[ports.eth0.vlan]]\nvids = \"10-20\"\n")
                  .rfind("xbr0.toml:2: unknown key 'vlan' in ports.eth0", 0),
              0u);
    EXPECT_EQ(error_of("uplink = \"eth0\"\nmcast-startup-query-count = 3\n")
                  .rfind("xbr0.toml:2: unknown key 'mcast-startup-query-count'", 0),
              0u);
    EXPECT_EQ(error_of("uplink = \"eth0\"\nmcast-igmp-version = 4\n").rfind("xbr0.toml:2: ", 0),
              0u);
    EXPECT_EQ(
        error_of("uplink = \"eth0\"\n[ports.tap0]\nra-guard = \"yes\"\n").rfind("xbr0.toml:3: ", 0),
        0u);
}

TEST(Config, VlansPolicyAndMulticast) {
    const auto c = parse(R"(
uplink = "eth0"
vlan-filtering = true
vlan-protocol = "802.1ad"
host-vlans = ["10 pvid untagged", "20"]
mcast-snooping = true
mcast-querier = true
mcast-membership-interval = 100
mcast-igmp-version = 3
mcast-mld-version = 2

[ports.tap0]
vlans = ["10 pvid untagged", "20-22", "30 untagged"]
rate-limit = "1000pps"
allowed-ip = ["fd77::101", "10.77.0.101", "10.77.0.9"]
dhcp-server = true
bpdu-guard = true
mcast-router = true

[ports.tap1]
vlans = []
rate-limit = "10mbit burst 64k"
allowed-ip = "10.0.0.1"
ra-guard = false

[ports.tap2]
ra-guard = true
)");
    EXPECT_EQ(c.setting("vlan-filtering"), 1u);
    EXPECT_EQ(c.setting("vlan-protocol"), 0x88a8u);
    EXPECT_EQ(c.setting("mcast-snooping"), 1u);
    EXPECT_EQ(c.setting("mcast-querier"), 1u);
    EXPECT_EQ(c.setting("mcast-membership-interval"), 100u);
    EXPECT_EQ(c.setting("mcast-igmp-version"), 3u);
    EXPECT_EQ(c.setting("mcast-mld-version"), 2u);
    EXPECT_EQ(c.host_vlans, (std::vector<VlanConfig>{{10, true, true}, {20, false, false}}));
    const PortConfig *t0 = c.port("tap0");
    ASSERT_TRUE(t0);
    EXPECT_EQ(t0->vlans, (std::vector<VlanConfig>{{10, true, true},
                                                  {20, false, false},
                                                  {21, false, false},
                                                  {22, false, false},
                                                  {30, false, true}}));
    EXPECT_EQ(t0->rate_limit, (RateLimit{1000, 100, false}));
    ASSERT_EQ(t0->allowed_ips.v4.size(), 2u);
    EXPECT_EQ(t0->allowed_ips.v4[0], (std::array<uint8_t, 4>{10, 77, 0, 9})) << "sorted";
    EXPECT_EQ(t0->allowed_ips.v6.size(), 1u);
    EXPECT_EQ(t0->flags, uint32_t(XB_PORT_DEFAULT_FLAGS | XB_PORT_DHCP_SERVER | XB_PORT_BPDU_GUARD |
                                  XB_PORT_MCAST_ROUTER));
    const PortConfig *t1 = c.port("tap1");
    ASSERT_TRUE(t1);
    EXPECT_TRUE(t1->vlans.empty());
    EXPECT_EQ(t1->rate_limit, (RateLimit{1250000, 65536, true}));
    EXPECT_EQ(t1->allowed_ips.v4.size(), 1u);
    // ra-guard has three states: off trusts the port, on guards it, left out (tap0) lets
    // allowed-ip decide.
    EXPECT_EQ(t1->flags & (XB_PORT_RA_GUARD | XB_PORT_RA_TRUSTED), uint32_t(XB_PORT_RA_TRUSTED));
    const PortConfig *t2 = c.port("tap2");
    ASSERT_TRUE(t2);
    EXPECT_EQ(t2->flags, uint32_t(XB_PORT_DEFAULT_FLAGS | XB_PORT_RA_GUARD));
    // Left out: the defaults of a new bridge and a new port.
    const auto d = parse("uplink = \"eth0\"\n[ports.tap0]\n");
    EXPECT_EQ(d.setting("vlan-filtering"), 0u);
    EXPECT_EQ(d.setting("vlan-protocol"), 0x8100u);
    EXPECT_EQ(d.setting("mcast-snooping"), 0u);
    EXPECT_EQ(d.setting("mcast-membership-interval"), 260u);
    EXPECT_EQ(d.host_vlans, default_vlans());
    EXPECT_EQ(d.port("tap0")->vlans, default_vlans());
    EXPECT_FALSE(d.port("tap0")->rate_limit);
    EXPECT_TRUE(d.port("tap0")->allowed_ips.empty());
}

TEST(Config, BadVlansAndPolicyNameTheirLine) {
    const std::string head = "uplink = \"eth0\"\n[ports.tap0]\n";
    auto err = [&](const std::string &line) { return error_of(head + line + "\n"); };
    for (const auto &[line, why] : std::vector<std::pair<std::string, std::string>>{
             {"vlans = [\"5000\"]", "VLAN 5000 is out of range (1-4094)"},
             {"vlans = [\"0\"]", "VLAN 0 is out of range"},
             {"vlans = [\"10-5\"]", "is no range"},
             {"vlans = [\"10-20 pvid\"]", "a PVID is one VLAN"},
             {"vlans = [\"10 pvid\", \"11 pvid\"]", "two PVIDs"},
             {"vlans = [\"10\", \"5-12\"]", "VLAN 10 is listed twice"},
             {"vlans = [\"10 tagged\"]", "only pvid and untagged"},
             {"vlans = \"10\"", "must be an array of strings"},
             {"vlans = [10]", "must be a string"},
             {"rate-limit = \"0pps\"", "not a positive whole number"},
             {"rate-limit = \"1000\"", "a rate needs a unit"},
             {"rate-limit = \"1000pps 5\"", "is not \"RATE [burst N]\""},
             {"rate-limit = \"1000pps burst 4k\"", "takes no size suffix"},
             {"allowed-ip = [\"10.0.0.300\"]", "not an IPv4 or IPv6 address"},
             {"allowed-ip = [\"224.0.0.5\"]", "not a unicast address"},
             {"allowed-ip = [\"none\"]", "an empty list"},
             {"bpdu-guard = \"yes\"", "must be true or false"},
         }) {
        const std::string e = err(line);
        EXPECT_EQ(e.rfind("xbr0.toml:3: ", 0), 0u) << line << ": " << e;
        EXPECT_NE(e.find(why), std::string::npos) << line << ": " << e;
        EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    }
    EXPECT_EQ(error_of("uplink = \"eth0\"\nvlan-protocol = \"802.1x\"\n")
                  .rfind("xbr0.toml:2: vlan-protocol '802.1x' is not 802.1q or 802.1ad", 0),
              0u);
    EXPECT_EQ(error_of("uplink = \"eth0\"\nmcast-membership-interval = 0\n")
                  .rfind("xbr0.toml:2: mcast-membership-interval = 0 is out of range", 0),
              0u);
    EXPECT_EQ(error_of("uplink = \"none\"\nhost-vlans = [\"10\"]\n")
                  .rfind("xbr0.toml:2: host-vlans: a bridge without an uplink", 0),
              0u);
}

// The words of `xbridge set`, checked by the same function as the file's values.
TEST(Config, SettingWordsByKind) {
    const BridgeSetting *b = find_bridge_setting("mcast-snooping");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->kind, BridgeSetting::Bool);
    EXPECT_EQ(find_bridge_setting("mcast_snooping"), b) << "the `_` spelling, as ip link's";
    EXPECT_EQ(parse_setting(*b, "on"), 1u);
    EXPECT_EQ(parse_setting(*b, "1"), 1u);
    EXPECT_EQ(parse_setting(*b, "off"), 0u);
    EXPECT_EQ(parse_setting(*b, "0"), 0u);
    for (const char *w : {"maybe", "", "2", "On", "yes", "on "})
        EXPECT_FALSE(parse_setting(*b, w)) << "'" << w << "'";
    EXPECT_EQ(setting_accepts(*b), "on or off");

    const BridgeSetting *n = find_bridge_setting("mcast_membership_interval");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->kind, BridgeSetting::Number);
    EXPECT_EQ(parse_setting(*n, "1"), 1u);
    EXPECT_EQ(parse_setting(*n, "86400"), 86400u);
    for (const char *w : {"0", "86401", "-1", "soon", "4s", "", "99999999999999999999"})
        EXPECT_FALSE(parse_setting(*n, w)) << "'" << w << "'";
    EXPECT_EQ(setting_accepts(*n), "a number from 1 to 86400");
    const BridgeSetting *a = find_bridge_setting("ageing_time");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(parse_setting(*a, "0"), 0u) << "0: never";
    EXPECT_EQ(parse_setting(*a, "1000000"), 1000000u);
    EXPECT_FALSE(parse_setting(*a, "1000001"));
    EXPECT_FALSE(parse_setting(*a, "soon"));
    EXPECT_EQ(setting_accepts(*a), "a number from 0 to 1000000");
    const BridgeSetting *v = find_bridge_setting("mcast-igmp-version");
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(parse_setting(*v, "3"), 3u);
    EXPECT_FALSE(parse_setting(*v, "4"));
    EXPECT_FALSE(parse_setting(*v, "1"));
    EXPECT_EQ(setting_accepts(*v), "2 or 3");

    const BridgeSetting *c = find_bridge_setting("vlan_protocol");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->kind, BridgeSetting::Choice);
    EXPECT_EQ(parse_setting(*c, "802.1q"), 0x8100u);
    EXPECT_EQ(parse_setting(*c, "802.1Q"), 0x8100u);
    EXPECT_EQ(parse_setting(*c, "802.1ad"), 0x88a8u);
    EXPECT_EQ(parse_setting(*c, "802.1AD"), 0x88a8u);
    for (const char *w : {"802.1x", "", "0x8100", "33024", "802.1"})
        EXPECT_FALSE(parse_setting(*c, w)) << "'" << w << "'";
    EXPECT_EQ(setting_accepts(*c), "802.1q or 802.1ad");

    EXPECT_EQ(find_bridge_setting("colour"), nullptr);
    EXPECT_EQ(find_bridge_setting("max-learned"), nullptr) << "its range is the bridge's FDB";
    EXPECT_EQ(find_bridge_setting(""), nullptr);
    // The file takes `-` only: `_` is the command line's.
    EXPECT_EQ(error_of("uplink = \"eth0\"\nmcast_snooping = true\n")
                  .rfind("xbr0.toml:2: unknown key 'mcast_snooping'", 0),
              0u);
}

// Every row's words mean in the file what they mean to `xbridge set`.
TEST(Config, SettingWordsAsTheFileTakesThem) {
    for (const auto &st : kBridgeSettings) {
        std::vector<std::pair<std::string, uint32_t>> good;
        switch (st.kind) {
        case BridgeSetting::Bool:
            good = {{"true", 1}, {"false", 0}};
            break;
        case BridgeSetting::Number:
            good = {{std::to_string(st.min), st.min}, {std::to_string(st.max), st.max}};
            EXPECT_NE(error_of(fmt::format("uplink = \"eth0\"\n{} = {}\n", st.key, st.max + 1))
                          .find(fmt::format("is out of range ({}-{})", st.min, st.max)),
                      std::string::npos)
                << st.key;
            EXPECT_FALSE(parse_setting(st, std::to_string(st.max + 1))) << st.key;
            if (st.min > 0) {
                EXPECT_FALSE(parse_setting(st, std::to_string(st.min - 1))) << st.key;
            }
            break;
        case BridgeSetting::Choice:
            for (const auto &[name, val] : st.choices)
                if (name) {
                    good.emplace_back(fmt::format("\"{}\"", name), val);
                    EXPECT_EQ(parse_setting(st, name), val) << st.key << " " << name;
                }
            break;
        }
        for (const auto &[text, want] : good) {
            const auto c = parse(fmt::format("uplink = \"eth0\"\n{} = {}\n", st.key, text));
            EXPECT_EQ(c.setting(st.key), want) << st.key << " = " << text;
        }
    }
}

TEST(Config, VlanListsPrintAsRanges) {
    std::vector<VlanConfig> v;
    for (const char *e : {"1 pvid untagged", "2-4", "5 untagged", "7", "8-9 untagged"})
        ASSERT_FALSE(parse_vlan_entry(e, v)) << e;
    EXPECT_EQ(format_vlans(v), (std::vector<std::string>{"1 pvid untagged", "2-4", "5 untagged",
                                                         "7", "8-9 untagged"}));
    EXPECT_TRUE(format_vlans({}).empty());
}

TEST(Config, FormatRoundTrips) {
    BridgeConfig c;
    c.name = "br-lab";
    c.uplink = "eno1";
    c.xdp_mode = XdpMode::None;
    c.settings["ageing-time"] = 0;
    c.max_learned = 77;
    c.fdb_size = 1024;
    c.max_ports = 40;
    c.metrics = "off";
    PortConfig up;
    up.name = "eno1";
    up.flags = XB_PORT_DEFAULT_FLAGS;
    up.storm_pps = 100;
    PortConfig t;
    t.name = "vm.1@x"; // needs quoting as a key
    t.flags = XB_PORT_LOCKED | XB_PORT_HAIRPIN;
    t.tap = TapConfig{"qemu", "1000", 8, 1450};
    PortConfig g;
    g.name = "vm2-0";
    g.flags = XB_PORT_DEFAULT_FLAGS | XB_PORT_ISOLATED;
    g.guest = true;
    g.vlans = {{5, false, false}, {6, false, false}, {100, true, true}};
    g.rate_limit = RateLimit{1250000, 65536, true};
    g.allowed_ips = parse_allowed_ips("10.1.1.1,fd00::1");
    g.flags |= XB_PORT_BPDU_GUARD | XB_PORT_MCAST_ROUTER;
    PortConfig n; // in no VLAN at all
    n.name = "vm2-1";
    n.flags = XB_PORT_DEFAULT_FLAGS & ~XB_PORT_MCAST_FLOOD;
    n.vlans = {};
    n.rate_limit = RateLimit{500, 20, false};
    c.ports = {up, t, g, n};
    c.settings["vlan-filtering"] = 1;
    c.settings["vlan-protocol"] = 0x88a8;
    c.settings["mcast-snooping"] = 1;
    c.settings["mcast-membership-interval"] = 30;
    c.host_vlans = {{7, true, false}, {8, false, true}};
    FdbConfig f;
    f.mac = *parse_mac("02:00:00:00:00:01");
    f.port = "vm.1@x";
    f.vlan = 4094;
    c.fdb = {f};
    const std::string text = format_config(c);
    const auto back = parse_config(text, "x.toml", "x");
    EXPECT_EQ(back, c) << text;
    EXPECT_EQ(format_config(back), text);
}

TEST(Config, TheExampleFileParses) {
    std::ifstream in(XB_EXAMPLE_CONFIG);
    ASSERT_TRUE(in) << XB_EXAMPLE_CONFIG;
    std::stringstream ss;
    ss << in.rdbuf();
    const auto c = parse_config(ss.str(), XB_EXAMPLE_CONFIG, "xbr0");
    EXPECT_EQ(c.uplink, "eth0");
    EXPECT_FALSE(c.ports.empty());
}
