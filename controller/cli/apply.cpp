// SPDX-License-Identifier: BSD-2-Clause
// apply: a bridge made what its configuration file (/etc/xbridge/NAME.toml) says.
#include "apply.hpp"
#include "bridge.hpp"
#include "cli/cli.hpp"
#include "config.hpp"
#include "controller.hpp"
#include "error.hpp"
#include "metrics.hpp"
#include "options.hpp"

#include <cerrno>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <memory>
#include <optional>

namespace xb::cli {

namespace {

struct ApplyArgs {
    std::string file, name;
    bool foreground = false;
};

// The bridge becomes what its file says; a controller is started (or, with
// --foreground, this process becomes it) when the bridge has none.
int run_apply(const ApplyArgs &a) {
    std::string path = a.file, stem;
    if (a.file.empty()) {
        stem = a.name.empty() ? kDefaultBridge : a.name;
        if (!valid_bridge_name(stem))
            throw Error(
                fmt::format("invalid bridge name '{}' (1-15 characters of A-Z a-z 0-9 _ -)", stem),
                EINVAL);
        path = config_path(stem);
    } else {
        stem = std::filesystem::path(a.file).stem().string();
    }
    const BridgeConfig cfg = load_config(path, stem);
    if (!a.name.empty() && cfg.name != a.name)
        throw Error(fmt::format("{}: names bridge {}, not {}", path, cfg.name, a.name), EINVAL);
    require_bpf();
    std::optional<BridgeLock> lock(std::in_place);
    std::optional<Datapath> existing = Datapath::open(cfg.name);
    const bool need_controller = !existing || !controller_alive(*existing);
    if (existing && !need_controller && a.foreground)
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
        if (need_controller && !a.foreground)
            pid = spawn_controller(cfg.name, std::move(server));
    });
    for (const auto &c : res.changes)
        std::cout << fmt::format("{}: {}\n", cfg.name, c);
    if (res.changes.empty())
        std::cout << fmt::format("{}: nothing changed\n", cfg.name);
    if (a.foreground) {
        std::cout.flush();
        // This process is the controller now, which takes the lock only for moments.
        lock.reset();
        return run_controller(cfg.name, std::move(server));
    }
    if (need_controller)
        std::cout << fmt::format("{}: controller started (pid {}, metrics {}, log {})\n", cfg.name,
                                 pid, format_metrics_addr(addr), log_path(cfg.name));
    return 0;
}

} // namespace

void add_apply(CLI::App &app, Commands &cmds) {
    auto aa = std::make_shared<ApplyArgs>();
    auto *apply = app.add_subcommand(
        "apply", "Make a bridge what its configuration file says (create it, or change it)");
    auto *file = apply->add_option("-f,--file", aa->file, "The configuration file");
    apply
        ->add_option("--name", aa->name,
                     fmt::format("Bridge name: its file is {}/NAME.toml (default {})", config_dir(),
                                 kDefaultBridge))
        ->excludes(file);
    apply->add_flag("--foreground", aa->foreground,
                    "Run the controller here when the bridge needs one (systemd)");
    cmds.add(apply, [aa] { return run_apply(*aa); });
}

} // namespace xb::cli
