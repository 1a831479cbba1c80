// SPDX-License-Identifier: BSD-2-Clause
// FDB access from the controller: streaming iteration in batches (a million entries
// are never held at once), ageing sweeps, flushes.
#pragma once

#include "datapath.hpp"
#include "mac.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace xb {

struct FdbEntry {
    xb_fdb_key key;
    xb_fdb_val val;
};

// CLOCK_MONOTONIC_COARSE, the clock bpf_ktime_get_coarse_ns() reads.
uint64_t monotonic_coarse_ns();

// Calls fn for every entry, reading `chunk` entries per system call.
void fdb_for_each(const Datapath &dp, const std::function<void(const FdbEntry &)> &fn,
                  uint32_t chunk = 4096);

// Deletes the given keys; returns how many were deleted. Keys gone meanwhile are skipped.
size_t fdb_delete(Datapath &dp, const std::vector<xb_fdb_key> &keys);

// Deletes the entries pred selects, keeping the learned-entry count right; returns the
// number removed.
size_t fdb_remove_if(Datapath &dp, const std::function<bool(const FdbEntry &)> &pred);

// Deletes the entries of port ifindex: dynamic ones, and static/local too when asked.
size_t fdb_flush_port(Datapath &dp, uint32_t ifindex, bool include_static);

// One ageing sweep at time now_ns (the datapath's clock, or a test's fake one): removes
// the dynamic entries last seen more than the bridge's ageing time before now_ns (0:
// never). Runs in the kernel (xb_fdb_sweep). Returns the number removed.
size_t fdb_sweep(Datapath &dp, uint64_t now_ns);

// Lowers the learned-entry count after the controller deleted n dynamic entries.
void fdb_forget(Datapath &dp, uint64_t n);

// What fdb_put did.
struct FdbPut {
    bool written = false;               // val is the entry now
    std::optional<xb_fdb_val> replaced; // the entry val replaced
};

// Writes val under key while the datapath may learn the same key at any moment: inserts
// it if absent; an entry that is there is shown to `keep`, which returns true to leave it
// as it is (or throws to refuse), else it is replaced - a learned one taking the learned
// count down. `what` names the entry in errors ("the local FDB entry of tap0").
FdbPut fdb_put(Datapath &dp, const xb_fdb_key &key, const xb_fdb_val &val, const std::string &what,
               const std::function<bool(const xb_fdb_val &)> &keep);

// Adds a static entry for mac/vlan on port (ifindex, slot): replaces a learned entry,
// is a no-op for the same static entry, and refuses a local address or a static entry
// on another port. Throws xb::Error with nothing changed.
void fdb_add_static(Datapath &dp, const Mac &mac, uint16_t vlan, uint32_t ifindex, uint32_t slot);
// Deletes the dynamic or static entry of mac/vlan; refuses a local entry.
void fdb_del(Datapath &dp, const Mac &mac, uint16_t vlan);
// Flushes dynamic entries, and static ones unless dynamic_only, of one port or all.
// Local entries stay: they are the ports' own addresses. Returns the number removed.
size_t fdb_flush(Datapath &dp, std::optional<uint32_t> ifindex, bool dynamic_only);

} // namespace xb
