// SPDX-License-Identifier: BSD-2-Clause
// xb-frames: sends an exact number of crafted Ethernet frames out of a device with an
// AF_PACKET socket, so that tests can check that counters move by exactly what was
// sent, and learn many source MACs at once.
//
//   xb-frames --dev eth0 --dst MAC --src MAC [--count N] [--size BYTES] [--vlan VID]
//             [--ethertype 0x88b5] [--src-count K]
//
// --src-count K cycles the source through K addresses: the last three bytes of --src
// plus 0..K-1. The default ethertype (0x88b5, local experimental) is one no stack answers.
#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

bool parse_mac(const std::string &s, uint8_t out[6]) {
    unsigned v[6];
    if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
        return false;
    for (int i = 0; i < 6; i++) {
        if (v[i] > 0xff)
            return false;
        out[i] = uint8_t(v[i]);
    }
    return true;
}

} // namespace

int main(int argc, char **argv) {
    CLI::App app{"Send crafted Ethernet frames"};
    std::string dev, dst, src, ethertype = "0x88b5";
    uint64_t count = 1, src_count = 1;
    unsigned size = 60, vlan = 0;
    app.add_option("--dev", dev, "Device to send on")->required();
    app.add_option("--dst", dst, "Destination MAC")->required();
    app.add_option("--src", src, "Source MAC")->required();
    app.add_option("--count", count, "Frames to send");
    app.add_option("--size", size, "Frame size without FCS")->check(CLI::Range(18, 9216));
    app.add_option("--vlan", vlan, "802.1Q VLAN id (0: untagged)")->check(CLI::Range(0, 4094));
    app.add_option("--ethertype", ethertype, "Ethertype");
    app.add_option("--src-count", src_count, "Cycle through this many source MACs");
    CLI11_PARSE(app, argc, argv);

    uint8_t dmac[6], smac[6];
    if (!parse_mac(dst, dmac) || !parse_mac(src, smac)) {
        std::fprintf(stderr, "xb-frames: bad MAC address\n");
        return 2;
    }
    const unsigned long et = std::stoul(ethertype, nullptr, 0);
    const unsigned ifindex = if_nametoindex(dev.c_str());
    if (!ifindex) {
        std::fprintf(stderr, "xb-frames: %s: %s\n", dev.c_str(), std::strerror(errno));
        return 1;
    }
    int fd = ::socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) {
        std::fprintf(stderr, "xb-frames: socket: %s\n", std::strerror(errno));
        return 1;
    }
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = int(ifindex);
    sll.sll_halen = 6;
    std::memcpy(sll.sll_addr, dmac, 6);

    std::vector<uint8_t> f(size, 0);
    std::memcpy(&f[0], dmac, 6);
    std::memcpy(&f[6], smac, 6);
    size_t off = 12;
    if (vlan) {
        f[off++] = 0x81;
        f[off++] = 0x00;
        f[off++] = uint8_t(vlan >> 8);
        f[off++] = uint8_t(vlan);
    }
    f[off++] = uint8_t(et >> 8);
    f[off++] = uint8_t(et);
    for (size_t i = off; i < f.size(); i++)
        f[i] = uint8_t(i);

    const uint32_t base = uint32_t(smac[3]) << 16 | uint32_t(smac[4]) << 8 | smac[5];
    for (uint64_t i = 0; i < count; i++) {
        if (src_count > 1) {
            const uint32_t s = base + uint32_t(i % src_count);
            f[9] = uint8_t(s >> 16);
            f[10] = uint8_t(s >> 8);
            f[11] = uint8_t(s);
        }
        for (;;) {
            if (::sendto(fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr *>(&sll),
                         sizeof(sll)) == ssize_t(f.size()))
                break;
            if (errno == ENOBUFS || errno == EAGAIN) {
                usleep(100); // the device queue is full: wait, never drop a frame
                continue;
            }
            std::fprintf(stderr, "xb-frames: send: %s\n", std::strerror(errno));
            return 1;
        }
    }
    ::close(fd);
    return 0;
}
