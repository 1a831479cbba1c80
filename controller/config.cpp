// SPDX-License-Identifier: BSD-2-Clause
#include "config.hpp"

#include <xbridge/abi.h>

#include <algorithm>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

namespace xb {

const FlagName kPortFlagKeys[7] = {
    {"learning", XB_PORT_LEARNING},       {"flood", XB_PORT_FLOOD},
    {"mcast-flood", XB_PORT_MCAST_FLOOD}, {"bcast-flood", XB_PORT_BCAST_FLOOD},
    {"locked", XB_PORT_LOCKED},           {"isolated", XB_PORT_ISOLATED},
    {"hairpin", XB_PORT_HAIRPIN},
};

namespace {

// Limits shared with the command line (main.cpp's options of `up`).
constexpr long long kMaxAgeing = 1000000;
constexpr long long kMaxFdbSize = 1LL << 26;
constexpr long long kMaxStormPps = 100000000;
constexpr long long kMaxTapQueues = 256;

class Parser {
  public:
    explicit Parser(std::string file) : file_(std::move(file)) {}

    [[noreturn]] void fail(const toml::node &n, const std::string &why) const {
        fail_at(int(n.source().begin.line), why);
    }
    [[noreturn]] void fail_at(int line, const std::string &why) const {
        if (line > 0)
            throw ConfigError(fmt::format("{}:{}: {}", file_, line, why));
        throw ConfigError(fmt::format("{}: {}", file_, why));
    }

    // Every key of `t` must be one of `known`: a misspelt key is an error, not a
    // setting silently ignored (and a newer file's keys are refused by an older build).
    void only_keys(const toml::table &t, std::initializer_list<std::string_view> known,
                   const std::string &where) const {
        for (auto &&[k, v] : t)
            if (std::find(known.begin(), known.end(), k.str()) == known.end())
                fail_at(int(k.source().begin.line ? k.source().begin.line : v.source().begin.line),
                        fmt::format("unknown key '{}'{} (known: {})", k.str(), where,
                                    fmt::join(known, ", ")));
    }

    std::string string(const toml::node &n, const std::string &what) const {
        if (!n.is_string())
            fail(n, fmt::format("{} must be a string", what));
        return std::string(*n.value<std::string_view>());
    }
    bool boolean(const toml::node &n, const std::string &what) const {
        if (!n.is_boolean())
            fail(n, fmt::format("{} must be true or false", what));
        return *n.value<bool>();
    }
    uint32_t number(const toml::node &n, const std::string &what, long long min,
                    long long max) const {
        if (!n.is_integer())
            fail(n, fmt::format("{} must be a whole number from {} to {}", what, min, max));
        const int64_t v = *n.value<int64_t>();
        if (v < min || v > max)
            fail(n, fmt::format("{} = {} is out of range ({}-{})", what, v, min, max));
        return static_cast<uint32_t>(v);
    }

