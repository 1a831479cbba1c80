// SPDX-License-Identifier: BSD-2-Clause
// Packet tests of the port policy (bpf/policy.h): address checks (allowed-ip), DHCP
// server refusal, the BPDU and RA guards, the policer, shaped ports and per-MAC moves, through
// both ingress hooks. The policy is set with the controller's own operations.
#include "bpf_fixture.hpp"

#include "port_policy.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <cstring>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

using namespace xbtest;

namespace {

const std::string kA = "52:54:00:00:00:0a"; // the guest on p1
const std::string kB = "52:54:00:00:00:0b"; // a guest on p2
const std::string kOut = "00:25:9c:19:b8:e9";
const std::string kBcast = "ff:ff:ff:ff:ff:ff";

void put16(std::vector<uint8_t> &b, uint16_t v) {
    b.push_back(uint8_t(v >> 8));
    b.push_back(uint8_t(v));
}

void put_addr(std::vector<uint8_t> &b, int family, const char *a) {
    uint8_t buf[16];
    EXPECT_EQ(inet_pton(family, a, buf), 1) << a;
    b.insert(b.end(), buf, buf + (family == AF_INET ? 4 : 16));
}

void pad(Frame &f) {
    while (f.bytes.size() < 60)
        f.bytes.push_back(0);
}

// IPv4 from src (MAC smac) with an 8-byte L4 header: UDP ports, or ICMP.
Frame ip4(const std::string &dmac, const std::string &smac, const char *src, const char *dst,
          uint8_t proto = 17, uint16_t sport = 1000, uint16_t dport = 2000) {
    Frame f = eth_frame(dmac, smac, 0x0800, std::nullopt, 14);
    auto &b = f.bytes;
    b.insert(b.end(), {0x45, 0, 0, 28, 0, 0, 0, 0, 64, proto, 0, 0});
    put_addr(b, AF_INET, src);
    put_addr(b, AF_INET, dst);
    put16(b, sport);
    put16(b, dport);
    put16(b, 8);
    put16(b, 0);
    pad(f);
    return f;
}

Frame arp(const std::string &smac, const std::string &sha, const char *spa, const char *tpa) {
    Frame f = eth_frame(kBcast, smac, 0x0806, std::nullopt, 14);
    auto &b = f.bytes;
    b.insert(b.end(), {0, 1, 8, 0, 6, 4, 0, 1});
    auto m = xb::parse_mac(sha);
    b.insert(b.end(), m->begin(), m->end());
    put_addr(b, AF_INET, spa);
    b.insert(b.end(), 6, 0);
    put_addr(b, AF_INET, tpa);
    pad(f);
    return f;
}

// IPv6 from src with the given next header and payload.
Frame ip6(const std::string &dmac, const std::string &smac, const char *src, const char *dst,
          uint8_t next, const std::vector<uint8_t> &payload) {
    Frame f = eth_frame(dmac, smac, 0x86dd, std::nullopt, 14);
    auto &b = f.bytes;
    b.insert(b.end(), {0x60, 0, 0, 0});
    put16(b, uint16_t(payload.size()));
    b.push_back(next);
    b.push_back(255);
    put_addr(b, AF_INET6, src);
    put_addr(b, AF_INET6, dst);
    b.insert(b.end(), payload.begin(), payload.end());
    pad(f);
    return f;
}

// A neighbour solicitation (135) or advertisement (136) for target, with a link-layer
// address option (source for NS, target for NA) of lladdr, if given.
std::vector<uint8_t> nd(uint8_t type, const char *target, const std::string &lladdr = "") {
    std::vector<uint8_t> p = {type, 0, 0, 0, 0, 0, 0, 0};
    if (type == 136)
        p[4] = 0x20; // override
    put_addr(p, AF_INET6, target);
    if (!lladdr.empty()) {
        p.push_back(type == 135 ? 1 : 2);
        p.push_back(1);
        auto m = xb::parse_mac(lladdr);
        p.insert(p.end(), m->begin(), m->end());
    }
    return p;
}

std::vector<uint8_t> udp(uint16_t sport, uint16_t dport) {
    return {uint8_t(sport >> 8), uint8_t(sport), uint8_t(dport >> 8), uint8_t(dport), 0, 8, 0, 0};
}

Frame bpdu(const std::string &smac) {
    Frame f = eth_frame("01:80:c2:00:00:00", smac, 38, std::nullopt, 14);
    f.bytes.insert(f.bytes.end(), {0x42, 0x42, 0x03, 0, 0, 0, 0});
    pad(f);
    return f;
}

// A frame of Cisco's with LLC/SNAP (OUI 00:00:0c): a PVST+ BPDU to 01:00:0c:cc:cc:cd (PID
// 0x010b), CDP to 01:00:0c:cc:cc:cc (PID 0x2000).
Frame cisco(const std::string &smac, const std::string &dmac) {
    const bool pvst = dmac == "01:00:0c:cc:cc:cd";
    Frame f = eth_frame(dmac, smac, 50, std::nullopt, 14);
    f.bytes.insert(f.bytes.end(), {0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, uint8_t(pvst ? 0x01 : 0x20),
                                   uint8_t(pvst ? 0x0b : 0x00), 0, 0, 0, 0});
    pad(f);
    return f;
}

// An ICMPv6 message of the given type with 12 bytes of body (an RA's fields, a router
// solicitation's reserved word and more), or a redirect's target and destination.
std::vector<uint8_t> icmp6(uint8_t type) {
    std::vector<uint8_t> p = {type, 0, 0, 0, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0};
    if (type == 137)
        p.resize(40, 0);
    return p;
}

} // namespace

