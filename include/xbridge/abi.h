/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every struct and enum that crosses the user/kernel line. Included by the BPF
 * programs and by the controller. Fixed-width __uN types only, explicit padding,
 * no bool, no pointers. Enums that name counters and drop reasons only grow:
 * never renumber or reuse a value (dashboards and saved scrapes depend on them).
 */
#ifndef XBRIDGE_ABI_H
#define XBRIDGE_ABI_H

#include <linux/types.h>

#ifdef __cplusplus
#define XB_STATIC_ASSERT static_assert
#else
#define XB_STATIC_ASSERT _Static_assert
#endif

#define XB_ABI_VERSION 3

/* Port slots index the per-port arrays. Slot 0 is the host pseudo-port: frames the
 * host sends into the bridge through the uplink's egress hook are counted there. */
#define XB_MAX_PORTS 256
#define XB_HOST_SLOT 0
#define XB_IFNAMSIZ 16
/* ifindexes below this are looked up in an array (map port_index), the rest in a hash
 * (port_index_hi). */
#define XB_IFINDEX_DIRECT 65536

/* Dynamic entries the FDB holds by default, and room kept beyond that for static
 * and local entries so that a full table of learned MACs never blocks the operator. */
#define XB_FDB_DEFAULT_MAX 65536u
#define XB_DEFAULT_MAX_PORTS 32
#define XB_FDB_STATIC_RESERVE 4096u

/* skb->mark value set on frames xbridge injects into a port's stack or transmit
 * path in the TC hooks, so that the same port's TC program lets them through
 * instead of switching them a second time. Cleared by the program that sees it. */
#define XB_SKB_MARK 0x78627231u /* "xbr1" */

/* Refresh a learned entry's timestamp at most this often (as br_fdb_update does
 * with jiffies): the datapath writes the FDB only when an entry is new, moved or
 * stale, never on every frame. */
#define XB_FDB_REFRESH_NS 1000000000ull

/* The FDB key has the kernel bridge's shape: MAC + VLAN (0 when untagged). */
struct xb_fdb_key {
    __u8 mac[6];
    __u16 vlan; /* host byte order */
};

enum xb_fdb_type {
    XB_FDB_DYNAMIC = 0, /* learned by the datapath, aged by the controller */
    XB_FDB_STATIC = 1,  /* added by the operator: never aged, never moved */
    XB_FDB_LOCAL = 2,   /* a port's own MAC: delivered to that port's host stack */
};

struct xb_fdb_val {
    __u32 ifindex; /* port the MAC lives behind */
    __u16 slot;    /* that port's slot */
    __u8 type;     /* enum xb_fdb_type */
    __u8 pad;
    __u64 updated_ns; /* CLOCK_MONOTONIC_COARSE when the source was last seen */
};

