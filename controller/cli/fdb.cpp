// SPDX-License-Identifier: BSD-2-Clause
// fdb show/add/del/flush, after `bridge fdb`.
#include "bridge.hpp"
#include "cli/cli.hpp"
#include "error.hpp"
#include "fdb.hpp"
#include "show.hpp"

#include <cerrno>
#include <fmt/format.h>
#include <iostream>
#include <memory>
#include <optional>

namespace xb::cli {

namespace {

struct FdbArgs {
    std::string name = kDefaultBridge, port, vlan, mac, show_vlan;
    std::vector<std::string> entry; // MAC dev PORT
    bool dynamic_only = false;
};

int run_add(const FdbArgs &a) {
    if (a.entry[1] != "dev")
        throw Error(fmt::format("expected 'fdb add MAC dev PORT', not 'fdb add {} {} {}'",
                                a.entry[0], a.entry[1], a.entry[2]),
                    EINVAL);
    const Mac mac = mac_option(a.entry[0]);
    const uint16_t v = vlan_option(a.vlan);
    BridgeLock lock;
    Datapath dp = open_bridge(a.name);
    const SlotPort sp = dp.require_port(a.entry[2]);
    fdb_add_static(dp, mac, v, sp.port.ifindex, sp.slot);
    return 0;
}

int run_flush(const FdbArgs &a) {
    BridgeLock lock;
    Datapath dp = open_bridge(a.name);
    std::optional<uint32_t> ifindex;
    if (!a.port.empty())
        ifindex = dp.require_port(a.port).port.ifindex;
    const size_t n = xb::fdb_flush(dp, ifindex, a.dynamic_only);
    std::cout << fmt::format("flushed {} entr{}\n", n, n == 1 ? "y" : "ies");
    return 0;
}

} // namespace

void add_fdb(CLI::App &app, Commands &cmds) {
    auto a = std::make_shared<FdbArgs>();
    auto *fdb = app.add_subcommand("fdb", "Forwarding database");
    fdb->require_subcommand(1);

    auto show = std::make_shared<ShowArgs>();
    add_show(
        fdb, cmds, "List FDB entries", show,
        [a](CLI::App *sub) {
            sub->add_option("--port", a->port, "Only this port's entries");
            sub->add_option("--vlan", a->show_vlan, "Only this VLAN's entries");
        },
        [a](Datapath &dp, bool json) {
            FdbFilter filter;
            if (!a->port.empty())
                filter.ifindex = dp.require_port(a->port).port.ifindex;
            if (!a->show_vlan.empty())
                filter.vlan = vlan_option(a->show_vlan);
            print_fdb(dp, filter, json, std::cout);
        });

    auto *add = fdb->add_subcommand("add", "Add a static entry: fdb add MAC dev PORT");
    add_name_option(add, a->name);
    add->add_option("entry", a->entry, "MAC dev PORT")->required()->expected(3);
    add->add_option("--vlan", a->vlan, "VLAN id (0: untagged)");
    cmds.add(add, [a] { return run_add(*a); });

    auto *del = fdb->add_subcommand("del", "Delete an entry: fdb del MAC");
    add_name_option(del, a->name);
    del->add_option("mac", a->mac, "MAC address")->required();
    del->add_option("--vlan", a->vlan, "VLAN id (0: untagged)");
    cmds.add(del, [a] {
        const Mac mac = mac_option(a->mac);
        const uint16_t v = vlan_option(a->vlan);
        BridgeLock lock;
        Datapath dp = open_bridge(a->name);
        xb::fdb_del(dp, mac, v);
        return 0;
    });

    auto *flush = fdb->add_subcommand("flush", "Remove learned (and static) entries");
    add_name_option(flush, a->name);
    flush->add_option("--port", a->port, "Only this port's entries");
    flush->add_flag("--dynamic", a->dynamic_only, "Only learned entries");
    cmds.add(flush, [a] { return run_flush(*a); });
}

} // namespace xb::cli
