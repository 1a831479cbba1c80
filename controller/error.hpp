// SPDX-License-Identifier: BSD-2-Clause
// Errors carry the failed operation, the object it concerned and errno. They are
// created at the libbpf/libnl/syscall boundary and turned into one line by the CLI.
// Exceptions rather than error values: resource owners undo their work in their
// destructors, so a failed `up` unwinds everything it did without hand-written paths.
#pragma once

#include <stdexcept>
#include <string>

namespace xb {

class Error : public std::runtime_error {
  public:
    explicit Error(const std::string &what, int err = 0) : std::runtime_error(what), err_(err) {}
    int err() const { return err_; }

  private:
    int err_;
};

// Builds "what: strerror(err)". err may be negative (libbpf style) or positive.
std::string errno_message(const std::string &what, int err);

[[noreturn]] void throw_errno(const std::string &what, int err);

// For calls that return -1 and set errno.
[[noreturn]] void throw_last_errno(const std::string &what);

// Checks a libbpf-style return: negative values are -errno.
inline int check_libbpf(int ret, const std::string &what) {
    if (ret < 0)
        throw_errno(what, ret);
    return ret;
}

} // namespace xb
