// SPDX-License-Identifier: BSD-2-Clause
// Per-port counters, summed over CPUs, as a table, JSON, or the Prometheus text format.
#pragma once

#include "datapath.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace xb {

// Stable names of the counters and drop reasons (they only grow, like the enums).
const char *counter_name(size_t c);     // nullptr for unused slots
const char *drop_reason_name(size_t r); // nullptr for unused slots
const char *counter_help(size_t c);

struct PortCounters {
    std::string name; // "host" for the host pseudo-port
    uint32_t ifindex = 0;
    xb_port_stats stats{};
};

struct BridgeCounters {
    std::string bridge;
    std::vector<PortCounters> ports; // the ports, in slot order
    PortCounters host;
};

// Reads every port's counters; only `port` when given (throws if it is not a port).
BridgeCounters read_counters(const Datapath &dp, const std::optional<std::string> &port);

// `rates`: per-second rates over `secs` against `prev`, for --watch.
void print_counters_table(const BridgeCounters &now, std::ostream &out,
                          const BridgeCounters *prev = nullptr, double secs = 0);
nlohmann::ordered_json counters_json(const BridgeCounters &c);

struct FdbCounts {
    uint64_t dynamic = 0, stat = 0, local = 0;
};
FdbCounts count_fdb(const Datapath &dp);

// The Prometheus text exposition format: counters per port, drops per reason, and
// gauges for the FDB and the ports' state.
std::string prometheus_text(Datapath &dp);

// "1.2k", "3.4M": packets; "1.5 MB": bytes (SI units, as `ip -h -s link`).
std::string human_count(double v);
std::string human_bytes(double v);

} // namespace xb
