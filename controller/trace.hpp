// SPDX-License-Identifier: BSD-2-Clause
// `xbridge trace`: one line per frame from the datapath's ring buffer, like a
// SystemTap probe on br_forward / tun_net_xmit, with the decision the bridge took.
#pragma once

#include "datapath.hpp"
#include "mac.hpp"

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace xb {

struct TraceOptions {
    std::optional<std::string> port;
    std::optional<Mac> mac;
    std::optional<uint64_t> count;
    bool json = false;
};

// Streams events until SIGINT/SIGTERM or `count` events; turns tracing off on the way
// out. Returns the number of events printed.
uint64_t run_trace(Datapath &dp, const TraceOptions &opts, std::ostream &out);

// Whether a trace session holds a valid lease now.
bool trace_active(const xb_config &c);

// The text line of one event (names: ifindex → port name).
std::string format_trace_event(const xb_trace_event &ev, const std::string &in,
                               const std::string &out);

} // namespace xb
