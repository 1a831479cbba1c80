// SPDX-License-Identifier: BSD-2-Clause
#include "mdb.hpp"

#include "error.hpp"
#include "fdb.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <map>

namespace xb {

namespace {

uint16_t be16(const uint8_t *p) {
    return uint16_t(p[0] << 8 | p[1]);
}

GroupAddr v4_group(const uint8_t *a) {
    GroupAddr g{};
    g[10] = 0xff;
    g[11] = 0xff;
    std::memcpy(&g[12], a, 4);
    return g;
}

GroupAddr v6_group(const uint8_t *a) {
    GroupAddr g{};
    std::memcpy(g.data(), a, 16);
    return g;
}

// Groups the datapath never snoops: always flooded, so never learned.
bool never_snooped(const GroupAddr &g) {
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(g.data(), mapped, 12) == 0) // 224.0.0.0/24, and no multicast at all
        return (g[12] & 0xf0) != 0xe0 || (g[12] == 224 && g[13] == 0 && g[14] == 0);
    static const uint8_t all_nodes[16] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return g[0] != 0xff || std::memcmp(g.data(), all_nodes, 16) == 0;
}

// Record types of IGMPv3 and MLDv2 reports.
constexpr uint8_t kModeIsInclude = 1, kChangeToInclude = 3;

// One group record's verdict, as the kernel bridge takes it (no source tracking): an
// INCLUDE with no sources is a leave, any other record a join.
void add_record(std::vector<MdbEvent> &ev, uint8_t type, uint16_t nsrcs, const GroupAddr &g) {
    if (type < 1 || type > 6 || never_snooped(g))
        return;
    const bool leave = (type == kModeIsInclude || type == kChangeToInclude) && nsrcs == 0;
    ev.push_back({leave ? MdbEvent::Leave : MdbEvent::Join, g});
}

void add_group(std::vector<MdbEvent> &ev, MdbEvent::Kind kind, const GroupAddr &g) {
    if (!never_snooped(g))
        ev.push_back({kind, g});
}

// The group records of an IGMPv3 (alen 4) or MLDv2 (alen 16) report of n bytes at p:
// the two share their layout but for the address length (RFC 3376 4.2, RFC 3810 5.2).
void add_records(const uint8_t *p, size_t n, size_t alen, std::vector<MdbEvent> &ev) {
    const uint16_t nrec = be16(p + 6);
    const size_t head = 4 + alen;
    size_t off = 8;
    for (uint16_t i = 0; i < nrec && off + head <= n; i++) {
        const uint8_t rtype = p[off], aux = p[off + 1];
        const uint16_t nsrcs = be16(p + off + 2);
        const uint8_t *a = p + off + 4;
        add_record(ev, rtype, nsrcs, alen == 4 ? v4_group(a) : v6_group(a));
        off += head + size_t(nsrcs) * alen + size_t(aux) * 4;
    }
}

bool pim_hello(const uint8_t *p, size_t n) {
    return n >= 4 && (p[0] >> 4) == 2 && (p[0] & 0x0f) == 0;
}

void parse_igmp(const uint8_t *p, size_t n, std::vector<MdbEvent> &ev) {
    if (n < 8)
        return;
    const uint8_t type = p[0];
    const GroupAddr g = v4_group(p + 4);
    switch (type) {
    case 0x11: // query; a v3 query is longer, its group in the same place
        if (!p[4] && !p[5] && !p[6] && !p[7])
            ev.push_back({MdbEvent::Query, {}});
        return;
    case 0x12: // v1 report
    case 0x16: // v2 report
        add_group(ev, MdbEvent::Join, g);
        return;
    case 0x17: // v2 leave
        add_group(ev, MdbEvent::Leave, g);
        return;
    case 0x22: // v3 report
        add_records(p, n, 4, ev);
        return;
    default:
        return;
    }
}

void parse_mld(const uint8_t *p, size_t n, std::vector<MdbEvent> &ev) {
    if (n < 24)
        return;
    const uint8_t type = p[0];
    const GroupAddr g = v6_group(p + 8);
    switch (type) {
    case 130: // query, v1 or v2
        if (std::all_of(g.begin(), g.end(), [](uint8_t b) { return b == 0; }))
            ev.push_back({MdbEvent::Query, {}});
        return;
    case 131: // v1 report
        add_group(ev, MdbEvent::Join, g);
        return;
    case 132: // done
        add_group(ev, MdbEvent::Leave, g);
        return;
    case 143: // v2 report
        add_records(p, n, 16, ev);
        return;
    default:
        return;
    }
}

template <typename K, typename V, typename Fn> void map_for_each(int fd, Fn &&fn) {
    K key{}, next{};
    V val{};
    bool first = true;
    while (bpf_map_get_next_key(fd, first ? nullptr : &key, &next) == 0) {
        first = false;
        key = next;
        if (bpf_map_lookup_elem(fd, &key, &val) == 0)
            fn(key, val);
    }
}

xb_mdb_group_key group_key(const xb_mdb_key &k) {
    xb_mdb_group_key g{};
    std::memcpy(g.addr, k.addr, 16);
    g.vlan = k.vlan;
    return g;
}

} // namespace