/* Per-port policy read by the datapath (after the kernel bridge's port flags). */
enum xb_port_flags {
    XB_PORT_LEARNING = 1u << 0,
    XB_PORT_FLOOD = 1u << 1,       /* unknown unicast is flooded to this port */
    XB_PORT_MCAST_FLOOD = 1u << 2, /* multicast is flooded to this port */
    XB_PORT_BCAST_FLOOD = 1u << 3, /* broadcast is flooded to this port */
    XB_PORT_LOCKED = 1u << 4,      /* only sources with a static entry here may send */
    XB_PORT_UPLINK = 1u << 5,      /* the host's port: keeps the host's addresses */
    XB_PORT_UP = 1u << 6,          /* operationally up (carrier), as the controller last saw
                                    * it: shown by status, never a forwarding condition */
    XB_PORT_ISOLATED = 1u << 7,    /* reaches only ports that are not isolated (and the host) */
    XB_PORT_HAIRPIN = 1u << 8,     /* frames may go back out of the port they came in on */
    /* Port policy (bpf/policy.h), after libvirt's nwfilter and a switch's port security.
     * Each is checked only on a port that has it set. */
    XB_PORT_SPOOF_CHECK = 1u << 9,   /* sources must be the port's allowed IPs (map policy_ip4,
                                      * policy_ip6): IPv4, ARP, IPv6 and NDP (clean-traffic) */
    XB_PORT_RATE_LIMIT = 1u << 10,   /* ingress policer: police_rate, police_burst */
    XB_PORT_BPDU_GUARD = 1u << 11,   /* an STP BPDU blocks the port (map policy_state) */
    XB_PORT_DHCP_SERVER = 1u << 12,  /* with SPOOF_CHECK: DHCP(v6) server replies allowed */
    XB_PORT_MCAST_ROUTER = 1u << 13, /* a multicast router is always behind this port (the
                                      * kernel's multicast_router 2): it gets every snooped
                                      * group, as a port where queries or PIM came from does */
    /* A tag may reach this port's XDP program stripped into the frame's metadata (a
     * veth's peer sends with tx-vlan offload; a NIC whose rx-vlan offload could not be
     * turned off), so a frame that looks untagged there is left to the TC hook, which
     * sees the tag (skb vlan_tci), with or without VLAN filtering. Set by the controller. */
    XB_PORT_VLAN_HIDDEN = 1u << 14,
    /* RA guard (RFC 6105), after a switch's "device-role host": IPv6 router advertisements
     * and redirects from this port are refused. On by itself (`ra-guard on`), and on every
     * port with SPOOF_CHECK unless RA_TRUSTED (`ra-guard off`): a guest whose addresses
     * are checked may not announce itself as the router either. */
    XB_PORT_RA_GUARD = 1u << 15,
    XB_PORT_RA_TRUSTED = 1u << 16, /* `ra-guard off`: routers may sit behind this port */
};

/* The flags that take a frame through the port policy (xb_policy): one test on the flags
 * the fast path reads anyway. */
#define XB_PORT_POLICY                                                                             \
    (XB_PORT_SPOOF_CHECK | XB_PORT_RATE_LIMIT | XB_PORT_BPDU_GUARD | XB_PORT_RA_GUARD)

#define XB_PORT_DEFAULT_FLAGS                                                                      \
    (XB_PORT_LEARNING | XB_PORT_FLOOD | XB_PORT_MCAST_FLOOD | XB_PORT_BCAST_FLOOD)

/* Controller bookkeeping kept with the port so that a restarted controller, or
 * `down`, knows what to undo. Unused by the datapath. */
enum xb_port_ctl {
    XB_CTL_CREATED_TAP = 1u << 0,    /* xbridge created this tap: delete it on down */
    XB_CTL_PROMISC_SET = 1u << 1,    /* xbridge turned promiscuity on: turn it off on down */
    XB_CTL_CLSACT_CREATED = 1u << 2, /* xbridge created the clsact qdisc: remove it */
    XB_CTL_WAS_DOWN = 1u << 3,       /* the port was administratively down before up */
    XB_CTL_TC_EGRESS = 1u << 4,      /* the host egress program is attached */
    XB_CTL_ABSENT = 1u << 5,         /* the device vanished: the slot (ifindex 0) keeps its
                                      * name and flags until a device of that name returns */
    XB_CTL_NO_XDP_TX = 1u << 6,      /* the device takes no XDP redirects now (no
                                      * ndo_xdp_xmit; a veth whose peer has no NAPI): it is
                                      * in no devmap, and frames for it take the TC path */
    XB_CTL_GRO_SET = 1u << 7,        /* xbridge turned GRO on; turned off again on removal */
    XB_CTL_SHAPED = 1u << 8,         /* the device has a qdisc someone installed (tc, libvirt's
                                      * <bandwidth>): served as XB_CTL_NO_XDP_TX, so that its
                                      * frames go through dev_queue_xmit and the qdisc */
    XB_CTL_RXVLAN_OFF = 1u << 9,     /* xbridge turned rx-vlan offload off (on a veth: its
                                      * peer's tx-vlan offload), so that XDP sees every tag;
                                      * turned on again on removal */
    XB_CTL_GUEST = 1u << 10,         /* a guest's tap, attached by the libvirt hook at the
                                      * guest's start and removed at its end: `apply`
                                      * never removes it for missing from the file */
};

