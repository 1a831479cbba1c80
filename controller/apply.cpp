// SPDX-License-Identifier: BSD-2-Clause
#include "apply.hpp"

#include "error.hpp"
#include "fdb.hpp"
#include "mdb.hpp"
#include "metrics.hpp"
#include "port_policy.hpp"
#include "vlan.hpp"

#include <algorithm>
#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <grp.h>
#include <map>
#include <pwd.h>
#include <set>

namespace xb {

uint32_t config_flag_mask() {
    uint32_t m = 0;
    for (const auto &f : kPortFlagKeys)
        m |= f.mask();
    return m;
}

namespace {

// How each kBridgeSettings key is read from and written to a running bridge.
struct SettingIo {
    const char *key;
    uint32_t (*read)(Datapath &);
    void (*write)(Datapath &, uint32_t);
};

void set_cfg_flag(Datapath &dp, uint32_t flag, bool on) {
    if (on)
        __atomic_fetch_or(&dp.config()->flags, flag, __ATOMIC_RELEASE);
    else
        __atomic_fetch_and(&dp.config()->flags, ~flag, __ATOMIC_RELEASE);
}

constexpr SettingIo kSettingIo[] = {
    {"ageing-time", [](Datapath &dp) { return uint32_t(dp.config()->ageing_ns / 1000000000ull); },
     [](Datapath &dp, uint32_t v) { dp.config()->ageing_ns = uint64_t(v) * 1000000000ull; }},
    {"vlan-filtering",
     [](Datapath &dp) { return uint32_t((dp.config()->flags & XB_CFG_VLAN_FILTERING) != 0); },
     [](Datapath &dp, uint32_t v) { set_vlan_filtering(dp, v != 0); }},
    {"vlan-protocol",
     [](Datapath &dp) {
         return uint32_t(dp.config()->vlan_proto ? dp.config()->vlan_proto : kVlanProto8021Q);
     },
     [](Datapath &dp, uint32_t v) { set_vlan_protocol(dp, static_cast<uint16_t>(v)); }},
    {"mcast-snooping",
     [](Datapath &dp) { return uint32_t((dp.config()->flags & XB_CFG_MCAST_SNOOPING) != 0); },
     [](Datapath &dp, uint32_t v) {
         set_cfg_flag(dp, XB_CFG_MCAST_SNOOPING, v != 0);
         if (!v)
             mdb_flush(dp); // as the kernel bridge's: what snooping learned is forgotten
     }},
    {"mcast-querier",
     [](Datapath &dp) { return uint32_t((dp.config()->flags & XB_CFG_MCAST_QUERIER) != 0); },
     [](Datapath &dp, uint32_t v) { set_cfg_flag(dp, XB_CFG_MCAST_QUERIER, v != 0); }},
    {"mcast-igmp-version",
     [](Datapath &dp) { return (dp.config()->flags & XB_CFG_MCAST_IGMPV3) ? 3u : 2u; },
     [](Datapath &dp, uint32_t v) { set_cfg_flag(dp, XB_CFG_MCAST_IGMPV3, v == 3); }},
    {"mcast-mld-version",
     [](Datapath &dp) { return (dp.config()->flags & XB_CFG_MCAST_MLDV2) ? 2u : 1u; },
     [](Datapath &dp, uint32_t v) { set_cfg_flag(dp, XB_CFG_MCAST_MLDV2, v == 2); }},
    {"mcast-membership-interval",
     [](Datapath &dp) { return uint32_t(mcast_membership_ns(*dp.config()) / 1000000000ull); },
     [](Datapath &dp, uint32_t v) { dp.config()->mcast_membership_s = v; }},
};

const SettingIo &setting_io(const std::string &key) {
    for (const auto &s : kSettingIo)
        if (key == s.key)
            return s;
    // A row of kBridgeSettings without its row here: a build error in spirit.
    throw Error(fmt::format("setting {} has no way to the datapath", key), ENOSYS);
}

std::string setting_text(const BridgeSetting &st, uint32_t v) {
    switch (st.kind) {
    case BridgeSetting::Bool:
        return v ? "on" : "off";
    case BridgeSetting::Choice:
        for (const auto &[name, val] : st.choices)
            if (name && val == v)
                return name;
        break;
    case BridgeSetting::Number:
        break;
    }
    return std::to_string(v);
}

// The VLANs of a port (or the host) as the bitmaps have them.
std::vector<VlanConfig> current_vlans(Datapath &dp, const std::string &target) {
    std::vector<VlanConfig> out;
    for (const auto &pv : vlan_table(dp))
        if (pv.name == target)
            for (const auto &v : pv.vlans)
                out.push_back({v.vid, v.pvid, v.untagged});
    return out;
}

// Calls f(from, to, untagged) for the runs of consecutive VIDs of `vids` with equal
// untagged, so that a range in the file is one vlan_add.
template <typename F> void for_runs(const std::vector<VlanConfig> &vids, F f) {
    for (size_t i = 0; i < vids.size();) {
        size_t j = i + 1;
        while (j < vids.size() && vids[j].vid == vids[j - 1].vid + 1 &&
               vids[j].untagged == vids[i].untagged)
            j++;
        f(vids[i].vid, vids[j - 1].vid, vids[i].untagged);
        i = j;
    }
}

// Makes the target's VLANs `want` (by VID) with `bridge vlan add/del`'s operations: the
// VLANs it leaves, then those it joins or whose untagged changes, the PVID last (a range
// added without pvid takes the PVID off a VLAN in it).
void vlan_converge(Datapath &dp, const std::string &target, const std::vector<VlanConfig> &want) {
    const std::vector<VlanConfig> cur = current_vlans(dp, target);
    auto find = [](const std::vector<VlanConfig> &l, uint16_t vid) -> const VlanConfig * {
        auto it = std::lower_bound(l.begin(), l.end(), vid,
                                   [](const VlanConfig &v, uint16_t x) { return v.vid < x; });
        return it != l.end() && it->vid == vid ? &*it : nullptr;
    };
    std::vector<VlanConfig> gone, join;
    const VlanConfig *pvid = nullptr;
    for (const auto &v : cur)
        if (!find(want, v.vid))
            gone.push_back(v);
    for (const auto &v : want) {
        const VlanConfig *c = find(cur, v.vid);
        if (c && *c == v)
            continue;
        if (v.pvid)
            pvid = &v;
        else
            join.push_back(v);
    }
    for_runs(gone, [&](uint16_t a, uint16_t b, bool) { vlan_del(dp, target, {a, b}); });
    for_runs(join, [&](uint16_t a, uint16_t b, bool u) { vlan_add(dp, target, {a, b}, false, u); });
    if (pvid)
        vlan_add(dp, target, {pvid->vid, pvid->vid}, true, pvid->untagged);
}

std::string vlans_text(const std::vector<VlanConfig> &v) {
    return v.empty() ? std::string("none") : fmt::format("{}", fmt::join(format_vlans(v), ", "));
}

[[noreturn]] void fail_at(const BridgeConfig &cfg, int line, const std::string &why, int err) {
    throw Error(line > 0 ? fmt::format("{}:{}: {}", cfg.file, line, why)
                         : fmt::format("{}: {}", cfg.file, why),
                err);
}

// "locked on, flood off": what changes between two sets of flags.
std::string flag_changes(uint32_t from, uint32_t to) {
    std::vector<std::string> out;
    for (const auto &f : kPortFlagKeys)
        if ((from & f.mask()) != (to & f.mask()))
            out.push_back(fmt::format("{} {}", f.key, f.state(to)));
    return fmt::format("{}", fmt::join(out, ", "));
}

std::optional<std::string> uplink_name(const Datapath &dp) {
    for (const auto &sp : dp.ports())
        if (sp.port.flags & XB_PORT_UPLINK)
            return std::string(sp.port.name);
    for (const auto &sp : dp.absent_ports())
        if (sp.port.flags & XB_PORT_UPLINK)
            return std::string(sp.port.name);
    return std::nullopt;
}

std::optional<SlotPort> absent_port(const Datapath &dp, const std::string &name) {
    for (const auto &sp : dp.absent_ports())
        if (name == sp.port.name)
            return sp;
    return std::nullopt;
}

TapOwner resolve_owner(const BridgeConfig &cfg, const PortConfig &p) {
    TapOwner o;
    try {
        if (p.tap->user)
            o.uid = resolve_user(*p.tap->user);
        if (p.tap->group)
            o.gid = resolve_group(*p.tap->group);
    } catch (const Error &e) {
        fail_at(cfg, p.line, fmt::format("ports.{}.tap: {}", p.name, e.what()), e.err());
    }
    return o;
}

struct FdbKeyLess {
    bool operator()(const xb_fdb_key &a, const xb_fdb_key &b) const {
        return std::memcmp(&a, &b, sizeof(a)) < 0;
    }
};

xb_fdb_key fdb_key(const Mac &mac, uint16_t vlan) {
    xb_fdb_key k{};
    std::memcpy(k.mac, mac.data(), 6);
    k.vlan = vlan;
    return k;
}

std::map<xb_fdb_key, xb_fdb_val, FdbKeyLess> static_entries(const Datapath &dp) {
    std::map<xb_fdb_key, xb_fdb_val, FdbKeyLess> out;
    fdb_for_each(dp, [&](const FdbEntry &e) {
        if (e.val.type == XB_FDB_STATIC)
            out[e.key] = e.val;
    });
    return out;
}

void put_entry(Datapath &dp, const xb_fdb_key &key, const xb_fdb_val &val) {
    bpf_map_update_elem(dp.map(MapId::Fdb), &key, &val, BPF_ANY);
    dp.fdb_changed();
}

void delete_entry(Datapath &dp, const xb_fdb_key &key) {
    bpf_map_delete_elem(dp.map(MapId::Fdb), &key);
    dp.fdb_changed();
}

std::string entry_name(const xb_fdb_key &k) {
    const std::string mac = format_mac(k.mac);
    return k.vlan ? fmt::format("{} vlan {}", mac, k.vlan) : mac;
}

// Everything apply changes once the ports are in: one transaction with bridge_up's.
class Converge {
  public:
    Converge(const BridgeConfig &cfg, Netlink &nl, Datapath &dp, const std::set<std::string> &had)
        : cfg_(cfg), nl_(nl), dp_(dp), had_(had) {}