std::vector<MdbEvent> parse_mdb_message(const uint8_t *frame, size_t len, size_t l3_off,
                                        uint16_t proto) {
    std::vector<MdbEvent> ev;
    if (l3_off >= len)
        return ev;
    const uint8_t *ip = frame + l3_off;
    size_t n = len - l3_off;
    if (proto == 0x0800) {
        if (n < 20 || (ip[0] >> 4) != 4)
            return ev;
        const size_t ihl = size_t(ip[0] & 0x0f) * 4;
        const size_t total = std::min<size_t>(be16(ip + 2), n);
        if (ihl < 20 || ihl > total)
            return ev;
        if (ip[9] == 2)
            parse_igmp(ip + ihl, total - ihl, ev);
        else if (ip[9] == 103 && pim_hello(ip + ihl, total - ihl))
            ev.push_back({MdbEvent::Router, {}});
        return ev;
    }
    if (proto == 0x86dd) {
        if (n < 40 || (ip[0] >> 4) != 6)
            return ev;
        n = std::min<size_t>(n, 40 + size_t(be16(ip + 4)));
        uint8_t nh = ip[6];
        size_t off = 40;
        // Hop-by-hop (MLD's router alert), destination options, routing.
        while ((nh == 0 || nh == 60 || nh == 43) && off + 2 <= n) {
            const uint8_t next = ip[off];
            off += (size_t(ip[off + 1]) + 1) * 8;
            nh = next;
        }
        if (off > n)
            return ev;
        if (nh == 58)
            parse_mld(ip + off, n - off, ev);
        else if (nh == 103 && pim_hello(ip + off, n - off))
            ev.push_back({MdbEvent::Router, {}});
    }
    return ev;
}

uint64_t mcast_membership_ns(const xb_config &c) {
    return uint64_t(c.mcast_membership_s ? c.mcast_membership_s : kMcastMembershipDefaultS) *
           1000000000ull;
}

