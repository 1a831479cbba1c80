// SPDX-License-Identifier: BSD-2-Clause
// A bridge's configuration file (/etc/xbridge/NAME.toml): parsed into a plain struct and
// validated whole, and printed back. Pure: no system calls, so it is unit-tested; the
// names it holds (devices, users, groups) are looked up by `apply`, which reports a
// failure at the line the name came from. The schema is documented in
// dist/xbridge.toml.example.
#pragma once

#include "mac.hpp"
#include "options.hpp"
#include "port_policy.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace xb {

// A file the parser refuses: what() is one line, "FILE:LINE: reason" (FILE: reason when
// the file as a whole is wrong).
class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A tap the bridge creates when the port's device does not exist (as `up` does).
struct TapConfig {
    std::optional<std::string> user, group; // names or numbers; resolved by apply
    unsigned queues = 1;                    // 1: single-queue; more: multi-queue, vnet header
    std::optional<uint32_t> mtu;            // set at creation and kept by apply
    bool operator==(const TapConfig &) const = default;
};

// One VLAN of a port (or the host), as `bridge vlan add vid N [pvid] [untagged]`.
struct VlanConfig {
    uint16_t vid = 0;
    bool pvid = false;
    bool untagged = false;
    bool operator==(const VlanConfig &) const = default;
};
// What a port is without a `vlans` key: the kernel bridge's default_pvid 1, untagged.
std::vector<VlanConfig> default_vlans();
// The form of a `vlans` array, one string each: "N[-M] [pvid] [untagged]". Parses one
// entry into `out` (by VID), or returns why not; pure (the libvirt metadata takes the
// same words).
std::optional<std::string> parse_vlan_entry(std::string_view s, std::vector<VlanConfig> &out);
// The shortest list of entries for `vlans` (by VID), runs of equal VLANs as ranges.
std::vector<std::string> format_vlans(const std::vector<VlanConfig> &vlans);

// The settings of a port beyond its device: its flags, limits, VLANs and policy. The
// file's [ports.NAME] tables and a guest's <metadata> both give one (apply and the libvirt
// hook converge a port to it with the same code, apply.hpp).
struct PortSettings {
    uint32_t flags = XB_PORT_DEFAULT_FLAGS;          // the kPortFlagKeys bits
    uint32_t storm_pps = 0;                          // 0: no limit
    std::vector<VlanConfig> vlans = default_vlans(); // by VID
    std::optional<RateLimit> rate_limit;             // `rate-limit`; nullopt: none
    AllowedIps allowed_ips;                          // `allowed-ip`; empty: no check
    bool operator==(const PortSettings &) const = default;
};

struct PortConfig : PortSettings {
    std::string name;
    std::optional<TapConfig> tap;
    // A guest's tap that the libvirt hook creates at the guest's start and removes at its
    // end: apply takes its flags from here when it is present and neither creates nor
    // removes it.
    bool guest = false;
    int line = 0; // where the port is defined (0: implied, the uplink without a table)
    bool operator==(const PortConfig &o) const {
        return name == o.name && PortSettings::operator==(o) && tap == o.tap && guest == o.guest;
    }
};

struct FdbConfig {
    Mac mac{};
    std::string port;
    uint16_t vlan = 0;
    int line = 0;
    bool operator==(const FdbConfig &o) const {
        return mac == o.mac && port == o.port && vlan == o.vlan;
    }
};

// The bridge-wide settings of the datapath's config, one row each (kBridgeSettings): its
// key, what it takes and its default. Adding one is a row here and one in apply.cpp's
// table of how it is read from and written to a running bridge: the file, `apply`,
// `status --config` and `xbridge set` then all take it.
struct BridgeSetting {
    enum Kind { Bool, Number, Choice } kind;
    const char *key;
    uint32_t def;
    uint32_t min = 0, max = 0; // Number
    // Choice: the spellings and their values (unused ones null); the first of a value is
    // how it is printed.
    std::array<std::pair<const char *, uint32_t>, 4> choices = {};
};
extern const std::span<const BridgeSetting> kBridgeSettings;

