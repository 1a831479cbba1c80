// SPDX-License-Identifier: BSD-2-Clause
#include "bridge.hpp"
#include "vlan.hpp"
#include "port_policy.hpp"

#include "attach.hpp"
#include "error.hpp"
#include "fdb.hpp"
#include "netdev.hpp"

#include <bpf/bpf.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>

namespace xb {

Undo::~Undo() {
    for (size_t i = steps_.size(); i-- > 0;) { // last step first
        try {
            steps_[i]();
        } catch (...) {
            // Best effort: the next steps must still run.
        }
    }
}

int BridgeLock::held_fd_ = -1;
bool BridgeLock::borrowed_ = false;

BridgeLock::BridgeLock(Mode mode) {
    if (borrowed_) {
        borrowed_here_ = true;
        return;
    }
    for (;;) {
        made_root_ = ensure_bpffs() || made_root_;
        UniqueFd fd(::open(pin_root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd)
            throw_last_errno(fmt::format("cannot open {}", pin_root()));
        int ret;
        do {
            ret = ::flock(fd.get(), LOCK_EX | (mode == Mode::Try ? LOCK_NB : 0));
        } while (ret < 0 && errno == EINTR);
        if (ret < 0) {
            if (mode == Mode::Try && errno == EWOULDBLOCK)
                return;
            throw_last_errno("cannot lock the bridge state");
        }
        // The holder we waited for may have removed the root (the last bridge went down):
        // a lock on the removed directory excludes nobody. Lock the root that is there.
        struct stat held {
        }, now{};
        if (::fstat(fd.get(), &held) == 0 && ::stat(pin_root().c_str(), &now) == 0 &&
            held.st_dev == now.st_dev && held.st_ino == now.st_ino) {
            fd_ = std::move(fd);
            held_fd_ = fd_.get();
            if (mode == Mode::Wait) {
                // A command changes the system from here on: Ctrl-C, SIGTERM or a
                // hang-up now would skip its rollback and leave it half made. They
                // wait until it is done (or undone).
                sigset_t set;
                sigemptyset(&set);
                sigaddset(&set, SIGINT);
                sigaddset(&set, SIGTERM);
                sigaddset(&set, SIGHUP);
                deferred_signals_ = ::sigprocmask(SIG_BLOCK, &set, &old_mask_) == 0;
            }
            return;
        }
    }
}

BridgeLock::~BridgeLock() {
    // A command that made the pin root and leaves no bridge in it (it failed, or took
    // nothing down) leaves no root either: rmdir fails on a root with bridges.
    if (fd_ && made_root_)
        ::rmdir(pin_root().c_str());
    if (fd_ && held_fd_ == fd_.get())
        held_fd_ = -1;
    // A signal that came meanwhile is delivered now, with everything done or undone.
    if (deferred_signals_)
        ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
}

void BridgeLock::close_inherited(bool borrow) {
    borrowed_ = borrow && held_fd_ >= 0;
    if (held_fd_ >= 0)
        ::close(held_fd_);
    held_fd_ = -1;
}

void BridgeLock::end_borrow() {
    borrowed_ = false;
}

uint64_t current_netns() {
    struct stat st {};
    if (::stat("/proc/self/ns/net", &st) < 0)
        return 0;
    return st.st_ino;
}

namespace {
bool xbridge_process_alive(pid_t pid);
} // namespace

bool netns_alive(uint64_t ino) {
    // A namespace lives while a process is in it or a bind mount (ip netns) holds it.
    // xbridge's own processes do not count: a controller is in its bridge's namespace,
    // and must not be what keeps it alive (nor another bridge's controller there).
    auto matches = [ino](const std::string &path) {
        struct stat st {};
        return ::stat(path.c_str(), &st) == 0 && st.st_ino == ino;
    };
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator("/run/netns", ec))
        if (matches(e.path()))
            return true;
    // A bind mount elsewhere (a container runtime's own directory) holds it as well: its
    // root is "net:[INO]" in mountinfo, of this mount namespace or of the host's.
    const std::string root = fmt::format(" net:[{}] ", ino);
    for (const char *mountinfo : {"/proc/self/mountinfo", "/proc/1/mountinfo"}) {
        std::ifstream f(mountinfo);
        std::string line;
        while (std::getline(f, line))
            if (line.find(root) != std::string::npos && line.find(" - nsfs ") != std::string::npos)
                return true;
    }
    for (const auto &e : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string n = e.path().filename();
        if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos ||
            !matches(e.path().string() + "/ns/net"))
            continue;
        if (!xbridge_process_alive(static_cast<pid_t>(std::stol(n))))
            return true;
    }
    return false;
}

Datapath open_bridge(const std::string &name, bool allow_orphan) {
    if (!valid_bridge_name(name))
        throw Error(fmt::format("invalid bridge name '{}'", name), EINVAL);
    // `down` (allow_orphan) also takes a bridge whose program pins are not all there.
    auto dp = Datapath::open(name, allow_orphan);
    if (!dp)
        throw Error(fmt::format("no bridge named {}", name), ENOENT);
    const uint64_t ns = dp->config()->netns_ino;
    // Orphaned: nothing but the bridge's own controller keeps its namespace (an `ip netns
    // del` does not end a namespace a process is in).
    if (ns != current_netns() && !(allow_orphan && !netns_alive(ns)))
        throw Error(fmt::format("bridge {} belongs to another network namespace", name), ENOENT);
    return std::move(*dp);
}

