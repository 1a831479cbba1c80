// SPDX-License-Identifier: BSD-2-Clause
// glibc's net/if.h must come before any linux/ header that pulls in linux/if.h.
#include <net/if.h>

#include "netlink.hpp"

#include "error.hpp"
#include "fd.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <linux/ethtool.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace xb {

namespace {

struct LinkDeleter {
    void operator()(rtnl_link *l) const { rtnl_link_put(l); }
};
using LinkPtr = std::unique_ptr<rtnl_link, LinkDeleter>;

[[noreturn]] void throw_nl(const std::string &what, int err) {
    throw Error(fmt::format("{}: {}", what, nl_geterror(err)), EIO);
}

// Tells a tap from a tun and a veth from a NIC by the driver, as `ethtool -i` does:
// rtnetlink reports tuntap devices as kind "tun" without saying which.
void driver_info(const std::string &name, std::string &driver, std::string &bus) {
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s)
        return;
    ethtool_drvinfo info{};
    info.cmd = ETHTOOL_GDRVINFO;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = reinterpret_cast<char *>(&info);
    if (::ioctl(s.get(), SIOCETHTOOL, &ifr) == 0) {
        driver = info.driver;
        bus = info.bus_info;
    }
}

LinkInfo to_info(rtnl_link *l) {
    LinkInfo li;
    li.ifindex = rtnl_link_get_ifindex(l);
    if (const char *n = rtnl_link_get_name(l))
        li.name = n;
    if (const char *t = rtnl_link_get_type(l))
        li.type = t;
    if (nl_addr *a = rtnl_link_get_addr(l); a && nl_addr_get_len(a) == 6)
        std::memcpy(li.mac.data(), nl_addr_get_binary_addr(a), 6);
    li.mtu = rtnl_link_get_mtu(l);
    li.flags = rtnl_link_get_flags(l);
    li.master = rtnl_link_get_master(l);
    li.carrier = rtnl_link_get_carrier(l) != 0;
    li.ethernet = rtnl_link_get_arptype(l) == ARPHRD_ETHER;

    std::string driver, bus;
    if (li.type == "tun" || li.type.empty())
        driver_info(li.name, driver, bus);
    if (li.type == "veth")
        li.kind = LinkKind::Veth;
    else if (driver == "tun")
        li.kind = bus == "tap" ? LinkKind::Tap : LinkKind::Tun;
    else if (li.type.empty() && li.ethernet && !driver.empty())
        li.kind = LinkKind::Nic;
    return li;
}

} // namespace

std::string_view to_string(LinkKind k) {
    switch (k) {
    case LinkKind::Nic:
        return "nic";
    case LinkKind::Veth:
        return "veth";
    case LinkKind::Tap:
        return "tap";
    case LinkKind::Tun:
        return "tun";
    default:
        return "other";
    }
}

bool LinkInfo::up() const {
    return flags & IFF_UP;
}
bool LinkInfo::promisc() const {
    return flags & IFF_PROMISC;
}

void NlSockDeleter::operator()(nl_sock *s) const {
    nl_socket_free(s);
}

Netlink::Netlink() : sk_(nl_socket_alloc()) {
    if (!sk_)
        throw Error("cannot allocate a netlink socket", ENOMEM);
    if (int err = nl_connect(sk_.get(), NETLINK_ROUTE); err < 0)
        throw_nl("cannot connect to rtnetlink", err);
}

std::optional<LinkInfo> Netlink::get(int ifindex, const char *name) {
    rtnl_link *raw = nullptr;
    int err = rtnl_link_get_kernel(sk_.get(), ifindex, name, &raw);
    if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
        return std::nullopt;
    if (err < 0)
        throw_nl(name ? fmt::format("cannot look up {}", name)
                      : fmt::format("cannot look up ifindex {}", ifindex),
                 err);
    LinkPtr l(raw);
    return to_info(l.get());
}

