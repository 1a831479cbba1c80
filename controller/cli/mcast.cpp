// SPDX-License-Identifier: BSD-2-Clause
// mdb show, and the multicast settings of `set` (issue 23), after `bridge mdb show` and
// `ip link set ... type bridge mcast_snooping 1 mcast_querier 1`.
#include "bridge.hpp"
#include "cli/cli.hpp"
#include "error.hpp"
#include "mdb.hpp"

#include <cerrno>
#include <fmt/format.h>
#include <iostream>
#include <memory>

namespace xb::cli {

namespace {

bool on_off(const std::string &setting, const std::string &value) {
    if (value != "on" && value != "off")
        throw Error(fmt::format("{}: '{}' is not on or off", setting, value), EINVAL);
    return value == "on";
}

} // namespace

bool set_mcast(Datapath &dp, const std::string &setting, const std::string &value) {
    xb_config &c = *dp.config();
    if (setting == "mcast-snooping" || setting == "mcast_snooping") {
        if (on_off(setting, value)) {
            __atomic_fetch_or(&c.flags, uint32_t(XB_CFG_MCAST_SNOOPING), __ATOMIC_RELEASE);
        } else {
            // As the kernel bridge's: what snooping learned is forgotten.
            __atomic_fetch_and(&c.flags, ~uint32_t(XB_CFG_MCAST_SNOOPING), __ATOMIC_RELEASE);
            mdb_flush(dp);
        }
        return true;
    }
    if (setting == "mcast-querier" || setting == "mcast_querier") {
        if (on_off(setting, value))
            __atomic_fetch_or(&c.flags, uint32_t(XB_CFG_MCAST_QUERIER), __ATOMIC_RELEASE);
        else
            __atomic_fetch_and(&c.flags, ~uint32_t(XB_CFG_MCAST_QUERIER), __ATOMIC_RELEASE);
        return true;
    }
    // The querier's versions, as the kernel bridge's mcast_igmp_version and
    // mcast_mld_version.
    auto version = [&](uint32_t bit, const char *low, const char *high) {
        if (value != low && value != high)
            throw Error(fmt::format("{}: '{}' is not {} or {}", setting, value, low, high), EINVAL);
        if (value == high)
            __atomic_fetch_or(&c.flags, bit, __ATOMIC_RELEASE);
        else
            __atomic_fetch_and(&c.flags, ~bit, __ATOMIC_RELEASE);
        return true;
    };
    if (setting == "mcast-igmp-version" || setting == "mcast_igmp_version")
        return version(XB_CFG_MCAST_IGMPV3, "2", "3");
    if (setting == "mcast-mld-version" || setting == "mcast_mld_version")
        return version(XB_CFG_MCAST_MLDV2, "1", "2");
    if (setting == "mcast-membership-interval" || setting == "mcast_membership_interval") {
        c.mcast_membership_s = number_option(setting, value, 1, 86400);
        return true;
    }
    return false;
}

void add_mcast(CLI::App &app, Commands &cmds) {
    auto *mdb = app.add_subcommand("mdb", "Multicast group memberships (multicast snooping)");
    mdb->require_subcommand(1);
    add_show(mdb, cmds, "List group memberships and router ports", std::make_shared<ShowArgs>(), {},
             [](Datapath &dp, bool json) { print_mdb(dp, json, std::cout); });
}

} // namespace xb::cli
