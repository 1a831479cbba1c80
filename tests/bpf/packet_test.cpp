// SPDX-License-Identifier: BSD-2-Clause
// Packet tests of the datapath programs: crafted frames through bpf_prog_test_run_opts,
// checking the verdict, the FDB and the counters.
#include "bpf_fixture.hpp"

#include "attach.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <cstdio>
#include <cstring>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <sched.h>
#include <unistd.h>

using namespace xbtest;

namespace {
const std::string kA = "52:54:00:00:00:0a";   // a guest
const std::string kB = "52:54:00:00:00:0b";   // another guest
const std::string kOut = "00:25:9c:19:b8:e9"; // the outside PC
const std::string kBcast = "ff:ff:ff:ff:ff:ff";
const std::string kMcast = "01:00:5e:00:00:fb";

// Keeps the test on the CPU it runs on while it lives: per-CPU state (the storm guard's
// buckets) is that CPU's for every run of a program.
class PinnedToThisCpu {
  public:
    PinnedToThisCpu() {
        sched_getaffinity(0, sizeof(old_), &old_);
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(sched_getcpu(), &one);
        sched_setaffinity(0, sizeof(one), &one);
    }
    ~PinnedToThisCpu() { sched_setaffinity(0, sizeof(old_), &old_); }
    PinnedToThisCpu(const PinnedToThisCpu &) = delete;
    PinnedToThisCpu &operator=(const PinnedToThisCpu &) = delete;

  private:
    cpu_set_t old_{};
};
} // namespace

TEST_F(BridgeTest, LearnsTheSourceOnTheIngressPort) {
    EXPECT_FALSE(fdb(kA));
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA)), XDP_REDIRECT) << "unknown unicast: flooded";
    auto e = fdb(kA);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->ifindex, uint32_t(ifindex(1)));
    EXPECT_EQ(e->slot, slot_of(1));
    EXPECT_EQ(e->type, XB_FDB_DYNAMIC);
    EXPECT_NEAR(double(e->updated_ns), double(xb::monotonic_coarse_ns()), 2e9);
    EXPECT_EQ(stats(1).cnt[XB_CNT_LEARNED], 1u);
    EXPECT_EQ(dp_->config()->n_learned, 1u);
}

TEST_F(BridgeTest, DoesNotLearnOrForwardFromAGroupOrZeroSource) {
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, "01:00:5e:00:00:01")), XDP_DROP);
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, "00:00:00:00:00:00")), XDP_DROP);
    EXPECT_FALSE(fdb("01:00:5e:00:00:01"));
    EXPECT_FALSE(fdb("00:00:00:00:00:00"));
    EXPECT_EQ(stats(1).drop[XB_DROP_BAD_SRC], 2u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_LEARNED], 0u);
}

TEST_F(BridgeTest, AMoveUpdatesTheEntryAndIsCounted) {
    run_xdp(1, eth_frame(kOut, kA));
    run_xdp(2, eth_frame(kOut, kA));
    auto e = fdb(kA);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->ifindex, uint32_t(ifindex(2)));
    EXPECT_EQ(e->slot, slot_of(2));
    EXPECT_EQ(stats(2).cnt[XB_CNT_MOVED], 1u);
    EXPECT_EQ(dp_->config()->n_learned, 1u) << "a move is not a new entry";
}

TEST_F(BridgeTest, TimestampIsRefreshedOnlyWhenStale) {
    run_xdp(1, eth_frame(kOut, kA));
    // Make the entry look 10 s old, then see it refreshed by the next frame.
    xb_fdb_val v = *fdb(kA);
    const uint64_t old = v.updated_ns - 10'000'000'000ull;
    fdb_put(kA, 1, XB_FDB_DYNAMIC);
    xb_fdb_key key{};
    std::memcpy(key.mac, xb::parse_mac(kA)->data(), 6);
    v.updated_ns = old;
    ASSERT_EQ(bpf_map_update_elem(dp_->map(xb::MapId::Fdb), &key, &v, BPF_EXIST), 0);
    dp_->fdb_changed(); // as every controller-side write does: the CPU caches drop it
    run_xdp(1, eth_frame(kOut, kA));
    const uint64_t refreshed = fdb(kA)->updated_ns;
    EXPECT_GT(refreshed, old + 9'000'000'000ull);
    // A fresh entry is left alone: no per-frame write.
    v.updated_ns = refreshed - 500'000'000ull;
    ASSERT_EQ(bpf_map_update_elem(dp_->map(xb::MapId::Fdb), &key, &v, BPF_EXIST), 0);
    dp_->fdb_changed();
    run_xdp(1, eth_frame(kOut, kA));
    EXPECT_EQ(fdb(kA)->updated_ns, refreshed - 500'000'000ull);
}

TEST_F(BridgeTest, StaticAndLocalEntriesAreNeverMoved) {
    fdb_put(kA, 1, XB_FDB_STATIC);
    run_xdp(2, eth_frame(kOut, kA));
    EXPECT_EQ(fdb(kA)->ifindex, uint32_t(ifindex(1)));
    EXPECT_EQ(fdb(kA)->type, XB_FDB_STATIC);
}

TEST_F(BridgeTest, RuntFramesAreDroppedAndCounted) {
    // Shorter than an Ethernet header never reaches a program (the kernel's test runner
    // and the drivers refuse it); the runts a port can deliver are cut inside a tag.
    auto f = eth_frame(kOut, kA, 0x0800, 5);
    f.bytes.resize(14);
    EXPECT_EQ(run_xdp(1, f), XDP_DROP);
    EXPECT_EQ(stats(1).drop[XB_DROP_PARSE], 1u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_DROPPED], 1u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_PACKETS], 1u);
    f.bytes.resize(16);
    EXPECT_EQ(run_xdp(1, f), XDP_DROP);
    EXPECT_EQ(run_tc_ingress(1, f), TC_ACT_SHOT);
    EXPECT_EQ(stats(1).drop[XB_DROP_PARSE], 3u);
    EXPECT_FALSE(fdb(kA)) << "nothing is learned from a frame that does not parse";
}

