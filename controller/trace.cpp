// SPDX-License-Identifier: BSD-2-Clause
#include "trace.hpp"

#include "error.hpp"
#include "fdb.hpp"
#include "lease.hpp"
#include "stats.hpp"

#include <bpf/libbpf.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <unordered_map>

namespace xb {

namespace {

constexpr uint32_t kTraceFlags = XB_CFG_TRACE | XB_CFG_TRACE_PORT | XB_CFG_TRACE_MAC;

volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
    g_stop = 1;
}

const char *hook_name(uint8_t h) {
    switch (h) {
    case XB_HOOK_XDP:
        return "xdp";
    case XB_HOOK_TC_INGRESS:
        return "tc";
    default:
        return "tc-egress";
    }
}

const char *action_name(uint8_t a) {
    switch (a) {
    case XB_ACT_FORWARD:
        return "forward";
    case XB_ACT_FLOOD:
        return "flood";
    case XB_ACT_TO_HOST:
        return "to-host";
    case XB_ACT_DROP:
        return "drop";
    default:
        return "pass";
    }
}

struct Session {
    Datapath &dp;
    const TraceOptions &opts;
    std::ostream &out;
    std::unordered_map<uint32_t, std::string> names;
    uint64_t printed = 0;

    const std::string &name_of(uint32_t ifindex) {
        auto it = names.find(ifindex);
        if (it == names.end()) {
            for (const auto &sp : dp.ports())
                names[sp.port.ifindex] = sp.port.name;
            it = names.find(ifindex);
            if (it == names.end())
                it = names.emplace(ifindex, fmt::format("ifindex{}", ifindex)).first;
        }
        return it->second;
    }

    void print(const xb_trace_event &ev) {
        if (opts.count && printed >= *opts.count)
            return;
        const std::string &in = name_of(ev.ifindex);
        const std::string outn = ev.out_ifindex ? name_of(ev.out_ifindex) : "";
        if (opts.json) {
            nlohmann::ordered_json j = {
                {"ts_ns", ev.ts_ns},
                {"hook", hook_name(ev.hook)},
                {"in", ev.hook == XB_HOOK_TC_EGRESS ? "host" : in},
                {"src", format_mac(ev.src)},
                {"dst", format_mac(ev.dst)},
                {"vlan", ev.vlan},
                {"proto", fmt::format("0x{:04x}", ev.proto)},
                {"len", ev.len},
                {"action", action_name(ev.action)},
                {"out", ev.out_ifindex ? nlohmann::ordered_json(outn) : nullptr},
                {"reason", ev.action == XB_ACT_DROP && drop_reason_name(ev.reason)
                               ? nlohmann::ordered_json(drop_reason_name(ev.reason))
                               : nullptr},
            };
            out << j.dump() << "\n";
        } else {
            out << format_trace_event(ev, in, outn) << "\n";
        }
        out.flush();
        printed++;
        if (opts.count && printed >= *opts.count)
            g_stop = 1;
    }
};

int on_event(void *ctx, void *data, size_t size) {
    if (size < sizeof(xb_trace_event))
        return 0;
    xb_trace_event ev;
    std::memcpy(&ev, data, sizeof(ev));
    static_cast<Session *>(ctx)->print(ev);
    return 0;
}

int discard(void *, void *, size_t) {
    return 0;
}

struct RingBufferDeleter {
    void operator()(ring_buffer *rb) const { ring_buffer__free(rb); }
};

} // namespace

bool trace_active(const xb_config &c) {
    return (c.flags & XB_CFG_TRACE) && monotonic_coarse_ns() < c.trace_until_ns;
}

std::string format_trace_event(const xb_trace_event &ev, const std::string &in,
                               const std::string &out) {
    std::string line =
        fmt::format("{} dev: {} {} -> {}", ev.hook == XB_HOOK_TC_EGRESS ? "host" : "rx", in,
                    format_mac(ev.src), format_mac(ev.dst));
    if (ev.vlan)
        line += fmt::format(" vlan {}", ev.vlan);
    switch (ev.action) {
    case XB_ACT_FORWARD:
        line += fmt::format(" forward to dev: {}", out);
        break;
    case XB_ACT_FLOOD:
        line += " flood";
        break;
    case XB_ACT_TO_HOST:
        line += fmt::format(" to host via dev: {}", out);
        break;
    case XB_ACT_DROP: {
        const char *r = drop_reason_name(ev.reason);
        line += fmt::format(" drop: {}", r ? r : "unknown");
        break;
    }
    default:
        line += " pass";
    }
    return line + fmt::format(" [{}]", hook_name(ev.hook));
}

uint64_t run_trace(Datapath &dp, const TraceOptions &opts, std::ostream &out) {
    xb_config &c = *dp.config();
    if (trace_active(c) && c.trace_pid && ::kill(static_cast<pid_t>(c.trace_pid), 0) == 0)
        throw Error(fmt::format("a trace session already runs on bridge {} (pid {})", dp.name(),
                                c.trace_pid),
                    EBUSY);
    uint32_t ifindex = 0;
    if (opts.port)
        ifindex = dp.require_port(*opts.port).port.ifindex;

    Session s{dp, opts, out, {}, 0};
    std::unique_ptr<ring_buffer, RingBufferDeleter> rb(
        ring_buffer__new(dp.map(MapId::TraceRb), discard, nullptr, nullptr));
    if (!rb)
        throw_errno("cannot open the trace ring buffer", errno);
    ring_buffer__consume(rb.get()); // what an earlier session left behind
    rb.reset(ring_buffer__new(dp.map(MapId::TraceRb), on_event, &s, nullptr));
    if (!rb)
        throw_errno("cannot open the trace ring buffer", errno);

    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGHUP, &sa, nullptr);
    ::sigaction(SIGPIPE, &sa, nullptr);

    // Filters first, then the lease, then the flag: the datapath never sees a
    // half-written filter.
    c.trace_ifindex = ifindex;
    if (opts.mac)
        std::memcpy(c.trace_mac, opts.mac->data(), 6);
    c.trace_pid = static_cast<uint32_t>(::getpid());
    c.trace_until_ns = monotonic_coarse_ns() + kSessionLeaseNs;
    uint32_t flags =
        XB_CFG_TRACE | (opts.port ? XB_CFG_TRACE_PORT : 0) | (opts.mac ? XB_CFG_TRACE_MAC : 0);
    __atomic_fetch_and(&c.flags, ~kTraceFlags, __ATOMIC_RELEASE);
    __atomic_fetch_or(&c.flags, flags, __ATOMIC_RELEASE);

    const SessionEnd end = run_session_loop(
        dp, g_stop,
        [&]() {
            const int err = ring_buffer__poll(rb.get(), 200);
            return err < 0 && err != -EINTR ? err : 0;
        },
        [&](uint64_t until_ns) { c.trace_until_ns = until_ns; });
    __atomic_fetch_and(&c.flags, ~kTraceFlags, __ATOMIC_RELEASE);
    c.trace_until_ns = 0;
    c.trace_pid = 0;
    if (end.err < 0)
        throw_errno("reading the trace ring buffer", end.err);
    if (end.gone)
        throw Error(fmt::format("bridge {} was taken down: the trace ends", dp.name()), ENOENT);
    return s.printed;
}

} // namespace xb
