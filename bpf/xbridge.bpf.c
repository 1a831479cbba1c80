// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xbridge datapath: the entry programs of every hook.
 *
 *  xb_xdp_ingress   XDP on every port. Learns, then forwards known unicast and floods
 *                   unknown unicast, broadcast and multicast (the host's copy through
 *                   the host pair) with bpf_redirect_map. Known unicast that keeps
 *                   coming takes its decision from the per-CPU flow cache (flow.h).
 *                   Everything else - frames for the host, floods the host must hear
 *                   on a bridge without host pair, frames too long for XDP, frames for
 *                   a port that takes no XDP redirects, every frame of a port in
 *                   generic mode - is passed to the stack untouched and uncounted, for
 *                   the TC hook.
 *  xb_tc_ingress    TC ingress on every port: the same decision for the frames XDP
 *                   passed and the frames XDP never sees (GSO/TSO from a tap,
 *                   generic-mode devices), with skb primitives: bpf_redirect, a
 *                   clone-redirect loop for floods, ingress redirect to the host.
 *  xb_tc_egress     TC egress on the uplink: frames the host sends on the uplink towards
 *                   a guest are turned to that guest's port (host → guest).
 *  xb_xdp_host,     the host pair (abi.h: xb_config.host_ifindex): the host's copy of
 *  xb_tc_host       an XDP flood arrives there and goes up the uplink's stack.
 *  xb_xdp_devmap_tx devmap egress program of the flood maps: counts each copy.
 *  xb_devmap_xmit,  tp_btf/xdp_devmap_xmit and xdp_redirect_err: count the frames a port
 *  xb_redirect_err  refused, or could not be queued to, after an XDP redirect.
 *  xb_fdb_sweep     syscall program: the controller's ageing sweep, inside the kernel.
 *
 * A frame is counted and traced once, by the hook that disposes of it.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "capture.h"
#include "decide.h"
#include "devmap_xmit.h"
#include "fdb.h"
#include "flow.h"
#include "maps.h"
#include "mdb.h"
#include "parse.h"
#include "policy.h"
#include "stats.h"
#include "storm.h"
#include "sweep.h"
#include "trace.h"
#include "vlan.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Bytes of headers the parser reads: Ethernet and two VLAN tags. */
#define XB_HDR_LEN (14 + 2 * 4)

/* ---- XDP ------------------------------------------------------------------ */

/* One function per flood map: the verifier turns bpf_redirect_map into a direct call
 * only where the map is a constant, and clang would otherwise merge three call sites
 * into one with a selected map (an indirect call, through a retpoline, per frame). */
#define XB_FLOOD_FN(map)                                                                           \
    static __noinline int xb_flood_##map(__u64 flags) {                                            \
        return bpf_redirect_map(&map, 0, flags);                                                   \
    }
XB_FLOOD_FN(flood_bcast)
XB_FLOOD_FN(flood_mcast)
XB_FLOOD_FN(flood_ucast)

/* Whether the host pair is a target of this class's flood map: the host's copy then
 * rides the XDP broadcast. The map is looked at rather than the config, because the
 * kernel takes a deleted device out of every devmap by itself. */
static __always_inline int xb_host_pair_floods(__u32 flood_class) {
    __u32 host = XB_HOST_SLOT;

    if (flood_class == XB_FLOOD_BCAST)
        return bpf_map_lookup_elem(&flood_bcast, &host) != NULL;
    return bpf_map_lookup_elem(&flood_mcast, &host) != NULL;
}

/* Whether an XDP broadcast from port `in` misses nobody: every port takes XDP redirects,
 * or the one that does not is the ingress port, which a flood leaves out unless it is a
 * hairpin port (a veth uplink at its defaults). A port that takes none is in no flood
 * map: otherwise the TC hook clones the flood to every port. */
static __always_inline int xb_xdp_flood_reaches_all(const struct xb_config *cfg,
                                                    const struct xb_port *in) {
    const __u32 n = cfg->n_no_xdp_tx;

    return !n || (n == 1 && (in->ctl & XB_CTL_NO_XDP_TX) && !(in->flags & XB_PORT_HAIRPIN));
}

/* A flood leaves out the port it came from, unless that port is a hairpin port
 * (the kernel bridge's should_deliver). */
static __always_inline int xb_xdp_flood(__u32 flood_class, __u32 in_flags) {
    const __u64 flags =
        BPF_F_BROADCAST | (in_flags & XB_PORT_HAIRPIN ? 0 : (__u64)BPF_F_EXCLUDE_INGRESS);

    if (flood_class == XB_FLOOD_BCAST)
        return xb_flood_flood_bcast(flags);
    if (flood_class == XB_FLOOD_MCAST)
        return xb_flood_flood_mcast(flags);
    return xb_flood_flood_ucast(flags);
}

/* The port policy's checks for the XDP hook, as a global function: the verifier checks
 * it once, on its own, instead of once per path of the ingress program. */
__noinline int xb_xdp_policy(struct xdp_md *ctx, const struct xb_frame *f, __u32 slot) {
    struct xb_config *cfg = xb_config();
    struct xb_port *in = bpf_map_lookup_elem(&ports, &slot);

    if (!ctx || !f || !cfg || !in)
        return XB_DROP_NONE;
    return (int)xb_policy((void *)(long)ctx->data, (void *)(long)ctx->data_end, f, in, slot, cfg);
}

