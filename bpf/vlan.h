/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* VLAN filtering, as the kernel bridge's vlan_filtering 1 (br_vlan.c): a frame is
 * classified into a VLAN on ingress (its tag of the bridge's protocol, else the port's
 * PVID; a priority tag, VID 0, takes the PVID too), admitted only on a member port,
 * learned and looked up as (MAC, VID), forwarded and flooded only to members, and sent
 * untagged on the ports where the VLAN is untagged, tagged elsewhere.
 *
 * Every function here but xb_vlan_xdp_hidden runs only while the config's
 * XB_CFG_VLAN_FILTERING is on: the bridge without filtering pays one test of a config word
 * it already holds (and, on a flow cache miss, one of the port's flags).
 *
 * Where the tag is:
 *  - XDP sees a tag only in the packet. A frame is brought to its egress form at the
 *    ingress hook for known unicast (one push or pop, or nothing when both ports agree);
 *    a flood is sent tagged (a tag pushed when it came untagged) and each copy is
 *    filtered and untagged by the devmap egress program, per port.
 *  - TC sees the outer tag beside the packet (skb vlan_tci: the receive path untags) or,
 *    on the uplink's egress, in it; bpf_skb_vlan_push/pop handle both. */
#ifndef XB_VLAN_H
#define XB_VLAN_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "maps.h"
#include "parse.h"

#define XB_VID_MASK 0x0fff

static __always_inline int xb_vlan_filtering(const struct xb_config *cfg) {
    return cfg->flags & XB_CFG_VLAN_FILTERING;
}

/* The bridge's tag protocol, network order. */
static __always_inline __be16 xb_vlan_tpid(const struct xb_config *cfg) {
    return cfg->vlan_proto == ETH_P_8021AD ? bpf_htons(ETH_P_8021AD) : bpf_htons(ETH_P_8021Q);
}

static __always_inline const struct xb_vlan *xb_vlan_get(__u32 vid) {
    return bpf_map_lookup_elem(&vlan_members, &vid);
}

static __always_inline int xb_vlan_bit(const __u64 *bm, __u32 slot) {
    return (bm[(slot >> 6) & (XB_VLAN_WORDS - 1)] >> (slot & 63)) & 1;
}

static __always_inline int xb_vlan_member(const struct xb_vlan *v, __u32 slot) {
    return v && xb_vlan_bit(v->member, slot);
}

static __always_inline int xb_vlan_untagged(const struct xb_vlan *v, __u32 slot) {
    return v && xb_vlan_bit(v->untagged, slot);
}

static __always_inline void xb_vlan_count_rx(__u32 vid, __u32 len) {
    struct xb_vlan_stats *s = bpf_map_lookup_elem(&vlan_stats, &vid);

    if (s) {
        s->rx_packets++;
        s->rx_bytes += len;
    }
}

static __always_inline void xb_vlan_count_tx(__u32 vid, __u32 len) {
    struct xb_vlan_stats *s = bpf_map_lookup_elem(&vlan_stats, &vid);

    if (s) {
        s->tx_packets++;
        s->tx_bytes += len;
    }
}

/* A known unicast: taken in and sent on the same VLAN, one lookup for both. */
static __always_inline void xb_vlan_count_fwd(__u32 vid, __u32 rx_len, __u32 tx_len) {
    struct xb_vlan_stats *s = bpf_map_lookup_elem(&vlan_stats, &vid);

    if (s) {
        s->rx_packets++;
        s->rx_bytes += rx_len;
        s->tx_packets++;
        s->tx_bytes += tx_len;
    }
}

/* A frame's VLAN, as the ingress hook classified it. */
struct xb_vlan_in {
    __u16 vid;   /* 1-4094; 0: not classified (a link-local frame: it stays on its link) */
    __u16 tci;   /* the bridge's tag as the frame carries it, or is to be tagged (the VID) */
    __u8 tagged; /* the frame carries the bridge's tag */
    __u8 pad;
    __u16 slot; /* in (xb_vlan_xdp_in): the ingress port's slot */
};

enum xb_vlan_verdict {
    XB_VLAN_OK = 0,
    XB_VLAN_DROP = 1,  /* no PVID, not a member, or VID 4095 */
    XB_VLAN_TO_TC = 2, /* XDP: cannot tell (the tag may be beside the frame) */
    XB_VLAN_RETAG = 3, /* xb_vlan_classified: the frame's priority tag is to get vi->tci */
};

/* Admission, the same for every hook (br_allowed_ingress): *vid is the tag's VID, or 0
 * for an untagged or priority-tagged frame, which takes the port's PVID. */
static __always_inline int xb_vlan_admit(__u16 *vid, __u16 pvid, __u32 slot) {
    if (*vid == XB_VID_MASK)
        return XB_VLAN_DROP;
    if (!*vid)
        *vid = pvid;
    if (!*vid || !xb_vlan_member(xb_vlan_get(*vid), slot))
        return XB_VLAN_DROP;
    return XB_VLAN_OK;
}

/* The frame's keys carry its VLAN: learning and lookup per (MAC, VID). */
static __always_inline void xb_vlan_key(struct xb_frame *f, __u16 vid) {
    f->src.vlan = vid;
    f->dst.vlan = vid;
}

/* A frame the port does not admit. Link-local control frames other than STP's (LACP,
 * LLDP, 802.1X...) go up the stack of the port they came in on before the kernel bridge
 * looks at VLANs (br_handle_frame): they stay unclassified (VID 0, no VLAN rule applies
 * to them) rather than dropped. STP BPDUs are bridged, and filtered like any frame. */
static __always_inline int xb_vlan_unclassified(struct xb_frame *f, struct xb_vlan_in *vi, int r) {
    if (xb_link_local(f->dst.mac) <= 0)
        return r;
    vi->vid = 0;
    xb_vlan_key(f, 0);
    return XB_VLAN_OK;
}

/* The classification once the frame's tag is read (vi->tagged, vi->tci), the same for
 * both hooks: admission, then the frame's VLAN in vi and in its keys; an untagged frame
 * is to be tagged with the VID. Returns XB_VLAN_OK, XB_VLAN_DROP, or XB_VLAN_RETAG for a
 * priority-tagged frame, whose tag the caller rewrites to vi->tci (the kernel bridge
 * gives it the PVID in place). */
static __always_inline int xb_vlan_classified(struct xb_frame *f, struct xb_vlan_in *vi, __u16 pvid,
                                              __u32 slot) {
    __u16 vid = vi->tci & XB_VID_MASK;
    int r = xb_vlan_admit(&vid, pvid, slot);

    if (r != XB_VLAN_OK)
        return xb_vlan_unclassified(f, vi, r);
    vi->vid = vid;
    xb_vlan_key(f, vid);
    if (!vi->tagged) {
        vi->tci = vid;
        return XB_VLAN_OK;
    }
    if (vi->tci & XB_VID_MASK)
        return XB_VLAN_OK;
    vi->tci |= vid;
    return XB_VLAN_RETAG;
}

/* ---- XDP ------------------------------------------------------------------ */

/* Without filtering: a frame that carries no tag XDP can see, from a port whose tags may
 * ride beside the frame (XB_PORT_VLAN_HIDDEN: a veth, a NIC that keeps rx-vlan offload),
 * is the TC hook's, which sees vlan_tci: an XDP redirect would send it on untagged. */
static __always_inline int xb_vlan_xdp_hidden(const void *data, const void *data_end,
                                              const struct xb_port *in) {
    const struct ethhdr *eth = data;

    if (!(in->flags & XB_PORT_VLAN_HIDDEN))
        return 0;
    if ((void *)(eth + 1) > data_end)
        return 1;
    return eth->h_proto != bpf_htons(ETH_P_8021Q) && eth->h_proto != bpf_htons(ETH_P_8021AD);
}

/* Classifies a frame at XDP on port `slot`. A priority tag is rewritten in place to the
 * PVID (as the kernel bridge does), so the frame is tagged from here on. */
static __always_inline int xb_vlan_xdp_classify(struct xdp_md *ctx, struct xb_frame *f,
                                                const struct xb_port *in, __u32 slot,
                                                const struct xb_config *cfg,
                                                struct xb_vlan_in *vi) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct xb_vlan_hdr *vh = data + sizeof(*eth);
    int r;

    __builtin_memset(vi, 0, sizeof(*vi));
    if ((void *)(eth + 1) > data_end)
        return XB_VLAN_DROP;
    if (eth->h_proto == xb_vlan_tpid(cfg)) {
        if ((void *)(vh + 1) > data_end)
            return XB_VLAN_DROP;
        vi->tagged = 1;
        vi->tci = bpf_ntohs(vh->tci);
    } else if (in->flags & XB_PORT_VLAN_HIDDEN) {
        /* Untagged, or its tag was stripped beside it: only the TC hook can tell. */
        return XB_VLAN_TO_TC;
    }
    r = xb_vlan_classified(f, vi, in->pvid, slot);
    if (r != XB_VLAN_RETAG)
        return r;
    if ((void *)(vh + 1) > data_end) /* for the verifier: checked above */
        return XB_VLAN_DROP;
    vh->tci = bpf_htons(vi->tci);
    return XB_VLAN_OK;
}

