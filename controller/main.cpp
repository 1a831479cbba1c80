// SPDX-License-Identifier: BSD-2-Clause
// The xbridge command line. Every failure ends here as one line on stderr naming its
// cause, and a non-zero exit status.
#include "apply.hpp"
#include "bridge.hpp"
#include "config.hpp"
#include "controller.hpp"
#include "error.hpp"
#include "fdb.hpp"
#include "netlink.hpp"
#include "options.hpp"
#include "show.hpp"
#include "stats.hpp"
#include "trace.hpp"

#include <CLI/CLI.hpp>
#include <bpf/libbpf.h>
#include <cerrno>
#include <arpa/inet.h>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <iostream>
#include <optional>
#include <chrono>
#include <csignal>
#include <sched.h>
#include <thread>
#include <unistd.h>

using namespace xb;

namespace {

void require_root() {
    if (::geteuid() != 0)
        throw Error("must be run as root (xbridge needs CAP_NET_ADMIN and CAP_BPF)", EPERM);
}

void require_bpf() {
    if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, nullptr) <= 0 ||
        libbpf_probe_bpf_map_type(BPF_MAP_TYPE_DEVMAP_HASH, nullptr) <= 0)
        throw Error("this kernel lacks the BPF support xbridge needs (XDP programs, devmaps)",
                    ENOSYS);
}

// -n NETNS: work inside a named network namespace (like `ip -n`), keeping this mount
// namespace so that the bridge's pins stay visible to every later command.
void enter_netns(const std::string &ns) {
    const std::string path = ns.find('/') == std::string::npos ? "/run/netns/" + ns : ns;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        throw_last_errno(fmt::format("network namespace {}", ns));
    if (::setns(fd.get(), CLONE_NEWNET) < 0)
        throw_last_errno(fmt::format("cannot enter network namespace {}", ns));
}

int silence_libbpf(enum libbpf_print_level level, const char *fmt, va_list args) {
    if (level == LIBBPF_WARN && std::getenv("XBRIDGE_DEBUG"))
        return vfprintf(stderr, fmt, args);
    if (level == LIBBPF_DEBUG && std::getenv("XBRIDGE_DEBUG"))
        return vfprintf(stderr, fmt, args);
    return 0;
}

// A storm limit above this is no limit at all on any host (frames per second per CPU).
constexpr long long kMaxStormPps = 100000000;

uint32_t number_option(const std::string &what, const std::string &s, long long min,
                       long long max) {
    auto v = parse_number(s, min, max);
    if (!v)
        throw Error(fmt::format("{}: '{}' is not a number from {} to {}", what, s, min, max),
                    EINVAL);
    return static_cast<uint32_t>(*v);
}

Mac mac_option(const std::string &s) {
    auto m = parse_mac(s);
    if (!m)
        throw Error(fmt::format("invalid MAC address '{}'", s), EINVAL);
    return *m;
}