TEST_F(BridgeTest, KnownUnicastIsRedirectedAndCounted) {
    run_xdp(2, eth_frame(kOut, kB)); // learn B on p2
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FORWARDED], 1u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_XDP], 1u);
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 1u);
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_BYTES], 60u);
}

TEST_F(BridgeTest, DestinationOnTheIngressPortIsDropped) {
    run_xdp(1, eth_frame(kOut, kB));
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_DROP);
    EXPECT_EQ(stats(1).drop[XB_DROP_SAME_PORT], 1u);
}

TEST_F(BridgeTest, AHairpinPortSendsFramesBackOutOfThePortTheyCameIn) {
    // bridge link set ... hairpin on (VEPA's reflective relay): B is behind p1, as A.
    run_xdp(1, eth_frame(kOut, kB));
    set_port_flags(1, XB_PORT_HAIRPIN, 0);
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT) << "the cached decision";
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kB, kA)), TC_ACT_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FORWARDED], 3u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TX_PACKETS], 3u) << "sent back out of p1";
    EXPECT_EQ(stats(1).drop[XB_DROP_SAME_PORT], 0u);

    // A flood cloned by the TC hook reaches the hairpin port it came from too.
    const uint64_t tx0 = stats(0).cnt[XB_CNT_TX_PACKETS], tx2 = stats(2).cnt[XB_CNT_TX_PACKETS];
    EXPECT_EQ(run_tc_ingress(1, eth_frame("02:00:00:00:00:99", kA)), TC_ACT_SHOT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TX_PACKETS], 4u);
    EXPECT_EQ(stats(0).cnt[XB_CNT_TX_PACKETS], tx0 + 1);
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], tx2 + 1);

    // Isolation wins: an isolated hairpin port gets nothing of its own back.
    set_port_flags(1, XB_PORT_ISOLATED, 0);
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_DROP);
    EXPECT_EQ(stats(1).drop[XB_DROP_ISOLATED], 1u);
    EXPECT_EQ(run_tc_ingress(1, eth_frame("02:00:00:00:00:99", kA)), TC_ACT_SHOT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TX_PACKETS], 4u);

    // Hairpin off: dropped again, the cached decision included.
    set_port_flags(1, 0, XB_PORT_HAIRPIN | XB_PORT_ISOLATED);
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_DROP);
    EXPECT_EQ(stats(1).drop[XB_DROP_SAME_PORT], 1u);
    EXPECT_EQ(run_tc_ingress(1, eth_frame("02:00:00:00:00:99", kA)), TC_ACT_SHOT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TX_PACKETS], 4u);
}

TEST_F(BridgeTest, UnknownUnicastIsFloodedAtXdp) {
    EXPECT_EQ(run_xdp(1, eth_frame("02:00:00:00:99:99", kA)), XDP_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FLOODED], 1u);
}

TEST_F(BridgeTest, BroadcastAndMulticastAreFloodedAtXdpWithTheHostCopyToTheHostPair) {
    // The uplink gave the bridge its host pair: one more target of the group flood maps.
    const xb_config &c = *dp_->config();
    ASSERT_NE(c.host_ifindex, 0u);
    auto pair = nl_->link(int(c.host_ifindex)), peer = nl_->link(int(c.host_peer_ifindex));
    ASSERT_TRUE(pair && peer);
    EXPECT_EQ(pair->name, fmt::format("xbh{}", ifindex(0)));
    EXPECT_EQ(peer->name, pair->name + "p");
    EXPECT_TRUE(pair->up() && peer->up());
    EXPECT_NE(xb::xdp_attached_prog(peer->ifindex), 0u) << "NAPI for redirected frames";

    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA, 0x0806)), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(1, eth_frame(kMcast, kA)), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(0, eth_frame(kBcast, kOut, 0x0806)), XDP_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_XDP], 2u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FLOODED], 2u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TO_HOST], 2u);
    EXPECT_EQ(stats(0).cnt[XB_CNT_TO_HOST], 1u);
    EXPECT_TRUE(fdb(kA));
    // Unknown unicast is not the host's: the host pair is not in that flood map.
    EXPECT_EQ(run_xdp(1, eth_frame("02:00:00:00:99:99", kA)), XDP_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TO_HOST], 2u);

    // What arrives at the pair's end goes up the uplink's stack, marked so that the
    // uplink's hook does not switch it again, and counted as sent to the host.
    uint32_t mark = 0;
    EXPECT_EQ(run_tc_host(eth_frame(kBcast, kA, 0x0806), &mark), TC_ACT_REDIRECT);
    EXPECT_EQ(mark, XB_SKB_MARK);
    EXPECT_EQ(host_stats().cnt[XB_CNT_TX_PACKETS], 1u);
}

TEST_F(BridgeTest, WithoutItsHostPairTheHostCopyGoesThroughTheTcHook) {
    // Deleted behind the bridge's back: the kernel takes the device out of the flood
    // maps, and XDP leaves floods the host must hear, uncounted, to TC.
    ASSERT_TRUE(sh(fmt::format("ip link del xbh{}", ifindex(0))));
    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA, 0x0806)), XDP_PASS);
    EXPECT_EQ(run_xdp(1, eth_frame(kMcast, kA)), XDP_PASS);
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_PACKETS], 0u);
    EXPECT_TRUE(fdb(kA)) << "learning still happens at XDP";
    // TC floods the clones and hands the frame to the uplink's stack.
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kBcast, kA, 0x0806)), TC_ACT_REDIRECT);
    // On the uplink itself the host copy simply continues up the stack.
    EXPECT_EQ(run_tc_ingress(0, eth_frame(kBcast, kOut, 0x0806)), TC_ACT_OK);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FLOODED], 1u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TO_HOST], 1u);
    EXPECT_EQ(stats(0).cnt[XB_CNT_TO_HOST], 1u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_TC], 1u);

    // The controller makes it again, on the deletion's link event or its next resync.
    EXPECT_FALSE(xb::host_pair(*dp_));
    EXPECT_TRUE(xb::restore_host_pair(*dp_, *nl_));
    EXPECT_EQ(xb::host_pair(*dp_), fmt::format("xbh{}", ifindex(0)));
    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA, 0x0806)), XDP_REDIRECT);
    EXPECT_FALSE(xb::restore_host_pair(*dp_, *nl_)) << "nothing left to do";
}

