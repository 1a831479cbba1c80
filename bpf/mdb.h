/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Multicast snooping (the kernel bridge's mcast_snooping 1), while XB_CFG_MCAST_SNOOPING
 * is set:
 *  - IGMP, MLD and PIM messages are handed whole to the controller through the mdb_rb
 *    ring buffer; the controller parses their records - any number of them, IGMPv2/v3
 *    and MLDv1/v2 - and writes the memberships (maps mdb and mdb_group) and the router
 *    ports (mdb_router) with their deadlines. Queries and PIM flood as before; reports
 *    and leaves go on only to the router ports and the host, as the kernel bridge's.
 *  - A frame for a group that some port joined (mdb_group, not expired) goes only to the
 *    member ports, the router ports and the host if it joined. It is flooded as before
 *    and each copy is judged on its own: at XDP by the flood maps' devmap egress
 *    program, at TC in the clone loop. A group nobody joined floods as before, and so do
 *    the link-local groups (224.0.0.0/24, ff02::1), which are never snooped.
 * The datapath judges deadlines itself: a membership whose controller is gone lapses
 * after the membership interval and its group floods again, rather than staying narrowed
 * for ever.
 *
 * Why a filter per copy in the devmap egress program, and not a devmap per group or the
 * TC clone loop: the flood stays one XDP broadcast (no skb, no clone per port), nothing
 * per group must be kept in step with the kernel's device list (a devmap per group is a
 * map per group, and its ports change with every report), and a bridge without snooping
 * pays nothing on its floods but a flag test. The price is a second parse and two hash
 * lookups per copy of a multicast frame, only while snooping is on. */
#ifndef XB_MDB_H
#define XB_MDB_H

#include "maps.h"
#include "parse.h"
#include "stats.h"

/* Groups with at least one member, and each port's memberships (the kernel bridge's
 * mdb holds 4096 groups by default, hash_max). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, struct xb_mdb_group_key);
    __type(value, struct xb_mdb_group_val);
    __uint(max_entries, 4096);
} mdb_group SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, struct xb_mdb_key);
    __type(value, struct xb_mdb_val);
    __uint(max_entries, 16384);
} mdb SEC(".maps");

/* slot → until when a multicast router is behind the port (a query or PIM came from it:
 * CLOCK_MONOTONIC_COARSE). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, XB_MAX_PORTS);
} mdb_router SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} mdb_rb SEC(".maps");

enum xb_mdb_class {
    XB_MDB_NONE = 0, /* not snooped: flooded as before */
    XB_MDB_DATA = 1, /* for a snooped group: the key is filled */
    XB_MDB_CTL = 2,  /* IGMP, MLD or PIM: for the controller */
    /* An IGMP/MLD report or leave: for the controller, and sent on only to the router
     * ports and the host (the kernel bridge's mrouters_only). A guest that heard another
     * member's IGMPv2/MLDv1 report would suppress its own (RFC 2236 3, RFC 2710 4), and
     * the snooping bridge, hearing from it no more, would age its membership out. */
    XB_MDB_REPORT = 3,
};

/* In the pad of a group key on the stack (never in a map): the frame is a report, its
 * copies go to the router ports and the host only. */
#define XB_MDB_ROUTERS_ONLY 1

/* Bytes of a frame read to classify it: two VLAN tags, an IPv6 header, a hop-by-hop
 * header of 8 bytes and an ICMPv6 type. */
#define XB_MDB_PEEK 80

/* The first bytes of a frame, copied out of it (a global function takes a pointer to a
 * type of known size). */
struct xb_mdb_peek {
    __u8 b[XB_MDB_PEEK];
};

/* Classifies the frame whose first n bytes are in p (l3: where its IP header starts,
 * proto: its ethertype, host order) and fills k for a data frame. A global function: the
 * verifier checks it once, not at each of its three callers. */
