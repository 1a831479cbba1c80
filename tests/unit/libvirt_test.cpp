// SPDX-License-Identifier: BSD-2-Clause
#include "error.hpp"
#include "libvirt.hpp"

#include <xbridge/abi.h>

#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

using namespace xb;

namespace {

// A domain of tests/data/libvirt, with the test's device prefix and bridge filled in.
std::string domain_xml(const std::string &file) {
    std::ifstream in(std::string(XB_LIBVIRT_DATA) + "/" + file);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    for (const auto &[from, to] : {std::pair{"@PFX@", "t"}, std::pair{"@BRIDGE@", "xbr0"}})
        for (size_t at; (at = s.find(from)) != std::string::npos;)
            s.replace(at, std::strlen(from), to);
    return s;
}

std::string error_of(const std::string &xml) {
    try {
        parse_domain(xml);
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST(Libvirt, InterfacesAndMetadata) {
    const GuestDomain d = parse_domain(domain_xml("web1.xml"));
    EXPECT_EQ(d.name, "web1");
    ASSERT_EQ(d.interfaces.size(), 2u) << "only type='ethernet' interfaces";
    const auto &v = d.interfaces[0];
    EXPECT_EQ(v.dev, "tw0");
    EXPECT_TRUE(v.unmanaged);
    EXPECT_EQ(v.model, "virtio");
    EXPECT_EQ(v.queues, 4u);
    EXPECT_EQ(v.mtu, 1400u);
    EXPECT_EQ(v.bridge, "xbr0");
    EXPECT_EQ(v.flags, uint32_t(XB_PORT_DEFAULT_FLAGS | XB_PORT_LOCKED));
    EXPECT_EQ(v.storm_pps, 2000u);
    const auto &e = d.interfaces[1];
    EXPECT_EQ(e.dev, "tw1");
    EXPECT_EQ(e.model, "e1000");
    EXPECT_EQ(e.queues, 1u);
    EXPECT_FALSE(e.mtu);
    EXPECT_EQ(e.flags, uint32_t((XB_PORT_DEFAULT_FLAGS & ~XB_PORT_FLOOD) | XB_PORT_ISOLATED));
    EXPECT_FALSE(e.storm_pps);
}

TEST(Libvirt, VlansAndPolicyFromMetadata) {
    const GuestDomain d = parse_domain(domain_xml("app1.xml"));
    ASSERT_EQ(d.interfaces.size(), 2u);
    const auto &a = d.interfaces[0];
    EXPECT_EQ(a.bridge, "xbr0");
    // vlan="10": an access port, VLAN 10 its PVID, untagged.
    EXPECT_EQ(a.vlans, (std::vector<VlanConfig>{{10, true, true}}));
    EXPECT_EQ(a.rate_limit, (RateLimit{2000, 200, false}));
    ASSERT_TRUE(a.allowed_ips);
    EXPECT_EQ(a.allowed_ips->v4.size(), 1u);
    EXPECT_EQ(a.allowed_ips->v6.size(), 1u);
    EXPECT_EQ(a.flags, uint32_t(XB_PORT_DEFAULT_FLAGS | XB_PORT_BPDU_GUARD));
    const auto &b = d.interfaces[1];
    EXPECT_EQ(b.vlans,
              (std::vector<VlanConfig>{
                  {20, true, true}, {30, false, false}, {31, false, false}, {32, false, false}}));
    EXPECT_FALSE(b.rate_limit);
    EXPECT_FALSE(b.allowed_ips);
    EXPECT_EQ(b.flags, uint32_t(XB_PORT_DEFAULT_FLAGS | XB_PORT_MCAST_ROUTER));
    // Without them in the metadata, the file's (or the defaults) stand.
    const GuestDomain w = parse_domain(domain_xml("web1.xml"));
    EXPECT_FALSE(w.interfaces[0].vlans);
    EXPECT_FALSE(w.interfaces[0].rate_limit);
}

TEST(Libvirt, NoMetadataNoXbridge) {
    const GuestDomain db = parse_domain(domain_xml("db1.xml"));
    ASSERT_EQ(db.interfaces.size(), 1u);
    EXPECT_FALSE(db.interfaces[0].bridge) << "the bridge's file decides";
    EXPECT_FALSE(db.interfaces[0].in_metadata);
    const GuestDomain p = parse_domain(domain_xml("plain.xml"));
    ASSERT_EQ(p.interfaces.size(), 1u);
    EXPECT_FALSE(p.interfaces[0].bridge);
}

TEST(Libvirt, NamespaceByUriNotPrefix) {
    // Any prefix, or the default namespace, bound to the URI is ours; our prefix bound to
    // another URI is not.
    const std::string devs =
        "<devices><interface type='ethernet'><target dev='v0' managed='no'/></interface>"
        "</devices>";
    auto with = [&](const std::string &meta) {
        return parse_domain("<domain><name>d</name><metadata>" + meta + "</metadata>" + devs +
                            "</domain>");
    };
    EXPECT_EQ(with("<x:guest xmlns:x='urn:xbridge:libvirt:1' bridge='b1'/>").interfaces[0].bridge,
              "b1");
    EXPECT_EQ(with("<guest xmlns='urn:xbridge:libvirt:1'><port dev='v0' bridge='b2'/></guest>")
                  .interfaces[0]
                  .bridge,
              "b2");
    EXPECT_FALSE(
        with("<xbridge:guest xmlns:xbridge='urn:other' bridge='b3'/>").interfaces[0].bridge);
}

TEST(Libvirt, ErrorsAreOneLine) {
    EXPECT_EQ(error_of("<domain><name>d</name>"),
              "domain XML: Start-end tags mismatch at offset 21");
    const std::string head =
        "<domain><name>d</name><metadata><x:guest xmlns:x='urn:xbridge:libvirt:1'>";
    const std::string tail =
        "</x:guest></metadata><devices><interface type='ethernet'><target dev='v0' "
        "managed='no'/><driver queues='%'/></interface></devices></domain>";
    auto tailq = [&](const std::string &q) {
        std::string t = tail;
        t.replace(t.find('%'), 1, q);
        return t;
    };
    EXPECT_EQ(error_of(head + "<x:port dev='v9'/>" + tailq("1")),
              "domain metadata: port v9 is no <interface type='ethernet'> <target dev='v9'/> of "
              "domain d");
    EXPECT_EQ(error_of(head + "<x:port dev='v0' locked='maybe'/>" + tailq("1")),
              "domain metadata: port v0 locked: 'maybe' is not yes or no");
    EXPECT_EQ(error_of(head + "<x:port dev='v0' vlan-id='3'/>" + tailq("1")),
              "domain metadata: port v0 vlan-id: unknown attribute (bridge, vlan, vlans, "
              "storm-limit, rate-limit, allowed-ip, learning, flood, mcast-flood, bcast-flood, "
              "locked, isolated, hairpin, mcast-router, bpdu-guard, dhcp-server, ra-guard)");
    EXPECT_EQ(error_of(head + "<x:port dev='v0' vlan='5000'/>" + tailq("1")),
              "domain metadata: port v0 vlan: '5000' is not a VLAN (1-4094)");
    EXPECT_EQ(error_of(head + "<x:port dev='v0' vlans='10 pvid, 10-12'/>" + tailq("1")),
              "domain metadata: port v0 vlans: VLAN 10 is listed twice");
    EXPECT_EQ(error_of(head + "<x:port dev='v0' vlan='3' vlans='4'/>" + tailq("1"))
                  .rfind("domain metadata: port v0 vlans: vlan and vlans together", 0),
              0u);
    EXPECT_EQ(error_of(head + "<x:port dev='v0' rate-limit='0pps'/>" + tailq("1"))
                  .rfind("domain metadata: port v0: rate-limit '0pps': not a positive", 0),
              0u);
    EXPECT_EQ(error_of(head + "<x:port dev='v0' allowed-ip='10.0.0.300'/>" + tailq("1"))
                  .rfind("domain metadata: port v0: allowed-ip '10.0.0.300'", 0),
              0u);
    EXPECT_EQ(error_of(head + "" + tailq("0")),
              "domain XML: interface v0: driver queues '0' is not 1-256");
}
