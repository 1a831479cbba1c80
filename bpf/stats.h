/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-port, per-CPU counters. The per-CPU array lookup is inlined by the verifier,
 * so a counter update is a few loads and stores, no atomics. */
#ifndef XB_STATS_H
#define XB_STATS_H

#include "maps.h"

static __always_inline struct xb_port_stats *xb_stats(__u32 slot) {
    return bpf_map_lookup_elem(&stats, &slot);
}

static __always_inline void xb_count(__u32 slot, enum xb_counter c) {
    struct xb_port_stats *st = xb_stats(slot);

    if (st)
        st->cnt[c]++;
}

/* A frame taken in on a port, and the hook that disposed of it. Returns the port's
 * counters (or NULL), for the caller's further counts on the same lookup. */
static __always_inline struct xb_port_stats *xb_count_rx(__u32 slot, __u32 len, enum xb_hook hook) {
    struct xb_port_stats *st = xb_stats(slot);

    if (!st)
        return NULL;
    st->cnt[XB_CNT_RX_PACKETS]++;
    st->cnt[XB_CNT_RX_BYTES] += len;
    st->cnt[hook == XB_HOOK_XDP ? XB_CNT_RX_XDP : XB_CNT_RX_TC]++;
    return st;
}

static __always_inline void xb_count_tx(__u32 slot, __u32 len) {
    struct xb_port_stats *st = xb_stats(slot);

    if (!st)
        return;
    st->cnt[XB_CNT_TX_PACKETS]++;
    st->cnt[XB_CNT_TX_BYTES] += len;
}

static __always_inline void xb_count_drop(__u32 slot, enum xb_drop_reason reason) {
    struct xb_port_stats *st = xb_stats(slot);

    if (!st || reason >= XB_DROP_MAX)
        return;
    st->drop[reason]++;
    st->cnt[XB_CNT_DROPPED]++;
}

#endif