class PolicyTest : public BridgeTest {
  protected:
    void allow(const std::string &port, const std::string &list) {
        xb::set_port_allowed_ips(*dp_, port, xb::parse_allowed_ips(list));
    }
    // The frame's verdict in both hooks: dropped with `reason`, or not dropped.
    void expect_dropped(int port, const Frame &f, uint8_t reason, const char *what) {
        const uint64_t before = stats(port).drop[reason];
        EXPECT_EQ(run_xdp(port, f), XDP_DROP) << what << " (XDP)";
        EXPECT_EQ(run_tc_ingress(port, f), TC_ACT_SHOT) << what << " (TC)";
        EXPECT_EQ(stats(port).drop[reason], before + 2) << what;
    }
    void expect_passes(int port, const Frame &f, const char *what) {
        const uint64_t before = stats(port).cnt[XB_CNT_DROPPED];
        EXPECT_NE(run_xdp(port, f), XDP_DROP) << what << " (XDP)";
        // TC ends a flood's original with TC_ACT_SHOT: the drop counters tell.
        run_tc_ingress(port, f);
        EXPECT_EQ(stats(port).cnt[XB_CNT_DROPPED], before) << what;
    }
};

TEST_F(PolicyTest, AnAddressCheckedPortSendsOnlyFromItsAddresses) {
    expect_passes(1, ip4(kOut, kA, "10.0.0.9", "10.0.0.1"), "no allowed-ip: nothing checked");
    allow("p1", "10.0.0.5,fd77::10");
    EXPECT_TRUE(dp_->port(slot_of(1))->flags & XB_PORT_SPOOF_CHECK);
    expect_passes(1, ip4(kOut, kA, "10.0.0.5", "10.0.0.1"), "its own address");
    expect_dropped(1, ip4(kOut, kA, "10.0.0.9", "10.0.0.1"), XB_DROP_SPOOF, "another address");
    expect_dropped(1, ip4(kBcast, kA, "10.0.0.9", "10.0.0.255"), XB_DROP_SPOOF,
                   "another address, broadcast");
    expect_passes(2, ip4(kOut, kB, "10.0.0.9", "10.0.0.1"), "another port is not checked");
    expect_passes(1, eth_frame(kOut, kA, 0x88b5), "an ethertype that names no address");

    // Cached decisions are not taken for a checked port: the flow cache knows MACs only.
    run_xdp(0, eth_frame(kA, kOut));
    EXPECT_EQ(run_xdp(1, ip4(kOut, kA, "10.0.0.5", "10.0.0.1")), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(1, ip4(kOut, kA, "10.0.0.5", "10.0.0.1")), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(1, ip4(kOut, kA, "10.0.0.9", "10.0.0.1")), XDP_DROP)
        << "a known flow with another source address";

    allow("p1", "none");
    EXPECT_FALSE(dp_->port(slot_of(1))->flags & XB_PORT_SPOOF_CHECK);
    EXPECT_TRUE(xb::port_allowed_ips(*dp_, slot_of(1)).empty());
    expect_passes(1, ip4(kOut, kA, "10.0.0.9", "10.0.0.1"), "allowed-ip none");
}

