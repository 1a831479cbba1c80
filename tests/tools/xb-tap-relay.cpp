// xb-tap-relay: stands in for QEMU on a tap device in integration tests.
//
// QEMU attaches to an existing (persistent) tap by opening /dev/net/tun with TUNSETIFF and relays
// frames between that queue and the guest's virtual NIC. This program does the same, but the
// "guest NIC" is a second tap device created inside a guest network namespace, so a test gets a
// real network stack behind the tap without running a VM:
//
//   host ns: TAP (fd A)  <-- relay -->  (fd B) GUESTDEV :guest ns
//
// With --vnet-hdr both queues carry a 12-byte virtio_net_hdr_v1 in front of every frame, exactly
// like QEMU's virtio-net backend, and frames are copied verbatim, so GSO super-frames and
// partially-checksummed frames pass through unchanged. --offload additionally advertises
// checksum/TSO/USO offload on both queues, as a virtio-net guest with offloads would.
// --queues N attaches N queues of a multi-queue tap, as QEMU's queues=N does: frames are read
// from every queue, and the guest's frames are written to the queues in turn; the counters
// printed at exit are per queue.

#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

// Older userspace headers (Debian 12) predate UDP segmentation offload for tun (Linux 6.2).
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

namespace {

constexpr const char *kProg = "xb-tap-relay";

// virtio_net_hdr_v1, the header QEMU's virtio-net uses with modern guests. Declared here because
// <linux/virtio_net.h> does not compile as C++ (it has a member named `class`).
struct VirtioNetHdrV1 {
    uint8_t flags;
    uint8_t gsoType;
    uint16_t hdrLen;
    uint16_t gsoSize;
    uint16_t csumStart;
    uint16_t csumOffset;
    uint16_t numBuffers;
};
static_assert(sizeof(VirtioNetHdrV1) == 12);
constexpr int kVnetHdrSize = sizeof(VirtioNetHdrV1);
constexpr uint8_t kVirtioNetHdrGsoNone = 0;
// A GSO super-frame is at most 64 KiB (tun's default tso_max_size) plus the vnet header; the
// slack keeps a maximal frame from ever being truncated by the read.
constexpr size_t kBufSize = 64 * 1024 + 256;
// Frames relayed per direction before going back to epoll, so that one busy direction cannot
// starve the other one or delay signal handling.
constexpr int kBatch = 64;

// One clear line describing the failing operation and the errno text.
class SysError : public std::runtime_error {
  public:
    SysError(const std::string &op, int err)
        : std::runtime_error(op + ": " + std::strerror(err)), err_(err) {}
    int err() const { return err_; }

  private:
    int err_;
};

[[noreturn]] void throwErrno(const std::string &op) {
    throw SysError(op, errno);
}

// Owns one file descriptor; movable, not copyable.
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    Fd(Fd &&other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd &operator=(Fd &&other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    ~Fd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    void reset() {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

  private:
    int fd_ = -1;
};

struct Options {
    std::string tap;
    std::string guestNetns;
    std::string guestDev;
    std::string guestMac;
    unsigned mtu = 0;
    unsigned queues = 1;
    bool vnetHdr = false;
    bool offload = false;
    bool create = false;
    bool verbose = false;
    std::optional<int> readyFd;
    std::string readyFile;
};

bool g_verbose = false;

__attribute__((format(printf, 1, 2))) void logVerbose(const char *fmt, ...) {
    if (!g_verbose) {
        return;
    }
    std::fprintf(stderr, "%s: ", kProg);
    va_list args;
    va_start(args, fmt);
    std::vfprintf(stderr, fmt, args);
    va_end(args);
    std::fputc('\n', stderr);
}

ifreq makeIfreq(const std::string &name) {
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name.c_str());
    return ifr;
}

// ---- network namespaces -------------------------------------------------------------------

std::string netnsPath(const std::string &netns) {
    // A bare name refers to `ip netns add NAME`; an absolute path (e.g. /proc/PID/ns/net) is
    // accepted as-is so tests can also use namespaces not registered with iproute2.
    return netns.starts_with('/') ? netns : "/run/netns/" + netns;
}

Fd openNetns(const std::string &path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        throwErrno("open network namespace " + path);
    }
    return fd;
}

void enterNetns(const Fd &ns, const std::string &what) {
    if (::setns(ns.get(), CLONE_NEWNET) < 0) {
        throwErrno("setns into " + what);
    }
}

// Runs in the target netns for its lifetime and switches back on destruction. Devices and
// sockets stay bound to the netns they were created in, so fds opened here keep working after
// the switch back.
class NetnsScope {
  public:
    explicit NetnsScope(const std::string &path)
        : home_(openNetns("/proc/self/ns/net")), path_(path) {
        enterNetns(openNetns(path), path);
    }
    NetnsScope(const NetnsScope &) = delete;
    NetnsScope &operator=(const NetnsScope &) = delete;
    ~NetnsScope() {
        // Continuing in the wrong namespace would attach the host side to the wrong device;
        // a destructor cannot throw, so fail hard.
        if (::setns(home_.get(), CLONE_NEWNET) < 0) {
            std::fprintf(stderr, "%s: setns back from %s: %s\n", kProg, path_.c_str(),
                         std::strerror(errno));
            std::_Exit(1);
        }
    }

