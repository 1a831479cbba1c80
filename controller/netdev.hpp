// SPDX-License-Identifier: BSD-2-Clause
// What a device can do for the datapath, in the caller's network namespace: its XDP
// features (the "netdev" generic netlink family, Linux 6.3 and later) and its GRO
// setting (the ethtool ioctl). Kernel adapters: they never print.
#pragma once

#include "fd.hpp"

#include <cstdint>
#include <functional>
#include <optional>

namespace xb {

// NETDEV_XDP_ACT_NDO_XMIT of <linux/netdev.h> (not in Debian 12's kernel headers): the
// device takes XDP frames redirected to it (ndo_xdp_xmit). A veth has it only while its
// peer has NAPI (an XDP program or GRO), and the kernel says so as that changes.
constexpr uint64_t kXdpActNdoXmit = 1u << 2;

class NetdevFamily {
  public:
    // Resolves the family; without it (a kernel before 6.3) every query answers nothing.
    NetdevFamily();
    bool available() const { return family_ != 0; }
    // The device's XDP features (NETDEV_XDP_ACT_*), nullopt where the kernel cannot say.
    std::optional<uint64_t> xdp_features(int ifindex);

  private:
    UniqueFd sk_;
    uint16_t family_ = 0;
    uint32_t seq_ = 0;
    friend class NetdevMonitor;
};

// The family's notifications (a device's XDP features changed, or it came or went), for
// the controller's event loop. Without the family, fd() is -1 and nothing arrives.
class NetdevMonitor {
  public:
    NetdevMonitor();
    int fd() const { return sk_.get(); }
    // Reads what is pending and calls fn with the ifindex of each device it concerns.
    void dispatch(const std::function<void(int ifindex)> &fn);

  private:
    UniqueFd sk_;
};

// GRO of a device (ethtool's ETHTOOL_GGRO / ETHTOOL_SGRO); nullopt where it cannot be read.
std::optional<bool> gro_enabled(const char *ifname);
// Throws Error naming the device when the setting cannot be changed.
void set_gro(const char *ifname, bool on);

// rx-vlan offload (ETH_FLAG_RXVLAN of ETHTOOL_GFLAGS / ETHTOOL_SFLAGS: the driver takes
// 802.1Q tags out of received frames, where XDP cannot see them); nullopt where it cannot
// be read. set_rxvlan throws Error naming the device when the setting cannot be changed
// (a fixed feature included).
std::optional<bool> rxvlan_enabled(const char *ifname);
void set_rxvlan(const char *ifname, bool on);

// tx-vlan offload of a veth's peer (ETH_FLAG_TXVLAN: its stack hands the tag to the veth
// beside the frame, where our end's XDP cannot see it, and no setting of our end changes
// that). The peer is found in our namespace or one `ip netns` names. nullopt where it
// cannot be read; set_veth_peer_txvlan throws Error when it cannot be changed.
std::optional<bool> veth_peer_txvlan_enabled(int ifindex);
void set_veth_peer_txvlan(int ifindex, bool on);

} // namespace xb
