/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Trace events, emitted only while a trace session runs (XB_CFG_TRACE). The check is
 * one load and one predictable branch; filters are applied here, not in userspace. */
#ifndef XB_TRACE_H
#define XB_TRACE_H

#include "maps.h"
#include "parse.h"

static __always_inline int xb_mac_eq(const __u8 *a, const __u8 *b) {
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
           a[5] == b[5];
}

/* A function of its own so that the event type is in the object's BTF (BTF records
 * functions and globals, not local variables), where bpftool and the ABI test read it. */
static __noinline void xb_trace_fill(struct xb_trace_event *ev, const struct xb_frame *f,
                                     __u32 ifindex, __u32 out_ifindex, __u32 what) {
    ev->ts_ns = bpf_ktime_get_ns();
    ev->ifindex = ifindex;
    ev->out_ifindex = out_ifindex;
    __builtin_memcpy(ev->src, f->src.mac, 6);
    __builtin_memcpy(ev->dst, f->dst.mac, 6);
    ev->vlan = f->src.vlan;
    ev->proto = f->proto;
    ev->len = f->len;
    ev->hook = what & 0xff;
    ev->action = (what >> 8) & 0xff;
    ev->reason = (what >> 16) & 0xff;
    __builtin_memset(ev->pad, 0, sizeof(ev->pad));
}

/* Out of line so the fast path carries only the flag test, and a global function so that
 * the verifier checks it once rather than at each of the hooks' many call sites. BPF
 * calls take at most five arguments: hook, action and reason travel packed in `what`. */
__noinline int xb_trace_emit(const struct xb_config *cfg, const struct xb_frame *f, __u32 ifindex,
                             __u32 out_ifindex, __u32 what) {
    struct xb_trace_event *ev;

    if (!cfg || !f)
        return 0;
    if (bpf_ktime_get_coarse_ns() > cfg->trace_until_ns)
        return 0; /* the lease ran out: the tracer is gone */
    if ((cfg->flags & XB_CFG_TRACE_PORT) && cfg->trace_ifindex != ifindex &&
        cfg->trace_ifindex != out_ifindex)
        return 0;
    if ((cfg->flags & XB_CFG_TRACE_MAC) && !xb_mac_eq(cfg->trace_mac, f->src.mac) &&
        !xb_mac_eq(cfg->trace_mac, f->dst.mac))
        return 0;

    ev = bpf_ringbuf_reserve(&trace_rb, sizeof(*ev), 0);
    if (!ev)
        return 0;
    xb_trace_fill(ev, f, ifindex, out_ifindex, what);
    bpf_ringbuf_submit(ev, 0);
    return 1;
}

static __always_inline void xb_trace(const struct xb_config *cfg, const struct xb_frame *f,
                                     __u32 ifindex, __u32 out_ifindex, enum xb_hook hook,
                                     enum xb_action action, enum xb_drop_reason reason) {
    if (cfg->flags & XB_CFG_TRACE)
        xb_trace_emit(cfg, f, ifindex, out_ifindex, hook | action << 8 | reason << 16);
}

#endif
