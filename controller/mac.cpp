// SPDX-License-Identifier: BSD-2-Clause
#include "mac.hpp"

#include <fmt/format.h>

namespace xb {

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

std::optional<Mac> parse_mac(std::string_view s) {
    if (s.size() != 17)
        return std::nullopt;
    const char sep = s[2];
    if (sep != ':' && sep != '-')
        return std::nullopt;
    Mac m{};
    for (size_t i = 0; i < 6; i++) {
        const size_t o = i * 3;
        const int hi = hexval(s[o]), lo = hexval(s[o + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        if (i < 5 && s[o + 2] != sep)
            return std::nullopt;
        m[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return m;
}

std::string format_mac(const uint8_t *m) {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4],
                       m[5]);
}

} // namespace xb
