// SPDX-License-Identifier: BSD-2-Clause
// VLAN filtering of a bridge, as the kernel bridge's vlan_filtering and `bridge vlan`:
// which VLANs each port (and the host) is a member of, its PVID, and where a VLAN leaves
// untagged. The state lives in the bridge's pinned objects - map vlan_members (bitmaps of
// slots per VID), the ports' pvid, the config's flag, protocol and host PVID - so that a
// restarted controller or an upgrade keeps every VLAN. Operations: they never print.
#pragma once

#include "datapath.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xb {

// `vlan add dev host ...`: the host, which hears the bridge through the uplink's stack
// (VLAN devices of the uplink for tagged VLANs), is slot XB_HOST_SLOT of the bitmaps.
constexpr const char *kVlanHostDev = "host";
// The kernel bridge's default_pvid: a new port is an untagged member of VLAN 1, its PVID.
constexpr uint16_t kDefaultPvid = 1;
// The tag protocols of `vlan-protocol` (xb_config.vlan_proto, host order).
constexpr uint16_t kVlanProto8021Q = 0x8100;
constexpr uint16_t kVlanProto8021AD = 0x88a8;

struct VlanRange {
    uint16_t from = 0, to = 0;
};
// "N" or "N-M", 1 <= N <= M <= 4094; nullopt otherwise.
std::optional<VlanRange> parse_vlan_range(const std::string &s);

struct VlanEntry {
    uint16_t vid = 0;
    bool pvid = false;
    bool untagged = false;
};
struct PortVlans {
    std::string name; // a port's name, or kVlanHostDev
    uint32_t slot = 0;
    std::vector<VlanEntry> vlans;
};
// The VLANs of the host and of every port, in slot order.
std::vector<PortVlans> vlan_table(Datapath &dp);

// `target`: a port's name or kVlanHostDev. As `bridge vlan add`: makes the target a member
// of every VLAN of r, untagged there when `untagged` (tagged otherwise, also when it was
// untagged before), with the VLAN as its PVID when `pvid` (r must be one VLAN then); a
// member re-added without `pvid` stops having it as its PVID.
void vlan_add(Datapath &dp, const std::string &target, VlanRange r, bool pvid, bool untagged);
// As `bridge vlan del`: the target leaves the VLANs of r (its PVID too, if among them), and
// the entries it learned on them go.
void vlan_del(Datapath &dp, const std::string &target, VlanRange r);

// A new port's VLANs: untagged member of kDefaultPvid, its PVID (the caller sets the port's
// pvid field); what an earlier port of the slot had is cleared first.
void vlan_port_defaults(Datapath &dp, uint32_t slot);
// The host's at bridge creation, the same.
void vlan_host_defaults(Datapath &dp);
// Takes a slot out of every VLAN.
void vlan_clear_slot(Datapath &dp, uint32_t slot);

// What the bridge needs of a port's receive path, applied to p (its ctl and flags) when
// the port joins, with or without VLAN filtering: XDP must see every tag in the frame
// (filtering classifies by it; without filtering an XDP redirect would still send the
// frame on without a tag held beside it, merging VLANs). A tap always has it there; a
// port without XDP is served by TC, which sees a stripped tag. A NIC's rx-vlan offload is
// turned off, a veth's peer's tx-vlan offload (no setting of the veth's own end keeps a
// tag in the frame) where the peer is reachable (XB_CTL_RXVLAN_OFF, restored by
// vlan_rx_restore): their frames keep the XDP path. Where that cannot be done, frames that
// look untagged at XDP are left to the TC hook (XB_PORT_VLAN_HIDDEN). Returns what it
// did, for the log.
std::string vlan_rx_prepare(xb_port &p);
// Undoes vlan_rx_prepare on the device (best effort) and in p.
void vlan_rx_restore(xb_port &p);
// How a port's tags reach the bridge: "frame" (in the frame, at XDP), "tc" (frames that
// look untagged at XDP go to TC), "rxvlan-off" (xbridge turned the port's rx-vlan offload
// off), "peer-txvlan-off" (a veth's peer's tx-vlan offload), for status.
std::string vlan_rx_mode(const xb_port &p);

// `set vlan-filtering on|off`: on, ports prepared (vlan_rx_prepare) before the datapath's
// flag; off, the flag only.
void set_vlan_filtering(Datapath &dp, bool on);
// `set vlan-protocol`: 0x8100 or 0x88a8.
void set_vlan_protocol(Datapath &dp, uint16_t proto);
// "802.1Q" or "802.1ad".
std::string vlan_protocol_name(uint16_t proto);
std::optional<uint16_t> parse_vlan_protocol(const std::string &s);

struct VlanCounters {
    uint16_t vid = 0;
    xb_vlan_stats s{};
};
// Per-VLAN counters summed over CPUs, for the VLANs in use: with a member, or counted.
std::vector<VlanCounters> vlan_counters(Datapath &dp);

} // namespace xb