    void ports() {
        const uint32_t mask = config_flag_mask();
        for (const auto &pc : cfg_.ports) {
            auto sp = dp_.port_by_name(pc.name);
            if (!sp) {
                absent(pc); // kept for its device's return, or a guest's tap not there
                continue;
            }
            const bool had = had_.count(pc.name);
            const xb_port old = sp->port;
            if ((old.flags & mask) != pc.flags) {
                xb_port p = old;
                p.flags = (old.flags & ~mask) | pc.flags;
                set(sp->slot, p, old);
                if (had)
                    changes.push_back(
                        fmt::format("port {}: {}", pc.name, flag_changes(old.flags, pc.flags)));
            }
            if (old.storm_pps != pc.storm_pps) {
                xb_port p = *dp_.port(sp->slot);
                p.storm_pps = pc.storm_pps;
                const xb_port before = *dp_.port(sp->slot);
                set(sp->slot, p, before);
                if (had)
                    changes.push_back(
                        fmt::format("port {}: storm-limit {}", pc.name, pc.storm_pps));
            }
            // A guard turned off forgets its block, as `port set PORT bpdu-guard off`.
            if ((old.flags & XB_PORT_BPDU_GUARD) && !(pc.flags & XB_PORT_BPDU_GUARD)) {
                uint32_t slot = sp->slot;
                const xb_policy_state none{};
                bpf_map_update_elem(dp_.map(MapId::PolicyState), &slot, &none, BPF_ANY);
            }
            if (pc.tap && pc.tap->mtu)
                mtu(*sp, *pc.tap->mtu);
            std::vector<std::string> did;
            try {
                did = converge_port_settings(dp_, *dp_.port_by_name(pc.name), pc, undo);
            } catch (const Error &e) {
                fail_at(cfg_, pc.line, fmt::format("ports.{}: {}", pc.name, e.what()), e.err());
            }
            if (had)
                for (const auto &d : did)
                    changes.push_back(fmt::format("port {}: {}", pc.name, d));
        }
    }