namespace {

uint8_t kind_of(const LinkInfo &li) {
    switch (li.kind) {
    case LinkKind::Nic:
        return XB_KIND_NIC;
    case LinkKind::Veth:
        return XB_KIND_VETH;
    case LinkKind::Tap:
        return XB_KIND_TAP;
    default:
        break;
    }
    static constexpr std::pair<std::string_view, uint8_t> kTypes[] = {
        {"vlan", XB_KIND_VLAN},       {"bond", XB_KIND_BOND},       {"team", XB_KIND_TEAM},
        {"macvlan", XB_KIND_MACVLAN}, {"macvtap", XB_KIND_MACVLAN}, {"vxlan", XB_KIND_VXLAN},
        {"dummy", XB_KIND_DUMMY},
    };
    for (const auto &[type, kind] : kTypes)
        if (li.type == type)
            return kind;
    return XB_KIND_OTHER;
}

// The port that already holds ifindex in another xbridge bridge of this namespace.
std::optional<std::string> owner_bridge(int ifindex, const std::string &except) {
    const uint64_t ns = current_netns();
    for (const auto &name : list_bridges()) {
        if (name == except)
            continue;
        try {
            auto dp = Datapath::open(name);
            if (dp && (*dp).config()->netns_ino == ns && dp->port_by_ifindex(ifindex))
                return name;
        } catch (const Error &) {
            // An incomplete bridge directory cannot own a port.
        }
    }
    return std::nullopt;
}

// The local entry of a port's own MAC, as the kernel bridge's fdb_add_local: when another
// port already has the address, that port's entry stays ("just use the first one"); a
// learned or static entry for the address gives way to it.
FdbPut add_local_entry(Datapath &dp, const xb_port &p, uint32_t slot) {
    xb_fdb_key key{};
    std::memcpy(key.mac, p.mac, 6);
    xb_fdb_val val{};
    val.ifindex = p.ifindex;
    val.slot = static_cast<uint16_t>(slot);
    val.type = XB_FDB_LOCAL;
    return fdb_put(dp, key, val, fmt::format("the local FDB entry of {}", p.name),
                   [](const xb_fdb_val &cur) { return cur.type == XB_FDB_LOCAL; });
}

// Removes the local entry of `mac` if port `ifindex` holds it; another port with the same
// address then takes it over, as the kernel's fdb_delete_local does.
void release_local_entry(Datapath &dp, const uint8_t *mac, uint32_t ifindex) {
    xb_fdb_key key{};
    std::memcpy(key.mac, mac, 6);
    xb_fdb_val cur{};
    if (bpf_map_lookup_elem(dp.map(MapId::Fdb), &key, &cur) == 0 && cur.type == XB_FDB_LOCAL &&
        cur.ifindex == ifindex) {
        bpf_map_delete_elem(dp.map(MapId::Fdb), &key);
        dp.fdb_changed();
    }
    for (const auto &sp : dp.ports())
        if (sp.port.ifindex != ifindex && std::memcmp(sp.port.mac, mac, 6) == 0) {
            add_local_entry(dp, sp.port, sp.slot);
            return;
        }
}

void init_config(Datapath &dp, const UpOptions &opts) {
    xb_config &c = *dp.config();
    c.ageing_ns = uint64_t(opts.ageing_sec.value_or(kDefaultAgeingSec)) * 1000000000ull;
    // 0: as many as the FDB holds - never into the entries kept for static ones.
    c.max_learned = opts.max_learned.value_or(0) ? *opts.max_learned : opts.fdb_max;
    c.max_ports = static_cast<uint16_t>(opts.max_ports);
    c.netns_ino = current_netns();
    c.xdp_max_len = 1514 + 4; // the ports set it (update_xdp_max_len)
    std::memset(c.name, 0, sizeof(c.name));
    std::memcpy(c.name, opts.name.data(), std::min(opts.name.size(), sizeof(c.name) - 1));
    // The host is on VLAN 1 untagged, as br0 is by default; filtering is off unless asked.
    vlan_host_defaults(dp);
    c.vlan_proto = opts.vlan_protocol;
    // Before the ports are added: each is prepared for it as it comes (add_port).
    if (opts.vlan_filtering)
        c.flags |= XB_CFG_VLAN_FILTERING;
}

// The host pair's MTU: the largest a veth takes, so that every frame XDP floods fits
// (a devmap skips a target a frame does not fit, and the host would miss its copy).
constexpr unsigned kHostPairMtu = 65535;

std::string host_pair_name(uint32_t uplink_ifindex) {
    return fmt::format("xbh{}", uplink_ifindex);
}

std::string host_pair_peer_name(uint32_t uplink_ifindex) {
    return host_pair_name(uplink_ifindex) + "p";
}

// The host pair's devices are no hosts of their own: no IPv6 link-local address, no
// router or neighbour solicitations, nothing sent but what the bridge hands over.
void disable_ipv6(const std::string &ifname) {
    std::ofstream f(fmt::format("/proc/sys/net/ipv6/conf/{}/disable_ipv6", ifname));
    if (f) // no such file: IPv6 is off in this kernel or namespace
        f << "1\n";
}

// Gives a bridge with an uplink its host pair (abi.h: xb_config.host_ifindex): a veth
// pair xbh<uplink ifindex> / xbh<uplink ifindex>p. The first end is the host's target in
// the broadcast and multicast flood maps; what the second receives, xb_tc_host hands to
// the uplink's stack. XDP then floods with the host's copy as one more devmap copy,
// instead of passing the frame to TC to be cloned port by port.
// The host pair's entry in a flood map, with the devmap egress program: VLAN filtering
// gives the host only its VLANs, and multicast snooping holds back a known group's frames
// unless the host joined it (it counts no tx for the pair, which is no port).
void set_host_pair_flood(Datapath &dp, MapId m, uint32_t ifindex) {
    dp.devmap_set(m, XB_HOST_SLOT, ifindex, true);
}

void add_host_pair(Datapath &dp, Netlink &nl, uint32_t uplink_ifindex, Undo &undo) {
    const std::string name = host_pair_name(uplink_ifindex),
                      peer = host_pair_peer_name(uplink_ifindex);
    nl.create_veth(name, peer, kHostPairMtu);
    undo.push([&nl, name] {
        if (auto l = nl.link(name))
            nl.delete_link(l->ifindex); // takes its peer with it
    });
    const auto a = nl.link(name), b = nl.link(peer);
    if (!a || !b)
        throw Error(fmt::format("the host pair {}/{} vanished after creation", name, peer), ENODEV);
    disable_ipv6(name);
    disable_ipv6(peer);
    tc_attach(b->ifindex, peer, TcDir::Ingress, dp.prog(ProgId::TcHost));
    const std::string pin = dp.link_pin(static_cast<uint32_t>(b->ifindex));
    xdp_attach(dp.prog(ProgId::XdpHost), b->ifindex, peer, XdpMode::Auto, pin);
    undo.push([pin] { xdp_detach(pin); });
    nl.set_up(b->ifindex, true);
    nl.set_up(a->ifindex, true);
    dp.config()->host_ifindex = static_cast<uint32_t>(a->ifindex);
    dp.config()->host_peer_ifindex = static_cast<uint32_t>(b->ifindex);
    undo.push([&dp] { dp.config()->host_ifindex = dp.config()->host_peer_ifindex = 0; });
    for (MapId m : {MapId::FloodBcast, MapId::FloodMcast}) {
        set_host_pair_flood(dp, m, static_cast<uint32_t>(a->ifindex));
        undo.push([&dp, m] { dp.devmap_del(m, XB_HOST_SLOT); });
    }
}

// Removes the host pair: XDP floods go back to passing the host's copies to TC.
void remove_host_pair(Datapath &dp, Netlink &nl, uint32_t uplink_ifindex) {
    for (MapId m : {MapId::FloodBcast, MapId::FloodMcast})
        dp.devmap_del(m, XB_HOST_SLOT);
    xb_config &c = *dp.config();
    if (c.host_peer_ifindex)
        xdp_detach(dp.link_pin(c.host_peer_ifindex));
    // Only the pair this bridge made: an ifindex can be taken again by another device.
    if (c.host_ifindex)
        if (auto l = nl.link(static_cast<int>(c.host_ifindex));
            l && l->name == host_pair_name(uplink_ifindex))
            nl.delete_link(l->ifindex);
    c.host_ifindex = c.host_peer_ifindex = 0;
}

} // namespace

