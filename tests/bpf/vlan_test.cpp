// SPDX-License-Identifier: BSD-2-Clause
// VLAN filtering: every ingress and egress rule, at XDP and at TC, on crafted frames. The
// devmap egress program (a flood's copies, port by port) cannot run in the kernel's test
// runner; tests/integration/test_vlan.sh sends real floods through it.
#include "bpf_fixture.hpp"

#include "error.hpp"
#include "vlan.hpp"

#include <linux/bpf.h>
#include <linux/pkt_cls.h>

using namespace xbtest;

namespace {
const std::string kA = "52:54:00:00:00:0a";   // a guest on p1
const std::string kB = "52:54:00:00:00:0b";   // a guest behind p2
const std::string kOut = "00:25:9c:19:b8:e9"; // the outside PC, behind p0
const std::string kBcast = "ff:ff:ff:ff:ff:ff";

// The frame without its outer tag.
Frame pop_tag(const Frame &f) {
    Frame u = f;
    u.bytes.erase(u.bytes.begin() + 12, u.bytes.begin() + 16);
    return u;
}

// The outer tag of a frame, if it has one of protocol tpid: its TCI.
std::optional<uint16_t> outer_tag(const Frame &f, uint16_t tpid = 0x8100) {
    if (f.bytes.size() < 18 || (f.bytes[12] << 8 | f.bytes[13]) != tpid)
        return std::nullopt;
    return uint16_t(f.bytes[14] << 8 | f.bytes[15]);
}

// The bridge with VLAN filtering on:
//   p0 (uplink): VLAN 1 PVID untagged (the default), 10 and 20 tagged: a trunk
//   p1: VLAN 10 PVID untagged only: an access port
//   p2: VLAN 1 PVID untagged, 10 and 20 tagged
//   the host: VLAN 1 PVID untagged (the default)
// The ports are veths; these tests take them for NICs whose rx-vlan offload is off (XDP
// sees every tag), except where a test says otherwise.
class VlanTest : public BridgeTest {
  protected:
    void SetUp() override {
        BridgeTest::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        xb::set_vlan_filtering(*dp_, true);
        for (int i = 0; i < 3; i++)
            set_port_flags(i, 0, XB_PORT_VLAN_HIDDEN);
        add("p0", 10, 20, false, false);
        xb::vlan_del(*dp_, "p1", {1, 1});
        add("p1", 10, 10, true, true);
        add("p2", 10, 20, false, false);
    }
    void add(const std::string &dev, uint16_t from, uint16_t to, bool pvid, bool untagged) {
        xb::vlan_add(*dp_, dev, {from, to}, pvid, untagged);
    }
    xb_vlan_stats vstats(uint16_t vid) {
        for (const auto &c : xb::vlan_counters(*dp_))
            if (c.vid == vid)
                return c.s;
        return {};
    }
};
} // namespace

TEST_F(VlanTest, UntaggedFramesTakeThePortsPvid) {
    Frame out;
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA), &out), XDP_REDIRECT) << "unknown unicast: flooded";
    EXPECT_TRUE(fdb(kA, 10)) << "learned on the PVID";
    EXPECT_FALSE(fdb(kA, 0));
    EXPECT_EQ(outer_tag(out), 10) << "a flood is sent tagged; each copy is untagged where it must";
    EXPECT_EQ(vstats(10).rx_packets, 1u);
    // At TC alike.
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kBcast, kA, 0x0806)), TC_ACT_SHOT)
        << "VLAN 10's flood: no host copy, the host is not on VLAN 10";
    EXPECT_EQ(vstats(10).rx_packets, 2u);
}

