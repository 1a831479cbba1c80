// SPDX-License-Identifier: BSD-2-Clause
#include "capture.hpp"

#include "error.hpp"
#include "fdb.hpp"
#include "lease.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fmt/format.h>
#include <memory>
#include <unistd.h>

namespace xb {

namespace {

// Pages of each CPU's perf ring (a power of two): 1 MiB holds 16 of the longest records
// (XB_CAPTURE_MAX), or about 700 full-size Ethernet frames, between two reads.
constexpr size_t kPerfPages = 256;

volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
    g_stop = 1;
}

void put32(std::string &s, uint32_t v) {
    s.append(reinterpret_cast<const char *>(&v), 4); // pcap: the writer's byte order
}
void put16(std::string &s, uint16_t v) {
    s.append(reinterpret_cast<const char *>(&v), 2);
}

uint64_t clock_ns(clockid_t id) {
    timespec ts{};
    ::clock_gettime(id, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

struct Session {
    const CaptureOptions &opts;
    std::FILE *out;
    uint64_t mono_to_real; // bpf_ktime_get_ns() is CLOCK_MONOTONIC
    CaptureResult res;
    int write_errno = 0; // a write failed: EPIPE when the reader went away

    void frame(const void *data, uint32_t size) {
        if (g_stop || size < sizeof(xb_capture_hdr))
            return;
        if (opts.count && res.captured >= *opts.count)
            return;
        xb_capture_hdr h;
        std::memcpy(&h, data, sizeof(h));
        const uint32_t caplen = std::min<uint32_t>(h.caplen, size - uint32_t(sizeof(h)));
        const std::string rec = pcap_record_header(h.ts_ns + mono_to_real, caplen, h.len);
        if (std::fwrite(rec.data(), 1, rec.size(), out) != rec.size() ||
            std::fwrite(static_cast<const char *>(data) + sizeof(h), 1, caplen, out) != caplen) {
            write_errno = errno ? errno : EIO;
            g_stop = 1;
            return;
        }
        res.captured++;
        if (opts.count && res.captured >= *opts.count)
            g_stop = 1;
    }
};

void on_sample(void *ctx, int, void *data, __u32 size) {
    static_cast<Session *>(ctx)->frame(data, size);
}

void on_lost(void *ctx, int, __u64 n) {
    static_cast<Session *>(ctx)->res.lost += n;
}

struct PerfBufferDeleter {
    void operator()(perf_buffer *pb) const { perf_buffer__free(pb); }
};

xb_capture_cfg read_cfg(const Datapath &dp) {
    xb_capture_cfg cc{};
    uint32_t zero = 0;
    bpf_map_lookup_elem(dp.map(MapId::CaptureCfg), &zero, &cc);
    return cc;
}

void write_cfg(Datapath &dp, const xb_capture_cfg &cc) {
    uint32_t zero = 0;
    check_libbpf(bpf_map_update_elem(dp.map(MapId::CaptureCfg), &zero, &cc, BPF_ANY),
                 "cannot set the capture filter");
}

} // namespace

std::string pcap_file_header(uint32_t snaplen) {
    std::string s;
    put32(s, 0xa1b23c4d); // pcap with nanosecond timestamps
    put16(s, 2);
    put16(s, 4);
    put32(s, 0); // thiszone
    put32(s, 0); // sigfigs
    put32(s, snaplen);
    put32(s, 1); // LINKTYPE_ETHERNET
    return s;
}

std::string pcap_record_header(uint64_t realtime_ns, uint32_t caplen, uint32_t len) {
    std::string s;
    put32(s, uint32_t(realtime_ns / 1000000000ull));
    put32(s, uint32_t(realtime_ns % 1000000000ull));
    put32(s, caplen);
    put32(s, len);
    return s;
}

bool capture_active(const Datapath &dp) {
    const xb_capture_cfg cc = read_cfg(dp);
    return (const_cast<Datapath &>(dp).config()->flags & XB_CFG_CAPTURE) &&
           monotonic_coarse_ns() < cc.until_ns;
}

CaptureResult run_capture(Datapath &dp, const CaptureOptions &opts,
                          const std::function<std::FILE *()> &open_out) {
    xb_config &c = *dp.config();
    xb_capture_cfg cc = read_cfg(dp);
    if (capture_active(dp) && cc.pid && ::kill(static_cast<pid_t>(cc.pid), 0) == 0)
        throw Error(
            fmt::format("a capture session already runs on bridge {} (pid {})", dp.name(), cc.pid),
            EBUSY);
    uint32_t ifindex = 0;
    if (opts.port)
        ifindex = dp.require_port(*opts.port).port.ifindex;

    std::FILE *out = open_out();
    Session s{opts, out, clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC), {}, 0};
    perf_buffer_opts pbo{};
    pbo.sz = sizeof(pbo);
    std::unique_ptr<perf_buffer, PerfBufferDeleter> pb(
        perf_buffer__new(dp.map(MapId::CapturePb), kPerfPages, on_sample, on_lost, &s, &pbo));
    if (!pb)
        throw_errno("cannot open the capture buffer", errno);

    const std::string head = pcap_file_header(opts.snaplen);
    if (std::fwrite(head.data(), 1, head.size(), out) != head.size() || std::fflush(out) != 0)
        throw_last_errno("cannot write the capture");

    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGHUP, &sa, nullptr);
    ::sigaction(SIGPIPE, &sa, nullptr);

    // Filter and lease first, then the flag: the datapath never sees a half-written
    // filter.
    cc = {};
    cc.ifindex = ifindex;
    cc.snaplen = std::min<uint32_t>(opts.snaplen, XB_CAPTURE_MAX);
    if (opts.mac) {
        std::memcpy(cc.mac, opts.mac->data(), 6);
        cc.has_mac = 1;
    }
    cc.pid = static_cast<uint32_t>(::getpid());
    cc.until_ns = monotonic_coarse_ns() + kSessionLeaseNs;
    write_cfg(dp, cc);
    __atomic_fetch_or(&c.flags, uint32_t(XB_CFG_CAPTURE), __ATOMIC_RELEASE);

    const SessionEnd end = run_session_loop(
        dp, g_stop,
        [&]() {
            const int err = perf_buffer__poll(pb.get(), 200);
            if (err < 0 && err != -EINTR)
                return err;
            if (std::fflush(out) != 0) {
                s.write_errno = errno ? errno : EIO;
                return 1;
            }
            return 0;
        },
        [&](uint64_t until_ns) {
            cc.until_ns = until_ns;
            write_cfg(dp, cc);
        });
    __atomic_fetch_and(&c.flags, ~uint32_t(XB_CFG_CAPTURE), __ATOMIC_RELEASE);
    // What is in the buffers already belongs to the capture.
    if (!s.write_errno && !(opts.count && s.res.captured >= *opts.count)) {
        g_stop = 0;
        perf_buffer__consume(pb.get());
    }
    (void)std::fflush(out); // a failure shows in the next write, or at fclose
    cc = {};
    write_cfg(dp, cc);
    if (end.err < 0)
        throw_errno("reading the capture buffer", end.err);
    if (s.write_errno && s.write_errno != EPIPE)
        throw_errno("cannot write the capture", s.write_errno);
    if (end.gone)
        throw Error(fmt::format("bridge {} was taken down: the capture ends", dp.name()), ENOENT);
    return s.res;
}

} // namespace xb
