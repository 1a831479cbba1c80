// SPDX-License-Identifier: BSD-2-Clause
#include "options.hpp"

#include "error.hpp"

#include <algorithm>
#include <charconv>
#include <fmt/format.h>

namespace xb {

bool valid_ifname(std::string_view name) {
    if (name.empty() || name.size() >= 16 || name == "." || name == "..")
        return false;
    // '%' makes a name a template the kernel fills in (tap%d → tap0): no device has it, and
    // a tap created under it would not be the device asked for.
    return std::none_of(name.begin(), name.end(), [](char c) {
        return c == '/' || c == ':' || c == '%' || c == ' ' || c == '\t' || c == '\n' ||
               c == '\r' || c == '\v' || c == '\f' || c == '\0';
    });
}

bool valid_bridge_name(std::string_view name) {
    if (!valid_ifname(name))
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

std::optional<XdpMode> parse_xdp_mode(std::string_view s) {
    if (s == "auto")
        return XdpMode::Auto;
    if (s == "native" || s == "drv")
        return XdpMode::Native;
    if (s == "none")
        return XdpMode::None;
    return std::nullopt;
}

std::string_view to_string(XdpMode m) {
    switch (m) {
    case XdpMode::Native:
        return "native";
    case XdpMode::None:
        return "none";
    default:
        return "auto";
    }
}

PortPlan plan_ports(const std::vector<std::string> &ports, const std::optional<std::string> &uplink,
                    size_t max_ports) {
    PortPlan plan;
    for (const auto &p : ports) {
        if (!valid_ifname(p))
            throw Error(fmt::format("invalid interface name '{}' (1-15 characters, no '/', ':', "
                                    "'%' or spaces)",
                                    p));
        if (std::find(plan.ports.begin(), plan.ports.end(), p) != plan.ports.end())
            throw Error(fmt::format("port {} is given twice", p));
        plan.ports.push_back(p);
    }
    if (uplink && *uplink != "none") {
        if (!valid_ifname(*uplink))
            throw Error(fmt::format("invalid uplink name '{}'", *uplink));
        auto it = std::find(plan.ports.begin(), plan.ports.end(), *uplink);
        if (it == plan.ports.end())
            plan.ports.insert(plan.ports.begin(), *uplink);
        else
            std::rotate(plan.ports.begin(), it, it + 1);
        plan.uplink = *uplink;
    } else if (!uplink && !plan.ports.empty()) {
        plan.uplink = plan.ports.front();
    }
    if (plan.ports.size() > max_ports)
        throw Error(fmt::format("too many ports: {} (at most {})", plan.ports.size(), max_ports));
    return plan;
}

std::optional<long long> parse_number(std::string_view s, long long min, long long max) {
    long long v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || v < min || v > max)
        return std::nullopt;
    return v;
}

} // namespace xb
