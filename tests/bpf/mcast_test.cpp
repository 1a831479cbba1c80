// SPDX-License-Identifier: BSD-2-Clause
// Packet tests of multicast snooping (bpf/mdb.h with the controller's mdb.cpp) and of the
// capture (bpf/capture.h): crafted frames through bpf_prog_test_run_opts.
//
// The per-copy judgement at XDP runs in the flood maps' devmap egress program, which
// BPF_PROG_TEST_RUN cannot run (it refuses XDP programs of BPF_XDP_DEVMAP); the TC clone
// loop makes the same judgement with the same function (xb_mdb_allows) and is tested
// here; tests/integration/test_mcast.sh sees the XDP copies arrive, or not.
#include "bpf_fixture.hpp"

#include "bridge.hpp"
#include "capture.hpp"
#include "mdb.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cstring>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

using namespace xbtest;

namespace {

const std::string kA = "52:54:00:00:00:0a"; // a guest on port 1
const std::string kOut = "00:25:9c:19:b8:e9";

std::vector<uint8_t> mac_bytes(const std::string &m) {
    auto p = xb::parse_mac(m);
    return {p->begin(), p->end()};
}

std::vector<uint8_t> ip4(const char *a) {
    uint8_t b[4];
    inet_pton(AF_INET, a, b);
    return {b, b + 4};
}

std::vector<uint8_t> ip6(const char *a) {
    uint8_t b[16];
    inet_pton(AF_INET6, a, b);
    return {b, b + 16};
}

// An IPv4 frame to group `dst` (its multicast MAC), protocol proto, with a router alert
// option as IGMP carries it.
Frame ipv4_frame(const char *dst, uint8_t proto, const std::vector<uint8_t> &payload,
                 const std::string &src_mac = kA) {
    const auto d = ip4(dst);
    std::vector<uint8_t> f = {0x01, 0x00, 0x5e, uint8_t(d[1] & 0x7f), d[2], d[3]};
    auto s = mac_bytes(src_mac);
    f.insert(f.end(), s.begin(), s.end());
    f.push_back(0x08);
    f.push_back(0x00);
    const size_t total = 24 + payload.size();
    const uint8_t hdr[24] = {
        0x46, 0, uint8_t(total >> 8), uint8_t(total), 0, 0, 0, 0, 1, proto, 0, 0, 10, 77, 0, 10};
    f.insert(f.end(), hdr, hdr + 24);
    std::memcpy(&f[14 + 16], d.data(), 4);
    f[14 + 20] = 0x94; // router alert
    f[14 + 21] = 4;
    f.insert(f.end(), payload.begin(), payload.end());
    while (f.size() < 60)
        f.push_back(0);
    return {f};
}

// A UDP datagram to group dst (no checksum: nothing for XDP to leave to TC).
Frame udp4(const char *dst, const std::string &src_mac = kA) {
    return ipv4_frame(dst, 17, {0x9c, 0x40, 0x13, 0x88, 0, 12, 0, 0, 'x', 'b', 'r', '1'}, src_mac);
}

// An IPv6 frame to dst, behind a hop-by-hop header with a router alert (as MLD), or none.
Frame ipv6_frame(const char *dst, uint8_t nh, const std::vector<uint8_t> &payload, bool hbh) {
    const auto d = ip6(dst);
    std::vector<uint8_t> f = {0x33, 0x33, d[12], d[13], d[14], d[15]};
    auto s = mac_bytes(kA);
    f.insert(f.end(), s.begin(), s.end());
    f.push_back(0x86);
    f.push_back(0xdd);
    const size_t plen = payload.size() + (hbh ? 8 : 0);
    const uint8_t hdr[8] = {0x60, 0, 0, 0, uint8_t(plen >> 8), uint8_t(plen), hbh ? uint8_t(0) : nh,
                            1};
    f.insert(f.end(), hdr, hdr + 8);
    const auto src = ip6("fe80::5054:ff:fe00:a");
    f.insert(f.end(), src.begin(), src.end());
    f.insert(f.end(), d.begin(), d.end());
    if (hbh) {
        const uint8_t h[8] = {nh, 0, 5, 2, 0, 0, 1, 0};
        f.insert(f.end(), h, h + 8);
    }
    f.insert(f.end(), payload.begin(), payload.end());
    return {f};
}

std::vector<uint8_t> igmp(uint8_t type, const char *group) {
    auto g = ip4(group);
    return {type, 0, 0, 0, g[0], g[1], g[2], g[3]};
}

// An MLDv2 report with one record.
std::vector<uint8_t> mld2_report(uint8_t rtype, const char *group) {
    std::vector<uint8_t> p = {143, 0, 0, 0, 0, 0, 0, 1, rtype, 0, 0, 0};
    auto g = ip6(group);
    p.insert(p.end(), g.begin(), g.end());
    return p;
}

class McastTest : public BridgeTest {
  protected:
    void SetUp() override {
        BridgeTest::SetUp();
        dp_->config()->flags |= XB_CFG_MCAST_SNOOPING;
        rb_ = ring_buffer__new(dp_->map(xb::MapId::MdbRb), on_msg, &msgs_, nullptr);
        ASSERT_TRUE(rb_);
    }
    void TearDown() override {
        ring_buffer__free(rb_);
        BridgeTest::TearDown();
    }

