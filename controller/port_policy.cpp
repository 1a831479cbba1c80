// SPDX-License-Identifier: BSD-2-Clause
#include "port_policy.hpp"

#include "bridge.hpp"
#include "error.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fmt/format.h>

namespace xb {

namespace {

struct Unit {
    const char *name;
    uint64_t mult; // units per second of this suffix
    bool bytes;    // byte rate (else frames)
    bool bits;     // the number counts bits: divided by 8
};

// Longest suffixes first: "kbit" before "bit", "kbps" before "bps".
constexpr Unit kUnits[] = {
    {"kpps", 1000, false, false},   {"mpps", 1000000, false, false},
    {"pps", 1, false, false},       {"kbit", 1000, true, true},
    {"mbit", 1000000, true, true},  {"gbit", 1000000000, true, true},
    {"bit", 1, true, true},         {"kbps", 1000, true, false},
    {"mbps", 1000000, true, false}, {"gbps", 1000000000, true, false},
    {"bps", 1, true, false},
};

std::optional<uint64_t> whole_number(std::string_view s) {
    uint64_t v = 0;
    if (s.empty())
        return std::nullopt;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size())
        return std::nullopt;
    return v;
}

[[noreturn]] void bad(const std::string &msg) {
    throw Error(msg, EINVAL);
}

} // namespace

RateLimit parse_rate_limit(std::string_view rate, std::optional<std::string_view> burst) {
    RateLimit r;
    const Unit *unit = nullptr;
    std::string lower(rate);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const Unit &u : kUnits) {
        const std::string_view n(u.name);
        if (lower.size() > n.size() && lower.compare(lower.size() - n.size(), n.size(), n) == 0) {
            unit = &u;
            break;
        }
    }
    if (!unit)
        bad(fmt::format("rate-limit '{}': a rate needs a unit (pps, kpps, mpps; bit, kbit, mbit, "
                        "gbit; bps, kbps, mbps, gbps)",
                        rate));
    const auto n =
        whole_number(std::string_view(lower).substr(0, lower.size() - std::strlen(unit->name)));
    if (!n || !*n)
        bad(fmt::format("rate-limit '{}': not a positive whole number of {}", rate, unit->name));
    const uint64_t per_s =
        (*n > UINT64_MAX / unit->mult ? UINT64_MAX : *n * unit->mult) / (unit->bits ? 8 : 1);
    if (per_s == 0 || per_s > UINT32_MAX)
        bad(fmt::format("rate-limit '{}': out of range (1 to {} {} per second)", rate, UINT32_MAX,
                        unit->bytes ? "bytes" : "frames"));
    r.rate = static_cast<uint32_t>(per_s);
    r.bytes = unit->bytes;

    if (!burst) {
        // A tenth of a second of the rate, and at least one full-size frame.
        r.burst = std::max<uint32_t>(r.rate / 10, r.bytes ? 1514 : 1);
        return r;
    }
    std::string b(*burst);
    std::transform(b.begin(), b.end(), b.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    uint64_t mult = 1;
    for (const auto &[suffix, m] :
         {std::pair{"kb", 1024}, {"mb", 1024 * 1024}, {"k", 1024}, {"m", 1024 * 1024}, {"b", 1}}) {
        const std::string_view s(suffix);
        if (b.size() > s.size() && b.compare(b.size() - s.size(), s.size(), s) == 0) {
            mult = static_cast<uint64_t>(m);
            b.resize(b.size() - s.size());
            break;
        }
    }
    const auto bn = whole_number(b);
    if (!bn || !*bn)
        bad(fmt::format("burst '{}': not a positive size ({} with an optional k or m)", *burst,
                        r.bytes ? "bytes" : "frames"));
    if (mult != 1 && !r.bytes)
        bad(fmt::format("burst '{}': a burst of frames takes no size suffix", *burst));
    if (*bn > UINT32_MAX / mult)
        bad(fmt::format("burst '{}': out of range", *burst));
    r.burst = static_cast<uint32_t>(*bn * mult);
    return r;
}

std::string format_rate_limit(const RateLimit &r) {
    if (!r.bytes)
        return fmt::format("{}pps burst {}", r.rate, r.burst);
    // As a bit rate where it is one exactly, else in bytes per second.
    const uint64_t bits = uint64_t(r.rate) * 8;
    std::string rate;
    if (bits % 1000000000 == 0)
        rate = fmt::format("{}gbit", bits / 1000000000);
    else if (bits % 1000000 == 0)
        rate = fmt::format("{}mbit", bits / 1000000);
    else if (bits % 1000 == 0)
        rate = fmt::format("{}kbit", bits / 1000);
    else
        rate = fmt::format("{}bps", r.rate);
    return fmt::format("{} burst {}", rate, r.burst);
}

std::optional<RateLimit> port_rate_limit(const xb_port &p) {
    if (!(p.flags & XB_PORT_RATE_LIMIT) || !p.police_rate)
        return std::nullopt;
    return RateLimit{p.police_rate, p.police_burst, p.police_bytes != 0};
}

