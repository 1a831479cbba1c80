// SPDX-License-Identifier: BSD-2-Clause
#include "guest.hpp"

#include "apply.hpp"
#include "bpffs.hpp"
#include "bridge.hpp"
#include "config.hpp"
#include "error.hpp"
#include "fdb.hpp"

#include <algorithm>
#include <bpf/bpf.h>
#include <cerrno>
#include <filesystem>
#include <fmt/format.h>

namespace xb {

namespace {

// Which bridge an interface is on, and with what.
struct Claim {
    std::string bridge;
    PortSettings port;          // flags, limits, VLANs, policy
    bool guest = true;          // the hook makes it (metadata, or a guest port of the file)
    std::vector<FdbConfig> fdb; // the bridge file's static entries on the port
};

std::vector<FdbConfig> fdb_of(const BridgeConfig &c, const std::string &port) {
    std::vector<FdbConfig> out;
    for (const auto &f : c.fdb)
        if (f.port == port)
            out.push_back(f);
    return out;
}

std::vector<BridgeConfig> load_configs() {
    std::vector<std::string> paths;
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(config_dir(), ec))
        if (e.path().extension() == ".toml")
            paths.push_back(e.path().string());
    std::sort(paths.begin(), paths.end());
    std::vector<BridgeConfig> out;
    out.reserve(paths.size());
    for (const auto &p : paths)
        out.push_back(load_config(p, std::filesystem::path(p).stem().string()));
    return out;
}

std::optional<Claim> claim(const GuestDomain &dom, const GuestInterface &gi,
                           const std::vector<BridgeConfig> &files) {
    const PortConfig *fp = nullptr;
    const BridgeConfig *fc = nullptr;
    for (const auto &c : files)
        if (const PortConfig *p = c.port(gi.dev)) {
            if (fp)
                throw Error(fmt::format("interface {} of domain {}: a port of both {} and {}",
                                        gi.dev, dom.name, fc->file, c.file),
                            EINVAL);
            fp = p;
            fc = &c;
        }
    if (gi.bridge) {
        Claim c;
        c.bridge = *gi.bridge;
        if (fp && fc->name == *gi.bridge) {
            c.port = *fp;
            c.fdb = fdb_of(*fc, gi.dev);
        }
        c.port.flags = gi.flags.value_or(c.port.flags);
        c.port.storm_pps = gi.storm_pps.value_or(c.port.storm_pps);
        c.port.vlans = gi.vlans.value_or(c.port.vlans);
        if (gi.rate_limit)
            c.port.rate_limit = gi.rate_limit;
        c.port.allowed_ips = gi.allowed_ips.value_or(c.port.allowed_ips);
        return c;
    }
    if (fp)
        return Claim{fc->name, *fp, fp->guest, fdb_of(*fc, gi.dev)};
    return std::nullopt;
}

void check_queues(Netlink &nl, const GuestDomain &dom, const GuestInterface &gi, int ifindex) {
    const auto t = nl.tun_info(ifindex);
    if (!t)
        throw Error(fmt::format("interface {} of domain {}: {} exists and is no tap", gi.dev,
                                dom.name, gi.dev),
                    EEXIST);
    if (t->multi_queue != (gi.queues > 1))
        throw Error(fmt::format("interface {} of domain {}: tap {} is {}, the domain asks for {} "
                                "queue{} (QEMU's attach would fail): remove the tap or match "
                                "<driver queues>",
                                gi.dev, dom.name, gi.dev,
                                t->multi_queue ? "multi-queue" : "single-queue", gi.queues,
                                gi.queues == 1 ? "" : "s"),
                    EINVAL);
}

struct Made {
    std::string bridge, dev;
};

void undo_made(const std::vector<Made> &made, Netlink &nl) {
    for (size_t i = made.size(); i-- > 0;) { // last made, first undone
        const Made &m = made[i];
        try {
            auto dp = Datapath::open(m.bridge);
            if (!dp)
                continue;
            if (auto sp = dp->port_by_name(m.dev))
                remove_port(*dp, sp->slot, nl, false);
        } catch (const std::exception &) {
            // Best effort: the next ones must still be undone.
        }
    }
}

} // namespace

