// SPDX-License-Identifier: BSD-2-Clause
#include "libvirt.hpp"

#include "error.hpp"
#include "options.hpp"
#include "port_policy.hpp"

#include <xbridge/abi.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pugixml.hpp>

namespace xb {

namespace {

// The element's namespace URI: pugixml keeps prefixes as part of the name, so the
// binding is looked up on the element and its ancestors, as an XML namespace is.
std::string namespace_of(const pugi::xml_node &n) {
    const std::string name = n.name();
    const auto colon = name.find(':');
    const std::string attr =
        colon == std::string::npos ? "xmlns" : "xmlns:" + name.substr(0, colon);
    for (pugi::xml_node p = n; p; p = p.parent())
        if (auto a = p.attribute(attr.c_str()))
            return a.value();
    return "";
}

std::string local_name(const pugi::xml_node &n) {
    const std::string name = n.name();
    const auto colon = name.find(':');
    return colon == std::string::npos ? name : name.substr(colon + 1);
}

bool yes_no(const std::string &what, const char *v) {
    const std::string s = v;
    if (s == "yes" || s == "on" || s == "true")
        return true;
    if (s == "no" || s == "off" || s == "false")
        return false;
    throw Error(fmt::format("{}: '{}' is not yes or no", what, s), EINVAL);
}

void parse_port(const pugi::xml_node &port, const std::optional<std::string> &bridge,
                GuestDomain &d) {
    const std::string dev = port.attribute("dev").value();
    if (dev.empty())
        throw Error("domain metadata: an xbridge port without dev", EINVAL);
    GuestInterface *gi = nullptr;
    for (auto &i : d.interfaces)
        if (i.dev == dev)
            gi = &i;
    if (!gi)
        throw Error(fmt::format("domain metadata: port {} is no <interface type='ethernet'> "
                                "<target dev='{}'/> of domain {}",
                                dev, dev, d.name),
                    EINVAL);
    gi->in_metadata = true;
    gi->bridge = bridge;
    for (const auto &a : port.attributes()) {
        const std::string key = a.name();
        const std::string what = fmt::format("domain metadata: port {} {}", dev, key);
        if (key == "dev")
            continue;
        if (key == "bridge") {
            if (!valid_bridge_name(a.value()))
                throw Error(fmt::format("{}: '{}' is no bridge name", what, a.value()), EINVAL);
            gi->bridge = a.value();
            continue;
        }
        if (key == "vlan" || key == "vlans") {
            if (gi->vlans)
                throw Error(fmt::format("{}: vlan and vlans together (vlan=\"N\" is vlans=\"N pvid "
                                        "untagged\")",
                                        what),
                            EINVAL);
            std::vector<VlanConfig> v;
            const std::string val = a.value();
            if (key == "vlan") {
                auto n = parse_number(val, 1, 4094);
                if (!n)
                    throw Error(fmt::format("{}: '{}' is not a VLAN (1-4094)", what, val), EINVAL);
                v.push_back({static_cast<uint16_t>(*n), true, true});
            } else {
                // The entries of the file's `vlans`, comma separated.
                for (size_t pos = 0; pos <= val.size();) {
                    const size_t comma = std::min(val.find(',', pos), val.size());
                    if (auto why = parse_vlan_entry(val.substr(pos, comma - pos), v))
                        throw Error(fmt::format("{}: {}", what, *why), EINVAL);
                    pos = comma + 1;
                }
            }
            gi->vlans = v;
            continue;
        }
        if (key == "rate-limit" || key == "allowed-ip") {
            // As `port set` takes them; their errors name the port.
            const std::string val = a.value();
            try {
                if (key == "rate-limit") {
                    const auto b = val.find(" burst ");
                    gi->rate_limit = b == std::string::npos
                                         ? parse_rate_limit(val, std::nullopt)
                                         : parse_rate_limit(val.substr(0, b),
                                                            std::string_view(val).substr(b + 7));
                } else {
                    AllowedIps ips = parse_allowed_ips(val);
                    std::sort(ips.v4.begin(), ips.v4.end());
                    std::sort(ips.v6.begin(), ips.v6.end());
                    gi->allowed_ips = ips;
                }
            } catch (const Error &e) {
                throw Error(fmt::format("domain metadata: port {}: {}", dev, e.what()), EINVAL);
            }
            continue;
        }
        if (key == "storm-limit") {
            auto v = parse_number(a.value(), 0, 100000000);
            if (!v)
                throw Error(fmt::format("{}: '{}' is not a number", what, a.value()), EINVAL);
            gi->storm_pps = static_cast<uint32_t>(*v);
            continue;
        }
        bool known = false;
        for (const auto &f : kPortFlagKeys) {
            if (key != f.key)
                continue;
            known = true;
            gi->flags = f.apply(gi->flags.value_or(XB_PORT_DEFAULT_FLAGS), yes_no(what, a.value()));
        }
        if (!known) {
            std::vector<std::string> keys = {"bridge",      "vlan",       "vlans",
                                             "storm-limit", "rate-limit", "allowed-ip"};
            for (const auto &f : kPortFlagKeys)
                keys.emplace_back(f.key);
            throw Error(fmt::format("{}: unknown attribute ({})", what, fmt::join(keys, ", ")),
                        EINVAL);
        }
    }
}

} // namespace

GuestDomain parse_domain(std::string_view xml) {
    pugi::xml_document doc;
    const pugi::xml_parse_result r = doc.load_buffer(xml.data(), xml.size());
    if (!r)
        throw Error(fmt::format("domain XML: {} at offset {}", r.description(), r.offset), EINVAL);
    const pugi::xml_node dom = doc.child("domain");
    if (!dom)
        throw Error("domain XML: no <domain> element", EINVAL);
    GuestDomain d;
    d.name = dom.child_value("name");
    for (const auto &i : dom.child("devices").children("interface")) {
        if (std::strcmp(i.attribute("type").value(), "ethernet") != 0)
            continue;
        const auto target = i.child("target");
        GuestInterface gi;
        gi.dev = target.attribute("dev").value();
        if (gi.dev.empty())
            continue; // libvirt names it (vnetN) and makes it: not a tap made for it
        gi.unmanaged = std::strcmp(target.attribute("managed").value(), "no") == 0;
        gi.model = i.child("model").attribute("type").value();
        if (auto q = i.child("driver").attribute("queues")) {
            auto v = parse_number(q.value(), 1, 256);
            if (!v)
                throw Error(fmt::format("domain XML: interface {}: driver queues '{}' is not 1-256",
                                        gi.dev, q.value()),
                            EINVAL);
            gi.queues = static_cast<unsigned>(*v);
        }
        if (auto m = i.child("mtu").attribute("size")) {
            auto v = parse_number(m.value(), 68, 65535);
            if (!v)
                throw Error(fmt::format("domain XML: interface {}: mtu '{}' is not 68-65535",
                                        gi.dev, m.value()),
                            EINVAL);
            gi.mtu = static_cast<uint32_t>(*v);
        }
        d.interfaces.push_back(gi);
    }
    for (const auto &m : dom.child("metadata").children()) {
        if (m.type() != pugi::node_element || namespace_of(m) != kLibvirtNs)
            continue;
        if (local_name(m) != "guest")
            throw Error(fmt::format("domain metadata: <{}> in the xbridge namespace: only <guest> "
                                    "(with <port> elements)",
                                    m.name()),
                        EINVAL);
        std::optional<std::string> bridge;
        if (auto b = m.attribute("bridge")) {
            if (!valid_bridge_name(b.value()))
                throw Error(
                    fmt::format("domain metadata: guest bridge '{}' is no bridge name", b.value()),
                    EINVAL);
            bridge = b.value();
            // Every interface of the guest is on it unless its port says otherwise.
            for (auto &gi : d.interfaces)
                gi.bridge = bridge;
        }
        for (const auto &p : m.children()) {
            if (p.type() != pugi::node_element)
                continue;
            if (namespace_of(p) != kLibvirtNs || local_name(p) != "port")
                throw Error(
                    fmt::format("domain metadata: <{}> in <{}>: only <port>", p.name(), m.name()),
                    EINVAL);
            parse_port(p, bridge, d);
        }
    }
    return d;
}

} // namespace xb