TEST_F(PolicyTest, DhcpFromTheZeroSourceAndNoDhcpServer) {
    allow("p1", "10.0.0.5");
    expect_passes(1, ip4(kBcast, kA, "0.0.0.0", "255.255.255.255", 17, 68, 67), "DHCP discover");
    expect_dropped(1, ip4(kBcast, kA, "0.0.0.0", "255.255.255.255", 17, 1000, 67), XB_DROP_SPOOF,
                   "0.0.0.0 from another port than 68");
    expect_dropped(1, ip4(kOut, kA, "0.0.0.0", "10.0.0.1", 1), XB_DROP_SPOOF, "0.0.0.0, ICMP");
    expect_dropped(1, ip4(kBcast, kA, "10.0.0.5", "255.255.255.255", 17, 67, 68),
                   XB_DROP_DHCP_SERVER, "a DHCP server reply");
    expect_dropped(1, ip6(kOut, kA, "fe80::1", "fe80::2", 17, udp(547, 546)), XB_DROP_DHCP_SERVER,
                   "a DHCPv6 server reply");
    xb::set_port_policy_flag(*dp_, "p1", XB_PORT_DHCP_SERVER, true);
    expect_passes(1, ip4(kBcast, kA, "10.0.0.5", "255.255.255.255", 17, 67, 68),
                  "a DHCP server reply with dhcp-server on");
    expect_passes(1, ip6(kOut, kA, "fe80::1", "fe80::2", 17, udp(547, 546)),
                  "a DHCPv6 server reply with dhcp-server on");
    expect_dropped(1, ip4(kBcast, kA, "10.0.0.6", "255.255.255.255", 17, 67, 68), XB_DROP_SPOOF,
                   "a DHCP server still sends from its own address");
}

TEST_F(PolicyTest, ArpClaimsOnlyTheFramesMacAndAnAllowedAddress) {
    allow("p1", "10.0.0.5");
    expect_passes(1, arp(kA, kA, "10.0.0.5", "10.0.0.1"), "ARP from its own address");
    expect_passes(1, arp(kA, kA, "0.0.0.0", "10.0.0.5"), "an ARP probe (RFC 5227)");
    expect_dropped(1, arp(kA, kA, "10.0.0.1", "10.0.0.1"), XB_DROP_SPOOF,
                   "a gratuitous ARP for another's address");
    expect_dropped(1, arp(kA, kB, "10.0.0.5", "10.0.0.1"), XB_DROP_SPOOF,
                   "a sender MAC that is not the frame's");
    Frame rarp = arp(kA, kA, "10.0.0.5", "10.0.0.1");
    rarp.bytes[15] = 6; // hardware type 6 (IEEE 802): not Ethernet/IPv4 ARP
    expect_dropped(1, rarp, XB_DROP_SPOOF, "another kind of ARP");
}

