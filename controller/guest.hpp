// SPDX-License-Identifier: BSD-2-Clause
// A libvirt guest's taps on xbridge: made and attached when the guest is prepared,
// detached and deleted when it is released (the libvirt hook, `xbridge libvirt-hook`).
#pragma once

#include "libvirt.hpp"
#include "netlink.hpp"

#include <string>
#include <vector>

namespace xb {

// For each interface of the domain that is xbridge's - named by the domain's metadata,
// or a `guest = true` port of a bridge's file in config_dir() - makes its tap
// (multi-queue when the domain asks for queues, with the domain's MTU) and attaches it
// to its bridge with its flags, marked XB_CTL_GUEST. An interface already a port of its
// bridge (a port of the file that apply made) is checked, not changed. All or nothing:
// a failure detaches and deletes what this call made. Returns what it did, one line
// each. The caller holds a BridgeLock.
std::vector<std::string> guest_prepare(const GuestDomain &dom, Netlink &nl);

// Detaches the domain's guest ports (XB_CTL_GUEST) from whichever bridge has them and
// deletes the taps xbridge made. Ports of a bridge's file that apply made stay.
std::vector<std::string> guest_release(const GuestDomain &dom, Netlink &nl);

} // namespace xb
