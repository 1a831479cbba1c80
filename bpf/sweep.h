/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The FDB ageing sweep, run inside the kernel by the controller (BPF_PROG_TEST_RUN of a
 * syscall program): a walk of the hash table with bpf_for_each_map_elem that deletes
 * the expired learned entries in place. Copying a million entries to userspace and
 * deleting them back in batches cost more than the sweep itself. */
#ifndef XB_SWEEP_H
#define XB_SWEEP_H

#include "decide.h"
#include "maps.h"

struct bpf_map;

/* The walk's tallies live in a map value, not on the stack: the verifier follows a
 * callback's stack writes from one iteration to the next and gives up on a counter. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, struct xb_sweep_ctx);
    __uint(max_entries, 1);
} sweep_tally SEC(".maps");

struct xb_sweep_args {
    __u64 now_ns;
    __u64 ageing_ns;
    struct xb_sweep_ctx *tally;
};

static long xb_sweep_one(struct bpf_map *map, struct xb_fdb_key *key, struct xb_fdb_val *val,
                         struct xb_sweep_args *args) {
    struct xb_sweep_ctx *tally = args->tally;

    __sync_fetch_and_add(&tally->scanned, 1);
    /* Dynamic, and unseen for longer than the ageing time; an entry stamped after
     * now_ns was read is not expired. */
    if (val->type != XB_FDB_DYNAMIC || args->now_ns <= val->updated_ns ||
        args->now_ns - val->updated_ns <= args->ageing_ns)
        return 0;
    /* Deleting the current element is safe: the walk holds no bucket lock, only RCU. */
    if (bpf_map_delete_elem(map, key) == 0)
        __sync_fetch_and_add(&tally->removed, 1);
    return 0;
}

SEC("syscall")
int xb_fdb_sweep(struct xb_sweep_ctx *ctx) {
    struct xb_config *cfg = xb_config();
    __u32 zero = 0;
    struct xb_sweep_ctx *tally = bpf_map_lookup_elem(&sweep_tally, &zero);
    struct xb_sweep_args args = {.now_ns = ctx->now_ns, .ageing_ns = ctx->ageing_ns};

    if (!tally || !cfg)
        return 1;
    tally->scanned = 0;
    tally->removed = 0;
    args.tally = tally;
    if (args.ageing_ns)
        bpf_for_each_map_elem(&fdb, xb_sweep_one, &args, 0);
    ctx->scanned = tally->scanned;
    ctx->removed = tally->removed;
    if (ctx->removed) {
        /* The caches must stop serving what is gone. */
        __sync_fetch_and_add(&cfg->fdb_gen, 1);
        /* The learned count goes down atomically, beside the datapath's increments. */
        __u64 n = cfg->n_learned;
        __sync_fetch_and_sub(&cfg->n_learned, ctx->removed < n ? ctx->removed : n);
    }
    return 0;
}

#endif