__noinline int xb_mdb_classify(const struct xb_mdb_peek *p, __u32 n, __u32 l3, __u32 proto,
                               struct xb_mdb_group_key *k) {
    if (!p || !k)
        return XB_MDB_NONE;
    const __u8 *buf = p->b;
    l3 &= 31; /* at most 22 */
    if (proto == ETH_P_IP) {
        if (l3 + 20 > n || l3 + 20 > XB_MDB_PEEK)
            return XB_MDB_NONE;
        const __u8 *ip = buf + l3;
        if ((ip[16] & 0xf0) != 0xe0)
            return XB_MDB_NONE;
        if (ip[9] == 2 /* IGMP */) {
            const __u32 t = l3 + (ip[0] & 15) * 4;

            if (t < n && t < XB_MDB_PEEK) {
                const __u8 type = buf[t & 127];

                /* v1 and v2 reports, v2 leave, v3 report */
                if (type == 0x12 || type == 0x16 || type == 0x17 || type == 0x22) {
                    __builtin_memset(k->addr, 0, 16);
                    return XB_MDB_REPORT;
                }
            }
            return XB_MDB_CTL;
        }
        if (ip[9] == 103 /* PIM */)
            return XB_MDB_CTL;
        /* 224.0.0.0/24: link-local, never snooped (ipv4_is_local_multicast). */
        if (ip[16] == 224 && !ip[17] && !ip[18])
            return XB_MDB_NONE;
        __builtin_memset(k->addr, 0, 10);
        k->addr[10] = 0xff;
        k->addr[11] = 0xff;
        __builtin_memcpy(&k->addr[12], ip + 16, 4);
        return XB_MDB_DATA;
    }
    if (proto == ETH_P_IPV6) {
        if (l3 + 40 > n || l3 + 40 > XB_MDB_PEEK)
            return XB_MDB_NONE;
        const __u8 *ip6 = buf + l3;
        __u32 nh = ip6[6], icmp = l3 + 40;

        if (ip6[24] != 0xff)
            return XB_MDB_NONE;
        if (nh == 103)
            return XB_MDB_CTL;
        /* MLD comes behind a hop-by-hop header with a router alert. */
        if (nh == 0 && l3 + 42 <= n) {
            nh = buf[(l3 + 40) & 127];
            icmp = l3 + 40 + (buf[(l3 + 41) & 127] + 1) * 8;
        }
        if (nh == 58 && icmp < n && icmp < XB_MDB_PEEK) {
            const __u8 t = buf[icmp & 127];
            /* v1 report, done, v2 report */
            if (t == 131 || t == 132 || t == 143) {
                __builtin_memset(k->addr, 0, 16);
                return XB_MDB_REPORT;
            }
            if (t == 130)
                return XB_MDB_CTL;
        }
        /* ff02::1, all nodes: never snooped (ipv6_addr_is_ll_all_nodes). */
        if (ip6[25] == 0x02) {
            int rest = 0;
            for (int i = 26; i < 39; i++)
                rest |= ip6[i];
            if (!rest && ip6[39] == 1)
                return XB_MDB_NONE;
        }
        __builtin_memcpy(k->addr, ip6 + 24, 16);
        return XB_MDB_DATA;
    }
    return XB_MDB_NONE;
}

/* Whether the group of k (its VLAN set) has members now. */
static __always_inline int xb_mdb_known(const struct xb_mdb_group_key *k, __u64 now) {
    /* A copy on the stack: k may be a global function's argument, which the verifier of
     * older kernels (6.1) does not take for a map key. */
    struct xb_mdb_group_key key = *k;
    struct xb_mdb_group_val *g = bpf_map_lookup_elem(&mdb_group, &key);

    return g && g->expires_ns > now;
}

/* Whether a copy of a frame for the known group gk may go to the port in slot (flags: the
 * port's; slot XB_HOST_SLOT: the host): a member, or a router port. A report's copy
 * (gk->pad XB_MDB_ROUTERS_ONLY) goes to the router ports and the host. */
static __noinline int xb_mdb_allows(const struct xb_mdb_group_key *gk, __u32 slot, __u32 flags,
                                    __u64 now) {
    struct xb_mdb_key k;
    struct xb_mdb_val *m;
    __u64 *router;

    if (!gk)
        return 1;
    if (flags & XB_PORT_MCAST_ROUTER)
        return 1;
    router = bpf_map_lookup_elem(&mdb_router, &slot);
    if (router && *router > now && slot != XB_HOST_SLOT)
        return 1;
    if (gk->pad == XB_MDB_ROUTERS_ONLY)
        return slot == XB_HOST_SLOT;
    __builtin_memcpy(k.addr, gk->addr, 16);
    k.vlan = gk->vlan;
    k.slot = slot;
    m = bpf_map_lookup_elem(&mdb, &k);
    return m && m->expires_ns > now;
}

