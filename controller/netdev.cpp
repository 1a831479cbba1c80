// SPDX-License-Identifier: BSD-2-Clause
#include "netdev.hpp"

#include "error.hpp"

#include <cerrno>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <linux/ethtool.h>
#include <linux/genetlink.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <memory>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <sched.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <thread>
#include <vector>

namespace xb {

namespace {

// <linux/netdev.h> (Linux 6.3), which Debian 12's headers predate.
constexpr char kFamilyName[] = "netdev";
constexpr char kMgmtGroup[] = "mgmt";
constexpr uint8_t kCmdDevGet = 1;
constexpr uint8_t kCmdDevAddNtf = 2;
constexpr uint8_t kCmdDevChangeNtf = 4;
constexpr uint16_t kAttrDevIfindex = 1;
constexpr uint16_t kAttrDevXdpFeatures = 3;

UniqueFd genl_socket() {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC));
    if (!fd)
        throw_last_errno("generic netlink socket");
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    if (::bind(fd.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0)
        throw_last_errno("bind a generic netlink socket");
    return fd;
}

// A request: nlmsghdr, genlmsghdr, then attributes.
class Msg {
  public:
    Msg(uint16_t type, uint8_t cmd, uint32_t seq) : buf_(NLMSG_HDRLEN + GENL_HDRLEN, 0) {
        auto *nh = reinterpret_cast<nlmsghdr *>(buf_.data());
        nh->nlmsg_type = type;
        nh->nlmsg_flags = NLM_F_REQUEST;
        nh->nlmsg_seq = seq;
        auto *gh = reinterpret_cast<genlmsghdr *>(buf_.data() + NLMSG_HDRLEN);
        gh->cmd = cmd;
        gh->version = 1;
    }
    void attr(uint16_t type, const void *data, size_t len) {
        const size_t at = buf_.size();
        buf_.resize(at + NLA_ALIGN(NLA_HDRLEN + len), 0);
        auto *na = reinterpret_cast<nlattr *>(buf_.data() + at);
        na->nla_type = type;
        na->nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
        std::memcpy(buf_.data() + at + NLA_HDRLEN, data, len);
    }
    void send(int fd) {
        reinterpret_cast<nlmsghdr *>(buf_.data())->nlmsg_len = static_cast<uint32_t>(buf_.size());
        if (::send(fd, buf_.data(), buf_.size(), 0) < 0)
            throw_last_errno("send a generic netlink request");
    }