    // The host's VLANs (through the uplink), then the bridge-wide settings: VLAN filtering
    // turned on once every port is in its VLANs.
    void bridge_settings() {
        if (dp_.config()->uplink_ifindex) {
            const auto old = current_vlans(dp_, kVlanHostDev);
            if (old != cfg_.host_vlans) {
                try {
                    vlan_converge(dp_, kVlanHostDev, cfg_.host_vlans);
                } catch (const Error &e) {
                    fail_at(cfg_, cfg_.line_host_vlans, e.what(), e.err());
                }
                undo.push([this, old] { vlan_converge(dp_, kVlanHostDev, old); });
                changes.push_back(fmt::format("host-vlans {}", vlans_text(cfg_.host_vlans)));
            }
        }
        for (const auto &st : kBridgeSettings) {
            const SettingIo &io = setting_io(st.key);
            const uint32_t old = io.read(dp_), want = cfg_.setting(st.key);
            if (old == want)
                continue;
            io.write(dp_, want);
            undo.push([this, &io, old] { io.write(dp_, old); });
            changes.push_back(fmt::format("{} {}", st.key, setting_text(st, want)));
        }
    }

    void settings() {
        const uint32_t old = dp_.config()->max_learned;
        set_max_learned(dp_, cfg_.max_learned.value_or(0));
        if (dp_.config()->max_learned != old) {
            undo.push([this, old] { dp_.config()->max_learned = old; });
            changes.push_back(fmt::format("max-learned {}", cfg_.max_learned.value_or(0)));
        }
    }