TEST_F(VlanTest, AnUntaggedFrameWithoutPvidIsDropped) {
    xb::vlan_del(*dp_, "p1", {10, 10});
    add("p1", 10, 10, false, true); // a member, untagged, but not its PVID
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA)), XDP_DROP);
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kOut, kA)), TC_ACT_SHOT);
    EXPECT_EQ(stats(1).drop[XB_DROP_VLAN], 2u);
    EXPECT_FALSE(fdb(kA, 10));
    EXPECT_FALSE(fdb(kA, 0));
    // Tagged frames of its VLAN still come in.
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA, 0x0800, 10)), XDP_REDIRECT);
    EXPECT_TRUE(fdb(kA, 10));
}

TEST_F(VlanTest, TaggedFramesComeInOnlyOnMemberPorts) {
    EXPECT_EQ(run_xdp(2, eth_frame(kOut, kB, 0x0800, 30)), XDP_DROP) << "p2 is not on VLAN 30";
    EXPECT_EQ(run_tc_ingress(2, eth_frame(kOut, kB, 0x0800, 30)), TC_ACT_SHOT);
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA, 0x0800, 20)), XDP_DROP) << "p1 is on VLAN 10 only";
    EXPECT_EQ(run_xdp(2, eth_frame(kOut, kB, 0x0800, 4095)), XDP_DROP) << "VID 4095 is reserved";
    EXPECT_EQ(stats(2).drop[XB_DROP_VLAN], 3u);
    EXPECT_EQ(stats(1).drop[XB_DROP_VLAN], 1u);
    EXPECT_FALSE(fdb(kB, 30));
    Frame out;
    EXPECT_EQ(run_xdp(2, eth_frame(kOut, kB, 0x0800, 20), &out), XDP_REDIRECT);
    EXPECT_TRUE(fdb(kB, 20));
    EXPECT_EQ(out.bytes, eth_frame(kOut, kB, 0x0800, 20).bytes) << "a tagged flood goes as it is";
}

TEST_F(VlanTest, PriorityTaggedFramesTakeThePvidAndKeepTheirPriority) {
    run_xdp(0, eth_frame(kBcast, kOut, 0x0806)); // the outside PC, learned on p0's VLAN 1
    ASSERT_TRUE(fdb(kOut, 1));
    const Frame prio = push_tag(eth_frame(kOut, kB), 0x8100, 0xa000); // PCP 5, VID 0
    Frame out;
    EXPECT_EQ(run_xdp(2, prio, &out), XDP_REDIRECT);
    EXPECT_TRUE(fdb(kB, 1));
    EXPECT_EQ(out.bytes, pop_tag(prio).bytes) << "VLAN 1 is untagged on p0";
    // p0 tagged on VLAN 1: the tag says VLAN 1, with the frame's priority.
    add("p0", 1, 1, true, false);
    EXPECT_EQ(run_xdp(2, prio, &out), XDP_REDIRECT);
    EXPECT_EQ(outer_tag(out), 0xa001);
}

TEST_F(VlanTest, KnownUnicastIsTaggedOrUntaggedPerEgressPort) {
    run_xdp(1, eth_frame(kBcast, kA, 0x0806));
    run_xdp(2, eth_frame(kBcast, kB, 0x0806, 10));
    ASSERT_TRUE(fdb(kA, 10));
    ASSERT_TRUE(fdb(kB, 10));
    for (int i = 0; i < 2; i++) { // the second time from the flow cache
        Frame out;
        EXPECT_EQ(run_xdp(1, eth_frame(kB, kA), &out), XDP_REDIRECT);
        EXPECT_EQ(out.bytes, push_tag(eth_frame(kB, kA), 0x8100, 10).bytes)
            << "access → trunk: tag pushed";
        EXPECT_EQ(run_xdp(2, eth_frame(kA, kB, 0x0800, 10), &out), XDP_REDIRECT);
        EXPECT_EQ(out.bytes, pop_tag(eth_frame(kA, kB, 0x0800, 10)).bytes)
            << "trunk → access: tag popped";
    }
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 2u);
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_BYTES], 2u * 64) << "counted as sent, with the tag";
    EXPECT_EQ(stats(1).cnt[XB_CNT_TX_BYTES], 2u * 56) << "and without";
    EXPECT_EQ(vstats(10).tx_packets, 4u);
    // TC: the pop is visible in the frame; a push puts the tag beside it (vlan_tci).
    Frame out;
    EXPECT_EQ(run_tc_ingress(2, eth_frame(kA, kB, 0x0800, 10), 0, nullptr, &out), TC_ACT_REDIRECT);
    EXPECT_EQ(out.bytes, pop_tag(eth_frame(kA, kB, 0x0800, 10)).bytes);
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kB, kA)), TC_ACT_REDIRECT);
    EXPECT_EQ(vstats(10).tx_packets, 6u);
}

