// SPDX-License-Identifier: BSD-2-Clause
// The controller's /metrics endpoint (Prometheus text format) over HTTP, served by
// cpp-httplib on one worker thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace xb {

constexpr uint16_t kDefaultMetricsPort = 9477;

struct MetricsAddr {
    uint32_t ip4 = 0;  // network order
    uint16_t port = 0; // 0: off
};

// Parses "ADDR:PORT" (IPv4 address or "localhost"), ":PORT" (loopback) or "off".
std::optional<MetricsAddr> parse_metrics_addr(const std::string &s);
std::string format_metrics_addr(const MetricsAddr &a);

// Throws, with the cause, unless a socket can be bound to addr's address (its port is left
// out: the running controller may hold it). For a restart, which must stop the old
// controller before the new one can take the port.
void check_metrics_addr(const MetricsAddr &addr);

class MetricsServer {
  public:
    // Binds the listening socket now, so that a port in use fails `up` before it
    // changes anything; serving starts with start().
    MetricsServer(const std::string &bridge, const MetricsAddr &addr);
    ~MetricsServer();
    MetricsServer(const MetricsServer &) = delete;
    MetricsServer &operator=(const MetricsServer &) = delete;
    void start();

  private:
    std::string bridge_;
    std::unique_ptr<httplib::Server> svr_;
    std::thread thread_;
};

} // namespace xb