TEST_F(BridgeTest, TheHostPairGoesWithTheUplink) {
    const std::string pair = fmt::format("xbh{}", ifindex(0));
    ASSERT_TRUE(nl_->link(pair));
    xb::remove_port(*dp_, slot_of(0), *nl_, false);
    EXPECT_FALSE(nl_->link(pair));
    EXPECT_FALSE(nl_->link(pair + "p"));
    EXPECT_EQ(dp_->config()->host_ifindex, 0u);
    EXPECT_EQ(dp_->config()->host_peer_ifindex, 0u);
    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA, 0x0806)), XDP_REDIRECT) << "no host to copy to";
    EXPECT_EQ(stats(1).cnt[XB_CNT_TO_HOST], 0u);
}

TEST_F(BridgeTest, LinkLocalControlFramesAreNotBridged) {
    // PAUSE: dropped, not learned (br_handle_frame).
    EXPECT_EQ(run_xdp(1, eth_frame("01:80:c2:00:00:01", kA, 0x8808)), XDP_DROP);
    EXPECT_EQ(run_tc_ingress(1, eth_frame("01:80:c2:00:00:01", kA, 0x8808)), TC_ACT_SHOT);
    EXPECT_EQ(stats(1).drop[XB_DROP_PAUSE], 2u);
    EXPECT_FALSE(fdb(kA));
    // LLDP, LACP, 802.1X: learned, then up the stack of the port they came on, and
    // nowhere else - not flooded, not injected into the uplink's stack.
    for (const char *dst : {"01:80:c2:00:00:0e", "01:80:c2:00:00:02", "01:80:c2:00:00:03"}) {
        EXPECT_EQ(run_xdp(1, eth_frame(dst, kA, 0x88cc)), XDP_PASS) << dst;
        EXPECT_EQ(run_tc_ingress(1, eth_frame(dst, kA, 0x88cc)), TC_ACT_OK) << dst;
        EXPECT_EQ(run_tc_ingress(0, eth_frame(dst, kOut, 0x88cc)), TC_ACT_OK) << dst;
    }
    EXPECT_TRUE(fdb(kA));
    EXPECT_EQ(stats(1).cnt[XB_CNT_FLOODED], 0u);
    EXPECT_EQ(stats(0).cnt[XB_CNT_FLOODED], 0u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TO_HOST], 3u);
    // STP BPDUs are flooded: with STP off, a bridge must relay them (loop detection).
    EXPECT_EQ(run_tc_ingress(1, eth_frame("01:80:c2:00:00:00", kA, 0x0026)), TC_ACT_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FLOODED], 1u);
    // The host's own LLDP on the uplink goes to the wire only.
    auto up = dp_->port_by_ifindex(ifindex(0));
    const std::string host_mac = xb::format_mac(up->port.mac);
    EXPECT_EQ(run_tc_egress(0, eth_frame("01:80:c2:00:00:0e", host_mac, 0x88cc)), TC_ACT_OK);
    EXPECT_EQ(host_stats().cnt[XB_CNT_FLOODED], 0u);
}

TEST_F(BridgeNoUplinkTest, BroadcastIsFloodedAtXdpWithoutAHostPort) {
    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA, 0x0806)), XDP_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FLOODED], 1u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_XDP], 1u);
}

TEST_F(BridgeTest, FramesForTheHostArePassedUp) {
    auto up = dp_->port_by_ifindex(ifindex(0));
    const std::string host_mac = xb::format_mac(up->port.mac);
    ASSERT_TRUE(fdb(host_mac));
    EXPECT_EQ(fdb(host_mac)->type, XB_FDB_LOCAL);
    // From the wire: up the uplink's stack.
    EXPECT_EQ(run_xdp(0, eth_frame(host_mac, kOut)), XDP_PASS);
    EXPECT_EQ(run_tc_ingress(0, eth_frame(host_mac, kOut)), TC_ACT_OK);
    // From a guest: injected into the uplink's stack, marked so it is not switched again.
    EXPECT_EQ(run_xdp(1, eth_frame(host_mac, kA)), XDP_PASS);
    uint32_t mark = 0;
    EXPECT_EQ(run_tc_ingress(1, eth_frame(host_mac, kA), 0, &mark), TC_ACT_REDIRECT);
    EXPECT_EQ(mark, XB_SKB_MARK);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TO_HOST], 1u);
    EXPECT_EQ(host_stats().cnt[XB_CNT_TX_PACKETS], 2u);
}

TEST_F(BridgeTest, InjectedFramesPassTheTcHooksOnceAndLoseTheMark) {
    uint32_t mark = 1;
    EXPECT_EQ(run_tc_ingress(0, eth_frame(kBcast, kA), XB_SKB_MARK, &mark), TC_ACT_OK);
    EXPECT_EQ(mark, 0u);
    EXPECT_FALSE(fdb(kA)) << "an injected frame is not learned again on the uplink";
    EXPECT_EQ(run_tc_egress(0, eth_frame(kBcast, kA), XB_SKB_MARK, &mark), TC_ACT_OK);
    EXPECT_EQ(mark, 0u);
}

TEST_F(BridgeTest, HostToGuestUnicastIsTurnedToTheGuestPort) {
    run_xdp(1, eth_frame(kOut, kA)); // A lives behind p1
    auto up = dp_->port_by_ifindex(ifindex(0));
    const std::string host_mac = xb::format_mac(up->port.mac);
    EXPECT_EQ(run_tc_egress(0, eth_frame(kA, host_mac)), TC_ACT_REDIRECT);
    EXPECT_EQ(host_stats().cnt[XB_CNT_FORWARDED], 1u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TX_PACKETS], 1u);
    // Frames for the wire are left alone.
    run_xdp(0, eth_frame(host_mac, kOut));
    EXPECT_EQ(run_tc_egress(0, eth_frame(kOut, host_mac)), TC_ACT_OK);
    // Broadcast: copies to the guests, and on to the wire.
    EXPECT_EQ(run_tc_egress(0, eth_frame(kBcast, host_mac, 0x0806)), TC_ACT_OK);
    EXPECT_EQ(host_stats().cnt[XB_CNT_FLOODED], 1u);
}

