// SPDX-License-Identifier: BSD-2-Clause
// Link lookup and configuration over rtnetlink (libnl-route), in the caller's network
// namespace. Nothing here reads sysfs: /sys shows the namespace it was mounted in,
// which is not ours when xbridge runs with --netns.
#pragma once

#include "mac.hpp"
#include "netdev.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct nl_sock;

namespace xb {

enum class LinkKind { Other, Nic, Veth, Tap, Tun };
std::string_view to_string(LinkKind k);

struct LinkInfo {
    int ifindex = 0;
    std::string name;
    std::string type; // rtnetlink kind ("veth", "tun", "bridge", ...); empty for plain NICs
    LinkKind kind = LinkKind::Other;
    Mac mac{};
    unsigned mtu = 0;
    unsigned flags = 0; // IFF_*
    int master = 0;     // ifindex of the master device (kernel bridge, bond), 0 if none
    bool carrier = false;
    bool ethernet = false; // ARPHRD_ETHER
    bool up() const;
    bool promisc() const;
};

struct NlSockDeleter {
    void operator()(nl_sock *s) const;
};
using NlSock = std::unique_ptr<nl_sock, NlSockDeleter>;

class Netlink {
  public:
    Netlink();

    std::optional<LinkInfo> link(const std::string &name);
    std::optional<LinkInfo> link(int ifindex);
    std::vector<LinkInfo> links();
    // The device's secondary unicast addresses (its unicast address list: what a macvlan
    // or macvtap on it, or `bridge fdb add MAC dev DEV self`, added), as `bridge fdb show
    // dev DEV` prints them with `self`; not its own address, nor multicast ones.
    std::vector<Mac> unicast_addresses(int ifindex);

    // A tap's owner, group and queue mode, as `ip -d link` shows them (IFLA_TUN_*, read
    // by netlink: sysfs may be another namespace's); nullopt for a device that is no tun.
    struct TunInfo {
        std::optional<uint32_t> uid, gid;
        bool multi_queue = false;
    };
    std::optional<TunInfo> tun_info(int ifindex);

    void set_up(int ifindex, bool up);
    void set_promisc(int ifindex, bool on);
    void set_mtu(int ifindex, unsigned mtu);
    void set_address(int ifindex, const Mac &mac);
    void delete_link(int ifindex);
    // Creates a veth pair name/peer with the given MTU on both ends, down.
    void create_veth(const std::string &name, const std::string &peer, unsigned mtu);
    // The device's XDP features (NETDEV_XDP_ACT_*), nullopt where the kernel cannot say.
    // The netdev family is resolved at the first call: most commands never ask.
    std::optional<uint64_t> xdp_features(int ifindex) {
        if (!netdev_)
            netdev_.emplace();
        return netdev_->xdp_features(ifindex);
    }

    // Whether the device has a qdisc someone installed on its transmit side (`tc qdisc
    // add dev DEV root ...`, libvirt's <bandwidth>), rather than what the kernel gave it:
    // the kernel's own qdiscs (net.core.default_qdisc, noqueue, mq and its children) have
    // handle 0, an installed one never does. Ingress and clsact do not count.
    bool shaped(int ifindex);

  private:
    std::optional<LinkInfo> get(int ifindex, const char *name);
    void change_flags(int ifindex, unsigned set, unsigned clear, const char *what);
    NlSock sk_;
    std::optional<NetdevFamily> netdev_;
};

// Link notifications (RTM_NEWLINK / RTM_DELLINK) for the controller's event loop, and
// changes of a device's address lists made through `bridge fdb ... self` (AF_BRIDGE
// RTM_NEWNEIGH / RTM_DELNEIGH; a macvlan's address comes and goes with a link event).
class LinkMonitor {
  public:
    struct Event {
        bool deleted;
        LinkInfo link;
    };
    LinkMonitor();
    int fd() const;
    // Reads what is pending and calls fn for each link event. Returns the ifindexes
    // whose FDB or address lists changed (AF_BRIDGE neighbour events), once each, and
    // those whose qdiscs changed (RTM_NEWQDISC / RTM_DELQDISC).
    struct Changes {
        std::vector<int> fdb;
        std::vector<int> qdisc;
    };
    Changes dispatch(const std::function<void(const Event &)> &fn);

  private:
    NlSock sk_;
};

} // namespace xb