enum xb_xdp_mode {
    XB_XDP_NONE = 0, /* no XDP program: the driver has no native XDP, TC takes every frame */
    XB_XDP_NATIVE = 1,
    XB_XDP_GENERIC = 2,
};

enum xb_port_kind {
    XB_KIND_OTHER = 0,
    XB_KIND_NIC = 1,
    XB_KIND_VETH = 2,
    XB_KIND_TAP = 3,
    /* Virtual devices of the rtnetlink kinds a host bridges: shown by status, never a
     * forwarding condition. */
    XB_KIND_VLAN = 4,
    XB_KIND_BOND = 5,
    XB_KIND_TEAM = 6,
    XB_KIND_MACVLAN = 7,
    XB_KIND_VXLAN = 8,
    XB_KIND_DUMMY = 9,
};

/* One slot of the port table (map "ports", an array indexed by slot). The first
 * 8 bytes are what the datapath reads on every frame. 64 bytes: one cache line. */
struct xb_port {
    __u32 ifindex; /* 0: free slot */
    __u32 flags;   /* enum xb_port_flags */
    __u32 ctl;     /* enum xb_port_ctl */
    __u32 mtu;
    __u8 xdp_mode; /* enum xb_xdp_mode */
    __u8 kind;     /* enum xb_port_kind */
    __u8 mac[6];
    char name[XB_IFNAMSIZ];
    /* Storm guard: frames per second (and per CPU) this port may bring into the bridge
     * for flooding (broadcast, multicast, unknown unicast); over it they are dropped
     * (XB_DROP_STORM). 0: no limit. */
    __u32 storm_pps;
    /* VLAN filtering: the VLAN an untagged or priority-tagged frame from this port
     * belongs to (1-4094; 0: none, such frames are dropped). Membership and untagged
     * egress live in map vlan_members. */
    __u16 pvid;
    __u8 vlan_pad[2];
    /* Ingress policer (XB_PORT_RATE_LIMIT): police_rate units per second, bursts of up to
     * police_burst units; a unit is a frame, or a byte when police_bytes is set. Over
     * it, frames are dropped (XB_DROP_RATE). */
    __u32 police_rate;
    __u32 police_burst;
    __u8 police_bytes;
    __u8 pad1[3];
    __u8 reserved[4];
};

enum xb_config_flags {
    XB_CFG_TRACE = 1u << 0,      /* a trace session runs: emit events until trace_until_ns */
    XB_CFG_TRACE_PORT = 1u << 1, /* ... only for trace_ifindex */
    XB_CFG_TRACE_MAC = 1u << 2,  /* ... only when src or dst is trace_mac */
    /* VLAN filtering, as the kernel bridge's vlan_filtering 1: frames are classified into
     * a VLAN (tag or PVID), admitted, learned, forwarded and flooded per VLAN, and tagged
     * or untagged per egress port (map vlan_members). Off: tags pass untouched. */
    XB_CFG_VLAN_FILTERING = 1u << 3,
    XB_CFG_CAPTURE = 1u << 4,        /* a capture session runs (map capture_cfg: its filter
                                      * and lease); frames go to the capture_pb perf buffer */
    XB_CFG_MCAST_SNOOPING = 1u << 5, /* IGMP/MLD snooping (mdb.h): known groups reach only
                                      * their member ports, router ports and the host if it
                                      * joined */
    XB_CFG_MCAST_QUERIER = 1u << 6,  /* the controller sends general queries where no other
                                      * querier is heard (the datapath does not read it) */
    /* The querier's versions (the kernel bridge's mcast_igmp_version 3 and
     * mcast_mld_version 2); clear: IGMPv2 and MLDv1, the kernel bridge's defaults. */
    XB_CFG_MCAST_IGMPV3 = 1u << 7,
    XB_CFG_MCAST_MLDV2 = 1u << 8,
    /* Some port has mcast-flood off, so is not in the multicast flood map: XDP leaves the
     * frames of known groups, and reports, to the TC hook, whose clone loop sends them to
     * their member and router ports whatever their mcast-flood (which governs unknown
     * groups only, as the kernel bridge's). Kept by the controller. */
    XB_CFG_MCAST_FLOOD_OFF = 1u << 9,
};