uint16_t vlan_option(const std::string &s) {
    if (s.empty())
        return 0;
    auto v = parse_number(s, 0, 4094);
    if (!v)
        throw Error(fmt::format("VLAN '{}' is out of range (0-4094)", s), EINVAL);
    return static_cast<uint16_t>(*v);
}

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
        throw Error(fmt::format("bridge {} exists: {} only shape a new bridge (`xbridge set` "
                                "changes ageing-time and max-learned)",
                                upo.name, fmt::join(upo.new_bridge_only, ", ")),
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

// apply: the bridge becomes what its file says; a controller is started (or, with
// --foreground, this process becomes it) when the bridge has none.
int cmd_apply(const std::string &file, const std::string &name_opt, bool foreground) {
    std::string path = file, stem;
    if (file.empty()) {
        stem = name_opt.empty() ? kDefaultBridge : name_opt;
        if (!valid_bridge_name(stem))
            throw Error(
                fmt::format("invalid bridge name '{}' (1-15 characters of A-Z a-z 0-9 _ -)", stem),
                EINVAL);
        path = config_path(stem);
    } else {
        stem = std::filesystem::path(file).stem().string();
    }
    const BridgeConfig cfg = load_config(path, stem);
    if (!name_opt.empty() && cfg.name != name_opt)
        throw Error(fmt::format("{}: names bridge {}, not {}", path, cfg.name, name_opt), EINVAL);
    require_bpf();
    std::optional<BridgeLock> lock(std::in_place);
    std::optional<Datapath> existing = Datapath::open(cfg.name);
    const bool need_controller = !existing || !controller_alive(*existing);
    if (existing && !need_controller && foreground)
        throw Error(fmt::format("bridge {} already has a controller (pid {})", cfg.name,
                                existing->config()->controller_pid),
                    EEXIST);
    existing.reset();
    // Bound before anything changes, as `up` does: a port in use fails with nothing done.
    const MetricsAddr addr = config_metrics(cfg);
    std::unique_ptr<MetricsServer> server;
    if (need_controller && addr.port)
        server = std::make_unique<MetricsServer>(cfg.name, addr);
    Netlink nl;
    int pid = 0;
    const ApplyResult res = bridge_apply(cfg, nl, need_controller, [&](Datapath &) {
        if (need_controller && !foreground)
            pid = spawn_controller(cfg.name, std::move(server));
    });
    for (const auto &c : res.changes)
        std::cout << fmt::format("{}: {}\n", cfg.name, c);
    if (res.changes.empty())
        std::cout << fmt::format("{}: nothing changed\n", cfg.name);
    if (foreground) {
        std::cout.flush();
        lock.reset();
        return run_controller(cfg.name, std::move(server));
    }
    if (need_controller)
        std::cout << fmt::format("{}: controller started (pid {}, metrics {}, log {})\n", cfg.name,
                                 pid, format_metrics_addr(addr), log_path(cfg.name));
    return 0;
}

volatile sig_atomic_t g_watch_stop = 0;

int cmd_stats_watch(Datapath &dp, const std::optional<std::string> &port, uint32_t secs) {
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

// "A subcommand is required" names nothing when the word given is no command: finds
// the first word that is not a command where one was expected (`xbridge bogus`,
// `xbridge fdb bogus`), skipping options and their values.
std::optional<std::string> unknown_command(CLI::App &app, int argc, char **argv) {
    CLI::App *cur = &app;
    std::string path = "xbridge";
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        if (a.size() > 1 && a[0] == '-') {
            const std::string name = a.substr(0, a.find('='));
            const CLI::Option *o = cur->get_option_no_throw(name);
            if (o && o->get_expected_min() > 0 && a.find('=') == std::string::npos)
                i++; // its value
            continue;
        }
        const auto subs =
            cur->get_subcommands([&](const CLI::App *sub) { return sub->get_name() == a; });
        if (!subs.empty()) {
            cur = subs.front();
            path += " " + a;
            continue;
        }
        if (cur->get_require_subcommand_min() > 0)
            return fmt::format("unknown command '{} {}' (`{} --help` lists them)", path, a, path);
        return std::nullopt;
    }
    if (cur->get_require_subcommand_min() > 0) {
        std::vector<std::string> names;
        for (const CLI::App *sub : cur->get_subcommands({}))
            names.push_back(sub->get_name());
        return fmt::format("'{}' needs a command: {}", path, fmt::join(names, ", "));
    }
    return std::nullopt;
}

} // namespace