TEST_F(PolicyTest, Ipv6AndNeighbourDiscoveryClaimOnlyAllowedAddresses) {
    allow("p1", "10.0.0.5,fd77::10");
    expect_passes(1, ip6(kOut, kA, "fd77::10", "fd77::1", 17, udp(1000, 2000)), "its own address");
    expect_dropped(1, ip6(kOut, kA, "fd77::99", "fd77::1", 17, udp(1000, 2000)), XB_DROP_SPOOF,
                   "another address");
    expect_passes(1, ip6(kOut, kA, "fe80::5054:ff:fe00:a", "fe80::1", 17, udp(1000, 2000)),
                  "link-local");
    expect_passes(1, ip6("33:33:ff:00:00:10", kA, "::", "ff02::1:ff00:10", 58, nd(135, "fd77::10")),
                  "DAD's neighbour solicitation from ::");
    expect_dropped(1, ip6(kOut, kA, "::", "fd77::1", 17, udp(1000, 2000)), XB_DROP_SPOOF,
                   ":: for anything but DAD and MLD");
    expect_passes(1,
                  ip6("33:33:00:00:00:01", kA, "fd77::10", "ff02::1", 58, nd(136, "fd77::10", kA)),
                  "an advertisement of its own address");
    expect_dropped(1,
                   ip6("33:33:00:00:00:01", kA, "fd77::10", "ff02::1", 58, nd(136, "fd77::1", kA)),
                   XB_DROP_SPOOF, "an advertisement of another's address");
    expect_dropped(
        1,
        ip6("33:33:00:00:00:01", kA, "fe80::5054:ff:fe00:a", "ff02::1", 58, nd(136, "fd77::1", kA)),
        XB_DROP_SPOOF, "... from its link-local address");
    expect_dropped(1,
                   ip6("33:33:00:00:00:01", kA, "fd77::10", "ff02::1", 58, nd(136, "fd77::10", kB)),
                   XB_DROP_SPOOF, "an advertisement with another's link-layer address");
    expect_dropped(
        1, ip6("33:33:ff:00:00:01", kA, "fd77::10", "ff02::1:ff00:1", 58, nd(135, "fd77::1", kB)),
        XB_DROP_SPOOF, "a solicitation with another's link-layer address");
    expect_passes(
        1, ip6("33:33:ff:00:00:01", kA, "fd77::10", "ff02::1:ff00:1", 58, nd(135, "fd77::1", kA)),
        "a solicitation of another's address (asking is no claim)");
    // Behind a hop-by-hop header (as MLD sends it), an advertisement is still looked at.
    std::vector<uint8_t> hbh = {58, 0, 5, 2, 0, 0, 1, 0};
    auto na = nd(136, "fd77::1", kA);
    hbh.insert(hbh.end(), na.begin(), na.end());
    expect_dropped(1, ip6("33:33:00:00:00:01", kA, "fd77::10", "ff02::1", 0, hbh), XB_DROP_SPOOF,
                   "an advertisement behind a hop-by-hop header");
}

TEST_F(PolicyTest, ABpduBlocksAGuardedPortUntilReset) {
    xb::set_port_policy_flag(*dp_, "p1", XB_PORT_BPDU_GUARD, true);
    run_xdp(0, eth_frame(kA, kOut));
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA)), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA)), XDP_REDIRECT) << "a cached flow";

    EXPECT_NE(run_xdp(2, bpdu(kB)), XDP_DROP) << "a port without the guard floods BPDUs";
    EXPECT_FALSE(xb::port_blocked(*dp_, slot_of(2)));

    EXPECT_EQ(run_xdp(1, bpdu(kA)), XDP_DROP);
    const auto b = xb::port_blocked(*dp_, slot_of(1));
    ASSERT_TRUE(b);
    EXPECT_EQ(xb::format_mac(b->bpdu_src), kA);
    EXPECT_EQ(stats(1).cnt[XB_CNT_BPDU], 1u);
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA)), XDP_DROP) << "the cached flow is gone too";
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kOut, kA)), TC_ACT_SHOT);
    EXPECT_EQ(run_tc_ingress(1, bpdu(kA)), TC_ACT_SHOT);
    EXPECT_EQ(stats(1).drop[XB_DROP_BLOCKED], 4u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_BPDU], 2u);
    EXPECT_NE(run_xdp(2, eth_frame(kOut, kB)), XDP_DROP) << "other ports go on";

    EXPECT_TRUE(xb::reset_bpdu_guard(*dp_, "p1"));
    EXPECT_FALSE(xb::port_blocked(*dp_, slot_of(1)));
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA)), XDP_REDIRECT);
    EXPECT_FALSE(xb::reset_bpdu_guard(*dp_, "p1")) << "not blocked any more";

    // Turning the guard off forgets a block.
    EXPECT_EQ(run_xdp(1, bpdu(kA)), XDP_DROP);
    xb::set_port_policy_flag(*dp_, "p1", XB_PORT_BPDU_GUARD, false);
    EXPECT_FALSE(xb::port_blocked(*dp_, slot_of(1)));
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA)), XDP_REDIRECT);
}

