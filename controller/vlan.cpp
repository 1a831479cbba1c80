// SPDX-License-Identifier: BSD-2-Clause
#include "vlan.hpp"

#include "error.hpp"
#include "fdb.hpp"
#include "netdev.hpp"
#include "options.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <fmt/format.h>

namespace xb {

namespace {

constexpr uint16_t kMaxVid = 4094;

bool bit(const __u64 *bm, uint32_t slot) {
    return (bm[slot / 64] >> (slot % 64)) & 1;
}
void set_bit(__u64 *bm, uint32_t slot, bool on) {
    const __u64 m = __u64(1) << (slot % 64);
    bm[slot / 64] = on ? (bm[slot / 64] | m) : (bm[slot / 64] & ~m);
}

xb_vlan read_vlan(const Datapath &dp, uint32_t vid) {
    xb_vlan v{};
    bpf_map_lookup_elem(dp.map(MapId::VlanMembers), &vid, &v);
    return v;
}

void write_vlan(Datapath &dp, uint32_t vid, const xb_vlan &v) {
    check_libbpf(bpf_map_update_elem(dp.map(MapId::VlanMembers), &vid, &v, BPF_ANY),
                 fmt::format("cannot update VLAN {}", vid));
}

// Every VLAN's entry, read once (4096 x 64 bytes) with one batch lookup where the kernel
// has it, else one by one.
std::vector<xb_vlan> read_all(const Datapath &dp) {
    std::vector<xb_vlan> all(XB_VLAN_N);
    std::vector<uint32_t> keys(XB_VLAN_N);
    uint32_t count = XB_VLAN_N, out_batch = 0;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    if (bpf_map_lookup_batch(dp.map(MapId::VlanMembers), nullptr, &out_batch, keys.data(),
                             all.data(), &count, &opts) == 0 ||
        (errno == ENOENT && count == XB_VLAN_N)) {
        std::vector<xb_vlan> by_vid(XB_VLAN_N);
        for (uint32_t i = 0; i < count; i++)
            if (keys[i] < XB_VLAN_N)
                by_vid[keys[i]] = all[i];
        return by_vid;
    }
    for (uint32_t vid = 0; vid < XB_VLAN_N; vid++)
        all[vid] = read_vlan(dp, vid);
    return all;
}

struct Target {
    uint32_t slot = XB_HOST_SLOT;
    std::optional<SlotPort> port; // nullopt: the host
};

Target resolve(Datapath &dp, const std::string &name) {
    if (name == kVlanHostDev) {
        if (!dp.config()->uplink_ifindex)
            throw Error(fmt::format("bridge {} has no uplink: the host is not on it", dp.name()),
                        ENODEV);
        return {};
    }
    const SlotPort sp = dp.require_port(name);
    return {sp.slot, sp};
}

uint16_t pvid_of(Datapath &dp, const Target &t) {
    return t.port ? t.port->port.pvid : dp.config()->host_pvid;
}

void set_pvid(Datapath &dp, const Target &t, uint16_t pvid) {
    if (!t.port) {
        dp.config()->host_pvid = pvid;
        return;
    }
    xb_port p = *dp.port(t.slot);
    p.pvid = pvid;
    dp.set_port(t.slot, p);
}

} // namespace

std::optional<VlanRange> parse_vlan_range(const std::string &s) {
    const auto dash = s.find('-');
    const auto from = parse_number(s.substr(0, dash), 1, kMaxVid);
    const auto to = dash == std::string::npos ? from : parse_number(s.substr(dash + 1), 1, kMaxVid);
    if (!from || !to || *to < *from)
        return std::nullopt;
    return VlanRange{static_cast<uint16_t>(*from), static_cast<uint16_t>(*to)};
}

std::vector<PortVlans> vlan_table(Datapath &dp) {
    const std::vector<xb_vlan> all = read_all(dp);
    std::vector<PortVlans> out;
    auto collect = [&](const std::string &name, uint32_t slot, uint16_t pvid) {
        PortVlans pv{name, slot, {}};
        for (uint16_t vid = 1; vid <= kMaxVid; vid++)
            if (bit(all[vid].member, slot))
                pv.vlans.push_back({vid, vid == pvid, bit(all[vid].untagged, slot)});
        out.push_back(std::move(pv));
    };
    if (dp.config()->uplink_ifindex)
        collect(kVlanHostDev, XB_HOST_SLOT, dp.config()->host_pvid);
    for (const auto &sp : dp.ports())
        collect(sp.port.name, sp.slot, sp.port.pvid);
    return out;
}

void vlan_add(Datapath &dp, const std::string &target, VlanRange r, bool pvid, bool untagged) {
    if (pvid && r.from != r.to)
        throw Error("a PVID is one VLAN, not a range", EINVAL);
    const Target t = resolve(dp, target);
    for (uint32_t vid = r.from; vid <= r.to; vid++) {
        xb_vlan v = read_vlan(dp, vid);
        set_bit(v.member, t.slot, true);
        set_bit(v.untagged, t.slot, untagged);
        write_vlan(dp, vid, v);
    }
    const uint16_t cur = pvid_of(dp, t);
    if (pvid)
        set_pvid(dp, t, r.from);
    else if (cur >= r.from && cur <= r.to)
        set_pvid(dp, t, 0);
    dp.fdb_changed();
}

void vlan_del(Datapath &dp, const std::string &target, VlanRange r) {
    const Target t = resolve(dp, target);
    for (uint32_t vid = r.from; vid <= r.to; vid++) {
        xb_vlan v = read_vlan(dp, vid);
        if (!bit(v.member, t.slot))
            continue;
        set_bit(v.member, t.slot, false);
        set_bit(v.untagged, t.slot, false);
        write_vlan(dp, vid, v);
    }
    if (const uint16_t cur = pvid_of(dp, t); cur >= r.from && cur <= r.to)
        set_pvid(dp, t, 0);
    dp.fdb_changed();
    // What the port learned on those VLANs is unreachable now (br_fdb_delete_by_port).
    if (t.port)
        fdb_remove_if(dp, [&](const FdbEntry &e) {
            return e.val.ifindex == t.port->port.ifindex && e.val.type == XB_FDB_DYNAMIC &&
                   e.key.vlan >= r.from && e.key.vlan <= r.to;
        });
}

void vlan_clear_slot(Datapath &dp, uint32_t slot) {
    const std::vector<xb_vlan> all = read_all(dp);
    for (uint32_t vid = 0; vid < XB_VLAN_N; vid++) {
        if (!bit(all[vid].member, slot) && !bit(all[vid].untagged, slot))
            continue;
        xb_vlan v = all[vid];
        set_bit(v.member, slot, false);
        set_bit(v.untagged, slot, false);
        write_vlan(dp, vid, v);
    }
}

void vlan_port_defaults(Datapath &dp, uint32_t slot) {
    vlan_clear_slot(dp, slot);
    xb_vlan v = read_vlan(dp, kDefaultPvid);
    set_bit(v.member, slot, true);
    set_bit(v.untagged, slot, true);
    write_vlan(dp, kDefaultPvid, v);
}

void vlan_host_defaults(Datapath &dp) {
    vlan_port_defaults(dp, XB_HOST_SLOT);
    dp.config()->host_pvid = kDefaultPvid;
    if (!dp.config()->vlan_proto)
        dp.config()->vlan_proto = kVlanProto8021Q;
}

namespace {

// A veth: the tag rides beside the frame when the peer's stack sends with tx-vlan offload
// (its default); our end's rx-vlan offload changes nothing. The kernel itself takes
// features from the peer that an XDP program on this end cannot serve (GSO,
// veth_fix_features); this takes the tx-vlan offload too, for the bridge's lifetime, so
// that every frame keeps the XDP path. Where the peer cannot be reached (a namespace
// without a name) or changed, frames that look untagged at XDP take the TC path.
std::string veth_rx_prepare(xb_port &p) {
    if (p.ctl & XB_CTL_RXVLAN_OFF)
        return {};
    const auto on = veth_peer_txvlan_enabled(static_cast<int>(p.ifindex));
    if (on == false)
        return {};
    if (on) {
        try {
            set_veth_peer_txvlan(static_cast<int>(p.ifindex), false);
            p.ctl |= XB_CTL_RXVLAN_OFF;
            return fmt::format("{}: tx-vlan offload of its peer turned off for the bridge's "
                               "lifetime (its tags in the frame, where XDP sees them)",
                               p.name);
        } catch (const Error &) {
            // Fixed on, or gone: TC sees what XDP cannot.
        }
    }
    p.flags |= XB_PORT_VLAN_HIDDEN;
    return fmt::format("{}: a veth whose peer may send tags beside the frame (tx-vlan offload): "
                       "frames that look untagged at XDP take the TC path",
                       p.name);
}

} // namespace

std::string vlan_rx_prepare(xb_port &p) {
    p.flags &= ~XB_PORT_VLAN_HIDDEN;
    // TC sees a stripped tag (vlan_tci); a tap always carries it in the frame.
    if (p.xdp_mode != XB_XDP_NATIVE || p.kind == XB_KIND_TAP)
        return {};
    if (p.kind == XB_KIND_VETH)
        return veth_rx_prepare(p);
    if (p.ctl & XB_CTL_RXVLAN_OFF)
        return {};
    const auto on = rxvlan_enabled(p.name);
    if (on == false)
        return {};
    if (on) {
        try {
            set_rxvlan(p.name, false);
            p.ctl |= XB_CTL_RXVLAN_OFF;
            return fmt::format("{}: rx-vlan offload turned off for the bridge's lifetime", p.name);
        } catch (const Error &) {
            // Fixed on: TC sees what XDP cannot.
        }
    }
    p.flags |= XB_PORT_VLAN_HIDDEN;
    return fmt::format("{}: rx-vlan offload cannot be turned off: frames that look untagged at "
                       "XDP take the TC path",
                       p.name);
}

void vlan_rx_restore(xb_port &p) {
    if (p.ctl & XB_CTL_RXVLAN_OFF) {
        try {
            if (p.kind == XB_KIND_VETH)
                set_veth_peer_txvlan(static_cast<int>(p.ifindex), true);
            else
                set_rxvlan(p.name, true);
        } catch (const Error &) {
            // Best effort, like the rest of the restoring.
        }
    }
    p.ctl &= ~XB_CTL_RXVLAN_OFF;
    p.flags &= ~XB_PORT_VLAN_HIDDEN;
}

std::string vlan_rx_mode(const xb_port &p) {
    if (p.flags & XB_PORT_VLAN_HIDDEN)
        return "tc";
    if (p.ctl & XB_CTL_RXVLAN_OFF)
        return p.kind == XB_KIND_VETH ? "peer-txvlan-off" : "rxvlan-off";
    return "frame";
}

void set_vlan_filtering(Datapath &dp, bool on) {
    const bool was = dp.config()->flags & XB_CFG_VLAN_FILTERING;
    if (on == was)
        return;
    // The ports' receive paths are prepared when they join, filtering or not (an XDP
    // redirect loses a tag held beside the frame either way); on, they are prepared again
    // first, for ports a bridge of an older xbridge added without it, so that XDP never
    // classifies a frame whose tag it cannot see. Off, they stay as they are.
    if (on) {
        for (const auto &sp : dp.ports()) {
            xb_port p = sp.port;
            vlan_rx_prepare(p);
            dp.set_port(sp.slot, p);
        }
        __atomic_fetch_or(&dp.config()->flags, uint32_t(XB_CFG_VLAN_FILTERING), __ATOMIC_SEQ_CST);
    } else {
        __atomic_fetch_and(&dp.config()->flags, ~uint32_t(XB_CFG_VLAN_FILTERING), __ATOMIC_SEQ_CST);
    }
    dp.fdb_changed();
}

std::string vlan_protocol_name(uint16_t proto) {
    return proto == kVlanProto8021AD ? "802.1ad" : "802.1Q";
}

std::optional<uint16_t> parse_vlan_protocol(const std::string &s) {
    if (s == "802.1q" || s == "802.1Q")
        return kVlanProto8021Q;
    if (s == "802.1ad" || s == "802.1AD")
        return kVlanProto8021AD;
    return std::nullopt;
}

void set_vlan_protocol(Datapath &dp, uint16_t proto) {
    dp.config()->vlan_proto = proto;
    dp.fdb_changed();
}

std::vector<VlanCounters> vlan_counters(Datapath &dp) {
    const std::vector<xb_vlan> all = read_all(dp);
    const int ncpu = libbpf_num_possible_cpus();
    std::vector<xb_vlan_stats> percpu(ncpu > 0 ? ncpu : 1);
    std::vector<VlanCounters> out;
    for (uint32_t vid = 1; vid <= kMaxVid; vid++) {
        VlanCounters c{static_cast<uint16_t>(vid), {}};
        if (bpf_map_lookup_elem(dp.map(MapId::VlanStats), &vid, percpu.data()) == 0)
            for (const auto &s : percpu) {
                c.s.rx_packets += s.rx_packets;
                c.s.rx_bytes += s.rx_bytes;
                c.s.tx_packets += s.tx_packets;
                c.s.tx_bytes += s.tx_bytes;
            }
        bool member = false;
        for (__u64 w : all[vid].member)
            member = member || w;
        if (member || c.s.rx_packets || c.s.tx_packets)
            out.push_back(c);
    }
    return out;
}

} // namespace xb