std::optional<std::string> host_pair(Datapath &dp) {
    const xb_config &c = *dp.config();
    uint32_t slot = XB_HOST_SLOT;
    bpf_devmap_val v{};
    // The kernel takes a deleted device out of the flood map: the map is the truth.
    if (!c.host_ifindex || !c.uplink_ifindex ||
        bpf_map_lookup_elem(dp.map(MapId::FloodBcast), &slot, &v) != 0 ||
        v.ifindex != c.host_ifindex)
        return std::nullopt;
    return host_pair_name(c.uplink_ifindex);
}

bool restore_host_pair(Datapath &dp, Netlink &nl) {
    xb_config &c = *dp.config();
    if (!c.uplink_ifindex || host_pair(dp))
        return false;
    remove_host_pair(dp, nl, c.uplink_ifindex); // what is left of the old one
    Undo undo;
    add_host_pair(dp, nl, c.uplink_ifindex, undo);
    undo.commit();
    return true;
}

namespace {

bool takes_xdp_redirects(const xb_port &p, std::optional<uint64_t> xdp_features) {
    // Without the kernel's word (before Linux 6.3), only a tap, and a NIC whose driver
    // runs XDP natively, are taken to transmit XDP frames: a veth does so only while its
    // peer has NAPI, and a bond or a team only when its slaves do.
    return xdp_features
               ? (*xdp_features & kXdpActNdoXmit) != 0
               : p.xdp_mode == XB_XDP_NATIVE && (p.kind == XB_KIND_TAP || p.kind == XB_KIND_NIC);
}

// Puts the port in the devmaps or takes it out of them, with the count and the length
// limit that follow from it, whatever they held before. A shaped port (XB_CTL_SHAPED)
// is out of them whatever its device can do: frames for it go through its qdisc.
void apply_xdp_target(Datapath &dp, uint32_t slot, xb_port p, bool tx, bool shaped) {
    tx = tx && !shaped;
    p.ctl = tx ? (p.ctl & ~XB_CTL_NO_XDP_TX) : (p.ctl | XB_CTL_NO_XDP_TX);
    p.ctl = shaped ? (p.ctl | XB_CTL_SHAPED) : (p.ctl & ~XB_CTL_SHAPED);
    // Into the devmaps only once the port says so, and out of them before the datapath
    // reads the count that sends floods to TC.
    // The XDP length limit follows the same order: lowered to the port's MTU before it
    // takes XDP frames, raised after.
    if (tx) {
        dp.set_port(slot, p);
        update_xdp_max_len(dp);
        dp.devmap_set(MapId::TxPorts, slot, p.ifindex, false);
        update_flood_maps(dp, slot, p);
        update_no_xdp_tx_count(dp);
    } else {
        dp.set_port(slot, p);
        update_no_xdp_tx_count(dp);
        dp.devmap_del(MapId::TxPorts, slot);
        update_flood_maps(dp, slot, p);
        update_xdp_max_len(dp);
    }
}

} // namespace