TEST_F(PolicyTest, ThePolicerPassesABurstThenDropsOverTheRate) {
    // 10 frames a second, a burst of 5: five at once pass, the sixth is over (the test
    // sends them in far less than the 100 ms one frame's cost is).
    xb::set_port_rate_limit(*dp_, "p1", xb::parse_rate_limit("10pps", "5"));
    run_xdp(0, eth_frame(kA, kOut));
    for (int i = 0; i < 5; i++)
        EXPECT_NE(run_xdp(1, eth_frame(kOut, kA)), XDP_DROP) << "frame " << i;
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA)), XDP_DROP);
    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA, 0x0806)), XDP_DROP) << "floods too";
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kOut, kA)), TC_ACT_SHOT) << "the same bucket in TC";
    EXPECT_EQ(stats(1).drop[XB_DROP_RATE], 3u);
    EXPECT_NE(run_xdp(2, eth_frame(kOut, kB)), XDP_DROP) << "another port has no policer";

    xb::set_port_rate_limit(*dp_, "p1", std::nullopt);
    for (int i = 0; i < 20; i++)
        EXPECT_NE(run_xdp(1, eth_frame(kOut, kA)), XDP_DROP);
}

TEST_F(PolicyTest, APolicerOnBytesChargesEachFramesLength) {
    // 8 kbit/s = 1000 bytes a second, a burst of 3000 bytes: three 1000-byte frames.
    xb::set_port_rate_limit(*dp_, "p1", xb::parse_rate_limit("8kbit", "3000"));
    const auto p = dp_->port(slot_of(1));
    EXPECT_EQ(p->police_rate, 1000u);
    EXPECT_TRUE(p->police_bytes);
    run_xdp(0, eth_frame(kA, kOut));
    for (int i = 0; i < 3; i++)
        EXPECT_NE(run_xdp(1, eth_frame(kOut, kA, 0x88b5, std::nullopt, 1000)), XDP_DROP);
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA, 0x88b5, std::nullopt, 1000)), XDP_DROP);
}

TEST_F(PolicyTest, AFrameXdpLeavesToTcIsChargedOnce) {
    xb::set_port_rate_limit(*dp_, "p1", xb::parse_rate_limit("10pps", "2"));
    run_xdp(2, eth_frame(kOut, kB));
    // p2 shaped: XDP cannot redirect to it, and gives the frame to TC, which charges it.
    ASSERT_TRUE(xb::update_xdp_target(*dp_, slot_of(2), xb::kXdpActNdoXmit, true));
    for (int i = 0; i < 2; i++) {
        EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_PASS) << "frame " << i;
        EXPECT_NE(run_tc_ingress(1, eth_frame(kB, kA)), TC_ACT_SHOT) << "frame " << i;
    }
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kB, kA)), TC_ACT_SHOT) << "the third frame is over";
}

TEST_F(PolicyTest, AShapedPortIsServedByTc) {
    run_xdp(2, eth_frame(kOut, kB));
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT);
    ASSERT_TRUE(xb::update_xdp_target(*dp_, slot_of(2), xb::kXdpActNdoXmit, true));
    auto p = dp_->port(slot_of(2));
    EXPECT_TRUE(p->ctl & XB_CTL_SHAPED);
    EXPECT_TRUE(p->ctl & XB_CTL_NO_XDP_TX);
    EXPECT_EQ(dp_->config()->n_no_xdp_tx, 1u);
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_PASS) << "to the TC path, and the qdisc";
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kB, kA)), TC_ACT_REDIRECT);
    EXPECT_FALSE(xb::update_xdp_target(*dp_, slot_of(2), xb::kXdpActNdoXmit, true))
        << "nothing changed";
    ASSERT_TRUE(xb::update_xdp_target(*dp_, slot_of(2), xb::kXdpActNdoXmit, false));
    p = dp_->port(slot_of(2));
    EXPECT_FALSE(p->ctl & (XB_CTL_SHAPED | XB_CTL_NO_XDP_TX));
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT);
}