/* Removes the outer tag of an XDP frame: the MACs move 4 bytes up. */
static __always_inline int xb_vlan_xdp_pop(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    __u64 a;
    __u32 b;

    if (data + 18 > data_end)
        return -1;
    a = *(__u64 *)data;
    b = *(__u32 *)(data + 8);
    if (bpf_xdp_adjust_head(ctx, 4))
        return -1;
    data = (void *)(long)ctx->data;
    data_end = (void *)(long)ctx->data_end;
    if (data + 12 > data_end)
        return -1;
    *(__u64 *)data = a;
    *(__u32 *)(data + 8) = b;
    return 0;
}

/* Adds an outer tag to an XDP frame: the MACs move 4 bytes down, into the headroom. */
static __always_inline int xb_vlan_xdp_push(struct xdp_md *ctx, __be16 tpid, __u16 tci) {
    void *data, *data_end;
    __u64 a;
    __u32 b;

    if (bpf_xdp_adjust_head(ctx, -4))
        return -1;
    data = (void *)(long)ctx->data;
    data_end = (void *)(long)ctx->data_end;
    if (data + 18 > data_end)
        return -1;
    a = *(__u64 *)(data + 4);
    b = *(__u32 *)(data + 12);
    *(__u64 *)data = a;
    *(__u32 *)(data + 8) = b;
    *(__be16 *)(data + 12) = tpid;
    *(__be16 *)(data + 14) = bpf_htons(tci);
    return 0;
}

