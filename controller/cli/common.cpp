// SPDX-License-Identifier: BSD-2-Clause
#include "bridge.hpp"
#include "cli/cli.hpp"
#include "error.hpp"
#include "options.hpp"

#include <bpf/libbpf.h>
#include <cerrno>
#include <fmt/format.h>

namespace xb::cli {

const Command *Commands::parsed() const {
    for (const auto &c : list_)
        if (c.app->parsed())
            return &c;
    return nullptr;
}

void require_bpf() {
    if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, nullptr) <= 0 ||
        libbpf_probe_bpf_map_type(BPF_MAP_TYPE_DEVMAP_HASH, nullptr) <= 0)
        throw Error("this kernel lacks the BPF support xbridge needs (XDP programs, devmaps)",
                    ENOSYS);
}

CLI::Option *add_name_option(CLI::App *sub, std::string &name) {
    return sub->add_option("--name", name, "Bridge name")->default_val(kDefaultBridge);
}

CLI::App *add_show(CLI::App *group, Commands &cmds, const std::string &description,
                   const std::shared_ptr<ShowArgs> &args,
                   const std::function<void(CLI::App *)> &extra,
                   std::function<void(Datapath &, bool json)> print) {
    auto *show = group->add_subcommand("show", description);
    args->name = kDefaultBridge;
    add_name_option(show, args->name);
    if (extra)
        extra(show);
    show->add_flag("--json", args->json, "JSON output");
    cmds.add(show, [args, print = std::move(print)] {
        Datapath dp = open_bridge(args->name);
        print(dp, args->json);
        return 0;
    });
    return show;
}

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

} // namespace xb::cli