  private:
    Fd home_;
    std::string path_;
};

// ---- tap queues -----------------------------------------------------------------------------

Fd openTunControl() {
    Fd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
        throwErrno("open /dev/net/tun");
    }
    return fd;
}

// Explains the TUNSETIFF errors a test author is likely to hit.
std::string tunSetIffHint(int err) {
    switch (err) {
    case EBUSY:
        return " (queue already held by another process?)";
    case EINVAL:
        return " (not a tap device?)";
    case EPERM:
        return " (needs CAP_NET_ADMIN)";
    default:
        return "";
    }
}

Fd tunSetIff(const std::string &name, short flags) {
    Fd fd = openTunControl();
    ifreq ifr = makeIfreq(name);
    ifr.ifr_flags = flags;
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) {
        int err = errno;
        throw SysError("TUNSETIFF " + name + tunSetIffHint(err), err);
    }
    return fd;
}

short tapFlags(const Options &opt) {
    return static_cast<short>(IFF_TAP | IFF_NO_PI | (opt.vnetHdr ? IFF_VNET_HDR : 0));
}

// Attaches to the existing tap in the current netns, as QEMU does with ifname=TAP.
Fd attachHostTap(const Options &opt) {
    if (opt.queues > 1) {
        // QEMU with queues=N: every queue is a multi-queue attach, refused by a single-queue tap.
        return tunSetIff(opt.tap, static_cast<short>(tapFlags(opt) | IFF_MULTI_QUEUE));
    }
    bool exists = ::if_nametoindex(opt.tap.c_str()) != 0;
    if (!exists && !opt.create) {
        throw std::runtime_error("tap device " + opt.tap +
                                 " does not exist in this network namespace "
                                 "(use --create for a temporary one)");
    }
    try {
        return tunSetIff(opt.tap, tapFlags(opt));
    } catch (const SysError &e) {
        // A multi-queue tap only accepts IFF_MULTI_QUEUE attaches (QEMU with queues=N); the
        // kernel reports the mismatch as EINVAL, so retry in that mode before giving up.
        if (!exists || e.err() != EINVAL) {
            throw;
        }
        logVerbose("%s refused a single-queue attach, retrying as multi-queue", opt.tap.c_str());
        return tunSetIff(opt.tap, static_cast<short>(tapFlags(opt) | IFF_MULTI_QUEUE));
    }
}

unsigned offloadFlags(const Options &opt, bool withUso) {
    if (!opt.offload) {
        return 0;
    }
    unsigned flags = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
    return withUso ? flags | TUN_F_USO4 | TUN_F_USO6 : flags;
}

// Always sets the offloads, even to 0: a persistent tap remembers the offloads of its previous
// user, and leftover TSO without a vnet header would hand us unsegmented super-frames.
void setOffload(const Fd &fd, const std::string &name, const Options &opt) {
    if (::ioctl(fd.get(), TUNSETOFFLOAD, offloadFlags(opt, true)) == 0) {
        return;
    }
    // Kernels before 6.2 reject the USO bits; offload without them instead.
    if (errno != EINVAL || !opt.offload ||
        ::ioctl(fd.get(), TUNSETOFFLOAD, offloadFlags(opt, false)) < 0) {
        throwErrno("TUNSETOFFLOAD " + name);
    }
    logVerbose("%s: kernel lacks USO, offloading checksum and TSO only", name.c_str());
}

