// SPDX-License-Identifier: BSD-2-Clause
// Test fixture for the datapath programs, run with bpf_prog_test_run_opts on crafted
// frames. The test process moves into a network namespace and a mount namespace of its
// own, with a private bpffs: the ports (veth pairs), the bridge and its pins exist only
// for the test and vanish with the process, whatever happens.
#pragma once

#include "bridge.hpp"
#include "datapath.hpp"
#include "fdb.hpp"
#include "mac.hpp"
#include "netlink.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace xbtest {

// Sets up the private namespaces once per process; returns an empty string on
// success, or why the tests must be skipped.
std::string enter_private_namespaces();

// Runs a shell command (iproute2) in the test's namespaces; true on exit status 0.
bool sh(const std::string &cmd);

struct Frame {
    std::vector<uint8_t> bytes;
};

// Ethernet frame: dst, src, optional 802.1Q tag, ethertype, payload padded to 60 bytes.
Frame eth_frame(const std::string &dst, const std::string &src, uint16_t ethertype = 0x0800,
                std::optional<uint16_t> vlan = std::nullopt, size_t len = 60);
// The same with a tag of any protocol (tpid), whole TCI (priority and VID), outside `f`'s
// tags.
Frame push_tag(const Frame &f, uint16_t tpid, uint16_t tci);

class BridgeTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite();
    void SetUp() override;
    void TearDown() override;

    // Ports of the bridge under test: p0 (the uplink), p1, p2.
    int ifindex(int port) const { return ifindex_[port]; }
    uint32_t slot_of(int port) const;

    // `out`, when given, receives the frame as the program left it.
    int run_xdp(int port, const Frame &f, Frame *result = nullptr);
    int run_tc_ingress(int port, const Frame &f, uint32_t mark = 0, uint32_t *mark_out = nullptr,
                       Frame *out = nullptr);
    int run_tc_egress(int port, const Frame &f, uint32_t mark = 0, uint32_t *mark_out = nullptr,
                      Frame *out = nullptr);
    // The host pair's TC program, on the pair's receiving end.
    int run_tc_host(const Frame &f, uint32_t *mark_out = nullptr);

    std::optional<xb_fdb_val> fdb(const std::string &mac, uint16_t vlan = 0) const;
    void fdb_put(const std::string &mac, int port, uint8_t type, uint16_t vlan = 0);
    xb_port_stats stats(int port) const;
    xb_port_stats host_stats() const;
    // Changes a port's entry in the port table (xb_port), as the controller would.
    void update_port(int port, const std::function<void(xb_port &)> &change);
    void set_port_flags(int port, uint32_t set, uint32_t clear);
    // The fixture's ports are veths; the datapath treats taps differently in places.
    void set_port_kind(int port, uint8_t kind);

    std::optional<xb::Datapath> dp_;
    std::optional<xb::Netlink> nl_;
    int ifindex_[3] = {};
    std::string bridge_;
    bool uplink_ = true;
    // Whether the ports are taken for XDP redirect targets (the input of the XDP
    // decisions); false: as the bridge finds veths whose peers have no NAPI.
    bool xdp_targets_ = true;

    // The kernel's test runner refuses some skbs a port could deliver (an IPv4 or IPv6
    // ethertype with a truncated header): nullopt then, instead of a test failure.
    std::optional<int> try_tc_ingress(int port, const Frame &f);
    std::optional<int> try_tc_egress(int port, const Frame &f);

  private:
    int run_skb(int prog_fd, int ifindex, const Frame &f, uint32_t mark, uint32_t *mark_out,
                bool refusal_ok = false, Frame *result = nullptr);
};

// The same bridge without a host port (`--uplink none`).
class BridgeNoUplinkTest : public BridgeTest {
  protected:
    void SetUp() override {
        uplink_ = false;
        BridgeTest::SetUp();
    }
};

// The same bridge as the kernel and the bridge find its veths, whose peers have neither
// GRO nor an XDP program: no port takes XDP redirects, and frames for them are left to
// the TC hook.
class NoXdpTxTest : public BridgeTest {
  protected:
    void SetUp() override {
        xdp_targets_ = false;
        BridgeTest::SetUp();
    }
};

} // namespace xbtest
