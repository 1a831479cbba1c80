/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The per-CPU flow cache: known-unicast decisions of the XDP hook, reused while a
 * frame's ingress port, source and destination keep arriving (abi.h: xb_flow_ent).
 * A hit stands for the whole decision - VLAN classification, source checks, locked-port
 * check, learning, destination lookup, target port check - because an entry is filled
 * only by a frame that went through all of it, and is trusted only while nothing it
 * depends on changed: every FDB move or removal, every port change and every VLAN or
 * VLAN setting change bumps the generation, and after XB_CACHE_RECHECK_J jiffies the
 * full path runs again and refreshes the source's FDB timestamp (ageing).
 *
 * It is looked up on the frame as it came, before the VLAN classification: keyed on
 * the outer tag as read (its TPID and VID, or none), the classification's result is
 * in the entry. A priority-tagged frame, whose tag the classification rewrites with
 * the frame's own priority, is not cached under VLAN filtering. */
#ifndef XB_FLOW_H
#define XB_FLOW_H

#include "decide.h"
#include "fdb.h"
#include "maps.h"
#include "parse.h"

static __always_inline struct xb_flow_ent *xb_flow_slot(const struct xb_frame *f) {
    /* Bytes 3-5 of the source MAC, 4-5 of the destination, and the VLAN, folded. */
    const __u64 s = *(const __u64 *)&f->src, d = *(const __u64 *)&f->dst;
    const __u32 h = (__u32)((s ^ (d >> 8)) >> 24);
    __u32 idx = (h ^ (h >> 8) ^ (h >> 16)) & (XB_FLOW_CACHE_SIZE - 1);

    return bpf_map_lookup_elem(&flow_cache, &idx);
}

static __always_inline int xb_flow_hit(const struct xb_flow_ent *e, const struct xb_frame *f,
                                       __be16 in_proto, __u32 in_ifindex, __u32 gen, __u32 j) {
    return e->valid && e->gen == gen && e->in_ifindex == in_ifindex &&
           *(const __u64 *)&e->dst == *(const __u64 *)&f->dst &&
           *(const __u64 *)&e->src == *(const __u64 *)&f->src && e->in_proto == in_proto &&
           j - e->filled_j < XB_CACHE_RECHECK_J;
}

/* Fills an entry from the full path's decision `d` (with its generation) and the frame's
 * VLAN `vi`. src_key and dst_key are the frame's keys as it came, before any VLAN
 * classification gave them its VLAN. */
static __always_inline void xb_flow_fill(struct xb_flow_ent *e, __u64 src_key, __u64 dst_key,
                                         __be16 in_proto, __u32 in_ifindex,
                                         const struct xb_decision *d, const struct xb_vlan_in *vi,
                                         __u8 to_tap_from_nontap, __u32 j) {
    *(__u64 *)&e->src = src_key;
    *(__u64 *)&e->dst = dst_key;
    e->in_ifindex = in_ifindex;
    e->out_ifindex = d->out_ifindex;
    e->gen = d->gen;
    e->filled_j = j;
    e->in_slot = d->in_slot;
    e->out_slot = d->out_slot;
    e->to_tap_from_nontap = to_tap_from_nontap;
    e->vlan_untag = d->vlan_untag;
    e->vlan_tagged = vi->tagged;
    e->in_proto = in_proto;
    e->vlan_vid = vi->vid;
    e->valid = 1;
}

#endif
