/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Frames lost after the XDP program returned XDP_REDIRECT, counted as drops of the
 * target port (whose tx counted them already), read from two tracepoints:
 *  - xdp:xdp_redirect_err: xdp_do_redirect could not queue a known-unicast frame to
 *    its target (a device that is down: -ENETDOWN; one that takes no XDP frames);
 *  - xdp:xdp_devmap_xmit: the device refused frames at the devmap's flush (one event
 *    per bulk, not per frame). A tap without a reader refuses with -ENXIO; a full ring
 *    (a guest not reading fast enough) drops the rest of the bulk.
 * Neither fires on a frame that went through, so the fast path pays nothing for them. */
#ifndef XB_DEVMAP_XMIT_H
#define XB_DEVMAP_XMIT_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "decide.h"
#include "mdb.h"
#include "stats.h"

/* The few kernel fields read here, relocated with CO-RE against the running kernel's
 * BTF, so the object needs no vmlinux.h. */
struct ns_common {
    unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
    struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
    struct net *net;
} __attribute__((preserve_access_index)) possible_net_t;

struct net_device {
    int ifindex;
    possible_net_t nd_net;
} __attribute__((preserve_access_index));

struct bpf_prog;

#define XB_ENXIO 6
#define XB_ENETDOWN 100

/* Whether dev is in this bridge's network namespace (the tracepoints fire for every
 * device of the system). */
static __always_inline int xb_dev_here(const struct net_device *dev, const struct xb_config *cfg) {
    return BPF_CORE_READ(dev, nd_net.net, ns.inum) == cfg->netns_ino;
}

SEC("tp_btf/xdp_redirect_err")
int BPF_PROG(xb_redirect_err, const struct net_device *dev, const struct bpf_prog *xdp,
             const void *tgt, int err, enum bpf_map_type map_type, __u32 map_id, __u32 index) {
    struct xb_config *cfg;
    struct xb_port *out;
    __u32 slot = index;

    /* Only this bridge's known-unicast redirects: its own tx_ports map, keyed by slot.
     * (A failed broadcast has sent what it could; it is not counted here.) */
    if (map_type != BPF_MAP_TYPE_DEVMAP)
        return 0;
    cfg = xb_config();
    if (!cfg || !map_id || map_id != cfg->tx_ports_id || !xb_dev_here(dev, cfg))
        return 0;
    out = bpf_map_lookup_elem(&ports, &slot);
    if (!out || !out->ifindex)
        return 0;
    xb_count_drop(slot, err == -XB_ENETDOWN ? XB_DROP_PORT_DOWN : XB_DROP_REDIRECT);
    return 0;
}

SEC("tp_btf/xdp_devmap_xmit")
int BPF_PROG(xb_devmap_xmit, const struct net_device *from_dev, const struct net_device *to_dev,
             int sent, int drops, int err) {
    struct xb_config *cfg;
    __u32 slot;

    if (drops <= 0)
        return 0;
    cfg = xb_config();
    if (!cfg)
        return 0;
    /* The tracepoint fires for every devmap in the system: keep this bridge's ports. */
    if (!xb_dev_here(to_dev, cfg))
        return 0;
    if (!xb_port_of(BPF_CORE_READ(to_dev, ifindex), &slot))
        return 0;
    /* Copies the devmap egress program held back (multicast snooping) are reported as
     * drops of the flush: they are none. Same CPU, same flush: the count is exact. */
    __u64 *held = bpf_map_lookup_elem(&mdb_filtered, &slot);
    if (held && *held) {
        const __u64 n = *held < (__u64)drops ? *held : (__u64)drops;

        *held -= n;
        drops -= (int)n;
        if (drops <= 0)
            return 0;
    }

    struct xb_port_stats *st = xb_stats(slot);
    if (st) {
        st->drop[err == -XB_ENXIO ? XB_DROP_NO_READER : XB_DROP_REDIRECT] += drops;
        st->cnt[XB_CNT_DROPPED] += drops;
    }
    return 0;
}

#endif
