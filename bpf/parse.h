/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Ethernet (+ up to two 802.1Q/802.1ad tags) parsing, the same for every hook. */
#ifndef XB_PARSE_H
#define XB_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <xbridge/abi.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "xb_parse builds the FDB keys of little-endian words"
#endif

struct xb_vlan_hdr {
    __be16 tci;
    __be16 proto;
};

/* What the switching decision needs from a frame, copied out of the packet so that
 * it stays valid after helpers that move packet data (clone/redirect). */
struct xb_frame {
    /* 8-byte aligned: the FDB cache compares keys as one 64-bit word. */
    struct xb_fdb_key src __attribute__((aligned(8))); /* source MAC + VLAN: the learning key */
    struct xb_fdb_key dst __attribute__((aligned(8))); /* destination: the forwarding key */
    __u16 proto;                                       /* ethertype after the tags, host order */
    __u16 l3_off;                                      /* offset of the network header */
    __u32 len;                                         /* whole frame length */
};

/* Parses [data, data_end). Returns 0, or -1 for a runt or truncated header. The
 * VLAN of the FDB key is the outermost tag's VID (0 when untagged): `oob_vid` when the
 * frame's outer tag was taken out of the packet (an skb's vlan_tci: the stack untags
 * on receive, and a VLAN device's tag rides there on transmit), else the first tag in
 * the packet. oob_vid < 0: none. */
static __always_inline int xb_parse_vid(void *data, void *data_end, __u32 len, int oob_vid,
                                        struct xb_frame *f) {
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
        if (i == 0 && oob_vid < 0)
            vlan = bpf_ntohs(vh->tci) & 0x0fff;
        proto = vh->proto;
        off += sizeof(*vh);
    }

    if (oob_vid >= 0)
        vlan = oob_vid & 0x0fff;

    /* Each address as one 64-bit key (struct xb_fdb_key: the MAC in bytes 0-5, the VLAN
     * in 6-7), put together from word loads and stored whole: the cache compares that
     * follow read it back as one word, which byte-wise stores would stall. */
    const __u64 v = (__u64)vlan << 48;
    *(__u64 *)&f->dst = *(__u32 *)data | (__u64) * (__u16 *)(data + 4) << 32 | v;
    *(__u64 *)&f->src = *(__u32 *)(data + 6) | (__u64) * (__u16 *)(data + 10) << 32 | v;
    f->proto = bpf_ntohs(proto);
    f->l3_off = off;
    f->len = len;
    return 0;
}

/* A frame as XDP sees it: every tag still in the packet. */
static __always_inline int xb_parse(void *data, void *data_end, __u32 len, struct xb_frame *f) {
    return xb_parse_vid(data, data_end, len, -1, f);
}

static __always_inline int xb_is_group(const __u8 *mac) {
    return mac[0] & 1;
}

static __always_inline int xb_is_broadcast(const __u8 *mac) {
    return (mac[0] & mac[1] & mac[2] & mac[3] & mac[4] & mac[5]) == 0xff;
}

/* 01:80:c2:00:00:00-0f, the IEEE 802.1D reserved group addresses a bridge does not
 * relay (STP, PAUSE, LACP, 802.1X, LLDP...). Returns the last byte, or -1. */
static __always_inline int xb_link_local(const __u8 *mac) {
    if (mac[0] != 0x01 || mac[1] != 0x80 || mac[2] != 0xc2 || mac[3] || mac[4] || mac[5] > 0x0f)
        return -1;
    return mac[5];
}

static __always_inline int xb_is_zero(const __u8 *mac) {
    return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
}