static int run(int argc, char **argv) {
    CLI::App app{"xbridge: an XDP learning bridge for VM hosts"};
    app.require_subcommand(1);
    std::string netns;
    auto *netns_opt =
        app.add_option("-n,--netns", netns, "Work in this named network namespace (as ip -n)");

    // up
    auto *up = app.add_subcommand("up", "Create a bridge, or add ports to a running one");
    UpOptions upo;
    std::string uplink, xdp_mode = "auto", tap_user, tap_group, fdb_size, ageing, max_learned,
                        metrics;
    bool foreground = false;
    up->add_option("--name", upo.name, "Bridge name")->default_val(kDefaultBridge);
    up->add_option("--uplink", uplink, "The host's port (default: the first port), or none");
    up->add_option("--xdp-mode", xdp_mode, "auto, native or none")->default_val("auto");
    up->add_option("--tap-user", tap_user, "Owner of the taps xbridge creates");
    up->add_option("--tap-group", tap_group, "Group of the taps xbridge creates");
    std::string tap_queues;
    up->add_option("--tap-queues", tap_queues,
                   fmt::format("Queues of the taps xbridge creates: 1 (default) single-queue, "
                               "2-{} multi-queue with a vnet header (QEMU queues=N)",
                               kMaxTapQueues));
    up->add_option("--fdb-size", fdb_size, "Dynamic FDB entries the bridge can hold");
    up->add_option("--ageing-time", ageing, "Seconds before an unseen MAC is forgotten (0: never)");
    up->add_option("--max-learned", max_learned, "Cap on learned entries");
    std::string max_ports;
    up->add_option("--max-ports", max_ports,
                   fmt::format("Ports a new bridge can take (default {}, at most {})",
                               XB_DEFAULT_MAX_PORTS, XB_MAX_PORTS - 1));
    up->add_option("--metrics", metrics,
                   fmt::format("Serve /metrics on ADDR:PORT, or off (default 127.0.0.1:{})",
                               kDefaultMetricsPort));
    up->add_flag("--foreground", foreground, "Run the controller here, logging to stderr");
    up->add_option("ports", upo.ports, "Ports: existing devices, or taps to create");

    auto *down = app.add_subcommand("down", "Remove a bridge and undo what up did");
    std::string name = kDefaultBridge;
    down->add_option("--name", name, "Bridge name")->default_val(kDefaultBridge);

    auto *restart = app.add_subcommand(
        "restart", "Restart the controller of a running bridge (the datapath keeps forwarding)");
    restart->add_option("--name", name, "Bridge name")->default_val(kDefaultBridge);

    auto *upgrade = app.add_subcommand(
        "upgrade", "Replace a running bridge's programs in place (maps, FDB, counters kept)");
    std::string object;
    upgrade->add_option("--name", name, "Bridge name")->default_val(kDefaultBridge);
    upgrade->add_option("--object", object, "Datapath object file (default: the built-in one)");

    auto *status = app.add_subcommand("status", "Show a bridge and its ports");
    bool json = false;
    status->add_option("--name", name, "Bridge name")->default_val(kDefaultBridge);
    auto *status_json_opt = status->add_flag("--json", json, "JSON output");
    bool status_config = false;
    status
        ->add_flag("--config", status_config,
                   "Print the bridge as a configuration file that apply accepts")
        ->excludes(status_json_opt);

    auto *fdb = app.add_subcommand("fdb", "Forwarding database");
    fdb->require_subcommand(1);
    auto *fdb_show = fdb->add_subcommand("show", "List FDB entries");
    std::string port;
    fdb_show->add_option("--name", name, "Bridge name")->default_val(kDefaultBridge);
    fdb_show->add_option("--port", port, "Only this port's entries");
    fdb_show->add_flag("--json", json, "JSON output");

    auto *fdb_add = fdb->add_subcommand("add", "Add a static entry: fdb add MAC dev PORT");
    std::vector<std::string> fdb_args;
    std::string vlan;
    fdb_add->add_option("--name", name, "Bridge name")->default_val(kDefaultBridge);
    fdb_add->add_option("entry", fdb_args, "MAC dev PORT")->required()->expected(3);
    fdb_add->add_option("--vlan", vlan, "VLAN id (0: untagged)");
    auto *fdb_del = fdb->add_subcommand("del", "Delete an entry: fdb del MAC");
    std::string mac_arg;
    fdb_del->add_option("--name", name, "Bridge name")->default_val(kDefaultBridge);
    fdb_del->add_option("mac", mac_arg, "MAC address")->required();
    fdb_del->add_option("--vlan", vlan, "VLAN id (0: untagged)");
    auto *fdb_flush = fdb->add_subcommand("flush", "Remove learned (and static) entries");
    bool dynamic_only = false;
    fdb_flush->add_option("--name", name, "Bridge name")->default_val(kDefaultBridge);
    fdb_flush->add_option("--port", port, "Only this port's entries");
    fdb_flush->add_flag("--dynamic", dynamic_only, "Only learned entries");

    auto *set = app.add_subcommand("set", "Change a running bridge: ageing-time S, max-learned N");
    std::string setting, value;
    set->add_option("--name", name, "Bridge name")->default_val(kDefaultBridge);
    set->add_option("setting", setting, "ageing-time or max-learned")->required();
    set->add_option("value", value, "New value")->required();

    auto *port_cmd = app.add_subcommand("port", "Port policy");
    port_cmd->require_subcommand(1);
    auto *port_set = port_cmd->add_subcommand(
        "set",
        "port set PORT FLAG on|off (learning, flood, mcast-flood, bcast-flood, locked, isolated, "
        "hairpin), or port set PORT storm-limit PPS (0: off)");
    std::vector<std::string> port_args;
    port_set->add_option("--name", name, "Bridge name")->default_val(kDefaultBridge);
    port_set->add_option("args", port_args, "PORT FLAG on|off, or PORT storm-limit PPS")
        ->required()
        ->expected(3);

    auto *stats = app.add_subcommand("stats", "Per-port counters");
    bool prometheus = false;
    std::string watch;
    stats->add_option("--name", name, "Bridge name")->default_val(kDefaultBridge);
    stats->add_option("--port", port, "Only this port");
    auto *stats_json = stats->add_flag("--json", json, "JSON output");
    stats->add_flag("--prometheus", prometheus, "Prometheus text format")->excludes(stats_json);
    stats->add_option("--watch", watch, "Redisplay every SECONDS with rates");

    auto *trace = app.add_subcommand("trace", "Print one line per frame the bridge handles");
    std::string trace_mac, trace_count;
    trace->add_option("--name", name, "Bridge name")->default_val(kDefaultBridge);
    trace->add_option("--port", port, "Only frames in or out of this port");
    trace->add_option("--mac", trace_mac, "Only frames from or to this MAC");
    trace->add_option("--count", trace_count, "Stop after N frames");
    trace->add_flag("--json", json, "JSON lines");

    // apply (issue 22: the configuration file)
    auto *apply = app.add_subcommand(
        "apply", "Make a bridge what its configuration file says (create it, or change it)");
    std::string apply_file, apply_name;
    auto *apply_f = apply->add_option("-f,--file", apply_file, "The configuration file");
    apply
        ->add_option("--name", apply_name,
                     "Bridge name: its file is /etc/xbridge/NAME.toml (default xbr0)")
        ->excludes(apply_f);
    apply->add_flag("--foreground", foreground,
                    "Run the controller here when the bridge needs one (systemd)");

    auto *version = app.add_subcommand("version", "Print the version");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp &e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp &e) {
        return app.exit(e);
    } catch (const CLI::ParseError &e) {
        if (auto unknown = unknown_command(app, argc, argv)) {
            std::cerr << "xbridge: " << *unknown << "\n";
            return 2;
        }
        std::cerr << "xbridge: " << e.what() << "\n";
        return 2;
    }

    libbpf_set_print(silence_libbpf);
    try {
        if (version->parsed()) {
            std::cout << "xbridge " << XBRIDGE_VERSION << " (datapath ABI " << XB_ABI_VERSION
                      << ")\n";
            return 0;
        }
        if (netns_opt->count() && netns.empty())
            throw Error("--netns: the namespace name is empty", EINVAL);
        require_root();
        if (!netns.empty())
            enter_netns(netns);

        if (up->parsed()) {
            require_bpf();
            if (!uplink.empty())
                upo.uplink = uplink;
            auto mode = parse_xdp_mode(xdp_mode);
            if (!mode && (xdp_mode == "generic" || xdp_mode == "skb"))
                throw Error("--xdp-mode: generic XDP is not offered (a port without native "
                            "XDP is served by the TC hook: use auto, or none for TC only)",
                            EINVAL);
            if (!mode)
                throw Error(fmt::format("--xdp-mode: '{}' is not auto, native or none", xdp_mode),
                            EINVAL);
            upo.xdp_mode = *mode;
            if (!tap_user.empty())
                upo.tap_owner.uid = resolve_user(tap_user);
            if (!tap_group.empty())
                upo.tap_owner.gid = resolve_group(tap_group);
            if (!tap_queues.empty())
                upo.tap_queues = number_option("--tap-queues", tap_queues, 1, kMaxTapQueues);
            if (!fdb_size.empty())
                upo.fdb_max = number_option("--fdb-size", fdb_size, 16, 1LL << 26);
            if (!ageing.empty())
                upo.ageing_sec = number_option("--ageing-time", ageing, 0, 1000000);
            if (!max_learned.empty())
                upo.max_learned = number_option("--max-learned", max_learned, 0, upo.fdb_max);
            if (!max_ports.empty())
                upo.max_ports = number_option("--max-ports", max_ports, 1, XB_MAX_PORTS - 1);
            for (const auto &[opt, given] :
                 {std::pair{"--fdb-size", &fdb_size}, std::pair{"--max-ports", &max_ports},
                  std::pair{"--ageing-time", &ageing}, std::pair{"--max-learned", &max_learned}})
                if (!given->empty())
                    upo.new_bridge_only.emplace_back(opt);
            std::optional<MetricsAddr> maddr;
            if (!metrics.empty()) {
                maddr = parse_metrics_addr(metrics);
                if (!maddr)
                    throw Error(fmt::format("--metrics: '{}' is not ADDR:PORT or off", metrics),
                                EINVAL);
            }
            return cmd_up(upo, maddr, foreground);
        }
        if (down->parsed()) {
            BridgeLock lock;
            Netlink nl;
            bridge_down(name, nl);
            remove_log(name);
            std::cout << fmt::format("bridge {} removed\n", name);
            return 0;
        }
        if (restart->parsed()) {
            BridgeLock lock;
            Datapath dp = open_bridge(name);
            const MetricsAddr addr{dp.config()->metrics_ip4, dp.config()->metrics_port};
            // The new controller can bind the port only once the old one is gone: what can
            // be checked before stopping it is (an address that went away since `up`).
            if (addr.port)
                check_metrics_addr(addr);
            const bool was = stop_controller(dp);
            std::unique_ptr<MetricsServer> server;
            if (addr.port)
                server = std::make_unique<MetricsServer>(name, addr);
            const int pid = spawn_controller(name, std::move(server));
            std::cout << fmt::format("controller of {} {} (pid {})\n", name,
                                     was ? "restarted" : "started", pid);
            return 0;
        }
        if (upgrade->parsed()) {
            BridgeLock lock;
            Datapath dp = open_bridge(name);
            const size_t n =
                bridge_upgrade(dp, object.empty() ? std::nullopt : std::optional(object));
            std::cout << fmt::format("bridge {}: {} port{} switched to the new programs\n", name, n,
                                     n == 1 ? "" : "s");
            return 0;
        }
        if (apply->parsed())
            return cmd_apply(apply_file, apply_name, foreground);
        if (status->parsed()) {
            Datapath dp = open_bridge(name);
            if (status_config) {
                Netlink nl;
                std::cout << format_config(bridge_config(dp, nl));
                return 0;
            }
            if (json)
                std::cout << status_json(dp).dump(2) << "\n";
            else
                print_status(dp, std::cout);
            return 0;
        }
        if (stats->parsed()) {
            Datapath dp = open_bridge(name);
            const std::optional<std::string> only =
                port.empty() ? std::nullopt : std::optional<std::string>(port);
            if (!watch.empty())
                return cmd_stats_watch(dp, only, number_option("--watch", watch, 1, 3600));
            if (prometheus)
                std::cout << prometheus_text(dp);
            else if (json)
                std::cout << counters_json(read_counters(dp, only)).dump(2) << "\n";
            else
                print_counters_table(read_counters(dp, only), std::cout);
            return 0;
        }
        if (trace->parsed()) {
            Datapath dp = open_bridge(name);
            TraceOptions to;
            to.json = json;
            if (!port.empty())
                to.port = port;
            if (!trace_mac.empty()) {
                to.mac = parse_mac(trace_mac);
                if (!to.mac)
                    throw Error(fmt::format("--mac: '{}' is not a MAC address", trace_mac), EINVAL);
            }
            if (!trace_count.empty())
                to.count = number_option("--count", trace_count, 1, 1LL << 40);
            run_trace(dp, to, std::cout);
            return 0;
        }
        if (fdb_add->parsed()) {
            if (fdb_args[1] != "dev")
                throw Error(fmt::format("expected 'fdb add MAC dev PORT', not 'fdb add {} {} {}'",
                                        fdb_args[0], fdb_args[1], fdb_args[2]),
                            EINVAL);
            const Mac mac = mac_option(fdb_args[0]);
            const uint16_t v = vlan_option(vlan);
            BridgeLock lock;
            Datapath dp = open_bridge(name);
            const SlotPort sp = dp.require_port(fdb_args[2]);
            fdb_add_static(dp, mac, v, sp.port.ifindex, sp.slot);
            return 0;
        }
        if (fdb_del->parsed()) {
            const Mac mac = mac_option(mac_arg);
            const uint16_t v = vlan_option(vlan);
            BridgeLock lock;
            Datapath dp = open_bridge(name);
            xb::fdb_del(dp, mac, v);
            return 0;
        }
        if (fdb_flush->parsed()) {
            BridgeLock lock;
            Datapath dp = open_bridge(name);
            std::optional<uint32_t> ifindex;
            if (!port.empty())
                ifindex = dp.require_port(port).port.ifindex;
            const size_t n = xb::fdb_flush(dp, ifindex, dynamic_only);
            std::cout << fmt::format("flushed {} entr{}\n", n, n == 1 ? "y" : "ies");
            return 0;
        }
        if (set->parsed()) {
            BridgeLock lock;
            Datapath dp = open_bridge(name);
            if (setting == "ageing-time" || setting == "ageing_time") {
                dp.config()->ageing_ns =
                    uint64_t(number_option("ageing-time", value, 0, 1000000)) * 1000000000ull;
            } else if (setting == "max-learned" || setting == "max_learned") {
                // 0: as many as the FDB holds. The datapath reads 0 as no cap at all,
                // which would let learning take the entries kept for static ones.
                const uint32_t cap = dp.fdb_capacity() - XB_FDB_STATIC_RESERVE;
                const uint32_t n = number_option("max-learned", value, 0, cap);
                dp.config()->max_learned = n ? n : cap;
            } else {
                throw Error(fmt::format("unknown setting '{}' (ageing-time, max-learned)", setting),
                            EINVAL);
            }
            return 0;
        }
        if (port_set->parsed() &&
            (port_args[1] == "storm-limit" || port_args[1] == "storm_limit")) {
            const uint32_t pps = number_option("storm-limit", port_args[2], 0, kMaxStormPps);
            BridgeLock lock;
            Datapath dp = open_bridge(name);
            set_port_storm_limit(dp, port_args[0], pps);
            return 0;
        }
        if (port_set->parsed()) {
            auto flag = parse_port_flag(port_args[1]);
            if (!flag)
                throw Error(fmt::format("unknown port flag '{}' (learning, flood, mcast-flood, "
                                        "bcast-flood, locked, isolated, hairpin, storm-limit)",
                                        port_args[1]),
                            EINVAL);
            if (port_args[2] != "on" && port_args[2] != "off")
                throw Error(
                    fmt::format("port flag {}: '{}' is not on or off", port_args[1], port_args[2]),
                    EINVAL);
            BridgeLock lock;
            Datapath dp = open_bridge(name);
            set_port_flag(dp, port_args[0], *flag, port_args[2] == "on");
            return 0;
        }
        if (fdb_show->parsed()) {
            Datapath dp = open_bridge(name);
            FdbFilter filter;
            if (!port.empty())
                filter.ifindex = dp.require_port(port).port.ifindex;
            print_fdb(dp, filter, json, std::cout);
            return 0;
        }
    } catch (const Error &e) {
        std::cerr << "xbridge: " << e.what() << "\n";
        return 1;
    } catch (const std::exception &e) {
        std::cerr << "xbridge: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

// Every failure ends in one line on stderr and a non-zero exit, whatever throws.
int main(int argc, char **argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception &e) {
        std::cerr << "xbridge: " << e.what() << "\n";
    }
    return 1;
}
