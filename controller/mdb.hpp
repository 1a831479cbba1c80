// SPDX-License-Identifier: BSD-2-Clause
// Multicast snooping's controller half: the datapath hands it every IGMP, MLD and PIM
// message (map mdb_rb); it learns memberships and router ports from them into the maps
// the datapath forwards by (mdb, mdb_group, mdb_router), ages them, shows them, and can
// act as the segment's querier. After the kernel bridge's br_multicast.c, with its
// defaults: membership interval 260 s, router ports kept 255 s after their last query
// (multicast_querier_interval), a leave lets the membership run 2 s longer
// (last_member_count 2 × last_member_interval 1 s), queries every 125 s.
#pragma once

#include "datapath.hpp"
#include "mac.hpp"

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace xb {

constexpr uint32_t kMcastMembershipDefaultS = 260;
constexpr uint64_t kMcastRouterTimeoutNs = 255ull * 1000000000ull;
constexpr uint64_t kMcastLastMemberNs = 2ull * 1000000000ull;
constexpr uint64_t kMcastQueryIntervalNs = 125ull * 1000000000ull;
// Another querier heard within this keeps ours quiet (other_query_interval).
constexpr uint64_t kMcastOtherQuerierNs = 255ull * 1000000000ull;

using GroupAddr = std::array<uint8_t, 16>; // IPv6, or IPv4 mapped (::ffff:a.b.c.d)

struct MdbEvent {
    enum Kind { Join, Leave, Query, Router } kind;
    GroupAddr group{}; // Join, Leave
};

// The events of one IGMP (v1-v3), MLD (v1, v2) or PIM message: frame holds len bytes of
// a frame whose IP header starts at l3_off, ethertype proto. Reports and leaves for
// groups that are never snooped (224.0.0.0/24, ff02::1) give nothing; a group-specific
// query gives nothing; a general query gives Query, a PIMv2 hello Router. Truncated or
// malformed input gives what could be read before the fault.
std::vector<MdbEvent> parse_mdb_message(const uint8_t *frame, size_t len, size_t l3_off,
                                        uint16_t proto);

// The membership interval of a bridge, in ns.
uint64_t mcast_membership_ns(const xb_config &c);

struct MdbLearned {
    size_t joins = 0, leaves = 0;
    // A general query from a port, IGMP or MLD: another querier is there, for that family.
    bool query4 = false, query6 = false;
    bool router = false; // a router port was (re)learned
};

// Applies one message from the datapath at time now (CLOCK_MONOTONIC_COARSE).
MdbLearned mdb_learn(Datapath &dp, const xb_mdb_msg &m, uint64_t now);

// Removes memberships past their deadline, and the groups left without members; brings
// each group's deadline to its members' latest. Returns the memberships removed.
size_t mdb_sweep(Datapath &dp, uint64_t now);

// Forgets every membership and router port (snooping turned off).
void mdb_flush(Datapath &dp);

struct MdbEntry {
    xb_mdb_key key;
    xb_mdb_val val;
};
std::vector<MdbEntry> mdb_entries(const Datapath &dp);

std::string format_group(const uint8_t addr[16]);

// `xbridge mdb show`, in the shape of `bridge mdb show` (with -s's timers).
void print_mdb(Datapath &dp, bool json, std::ostream &out);
nlohmann::ordered_json mdb_json(Datapath &dp);

// The querier's versions of a bridge: IGMP 2 or 3, MLD 1 or 2.
int mcast_igmp_version(const xb_config &c);
int mcast_mld_version(const xb_config &c);

// An IGMP general query of version 2 or 3 (source 0.0.0.0, as the kernel bridge's
// querier without mcast_query_use_ifaddr), from src.
std::vector<uint8_t> igmp_general_query(const Mac &src, int version = 2);

// An MLD general query of version 1 or 2 from src, its IPv6 source the link-local address
// formed from src (modified EUI-64, RFC 4291 2.5.1): hosts take MLD queries only from a
// link-local source (RFC 2710 3, RFC 3810 5.1.14).
std::vector<uint8_t> mld_general_query(const Mac &src, int version = 1);

} // namespace xb