TEST_F(PolicyTest, MovesAreCountedPerMac) {
    run_xdp(1, eth_frame(kOut, kA));
    run_xdp(2, eth_frame(kOut, kA));
    run_xdp(1, eth_frame(kOut, kA));
    run_xdp(2, eth_frame(kOut, kB));
    const auto flaps = xb::read_mac_flaps(*dp_);
    ASSERT_EQ(flaps.size(), 1u);
    EXPECT_EQ(xb::format_mac(flaps[0].key.mac), kA);
    EXPECT_EQ(flaps[0].flap.moves, 2u);
    EXPECT_EQ(flaps[0].flap.from_ifindex, uint32_t(ifindex(2)));
    EXPECT_EQ(flaps[0].flap.to_ifindex, uint32_t(ifindex(1)));
}

TEST_F(PolicyTest, ANewPortInASlotStartsWithoutPolicy) {
    allow("p1", "10.0.0.5");
    xb::set_port_policy_flag(*dp_, "p1", XB_PORT_BPDU_GUARD, true);
    EXPECT_EQ(run_xdp(1, bpdu(kA)), XDP_DROP);
    xb::clear_port_policy(*dp_, slot_of(1));
    EXPECT_TRUE(xb::port_allowed_ips(*dp_, slot_of(1)).empty());
    EXPECT_FALSE(xb::port_blocked(*dp_, slot_of(1)));
}

TEST_F(PolicyTest, ABlockedPortReceivesNothing) {
    xb::set_port_policy_flag(*dp_, "p1", XB_PORT_BPDU_GUARD, true);
    run_xdp(1, eth_frame(kOut, kA)); // kA learned on p1
    EXPECT_EQ(run_xdp(2, eth_frame(kA, kB)), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(2, eth_frame(kA, kB)), XDP_REDIRECT) << "a cached flow to p1";
    EXPECT_EQ(run_xdp(1, bpdu(kA)), XDP_DROP);
    ASSERT_TRUE(xb::port_blocked(*dp_, slot_of(1)));

    // Known unicast for the blocked port: dropped where it came in, at both hooks, the
    // cached flow included (the block started a new generation).
    EXPECT_EQ(run_xdp(2, eth_frame(kA, kB)), XDP_DROP);
    EXPECT_EQ(run_tc_ingress(2, eth_frame(kA, kB)), TC_ACT_SHOT);
    EXPECT_EQ(stats(2).drop[XB_DROP_BLOCKED], 2u);
    EXPECT_EQ(run_tc_egress(0, eth_frame(kA, kOut)), TC_ACT_SHOT) << "from the host too";
    EXPECT_EQ(host_stats().drop[XB_DROP_BLOCKED], 1u);

    // The TC hook's flood clones to every port but the blocked one (its tx counts each
    // copy); the devmap egress program holds back XDP's copies (a namespace test's job:
    // test runs make no devmap copies).
    const uint64_t tx1 = stats(1).cnt[XB_CNT_TX_PACKETS];
    const uint64_t tx0 = stats(0).cnt[XB_CNT_TX_PACKETS];
    run_tc_ingress(2, eth_frame(kBcast, kB, 0x0806));
    run_tc_ingress(2, eth_frame("02:00:00:00:99:99", kB));
    run_tc_egress(0, eth_frame(kBcast, kOut, 0x0806));
    EXPECT_EQ(stats(1).cnt[XB_CNT_TX_PACKETS], tx1) << "a flood copy reached the blocked port";
    EXPECT_EQ(stats(0).cnt[XB_CNT_TX_PACKETS], tx0 + 2) << "the uplink gets p2's floods";
    EXPECT_EQ(stats(1).cnt[XB_CNT_DROPPED], 1u) << "only the BPDU: skipped copies are no drops";

    EXPECT_TRUE(xb::reset_bpdu_guard(*dp_, "p1"));
    EXPECT_EQ(run_xdp(2, eth_frame(kA, kB)), XDP_REDIRECT);
    EXPECT_EQ(run_tc_ingress(2, eth_frame(kA, kB)), TC_ACT_REDIRECT);
    EXPECT_EQ(run_tc_egress(0, eth_frame(kA, kOut)), TC_ACT_REDIRECT);
    const uint64_t tx1_reset = stats(1).cnt[XB_CNT_TX_PACKETS];
    run_tc_ingress(2, eth_frame(kBcast, kB, 0x0806));
    EXPECT_EQ(stats(1).cnt[XB_CNT_TX_PACKETS], tx1_reset + 1) << "a flood copy after reset";

    // A port without the guard is never looked up as blocked, whatever the map says.
    EXPECT_EQ(run_xdp(1, bpdu(kA)), XDP_DROP);
    xb::set_port_policy_flag(*dp_, "p1", XB_PORT_BPDU_GUARD, false);
    EXPECT_EQ(run_xdp(2, eth_frame(kA, kB)), XDP_REDIRECT);
}