// The flow cache is looked up before the classification, on the tag as the frame came:
// a hit must stand for the same classification, and never for another frame's.
TEST_F(VlanTest, CachedDecisionsStandForTheFramesOwnTag) {
    run_xdp(0, eth_frame(kBcast, kOut, 0x0806)); // the outside PC, on p0's VLAN 1
    add("p0", 1, 1, true, false);                // VLAN 1 tagged on p0
    ASSERT_TRUE(fdb(kOut, 1));
    const Frame untagged = eth_frame(kOut, kB);
    Frame out;
    for (int i = 0; i < 2; i++) { // the second time from the flow cache
        EXPECT_EQ(run_xdp(2, untagged, &out), XDP_REDIRECT);
        EXPECT_EQ(outer_tag(out), 0x0001) << "p2's PVID, pushed";
    }
    // The same addresses with a priority tag (VID 0, as "untagged" in the FDB keys): not
    // the untagged frame's entry, and never cached, each keeping its own priority.
    for (const uint16_t pcp : {5, 3, 3}) {
        EXPECT_EQ(run_xdp(2, push_tag(untagged, 0x8100, pcp << 13), &out), XDP_REDIRECT);
        EXPECT_EQ(outer_tag(out), pcp << 13 | 1) << "PCP " << pcp;
        EXPECT_EQ(out.bytes.size(), 64u) << "one tag, rewritten";
    }
    EXPECT_EQ(run_xdp(2, untagged, &out), XDP_REDIRECT);
    EXPECT_EQ(outer_tag(out), 0x0001);

    // A cached trunk → access flow, then the trunk leaves the VLAN: the classification
    // the entry stood for is gone with it.
    run_xdp(1, eth_frame(kBcast, kA, 0x0806));
    ASSERT_TRUE(fdb(kA, 10));
    const Frame t10 = eth_frame(kA, kB, 0x0800, 10);
    for (int i = 0; i < 2; i++) {
        EXPECT_EQ(run_xdp(2, t10, &out), XDP_REDIRECT);
        EXPECT_EQ(out.bytes, pop_tag(t10).bytes);
    }
    xb::vlan_del(*dp_, "p2", {10, 10});
    EXPECT_EQ(run_xdp(2, t10), XDP_DROP);
    EXPECT_EQ(stats(2).drop[XB_DROP_VLAN], 1u);
}

TEST_F(VlanTest, CachedDecisionsTellTheTagsProtocol) {
    xb::set_vlan_protocol(*dp_, xb::kVlanProto8021AD);
    run_xdp(1, eth_frame(kBcast, kA, 0x0806));
    ASSERT_TRUE(fdb(kA, 10));
    const Frame s10 = push_tag(eth_frame(kA, kB), 0x88a8, 10); // VLAN 10 to this bridge
    const Frame c10 = eth_frame(kA, kB, 0x0800, 10);           // untagged to it: p2's VLAN 1
    Frame out;
    for (int i = 0; i < 2; i++) { // the second time from the flow cache
        EXPECT_EQ(run_xdp(2, s10, &out), XDP_REDIRECT);
        EXPECT_EQ(out.bytes, pop_tag(s10).bytes);
    }
    // The same addresses and VID under an 802.1Q tag: VLAN 1, where kA is unknown.
    EXPECT_EQ(run_xdp(2, c10, &out), XDP_REDIRECT);
    EXPECT_EQ(out.bytes, push_tag(c10, 0x88a8, 1).bytes) << "flooded on VLAN 1, S-tagged";
    EXPECT_TRUE(fdb(kB, 1));
}

