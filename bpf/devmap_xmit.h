/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Frames a device refused after an XDP redirect: the drops of xdp_do_flush happen after
 * the program returned, so they are read from the xdp:xdp_devmap_xmit tracepoint (one
 * event per bulk flush, not per frame). A tap without a reader refuses with -ENXIO; a
 * full ring (a guest not reading fast enough) drops the rest of the bulk. */
#ifndef XB_DEVMAP_XMIT_H
#define XB_DEVMAP_XMIT_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "decide.h"
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

#define XB_ENXIO 6

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
    if (BPF_CORE_READ(to_dev, nd_net.net, ns.inum) != cfg->netns_ino)
        return 0;
    if (!xb_port_of(BPF_CORE_READ(to_dev, ifindex), &slot))
        return 0;

    struct xb_port_stats *st = xb_stats(slot);
    if (st) {
        st->drop[err == -XB_ENXIO ? XB_DROP_NO_READER : XB_DROP_REDIRECT] += drops;
        st->cnt[XB_CNT_DROPPED] += drops;
    }
    return 0;
}

#endif