void configureQueue(const Fd &fd, const std::string &name, const Options &opt) {
    if (opt.vnetHdr) {
        int size = kVnetHdrSize;
        if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &size) < 0) {
            throwErrno("TUNSETVNETHDRSZ " + name);
        }
    }
    setOffload(fd, name, opt);
}

// ---- guest link configuration ----------------------------------------------------------------

std::array<unsigned char, 6> parseMac(const std::string &text) {
    std::array<unsigned int, 6> parts{};
    char trailing = 0;
    int n = std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &parts[0], &parts[1], &parts[2],
                        &parts[3], &parts[4], &parts[5], &trailing);
    if (n != 6) {
        throw std::runtime_error("invalid MAC address '" + text + "' (expected aa:bb:cc:dd:ee:ff)");
    }
    std::array<unsigned char, 6> mac{};
    std::transform(parts.begin(), parts.end(), mac.begin(),
                   [](unsigned int p) { return static_cast<unsigned char>(p); });
    return mac;
}

void linkIoctl(const Fd &sock, unsigned long request, ifreq &ifr, const std::string &op) {
    if (::ioctl(sock.get(), request, &ifr) < 0) {
        throwErrno(op + " " + ifr.ifr_name);
    }
}

void setLinkMac(const Fd &sock, const std::string &dev, const std::string &macText) {
    auto mac = parseMac(macText);
    ifreq ifr = makeIfreq(dev);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    std::memcpy(ifr.ifr_hwaddr.sa_data, mac.data(), mac.size());
    linkIoctl(sock, SIOCSIFHWADDR, ifr, "SIOCSIFHWADDR");
}

void setLinkMtu(const Fd &sock, const std::string &dev, unsigned mtu) {
    ifreq ifr = makeIfreq(dev);
    ifr.ifr_mtu = static_cast<int>(mtu);
    linkIoctl(sock, SIOCSIFMTU, ifr, "SIOCSIFMTU");
}

void setLinkUp(const Fd &sock, const std::string &dev) {
    ifreq ifr = makeIfreq(dev);
    linkIoctl(sock, SIOCGIFFLAGS, ifr, "SIOCGIFFLAGS");
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    linkIoctl(sock, SIOCSIFFLAGS, ifr, "SIOCSIFFLAGS");
}

// Must run inside the guest netns: the ioctl socket resolves device names in its own netns.
void configureGuestLink(const Options &opt) {
    Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) {
        throwErrno("socket for link configuration");
    }
    if (!opt.guestMac.empty()) {
        setLinkMac(sock, opt.guestDev, opt.guestMac);
    }
    if (opt.mtu != 0) {
        setLinkMtu(sock, opt.guestDev, opt.mtu);
    }
    setLinkUp(sock, opt.guestDev);
}

// IFF_TUN_EXCL: fail instead of silently attaching to a leftover device of the same name.
Fd createExclusive(const std::string &dev, short flags, const std::string &netns) {
    try {
        return tunSetIff(dev, static_cast<short>(flags | IFF_TUN_EXCL));
    } catch (const SysError &e) {
        if (e.err() != EBUSY) {
            throw;
        }
        throw std::runtime_error("guest device " + dev + " already exists in netns " + netns);
    }
}

// Creates the guest NIC. /dev/net/tun binds a new device to the netns the fd was opened in, so
// the open has to happen inside the guest netns. The device is not persistent: it disappears
// with our fd when the relay exits.
Fd createGuestDev(const Options &opt) {
    NetnsScope inGuest(netnsPath(opt.guestNetns));
    Fd fd = createExclusive(opt.guestDev, tapFlags(opt), opt.guestNetns);
    configureGuestLink(opt);
    return fd;
}

// ---- readiness --------------------------------------------------------------------------------

void writeAll(int fd, const char *data, size_t len, const std::string &what) {
    while (len > 0) {
        ssize_t n = ::write(fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throwErrno("write " + what);
        }
        data += n;
        len -= static_cast<size_t>(n);
    }
}

