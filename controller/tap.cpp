// SPDX-License-Identifier: BSD-2-Clause
#include "tap.hpp"

#include "error.hpp"
#include "fd.hpp"
#include "options.hpp"

#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pwd.h>
#include <sys/ioctl.h>

namespace xb {

void create_tap(const std::string &name, const TapOwner &owner, unsigned queues) {
    UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    if (!fd)
        throw_last_errno("cannot open /dev/net/tun (is the tun module loaded?)");
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    // A multi-queue tap takes only multi-queue attaches: QEMU's queues=N (N > 1) needs
    // one, and its single-queue attach is refused (EINVAL) - README. The vnet header is
    // what vhost-net and QEMU's multi-queue virtio-net use; QEMU sets its own anyway.
    if (queues > 1)
        ifr.ifr_flags |= IFF_MULTI_QUEUE | IFF_VNET_HDR;
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0)
        throw_last_errno(fmt::format("cannot create tap {}", name));
    if (owner.uid && ::ioctl(fd.get(), TUNSETOWNER, static_cast<unsigned long>(*owner.uid)) < 0)
        throw_last_errno(fmt::format("cannot set the owner of tap {}", name));
    if (owner.gid && ::ioctl(fd.get(), TUNSETGROUP, static_cast<unsigned long>(*owner.gid)) < 0)
        throw_last_errno(fmt::format("cannot set the group of tap {}", name));
    // Persistent: the device outlives this fd and waits, carrier down, for QEMU.
    if (::ioctl(fd.get(), TUNSETPERSIST, 1) < 0)
        throw_last_errno(fmt::format("cannot make tap {} persistent", name));
}

uid_t resolve_user(const std::string &s) {
    if (auto n = parse_number(s, 0, 0xfffffffeLL))
        return static_cast<uid_t>(*n);
    if (const passwd *pw = ::getpwnam(s.c_str()))
        return pw->pw_uid;
    throw Error(fmt::format("unknown user '{}'", s), ENOENT);
}

gid_t resolve_group(const std::string &s) {
    if (auto n = parse_number(s, 0, 0xfffffffeLL))
        return static_cast<gid_t>(*n);
    if (const group *gr = ::getgrnam(s.c_str()))
        return gr->gr_gid;
    throw Error(fmt::format("unknown group '{}'", s), ENOENT);
}

} // namespace xb