/* Bridge-wide settings and state (map "config", one element, mmapable so that the
 * controller can update n_learned atomically alongside the datapath). */
struct xb_config {
    __u32 abi_version;
    __u32 flags;          /* enum xb_config_flags */
    __u32 uplink_ifindex; /* 0: no host port */
    __u32 max_slot;       /* highest used slot + 1: bounds the TC flood loop */
    __u32 xdp_max_len;    /* longer frames are left to the TC path */
    __u32 max_learned;    /* cap on dynamic entries (0: the map's size) */
    __u64 ageing_ns;      /* 0: never age */
    __u64 n_learned;      /* dynamic entries now in the FDB (atomic) */
    __u32 controller_pid; /* the running controller, 0 when none */
    __u32 trace_ifindex;
    __u8 trace_mac[6];
    __u16 pad0;
    __u64 netns_ino;        /* network namespace the bridge lives in */
    __u8 name[XB_IFNAMSIZ]; /* the bridge's name */
    /* A trace session holds a lease it renews every second: if the tracer dies, even
     * by SIGKILL, the datapath stops emitting on its own once the lease runs out. */
    __u64 trace_until_ns; /* CLOCK_MONOTONIC_COARSE */
    __u32 trace_pid;
    __u32 metrics_ip4; /* /metrics listen address (network order), port 0: off */
    __u16 metrics_port;
    __u16 max_ports; /* slots 1..max_ports: the size of the devmaps */
    __u32 fdb_gen;   /* bumped whenever an FDB entry moves or goes, or a port changes: the
                      * per-CPU FDB and flow caches hold only entries of this generation */
    /* The host pair: a veth pair through which XDP floods hand the host its copy. The
     * first end is a target of the broadcast and multicast flood maps (slot XB_HOST_SLOT),
     * the second hands what it receives to the uplink's stack. 0: none. */
    __u32 host_ifindex;
    __u32 host_peer_ifindex;
    /* The id of this bridge's tx_ports map, for the xdp_redirect_err drop counter, which
     * sees the map of every failed redirect in the system by id (a tracing program may
     * not use a devmap itself: the map's owner would become a tracing program). Set
     * when the counter is attached; 0 until then. */
    __u32 tx_ports_id;
    /* Ports that take no XDP redirects (XB_CTL_NO_XDP_TX): while there is one, a flood
     * leaves XDP for the TC hook, which clones it to every port (a devmap broadcast
     * would skip such a port without a word). */
    __u32 n_no_xdp_tx;
    /* VLAN filtering: the bridge's tag protocol, host order (0x8100 802.1Q, or 0x88a8
     * 802.1ad; 0 reads as 0x8100), and the host's PVID: the VLAN of the untagged frames
     * the host sends through the uplink (0: none, they reach no port). */
    __u16 vlan_proto;
    __u16 host_pvid;
    /* Multicast snooping: the membership interval in seconds (the kernel bridge's
     * multicast_membership_interval, 260 s by default; 0: that default). */
    __u32 mcast_membership_s;
};

/* Per-port counters (map "stats", per-CPU array indexed by slot). */
enum xb_counter {
    XB_CNT_RX_PACKETS = 0, /* frames the bridge took in on this port */
    XB_CNT_RX_BYTES = 1,
    XB_CNT_TX_PACKETS = 2, /* frames the bridge sent out this port, flood copies included */
    XB_CNT_TX_BYTES = 3,
    XB_CNT_FORWARDED = 4,      /* known unicast, sent to one port */
    XB_CNT_FLOODED = 5,        /* broadcast, multicast and unknown unicast */
    XB_CNT_TO_HOST = 6,        /* delivered to the host stack */
    XB_CNT_LEARNED = 7,        /* new FDB entries learned from this port */
    XB_CNT_MOVED = 8,          /* FDB entries moved to this port */
    XB_CNT_RX_XDP = 9,         /* ... of rx_packets, handled at XDP */
    XB_CNT_RX_TC = 10,         /* ... of rx_packets, handled at TC */
    XB_CNT_LEARN_REFUSED = 11, /* new MAC not learned: learning limit reached */
    XB_CNT_DROPPED = 12,       /* sum of drops[] */
    XB_CNT_BPDU = 15,          /* STP BPDUs taken in on this port, if it has bpdu-guard */
    XB_CNT_MCAST_SNOOPED = 17, /* multicast of a known group, sent only to its members, router
                                * ports and the host if it joined */
    XB_CNT_MCAST_CTL = 18,     /* IGMP/MLD/PIM messages handed to the controller (mdb_rb) */
    XB_CNT_MAX = 24,
};