    static int on_msg(void *ctx, void *data, size_t size) {
        if (size >= sizeof(xb_mdb_msg))
            static_cast<std::vector<xb_mdb_msg> *>(ctx)->push_back(
                *static_cast<const xb_mdb_msg *>(data));
        return 0;
    }

    // The messages the datapath handed over since the last call, learned as the
    // controller learns them.
    std::vector<xb_mdb_msg> messages() {
        msgs_.clear();
        ring_buffer__consume(rb_);
        for (const auto &m : msgs_)
            xb::mdb_learn(*dp_, m, xb::monotonic_coarse_ns());
        return msgs_;
    }

    bool member(const char *group, int port) {
        for (const auto &e : xb::mdb_entries(*dp_))
            if (xb::format_group(e.key.addr) == group && e.key.slot == slot_of(port))
                return true;
        return false;
    }

    void join(const char *group, uint32_t slot) {
        xb_mdb_msg m{};
        const Frame f = ipv4_frame("224.0.0.22", 2, igmp(0x16, group));
        std::memcpy(m.data, f.bytes.data(), f.bytes.size());
        m.caplen = m.len = uint32_t(f.bytes.size());
        m.l3_off = 14;
        m.proto = 0x0800;
        m.slot = uint16_t(slot);
        xb::mdb_learn(*dp_, m, xb::monotonic_coarse_ns());
    }

    uint64_t tx(int port) { return stats(port).cnt[XB_CNT_TX_PACKETS]; }

    ring_buffer *rb_ = nullptr;
    std::vector<xb_mdb_msg> msgs_;
};

} // namespace

TEST_F(McastTest, ReportsAndLeavesGoToTheController) {
    const Frame v2 = ipv4_frame("239.1.1.1", 2, igmp(0x16, "239.1.1.1"));
    EXPECT_EQ(run_xdp(1, v2), XDP_REDIRECT) << "a report is sent on at XDP";
    auto m = messages();
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].slot, slot_of(1));
    EXPECT_EQ(m[0].ifindex, uint32_t(ifindex(1)));
    EXPECT_EQ(m[0].caplen, v2.bytes.size());
    EXPECT_EQ(std::memcmp(m[0].data, v2.bytes.data(), v2.bytes.size()), 0);
    EXPECT_TRUE(member("239.1.1.1", 1));
    EXPECT_EQ(stats(1).cnt[XB_CNT_MCAST_CTL], 1u);

    // MLDv2 behind its hop-by-hop header, on the TC path.
    EXPECT_EQ(run_tc_ingress(2, ipv6_frame("ff02::16", 58, mld2_report(4, "ff05::1:3"), true)),
              TC_ACT_REDIRECT);
    ASSERT_EQ(messages().size(), 1u);
    EXPECT_TRUE(member("ff05::1:3", 2));

    // Leaves: an IGMPv2 leave and an MLDv2 TO_IN with no sources.
    EXPECT_EQ(run_xdp(1, ipv4_frame("224.0.0.2", 2, igmp(0x17, "239.1.1.1"))), XDP_REDIRECT);
    // (XDP leaves IPv6 with extension headers to TC, snooped there, once.)
    EXPECT_EQ(run_xdp(2, ipv6_frame("ff02::16", 58, mld2_report(3, "ff05::1:3"), true)), XDP_PASS);
    EXPECT_EQ(run_tc_ingress(2, ipv6_frame("ff02::16", 58, mld2_report(3, "ff05::1:3"), true)),
              TC_ACT_REDIRECT);
    ASSERT_EQ(messages().size(), 2u);
    for (const auto &e : xb::mdb_entries(*dp_))
        EXPECT_LE(e.val.expires_ns, xb::monotonic_coarse_ns() + xb::kMcastLastMemberNs)
            << "a leave leaves the last member interval";
    EXPECT_EQ(xb::mdb_sweep(*dp_, xb::monotonic_coarse_ns() + xb::kMcastLastMemberNs + 1), 2u);
    EXPECT_TRUE(xb::mdb_entries(*dp_).empty());
}

