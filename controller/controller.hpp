// SPDX-License-Identifier: BSD-2-Clause
// The controller process of a running bridge. It only manages: ages the FDB, follows
// link events (carrier, MTU, ports that vanish) and serves metrics. The datapath never
// depends on it: it can die and be started again without a lost frame.
#pragma once

#include "datapath.hpp"
#include "metrics.hpp"

#include <memory>
#include <string>

namespace xb {

// Runs the controller loop of bridge `name` in this process until SIGTERM/SIGINT,
// serving `metrics` (already bound) if given.
int run_controller(const std::string &name, std::unique_ptr<MetricsServer> metrics);

// Starts the controller of bridge `name` as a daemon and returns its pid once it runs.
int spawn_controller(const std::string &name, std::unique_ptr<MetricsServer> metrics);

std::string log_path(const std::string &name);
// Removes the bridge's log, and the log directory once it is empty.
void remove_log(const std::string &name);

} // namespace xb