  private:
    std::vector<uint8_t> buf_;
};

// Calls fn(type, payload, len) for each attribute in [p, p + len).
template <typename Fn> void each_attr(const uint8_t *p, size_t len, Fn fn) {
    while (len >= NLA_HDRLEN) {
        const auto *na = reinterpret_cast<const nlattr *>(p);
        if (na->nla_len < NLA_HDRLEN || na->nla_len > len)
            return;
        fn(static_cast<uint16_t>(na->nla_type & NLA_TYPE_MASK), p + NLA_HDRLEN,
           size_t(na->nla_len - NLA_HDRLEN));
        const size_t step = NLA_ALIGN(na->nla_len);
        if (step >= len)
            return;
        p += step;
        len -= step;
    }
}

// Receives the answer to request `seq`: calls fn(genl payload, len) for each message
// and returns 0, or the negative errno of a netlink error.
template <typename Fn> int receive(int fd, uint32_t seq, Fn fn) {
    std::vector<uint8_t> buf(16384);
    for (;;) {
        const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        auto len = static_cast<size_t>(n);
        for (auto *nh = reinterpret_cast<nlmsghdr *>(buf.data()); NLMSG_OK(nh, len);
             nh = NLMSG_NEXT(nh, len)) {
            if (nh->nlmsg_seq != seq)
                continue;
            if (nh->nlmsg_type == NLMSG_ERROR) {
                const auto *e = static_cast<const nlmsgerr *>(NLMSG_DATA(nh));
                return e->error;
            }
            if (nh->nlmsg_type == NLMSG_DONE)
                return 0;
            const auto *p = static_cast<const uint8_t *>(NLMSG_DATA(nh)) + GENL_HDRLEN;
            fn(p, nh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN);
            if (!(nh->nlmsg_flags & NLM_F_MULTI))
                return 0;
        }
    }
}

struct FamilyInfo {
    uint16_t id = 0;
    uint32_t mgmt_group = 0;
};

FamilyInfo resolve(int fd, uint32_t seq) {
    Msg m(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, seq);
    m.attr(CTRL_ATTR_FAMILY_NAME, kFamilyName, sizeof(kFamilyName));
    m.send(fd);
    FamilyInfo fi;
    receive(fd, seq, [&](const uint8_t *p, size_t len) {
        each_attr(p, len, [&](uint16_t type, const uint8_t *v, size_t vlen) {
            if (type == CTRL_ATTR_FAMILY_ID && vlen >= 2)
                std::memcpy(&fi.id, v, 2);
            if (type != CTRL_ATTR_MCAST_GROUPS)
                return;
            each_attr(v, vlen, [&](uint16_t, const uint8_t *g, size_t glen) {
                std::string name;
                uint32_t id = 0;
                each_attr(g, glen, [&](uint16_t t, const uint8_t *a, size_t alen) {
                    if (t == CTRL_ATTR_MCAST_GRP_NAME)
                        name.assign(reinterpret_cast<const char *>(a),
                                    strnlen((const char *)a, alen));
                    else if (t == CTRL_ATTR_MCAST_GRP_ID && alen >= 4)
                        std::memcpy(&id, a, 4);
                });
                if (name == kMgmtGroup)
                    fi.mgmt_group = id;
            });
        });
    });
    return fi; // id 0: no such family (ENOENT), a kernel before 6.3
}

} // namespace

NetdevFamily::NetdevFamily() : sk_(genl_socket()) {
    family_ = resolve(sk_.get(), ++seq_).id;
}

std::optional<uint64_t> NetdevFamily::xdp_features(int ifindex) {
    if (!family_)
        return std::nullopt;
    const uint32_t seq = ++seq_;
    Msg m(family_, kCmdDevGet, seq);
    const auto idx = static_cast<uint32_t>(ifindex);
    m.attr(kAttrDevIfindex, &idx, sizeof(idx));
    m.send(sk_.get());
    std::optional<uint64_t> features;
    const int err = receive(sk_.get(), seq, [&](const uint8_t *p, size_t len) {
        each_attr(p, len, [&](uint16_t type, const uint8_t *v, size_t vlen) {
            if (type == kAttrDevXdpFeatures && vlen >= 8) {
                uint64_t f = 0;
                std::memcpy(&f, v, 8);
                features = f;
            }
        });
    });
    return err ? std::nullopt : features;
}

