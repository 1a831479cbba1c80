// SPDX-License-Identifier: BSD-2-Clause
// `apply`: converges a bridge to its configuration file, and the reverse, a running
// bridge as a configuration (`status --config`).
#pragma once

#include "bridge.hpp"
#include "config.hpp"
#include "metrics.hpp"

#include <functional>
#include <string>
#include <vector>

namespace xb {

struct ApplyResult {
    bool created_bridge = false;
    std::vector<std::string> changes; // one line each, in the order they were made
};

// Makes bridge cfg.name what cfg says: creates it (as `up`), or on a running bridge adds
// and removes ports and changes flags, storm limits, tap MTUs, static FDB entries, the
// ageing time, the learning cap and the metrics address, touching nothing else (a port
// whose settings do not change keeps forwarding throughout). What the system refuses
// (a device that does not exist, an unknown user, a setting that only shapes a new
// bridge) is found before anything changes and named with the file's line; a failure
// while changing rolls back everything done. `finish` runs last, inside the transaction
// (the caller starts a controller there; with `starts_controller` it has bound the
// metrics address itself). The caller holds a BridgeLock.
ApplyResult bridge_apply(const BridgeConfig &cfg, Netlink &nl, bool starts_controller,
                         const std::function<void(Datapath &)> &finish = {});

// The metrics address a configuration asks for (the default when it names none).
MetricsAddr config_metrics(const BridgeConfig &cfg);

// The running bridge as a configuration that bridge_apply takes without a change.
BridgeConfig bridge_config(Datapath &dp, Netlink &nl);

// Writes one kBridgeSettings value (parse_setting's) on a running bridge as apply does:
// `xbridge set` goes through it too, so both write the same bits and do the same work
// around them (vlan-filtering prepares the ports, mcast-snooping off forgets the MDB).
void write_bridge_setting(Datapath &dp, const BridgeSetting &st, uint32_t value);

// The learning cap of a running bridge, for apply and `xbridge set`: n learned entries,
// or as many as the FDB holds for 0 or more than that (never into the entries kept for
// static ones).
void set_max_learned(Datapath &dp, uint32_t n);
// The most learned entries the bridge's FDB holds: the largest cap of its own.
uint32_t max_learned_limit(const Datapath &dp);

// The XB_PORT_* bits a configuration sets (kPortFlagKeys).
uint32_t config_flag_mask();

// Makes a present port's VLANs, rate limit and allowed addresses what `want` says, each
// only where it differs (the flags and the storm limit are the port's PortSpec, or
// apply's): the libvirt hook's for a guest's tap, apply's for every port. `undo` gets the
// way back. Returns what changed, one line each ("vlans 10 pvid untagged").
std::vector<std::string> converge_port_settings(Datapath &dp, const SlotPort &sp,
                                                const PortSettings &want, Undo &undo);

} // namespace xb