    std::string file_;
};

TapConfig parse_tap(const Parser &ps, const toml::table &t, const std::string &port) {
    const std::string where = fmt::format(" in ports.{}.tap", port);
    ps.only_keys(t, {"user", "group", "queues", "mtu"}, where);
    TapConfig tap;
    if (auto *n = t.get("user"))
        tap.user = ps.string(*n, "user");
    if (auto *n = t.get("group"))
        tap.group = ps.string(*n, "group");
    for (auto *s : {&tap.user, &tap.group})
        if (*s && s->value().empty())
            ps.fail(*t.get(s == &tap.user ? "user" : "group"), "an empty name");
    if (auto *n = t.get("queues"))
        tap.queues = ps.number(*n, "queues", 1, kMaxTapQueues);
    if (auto *n = t.get("mtu"))
        tap.mtu = ps.number(*n, "mtu", 68, 65535);
    return tap;
}

PortConfig parse_port(const Parser &ps, const std::string &name, const toml::node &node) {
    const auto *t = node.as_table();
    if (!t)
        ps.fail(node, fmt::format("ports.{} must be a table", name));
    if (!valid_ifname(name))
        ps.fail(node, fmt::format("'{}' is not a valid interface name", name));
    const std::string where = fmt::format(" in ports.{}", name);
    // Room kept for the tables of later features: `vlan` (issue 21) and `policy`
    // (issue 23) are refused until a build knows them, not ignored.
    ps.only_keys(*t,
                 {"learning", "flood", "mcast-flood", "bcast-flood", "locked", "isolated",
                  "hairpin", "storm-limit", "tap", "guest"},
                 where);
    PortConfig p;
    p.name = name;
    p.line = int(node.source().begin.line);
    p.flags = XB_PORT_DEFAULT_FLAGS;
    for (const auto &[key, bit] : kPortFlagKeys)
        if (auto *n = t->get(key))
            p.flags = ps.boolean(*n, key) ? (p.flags | bit) : (p.flags & ~bit);
    if (auto *n = t->get("storm-limit"))
        p.storm_pps = ps.number(*n, "storm-limit", 0, kMaxStormPps);
    if (auto *n = t->get("guest"))
        p.guest = ps.boolean(*n, "guest");
    if (auto *n = t->get("tap")) {
        if (!n->is_table())
            ps.fail(*n,
                    fmt::format("ports.{}.tap must be a table (user, group, queues, mtu)", name));
        p.tap = parse_tap(ps, *n->as_table(), name);
    }
    if (p.guest && p.tap)
        ps.fail(node, fmt::format("ports.{}: a guest's tap is made by the libvirt hook from the "
                                  "domain's XML: no tap table",
                                  name));
    return p;
}

FdbConfig parse_fdb(const Parser &ps, const toml::node &node, const BridgeConfig &cfg) {
    const auto *t = node.as_table();
    if (!t)
        ps.fail(node, "fdb entries must be tables: [[fdb]] with mac, port and vlan");
    ps.only_keys(*t, {"mac", "port", "vlan"}, " in [[fdb]]");
    FdbConfig f;
    f.line = int(node.source().begin.line);
    const auto *mac = t->get("mac");
    const auto *port = t->get("port");
    if (!mac || !port)
        ps.fail(node, "an [[fdb]] entry needs mac and port");
    const std::string ms = ps.string(*mac, "mac");
    const auto m = parse_mac(ms);
    if (!m)
        ps.fail(*mac, fmt::format("'{}' is not a MAC address", ms));
    if (!is_valid_unicast(*m))
        ps.fail(*mac, fmt::format("{} is not a unicast address", ms));
    f.mac = *m;
    f.port = ps.string(*port, "port");
    if (!cfg.port(f.port))
        ps.fail(*port, fmt::format("port '{}' is not a port of this bridge", f.port));
    if (auto *n = t->get("vlan"))
        f.vlan = static_cast<uint16_t>(ps.number(*n, "vlan", 0, 4094));
    return f;
}

void parse_bridge_keys(const Parser &ps, const toml::table &root, BridgeConfig &cfg) {
    if (auto *n = root.get("name")) {
        cfg.name = ps.string(*n, "name");
        if (!valid_bridge_name(cfg.name))
            ps.fail(*n, fmt::format("invalid bridge name '{}' (1-15 characters of A-Z a-z 0-9 _ -)",
                                    cfg.name));
    } else if (!valid_bridge_name(cfg.name)) {
        ps.fail_at(0, fmt::format("the file's name '{}' is no bridge name (1-15 characters of "
                                  "A-Z a-z 0-9 _ -): give one with name = \"...\"",
                                  cfg.name));
    }
    const auto *up = root.get("uplink");
    if (!up)
        ps.fail_at(0, "no uplink: uplink = \"DEV\" (the host's port) or \"none\"");
    const std::string u = ps.string(*up, "uplink");
    cfg.line_uplink = int(up->source().begin.line);
    if (u != "none") {
        if (!valid_ifname(u))
            ps.fail(*up, fmt::format("'{}' is not a valid interface name", u));
        cfg.uplink = u;
    }
    if (auto *n = root.get("xdp-mode")) {
        const std::string s = ps.string(*n, "xdp-mode");
        auto m = parse_xdp_mode(s);
        if (!m)
            ps.fail(*n, fmt::format("xdp-mode '{}' is not auto, native or none", s));
        cfg.xdp_mode = *m;
    }
    if (auto *n = root.get("ageing-time"))
        cfg.ageing_sec = ps.number(*n, "ageing-time", 0, kMaxAgeing);
    if (auto *n = root.get("fdb-size")) {
        cfg.fdb_size = ps.number(*n, "fdb-size", 16, kMaxFdbSize);
        cfg.line_fdb_size = int(n->source().begin.line);
    }
    if (auto *n = root.get("max-learned"))
        cfg.max_learned =
            ps.number(*n, "max-learned", 0, cfg.fdb_size.value_or(XB_FDB_DEFAULT_MAX));
    if (auto *n = root.get("max-ports")) {
        cfg.max_ports = ps.number(*n, "max-ports", 1, XB_MAX_PORTS - 1);
        cfg.line_max_ports = int(n->source().begin.line);
    }
    if (auto *n = root.get("metrics")) {
        cfg.metrics = ps.string(*n, "metrics");
        cfg.line_metrics = int(n->source().begin.line);
    }
}

} // namespace

BridgeConfig parse_config(std::string_view text, const std::string &file,
                          const std::string &default_name) {
    Parser ps(file);
    toml::table root;
    try {
        root = toml::parse(text, file);
    } catch (const toml::parse_error &e) {
        ps.fail_at(int(e.source().begin.line), std::string(e.description()));
    }
    ps.only_keys(root,
                 {"name", "uplink", "xdp-mode", "ageing-time", "max-learned", "fdb-size",
                  "max-ports", "metrics", "ports", "fdb"},
                 "");
    BridgeConfig cfg;
    cfg.name = default_name;
    cfg.file = file;
    parse_bridge_keys(ps, root, cfg);

    if (auto *n = root.get("ports")) {
        const auto *t = n->as_table();
        if (!t)
            ps.fail(*n, "ports must be a table of [ports.NAME] tables");
        for (auto &&[k, v] : *t)
            cfg.ports.push_back(parse_port(ps, std::string(k.str()), v));
    }
    // The uplink first (it is attached first, as `up` does), then the rest by name.
    std::stable_sort(cfg.ports.begin(), cfg.ports.end(), [&](const auto &a, const auto &b) {
        const bool ua = cfg.uplink && a.name == *cfg.uplink;
        const bool ub = cfg.uplink && b.name == *cfg.uplink;
        return ua != ub ? ua : a.name < b.name;
    });
    if (cfg.uplink) {
        if (const PortConfig *p = cfg.port(*cfg.uplink)) {
            if (p->tap || p->guest)
                ps.fail_at(
                    p->line,
                    fmt::format("ports.{}: the uplink is an existing device, not a tap", p->name));
        } else {
            PortConfig implied;
            implied.name = *cfg.uplink;
            implied.flags = XB_PORT_DEFAULT_FLAGS;
            cfg.ports.insert(cfg.ports.begin(), implied);
        }
    }
    if (cfg.ports.size() > cfg.max_ports.value_or(XB_MAX_PORTS - 1))
        ps.fail_at(cfg.line_max_ports,
                   fmt::format("{} ports, more than max-ports ({})", cfg.ports.size(),
                               cfg.max_ports.value_or(XB_MAX_PORTS - 1)));
    if (cfg.metrics && *cfg.metrics != "off") {
        // The form only: whether the address can be bound is apply's to find out.
        const std::string &m = *cfg.metrics;
        const auto colon = m.rfind(':');
        if (colon == std::string::npos || !parse_number(m.substr(colon + 1), 1, 65535))
            ps.fail_at(cfg.line_metrics, fmt::format("metrics '{}' is not ADDR:PORT or off", m));
    }

    if (auto *n = root.get("fdb")) {
        const auto *a = n->as_array();
        if (!a)
            ps.fail(*n, "fdb must be an array of tables: [[fdb]] with mac, port and vlan");
        for (const auto &e : *a) {
            FdbConfig f = parse_fdb(ps, e, cfg);
            for (const auto &o : cfg.fdb)
                if (o.mac == f.mac && o.vlan == f.vlan)
                    ps.fail_at(f.line, fmt::format("{} vlan {} is already in the FDB (line {})",
                                                   format_mac(f.mac), f.vlan, o.line));
            cfg.fdb.push_back(f);
        }
    }
    return cfg;
}

BridgeConfig load_config(const std::string &path, const std::string &default_name) {
    std::ifstream in(path);
    if (!in)
        throw ConfigError(fmt::format("{}: cannot read the file", path));
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_config(ss.str(), path, default_name);
}

namespace {

// A TOML basic string: names and addresses need no more than these escapes.
std::string quoted(const std::string &s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            o += '\\';
        o += c;
    }
    return o + "\"";
}

// Bare keys stay bare; names with other characters (a dot, '@') are quoted.
std::string key(const std::string &s) {
    const bool bare = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
    return bare ? s : quoted(s);
}

} // namespace

