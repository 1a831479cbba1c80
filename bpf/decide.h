/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The switching decision, the same for the XDP and TC ingress hooks (the kernel's
 * br_handle_frame + br_handle_frame_finish). It only decides; each hook carries the
 * decision out with its own primitives (bpf_redirect_map vs bpf_redirect). */
#ifndef XB_DECIDE_H
#define XB_DECIDE_H

#include "fdb.h"
#include "maps.h"
#include "parse.h"
#include "policy.h"
#include "stats.h"
#include "vlan.h"

enum xb_flood_class {
    XB_FLOOD_UCAST = 0, /* unknown unicast */
    XB_FLOOD_MCAST = 1,
    XB_FLOOD_BCAST = 2,
};

struct xb_decision {
    /* In: set by the caller. */
    __u32 in_slot; /* the ingress port's slot */
    __u32 gen;     /* xb_gen(), read before anything else of this frame */
    /* Out. */
    __u8 action;       /* enum xb_action */
    __u8 reason;       /* enum xb_drop_reason, for XB_ACT_DROP */
    __u8 flood_class;  /* enum xb_flood_class, for XB_ACT_FLOOD */
    __u8 host_copy;    /* XB_ACT_FLOOD: the host stack gets a copy too */
    __u32 out_ifindex; /* XB_ACT_FORWARD: target; XB_ACT_TO_HOST: the port whose stack takes it */
    __u32 out_slot;
    __u8 out_kind;      /* XB_ACT_FORWARD: the target's enum xb_port_kind */
    __u8 learn_refused; /* the source is new and was not learned (xb_fdb_update) */
    __u8 out_no_reader; /* XB_ACT_FORWARD: a tap the controller saw lose its reader */
    __u8 vlan_untag;    /* VLAN filtering: XB_ACT_FORWARD: the frame leaves out_slot untagged;
                         * XB_ACT_TO_HOST, XB_ACT_FLOOD: the host's copy goes up untagged */
    __u32 out_mtu;      /* XB_ACT_FORWARD: the target's MTU (0: unknown) */
};

/* The port-flag a port needs to take a flood of this class. */
static __always_inline __u32 xb_flood_flag(__u32 flood_class) {
    if (flood_class == XB_FLOOD_BCAST)
        return XB_PORT_BCAST_FLOOD;
    if (flood_class == XB_FLOOD_MCAST)
        return XB_PORT_MCAST_FLOOD;
    return XB_PORT_FLOOD;
}

/* A tap whose carrier the controller saw go (no queue attached: QEMU gone). An XDP
 * redirect learns of the refusal from the tap itself (devmap_xmit.h); an skb the TC hook
 * sends is dropped by tun without a word, so the TC hook counts it from this, which is
 * as current as the controller's view. The frame is sent all the same: the datapath
 * does not stop traffic on the controller's word. */
static __always_inline int xb_tap_without_reader(const struct xb_port *p) {
    return p->kind == XB_KIND_TAP && !(p->flags & XB_PORT_UP);
}

static __always_inline void xb_drop(struct xb_decision *d, enum xb_drop_reason reason) {
    d->action = XB_ACT_DROP;
    d->reason = reason;
}

/* The generation of the FDB and the ports. Read once per frame, before any lookup:
 * what the frame caches belongs to this generation. */
static __always_inline __u32 xb_gen(const struct xb_config *cfg) {
    return *(const volatile __u32 *)&cfg->fdb_gen;
}

