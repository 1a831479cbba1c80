// SPDX-License-Identifier: BSD-2-Clause
// vlan add/del/show, with the grammar and output of iproute2's `bridge vlan`.
#include "bridge.hpp"
#include "cli/cli.hpp"
#include "error.hpp"
#include "vlan.hpp"

#include <cerrno>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

namespace xb::cli {

namespace {

// `vlan add|del dev PORT vid N[-M] [pvid] [untagged]`, as `bridge vlan` reads it.
struct VlanSpec {
    std::string dev;
    VlanRange range;
    bool pvid = false, untagged = false;
};

VlanSpec parse_vlan_args(const std::vector<std::string> &args, bool add) {
    VlanSpec a;
    bool have_vid = false;
    for (size_t i = 0; i < args.size(); i++) {
        const std::string &w = args[i];
        if ((w == "dev" || w == "vid") && i + 1 == args.size())
            throw Error(fmt::format("vlan: '{}' needs a value", w), EINVAL);
        if (w == "dev") {
            a.dev = args[++i];
        } else if (w == "vid") {
            const std::string &v = args[++i];
            auto r = parse_vlan_range(v);
            if (!r)
                throw Error(fmt::format("vlan: '{}' is not a VLAN id or range (1-4094, N-M)", v),
                            EINVAL);
            a.range = *r;
            have_vid = true;
        } else if (add && w == "pvid") {
            a.pvid = true;
        } else if (add && w == "untagged") {
            a.untagged = true;
        } else {
            throw Error(fmt::format("vlan {}: unexpected '{}' (dev PORT vid N[-M]{})",
                                    add ? "add" : "del", w, add ? " [pvid] [untagged]" : ""),
                        EINVAL);
        }
    }
    if (a.dev.empty() || !have_vid)
        throw Error(fmt::format("vlan {}: expected 'dev PORT vid N[-M]'", add ? "add" : "del"),
                    EINVAL);
    if (a.pvid && a.range.from != a.range.to)
        throw Error("vlan add: a PVID is one VLAN, not a range", EINVAL);
    return a;
}

// As `bridge vlan show` (and `bridge -j vlan show`).
void print_vlan_table(const std::vector<PortVlans> &table, bool json, std::ostream &out) {
    if (json) {
        nlohmann::ordered_json arr = nlohmann::ordered_json::array();
        for (const auto &pv : table) {
            nlohmann::ordered_json vlans = nlohmann::ordered_json::array();
            for (const auto &v : pv.vlans) {
                nlohmann::ordered_json e = {{"vlan", v.vid}};
                nlohmann::ordered_json flags = nlohmann::ordered_json::array();
                if (v.pvid)
                    flags.push_back("PVID");
                if (v.untagged)
                    flags.push_back("Egress Untagged");
                if (!flags.empty())
                    e["flags"] = flags;
                vlans.push_back(e);
            }
            arr.push_back({{"ifname", pv.name}, {"vlans", vlans}});
        }
        out << arr.dump() << "\n";
        return;
    }
    out << fmt::format("{:<18}{}\n", "port", "vlan-id");
    for (const auto &pv : table) {
        bool first = true;
        for (const auto &v : pv.vlans) {
            out << fmt::format("{:<18}{}{}{}\n", first ? pv.name : "", v.vid, v.pvid ? " PVID" : "",
                               v.untagged ? " Egress Untagged" : "");
            first = false;
        }
        if (first)
            out << fmt::format("{:<18}\n", pv.name);
        out << "\n";
    }
}

struct VlanArgs {
    std::string name = kDefaultBridge, port;
    std::vector<std::string> args;
    bool json = false;
};

int run_vlan_change(const VlanArgs &va, bool add) {
    const VlanSpec a = parse_vlan_args(va.args, add);
    BridgeLock lock;
    Datapath dp = open_bridge(va.name);
    if (add)
        xb::vlan_add(dp, a.dev, a.range, a.pvid, a.untagged);
    else
        xb::vlan_del(dp, a.dev, a.range);
    return 0;
}

int run_vlan_show(const VlanArgs &va) {
    std::string port = va.port;
    if (va.args.size() == 2 && va.args[0] == "dev")
        port = va.args[1];
    else if (!va.args.empty())
        throw Error(fmt::format("expected 'vlan show [dev PORT]', not 'vlan show {}'",
                                fmt::join(va.args, " ")),
                    EINVAL);
    Datapath dp = open_bridge(va.name);
    auto table = vlan_table(dp);
    if (!port.empty()) {
        if (port != kVlanHostDev)
            dp.require_port(port);
        std::erase_if(table, [&](const PortVlans &pv) { return pv.name != port; });
    }
    print_vlan_table(table, va.json, std::cout);
    return 0;
}

} // namespace

void print_vlan_counters(const std::vector<VlanCounters> &rows, bool json, std::ostream &out) {
    if (json) {
        nlohmann::ordered_json arr = nlohmann::ordered_json::array();
        for (const auto &c : rows)
            arr.push_back({{"vlan", c.vid},
                           {"rx_packets", c.s.rx_packets},
                           {"rx_bytes", c.s.rx_bytes},
                           {"tx_packets", c.s.tx_packets},
                           {"tx_bytes", c.s.tx_bytes}});
        out << arr.dump(2) << "\n";
        return;
    }
    out << fmt::format("{:>4} {:>12} {:>14} {:>12} {:>14}\n", "VLAN", "RX_PACKETS", "RX_BYTES",
                       "TX_PACKETS", "TX_BYTES");
    for (const auto &c : rows)
        out << fmt::format("{:>4} {:>12} {:>14} {:>12} {:>14}\n", c.vid, c.s.rx_packets,
                           c.s.rx_bytes, c.s.tx_packets, c.s.tx_bytes);
}

void add_vlan(CLI::App &app, Commands &cmds) {
    auto va = std::make_shared<VlanArgs>();
    auto *vlan = app.add_subcommand("vlan", "VLAN membership of ports and the host");
    vlan->require_subcommand(1);
    auto *add = vlan->add_subcommand(
        "add", "vlan add dev PORT|host vid N[-M] [pvid] [untagged]: make PORT a member");
    add_name_option(add, va->name);
    add->add_option("args", va->args, "dev PORT vid N[-M] [pvid] [untagged]")->required();
    cmds.add(add, [va] { return run_vlan_change(*va, true); });

    auto *del = vlan->add_subcommand("del", "vlan del dev PORT|host vid N[-M]");
    add_name_option(del, va->name);
    del->add_option("args", va->args, "dev PORT vid N[-M]")->required();
    cmds.add(del, [va] { return run_vlan_change(*va, false); });

    auto *show = vlan->add_subcommand("show", "List the VLANs of the host and the ports");
    add_name_option(show, va->name);
    show->add_option("--port", va->port, "Only this port (or host)");
    show->add_flag("--json", va->json, "JSON output (as bridge -j vlan show)");
    show->add_option("args", va->args, "dev PORT (as --port)");
    cmds.add(show, [va] { return run_vlan_show(*va); });
}

} // namespace xb::cli