AllowedIps parse_allowed_ips(std::string_view list) {
    AllowedIps a;
    if (list == "none")
        return a;
    size_t pos = 0;
    while (pos <= list.size()) {
        const size_t comma = list.find(',', pos);
        const std::string item(list.substr(
            pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
        pos = comma == std::string_view::npos ? list.size() + 1 : comma + 1;
        if (item.empty())
            bad(fmt::format("allowed-ip '{}': an empty address in the list", list));
        std::array<uint8_t, 4> v4{};
        std::array<uint8_t, 16> v6{};
        if (::inet_pton(AF_INET, item.c_str(), v4.data()) == 1) {
            if ((v4[0] & 0xf0) == 0xe0 || v4 == std::array<uint8_t, 4>{} ||
                v4 == std::array<uint8_t, 4>{255, 255, 255, 255})
                bad(fmt::format("allowed-ip {}: not a unicast address", item));
            if (std::find(a.v4.begin(), a.v4.end(), v4) == a.v4.end())
                a.v4.push_back(v4);
        } else if (::inet_pton(AF_INET6, item.c_str(), v6.data()) == 1) {
            if (v6[0] == 0xff || v6 == std::array<uint8_t, 16>{})
                bad(fmt::format("allowed-ip {}: not a unicast address", item));
            if (v6[0] == 0xfe && (v6[1] & 0xc0) == 0x80)
                bad(fmt::format("allowed-ip {}: link-local addresses are always allowed (the MAC "
                                "binds them: locked)",
                                item));
            if (std::find(a.v6.begin(), a.v6.end(), v6) == a.v6.end())
                a.v6.push_back(v6);
        } else {
            bad(fmt::format("allowed-ip '{}': not an IPv4 or IPv6 address (a list: "
                            "10.77.0.101,fd77::101; or none)",
                            item));
        }
    }
    return a;
}

std::string format_allowed_ips(const AllowedIps &a) {
    if (a.empty())
        return "none";
    std::string out;
    char buf[INET6_ADDRSTRLEN];
    for (const auto &v : a.v4)
        if (::inet_ntop(AF_INET, v.data(), buf, sizeof(buf)))
            out += (out.empty() ? "" : ",") + std::string(buf);
    for (const auto &v : a.v6)
        if (::inet_ntop(AF_INET6, v.data(), buf, sizeof(buf)))
            out += (out.empty() ? "" : ",") + std::string(buf);
    return out;
}

namespace {

template <typename Key> std::vector<Key> keys_of_slot(int map, uint32_t slot) {
    std::vector<Key> out;
    Key k{}, next{};
    const Key *prev = nullptr;
    while (bpf_map_get_next_key(map, prev, &next) == 0) {
        if (next.slot == slot)
            out.push_back(next);
        k = next;
        prev = &k;
    }
    return out;
}

template <typename Key, size_t N>
void put_addresses(Datapath &dp, MapId id, uint32_t slot,
                   const std::vector<std::array<uint8_t, N>> &addrs, Undo &undo) {
    const int map = dp.map(id);
    for (const auto &old : keys_of_slot<Key>(map, slot)) {
        bpf_map_delete_elem(map, &old);
        undo.push([map, old] {
            const uint8_t one = 1;
            bpf_map_update_elem(map, &old, &one, BPF_ANY);
        });
    }
    for (const auto &a : addrs) {
        Key k{};
        k.slot = slot;
        std::memcpy(k.addr, a.data(), N);
        const uint8_t one = 1;
        if (bpf_map_update_elem(map, &k, &one, BPF_ANY) < 0)
            throw_errno("cannot add an allowed address (the bridge's table of them is full)",
                        errno);
        undo.push([map, k] { bpf_map_delete_elem(map, &k); });
    }
}

} // namespace

void set_port_rate_limit(Datapath &dp, const std::string &port, std::optional<RateLimit> r) {
    const SlotPort sp = dp.require_port(port);
    xb_port p = sp.port;
    p.police_rate = r ? r->rate : 0;
    p.police_burst = r ? r->burst : 0;
    p.police_bytes = r && r->bytes ? 1 : 0;
    p.flags = r ? (p.flags | XB_PORT_RATE_LIMIT) : (p.flags & ~XB_PORT_RATE_LIMIT);
    // A new rate starts with a full bucket.
    uint32_t slot = sp.slot;
    const uint64_t zero = 0;
    bpf_map_update_elem(dp.map(MapId::PolicyRate), &slot, &zero, BPF_ANY);
    dp.set_port(sp.slot, p);
}

void set_port_allowed_ips(Datapath &dp, const std::string &port, const AllowedIps &ips) {
    const SlotPort sp = dp.require_port(port);
    Undo undo;
    // Addresses first, the flag last: the datapath never checks against half a list.
    // Clearing takes the flag off first for the same reason.
    xb_port p = sp.port;
    if (ips.empty()) {
        p.flags &= ~XB_PORT_SPOOF_CHECK;
        dp.set_port(sp.slot, p);
        undo.push([&dp, sp] { dp.set_port(sp.slot, sp.port); });
    }
    put_addresses<xb_policy_ip4_key>(dp, MapId::PolicyIp4, sp.slot, ips.v4, undo);
    put_addresses<xb_policy_ip6_key>(dp, MapId::PolicyIp6, sp.slot, ips.v6, undo);
    if (!ips.empty()) {
        p.flags |= XB_PORT_SPOOF_CHECK;
        dp.set_port(sp.slot, p);
    }
    undo.commit();
}

AllowedIps port_allowed_ips(const Datapath &dp, uint32_t slot) {
    AllowedIps a;
    for (const auto &k : keys_of_slot<xb_policy_ip4_key>(dp.map(MapId::PolicyIp4), slot))
        a.v4.push_back({k.addr[0], k.addr[1], k.addr[2], k.addr[3]});
    for (const auto &k : keys_of_slot<xb_policy_ip6_key>(dp.map(MapId::PolicyIp6), slot)) {
        std::array<uint8_t, 16> v{};
        std::memcpy(v.data(), k.addr, 16);
        a.v6.push_back(v);
    }
    std::sort(a.v4.begin(), a.v4.end());
    std::sort(a.v6.begin(), a.v6.end());
    return a;
}

void set_port_policy_flag(Datapath &dp, const std::string &port, uint32_t flag, bool on) {
    const SlotPort sp = dp.require_port(port);
    xb_port p = sp.port;
    p.flags = on ? (p.flags | flag) : (p.flags & ~flag);
    // A guard turned off forgets its block: a port is not blocked by a guard it lacks.
    if (flag == XB_PORT_BPDU_GUARD && !on) {
        uint32_t slot = sp.slot;
        const xb_policy_state none{};
        bpf_map_update_elem(dp.map(MapId::PolicyState), &slot, &none, BPF_ANY);
    }
    dp.set_port(sp.slot, p);
}

void set_port_ra_guard(Datapath &dp, const std::string &port, bool on) {
    const SlotPort sp = dp.require_port(port);
    xb_port p = sp.port;
    p.flags &= ~(XB_PORT_RA_GUARD | XB_PORT_RA_TRUSTED);
    p.flags |= on ? XB_PORT_RA_GUARD : XB_PORT_RA_TRUSTED;
    dp.set_port(sp.slot, p);
}

bool port_ra_guarded(const xb_port &p) {
    return (p.flags & XB_PORT_RA_GUARD) ||
           (p.flags & (XB_PORT_SPOOF_CHECK | XB_PORT_RA_TRUSTED)) == XB_PORT_SPOOF_CHECK;
}

bool reset_bpdu_guard(Datapath &dp, const std::string &port) {
    const SlotPort sp = dp.require_port(port);
    const bool was = port_blocked(dp, sp.slot).has_value();
    uint32_t slot = sp.slot;
    const xb_policy_state none{};
    check_libbpf(bpf_map_update_elem(dp.map(MapId::PolicyState), &slot, &none, BPF_ANY),
                 "cannot reset the BPDU guard");
    return was;
}

std::optional<xb_policy_state> port_blocked(const Datapath &dp, uint32_t slot) {
    xb_policy_state s{};
    if (bpf_map_lookup_elem(dp.map(MapId::PolicyState), &slot, &s) < 0 || !s.blocked_ns)
        return std::nullopt;
    return s;
}

void clear_port_policy(Datapath &dp, uint32_t slot) {
    for (const auto &k : keys_of_slot<xb_policy_ip4_key>(dp.map(MapId::PolicyIp4), slot))
        bpf_map_delete_elem(dp.map(MapId::PolicyIp4), &k);
    for (const auto &k : keys_of_slot<xb_policy_ip6_key>(dp.map(MapId::PolicyIp6), slot))
        bpf_map_delete_elem(dp.map(MapId::PolicyIp6), &k);
    const xb_policy_state none{};
    const uint64_t zero = 0;
    bpf_map_update_elem(dp.map(MapId::PolicyState), &slot, &none, BPF_ANY);
    bpf_map_update_elem(dp.map(MapId::PolicyRate), &slot, &zero, BPF_ANY);
}

std::vector<MacFlap> read_mac_flaps(const Datapath &dp) {
    std::vector<MacFlap> out;
    const int map = dp.map(MapId::PolicyFlap);
    xb_fdb_key k{}, next{};
    const xb_fdb_key *prev = nullptr;
    while (bpf_map_get_next_key(map, prev, &next) == 0) {
        xb_mac_flap f{};
        if (bpf_map_lookup_elem(map, &next, &f) == 0)
            out.push_back({next, f});
        k = next;
        prev = &k;
    }
    return out;
}

} // namespace xb