/* One's complement sum folded to 16 bits. */
static __always_inline __u32 xb_fold(__u32 sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

static __always_inline int xb_csum_is(__u16 field, __u32 sum) {
    /* 0 and 0xffff are the same number in one's complement. */
    return field == sum || (field == 0 && sum == 0xffff) || (field == 0xffff && sum == 0);
}

/* A frame's TCP or UDP header, located once for the checks below. */
#define XB_L4_OPAQUE 255 /* an L4 whose checksum offload cannot be judged by content */
struct xb_l4 {
    __u32 off;    /* offset of the TCP/UDP header from the frame's start */
    __u32 len;    /* L4 length, from the IP header */
    __u32 pseudo; /* the pseudo-header's one's complement sum, unfolded */
    __u8 proto;   /* 6 (TCP), 17 (UDP), XB_L4_OPAQUE, or 0: nothing to judge */
};

/* Locates the L4 header of an IPv4 or IPv6 frame. proto 0 for other ethertypes,
 * truncated or malformed IP headers, fragments (no whole L4 checksum to offload),
 * ICMP and ICMPv6; XB_L4_OPAQUE for SCTP, tunnels (IPv4's IP-in-IP and GRE) and any
 * other IPv6 next header. */
static __always_inline void xb_l4_locate(void *data, void *data_end, const struct xb_frame *f,
                                         struct xb_l4 *l4) {
    __u32 off = f->l3_off & 0xff; /* at most 22: bounds the offset for the verifier */

    __builtin_memset(l4, 0, sizeof(*l4));
    if (f->proto == ETH_P_IP) {
        struct iphdr *ip = data + off;
        __u32 ihl;

        if ((void *)(ip + 1) > data_end)
            return;
        /* SCTP's checksum is not a one's complement sum; IP-in-IP, IPv6-in-IP and GRE
         * carry an inner packet whose offloaded checksum this cannot see. */
        if (ip->protocol == 132 || ip->protocol == 4 || ip->protocol == 41 || ip->protocol == 47) {
            l4->proto = XB_L4_OPAQUE;
            return;
        }
        if (ip->protocol != 6 && ip->protocol != 17)
            return;
        if (ip->frag_off & bpf_htons(0x3fff))
            return;
        ihl = ip->ihl * 4;
        if (ihl < sizeof(*ip) || ihl > 60 || bpf_ntohs(ip->tot_len) < ihl)
            return;
        l4->off = off + ihl;
        l4->len = bpf_ntohs(ip->tot_len) - ihl;
        l4->pseudo = (ip->saddr & 0xffff) + (ip->saddr >> 16) + (ip->daddr & 0xffff) +
                     (ip->daddr >> 16) + bpf_htons(ip->protocol) + bpf_htons(l4->len);
        l4->proto = ip->protocol;
        return;
    }
    if (f->proto == ETH_P_IPV6) {
        struct ipv6hdr *ip6 = data + off;
        __u32 *a, sum = 0;

        if ((void *)(ip6 + 1) > data_end)
            return;
        if (ip6->nexthdr == 58 /* ICMPv6: never offloaded */ || ip6->nexthdr == 59)
            return;
        if (ip6->nexthdr != 6 && ip6->nexthdr != 17) {
            l4->proto = XB_L4_OPAQUE;
            return;
        }
        a = (__u32 *)&ip6->saddr;
#pragma unroll
        for (int i = 0; i < 8; i++)
            sum += (a[i] & 0xffff) + (a[i] >> 16);
        l4->off = off + sizeof(*ip6);
        l4->len = bpf_ntohs(ip6->payload_len);
        l4->pseudo = sum + ip6->payload_len + bpf_htons(ip6->nexthdr);
        l4->proto = ip6->nexthdr;
    }
}

/* Whether a frame may carry an incomplete (CHECKSUM_PARTIAL) TCP/UDP checksum: what a
 * guest with checksum offload writes into its tap (virtio-net NEEDS_CSUM), and what a
 * veth peer with tx offload hands over. The checksum field then holds only the
 * pseudo-header sum, for the stack or the NIC to complete. An XDP frame carries no
 * checksum state, so a redirect would send it out broken; the skb of the TC path keeps
 * it. Frames are judged by content: a field equal to the pseudo-header sum. A complete
 * checksum that happens to be equal (1 in 65536) merely takes the slower TC path.
 * Protocols whose checksum offload cannot be judged so (SCTP, IPv6 extension headers,
 * tunnels: IP-in-IP, GRE, and VXLAN and Geneve on their ports - a tunnel on another
 * UDP port goes unseen) always take the TC path. */
static __always_inline int xb_maybe_partial_csum(void *data, void *data_end,
                                                 const struct xb_l4 *l4) {
    const __u32 off = l4->off & 0x7f; /* at most 82 */
    __u16 *field;

    if (l4->proto == XB_L4_OPAQUE)
        return 1;
    if (!l4->proto)
        return 0;
    if (l4->proto == 17) {
        __u16 *uh = data + off;

        if ((void *)(uh + 4) > data_end)
            return 0;
        /* A UDP tunnel (VXLAN, VXLAN-GPE, Geneve; 8472: Linux's first VXLAN port): an
         * offloaded checksum would be the inner packet's. */
        if (uh[1] == bpf_htons(4789) || uh[1] == bpf_htons(8472) || uh[1] == bpf_htons(6081) ||
            uh[1] == bpf_htons(4790))
            return 1;
        field = &uh[3];
    } else {
        field = data + off + 16;
        if ((void *)(field + 1) > data_end)
            return 0;
    }
    return xb_csum_is(*field, xb_fold(l4->pseudo));
}

/* Whether a frame is a TCP segment with payload: what GRO merges. */
static __always_inline int xb_tcp_with_payload(void *data, void *data_end, const struct xb_l4 *l4) {
    __u8 *th = data + (l4->off & 0x7f);

    if (l4->proto != 6 || (void *)(th + 13) > data_end)
        return 0;
    return l4->len > (th[12] >> 4) * 4;
}

#endif