enum xb_drop_reason {
    XB_DROP_NONE = 0,
    XB_DROP_PARSE = 1,        /* runt or truncated header */
    XB_DROP_BAD_SRC = 2,      /* multicast or all-zero source MAC */
    XB_DROP_SAME_PORT = 3,    /* destination learned on the ingress port */
    XB_DROP_LOCKED = 4,       /* locked port, source without a static entry */
    XB_DROP_PORT_DOWN = 5,    /* destination port left the bridge a moment ago, or is down */
    XB_DROP_REDIRECT = 6,     /* redirect failed */
    XB_DROP_NO_READER = 7,    /* tap without a reader (no queue attached): refused */
    XB_DROP_NO_HOST = 8,      /* frame for a local MAC on a bridge without host port */
    XB_DROP_PAUSE = 9,        /* 802.3x PAUSE (01:80:c2:00:00:01): link-local, never bridged */
    XB_DROP_TOO_BIG = 10,     /* longer than the target port's MTU (and not GSO) */
    XB_DROP_ISOLATED = 11,    /* unicast from an isolated port to another isolated port */
    XB_DROP_STORM = 12,       /* a flood over the ingress port's storm limit (a loop?) */
    XB_DROP_VLAN = 13,        /* VLAN filtering: untagged without a PVID, a VLAN the ingress
                               * port is not a member of, or a destination port that is not */
    XB_DROP_RATE = 14,        /* over the ingress port's policer (rate-limit) */
    XB_DROP_SPOOF = 15,       /* a source address the port may not use (allowed-ip) */
    XB_DROP_BLOCKED = 16,     /* the port is blocked: it received a BPDU (bpdu-guard); or the
                               * frame's destination port is (counted where it came in) */
    XB_DROP_VLAN_TAG = 20,    /* VLAN filtering: a tag could not be added or removed */
    XB_DROP_DHCP_SERVER = 22, /* a DHCP server reply from a port without dhcp-server */
    XB_DROP_RA_GUARD = 23,    /* an IPv6 router advertisement or redirect from a port the RA
                               * guard covers (ra-guard, allowed-ip) */
    XB_DROP_MAX = 32,
};

struct xb_port_stats {
    __u64 cnt[XB_CNT_MAX];
    __u64 drop[XB_DROP_MAX];
};

enum xb_hook {
    XB_HOOK_XDP = 0,
    XB_HOOK_TC_INGRESS = 1,
    XB_HOOK_TC_EGRESS = 2, /* host → bridge, on the uplink */
};

enum xb_action {
    XB_ACT_FORWARD = 0,
    XB_ACT_FLOOD = 1,
    XB_ACT_TO_HOST = 2,
    XB_ACT_DROP = 3,
    XB_ACT_PASS = 4, /* left to the TC path (XDP) or to the wire (TC egress) */
};

/* Per-CPU, direct-mapped cache of FDB entries (map "fdb_cache"), so that a frame's two
 * FDB lookups are array reads while its MACs keep arriving. An entry is valid while
 * its gen equals the config's fdb_gen. */
#define XB_FDB_CACHE_SIZE 256
struct xb_fdb_cache_ent {
    struct xb_fdb_key key;
    __u32 ifindex;
    __u16 slot;
    __u8 type;
    __u8 valid;
    __u32 gen;
    __u32 checked_j;  /* jiffies (low 32 bits) when this CPU last compared updated_ns */
    __u64 updated_ns; /* the FDB entry's timestamp when cached */
};