TEST_F(BridgeTest, TcForwardsKnownUnicastLikeXdp) {
    run_tc_ingress(2, eth_frame(kOut, kB));
    EXPECT_EQ(fdb(kB)->ifindex, uint32_t(ifindex(2)));
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kB, kA)), TC_ACT_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FORWARDED], 1u);
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 1u);
    EXPECT_EQ(run_tc_ingress(2, eth_frame(kB, kA)), TC_ACT_SHOT);
    EXPECT_EQ(stats(2).drop[XB_DROP_SAME_PORT], 1u);
}

TEST_F(BridgeTest, VlanIsPartOfTheKey) {
    run_xdp(1, eth_frame(kOut, kA, 0x0800, 100));
    EXPECT_TRUE(fdb(kA, 100));
    EXPECT_FALSE(fdb(kA, 0));
    // Known in VLAN 100 only: in VLAN 200 the same MAC is unknown and flooded.
    EXPECT_EQ(run_xdp(2, eth_frame(kA, kB, 0x0800, 100)), XDP_REDIRECT);
    EXPECT_EQ(stats(2).cnt[XB_CNT_FORWARDED], 1u);
    EXPECT_EQ(run_xdp(2, eth_frame(kA, kB, 0x0800, 200)), XDP_REDIRECT);
    EXPECT_EQ(stats(2).cnt[XB_CNT_FLOODED], 1u);
}

TEST_F(BridgeTest, TaggedFramesForTheHostGoUpOnEveryVlan) {
    // Local entries are kept for VLAN 0; the host's address is its own on every VLAN
    // (a VLAN device on the uplink), as br0's is.
    auto up = dp_->port_by_ifindex(ifindex(0));
    const std::string host_mac = xb::format_mac(up->port.mac);
    EXPECT_EQ(run_xdp(1, eth_frame(host_mac, kA, 0x0800, 100)), XDP_PASS);
    EXPECT_EQ(run_tc_ingress(1, eth_frame(host_mac, kA, 0x0800, 100)), TC_ACT_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TO_HOST], 1u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FLOODED], 0u) << "not flooded as unknown unicast";
    EXPECT_TRUE(fdb(kA, 100));
}

TEST_F(BridgeTest, FramesLongerThanXdpMayTakeGoToTc) {
    dp_->config()->xdp_max_len = 100;
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA, 0x0800, std::nullopt, 200)), XDP_PASS);
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_PACKETS], 0u);
}

TEST_F(BridgeTest, LearningOffLearnsNothing) {
    set_port_flags(1, 0, XB_PORT_LEARNING);
    run_xdp(1, eth_frame(kOut, kA));
    EXPECT_FALSE(fdb(kA));
}

TEST_F(BridgeTest, LearningLimitRefusesNewMacsButStillForwards) {
    dp_->config()->max_learned = 1;
    run_xdp(1, eth_frame(kOut, kA));
    EXPECT_EQ(run_xdp(1, eth_frame("02:00:00:00:99:99", kB)), XDP_REDIRECT) << "flooded";
    EXPECT_FALSE(fdb(kB));
    EXPECT_EQ(stats(1).cnt[XB_CNT_LEARN_REFUSED], 1u);
}

TEST_F(BridgeTest, ARefusedSourceIsCountedOnceWhenXdpPassesTheFrameToTc) {
    dp_->config()->max_learned = 1;
    run_xdp(1, eth_frame(kOut, kA));
    const std::string host_mac = xb::format_mac(dp_->port_by_ifindex(ifindex(0))->port.mac);
    // For the host: XDP learns (and is refused), passes the frame, and TC learns again.
    const auto f = eth_frame(host_mac, "02:00:00:00:99:99");
    EXPECT_EQ(run_xdp(1, f), XDP_PASS);
    EXPECT_EQ(run_tc_ingress(1, f), TC_ACT_REDIRECT);
    EXPECT_FALSE(fdb("02:00:00:00:99:99"));
    EXPECT_EQ(stats(1).cnt[XB_CNT_LEARN_REFUSED], 1u);
    // One that XDP disposes of is counted there: dropped, as its destination is behind
    // the port it came from.
    EXPECT_EQ(run_xdp(1, eth_frame(kA, "02:00:00:00:99:98")), XDP_DROP);
    EXPECT_EQ(stats(1).cnt[XB_CNT_LEARN_REFUSED], 2u);
}

TEST_F(BridgeTest, LockedPortDropsUnknownSources) {
    set_port_flags(1, XB_PORT_LOCKED, 0);
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA)), XDP_DROP);
    EXPECT_EQ(stats(1).drop[XB_DROP_LOCKED], 1u);
    fdb_put(kA, 1, XB_FDB_STATIC);
    EXPECT_NE(run_xdp(1, eth_frame(kOut, kA)), XDP_DROP);
    // A static entry on another port does not open this one.
    fdb_put(kB, 2, XB_FDB_STATIC);
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kB)), XDP_DROP);
}

TEST_F(BridgeTest, IsolatedPortsReachOnlyPortsThatAreNot) {
    // bridge link set ... isolated on (br_skb_isolated): guests 1 and 2 are isolated,
    // the uplink is not.
    set_port_flags(1, XB_PORT_ISOLATED, 0);
    set_port_flags(2, XB_PORT_ISOLATED, 0);
    fdb_put(kB, 2, XB_FDB_DYNAMIC);
    fdb_put(kOut, 0, XB_FDB_DYNAMIC);
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_DROP);
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kB, kA)), TC_ACT_SHOT);
    EXPECT_EQ(stats(1).drop[XB_DROP_ISOLATED], 2u);
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 0u);
    EXPECT_TRUE(fdb(kA)) << "an isolated port still learns";
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA)), XDP_REDIRECT) << "to the uplink";
    EXPECT_EQ(run_xdp(0, eth_frame(kB, kOut)), XDP_REDIRECT) << "from the uplink";
    EXPECT_EQ(run_xdp(0, eth_frame(kA, kOut)), XDP_REDIRECT);

    // A flood from an isolated port leaves XDP (a flood map cannot skip the isolated
    // ports), uncounted; TC clones it to the uplink alone, and the host gets its copy.
    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA, 0x0806)), XDP_PASS);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FLOODED], 0u);
    const uint64_t tx0 = stats(0).cnt[XB_CNT_TX_PACKETS], tx2 = stats(2).cnt[XB_CNT_TX_PACKETS];
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kBcast, kA, 0x0806)), TC_ACT_REDIRECT);
    EXPECT_EQ(stats(0).cnt[XB_CNT_TX_PACKETS], tx0 + 1);
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], tx2);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TO_HOST], 1u);
    // From the uplink, floods reach every isolated port, at XDP.
    EXPECT_EQ(run_xdp(0, eth_frame(kBcast, kOut, 0x0806)), XDP_REDIRECT);
    // Unknown unicast from an isolated port: the uplink only.
    EXPECT_EQ(run_tc_ingress(1, eth_frame("02:00:00:00:00:99", kA)), TC_ACT_SHOT);
    EXPECT_EQ(stats(0).cnt[XB_CNT_TX_PACKETS], tx0 + 2);
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], tx2);

    // Isolation off: guest to guest again, the cached decisions included.
    set_port_flags(1, 0, XB_PORT_ISOLATED);
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT);
}

