// SPDX-License-Identifier: BSD-2-Clause
#include "config.hpp"

#include <xbridge/abi.h>

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
    EXPECT_EQ(c.ageing_sec, 120u);
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
    EXPECT_FALSE(c.ageing_sec);
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
              "mcast-flood, bcast-flood, locked, isolated, hairpin, storm-limit, tap, guest)");
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

TEST(Config, FutureTablesAreRefusedNotIgnored) {
    // VLANs (issue 21) and port policy (issue 23) come as tables of a port; a build
    // without them must not take such a file for one without.
    EXPECT_EQ(error_of("uplink = \"eth0\"\n[[ports.eth0.vlan]]\nvids = \"10-20\"\n")
                  .rfind("xbr0.toml:2: unknown key 'vlan' in ports.eth0", 0),
              0u);
    EXPECT_EQ(error_of("uplink = \"eth0\"\nvlan-filtering = true\n")
                  .rfind("xbr0.toml:2: unknown key 'vlan-filtering'", 0),
              0u);
}

TEST(Config, FormatRoundTrips) {
    BridgeConfig c;
    c.name = "br-lab";
    c.uplink = "eno1";
    c.xdp_mode = XdpMode::None;
    c.ageing_sec = 0;
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
    c.ports = {up, t, g};
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