std::string format_config(const BridgeConfig &cfg) {
    std::string out;
    auto line = [&](const std::string &s) { out += s + "\n"; };
    line(fmt::format("name = {}", quoted(cfg.name)));
    line(fmt::format("uplink = {}", quoted(cfg.uplink.value_or("none"))));
    line(fmt::format("xdp-mode = \"{}\"", to_string(cfg.xdp_mode)));
    if (cfg.ageing_sec)
        line(fmt::format("ageing-time = {}", *cfg.ageing_sec));
    if (cfg.max_learned)
        line(fmt::format("max-learned = {}", *cfg.max_learned));
    if (cfg.fdb_size)
        line(fmt::format("fdb-size = {}", *cfg.fdb_size));
    if (cfg.max_ports)
        line(fmt::format("max-ports = {}", *cfg.max_ports));
    if (cfg.metrics)
        line(fmt::format("metrics = {}", quoted(*cfg.metrics)));
    for (const auto &p : cfg.ports) {
        line(fmt::format("\n[ports.{}]", key(p.name)));
        for (const auto &[k, bit] : kPortFlagKeys)
            if ((p.flags & bit) != (XB_PORT_DEFAULT_FLAGS & bit))
                line(fmt::format("{} = {}", k, (p.flags & bit) ? "true" : "false"));
        if (p.storm_pps)
            line(fmt::format("storm-limit = {}", p.storm_pps));
        if (p.guest)
            line("guest = true");
        if (p.tap) {
            std::vector<std::string> kv;
            if (p.tap->user)
                kv.push_back(fmt::format("user = {}", quoted(*p.tap->user)));
            if (p.tap->group)
                kv.push_back(fmt::format("group = {}", quoted(*p.tap->group)));
            kv.push_back(fmt::format("queues = {}", p.tap->queues));
            if (p.tap->mtu)
                kv.push_back(fmt::format("mtu = {}", *p.tap->mtu));
            line(fmt::format("tap = {{ {} }}", fmt::join(kv, ", ")));
        }
    }
    for (const auto &f : cfg.fdb) {
        line("\n[[fdb]]");
        line(fmt::format("mac = \"{}\"", format_mac(f.mac)));
        line(fmt::format("port = {}", quoted(f.port)));
        if (f.vlan)
            line(fmt::format("vlan = {}", f.vlan));
    }
    return out;
}

std::string config_dir() {
    if (const char *d = std::getenv("XBRIDGE_CONFIG_DIR"); d && *d)
        return d;
    return "/etc/xbridge";
}

std::string config_path(const std::string &bridge) {
    return fmt::format("{}/{}.toml", config_dir(), bridge);
}

} // namespace xb