// The row of `key`, or null. `_` stands for `-` (mcast_snooping), as `ip link`'s
// spelling: the command line takes it, the file does not.
const BridgeSetting *find_bridge_setting(std::string key);
// A setting's value from its word: Bool on, off, 1 or 0; Number a whole number from min
// to max; Choice one of its spellings. nullopt: none of them. The one check of a value,
// for `xbridge set` and the file alike (which first checks the value's TOML type).
std::optional<uint32_t> parse_setting(const BridgeSetting &st, std::string_view word);
// What parse_setting takes, for a message: "on or off", "a number from 1 to 86400", "2 or
// 3", "802.1q or 802.1ad".
std::string setting_accepts(const BridgeSetting &st);

struct BridgeConfig {
    std::string name;
    std::optional<std::string> uplink; // nullopt: "none"
    XdpMode xdp_mode = XdpMode::Auto;
    // 0 or unset: as many as the FDB holds. Not a kBridgeSettings row: the most it takes
    // is the bridge's FDB size, not a constant.
    std::optional<uint32_t> max_learned;
    std::optional<uint32_t> fdb_size; // only shape a new bridge
    std::optional<uint32_t> max_ports;
    std::optional<std::string> metrics; // "ADDR:PORT" or "off"; unset: the default
    // Every kBridgeSettings key, with its default when the file does not give it.
    std::map<std::string, uint32_t> settings = default_settings();
    std::vector<VlanConfig> host_vlans = default_vlans(); // `host-vlans`, by VID
    std::vector<PortConfig> ports;                        // the uplink first, then by name
    std::vector<FdbConfig> fdb;
    std::string file; // where it was read from, for errors found later (apply)
    // Lines of the keys whose values apply checks against the system.
    int line_uplink = 0, line_fdb_size = 0, line_max_ports = 0, line_metrics = 0,
        line_host_vlans = 0;
    bool operator==(const BridgeConfig &o) const {
        return name == o.name && uplink == o.uplink && xdp_mode == o.xdp_mode &&
               max_learned == o.max_learned && fdb_size == o.fdb_size && max_ports == o.max_ports &&
               metrics == o.metrics && settings == o.settings && host_vlans == o.host_vlans &&
               ports == o.ports && fdb == o.fdb;
    }
    uint32_t setting(const std::string &key) const { return settings.at(key); }
    static std::map<std::string, uint32_t> default_settings();

    const PortConfig *port(std::string_view n) const {
        for (const auto &p : ports)
            if (p.name == n)
                return &p;
        return nullptr;
    }
};

// Parses and validates `text`, read from `file` (named in errors). `default_name` is
// the bridge's name when the file has no `name` key (the file's stem). Throws
// ConfigError naming the first error's line; never a partial result.
BridgeConfig parse_config(std::string_view text, const std::string &file,
                          const std::string &default_name);

// Reads and parses a file.
BridgeConfig load_config(const std::string &path, const std::string &default_name);

// Prints a configuration as a file parse_config accepts and reads back equal.
std::string format_config(const BridgeConfig &cfg);

// Where the files live: /etc/xbridge, or $XBRIDGE_CONFIG_DIR (tests).
std::string config_dir();
std::string config_path(const std::string &bridge);

// The on/off keys of a port table, by their `bridge link` / `port set` names: a new port
// flag is one row here (the file, `status --config` and the libvirt metadata take it).
// A key with an off_bit has three states: on sets bit, off sets off_bit, and left out
// sets neither (ra-guard: on, off, or as allowed-ip decides).
struct FlagName {
    const char *key;
    uint32_t bit;
    uint32_t off_bit = 0;

    uint32_t mask() const { return bit | off_bit; }
    // flags with this key set to `on`.
    uint32_t apply(uint32_t flags, bool on) const {
        flags &= ~mask();
        return flags | (on ? bit : off_bit);
    }
    // "on", "off", or "default" (neither bit of a three-state key).
    const char *state(uint32_t flags) const {
        if (flags & bit)
            return "on";
        return !off_bit || (flags & off_bit) ? "off" : "default";
    }
};
extern const std::span<const FlagName> kPortFlagKeys;

} // namespace xb