SEC("xdp.frags")
int xb_xdp_ingress(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    __u32 ifindex = ctx->ingress_ifindex;
    struct xb_port_stats *st;
    struct xb_flow_ent *fl;
    struct xb_decision d;
    struct xb_config *cfg;
    struct xb_frame f;
    struct xb_port *in;
    struct xb_vlan_in vi = {};
    struct xb_l4 l4;
    __u32 slot, len, tx_len, gen, j, reason;
    __u64 src_key, dst_key;
    __u8 to_tap_from_nontap, vlan_untag;
    __be16 in_proto;
    __s64 charged;
    int ret;

    cfg = xb_config();
    if (!cfg)
        return XDP_PASS;
    gen = xb_gen(cfg);

    /* Frames longer than some port's MTU, and multi-buffer frames (jumbo), go to the
     * TC path: a devmap skips targets a frame does not fit, and a tap cannot take a
     * multi-buffer XDP frame (tun has no scatter-gather ndo_xdp_xmit). */
    len = bpf_xdp_get_buff_len(ctx);
    if (len > cfg->xdp_max_len || len != data_end - data)
        return XDP_PASS;

    if (xb_parse(data, data_end, len, &f)) {
        in = xb_port_of(ifindex, &slot);
        if (!in)
            return XDP_PASS;
        xb_count_rx(slot, len, XB_HOOK_XDP);
        xb_count_drop(slot, XB_DROP_PARSE);
        return XDP_DROP;
    }

    /* Parsed: the header is there (for the verifier, which cannot see it through). */
    if (data + sizeof(struct ethhdr) > data_end)
        return XDP_PASS;
    in_proto = ((const struct ethhdr *)data)->h_proto;

    /* Known unicast switched a moment ago: the cached decision (flow.h), for the frame as
     * it came - with VLAN filtering, its classification too. */
    j = (__u32)bpf_jiffies64();
    fl = xb_flow_slot(&f);
    if (fl && xb_flow_hit(fl, &f, in_proto, ifindex, gen, j)) {
        slot = fl->in_slot;
        d.out_slot = fl->out_slot;
        d.out_ifindex = fl->out_ifindex;
        to_tap_from_nontap = fl->to_tap_from_nontap;
        vlan_untag = fl->vlan_untag;
        vi.vid = fl->vlan_vid;
        if (vi.vid) {
            vi.tagged = fl->vlan_tagged;
            vi.tci = vi.vid; /* the tag to push on an untagged frame */
            xb_vlan_key(&f, vi.vid);
        }
        d.learn_refused = 0;
        in = NULL; /* a port with a policer is never cached */
        goto forward;
    }
    src_key = *(__u64 *)&f.src;
    dst_key = *(__u64 *)&f.dst;

    in = xb_port_of(ifindex, &slot);
    if (!in)
        return XDP_PASS;
    /* A port attached in generic mode (by an xbridge before the TC hook took such ports
     * alone): generic XDP also runs on the frames xbridge injects into the port's stack
     * (a frame for the host, a flood's host copy), which it would take for new arrivals,
     * learn here and flood again. The TC hook, which knows them by their mark, takes every
     * frame of such a port. (Nothing is cached for it.) */
    if (in->xdp_mode == XB_XDP_GENERIC)
        return XDP_PASS;
    if (xb_vlan_filtering(cfg)) {
        /* The frame's VLAN becomes part of its keys. */
        vi.slot = (__u16)slot;
        ret = xb_vlan_xdp_in(ctx, &f, in, cfg, &vi);
        if (ret == XB_VLAN_TO_TC)
            return XDP_PASS;
        if (ret != XB_VLAN_OK) {
            xb_count_rx(slot, len, XB_HOOK_XDP);
            xb_count_drop(slot, XB_DROP_VLAN);
            xb_trace(cfg, &f, ifindex, 0, XB_HOOK_XDP, XB_ACT_DROP, XB_DROP_VLAN);
            return XDP_DROP;
        }
    } else if (xb_vlan_xdp_hidden(data, data_end, in)) {
        /* Its tag may be beside it. Nothing is cached for such a frame. */
        return XDP_PASS;
    }
    if (in->flags & XB_PORT_POLICY) {
        reason = (__u32)xb_xdp_policy(ctx, &f, slot);
        if (reason) {
            xb_count_rx(slot, len, XB_HOOK_XDP);
            xb_count_drop(slot, reason);
            xb_trace(cfg, &f, ifindex, 0, XB_HOOK_XDP, XB_ACT_DROP, reason);
            return XDP_DROP;
        }
    }
    d.in_slot = slot;
    d.gen = gen;
    xb_decide(&f, in, cfg, &d);
    to_tap_from_nontap = d.out_kind == XB_KIND_TAP && in->kind != XB_KIND_TAP;
    vlan_untag = d.vlan_untag;
    /* A source the learning limit refused is not cached: each of its frames tries to
     * learn it again (and is counted), until there is room. Nor is a frame whose
     * addresses or rate were checked: a hit checks neither. Nor a priority-tagged frame
     * under VLAN filtering: its tag was rewritten with its own priority (flow.h). */
    if (d.action == XB_ACT_FORWARD && fl && !d.learn_refused &&
        !(in->flags & XB_PORT_POLICY_UNCACHED) && !(vi.tagged && !((src_key >> 48) & XB_VID_MASK)))
        xb_flow_fill(fl, src_key, dst_key, in_proto, ifindex, &d, &vi, to_tap_from_nontap, j);

    switch (d.action) {
    case XB_ACT_DROP:
        st = xb_count_rx(slot, len, XB_HOOK_XDP);
        if (st && d.learn_refused)
            st->cnt[XB_CNT_LEARN_REFUSED]++;
        xb_count_drop(slot, d.reason);
        xb_trace(cfg, &f, ifindex, 0, XB_HOOK_XDP, XB_ACT_DROP, d.reason);
        xb_capture(cfg, ctx, &f, ifindex, 0, XB_HOOK_XDP);
        return XDP_DROP;

    case XB_ACT_FORWARD:
        goto forward;

    case XB_ACT_FLOOD:
        /* A flood from an isolated port must skip the other isolated ports, which a
         * flood map cannot do: the TC hook clones it to the ports it may reach. */
        if (in->flags & XB_PORT_ISOLATED)
            return XDP_PASS;
        /* XDP has one verdict per frame: it cannot both redirect copies and pass the
         * frame up. The host's copy of a flood is one more copy of the broadcast, to the
         * host pair (xb_tc_host takes it up the uplink's stack); without a host pair,
         * floods the host must hear go to the TC hook, which clones. */
        if (d.host_copy && !xb_host_pair_floods(d.flood_class))
            return XDP_PASS;
        if (!xb_xdp_flood_reaches_all(cfg, in))
            return XDP_PASS;
        /* A frame to be sent on whose checksum is incomplete goes to the TC path, where
         * the skb keeps its checksum state (learning above has happened either way). */
        xb_l4_locate(data, data_end, &f, &l4);
        if (xb_maybe_partial_csum(data, data_end, &l4))
            return XDP_PASS;
        /* A flood is sent tagged (xb_vlan_devmap_egress untags each copy where it must):
         * one with a tag to add that would then not fit every port is the TC path's. */
        if (vi.vid && !vi.tagged && len + 4 > cfg->xdp_max_len)
            return XDP_PASS;
        if (d.flood_class == XB_FLOOD_MCAST && xb_mdb_xdp_to_tc(ctx, cfg, &f))
            return XDP_PASS;
        st = xb_count_rx(slot, len, XB_HOOK_XDP);
        if (st && d.learn_refused)
            st->cnt[XB_CNT_LEARN_REFUSED]++;
        /* Charged here, where XDP floods it, not before a pass to TC (charged there). */
        if (xb_storm_exceeded(slot, in)) {
            xb_count_drop(slot, XB_DROP_STORM);
            xb_trace(cfg, &f, ifindex, 0, XB_HOOK_XDP, XB_ACT_DROP, XB_DROP_STORM);
            xb_capture(cfg, ctx, &f, ifindex, 0, XB_HOOK_XDP);
            return XDP_DROP;
        }
        if (xb_police(slot, in, len) < 0) {
            xb_count_drop(slot, XB_DROP_RATE);
            xb_trace(cfg, &f, ifindex, 0, XB_HOOK_XDP, XB_ACT_DROP, XB_DROP_RATE);
            return XDP_DROP;
        }
        if (st) {
            st->cnt[XB_CNT_FLOODED]++;
            if (d.host_copy)
                st->cnt[XB_CNT_TO_HOST]++;
        }
        xb_trace(cfg, &f, ifindex, 0, XB_HOOK_XDP, XB_ACT_FLOOD, 0);
        xb_capture(cfg, ctx, &f, ifindex, 0, XB_HOOK_XDP);
        /* Snooped here, where XDP commits to the flood: its copies are judged one by one
         * by the devmap egress program (mdb.h). */
        if (d.flood_class == XB_FLOOD_MCAST && xb_mdb_on(cfg, &f)) {
            struct xb_mdb_group_key mk;

            xb_mdb_snoop_xdp(ctx, &f, ifindex, slot, &mk);
        }
        ret = xb_xdp_flood(d.flood_class, in->flags);
        if (vi.vid) {
            xb_vlan_count_rx(vi.vid, len);
            /* The copies are made after the program returns: tagged now, they go tagged. */
            if (xb_vlan_xdp_out(ctx, &vi, 0, cfg, len) < 0) {
                xb_count_drop(slot, XB_DROP_VLAN_TAG);
                return XDP_DROP;
            }
        }
        return ret;

    default: /* XB_ACT_TO_HOST: delivered by the TC hook, which can inject into a stack */
        return XDP_PASS;
    }

forward:
    xb_l4_locate(data, data_end, &f, &l4);
    if (xb_maybe_partial_csum(data, data_end, &l4))
        return XDP_PASS;
    /* TCP data for a guest, from a device whose receive path has GRO (not another tap):
     * passed, so that GRO merges the stream and the guest gets whole GSO frames through
     * the TC path, as from the kernel bridge. Redirected here, it would get every
     * wire-size segment through the tap's queue (a QEMU guest without vhost then falls
     * behind, the queue drops, TCP backs off). */
    if (to_tap_from_nontap && xb_tcp_with_payload(data, data_end, &l4))
        return XDP_PASS;
    /* A tag to add that the target's MTU would not take with the frame: TC's. */
    if (vi.vid && !vi.tagged && !vlan_untag && len + 4 > cfg->xdp_max_len)
        return XDP_PASS;
    /* Charged where XDP sends the frame on, not before a pass to TC (charged there). */
    charged = 0;
    if (in && (charged = xb_police(slot, in, len)) < 0) {
        xb_count_rx(slot, len, XB_HOOK_XDP);
        xb_count_drop(slot, XB_DROP_RATE);
        xb_trace(cfg, &f, ifindex, 0, XB_HOOK_XDP, XB_ACT_DROP, XB_DROP_RATE);
        return XDP_DROP;
    }
    /* A port that left the devmap a moment ago, or takes no XDP redirects (a shaped
     * port): let TC decide again. */
    ret = bpf_redirect_map(&tx_ports, d.out_slot, XDP_PASS);
    if (ret != XDP_REDIRECT) {
        xb_police_refund(slot, charged);
        return XDP_PASS;
    }
    st = xb_count_rx(slot, len, XB_HOOK_XDP);
    tx_len = len;
    /* The frame is sent after the program returns, as it is then: its egress form. */
    if (vi.vid) {
        /* A call only where the tag changes: not from trunk to trunk, access to access. */
        if (vi.tagged == vlan_untag) {
            ret = xb_vlan_xdp_out(ctx, &vi, vlan_untag, cfg, len);
            if (ret < 0) {
                xb_count_drop(slot, XB_DROP_VLAN_TAG);
                return XDP_DROP;
            }
            tx_len = (__u32)ret;
        }
        xb_vlan_count_fwd(vi.vid, len, tx_len);
    }
    if (st) {
        st->cnt[XB_CNT_FORWARDED]++;
        if (d.learn_refused)
            st->cnt[XB_CNT_LEARN_REFUSED]++;
    }
    xb_count_tx(d.out_slot, tx_len);
    xb_trace(cfg, &f, ifindex, d.out_ifindex, XB_HOOK_XDP, XB_ACT_FORWARD, 0);
    xb_capture(cfg, ctx, &f, ifindex, d.out_ifindex, XB_HOOK_XDP);
    return XDP_REDIRECT;
}