TEST_F(BridgeTest, ALockedPortStillPassesLinkLocalFramesUpUnlearned) {
    // 802.1X: the supplicant's EAPOL frames must reach the authenticator on the port
    // before the port is opened for its MAC (the kernel's locked ports do the same).
    set_port_flags(1, XB_PORT_LOCKED, 0);
    const auto eapol = eth_frame("01:80:c2:00:00:03", kA, 0x888e);
    EXPECT_EQ(run_xdp(1, eapol), XDP_PASS);
    EXPECT_EQ(run_tc_ingress(1, eapol), TC_ACT_OK) << "up the port's own stack";
    EXPECT_EQ(stats(1).drop[XB_DROP_LOCKED], 0u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TO_HOST], 1u);
    EXPECT_FALSE(fdb(kA)) << "an unauthorised source is not learned";
    // STP BPDUs are flooded, so the lock applies to them.
    EXPECT_EQ(run_xdp(1, eth_frame("01:80:c2:00:00:00", kA, 0x0026)), XDP_DROP);
    EXPECT_EQ(stats(1).drop[XB_DROP_LOCKED], 1u);
}

TEST_F(BridgeTest, ATaggedFrameCannotLearnAPortsOwnAddress) {
    const std::string host_mac = xb::format_mac(dp_->port_by_ifindex(ifindex(0))->port.mac);
    // A guest sends with the host's address as source on VLAN 100: not learned there,
    // so the host's own frames on VLAN 100 still go up its stack, not to the guest.
    run_xdp(1, eth_frame(kOut, host_mac, 0x0800, 100));
    EXPECT_FALSE(fdb(host_mac, 100));
    run_tc_ingress(1, eth_frame(kOut, host_mac, 0x0800, 100));
    EXPECT_FALSE(fdb(host_mac, 100));
    EXPECT_EQ(run_xdp(0, eth_frame(host_mac, kOut, 0x0800, 100)), XDP_PASS);
    EXPECT_EQ(stats(1).cnt[XB_CNT_TX_PACKETS], 0u);
    // Other MACs on VLAN 100 are learned as ever.
    run_xdp(1, eth_frame(kOut, kA, 0x0800, 100));
    EXPECT_TRUE(fdb(kA, 100));
}

TEST_F(BridgeTest, ARefusedSourceIsTriedAndCountedForEachFrame) {
    dp_->config()->max_learned = 1;
    run_xdp(2, eth_frame(kOut, kB));
    // Known unicast from a source the limit refuses: forwarded, never cached, so each
    // frame tries to learn it again and counts the refusal.
    for (int i = 0; i < 5; i++)
        EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_LEARN_REFUSED], 5u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FORWARDED], 5u);
    // Once there is room, the next frame learns it.
    dp_->config()->max_learned = 2;
    run_xdp(1, eth_frame(kB, kA));
    EXPECT_TRUE(fdb(kA));
}

TEST_F(BridgeTest, TcDoesNotSendAFrameLongerThanTheTargetsMtu) {
    ASSERT_EQ(dp_->port(slot_of(2))->mtu, 1500u);
    run_xdp(2, eth_frame(kOut, kB));
    // 1518 bytes: 1500 of payload, the Ethernet header and one VLAN tag's room.
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kB, kA, 0x88b5, std::nullopt, 1518)), TC_ACT_REDIRECT);
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kB, kA, 0x88b5, std::nullopt, 1519)), TC_ACT_SHOT);
    // Counted on the port it does not fit, not on the one it came from.
    EXPECT_EQ(stats(1).drop[XB_DROP_TOO_BIG], 0u);
    EXPECT_EQ(stats(2).drop[XB_DROP_TOO_BIG], 1u);
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 1u);
    // A flood leaves out the ports it does not fit, counted there: p2 with an MTU of
    // 1000 now, p0 still 1500.
    xb_port p2 = *dp_->port(slot_of(2));
    p2.mtu = 1000;
    uint32_t slot = slot_of(2);
    ASSERT_EQ(bpf_map_update_elem(dp_->map(xb::MapId::Ports), &slot, &p2, BPF_ANY), 0);
    run_tc_ingress(1, eth_frame("02:00:00:00:77:77", kA, 0x88b5, std::nullopt, 1400));
    EXPECT_EQ(stats(0).cnt[XB_CNT_TX_PACKETS], 1u);
    EXPECT_EQ(stats(2).drop[XB_DROP_TOO_BIG], 2u);
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 1u);
}

TEST_F(BridgeTest, CarrierIsNoForwardingCondition) {
    // The controller's view of a port's carrier must not stop frames: with no
    // controller running it could be stale. The device itself refuses what it can't take.
    run_xdp(2, eth_frame(kOut, kB));
    set_port_flags(2, 0, XB_PORT_UP);
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT);
}