TEST_F(McastTest, ReportsAndLeavesReachOnlyRouterPortsAndTheHost) {
    std::vector<uint8_t> v3 = {0x22, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0};
    const auto g = ip4("239.1.1.1");
    v3.insert(v3.end(), g.begin(), g.end());
    std::vector<uint8_t> mld1 = {131, 0, 0, 0, 0, 0, 0, 0};
    const auto g6 = ip6("ff05::1:3");
    mld1.insert(mld1.end(), g6.begin(), g6.end());
    std::vector<uint8_t> done = mld1;
    done[0] = 132;
    const Frame reports[] = {
        ipv4_frame("239.1.1.1", 2, igmp(0x16, "239.1.1.1")),
        ipv4_frame("239.1.1.1", 2, igmp(0x12, "239.1.1.1")),
        ipv4_frame("224.0.0.2", 2, igmp(0x17, "239.1.1.1")),
        ipv4_frame("224.0.0.22", 2, v3),
        ipv6_frame("ff05::1:3", 58, mld1, true),
        ipv6_frame("ff02::2", 58, done, true),
        ipv6_frame("ff02::16", 58, mld2_report(4, "ff05::1:3"), true),
    };
    // No router port yet: the host alone gets them (redirected into the uplink's stack).
    uint64_t t0 = tx(0), t2 = tx(2), host = host_stats().cnt[XB_CNT_TX_PACKETS];
    for (const Frame &f : reports)
        EXPECT_EQ(run_tc_ingress(1, f), TC_ACT_REDIRECT);
    EXPECT_EQ(messages().size(), std::size(reports)) << "each one for the controller";
    EXPECT_EQ(tx(0), t0) << "the uplink is no router port";
    EXPECT_EQ(tx(2), t2) << "another guest hears no report";
    EXPECT_EQ(host_stats().cnt[XB_CNT_TX_PACKETS], host + std::size(reports));

    // Queries still flood; one from the uplink makes it a router port, which then gets
    // the reports; so does a port set mcast-router. Other guests still do not.
    run_tc_ingress(0, ipv4_frame("224.0.0.1", 2, igmp(0x11, "0.0.0.0"), kOut));
    EXPECT_EQ(tx(2), t2 + 1) << "a query floods";
    EXPECT_EQ(messages().size(), 1u);
    t0 = tx(0);
    t2 = tx(2);
    for (const Frame &f : reports)
        run_tc_ingress(1, f);
    EXPECT_EQ(tx(0), t0 + std::size(reports));
    EXPECT_EQ(tx(2), t2);
    set_port_flags(2, XB_PORT_MCAST_ROUTER, 0);
    run_tc_ingress(1, reports[0]);
    EXPECT_EQ(tx(2), t2 + 1);
    // A guest's data for a group with no member floods as before.
    t2 = tx(2);
    set_port_flags(2, 0, XB_PORT_MCAST_ROUTER);
    run_tc_ingress(1, udp4("239.7.7.7"));
    EXPECT_EQ(tx(2), t2 + 1);
}

TEST_F(McastTest, NothingIsSnoopedWithSnoopingOff) {
    dp_->config()->flags &= ~uint32_t(XB_CFG_MCAST_SNOOPING);
    EXPECT_EQ(run_xdp(1, ipv4_frame("239.1.1.1", 2, igmp(0x16, "239.1.1.1"))), XDP_REDIRECT);
    EXPECT_EQ(run_tc_ingress(1, ipv4_frame("239.1.1.1", 2, igmp(0x16, "239.1.1.1"))),
              TC_ACT_REDIRECT);
    EXPECT_TRUE(messages().empty());
    join("239.1.1.1", slot_of(2));
    const uint64_t t0 = tx(0);
    run_tc_ingress(1, udp4("239.1.1.1"));
    EXPECT_EQ(tx(0), t0 + 1) << "a known group floods while snooping is off";
}