/* A length for a load-bytes helper, from 1 to max, given len >= 1: the verifier of older
 * kernels (6.1) loses the lower bound of a separate `n < 1` test and refuses a size that
 * may be 0. The barrier keeps the compiler from rebuilding the sum from len. */
static __always_inline __u32 xb_load_len(__u32 len, __u32 max) {
    __u32 n = len - 1;

    asm volatile("" : "+r"(n));
    if (n > max - 1)
        n = max - 1;
    return n + 1;
}

/* A function of its own so that the message's type is in the object's BTF. */
static __noinline void xb_mdb_msg_fill(struct xb_mdb_msg *m, const struct xb_frame *f,
                                       __u32 ifindex, __u32 slot, __u32 caplen) {
    m->ifindex = ifindex;
    m->slot = slot;
    m->vlan = f->src.vlan;
    m->l3_off = f->l3_off;
    m->proto = f->proto;
    m->len = f->len;
    m->caplen = caplen;
    __builtin_memset(m->pad, 0, sizeof(m->pad));
}

/* Hands an IGMP/MLD/PIM message to the controller. The copy is read with the hook's
 * load-bytes helper (xdp or skb). */
#define XB_MDB_SEND(name, ctx_t, load)                                                             \
    static __always_inline void name(ctx_t *ctx, const struct xb_frame *f, __u32 ifindex,          \
                                     __u32 slot) {                                                 \
        struct xb_mdb_msg *m = bpf_ringbuf_reserve(&mdb_rb, sizeof(*m), 0);                        \
        __u32 n;                                                                                   \
                                                                                                   \
        if (!m)                                                                                    \
            return;                                                                                \
        n = f->len ? xb_load_len(f->len, XB_MDB_MSG_MAX) : 0;                                      \
        if (!n || load(ctx, 0, m->data, n)) {                                                      \
            bpf_ringbuf_discard(m, 0);                                                             \
            return;                                                                                \
        }                                                                                          \
        xb_mdb_msg_fill(m, f, ifindex, slot, n);                                                   \
        bpf_ringbuf_submit(m, 0);                                                                  \
        xb_count(slot, XB_CNT_MCAST_CTL);                                                          \
    }
XB_MDB_SEND(xb_mdb_send_xdp, struct xdp_md, bpf_xdp_load_bytes)
XB_MDB_SEND(xb_mdb_send_skb, struct __sk_buff, bpf_skb_load_bytes)

/* The snooping of a multicast frame a hook floods, from port ifindex (slot): an IGMP,
 * MLD or PIM message goes to the controller; a report, or a frame for a known group,
 * fills k and returns 1 (its copies are then judged by xb_mdb_allows). */
#define XB_MDB_SNOOP(name, ctx_t, load, send)                                                      \
    __noinline int name(ctx_t *ctx, const struct xb_frame *f, __u32 ifindex, __u32 slot,           \
                        struct xb_mdb_group_key *k) {                                              \
        struct xb_mdb_peek buf;                                                                    \
        __u32 n;                                                                                   \
        int c;                                                                                     \
                                                                                                   \
        if (!ctx || !f || !k)                                                                      \
            return 0;                                                                              \
        if (!f->len)                                                                               \
            return 0;                                                                              \
        n = xb_load_len(f->len, XB_MDB_PEEK);                                                      \
        if (load(ctx, 0, buf.b, n))                                                                \
            return 0;                                                                              \
        c = xb_mdb_classify(&buf, n, f->l3_off, f->proto, k);                                      \
        if (c == XB_MDB_CTL || c == XB_MDB_REPORT)                                                 \
            send(ctx, f, ifindex, slot);                                                           \
        k->vlan = f->src.vlan;                                                                     \
        k->pad = c == XB_MDB_REPORT ? XB_MDB_ROUTERS_ONLY : 0;                                     \
        if (c == XB_MDB_REPORT)                                                                    \
            return 1;                                                                              \
        if (c != XB_MDB_DATA || !xb_mdb_known(k, bpf_ktime_get_coarse_ns()))                       \
            return 0;                                                                              \
        xb_count(slot, XB_CNT_MCAST_SNOOPED);                                                      \
        return 1;                                                                                  \
    }
