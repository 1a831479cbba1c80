// SPDX-License-Identifier: BSD-2-Clause
// Port policy (bpf/policy.h): the allowed source addresses of a port (nwfilter's
// clean-traffic), its ingress policer, its BPDU guard and RA guard; and the per-MAC move counts the
// controller reports flapping from. Parsing is free of system calls (unit-tested);
// the operations change a bridge's maps and roll back what they did on failure. The
// caller holds the bridge lock.
#pragma once

#include "datapath.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <xbridge/abi.h>

namespace xb {

// `rate-limit RATE [burst N]`. RATE as tc writes rates - bit, kbit, mbit, gbit (bits per
// second, powers of 1000); bps, kbps, mbps, gbps (bytes per second) - or frames per
// second: pps, kpps, mpps. The burst is in frames for pps, else in bytes, with an
// optional k or m (1024, as tc's sizes); without one, a tenth of a second of the rate.
struct RateLimit {
    uint32_t rate = 0;  // frames or bytes per second
    uint32_t burst = 0; // frames or bytes
    bool bytes = false;
    bool operator==(const RateLimit &) const = default;
};
// Throws xb::Error (EINVAL) naming what is wrong.
RateLimit parse_rate_limit(std::string_view rate, std::optional<std::string_view> burst);
// "1000pps burst 100", "10mbit burst 64k": what `port set` takes back.
std::string format_rate_limit(const RateLimit &r);
std::optional<RateLimit> port_rate_limit(const xb_port &p);

struct AllowedIps {
    std::vector<std::array<uint8_t, 4>> v4;
    std::vector<std::array<uint8_t, 16>> v6;
    bool empty() const { return v4.empty() && v6.empty(); }
    bool operator==(const AllowedIps &) const = default;
};
// "10.77.0.101,fd77::101", or "none" (empty). Throws xb::Error for an address that is
// not one, a network, a multicast, unspecified or link-local address.
AllowedIps parse_allowed_ips(std::string_view list);
std::string format_allowed_ips(const AllowedIps &a); // "none" when empty

// The operations. Each names the port as `port set` does.
void set_port_rate_limit(Datapath &dp, const std::string &port, std::optional<RateLimit> r);
void set_port_allowed_ips(Datapath &dp, const std::string &port, const AllowedIps &ips);
AllowedIps port_allowed_ips(const Datapath &dp, uint32_t slot);
void set_port_policy_flag(Datapath &dp, const std::string &port, uint32_t flag, bool on);
// `ra-guard on|off`. On: the port's router advertisements and redirects are refused,
// with or without allowed-ip. Off: routers may sit behind the port, even with allowed-ip
// (which turns the guard on by itself otherwise).
void set_port_ra_guard(Datapath &dp, const std::string &port, bool on);
// Whether the RA guard covers the port (bpf/policy.h's xb_ra_guarded).
bool port_ra_guarded(const xb_port &p);
// Unblocks a port its BPDU guard blocked. Returns whether it was blocked.
bool reset_bpdu_guard(Datapath &dp, const std::string &port);
// The port's BPDU guard state when it is blocked.
std::optional<xb_policy_state> port_blocked(const Datapath &dp, uint32_t slot);
// Forgets a slot's addresses, block and policer state: a port leaving the bridge
// (an absent port keeps them for its return).
void clear_port_policy(Datapath &dp, uint32_t slot);

struct MacFlap {
    xb_fdb_key key;
    xb_mac_flap flap;
};
std::vector<MacFlap> read_mac_flaps(const Datapath &dp);

} // namespace xb