TEST_F(BridgeTest, AnEntryForAPortThatLeftIsDroppedAndCounted) {
    run_xdp(2, eth_frame(kOut, kB));
    // The slot no longer holds the entry's port (the port left, its entries not yet
    // flushed): nothing is sent to whatever holds the slot now.
    xb_port other = *dp_->port(slot_of(2));
    other.ifindex = 999999;
    uint32_t slot = slot_of(2);
    ASSERT_EQ(bpf_map_update_elem(dp_->map(xb::MapId::Ports), &slot, &other, BPF_ANY), 0);
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_DROP);
    EXPECT_EQ(stats(1).drop[XB_DROP_PORT_DOWN], 1u);
}

namespace {

uint32_t fold(uint32_t s) {
    s = (s & 0xffff) + (s >> 16);
    return (s & 0xffff) + (s >> 16);
}

// An IPv4/TCP frame whose TCP checksum field holds `check` (host order).
Frame tcp4_frame(const std::string &dst, const std::string &src, uint16_t check) {
    Frame f = eth_frame(dst, src, 0x0800, std::nullopt, 14 + 20 + 20 + 10);
    uint8_t *ip = &f.bytes[14];
    std::memset(ip, 0, 40);
    ip[0] = 0x45;
    ip[3] = 50; // total length 50
    ip[8] = 64;
    ip[9] = 6; // TCP
    const uint8_t saddr[4] = {10, 77, 0, 10}, daddr[4] = {10, 77, 0, 1};
    std::memcpy(ip + 12, saddr, 4);
    std::memcpy(ip + 16, daddr, 4);
    ip[20 + 12] = 0x50; // data offset
    ip[20 + 16] = uint8_t(check >> 8);
    ip[20 + 17] = uint8_t(check);
    return f;
}

// The pseudo-header sum a CHECKSUM_PARTIAL frame carries in its checksum field.
uint16_t tcp4_pseudo_sum() {
    uint32_t s = (10 << 8 | 77) + (0 << 8 | 10) + (10 << 8 | 77) + (0 << 8 | 1) + 6 + 30;
    return uint16_t(fold(s));
}

// An IPv6 frame with an 8-byte L4 header (UDP-like, or the first 8 bytes of whatever
// `next` is) and 8 bytes of payload; a UDP checksum field holding `check` (host order).
Frame ip6_frame(const std::string &dst, const std::string &src, uint8_t next, uint16_t check) {
    Frame f = eth_frame(dst, src, 0x86dd, std::nullopt, 14 + 40 + 16);
    uint8_t *ip = &f.bytes[14];
    std::memset(ip, 0, 56);
    ip[0] = 0x60;
    ip[5] = 16; // payload length
    ip[6] = next;
    ip[7] = 64;
    for (int i = 0; i < 16; i++) {
        ip[8 + i] = uint8_t(0xfd + i);  // source
        ip[24 + i] = uint8_t(0x20 + i); // destination
    }
    ip[40 + 4] = 0;
    ip[40 + 5] = 16; // UDP length
    ip[40 + 6] = uint8_t(check >> 8);
    ip[40 + 7] = uint8_t(check);
    return f;
}

// The pseudo-header sum of ip6_frame's UDP.
uint16_t udp6_pseudo_sum() {
    uint32_t s = 0;
    for (int i = 0; i < 16; i += 2)
        s += uint32_t(uint8_t(0xfd + i) << 8 | uint8_t(0xfd + i + 1)) +
             uint32_t(uint8_t(0x20 + i) << 8 | uint8_t(0x20 + i + 1));
    return uint16_t(fold(s + 16 + 17));
}

} // namespace

TEST_F(BridgeTest, TunnelsTakeTheTcPath) {
    // An offloaded checksum in a tunnel is the inner packet's: the outer header says
    // nothing of it, so tunnels are left to TC, whose skb keeps the checksum state.
    run_xdp(2, eth_frame(kOut, kB)); // B known on p2
    const auto with = [](Frame f, uint8_t proto, uint16_t dport) {
        uint8_t *ip = &f.bytes[14];
        ip[9] = proto;
        ip[20 + 2] = uint8_t(dport >> 8);
        ip[20 + 3] = uint8_t(dport);
        ip[20 + 6] = ip[20 + 7] = 0; // an outer UDP checksum of 0: "none"
        return f;
    };
    const Frame plain = tcp4_frame(kB, kA, 0x1234);
    for (uint16_t port : {4789, 8472, 6081, 4790})
        EXPECT_EQ(run_xdp(1, with(plain, 17, port)), XDP_PASS) << "UDP port " << port;
    for (uint8_t proto : {4, 41, 47})
        EXPECT_EQ(run_xdp(1, with(plain, proto, 0)), XDP_PASS) << "IP protocol " << int(proto);
    EXPECT_EQ(run_xdp(1, with(plain, 17, 53)), XDP_REDIRECT) << "plain UDP stays at XDP";
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_XDP], 1u);
}

TEST_F(BridgeTest, PartiallyChecksummedIpv6FramesTakeTheTcPath) {
    run_xdp(2, eth_frame(kOut, kB)); // B known on p2
    EXPECT_EQ(run_xdp(1, ip6_frame(kB, kA, 17, udp6_pseudo_sum())), XDP_PASS);
    EXPECT_EQ(run_xdp(1, ip6_frame(kB, kA, 17, uint16_t(~udp6_pseudo_sum()))), XDP_REDIRECT);
    // ICMPv6 is never offloaded; an extension header (hop-by-hop) cannot be judged.
    EXPECT_EQ(run_xdp(1, ip6_frame(kB, kA, 58, udp6_pseudo_sum())), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(1, ip6_frame(kB, kA, 0, 0x1234)), XDP_PASS);
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_XDP], 2u);
}

TEST_F(BridgeTest, PartiallyChecksummedFramesTakeTheTcPath) {
    run_xdp(2, eth_frame(kOut, kB)); // B known on p2
    // A guest with checksum offload: the field holds only the pseudo-header sum.
    EXPECT_EQ(run_xdp(1, tcp4_frame(kB, kA, tcp4_pseudo_sum())), XDP_PASS);
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_PACKETS], 0u) << "left to TC, uncounted at XDP";
    EXPECT_TRUE(fdb(kA)) << "learned at XDP all the same";
    // A complete checksum (anything else) is forwarded at XDP.
    EXPECT_EQ(run_xdp(1, tcp4_frame(kB, kA, uint16_t(~tcp4_pseudo_sum()))), XDP_REDIRECT);
    // Unknown unicast floods are guarded too.
    EXPECT_EQ(run_xdp(1, tcp4_frame("02:00:00:00:99:99", kA, tcp4_pseudo_sum())), XDP_PASS);
    // The TC path forwards it, checksum state and all.
    EXPECT_EQ(run_tc_ingress(1, tcp4_frame(kB, kA, tcp4_pseudo_sum())), TC_ACT_REDIRECT);
}