    // The running controller serves the new address from its next tick (controller.cpp);
    // a port taken by another process is found here, before anything is written.
    void metrics(const MetricsAddr &want, bool caller_binds) {
        xb_config &c = *dp_.config();
        if (c.metrics_ip4 == want.ip4 && c.metrics_port == want.port)
            return;
        if (!caller_binds && want.port && want.port != c.metrics_port)
            MetricsServer trial(dp_.name(), want);
        else if (!caller_binds && want.port)
            check_metrics_addr(want);
        const MetricsAddr old{c.metrics_ip4, c.metrics_port};
        c.metrics_ip4 = want.ip4;
        c.metrics_port = want.port;
        undo.push([this, old] {
            dp_.config()->metrics_ip4 = old.ip4;
            dp_.config()->metrics_port = old.port;
        });
        changes.push_back(fmt::format("metrics {}", format_metrics_addr(want)));
    }

    void fdb() {
        auto current = static_entries(dp_);
        std::set<xb_fdb_key, FdbKeyLess> wanted;
        for (const auto &f : cfg_.fdb) {
            const xb_fdb_key key = fdb_key(f.mac, f.vlan);
            wanted.insert(key);
            auto sp = dp_.port_by_name(f.port);
            if (!sp)
                continue; // its port is absent, or a guest's that is not running
            auto it = current.find(key);
            if (it != current.end() && it->second.ifindex == sp->port.ifindex)
                continue;
            std::optional<xb_fdb_val> prev;
            if (xb_fdb_val v{}; bpf_map_lookup_elem(dp_.map(MapId::Fdb), &key, &v) == 0)
                prev = v;
            if (prev && prev->type == XB_FDB_STATIC) {
                delete_entry(dp_, key); // a static entry moves to the file's port
                undo.push([this, key, prev] { put_entry(dp_, key, *prev); });
            }
            try {
                fdb_add_static(dp_, f.mac, f.vlan, sp->port.ifindex, sp->slot);
            } catch (const Error &e) {
                fail_at(cfg_, f.line, e.what(), e.err());
            }
            // A learned entry it replaced is learned again, as add_port's undo has it.
            undo.push([this, key] { delete_entry(dp_, key); });
            changes.push_back(fmt::format("fdb {} on {}", entry_name(key), f.port));
        }
        for (const auto &[key, val] : current) {
            if (wanted.count(key))
                continue;
            delete_entry(dp_, key);
            undo.push([this, key = key, val = val] { put_entry(dp_, key, val); });
            changes.push_back(fmt::format("fdb {} removed", entry_name(key)));
        }
    }

