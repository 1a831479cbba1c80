// SPDX-License-Identifier: BSD-2-Clause
// Attaching the datapath to a port: XDP through a pinned bpf_link, TC through a
// cls_bpf filter on clsact. Only what xbridge created is destroyed on detach (the
// clsact qdisc is removed only when xbridge added it, as libbpf-bootstrap's tc.c).
#pragma once

#include "options.hpp"

#include <cstdint>
#include <string>

namespace xb {

// Fixed handle and priority of xbridge's cls_bpf filters: priority 1 runs first.
constexpr uint32_t kTcHandle = 0x7862;
constexpr uint32_t kTcPriority = 1;

// The id of the XDP program attached to ifindex in any mode, 0 if none.
uint32_t xdp_attached_prog(int ifindex);

// Attaches prog_fd to ifindex in the driver's native mode with an XDP bpf_link pinned
// at `pin`. Auto attaches nothing where the driver has no native XDP, None nothing at
// all: the TC hook takes such a port's frames. Returns the mode obtained
// (XB_XDP_NATIVE / XB_XDP_NONE).
uint8_t xdp_attach(int prog_fd, int ifindex, const std::string &ifname, XdpMode mode,
                   const std::string &pin);
// Detaches the link pinned at `pin` (if any) and removes the pin.
void xdp_detach(const std::string &pin);

enum class TcDir { Ingress, Egress };
// Attaches prog_fd as xbridge's filter; returns true when it had to create clsact.
bool tc_attach(int ifindex, const std::string &ifname, TcDir dir, int prog_fd);
// Replaces the program of xbridge's filter in one step (cls_bpf change): the hook
// never runs without one.
void tc_replace(int ifindex, const std::string &ifname, TcDir dir, int prog_fd);
// Switches the XDP link pinned at `pin` to prog_fd in one step.
void xdp_replace(const std::string &pin, const std::string &ifname, int prog_fd);
// Removes xbridge's filter (no error if it is gone with its device).
void tc_detach(int ifindex, TcDir dir);
void tc_destroy_clsact(int ifindex);

} // namespace xb