TEST_F(PolicyTest, APvstBpduBlocksAGuardedPortToo) {
    xb::set_port_policy_flag(*dp_, "p1", XB_PORT_BPDU_GUARD, true);
    EXPECT_NE(run_xdp(1, cisco(kA, "01:00:0c:cc:cc:cc")), XDP_DROP) << "CDP is no BPDU";
    EXPECT_FALSE(xb::port_blocked(*dp_, slot_of(1)));
    EXPECT_NE(run_xdp(2, cisco(kB, "01:00:0c:cc:cc:cd")), XDP_DROP)
        << "a port without the guard floods PVST+ BPDUs";
    EXPECT_EQ(run_tc_ingress(1, cisco(kA, "01:00:0c:cc:cc:cd")), TC_ACT_SHOT);
    const auto b = xb::port_blocked(*dp_, slot_of(1));
    ASSERT_TRUE(b);
    EXPECT_EQ(xb::format_mac(b->bpdu_src), kA);
    EXPECT_EQ(stats(1).cnt[XB_CNT_BPDU], 1u);
    EXPECT_EQ(stats(1).drop[XB_DROP_BLOCKED], 1u);
    EXPECT_TRUE(xb::reset_bpdu_guard(*dp_, "p1"));
    EXPECT_EQ(run_xdp(1, cisco(kA, "01:00:0c:cc:cc:cd")), XDP_DROP);
    EXPECT_EQ(stats(1).cnt[XB_CNT_BPDU], 2u);
    EXPECT_TRUE(xb::port_blocked(*dp_, slot_of(1))) << "at XDP too";
}