    // After the additions: a port removed is the hardest step to take back (a tap it made
    // is deleted, and made again by the undo).
    void remove(const SlotPort &sp) {
        const std::string name = sp.port.name;
        if (!sp.port.ifindex) {
            const uint32_t slot = sp.slot;
            const xb_port kept = sp.port, empty{};
            bpf_map_update_elem(dp_.map(MapId::Ports), &slot, &empty, BPF_ANY);
            undo.push([this, slot, kept] {
                uint32_t s = slot;
                bpf_map_update_elem(dp_.map(MapId::Ports), &s, &kept, BPF_ANY);
            });
            changes.push_back(fmt::format("port {} (absent) removed", name));
            return;
        }
        TapOwner owner;
        unsigned queues = 1;
        if (sp.port.ctl & XB_CTL_CREATED_TAP)
            if (auto t = nl_.tun_info(static_cast<int>(sp.port.ifindex))) {
                owner.uid = t->uid;
                owner.gid = t->gid;
                queues = t->multi_queue ? 2 : 1;
            }
        std::vector<FdbEntry> statics;
        for (const auto &[k, v] : static_entries(dp_))
            if (v.ifindex == sp.port.ifindex)
                statics.push_back({k, v});
        // Removing a port forgets its VLANs and allowed addresses: the undo puts them back.
        Kept kept{current_vlans(dp_, name), port_allowed_ips(dp_, sp.slot)};
        remove_port(dp_, sp.slot, nl_, false);
        undo.push([this, sp, owner, queues, statics, kept] {
            restore(sp, owner, queues, statics, kept);
        });
        changes.push_back(fmt::format("port {} removed", name));
    }

    std::vector<std::string> changes;
    Undo undo;

  private:
    // An absent port keeps its flags for its device's return: they follow the file too.
    void absent(const PortConfig &pc) {
        auto sp = absent_port(dp_, pc.name);
        const uint32_t mask = config_flag_mask();
        if (!sp || ((sp->port.flags & mask) == pc.flags && sp->port.storm_pps == pc.storm_pps))
            return;
        xb_port p = sp->port;
        p.flags = (p.flags & ~mask) | pc.flags;
        p.storm_pps = pc.storm_pps;
        uint32_t slot = sp->slot;
        bpf_map_update_elem(dp_.map(MapId::Ports), &slot, &p, BPF_ANY);
        undo.push([this, slot, old = sp->port] {
            uint32_t s = slot;
            xb_port o = old;
            bpf_map_update_elem(dp_.map(MapId::Ports), &s, &o, BPF_ANY);
        });
        changes.push_back(
            fmt::format("port {} (absent): flags and storm-limit as the file's", pc.name));
    }

    void set(uint32_t slot, const xb_port &p, const xb_port &old) {
        dp_.set_port(slot, p);
        update_flood_maps(dp_, slot, p);
        dp_.fdb_changed();
        undo.push([this, slot, old] {
            xb_port cur = dp_.port(slot).value_or(old);
            cur.flags = (cur.flags & ~config_flag_mask()) | (old.flags & config_flag_mask());
            cur.storm_pps = old.storm_pps;
            dp_.set_port(slot, cur);
            update_flood_maps(dp_, slot, cur);
            dp_.fdb_changed();
        });
    }

    void mtu(const SlotPort &sp, uint32_t mtu) {
        auto li = nl_.link(static_cast<int>(sp.port.ifindex));
        if (!li || li->mtu == mtu)
            return;
        const unsigned old = li->mtu;
        const int ifindex = li->ifindex;
        const uint32_t slot = sp.slot;
        try {
            nl_.set_mtu(ifindex, mtu);
        } catch (const Error &e) {
            fail_at(cfg_, cfg_.port(sp.port.name)->line, e.what(), e.err());
        }
        undo.push([this, ifindex, slot, old] {
            nl_.set_mtu(ifindex, old);
            if (auto l = nl_.link(ifindex))
                sync_port(dp_, slot, *l);
        });
        if (auto l = nl_.link(ifindex))
            sync_port(dp_, slot, *l);
        changes.push_back(fmt::format("port {}: mtu {}", sp.port.name, mtu));
    }

    // Puts a removed port back in its slot with its flags, and its static entries: the
    // tap made again if removing it deleted it, then attached as a returning device is.
    struct Kept {
        std::vector<VlanConfig> vlans;
        AllowedIps ips;
    };

