// SPDX-License-Identifier: BSD-2-Clause
// The controller's FDB operations against a real map: sweeps, static entries, flushes,
// and the learned-entry count they keep in step with the datapath.
#include "attach.hpp"
#include "bpf_fixture.hpp"
#include "error.hpp"

#include <bpf/bpf.h>
#include <cstring>
#include <fmt/format.h>

using namespace xbtest;

namespace {
constexpr uint64_t kSec = 1000000000ull;
const std::string kA = "52:54:00:00:00:0a";
const std::string kB = "52:54:00:00:00:0b";
const std::string kOut = "00:25:9c:19:b8:e9";

void age(xb::Datapath &dp, const std::string &mac, uint64_t seconds) {
    xb_fdb_key key{};
    std::memcpy(key.mac, xb::parse_mac(mac)->data(), 6);
    xb_fdb_val v{};
    ASSERT_EQ(bpf_map_lookup_elem(dp.map(xb::MapId::Fdb), &key, &v), 0);
    v.updated_ns -= seconds * kSec;
    ASSERT_EQ(bpf_map_update_elem(dp.map(xb::MapId::Fdb), &key, &v, BPF_EXIST), 0);
    dp.fdb_changed();
}

void set_updated(xb::Datapath &dp, const std::string &mac, uint64_t ns) {
    xb_fdb_key key{};
    std::memcpy(key.mac, xb::parse_mac(mac)->data(), 6);
    xb_fdb_val v{};
    ASSERT_EQ(bpf_map_lookup_elem(dp.map(xb::MapId::Fdb), &key, &v), 0);
    v.updated_ns = ns;
    ASSERT_EQ(bpf_map_update_elem(dp.map(xb::MapId::Fdb), &key, &v, BPF_EXIST), 0);
    dp.fdb_changed();
}
} // namespace

TEST_F(BridgeTest, SweepRemovesOnlyExpiredDynamicEntries) {
    dp_->config()->ageing_ns = 300 * kSec;
    run_xdp(1, eth_frame(kOut, kA));
    run_xdp(2, eth_frame(kOut, kB));
    fdb_put("02:00:00:00:00:5a", 1, XB_FDB_STATIC);
    ASSERT_EQ(dp_->config()->n_learned, 2u);
    // Sweep at a time well past boot, with the entries' ages relative to it:
    // CLOCK_MONOTONIC counts from boot, and in a VM booted a minute ago it is
    // smaller than these ages (subtracting them from it would wrap around).
    const uint64_t now = xb::monotonic_coarse_ns() + 20000 * kSec;
    set_updated(*dp_, kA, now - 301 * kSec);
    set_updated(*dp_, kB, now);
    set_updated(*dp_, "02:00:00:00:00:5a", now - 10000 * kSec);
    EXPECT_EQ(xb::fdb_sweep(*dp_, now), 1u);
    EXPECT_FALSE(fdb(kA));
    EXPECT_TRUE(fdb(kB));
    EXPECT_TRUE(fdb("02:00:00:00:00:5a"));
    EXPECT_EQ(dp_->config()->n_learned, 1u);
    // Once gone, the MAC is learned again by its next frame.
    run_xdp(1, eth_frame(kOut, kA));
    EXPECT_TRUE(fdb(kA));
    EXPECT_EQ(dp_->config()->n_learned, 2u);
}

TEST_F(BridgeTest, SweepWithAgeingZeroRemovesNothing) {
    dp_->config()->ageing_ns = 0;
    run_xdp(1, eth_frame(kOut, kA));
    age(*dp_, kA, 1000000);
    EXPECT_EQ(xb::fdb_sweep(*dp_, xb::monotonic_coarse_ns()), 0u);
    EXPECT_TRUE(fdb(kA));
}