/* Per-CPU, direct-mapped cache of forwarding decisions (map "flow_cache"): a frame
 * whose ingress port, outer ethertype, source and destination (with the outer tag's VID,
 * as the frame carries them) match an entry of the current generation is a known unicast
 * that was switched a moment ago, and goes to out_slot without the classification,
 * learning and lookup steps. Valid for XB_CACHE_RECHECK_J jiffies, so that the source's
 * FDB timestamp is still refreshed by the full path. */
#define XB_FLOW_CACHE_SIZE 256
struct xb_flow_ent {
    /* 8-byte aligned: compared as 64-bit words. */
    struct xb_fdb_key src __attribute__((aligned(8)));
    struct xb_fdb_key dst __attribute__((aligned(8)));
    __u32 in_ifindex;
    __u32 out_ifindex;
    __u32 gen;
    __u32 filled_j; /* jiffies (low 32 bits) when the full path filled it */
    __u16 in_slot;
    __u16 out_slot;
    __u8 to_tap_from_nontap; /* TCP data is left to GRO (see xb_xdp_ingress) */
    __u8 valid;
    __u8 vlan_untag;  /* VLAN filtering: the VLAN is untagged on out_slot */
    __u8 vlan_tagged; /* VLAN filtering: the frame carries the bridge's tag */
    __be16 in_proto;  /* the frame's outer ethertype (a tag's TPID), as it came */
    __u16 vlan_vid;   /* VLAN filtering: the VLAN the frame was classified into; 0: off */
    __u32 pad;
};

/* The storm guard's token bucket of one port on one CPU (map "storm", per-CPU array
 * indexed by slot). The budget is time: each frame costs 1 s / storm_pps of it, time
 * passing refills it, up to a burst of XB_STORM_BURST_NS. */
#define XB_STORM_BURST_NS 100000000ull /* 100 ms of the rate at once */
struct xb_storm_bucket {
    __u64 last_ns;   /* bpf_ktime_get_ns() at the last frame */
    __u64 budget_ns; /* saved-up time, at most max(XB_STORM_BURST_NS, one frame's cost) */
};

/* VLAN filtering (map "vlan_members", an array indexed by VID 0-4095): which port slots
 * are members of the VLAN and which of them send it untagged, as bitmaps of slots. Slot
 * XB_HOST_SLOT is the host (`xbridge vlan add dev host ...`): the VLANs the host hears
 * through the uplink, and which it hears untagged. */
#define XB_VLAN_N 4096
#define XB_VLAN_WORDS (XB_MAX_PORTS / 64)
struct xb_vlan {
    __u64 member[XB_VLAN_WORDS];
    __u64 untagged[XB_VLAN_WORDS];
};

/* Per-VLAN counters (map "vlan_stats", per-CPU array indexed by VID): frames admitted
 * into the VLAN, and copies sent out of a port (or to the host) on it. */
struct xb_vlan_stats {
    __u64 rx_packets;
    __u64 rx_bytes;
    __u64 tx_packets;
    __u64 tx_bytes;
};

/* Key of the allowed source addresses of a port with XB_PORT_SPOOF_CHECK (maps
 * policy_ip4, policy_ip6; the value is one byte, 1). */
struct xb_policy_ip4_key {
    __u32 slot;
    __u8 addr[4]; /* network order */
};
struct xb_policy_ip6_key {
    __u32 slot;
    __u8 addr[16];
};

/* Per-port state the datapath's policy keeps (map policy_state, an array by slot). */
struct xb_policy_state {
    __u64 blocked_ns; /* CLOCK_MONOTONIC_COARSE when a BPDU blocked the port; 0: not blocked */
    __u8 bpdu_src[6]; /* the source of that BPDU */
    __u8 pad[2];
};

/* FDB moves of one MAC (map policy_flap, LRU by MAC + VLAN): a MAC that keeps moving
 * between two ports is a loop the bridge did not make, or a guest spoofing another. */
struct xb_mac_flap {
    __u64 moves;   /* moves since the entry was made */
    __u64 last_ns; /* CLOCK_MONOTONIC_COARSE of the last move */
    __u32 from_ifindex;
    __u32 to_ifindex;
};

