// SPDX-License-Identifier: BSD-2-Clause
// The command line, one file per command group. A group adds its subcommands to the
// app and, for each, what runs when it was the one given: parse and print only, the
// work is done by the bridge operations (bridge.hpp, fdb.hpp, ...).
#pragma once

#include "mac.hpp"
#include "vlan.hpp"

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace xb {
class Datapath;
} // namespace xb

namespace xb::cli {

struct Command {
    const CLI::App *app;
    std::function<int()> run;
    bool needs_root = true; // and the -n namespace: false only for what reads no bridge
};

// What every group registers into; main() runs the one command that was parsed.
class Commands {
  public:
    void add(const CLI::App *app, std::function<int()> run, bool needs_root = true) {
        list_.push_back({app, std::move(run), needs_root});
    }
    [[nodiscard]] const Command *parsed() const;

  private:
    std::vector<Command> list_;
};

// The command groups (cli/<group>.cpp).
void add_lifecycle(CLI::App &app, Commands &cmds); // up, down, restart, upgrade
void add_observe(CLI::App &app, Commands &cmds);   // status, stats, trace
void add_fdb(CLI::App &app, Commands &cmds);       // fdb show/add/del/flush
void add_policy(CLI::App &app, Commands &cmds);    // set, port set
void add_vlan(CLI::App &app, Commands &cmds);      // vlan add/del/show
void add_capture(CLI::App &app, Commands &cmds);   // capture
void add_mcast(CLI::App &app, Commands &cmds);     // mdb show
void add_apply(CLI::App &app, Commands &cmds);     // apply
void add_libvirt(CLI::App &app, Commands &cmds);   // libvirt-hook

// Helpers shared by the groups. Each throws Error with one line naming the cause.
void require_bpf();
// --name NAME, defaulting to the default bridge.
CLI::Option *add_name_option(CLI::App *sub, std::string &name);
// A group's `show` subcommand (fdb show, mdb show): --name, `extra` options of its own,
// --json, and `print` run on the bridge opened without the lock (a reader only).
struct ShowArgs {
    std::string name; // the default bridge unless --name
    bool json = false;
};
CLI::App *add_show(CLI::App *group, Commands &cmds, const std::string &description,
                   const std::shared_ptr<ShowArgs> &args,
                   const std::function<void(CLI::App *)> &extra,
                   std::function<void(xb::Datapath &, bool json)> print);
uint32_t number_option(const std::string &what, const std::string &s, long long min, long long max);
Mac mac_option(const std::string &s);
uint16_t vlan_option(const std::string &s);
// stats --vlan: per-VLAN counters (cli/vlan.cpp).
void print_vlan_counters(const std::vector<VlanCounters> &rows, bool json, std::ostream &out);

} // namespace xb::cli