/* The host pair's second end, where the host's copies of XDP floods arrive. A veth
 * takes redirected frames only when its peer has NAPI, which an XDP program gives it:
 * this one passes everything on to xb_tc_host. */
SEC("xdp.frags")
int xb_xdp_host(struct xdp_md *ctx) {
    (void)ctx;
    return XDP_PASS;
}

/* The copy of a flood to one port, while a capture session runs: captured by a session
 * on that port. */
static __noinline void xb_devmap_capture(struct xdp_md *ctx, const struct xb_config *cfg) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct xb_frame f;

    if (xb_parse(data, data_end, bpf_xdp_get_buff_len(ctx), &f))
        return;
    xb_capture_copy(cfg, ctx, &f, ctx->ingress_ifindex, ctx->egress_ifindex, XB_HOOK_XDP);
}

/* Runs on each copy a flood map transmits: with multicast snooping on, holds back the
 * copies of a known group's frames for ports that are neither members nor routers, and
 * the host's if it did not join (mdb.h); with VLAN filtering, drops the copies for ports
 * (and the host pair) outside the frame's VLAN and untags the others where the VLAN is
 * untagged; counts each copy sent out of a port (the kernel bridge counts tx per port;
 * the host's copy is counted by xb_tc_host). */
SEC("xdp.frags/devmap")
int xb_xdp_devmap_tx(struct xdp_md *ctx) {
    const __u32 egress = ctx->egress_ifindex;
    const struct xb_port *p;
    struct xb_config *cfg;
    __u32 slot = XB_HOST_SLOT;

    p = xb_port_of(egress, &slot);
    if (!p)
        slot = XB_HOST_SLOT;
    cfg = xb_config();
    if (p && xb_policy_copy_blocked(slot, p->flags))
        return XDP_DROP;
    if (cfg && (cfg->flags & XB_CFG_MCAST_SNOOPING) && (p || egress == cfg->host_ifindex) &&
        !xb_mdb_copy_allowed(ctx, slot, p ? p->flags : 0))
        return XDP_DROP;
    if (cfg && xb_vlan_filtering(cfg) && (p || (egress && egress == cfg->host_ifindex)) &&
        xb_vlan_devmap_egress(ctx, cfg, slot) == XDP_DROP)
        return XDP_DROP;
    if (cfg && (cfg->flags & XB_CFG_CAPTURE))
        xb_devmap_capture(ctx, cfg);
    if (p)
        xb_count_tx(slot, bpf_xdp_get_buff_len(ctx));
    return XDP_PASS;
}

