// SPDX-License-Identifier: BSD-2-Clause
// xbb: the benchmark's traffic tool (scripts/bench.sh drives it; see its header).
//
//   xbb traffic ...   generates frames, counts them where they come out, and prints one
//                     JSON line per measurement round. Sources: a generator on a veth ("a
//                     NIC receives") - the XDP program xbb_gen run with
//                     bpf_prog_test_run_opts(BPF_F_TEST_XDP_LIVE_FRAMES) where the kernel
//                     allows it, else an AF_PACKET sender (sendmmsg with
//                     PACKET_QDISC_BYPASS, as netsniff-ng's trafgen sends) - or a thread
//                     that write()s frames into a tap the way QEMU does ("a guest
//                     transmits"). Sinks: the xbb_count XDP program
//                     on veths (per-CPU counters, XDP_DROP), or a thread that read()s a
//                     tap as fast as it can ("a guest receives"). It can also attach the
//                     bare devmap redirect that is the XDP ceiling, and prime the bridges'
//                     FDBs by sending a frame from the sink side first.
//   xbb exec -- CMD   runs CMD and prints its wall time and peak RSS as JSON.
//
// Every device is named in a network namespace given by name (/run/netns/NAME); each
// thread enters the namespace it works in (setns(CLONE_NEWNET) is per thread), so one
// process drives the generator, the device under test and the sinks. Every XDP program
// it attaches is a bpf_link owned by this process: it goes away when the process exits,
// however it exits.
#include "xbb.skel.h"

#include <CLI/CLI.hpp>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <memory>
#include <mutex>
#include <net/if.h>
#include <optional>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

[[noreturn]] void die(const std::string &what, int err = 0) {
    throw std::runtime_error(err ? what + ": " + std::strerror(err) : what);
}

std::atomic<bool> g_stop{false};

void on_signal(int) {
    g_stop = true;
}

std::vector<std::string> split(const std::string &s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty())
            out.push_back(item);
    return out;
}

std::array<uint8_t, 6> parse_mac(const std::string &s) {
    std::array<uint8_t, 6> m{};
    unsigned b[6];
    if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
        die("not a MAC address: " + s);
    for (int i = 0; i < 6; i++)
        m[i] = static_cast<uint8_t>(b[i]);
    return m;
}

// Enters a named network namespace, for the calling thread only.
void enter_netns(const std::string &ns) {
    if (ns.empty())
        return;
    const std::string path = "/run/netns/" + ns;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("network namespace " + ns, errno);
    if (::setns(fd, CLONE_NEWNET) < 0) {
        int err = errno;
        ::close(fd);
        die("setns " + ns, err);
    }
    ::close(fd);
}

int ifindex_of(const std::string &dev) {
    unsigned idx = ::if_nametoindex(dev.c_str());
    if (!idx)
        die("no device " + dev, errno);
    return static_cast<int>(idx);
}

void pin_to_cpu(int cpu) {
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (::sched_setaffinity(0, sizeof(set), &set) < 0)
        die("sched_setaffinity", errno);
}

pid_t gettid_() {
    return static_cast<pid_t>(::syscall(SYS_gettid));
}

// Time a thread has spent on a CPU, in ns (first field of schedstat: sum_exec_runtime).
// Precise, unlike the tick-sampled utime/stime, and it covers the softirq work the
// thread does in its own context (a tap write forwards the frame before it returns).
uint64_t thread_cpu_ns(pid_t tid) {
    std::ifstream f("/proc/" + std::to_string(tid) + "/schedstat");
    uint64_t ns = 0;
    f >> ns;
    return ns;
}

// The ksoftirqd thread of a CPU: softirq work the kernel defers from the generator's or
// the writer's context runs there, and belongs to the same frames.
pid_t ksoftirqd_of(int cpu) {
    if (cpu < 0)
        return 0;
    const std::string want = "ksoftirqd/" + std::to_string(cpu);
    for (const auto &e : std::filesystem::directory_iterator("/proc")) {
        const std::string name = e.path().filename();
        if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0])))
            continue;
        std::ifstream f(e.path() / "comm");
        std::string comm;
        if (std::getline(f, comm) && comm == want)
            return static_cast<pid_t>(std::stol(name));
    }
    return 0;
}

struct CpuTimes {
    uint64_t busy_ns = 0, softirq_ns = 0;
};

