/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Port policy, for what a VM host had along the kernel path and XDP skips: libvirt's
 * nwfilter clean-traffic (a guest may send only from its own addresses), a switch's
 * BPDU guard and RA guard, and an ingress policer (tc's police action). Checked only on
 * a port whose flags ask for it (XB_PORT_POLICY): the fast path pays one test of flags
 * it has read anyway. Both ingress hooks run the same checks; a frame XDP passes to the
 * TC hook is checked again there (the checks hold no state but the BPDU guard's, which
 * a second look sets again), and charged to the policer by the hook that disposes of it. */
#ifndef XB_POLICY_H
#define XB_POLICY_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>

#include "maps.h"
#include "mdb.h"
#include "parse.h"
#include "stats.h"

/* Bytes of a frame the address checks read: Ethernet, two tags, IPv6, two extension
 * headers' worth, ICMPv6 neighbour discovery with its first option. */
#define XB_POLICY_HDR_LEN 160

struct xb_arp_eth_ip4 {
    __be16 htype;
    __be16 ptype;
    __u8 hlen;
    __u8 plen;
    __be16 op;
    __u8 sha[6];
    __u8 spa[4];
    __u8 tha[6];
    __u8 tpa[4];
};

static __always_inline int xb_ip4_allowed(__u32 slot, const void *addr) {
    struct xb_policy_ip4_key k = {.slot = slot};

    __builtin_memcpy(k.addr, addr, 4);
    return bpf_map_lookup_elem(&policy_ip4, &k) != NULL;
}

static __always_inline int xb_ip6_allowed(__u32 slot, const void *addr) {
    struct xb_policy_ip6_key k = {.slot = slot};

    __builtin_memcpy(k.addr, addr, 16);
    return bpf_map_lookup_elem(&policy_ip6, &k) != NULL;
}

/* fe80::/10: chosen by the guest itself (EUI-64, stable privacy), never configured on
 * the host side, so not checked - as nwfilter, which leaves IPv6 link-local alone.
 * Bound to the port by its MAC (locked). */
static __always_inline int xb_ip6_link_local(const __u8 *a) {
    return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static __always_inline int xb_ip6_unspecified(const __u8 *a) {
    const __u32 *w = (const __u32 *)a;

    return (w[0] | w[1] | w[2] | w[3]) == 0;
}

static __always_inline int xb_policy_mac_eq(const __u8 *a, const __u8 *b) {
    return *(const __u32 *)a == *(const __u32 *)b &&
           *(const __u16 *)(a + 4) == *(const __u16 *)(b + 4);
}

static __always_inline __u32 xb_spoof_ip4(void *data, void *data_end, __u32 off, __u32 slot,
                                          __u32 flags) {
    struct iphdr *ip = data + off;
    __u16 *udp = NULL;
    __u32 ihl;

    if ((void *)(ip + 1) > data_end || ip->version != 4)
        return XB_DROP_SPOOF;
    ihl = ip->ihl * 4;
    if (ip->protocol == 17 && !(ip->frag_off & bpf_htons(0x1fff)) && ihl >= 20 && ihl <= 60) {
        udp = data + off + ihl;
        if ((void *)(udp + 4) > data_end)
            udp = NULL;
    }
    /* DHCP discover and request come from 0.0.0.0 (RFC 2131 4.1): that source for
     * DHCP only, client to server. */
    if (ip->saddr == 0)
        return udp && udp[0] == bpf_htons(68) && udp[1] == bpf_htons(67) ? XB_DROP_NONE
                                                                         : XB_DROP_SPOOF;
    if (!xb_ip4_allowed(slot, &ip->saddr))
        return XB_DROP_SPOOF;
    /* A server answers from port 67 to a client's 68; a client listens on 68 whatever
     * the source port, so a reply from elsewhere is refused too. */
    if (udp && (udp[0] == bpf_htons(67) || udp[1] == bpf_htons(68)) &&
        !(flags & XB_PORT_DHCP_SERVER))
        return XB_DROP_DHCP_SERVER;
    return XB_DROP_NONE;
}

static __always_inline __u32 xb_spoof_arp(void *data, void *data_end, __u32 off, __u32 slot) {
    struct xb_arp_eth_ip4 *a = data + off;

    if ((void *)(a + 1) > data_end)
        return XB_DROP_SPOOF;
    /* Only Ethernet/IPv4 ARP: another kind names no address this port may use. */
    if (a->htype != bpf_htons(1) || a->ptype != bpf_htons(ETH_P_IP) || a->hlen != 6 || a->plen != 4)
        return XB_DROP_SPOOF;
    /* The sender's MAC is the frame's: an ARP cache takes it from there. */
    if (!xb_policy_mac_eq(a->sha, (__u8 *)data + 6))
        return XB_DROP_SPOOF;
    /* An ARP probe (RFC 5227) has sender IP 0.0.0.0 and claims nothing. */
    if (*(__u32 *)a->spa == 0)
        return XB_DROP_NONE;
    return xb_ip4_allowed(slot, a->spa) ? XB_DROP_NONE : XB_DROP_SPOOF;
}

/* ICMPv6 types of neighbour discovery and MLD that the checks below look into. */
#define XB_ICMP6_MLD2_REPORT 143
#define XB_ICMP6_NS 135
#define XB_ICMP6_NA 136
#define XB_ICMP6_RA 134
#define XB_ICMP6_REDIRECT 137

/* An IPv6 packet's upper-layer header, found by xb_ip6_upper. */
struct xb_ip6_upper {
    __u32 l4;  /* its offset in the frame */
    __u8 next; /* its protocol; still an extension header when the chain is longer than
                * the walk looks (xb_ip6_ext) */
    __u8 type; /* ICMPv6: the message type; 0 otherwise */
};

static __always_inline int xb_ip6_ext(__u8 next) {
    return next == 0 || next == 60 || next == 43;
}

/* Walks the IPv6 header at off: up to two hop-by-hop (MLD carries router alert there),
 * routing and destination options headers are stepped over, so that NDP behind them is
 * looked at too. Returns -1 when the packet is cut short of what it announces. */
static __always_inline int xb_ip6_upper(void *data, void *data_end, __u32 off,
                                        struct xb_ip6_upper *u) {
    struct ipv6hdr *ip6 = data + off;
    __u32 l4 = off + sizeof(*ip6);
    __u8 next;
    __u8 *icmp;

    if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
        return -1;
    next = ip6->nexthdr;
#pragma unroll
    for (int i = 0; i < 2; i++) {
        __u8 *ext;

        if (!xb_ip6_ext(next))
            break;
        ext = data + (l4 & 0xff);
        if ((void *)(ext + 2) > data_end)
            return -1;
        next = ext[0];
        l4 += (ext[1] + 1) * 8;
    }
    u->l4 = l4 & 0x1ff;
    u->next = next;
    u->type = 0;
    if (next == 58) {
        icmp = data + u->l4;
        if ((void *)(icmp + 1) > data_end)
            return -1;
        u->type = icmp[0];
    }
    return 0;
}

/* Whether the RA guard covers a port: set by itself, or implied by the address checks
 * unless the port is trusted with routers (abi.h). */
static __always_inline int xb_ra_guarded(__u32 flags) {
    return (flags & XB_PORT_RA_GUARD) ||
           (flags & (XB_PORT_SPOOF_CHECK | XB_PORT_RA_TRUSTED)) == XB_PORT_SPOOF_CHECK;
}

/* RA guard (RFC 6105) on a walked IPv6 packet: router advertisements and redirects are a
 * router's to send. A header chain longer than the walk looks could hide one (RFC 7113's
 * evasion): refused as well. */
static __always_inline __u32 xb_ra_verdict(const struct xb_ip6_upper *u) {
    if (xb_ip6_ext(u->next))
        return XB_DROP_RA_GUARD;
    if (u->type == XB_ICMP6_RA || u->type == XB_ICMP6_REDIRECT)
        return XB_DROP_RA_GUARD;
    return XB_DROP_NONE;
}

/* IPv6 from a port with the address checks, the RA guard, or both: one walk of the
 * header chain serves both (a second would be verified again). A packet cut short
 * carries no message a stack would take, but no address either: without the address
 * checks, it passes. */
static __always_inline __u32 xb_policy_ip6(void *data, void *data_end, __u32 off, __u32 slot,
                                           __u32 flags) {
    struct ipv6hdr *ip6 = data + off;
    struct xb_ip6_upper u;
    __u8 *icmp;
    __u32 r;

    if (xb_ip6_upper(data, data_end, off, &u))
        return flags & XB_PORT_SPOOF_CHECK ? XB_DROP_SPOOF : XB_DROP_NONE;
    if (xb_ra_guarded(flags)) {
        r = xb_ra_verdict(&u);
        if (r || !(flags & XB_PORT_SPOOF_CHECK))
            return r;
    }

    /* The unspecified source: duplicate address detection (a neighbour solicitation)
     * and the MLD reports sent before an address is ready (RFC 3590). */
    if (xb_ip6_unspecified(ip6->saddr.in6_u.u6_addr8))
        return u.type == XB_ICMP6_NS || u.type == XB_ICMP6_MLD2_REPORT ? XB_DROP_NONE
                                                                       : XB_DROP_SPOOF;
    if (!xb_ip6_link_local(ip6->saddr.in6_u.u6_addr8) &&
        !xb_ip6_allowed(slot, ip6->saddr.in6_u.u6_addr8))
        return XB_DROP_SPOOF;

    if (u.next == 17) {
        __u16 *udp = data + u.l4;

        /* DHCPv6 server (and relay) messages come from port 547; whatever their source
         * port, those to a client go to 546 (DHCPv6-Shield, RFC 7610). */
        if ((void *)(udp + 4) <= data_end &&
            (udp[0] == bpf_htons(547) || udp[1] == bpf_htons(546)) &&
            !(flags & XB_PORT_DHCP_SERVER))
            return XB_DROP_DHCP_SERVER;
        return XB_DROP_NONE;
    }
    if (u.type != XB_ICMP6_NA && u.type != XB_ICMP6_NS)
        return XB_DROP_NONE;
    /* Neighbour solicitation and advertisement: 8 bytes of header, the target, then
     * options. An advertisement claims its target; the link-layer address option of
     * either (source for NS, target for NA) must be the frame's source MAC. */
    icmp = data + u.l4;
    if ((void *)(icmp + 24) > data_end)
        return XB_DROP_SPOOF;
    if (u.type == XB_ICMP6_NA && !xb_ip6_link_local(icmp + 8) && !xb_ip6_allowed(slot, icmp + 8))
        return XB_DROP_SPOOF;
    if ((void *)(icmp + 32) <= data_end && (icmp[24] == 1 || icmp[24] == 2) && icmp[25] == 1 &&
        !xb_policy_mac_eq(icmp + 26, (__u8 *)data + 6))
        return XB_DROP_SPOOF;
    return XB_DROP_NONE;
}

/* The flags whose checks read the packet beyond the parsed frame (a TC hook makes those
 * bytes linear first). */
#define XB_PORT_POLICY_HDR (XB_PORT_SPOOF_CHECK | XB_PORT_RA_GUARD)

/* Those checks: clean-traffic's address checks for a frame from a port with
 * XB_PORT_SPOOF_CHECK, the RA guard's for IPv6 (xb_ra_guarded). Other ethertypes are let
 * through: they name no IP address (the MAC is locked's). */
/* Inlined: a BPF function of its own would take the TC hook's packet pointers from
 * 32-bit registers (clang knows skb->data's upper half is zero), which the verifier
 * takes for plain numbers. */
static __always_inline __u32 xb_policy_hdr(void *data, void *data_end, __u32 l3_off, __u32 proto,
                                           __u32 slot, __u32 flags) {
    const __u32 off = l3_off & 0x1f; /* at most 22 */

    /* The Ethernet header, whose source the ARP and NDP checks compare with. */
    if (data + ETH_HLEN > data_end)
        return XB_DROP_SPOOF;

    if (proto == ETH_P_IPV6)
        return xb_policy_ip6(data, data_end, off, slot, flags);
    if (!(flags & XB_PORT_SPOOF_CHECK))
        return XB_DROP_NONE;
    if (proto == ETH_P_IP)
        return xb_spoof_ip4(data, data_end, off, slot, flags);
    if (proto == ETH_P_ARP)
        return xb_spoof_arp(data, data_end, off, slot);
    return XB_DROP_NONE;
}

/* The ports whose frames never take a cached decision (flow.h): a hit would skip the
 * checks of their frames' addresses and rate. */
#define XB_PORT_POLICY_UNCACHED (XB_PORT_POLICY_HDR | XB_PORT_RATE_LIMIT)

/* Cisco's PVST+ BPDUs (SSTP, spanning tree per VLAN, LLC/SNAP with OUI 00:00:0c and PID
 * 0x010b) go to 01:00:0c:cc:cc:cd, not to the 802.1D group address: a Cisco switch, or a
 * bridge that speaks PVST+, behind a guest port sends those. Nothing else uses the
 * address, so it alone names the BPDU (as 01:80:c2:00:00:00 does for 802.1D). */
static __always_inline int xb_is_pvst(const __u8 *mac) {
    return mac[0] == 0x01 && mac[1] == 0x00 && mac[2] == 0x0c && mac[3] == 0xcc && mac[4] == 0xcc &&
           mac[5] == 0xcd;
}

/* BPDU guard: a port that hears an STP BPDU (a bridge behind a guest port: a loop in
 * the making) is blocked until the operator resets it. Blocked, it neither sends nor
 * receives, as the kernel bridge's blocking port: its frames are dropped here, frames
 * for it where they would be sent (xb_port_blocked). The port's flows leave the flow
 * cache (a new generation), whose hits would not see the block. */
static __always_inline __u32 xb_bpdu_guard(const struct xb_frame *f, __u32 slot,
                                           struct xb_config *cfg) {
    struct xb_policy_state *s = bpf_map_lookup_elem(&policy_state, &slot);

    if (!s)
        return XB_DROP_NONE;
    if (xb_link_local(f->dst.mac) == 0 || xb_is_pvst(f->dst.mac)) {
        xb_count(slot, XB_CNT_BPDU);
        if (!s->blocked_ns) {
            __builtin_memcpy(s->bpdu_src, f->src.mac, 6);
            s->blocked_ns = bpf_ktime_get_coarse_ns() | 1;
            __sync_fetch_and_add(&cfg->fdb_gen, 1);
        }
        return XB_DROP_BLOCKED;
    }
    return s->blocked_ns ? XB_DROP_BLOCKED : XB_DROP_NONE;
}

/* Whether port `slot` (whose flags are `flags`) is blocked by its BPDU guard: a frame
 * for it is not sent (the kernel bridge's should_deliver skips a port that is not
 * forwarding). Only a port with the guard pays the look. */
static __always_inline int xb_port_blocked(__u32 slot, __u32 flags) {
    struct xb_policy_state *s;

    if (!(flags & XB_PORT_BPDU_GUARD))
        return 0;
    s = bpf_map_lookup_elem(&policy_state, &slot);
    return s && s->blocked_ns;
}

/* The devmap egress program's look at a flood's copy for port `slot`: whether to hold it
 * back, the port being blocked. The kernel reports a copy held back there as a drop of
 * the devmap's flush, which devmap_xmit.h does not count for the copies noted in
 * mdb_filtered (those multicast snooping holds back): a skipped copy is no drop. */
static __always_inline int xb_policy_copy_blocked(__u32 slot, __u32 flags) {
    if (!xb_port_blocked(slot, flags))
        return 0;
    xb_copy_held(slot);
    return 1;
}

/* The checks that need no packet beyond the parsed frame, and the address checks.
 * Returns XB_DROP_NONE or the drop reason. */
static __always_inline __u32 xb_policy(void *data, void *data_end, const struct xb_frame *f,
                                       const struct xb_port *in, __u32 slot,
                                       struct xb_config *cfg) {
    const __u32 flags = in->flags;
    __u32 r;

    if (flags & XB_PORT_BPDU_GUARD) {
        r = xb_bpdu_guard(f, slot, cfg);
        if (r)
            return r;
    }
    if (flags & XB_PORT_POLICY_HDR)
        return xb_policy_hdr(data, data_end, f->l3_off, f->proto, slot, flags);
    return XB_DROP_NONE;
}

/* The ingress policer, a GCRA (the virtual-scheduling form of a token bucket): each
 * frame moves the port's theoretical arrival time on by its cost (1 s / rate per unit);
 * a frame that would put it more than a burst's worth ahead of now is over the rate.
 * One shared word per port, moved with atomics. Returns the cost charged (for a refund
 * if the frame is not sent after all), 0 when the port has no policer, or -1 when the
 * frame is over the rate. */
static __always_inline __s64 xb_police(__u32 slot, const struct xb_port *in, __u32 len) {
    const __u64 rate = in->police_rate;
    __u64 *tat, now, t, cost, burst_ns;

    if (!(in->flags & XB_PORT_RATE_LIMIT) || !rate)
        return 0;
    tat = bpf_map_lookup_elem(&policy_rate, &slot);
    if (!tat)
        return 0;
    cost = (in->police_bytes ? (__u64)len : 1) * 1000000000ull / rate;
    if (!cost)
        cost = 1;
    burst_ns = (__u64)in->police_burst * 1000000000ull / rate;
    now = bpf_ktime_get_ns();
    t = *(volatile __u64 *)tat;
    /* Idle: the bucket is full; the arrival time starts again from now. */
    if (t < now && __sync_val_compare_and_swap(tat, t, now + cost) == t)
        return (__s64)cost;
    t = __sync_fetch_and_add(tat, cost);
    if (t > now && t + cost - now > burst_ns) {
        __sync_fetch_and_sub(tat, cost);
        return -1;
    }
    return (__s64)cost;
}

/* Gives back what xb_police charged for a frame that was not sent after all. */
static __always_inline void xb_police_refund(__u32 slot, __s64 cost) {
    __u64 *tat;

    if (cost <= 0)
        return;
    tat = bpf_map_lookup_elem(&policy_rate, &slot);
    if (tat)
        __sync_fetch_and_sub(tat, (__u64)cost);
}

#endif