std::optional<LinkInfo> Netlink::link(const std::string &name) {
    return get(0, name.c_str());
}
std::optional<LinkInfo> Netlink::link(int ifindex) {
    return get(ifindex, nullptr);
}

std::vector<LinkInfo> Netlink::links() {
    nl_cache *cache = nullptr;
    if (int err = rtnl_link_alloc_cache(sk_.get(), AF_UNSPEC, &cache); err < 0)
        throw_nl("cannot list links", err);
    std::vector<LinkInfo> out;
    for (nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o))
        out.push_back(to_info(reinterpret_cast<rtnl_link *>(o)));
    nl_cache_free(cache);
    return out;
}

namespace {

struct UcDump {
    int ifindex;
    std::vector<Mac> out;
};

int on_fdb_entry(nl_msg *msg, void *arg) {
    auto *d = static_cast<UcDump *>(arg);
    nlmsghdr *h = nlmsg_hdr(msg);
    if (h->nlmsg_type != RTM_NEWNEIGH ||
        h->nlmsg_len < static_cast<unsigned>(nlmsg_size(sizeof(ndmsg))))
        return NL_OK;
    const auto *ndm = static_cast<const ndmsg *>(nlmsg_data(h));
    if (ndm->ndm_family != AF_BRIDGE || ndm->ndm_ifindex != d->ifindex ||
        !(ndm->ndm_flags & NTF_SELF))
        return NL_OK;
    nlattr *tb[NDA_MAX + 1] = {};
    if (nlmsg_parse(h, sizeof(ndmsg), tb, NDA_MAX, nullptr) < 0 || !tb[NDA_LLADDR] ||
        nla_len(tb[NDA_LLADDR]) != 6)
        return NL_OK;
    Mac m{};
    std::memcpy(m.data(), nla_data(tb[NDA_LLADDR]), 6);
    if (is_valid_unicast(m) && std::find(d->out.begin(), d->out.end(), m) == d->out.end())
        d->out.push_back(m);
    return NL_OK;
}

} // namespace

std::vector<Mac> Netlink::unicast_addresses(int ifindex) {
    // An AF_BRIDGE neighbour dump is the kernel's FDB dump: a device that is no bridge
    // port and has no FDB of its own (a NIC, a veth, a bond) answers with its address
    // lists (ndo_dflt_fdb_dump), unicast and multicast, flagged NTF_SELF. Filtering by
    // device in the kernel needs a strict-checking socket: done here instead.
    ndmsg req{};
    req.ndm_family = AF_BRIDGE;
    if (int err = nl_send_simple(sk_.get(), RTM_GETNEIGH, NLM_F_DUMP, &req, sizeof(req)); err < 0)
        throw_nl(fmt::format("cannot list the addresses of ifindex {}", ifindex), err);
    UcDump dump{ifindex, {}};
    std::unique_ptr<nl_cb, void (*)(nl_cb *)> cb(nl_cb_alloc(NL_CB_DEFAULT), nl_cb_put);
    if (!cb)
        throw Error("out of memory", ENOMEM);
    nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_fdb_entry, &dump);
    if (int err = nl_recvmsgs(sk_.get(), cb.get()); err < 0)
        throw_nl(fmt::format("cannot list the addresses of ifindex {}", ifindex), err);
    return dump.out;
}