TEST_F(McastTest, AKnownGroupReachesOnlyItsMembersRouterPortsAndAJoinedHost) {
    join("239.1.1.1", slot_of(2));
    const uint64_t t0 = tx(0), t2 = tx(2), host = host_stats().cnt[XB_CNT_TX_PACKETS];
    // The host did not join: no copy for it, and the frame is spent on the clones.
    EXPECT_EQ(run_tc_ingress(1, udp4("239.1.1.1")), TC_ACT_SHOT);
    EXPECT_EQ(tx(2), t2 + 1);
    EXPECT_EQ(tx(0), t0) << "the uplink is no member";
    EXPECT_EQ(host_stats().cnt[XB_CNT_TX_PACKETS], host);
    EXPECT_EQ(stats(1).cnt[XB_CNT_MCAST_SNOOPED], 1u);
    // At XDP the frame is flooded; its copies are judged at the devmap's egress.
    EXPECT_EQ(run_xdp(1, udp4("239.1.1.1")), XDP_REDIRECT);
    EXPECT_EQ(stats(1).cnt[XB_CNT_MCAST_SNOOPED], 2u);

    // A general query from the uplink makes it a router port.
    run_xdp(0, ipv4_frame("224.0.0.1", 2, igmp(0x11, "0.0.0.0"), kOut));
    messages();
    run_tc_ingress(1, udp4("239.1.1.1"));
    EXPECT_EQ(tx(0), t0 + 1) << "a router port gets every group";
    EXPECT_EQ(tx(2), t2 + 2);

    // The host joins (its report on the uplink's egress hook): it gets a copy.
    EXPECT_EQ(
        run_tc_egress(0, ipv4_frame("239.1.1.1", 2, igmp(0x16, "239.1.1.1"), "02:00:00:00:00:01")),
        TC_ACT_OK);
    messages();
    bool host_member = false;
    for (const auto &e : xb::mdb_entries(*dp_))
        host_member |= e.key.slot == XB_HOST_SLOT;
    EXPECT_TRUE(host_member);
    EXPECT_EQ(run_tc_ingress(1, udp4("239.1.1.1")), TC_ACT_REDIRECT);
    EXPECT_EQ(host_stats().cnt[XB_CNT_TX_PACKETS], host + 1);
}

// mcast-flood governs unknown groups only (the kernel bridge's BR_MCAST_FLOOD): a member
// or router port with it off still gets its group, and reports.
TEST_F(McastTest, AMemberWithMcastFloodOffGetsItsGroupButNoUnknownOne) {
    join("239.1.1.1", slot_of(2));
    const std::string name = dp_->port(slot_of(2))->name;
    ASSERT_FALSE(dp_->config()->flags & XB_CFG_MCAST_FLOOD_OFF);
    xb::set_port_flag(*dp_, name, XB_PORT_MCAST_FLOOD, false);
    EXPECT_TRUE(dp_->config()->flags & XB_CFG_MCAST_FLOOD_OFF);
    const uint64_t t2 = tx(2), rx = stats(1).cnt[XB_CNT_RX_PACKETS];
    // The multicast flood map lacks port 2: XDP leaves the known group's frame to TC,
    // uncounted (TC counts it).
    EXPECT_EQ(run_xdp(1, udp4("239.1.1.1")), XDP_PASS);
    EXPECT_EQ(stats(1).cnt[XB_CNT_RX_PACKETS], rx);
    EXPECT_EQ(run_tc_ingress(1, udp4("239.1.1.1")), TC_ACT_SHOT);
    EXPECT_EQ(tx(2), t2 + 1) << "a member gets its group whatever its mcast-flood";
    // An unknown group floods at XDP as before, and reaches port 2 nowhere.
    EXPECT_EQ(run_xdp(1, udp4("239.9.9.9")), XDP_REDIRECT);
    run_tc_ingress(1, udp4("239.9.9.9"));
    EXPECT_EQ(tx(2), t2 + 1) << "mcast-flood off: no unknown group";
    // A router port with mcast-flood off gets the reports.
    xb::set_port_flag(*dp_, name, XB_PORT_MCAST_ROUTER, true);
    const Frame report = ipv4_frame("239.2.2.2", 2, igmp(0x16, "239.2.2.2"));
    EXPECT_EQ(run_xdp(1, report), XDP_PASS);
    EXPECT_TRUE(messages().empty()) << "snooped once, by TC";
    run_tc_ingress(1, report);
    EXPECT_EQ(messages().size(), 1u);
    EXPECT_EQ(tx(2), t2 + 2);
    // mcast-flood back on: XDP floods the known group again.
    xb::set_port_flag(*dp_, name, XB_PORT_MCAST_FLOOD, true);
    EXPECT_FALSE(dp_->config()->flags & XB_CFG_MCAST_FLOOD_OFF);
    EXPECT_EQ(run_xdp(1, udp4("239.1.1.1")), XDP_REDIRECT);
}