namespace {

void update_max_slot(Datapath &dp) {
    uint32_t max = 0;
    for (const auto &sp : dp.ports())
        max = std::max(max, sp.slot + 1);
    dp.config()->max_slot = max;
}

// Adds one existing device as a port. Every step pushes its undo onto `undo`.
void add_port(Datapath &dp, Netlink &nl, const LinkInfo &li, bool uplink, bool created,
              XdpMode mode, Undo &undo, std::optional<uint32_t> want_slot = std::nullopt,
              uint32_t flags = XB_PORT_DEFAULT_FLAGS, uint32_t extra_ctl = 0) {
    if (!li.ethernet)
        throw Error(fmt::format("{} is not an Ethernet device", li.name), EINVAL);
    if (li.master) {
        auto m = nl.link(li.master);
        throw Error(fmt::format("{} is already enslaved to {}", li.name,
                                m ? m->name : std::to_string(li.master)),
                    EBUSY);
    }
    if (auto other = owner_bridge(li.ifindex, dp.name()))
        throw Error(fmt::format("{} is already a port of bridge {}", li.name, *other), EBUSY);
    if (uint32_t id = xdp_attached_prog(li.ifindex))
        throw Error(fmt::format("{} already has an XDP program attached (id {})", li.name, id),
                    EBUSY);
    auto slot_opt = want_slot ? want_slot : dp.free_slot();
    if (!slot_opt)
        throw Error(fmt::format("bridge {} is full ({} ports; `up --max-ports` sizes a new bridge)",
                                dp.name(), dp.config()->max_ports),
                    ENOSPC);
    const uint32_t slot = *slot_opt;
    const int ifindex = li.ifindex;
    // A new port in a slot starts without policy (an absent port's return keeps its own).
    if (!want_slot)
        clear_port_policy(dp, slot);

    xb_port p{};
    p.ifindex = static_cast<uint32_t>(ifindex);
    p.flags = (flags & ~(XB_PORT_UPLINK | XB_PORT_UP)) | (uplink ? XB_PORT_UPLINK : 0);
    p.ctl = (created ? XB_CTL_CREATED_TAP : 0) | (extra_ctl & XB_CTL_GUEST);
    p.kind = kind_of(li);
    p.mtu = li.mtu;
    std::memcpy(p.mac, li.mac.data(), 6);
    std::strncpy(p.name, li.name.c_str(), sizeof(p.name) - 1);
    // A new port gets the kernel bridge's default VLAN (an absent port returning keeps
    // its own: add_absent_port).
    if (!want_slot) {
        p.pvid = kDefaultPvid;
        vlan_port_defaults(dp, slot);
        undo.push([&dp, slot] { vlan_clear_slot(dp, slot); });
    }

    // The uplink must hear frames for the guests' MACs, not only its own.
    if (uplink && !li.promisc()) {
        nl.set_promisc(ifindex, true);
        p.ctl |= XB_CTL_PROMISC_SET;
        undo.push([&nl, ifindex] { nl.set_promisc(ifindex, false); });
    }
    if (!li.up()) {
        nl.set_up(ifindex, true);
        p.ctl |= XB_CTL_WAS_DOWN;
        undo.push([&nl, ifindex] { nl.set_up(ifindex, false); });
    }

    dp.set_port(slot, p);
    undo.push([&dp, slot] { dp.clear_port(slot); });
    // Undone by restoring a static entry it replaced; a learned one is learned again.
    if (const FdbPut local = add_local_entry(dp, p, slot); local.written)
        undo.push([&dp, p, local] {
            xb_fdb_key key{};
            std::memcpy(key.mac, p.mac, 6);
            if (local.replaced && local.replaced->type == XB_FDB_STATIC)
                bpf_map_update_elem(dp.map(MapId::Fdb), &key, &*local.replaced, BPF_ANY);
            else
                bpf_map_delete_elem(dp.map(MapId::Fdb), &key);
            dp.fdb_changed();
        });

    // TC before XDP: frames XDP passes up are the TC program's to finish.
    if (tc_attach(ifindex, li.name, TcDir::Ingress, dp.prog(ProgId::TcIngress)))
        p.ctl |= XB_CTL_CLSACT_CREATED;
    const bool clsact_created = p.ctl & XB_CTL_CLSACT_CREATED;
    undo.push([ifindex, clsact_created] {
        tc_detach(ifindex, TcDir::Ingress);
        if (clsact_created)
            tc_destroy_clsact(ifindex);
    });
    if (uplink) {
        tc_attach(ifindex, li.name, TcDir::Egress, dp.prog(ProgId::TcEgress));
        p.ctl |= XB_CTL_TC_EGRESS;
        undo.push([ifindex] { tc_detach(ifindex, TcDir::Egress); });
    }

    // TCP data for a guest is passed up at XDP for GRO to merge (xb_xdp_ingress): a
    // port that has it off (a veth's default) gets it for the bridge's lifetime.
    if (p.kind != XB_KIND_TAP && gro_enabled(li.name.c_str()) == false) {
        set_gro(li.name.c_str(), true);
        p.ctl |= XB_CTL_GRO_SET;
        undo.push([name = li.name] { set_gro(name.c_str(), false); });
    }

    const std::string pin = dp.link_pin(p.ifindex);
    p.xdp_mode = xdp_attach(dp.prog(ProgId::XdpIngress), ifindex, li.name, mode, pin);
    undo.push([pin] { xdp_detach(pin); });
    // Every tag where the XDP program can see it, or the frames that may hide one left to
    // TC, with or without VLAN filtering: an XDP redirect would send a frame on without
    // the tag the receive path held beside it.
    vlan_rx_prepare(p);
    if (p.ctl & XB_CTL_RXVLAN_OFF)
        undo.push([p]() mutable { vlan_rx_restore(p); });

    dp.set_port(slot, p);
    undo.push([&dp, slot] {
        for (MapId m : {MapId::TxPorts, MapId::FloodUcast, MapId::FloodMcast, MapId::FloodBcast})
            dp.devmap_del(m, slot);
        update_no_xdp_tx_count(dp);
    });
    apply_xdp_target(dp, slot, p, takes_xdp_redirects(p, nl.xdp_features(ifindex)),
                     nl.shaped(ifindex));
    p = *dp.port(slot);
    if (uplink) {
        dp.config()->uplink_ifindex = p.ifindex;
        undo.push([&dp] { dp.config()->uplink_ifindex = 0; });
        add_host_pair(dp, nl, p.ifindex, undo);
    }
    update_max_slot(dp);
    undo.push([&dp] { update_max_slot(dp); });

    // Re-read: bringing the link up changes its flags and, soon, its carrier.
    sync_port(dp, slot, nl.link(ifindex).value_or(li));
}

} // namespace

namespace {

// Attaches device li as absent port `kept`, in its slot with its flags. A failure
// leaves the port absent, as it was (add_port's own undo clears the slot).
void add_absent_port(Datapath &dp, Netlink &nl, const LinkInfo &li, const SlotPort &kept,
                     bool uplink, bool created, XdpMode mode, Undo &undo) {
    undo.push([&dp, kept] {
        xb_port p = kept.port;
        uint32_t slot = kept.slot;
        bpf_map_update_elem(dp.map(MapId::Ports), &slot, &p, BPF_ANY);
    });
    add_port(dp, nl, li, uplink, created, mode, undo, kept.slot, kept.port.flags,
             kept.port.ctl & XB_CTL_GUEST);
    // Its storm limit, PVID and policer are policy too, kept with the flags (its VLANs
    // stay in vlan_members, its allowed addresses and BPDU guard state in their maps,
    // by slot).
    if (auto p = dp.port(kept.slot);
        p && (kept.port.storm_pps || kept.port.pvid || kept.port.police_rate)) {
        xb_port back = *p;
        back.storm_pps = kept.port.storm_pps;
        back.pvid = kept.port.pvid;
        back.police_rate = kept.port.police_rate;
        back.police_burst = kept.port.police_burst;
        back.police_bytes = kept.port.police_bytes;
        dp.set_port(kept.slot, back);
    }
}

} // namespace