/* Context of the ageing sweep program (xb_fdb_sweep), run by the controller with
 * BPF_PROG_TEST_RUN: the sweep happens inside the kernel, without copying the FDB out. */
struct xb_sweep_ctx {
    __u64 now_ns;    /* in: CLOCK_MONOTONIC_COARSE */
    __u64 ageing_ns; /* in */
    __u64 scanned;   /* out: entries looked at */
    __u64 removed;   /* out: entries deleted */
};

/* One event of the trace ring buffer (map "trace_rb"). */
struct xb_trace_event {
    __u64 ts_ns;
    __u32 ifindex;     /* ingress port (the uplink for host-sent frames) */
    __u32 out_ifindex; /* egress port for forward / to-host, 0 for flood */
    __u8 src[6];
    __u8 dst[6];
    __u16 vlan;
    __u16 proto; /* ethertype after VLAN tags, host order */
    __u32 len;
    __u8 hook;   /* enum xb_hook */
    __u8 action; /* enum xb_action */
    __u8 reason; /* enum xb_drop_reason when action is drop */
    __u8 pad[9];
};

/* ---- Packet capture (capture.h) ----------------------------------------------------- */

/* The most a captured frame's copy can hold: a perf event record is at most 64 KiB, its
 * headers included. Only a GSO super-frame on the TC path is longer; it is cut here, and
 * its original length kept in the record (and in the pcap file). */
#define XB_CAPTURE_MAX 65000u

/* The running capture session's filter and lease (map capture_cfg, one element). Written
 * by `xbridge capture` before it sets XB_CFG_CAPTURE. */
struct xb_capture_cfg {
    __u64 until_ns; /* CLOCK_MONOTONIC_COARSE: the lease, renewed every second */
    __u32 ifindex;  /* 0: every port; else frames in or out of this port */
    __u32 snaplen;  /* bytes of each frame copied, at most XB_CAPTURE_MAX */
    __u8 mac[6];
    __u8 has_mac; /* only frames from or to mac */
    __u8 pad0;
    __u32 pid;
    __u8 reserved[32];
};

/* What precedes each captured frame in the perf buffer (map capture_pb). */
struct xb_capture_hdr {
    __u64 ts_ns;       /* bpf_ktime_get_ns() */
    __u32 len;         /* the frame's whole length */
    __u32 caplen;      /* bytes of it that follow */
    __u32 ifindex;     /* the port it came in on (the uplink for the host's own frames) */
    __u32 out_ifindex; /* the port it leaves by, when known (forward, one flood copy) */
    __u8 hook;         /* enum xb_hook */
    __u8 pad[7];
};

/* ---- Multicast snooping (mdb.h) ------------------------------------------------------ */

/* A group: an IPv6 address, or an IPv4 one mapped (::ffff:a.b.c.d), on a VLAN. */
struct xb_mdb_group_key {
    __u8 addr[16];
    __u16 vlan;
    __u16 pad;
};

/* A group some port joined (map mdb_group): its frames reach only its member ports,
 * router ports and the host if it joined. Written by the controller. */
struct xb_mdb_group_val {
    __u64 expires_ns; /* CLOCK_MONOTONIC_COARSE: the latest of its members' deadlines */
};

/* One port's membership of a group (map mdb); slot XB_HOST_SLOT: the host's own. */
struct xb_mdb_key {
    __u8 addr[16];
    __u16 vlan;
    __u16 slot;
};

struct xb_mdb_val {
    __u64 expires_ns; /* CLOCK_MONOTONIC_COARSE: a report refreshes it, a leave shortens it */
    __u64 joined_ns;  /* when the first report came (mdb show) */
};

/* An IGMP, MLD or PIM message the datapath hands to the controller (map mdb_rb), which
 * learns memberships and router ports from it. */
