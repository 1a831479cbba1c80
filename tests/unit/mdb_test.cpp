// SPDX-License-Identifier: BSD-2-Clause
// The controller's reading of IGMP/MLD/PIM messages (multicast snooping), its querier's
// query, and the capture's pcap headers.
#include "capture.hpp"
#include "mdb.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <gtest/gtest.h>

using xb::MdbEvent;

namespace {

std::vector<uint8_t> eth(uint16_t proto) {
    std::vector<uint8_t> f(12, 0x02);
    f.push_back(uint8_t(proto >> 8));
    f.push_back(uint8_t(proto));
    return f;
}

std::vector<uint8_t> ip4_frame(uint8_t proto, const std::vector<uint8_t> &payload) {
    auto f = eth(0x0800);
    const size_t total = 20 + payload.size();
    const uint8_t h[20] = {0x45,
                           0,
                           uint8_t(total >> 8),
                           uint8_t(total),
                           0,
                           0,
                           0,
                           0,
                           1,
                           proto,
                           0,
                           0,
                           10,
                           0,
                           0,
                           1,
                           224,
                           0,
                           0,
                           22};
    f.insert(f.end(), h, h + 20);
    f.insert(f.end(), payload.begin(), payload.end());
    return f;
}

std::vector<uint8_t> ip6_frame(const std::vector<uint8_t> &icmp) {
    auto f = eth(0x86dd);
    const size_t plen = 8 + icmp.size();
    std::vector<uint8_t> h = {0x60, 0, 0, 0, uint8_t(plen >> 8), uint8_t(plen), 0, 1};
    h.resize(40, 0);
    h[8] = 0xfe;
    h[9] = 0x80;
    h[24] = 0xff;
    h[25] = 0x02;
    h[39] = 0x16;
    f.insert(f.end(), h.begin(), h.end());
    const uint8_t hbh[8] = {58, 0, 5, 2, 0, 0, 1, 0};
    f.insert(f.end(), hbh, hbh + 8);
    f.insert(f.end(), icmp.begin(), icmp.end());
    return f;
}

std::vector<uint8_t> v4(const char *a) {
    uint8_t b[4];
    inet_pton(AF_INET, a, b);
    return {b, b + 4};
}

std::vector<uint8_t> v6(const char *a) {
    uint8_t b[16];
    inet_pton(AF_INET6, a, b);
    return {b, b + 16};
}

std::vector<MdbEvent> parse(const std::vector<uint8_t> &f) {
    return xb::parse_mdb_message(f.data(), f.size(), 14, uint16_t(f[12] << 8 | f[13]));
}

std::string group(const MdbEvent &e) {
    return xb::format_group(e.group.data());
}

} // namespace

TEST(Mdb, Igmpv2ReportLeaveAndQueries) {
    auto g = v4("239.1.2.3");
    auto ev = parse(ip4_frame(2, {0x16, 0, 0, 0, g[0], g[1], g[2], g[3]}));
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, MdbEvent::Join);
    EXPECT_EQ(group(ev[0]), "239.1.2.3");
    ev = parse(ip4_frame(2, {0x17, 0, 0, 0, g[0], g[1], g[2], g[3]}));
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, MdbEvent::Leave);
    ev = parse(ip4_frame(2, {0x11, 100, 0, 0, 0, 0, 0, 0}));
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, MdbEvent::Query);
    EXPECT_TRUE(parse(ip4_frame(2, {0x11, 10, 0, 0, g[0], g[1], g[2], g[3]})).empty())
        << "a group-specific query is no general one";
    auto ll = v4("224.0.0.251");
    EXPECT_TRUE(parse(ip4_frame(2, {0x16, 0, 0, 0, ll[0], ll[1], ll[2], ll[3]})).empty())
        << "link-local groups are never snooped";
}

