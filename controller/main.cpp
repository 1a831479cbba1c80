// SPDX-License-Identifier: BSD-2-Clause
// The xbridge command line: the command groups live in cli/. Every failure ends here as
// one line on stderr naming its cause, and a non-zero exit status.
#include "cli/cli.hpp"
#include "error.hpp"
#include "fd.hpp"

#include <CLI/CLI.hpp>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <iostream>
#include <optional>
#include <sched.h>
#include <unistd.h>
#include <xbridge/abi.h>

using namespace xb;

namespace {

void require_root() {
    if (::geteuid() != 0)
        throw Error("must be run as root (xbridge needs CAP_NET_ADMIN and CAP_BPF)", EPERM);
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
    if ((level == LIBBPF_WARN || level == LIBBPF_DEBUG) && std::getenv("XBRIDGE_DEBUG"))
        return vfprintf(stderr, fmt, args);
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

int run(int argc, char **argv) {
    CLI::App app{"xbridge: an XDP learning bridge for VM hosts"};
    app.require_subcommand(1);
    std::string netns;
    auto *netns_opt =
        app.add_option("-n,--netns", netns, "Work in this named network namespace (as ip -n)");

    cli::Commands cmds;
    cli::add_lifecycle(app, cmds);
    cli::add_observe(app, cmds);
    cli::add_fdb(app, cmds);
    cli::add_policy(app, cmds);
    cli::add_vlan(app, cmds);
    cli::add_capture(app, cmds);
    cli::add_mcast(app, cmds);
    cli::add_apply(app, cmds);
    cli::add_libvirt(app, cmds);
    auto *version = app.add_subcommand("version", "Print the version");
    cmds.add(
        version,
        [] {
            std::cout << "xbridge " << XBRIDGE_VERSION << " (datapath ABI " << XB_ABI_VERSION
                      << ")\n";
            return 0;
        },
        false);

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
        const cli::Command *cmd = cmds.parsed();
        if (!cmd)
            return 0;
        if (cmd->needs_root) {
            if (netns_opt->count() && netns.empty())
                throw Error("--netns: the namespace name is empty", EINVAL);
            require_root();
            if (!netns.empty())
                enter_netns(netns);
        }
        return cmd->run();
    } catch (const std::exception &e) {
        std::cerr << "xbridge: " << e.what() << "\n";
        return 1;
    }
}

} // namespace

// Every failure ends in one line on stderr and a non-zero exit, whatever throws.
int main(int argc, char **argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception &e) {
        std::cerr << "xbridge: " << e.what() << "\n";
    }
    return 1;
}