NetdevMonitor::NetdevMonitor() {
    UniqueFd fd = genl_socket();
    const FamilyInfo fi = resolve(fd.get(), 1);
    if (!fi.id || !fi.mgmt_group)
        return; // a kernel without the family: nothing to follow
    const int group = static_cast<int>(fi.mgmt_group);
    if (::setsockopt(fd.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)
        throw_last_errno("subscribe to netdev notifications");
    sk_ = std::move(fd);
}

void NetdevMonitor::dispatch(const std::function<void(int ifindex)> &fn) {
    std::vector<uint8_t> buf(16384);
    for (;;) {
        const ssize_t n = ::recv(sk_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
        if (n <= 0)
            return; // drained (EAGAIN); an overrun (ENOBUFS) is caught by the resync
        auto len = static_cast<size_t>(n);
        for (auto *nh = reinterpret_cast<nlmsghdr *>(buf.data()); NLMSG_OK(nh, len);
             nh = NLMSG_NEXT(nh, len)) {
            if (nh->nlmsg_type < NLMSG_MIN_TYPE)
                continue;
            const auto *gh = static_cast<const genlmsghdr *>(NLMSG_DATA(nh));
            if (gh->cmd != kCmdDevChangeNtf && gh->cmd != kCmdDevAddNtf)
                continue;
            int ifindex = 0;
            each_attr(reinterpret_cast<const uint8_t *>(gh) + GENL_HDRLEN,
                      nh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN,
                      [&](uint16_t type, const uint8_t *v, size_t vlen) {
                          if (type == kAttrDevIfindex && vlen >= 4)
                              std::memcpy(&ifindex, v, 4);
                      });
            if (ifindex)
                fn(ifindex);
        }
    }
}

namespace {

int ethtool(const char *ifname, ethtool_value &v) {
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s)
        return -errno;
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, ifname, ::strnlen(ifname, IFNAMSIZ - 1));
    ifr.ifr_data = reinterpret_cast<char *>(&v);
    return ::ioctl(s.get(), SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
}

} // namespace

std::optional<bool> gro_enabled(const char *ifname) {
    ethtool_value v{};
    v.cmd = ETHTOOL_GGRO;
    if (ethtool(ifname, v) < 0)
        return std::nullopt;
    return v.data != 0;
}

void set_gro(const char *ifname, bool on) {
    ethtool_value v{};
    v.cmd = ETHTOOL_SGRO;
    v.data = on ? 1 : 0;
    if (int err = ethtool(ifname, v); err < 0)
        throw_errno(fmt::format("cannot turn GRO {} on {}", on ? "on" : "off", ifname), err);
}

namespace {

// One of the legacy ethtool flags (ETHTOOL_GFLAGS): nullopt where it cannot be read.
std::optional<bool> eth_flag(const char *ifname, uint32_t flag) {
    ethtool_value v{};
    v.cmd = ETHTOOL_GFLAGS;
    if (ethtool(ifname, v) < 0)
        return std::nullopt;
    return (v.data & flag) != 0;
}

void set_eth_flag(const char *ifname, uint32_t flag, bool on, const char *what) {
    ethtool_value v{};
    v.cmd = ETHTOOL_GFLAGS;
    int err = ethtool(ifname, v);
    if (err == 0) {
        v.cmd = ETHTOOL_SFLAGS;
        v.data = on ? (v.data | flag) : (v.data & ~flag);
        err = ethtool(ifname, v);
    }
    // A driver may take the request and keep the feature (a fixed one): read it back.
    if (err == 0 && eth_flag(ifname, flag) != on)
        err = -EOPNOTSUPP;
    if (err < 0)
        throw_errno(fmt::format("cannot turn {} {} on {}", what, on ? "on" : "off", ifname), err);
}

// The id our namespace gives the namespace of fd (RTM_GETNSID), or -1.
int nsid_of(int fd) {
    UniqueFd s(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!s)
        return -1;
    std::vector<uint8_t> req(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(rtgenmsg)) + NLA_HDRLEN + 4, 0);
    auto *nh = reinterpret_cast<nlmsghdr *>(req.data());
    nh->nlmsg_len = static_cast<uint32_t>(req.size());
    nh->nlmsg_type = RTM_GETNSID;
    nh->nlmsg_flags = NLM_F_REQUEST;
    reinterpret_cast<rtgenmsg *>(req.data() + NLMSG_HDRLEN)->rtgen_family = AF_UNSPEC;
    auto *na =
        reinterpret_cast<nlattr *>(req.data() + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(rtgenmsg)));
    na->nla_type = NETNSA_FD;
    na->nla_len = NLA_HDRLEN + 4;
    const auto ufd = static_cast<uint32_t>(fd);
    std::memcpy(req.data() + req.size() - 4, &ufd, 4);
    if (::send(s.get(), req.data(), req.size(), 0) < 0)
        return -1;
    std::vector<uint8_t> buf(4096);
    const ssize_t n = ::recv(s.get(), buf.data(), buf.size(), 0);
    if (n < static_cast<ssize_t>(NLMSG_HDRLEN))
        return -1;
    const auto *rh = reinterpret_cast<const nlmsghdr *>(buf.data());
    if (rh->nlmsg_type != RTM_NEWNSID || rh->nlmsg_len > static_cast<size_t>(n))
        return -1;
    size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(rtgenmsg));
    while (off + NLA_HDRLEN <= rh->nlmsg_len) {
        const auto *a = reinterpret_cast<const nlattr *>(buf.data() + off);
        if (a->nla_len < NLA_HDRLEN || off + a->nla_len > rh->nlmsg_len)
            break;
        if ((a->nla_type & NLA_TYPE_MASK) == NETNSA_NSID && a->nla_len >= NLA_HDRLEN + 4) {
            int32_t id = 0;
            std::memcpy(&id, buf.data() + off + NLA_HDRLEN, 4);
            return id;
        }
        off += NLA_ALIGN(a->nla_len);
    }
    return -1;
}

