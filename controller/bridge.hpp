// SPDX-License-Identifier: BSD-2-Clause
// Bridge-level operations: up (create or extend), down, and the port lifecycle. Each
// operation either completes or undoes what it did.
#pragma once

#include "datapath.hpp"
#include "netlink.hpp"
#include "options.hpp"
#include "tap.hpp"

#include <csignal>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace xb {

constexpr const char *kDefaultBridge = "xbr0";

// What one port gets when it is added: its flags and storm limit, and the tap made for
// it when its device does not exist (apply, the libvirt hook: each port its own).
struct PortSpec {
    std::optional<TapOwner> tap_owner; // unset: UpOptions::tap_owner
    std::optional<unsigned> tap_queues;
    std::optional<uint32_t> tap_mtu;
    uint32_t flags = XB_PORT_DEFAULT_FLAGS;
    uint32_t storm_pps = 0;
    uint32_t ctl = 0; // XB_CTL_GUEST
};

struct UpOptions {
    std::string name = kDefaultBridge;
    std::vector<std::string> ports;
    std::optional<std::string> uplink; // "none", a device, or unset (first port)
    XdpMode xdp_mode = XdpMode::Auto;
    TapOwner tap_owner;
    unsigned tap_queues = 1; // taps this call creates: 1 single-queue, more multi-queue
    uint32_t fdb_max = XB_FDB_DEFAULT_MAX;
    uint32_t max_ports = XB_DEFAULT_MAX_PORTS;
    std::optional<uint32_t> ageing_sec;
    std::optional<uint32_t> max_learned;
    bool vlan_filtering = false;     // a new bridge filters VLANs (`set vlan-filtering` later)
    uint16_t vlan_protocol = 0x8100; // and its tag protocol
    // The options given that only shape a new bridge (--fdb-size, ...): refused for a
    // bridge that exists rather than silently ignored.
    std::vector<std::string> new_bridge_only;
    // Per port, by name; a port without one gets the defaults above.
    std::map<std::string, PortSpec> specs;
    // A new bridge may have no ports yet (apply: guests' taps come with the guests).
    bool create_empty = false;
};

struct UpResult {
    bool created_bridge = false;
    std::vector<std::string> added;   // ports attached by this call
    std::vector<std::string> created; // taps created by this call
    std::vector<std::string> present; // ports that were already in the bridge
};

// A stack of undo steps run in reverse on destruction unless committed: what a
// failed operation did is rolled back, in the opposite order.
class Undo {
  public:
    Undo() = default;
    Undo(const Undo &) = delete;
    Undo &operator=(const Undo &) = delete;
    ~Undo();
    void push(std::function<void()> step) { steps_.push_back(std::move(step)); }
    void commit() { steps_.clear(); }

  private:
    std::vector<std::function<void()>> steps_;
};

// Serialises the commands that change bridges (flock on the pin root): two `fdb add`s,
// an `up` while `down` runs, the controller dropping a vanished port. A command (Mode::
// Wait) that holds it defers SIGINT, SIGTERM and SIGHUP until it lets go: it finishes or
// rolls back first.
class BridgeLock {
  public:
    enum class Mode { Wait, Try };
    explicit BridgeLock(Mode mode = Mode::Wait);
    BridgeLock(const BridgeLock &) = delete;
    BridgeLock &operator=(const BridgeLock &) = delete;
    ~BridgeLock();
    bool held() const { return bool(fd_) || borrowed_here_; }
    // In a child forked while the lock is held: closes the child's copy, so the lock
    // stays the parent's and goes when the parent is done. With `borrow`, the parent
    // waits for the child meanwhile (the daemon controller's start: `up` holds the lock
    // until the controller is ready), and the child's own locks count as held, at once,
    // until end_borrow: it works under its parent's lock.
    static void close_inherited(bool borrow = false);
    static void end_borrow();

  private:
    UniqueFd fd_;
    bool made_root_ = false;        // this lock created the pin root (removed again if left empty)
    bool deferred_signals_ = false; // SIGINT, SIGTERM, SIGHUP wait while a command holds it
    bool borrowed_here_ = false;    // held through the parent's lock (close_inherited)
    sigset_t old_mask_{};
    static int held_fd_;
    static bool borrowed_;
};

// Network namespace identity (inode of /proc/self/ns/net).
uint64_t current_netns();

// Opens bridge `name` of this network namespace, or throws a clear error. With
// allow_orphan, also a bridge whose network namespace no longer exists.
Datapath open_bridge(const std::string &name, bool allow_orphan = false);
// Whether network namespace `ino` is still held by anything but xbridge's own processes
// (a bind mount under /run/netns, another process in it).
bool netns_alive(uint64_t ino);

