// SPDX-License-Identifier: BSD-2-Clause
// up, down, restart, upgrade: a bridge's life.
#include "bridge.hpp"
#include "cli/cli.hpp"
#include "controller.hpp"
#include "error.hpp"
#include "metrics.hpp"
#include "netlink.hpp"
#include "options.hpp"
#include "tap.hpp"
#include "vlan.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <iostream>
#include <memory>
#include <optional>

namespace xb::cli {

namespace {

struct UpArgs {
    UpOptions upo;
    std::string uplink, xdp_mode = "auto", tap_user, tap_group, tap_queues, fdb_size, ageing,
                        max_learned, max_ports, metrics, vlan_protocol;
    bool foreground = false;
};

int cmd_up(UpOptions &upo, const std::optional<MetricsAddr> &maddr, bool foreground) {
    // What can be judged without touching the system is judged first.
    if (!valid_bridge_name(upo.name))
        throw Error(
            fmt::format("invalid bridge name '{}' (1-15 characters of A-Z a-z 0-9 _ -)", upo.name),
            EINVAL);
    plan_ports(upo.ports, upo.uplink, XB_MAX_PORTS - 1);
    // Held until the controller runs: an `up` and a `down` at once never interleave.
    std::optional<BridgeLock> lock(std::in_place);
    // The controller's metrics socket is bound before anything changes, so that a port
    // in use fails `up` with nothing to roll back.
    std::unique_ptr<MetricsServer> server;
    std::optional<Datapath> existing = Datapath::open(upo.name);
    if (existing && !upo.new_bridge_only.empty())
        throw Error(
            fmt::format("bridge {} exists: {} only {} a new bridge (`xbridge set` "
                        "changes ageing-time, max-learned, vlan-filtering and vlan-protocol)",
                        upo.name, fmt::join(upo.new_bridge_only, ", "),
                        upo.new_bridge_only.size() == 1 ? "shapes" : "shape"),
            EEXIST);
    const bool need_controller = !existing || !controller_alive(*existing);
    if (existing && !need_controller && maddr && !foreground) {
        const MetricsAddr cur{existing->config()->metrics_ip4, existing->config()->metrics_port};
        if (cur.ip4 != maddr->ip4 || cur.port != maddr->port)
            throw Error(
                fmt::format("bridge {}'s controller serves metrics on {}: --metrics applies "
                            "when a controller starts",
                            upo.name, format_metrics_addr(cur)),
                EEXIST);
    }
    if (existing && !need_controller && foreground)
        throw Error(fmt::format("bridge {} already has a controller (pid {})", upo.name,
                                existing->config()->controller_pid),
                    EEXIST);
    MetricsAddr addr{htonl(INADDR_LOOPBACK), kDefaultMetricsPort};
    if (maddr)
        addr = *maddr;
    else if (existing)
        addr = {existing->config()->metrics_ip4, existing->config()->metrics_port};
    existing.reset();
    if (need_controller && addr.port)
        server = std::make_unique<MetricsServer>(upo.name, addr);

    Netlink nl;
    int pid = 0;
    // The controller starts inside bridge_up's transaction: if it cannot, the bridge is
    // left as it was (a new bridge removed, new ports taken out, new taps deleted).
    UpResult res = bridge_up(upo, nl, [&](Datapath &dp) {
        if (!need_controller)
            return;
        dp.config()->metrics_ip4 = addr.ip4;
        dp.config()->metrics_port = addr.port;
        if (!foreground)
            pid = spawn_controller(upo.name, std::move(server));
    });
    for (const auto &t : res.created)
        std::cout << fmt::format("created tap {}\n", t);
    for (const auto &p : res.added)
        std::cout << fmt::format("port {} added to {}\n", p, upo.name);
    if (foreground) {
        std::cout.flush();
        // The bridge is made: this process is its controller now, which takes the lock
        // only for moments, as a spawned one does (it inherits no lock either).
        lock.reset();
        return run_controller(upo.name, std::move(server));
    }
    if (need_controller)
        std::cout << fmt::format("bridge {} is up (controller pid {}, metrics {}, log {})\n",
                                 upo.name, pid, format_metrics_addr(addr), log_path(upo.name));
    else
        std::cout << fmt::format("bridge {} is up\n", upo.name);
    return 0;
}

int run_up(UpArgs &a) {
    require_bpf();
    UpOptions &upo = a.upo;
    if (!a.uplink.empty())
        upo.uplink = a.uplink;
    auto mode = parse_xdp_mode(a.xdp_mode);
    if (!mode && (a.xdp_mode == "generic" || a.xdp_mode == "skb"))
        throw Error("--xdp-mode: generic XDP is not offered (a port without native "
                    "XDP is served by the TC hook: use auto, or none for TC only)",
                    EINVAL);
    if (!mode)
        throw Error(fmt::format("--xdp-mode: '{}' is not auto, native or none", a.xdp_mode),
                    EINVAL);
    upo.xdp_mode = *mode;
    if (!a.tap_user.empty())
        upo.tap_owner.uid = resolve_user(a.tap_user);
    if (!a.tap_group.empty())
        upo.tap_owner.gid = resolve_group(a.tap_group);
    if (!a.tap_queues.empty())
        upo.tap_queues = number_option("--tap-queues", a.tap_queues, 1, kMaxTapQueues);
    if (!a.fdb_size.empty())
        upo.fdb_max = number_option("--fdb-size", a.fdb_size, 16, kMaxFdbSize);
    if (!a.ageing.empty())
        upo.ageing_sec = number_option("--ageing-time", a.ageing, 0, kMaxAgeingSec);
    if (!a.max_learned.empty())
        upo.max_learned = number_option("--max-learned", a.max_learned, 0, upo.fdb_max);
    if (!a.max_ports.empty())
        upo.max_ports = number_option("--max-ports", a.max_ports, 1, XB_MAX_PORTS - 1);
    for (const auto &[opt, given] :
         {std::pair{"--fdb-size", &a.fdb_size}, std::pair{"--max-ports", &a.max_ports},
          std::pair{"--ageing-time", &a.ageing}, std::pair{"--max-learned", &a.max_learned}})
        if (!given->empty())
            upo.new_bridge_only.emplace_back(opt);
    if (!a.vlan_protocol.empty()) {
        auto proto = parse_vlan_protocol(a.vlan_protocol);
        if (!proto)
            throw Error(
                fmt::format("--vlan-protocol: '{}' is not 802.1q or 802.1ad", a.vlan_protocol),
                EINVAL);
        upo.vlan_protocol = *proto;
        upo.new_bridge_only.emplace_back("--vlan-protocol");
    }
    if (upo.vlan_filtering)
        upo.new_bridge_only.emplace_back("--vlan-filtering");
    std::optional<MetricsAddr> maddr;
    if (!a.metrics.empty()) {
        maddr = parse_metrics_addr(a.metrics);
        if (!maddr)
            throw Error(fmt::format("--metrics: '{}' is not ADDR:PORT or off", a.metrics), EINVAL);
    }
    return cmd_up(upo, maddr, a.foreground);
}

void add_up(CLI::App &app, Commands &cmds) {
    auto a = std::make_shared<UpArgs>();
    auto *up = app.add_subcommand("up", "Create a bridge, or add ports to a running one");
    add_name_option(up, a->upo.name);
    up->add_option("--uplink", a->uplink, "The host's port (default: the first port), or none");
    up->add_option("--xdp-mode", a->xdp_mode, "auto, native or none")->default_val("auto");
    up->add_option("--tap-user", a->tap_user, "Owner of the taps xbridge creates");
    up->add_option("--tap-group", a->tap_group, "Group of the taps xbridge creates");
    up->add_option("--tap-queues", a->tap_queues,
                   fmt::format("Queues of the taps xbridge creates: 1 (default) single-queue, "
                               "2-{} multi-queue with a vnet header (QEMU queues=N)",
                               kMaxTapQueues));
    up->add_option("--fdb-size", a->fdb_size, "Dynamic FDB entries the bridge can hold");
    up->add_option("--ageing-time", a->ageing,
                   "Seconds before an unseen MAC is forgotten (0: never)");
    up->add_option("--max-learned", a->max_learned, "Cap on learned entries");
    up->add_option("--max-ports", a->max_ports,
                   fmt::format("Ports a new bridge can take (default {}, at most {})",
                               XB_DEFAULT_MAX_PORTS, XB_MAX_PORTS - 1));
    up->add_option("--metrics", a->metrics,
                   fmt::format("Serve /metrics on ADDR:PORT, or off (default 127.0.0.1:{})",
                               kDefaultMetricsPort));
    up->add_flag("--foreground", a->foreground, "Run the controller here, logging to stderr");
    up->add_flag("--vlan-filtering", a->upo.vlan_filtering,
                 "Filter VLANs as the kernel bridge's vlan_filtering 1 (`xbridge vlan`)");
    up->add_option("--vlan-protocol", a->vlan_protocol, "802.1q (default) or 802.1ad");
    up->add_option("ports", a->upo.ports, "Ports: existing devices, or taps to create");
    cmds.add(up, [a] { return run_up(*a); });
}

} // namespace

void add_lifecycle(CLI::App &app, Commands &cmds) {
    add_up(app, cmds);

    auto name = std::make_shared<std::string>(kDefaultBridge);
    auto *down = app.add_subcommand("down", "Remove a bridge and undo what up did");
    add_name_option(down, *name);
    cmds.add(down, [name] {
        BridgeLock lock;
        Netlink nl;
        bridge_down(*name, nl);
        remove_log(*name);
        std::cout << fmt::format("bridge {} removed\n", *name);
        return 0;
    });

    auto *restart = app.add_subcommand(
        "restart", "Restart the controller of a running bridge (the datapath keeps forwarding)");
    add_name_option(restart, *name);
    cmds.add(restart, [name] {
        BridgeLock lock;
        Datapath dp = open_bridge(*name);
        const MetricsAddr addr{dp.config()->metrics_ip4, dp.config()->metrics_port};
        // The new controller can bind the port only once the old one is gone: what can
        // be checked before stopping it is (an address that went away since `up`).
        if (addr.port)
            check_metrics_addr(addr);
        const bool was = stop_controller(dp);
        std::unique_ptr<MetricsServer> server;
        if (addr.port)
            server = std::make_unique<MetricsServer>(*name, addr);
        const int pid = spawn_controller(*name, std::move(server));
        std::cout << fmt::format("controller of {} {} (pid {})\n", *name,
                                 was ? "restarted" : "started", pid);
        return 0;
    });

    auto object = std::make_shared<std::string>();
    auto *upgrade = app.add_subcommand(
        "upgrade", "Replace a running bridge's programs in place (maps, FDB, counters kept)");
    add_name_option(upgrade, *name);
    upgrade->add_option("--object", *object, "Datapath object file (default: the built-in one)");
    cmds.add(upgrade, [name, object] {
        BridgeLock lock;
        Datapath dp = open_bridge(*name);
        const size_t n =
            bridge_upgrade(dp, object->empty() ? std::nullopt : std::optional(*object));
        std::cout << fmt::format("bridge {}: {} port{} switched to the new programs\n", *name, n,
                                 n == 1 ? "" : "s");
        return 0;
    });
}

} // namespace xb::cli
