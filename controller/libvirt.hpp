// SPDX-License-Identifier: BSD-2-Clause
// What a libvirt domain's XML says about its xbridge ports: the interfaces
// `<interface type='ethernet'><target dev='X' managed='no'/>` (a tap libvirt opens but
// does not make) and the domain's <metadata> in the xbridge namespace (kLibvirtNs):
//
//   <metadata>
//     <xbridge:guest xmlns:xbridge="urn:xbridge:libvirt:1" bridge="xbr0">
//       <xbridge:port dev="vm1-0" locked="yes" isolated="yes" storm-limit="1000"/>
//     </xbridge:guest>
//   </metadata>
//
// Pure (the XML is a string), so it is unit-tested; the hook (guest.hpp) acts on it.
#pragma once

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
    // From the metadata: the bridge (the port's, else the guest's), and the port's
    // flags when it sets any (the rest at their defaults).
    std::optional<std::string> bridge;
    std::optional<uint32_t> flags;
    std::optional<uint32_t> storm_pps;
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
