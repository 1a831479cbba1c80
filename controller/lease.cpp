// SPDX-License-Identifier: BSD-2-Clause
#include "lease.hpp"

#include "fdb.hpp"

namespace xb {

SessionEnd run_session_loop(const Datapath &dp, const volatile sig_atomic_t &stop,
                            const std::function<int()> &poll,
                            const std::function<void(uint64_t until_ns)> &renew) {
    SessionEnd end;
    uint64_t renewed = monotonic_coarse_ns();

    while (!stop) {
        const int r = poll();
        if (r < 0) {
            end.err = r;
            break;
        }
        if (r > 0)
            break;
        const uint64_t now = monotonic_coarse_ns();
        if (now - renewed > 1000000000ull) {
            if (!dp.still_pinned()) {
                end.gone = true;
                break;
            }
            renew(now + kSessionLeaseNs);
            renewed = now;
        }
    }
    return end;
}

} // namespace xb