// Per-CPU busy time from /proc/stat (USER_HZ ticks: 10 ms resolution).
std::vector<CpuTimes> cpu_times() {
    std::vector<CpuTimes> out;
    std::ifstream f("/proc/stat");
    std::string line;
    const uint64_t tick_ns = 1000000000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
    while (std::getline(f, line)) {
        if (line.rfind("cpu", 0) != 0 || line.size() < 4 || !std::isdigit(line[3]))
            continue;
        std::istringstream ss(line);
        std::string name;
        uint64_t user, nice, sys, idle, iowait, irq, softirq, steal;
        ss >> name >> user >> nice >> sys >> idle >> iowait >> irq >> softirq >> steal;
        out.push_back({(user + nice + sys + irq + softirq + steal) * tick_ns, softirq * tick_ns});
    }
    return out;
}

// The 60-byte frame (64 on a wire with its FCS): Ethernet, IPv4, UDP, 18 bytes of payload.
// IPv4 with a valid header checksum, so that br_netfilter (bridge-nf-call-iptables)
// takes it through the iptables hooks instead of rejecting it.
std::vector<uint8_t> make_frame(const std::array<uint8_t, 6> &dst,
                                const std::array<uint8_t, 6> &src, size_t len) {
    if (len < 60)
        len = 60;
    std::vector<uint8_t> f(len, 0);
    std::memcpy(&f[0], dst.data(), 6);
    std::memcpy(&f[6], src.data(), 6);
    f[12] = 0x08;
    f[13] = 0x00;
    uint8_t *ip = &f[14];
    const uint16_t ip_len = static_cast<uint16_t>(len - 14);
    ip[0] = 0x45;
    ip[2] = uint8_t(ip_len >> 8);
    ip[3] = uint8_t(ip_len);
    ip[8] = 64;
    ip[9] = 17; // UDP
    const uint8_t saddr[4] = {10, 78, 0, 1}, daddr[4] = {10, 78, 0, 2};
    std::memcpy(ip + 12, saddr, 4);
    std::memcpy(ip + 16, daddr, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += uint32_t(ip[i] << 8 | ip[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    const uint16_t csum = static_cast<uint16_t>(~sum);
    ip[10] = uint8_t(csum >> 8);
    ip[11] = uint8_t(csum);
    uint8_t *udp = ip + 20;
    const uint16_t udp_len = static_cast<uint16_t>(ip_len - 20);
    udp[0] = 0x30; // ports 12345 → 9 (discard); checksum 0 (none)
    udp[1] = 0x39;
    udp[3] = 9;
    udp[4] = uint8_t(udp_len >> 8);
    udp[5] = uint8_t(udp_len);
    return f;
}

// The frame with an 802.1Q tag of VLAN vid after its MACs (vid 0: as it is). Four bytes
// longer, as on a wire.
std::vector<uint8_t> tagged(std::vector<uint8_t> f, int vid) {
    if (vid <= 0)
        return f;
    const uint8_t tag[4] = {0x81, 0x00, uint8_t((vid >> 8) & 0x0f), uint8_t(vid)};
    f.insert(f.begin() + 12, tag, tag + 4);
    return f;
}

// A tap queue opened as QEMU opens one: non-blocking (tun runs a tap's XDP program natively
// only on non-blocking writes) with a 12-byte virtio_net_hdr_v1 in front of every frame.
constexpr size_t kVnetHdr = 12;

int open_tap(const std::string &name) {
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        die("/dev/net/tun", errno);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (::ioctl(fd, TUNSETIFF, &ifr) < 0)
        die("TUNSETIFF " + name, errno);
    int sz = kVnetHdr;
    if (::ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
        die("TUNSETVNETHDRSZ", errno);
    return fd;
}

// Waits until a tap whose queue we just attached is operationally up. Its carrier comes up
// at once, but the rest of the kernel hears of it through linkwatch, up to a second later:
// until then the kernel bridge keeps the port disabled (it would not learn a priming frame)
// and xbridge's controller has not marked it up.
void wait_running(const std::string &dev) {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        die("socket", errno);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, dev.c_str(), IFNAMSIZ - 1);
    const auto end = Clock::now() + std::chrono::seconds(3);
    while (Clock::now() < end) {
        if (::ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_RUNNING))
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::close(s);
    // Then a moment for the bridge's own reaction (xbridge's controller reads the event).
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

struct Options {
    std::string source = "gen", sink = "xdp";
    // The veth generator: live (XDP live frames), packet (AF_PACKET), or auto (live where
    // the kernel allows it).
    std::string generator = "auto";
    std::string gen_ns, gen_dev;
    int gen_cpu = 0;
    uint64_t macs = 1;
    // Frames per test_run call: each call sets up and tears down a page pool (and waits
    // for an RCU grace period), so a call must be long for that to vanish in the rate.
    uint32_t repeat = 1u << 18;
    // Generator threads, all on gen_cpu: while one waits out its call's set-up and
    // teardown, another one transmits, so the generator never pauses.
    int gen_threads = 2;
    std::string tap_ns, tap;
    int tap_cpu = 0;
    std::string sink_ns, sinks, quiet_sinks;
    std::string reader_ns, reader_tap;
    int reader_cpu = -1;
    std::string src = "02:00:00:00:00:01", dst = "02:00:00:00:00:02";
    size_t len = 60;
    int vlan = 0; // 802.1Q tag of every frame, priming frames included (0: untagged)
    std::string prime_ns, prime_dev, prime_src;
    std::string bare = "none", bare_ns, bare_in, bare_out;
    std::string tids;
    double warmup = 1, seconds = 5;
    int rounds = 1;
};

struct Shared {
    std::atomic<uint64_t> written{0}, write_err{0};
    // Frames the AF_PACKET generator handed to the kernel (the live generator counts its
    // own in gen_state).
    std::atomic<uint64_t> sent{0};
    // Stored by the reader after every frame: a cache line of its own.
    alignas(64) std::atomic<uint64_t> read{0};
    alignas(64) std::atomic<pid_t> writer_tid{0}, reader_tid{0};
    std::vector<std::atomic<pid_t>> gen_tids = std::vector<std::atomic<pid_t>>(16);
    std::atomic<int> ready{0};
    std::string error;
    std::mutex error_mu;
    void fail(const std::string &e) {
        std::lock_guard<std::mutex> l(error_mu);
        if (error.empty())
            error = e;
        g_stop = true;
    }
};

void generator(const Options &o, xbb *skel, const std::vector<uint8_t> &frame, Shared &sh,
               size_t n) {
    try {
        enter_netns(o.gen_ns);
        pin_to_cpu(o.gen_cpu);
        sh.gen_tids[n] = gettid_();
        xdp_md md{};
        md.ingress_ifindex = static_cast<__u32>(ifindex_of(o.gen_dev));
        md.data_end = static_cast<__u32>(frame.size()); // test_run wants the frame size here
        const uint32_t repeat = o.repeat;
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                    .data_size_in = static_cast<__u32>(frame.size()), .ctx_in = &md,
                    .ctx_size_in = sizeof(md), .repeat = static_cast<int>(repeat),
                    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
        const int fd = bpf_program__fd(skel->progs.xbb_gen);
        sh.ready++;
        while (!g_stop) {
            if (bpf_prog_test_run_opts(fd, &opts) < 0)
                die("bpf_prog_test_run_opts (live frames) on " + o.gen_dev, errno);
        }
    } catch (const std::exception &e) {
        sh.fail(e.what());
    }
}

// Whether this kernel lets bpf_prog_test_run_opts transmit live frames (recent kernels
// may refuse it with EPERM, whatever the caller's privileges). One frame goes out on
// gen_dev if it does: a bridge learns the generator's source from it, as from the rest.
bool live_frames_allowed(const Options &o, xbb *skel, const std::vector<uint8_t> &frame) {
    bool ok = false;
    std::thread t([&] {
        enter_netns(o.gen_ns);
        xdp_md md{};
        md.ingress_ifindex = static_cast<__u32>(ifindex_of(o.gen_dev));
        md.data_end = static_cast<__u32>(frame.size());
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                    .data_size_in = static_cast<__u32>(frame.size()), .ctx_in = &md,
                    .ctx_size_in = sizeof(md), .repeat = 1, .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
                    .batch_size = 1);
        ok = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xbb_gen), &opts) == 0;
    });
    t.join();
    return ok;
}

// The AF_PACKET generator: a packet socket on gen_dev with PACKET_QDISC_BYPASS (frames go
// straight to the driver, dev_direct_xmit, as netsniff-ng's trafgen sends them), fed by
// sendmmsg() in batches of 64 from this thread, pinned to gen_cpu. The kernel builds a
// linear skb per frame and the veth hands it to its peer, whose receive path - the device
// under test - runs in this thread's softirq. (A PACKET_TX_RING, trafgen's way, costs more
// per frame here: its frames are zero-copy fragments of the ring, which the veth must
// copy out before its peer may keep them.) With macs > 1, bytes 3-5 of the source MAC
// carry a sequence number, as xbb_gen does.
void packet_generator(const Options &o, const std::vector<uint8_t> &frame, Shared &sh) {
    constexpr unsigned kBatch = 64;
    try {
        enter_netns(o.gen_ns);
        pin_to_cpu(o.gen_cpu);
        sh.gen_tids[0] = gettid_();
        // Protocol 0: a socket that only sends (it takes no copy of received frames).
        int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("AF_PACKET socket", errno);
        struct Closer {
            int fd;
            ~Closer() { ::close(fd); }
        } closer{fd};
        int one = 1;
        if (::setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0)
            die("PACKET_QDISC_BYPASS", errno);
        sockaddr_ll sll{};
        sll.sll_family = AF_PACKET;
        sll.sll_ifindex = ifindex_of(o.gen_dev);
        if (::bind(fd, reinterpret_cast<sockaddr *>(&sll), sizeof(sll)) < 0)
            die("bind to " + o.gen_dev, errno);

        std::vector<std::vector<uint8_t>> bufs(kBatch, frame);
        std::vector<iovec> iov(kBatch);
        std::vector<mmsghdr> msgs(kBatch);
        for (unsigned i = 0; i < kBatch; i++) {
            iov[i] = {bufs[i].data(), bufs[i].size()};
            msgs[i] = {};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        sh.ready++;
        const uint64_t nmacs = o.macs;
        uint64_t seq = 0, sent = 0;
        while (!g_stop) {
            if (nmacs > 1) {
                for (auto &b : bufs) {
                    b[9] = static_cast<uint8_t>(seq >> 16);
                    b[10] = static_cast<uint8_t>(seq >> 8);
                    b[11] = static_cast<uint8_t>(seq);
                    if (++seq >= nmacs)
                        seq = 0;
                }
            }
            const int n = ::sendmmsg(fd, msgs.data(), kBatch, 0);
            if (n > 0)
                sent += static_cast<unsigned>(n);
            else if (n < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
                die("sendmmsg on " + o.gen_dev, errno);
            sh.sent.store(sent, std::memory_order_relaxed);
        }
    } catch (const std::exception &e) {
        sh.fail(e.what());
    }
}

void writer(const Options &o, const std::vector<uint8_t> &frame, Shared &sh) {
    try {
        enter_netns(o.tap_ns);
        pin_to_cpu(o.tap_cpu);
        sh.writer_tid = gettid_();
        int fd = open_tap(o.tap);
        wait_running(o.tap);
        std::vector<uint8_t> buf(kVnetHdr, 0);
        buf.insert(buf.end(), frame.begin(), frame.end());
        sh.ready++;
        uint64_t ok = 0, err = 0;
        while (!g_stop) {
            for (int i = 0; i < 256; i++) {
                if (::write(fd, buf.data(), buf.size()) == static_cast<ssize_t>(buf.size()))
                    ok++;
                else
                    err++;
            }
            sh.written.store(ok, std::memory_order_relaxed);
            sh.write_err.store(err, std::memory_order_relaxed);
        }
        ::close(fd);
    } catch (const std::exception &e) {
        sh.fail(e.what());
    }
}

// QEMU's tap_send: woken by poll, reads until the queue is empty. (The main thread has
// written the guest's first frames through the same fd: see prime_tap.) The count is
// published after every frame, not when the queue runs dry: a sender faster than this
// reader (an XDP redirect into the tap) keeps the queue full for whole rounds, and a count
// published only on empty would then stay where it was, 0 at worst ("forwarded nothing").
void reader(const Options &o, int fd, Shared &sh) {
    try {
        pin_to_cpu(o.reader_cpu);
        sh.reader_tid = gettid_();
        std::vector<uint8_t> buf(65536 + kVnetHdr);
        sh.ready++;
        uint64_t n = 0;
        while (!g_stop) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0)
                continue;
            while (!g_stop) {
                const ssize_t r = ::read(fd, buf.data(), buf.size());
                if (r > 0) {
                    sh.read.store(++n, std::memory_order_relaxed);
                    continue;
                }
                // Empty (EAGAIN) is the normal end; anything else (the tap went away:
                // EBADFD, with poll reporting POLLERR) would make this loop spin.
                if (r < 0 && errno != EAGAIN && errno != EINTR)
                    die("read from the tap", errno);
                break;
            }
        }
    } catch (const std::exception &e) {
        sh.fail(e.what());
    }
}

// A few broadcast frames from `src` out of dev: the bridge learns src on the port that
// is dev's peer (both the kernel bridge and xbridge learn from any valid source).
void prime_af_packet(const Options &o, const std::array<uint8_t, 6> &src) {
    enter_netns(o.prime_ns);
    int s = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (s < 0)
        die("AF_PACKET socket", errno);
    auto frame = make_frame({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, src, 60);
    frame[12] = 0x88; // IEEE local experimental ethertype: no stack takes it up
    frame[13] = 0xb5;
    frame = tagged(frame, o.vlan);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifindex_of(o.prime_dev);
    sll.sll_halen = 6;
    for (int i = 0; i < 3; i++)
        if (::sendto(s, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr *>(&sll),
                     sizeof(sll)) < 0)
            die("send priming frame on " + o.prime_dev, errno);
    ::close(s);
}

// The guest's first frames, written into its tap, so that the bridges learn its MAC there.
void prime_tap(int fd, const std::array<uint8_t, 6> &src, int vlan) {
    auto frame = make_frame({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, src, 60);
    frame[12] = 0x88;
    frame[13] = 0xb5;
    frame = tagged(frame, vlan);
    std::vector<uint8_t> buf(kVnetHdr, 0);
    buf.insert(buf.end(), frame.begin(), frame.end());
    for (int i = 0; i < 3; i++)
        if (::write(fd, buf.data(), buf.size()) < 0)
            die("write priming frame into the tap", errno);
}

struct Snapshot {
    Clock::time_point t;
    std::vector<uint64_t> sink, quiet;
    uint64_t gen = 0, written = 0, write_err = 0, read = 0;
    uint64_t gen_ns = 0, writer_ns = 0, reader_ns = 0, dut_ns = 0, softirqd_ns = 0;
    std::vector<CpuTimes> cpus;
};

// Sum over CPUs of one slot of a per-CPU counter array.
uint64_t sink_frames(int map_fd, int ifindex) {
    const int ncpu = libbpf_num_possible_cpus();
    std::vector<uint64_t> v(static_cast<size_t>(ncpu));
    __u32 key = static_cast<__u32>(ifindex);
    if (bpf_map_lookup_elem(map_fd, &key, v.data()) < 0)
        die("read sink counters", errno);
    uint64_t sum = 0;
    for (auto x : v)
        sum += x;
    return sum;
}

int run_traffic(const Options &o) {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    libbpf_set_print([](libbpf_print_level level, const char *fmt, va_list ap) {
        return level == LIBBPF_WARN ? std::vfprintf(stderr, fmt, ap) : 0;
    });

    std::unique_ptr<xbb, void (*)(xbb *)> skel(xbb__open_and_load(), xbb__destroy);
    if (!skel)
        die("cannot load the benchmark's BPF object", errno);
    skel->bss->gen_nmacs = o.macs;

    const auto src = parse_mac(o.src), dst = parse_mac(o.dst);
    const auto frame = tagged(make_frame(dst, src, o.len), o.vlan);
    std::vector<bpf_link *> links;
    auto attach = [&](bpf_program *prog, const std::string &dev) {
        bpf_link *l = bpf_program__attach_xdp(prog, ifindex_of(dev));
        if (!l)
            die("attach XDP to " + dev, errno);
        links.push_back(l);
    };
    struct LinkGuard {
        std::vector<bpf_link *> &l;
        ~LinkGuard() {
            for (auto *x : l)
                bpf_link__destroy(x);
        }
    } guard{links};

    // The main thread visits each namespace in turn; the fds it gets stay valid anywhere.
    const auto sinks = split(o.sinks), quiet = split(o.quiet_sinks);
    std::vector<int> sink_idx, quiet_idx;
    if (o.sink != "xdp" && !sinks.empty())
        die("--sinks needs --sink xdp");
    if (!sinks.empty() || !quiet.empty()) {
        enter_netns(o.sink_ns);
        for (const auto &d : sinks) {
            attach(skel->progs.xbb_count, d);
            sink_idx.push_back(ifindex_of(d));
        }
        for (const auto &d : quiet) {
            attach(skel->progs.xbb_count, d);
            quiet_idx.push_back(ifindex_of(d));
        }
        for (int i : sink_idx)
            if (i >= 256)
                die("sink ifindex too large for the counter map");
        for (int i : quiet_idx)
            if (i >= 256)
                die("sink ifindex too large for the counter map");
    }
    if (o.bare != "none") {
        enter_netns(o.bare_ns);
        const auto outs = split(o.bare_out);
        if (outs.empty())
            die("--bare needs --bare-out");
        if (o.bare == "redirect") {
            __u32 k = 0, v = static_cast<__u32>(ifindex_of(outs[0]));
            if (bpf_map_update_elem(bpf_map__fd(skel->maps.fwd), &k, &v, 0) < 0)
                die("devmap update", errno);
            attach(skel->progs.xbb_redirect, o.bare_in);
        } else {
            for (const auto &d : outs) {
                __u32 v = static_cast<__u32>(ifindex_of(d));
                if (bpf_map_update_elem(bpf_map__fd(skel->maps.bcast), &v, &v, 0) < 0)
                    die("devmap update", errno);
            }
            attach(skel->progs.xbb_bcast, o.bare_in);
        }
    }

    int reader_fd = -1;
    if (o.sink == "tap") {
        enter_netns(o.reader_ns);
        reader_fd = open_tap(o.reader_tap);
        wait_running(o.reader_tap);
    }
    if (!o.prime_src.empty()) {
        if (reader_fd >= 0)
            prime_tap(reader_fd, parse_mac(o.prime_src), o.vlan);
        else
            prime_af_packet(o, parse_mac(o.prime_src));
        // The kernel bridge learns in its receive path; xbridge's controller is not
        // involved. A moment lets a tap's carrier settle too.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }

    // Softirqs of the sending CPU are part of the sender's cost (the device under test
    // runs there, in the sender's context or in that CPU's ksoftirqd).
    const pid_t softirqd = ksoftirqd_of(o.source == "tap" ? o.tap_cpu : o.gen_cpu);
    std::vector<pid_t> tids;
    for (const auto &t : split(o.tids))
        tids.push_back(static_cast<pid_t>(std::stol(t)));

    Shared sh;
    std::vector<std::thread> threads;
    int want = 0;
    if (o.sink == "tap") {
        threads.emplace_back(reader, std::cref(o), reader_fd, std::ref(sh));
        want++;
    }
    std::string generator_used;
    if (o.source == "gen") {
        generator_used = o.generator;
        if (generator_used == "auto")
            generator_used = live_frames_allowed(o, skel.get(), frame) ? "live" : "packet";
        else if (generator_used != "live" && generator_used != "packet")
            die("--generator takes auto, live or packet");
    }
    if (generator_used == "packet") {
        threads.emplace_back(packet_generator, std::cref(o), std::cref(frame), std::ref(sh));
        want++;
    } else if (generator_used == "live") {
        for (int i = 0; i < std::clamp(o.gen_threads, 1, 16); i++) {
            threads.emplace_back(generator, std::cref(o), skel.get(), std::cref(frame),
                                 std::ref(sh), static_cast<size_t>(i));
            want++;
        }
    } else if (o.source == "tap") {
        threads.emplace_back(writer, std::cref(o), std::cref(frame), std::ref(sh));
        want++;
    }
    while (sh.ready < want && !g_stop)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));

    const int map_fd = bpf_map__fd(skel->maps.sink_count);
    auto snap = [&]() {
        Snapshot s;
        s.t = Clock::now();
        for (int i : sink_idx)
            s.sink.push_back(sink_frames(map_fd, i));
        for (int i : quiet_idx)
            s.quiet.push_back(sink_frames(map_fd, i));
        s.gen = sink_frames(bpf_map__fd(skel->maps.gen_state), 1) + sh.sent;
        s.written = sh.written;
        s.write_err = sh.write_err;
        s.read = sh.read;
        for (const auto &t : sh.gen_tids)
            if (t)
                s.gen_ns += thread_cpu_ns(t);
        if (sh.writer_tid)
            s.writer_ns = thread_cpu_ns(sh.writer_tid);
        if (sh.reader_tid)
            s.reader_ns = thread_cpu_ns(sh.reader_tid);
        for (pid_t t : tids)
            s.dut_ns += thread_cpu_ns(t);
        if (softirqd)
            s.softirqd_ns = thread_cpu_ns(softirqd);
        s.cpus = cpu_times();
        return s;
    };
    auto sleep_for = [](double secs) {
        const auto end = Clock::now() + std::chrono::duration<double>(secs);
        while (!g_stop && Clock::now() < end)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    };

    sleep_for(o.warmup);
    int rc = 0;
    for (int r = 0; r < o.rounds && !g_stop; r++) {
        const Snapshot a = snap();
        sleep_for(o.seconds);
        const Snapshot b = snap();
        const double secs = std::chrono::duration<double>(b.t - a.t).count();
        json j;
        j["round"] = r + 1;
        j["secs"] = secs;
        json frames = json::object(), qf = json::object();
        uint64_t sum = 0;
        for (size_t i = 0; i < sinks.size(); i++) {
            frames[sinks[i]] = b.sink[i] - a.sink[i];
            sum += b.sink[i] - a.sink[i];
        }
        for (size_t i = 0; i < quiet.size(); i++)
            qf[quiet[i]] = b.quiet[i] - a.quiet[i];
        j["sinks"] = frames;
        j["quiet_sinks"] = qf;
        j["sink_sum"] = sum;
        j["generated"] = b.gen - a.gen;
        j["generator"] = generator_used.empty() ? o.source : generator_used;
        j["written"] = b.written - a.written;
        j["write_errors"] = b.write_err - a.write_err;
        j["read"] = b.read - a.read;
        j["cpu_ns"] = {{"generator", b.gen_ns - a.gen_ns},
                       {"writer", b.writer_ns - a.writer_ns},
                       {"reader", b.reader_ns - a.reader_ns},
                       {"ksoftirqd", b.softirqd_ns - a.softirqd_ns},
                       {"dut_threads", b.dut_ns - a.dut_ns}};
        json busy = json::array(), soft = json::array();
        for (size_t c = 0; c < b.cpus.size() && c < a.cpus.size(); c++) {
            busy.push_back(b.cpus[c].busy_ns - a.cpus[c].busy_ns);
            soft.push_back(b.cpus[c].softirq_ns - a.cpus[c].softirq_ns);
        }
        j["cpu_busy_ns"] = busy;
        j["cpu_softirq_ns"] = soft;
        std::printf("%s\n", j.dump().c_str());
        std::fflush(stdout);
    }
    g_stop = true;
    for (auto &t : threads)
        t.join();
    if (reader_fd >= 0)
        ::close(reader_fd);
    if (!sh.error.empty()) {
        std::fprintf(stderr, "xbb: %s\n", sh.error.c_str());
        rc = 1;
    }
    return rc;
}

// Runs argv, waits, prints {"wall_ms":..., "max_rss_kib":..., "exit":...}. Its output goes
// to stdout only when --out is not given.
int run_exec(const std::vector<std::string> &argv, const std::string &out) {
    if (argv.empty())
        die("exec: no command");
    const auto t0 = Clock::now();
    pid_t pid = ::fork();
    if (pid < 0)
        die("fork", errno);
    if (pid == 0) {
        if (!out.empty()) {
            int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0 || ::dup2(fd, STDOUT_FILENO) < 0)
                ::_exit(127);
        }
        std::vector<char *> args;
        args.reserve(argv.size() + 1);
        for (const auto &a : argv)
            args.push_back(const_cast<char *>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    rusage ru{};
    if (::wait4(pid, &status, 0, &ru) < 0)
        die("wait4", errno);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    json j{{"wall_ms", ms},
           {"max_rss_kib", ru.ru_maxrss},
           {"user_ms", ru.ru_utime.tv_sec * 1000.0 + ru.ru_utime.tv_usec / 1000.0},
           {"sys_ms", ru.ru_stime.tv_sec * 1000.0 + ru.ru_stime.tv_usec / 1000.0},
           {"exit", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)}};
    std::fprintf(stderr, "%s\n", j.dump().c_str());
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    CLI::App app{"xbb: xbridge benchmark traffic tool (also: xbb exec [--out FILE] -- CMD...)"};
    app.require_subcommand(1);

    Options o;
    auto *tr = app.add_subcommand("traffic", "Generate, count, print one JSON line per round");
    tr->add_option("--source", o.source, "gen (a generator on a veth), tap (writer), none");
    tr->add_option("--gen-ns", o.gen_ns, "Namespace of the generator veth");
    tr->add_option("--gen-dev", o.gen_dev, "Generator veth (frames go to its peer)");
    tr->add_option("--gen-cpu", o.gen_cpu, "CPU of the generator thread");
    tr->add_option("--repeat", o.repeat, "Frames per test_run call");
    tr->add_option("--gen-threads", o.gen_threads,
                   "Live-frame generator threads (all on --gen-cpu)");
    tr->add_option("--generator", o.generator,
                   "auto (live where the kernel allows it), live (XDP live frames) or packet "
                   "(AF_PACKET TX ring)");
    tr->add_option("--macs", o.macs, "Distinct source MACs the generator cycles through");
    tr->add_option("--tap-ns", o.tap_ns, "Namespace of the tap the writer writes into");
    tr->add_option("--tap", o.tap, "Tap the writer writes into (source tap)");
    tr->add_option("--tap-cpu", o.tap_cpu, "CPU of the writer thread");
    tr->add_option("--sink", o.sink, "xdp (count on veths), tap (reader), none");
    tr->add_option("--sink-ns", o.sink_ns, "Namespace of the sink veths");
    tr->add_option("--sinks", o.sinks, "Sink veths whose frames are counted, comma-separated");
    tr->add_option("--quiet-sinks", o.quiet_sinks, "Sink veths that should get nothing");
    tr->add_option("--reader-ns", o.reader_ns, "Namespace of the tap the reader reads");
    tr->add_option("--reader-tap", o.reader_tap, "Tap the reader reads (sink tap)");
    tr->add_option("--reader-cpu", o.reader_cpu, "CPU of the reader thread (-1: any)");
    tr->add_option("--src", o.src, "Source MAC of the frames");
    tr->add_option("--dst", o.dst, "Destination MAC of the frames");
    tr->add_option("--len", o.len, "Frame length without FCS (>= 60)");
    tr->add_option("--vlan", o.vlan, "Tag every frame with this 802.1Q VLAN (0: untagged)")
        ->check(CLI::Range(0, 4094));
    tr->add_option("--prime-ns", o.prime_ns, "Namespace of the priming device");
    tr->add_option("--prime-dev", o.prime_dev, "Send the priming frames out of this device");
    tr->add_option("--prime-src", o.prime_src, "Source MAC of the priming frames");
    tr->add_option("--bare", o.bare, "none, redirect or bcast: attach the bare ceiling program");
    tr->add_option("--bare-ns", o.bare_ns, "Namespace of the bare redirect");
    tr->add_option("--bare-in", o.bare_in, "Device the bare program runs on");
    tr->add_option("--bare-out", o.bare_out, "Its target(s), comma-separated");
    tr->add_option("--tids", o.tids, "Threads of the device under test to account (pids)");
    tr->add_option("--warmup", o.warmup, "Seconds of traffic before the first round");
    tr->add_option("--seconds", o.seconds, "Seconds per round");
    tr->add_option("--rounds", o.rounds, "Rounds");

    // exec is parsed by hand: everything after "--" is the command, options and all.
    if (argc >= 2 && std::string(argv[1]) == "exec") {
        std::string out;
        std::vector<std::string> cmd;
        int i = 2;
        if (i + 1 < argc && std::string(argv[i]) == "--out") {
            out = argv[i + 1];
            i += 2;
        }
        if (i < argc && std::string(argv[i]) == "--")
            i++;
        for (; i < argc; i++)
            cmd.emplace_back(argv[i]);
        try {
            return run_exec(cmd, out);
        } catch (const std::exception &e) {
            std::fprintf(stderr, "xbb: %s\n", e.what());
            return 1;
        }
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e);
    }
    try {
        if (tr->parsed())
            return run_traffic(o);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "xbb: %s\n", e.what());
        return 1;
    }
    return 0;
}