/* The switching decision proper (xb_decide). */
static __always_inline int xb_decide_switch(const struct xb_frame *frame, const struct xb_port *in,
                                            struct xb_config *cfg, struct xb_decision *d) {
    struct xb_fdb_val dst;
    struct xb_frame local;
    const struct xb_frame *f = &local;
    __u32 in_ifindex, in_slot, gen;

    if (!frame || !in || !cfg || !d)
        return 0;
    /* A map key must be on the stack, in a map value or in the packet for Debian 12's
     * kernel (6.1): it refuses a global function's pointer argument, plain memory. */
    local = *frame;
    in_ifindex = in->ifindex;
    in_slot = d->in_slot;
    gen = d->gen;
    __builtin_memset(d, 0, sizeof(*d));
    d->in_slot = in_slot;
    d->gen = gen;

    /* A frame with a group or zero source address is invalid (is_valid_ether_addr). */
    if (xb_is_group(f->src.mac) || xb_is_zero(f->src.mac)) {
        xb_drop(d, XB_DROP_BAD_SRC);
        return 0;
    }

    /* Link-local control frames, as br_handle_frame with STP off and the default
     * group_fwd_mask: PAUSE is dropped unlearned; STP BPDUs (…:00) are flooded, to keep
     * loop detection working; the rest (LACP, 802.1X, LLDP...) belong to the link they
     * came on and go up the stack of their ingress port, after learning. */
    const int link_local = xb_link_local(f->dst.mac);

    if (link_local == 0x01) {
        xb_drop(d, XB_DROP_PAUSE);
        return 0;
    }

    if (in->flags & XB_PORT_LOCKED) {
        struct xb_fdb_val *s = xb_fdb_find(&f->src);

        if (!s || s->type != XB_FDB_STATIC || s->ifindex != in_ifindex) {
            /* Link-local frames still go up the port's own stack, unlearned, as the
             * kernel's locked ports take them (br_handle_frame hands them to the host
             * before the lock is looked at): 802.1X (EAPOL) must reach the
             * authenticator that opens the port. */
            if (link_local > 0) {
                d->action = XB_ACT_TO_HOST;
                d->out_ifindex = in_ifindex;
                d->out_slot = in_slot;
                return 0;
            }
            xb_drop(d, XB_DROP_LOCKED);
            return 0;
        }
    }

    if (in->flags & XB_PORT_LEARNING)
        d->learn_refused = xb_fdb_update(&f->src, in_ifindex, in_slot, cfg, gen);

    if (link_local > 0) {
        d->action = XB_ACT_TO_HOST;
        d->out_ifindex = in_ifindex;
        d->out_slot = in_slot;
        return 0;
    }

    if (xb_is_group(f->dst.mac)) {
        d->action = XB_ACT_FLOOD;
        d->flood_class = xb_is_broadcast(f->dst.mac) ? XB_FLOOD_BCAST : XB_FLOOD_MCAST;
        /* The host hears broadcast and multicast, as br0 does. */
        d->host_copy = cfg->uplink_ifindex != 0;
        return 0;
    }

    if (xb_fdb_lookup(&f->dst, gen, &dst)) {
        /* The ports' own addresses are the host's on every VLAN, but their local entries
         * are kept for VLAN 0: a tagged frame for one goes up too, for the VLAN device. */
        struct xb_fdb_key untagged = f->dst;
        struct xb_fdb_val *l;

        untagged.vlan = 0;
        if (f->dst.vlan && (l = xb_fdb_find(&untagged)) && l->type == XB_FDB_LOCAL) {
            d->action = XB_ACT_TO_HOST;
            d->out_ifindex = l->ifindex;
            d->out_slot = l->slot;
            return 0;
        }
        d->action = XB_ACT_FLOOD;
        d->flood_class = XB_FLOOD_UCAST;
        return 0;
    }
    if (dst.type == XB_FDB_LOCAL) {
        d->action = XB_ACT_TO_HOST;
        d->out_ifindex = dst.ifindex;
        d->out_slot = dst.slot;
        return 0;
    }
    if (dst.ifindex == in_ifindex && !(in->flags & XB_PORT_HAIRPIN)) {
        /* A switch does not hairpin: the destination is behind the port it came from.
         * A hairpin port (VEPA's reflective relay) sends it back out. */
        xb_drop(d, XB_DROP_SAME_PORT);
        return 0;
    }

    __u32 out_slot = dst.slot;
    struct xb_port *out = bpf_map_lookup_elem(&ports, &out_slot);

    /* The port's carrier is not looked at: the controller follows it, but the datapath
     * must not depend on the controller. A tap without a reader refuses the frame
     * itself, and the refusal is counted (devmap_xmit.h). Only a slot that no longer
     * holds the entry's port - a port that just left - stops the frame here. */
    if (!out || out->ifindex != dst.ifindex) {
        xb_drop(d, XB_DROP_PORT_DOWN);
        return 0;
    }
    /* Isolated ports reach only ports that are not (br_skb_isolated). */
    if (in->flags & out->flags & XB_PORT_ISOLATED) {
        xb_drop(d, XB_DROP_ISOLATED);
        return 0;
    }
    /* A port its BPDU guard blocked receives nothing (policy.h). */
    if (xb_port_blocked(out_slot, out->flags)) {
        xb_drop(d, XB_DROP_BLOCKED);
        return 0;
    }
    d->action = XB_ACT_FORWARD;
    d->out_ifindex = dst.ifindex;
    d->out_slot = out_slot;
    d->out_kind = out->kind;
    d->out_mtu = out->mtu;
    d->out_no_reader = xb_tap_without_reader(out);
    return 0;
}

