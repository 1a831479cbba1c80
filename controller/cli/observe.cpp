// SPDX-License-Identifier: BSD-2-Clause
// status, stats, trace: looking at a running bridge.
#include "apply.hpp"
#include "bridge.hpp"
#include "cli/cli.hpp"
#include "error.hpp"
#include "show.hpp"
#include "stats.hpp"
#include "trace.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fmt/format.h>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <unistd.h>

namespace xb::cli {

namespace {

volatile sig_atomic_t g_watch_stop = 0;

int stats_watch(Datapath &dp, const std::optional<std::string> &port, uint32_t secs) {
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_watch_stop = 1; };
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    const bool tty = ::isatty(STDOUT_FILENO);
    BridgeCounters prev = read_counters(dp, port);
    auto t_prev = std::chrono::steady_clock::now();
    while (!g_watch_stop) {
        for (uint32_t i = 0; i < secs * 10 && !g_watch_stop; i++)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (g_watch_stop)
            break;
        BridgeCounters now = read_counters(dp, port);
        const auto t_now = std::chrono::steady_clock::now();
        const double dt = std::chrono::duration<double>(t_now - t_prev).count();
        if (tty)
            std::cout << "\033[H\033[2J";
        std::cout << fmt::format("bridge {}: rates over the last {:.1f} s\n", dp.name(), dt);
        print_counters_table(now, std::cout, &prev, dt);
        std::cout << (tty ? "" : "\n") << std::flush;
        prev = std::move(now);
        t_prev = t_now;
    }
    return 0;
}

struct StatusArgs {
    std::string name = kDefaultBridge;
    bool json = false, config = false;
};

struct StatsArgs {
    std::string name = kDefaultBridge, port, watch;
    bool json = false, prometheus = false, vlan = false;
};

struct TraceArgs {
    std::string name = kDefaultBridge, port, mac, count;
    bool json = false;
};

int run_stats(const StatsArgs &a) {
    Datapath dp = open_bridge(a.name);
    const std::optional<std::string> only =
        a.port.empty() ? std::nullopt : std::optional<std::string>(a.port);
    if (a.vlan) {
        print_vlan_counters(vlan_counters(dp), a.json, std::cout);
        return 0;
    }
    if (!a.watch.empty())
        return stats_watch(dp, only, number_option("--watch", a.watch, 1, 3600));
    if (a.prometheus)
        std::cout << prometheus_text(dp);
    else if (a.json)
        std::cout << counters_json(read_counters(dp, only)).dump(2) << "\n";
    else
        print_counters_table(read_counters(dp, only), std::cout);
    return 0;
}

int run_trace(const TraceArgs &a) {
    Datapath dp = open_bridge(a.name);
    TraceOptions to;
    to.json = a.json;
    if (!a.port.empty())
        to.port = a.port;
    if (!a.mac.empty()) {
        to.mac = parse_mac(a.mac);
        if (!to.mac)
            throw Error(fmt::format("--mac: '{}' is not a MAC address", a.mac), EINVAL);
    }
    if (!a.count.empty())
        to.count = number_option("--count", a.count, 1, 1LL << 40);
    xb::run_trace(dp, to, std::cout);
    return 0;
}

} // namespace

void add_observe(CLI::App &app, Commands &cmds) {
    auto st = std::make_shared<StatusArgs>();
    auto *status = app.add_subcommand("status", "Show a bridge and its ports");
    add_name_option(status, st->name);
    auto *json = status->add_flag("--json", st->json, "JSON output");
    status
        ->add_flag("--config", st->config,
                   "Print the bridge as a configuration file that apply accepts")
        ->excludes(json);
    cmds.add(status, [st] {
        Datapath dp = open_bridge(st->name);
        if (st->config) {
            Netlink nl;
            std::cout << format_config(bridge_config(dp, nl));
            return 0;
        }
        if (st->json)
            std::cout << status_json(dp).dump(2) << "\n";
        else
            print_status(dp, std::cout);
        return 0;
    });

    auto sa = std::make_shared<StatsArgs>();
    auto *stats = app.add_subcommand("stats", "Per-port counters");
    add_name_option(stats, sa->name);
    stats->add_option("--port", sa->port, "Only this port");
    auto *stats_json = stats->add_flag("--json", sa->json, "JSON output");
    stats->add_flag("--prometheus", sa->prometheus, "Prometheus text format")->excludes(stats_json);
    stats->add_option("--watch", sa->watch, "Redisplay every SECONDS with rates");
    stats->add_flag("--vlan", sa->vlan, "Per-VLAN counters (the VLANs in use)");
    cmds.add(stats, [sa] { return run_stats(*sa); });

    auto ta = std::make_shared<TraceArgs>();
    auto *trace = app.add_subcommand("trace", "Print one line per frame the bridge handles");
    add_name_option(trace, ta->name);
    trace->add_option("--port", ta->port, "Only frames in or out of this port");
    trace->add_option("--mac", ta->mac, "Only frames from or to this MAC");
    trace->add_option("--count", ta->count, "Stop after N frames");
    trace->add_flag("--json", ta->json, "JSON lines");
    cmds.add(trace, [ta] { return run_trace(*ta); });
}

} // namespace xb::cli