// The bridge-wide XB_CFG_MCAST_FLOOD_OFF follows the ports: it goes with the last port
// that had mcast-flood off, whether it was turned on or the port left.
TEST_F(McastTest, TheLastPortWithMcastFloodOffLeavingLetsXdpFloodKnownGroups) {
    join("239.1.1.1", slot_of(0));
    const uint32_t slot = slot_of(2);
    xb::set_port_flag(*dp_, dp_->port(slot)->name, XB_PORT_MCAST_FLOOD, false);
    EXPECT_EQ(run_xdp(1, udp4("239.1.1.1")), XDP_PASS);
    xb::remove_port(*dp_, slot, *nl_, false);
    EXPECT_FALSE(dp_->config()->flags & XB_CFG_MCAST_FLOOD_OFF);
    EXPECT_EQ(run_xdp(1, udp4("239.1.1.1")), XDP_REDIRECT) << "the known group, at XDP again";
}

TEST_F(McastTest, APermanentRouterPortGetsEveryKnownGroup) {
    join("239.1.1.1", slot_of(2));
    set_port_flags(0, XB_PORT_MCAST_ROUTER, 0);
    const uint64_t t0 = tx(0);
    run_tc_ingress(1, udp4("239.1.1.1"));
    EXPECT_EQ(tx(0), t0 + 1);
}

TEST_F(McastTest, UnknownExpiredAndLinkLocalGroupsFlood) {
    join("239.1.1.1", slot_of(2));
    uint64_t t0 = tx(0);
    run_tc_ingress(1, udp4("239.9.9.9"));
    EXPECT_EQ(tx(0), t0 + 1) << "unknown group";
    EXPECT_EQ(stats(1).cnt[XB_CNT_MCAST_SNOOPED], 0u);

    // Link-local groups are never snooped, even with an entry for them.
    xb_mdb_group_key gk{};
    xb_mdb_group_val gv{xb::monotonic_coarse_ns() + 100000000000ull};
    const auto ll = ip4("224.0.0.251");
    gk.addr[10] = gk.addr[11] = 0xff;
    std::memcpy(&gk.addr[12], ll.data(), 4);
    ASSERT_EQ(bpf_map_update_elem(dp_->map(xb::MapId::MdbGroup), &gk, &gv, BPF_ANY), 0);
    t0 = tx(0);
    run_tc_ingress(1, udp4("224.0.0.251"));
    EXPECT_EQ(tx(0), t0 + 1) << "224.0.0.x";
    const auto all = ip6("ff02::1");
    std::memcpy(gk.addr, all.data(), 16);
    ASSERT_EQ(bpf_map_update_elem(dp_->map(xb::MapId::MdbGroup), &gk, &gv, BPF_ANY), 0);
    t0 = tx(0);
    run_tc_ingress(1, ipv6_frame("ff02::1", 17, {0, 1, 0, 2, 0, 8, 0, 0}, false));
    EXPECT_EQ(tx(0), t0 + 1) << "ff02::1";

    // A group whose deadline passed (no controller to sweep it) floods again.
    const auto g = ip4("239.1.1.1");
    gk = {};
    gk.addr[10] = gk.addr[11] = 0xff;
    std::memcpy(&gk.addr[12], g.data(), 4);
    gv.expires_ns = xb::monotonic_coarse_ns() - 1;
    ASSERT_EQ(bpf_map_update_elem(dp_->map(xb::MapId::MdbGroup), &gk, &gv, BPF_ANY), 0);
    t0 = tx(0);
    run_tc_ingress(1, udp4("239.1.1.1"));
    EXPECT_EQ(tx(0), t0 + 1) << "expired group";
}

