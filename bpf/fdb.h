/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Forwarding database: lookup and learning (the kernel's br_fdb_find / br_fdb_update). */
#ifndef XB_FDB_H
#define XB_FDB_H

#include "maps.h"
#include "parse.h"
#include "stats.h"

static __always_inline struct xb_fdb_val *xb_fdb_find(const struct xb_fdb_key *key)
{
    return bpf_map_lookup_elem(&fdb, key);
}

/* Learns the source of a frame that came in on port `slot`. Writes the FDB only when
 * the entry is new, moved, or its timestamp is older than XB_FDB_REFRESH_NS: a
 * per-frame write would serialise CPUs on the bucket lock and bounce the entry's
 * cache line. Existing entries are updated in place (plain stores; a reader racing a
 * move sees the old or the new port, both valid). Static and local entries are never
 * moved by learning. Ageing follows this timestamp only: destination hits refresh
 * nothing. */
static __always_inline void xb_fdb_update(const struct xb_fdb_key *src, __u32 ifindex, __u32 slot,
                                          struct xb_config *cfg)
{
    __u64 now = bpf_ktime_get_coarse_ns();
    struct xb_fdb_val *v = xb_fdb_find(src);

    if (v) {
        if (v->type != XB_FDB_DYNAMIC)
            return;
        if (v->ifindex != ifindex) {
            v->ifindex = ifindex;
            v->slot = slot;
            v->updated_ns = now;
            xb_count(slot, XB_CNT_MOVED);
        } else if (now - v->updated_ns > XB_FDB_REFRESH_NS) {
            v->updated_ns = now;
        }
        return;
    }

    if (cfg->max_learned && cfg->n_learned >= cfg->max_learned) {
        xb_count(slot, XB_CNT_LEARN_REFUSED);
        return;
    }

    struct xb_fdb_val nv = {
        .ifindex = ifindex,
        .slot = slot,
        .type = XB_FDB_DYNAMIC,
        .updated_ns = now,
    };
    long err = bpf_map_update_elem(&fdb, src, &nv, BPF_NOEXIST);

    if (err == 0) {
        __sync_fetch_and_add(&cfg->n_learned, 1);
        xb_count(slot, XB_CNT_LEARNED);
    } else if (err != -17 /* EEXIST: another CPU learned it first */) {
        xb_count(slot, XB_CNT_LEARN_REFUSED);
    }
}

#endif
