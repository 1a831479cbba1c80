// SPDX-License-Identifier: BSD-2-Clause
// The lease of a diagnostic session (`trace`, `capture`): the datapath emits only while
// the session's lease is valid, so that a session that dies, even by SIGKILL, stops the
// datapath's work on its own within the lease. The session renews it while it runs.
#pragma once

#include "datapath.hpp"

#include <csignal>
#include <cstdint>
#include <functional>

namespace xb {

// How long a lease lasts; a session renews it every second.
constexpr uint64_t kSessionLeaseNs = 3000000000ull;

struct SessionEnd {
    int err = 0;       // a negative errno poll returned; 0 otherwise
    bool gone = false; // the bridge was taken down under the session
};

// A session's main loop: calls poll() until stop is set or poll() asks to end (it
// returns 0 to go on, a negative errno on an error, anything else when done), and once
// a second, if the bridge is still there, calls renew() with the lease's new end
// (CLOCK_MONOTONIC_COARSE). A session on a bridge that was taken down would wait for
// nothing forever, and keep its programs loaded: the loop ends with gone set.
SessionEnd run_session_loop(const Datapath &dp, const volatile sig_atomic_t &stop,
                            const std::function<int()> &poll,
                            const std::function<void(uint64_t until_ns)> &renew);

} // namespace xb
