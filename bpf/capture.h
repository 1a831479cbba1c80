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

/* A function of its own: the fast path carries only the flag test. `copy`: called for one copy of a
 * flood, which is captured only by a session on its target port (a session on every
 * port has the frame from its ingress already). ctx is the hook's: an xdp_md or an
 * __sk_buff, whose frame the helper copies. */
static __noinline void xb_capture_emit(void *ctx, const struct xb_frame *f, __u32 ifindex,
                                       __u32 out_ifindex, __u32 what) {
    struct xb_capture_hdr hdr;
    struct xb_capture_cfg *cc;
    __u32 zero = 0, caplen;
    const __u32 copy = what >> 8;

    cc = bpf_map_lookup_elem(&capture_cfg, &zero);
    if (!cc || bpf_ktime_get_coarse_ns() > cc->until_ns)
        return; /* the lease ran out: the capturing process is gone */
    if (copy) {
        if (cc->ifindex != out_ifindex || ifindex == out_ifindex)
            return;
    } else if (cc->ifindex && cc->ifindex != ifindex && cc->ifindex != out_ifindex) {
        return;
    }
    if (cc->has_mac && !xb_mac_eq(cc->mac, f->src.mac) && !xb_mac_eq(cc->mac, f->dst.mac))
        return;

    caplen = f->len;
    if (caplen > cc->snaplen)
        caplen = cc->snaplen;
    if (caplen > XB_CAPTURE_MAX)
        caplen = XB_CAPTURE_MAX;
    xb_capture_fill(&hdr, f, ifindex, out_ifindex, caplen << 8 | (what & 0xff));
    bpf_perf_event_output(ctx, &capture_pb, BPF_F_CURRENT_CPU | (__u64)caplen << 32, &hdr,
                          sizeof(hdr));
}

/* A frame a hook disposes of: captured when a session runs and its filter matches. */
static __always_inline void xb_capture(const struct xb_config *cfg, void *ctx,
                                       const struct xb_frame *f, __u32 ifindex, __u32 out_ifindex,
                                       enum xb_hook hook) {
    if (cfg->flags & XB_CFG_CAPTURE)
        xb_capture_emit(ctx, f, ifindex, out_ifindex, hook);
}

/* One copy of a flood, to out_ifindex. */
static __always_inline void xb_capture_copy(const struct xb_config *cfg, void *ctx,
                                            const struct xb_frame *f, __u32 ifindex,
                                            __u32 out_ifindex, enum xb_hook hook) {
    if (cfg->flags & XB_CFG_CAPTURE)
        xb_capture_emit(ctx, f, ifindex, out_ifindex, hook | 1u << 8);
}

#endif
