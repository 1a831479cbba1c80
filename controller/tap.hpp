// SPDX-License-Identifier: BSD-2-Clause
// Persistent TAP devices for guests, as `ip tuntap add mode tap` makes them: IFF_TAP |
// IFF_NO_PI, single queue, so QEMU opens them with
// `-netdev tap,ifname=NAME,script=no,downscript=no` (with or without vnet_hdr).
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>

namespace xb {

struct TapOwner {
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
};

// Creates a persistent tap named `name` in the current network namespace.
void create_tap(const std::string &name, const TapOwner &owner);

// Resolves --tap-user / --tap-group (a name or a number).
uid_t resolve_user(const std::string &s);
gid_t resolve_group(const std::string &s);

} // namespace xb
