// SPDX-License-Identifier: BSD-2-Clause
// xb-tap-hold TAP: attaches to a tap's queue like QEMU does and never reads it, until
// SIGTERM: a guest that has stopped reading, whose ring fills up. Prints "ready" once
// attached.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2 || std::strlen(argv[1]) >= IFNAMSIZ) {
        std::fprintf(stderr, "usage: xb-tap-hold TAP\n");
        return 2;
    }
    int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        std::fprintf(stderr, "xb-tap-hold: /dev/net/tun: %s\n", std::strerror(errno));
        return 1;
    }
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
        std::fprintf(stderr, "xb-tap-hold: TUNSETIFF %s: %s\n", argv[1], std::strerror(errno));
        return 1;
    }
    std::printf("ready\n");
    std::fflush(stdout);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    int sig = 0;
    sigwait(&set, &sig);
    ::close(fd);
    return 0;
}