/* ---- TC ------------------------------------------------------------------- */

/* Whether skb may be sent on a port of this MTU: as the kernel bridge's
 * is_skb_forwardable, the frame fits with its Ethernet header and one VLAN tag, or is
 * GSO (segmented to size on the way out). XDP frames always fit: longer ones than the
 * smallest MTU of the bridge come here (xdp_max_len). */
static __always_inline int xb_tc_fits(const struct __sk_buff *skb, __u32 mtu) {
    return !mtu || skb->len <= mtu + 14 + 4 || skb->gso_size;
}

/* Sends skb out of port ifindex. A frame sent out of the uplink passes the uplink's
 * egress program, which must let it through rather than take it for host traffic. */
static __always_inline int xb_tc_xmit(struct __sk_buff *skb, __u32 ifindex,
                                      const struct xb_config *cfg) {
    if (ifindex == cfg->uplink_ifindex)
        skb->mark = XB_SKB_MARK;
    return bpf_redirect(ifindex, 0);
}

/* Hands skb to the stack of port `owner` as if it had been received there. */
static __always_inline int xb_tc_to_host(struct __sk_buff *skb, __u32 owner, __u32 in_ifindex) {
    xb_count_tx(XB_HOST_SLOT, skb->len);
    if (owner == in_ifindex)
        return TC_ACT_OK;
    skb->mark = XB_SKB_MARK;
    return bpf_redirect(owner, BPF_F_INGRESS);
}

struct xb_flood_ctx {
    struct __sk_buff *skb;
    const struct xb_config *cfg;
    const struct xb_frame *f;
    __u32 in_ifindex; /* excluded: the port the frame came from (0: a hairpin port) */
    __u32 need;       /* port flags a port needs to take this copy */
    __u32 skip;       /* port flags that keep a port from taking it */
    __u32 uplink;
    __u32 len;
    /* VLAN filtering: the frame's VLAN (0: none, every port takes it as it is), its
     * tag, and whether the skb carries that tag now (each copy is brought to its port's
     * form before it is cloned). */
    __u16 vid;
    __u16 tci;
    __be16 tpid;
    __u8 tagged;
    __u8 pad;
    __u32 from_ifindex; /* the port it came from, for the capture */
    __u32 hook;         /* enum xb_hook, for the capture */
    /* A frame for a known multicast group: only its members and router ports get a copy. */
    const struct xb_mdb_group_key *mdb;
    __u64 now;
};