MdbLearned mdb_learn(Datapath &dp, const xb_mdb_msg &m, uint64_t now) {
    MdbLearned r;
    const size_t caplen = std::min<size_t>(m.caplen, sizeof(m.data));
    const uint64_t interval = mcast_membership_ns(*dp.config());
    for (const MdbEvent &e : parse_mdb_message(m.data, caplen, m.l3_off, m.proto)) {
        if (e.kind == MdbEvent::Query || e.kind == MdbEvent::Router) {
            // The host's own queries (our querier's among them) make no router port.
            if (m.slot == XB_HOST_SLOT)
                continue;
            uint32_t slot = m.slot;
            const uint64_t until = now + kMcastRouterTimeoutNs;
            check_libbpf(bpf_map_update_elem(dp.map(MapId::MdbRouter), &slot, &until, BPF_ANY),
                         "cannot write a router port");
            r.router = true;
            if (e.kind == MdbEvent::Query)
                (m.proto == 0x86dd ? r.query6 : r.query4) = true;
            continue;
        }
        xb_mdb_key k{};
        std::memcpy(k.addr, e.group.data(), 16);
        k.vlan = m.vlan;
        k.slot = m.slot;
        xb_mdb_val v{};
        const bool had = bpf_map_lookup_elem(dp.map(MapId::Mdb), &k, &v) == 0;
        if (e.kind == MdbEvent::Leave) {
            if (!had)
                continue;
            v.expires_ns = std::min<uint64_t>(v.expires_ns, now + kMcastLastMemberNs);
            check_libbpf(bpf_map_update_elem(dp.map(MapId::Mdb), &k, &v, BPF_EXIST),
                         "cannot write a group membership");
            r.leaves++;
            continue;
        }
        if (!had)
            v.joined_ns = now;
        v.expires_ns = now + interval;
        // The membership first, then the group: a frame that finds the group known finds
        // its member too.
        check_libbpf(bpf_map_update_elem(dp.map(MapId::Mdb), &k, &v, BPF_ANY),
                     "cannot write a group membership (the mdb is full?)");
        const xb_mdb_group_key gk = group_key(k);
        xb_mdb_group_val gv{};
        bpf_map_lookup_elem(dp.map(MapId::MdbGroup), &gk, &gv);
        gv.expires_ns = std::max<uint64_t>(gv.expires_ns, v.expires_ns);
        if (bpf_map_update_elem(dp.map(MapId::MdbGroup), &gk, &gv, BPF_ANY) < 0) {
            const int err = errno;
            bpf_map_delete_elem(dp.map(MapId::Mdb), &k);
            throw_errno("cannot write a group (the mdb is full?)", err);
        }
        r.joins++;
    }
    return r;
}

std::vector<MdbEntry> mdb_entries(const Datapath &dp) {
    std::vector<MdbEntry> out;
    map_for_each<xb_mdb_key, xb_mdb_val>(dp.map(MapId::Mdb),
                                         [&](const xb_mdb_key &k, const xb_mdb_val &v) {
                                             out.push_back({k, v});
                                         });
    return out;
}

namespace {

struct GroupLess {
    bool operator()(const xb_mdb_group_key &a, const xb_mdb_group_key &b) const {
        return std::memcmp(&a, &b, sizeof(a)) < 0;
    }
};

} // namespace

size_t mdb_sweep(Datapath &dp, uint64_t now) {
    size_t removed = 0;
    std::map<xb_mdb_group_key, uint64_t, GroupLess> latest;
    for (const MdbEntry &e : mdb_entries(dp)) {
        if (e.val.expires_ns <= now) {
            if (bpf_map_delete_elem(dp.map(MapId::Mdb), &e.key) == 0)
                removed++;
            continue;
        }
        uint64_t &l = latest[group_key(e.key)];
        l = std::max<uint64_t>(l, e.val.expires_ns);
    }
    std::vector<std::pair<xb_mdb_group_key, xb_mdb_group_val>> groups;
    map_for_each<xb_mdb_group_key, xb_mdb_group_val>(
        dp.map(MapId::MdbGroup),
        [&](const xb_mdb_group_key &k, const xb_mdb_group_val &v) { groups.emplace_back(k, v); });
    for (auto &[k, v] : groups) {
        auto it = latest.find(k);
        if (it == latest.end()) {
            bpf_map_delete_elem(dp.map(MapId::MdbGroup), &k);
        } else if (it->second != v.expires_ns) {
            v.expires_ns = it->second;
            bpf_map_update_elem(dp.map(MapId::MdbGroup), &k, &v, BPF_EXIST);
        }
    }
    return removed;
}

void mdb_flush(Datapath &dp) {
    for (const MdbEntry &e : mdb_entries(dp))
        bpf_map_delete_elem(dp.map(MapId::Mdb), &e.key);
    std::vector<xb_mdb_group_key> groups;
    map_for_each<xb_mdb_group_key, xb_mdb_group_val>(
        dp.map(MapId::MdbGroup),
        [&](const xb_mdb_group_key &k, const xb_mdb_group_val &) { groups.push_back(k); });
    for (const auto &k : groups)
        bpf_map_delete_elem(dp.map(MapId::MdbGroup), &k);
    for (uint32_t slot = 0; slot < XB_MAX_PORTS; slot++) {
        const uint64_t none = 0;
        bpf_map_update_elem(dp.map(MapId::MdbRouter), &slot, &none, BPF_ANY);
    }
}