bool readd_port(Datapath &dp, Netlink &nl, const LinkInfo &li) {
    for (const auto &sp : dp.absent_ports()) {
        if (li.name != sp.port.name)
            continue;
        Undo undo;
        add_absent_port(dp, nl, li, sp,
                        (sp.port.flags & XB_PORT_UPLINK) && !dp.config()->uplink_ifindex, false,
                        XdpMode::Auto, undo);
        undo.commit();
        return true;
    }
    return false;
}

void forget_absent_ports(Datapath &dp) {
    for (const auto &sp : dp.absent_ports()) {
        xb_port empty{};
        uint32_t slot = sp.slot;
        bpf_map_update_elem(dp.map(MapId::Ports), &slot, &empty, BPF_ANY);
        vlan_clear_slot(dp, slot);
    }
}

PortSync sync_port(Datapath &dp, uint32_t slot, const LinkInfo &li) {
    PortSync r;
    auto cur = dp.port(slot);
    if (!cur || cur->ifindex != static_cast<uint32_t>(li.ifindex))
        return r;
    xb_port p = *cur;
    r.was_up = p.flags & XB_PORT_UP;
    if (std::memcmp(p.mac, li.mac.data(), 6) != 0) {
        // The port's address changed: its local entry follows (br_fdb_changeaddr).
        const xb_port old = p;
        std::memcpy(p.mac, li.mac.data(), 6);
        dp.set_port(slot, p);
        release_local_entry(dp, old.mac, old.ifindex);
        add_local_entry(dp, p, slot);
    }
    r.up = li.up() && li.carrier;
    p.flags = r.up ? (p.flags | XB_PORT_UP) : (p.flags & ~XB_PORT_UP);
    p.mtu = li.mtu;
    std::memset(p.name, 0, sizeof(p.name));
    std::strncpy(p.name, li.name.c_str(), sizeof(p.name) - 1);
    dp.set_port(slot, p);
    update_xdp_max_len(dp);
    // A port that goes down forgets what it learned, as the kernel bridge's
    // br_stp_disable_port flushes its dynamic entries: frames for those addresses are
    // flooded again, and find a guest that has moved (a live migration, a cable moved)
    // at once rather than after the ageing time. A port that is down learns nothing,
    // so a transition missed while no controller ran is caught by the next sync.
    if (r.was_up && !r.up)
        r.flushed = fdb_flush_port(dp, p.ifindex, false);
    return r;
}

namespace {

bool is_port_mac(Datapath &dp, const Mac &m) {
    const auto ports = dp.ports();
    return std::any_of(ports.begin(), ports.end(), [&](const SlotPort &sp) {
        return std::memcmp(sp.port.mac, m.data(), 6) == 0;
    });
}

bool contains(const std::vector<Mac> &v, const Mac &m) {
    return std::find(v.begin(), v.end(), m) != v.end();
}

// The local entries on ifindex for addresses that are no port's own (one FDB pass: only
// when a controller starts).
std::vector<Mac> secondary_local_entries(Datapath &dp, uint32_t ifindex) {
    std::vector<Mac> out;
    if (!ifindex)
        return out;
    fdb_for_each(dp, [&](const FdbEntry &e) {
        Mac m{};
        std::memcpy(m.data(), e.key.mac, 6);
        if (e.val.type == XB_FDB_LOCAL && e.val.ifindex == ifindex && e.key.vlan == 0)
            out.push_back(m);
    });
    out.erase(
        std::remove_if(out.begin(), out.end(), [&](const Mac &m) { return is_port_mac(dp, m); }),
        out.end());
    return out;
}

} // namespace

HostAddrSync sync_host_addresses(Datapath &dp, Netlink &nl,
                                 const std::optional<std::vector<Mac>> &had) {
    HostAddrSync r;
    const uint32_t uplink = dp.config()->uplink_ifindex;
    const auto up = uplink ? dp.port_by_ifindex(uplink) : std::nullopt;
    std::vector<Mac> want;
    // A device with a forwarding table of its own (a VXLAN device, a kernel bridge)
    // answers the FDB dump with that table rather than its address lists: its entries
    // are remote addresses, not the host's.
    const auto li = up ? nl.link(static_cast<int>(uplink)) : std::nullopt;
    if (li && li->type != "vxlan" && li->type != "bridge")
        for (const Mac &m : nl.unicast_addresses(static_cast<int>(uplink)))
            if (!is_port_mac(dp, m))
                want.push_back(m);
    const std::vector<Mac> old = had ? *had : secondary_local_entries(dp, uplink);
    for (const Mac &m : old) {
        if (contains(want, m))
            continue;
        xb_fdb_key key{};
        std::memcpy(key.mac, m.data(), 6);
        xb_fdb_val cur{};
        if (bpf_map_lookup_elem(dp.map(MapId::Fdb), &key, &cur) == 0 && cur.type == XB_FDB_LOCAL &&
            cur.ifindex == uplink) {
            bpf_map_delete_elem(dp.map(MapId::Fdb), &key);
            dp.fdb_changed();
        }
        r.removed.push_back(m);
    }
    for (const Mac &m : want) {
        xb_fdb_key key{};
        std::memcpy(key.mac, m.data(), 6);
        xb_fdb_val val{};
        val.ifindex = uplink;
        val.slot = static_cast<uint16_t>(up->slot);
        val.type = XB_FDB_LOCAL;
        // Another local entry for the address (a port's own) stays; a learned or static
        // one gives way, as for the ports' own addresses.
        bool ours = false;
        const FdbPut put = fdb_put(
            dp, key, val, fmt::format("the local FDB entry of {} on the uplink", format_mac(m)),
            [&](const xb_fdb_val &cur) {
                ours = cur.type == XB_FDB_LOCAL && cur.ifindex == uplink;
                return cur.type == XB_FDB_LOCAL;
            });
        if (put.written || ours)
            r.now.push_back(m);
        if (put.written && !contains(old, m))
            r.added.push_back(m);
    }
    return r;
}

namespace {

// XB_CFG_MCAST_FLOOD_OFF: whether some port has mcast-flood off (dp.ports() as they are
// now). Set before such a port leaves the multicast flood map, cleared only after it is
// back: XDP must not send a known group's frames past a member it cannot reach.
void update_mcast_flood_off(Datapath &dp, bool may_clear) {
    bool off = false;
    for (const auto &sp : dp.ports())
        off = off || !(sp.port.flags & XB_PORT_MCAST_FLOOD);
    uint32_t &flags = dp.config()->flags;
    if (off)
        __atomic_fetch_or(&flags, uint32_t(XB_CFG_MCAST_FLOOD_OFF), __ATOMIC_RELEASE);
    else if (may_clear)
        __atomic_fetch_and(&flags, ~uint32_t(XB_CFG_MCAST_FLOOD_OFF), __ATOMIC_RELEASE);
}

} // namespace