TEST_F(PolicyTest, RouterAdvertisementsFromAGuardedPortAreRefused) {
    const auto ra = [](const std::string &smac) {
        return ip6("33:33:00:00:00:01", smac, "fe80::5054:ff:fe00:a", "ff02::1", 58, icmp6(134));
    };
    expect_passes(1, ra(kA), "no policy: an RA is flooded");

    // allowed-ip turns the guard on by itself.
    allow("p1", "10.0.0.5,fd77::10");
    expect_dropped(1, ra(kA), XB_DROP_RA_GUARD, "an RA from an address-checked port");
    expect_dropped(1, ip6(kOut, kA, "fe80::5054:ff:fe00:a", "fe80::1", 58, icmp6(137)),
                   XB_DROP_RA_GUARD, "a redirect");
    // Behind a hop-by-hop header, and behind more extension headers than are walked.
    std::vector<uint8_t> hbh = {58, 0, 5, 2, 0, 0, 1, 0};
    auto body = icmp6(134);
    hbh.insert(hbh.end(), body.begin(), body.end());
    expect_dropped(1, ip6("33:33:00:00:00:01", kA, "fe80::5054:ff:fe00:a", "ff02::1", 0, hbh),
                   XB_DROP_RA_GUARD, "an RA behind a hop-by-hop header");
    std::vector<uint8_t> chain = {60, 0, 1, 4, 0,  0, 0, 0, 60, 0, 1, 4,
                                  0,  0, 0, 0, 58, 0, 1, 4, 0,  0, 0, 0};
    chain.insert(chain.end(), body.begin(), body.end());
    expect_dropped(1, ip6("33:33:00:00:00:01", kA, "fe80::5054:ff:fe00:a", "ff02::1", 0, chain),
                   XB_DROP_RA_GUARD, "a chain longer than the walk");

    // A host's own neighbour discovery goes on.
    expect_passes(1,
                  ip6("33:33:00:00:00:02", kA, "fe80::5054:ff:fe00:a", "ff02::2", 58, icmp6(133)),
                  "a router solicitation");
    expect_passes(1,
                  ip6("33:33:00:00:00:01", kA, "fd77::10", "ff02::1", 58, nd(136, "fd77::10", kA)),
                  "an advertisement of its own address");
    expect_passes(
        1, ip6("33:33:ff:00:00:01", kA, "fd77::10", "ff02::1:ff00:1", 58, nd(135, "fd77::1", kA)),
        "a neighbour solicitation");
    expect_passes(2, ra(kB), "another port is not guarded");

    // ra-guard off: a router may sit behind the port; the address checks stay.
    xb::set_port_ra_guard(*dp_, "p1", false);
    EXPECT_FALSE(xb::port_ra_guarded(*dp_->port(slot_of(1))));
    expect_passes(1, ra(kA), "an RA with ra-guard off");
    expect_dropped(1, ip6("33:33:00:00:00:01", kA, "fd77::99", "ff02::1", 58, icmp6(134)),
                   XB_DROP_SPOOF, "an RA from another global address");
    allow("p1", "none");
    allow("p1", "10.0.0.5");
    expect_passes(1, ra(kA), "ra-guard off outlives a new allowed-ip");

    // ra-guard on, without address checks.
    allow("p1", "none");
    xb::set_port_ra_guard(*dp_, "p1", true);
    EXPECT_TRUE(xb::port_ra_guarded(*dp_->port(slot_of(1))));
    EXPECT_FALSE(dp_->port(slot_of(1))->flags & XB_PORT_SPOOF_CHECK);
    expect_dropped(1, ra(kA), XB_DROP_RA_GUARD, "an RA with ra-guard on alone");
    expect_passes(1, ip6(kOut, kA, "fd77::99", "fd77::1", 17, udp(1000, 2000)),
                  "any address with ra-guard alone");
    expect_passes(1, ip6(kOut, kA, "fd77::99", "fd77::1", 17, udp(547, 546)),
                  "DHCPv6 is dhcp-server's, with allowed-ip");
    // A guarded port's flows are not cached: a hit would not look at the message.
    run_xdp(0, eth_frame(kA, kOut));
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA, 0x88b5)), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA, 0x88b5)), XDP_REDIRECT);
    expect_dropped(1, ip6(kOut, kA, "fe80::5054:ff:fe00:a", "fe80::1", 58, icmp6(137)),
                   XB_DROP_RA_GUARD, "a unicast redirect on a known flow");
}

TEST_F(PolicyTest, Dhcpv6ServerMessagesAreRefusedByTheirClientPort) {
    allow("p1", "fd77::10");
    expect_dropped(1, ip6(kOut, kA, "fd77::10", "fd77::1", 17, udp(40000, 546)),
                   XB_DROP_DHCP_SERVER, "a DHCPv6 reply from another source port");
    expect_dropped(1, ip6(kOut, kA, "fd77::10", "fd77::1", 17, udp(547, 547)), XB_DROP_DHCP_SERVER,
                   "a relay reply");
    expect_passes(
        1, ip6("33:33:00:01:00:02", kA, "fe80::5054:ff:fe00:a", "ff02::1:2", 17, udp(546, 547)),
        "a DHCPv6 client's solicit");
    allow("p1", "10.0.0.5");
    expect_dropped(1, ip4(kBcast, kA, "10.0.0.5", "255.255.255.255", 17, 40000, 68),
                   XB_DROP_DHCP_SERVER, "a DHCP reply from another source port");
}
