// SPDX-License-Identifier: BSD-2-Clause
// Persistent TAP devices for guests, as `ip tuntap add mode tap [multi_queue]` makes
// them: IFF_TAP | IFF_NO_PI, so QEMU opens them with
// `-netdev tap,ifname=NAME,script=no,downscript=no` (with or without vnet_hdr); with
// several queues also IFF_MULTI_QUEUE | IFF_VNET_HDR, for `queues=N,vhost=on`.
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>

namespace xb {

struct TapOwner {
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
};

// The most queues a tap takes (the kernel's MAX_TAP_QUEUES).
constexpr unsigned kMaxTapQueues = 256;

// Creates a persistent tap named `name` in the current network namespace: single-queue
// for queues == 1, else multi-queue (up to kMaxTapQueues: the kernel fixes no number,
// QEMU attaches as many as its queues=).
void create_tap(const std::string &name, const TapOwner &owner, unsigned queues = 1);

// Resolves --tap-user / --tap-group (a name or a number).
uid_t resolve_user(const std::string &s);
gid_t resolve_group(const std::string &s);

} // namespace xb
