/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Packet capture (`xbridge capture`): while a session runs (XB_CFG_CAPTURE), each frame
 * a hook disposes of is copied, whole up to the session's snap length, into the
 * capture_pb perf buffer, behind a struct xb_capture_hdr. Filtered here, as the trace
 * is: by port (frames in or out of it) and by MAC.
 *
 * Why bpf_perf_event_output and not a BPF ring buffer: the perf helper copies the
 * frame straight from the XDP buffer or the skb (BPF_F_CTXLEN_MASK) in one step, any
 * length up to the record limit, paged skbs and XDP fragments included. A ring buffer
 * record must be reserved with a size known to the verifier, so every frame would take
 * a record of the largest size, or be copied twice (into a scratch map first); and
 * frames this large are exactly what a capture must not cut short. The price is one
 * buffer per CPU: frames of different CPUs reach the reader in no global order (their
 * timestamps say when each was seen).
 *
 * With no session the hooks pay one test of a config flag they have loaded anyway. */
#ifndef XB_CAPTURE_H
#define XB_CAPTURE_H

#include "maps.h"
#include "parse.h"
#include "trace.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, struct xb_capture_cfg);
    __uint(max_entries, 1);
} capture_cfg SEC(".maps");

/* One perf ring per CPU; its size is the reader's (perf_buffer__new). */
struct {
    __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(__u32));
} capture_pb SEC(".maps");

/* A function of its own so that the header's type is in the object's BTF (for the ABI
 * test). what: the hook in the low byte, caplen above it. */
static __noinline void xb_capture_fill(struct xb_capture_hdr *hdr, const struct xb_frame *f,
                                       __u32 ifindex, __u32 out_ifindex, __u32 what) {
    __builtin_memset(hdr, 0, sizeof(*hdr));
    hdr->ts_ns = bpf_ktime_get_ns();
    hdr->len = f->len;
    hdr->caplen = what >> 8;
    hdr->ifindex = ifindex;
    hdr->out_ifindex = out_ifindex;
    hdr->hook = what & 0xff;
}

/* The copy, out of line so that the fast path carries only the flag test, and a global
 * function (one per context type) so that the verifier checks it once, not at each of
 * the hooks' many call sites. `what`: the hook in the low byte; bit 8 set for one copy of
 * a flood, which only a session on its target port captures (a session on every port
 * has the frame from its ingress already). */
#define XB_CAPTURE_FN(name, ctx_t)                                                                 \
    __noinline int name(ctx_t *ctx, const struct xb_frame *f, __u32 ifindex, __u32 out_ifindex,    \
                        __u32 what) {                                                              \
        struct xb_capture_hdr hdr;                                                                 \
        struct xb_capture_cfg *cc;                                                                 \
        __u32 zero = 0, caplen;                                                                    \
                                                                                                   \
        if (!ctx || !f)                                                                            \
            return 0;                                                                              \
        cc = bpf_map_lookup_elem(&capture_cfg, &zero);                                             \
        if (!cc || bpf_ktime_get_coarse_ns() > cc->until_ns)                                       \
            return 0; /* the lease ran out: the capturing process is gone */                       \
        if (what & 0x100) {                                                                        \
            if (cc->ifindex != out_ifindex || ifindex == out_ifindex)                              \
                return 0;                                                                          \
        } else if (cc->ifindex && cc->ifindex != ifindex && cc->ifindex != out_ifindex) {          \
            return 0;                                                                              \
        }                                                                                          \
        if (cc->has_mac && !xb_mac_eq(cc->mac, f->src.mac) && !xb_mac_eq(cc->mac, f->dst.mac))     \
            return 0;                                                                              \
        caplen = f->len;                                                                           \
        if (caplen > cc->snaplen)                                                                  \
            caplen = cc->snaplen;                                                                  \
        if (caplen > XB_CAPTURE_MAX)                                                               \
            caplen = XB_CAPTURE_MAX;                                                               \
        xb_capture_fill(&hdr, f, ifindex, out_ifindex, caplen << 8 | (what & 0xff));               \
        bpf_perf_event_output(ctx, &capture_pb, BPF_F_CURRENT_CPU | (__u64)caplen << 32, &hdr,     \
                              sizeof(hdr));                                                        \
        return 0;                                                                                  \
    }
XB_CAPTURE_FN(xb_capture_xdp, struct xdp_md)
XB_CAPTURE_FN(xb_capture_skb, struct __sk_buff)

#define xb_capture_emit(ctx, ...)                                                                  \
    _Generic((ctx), struct xdp_md *                                                                \
             : xb_capture_xdp, struct __sk_buff *                                                  \
             : xb_capture_skb)(ctx, __VA_ARGS__)

/* A frame a hook disposes of: captured when a session runs and its filter matches. */
#define xb_capture(cfg, ctx, f, ifindex, out_ifindex, hook)                                        \
    do {                                                                                           \
        if ((cfg)->flags & XB_CFG_CAPTURE)                                                         \
            xb_capture_emit(ctx, f, ifindex, out_ifindex, hook);                                   \
    } while (0)

/* One copy of a flood, to out_ifindex. */
#define xb_capture_copy(cfg, ctx, f, ifindex, out_ifindex, hook)                                   \
    do {                                                                                           \
        if ((cfg)->flags & XB_CFG_CAPTURE)                                                         \
            xb_capture_emit(ctx, f, ifindex, out_ifindex, (hook) | 0x100u);                        \
    } while (0)

#endif