TEST_F(BridgeTest, SweepScalesInChunks) {
    // More entries than one batch: the sweep must page through them all.
    dp_->config()->ageing_ns = kSec;
    const int n = 10000;
    xb_fdb_val v{};
    v.ifindex = uint32_t(ifindex(1));
    v.slot = uint16_t(slot_of(1));
    v.type = XB_FDB_DYNAMIC;
    // Stamped now and swept 10 s later (not stamped 10 s ago: a VM booted seconds ago
    // has a monotonic clock smaller than that).
    const uint64_t stamped = xb::monotonic_coarse_ns();
    v.updated_ns = stamped;
    for (int i = 0; i < n; i++) {
        xb_fdb_key k{};
        k.mac[0] = 0x02;
        k.mac[3] = uint8_t(i >> 16);
        k.mac[4] = uint8_t(i >> 8);
        k.mac[5] = uint8_t(i);
        ASSERT_EQ(bpf_map_update_elem(dp_->map(xb::MapId::Fdb), &k, &v, BPF_NOEXIST), 0);
    }
    dp_->config()->n_learned += n;
    EXPECT_EQ(xb::fdb_sweep(*dp_, stamped + 10 * kSec), size_t(n));
    EXPECT_EQ(dp_->config()->n_learned, 0u);
    size_t left = 0;
    xb::fdb_for_each(*dp_, [&](const xb::FdbEntry &e) { left += e.val.type == XB_FDB_DYNAMIC; });
    EXPECT_EQ(left, 0u);
}

TEST_F(BridgeTest, StaticAddReplacesALearnedEntryAndRefusesConflicts) {
    run_xdp(1, eth_frame(kOut, kA));
    ASSERT_EQ(dp_->config()->n_learned, 1u);
    const auto a = *xb::parse_mac(kA);
    xb::fdb_add_static(*dp_, a, 0, uint32_t(ifindex(2)), slot_of(2));
    EXPECT_EQ(fdb(kA)->type, XB_FDB_STATIC);
    EXPECT_EQ(fdb(kA)->ifindex, uint32_t(ifindex(2)));
    EXPECT_EQ(dp_->config()->n_learned, 0u);
    EXPECT_NO_THROW(xb::fdb_add_static(*dp_, a, 0, uint32_t(ifindex(2)), slot_of(2)));
    EXPECT_THROW(xb::fdb_add_static(*dp_, a, 0, uint32_t(ifindex(1)), slot_of(1)), xb::Error);
    EXPECT_EQ(fdb(kA)->ifindex, uint32_t(ifindex(2))) << "a refused add changes nothing";
    auto up = dp_->port_by_ifindex(ifindex(0));
    xb::Mac local{};
    std::memcpy(local.data(), up->port.mac, 6);
    EXPECT_THROW(xb::fdb_add_static(*dp_, local, 0, uint32_t(ifindex(1)), slot_of(1)), xb::Error);
    EXPECT_THROW(xb::fdb_add_static(*dp_, local, 100, uint32_t(ifindex(1)), slot_of(1)), xb::Error)
        << "a port's address is the host's on every VLAN";
    EXPECT_FALSE(fdb(xb::format_mac(local), 100));
    EXPECT_NO_THROW(xb::fdb_add_static(*dp_, a, 100, uint32_t(ifindex(1)), slot_of(1)));
    EXPECT_THROW(xb::fdb_del(*dp_, local, 0), xb::Error);
    EXPECT_NO_THROW(xb::fdb_del(*dp_, a, 0));
    EXPECT_FALSE(fdb(kA));
    EXPECT_THROW(xb::fdb_del(*dp_, a, 0), xb::Error);
}

TEST_F(BridgeTest, FlushKeepsLocalEntriesAndTheCount) {
    run_xdp(1, eth_frame(kOut, kA));
    run_xdp(2, eth_frame(kOut, kB));
    fdb_put("02:00:00:00:00:5a", 1, XB_FDB_STATIC);
    EXPECT_EQ(xb::fdb_flush(*dp_, uint32_t(ifindex(1)), true), 1u);
    EXPECT_FALSE(fdb(kA));
    EXPECT_TRUE(fdb("02:00:00:00:00:5a"));
    EXPECT_EQ(dp_->config()->n_learned, 1u);
    EXPECT_EQ(xb::fdb_flush(*dp_, std::nullopt, false), 2u);
    EXPECT_EQ(dp_->config()->n_learned, 0u);
    auto up = dp_->port_by_ifindex(ifindex(0));
    EXPECT_TRUE(fdb(xb::format_mac(up->port.mac))) << "local entries survive a flush";
}

