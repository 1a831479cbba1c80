/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The maps shared by every xbridge program. Sizes given here are defaults: the
 * controller sets the FDB's size before load and pins every map under
 * /sys/fs/bpf/xbridge/NAME, so a restarted controller or a new datapath object
 * adopts them instead of starting empty. */
#ifndef XB_MAPS_H
#define XB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xbridge/abi.h>

/* MAC+VLAN → port. Preallocated (sized by `up --fdb-size`): learning a MAC takes an
 * element from a free list instead of allocating, and deleting gives it back, which
 * makes ageing a million entries several times faster than with BPF_F_NO_PREALLOC. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, struct xb_fdb_key);
    __type(value, struct xb_fdb_val);
    __uint(max_entries, XB_FDB_DEFAULT_MAX + XB_FDB_STATIC_RESERVE);
} fdb SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, struct xb_fdb_cache_ent);
    __uint(max_entries, XB_FDB_CACHE_SIZE);
} fdb_cache SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, struct xb_flow_ent);
    __uint(max_entries, XB_FLOW_CACHE_SIZE);
} flow_cache SEC(".maps");

/* slot → port (policy + controller bookkeeping). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, struct xb_port);
    __uint(max_entries, XB_MAX_PORTS);
} ports SEC(".maps");

/* ifindex → slot (0: not a port), for the port a frame came in on: an array, so the
 * lookup on every frame is an inlined index instead of a hash. ifindexes grow without
 * bound as devices come and go; the few beyond the array go to port_index_hi. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, __u32);
    __uint(max_entries, XB_IFINDEX_DIRECT);
} port_index SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, __u32);
    __type(value, __u32);
    __uint(max_entries, XB_MAX_PORTS);
} port_index_hi SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __type(key, __u32);
    __type(value, struct xb_config);
    __uint(max_entries, 1);
} config SEC(".maps");

/* The storm guard's token buckets, per port and per CPU (storm.h): no atomics, and a
 * bucket written only by the floods of a port with a storm limit. Holds
 * no state worth keeping: a bridge made before it gets it empty. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, struct xb_storm_bucket);
    __uint(max_entries, XB_MAX_PORTS);
} storm SEC(".maps");

/* VLAN filtering (vlan.h): membership and untagged egress per VID, as bitmaps of port
 * slots (abi.h: struct xb_vlan); and per-VLAN counters, per CPU. Read only while the
 * config's XB_CFG_VLAN_FILTERING is on. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, struct xb_vlan);
    __uint(max_entries, XB_VLAN_N);
} vlan_members SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, struct xb_vlan_stats);
    __uint(max_entries, XB_VLAN_N);
} vlan_stats SEC(".maps");
/* Port policy (policy.h). The allowed source addresses of ports with
 * XB_PORT_SPOOF_CHECK, by slot and address. */
#define XB_POLICY_MAX_IPS 4096
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, struct xb_policy_ip4_key);
    __type(value, __u8);
    __uint(max_entries, XB_POLICY_MAX_IPS);
} policy_ip4 SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, struct xb_policy_ip6_key);
    __type(value, __u8);
    __uint(max_entries, XB_POLICY_MAX_IPS);
} policy_ip6 SEC(".maps");

/* Whether a port is blocked by its BPDU guard, by slot: written by the datapath, cleared
 * by `port set PORT bpdu-guard reset`. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, struct xb_policy_state);
    __uint(max_entries, XB_MAX_PORTS);
} policy_state SEC(".maps");

/* The policer's theoretical arrival time (GCRA), by slot, shared by every CPU: a
 * policer that let each CPU have the whole rate would pass a multiple of it. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, XB_MAX_PORTS);
} policy_rate SEC(".maps");

/* FDB moves per MAC, for the controller's flapping report. LRU: a flood of moving MACs
 * pushes out the oldest, never blocks learning. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __type(key, struct xb_fdb_key);
    __type(value, struct xb_mac_flap);
    __uint(max_entries, 4096);
} policy_flap SEC(".maps");

/* Per-port, per-CPU counters: no atomics, no shared cache lines on the fast path. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, struct xb_port_stats);
    __uint(max_entries, XB_MAX_PORTS);
} stats SEC(".maps");

/* Redirect targets, arrays keyed by port slot and sized by `up --max-ports`: an index
 * for known unicast, and a short walk for a broadcast (which visits every element of
 * the map). tx_ports holds every port and serves known unicast (tx is counted at
 * ingress, where the target is known). The flood_* maps hold the ports that take that
 * class of flood, each entry with the devmap egress program that counts its copy. */
#define XB_DEVMAP(name)                                                                            \
    struct {                                                                                       \
        __uint(type, BPF_MAP_TYPE_DEVMAP);                                                         \
        __type(key, __u32);                                                                        \
        __type(value, struct bpf_devmap_val);                                                      \
        __uint(max_entries, XB_MAX_PORTS);                                                         \
    } name SEC(".maps")

XB_DEVMAP(tx_ports);
XB_DEVMAP(flood_ucast);
XB_DEVMAP(flood_mcast);
XB_DEVMAP(flood_bcast);

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} trace_rb SEC(".maps");

/* Copies the devmap egress program held back (multicast snooping, VLAN filtering, a
 * blocked port), per CPU and slot, since the devmap's last flush: the kernel reports them
 * as drops of the flush (xdp_devmap_xmit), which must not count them as such
 * (devmap_xmit.h). (Named for the first of them.) */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, XB_MAX_PORTS);
} mdb_filtered SEC(".maps");

/* A copy for port `slot` held back by the devmap egress program. The host pair is no
 * port: the drop counter does not look at it. */
static __always_inline void xb_copy_held(__u32 slot) {
    __u64 *held;

    if (slot == XB_HOST_SLOT)
        return;
    held = bpf_map_lookup_elem(&mdb_filtered, &slot);
    if (held)
        (*held)++;
}

#endif
