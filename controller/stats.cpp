// SPDX-License-Identifier: BSD-2-Clause
#include "stats.hpp"

#include "error.hpp"
#include "fdb.hpp"
#include "port_policy.hpp"
#include "show.hpp"
#include "vlan.hpp"

#include <array>
#include <cerrno>
#include <fmt/format.h>
#include <sstream>

namespace xb {

namespace {

struct Named {
    const char *name;
    const char *help;
};

constexpr std::array<Named, XB_CNT_MAX> kCounters = {{
    {"rx_packets", "Frames the bridge took in on the port"},
    {"rx_bytes", "Bytes the bridge took in on the port"},
    {"tx_packets", "Frames the bridge sent out of the port, flood copies included"},
    {"tx_bytes", "Bytes the bridge sent out of the port"},
    {"forwarded", "Known-unicast frames from the port sent to one port"},
    {"flooded", "Broadcast, multicast and unknown-unicast frames from the port flooded"},
    {"to_host", "Frames from the port delivered to the host stack"},
    {"learned", "FDB entries learned on the port"},
    {"moved", "FDB entries that moved to the port"},
    {"rx_xdp", "Frames from the port handled at XDP"},
    {"rx_tc", "Frames from the port handled at TC (skb path)"},
    {"learn_refused", "New MACs not learned because the learning limit was reached"},
    {"dropped", "Frames from the port dropped, all reasons"},
    {nullptr, nullptr}, // 13-14: not used
    {nullptr, nullptr},
    {"bpdu", "STP BPDUs the port took in, on a port with bpdu-guard"},
    {nullptr, nullptr}, // 16: not used
    {"mcast_snooped", "Multicast frames of a known group from the port, sent only to its members"},
    {"mcast_ctl", "IGMP, MLD and PIM messages from the port handed to multicast snooping"},
}};

constexpr std::array<const char *, XB_DROP_MAX> kDrops = {
    nullptr,   "parse", "bad_src", "same_port", "locked",   "port_down", "redirect",    "no_reader",
    "no_host", "pause", "too_big", "isolated",  "storm",    "vlan",      "rate",        "spoof",
    "blocked", nullptr, nullptr,   nullptr,     "vlan_tag", nullptr,     "dhcp_server", "ra_guard",
};

} // namespace

const char *counter_name(size_t c) {
    return c < kCounters.size() ? kCounters[c].name : nullptr;
}
const char *counter_help(size_t c) {
    return c < kCounters.size() ? kCounters[c].help : nullptr;
}
const char *drop_reason_name(size_t r) {
    return r < kDrops.size() ? kDrops[r] : nullptr;
}

BridgeCounters read_counters(const Datapath &dp, const std::optional<std::string> &port) {
    BridgeCounters bc;
    bc.bridge = dp.name();
    if (port) {
        const SlotPort sp = dp.require_port(*port);
        bc.ports.push_back({sp.port.name, sp.port.ifindex, dp.port_stats(sp.slot)});
    } else {
        for (const auto &sp : dp.ports())
            bc.ports.push_back({sp.port.name, sp.port.ifindex, dp.port_stats(sp.slot)});
    }
    bc.host = {"host", 0, dp.port_stats(XB_HOST_SLOT)};
    return bc;
}

std::string human_count(double v) {
    static const char *units[] = {"", "k", "M", "G", "T"};
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    return u == 0 ? fmt::format("{:.0f}", v) : fmt::format("{:.1f}{}", v, units[u]);
}

std::string human_bytes(double v) {
    static const char *units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    return u == 0 ? fmt::format("{:.0f} B", v) : fmt::format("{:.1f} {}", v, units[u]);
}

void print_counters_table(const BridgeCounters &now, std::ostream &out, const BridgeCounters *prev,
                          double secs) {
    const bool rates = prev && secs > 0;
    out << fmt::format(
        "{:<16} {:>9} {:>10} {:>9} {:>10} {:>9} {:>9} {:>8} {:>8} {:>7} {:>8} {:>9}\n", "PORT",
        rates ? "RX/s" : "RX", rates ? "RX B/s" : "RX BYTES", rates ? "TX/s" : "TX",
        rates ? "TX B/s" : "TX BYTES", "FORWARD", "FLOOD", "TO_HOST", "LEARNED", "MOVED", "DROPPED",
        "XDP/TC");
    auto row = [&](const PortCounters &p, const PortCounters *old) {
        const auto &c = p.stats.cnt;
        auto rate = [&](size_t i) {
            return old ? double(c[i] - old->stats.cnt[i]) / secs : double(c[i]);
        };
        const uint64_t handled = c[XB_CNT_RX_XDP] + c[XB_CNT_RX_TC];
        out << fmt::format(
            "{:<16} {:>9} {:>10} {:>9} {:>10} {:>9} {:>9} {:>8} {:>8} {:>7} {:>8} {:>9}\n", p.name,
            human_count(rate(XB_CNT_RX_PACKETS)), human_bytes(rate(XB_CNT_RX_BYTES)),
            human_count(rate(XB_CNT_TX_PACKETS)), human_bytes(rate(XB_CNT_TX_BYTES)),
            human_count(double(c[XB_CNT_FORWARDED])), human_count(double(c[XB_CNT_FLOODED])),
            human_count(double(c[XB_CNT_TO_HOST])), human_count(double(c[XB_CNT_LEARNED])),
            human_count(double(c[XB_CNT_MOVED])), human_count(double(c[XB_CNT_DROPPED])),
            handled ? fmt::format("{:.0f}%/{:.0f}%", 100.0 * c[XB_CNT_RX_XDP] / handled,
                                  100.0 * c[XB_CNT_RX_TC] / handled)
                    : std::string("-"));
        std::string drops;
        for (size_t r = 1; r < XB_DROP_MAX; r++)
            if (p.stats.drop[r] && drop_reason_name(r))
                drops += fmt::format(" {}={}", drop_reason_name(r), p.stats.drop[r]);
        if (c[XB_CNT_LEARN_REFUSED])
            drops += fmt::format(" learn_refused={}", c[XB_CNT_LEARN_REFUSED]);
        if (!drops.empty())
            out << fmt::format("{:<16}  drops:{}\n", "", drops);
    };
    auto find_prev = [&](const PortCounters &p) -> const PortCounters * {
        if (!prev)
            return nullptr;
        for (const auto &q : prev->ports)
            if (q.ifindex == p.ifindex && q.name == p.name)
                return &q;
        return nullptr;
    };
    for (const auto &p : now.ports)
        row(p, rates ? find_prev(p) : nullptr);
    row(now.host, rates ? &prev->host : nullptr);
}

namespace {

nlohmann::ordered_json port_counters_json(const PortCounters &p) {
    nlohmann::ordered_json j = {{"name", p.name}, {"ifindex", p.ifindex}};
    for (size_t c = 0; c < XB_CNT_MAX; c++)
        if (const char *n = counter_name(c))
            j[n] = p.stats.cnt[c];
    nlohmann::ordered_json drops = nlohmann::ordered_json::object();
    for (size_t r = 1; r < XB_DROP_MAX; r++)
        if (const char *n = drop_reason_name(r))
            drops[n] = p.stats.drop[r];
    j["drops"] = drops;
    return j;
}

} // namespace

nlohmann::ordered_json counters_json(const BridgeCounters &c) {
    nlohmann::ordered_json ports = nlohmann::ordered_json::array();
    for (const auto &p : c.ports)
        ports.push_back(port_counters_json(p));
    nlohmann::ordered_json host = port_counters_json(c.host);
    host.erase("ifindex");
    return {{"bridge", c.bridge}, {"ports", ports}, {"host", host}};
}

FdbCounts count_fdb(const Datapath &dp) {
    FdbCounts n;
    fdb_for_each(dp, [&](const FdbEntry &e) {
        if (e.val.type == XB_FDB_STATIC)
            n.stat++;
        else if (e.val.type == XB_FDB_LOCAL)
            n.local++;
        else
            n.dynamic++;
    });
    return n;
}

namespace {

// Label values are escaped as the exposition format demands (\\, \", \n).
std::string label(const std::string &v) {
    std::string out;
    for (char ch : v) {
        if (ch == '\\' || ch == '"')
            out += '\\';
        if (ch == '\n') {
            out += "\\n";
            continue;
        }
        out += ch;
    }
    return out;
}

} // namespace

std::string prometheus_text(Datapath &dp) {
    const BridgeCounters bc = read_counters(dp, std::nullopt);
    const std::string br = label(dp.name());
    std::ostringstream o;
    std::vector<const PortCounters *> all;
    for (const auto &p : bc.ports)
        all.push_back(&p);
    all.push_back(&bc.host);

    for (size_t c = 0; c < XB_CNT_MAX; c++) {
        const char *n = counter_name(c);
        if (!n || c == XB_CNT_DROPPED)
            continue;
        o << fmt::format("# HELP xbridge_port_{}_total {}.\n", n, counter_help(c));
        o << fmt::format("# TYPE xbridge_port_{}_total counter\n", n);
        for (const auto *p : all)
            o << fmt::format("xbridge_port_{}_total{{bridge=\"{}\",port=\"{}\"}} {}\n", n, br,
                             label(p->name), p->stats.cnt[c]);
    }
    o << "# HELP xbridge_port_drops_total Frames dropped by the bridge, by port and reason.\n";
    o << "# TYPE xbridge_port_drops_total counter\n";
    for (const auto *p : all)
        for (size_t r = 1; r < XB_DROP_MAX; r++)
            if (const char *n = drop_reason_name(r))
                o << fmt::format(
                    "xbridge_port_drops_total{{bridge=\"{}\",port=\"{}\",reason=\"{}\"}} {}\n", br,
                    label(p->name), n, p->stats.drop[r]);

    const FdbCounts f = count_fdb(dp);
    o << "# HELP xbridge_fdb_entries FDB entries by type.\n# TYPE xbridge_fdb_entries gauge\n";
    o << fmt::format("xbridge_fdb_entries{{bridge=\"{}\",type=\"dynamic\"}} {}\n", br, f.dynamic);
    o << fmt::format("xbridge_fdb_entries{{bridge=\"{}\",type=\"static\"}} {}\n", br, f.stat);
    o << fmt::format("xbridge_fdb_entries{{bridge=\"{}\",type=\"local\"}} {}\n", br, f.local);
    const xb_config &cfg = *dp.config();
    o << "# HELP xbridge_fdb_max_learned Cap on learned FDB entries.\n"
         "# TYPE xbridge_fdb_max_learned gauge\n";
    o << fmt::format("xbridge_fdb_max_learned{{bridge=\"{}\"}} {}\n", br, cfg.max_learned);
    o << "# HELP xbridge_ageing_time_seconds Time an unseen MAC stays in the FDB.\n"
         "# TYPE xbridge_ageing_time_seconds gauge\n";
    o << fmt::format("xbridge_ageing_time_seconds{{bridge=\"{}\"}} {}\n", br,
                     cfg.ageing_ns / 1000000000ull);
    // Per VLAN, the VLANs in use only (a member, or counted): not 4094 series of zeros.
    const auto vlans = vlan_counters(dp);
    const struct {
        const char *name, *help;
        __u64 xb_vlan_stats::*field;
    } vc[] = {
        {"rx_packets", "Frames the bridge took in on the VLAN", &xb_vlan_stats::rx_packets},
        {"rx_bytes", "Bytes the bridge took in on the VLAN", &xb_vlan_stats::rx_bytes},
        {"tx_packets", "Frames sent on the VLAN, flood copies included",
         &xb_vlan_stats::tx_packets},
        {"tx_bytes", "Bytes sent on the VLAN", &xb_vlan_stats::tx_bytes},
    };
    for (const auto &v : vc) {
        o << fmt::format("# HELP xbridge_vlan_{}_total {}.\n", v.name, v.help);
        o << fmt::format("# TYPE xbridge_vlan_{}_total counter\n", v.name);
        for (const auto &c : vlans)
            o << fmt::format("xbridge_vlan_{}_total{{bridge=\"{}\",vlan=\"{}\"}} {}\n", v.name, br,
                             c.vid, c.s.*v.field);
    }
    o << "# HELP xbridge_port_up Whether the port is operationally up (1) or not (0).\n"
         "# TYPE xbridge_port_up gauge\n";
    for (const auto &sp : dp.ports())
        o << fmt::format(
            "xbridge_port_up{{bridge=\"{}\",port=\"{}\",kind=\"{}\",xdp_mode=\"{}\"}} {}\n", br,
            label(sp.port.name), port_kind_name(sp.port.kind), xdp_mode_name(sp.port.xdp_mode),
            (sp.port.flags & XB_PORT_UP) ? 1 : 0);
    o << "# HELP xbridge_port_shaped Whether the port has a qdisc of its own, which its frames "
         "go through (1) or not (0).\n"
         "# TYPE xbridge_port_shaped gauge\n";
    for (const auto &sp : dp.ports())
        o << fmt::format("xbridge_port_shaped{{bridge=\"{}\",port=\"{}\"}} {}\n", br,
                         label(sp.port.name), (sp.port.ctl & XB_CTL_SHAPED) ? 1 : 0);
    o << "# HELP xbridge_port_blocked Whether the port's BPDU guard has blocked it (1) or not "
         "(0).\n"
         "# TYPE xbridge_port_blocked gauge\n";
    for (const auto &sp : dp.ports())
        o << fmt::format("xbridge_port_blocked{{bridge=\"{}\",port=\"{}\"}} {}\n", br,
                         label(sp.port.name), port_blocked(dp, sp.slot) ? 1 : 0);
    o << "# HELP xbridge_port_rate_limit Ingress policer rate of the port (0: none), in "
         "frames or bytes per second (unit).\n"
         "# TYPE xbridge_port_rate_limit gauge\n";
    for (const auto &sp : dp.ports()) {
        const auto r = port_rate_limit(sp.port);
        o << fmt::format("xbridge_port_rate_limit{{bridge=\"{}\",port=\"{}\",unit=\"{}\"}} {}\n",
                         br, label(sp.port.name), r && r->bytes ? "bytes" : "frames",
                         r ? r->rate : 0);
    }
    return o.str();
}

} // namespace xb