namespace {

// An entry stamped at `seen`, for the sweep tests' fake clock.
void stamp(xb::Datapath &dp, const std::string &mac, uint32_t ifindex, uint8_t type,
           uint64_t seen) {
    xb_fdb_key key{};
    std::memcpy(key.mac, xb::parse_mac(mac)->data(), 6);
    xb_fdb_val v{};
    v.ifindex = ifindex;
    v.slot = 1;
    v.type = type;
    v.updated_ns = seen;
    ASSERT_EQ(bpf_map_update_elem(dp.map(xb::MapId::Fdb), &key, &v, BPF_ANY), 0);
}

} // namespace

// The ageing rule, on a fake clock: the sweep takes "now" from its caller.
TEST_F(BridgeTest, SweepOnAFakeClock) {
    dp_->config()->ageing_ns = 300 * kSec;
    const uint32_t p1 = uint32_t(ifindex(1));
    stamp(*dp_, "02:00:00:00:01:01", p1, XB_FDB_DYNAMIC, 1000 * kSec);
    stamp(*dp_, "02:00:00:00:01:02", p1, XB_FDB_STATIC, 1 * kSec);
    stamp(*dp_, "02:00:00:00:01:03", p1, XB_FDB_LOCAL, 1 * kSec);
    stamp(*dp_, "02:00:00:00:01:04", p1, XB_FDB_DYNAMIC, 2000 * kSec); // stamped "after now"
    dp_->config()->n_learned = 2;
    EXPECT_EQ(xb::fdb_sweep(*dp_, 1300 * kSec), 0u) << "exactly ageing_time old: still there";
    EXPECT_EQ(xb::fdb_sweep(*dp_, 1300 * kSec + 1), 1u);
    EXPECT_FALSE(fdb("02:00:00:00:01:01"));
    EXPECT_TRUE(fdb("02:00:00:00:01:02")) << "static entries never age";
    EXPECT_TRUE(fdb("02:00:00:00:01:03")) << "local entries never age";
    EXPECT_TRUE(fdb("02:00:00:00:01:04")) << "a timestamp ahead of the clock is not expired";
    EXPECT_EQ(dp_->config()->n_learned, 1u);
    dp_->config()->ageing_ns = 0;
    EXPECT_EQ(xb::fdb_sweep(*dp_, 1000000 * kSec), 0u) << "ageing time 0: never";
    EXPECT_TRUE(fdb("02:00:00:00:01:04"));
}

namespace {

std::string port_mac(const xb::Datapath &dp, int ifindex) {
    return xb::format_mac(dp.port_by_ifindex(uint32_t(ifindex))->port.mac);
}

// Puts a TC filter on dev where xbridge's goes: attaching dev as a port fails midway,
// after its slot and local entry were written.
bool block_tc_attach(const std::string &dev) {
    return sh("tc qdisc add dev " + dev + " clsact") &&
           sh(fmt::format("tc filter add dev {} ingress prio {} handle {} bpf bytecode '1,6 0 0 0'",
                          dev, xb::kTcPriority, xb::kTcHandle));
}

} // namespace

TEST_F(BridgeTest, TheLocalEntryFollowsTheAddressOfItsPort) {
    const std::string old_mac = port_mac(*dp_, ifindex(1)), new_mac = "02:00:00:aa:00:01";
    ASSERT_TRUE(sh("ip link set dev p1 address " + new_mac));
    xb::sync_port(*dp_, slot_of(1), *nl_->link("p1")); // the controller does it on the event
    EXPECT_FALSE(fdb(old_mac)) << "the old address is no longer the host's";
    ASSERT_TRUE(fdb(new_mac));
    EXPECT_EQ(fdb(new_mac)->type, XB_FDB_LOCAL);
    EXPECT_EQ(fdb(new_mac)->ifindex, uint32_t(ifindex(1)));
    EXPECT_EQ(port_mac(*dp_, ifindex(1)), new_mac);
}