// Written to a temporary name and renamed, so a test polling for the file never sees it empty.
void createReadyFile(const std::string &path) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) {
        throwErrno("create " + tmp);
    }
    writeAll(fd.get(), "ready\n", 6, tmp);
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        throwErrno("rename " + tmp + " to " + path);
    }
}

void signalReady(const Options &opt) {
    if (opt.readyFd) {
        // Closing it too lets a test that reads a pipe until EOF stop waiting.
        Fd fd(*opt.readyFd);
        writeAll(fd.get(), "ready\n", 6, "--ready-fd " + std::to_string(*opt.readyFd));
    } else if (!opt.readyFile.empty()) {
        createReadyFile(opt.readyFile);
    }
}

// ---- relay ------------------------------------------------------------------------------------

struct Counters {
    uint64_t frames = 0;
    uint64_t bytes = 0;
    uint64_t dropped = 0;
    uint64_t gso = 0;
    size_t maxFrame = 0;
};

// One direction of the relay: frames read from `from` are written to `to`.
struct Direction {
    const Fd *from;
    const Fd *to;
    std::string fromName;
    std::string toName;
    Counters counters;

    std::string label() const { return fromName + "->" + toName; }
};

class Relay {
  public:
    // host: the tap's queues (one, or --queues of a multi-queue tap).
    Relay(std::vector<Fd> host, Fd guest, const std::string &hostName, const std::string &guestName,
          bool vnetHdr)
        : host_(std::move(host)), guest_(std::move(guest)), vnetHdr_(vnetHdr), buf_(kBufSize) {
        for (size_t q = 0; q < host_.size(); ++q) {
            const std::string name =
                host_.size() > 1 ? hostName + "/q" + std::to_string(q) : hostName;
            toGuest_.push_back({&host_[q], &guest_, name, guestName, {}});
            toHost_.push_back({&guest_, &host_[q], guestName, name, {}});
        }
    }
    // The directions refer to this object's own fds, so it must stay put.
    Relay(const Relay &) = delete;
    Relay &operator=(const Relay &) = delete;

    // Relays until SIGTERM/SIGINT arrives on `signals` (returns normally) or a queue fails
    // (throws).
    void run(const Fd &signals);
    void printCounters() const;

  private:
    std::vector<Fd> host_;
    Fd guest_;
    bool vnetHdr_;
    std::vector<Direction> toGuest_; // one per host queue
    std::vector<Direction> toHost_;  // one per host queue, used in turn
    size_t nextQueue_ = 0;
    std::vector<unsigned char> buf_;

    Fd makeEpoll(const Fd &signals) const;
    void handle(const epoll_event &ev);
    void pump(Direction &dir);
    void pumpToHost();
    bool relayOne(Direction &dir);
    ssize_t readFrame(const Direction &dir);
    bool writeFrame(const Direction &dir, size_t len);
    void account(Direction &dir, size_t len);
};

void addToEpoll(const Fd &ep, const Fd &fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd.get();
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &ev) < 0) {
        throwErrno("epoll_ctl");
    }
}

Fd Relay::makeEpoll(const Fd &signals) const {
    Fd ep(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep) {
        throwErrno("epoll_create1");
    }
    for (const Fd &q : host_) {
        addToEpoll(ep, q);
    }
    addToEpoll(ep, guest_);
    addToEpoll(ep, signals);
    return ep;
}

void Relay::run(const Fd &signals) {
    Fd ep = makeEpoll(signals);
    std::vector<epoll_event> events(host_.size() + 2);
    for (;;) {
        // Blocks indefinitely: an idle relay must not burn CPU.
        int n = ::epoll_wait(ep.get(), events.data(), static_cast<int>(events.size()), -1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throwErrno("epoll_wait");
        }
        for (const epoll_event &ev : std::span(events.data(), static_cast<size_t>(n))) {
            if (ev.data.fd == signals.get()) {
                return;
            }
            handle(ev);
        }
    }
}

