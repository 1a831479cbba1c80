/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Storm guard, for loops the bridge did not make (two of its ports cabled together, a
 * guest bridging two of its NICs): a per-port rate limit on the frames it floods -
 * broadcast, multicast and unknown unicast, each of which would circle a loop for ever -
 * as a switch's storm control. Each frame costs 1 s / storm_pps of a time budget that
 * time passing refills, up to a burst (XB_STORM_BURST_NS, or one frame's cost if
 * larger). Per CPU, so no atomics: a storm spread over N CPUs passes at most N times the
 * limit. Only floods that are committed are charged (an XDP flood left to the TC hook is
 * charged there, once), never known unicast. */
#ifndef XB_STORM_H
#define XB_STORM_H

#include "maps.h"

/* Whether a flood from port in (slot) is over the port's storm limit. */
static __always_inline int xb_storm_exceeded(__u32 slot, const struct xb_port *in) {
    struct xb_storm_bucket *b;
    __u64 now, cost, cap, budget;
    __u32 pps = in->storm_pps;

    if (!pps)
        return 0;
    b = bpf_map_lookup_elem(&storm, &slot);
    if (!b)
        return 0;
    now = bpf_ktime_get_ns();
    cost = 1000000000ull / pps;
    cap = cost > XB_STORM_BURST_NS ? cost : XB_STORM_BURST_NS;
    /* A new bucket (last_ns 0) starts full. */
    budget = now - b->last_ns;
    if (budget > cap || b->budget_ns > cap - budget)
        budget = cap;
    else
        budget += b->budget_ns;
    b->last_ns = now;
    if (budget < cost) {
        b->budget_ns = budget;
        return 1;
    }
    b->budget_ns = budget - cost;
    return 0;
}

#endif