static long xb_flood_one(__u64 index, void *arg) {
    struct xb_flood_ctx *fc = arg;
    __u32 slot = (__u32)index;
    struct xb_port *p = bpf_map_lookup_elem(&ports, &slot);
    struct __sk_buff *skb = fc->skb;
    __u32 mark;

    if (!p || !p->ifindex || p->ifindex == fc->in_ifindex ||
        (p->flags & xb_mdb_flood_need(fc->mdb, fc->need)) != xb_mdb_flood_need(fc->mdb, fc->need) ||
        (p->flags & fc->skip) || xb_port_blocked(slot, p->flags))
        return 0;
    if (fc->mdb && !xb_mdb_allows(fc->mdb, slot, p->flags, fc->now))
        return 0;
    if (fc->vid) {
        const struct xb_vlan *v = xb_vlan_get(fc->vid);

        if (!xb_vlan_member(v, slot))
            return 0;
        if (xb_vlan_skb_form(skb, &fc->tagged, !xb_vlan_untagged(v, slot), fc->tpid, fc->tci)) {
            xb_count_drop(slot, XB_DROP_VLAN_TAG);
            return 0;
        }
    }
    if (!xb_tc_fits(skb, p->mtu)) {
        xb_count_drop(slot, XB_DROP_TOO_BIG);
        return 0;
    }

    xb_capture_copy(fc->cfg, skb, fc->f, fc->from_ifindex, p->ifindex, fc->hook);
    mark = skb->mark;
    if (p->ifindex == fc->uplink)
        skb->mark = XB_SKB_MARK;
    if (bpf_clone_redirect(skb, p->ifindex, 0) == 0) {
        xb_count_tx(slot, fc->len);
        if (fc->vid)
            xb_vlan_count_tx(fc->vid, skb->len);
        if (xb_tap_without_reader(p))
            xb_count_drop(slot, XB_DROP_NO_READER);
    } else {
        xb_count_drop(slot, XB_DROP_REDIRECT);
    }
    skb->mark = mark;
    return 0;
}

/* Where a TC flood comes from: BPF calls take at most five arguments. */
struct xb_flood_req {
    __u32 flood_class;
    __u32 in_ifindex;
    __u32 in_flags;
    __u32 hook; /* enum xb_hook */
};

/* Clones skb to every port that takes this class of flood, except in_ifindex
 * (BPF_F_EXCLUDE_INGRESS's TC counterpart) unless it is a hairpin port, and, for a
 * frame from an isolated port (in_flags), the isolated ports; for a known multicast
 * group (mdb, else NULL), only to its members and router ports; with VLAN filtering
 * (vi->vid), only to the members of the frame's VLAN, each copy in its port's form.
 * vi->tagged is left saying whether skb is tagged after the last copy. A global
 * function: the verifier checks it, and its loop, once for every caller. */
__noinline int xb_tc_flood(struct __sk_buff *skb, const struct xb_frame *f,
                           const struct xb_flood_req *req, const struct xb_mdb_group_key *mdb,
                           struct xb_vlan_in *vi) {
    struct xb_config *cfg = xb_config();
    struct xb_flood_ctx fc = {};
    __u32 n;

    if (!skb || !f || !req || !vi || !cfg)
        return 0;
    fc.mdb = mdb;
    fc.now = mdb ? bpf_ktime_get_coarse_ns() : 0;
    fc.skb = skb;
    fc.cfg = cfg;
    fc.f = f;
    fc.from_ifindex = req->in_ifindex;
    fc.hook = req->hook;
    fc.in_ifindex = req->in_flags & XB_PORT_HAIRPIN ? 0 : req->in_ifindex;
    fc.need = xb_flood_flag(req->flood_class);
    fc.skip = req->in_flags & XB_PORT_ISOLATED;
    fc.uplink = cfg->uplink_ifindex;
    fc.len = skb->len;
    fc.vid = vi->vid;
    fc.tci = vi->tci;
    fc.tpid = xb_vlan_tpid(cfg);
    fc.tagged = vi->tagged;
    n = cfg->max_slot;
    if (n > XB_MAX_PORTS)
        n = XB_MAX_PORTS;
    bpf_loop(n, xb_flood_one, &fc, 0);
    vi->tagged = fc.tagged;
    return 0;
}

/* VLAN filtering: brings skb to the form port `slot` takes it in (untag: the VLAN is
 * untagged there). Returns 0, or -1 (counted on that port) when a helper failed. A
 * global function, checked once for its many call sites; the caller tests vi->vid. */
__noinline int xb_tc_vlan_form_g(struct __sk_buff *skb, struct xb_vlan_in *vi, __u32 untag,
                                 __u32 slot) {
    struct xb_config *cfg = xb_config();

    if (!skb || !vi || !cfg || !vi->vid ||
        !xb_vlan_skb_form(skb, &vi->tagged, !untag, xb_vlan_tpid(cfg), vi->tci))
        return 0;
    xb_count_drop(slot, XB_DROP_VLAN_TAG);
    return -1;
}

static __always_inline int xb_tc_vlan_form(struct __sk_buff *skb, struct xb_vlan_in *vi, int untag,
                                           __u32 slot) {
    return vi->vid ? xb_tc_vlan_form_g(skb, vi, (__u32)untag, slot) : 0;
}

/* VLAN filtering: classifies skb on port `slot` with PVID pvid (vlan.h), a global
 * function for the two TC programs. Returns an enum xb_vlan_verdict. */
__noinline int xb_tc_vlan_in(struct __sk_buff *skb, struct xb_frame *f, __u32 pvid, __u32 slot,
                             struct xb_vlan_in *vi) {
    struct xb_config *cfg = xb_config();

    if (!skb || !f || !vi || !cfg)
        return XB_VLAN_DROP;
    return xb_vlan_tc_classify(skb, f, (__u16)pvid, slot, cfg, vi);
}

/* Makes the headers the parser reads linear (a GSO skb from a tap may not have them
 * in its head) and parses them. The outer VLAN tag of an skb is usually not in the
 * packet but in vlan_tci: it is the key's VLAN, as the tag XDP reads. */