TEST_F(VlanTest, UnicastToAPortOutsideTheVlanIsDropped) {
    fdb_put(kB, 2, XB_FDB_STATIC, 10);
    xb::vlan_del(*dp_, "p2", {10, 10});
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_DROP);
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kB, kA)), TC_ACT_SHOT);
    EXPECT_EQ(stats(1).drop[XB_DROP_VLAN], 2u);
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 0u);
}

TEST_F(VlanTest, LearningIsPerVlan) {
    run_xdp(1, eth_frame(kBcast, kA, 0x0806));
    run_xdp(2, eth_frame(kBcast, kA, 0x0806, 20)); // the same MAC on another VLAN
    ASSERT_TRUE(fdb(kA, 10));
    ASSERT_TRUE(fdb(kA, 20));
    EXPECT_EQ(fdb(kA, 10)->ifindex, uint32_t(ifindex(1)));
    EXPECT_EQ(fdb(kA, 20)->ifindex, uint32_t(ifindex(2)));
    EXPECT_EQ(stats(2).cnt[XB_CNT_MOVED], 0u) << "no move between VLANs";
    // A frame on VLAN 20 for kA goes to p2, one on VLAN 10 to p1.
    Frame out;
    EXPECT_EQ(run_xdp(0, eth_frame(kA, kOut, 0x0800, 10), &out), XDP_REDIRECT);
    EXPECT_EQ(out.bytes, pop_tag(eth_frame(kA, kOut, 0x0800, 10)).bytes);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TX_PACKETS], 1u);
    EXPECT_EQ(run_xdp(0, eth_frame(kA, kOut, 0x0800, 20), &out), XDP_REDIRECT);
    EXPECT_EQ(out.bytes, eth_frame(kA, kOut, 0x0800, 20).bytes) << "tagged on p2";
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 1u);
}

TEST_F(VlanTest, TcFloodsOnlyToTheMembersOfTheVlan) {
    xb::vlan_del(*dp_, "p2", {10, 10});
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kBcast, kA, 0x0806)), TC_ACT_SHOT);
    EXPECT_EQ(stats(0).cnt[XB_CNT_TX_PACKETS], 1u) << "p0 is on VLAN 10";
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 0u) << "p2 is not";
    EXPECT_EQ(vstats(10).tx_packets, 1u);
    // The host hears VLAN 10 once it is a member: its copy goes up the uplink's stack.
    add("host", 10, 10, false, false);
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kBcast, kA, 0x0806)), TC_ACT_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TO_HOST], 1u);
    // VLAN 1 from p2: p0 and the host, never p1.
    EXPECT_EQ(run_tc_ingress(2, eth_frame(kBcast, kB, 0x0806)), TC_ACT_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TX_PACKETS], 0u);
    EXPECT_EQ(stats(0).cnt[XB_CNT_TX_PACKETS], 3u);
}

TEST_F(VlanTest, FramesForTheHostGoUpOnlyOnItsVlans) {
    const std::string host = xb::format_mac(dp_->port_by_ifindex(ifindex(0))->port.mac);
    EXPECT_EQ(run_xdp(0, eth_frame(host, kOut, 0x0800, 10)), XDP_DROP)
        << "the host is not on VLAN 10";
    EXPECT_EQ(run_tc_ingress(0, eth_frame(host, kOut, 0x0800, 10)), TC_ACT_SHOT);
    EXPECT_EQ(stats(0).drop[XB_DROP_VLAN], 2u);
    add("host", 10, 10, false, false);
    EXPECT_EQ(run_xdp(0, eth_frame(host, kOut, 0x0800, 10)), XDP_PASS)
        << "a member: for the TC hook, which delivers to the host";
    EXPECT_EQ(run_tc_ingress(0, eth_frame(host, kOut, 0x0800, 10)), TC_ACT_OK)
        << "up the uplink's stack, tagged, to its VLAN device";
    EXPECT_EQ(run_tc_ingress(0, eth_frame(host, kOut)), TC_ACT_OK) << "VLAN 1, untagged";
}

