// SPDX-License-Identifier: BSD-2-Clause
#include "error.hpp"

#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <cstdlib>

namespace xb {

std::string errno_message(const std::string &what, int err) {
    // libbpf's own codes (LIBBPF_ERRNO__*, from 4000: a bad ELF, a failed relocation...)
    // are not errnos: strerror would say "Unknown error 4001".
    if (std::abs(err) >= __LIBBPF_ERRNO__START) {
        char buf[128] = {};
        libbpf_strerror(std::abs(err), buf, sizeof(buf));
        return what + ": " + buf;
    }
    return what + ": " + std::strerror(std::abs(err));
}

void throw_errno(const std::string &what, int err) {
    throw Error(errno_message(what, err), std::abs(err));
}

void throw_last_errno(const std::string &what) {
    throw_errno(what, errno);
}

} // namespace xb