void Relay::handle(const epoll_event &ev) {
    const std::string *from = nullptr;
    if (ev.data.fd == guest_.get()) {
        pumpToHost();
        from = &toHost_.front().fromName;
    } else {
        for (Direction &dir : toGuest_) {
            if (dir.from->get() == ev.data.fd) {
                pump(dir);
                from = &dir.fromName;
            }
        }
    }
    // On EPOLLERR (tun reports it once the device is deleted) the read throws with the real
    // errno; should it not, bail out anyway rather than spin on a level-triggered error.
    if (from && (ev.events & (EPOLLERR | EPOLLHUP))) {
        throw std::runtime_error("poll reported an error on " + *from);
    }
}

void Relay::pump(Direction &dir) {
    for (int i = 0; i < kBatch; ++i) {
        if (!relayOne(dir)) {
            return;
        }
    }
}

// The guest's frames go to the tap's queues in turn, one frame each.
void Relay::pumpToHost() {
    for (int i = 0; i < kBatch; ++i) {
        if (!relayOne(toHost_[nextQueue_])) {
            return;
        }
        nextQueue_ = (nextQueue_ + 1) % toHost_.size();
    }
}

// Returns false once the source queue is empty.
bool Relay::relayOne(Direction &dir) {
    ssize_t n = readFrame(dir);
    if (n <= 0) {
        return false;
    }
    auto len = static_cast<size_t>(n);
    if (writeFrame(dir, len)) {
        account(dir, len);
    } else {
        ++dir.counters.dropped;
    }
    return true;
}

// Returns the frame length, or 0 when the queue is empty.
ssize_t Relay::readFrame(const Direction &dir) {
    ssize_t n;
    do {
        n = ::read(dir.from->get(), buf_.data(), buf_.size());
    } while (n < 0 && errno == EINTR);
    if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
        return std::max<ssize_t>(n, 0);
    }
    int err = errno;
    throw SysError("read from " + dir.fromName + (err == EBADFD ? " (device deleted?)" : ""), err);
}

// Returns false if the frame was dropped.
bool Relay::writeFrame(const Direction &dir, size_t len) {
    ssize_t n;
    do {
        n = ::write(dir.to->get(), buf_.data(), len);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
        return true;
    }
    int err = errno;
    if (err == EBADFD) {
        throw SysError("write to " + dir.toName + " (device deleted?)", err);
    }
    // Like a NIC with a full ring, drop rather than block the other direction. Errors such as
    // EAGAIN, ENOBUFS, EIO (link down) or EINVAL (frame rejected) concern this one frame, not
    // the queue.
    logVerbose("%s: dropped a %zu-byte frame: %s", dir.label().c_str(), len, std::strerror(err));
    return false;
}

void Relay::account(Direction &dir, size_t len) {
    size_t frameLen = len;
    if (vnetHdr_ && len >= static_cast<size_t>(kVnetHdrSize)) {
        frameLen -= kVnetHdrSize;
        VirtioNetHdrV1 hdr{};
        std::memcpy(&hdr, buf_.data(), sizeof(hdr));
        if (hdr.gsoType != kVirtioNetHdrGsoNone) {
            ++dir.counters.gso;
        }
    }
    Counters &c = dir.counters;
    ++c.frames;
    c.bytes += frameLen;
    c.maxFrame = std::max(c.maxFrame, frameLen);
}

void Relay::printCounters() const {
    // Byte counts and max exclude the vnet header: they describe Ethernet frames.
    auto fmt = [](const Direction &d) {
        const Counters &c = d.counters;
        return d.label() + " frames=" + std::to_string(c.frames) +
               " bytes=" + std::to_string(c.bytes) + " dropped=" + std::to_string(c.dropped) +
               " gso=" + std::to_string(c.gso) + " max=" + std::to_string(c.maxFrame);
    };
    std::string line;
    for (size_t q = 0; q < toGuest_.size(); ++q) {
        line += (q ? "; " : "") + fmt(toGuest_[q]) + "; " + fmt(toHost_[q]);
    }
    std::fprintf(stderr, "%s: %s\n", kProg, line.c_str());
}

// Signals are consumed through a signalfd in the epoll set, so shutdown is just another event
// and there is no EINTR race around epoll_wait.
Fd blockTerminationSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) < 0) {
        throwErrno("sigprocmask");
    }
    Fd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd) {
        throwErrno("signalfd");
    }
    return fd;
}