namespace {

struct TunDump {
    bool tun = false;
    Netlink::TunInfo info;
};

int on_tun_link(nl_msg *msg, void *arg) {
    auto *d = static_cast<TunDump *>(arg);
    nlattr *tb[IFLA_MAX + 1] = {}, *li[IFLA_INFO_MAX + 1] = {}, *td[IFLA_TUN_MAX + 1] = {};
    if (nlmsg_parse(nlmsg_hdr(msg), sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0 ||
        !tb[IFLA_LINKINFO] || nla_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO], nullptr) < 0 ||
        !li[IFLA_INFO_KIND] || std::strcmp(nla_get_string(li[IFLA_INFO_KIND]), "tun") != 0)
        return NL_OK;
    d->tun = true;
    if (!li[IFLA_INFO_DATA] || nla_parse_nested(td, IFLA_TUN_MAX, li[IFLA_INFO_DATA], nullptr) < 0)
        return NL_OK;
    if (td[IFLA_TUN_OWNER])
        d->info.uid = nla_get_u32(td[IFLA_TUN_OWNER]);
    if (td[IFLA_TUN_GROUP])
        d->info.gid = nla_get_u32(td[IFLA_TUN_GROUP]);
    if (td[IFLA_TUN_MULTI_QUEUE])
        d->info.multi_queue = nla_get_u8(td[IFLA_TUN_MULTI_QUEUE]);
    return NL_OK;
}

} // namespace

std::optional<Netlink::TunInfo> Netlink::tun_info(int ifindex) {
    ifinfomsg req{};
    req.ifi_family = AF_UNSPEC;
    req.ifi_index = ifindex;
    if (int err = nl_send_simple(sk_.get(), RTM_GETLINK, 0, &req, sizeof(req)); err < 0)
        throw_nl(fmt::format("cannot read ifindex {}", ifindex), err);
    TunDump dump;
    std::unique_ptr<nl_cb, void (*)(nl_cb *)> cb(nl_cb_alloc(NL_CB_DEFAULT), nl_cb_put);
    if (!cb)
        throw Error("out of memory", ENOMEM);
    nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_tun_link, &dump);
    if (int err = nl_recvmsgs(sk_.get(), cb.get()); err < 0)
        throw_nl(fmt::format("cannot read ifindex {}", ifindex), err);
    // The socket asks for acknowledgements: this one must not be left for the next
    // request to take for its answer.
    if (int err = nl_wait_for_ack(sk_.get()); err < 0)
        throw_nl(fmt::format("cannot read ifindex {}", ifindex), err);
    if (!dump.tun)
        return std::nullopt;
    return dump.info;
}

void Netlink::change_flags(int ifindex, unsigned set, unsigned clear, const char *what) {
    LinkPtr orig(rtnl_link_alloc()), chg(rtnl_link_alloc());
    if (!orig || !chg)
        throw Error("out of memory", ENOMEM);
    rtnl_link_set_ifindex(orig.get(), ifindex);
    if (set)
        rtnl_link_set_flags(chg.get(), set);
    if (clear)
        rtnl_link_unset_flags(chg.get(), clear);
    if (int err = rtnl_link_change(sk_.get(), orig.get(), chg.get(), 0); err < 0)
        throw_nl(fmt::format("cannot {} ifindex {}", what, ifindex), err);
}

void Netlink::set_up(int ifindex, bool up) {
    change_flags(ifindex, up ? IFF_UP : 0, up ? 0 : IFF_UP, up ? "bring up" : "bring down");
}

void Netlink::set_promisc(int ifindex, bool on) {
    change_flags(ifindex, on ? IFF_PROMISC : 0, on ? 0 : IFF_PROMISC,
                 on ? "set promiscuous mode on" : "turn promiscuous mode off on");
}

void Netlink::set_mtu(int ifindex, unsigned mtu) {
    LinkPtr orig(rtnl_link_alloc()), chg(rtnl_link_alloc());
    if (!orig || !chg)
        throw Error("out of memory", ENOMEM);
    rtnl_link_set_ifindex(orig.get(), ifindex);
    rtnl_link_set_mtu(chg.get(), mtu);
    if (int err = rtnl_link_change(sk_.get(), orig.get(), chg.get(), 0); err < 0)
        throw_nl(fmt::format("cannot set the MTU of ifindex {} to {}", ifindex, mtu), err);
}