void update_flood_maps(Datapath &dp, uint32_t slot, const xb_port &p) {
    update_mcast_flood_off(dp, false);
    const struct {
        MapId map;
        uint32_t flag;
    } floods[] = {{MapId::FloodUcast, XB_PORT_FLOOD},
                  {MapId::FloodMcast, XB_PORT_MCAST_FLOOD},
                  {MapId::FloodBcast, XB_PORT_BCAST_FLOOD}};
    // Carrier is not a condition: the datapath must work while no controller follows it.
    // A port that takes no XDP redirects gets its copies from the TC hook's clones.
    for (const auto &f : floods) {
        if ((p.flags & f.flag) && !(p.ctl & XB_CTL_NO_XDP_TX))
            dp.devmap_set(f.map, slot, p.ifindex, true);
        else
            dp.devmap_del(f.map, slot);
    }
    update_mcast_flood_off(dp, true);
}

void update_no_xdp_tx_count(Datapath &dp) {
    uint32_t n = 0;
    for (const auto &sp : dp.ports())
        n += (sp.port.ctl & XB_CTL_NO_XDP_TX) ? 1 : 0;
    __atomic_store_n(&dp.config()->n_no_xdp_tx, n, __ATOMIC_RELEASE);
}

bool update_xdp_target(Datapath &dp, uint32_t slot, std::optional<uint64_t> xdp_features,
                       bool shaped) {
    auto cur = dp.port(slot);
    if (!cur)
        return false;
    const bool tx = takes_xdp_redirects(*cur, xdp_features);
    // Called at every sync of every port: nothing to write while nothing changed.
    if ((tx && !shaped) == !(cur->ctl & XB_CTL_NO_XDP_TX) &&
        shaped == bool(cur->ctl & XB_CTL_SHAPED))
        return false;
    apply_xdp_target(dp, slot, *cur, tx, shaped);
    return true;
}

std::optional<uint32_t> parse_port_flag(const std::string &name) {
    static const std::pair<const char *, uint32_t> flags[] = {
        {"learning", XB_PORT_LEARNING},
        {"flood", XB_PORT_FLOOD},
        {"mcast-flood", XB_PORT_MCAST_FLOOD},
        {"mcast_flood", XB_PORT_MCAST_FLOOD},
        {"bcast-flood", XB_PORT_BCAST_FLOOD},
        {"bcast_flood", XB_PORT_BCAST_FLOOD},
        {"locked", XB_PORT_LOCKED},
        {"isolated", XB_PORT_ISOLATED},
        {"hairpin", XB_PORT_HAIRPIN},
        {"mcast-router", XB_PORT_MCAST_ROUTER},
        {"mcast_router", XB_PORT_MCAST_ROUTER},
    };
    for (const auto &[n, bit] : flags)
        if (name == n)
            return bit;
    return std::nullopt;
}

void set_port_flag(Datapath &dp, const std::string &port, uint32_t flag, bool on) {
    const SlotPort sp = dp.require_port(port);
    xb_port p = sp.port;
    p.flags = on ? (p.flags | flag) : (p.flags & ~flag);
    dp.set_port(sp.slot, p);
    update_flood_maps(dp, sp.slot, p);
}

void set_port_storm_limit(Datapath &dp, const std::string &port, uint32_t pps) {
    const SlotPort sp = dp.require_port(port);
    xb_port p = sp.port;
    p.storm_pps = pps;
    dp.set_port(sp.slot, p);
}

void update_xdp_max_len(Datapath &dp) {
    // Frames longer than the smallest MTU of the ports XDP redirects into cannot all be
    // redirected at XDP (devmap skips targets whose MTU they exceed): the TC path handles
    // them. The devmap allows the MTU, the Ethernet header and one VLAN tag
    // (xdp_ok_fwd_dev); a full-size frame with two tags is the TC path's, where the outer
    // tag rides outside the length. A port XDP does not redirect into (a VXLAN device,
    // 50 bytes smaller) gets its frames from TC, which checks its MTU: it does not send
    // every full-size frame between two taps to TC.
    uint32_t min_mtu = 0;
    for (const auto &sp : dp.ports())
        if (sp.port.mtu && !(sp.port.ctl & (XB_CTL_NO_XDP_TX | XB_CTL_ABSENT)) &&
            (!min_mtu || sp.port.mtu < min_mtu))
            min_mtu = sp.port.mtu;
    dp.config()->xdp_max_len = (min_mtu ? min_mtu : 1500) + 14 + 4;
}