std::string format_group(const uint8_t addr[16]) {
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char buf[INET6_ADDRSTRLEN] = {};
    if (std::memcmp(addr, mapped, 12) == 0)
        ::inet_ntop(AF_INET, addr + 12, buf, sizeof(buf));
    else
        ::inet_ntop(AF_INET6, addr, buf, sizeof(buf));
    return buf;
}

namespace {

struct MdbView {
    struct Row {
        std::string port, group;
        uint16_t vlan;
        double timer; // seconds left
    };
    std::vector<Row> rows;
    std::vector<std::pair<std::string, double>> routers;
};

MdbView mdb_view(Datapath &dp) {
    MdbView v;
    const uint64_t now = monotonic_coarse_ns();
    auto name_of = [&](uint32_t slot) -> std::string {
        if (slot == XB_HOST_SLOT)
            return "host";
        if (auto p = dp.port(slot))
            return p->name;
        return fmt::format("slot{}", slot);
    };
    auto left = [&](uint64_t until) { return until > now ? double(until - now) / 1e9 : 0.0; };
    auto entries = mdb_entries(dp);
    std::sort(entries.begin(), entries.end(), [](const MdbEntry &a, const MdbEntry &b) {
        return std::memcmp(&a.key, &b.key, sizeof(a.key)) < 0;
    });
    for (const MdbEntry &e : entries)
        if (e.val.expires_ns > now)
            v.rows.push_back({name_of(e.key.slot), format_group(e.key.addr), e.key.vlan,
                              left(e.val.expires_ns)});
    for (const auto &sp : dp.ports()) {
        uint32_t slot = sp.slot;
        uint64_t until = 0;
        bpf_map_lookup_elem(dp.map(MapId::MdbRouter), &slot, &until);
        if (sp.port.flags & XB_PORT_MCAST_ROUTER)
            v.routers.emplace_back(sp.port.name, -1.0);
        else if (until > now)
            v.routers.emplace_back(sp.port.name, left(until));
    }
    return v;
}

} // namespace

nlohmann::ordered_json mdb_json(Datapath &dp) {
    const MdbView v = mdb_view(dp);
    nlohmann::ordered_json mdb = nlohmann::ordered_json::array();
    for (const auto &r : v.rows)
        mdb.push_back({{"dev", dp.name()},
                       {"port", r.port},
                       {"grp", r.group},
                       {"vid", r.vlan},
                       {"state", "temp"},
                       {"timer", std::round(r.timer * 100) / 100}});
    nlohmann::ordered_json routers = nlohmann::ordered_json::array();
    for (const auto &[port, timer] : v.routers)
        routers.push_back(
            {{"port", port},
             {"type", timer < 0 ? "permanent" : "temp"},
             {"timer", timer < 0 ? nlohmann::ordered_json(nullptr)
                                 : nlohmann::ordered_json(std::round(timer * 100) / 100)}});
    return {{"mdb", mdb}, {"router", routers}};
}

void print_mdb(Datapath &dp, bool json, std::ostream &out) {
    if (json) {
        out << mdb_json(dp).dump(2) << "\n";
        return;
    }
    const MdbView v = mdb_view(dp);
    for (const auto &r : v.rows)
        out << fmt::format("dev {} port {} grp {}{} temp {:.2f}\n", dp.name(), r.port, r.group,
                           r.vlan ? fmt::format(" vid {}", r.vlan) : std::string(), r.timer);
    if (!v.routers.empty()) {
        out << fmt::format("router ports on {}:", dp.name());
        for (const auto &[port, timer] : v.routers)
            out << (timer < 0 ? fmt::format(" {} permanent", port)
                              : fmt::format(" {} {:.2f} temp", port, timer));
        out << "\n";
    }
}

int mcast_igmp_version(const xb_config &c) {
    return (c.flags & XB_CFG_MCAST_IGMPV3) ? 3 : 2;
}

int mcast_mld_version(const xb_config &c) {
    return (c.flags & XB_CFG_MCAST_MLDV2) ? 2 : 1;
}