// ---- command line -----------------------------------------------------------------------------

void validateIfName(const std::string &name, const char *option) {
    if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string::npos) {
        throw CLI::ValidationError(option, "invalid interface name '" + name + "'");
    }
}

void checkOptions(const Options &opt) {
    validateIfName(opt.tap, "--tap");
    validateIfName(opt.guestDev, "--guest-dev");
    if (!opt.guestMac.empty()) {
        parseMac(opt.guestMac);
    }
    if (opt.readyFd && ::fcntl(*opt.readyFd, F_GETFD) < 0) {
        throw SysError("--ready-fd " + std::to_string(*opt.readyFd), errno);
    }
}

void defineOptions(CLI::App &app, Options &opt) {
    app.add_option("--tap", opt.tap, "Existing tap device to attach to (current netns)")
        ->required();
    app.add_option("--guest-netns", opt.guestNetns,
                   "Guest network namespace (name in /run/netns, or a path)")
        ->required();
    app.add_option("--guest-dev", opt.guestDev, "Guest tap device to create")->required();
    app.add_option("--guest-mac", opt.guestMac, "MAC address of the guest device");
    app.add_option("--mtu", opt.mtu, "MTU of the guest device")->check(CLI::Range(68, 65535));
    app.add_option("--queues", opt.queues,
                   "Attach this many queues of a multi-queue TAP (QEMU's queues=N)")
        ->check(CLI::Range(1, 256));
    auto *vnet = app.add_flag("--vnet-hdr", opt.vnetHdr,
                              "Use a 12-byte virtio_net_hdr on both queues, like virtio-net");
    app.add_flag("--offload", opt.offload, "Enable checksum/TSO/USO offload on both queues")
        ->needs(vnet);
    app.add_flag("--create", opt.create, "Create TAP (non-persistent) if it does not exist");
    app.add_flag("-v,--verbose", opt.verbose, "Log setup steps and dropped frames");
    auto *readyFd = app.add_option("--ready-fd", opt.readyFd,
                                   "Write \"ready\\n\" to this fd (then close it) once relaying");
    auto *readyFile = app.add_option("--ready-file", opt.readyFile,
                                     "Create this file once relaying; removed on exit");
    readyFd->excludes(readyFile);
}

void removeReadyFile(const Options &opt) {
    if (!opt.readyFile.empty()) {
        ::unlink(opt.readyFile.c_str());
    }
}

int runRelay(const Options &opt) {
    // A test that closed its end of --ready-fd should get an error line, not a silent death.
    std::signal(SIGPIPE, SIG_IGN);
    Fd signals = blockTerminationSignals();
    std::vector<Fd> host;
    for (unsigned q = 0; q < opt.queues; ++q) {
        host.push_back(attachHostTap(opt));
        configureQueue(host.back(), opt.tap, opt);
    }
    Fd guest = createGuestDev(opt);
    configureQueue(guest, opt.guestDev, opt);
    logVerbose("relaying %s <-> %s in %s (vnet-hdr=%d offload=%d)", opt.tap.c_str(),
               opt.guestDev.c_str(), opt.guestNetns.c_str(), opt.vnetHdr, opt.offload);

    Relay relay(std::move(host), std::move(guest), opt.tap, opt.guestDev, opt.vnetHdr);
    int rc = 0;
    try {
        signalReady(opt);
        relay.run(signals);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s: %s\n", kProg, e.what());
        rc = 1;
    }
    // The file means "the relay holds the queue", which stops being true now.
    removeReadyFile(opt);
    relay.printCounters();
    return rc;
}

} // namespace

int main(int argc, char **argv) {
    CLI::App app{"Relay frames between a tap device and a tap created in a guest netns "
                 "(a QEMU stand-in for tests)",
                 kProg};
    Options opt;
    defineOptions(app, opt);
    try {
        app.parse(argc, argv);
        checkOptions(opt);
    } catch (const CLI::ParseError &e) {
        return app.exit(e);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s: %s\n", kProg, e.what());
        return 2;
    }
    g_verbose = opt.verbose;
    try {
        return runRelay(opt);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s: %s\n", kProg, e.what());
        return 1;
    }
}