/* VLAN filtering, after the decision (br_forward's br_allowed_egress, br_pass_frame_up's
 * check of the bridge device): a known unicast goes only to a member of the frame's VLAN,
 * the host hears only its own VLANs, and each learns whether the frame leaves untagged.
 * A flood's copies are filtered per port by the hook that sends them. */
static __always_inline void xb_decide_vlan(const struct xb_frame *f, struct xb_decision *d) {
    const struct xb_vlan *v = xb_vlan_get(f->dst.vlan);

    switch (d->action) {
    case XB_ACT_FORWARD:
        if (!xb_vlan_member(v, d->out_slot)) {
            xb_drop(d, XB_DROP_VLAN);
            return;
        }
        d->vlan_untag = xb_vlan_untagged(v, d->out_slot);
        return;
    case XB_ACT_FLOOD:
        if (!xb_vlan_member(v, XB_HOST_SLOT))
            d->host_copy = 0;
        d->vlan_untag = xb_vlan_untagged(v, XB_HOST_SLOT);
        return;
    case XB_ACT_TO_HOST:
        /* Link-local frames go up their own port's stack, as they came. */
        if (xb_link_local(f->dst.mac) > 0)
            return;
        if (!xb_vlan_member(v, XB_HOST_SLOT)) {
            xb_drop(d, XB_DROP_VLAN);
            return;
        }
        d->vlan_untag = xb_vlan_untagged(v, XB_HOST_SLOT);
        return;
    default:
        return;
    }
}

/* Decides what happens to a frame that came in on port `in` (slot d->in_slot).
 * A global function: the verifier checks it once, on its own, and its callers see
 * its result as one unknown outcome rather than one path per branch in it. Inlined,
 * the XDP program's verification explored 58,700-89,000 instructions for 1,400 of
 * code, most of the time an `up` took (docs/design.md). The flow cache's path
 * does not take the call. With VLAN filtering, the frame's keys carry the VLAN the
 * ingress hook classified it into (0: a link-local frame, left unfiltered). */
__noinline int xb_decide(const struct xb_frame *frame, const struct xb_port *in,
                         struct xb_config *cfg, struct xb_decision *d) {
    if (!frame || !in || !cfg || !d)
        return 0;
    xb_decide_switch(frame, in, cfg, d);
    if (xb_vlan_filtering(cfg) && frame->dst.vlan)
        xb_decide_vlan(frame, d);
    return 0;
}

/* The ingress port of a frame, or NULL when ifindex is not a port of this bridge. */
static __always_inline struct xb_port *xb_port_of(__u32 ifindex, __u32 *slot) {
    __u32 *s;
    struct xb_port *p;

    if (ifindex < XB_IFINDEX_DIRECT)
        s = bpf_map_lookup_elem(&port_index, &ifindex);
    else
        s = bpf_map_lookup_elem(&port_index_hi, &ifindex);
    if (!s || !*s)
        return NULL;
    *slot = *s;
    p = bpf_map_lookup_elem(&ports, slot);
    if (!p || p->ifindex != ifindex)
        return NULL;
    return p;
}

static __always_inline struct xb_config *xb_config(void) {
    __u32 zero = 0;

    return bpf_map_lookup_elem(&config, &zero);
}

#endif