// Creates bridge opts.name or adds ports to it. The caller holds a BridgeLock. With no
// ports, only checks that the bridge exists (to adopt it). `finish`, when given, runs
// last (the caller starts the controller there): if it throws, everything this call did
// is undone too.
UpResult bridge_up(const UpOptions &opts, Netlink &nl,
                   const std::function<void(Datapath &)> &finish = {});

// Stops the controller, detaches every port, restores what up changed and removes
// the pins. Devices that vanished meanwhile are skipped. The caller holds a BridgeLock.
void bridge_down(const std::string &name, Netlink &nl);

// Takes one port out of the bridge, undoing what adding it did. When `device_gone`,
// only the bridge's own state is cleaned (the netdev and its hooks are gone).
void remove_port(Datapath &dp, uint32_t slot, Netlink &nl, bool device_gone);

// Re-attaches a device that returned under the name of an absent port (its slot and
// flags). Returns false when no absent port has that name. The caller holds the lock.
bool readd_port(Datapath &dp, Netlink &nl, const LinkInfo &li);
void forget_absent_ports(Datapath &dp);

// A bridge with an uplink has a host pair, a veth pair named xbh<uplink ifindex> and
// xbh<uplink ifindex>p, through which XDP floods give the host its copy (abi.h:
// xb_config.host_ifindex). host_pair: the first end's name, nullopt when the bridge has
// none (no uplink, or the pair was deleted: floods then give the host its copy at TC).
std::optional<std::string> host_pair(Datapath &dp);
// Makes the host pair again when it was deleted; returns whether it did. The caller
// holds the lock.
bool restore_host_pair(Datapath &dp, Netlink &nl);

// Brings a port's operational state into the bridge: the UP flag (for status), its
// name and MTU, and the bridge's XDP length limit. A port that went down has its learned
// entries flushed. The caller holds the lock.
struct PortSync {
    bool was_up = false; // the UP flag before
    bool up = false;     // and now
    size_t flushed = 0;  // learned entries flushed because the port went down
};
PortSync sync_port(Datapath &dp, uint32_t slot, const LinkInfo &li);
void update_xdp_max_len(Datapath &dp);

// Every address the host owns on the uplink is delivered to it: the uplink's secondary
// unicast addresses (Netlink::unicast_addresses: a macvlan or macvtap on it, keepalived's
// VRRP MAC) are local entries on the uplink, like its own address, as the kernel bridge
// makes `self` addresses of a port local. `had`: the addresses the last call left as
// entries, or nullopt to find them in the FDB (local entries on the uplink for an address
// that is no port's own). Entries for addresses gone from the list go. The caller holds
// the lock.
struct HostAddrSync {
    std::vector<Mac> now; // the addresses that are local entries on the uplink now
    std::vector<Mac> added, removed;
};
HostAddrSync sync_host_addresses(Datapath &dp, Netlink &nl,
                                 const std::optional<std::vector<Mac>> &had);
// A port is in a flood map when it has that flood flag and takes XDP redirects.
void update_flood_maps(Datapath &dp, uint32_t slot, const xb_port &p);
// Whether a port takes XDP redirects now, from its XDP features (nullopt: a kernel that
// cannot say) and whether it is shaped (Netlink::shaped: a qdisc someone installed); a
// port that does not is in no devmap, and frames for it take the TC path (for a shaped
// port, through its qdisc). Returns whether that changed. The caller holds the lock.
bool update_xdp_target(Datapath &dp, uint32_t slot, std::optional<uint64_t> xdp_features,
                       bool shaped);
// Counts the ports that take no XDP redirects into the config (xb_config.n_no_xdp_tx).
void update_no_xdp_tx_count(Datapath &dp);

// Port flags by their `bridge link` names (learning, flood, mcast-flood, bcast-flood,
// locked); nullopt for an unknown name.
std::optional<uint32_t> parse_port_flag(const std::string &name);
void set_port_flag(Datapath &dp, const std::string &port, uint32_t flag, bool on);
// The port's storm limit: frames per second (per CPU) it may bring in for flooding
// (broadcast, multicast, unknown unicast); 0 lifts it.
void set_port_storm_limit(Datapath &dp, const std::string &port, uint32_t pps);

// Loads a datapath object (the built-in one, or a file) on the bridge's maps and
// switches every port to its programs, each hook in one step (bpf_link_update, cls_bpf
// replace): frames keep flowing, the FDB and counters stay. Rolls back on failure.
// Returns the number of ports switched. The caller holds the lock.
size_t bridge_upgrade(Datapath &dp, const std::optional<std::string> &object);

// Stops the controller process of a bridge, if one runs. Returns whether one ran.
bool stop_controller(Datapath &dp);
bool controller_alive(const Datapath &dp);

} // namespace xb