/* Brings an XDP frame to its egress form: tagged, or untagged where `untag`. Returns
 * the frame's new length, or -1. */
static __always_inline int xb_vlan_xdp_egress_form(struct xdp_md *ctx, const struct xb_vlan_in *vi,
                                                   int untag, const struct xb_config *cfg,
                                                   __u32 len) {
    if (vi->tagged && untag)
        return xb_vlan_xdp_pop(ctx) ? -1 : (int)len - 4;
    if (!vi->tagged && !untag)
        return xb_vlan_xdp_push(ctx, xb_vlan_tpid(cfg), vi->tci) ? -1 : (int)len + 4;
    return (int)len;
}

/* The XDP hook's two VLAN steps, as global functions: the verifier checks each once, on
 * its own, instead of once per path of the ingress program (inlined, they tripled the
 * instructions it explores). Only a bridge that filters VLANs calls them. */
__noinline int xb_vlan_xdp_in(struct xdp_md *ctx, struct xb_frame *f, const struct xb_port *in,
                              const struct xb_config *cfg, struct xb_vlan_in *vi) {
    if (!ctx || !f || !in || !cfg || !vi)
        return XB_VLAN_DROP;
    return xb_vlan_xdp_classify(ctx, f, in, vi->slot, cfg, vi);
}