static __always_inline int xb_tc_parse(struct __sk_buff *skb, struct xb_frame *f) {
    void *data = (void *)(long)skb->data;
    void *data_end = (void *)(long)skb->data_end;

    if (data + XB_HDR_LEN > data_end && skb->len > data_end - data) {
        bpf_skb_pull_data(skb, skb->len < XB_HDR_LEN ? skb->len : XB_HDR_LEN);
        data = (void *)(long)skb->data;
        data_end = (void *)(long)skb->data_end;
    }
    return xb_parse_vid(data, data_end, skb->len, skb->vlan_present ? (int)skb->vlan_tci : -1, f);
}

/* skb->data and data_end as 64-bit loads the compiler cannot see through: knowing the
 * 32-bit field's upper half is zero, clang moves such pointers with 32-bit moves across
 * a long function, which the verifier takes for plain numbers (cilium's ctx_data). */
static __always_inline void *xb_skb_data(const struct __sk_buff *skb) {
    void *p;

    asm volatile("%0 = *(u32 *)(%1 + %2)"
                 : "=r"(p)
                 : "r"(skb), "i"(__builtin_offsetof(struct __sk_buff, data)));
    return p;
}

static __always_inline void *xb_skb_data_end(const struct __sk_buff *skb) {
    void *p;

    asm volatile("%0 = *(u32 *)(%1 + %2)"
                 : "=r"(p)
                 : "r"(skb), "i"(__builtin_offsetof(struct __sk_buff, data_end)));
    return p;
}

/* The port policy for an skb: the headers the address checks read made linear first
 * (a GSO skb from a tap may carry them in its frags). Every frame is charged to the
 * policer here: those XDP passed were not. */
__noinline int xb_tc_policy(struct __sk_buff *skb, const struct xb_frame *f, __u32 slot) {
    struct xb_config *cfg = xb_config();
    struct xb_port *in = bpf_map_lookup_elem(&ports, &slot);
    void *data, *data_end;
    __u32 flags, r;

    if (!skb || !f || !cfg || !in)
        return XB_DROP_NONE;
    flags = in->flags;

    if (flags & XB_PORT_BPDU_GUARD) {
        r = xb_bpdu_guard(f, slot, cfg);
        if (r)
            return r;
    }
    if (flags & XB_PORT_POLICY_HDR) {
        data = xb_skb_data(skb);
        data_end = xb_skb_data_end(skb);
        if (data + XB_POLICY_HDR_LEN > data_end && skb->len > data_end - data)
            bpf_skb_pull_data(skb, skb->len < XB_POLICY_HDR_LEN ? skb->len : XB_POLICY_HDR_LEN);
        data = xb_skb_data(skb);
        data_end = xb_skb_data_end(skb);
        r = xb_policy_hdr(data, data_end, f->l3_off, f->proto, slot, flags);
        if (r)
            return r;
    }
    return xb_police(slot, in, skb->len) < 0 ? XB_DROP_RATE : XB_DROP_NONE;
}

