// SPDX-License-Identifier: BSD-2-Clause
#include "config.hpp"
#include "tap.hpp"

#include <xbridge/abi.h>

#include <algorithm>
#include <cstdlib>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

namespace xb {

namespace {
constexpr FlagName kFlagRows[] = {
    {"learning", XB_PORT_LEARNING},
    {"flood", XB_PORT_FLOOD},
    {"mcast-flood", XB_PORT_MCAST_FLOOD},
    {"bcast-flood", XB_PORT_BCAST_FLOOD},
    {"locked", XB_PORT_LOCKED},
    {"isolated", XB_PORT_ISOLATED},
    {"hairpin", XB_PORT_HAIRPIN},
    {"mcast-router", XB_PORT_MCAST_ROUTER},
    {"bpdu-guard", XB_PORT_BPDU_GUARD},
    {"dhcp-server", XB_PORT_DHCP_SERVER},
    {"ra-guard", XB_PORT_RA_GUARD, XB_PORT_RA_TRUSTED},
};
// Defaults as a new bridge has them (bridge.cpp's init_config, mdb.hpp).
constexpr BridgeSetting kSettingRows[] = {
    {BridgeSetting::Number, "ageing-time", kDefaultAgeingSec, 0, kMaxAgeingSec},
    {BridgeSetting::Bool, "vlan-filtering", 0},
    {BridgeSetting::Choice,
     "vlan-protocol",
     0x8100,
     0,
     0,
     {{{"802.1q", 0x8100}, {"802.1Q", 0x8100}, {"802.1ad", 0x88a8}, {"802.1AD", 0x88a8}}}},
    {BridgeSetting::Bool, "mcast-snooping", 0},
    {BridgeSetting::Bool, "mcast-querier", 0},
    {BridgeSetting::Number, "mcast-igmp-version", 2, 2, 3},
    {BridgeSetting::Number, "mcast-mld-version", 1, 1, 2},
    {BridgeSetting::Number, "mcast-membership-interval", 260, 1, 86400},
};
} // namespace
// Constant-initialised: no order of initialisation to worry about.
const std::span<const FlagName> kPortFlagKeys(kFlagRows);
const std::span<const BridgeSetting> kBridgeSettings(kSettingRows);

std::map<std::string, uint32_t> BridgeConfig::default_settings() {
    std::map<std::string, uint32_t> m;
    for (const auto &s : kBridgeSettings)
        m[s.key] = s.def;
    return m;
}

const BridgeSetting *find_bridge_setting(std::string key) {
    std::replace(key.begin(), key.end(), '_', '-');
    for (const auto &st : kBridgeSettings)
        if (key == st.key)
            return &st;
    return nullptr;
}

std::optional<uint32_t> parse_setting(const BridgeSetting &st, std::string_view word) {
    switch (st.kind) {
    case BridgeSetting::Bool:
        if (word == "on" || word == "1")
            return 1;
        if (word == "off" || word == "0")
            return 0;
        return std::nullopt;
    case BridgeSetting::Number:
        if (auto v = parse_number(word, st.min, st.max))
            return static_cast<uint32_t>(*v);
        return std::nullopt;
    case BridgeSetting::Choice:
        for (const auto &[name, val] : st.choices)
            if (name && word == name)
                return val;
        return std::nullopt;
    }
    return std::nullopt;
}

std::string setting_accepts(const BridgeSetting &st) {
    switch (st.kind) {
    case BridgeSetting::Bool:
        return "on or off";
    case BridgeSetting::Number:
        if (st.max == st.min + 1)
            return fmt::format("{} or {}", st.min, st.max);
        return fmt::format("a number from {} to {}", st.min, st.max);
    case BridgeSetting::Choice:
        break;
    }
    // Each value by its first spelling (the one printed): the others are its other case.
    std::vector<std::string> names;
    std::vector<uint32_t> seen;
    for (const auto &[name, val] : st.choices)
        if (name && std::find(seen.begin(), seen.end(), val) == seen.end()) {
            seen.push_back(val);
            names.emplace_back(name);
        }
    std::string out;
    for (size_t i = 0; i < names.size(); i++)
        out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
    return out;
}

std::vector<VlanConfig> default_vlans() {
    return {{1, true, true}};
}

std::optional<std::string> parse_vlan_entry(std::string_view s, std::vector<VlanConfig> &out) {
    std::vector<std::string> words;
    std::istringstream in{std::string(s)};
    for (std::string w; in >> w;)
        words.push_back(w);
    if (words.empty())
        return "an empty entry (N[-M] [pvid] [untagged])";
    uint16_t from = 0, to = 0;
    {
        const std::string &r = words[0];
        const auto dash = r.find('-');
        const auto a = parse_number(r.substr(0, dash), 0, 1000000);
        const auto b = dash == std::string::npos ? a : parse_number(r.substr(dash + 1), 0, 1000000);
        if (!a || !b)
            return fmt::format("'{}' is not a VLAN or a range N-M (N[-M] [pvid] [untagged])", r);
        for (auto v : {*a, *b})
            if (v < 1 || v > 4094)
                return fmt::format("VLAN {} is out of range (1-4094)", v);
        if (*a > *b)
            return fmt::format("'{}' is no range: {} is more than {}", r, *a, *b);
        from = static_cast<uint16_t>(*a);
        to = static_cast<uint16_t>(*b);
    }
    bool pvid = false, untagged = false;
    for (size_t i = 1; i < words.size(); i++) {
        bool &flag = words[i] == "pvid" ? pvid : untagged;
        if ((words[i] != "pvid" && words[i] != "untagged") || flag)
            return fmt::format("'{}': after the VLAN only pvid and untagged, once each", words[i]);
        flag = true;
    }
    if (pvid && from != to)
        return fmt::format("'{}': a PVID is one VLAN, not a range", words[0]);
    for (const auto &v : out) {
        if (v.vid >= from && v.vid <= to)
            return fmt::format("VLAN {} is listed twice", v.vid);
        if (pvid && v.pvid)
            return fmt::format("two PVIDs ({} and {}): a port has one", v.vid, from);
    }
    for (uint32_t v = from; v <= to; v++)
        out.push_back({static_cast<uint16_t>(v), pvid, untagged});
    std::sort(out.begin(), out.end(),
              [](const VlanConfig &a, const VlanConfig &b) { return a.vid < b.vid; });
    return std::nullopt;
}

std::vector<std::string> format_vlans(const std::vector<VlanConfig> &vlans) {
    std::vector<std::string> out;
    for (size_t i = 0; i < vlans.size();) {
        const VlanConfig &a = vlans[i];
        size_t j = i + 1;
        if (!a.pvid)
            while (j < vlans.size() && !vlans[j].pvid && vlans[j].vid == vlans[j - 1].vid + 1 &&
                   vlans[j].untagged == a.untagged)
                j++;
        std::string e =
            j - i > 1 ? fmt::format("{}-{}", a.vid, vlans[j - 1].vid) : std::to_string(a.vid);
        if (a.pvid)
            e += " pvid";
        if (a.untagged)
            e += " untagged";
        out.push_back(e);
        i = j;
    }
    return out;
}

namespace {

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
    void only_keys(const toml::table &t, const std::vector<std::string_view> &known,
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

// `vlans = ["10 pvid untagged", "20-30"]`: the words of `bridge vlan add vid ...`.
std::vector<VlanConfig> parse_vlans(const Parser &ps, const toml::node &n,
                                    const std::string &what) {
    const auto *a = n.as_array();
    if (!a)
        ps.fail(n, fmt::format("{} must be an array of strings: [\"10 pvid untagged\", \"20-30\"]",
                               what));
    std::vector<VlanConfig> out;
    for (const auto &e : *a) {
        const std::string s = ps.string(e, what + " entries");
        if (auto why = parse_vlan_entry(s, out))
            ps.fail(e, fmt::format("{} '{}': {}", what, s, *why));
    }
    return out;
}

// `rate-limit = "RATE [burst N]"`, as `port set PORT rate-limit` takes it.
RateLimit parse_rate(const Parser &ps, const toml::node &n) {
    const std::string s = ps.string(n, "rate-limit");
    std::vector<std::string> w;
    std::istringstream in(s);
    for (std::string x; in >> x;)
        w.push_back(x);
    if (w.size() != 1 && !(w.size() == 3 && w[1] == "burst"))
        ps.fail(n, fmt::format("rate-limit '{}' is not \"RATE [burst N]\" (e.g. \"1000pps\", "
                               "\"10mbit burst 64k\")",
                               s));
    try {
        return parse_rate_limit(w[0], w.size() == 3 ? std::optional<std::string_view>(w[2])
                                                    : std::nullopt);
    } catch (const std::exception &e) {
        ps.fail(n, e.what());
    }
}

// `allowed-ip = ["10.77.0.101", "fd77::101"]` (or one string, a list as `port set` takes).
AllowedIps parse_ips(const Parser &ps, const toml::node &n) {
    std::vector<const toml::node *> items;
    if (const auto *a = n.as_array())
        for (const auto &e : *a)
            items.push_back(&e);
    else
        items.push_back(&n);
    AllowedIps out;
    for (const auto *e : items) {
        const std::string s = ps.string(*e, "allowed-ip entries");
        AllowedIps one;
        try {
            if (s == "none")
                throw std::runtime_error("allowed-ip: 'none' is an empty list, []");
            one = parse_allowed_ips(s);
        } catch (const std::exception &ex) {
            ps.fail(*e, ex.what());
        }
        for (const auto &v : one.v4)
            if (std::find(out.v4.begin(), out.v4.end(), v) == out.v4.end())
                out.v4.push_back(v);
        for (const auto &v : one.v6)
            if (std::find(out.v6.begin(), out.v6.end(), v) == out.v6.end())
                out.v6.push_back(v);
    }
    // Sorted as the bridge's maps read back (port_allowed_ips): a file equals what runs.
    std::sort(out.v4.begin(), out.v4.end());
    std::sort(out.v6.begin(), out.v6.end());
    return out;
}

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
    constexpr std::array<std::string_view, 6> kOther = {"storm-limit", "tap",        "guest",
                                                        "vlans",       "rate-limit", "allowed-ip"};
    std::vector<std::string_view> known;
    known.reserve(kPortFlagKeys.size() + kOther.size());
    for (const auto &f : kPortFlagKeys)
        known.emplace_back(f.key);
    known.insert(known.end(), kOther.begin(), kOther.end());
    ps.only_keys(*t, known, where);
    PortConfig p;
    p.name = name;
    p.line = int(node.source().begin.line);
    p.flags = XB_PORT_DEFAULT_FLAGS;
    for (const auto &f : kPortFlagKeys)
        if (auto *n = t->get(f.key))
            p.flags = f.apply(p.flags, ps.boolean(*n, f.key));
    if (auto *n = t->get("storm-limit"))
        p.storm_pps = ps.number(*n, "storm-limit", 0, kMaxStormPps);
    if (auto *n = t->get("guest"))
        p.guest = ps.boolean(*n, "guest");
    if (auto *n = t->get("vlans"))
        p.vlans = parse_vlans(ps, *n, fmt::format("ports.{}.vlans", name));
    if (auto *n = t->get("rate-limit"))
        p.rate_limit = parse_rate(ps, *n);
    if (auto *n = t->get("allowed-ip"))
        p.allowed_ips = parse_ips(ps, *n);
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
    for (const auto &st : kBridgeSettings) {
        const auto *n = root.get(st.key);
        if (!n)
            continue;
        // The file's type for the kind (true/false, a number, a string), then the value
        // checked as `xbridge set` checks its word.
        std::string word;
        switch (st.kind) {
        case BridgeSetting::Bool:
            word = ps.boolean(*n, st.key) ? "on" : "off";
            break;
        case BridgeSetting::Number:
            if (!n->is_integer())
                ps.fail(*n, fmt::format("{} must be a whole number from {} to {}", st.key, st.min,
                                        st.max));
            word = std::to_string(*n->value<int64_t>());
            break;
        case BridgeSetting::Choice:
            word = ps.string(*n, st.key);
            break;
        }
        const auto v = parse_setting(st, word);
        if (!v)
            ps.fail(*n, st.kind == BridgeSetting::Number
                            ? fmt::format("{} = {} is out of range ({}-{})", st.key, word, st.min,
                                          st.max)
                            : fmt::format("{} '{}' is not {}", st.key, word, setting_accepts(st)));
        cfg.settings[st.key] = *v;
    }
    if (auto *n = root.get("host-vlans")) {
        cfg.host_vlans = parse_vlans(ps, *n, "host-vlans");
        cfg.line_host_vlans = int(n->source().begin.line);
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
    std::vector<std::string_view> known = {"name",     "uplink",    "xdp-mode", "max-learned",
                                           "fdb-size", "max-ports", "metrics",  "host-vlans",
                                           "ports",    "fdb"};
    known.reserve(known.size() + kBridgeSettings.size());
    for (const auto &st : kBridgeSettings)
        known.emplace_back(st.key);
    ps.only_keys(root, known, "");
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
    // The host is a VLAN member through the uplink's stack: without one it has none.
    if (!cfg.uplink && cfg.line_host_vlans)
        ps.fail_at(cfg.line_host_vlans,
                   "host-vlans: a bridge without an uplink has no host port to put in VLANs");
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

std::string vlan_array(const std::vector<VlanConfig> &v) {
    std::vector<std::string> q;
    for (const auto &e : format_vlans(v))
        q.push_back(quoted(e));
    return fmt::format("[{}]", fmt::join(q, ", "));
}

} // namespace

std::string format_config(const BridgeConfig &cfg) {
    std::string out;
    auto line = [&](const std::string &s) { out += s + "\n"; };
    line(fmt::format("name = {}", quoted(cfg.name)));
    line(fmt::format("uplink = {}", quoted(cfg.uplink.value_or("none"))));
    line(fmt::format("xdp-mode = \"{}\"", to_string(cfg.xdp_mode)));
    if (cfg.max_learned)
        line(fmt::format("max-learned = {}", *cfg.max_learned));
    if (cfg.fdb_size)
        line(fmt::format("fdb-size = {}", *cfg.fdb_size));
    if (cfg.max_ports)
        line(fmt::format("max-ports = {}", *cfg.max_ports));
    if (cfg.metrics)
        line(fmt::format("metrics = {}", quoted(*cfg.metrics)));
    for (const auto &st : kBridgeSettings) {
        const uint32_t v = cfg.setting(st.key);
        if (v == st.def)
            continue;
        switch (st.kind) {
        case BridgeSetting::Bool:
            line(fmt::format("{} = {}", st.key, v ? "true" : "false"));
            break;
        case BridgeSetting::Number:
            line(fmt::format("{} = {}", st.key, v));
            break;
        case BridgeSetting::Choice:
            for (const auto &[name, val] : st.choices)
                if (name && val == v) {
                    line(fmt::format("{} = {}", st.key, quoted(name)));
                    break;
                }
            break;
        }
    }
    if (cfg.uplink && cfg.host_vlans != default_vlans())
        line(fmt::format("host-vlans = {}", vlan_array(cfg.host_vlans)));
    for (const auto &p : cfg.ports) {
        line(fmt::format("\n[ports.{}]", key(p.name)));
        for (const auto &f : kPortFlagKeys)
            if ((p.flags & f.mask()) != (XB_PORT_DEFAULT_FLAGS & f.mask()))
                line(fmt::format("{} = {}", f.key, (p.flags & f.bit) ? "true" : "false"));
        if (p.storm_pps)
            line(fmt::format("storm-limit = {}", p.storm_pps));
        if (p.vlans != default_vlans())
            line(fmt::format("vlans = {}", vlan_array(p.vlans)));
        if (p.rate_limit)
            line(fmt::format("rate-limit = {}", quoted(format_rate_limit(*p.rate_limit))));
        if (!p.allowed_ips.empty()) {
            std::vector<std::string> ips;
            std::string list = format_allowed_ips(p.allowed_ips);
            for (size_t pos = 0; pos <= list.size();) {
                const size_t comma = std::min(list.find(',', pos), list.size());
                ips.push_back(quoted(list.substr(pos, comma - pos)));
                pos = comma + 1;
            }
            line(fmt::format("allowed-ip = [{}]", fmt::join(ips, ", ")));
        }
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