void Netlink::set_address(int ifindex, const Mac &mac) {
    LinkPtr orig(rtnl_link_alloc()), chg(rtnl_link_alloc());
    std::unique_ptr<nl_addr, void (*)(nl_addr *)> addr(nl_addr_build(AF_LLC, mac.data(), 6),
                                                       nl_addr_put);
    if (!orig || !chg || !addr)
        throw Error("out of memory", ENOMEM);
    rtnl_link_set_ifindex(orig.get(), ifindex);
    rtnl_link_set_addr(chg.get(), addr.get());
    if (int err = rtnl_link_change(sk_.get(), orig.get(), chg.get(), 0); err < 0)
        throw_nl(fmt::format("cannot set the address of ifindex {}", ifindex), err);
}

void Netlink::create_veth(const std::string &name, const std::string &peer, unsigned mtu) {
    LinkPtr l(rtnl_link_veth_alloc());
    if (!l)
        throw Error("out of memory", ENOMEM);
    rtnl_link *p = rtnl_link_veth_get_peer(l.get()); // a reference of its own
    rtnl_link_set_name(l.get(), name.c_str());
    rtnl_link_set_name(p, peer.c_str());
    rtnl_link_set_mtu(l.get(), mtu);
    rtnl_link_set_mtu(p, mtu);
    rtnl_link_put(p);
    if (int err = rtnl_link_add(sk_.get(), l.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
        if (err == -NLE_EXIST)
            throw Error(fmt::format("cannot create veth pair {}/{}: a device of that name exists",
                                    name, peer),
                        EEXIST);
        throw_nl(fmt::format("cannot create veth pair {}/{}", name, peer), err);
    }
}

void Netlink::delete_link(int ifindex) {
    LinkPtr l(rtnl_link_alloc());
    if (!l)
        throw Error("out of memory", ENOMEM);
    rtnl_link_set_ifindex(l.get(), ifindex);
    int err = rtnl_link_delete(sk_.get(), l.get());
    if (err < 0 && err != -NLE_OBJ_NOTFOUND && err != -NLE_NODEV)
        throw_nl(fmt::format("cannot delete ifindex {}", ifindex), err);
}

namespace {

struct QdiscScan {
    int ifindex;
    bool shaped;
};

int on_qdisc(nl_msg *msg, void *arg) {
    auto *scan = static_cast<QdiscScan *>(arg);
    const nlmsghdr *h = nlmsg_hdr(msg);
    if (h->nlmsg_type != RTM_NEWQDISC ||
        h->nlmsg_len < static_cast<unsigned>(nlmsg_size(sizeof(tcmsg))))
        return NL_OK;
    const auto *tcm = static_cast<const tcmsg *>(nlmsg_data(h));
    // clsact and ingress sit at TC_H_INGRESS (TC_H_CLSACT is the same): not the transmit
    // path. Handle 0 is the kernel's own (attach_default_qdiscs, mq's children).
    if (tcm->tcm_ifindex == scan->ifindex && tcm->tcm_parent != TC_H_INGRESS &&
        TC_H_MAJ(tcm->tcm_handle) != 0)
        scan->shaped = true;
    return NL_OK;
}

} // namespace

bool Netlink::shaped(int ifindex) {
    // A socket of its own: the dump's replies must not meet another request's.
    NlSock sk(nl_socket_alloc());
    if (!sk)
        throw Error("cannot allocate a netlink socket", ENOMEM);
    if (int err = nl_connect(sk.get(), NETLINK_ROUTE); err < 0)
        throw_nl("cannot connect to rtnetlink", err);
    tcmsg req{};
    req.tcm_family = AF_UNSPEC;
    req.tcm_ifindex = ifindex;
    if (int err = nl_send_simple(sk.get(), RTM_GETQDISC, NLM_F_DUMP, &req, sizeof(req)); err < 0)
        throw_nl(fmt::format("cannot list the qdiscs of ifindex {}", ifindex), err);
    QdiscScan scan{ifindex, false};
    nl_socket_modify_cb(sk.get(), NL_CB_VALID, NL_CB_CUSTOM, on_qdisc, &scan);
    if (int err = nl_recvmsgs_default(sk.get()); err < 0)
        throw_nl(fmt::format("cannot list the qdiscs of ifindex {}", ifindex), err);
    return scan.shaped;
}

namespace {

struct MonitorCtx {
    const std::function<void(const LinkMonitor::Event &)> *fn;
    bool deleted;
    LinkMonitor::Changes changes;
};

void note_once(std::vector<int> &v, int ifindex) {
    if (std::find(v.begin(), v.end(), ifindex) == v.end())
        v.push_back(ifindex);
}

void on_object(nl_object *obj, void *arg) {
    auto *ctx = static_cast<MonitorCtx *>(arg);
    if (std::string_view(nl_object_get_type(obj)) != "route/link")
        return;
    (*ctx->fn)({ctx->deleted, to_info(reinterpret_cast<rtnl_link *>(obj))});
}

int on_msg(nl_msg *msg, void *arg) {
    auto *ctx = static_cast<MonitorCtx *>(arg);
    const nlmsghdr *h = nlmsg_hdr(msg);
    if (h->nlmsg_type == RTM_NEWNEIGH || h->nlmsg_type == RTM_DELNEIGH) {
        // Only the FDB's (AF_BRIDGE); ARP and NDP entries come on the same group.
        if (h->nlmsg_len < static_cast<unsigned>(nlmsg_size(sizeof(ndmsg))))
            return NL_OK;
        const auto *ndm = static_cast<const ndmsg *>(nlmsg_data(h));
        if (ndm->ndm_family == AF_BRIDGE)
            note_once(ctx->changes.fdb, ndm->ndm_ifindex);
        return NL_OK;
    }
    if (h->nlmsg_type == RTM_NEWQDISC || h->nlmsg_type == RTM_DELQDISC) {
        if (h->nlmsg_len >= static_cast<unsigned>(nlmsg_size(sizeof(tcmsg))))
            note_once(ctx->changes.qdisc, static_cast<const tcmsg *>(nlmsg_data(h))->tcm_ifindex);
        return NL_OK;
    }
    if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK)
        return NL_OK;
    ctx->deleted = h->nlmsg_type == RTM_DELLINK;
    nl_msg_parse(msg, on_object, ctx);
    return NL_OK;
}

} // namespace

