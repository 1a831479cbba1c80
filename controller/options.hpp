// SPDX-License-Identifier: BSD-2-Clause
// Validation of what the user types, kept free of system calls so it is unit-tested.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xb {

// Auto: native XDP where the driver has it, else none; None: no XDP, the TC hook takes
// every frame. (Generic XDP is not offered: it would give a port nothing TC does not.)
enum class XdpMode { Auto, Native, None };

// The kernel's dev_valid_name(): 1-15 bytes, not "." or "..", no '/', ':' or space.
bool valid_ifname(std::string_view name);
// A bridge name doubles as a directory under /sys/fs/bpf/xbridge: ifname rules, and
// only [A-Za-z0-9_-] (bpffs refuses names with a dot).
bool valid_bridge_name(std::string_view name);

std::optional<XdpMode> parse_xdp_mode(std::string_view s);
std::string_view to_string(XdpMode m);

// The ports of `up` in attach order and which of them is the uplink.
struct PortPlan {
    std::vector<std::string> ports;
    std::optional<std::string> uplink; // nullopt: --uplink none
};

// Applies the rules of `xbridge up [--uplink DEV|none] PORT...`: the uplink is the first
// port unless --uplink names one (a DEV not among the ports is added in front) or says
// "none". Throws xb::Error for an invalid or repeated name, or too many ports.
PortPlan plan_ports(const std::vector<std::string> &ports, const std::optional<std::string> &uplink,
                    size_t max_ports);

// The ageing time of a bridge that is given none (the kernel bridge's), and the most
// `up`, `set` and the file take (seconds).
constexpr unsigned kDefaultAgeingSec = 300;
constexpr unsigned kMaxAgeingSec = 1000000;
// The largest FDB `up --fdb-size` and the file's fdb-size make, and the largest storm
// limit `port set` and the file take: above it no limit on any host (frames per second
// per CPU).
constexpr long long kMaxFdbSize = 1LL << 26;
constexpr long long kMaxStormPps = 100000000;

// Parses a whole decimal number in [min, max]; nullopt for anything else.
std::optional<long long> parse_number(std::string_view s, long long min, long long max);

} // namespace xb