TEST_F(BridgeTest, TcpDataForATapIsLeftToGroAndTheTcPath) {
    set_port_kind(2, XB_KIND_TAP);
    run_xdp(2, eth_frame(kOut, kB)); // guest B known on tap p2
    const uint16_t full = uint16_t(~tcp4_pseudo_sum());
    // TCP data from the NIC side for the guest: passed (GRO merges it), uncounted here.
    EXPECT_EQ(run_xdp(1, tcp4_frame(kB, kA, full)), XDP_PASS);
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_PACKETS], 0u);
    // The TC hook forwards it to the tap.
    EXPECT_EQ(run_tc_ingress(1, tcp4_frame(kB, kA, full)), TC_ACT_REDIRECT);
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 1u);
    // A pure ACK (no payload), or UDP, stays at XDP.
    Frame ack = tcp4_frame(kB, kA, full);
    ack.bytes[14 + 3] = 40;
    EXPECT_EQ(run_xdp(1, ack), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT);
    // Towards a port that is no tap (the fixture's veth p1), and from a tap (whose
    // receive path has no GRO), TCP data stays at XDP too.
    run_xdp(0, eth_frame(kBcast, kOut)); // the outside PC known on p0
    EXPECT_EQ(run_xdp(2, tcp4_frame(kOut, kB, full)), XDP_REDIRECT);
    set_port_kind(1, XB_KIND_TAP);
    EXPECT_EQ(run_xdp(1, tcp4_frame(kB, kA, full)), XDP_REDIRECT);
}

TEST_F(BridgeTest, CachedEntriesFollowMovesAndRemovals) {
    run_xdp(2, eth_frame(kOut, kB)); // B on p2
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT); // now from this CPU's cache
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 2u);
    run_xdp(0, eth_frame(kOut, kB)); // B moves to p0
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT);
    EXPECT_EQ(stats(0).cnt[XB_CNT_TX_PACKETS], 1u) << "forwarded to B's new port";
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 2u) << "not to the port the cache had";
    xb::fdb_del(*dp_, *xb::parse_mac(kB), 0);
    const uint64_t flooded = stats(1).cnt[XB_CNT_FLOODED];
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FLOODED], flooded + 1) << "a deleted entry is not served";
    run_xdp(2, eth_frame(kOut, kB));
    run_xdp(1, eth_frame(kB, kA));
    dp_->config()->ageing_ns = 1000000000ull;
    EXPECT_EQ(xb::fdb_sweep(*dp_, xb::monotonic_coarse_ns() + 5000000000ull), 2u); // A and B
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FLOODED], flooded + 2) << "an aged-out entry is not served";
}

TEST_F(BridgeTest, CachedDecisionsFollowPortChanges) {
    run_xdp(2, eth_frame(kOut, kB)); // B on p2
    const uint16_t full = uint16_t(~tcp4_pseudo_sum());
    EXPECT_EQ(run_xdp(1, tcp4_frame(kB, kA, full)), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(1, tcp4_frame(kB, kA, full)), XDP_REDIRECT); // from the flow cache
    // The target becomes a tap: TCP data for it is now left to GRO, cache or not.
    set_port_kind(2, XB_KIND_TAP);
    EXPECT_EQ(run_xdp(1, tcp4_frame(kB, kA, full)), XDP_PASS);
    set_port_kind(2, XB_KIND_VETH);
    EXPECT_EQ(run_xdp(1, tcp4_frame(kB, kA, full)), XDP_REDIRECT);
    // The ingress port is locked: A has no static entry, so its frames stop at once.
    set_port_flags(1, XB_PORT_LOCKED, 0);
    EXPECT_EQ(run_xdp(1, tcp4_frame(kB, kA, full)), XDP_DROP);
    EXPECT_EQ(stats(1).drop[XB_DROP_LOCKED], 1u);
    set_port_flags(1, 0, XB_PORT_LOCKED);
    EXPECT_EQ(run_xdp(1, tcp4_frame(kB, kA, full)), XDP_REDIRECT);
    // The counters of cached and uncached frames are the same.
    EXPECT_EQ(stats(1).cnt[XB_CNT_FORWARDED], 4u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_XDP], 5u); // the locked drop included
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 4u);
}

TEST_F(BridgeTest, ASourceKeptBusyByCachedFramesIsStillRefreshed) {
    run_xdp(2, eth_frame(kOut, kB)); // B on p2
    run_xdp(1, eth_frame(kB, kA));
    const uint64_t learned = fdb(kA)->updated_ns;
    // Frames that hit the flow cache must not starve ageing: within a few jiffies the
    // full path runs again and refreshes the timestamp once it is a second old.
    bool refreshed = false;
    for (int i = 0; i < 3000 && !refreshed; i++) {
        ASSERT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT);
        refreshed = fdb(kA)->updated_ns > learned;
        usleep(1000);
    }
    EXPECT_TRUE(refreshed) << "the timestamp stayed where learning left it";
}

TEST_F(BridgeTest, TheIngressProgramsStayCheapToVerify) {
    // Every up and upgrade verifies them; under TCG, each verified instruction costs
    // ten times more. The switching decision, the port policy, the VLAN steps, the TC
    // flood and the trace are global functions (checked once each) so that their
    // branches do not multiply the paths of their callers: inlined, the XDP program took
    // 58,700-89,000 instructions to verify, and the TC program 105,462 on 6.1 (the VM's
    // Debian kernel, whose verifier prunes fewer states). docs/performance.md has the
    // numbers.
    constexpr uint32_t verify_limit = 30000;
    for (const auto id : {xb::ProgId::XdpIngress, xb::ProgId::TcIngress}) {
        bpf_prog_info info{};
        uint32_t len = sizeof(info);
        ASSERT_EQ(bpf_obj_get_info_by_fd(dp_->prog(id), &info, &len), 0);
        if (!info.verified_insns)
            GTEST_SKIP() << "this kernel does not report verified instructions (5.16+)";
        EXPECT_LT(info.verified_insns, verify_limit) << info.name;
        std::printf("%s: %u instructions verified\n", info.name, info.verified_insns);
    }
}