TEST_F(McastTest, SnoopingOffForgetsEverything) {
    join("239.1.1.1", slot_of(2));
    run_xdp(0, ipv4_frame("224.0.0.1", 2, igmp(0x11, "0.0.0.0"), kOut));
    messages();
    xb::mdb_flush(*dp_);
    EXPECT_TRUE(xb::mdb_entries(*dp_).empty());
    const uint64_t t0 = tx(0), t2 = tx(2);
    run_tc_ingress(1, udp4("239.1.1.1"));
    EXPECT_EQ(tx(0), t0 + 1);
    EXPECT_EQ(tx(2), t2 + 1);
}

// ---- capture ---------------------------------------------------------------

namespace {

struct Captured {
    std::vector<std::vector<uint8_t>> frames;
    std::vector<xb_capture_hdr> hdrs;
};

void on_sample(void *ctx, int, void *data, __u32 size) {
    auto *c = static_cast<Captured *>(ctx);
    xb_capture_hdr h;
    std::memcpy(&h, data, sizeof(h));
    c->hdrs.push_back(h);
    const auto *p = static_cast<const uint8_t *>(data) + sizeof(h);
    c->frames.emplace_back(p, p + std::min<uint32_t>(h.caplen, size - sizeof(h)));
}

} // namespace

TEST_F(BridgeTest, CaptureCopiesWhatTheHooksSwitchWithinItsFilter) {
    Captured got;
    perf_buffer *pb =
        perf_buffer__new(dp_->map(xb::MapId::CapturePb), 8, on_sample, nullptr, &got, nullptr);
    ASSERT_TRUE(pb);
    xb_capture_cfg cc{};
    cc.until_ns = xb::monotonic_coarse_ns() + 60000000000ull;
    cc.snaplen = 40;
    cc.ifindex = uint32_t(ifindex(2));
    uint32_t zero = 0;
    ASSERT_EQ(bpf_map_update_elem(dp_->map(xb::MapId::CaptureCfg), &zero, &cc, BPF_ANY), 0);
    dp_->config()->flags |= XB_CFG_CAPTURE;

    const std::string kB = "52:54:00:00:00:0b";
    fdb_put(kB, 2, XB_FDB_DYNAMIC);
    const Frame to_b = eth_frame(kB, kA, 0x88b5, std::nullopt, 100);
    EXPECT_EQ(run_xdp(1, to_b), XDP_REDIRECT);                        // forwarded at XDP
    EXPECT_EQ(run_xdp(1, eth_frame(kOut, kA, 0x88b5)), XDP_REDIRECT); // not port 2's
    EXPECT_EQ(run_tc_ingress(1, to_b), TC_ACT_REDIRECT);              // at TC
    perf_buffer__consume(pb);
    ASSERT_EQ(got.frames.size(), 2u);
    for (size_t i = 0; i < 2; i++) {
        EXPECT_EQ(got.hdrs[i].len, 100u);
        EXPECT_EQ(got.hdrs[i].caplen, 40u) << "cut at the snap length";
        EXPECT_EQ(got.hdrs[i].ifindex, uint32_t(ifindex(1)));
        EXPECT_EQ(got.hdrs[i].out_ifindex, uint32_t(ifindex(2)));
        EXPECT_EQ(got.frames[i], std::vector<uint8_t>(to_b.bytes.begin(), to_b.bytes.begin() + 40));
    }
    EXPECT_EQ(got.hdrs[0].hook, XB_HOOK_XDP);
    EXPECT_EQ(got.hdrs[1].hook, XB_HOOK_TC_INGRESS);

    // A lease that ran out copies nothing.
    cc.until_ns = xb::monotonic_coarse_ns() - 1;
    ASSERT_EQ(bpf_map_update_elem(dp_->map(xb::MapId::CaptureCfg), &zero, &cc, BPF_ANY), 0);
    run_xdp(1, to_b);
    perf_buffer__consume(pb);
    EXPECT_EQ(got.frames.size(), 2u);
    perf_buffer__free(pb);
}
