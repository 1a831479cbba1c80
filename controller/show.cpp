// SPDX-License-Identifier: BSD-2-Clause
#include "show.hpp"

#include "bridge.hpp"
#include "capture.hpp"
#include "fdb.hpp"
#include "mac.hpp"
#include "mdb.hpp"
#include "metrics.hpp"
#include "port_policy.hpp"
#include "trace.hpp"
#include "vlan.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <unordered_map>

namespace xb {

std::string port_kind_name(uint8_t kind) {
    switch (kind) {
    case XB_KIND_NIC:
        return "nic";
    case XB_KIND_VETH:
        return "veth";
    case XB_KIND_TAP:
        return "tap";
    case XB_KIND_VLAN:
        return "vlan";
    case XB_KIND_BOND:
        return "bond";
    case XB_KIND_TEAM:
        return "team";
    case XB_KIND_MACVLAN:
        return "macvlan";
    case XB_KIND_VXLAN:
        return "vxlan";
    case XB_KIND_DUMMY:
        return "dummy";
    default:
        return "other";
    }
}

std::string xdp_mode_name(uint8_t mode) {
    switch (mode) {
    case XB_XDP_NATIVE:
        return "native";
    case XB_XDP_GENERIC:
        return "generic";
    default:
        return "none";
    }
}

std::string fdb_type_name(uint8_t type) {
    switch (type) {
    case XB_FDB_STATIC:
        return "static";
    case XB_FDB_LOCAL:
        return "local";
    default:
        return "dynamic";
    }
}

std::string port_flag_names(uint32_t flags) {
    static const std::pair<uint32_t, const char *> names[] = {
        {XB_PORT_UPLINK, "uplink"},
        {XB_PORT_LEARNING, "learning"},
        {XB_PORT_FLOOD, "flood"},
        {XB_PORT_MCAST_FLOOD, "mcast_flood"},
        {XB_PORT_BCAST_FLOOD, "bcast_flood"},
        {XB_PORT_LOCKED, "locked"},
        {XB_PORT_ISOLATED, "isolated"},
        {XB_PORT_HAIRPIN, "hairpin"},
        {XB_PORT_MCAST_ROUTER, "mcast_router"},
    };
    std::string out;
    for (const auto &[bit, name] : names)
        if (flags & bit) {
            if (!out.empty())
                out += ',';
            out += name;
        }
    return out.empty() ? "-" : out;
}

namespace {

std::string uplink_name(Datapath &dp) {
    const uint32_t up = dp.config()->uplink_ifindex;
    if (!up)
        return "none";
    auto p = dp.port_by_ifindex(up);
    return p ? p->port.name : fmt::format("ifindex {}", up);
}

nlohmann::ordered_json policy_json(const Datapath &dp, const SlotPort &sp) {
    const xb_port &p = sp.port;
    const auto rate = port_rate_limit(p);
    const auto blocked = port_blocked(dp, sp.slot);
    nlohmann::ordered_json ips = nlohmann::ordered_json::array();
    if (p.flags & XB_PORT_SPOOF_CHECK) {
        const std::string list = format_allowed_ips(port_allowed_ips(dp, sp.slot));
        size_t pos = 0;
        while (pos < list.size()) {
            const size_t comma = std::min(list.find(',', pos), list.size());
            ips.push_back(list.substr(pos, comma - pos));
            pos = comma + 1;
        }
    }
    return {
        // The port's frames go through the qdisc someone installed on it (the TC path).
        {"shaped", bool(p.ctl & XB_CTL_SHAPED)},
        {"rate_limit", rate ? nlohmann::ordered_json{{"rate", rate->rate},
                                                     {"unit", rate->bytes ? "bytes" : "frames"},
                                                     {"burst", rate->burst},
                                                     {"text", format_rate_limit(*rate)}}
                            : nlohmann::ordered_json(nullptr)},
        // null: no address check; else the only source addresses the port may use.
        {"allowed_ip", (p.flags & XB_PORT_SPOOF_CHECK) ? ips : nlohmann::ordered_json(nullptr)},
        {"dhcp_server", bool(p.flags & XB_PORT_DHCP_SERVER)},
        // Router advertisements and redirects refused: ra-guard on, or allowed-ip without
        // ra-guard off.
        {"ra_guard", port_ra_guarded(p)},
        {"bpdu_guard", bool(p.flags & XB_PORT_BPDU_GUARD)},
        {"blocked", blocked ? nlohmann::ordered_json{{"reason", "bpdu"},
                                                     {"from", format_mac(blocked->bpdu_src)}}
                            : nlohmann::ordered_json(nullptr)},
    };
}

nlohmann::ordered_json port_json(const Datapath &dp, const SlotPort &sp) {
    const xb_port &p = sp.port;
    nlohmann::ordered_json j = {
        {"name", p.name},
        {"ifindex", p.ifindex},
        {"kind", port_kind_name(p.kind)},
        {"mac", format_mac(p.mac)},
        {"mtu", p.mtu},
        {"xdp_mode", xdp_mode_name(p.xdp_mode)},
        // Whether XDP may redirect frames into this port; if not, frames for it take the
        // TC path (a device without ndo_xdp_xmit, a veth whose peer has no NAPI).
        {"xdp_redirect_target", !(p.ctl & (XB_CTL_NO_XDP_TX | XB_CTL_ABSENT))},
        {"gro_set", bool(p.ctl & XB_CTL_GRO_SET)},
        {"state", (p.ctl & XB_CTL_ABSENT)  ? "absent"
                  : (p.flags & XB_PORT_UP) ? "up"
                                           : "down"},
        {"created", bool(p.ctl & XB_CTL_CREATED_TAP)},
        {"uplink", bool(p.flags & XB_PORT_UPLINK)},
        {"learning", bool(p.flags & XB_PORT_LEARNING)},
        {"flood", bool(p.flags & XB_PORT_FLOOD)},
        {"mcast_flood", bool(p.flags & XB_PORT_MCAST_FLOOD)},
        {"bcast_flood", bool(p.flags & XB_PORT_BCAST_FLOOD)},
        {"locked", bool(p.flags & XB_PORT_LOCKED)},
        {"isolated", bool(p.flags & XB_PORT_ISOLATED)},
        {"hairpin", bool(p.flags & XB_PORT_HAIRPIN)},
        {"mcast_router", bool(p.flags & XB_PORT_MCAST_ROUTER)},
        // Frames per second and CPU the port may bring in for flooding; 0: off.
        {"storm_limit", p.storm_pps},
        // VLAN filtering: the PVID (0: none), and how the port's tags reach the bridge
        // (vlan_rx_mode: in the frame at XDP, or left to TC where XDP cannot see them).
        {"pvid", p.pvid},
        {"vlan_rx", vlan_rx_mode(p)},
        {"rxvlan_offload_off", bool(p.ctl & XB_CTL_RXVLAN_OFF)},
    };
    const nlohmann::ordered_json policy = policy_json(dp, sp);
    for (auto it = policy.begin(); it != policy.end(); ++it)
        j[it.key()] = *it;
    return j;
}

// The policy of a port as status prints it among its flags.
std::string policy_flags(const Datapath &dp, const SlotPort &sp) {
    const xb_port &p = sp.port;
    std::string out;
    if (p.ctl & XB_CTL_SHAPED)
        out += ",shaped";
    if (const auto r = port_rate_limit(p))
        out += fmt::format(",rate-limit={}", format_rate_limit(*r));
    if (p.flags & XB_PORT_SPOOF_CHECK)
        out += fmt::format(",allowed-ip={}", format_allowed_ips(port_allowed_ips(dp, sp.slot)));
    if (p.flags & XB_PORT_DHCP_SERVER)
        out += ",dhcp-server";
    if (port_ra_guarded(p))
        out += ",ra-guard";
    if (p.flags & XB_PORT_BPDU_GUARD)
        out += ",bpdu-guard";
    if (const auto b = port_blocked(dp, sp.slot))
        out += fmt::format(",BLOCKED(bpdu from {})", format_mac(b->bpdu_src));
    return out;
}

} // namespace

nlohmann::ordered_json status_json(Datapath &dp) {
    const xb_config &c = *dp.config();
    nlohmann::ordered_json ports = nlohmann::ordered_json::array();
    for (const auto &sp : dp.ports())
        ports.push_back(port_json(dp, sp));
    for (const auto &sp : dp.absent_ports())
        ports.push_back(port_json(dp, sp));
    return {
        {"name", dp.name()},
        {"uplink", uplink_name(dp)},
        {"host_pair", host_pair(dp) ? nlohmann::ordered_json(*host_pair(dp)) : nullptr},
        {"ageing_time", c.ageing_ns / 1000000000ull},
        {"fdb_learned", c.n_learned},
        {"max_learned", c.max_learned},
        {"fdb_capacity", dp.fdb_capacity()},
        {"max_ports", c.max_ports},
        {"vlan_filtering", bool(c.flags & XB_CFG_VLAN_FILTERING)},
        {"vlan_protocol", vlan_protocol_name(c.vlan_proto)},
        {"host_pvid", c.host_pvid},
        {"xdp_attach", "bpf_link"},
        {"metrics", format_metrics_addr({c.metrics_ip4, c.metrics_port})},
        {"trace", trace_active(c)},
        {"capture", capture_active(dp)},
        {"mcast_snooping", bool(c.flags & XB_CFG_MCAST_SNOOPING)},
        {"mcast_querier", bool(c.flags & XB_CFG_MCAST_QUERIER)},
        {"mcast_igmp_version", mcast_igmp_version(c)},
        {"mcast_mld_version", mcast_mld_version(c)},
        {"mcast_membership_interval", mcast_membership_ns(c) / 1000000000ull},
        {"mdb_entries", mdb_entries(dp).size()},
        {"controller_pid",
         controller_alive(dp) ? nlohmann::ordered_json(c.controller_pid) : nullptr},
        {"pins", dp.dir()},
        {"ports", ports},
    };
}

void print_status(Datapath &dp, std::ostream &out) {
    const xb_config &c = *dp.config();
    const auto pair = host_pair(dp);
    out << fmt::format("bridge {}: uplink {}{}, ageing {} s, {} learned of {} max, controller {}\n",
                       dp.name(), uplink_name(dp),
                       pair ? fmt::format(" (host pair {})", *pair) : std::string(),
                       c.ageing_ns / 1000000000ull, c.n_learned, c.max_learned,
                       controller_alive(dp) ? fmt::format("running (pid {})", c.controller_pid)
                                            : std::string("not running"));
    const bool filtering = c.flags & XB_CFG_VLAN_FILTERING;
    if (filtering)
        out << fmt::format("vlan filtering on ({}), host PVID {}\n",
                           vlan_protocol_name(c.vlan_proto),
                           c.host_pvid ? std::to_string(c.host_pvid) : std::string("none"));
    if (c.flags & XB_CFG_MCAST_SNOOPING) {
        const size_t n = mdb_entries(dp).size();
        out << fmt::format("multicast snooping on{} (IGMPv{}, MLDv{}), {} membership{} (xbridge "
                           "mdb show)\n",
                           (c.flags & XB_CFG_MCAST_QUERIER) ? ", querier on" : "",
                           mcast_igmp_version(c), mcast_mld_version(c), n, n == 1 ? "" : "s");
    }
    out << fmt::format("{:<16} {:>7} {:<7} {:<17} {:>5} {:<8} {:<3} {:<6} {:<8} {}\n", "PORT",
                       "IFINDEX", "KIND", "MAC", "MTU", "XDP", "TX", "STATE", "CREATED", "FLAGS");
    auto ports = dp.ports();
    auto absent = dp.absent_ports();
    ports.insert(ports.end(), absent.begin(), absent.end());
    for (const auto &sp : ports) {
        const xb_port &p = sp.port;
        const bool gone = p.ctl & XB_CTL_ABSENT;
        // TX: how frames reach this port, by XDP redirect or from the TC hook.
        std::string flags = port_flag_names(p.flags);
        if (p.storm_pps)
            flags += fmt::format(",storm-limit={}", p.storm_pps);
        // With VLAN filtering: the PVID. Filtering or not: where the port's tags are read
        // when XDP may not see them (vlan-rx=tc), or which offload xbridge turned off.
        if (filtering)
            flags += fmt::format(",pvid={}", p.pvid ? std::to_string(p.pvid) : "none");
        if (vlan_rx_mode(p) != "frame")
            flags += ",vlan-rx=" + vlan_rx_mode(p);
        flags += policy_flags(dp, sp);
        out << fmt::format("{:<16} {:>7} {:<7} {:<17} {:>5} {:<8} {:<3} {:<6} {:<8} {}\n", p.name,
                           gone ? "-" : std::to_string(p.ifindex), port_kind_name(p.kind),
                           format_mac(p.mac), p.mtu, gone ? "-" : xdp_mode_name(p.xdp_mode),
                           gone                         ? "-"
                           : (p.ctl & XB_CTL_NO_XDP_TX) ? "tc"
                                                        : "xdp",
                           gone                     ? "absent"
                           : (p.flags & XB_PORT_UP) ? "up"
                                                    : "down",
                           (p.ctl & XB_CTL_CREATED_TAP) ? "yes" : "no", flags);
    }
}

void print_fdb(const Datapath &dp, const FdbFilter &filter, bool json, std::ostream &out) {
    // Port names once, already escaped for JSON: a million entries share a few ports.
    std::unordered_map<uint32_t, std::string> names;
    for (const auto &sp : dp.ports())
        names[sp.port.ifindex] =
            json ? nlohmann::json(std::string(sp.port.name)).dump() : std::string(sp.port.name);
    auto port_name = [&](uint32_t ifindex) -> const std::string & {
        auto it = names.find(ifindex);
        if (it == names.end()) {
            const std::string n = fmt::format("ifindex{}", ifindex);
            it = names.emplace(ifindex, json ? "\"" + n + "\"" : n).first;
        }
        return it->second;
    };
    const uint64_t now = monotonic_coarse_ns();
    bool first = true;
    fmt::memory_buffer buf;
    if (json)
        buf.append(std::string_view("["));
    else
        fmt::format_to(std::back_inserter(buf), "{:<17} {:<16} {:>4} {:<8} {:>6}\n", "MAC", "PORT",
                       "VLAN", "TYPE", "AGE");
    fdb_for_each(dp, [&](const FdbEntry &e) {
        if (filter.ifindex && e.val.ifindex != *filter.ifindex)
            return;
        if (filter.dynamic_only && e.val.type != XB_FDB_DYNAMIC)
            return;
        if (filter.vlan && e.key.vlan != *filter.vlan)
            return;
        const bool dynamic = e.val.type == XB_FDB_DYNAMIC;
        const uint64_t age =
            dynamic && now > e.val.updated_ns ? (now - e.val.updated_ns) / 1000000000ull : 0;
        const uint8_t *m = e.key.mac;
        // Formatted directly: the fields are numbers, a MAC and a pre-escaped name.
        if (json)
            fmt::format_to(std::back_inserter(buf),
                           "{}{{\"mac\":\"{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\",\"port\":{},"
                           "\"ifindex\":{},\"vlan\":{},\"type\":\"{}\",\"age\":{}}}",
                           first ? "\n" : ",\n", m[0], m[1], m[2], m[3], m[4], m[5],
                           port_name(e.val.ifindex), e.val.ifindex, e.key.vlan,
                           fdb_type_name(e.val.type), dynamic ? std::to_string(age) : "null");
        else
            fmt::format_to(std::back_inserter(buf), "{:<17} {:<16} {:>4} {:<8} {:>6}\n",
                           format_mac(m), port_name(e.val.ifindex), e.key.vlan,
                           fdb_type_name(e.val.type), dynamic ? std::to_string(age) : "-");
        first = false;
        if (buf.size() > 1 << 16) {
            out.write(buf.data(), std::streamsize(buf.size()));
            buf.clear();
        }
    });
    if (json)
        buf.append(std::string_view(first ? "]\n" : "\n]\n"));
    out.write(buf.data(), std::streamsize(buf.size()));
}

} // namespace xb