TEST(Mdb, Igmpv3RecordsAsTheKernelBridgeTakesThem) {
    std::vector<uint8_t> p = {0x22, 0, 0, 0, 0, 0, 0, 4};
    auto rec = [&](uint8_t type, const char *g, uint16_t nsrcs, uint8_t aux) {
        p.insert(p.end(), {type, aux, uint8_t(nsrcs >> 8), uint8_t(nsrcs)});
        auto a = v4(g);
        p.insert(p.end(), a.begin(), a.end());
        p.insert(p.end(), size_t(nsrcs) * 4 + size_t(aux) * 4, 0x0a);
    };
    rec(4, "239.0.0.1", 0, 0); // TO_EX {}: join
    rec(3, "239.0.0.2", 0, 1); // TO_IN {}: leave (with aux data to skip)
    rec(1, "239.0.0.3", 2, 0); // IS_IN {two sources}: join
    rec(5, "224.0.0.9", 1, 0); // link-local: nothing
    const auto ev = parse(ip4_frame(2, p));
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[0].kind, MdbEvent::Join);
    EXPECT_EQ(group(ev[0]), "239.0.0.1");
    EXPECT_EQ(ev[1].kind, MdbEvent::Leave);
    EXPECT_EQ(group(ev[1]), "239.0.0.2");
    EXPECT_EQ(ev[2].kind, MdbEvent::Join);
    EXPECT_EQ(group(ev[2]), "239.0.0.3");
    // Truncated in the middle of the second record: what was whole is kept.
    auto f = ip4_frame(2, p);
    EXPECT_EQ(xb::parse_mdb_message(f.data(), 14 + 20 + 8 + 8 + 4, 14, 0x0800).size(), 1u);
}

TEST(Mdb, MldV1V2AndPim) {
    auto g = v6("ff05::1:3");
    std::vector<uint8_t> v1 = {131, 0, 0, 0, 0, 0, 0, 0};
    v1.insert(v1.end(), g.begin(), g.end());
    auto ev = parse(ip6_frame(v1));
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, MdbEvent::Join);
    EXPECT_EQ(group(ev[0]), "ff05::1:3");
    v1[0] = 132;
    ev = parse(ip6_frame(v1));
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, MdbEvent::Leave);

    std::vector<uint8_t> v2 = {143, 0, 0, 0, 0, 0, 0, 2};
    for (auto [t, a] : {std::pair{uint8_t(2), "ff0e::42"}, std::pair{uint8_t(3), "ff02::1"}}) {
        v2.insert(v2.end(), {t, 0, 0, 0});
        auto x = v6(a);
        v2.insert(v2.end(), x.begin(), x.end());
    }
    ev = parse(ip6_frame(v2));
    ASSERT_EQ(ev.size(), 1u) << "ff02::1 is never snooped";
    EXPECT_EQ(ev[0].kind, MdbEvent::Join);
    EXPECT_EQ(group(ev[0]), "ff0e::42");

    std::vector<uint8_t> q(24, 0);
    q[0] = 130;
    ev = parse(ip6_frame(q));
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, MdbEvent::Query);

    ev = parse(ip4_frame(103, {0x20, 0, 0, 0}));
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, MdbEvent::Router) << "a PIMv2 hello";
    EXPECT_TRUE(parse(ip4_frame(103, {0x23, 0, 0, 0})).empty()) << "other PIM messages";
}

TEST(Mdb, TheQueriersQueryIsValid) {
    const xb::Mac src = {0x02, 0, 0, 0, 0, 1};
    const auto f = xb::igmp_general_query(src);
    ASSERT_EQ(f.size(), 14u + 24 + 8);
    auto sum = [](const uint8_t *p, size_t n) {
        uint32_t s = 0;
        for (size_t i = 0; i < n; i += 2)
            s += uint32_t(p[i] << 8 | p[i + 1]);
        while (s >> 16)
            s = (s & 0xffff) + (s >> 16);
        return s;
    };
    EXPECT_EQ(sum(&f[14], 24), 0xffffu) << "IPv4 header checksum";
    EXPECT_EQ(sum(&f[38], 8), 0xffffu) << "IGMP checksum";
    const auto ev = xb::parse_mdb_message(f.data(), f.size(), 14, 0x0800);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, MdbEvent::Query);
}

