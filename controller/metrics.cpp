// SPDX-License-Identifier: BSD-2-Clause
#include "metrics.hpp"

#include "bridge.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "options.hpp"
#include "stats.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <httplib.h>
#include <mutex>
#include <netinet/in.h>
#include <sys/socket.h>

namespace xb {

std::optional<MetricsAddr> parse_metrics_addr(const std::string &s) {
    if (s == "off")
        return MetricsAddr{};
    const auto colon = s.rfind(':');
    if (colon == std::string::npos)
        return std::nullopt;
    std::string host = s.substr(0, colon);
    auto port = parse_number(std::string_view(s).substr(colon + 1), 1, 65535);
    if (!port)
        return std::nullopt;
    if (host.empty() || host == "localhost")
        host = "127.0.0.1";
    in_addr a{};
    if (::inet_pton(AF_INET, host.c_str(), &a) != 1)
        return std::nullopt;
    return MetricsAddr{a.s_addr, static_cast<uint16_t>(*port)};
}

std::string format_metrics_addr(const MetricsAddr &a) {
    if (!a.port)
        return "off";
    in_addr in{};
    in.s_addr = a.ip4;
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &in, buf, sizeof(buf));
    return fmt::format("{}:{}", buf, a.port);
}

namespace {

[[noreturn]] void throw_cannot_serve(const std::string &where, int err) {
    throw Error(fmt::format("cannot serve metrics on {}: {} (choose --metrics ADDR:PORT or "
                            "--metrics off)",
                            where, std::strerror(err)),
                err);
}

} // namespace

void check_metrics_addr(const MetricsAddr &addr) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        throw_last_errno("socket");
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = addr.ip4;
    if (::bind(fd.get(), reinterpret_cast<const sockaddr *>(&sa), sizeof(sa)) < 0)
        throw_cannot_serve(format_metrics_addr(addr), errno);
}

MetricsServer::MetricsServer(const std::string &bridge, const MetricsAddr &addr)
    : bridge_(bridge), svr_(std::make_unique<httplib::Server>()) {
    // One worker: scrapes are rare, and idle threads cost memory.
    svr_->new_task_queue = [] { return new httplib::ThreadPool(1); };
    // httplib's default also sets SO_REUSEPORT, which would let a second controller
    // share the port and answer half the scrapes. Only SO_REUSEADDR, for restarts.
    svr_->set_socket_options([](socket_t sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    auto dp = std::make_shared<std::optional<Datapath>>();
    auto mu = std::make_shared<std::mutex>();
    svr_->Get("/metrics", [this, dp, mu](const httplib::Request &, httplib::Response &res) {
        std::lock_guard lock(*mu);
        try {
            if (!*dp)
                dp->emplace(open_bridge(bridge_));
            res.set_content(prometheus_text(**dp), "text/plain; version=0.0.4; charset=utf-8");
        } catch (const std::exception &e) {
            dp->reset();
            res.status = 503;
            res.set_content(fmt::format("xbridge: {}\n", e.what()), "text/plain");
        }
    });
    svr_->Get("/", [](const httplib::Request &, httplib::Response &res) {
        res.set_content("xbridge controller: metrics at /metrics\n", "text/plain");
    });
    const std::string where = format_metrics_addr(addr);
    const auto colon = where.rfind(':');
    errno = 0;
    // httplib keeps the socket calls' errno: say which of them failed, and why.
    if (!svr_->bind_to_port(where.substr(0, colon), addr.port))
        throw_cannot_serve(where, errno ? errno : EADDRINUSE);
}

void MetricsServer::start() {
    thread_ = std::thread([this] { svr_->listen_after_bind(); });
}

MetricsServer::~MetricsServer() {
    svr_->stop();
    if (thread_.joinable())
        thread_.join();
}

} // namespace xb