TEST_F(VlanTest, TheHostsFramesReachOnlyItsVlans) {
    run_xdp(1, eth_frame(kBcast, kA, 0x0806));
    // Untagged from the host: its PVID, VLAN 1: p2 (and the wire), not p1.
    EXPECT_EQ(run_tc_egress(0, eth_frame(kBcast, "02:00:00:00:00:01", 0x0806)), TC_ACT_OK);
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 1u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TX_PACKETS], 0u);
    // Tagged 10 (a VLAN device of the uplink) while the host is not on VLAN 10: the wire only.
    EXPECT_EQ(run_tc_egress(0, eth_frame(kA, "02:00:00:00:00:01", 0x0800, 10)), TC_ACT_OK);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TX_PACKETS], 0u);
    add("host", 10, 10, false, false);
    EXPECT_EQ(run_tc_egress(0, eth_frame(kA, "02:00:00:00:00:01", 0x0800, 10)), TC_ACT_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TX_PACKETS], 1u);
    EXPECT_EQ(host_stats().cnt[XB_CNT_FORWARDED], 1u);
}

TEST_F(VlanTest, An8021adBridgeTakesCustomerTagsForPayload) {
    xb::set_vlan_protocol(*dp_, xb::kVlanProto8021AD);
    const Frame c5 = eth_frame(kOut, kA, 0x0800, 5); // a customer's 802.1Q tag
    Frame out;
    EXPECT_EQ(run_xdp(1, c5, &out), XDP_REDIRECT);
    EXPECT_TRUE(fdb(kA, 10)) << "the access port's PVID, whatever the C-tag";
    EXPECT_EQ(out.bytes, push_tag(c5, 0x88a8, 10).bytes) << "S-tag outside the C-tag";
    // From the trunk, S-tagged: the S-tag goes, the C-tag stays.
    const Frame s10 = push_tag(eth_frame(kA, kB, 0x0800, 7), 0x88a8, 10);
    EXPECT_EQ(run_xdp(2, s10, &out), XDP_REDIRECT);
    EXPECT_TRUE(fdb(kB, 10));
    EXPECT_EQ(out.bytes, pop_tag(s10).bytes);
    // An 802.1Q tag on the trunk is no S-tag: the frame is untagged there, VLAN 1.
    EXPECT_EQ(run_xdp(2, eth_frame(kA, kB, 0x0800, 10)), XDP_REDIRECT);
    EXPECT_TRUE(fdb(kB, 1));
}

TEST_F(VlanTest, FilteringOffLeavesTagsAlone) {
    xb::set_vlan_filtering(*dp_, false);
    Frame out;
    const Frame f = eth_frame(kOut, kA, 0x0800, 30);
    EXPECT_EQ(run_xdp(1, f, &out), XDP_REDIRECT);
    EXPECT_EQ(out.bytes, f.bytes);
    EXPECT_TRUE(fdb(kA, 30));
    EXPECT_EQ(stats(1).drop[XB_DROP_VLAN], 0u);
}

TEST_F(VlanTest, AVethsPeerSendsItsTagsInTheFrame) {
    // A veth's peer sends with tx-vlan offload at its defaults: the tag then rides beside
    // the frame, where XDP cannot see it. The bridge turned it off at up (filtering or not).
    EXPECT_EQ(xb::vlan_rx_mode(dp_->port_by_ifindex(ifindex(1))->port), "peer-txvlan-off");
    EXPECT_TRUE(sh("ethtool -k p1peer | grep -q '^tx-vlan-offload: off'"));
    EXPECT_TRUE(sh("ethtool -k p1 | grep -q '^tx-vlan-offload: on'")) << "our end untouched";
}