SEC("tc")
int xb_tc_ingress(struct __sk_buff *skb) {
    __u32 ifindex = skb->ifindex;
    struct xb_flood_req req;
    struct xb_vlan_in vi = {};
    struct xb_mdb_group_key mk;
    struct xb_decision d;
    int snooped;
    struct xb_config *cfg;
    struct xb_frame f;
    struct xb_port *in;
    __u32 slot, len, gen, reason;

    /* Injected by xbridge into this port's stack: already switched. */
    if (skb->mark == XB_SKB_MARK) {
        skb->mark = 0;
        return TC_ACT_OK;
    }

    cfg = xb_config();
    if (!cfg)
        return TC_ACT_OK;
    gen = xb_gen(cfg);
    in = xb_port_of(ifindex, &slot);
    if (!in)
        return TC_ACT_OK;

    len = skb->len;
    if (xb_tc_parse(skb, &f)) {
        xb_count_rx(slot, len, XB_HOOK_TC_INGRESS);
        xb_count_drop(slot, XB_DROP_PARSE);
        return TC_ACT_SHOT;
    }
    if (xb_vlan_filtering(cfg)) {
        if (xb_tc_vlan_in(skb, &f, in->pvid, slot, &vi) != XB_VLAN_OK) {
            xb_count_rx(slot, len, XB_HOOK_TC_INGRESS);
            xb_count_drop(slot, XB_DROP_VLAN);
            xb_trace(cfg, &f, ifindex, 0, XB_HOOK_TC_INGRESS, XB_ACT_DROP, XB_DROP_VLAN);
            return TC_ACT_SHOT;
        }
        if (vi.vid)
            xb_vlan_count_rx(vi.vid, len);
    }

    if (in->flags & XB_PORT_POLICY) {
        reason = (__u32)xb_tc_policy(skb, &f, slot);
        if (reason) {
            xb_count_rx(slot, len, XB_HOOK_TC_INGRESS);
            xb_count_drop(slot, reason);
            xb_trace(cfg, &f, ifindex, 0, XB_HOOK_TC_INGRESS, XB_ACT_DROP, reason);
            return TC_ACT_SHOT;
        }
    }

    d.in_slot = slot;
    d.gen = gen;
    xb_decide(&f, in, cfg, &d);
    if (d.learn_refused)
        xb_count(slot, XB_CNT_LEARN_REFUSED);
    xb_count_rx(slot, len, XB_HOOK_TC_INGRESS);
    switch (d.action) {
    case XB_ACT_DROP:
        xb_count_drop(slot, d.reason);
        xb_trace(cfg, &f, ifindex, 0, XB_HOOK_TC_INGRESS, XB_ACT_DROP, d.reason);
        xb_capture(cfg, skb, &f, ifindex, 0, XB_HOOK_TC_INGRESS);
        return TC_ACT_SHOT;

    case XB_ACT_FORWARD:
        /* Counted on the port the frame does not fit, as a flood's copies are: that
         * port's MTU (a VXLAN device's 50 bytes of overhead) is what to look at. */
        if (!xb_tc_fits(skb, d.out_mtu)) {
            xb_count_drop(d.out_slot, XB_DROP_TOO_BIG);
            xb_trace(cfg, &f, ifindex, 0, XB_HOOK_TC_INGRESS, XB_ACT_DROP, XB_DROP_TOO_BIG);
            xb_capture(cfg, skb, &f, ifindex, 0, XB_HOOK_TC_INGRESS);
            return TC_ACT_SHOT;
        }
        if (xb_tc_vlan_form(skb, &vi, d.vlan_untag, d.out_slot))
            return TC_ACT_SHOT;
        if (vi.vid)
            xb_vlan_count_tx(vi.vid, skb->len);
        xb_count(slot, XB_CNT_FORWARDED);
        xb_count_tx(d.out_slot, len);
        if (d.out_no_reader)
            xb_count_drop(d.out_slot, XB_DROP_NO_READER);
        xb_trace(cfg, &f, ifindex, d.out_ifindex, XB_HOOK_TC_INGRESS, XB_ACT_FORWARD, 0);
        xb_capture(cfg, skb, &f, ifindex, d.out_ifindex, XB_HOOK_TC_INGRESS);
        return xb_tc_xmit(skb, d.out_ifindex, cfg);

    case XB_ACT_FLOOD:
        if (xb_storm_exceeded(slot, in)) {
            xb_count_drop(slot, XB_DROP_STORM);
            xb_trace(cfg, &f, ifindex, 0, XB_HOOK_TC_INGRESS, XB_ACT_DROP, XB_DROP_STORM);
            xb_capture(cfg, skb, &f, ifindex, 0, XB_HOOK_TC_INGRESS);
            return TC_ACT_SHOT;
        }
        xb_count(slot, XB_CNT_FLOODED);
        xb_trace(cfg, &f, ifindex, 0, XB_HOOK_TC_INGRESS, XB_ACT_FLOOD, 0);
        xb_capture(cfg, skb, &f, ifindex, 0, XB_HOOK_TC_INGRESS);
        snooped = d.flood_class == XB_FLOOD_MCAST && xb_mdb_on(cfg, &f) &&
                  xb_mdb_snoop_skb(skb, &f, ifindex, slot, &mk);
        req.flood_class = d.flood_class;
        req.in_ifindex = ifindex;
        req.in_flags = in->flags;
        req.hook = XB_HOOK_TC_INGRESS;
        xb_tc_flood(skb, &f, &req, snooped ? &mk : NULL, &vi);
        if (!d.host_copy ||
            (snooped && !xb_mdb_allows(&mk, XB_HOST_SLOT, 0, bpf_ktime_get_coarse_ns())))
            return TC_ACT_SHOT; /* every port got its clone; the original is spent */
        if (xb_tc_vlan_form(skb, &vi, d.vlan_untag, XB_HOST_SLOT))
            return TC_ACT_SHOT;
        if (vi.vid)
            xb_vlan_count_tx(vi.vid, skb->len);
        xb_count(slot, XB_CNT_TO_HOST);
        return xb_tc_to_host(skb, cfg->uplink_ifindex, ifindex);

    default: /* XB_ACT_TO_HOST */
        if (xb_tc_vlan_form(skb, &vi, d.vlan_untag, XB_HOST_SLOT))
            return TC_ACT_SHOT;
        if (vi.vid)
            xb_vlan_count_tx(vi.vid, skb->len);
        xb_count(slot, XB_CNT_TO_HOST);
        xb_trace(cfg, &f, ifindex, d.out_ifindex, XB_HOOK_TC_INGRESS, XB_ACT_TO_HOST, 0);
        xb_capture(cfg, skb, &f, ifindex, d.out_ifindex, XB_HOOK_TC_INGRESS);
        return xb_tc_to_host(skb, d.out_ifindex, ifindex);
    }
}

/* TC ingress of the host pair's second end: the host's copy of a flood goes up the
 * uplink's stack, as if it had come in there (br0's local delivery). Counted as sent to
 * the host; the ingress port counted the flood and its host copy. */
SEC("tc")
int xb_tc_host(struct __sk_buff *skb) {
    struct xb_config *cfg = xb_config();

    if (!cfg || !cfg->uplink_ifindex)
        return TC_ACT_SHOT;
    return xb_tc_to_host(skb, cfg->uplink_ifindex, skb->ifindex);
}

/* Host → bridge. The host keeps its addresses on the uplink, so frames it sends to a
 * guest leave through the uplink's transmit path; here they are turned to the
 * guest's port (unicast), or copied to the other ports besides going out on the wire
 * (broadcast, multicast, unknown unicast), as br0 would. Counted on the host slot. */
