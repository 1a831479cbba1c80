// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xb {

using Mac = std::array<uint8_t, 6>;

// Parses "aa:bb:cc:dd:ee:ff" (also with '-' separators, any case). nullopt if malformed.
std::optional<Mac> parse_mac(std::string_view s);
// Lower-case, colon-separated, as `bridge fdb` prints.
std::string format_mac(const uint8_t *mac);
inline std::string format_mac(const Mac &m) {
    return format_mac(m.data());
}

inline bool is_multicast(const Mac &m) {
    return m[0] & 1;
}
inline bool is_zero(const Mac &m) {
    return (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]) == 0;
}
// A unicast, non-zero address: what may be a source or a static FDB entry.
inline bool is_valid_unicast(const Mac &m) {
    return !is_multicast(m) && !is_zero(m);
}

} // namespace xb
