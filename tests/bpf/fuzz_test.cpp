// SPDX-License-Identifier: BSD-2-Clause
// Fuzzing the datapath's parser: random and malformed frames (runts, truncated and
// stacked 802.1Q/802.1ad tags, odd ethertypes, garbage IP headers, group and zero
// sources, oversized frames) through the programs, the way the kernel would run them:
// XDP first, the TC hook for what XDP passes. Every frame must get a valid verdict and
// be counted exactly once.
#include "bpf_fixture.hpp"

#include <cstdlib>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <random>

using namespace xbtest;

namespace {

Frame random_frame(std::mt19937 &rng) {
    auto pick = [&](uint32_t n) { return uint32_t(rng() % n); };
    static const std::vector<std::array<uint8_t, 6>> macs = {
        {0x52, 0x54, 0, 0, 0, 0x0a},
        {0x52, 0x54, 0, 0, 0, 0x0b},
        {0x00, 0x25, 0x9c, 0x19, 0xb8, 0xe9},
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
        {0x01, 0x00, 0x5e, 0, 0, 1},
        {0x33, 0x33, 0, 0, 0, 1},
        {0, 0, 0, 0, 0, 0},
        {0x02, 0, 0, 0, 0x99, 0x99},
    };
    Frame f;
    auto &b = f.bytes;
    if (pick(8) == 0) { // pure noise
        b.resize(14 + pick(200));
        for (auto &x : b)
            x = uint8_t(rng());
        return f;
    }
    auto mac = [&](bool random) {
        if (random) {
            for (int i = 0; i < 6; i++)
                b.push_back(uint8_t(rng()));
        } else {
            const auto &m = macs[pick(uint32_t(macs.size()))];
            b.insert(b.end(), m.begin(), m.end());
        }
    };
    mac(pick(4) == 0);
    mac(pick(4) == 0);
    static const uint16_t tpids[] = {0x8100, 0x88a8, 0x9100};
    const uint32_t tags = pick(5); // 0..4: up to QinQ and beyond
    for (uint32_t i = 0; i < tags; i++) {
        const uint16_t tpid = tpids[pick(3)];
        b.push_back(uint8_t(tpid >> 8));
        b.push_back(uint8_t(tpid));
        b.push_back(uint8_t(rng()));
        b.push_back(uint8_t(rng()));
    }
    static const uint16_t types[] = {0x0800, 0x86dd, 0x0806, 0x88b5,
                                     0x8100, 0x0000, 0xffff, 0x05dc};
    const uint16_t et = types[pick(8)];
    b.push_back(uint8_t(et >> 8));
    b.push_back(uint8_t(et));
    if (et == 0x0800 && pick(2)) { // an IPv4 header, sometimes sane
        uint8_t ip[20];
        for (auto &x : ip)
            x = uint8_t(rng());
        if (pick(2)) {
            ip[0] = 0x45;
            ip[6] = ip[7] = 0;
            ip[9] = pick(2) ? 6 : 17;
        }
        b.insert(b.end(), ip, ip + 20);
    } else if (et == 0x86dd && pick(2)) {
        uint8_t ip6[40];
        for (auto &x : ip6)
            x = uint8_t(rng());
        ip6[0] = 0x60;
        ip6[6] = pick(2) ? 6 : uint8_t(rng());
        b.insert(b.end(), ip6, ip6 + 40);
    }
    const uint32_t payload = pick(10) == 0 ? pick(9000) : pick(100);
    for (uint32_t i = 0; i < payload; i++)
        b.push_back(uint8_t(rng()));
    if (pick(4) == 0) // truncated anywhere after the MACs
        b.resize(14 + pick(uint32_t(b.size() - 13)));
    if (b.size() < 14)
        b.resize(14);
    return f;
}

bool valid_xdp(int v) {
    return v == XDP_PASS || v == XDP_DROP || v == XDP_REDIRECT;
}
bool valid_tc(int v) {
    return v == TC_ACT_OK || v == TC_ACT_SHOT || v == TC_ACT_REDIRECT;
}

} // namespace

TEST_F(BridgeTest, FuzzedFramesAllGetAVerdictAndACounter) {
    const char *env = std::getenv("XB_FUZZ_ITERATIONS");
    const int n = env ? std::atoi(env) : 20000;
    const unsigned seed = std::random_device{}();
    std::mt19937 rng(seed);
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    // The kernel's test runner takes skbs of at most a page: longer frames (multi-buffer
    // at XDP) are checked at XDP only, where they must be passed on, and not counted.
    constexpr size_t kMaxSkbTest = 3400;
    uint64_t frames = 0, to_tc = 0, xdp_only = 0, refused = 0;
    for (int i = 0; i < n; i++) {
        Frame f = random_frame(rng);
        const int port = int(rng() % 3);
        const int x = run_xdp(port, f);
        const uint16_t et = uint16_t(f.bytes[12] << 8 | f.bytes[13]);
        ASSERT_TRUE(valid_xdp(x)) << "XDP verdict " << x << " for frame " << i;
        if (f.bytes.size() > kMaxSkbTest) {
            ASSERT_EQ(x, XDP_PASS) << "a multi-buffer frame must go to the TC path";
            xdp_only++;
            continue;
        }
        // A refusal by the test runner is accepted only where the kernel documents one.
        const bool refusable =
            (et == 0x0800 && f.bytes.size() < 34) || (et == 0x86dd && f.bytes.size() < 54);
        const auto e = try_tc_egress(0, f);
        ASSERT_TRUE(e || refusable) << "frame " << i << " refused by the TC test runner";
        if (e) {
            ASSERT_TRUE(valid_tc(*e)) << "TC egress verdict " << *e << " for frame " << i;
        }
        if (x == XDP_PASS) {
            const auto t = try_tc_ingress(port, f);
            ASSERT_TRUE(t || refusable) << "frame " << i << " refused by the TC test runner";
            if (!t) {
                refused++;
                continue;
            }
            ASSERT_TRUE(valid_tc(*t)) << "TC verdict " << *t << " for frame " << i;
            to_tc++;
        }
        frames++;
    }
    EXPECT_GT(to_tc, 0u);
    EXPECT_GT(xdp_only, 0u);
    uint64_t counted = 0;
    for (int p = 0; p < 3; p++)
        counted += stats(p).cnt[XB_CNT_RX_PACKETS];
    EXPECT_EQ(counted, frames) << "every frame counted once (" << to_tc << " via TC, " << refused
                               << " not testable at TC)";
    uint64_t drops = 0, dropped = 0;
    for (int p = 0; p < 3; p++) {
        const xb_port_stats s = stats(p);
        for (uint64_t d : s.drop)
            drops += d;
        dropped += s.cnt[XB_CNT_DROPPED];
    }
    EXPECT_EQ(drops, dropped) << "drop reasons add up";
}