// A veth's peer: its ifindex, and the id of its namespace (-1: ours).
struct Peer {
    int ifindex = 0;
    int nsid = -1;
};

std::optional<Peer> veth_peer(int ifindex) {
    std::unique_ptr<nl_sock, void (*)(nl_sock *)> sk(nl_socket_alloc(), nl_socket_free);
    if (!sk || nl_connect(sk.get(), NETLINK_ROUTE) < 0)
        return std::nullopt;
    rtnl_link *raw = nullptr;
    if (rtnl_link_get_kernel(sk.get(), ifindex, nullptr, &raw) < 0 || !raw)
        return std::nullopt;
    std::unique_ptr<rtnl_link, void (*)(rtnl_link *)> l(raw, rtnl_link_put);
    Peer p;
    p.ifindex = rtnl_link_get_link(l.get());
    int32_t id = 0;
    if (rtnl_link_get_link_netnsid(l.get(), &id) == 0)
        p.nsid = id;
    if (p.ifindex <= 0)
        return std::nullopt;
    return p;
}

// Runs fn on a thread of its own in the namespace of the peer (where a socket opened by
// fn then works): the namespaces `ip netns` names are searched for the peer's. Returns
// false where the peer's namespace is not found (a container's without a name).
bool in_peer_netns(const Peer &peer, const std::function<void()> &fn) {
    if (peer.nsid < 0) {
        fn();
        return true;
    }
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator("/run/netns", ec)) {
        UniqueFd ns(::open(e.path().c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns || nsid_of(ns.get()) != peer.nsid)
            continue;
        std::exception_ptr failure;
        bool entered = false;
        std::thread t([&] {
            try {
                if (::setns(ns.get(), CLONE_NEWNET) < 0)
                    return;
                entered = true;
                fn();
            } catch (...) {
                failure = std::current_exception();
            }
        });
        t.join();
        if (failure)
            std::rethrow_exception(failure);
        return entered;
    }
    return false;
}

} // namespace

std::optional<bool> rxvlan_enabled(const char *ifname) {
    return eth_flag(ifname, ETH_FLAG_RXVLAN);
}

void set_rxvlan(const char *ifname, bool on) {
    set_eth_flag(ifname, ETH_FLAG_RXVLAN, on, "rx-vlan offload");
}

std::optional<bool> veth_peer_txvlan_enabled(int ifindex) {
    const auto peer = veth_peer(ifindex);
    if (!peer)
        return std::nullopt;
    std::optional<bool> on;
    in_peer_netns(*peer, [&] {
        char name[IF_NAMESIZE] = {};
        if (::if_indextoname(static_cast<unsigned>(peer->ifindex), name))
            on = eth_flag(name, ETH_FLAG_TXVLAN);
    });
    return on;
}

void set_veth_peer_txvlan(int ifindex, bool on) {
    const auto peer = veth_peer(ifindex);
    if (!peer)
        throw_errno(fmt::format("cannot find the peer of veth {}", ifindex), ENODEV);
    bool done = false;
    const bool found = in_peer_netns(*peer, [&] {
        char name[IF_NAMESIZE] = {};
        if (!::if_indextoname(static_cast<unsigned>(peer->ifindex), name))
            throw_last_errno(fmt::format("cannot name the peer of veth {}", ifindex));
        set_eth_flag(name, ETH_FLAG_TXVLAN, on, "tx-vlan offload");
        done = true;
    });
    if (!found || !done)
        throw_errno(fmt::format("cannot reach the namespace of the peer of veth {}", ifindex),
                    ENOENT);
}

} // namespace xb