TEST_F(VlanTest, WhereTagsMayHideUntaggedLookingFramesGoToTc) {
    // A port whose tags may ride beside the frame (a veth whose peer could not be
    // changed; a NIC whose rx-vlan offload is fixed on): the TC hook, which sees them,
    // takes the frames that look untagged. Filtering or not: a redirect would lose them.
    set_port_flags(1, XB_PORT_VLAN_HIDDEN, 0);
    set_port_flags(2, XB_PORT_VLAN_HIDDEN, 0);
    EXPECT_EQ(xb::vlan_rx_mode(dp_->port_by_ifindex(ifindex(1))->port), "tc");
    for (const bool filtering : {true, false}) {
        xb::set_vlan_filtering(*dp_, filtering);
        EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA)), XDP_PASS) << filtering;
        EXPECT_EQ(stats(1).cnt[XB_CNT_RX_PACKETS], 0u) << filtering;
        EXPECT_EQ(run_xdp(2, eth_frame(kOut, kB, 0x0800, 20)), XDP_REDIRECT)
            << "a tag XDP sees, filtering " << filtering;
    }
    EXPECT_TRUE(dp_->port_by_ifindex(ifindex(1))->port.flags & XB_PORT_VLAN_HIDDEN)
        << "filtering off leaves the ports' receive paths as they are";
    // Without filtering, a priority tag (VID 0) keys a frame as an untagged one does: a
    // cached priority-tagged flow must not take the untagged-looking frames along.
    fdb_put(kB, 2, XB_FDB_STATIC, 0);
    const Frame prio = push_tag(eth_frame(kB, kA), 0x8100, 0xa000);
    for (int i = 0; i < 2; i++) // the second time from the flow cache
        EXPECT_EQ(run_xdp(1, prio), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_PASS);
}

TEST_F(VlanTest, LeavingAVlanTakesItsLearnedEntriesAndPvid) {
    run_xdp(2, eth_frame(kBcast, kB, 0x0806, 20));
    run_xdp(2, eth_frame(kBcast, kB, 0x0806));
    ASSERT_TRUE(fdb(kB, 20));
    xb::vlan_del(*dp_, "p2", {15, 25});
    EXPECT_FALSE(fdb(kB, 20));
    EXPECT_TRUE(fdb(kB, 1));
    xb::vlan_del(*dp_, "p2", {1, 1});
    EXPECT_EQ(dp_->port_by_ifindex(ifindex(2))->port.pvid, 0);
}

TEST_F(VlanTest, VlanAddFollowsBridgeVlanAdd) {
    EXPECT_THROW(add("p2", 30, 31, true, false), xb::Error) << "a PVID is one VLAN";
    EXPECT_THROW(add("nosuchport", 30, 30, false, false), xb::Error);
    add("p2", 30, 30, true, true);
    EXPECT_EQ(dp_->port_by_ifindex(ifindex(2))->port.pvid, 30);
    add("p2", 30, 30, false, false); // again, without pvid and untagged: both go
    EXPECT_EQ(dp_->port_by_ifindex(ifindex(2))->port.pvid, 0);
    for (const auto &pv : xb::vlan_table(*dp_)) {
        if (pv.name != "p2")
            continue;
        ASSERT_EQ(pv.vlans.size(), 13u); // 1, 10-20, 30
        EXPECT_EQ(pv.vlans[0].vid, 1);
        EXPECT_FALSE(pv.vlans[0].pvid) << "p2's PVID moved to 30, then went";
        EXPECT_TRUE(pv.vlans[0].untagged);
        EXPECT_EQ(pv.vlans[12].vid, 30);
        EXPECT_FALSE(pv.vlans[12].untagged);
    }
    EXPECT_FALSE(xb::parse_vlan_range("0"));
    EXPECT_FALSE(xb::parse_vlan_range("4095"));
    EXPECT_FALSE(xb::parse_vlan_range("20-10"));
    EXPECT_EQ(xb::parse_vlan_range("10-20")->to, 20);
}