    void restore(const SlotPort &sp, const TapOwner &owner, unsigned queues,
                 const std::vector<FdbEntry> &statics, const Kept &kept) {
        const std::string name = sp.port.name;
        if ((sp.port.ctl & XB_CTL_CREATED_TAP) && !nl_.link(name)) {
            // The tap as it was, but for its ifindex: its address (the port's local
            // entry, the guest's neighbours) and its MTU.
            create_tap(name, owner, queues);
            if (auto li = nl_.link(name)) {
                Mac mac;
                std::memcpy(mac.data(), sp.port.mac, 6);
                nl_.set_address(li->ifindex, mac);
                if (sp.port.mtu && li->mtu != sp.port.mtu)
                    nl_.set_mtu(li->ifindex, sp.port.mtu);
            }
        }
        xb_port a = sp.port;
        a.ifindex = 0;
        a.ctl = (sp.port.ctl & (XB_CTL_CREATED_TAP | XB_CTL_GUEST)) | XB_CTL_ABSENT;
        a.flags &= ~XB_PORT_UP;
        uint32_t slot = sp.slot;
        bpf_map_update_elem(dp_.map(MapId::Ports), &slot, &a, BPF_ANY);
        auto li = nl_.link(name);
        if (!li || !readd_port(dp_, nl_, *li))
            return;
        if (auto p = dp_.port(slot)) {
            xb_port back = *p;
            back.ctl |= sp.port.ctl & (XB_CTL_CREATED_TAP | XB_CTL_GUEST);
            dp_.set_port(slot, back);
        }
        vlan_converge(dp_, name, kept.vlans);
        set_port_allowed_ips(dp_, name, kept.ips);
        for (const auto &e : statics) {
            Mac m;
            std::memcpy(m.data(), e.key.mac, 6);
            fdb_add_static(dp_, m, e.key.vlan, static_cast<uint32_t>(li->ifindex), slot);
        }
    }