TEST(Mdb, TheQueriersQueriesOfEachVersionAreValid) {
    const xb::Mac src = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
    auto fold = [](uint32_t s, const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i += 2)
            s += uint32_t(p[i] << 8 | p[i + 1]);
        while (s >> 16)
            s = (s & 0xffff) + (s >> 16);
        return s;
    };
    const auto v3 = xb::igmp_general_query(src, 3);
    ASSERT_EQ(v3.size(), 14u + 24 + 12) << "an IGMPv3 query is 12 bytes";
    EXPECT_EQ(v3[14 + 3], 36) << "IPv4 total length";
    EXPECT_EQ(fold(0, &v3[14], 24), 0xffffu);
    EXPECT_EQ(fold(0, &v3[38], 12), 0xffffu);
    EXPECT_EQ(v3[38 + 8], 2) << "QRV";
    EXPECT_EQ(v3[38 + 9], 125) << "QQIC";
    auto ev = xb::parse_mdb_message(v3.data(), v3.size(), 14, 0x0800);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, MdbEvent::Query);

    for (int version : {1, 2}) {
        const auto q = xb::mld_general_query(src, version);
        const size_t mld_len = version == 1 ? 24 : 28;
        ASSERT_EQ(q.size(), 14u + 40 + 8 + mld_len) << "MLDv" << version;
        const std::vector<uint8_t> head = {0x33, 0x33, 0,    0,    0,    1,    0x52,
                                           0x54, 0,    0x12, 0x34, 0x56, 0x86, 0xdd};
        EXPECT_EQ(std::vector<uint8_t>(q.begin(), q.begin() + 14), head);
        EXPECT_EQ(q[14 + 4] << 8 | q[14 + 5], int(8 + mld_len)) << "payload length";
        EXPECT_EQ(q[14 + 7], 1) << "hop limit";
        const std::vector<uint8_t> lla = {0xfe, 0x80, 0, 0,    0,    0,    0,    0,
                                          0x50, 0x54, 0, 0xff, 0xfe, 0x12, 0x34, 0x56};
        EXPECT_EQ(std::vector<uint8_t>(q.begin() + 22, q.begin() + 38), lla)
            << "the link-local address of the MAC";
        EXPECT_EQ(q[38], 0xff);
        EXPECT_EQ(q[53], 1) << "to ff02::1";
        const uint8_t *mld = &q[14 + 48];
        EXPECT_EQ(mld[0], 130);
        EXPECT_EQ(mld[4] << 8 | mld[5], 10000) << "maximum response delay";
        if (version == 2) {
            EXPECT_EQ(mld[24], 2) << "QRV";
            EXPECT_EQ(mld[25], 125) << "QQIC";
        }
        const uint8_t pseudo[8] = {0, 0, 0, uint8_t(mld_len), 0, 0, 0, 58};
        uint32_t s = fold(0, &q[22], 32);
        s = fold(s, pseudo, 8);
        EXPECT_EQ(fold(s, mld, mld_len), 0xffffu) << "ICMPv6 checksum";
        ev = xb::parse_mdb_message(q.data(), q.size(), 14, 0x86dd);
        ASSERT_EQ(ev.size(), 1u);
        EXPECT_EQ(ev[0].kind, MdbEvent::Query);
    }
}

TEST(Capture, PcapHeaders) {
    const std::string h = xb::pcap_file_header(262144);
    ASSERT_EQ(h.size(), 24u);
    uint32_t w[6];
    std::memcpy(w, h.data(), 4);
    EXPECT_EQ(w[0], 0xa1b23c4du) << "nanosecond pcap";
    std::memcpy(&w[1], h.data() + 16, 8);
    EXPECT_EQ(w[1], 262144u);
    EXPECT_EQ(w[2], 1u) << "LINKTYPE_ETHERNET";
    const std::string r = xb::pcap_record_header(1700000000123456789ull, 64, 1514);
    ASSERT_EQ(r.size(), 16u);
    std::memcpy(w, r.data(), 16);
    EXPECT_EQ(w[0], 1700000000u);
    EXPECT_EQ(w[1], 123456789u);
    EXPECT_EQ(w[2], 64u);
    EXPECT_EQ(w[3], 1514u);
}
