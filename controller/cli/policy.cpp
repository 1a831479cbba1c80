// SPDX-License-Identifier: BSD-2-Clause
// set (bridge settings) and port set (port policy), after `ip link set ... type bridge`
// and `bridge link set`.
#include "apply.hpp"
#include "bridge.hpp"
#include "cli/cli.hpp"
#include "config.hpp"
#include "error.hpp"
#include "options.hpp"
#include "port_policy.hpp"

#include <algorithm>
#include <cerrno>
#include <iostream>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <memory>

namespace xb::cli {

namespace {

// What `set` takes: the rows of kBridgeSettings, and the learning cap.
std::vector<std::string> set_keys() {
    std::vector<std::string> keys;
    for (const auto &st : kBridgeSettings)
        keys.emplace_back(st.key);
    keys.emplace_back("max-learned");
    return keys;
}

struct SetArgs {
    std::string name = kDefaultBridge, setting, value;
};

struct PortSetArgs {
    std::string name = kDefaultBridge;
    std::vector<std::string> args; // PORT KEY VALUE...
};

// The bridge-wide settings are kBridgeSettings' rows, parsed as the file's values and
// written as apply writes them. The learning cap is no row: the most it takes is the
// bridge's FDB size, known once the bridge is open (the file checks it against fdb-size).
int run_set(const SetArgs &a) {
    std::string key = a.setting;
    std::replace(key.begin(), key.end(), '_', '-');
    if (key == "max-learned") {
        BridgeLock lock;
        Datapath dp = open_bridge(a.name);
        // 0: as many as the FDB holds.
        set_max_learned(dp, number_option("max-learned", a.value, 0, max_learned_limit(dp)));
        return 0;
    }
    const BridgeSetting *st = find_bridge_setting(key);
    if (!st)
        throw Error(
            fmt::format("unknown setting '{}' ({})", a.setting, fmt::join(set_keys(), ", ")),
            EINVAL);
    const auto value = parse_setting(*st, a.value);
    if (!value)
        throw Error(fmt::format("{}: '{}' is not {}", st->key, a.value, setting_accepts(*st)),
                    EINVAL);
    BridgeLock lock;
    Datapath dp = open_bridge(a.name);
    write_bridge_setting(dp, *st, *value);
    return 0;
}

bool is_port_policy(std::string key) {
    std::replace(key.begin(), key.end(), '_', '-');
    return key == "rate-limit" || key == "allowed-ip" || key == "bpdu-guard" ||
           key == "dhcp-server" || key == "ra-guard";
}

// port set PORT rate-limit RATE [burst N] | off; allowed-ip LIST | none; bpdu-guard
// on|off|reset; dhcp-server on|off; ra-guard on|off (issue 23). Parsed whole before the bridge is
// touched.
int run_port_policy(const std::string &bridge, const std::string &port, std::string key,
                    const std::vector<std::string> &values) {
    std::replace(key.begin(), key.end(), '_', '-');
    if (key == "rate-limit") {
        std::optional<RateLimit> r;
        if (values.size() == 1 && values[0] == "off")
            r = std::nullopt;
        else if (values.size() == 1)
            r = parse_rate_limit(values[0], std::nullopt);
        else if (values.size() == 3 && values[1] == "burst")
            r = parse_rate_limit(values[0], values[2]);
        else
            throw Error(fmt::format("port set {} rate-limit: RATE [burst N], or off", port),
                        EINVAL);
        BridgeLock lock;
        Datapath dp = open_bridge(bridge);
        set_port_rate_limit(dp, port, r);
        return 0;
    }
    if (values.size() != 1)
        throw Error(fmt::format("port set {} {}: takes one value", port, key), EINVAL);
    const std::string &v = values[0];
    if (key == "allowed-ip") {
        const AllowedIps ips = parse_allowed_ips(v);
        BridgeLock lock;
        Datapath dp = open_bridge(bridge);
        set_port_allowed_ips(dp, port, ips);
        return 0;
    }
    const bool guard = key == "bpdu-guard";
    if (v != "on" && v != "off" && !(guard && v == "reset"))
        throw Error(fmt::format("port set {} {}: '{}' is not on{} or off", port, key, v,
                                guard ? ", reset" : ""),
                    EINVAL);
    BridgeLock lock;
    Datapath dp = open_bridge(bridge);
    if (v == "reset") {
        if (!reset_bpdu_guard(dp, port))
            std::cerr << fmt::format("xbridge: port {} was not blocked\n", port);
        return 0;
    }
    if (key == "ra-guard") {
        set_port_ra_guard(dp, port, v == "on");
        return 0;
    }
    set_port_policy_flag(dp, port, guard ? XB_PORT_BPDU_GUARD : XB_PORT_DHCP_SERVER, v == "on");
    return 0;
}

int run_port_set(const PortSetArgs &a) {
    const std::string &port = a.args[0], &key = a.args[1];
    const std::vector<std::string> values(a.args.begin() + 2, a.args.end());
    if (is_port_policy(key))
        return run_port_policy(a.name, port, key, values);
    if (key == "storm-limit" || key == "storm_limit") {
        if (values.size() != 1)
            throw Error("expected 'port set PORT storm-limit PPS'", EINVAL);
        const uint32_t pps = number_option("storm-limit", values[0], 0, kMaxStormPps);
        BridgeLock lock;
        Datapath dp = open_bridge(a.name);
        set_port_storm_limit(dp, port, pps);
        return 0;
    }
    auto flag = parse_port_flag(key);
    if (!flag)
        throw Error(fmt::format("unknown port flag '{}' (learning, flood, mcast-flood, "
                                "bcast-flood, locked, isolated, hairpin, mcast-router, "
                                "storm-limit, rate-limit, allowed-ip, bpdu-guard, dhcp-server, "
                                "ra-guard)",
                                key),
                    EINVAL);
    if (values.size() != 1 || (values[0] != "on" && values[0] != "off"))
        throw Error(fmt::format("port flag {}: '{}' is not on or off", key, fmt::join(values, " ")),
                    EINVAL);
    BridgeLock lock;
    Datapath dp = open_bridge(a.name);
    set_port_flag(dp, port, *flag, values[0] == "on");
    return 0;
}

} // namespace

void add_policy(CLI::App &app, Commands &cmds) {
    auto sa = std::make_shared<SetArgs>();
    // The list of settings from the table, one a line, so that the help follows its rows.
    std::string takes = "Settings (the configuration file's keys, or with _ for -; times in "
                        "seconds):\n";
    for (const auto &st : kBridgeSettings)
        takes += fmt::format("  {:<28}{}\n", st.key, setting_accepts(st));
    takes += fmt::format("  {:<28}{}\n", "max-learned",
                         "a number up to the FDB's size; 0: as many as it holds");
    auto *set = app.add_subcommand(
        "set", "Change a setting of a running bridge, as `ip link set ... type bridge`");
    set->footer(takes);
    add_name_option(set, sa->name);
    set->add_option("setting", sa->setting, "One of the settings below")->required();
    set->add_option("value", sa->value, "New value")->required();
    cmds.add(set, [sa] { return run_set(*sa); });

    auto pa = std::make_shared<PortSetArgs>();
    auto *port = app.add_subcommand("port", "Port policy");
    port->require_subcommand(1);
    auto *port_set = port->add_subcommand(
        "set",
        "port set PORT FLAG on|off (learning, flood, mcast-flood, bcast-flood, locked, isolated, "
        "hairpin, mcast-router, bpdu-guard, dhcp-server, ra-guard), port set PORT storm-limit PPS "
        "(0: off), "
        "port set PORT rate-limit RATE [burst N] | off, port set PORT allowed-ip IP[,IP...] | "
        "none, port set PORT bpdu-guard reset");
    add_name_option(port_set, pa->name);
    port_set->add_option("args", pa->args, "PORT FLAG on|off, or PORT SETTING VALUE...")
        ->required()
        ->expected(3, 16);
    cmds.add(port_set, [pa] { return run_port_set(*pa); });
}

} // namespace xb::cli