    const BridgeConfig &cfg_;
    Netlink &nl_;
    Datapath &dp_;
    const std::set<std::string> &had_;
};

MetricsAddr wanted_metrics(const BridgeConfig &cfg) {
    auto m =
        parse_metrics_addr(cfg.metrics.value_or(fmt::format("127.0.0.1:{}", kDefaultMetricsPort)));
    if (!m)
        fail_at(cfg, cfg.line_metrics,
                fmt::format("metrics '{}' is not ADDR:PORT or off", cfg.metrics.value_or("")),
                EINVAL);
    return *m;
}

} // namespace

void write_bridge_setting(Datapath &dp, const BridgeSetting &st, uint32_t value) {
    setting_io(st.key).write(dp, value);
}

void set_max_learned(Datapath &dp, uint32_t n) {
    const uint32_t cap = max_learned_limit(dp);
    dp.config()->max_learned = n ? std::min(n, cap) : cap;
}

uint32_t max_learned_limit(const Datapath &dp) {
    return dp.fdb_capacity() - XB_FDB_STATIC_RESERVE;
}

std::vector<std::string> converge_port_settings(Datapath &dp, const SlotPort &sp,
                                                const PortSettings &want, Undo &undo) {
    std::vector<std::string> out;
    const std::string name = sp.port.name;
    const auto old_vlans = current_vlans(dp, name);
    if (old_vlans != want.vlans) {
        vlan_converge(dp, name, want.vlans);
        undo.push([&dp, name, old_vlans] { vlan_converge(dp, name, old_vlans); });
        out.push_back(fmt::format("vlans {}", vlans_text(want.vlans)));
    }
    const auto old_rate = port_rate_limit(sp.port);
    if (old_rate != want.rate_limit) {
        set_port_rate_limit(dp, name, want.rate_limit);
        undo.push([&dp, name, old_rate] { set_port_rate_limit(dp, name, old_rate); });
        out.push_back(fmt::format("rate-limit {}", want.rate_limit
                                                       ? format_rate_limit(*want.rate_limit)
                                                       : std::string("off")));
    }
    const AllowedIps old_ips = port_allowed_ips(dp, sp.slot);
    if (old_ips != want.allowed_ips) {
        set_port_allowed_ips(dp, name, want.allowed_ips);
        undo.push([&dp, name, old_ips] { set_port_allowed_ips(dp, name, old_ips); });
        out.push_back(fmt::format("allowed-ip {}", format_allowed_ips(want.allowed_ips)));
    }
    return out;
}

MetricsAddr config_metrics(const BridgeConfig &cfg) {
    return wanted_metrics(cfg);
}

ApplyResult bridge_apply(const BridgeConfig &cfg, Netlink &nl, bool starts_controller,
                         const std::function<void(Datapath &)> &finish) {
    ApplyResult res;
    std::optional<Datapath> existing = Datapath::open(cfg.name);
    if (existing && existing->config()->netns_ino != current_netns())
        throw Error(fmt::format("bridge name {} is in use in another network namespace", cfg.name),
                    EEXIST);
    const MetricsAddr maddr = wanted_metrics(cfg);

    // What the system must have for the file, checked before anything changes.
    UpOptions opts;
    opts.name = cfg.name;
    opts.xdp_mode = cfg.xdp_mode;
    opts.create_empty = true;
    std::set<std::string> had;
    std::vector<SlotPort> to_remove;
    if (!existing) {
        opts.uplink = cfg.uplink.value_or("none");
        opts.fdb_max = cfg.fdb_size.value_or(XB_FDB_DEFAULT_MAX);
        opts.max_ports = cfg.max_ports.value_or(XB_DEFAULT_MAX_PORTS);
        opts.ageing_sec = cfg.setting("ageing-time");
        opts.max_learned = cfg.max_learned;
        // At creation, so that each port is prepared for filtering as it is added.
        opts.vlan_filtering = cfg.setting("vlan-filtering") != 0;
        opts.vlan_protocol = static_cast<uint16_t>(cfg.setting("vlan-protocol"));
    } else {
        Datapath &dp = *existing;
        const uint32_t fdb = dp.fdb_capacity() - XB_FDB_STATIC_RESERVE;
        if (cfg.fdb_size && *cfg.fdb_size != fdb)
            fail_at(cfg, cfg.line_fdb_size,
                    fmt::format("fdb-size {}: bridge {} has {} (fixed when a bridge is made: "
                                "`xbridge down`, then apply)",
                                *cfg.fdb_size, cfg.name, fdb),
                    EEXIST);
        if (cfg.max_ports && *cfg.max_ports != dp.config()->max_ports)
            fail_at(cfg, cfg.line_max_ports,
                    fmt::format("max-ports {}: bridge {} has {} (fixed when a bridge is made: "
                                "`xbridge down`, then apply)",
                                *cfg.max_ports, cfg.name, dp.config()->max_ports),
                    EEXIST);
        if (const auto cur = uplink_name(dp); cur != cfg.uplink)
            fail_at(cfg, cfg.line_uplink,
                    fmt::format("uplink {}: bridge {} has {} (a running bridge keeps its "
                                "uplink: `xbridge down`, then apply)",
                                cfg.uplink.value_or("none"), cfg.name, cur.value_or("none")),
                    EEXIST);
        for (const auto &sp : dp.ports())
            had.insert(sp.port.name);
        for (const auto &sps : {dp.ports(), dp.absent_ports()})
            for (const auto &sp : sps)
                if (!cfg.port(sp.port.name) && !(sp.port.ctl & XB_CTL_GUEST))
                    to_remove.push_back(sp);
    }
    for (const auto &pc : cfg.ports) {
        PortSpec spec;
        if (pc.tap) {
            spec.tap_owner = resolve_owner(cfg, pc);
            spec.tap_queues = pc.tap->queues;
            spec.tap_mtu = pc.tap->mtu;
        }
        if (had.count(pc.name))
            continue;
        const auto li = nl.link(pc.name);
        const bool absent = existing && absent_port(*existing, pc.name);
        if (!li && (pc.guest || absent))
            continue; // the libvirt hook's to make, or a port whose device is gone: as it is
        if (!li && !pc.tap)
            fail_at(cfg, pc.line ? pc.line : cfg.line_uplink,
                    fmt::format("{}: no such device (a port that apply creates as a tap has a "
                                "tap table)",
                                pc.name),
                    ENODEV);
        spec.flags = pc.flags;
        spec.storm_pps = pc.storm_pps;
        spec.ctl = pc.guest ? XB_CTL_GUEST : 0;
        opts.specs[pc.name] = spec;
        opts.ports.push_back(pc.name);
    }
    existing.reset();

    std::vector<std::string> changes;
    UpResult up = bridge_up(opts, nl, [&](Datapath &dp) {
        Converge c(cfg, nl, dp, had);
        c.ports();
        c.bridge_settings();
        c.settings();
        c.metrics(maddr, starts_controller);
        // Removed before the static entries change: a removed port takes its entries with
        // it, and its undo puts them back on the port as it is made again.
        for (const auto &sp : to_remove)
            c.remove(sp);
        c.fdb();
        if (finish)
            finish(dp);
        c.undo.commit();
        changes = std::move(c.changes);
    });
    res.created_bridge = up.created_bridge;
    if (up.created_bridge)
        res.changes.push_back(fmt::format("bridge {} created", cfg.name));
    for (const auto &t : up.created)
        res.changes.push_back(fmt::format("tap {} created", t));
    for (const auto &p : up.added)
        res.changes.push_back(fmt::format("port {} added", p));
    if (!up.created_bridge)
        res.changes.insert(res.changes.end(), changes.begin(), changes.end());
    return res;
}

BridgeConfig bridge_config(Datapath &dp, Netlink &nl) {
    BridgeConfig cfg;
    const xb_config &c = *dp.config();
    cfg.name = dp.name();
    cfg.uplink = uplink_name(dp);
    std::vector<SlotPort> all = dp.ports();
    for (const auto &sp : dp.absent_ports())
        all.push_back(sp);
    // The mode the ports were attached with is not kept: "none" when no port runs XDP
    // although one could (a tap or a NIC), else auto. It shapes only ports added later.
    bool xdp = false, could = false;
    for (const auto &sp : dp.ports()) {
        xdp |= sp.port.xdp_mode == XB_XDP_NATIVE;
        could |= sp.port.kind == XB_KIND_TAP;
    }
    cfg.xdp_mode = !xdp && could ? XdpMode::None : XdpMode::Auto;
    const uint32_t cap = max_learned_limit(dp);
    cfg.max_learned = c.max_learned >= cap ? 0 : c.max_learned;
    cfg.fdb_size = cap;
    cfg.max_ports = c.max_ports;
    cfg.metrics = format_metrics_addr({c.metrics_ip4, c.metrics_port});
    for (const auto &st : kBridgeSettings)
        cfg.settings[st.key] = setting_io(st.key).read(dp);
    const auto table = vlan_table(dp);
    auto vlans_of = [&](const std::string &name) {
        std::vector<VlanConfig> out;
        for (const auto &pv : table)
            if (pv.name == name)
                for (const auto &v : pv.vlans)
                    out.push_back({v.vid, v.pvid, v.untagged});
        return out;
    };
    if (c.uplink_ifindex)
        cfg.host_vlans = vlans_of(kVlanHostDev);

    const uint32_t mask = config_flag_mask();
    for (const auto &sp : all) {
        PortConfig p;
        p.name = sp.port.name;
        p.flags = sp.port.flags & mask;
        p.storm_pps = sp.port.storm_pps;
        p.guest = sp.port.ctl & XB_CTL_GUEST;
        // An absent port keeps its VLANs for its return, but vlan_table lists present
        // ports only: apply leaves them as they are, and they print as the default.
        if (sp.port.ifindex)
            p.vlans = vlans_of(p.name);
        p.rate_limit = port_rate_limit(sp.port);
        p.allowed_ips = port_allowed_ips(dp, sp.slot);
        if ((sp.port.ctl & XB_CTL_CREATED_TAP) && !p.guest) {
            TapConfig t;
            if (sp.port.ifindex) {
                if (auto tun = nl.tun_info(static_cast<int>(sp.port.ifindex))) {
                    if (tun->uid) {
                        const passwd *pw = ::getpwuid(uid_t(*tun->uid));
                        t.user = pw ? std::string(pw->pw_name) : std::to_string(*tun->uid);
                    }
                    if (tun->gid) {
                        const group *gr = ::getgrgid(gid_t(*tun->gid));
                        t.group = gr ? std::string(gr->gr_name) : std::to_string(*tun->gid);
                    }
                    // The kernel keeps no queue count: 2 stands for multi-queue.
                    t.queues = tun->multi_queue ? 2 : 1;
                }
                if (auto li = nl.link(static_cast<int>(sp.port.ifindex)))
                    t.mtu = li->mtu;
            }
            p.tap = t;
        }
        cfg.ports.push_back(p);
    }
    std::stable_sort(cfg.ports.begin(), cfg.ports.end(), [&](const auto &a, const auto &b) {
        const bool ua = cfg.uplink && a.name == *cfg.uplink;
        const bool ub = cfg.uplink && b.name == *cfg.uplink;
        return ua != ub ? ua : a.name < b.name;
    });
    for (const auto &[k, v] : static_entries(dp)) {
        auto sp = dp.port_by_ifindex(v.ifindex);
        if (!sp)
            continue;
        FdbConfig f;
        std::memcpy(f.mac.data(), k.mac, 6);
        f.vlan = k.vlan;
        f.port = sp->port.name;
        cfg.fdb.push_back(f);
    }
    return cfg;
}

} // namespace xb