/* Returns the frame's length in its egress form, or -1. */
__noinline int xb_vlan_xdp_out(struct xdp_md *ctx, const struct xb_vlan_in *vi, __u32 untag,
                               const struct xb_config *cfg, __u32 len) {
    if (!ctx || !vi || !cfg)
        return -1;
    return xb_vlan_xdp_egress_form(ctx, vi, untag, cfg, len);
}

/* The devmap egress side of an XDP flood: the copy for port `slot` (XB_HOST_SLOT: the
 * host pair) leaves only where the port is a member of the frame's VLAN, without its tag
 * where the VLAN is untagged there. A flood is sent tagged (xb_xdp_ingress); a copy
 * without the bridge's tag is a link-local frame, which goes as it came. Returns an XDP
 * verdict. */
static __always_inline int xb_vlan_devmap_egress(struct xdp_md *ctx, const struct xb_config *cfg,
                                                 __u32 slot) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct xb_vlan_hdr *vh = data + sizeof(*eth);
    const struct xb_vlan *v;
    __u32 vid, len;

    if ((void *)(vh + 1) > data_end || eth->h_proto != xb_vlan_tpid(cfg))
        return XDP_PASS;
    vid = bpf_ntohs(vh->tci) & XB_VID_MASK;
    v = xb_vlan_get(vid);
    if (!xb_vlan_member(v, slot)) {
        xb_copy_held(slot); /* not a drop: the copy was not for this port */
        return XDP_DROP;
    }
    len = bpf_xdp_get_buff_len(ctx);
    if (xb_vlan_untagged(v, slot)) {
        if (xb_vlan_xdp_pop(ctx))
            return XDP_DROP;
        len -= 4;
    }
    xb_vlan_count_tx(vid, len);
    return XDP_PASS;
}

/* ---- TC ------------------------------------------------------------------- */

/* Classifies an skb on port `slot` (XB_HOST_SLOT with the host's PVID: frames the host
 * sends through the uplink). The bridge's tag is the skb's vlan_tci when that is of the
 * bridge's protocol (the receive path took the outer tag out; a VLAN device on the
 * uplink may put it there), else the packet's outer tag; a tag of the other protocol
 * beside the packet is an inner tag, payload to the bridge. A priority tag is replaced
 * by one with the PVID. */
static __always_inline int xb_vlan_tc_classify(struct __sk_buff *skb, struct xb_frame *f,
                                               __u16 pvid, __u32 slot, const struct xb_config *cfg,
                                               struct xb_vlan_in *vi) {
    const __be16 tpid = xb_vlan_tpid(cfg);
    int r;

    __builtin_memset(vi, 0, sizeof(*vi));
    if (skb->vlan_present) {
        if (skb->vlan_proto == tpid) {
            vi->tagged = 1;
            vi->tci = (__u16)skb->vlan_tci;
        }
    } else {
        void *data = (void *)(long)skb->data;
        void *data_end = (void *)(long)skb->data_end;
        struct ethhdr *eth = data;
        struct xb_vlan_hdr *vh = data + sizeof(*eth);

        if ((void *)(vh + 1) <= data_end && eth->h_proto == tpid) {
            vi->tagged = 1;
            vi->tci = bpf_ntohs(vh->tci);
        }
    }
    r = xb_vlan_classified(f, vi, pvid, slot);
    if (r != XB_VLAN_RETAG)
        return r;
    if (bpf_skb_vlan_pop(skb) || bpf_skb_vlan_push(skb, tpid, vi->tci))
        return XB_VLAN_DROP;
    return XB_VLAN_OK;
}

/* Brings an skb to the tag state wanted (tagged: with the frame's TCI). *tagged is the
 * state now, updated. Returns 0, or -1 when a helper failed. */
static __always_inline int xb_vlan_skb_form(struct __sk_buff *skb, __u8 *tagged, int want_tagged,
                                            __be16 tpid, __u16 tci) {
    if (*tagged == !!want_tagged)
        return 0;
    if (want_tagged) {
        if (bpf_skb_vlan_push(skb, tpid, tci))
            return -1;
    } else if (bpf_skb_vlan_pop(skb)) {
        return -1;
    }
    *tagged = !!want_tagged;
    return 0;
}

#endif
