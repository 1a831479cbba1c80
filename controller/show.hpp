// SPDX-License-Identifier: BSD-2-Clause
// What `status` and `fdb show` print, as text tables or JSON.
#pragma once

#include "datapath.hpp"
#include "netlink.hpp"

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

namespace xb {

std::string port_kind_name(uint8_t kind);
std::string xdp_mode_name(uint8_t mode);
std::string fdb_type_name(uint8_t type);
// The port flags, comma separated, in `bridge link` words.
std::string port_flag_names(uint32_t flags);

nlohmann::ordered_json status_json(Datapath &dp);
void print_status(Datapath &dp, std::ostream &out);

struct FdbFilter {
    std::optional<uint32_t> ifindex; // only this port
    bool dynamic_only = false;
    std::optional<uint16_t> vlan; // only this VLAN
};
// Streams the FDB: one entry at a time, never the whole table in memory.
void print_fdb(const Datapath &dp, const FdbFilter &filter, bool json, std::ostream &out);

} // namespace xb
