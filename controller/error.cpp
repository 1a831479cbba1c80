// SPDX-License-Identifier: BSD-2-Clause
#include "error.hpp"

#include <cerrno>
#include <cstring>
#include <cstdlib>

namespace xb {

std::string errno_message(const std::string &what, int err) {
    return what + ": " + std::strerror(std::abs(err));
}

void throw_errno(const std::string &what, int err) {
    throw Error(errno_message(what, err), std::abs(err));
}

void throw_last_errno(const std::string &what) {
    throw_errno(what, errno);
}

} // namespace xb