UpResult bridge_up(const UpOptions &opts, Netlink &nl,
                   const std::function<void(Datapath &)> &finish) {
    if (!valid_bridge_name(opts.name))
        throw Error(
            fmt::format("invalid bridge name '{}' (1-15 characters of A-Z a-z 0-9 _ -)", opts.name),
            EINVAL);
    const PortPlan plan = plan_ports(opts.ports, opts.uplink, XB_MAX_PORTS - 1);
    UpResult res;
    std::optional<Datapath> dp = Datapath::open(opts.name);
    if (plan.ports.empty() && !dp && !opts.create_empty)
        throw Error(fmt::format("no bridge named {}, and no ports to create it with", opts.name),
                    ENOENT);
    if (dp && (*dp).config()->netns_ino != current_netns())
        throw Error(fmt::format("bridge name {} is in use in another network namespace", opts.name),
                    EEXIST);

    const bool fresh = !dp;
    // A running bridge keeps its uplink (or its lack of one) unless --uplink is given.
    const std::optional<std::string> uplink = fresh || opts.uplink ? plan.uplink : std::nullopt;

    // Check every port before changing anything: the common mistakes fail fast.
    std::vector<std::optional<LinkInfo>> infos;
    for (const auto &name : plan.ports) {
        auto li = nl.link(name);
        const bool is_uplink = uplink && *uplink == name;
        if (!li && is_uplink)
            throw Error(fmt::format("uplink {}: no such device", name), ENODEV);
        infos.push_back(std::move(li));
    }
    if (!fresh && uplink && dp->config()->uplink_ifindex) {
        auto cur = dp->port_by_ifindex(dp->config()->uplink_ifindex);
        if (cur && *uplink != cur->port.name)
            throw Error(fmt::format("bridge {} already has uplink {}", opts.name, cur->port.name),
                        EEXIST);
    }
    // A port's role does not change by `up`: a port already in the bridge named as its
    // uplink must be the uplink.
    if (!fresh && uplink)
        for (const auto &li : infos)
            if (li && li->name == *uplink)
                if (auto sp = dp->port_by_ifindex(li->ifindex);
                    sp && !(sp->port.flags & XB_PORT_UPLINK))
                    throw Error(fmt::format("{} is already a port of bridge {}, not its uplink",
                                            *uplink, opts.name),
                                EEXIST);

    // Enough free slots for the new ports, or nothing happens.
    size_t fresh_ports = 0;
    for (const auto &li : infos)
        fresh_ports += !(li && dp && dp->port_by_ifindex(li->ifindex));
    const size_t room = fresh ? opts.max_ports : [&] {
        size_t used = dp->ports().size();
        return dp->config()->max_ports > used ? dp->config()->max_ports - used : 0;
    }();
    if (fresh_ports > room)
        throw Error(fmt::format("too many ports: {} new, room for {} (`up --max-ports` sizes a new "
                                "bridge)",
                                fresh_ports, room),
                    ENOSPC);

    if (fresh)
        dp.emplace(Datapath::create(opts.name, opts.fdb_max, opts.max_ports));
    // Declared after dp: the undo steps refer to it and must run before it closes.
    Undo undo;
    if (fresh) {
        res.created_bridge = true;
        undo.push([&dp] { dp->unpin_all(); });
        init_config(*dp, opts);
    }

    for (size_t i = 0; i < plan.ports.size(); i++) {
        const std::string &name = plan.ports[i];
        std::optional<LinkInfo> li = infos[i];
        if (li && dp->port_by_ifindex(li->ifindex)) {
            res.present.push_back(name);
            continue;
        }
        bool created = false;
        const auto spec_it = opts.specs.find(name);
        const PortSpec spec = spec_it != opts.specs.end() ? spec_it->second : PortSpec{};
        if (!li) {
            create_tap(name, spec.tap_owner.value_or(opts.tap_owner),
                       spec.tap_queues.value_or(opts.tap_queues));
            created = true;
            undo.push([&nl, name] {
                if (auto l = nl.link(name))
                    nl.delete_link(l->ifindex);
            });
            li = nl.link(name);
            if (!li)
                throw Error(fmt::format("tap {} vanished after creation", name), ENODEV);
            if (spec.tap_mtu && li->mtu != *spec.tap_mtu) {
                nl.set_mtu(li->ifindex, *spec.tap_mtu);
                li->mtu = *spec.tap_mtu;
            }
            res.created.push_back(name);
        }
        // A port that is absent (its device was deleted) comes back in its own slot with
        // its flags, as when its device returns by itself.
        std::optional<SlotPort> absent;
        for (const auto &sp : dp->absent_ports())
            if (name == sp.port.name)
                absent = sp;
        const bool is_uplink =
            dp->config()->uplink_ifindex == 0 &&
            ((uplink && *uplink == name) || (absent && (absent->port.flags & XB_PORT_UPLINK)));
        if (absent)
            add_absent_port(*dp, nl, *li, *absent, is_uplink, created, opts.xdp_mode, undo);
        else
            add_port(*dp, nl, *li, is_uplink, created, opts.xdp_mode, undo, std::nullopt,
                     spec.flags, spec.ctl);
        if (!absent && spec.storm_pps) {
            const SlotPort sp = dp->require_port(name);
            xb_port p = sp.port;
            p.storm_pps = spec.storm_pps;
            dp->set_port(sp.slot, p);
        }
        res.added.push_back(name);
    }

    if (finish)
        finish(*dp);
    undo.commit();
    return res;
}

size_t bridge_upgrade(Datapath &dp, const std::optional<std::string> &object) {
    auto progs = dp.load_programs(object);
    const int old_xdp = dp.prog(ProgId::XdpIngress), old_in = dp.prog(ProgId::TcIngress),
              old_eg = dp.prog(ProgId::TcEgress);
    const auto ports = dp.ports();
    Undo undo;
    for (const auto &sp : ports) {
        const xb_port &p = sp.port;
        const int ifindex = static_cast<int>(p.ifindex);
        const std::string name = p.name, pin = dp.link_pin(p.ifindex);
        tc_replace(ifindex, name, TcDir::Ingress, progs[size_t(ProgId::TcIngress)].get());
        undo.push([=] { tc_replace(ifindex, name, TcDir::Ingress, old_in); });
        if (p.ctl & XB_CTL_TC_EGRESS) {
            tc_replace(ifindex, name, TcDir::Egress, progs[size_t(ProgId::TcEgress)].get());
            undo.push([=] { tc_replace(ifindex, name, TcDir::Egress, old_eg); });
        }
        if (p.xdp_mode == XB_XDP_NONE)
            continue; // TC only: no XDP link
        xdp_replace(pin, name, progs[size_t(ProgId::XdpIngress)].get());
        undo.push([=] { xdp_replace(pin, name, old_xdp); });
    }
    // The host pair, unless it was deleted (the controller makes it again).
    if (host_pair(dp)) {
        const uint32_t hp = dp.config()->host_peer_ifindex;
        const int ifindex = static_cast<int>(hp);
        const std::string name = host_pair_peer_name(dp.config()->uplink_ifindex),
                          pin = dp.link_pin(hp);
        const int old_tc = dp.prog(ProgId::TcHost), old_x = dp.prog(ProgId::XdpHost);
        tc_replace(ifindex, name, TcDir::Ingress, progs[size_t(ProgId::TcHost)].get());
        undo.push([=] { tc_replace(ifindex, name, TcDir::Ingress, old_tc); });
        xdp_replace(pin, name, progs[size_t(ProgId::XdpHost)].get());
        undo.push([=] { xdp_replace(pin, name, old_x); });
    }
    // The old programs stay loaded until the undo steps are dropped with the old fds.
    dp.replace_programs(std::move(progs));
    undo.commit();
    // The flood maps' egress program is part of each entry: point them at the new one.
    for (const auto &sp : ports)
        update_flood_maps(dp, sp.slot, sp.port);
    if (host_pair(dp))
        set_host_pair_flood(dp, MapId::FloodMcast, dp.config()->host_ifindex);
    return ports.size();
}

