// SPDX-License-Identifier: BSD-2-Clause
// set (bridge settings) and port set (port policy), after `ip link set ... type bridge`
// and `bridge link set`.
#include "bridge.hpp"
#include "cli/cli.hpp"
#include "error.hpp"
#include "options.hpp"

#include <cerrno>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <memory>

namespace xb::cli {

namespace {

// A storm limit above this is no limit at all on any host (frames per second per CPU).
constexpr long long kMaxStormPps = 100000000;

struct SetArgs {
    std::string name = kDefaultBridge, setting, value;
};

struct PortSetArgs {
    std::string name = kDefaultBridge;
    std::vector<std::string> args; // PORT KEY VALUE...
};

int run_set(const SetArgs &a) {
    BridgeLock lock;
    Datapath dp = open_bridge(a.name);
    if (a.setting == "ageing-time" || a.setting == "ageing_time") {
        dp.config()->ageing_ns =
            uint64_t(number_option("ageing-time", a.value, 0, 1000000)) * 1000000000ull;
    } else if (a.setting == "max-learned" || a.setting == "max_learned") {
        // 0: as many as the FDB holds. The datapath reads 0 as no cap at all, which
        // would let learning take the entries kept for static ones.
        const uint32_t cap = dp.fdb_capacity() - XB_FDB_STATIC_RESERVE;
        const uint32_t n = number_option("max-learned", a.value, 0, cap);
        dp.config()->max_learned = n ? n : cap;
    } else {
        throw Error(fmt::format("unknown setting '{}' (ageing-time, max-learned)", a.setting),
                    EINVAL);
    }
    return 0;
}

int run_port_set(const PortSetArgs &a) {
    const std::string &port = a.args[0], &key = a.args[1];
    const std::vector<std::string> values(a.args.begin() + 2, a.args.end());
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
                                "bcast-flood, locked, isolated, hairpin, storm-limit)",
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
    auto *set = app.add_subcommand("set", "Change a running bridge: ageing-time S, max-learned N");
    add_name_option(set, sa->name);
    set->add_option("setting", sa->setting, "ageing-time or max-learned")->required();
    set->add_option("value", sa->value, "New value")->required();
    cmds.add(set, [sa] { return run_set(*sa); });

    auto pa = std::make_shared<PortSetArgs>();
    auto *port = app.add_subcommand("port", "Port policy");
    port->require_subcommand(1);
    auto *port_set = port->add_subcommand(
        "set",
        "port set PORT FLAG on|off (learning, flood, mcast-flood, bcast-flood, locked, isolated, "
        "hairpin), or port set PORT storm-limit PPS (0: off)");
    add_name_option(port_set, pa->name);
    port_set->add_option("args", pa->args, "PORT FLAG on|off, or PORT storm-limit PPS")
        ->required()
        ->expected(3, 16);
    cmds.add(port_set, [pa] { return run_port_set(*pa); });
}

} // namespace xb::cli
