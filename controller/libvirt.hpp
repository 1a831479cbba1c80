// SPDX-License-Identifier: BSD-2-Clause
// What a libvirt domain's XML says about its xbridge ports: the interfaces
// `<interface type='ethernet'><target dev='X' managed='no'/>` (a tap libvirt opens but
// does not make) and the domain's <metadata> in the xbridge namespace (kLibvirtNs):
//
//   <metadata>
//     <xbridge:guest xmlns:xbridge="urn:xbridge:libvirt:1" bridge="xbr0">
//       <xbridge:port dev="vm1-0" vlan="10" locked="yes" isolated="yes" storm-limit="1000"
//                     rate-limit="10mbit" allowed-ip="10.0.0.5,fd00::5" bpdu-guard="yes"/>
//     </xbridge:guest>
//   </metadata>
//
// Pure (the XML is a string), so it is unit-tested; the hook (guest.hpp) acts on it.
#pragma once

#include "config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xb {

constexpr const char *kLibvirtNs = "urn:xbridge:libvirt:1";

struct GuestInterface {
    std::string dev;             // <target dev>
    bool unmanaged = false;      // <target managed='no'>: the tap is made for libvirt
    std::string model;           // <model type>, for messages
    unsigned queues = 1;         // <driver queues>: more than 1 wants a multi-queue tap
    std::optional<uint32_t> mtu; // <mtu size>
    // From the metadata: the bridge (the port's, else the guest's), and what the port
    // sets, each overriding the bridge file's port of that name (flags as a whole: the
    // defaults with the ones the metadata names changed).
    std::optional<std::string> bridge;
    std::optional<uint32_t> flags;
    std::optional<uint32_t> storm_pps;
    std::optional<std::vector<VlanConfig>> vlans; // vlan="N" (access) or vlans="..."
    std::optional<RateLimit> rate_limit;
    std::optional<AllowedIps> allowed_ips;
    bool in_metadata = false; // an <xbridge:port> names it
};

struct GuestDomain {
    std::string name;
    std::vector<GuestInterface> interfaces; // type='ethernet' with a target dev
};

// Parses a domain's XML (as libvirt hands it to a hook). Throws Error with one line
// for XML that does not parse or metadata that is wrong.
GuestDomain parse_domain(std::string_view xml);

} // namespace xb