LinkMonitor::LinkMonitor() : sk_(nl_socket_alloc()) {
    if (!sk_)
        throw Error("cannot allocate a netlink socket", ENOMEM);
    nl_socket_disable_seq_check(sk_.get());
    if (int err = nl_connect(sk_.get(), NETLINK_ROUTE); err < 0)
        throw_nl("cannot connect to rtnetlink", err);
    if (int err = nl_socket_add_membership(sk_.get(), RTNLGRP_LINK); err < 0)
        throw_nl("cannot subscribe to link events", err);
    if (int err = nl_socket_add_membership(sk_.get(), RTNLGRP_NEIGH); err < 0)
        throw_nl("cannot subscribe to neighbour events", err);
    // Qdiscs come and go on ports (`tc qdisc add`, libvirt): a shaped port is served
    // another way (Netlink::shaped).
    if (int err = nl_socket_add_membership(sk_.get(), RTNLGRP_TC); err < 0)
        throw_nl("cannot subscribe to traffic control events", err);
    nl_socket_set_nonblocking(sk_.get());
}

int LinkMonitor::fd() const {
    return nl_socket_get_fd(sk_.get());
}

LinkMonitor::Changes LinkMonitor::dispatch(const std::function<void(const Event &)> &fn) {
    MonitorCtx ctx{&fn, false, {}};
    nl_socket_modify_cb(sk_.get(), NL_CB_VALID, NL_CB_CUSTOM, on_msg, &ctx);
    // Non-blocking: returns once the socket is drained (-NLE_AGAIN).
    while (nl_recvmsgs_default(sk_.get()) >= 0) {
    }
    return ctx.changes;
}

} // namespace xb