TEST_F(BridgeTest, TwoPortsWithOneAddressShareItsLocalEntry) {
    // As the kernel bridge: the first port keeps the entry, the other takes it over when
    // the first leaves.
    const std::string mac = port_mac(*dp_, ifindex(1)), p2_mac = port_mac(*dp_, ifindex(2));
    ASSERT_TRUE(sh("ip link set dev p2 address " + mac));
    xb::sync_port(*dp_, slot_of(2), *nl_->link("p2"));
    EXPECT_FALSE(fdb(p2_mac));
    EXPECT_EQ(fdb(mac)->ifindex, uint32_t(ifindex(1)));
    xb::remove_port(*dp_, slot_of(1), *nl_, false);
    ASSERT_TRUE(fdb(mac)) << "p2 still has the address";
    EXPECT_EQ(fdb(mac)->type, XB_FDB_LOCAL);
    EXPECT_EQ(fdb(mac)->ifindex, uint32_t(ifindex(2)));
}

TEST_F(BridgeTest, AFailedUpLeavesTheFdbAsItWas) {
    run_xdp(1, eth_frame(kOut, kA));
    const std::string mac = port_mac(*dp_, ifindex(1));
    ASSERT_TRUE(sh("ip link add p9 type veth peer name p9peer"));
    // p9 has p1's address, and a TC filter where xbridge's would go: adding it fails
    // after its local entry was decided on.
    ASSERT_TRUE(sh("ip link set dev p9 address " + mac));
    ASSERT_TRUE(block_tc_attach("p9"));
    xb::UpOptions o;
    o.name = bridge_;
    o.ports = {"p9"};
    EXPECT_THROW(
        {
            xb::BridgeLock lock;
            xb::bridge_up(o, *nl_);
        },
        xb::Error);
    ASSERT_TRUE(fdb(mac)) << "p1's local entry survives";
    EXPECT_EQ(fdb(mac)->ifindex, uint32_t(ifindex(1)));
    EXPECT_TRUE(fdb(kA));
    EXPECT_FALSE(dp_->port_by_ifindex(uint32_t(nl_->link("p9")->ifindex)));
    sh("ip link del p9");
}

TEST_F(BridgeTest, UpOfAnAbsentPortBringsItBackInItsSlot) {
    const uint32_t slot = slot_of(2);
    set_port_flags(2, 0, XB_PORT_MCAST_FLOOD);
    ASSERT_TRUE(sh("ip link del p2"));
    xb::remove_port(*dp_, slot, *nl_, true); // the controller does it on the event
    ASSERT_EQ(dp_->absent_ports().size(), 1u);
    ASSERT_TRUE(sh("ip link add p2 type veth peer name p2peer"));
    xb::UpOptions o;
    o.name = bridge_;
    o.ports = {"p2"};
    {
        xb::BridgeLock lock;
        xb::bridge_up(o, *nl_);
    }
    ifindex_[2] = nl_->link("p2")->ifindex;
    EXPECT_EQ(slot_of(2), slot) << "its own slot, not a second one";
    EXPECT_TRUE(dp_->absent_ports().empty());
    EXPECT_FALSE(dp_->port(slot)->flags & XB_PORT_MCAST_FLOOD) << "its flags kept";
    size_t named = 0;
    for (const auto &sp : dp_->ports())
        named += std::string(sp.port.name) == "p2";
    EXPECT_EQ(named, 1u);
}

TEST_F(BridgeTest, AnAbsentPortThatCannotBeReattachedStaysAbsent) {
    const uint32_t slot = slot_of(2);
    ASSERT_TRUE(sh("ip link del p2"));
    xb::remove_port(*dp_, slot, *nl_, true);
    // p2 returns with a TC filter where xbridge's goes: attaching it fails midway.
    ASSERT_TRUE(sh("ip link add p2 type veth peer name p2peer"));
    ASSERT_TRUE(block_tc_attach("p2"));
    EXPECT_THROW(xb::readd_port(*dp_, *nl_, *nl_->link("p2")), xb::Error);
    const auto absent = dp_->absent_ports();
    ASSERT_EQ(absent.size(), 1u) << "still remembered, for the next try";
    EXPECT_EQ(absent[0].slot, slot);
    EXPECT_STREQ(absent[0].port.name, "p2");
}