XB_MDB_SNOOP(xb_mdb_snoop_xdp, struct xdp_md, bpf_xdp_load_bytes, xb_mdb_send_xdp)
XB_MDB_SNOOP(xb_mdb_snoop_skb, struct __sk_buff, bpf_skb_load_bytes, xb_mdb_send_skb)

/* Whether the snooping looks at a frame: multicast (not broadcast) while it is on. */
static __always_inline int xb_mdb_on(const struct xb_config *cfg, const struct xb_frame *f) {
    return (cfg->flags & XB_CFG_MCAST_SNOOPING) && xb_is_group(f->dst.mac) &&
           !xb_is_broadcast(f->dst.mac);
}

/* Whether the frame is a report, or for a known group: its copies go to chosen ports. */
__noinline int xb_mdb_narrowed_xdp(struct xdp_md *ctx, const struct xb_frame *f) {
    struct xb_mdb_group_key k;
    struct xb_mdb_peek buf;
    __u32 n;
    int c;

    if (!ctx || !f || !f->len)
        return 0;
    n = xb_load_len(f->len, XB_MDB_PEEK);
    if (bpf_xdp_load_bytes(ctx, 0, buf.b, n))
        return 0;
    c = xb_mdb_classify(&buf, n, f->l3_off, f->proto, &k);
    if (c == XB_MDB_REPORT)
        return 1;
    k.vlan = f->src.vlan;
    k.pad = 0;
    return c == XB_MDB_DATA && xb_mdb_known(&k, bpf_ktime_get_coarse_ns());
}

/* Whether XDP must leave a multicast frame it would flood to the TC hook (uncounted, as
 * any frame it passes): a known group's, or a report, while some port is out of the
 * multicast flood map for its mcast-flood off (XB_CFG_MCAST_FLOOD_OFF) - the flood map
 * cannot reach that port, and it may be a member or a router port. */
static __always_inline int xb_mdb_xdp_to_tc(struct xdp_md *ctx, const struct xb_config *cfg,
                                            const struct xb_frame *f) {
    return (cfg->flags & XB_CFG_MCAST_FLOOD_OFF) && xb_mdb_on(cfg, f) &&
           xb_mdb_narrowed_xdp(ctx, f);
}

/* The port flags a port needs to take a copy of a TC flood of this class: a known
 * group's frames and reports (mdb set) go to their ports whatever their mcast-flood. */
static __always_inline __u32 xb_mdb_flood_need(const struct xb_mdb_group_key *mdb, __u32 need) {
    return mdb ? 0 : need;
}

/* The devmap egress program's judgement of one copy of an XDP flood to the port in slot
 * (XB_HOST_SLOT: the host pair): 0 to hold it back. */
static __noinline int xb_mdb_copy_allowed(struct xdp_md *ctx, __u32 slot, __u32 flags) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct xb_mdb_group_key k;
    struct xb_mdb_peek buf;
    struct xb_frame f;
    __u64 now;
    __u32 n;
    int c;

    if (xb_parse(data, data_end, bpf_xdp_get_buff_len(ctx), &f))
        return 1;
    if (!xb_is_group(f.dst.mac) || xb_is_broadcast(f.dst.mac))
        return 1;
    if (!f.len)
        return 1;
    n = xb_load_len(f.len, XB_MDB_PEEK);
    if (bpf_xdp_load_bytes(ctx, 0, buf.b, n))
        return 1;
    c = xb_mdb_classify(&buf, n, f.l3_off, f.proto, &k);
    if (c != XB_MDB_DATA && c != XB_MDB_REPORT)
        return 1;
    k.vlan = f.src.vlan;
    k.pad = c == XB_MDB_REPORT ? XB_MDB_ROUTERS_ONLY : 0;
    now = bpf_ktime_get_coarse_ns();
    if ((c == XB_MDB_DATA && !xb_mdb_known(&k, now)) || xb_mdb_allows(&k, slot, flags, now))
        return 1;
    xb_copy_held(slot);
    return 0;
}

#endif