namespace {

// The name this program runs under (a copy of the binary may be called otherwise).
std::string own_comm() {
    std::ifstream f("/proc/self/comm");
    std::string comm;
    std::getline(f, comm);
    return comm;
}

// Whether pid is a live xbridge process: not gone, not a zombie waiting for a parent
// that never reaps it, and not a recycled pid of some other program.
bool xbridge_process_alive(pid_t pid) {
    if (pid <= 0)
        return false;
    std::ifstream stat(fmt::format("/proc/{}/stat", pid));
    std::string line;
    if (!std::getline(stat, line))
        return false;
    const auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 2 >= line.size())
        return false;
    const std::string comm = line.substr(open + 1, close - open - 1);
    const char state = line[close + 2];
    static const std::string self = own_comm();
    return (comm == "xbridge" || comm == self) && state != 'Z' && state != 'X';
}

} // namespace

bool controller_alive(const Datapath &dp) {
    Datapath &d = const_cast<Datapath &>(dp);
    return xbridge_process_alive(static_cast<pid_t>(d.config()->controller_pid));
}

bool stop_controller(Datapath &dp) {
    const pid_t pid = static_cast<pid_t>(dp.config()->controller_pid);
    if (!xbridge_process_alive(pid)) {
        dp.config()->controller_pid = 0;
        return false;
    }
    using namespace std::chrono;
    // Sends sig and waits up to `patience` for the process to go; true when it went.
    const auto signal_and_wait = [pid](int sig, seconds patience) {
        ::kill(pid, sig);
        const auto deadline = steady_clock::now() + patience;
        while (xbridge_process_alive(pid) && steady_clock::now() < deadline)
            std::this_thread::sleep_for(milliseconds(10));
        return !xbridge_process_alive(pid);
    };
    // Gone before we go on, even by SIGKILL: a restart binds the metrics address it held.
    if (!signal_and_wait(SIGTERM, seconds(5)))
        signal_and_wait(SIGKILL, seconds(2));
    dp.config()->controller_pid = 0;
    return true;
}

void remove_port(Datapath &dp, uint32_t slot, Netlink &nl, bool device_gone) {
    auto p = dp.port(slot);
    if (!p)
        return;
    const uint32_t ifindex = p->ifindex;
    for (MapId m : {MapId::FloodUcast, MapId::FloodMcast, MapId::FloodBcast, MapId::TxPorts})
        dp.devmap_del(m, slot);
    xdp_detach(dp.link_pin(ifindex));
    if (dp.config()->uplink_ifindex == ifindex) {
        remove_host_pair(dp, nl, ifindex);
        dp.config()->uplink_ifindex = 0;
    }
    dp.clear_port(slot);
    // The last port with mcast-flood off gone: XDP may flood known groups again.
    update_mcast_flood_off(dp, true);
    if (device_gone) {
        // Remember the port by name: QEMU recreates its tap under the same name when a
        // guest restarts, and the port should come back with its flags.
        xb_port kept = *p;
        kept.ifindex = 0;
        kept.ctl = (kept.ctl & (XB_CTL_CREATED_TAP | XB_CTL_GUEST)) | XB_CTL_ABSENT;
        kept.flags &= ~XB_PORT_UP;
        bpf_map_update_elem(dp.map(MapId::Ports), &slot, &kept, BPF_ANY);
    } else {
        clear_port_policy(dp, slot);
    }
    // Flushed once the datapath no longer takes the device for a port (its TC program is
    // still attached): a frame arriving meanwhile can no longer learn a MAC back onto it,
    // where the entry would black-hole that MAC until it aged out.
    fdb_flush_port(dp, ifindex, true);
    try {
        release_local_entry(dp, p->mac, ifindex);
    } catch (const Error &) {
        // Another port with this address found the FDB full: it goes without a local
        // entry (frames for it are flooded) rather than this port half removed.
    }
    update_max_slot(dp);
    update_xdp_max_len(dp);
    update_no_xdp_tx_count(dp);
    if (device_gone)
        return;
    vlan_clear_slot(dp, slot);

    // Undo what adding the port changed on the device, if it is still the same one.
    auto li = nl.link(static_cast<int>(ifindex));
    if (!li || li->name != p->name)
        return;
    if (p->ctl & XB_CTL_RXVLAN_OFF) {
        xb_port restored = *p;
        vlan_rx_restore(restored);
    }
    if (p->ctl & XB_CTL_GRO_SET) {
        try {
            set_gro(li->name.c_str(), false);
        } catch (const Error &) {
            // Best effort, like the rest of the restoring: the port is gone from the bridge.
        }
    }
    tc_detach(li->ifindex, TcDir::Ingress);
    if (p->ctl & XB_CTL_TC_EGRESS)
        tc_detach(li->ifindex, TcDir::Egress);
    if (p->ctl & XB_CTL_CLSACT_CREATED)
        tc_destroy_clsact(li->ifindex);
    if (p->ctl & XB_CTL_CREATED_TAP) {
        nl.delete_link(li->ifindex);
        return;
    }
    if (p->ctl & XB_CTL_PROMISC_SET)
        nl.set_promisc(li->ifindex, false);
    if (p->ctl & XB_CTL_WAS_DOWN)
        nl.set_up(li->ifindex, false);
}

void bridge_down(const std::string &name, Netlink &nl) {
    // A bridge whose namespace is gone took its ports with it: only its pins remain.
    Datapath dp = open_bridge(name, true);
    if (dp.config()->netns_ino != current_netns()) {
        stop_controller(dp);
        dp.unpin_all();
        return;
    }
    stop_controller(dp);
    forget_absent_ports(dp);
    std::string first_error;
    for (const auto &sp : dp.ports()) {
        try {
            remove_port(dp, sp.slot, nl, false);
        } catch (const Error &e) {
            if (first_error.empty())
                first_error = e.what();
        }
    }
    dp.unpin_all();
    if (!first_error.empty())
        throw Error(fmt::format("bridge {} removed, but: {}", name, first_error));
}

} // namespace xb
