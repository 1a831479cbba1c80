// SPDX-License-Identifier: BSD-2-Clause
// mdb show (issue 23), after `bridge mdb show`. The multicast settings are `set`'s
// (cli/policy.cpp), rows of kBridgeSettings.
#include "bridge.hpp"
#include "cli/cli.hpp"
#include "mdb.hpp"

#include <iostream>
#include <memory>

namespace xb::cli {

void add_mcast(CLI::App &app, Commands &cmds) {
    auto *mdb = app.add_subcommand("mdb", "Multicast group memberships (multicast snooping)");
    mdb->require_subcommand(1);
    add_show(mdb, cmds, "List group memberships and router ports", std::make_shared<ShowArgs>(), {},
             [](Datapath &dp, bool json) { print_mdb(dp, json, std::cout); });
}

} // namespace xb::cli