std::vector<std::string> guest_prepare(const GuestDomain &dom, Netlink &nl) {
    std::vector<std::string> out;
    const auto files = load_configs();
    std::vector<Made> made;
    try {
        for (const auto &gi : dom.interfaces) {
            const auto c = claim(dom, gi, files);
            if (!c)
                continue; // not xbridge's: another hook's, or a tap made by hand
            if (!gi.unmanaged)
                throw Error(fmt::format("interface {} of domain {} is on bridge {}, but libvirt "
                                        "makes its tap: <target dev='{}' managed='no'/>",
                                        gi.dev, dom.name, c->bridge, gi.dev),
                            EINVAL);
            auto dp = Datapath::open(c->bridge);
            if (!dp || dp->config()->netns_ino != current_netns())
                throw Error(fmt::format("interface {} of domain {}: bridge {} is not running "
                                        "(systemctl start xbridge@{})",
                                        gi.dev, dom.name, c->bridge, c->bridge),
                            ENOENT);
            const auto li = nl.link(gi.dev);
            if (li)
                check_queues(nl, dom, gi, li->ifindex);
            if (li && dp->port_by_ifindex(static_cast<uint32_t>(li->ifindex))) {
                out.push_back(fmt::format("port {} is on bridge {}", gi.dev, c->bridge));
                continue;
            }
            if (!c->guest)
                throw Error(fmt::format("interface {} of domain {}: port {} of bridge {}'s file "
                                        "is made by apply, and is not there (guest = true lets "
                                        "the hook make it)",
                                        gi.dev, dom.name, gi.dev, c->bridge),
                            ENODEV);
            dp.reset();
            UpOptions o;
            o.name = c->bridge;
            o.ports = {gi.dev};
            PortSpec s;
            s.flags = c->port.flags;
            s.storm_pps = c->port.storm_pps;
            s.ctl = XB_CTL_GUEST;
            s.tap_queues = gi.queues;
            s.tap_mtu = gi.mtu;
            o.specs[gi.dev] = s;
            // Its VLANs and policy, and the file's static entries for the port, come with it
            // inside its transaction (a failure removes the port, and what it had with it).
            const UpResult r = bridge_up(o, nl, [&](Datapath &bdp) {
                const SlotPort sp = bdp.require_port(gi.dev);
                Undo undo;
                converge_port_settings(bdp, sp, c->port, undo);
                for (const auto &f : c->fdb)
                    fdb_add_static(bdp, f.mac, f.vlan, sp.port.ifindex, sp.slot);
                undo.commit();
            });
            made.push_back({c->bridge, gi.dev});
            for (const auto &t : r.created)
                out.push_back(fmt::format("tap {} created ({} queue{})", t, gi.queues,
                                          gi.queues == 1 ? "" : "s"));
            for (const auto &p : r.added)
                out.push_back(fmt::format("port {} added to {}", p, c->bridge));
        }
    } catch (...) {
        undo_made(made, nl);
        throw;
    }
    return out;
}

std::vector<std::string> guest_release(const GuestDomain &dom, Netlink &nl) {
    std::vector<std::string> out;
    const uint64_t ns = current_netns();
    for (const auto &name : list_bridges()) {
        std::optional<Datapath> dp;
        try {
            dp = Datapath::open(name);
        } catch (const Error &) {
            continue; // a bridge being made or taken down: none of its ports are ours
        }
        if (!dp || dp->config()->netns_ino != ns)
            continue;
        for (const auto &gi : dom.interfaces) {
            if (auto sp = dp->port_by_name(gi.dev); sp && (sp->port.ctl & XB_CTL_GUEST)) {
                remove_port(*dp, sp->slot, nl, false);
                out.push_back(
                    fmt::format("port {} removed from {}{}", gi.dev, name,
                                (sp->port.ctl & XB_CTL_CREATED_TAP) ? ", tap deleted" : ""));
            }
            for (const auto &sp : dp->absent_ports())
                if (gi.dev == sp.port.name && (sp.port.ctl & XB_CTL_GUEST)) {
                    xb_port empty{};
                    uint32_t slot = sp.slot;
                    bpf_map_update_elem(dp->map(MapId::Ports), &slot, &empty, BPF_ANY);
                    out.push_back(fmt::format("port {} (absent) removed from {}", gi.dev, name));
                }
        }
    }
    return out;
}

} // namespace xb
