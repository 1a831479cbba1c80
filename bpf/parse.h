/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Ethernet (+ up to two 802.1Q/802.1ad tags) parsing, the same for every hook. */
#ifndef XB_PARSE_H
#define XB_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <xbridge/abi.h>

struct xb_vlan_hdr {
    __be16 tci;
    __be16 proto;
};

/* What the switching decision needs from a frame, copied out of the packet so that
 * it stays valid after helpers that move packet data (clone/redirect). */
struct xb_frame {
    struct xb_fdb_key src; /* source MAC + VLAN: the learning key */
    struct xb_fdb_key dst; /* destination MAC + VLAN: the forwarding key */
    __u16 proto;           /* ethertype after the tags, host order */
    __u16 pad;
    __u32 len;             /* whole frame length */
};

/* Parses [data, data_end). Returns 0, or -1 for a runt or truncated header. The
 * VLAN of the FDB key is the outermost tag's VID (0 when untagged). */
static __always_inline int xb_parse(void *data, void *data_end, __u32 len, struct xb_frame *f)
{
    struct ethhdr *eth = data;
    __u32 off = sizeof(*eth);
    __u16 vlan = 0;
    __be16 proto;

    if ((void *)(eth + 1) > data_end)
        return -1;
    proto = eth->h_proto;

#pragma unroll
    for (int i = 0; i < 2; i++) {
        struct xb_vlan_hdr *vh;

        if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
            break;
        vh = data + off;
        if ((void *)(vh + 1) > data_end)
            return -1;
        if (i == 0)
            vlan = bpf_ntohs(vh->tci) & 0x0fff;
        proto = vh->proto;
        off += sizeof(*vh);
    }

    __builtin_memcpy(f->src.mac, eth->h_source, ETH_ALEN);
    __builtin_memcpy(f->dst.mac, eth->h_dest, ETH_ALEN);
    f->src.vlan = vlan;
    f->dst.vlan = vlan;
    f->proto = bpf_ntohs(proto);
    f->pad = 0;
    f->len = len;
    return 0;
}

static __always_inline int xb_is_group(const __u8 *mac)
{
    return mac[0] & 1;
}

static __always_inline int xb_is_broadcast(const __u8 *mac)
{
    return (mac[0] & mac[1] & mac[2] & mac[3] & mac[4] & mac[5]) == 0xff;
}

static __always_inline int xb_is_zero(const __u8 *mac)
{
    return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
}

#endif
