// SPDX-License-Identifier: BSD-2-Clause
// The datapath's kernel objects of one bridge: maps and programs, loaded from the
// embedded skeleton or opened from their pins under /sys/fs/bpf/xbridge/NAME. The
// pins are the bridge's whole persistent state (the port table map holds what the
// controller must undo on down), so a restarted controller adopts a running bridge.
#pragma once

#include "bpffs.hpp"
#include "fd.hpp"

#include <xbridge/abi.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xb {

enum class MapId {
    Fdb,
    FdbCache,
    FlowCache,
    Ports,
    PortIndex,
    PortIndexHi,
    Config,
    Stats,
    TxPorts,
    FloodUcast,
    FloodMcast,
    FloodBcast,
    TraceRb,
    Storm,
    VlanMembers,
    VlanStats,
    PolicyIp4,
    PolicyIp6,
    PolicyState,
    PolicyRate,
    PolicyFlap,
    CaptureCfg,
    CapturePb,
    MdbGroup,
    Mdb,
    MdbRouter,
    MdbRb,
    MdbFiltered,
    Count
};
// DevmapXmit and RedirectErr are optional: they need the kernel's BTF (tp_btf), and their
// fds are -1 without (RedirectErr also on a bridge made before it existed).
enum class ProgId {
    XdpIngress,
    TcIngress,
    TcEgress,
    DevmapTx,
    DevmapXmit,
    FdbSweep,
    XdpHost,
    TcHost,
    RedirectErr,
    Count
};

const char *map_name(MapId id);
const char *prog_name(ProgId id);

// The mmapped config map element: shared with the datapath, updated in place.
class ConfigView {
  public:
    ConfigView() = default;
    explicit ConfigView(int map_fd);
    ConfigView(ConfigView &&o) noexcept;
    ConfigView &operator=(ConfigView &&o) noexcept;
    ConfigView(const ConfigView &) = delete;
    ConfigView &operator=(const ConfigView &) = delete;
    ~ConfigView();
    xb_config *operator->() const { return cfg_; }
    xb_config &operator*() const { return *cfg_; }

  private:
    xb_config *cfg_ = nullptr;
};

struct SlotPort {
    uint32_t slot;
    xb_port port;
};

class Datapath {
  public:
    // Loads the programs into the kernel with an FDB for `fdb_max` dynamic entries and
    // devmaps for `max_ports` ports, and pins maps and programs under pin_dir(bridge),
    // which must not exist yet.
    static Datapath create(const std::string &bridge, uint32_t fdb_max, uint32_t max_ports);
    // Opens the pinned objects of an existing bridge; nullopt when it does not exist.
    // maps_only: a missing program pin is no error (taking a half-made bridge down).
    static std::optional<Datapath> open(const std::string &bridge, bool maps_only = false);
    static bool exists(const std::string &bridge);

    // Removes every pin (maps, programs, links) and the bridge's directory.
    void unpin_all();

    // Loads the programs of a datapath object (the built-in one, or a file) on this
    // bridge's maps, for an upgrade; nothing is attached yet. A flow cache of another
    // layout than the object's is not reused: the programs get a new, empty one, pinned
    // with them by replace_programs (it holds nothing the programs do not refill).
    std::array<UniqueFd, static_cast<size_t>(ProgId::Count)>
    load_programs(const std::optional<std::string> &object);
    // Makes `progs` this bridge's programs: re-pins them (each pin replaced in one
    // step) and uses them from now on. Attachments are the caller's to switch.
    void replace_programs(std::array<UniqueFd, static_cast<size_t>(ProgId::Count)> progs);
    // Opens the pinned programs again: another process's `upgrade` re-pinned them, and what
    // this one attaches or runs from now on must be the new ones. A pin that cannot be
    // opened (the bridge going down) keeps the program held.
    void reload_programs();

    const std::string &name() const { return name_; }
    const std::string &dir() const { return dir_; }
    // Whether this bridge is still the one pinned under its name (not taken down, nor
    // taken down and made again).
    bool still_pinned() const;
    int map(MapId id) const { return maps_[static_cast<size_t>(id)].get(); }
    int prog(ProgId id) const { return progs_[static_cast<size_t>(id)].get(); }
    ConfigView &config() { return cfg_; }
    uint32_t fdb_capacity() const;

    // Port table.
    std::optional<xb_port> port(uint32_t slot) const;
    void set_port(uint32_t slot, const xb_port &p);
    void clear_port(uint32_t slot);
    std::vector<SlotPort> ports() const;
    std::optional<SlotPort> port_by_ifindex(uint32_t ifindex) const;
    std::optional<SlotPort> port_by_name(const std::string &name) const;
    // The port named `name`, or an error naming the bridge.
    SlotPort require_port(const std::string &name) const;
    std::optional<uint32_t> free_slot() const;
    // Ports whose device vanished, kept to be re-attached when it returns.
    std::vector<SlotPort> absent_ports() const;

    // Devmaps (keyed by slot): `with_counter` installs the devmap egress program that
    // counts copies.
    void devmap_set(MapId map, uint32_t slot, uint32_t ifindex, bool with_counter);
    void devmap_del(MapId map, uint32_t slot);

    // Retires what the datapath's per-CPU FDB and flow caches hold: FDB entries moved or
    // went, or a port changed.
    void fdb_changed();

    // Per-port counters summed over CPUs.
    xb_port_stats port_stats(uint32_t slot) const;

    std::string link_pin(uint32_t ifindex) const;

    // Attaches the devmap-drop counter to its tracepoint (pinned link), replacing the
    // one attached before, if any. A no-op where the program could not be loaded.
    void attach_drop_counter();

  private:
    Datapath() = default;
    int index_map(uint32_t ifindex) const;
    std::string name_, dir_;
    std::array<UniqueFd, static_cast<size_t>(MapId::Count)> maps_;
    std::array<UniqueFd, static_cast<size_t>(ProgId::Count)> progs_;
    UniqueFd new_flow_cache_; // load_programs' flow cache, for replace_programs to pin
    ConfigView cfg_;
};

} // namespace xb