namespace {

// The Internet checksum's sum of n bytes (n even), folded, starting from s.
uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2)
        s += uint32_t(p[i] << 8 | p[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return s;
}

void put16(std::vector<uint8_t> &f, size_t off, uint32_t sum) {
    const auto c = uint16_t(~sum);
    f[off] = uint8_t(c >> 8);
    f[off + 1] = uint8_t(c);
}

// Query parameters of the kernel bridge's defaults: query response interval 10 s,
// robustness 2, query interval 125 s.
constexpr uint8_t kQrv = 2, kQqic = 125;

} // namespace

std::vector<uint8_t> igmp_general_query(const Mac &src, int version) {
    std::vector<uint8_t> f = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    f.insert(f.end(), src.begin(), src.end());
    f.push_back(0x08);
    f.push_back(0x00);
    // IGMP membership query: max response 10 s, group 0; v3 adds QRV, QQIC and no sources.
    std::vector<uint8_t> igmp = {0x11, 100, 0, 0, 0, 0, 0, 0};
    if (version == 3)
        igmp.insert(igmp.end(), {kQrv, kQqic, 0, 0});
    // IPv4 with a router alert option (RFC 2113), TTL 1, 0.0.0.0 -> 224.0.0.1.
    const auto total = uint8_t(24 + igmp.size());
    const uint8_t ip[24] = {0x46, 0xc0, 0, total, 0,   0, 0x40, 0, 1,    2, 0, 0,
                            0,    0,    0, 0,     224, 0, 0,    1, 0x94, 4, 0, 0};
    const size_t ip_off = f.size();
    f.insert(f.end(), ip, ip + sizeof(ip));
    put16(f, ip_off + 10, csum_add(0, &f[ip_off], sizeof(ip)));
    const size_t igmp_off = f.size();
    f.insert(f.end(), igmp.begin(), igmp.end());
    put16(f, igmp_off + 2, csum_add(0, &f[igmp_off], igmp.size()));
    return f;
}

std::vector<uint8_t> mld_general_query(const Mac &src, int version) {
    std::vector<uint8_t> f = {0x33, 0x33, 0x00, 0x00, 0x00, 0x01};
    f.insert(f.end(), src.begin(), src.end());
    f.push_back(0x86);
    f.push_back(0xdd);
    // MLD query: max response 10000 ms, address :: (general); v2 adds QRV, QQIC and no
    // sources (10000 is below 32768: its maximum response code is the value itself).
    std::vector<uint8_t> mld = {130, 0, 0, 0, 0x27, 0x10, 0, 0};
    mld.insert(mld.end(), 16, 0);
    if (version == 2)
        mld.insert(mld.end(), {kQrv, kQqic, 0, 0});
    // Behind a hop-by-hop header with a router alert (RFC 2711, value 0: MLD) and PadN.
    const uint8_t hbh[8] = {58, 0, 5, 2, 0, 0, 1, 0};
    const auto plen = uint16_t(sizeof(hbh) + mld.size());
    uint8_t saddr[16] = {0xfe, 0x80};
    saddr[8] = uint8_t(src[0] ^ 0x02);
    saddr[9] = src[1];
    saddr[10] = src[2];
    saddr[11] = 0xff;
    saddr[12] = 0xfe;
    saddr[13] = src[3];
    saddr[14] = src[4];
    saddr[15] = src[5];
    const uint8_t daddr[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const uint8_t ip6[8] = {0x60, 0, 0, 0, uint8_t(plen >> 8), uint8_t(plen), 0, 1};
    f.insert(f.end(), ip6, ip6 + sizeof(ip6));
    f.insert(f.end(), saddr, saddr + 16);
    f.insert(f.end(), daddr, daddr + 16);
    f.insert(f.end(), hbh, hbh + sizeof(hbh));
    const size_t mld_off = f.size();
    f.insert(f.end(), mld.begin(), mld.end());
    // ICMPv6's checksum covers a pseudo-header: the addresses, the length, next header 58.
    const uint8_t pseudo[8] = {0, 0, uint8_t(mld.size() >> 8), uint8_t(mld.size()), 0, 0, 0, 58};
    uint32_t s = csum_add(0, saddr, 16);
    s = csum_add(s, daddr, 16);
    s = csum_add(s, pseudo, sizeof(pseudo));
    put16(f, mld_off + 2, csum_add(s, &f[mld_off], mld.size()));
    return f;
}

} // namespace xb
