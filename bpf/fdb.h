/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Forwarding database: lookup and learning (the kernel's br_fdb_find / br_fdb_update). */
#ifndef XB_FDB_H
#define XB_FDB_H

#include "maps.h"
#include "parse.h"
#include "stats.h"

static __always_inline struct xb_fdb_val *xb_fdb_find(const struct xb_fdb_key *key) {
    return bpf_map_lookup_elem(&fdb, key);
}

/* ---- the per-CPU FDB cache ----------------------------------------------------
 * A direct-mapped array per CPU in front of the hash table: while a frame's MACs keep
 * coming, its two lookups are array reads instead of hash lookups. An entry is trusted
 * only while its generation is the config's fdb_gen, which every move (here) and every
 * removal or static entry (the controller, the sweep) bumps: a cached port is never
 * older than the table it came from. Misses are not cached. */

static __always_inline struct xb_fdb_cache_ent *xb_cache_slot(const struct xb_fdb_key *key) {
    __u32 idx = (key->mac[5] ^ (key->mac[4] << 1) ^ (key->mac[3] << 2) ^ key->vlan) &
                (XB_FDB_CACHE_SIZE - 1);

    return bpf_map_lookup_elem(&fdb_cache, &idx);
}

static __always_inline int xb_cache_hit(const struct xb_fdb_cache_ent *c,
                                        const struct xb_fdb_key *key, __u32 gen) {
    return c->valid && c->gen == gen && *(const __u64 *)&c->key == *(const __u64 *)key;
}

static __always_inline void xb_cache_fill(struct xb_fdb_cache_ent *c, const struct xb_fdb_key *key,
                                          const struct xb_fdb_val *v, __u32 gen, __u32 j) {
    *(__u64 *)&c->key = *(const __u64 *)key;
    c->ifindex = v->ifindex;
    c->slot = v->slot;
    c->type = v->type;
    c->updated_ns = v->updated_ns;
    c->gen = gen;
    c->checked_j = j;
    c->valid = 1;
}

/* How often (in jiffies: 8 to 80 ms) a CPU that keeps seeing a source compares its
 * entry's timestamp with the clock. In between, learning a known source reads neither
 * the FDB nor the clock: jiffies is a plain load, the coarse clock a helper call. */
#define XB_CACHE_RECHECK_J 8

/* Looks key up, through the cache. Fills *out and returns 0, or -1 if not found. */
static __always_inline int xb_fdb_lookup(const struct xb_fdb_key *key, __u32 gen,
                                         struct xb_fdb_val *out) {
    struct xb_fdb_cache_ent *c = xb_cache_slot(key);
    struct xb_fdb_val *v;

    if (c && xb_cache_hit(c, key, gen)) {
        out->ifindex = c->ifindex;
        out->slot = c->slot;
        out->type = c->type;
        out->updated_ns = c->updated_ns;
        return 0;
    }
    v = xb_fdb_find(key);
    if (!v)
        return -1;
    *out = *v;
    if (c)
        xb_cache_fill(c, key, v, gen, (__u32)bpf_jiffies64());
    return 0;
}

/* Whether key's MAC is a port's own address: its local entry is on VLAN 0. */
static __always_inline int xb_is_local_mac(const struct xb_fdb_key *key) {
    struct xb_fdb_key untagged = *key;
    struct xb_fdb_val *l;

    untagged.vlan = 0;
    l = xb_fdb_find(&untagged);
    return l && l->type == XB_FDB_LOCAL;
}

/* Notes a move of src from port `from` to port `to` (map policy_flap), for the
 * controller's flapping report. Moves are rare: the slow path's cost. */
static __always_inline void xb_flap_note(const struct xb_fdb_key *src, __u32 from, __u32 to,
                                         __u64 now) {
    struct xb_mac_flap *fl = bpf_map_lookup_elem(&policy_flap, src);

    if (!fl) {
        struct xb_mac_flap n = {.moves = 1, .last_ns = now, .from_ifindex = from, .to_ifindex = to};

        bpf_map_update_elem(&policy_flap, src, &n, BPF_NOEXIST);
        return;
    }
    __sync_fetch_and_add(&fl->moves, 1);
    fl->last_ns = now;
    fl->from_ifindex = from;
    fl->to_ifindex = to;
}

/* Learns the source of a frame that came in on port `slot`. Writes the FDB only when
 * the entry is new, moved, or its timestamp is older than XB_FDB_REFRESH_NS: a
 * per-frame write would serialise CPUs on the bucket lock and bounce the entry's
 * cache line. A known entry's timestamp is refreshed in place; a move replaces the
 * entry through the map (a reader racing it sees the old or the new port). Static and
 * local entries are never moved by learning. Ageing follows this timestamp only:
 * destination hits refresh nothing. `gen` is the FDB generation read before any lookup
 * of this frame. Returns 1 when a new MAC was refused (the learning limit, a full
 * table): the hook that disposes of the frame counts it, so that a frame XDP passes to
 * TC, which learns again, is counted once. */
static __always_inline int xb_fdb_update(const struct xb_fdb_key *src, __u32 ifindex, __u32 slot,
                                         struct xb_config *cfg, __u32 gen) {
    struct xb_fdb_cache_ent *c = xb_cache_slot(src);
    const __u32 j = (__u32)bpf_jiffies64();
    struct xb_fdb_val *v;
    __u64 now;

    if (c && xb_cache_hit(c, src, gen) && c->ifindex == ifindex) {
        /* Known on this port: static and local entries are never ours to touch, and a
         * learned one only needs its timestamp refreshed once a second. */
        if (c->type != XB_FDB_DYNAMIC || j - c->checked_j < XB_CACHE_RECHECK_J)
            return 0;
        now = bpf_ktime_get_coarse_ns();
        if (now - c->updated_ns <= XB_FDB_REFRESH_NS) {
            c->checked_j = j;
            return 0;
        }
    } else {
        now = bpf_ktime_get_coarse_ns();
    }

    v = xb_fdb_find(src);
    /* A port's own address is the host's on every VLAN, but its local entry is kept for
     * VLAN 0 only: a tagged frame with it as source must not learn it onto a port (and
     * take the host's frames on that VLAN), as br_fdb_update refuses it. */
    if ((!v || (v->type == XB_FDB_DYNAMIC && v->ifindex != ifindex)) && src->vlan &&
        xb_is_local_mac(src))
        return 0;
    struct xb_fdb_val nv = {
        .ifindex = ifindex,
        .slot = slot,
        .type = XB_FDB_DYNAMIC,
        .updated_ns = now,
    };

    if (v) {
        if (v->type == XB_FDB_DYNAMIC && v->ifindex != ifindex) {
            /* A move replaces the entry through the map, under its bucket lock, rather
             * than storing into *v: the FDB is preallocated, and an element removed
             * since the lookup (a flush of the port this MAC leaves, the sweep) may
             * already hold another MAC's entry. A replace of an entry gone meanwhile
             * fails, and the next frame learns the MAC anew. */
            const __u32 from = v->ifindex;

            if (bpf_map_update_elem(&fdb, src, &nv, BPF_EXIST))
                return 0;
            xb_count(slot, XB_CNT_MOVED);
            xb_flap_note(src, from, ifindex, now);
            /* Every CPU's cached port for this MAC is wrong now. */
            gen = __sync_fetch_and_add(&cfg->fdb_gen, 1) + 1;
            v = &nv;
        } else if (v->type == XB_FDB_DYNAMIC && now - v->updated_ns > XB_FDB_REFRESH_NS) {
            /* In place: at worst, into a reused element, one entry ages a little later. */
            v->updated_ns = now;
        }
        if (c)
            xb_cache_fill(c, src, v, gen, j);
        return 0;
    }

    if (cfg->max_learned && cfg->n_learned >= cfg->max_learned)
        return 1;

    long err = bpf_map_update_elem(&fdb, src, &nv, BPF_NOEXIST);

    if (err == 0) {
        __sync_fetch_and_add(&cfg->n_learned, 1);
        xb_count(slot, XB_CNT_LEARNED);
        if (c)
            xb_cache_fill(c, src, &nv, gen, j);
        return 0;
    }
    return err != -17; /* EEXIST: another CPU learned it first */
}

#endif