SEC("tc")
int xb_tc_egress(struct __sk_buff *skb) {
    struct xb_flood_req req;
    struct xb_vlan_in vi = {};
    struct xb_mdb_group_key mk;
    struct xb_config *cfg;
    int snooped;
    struct xb_fdb_val *dst;
    struct xb_frame f;
    __u32 uplink, len, out_slot;
    struct xb_port *out;
    __u8 was_tagged;

    /* Switched onto the uplink by xbridge itself: not host traffic. */
    if (skb->mark == XB_SKB_MARK) {
        skb->mark = 0;
        return TC_ACT_OK;
    }

    cfg = xb_config();
    if (!cfg)
        return TC_ACT_OK;
    uplink = cfg->uplink_ifindex;
    if (skb->ifindex != uplink)
        return TC_ACT_OK;
    /* the host is never isolated */
    req.in_ifindex = uplink;
    req.in_flags = 0;
    req.hook = XB_HOOK_TC_EGRESS;

    len = skb->len;
    if (xb_tc_parse(skb, &f))
        return TC_ACT_OK;

    /* Link-local control frames the host sends on the uplink (LLDP, LACP...) are for the
     * wire it is plugged into, not for the guests. */
    if (xb_link_local(f.dst.mac) > 0)
        return TC_ACT_OK;

    /* VLAN filtering: the host is a member of the VLANs `vlan add dev host` gave it, and
     * its untagged frames take its PVID. A frame on a VLAN the host is not a member of
     * goes to the wire only, as the host sent it: the uplink is the host's own device. */
    if (xb_vlan_filtering(cfg)) {
        if (xb_tc_vlan_in(skb, &f, cfg->host_pvid, XB_HOST_SLOT, &vi) != XB_VLAN_OK || !vi.vid)
            return TC_ACT_OK;
    }
    was_tagged = vi.tagged;

    if (xb_is_group(f.dst.mac)) {
        __u32 flood_class = xb_is_broadcast(f.dst.mac) ? XB_FLOOD_BCAST : XB_FLOOD_MCAST;

        xb_count_rx(XB_HOST_SLOT, len, XB_HOOK_TC_EGRESS);
        xb_count(XB_HOST_SLOT, XB_CNT_FLOODED);
        xb_trace(cfg, &f, uplink, 0, XB_HOOK_TC_EGRESS, XB_ACT_FLOOD, 0);
        xb_capture(cfg, skb, &f, uplink, 0, XB_HOOK_TC_EGRESS);
        /* The host's own IGMP/MLD reports tell which groups it joined (slot XB_HOST_SLOT). */
        snooped = flood_class == XB_FLOOD_MCAST && xb_mdb_on(cfg, &f) &&
                  xb_mdb_snoop_skb(skb, &f, uplink, XB_HOST_SLOT, &mk);
        if (vi.vid)
            xb_vlan_count_rx(vi.vid, len);
        req.flood_class = flood_class;
        xb_tc_flood(skb, &f, &req, snooped ? &mk : NULL, &vi);
        /* The original goes on to the wire as the host sent it. */
        return xb_tc_vlan_form(skb, &vi, !was_tagged, XB_HOST_SLOT) ? TC_ACT_SHOT : TC_ACT_OK;
    }

    dst = xb_fdb_find(&f.dst);
    if (!dst) {
        xb_count_rx(XB_HOST_SLOT, len, XB_HOOK_TC_EGRESS);
        xb_count(XB_HOST_SLOT, XB_CNT_FLOODED);
        xb_trace(cfg, &f, uplink, 0, XB_HOOK_TC_EGRESS, XB_ACT_FLOOD, 0);
        xb_capture(cfg, skb, &f, uplink, 0, XB_HOOK_TC_EGRESS);
        if (vi.vid)
            xb_vlan_count_rx(vi.vid, len);
        req.flood_class = XB_FLOOD_UCAST;
        xb_tc_flood(skb, &f, &req, NULL, &vi);
        return xb_tc_vlan_form(skb, &vi, !was_tagged, XB_HOST_SLOT) ? TC_ACT_SHOT : TC_ACT_OK;
    }
    if (dst->type == XB_FDB_LOCAL || dst->ifindex == uplink)
        return TC_ACT_OK; /* for the wire, or for the host itself */

    out_slot = dst->slot;
    out = bpf_map_lookup_elem(&ports, &out_slot);
    xb_count_rx(XB_HOST_SLOT, len, XB_HOOK_TC_EGRESS);
    if (!out || out->ifindex != dst->ifindex) {
        xb_count_drop(XB_HOST_SLOT, XB_DROP_PORT_DOWN);
        xb_trace(cfg, &f, uplink, 0, XB_HOOK_TC_EGRESS, XB_ACT_DROP, XB_DROP_PORT_DOWN);
        return TC_ACT_SHOT;
    }
    if (xb_port_blocked(out_slot, out->flags)) {
        xb_count_drop(XB_HOST_SLOT, XB_DROP_BLOCKED);
        xb_trace(cfg, &f, uplink, 0, XB_HOOK_TC_EGRESS, XB_ACT_DROP, XB_DROP_BLOCKED);
        return TC_ACT_SHOT;
    }
    if (!xb_tc_fits(skb, out->mtu)) {
        xb_count_drop(out_slot, XB_DROP_TOO_BIG);
        xb_trace(cfg, &f, uplink, 0, XB_HOOK_TC_EGRESS, XB_ACT_DROP, XB_DROP_TOO_BIG);
        return TC_ACT_SHOT;
    }
    if (vi.vid) {
        const struct xb_vlan *v = xb_vlan_get(vi.vid);

        if (!xb_vlan_member(v, out_slot)) {
            xb_count_drop(XB_HOST_SLOT, XB_DROP_VLAN);
            xb_trace(cfg, &f, uplink, 0, XB_HOOK_TC_EGRESS, XB_ACT_DROP, XB_DROP_VLAN);
            return TC_ACT_SHOT;
        }
        if (xb_tc_vlan_form(skb, &vi, xb_vlan_untagged(v, out_slot), out_slot))
            return TC_ACT_SHOT;
        xb_vlan_count_rx(vi.vid, len);
        xb_vlan_count_tx(vi.vid, skb->len);
    }
    xb_count(XB_HOST_SLOT, XB_CNT_FORWARDED);
    xb_count_tx(out_slot, len);
    xb_trace(cfg, &f, uplink, out->ifindex, XB_HOOK_TC_EGRESS, XB_ACT_FORWARD, 0);
    xb_capture(cfg, skb, &f, uplink, out->ifindex, XB_HOOK_TC_EGRESS);
    return bpf_redirect(out->ifindex, 0);
}