// Ports whose veth peers have no NAPI take no XDP redirects: the controller keeps them
// out of every devmap, and XDP leaves what is for them to the TC hook.
TEST_F(NoXdpTxTest, PortsWithoutXdpRedirectsAreServedByTc) {
    for (int i = 0; i < 3; i++) {
        auto sp = dp_->port_by_ifindex(uint32_t(ifindex(i)));
        ASSERT_TRUE(sp);
        EXPECT_TRUE(sp->port.ctl & XB_CTL_NO_XDP_TX) << "p" << i << " taken for an XDP target";
    }
    EXPECT_EQ(dp_->config()->n_no_xdp_tx, 3u);
    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA)), XDP_PASS) << "a flood goes to TC";
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kBcast, kA)), TC_ACT_REDIRECT)
        << "TC clones it to every port, and the original goes up the uplink's stack";
    EXPECT_EQ(stats(2).cnt[XB_CNT_TX_PACKETS], 1u);
    run_tc_ingress(2, eth_frame(kOut, kB)); // learn B on p2
    EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_PASS) << "known unicast for p2 goes to TC";
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kB, kA)), TC_ACT_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_XDP], 0u) << "nothing counted at XDP: TC counts it once";
}

// Only the ingress port takes no XDP redirects (a veth uplink at its defaults): its
// floods leave it out anyway, so they stay at XDP; the others' floods go to TC.
TEST_F(BridgeTest, AFloodFromTheOnlyPortWithoutXdpRedirectsStaysAtXdp) {
    auto sp = dp_->port_by_ifindex(uint32_t(ifindex(1)));
    ASSERT_TRUE(sp);
    ASSERT_TRUE(xb::update_xdp_target(*dp_, sp->slot, 0, false)) << "p1 no longer an XDP target";
    EXPECT_EQ(dp_->config()->n_no_xdp_tx, 1u);
    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA)), XDP_REDIRECT) << "p1 leaves itself out";
    EXPECT_EQ(run_xdp(2, eth_frame(kBcast, kB)), XDP_PASS) << "p1 needs its copy from TC";
    set_port_flags(1, XB_PORT_HAIRPIN, 0);
    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA)), XDP_PASS) << "a hairpin port gets its own back";
}

// A port left in generic mode: generic XDP also sees what xbridge injects into the
// port's stack, so XDP leaves every frame of such a port to TC, which knows its own.
TEST_F(BridgeTest, AGenericModePortIsLeftToTc) {
    update_port(1, [](xb_port &p) { p.xdp_mode = XB_XDP_GENERIC; });
    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA)), XDP_PASS);
    EXPECT_FALSE(fdb(kA)) << "learned at XDP";
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_PACKETS], 0u);
}

TEST_F(BridgeTest, StormLimitDropsFloodsOverTheRate) {
    PinnedToThisCpu pin;
    // 10 frames a second: each costs 100 ms, the burst allowance, so one passes at once.
    update_port(1, [](xb_port &p) { p.storm_pps = 10; });
    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA, 0x0806)), XDP_REDIRECT);
    for (int i = 0; i < 4; i++)
        EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA, 0x0806)), XDP_DROP);
    EXPECT_EQ(run_xdp(1, eth_frame(kMcast, kA)), XDP_DROP);
    // The TC hook charges the same bucket.
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kMcast, kA)), TC_ACT_SHOT);
    EXPECT_EQ(stats(1).drop[XB_DROP_STORM], 6u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_DROPPED], 6u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FLOODED], 1u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_PACKETS], 7u);
    EXPECT_TRUE(fdb(kA)) << "the source is still learned";

    // Unknown unicast is a flood too (it would circle a loop as a broadcast does); known
    // unicast is never limited; other ports have their own buckets.
    EXPECT_EQ(run_xdp(1, eth_frame("02:00:00:00:99:99", kA)), XDP_DROP);
    EXPECT_EQ(stats(1).drop[XB_DROP_STORM], 7u);
    run_xdp(2, eth_frame(kOut, kB));
    for (int i = 0; i < 5; i++)
        EXPECT_EQ(run_xdp(1, eth_frame(kB, kA)), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(2, eth_frame(kBcast, kB, 0x0806)), XDP_REDIRECT);
    EXPECT_EQ(stats(1).drop[XB_DROP_STORM], 7u);

    // Time refills the bucket: after 100 ms one more passes.
    usleep(150'000);
    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA, 0x0806)), XDP_REDIRECT);
    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA, 0x0806)), XDP_DROP);

    // 0: no limit.
    update_port(1, [](xb_port &p) { p.storm_pps = 0; });
    for (int i = 0; i < 5; i++)
        EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA, 0x0806)), XDP_REDIRECT);
    EXPECT_EQ(stats(1).drop[XB_DROP_STORM], 8u);
}

TEST_F(BridgeTest, AFloodLeftToTcIsChargedOnceForTheStormLimit) {
    PinnedToThisCpu pin;
    update_port(1, [](xb_port &p) { p.storm_pps = 10; });
    // Without the host pair, XDP leaves a broadcast to TC uncharged; TC charges it.
    ASSERT_TRUE(sh(fmt::format("ip link del xbh{}", ifindex(0))));
    EXPECT_EQ(run_xdp(1, eth_frame(kBcast, kA, 0x0806)), XDP_PASS);
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kBcast, kA, 0x0806)), TC_ACT_REDIRECT);
    EXPECT_EQ(stats(1).drop[XB_DROP_STORM], 0u);
    EXPECT_EQ(stats(1).cnt[XB_CNT_FLOODED], 1u);
    EXPECT_EQ(run_tc_ingress(1, eth_frame(kBcast, kA, 0x0806)), TC_ACT_SHOT);
    EXPECT_EQ(stats(1).drop[XB_DROP_STORM], 1u);
}
