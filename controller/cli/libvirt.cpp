// SPDX-License-Identifier: BSD-2-Clause
// libvirt-hook: libvirt's QEMU hook (/etc/libvirt/hooks/qemu.d/xbridge runs it) makes
// and removes the taps of a guest's xbridge interfaces.
#include "bridge.hpp"
#include "cli/cli.hpp"
#include "guest.hpp"
#include "libvirt.hpp"

#include <fmt/format.h>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

namespace xb::cli {

namespace {

struct HookArgs {
    std::vector<std::string> args; // DOMAIN OPERATION SUB-OPERATION [EXTRA]
};

int run_hook(const HookArgs &a) {
    // libvirt writes the domain's XML for every operation: read it whole, so that its
    // write never meets a closed pipe.
    std::stringstream ss;
    ss << std::cin.rdbuf();
    const std::string &op = a.args[1], &sub = a.args[2];
    const bool prepare = op == "prepare" && sub == "begin";
    const bool release = op == "release" && sub == "end";
    if (!prepare && !release)
        return 0; // nothing to do at the other steps of a guest's life
    const GuestDomain dom = parse_domain(ss.str());
    BridgeLock lock;
    Netlink nl;
    const auto lines = prepare ? guest_prepare(dom, nl) : guest_release(dom, nl);
    for (const auto &l : lines)
        std::cout << fmt::format("xbridge: domain {}: {}\n", dom.name, l);
    return 0;
}

} // namespace

void add_libvirt(CLI::App &app, Commands &cmds) {
    auto ha = std::make_shared<HookArgs>();
    auto *hook = app.add_subcommand(
        "libvirt-hook",
        "libvirt's QEMU hook: makes and attaches a guest's taps at prepare begin, removes them "
        "at release end (domain XML on stdin)");
    hook->add_option("args", ha->args, "DOMAIN OPERATION SUB-OPERATION [EXTRA]")
        ->required()
        ->expected(3, 4);
    cmds.add(hook, [ha] { return run_hook(*ha); });
}

} // namespace xb::cli
