// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The benchmark's own XDP programs: traffic generator, sink counter and the bare
 * devmap redirect that sets the XDP ceiling. None of them is part of xbridge.
 *
 *  xbb_gen       run by bpf_prog_test_run_opts(BPF_F_TEST_XDP_LIVE_FRAMES) with the
 *                generator veth as ingress device: XDP_TX there is turned by the kernel
 *                into a redirect to that device, so every run transmits one real frame
 *                to the veth's peer (the device under test's ingress port). With
 *                gen_nmacs > 1 it rewrites the source MAC of every frame (bytes 3-5 =
 *                a sequence number), to make the bridge learn that many addresses.
 *  xbb_count     on every sink veth: counts the frame per ingress ifindex, then drops it.
 *  xbb_redirect  the bare ceiling: redirects every frame to the single entry of fwd.
 *  xbb_bcast     the bare flood ceiling: copies every frame to every device in bcast
 *                but the ingress one (what xbridge's flood does, without a decision).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define XBB_MAX_IFINDEX 256

/* Distinct source MACs the generator cycles through (1: leave the frame as it is).
 * Written by the tool through the skeleton's .bss between runs. */
__u64 gen_nmacs;

/* The generator's state: [0] the sequence number of the source MACs, [1] frames
 * generated. Per-CPU: test_run runs on the calling CPU with migration disabled, and the
 * generator threads are pinned to one CPU. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, 2);
} gen_state SEC(".maps");

/* Frames each sink received, indexed by the sink's ifindex (small in a fresh netns). */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, XBB_MAX_IFINDEX);
} sink_count SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_DEVMAP);
    __type(key, __u32);
    __type(value, __u32);
    __uint(max_entries, 1);
} fwd SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
    __type(key, __u32);
    __type(value, __u32);
    __uint(max_entries, 64);
} bcast SEC(".maps");

SEC("xdp")
int xbb_gen(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    __u64 nmacs = gen_nmacs;
    __u32 key = 1;
    __u64 *seq, *n, i;

    n = bpf_map_lookup_elem(&gen_state, &key);
    if (n)
        (*n)++;
    if (nmacs <= 1)
        return XDP_TX;
    if ((void *)(eth + 1) > data_end)
        return XDP_ABORTED;
    key = 0;
    seq = bpf_map_lookup_elem(&gen_state, &key);
    if (!seq)
        return XDP_ABORTED;
    i = *seq;
    if (i >= nmacs)
        i = 0;
    *seq = i + 1;
    /* The page pool recycles frames without restoring them: write every byte we vary. */
    eth->h_source[3] = (__u8)(i >> 16);
    eth->h_source[4] = (__u8)(i >> 8);
    eth->h_source[5] = (__u8)i;
    return XDP_TX;
}

SEC("xdp")
int xbb_count(struct xdp_md *ctx) {
    __u32 key = ctx->ingress_ifindex;
    __u64 *n;

    if (key >= XBB_MAX_IFINDEX)
        key = 0;
    n = bpf_map_lookup_elem(&sink_count, &key);
    if (n)
        (*n)++;
    return XDP_DROP;
}

SEC("xdp")
int xbb_redirect(struct xdp_md *ctx) {
    return bpf_redirect_map(&fwd, 0, 0);
}

SEC("xdp")
int xbb_bcast(struct xdp_md *ctx) {
    return bpf_redirect_map(&bcast, 0, BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS);
}