#define XB_MDB_MSG_MAX 1518u
struct xb_mdb_msg {
    __u32 ifindex; /* the port it came in on (the uplink for the host's own) */
    __u16 slot;    /* that port's slot; XB_HOST_SLOT: the host sent it */
    __u16 vlan;
    __u16 l3_off; /* where the IP header starts in data */
    __u16 proto;  /* ethertype, host order */
    __u32 len;    /* the frame's whole length */
    __u32 caplen; /* bytes in data */
    __u8 pad[4];
    __u8 data[XB_MDB_MSG_MAX];
    __u8 pad1[2];
};

/* Layouts are part of the ABI: checked here for both compilers, and against the
 * BTF of the built object by a test. */
XB_STATIC_ASSERT(sizeof(struct xb_fdb_key) == 8, "xb_fdb_key");
XB_STATIC_ASSERT(sizeof(struct xb_fdb_val) == 16, "xb_fdb_val");
/* A move rewrites ifindex, slot and type as one 64-bit word (fdb.h). */
XB_STATIC_ASSERT(__builtin_offsetof(struct xb_fdb_val, slot) == 4 &&
                     __builtin_offsetof(struct xb_fdb_val, type) == 6,
                 "xb_fdb_val: the port in the first 8 bytes");
XB_STATIC_ASSERT(sizeof(struct xb_port) == 64, "xb_port");
XB_STATIC_ASSERT(sizeof(struct xb_config) == 128, "xb_config");
XB_STATIC_ASSERT(sizeof(struct xb_port_stats) ==
                     sizeof(__u64) * ((unsigned long)XB_CNT_MAX + (unsigned long)XB_DROP_MAX),
                 "xb_port_stats");
XB_STATIC_ASSERT(sizeof(struct xb_trace_event) == 48, "xb_trace_event");
XB_STATIC_ASSERT(sizeof(struct xb_sweep_ctx) == 32, "xb_sweep_ctx");
XB_STATIC_ASSERT(sizeof(struct xb_fdb_cache_ent) == 32, "xb_fdb_cache_ent");
XB_STATIC_ASSERT(sizeof(struct xb_flow_ent) == 48, "xb_flow_ent");
XB_STATIC_ASSERT(sizeof(struct xb_storm_bucket) == 16, "xb_storm_bucket");
XB_STATIC_ASSERT(sizeof(struct xb_vlan) == 64, "xb_vlan");
XB_STATIC_ASSERT(sizeof(struct xb_vlan_stats) == 32, "xb_vlan_stats");
XB_STATIC_ASSERT(__builtin_offsetof(struct xb_port, pvid) == 44, "xb_port: pvid in reserved[0,4)");
XB_STATIC_ASSERT(__builtin_offsetof(struct xb_config, vlan_proto) == 120,
                 "xb_config: VLAN fields in reserved[0,4)");
XB_STATIC_ASSERT(__builtin_offsetof(struct xb_port, police_rate) == 48,
                 "xb_port: police_rate in reserved [4,16)");
XB_STATIC_ASSERT(sizeof(struct xb_policy_ip4_key) == 8, "xb_policy_ip4_key");
XB_STATIC_ASSERT(sizeof(struct xb_policy_ip6_key) == 20, "xb_policy_ip6_key");
XB_STATIC_ASSERT(sizeof(struct xb_policy_state) == 16, "xb_policy_state");
XB_STATIC_ASSERT(sizeof(struct xb_mac_flap) == 24, "xb_mac_flap");
XB_STATIC_ASSERT(sizeof(struct xb_capture_cfg) == 64, "xb_capture_cfg");
XB_STATIC_ASSERT(sizeof(struct xb_capture_hdr) == 32, "xb_capture_hdr");
XB_STATIC_ASSERT(sizeof(struct xb_mdb_group_key) == 20, "xb_mdb_group_key");
XB_STATIC_ASSERT(sizeof(struct xb_mdb_group_val) == 8, "xb_mdb_group_val");
XB_STATIC_ASSERT(sizeof(struct xb_mdb_key) == 20, "xb_mdb_key");
XB_STATIC_ASSERT(sizeof(struct xb_mdb_val) == 16, "xb_mdb_val");
XB_STATIC_ASSERT(sizeof(struct xb_mdb_msg) == 1544, "xb_mdb_msg");

#endif /* XBRIDGE_ABI_H */
