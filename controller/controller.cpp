// SPDX-License-Identifier: BSD-2-Clause
#include "controller.hpp"

#include "bridge.hpp"
#include "capture.hpp"
#include "error.hpp"
#include "fdb.hpp"
#include "mdb.hpp"
#include "netlink.hpp"
#include "port_policy.hpp"

#include <algorithm>
#include <bpf/libbpf.h>
#include <linux/if_packet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <fcntl.h>
#include <fmt/format.h>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <vector>

namespace xb {

namespace {

constexpr const char *kRunDir = "/run/xbridge";

void log(const std::string &msg) {
    timespec ts{};
    (void)::clock_gettime(CLOCK_REALTIME, &ts); // cannot fail for CLOCK_REALTIME
    tm t{};
    ::localtime_r(&ts.tv_sec, &t);
    char stamp[32];
    if (std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &t) == 0)
        stamp[0] = '\0';
    const std::string line = fmt::format("{} xbridge[{}]: {}\n", stamp, ::getpid(), msg);
    // One write per line, so lines from concurrent writers do not interleave.
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

UniqueFd make_signalfd() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) < 0)
        throw_last_errno("sigprocmask");
    UniqueFd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd)
        throw_last_errno("signalfd");
    return fd;
}

struct RingBufferDeleter {
    void operator()(ring_buffer *rb) const { ring_buffer__free(rb); }
};

UniqueFd make_timer(unsigned ms) {
    UniqueFd fd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (!fd)
        throw_last_errno("timerfd_create");
    itimerspec its{};
    its.it_interval.tv_sec = ms / 1000;
    its.it_interval.tv_nsec = long(ms % 1000) * 1000000;
    its.it_value = its.it_interval;
    if (::timerfd_settime(fd.get(), 0, &its, nullptr) < 0)
        throw_last_errno("timerfd_settime");
    return fd;
}

class Controller {
  public:
    // Takes over the bridge: from here on, the pid in its config is ours.
    Controller(const std::string &name, std::unique_ptr<MetricsServer> metrics)
        // Sweep every second: an entry goes at most ~1 s after it expires.
        : dp_(open_bridge(name)), sig_(make_signalfd()), timer_(make_timer(1000)),
          metrics_(std::move(metrics)) {
        mdb_rb_.reset(ring_buffer__new(dp_.map(MapId::MdbRb), on_mdb_msg, this, nullptr));
        if (!mdb_rb_)
            throw_errno("cannot open the multicast snooping ring buffer", errno);
        resync(); // after subscribing to link events, so no change falls in between
        dp_.config()->controller_pid = static_cast<uint32_t>(::getpid());
        pins_ = pin_identity();
        if (metrics_)
            metrics_->start();
        const MetricsAddr m{dp_.config()->metrics_ip4, dp_.config()->metrics_port};
        if (metrics_)
            metrics_addr_ = m;
        log(fmt::format("controller of bridge {} running, metrics {}", dp_.name(),
                        m.port ? fmt::format("on http://{}/metrics", format_metrics_addr(m))
                               : std::string("off")));
    }

    int run() {
        // netdev_.fd() is -1 on a kernel without the netdev family: poll skips it.
        pollfd fds[5] = {{sig_.get(), POLLIN, 0},
                         {timer_.get(), POLLIN, 0},
                         {mon_.fd(), POLLIN, 0},
                         {netdev_.fd(), POLLIN, 0},
                         {ring_buffer__epoll_fd(mdb_rb_.get()), POLLIN, 0}};
        for (;;) {
            if (::poll(fds, 5, retry_timeout_ms()) < 0) {
                if (errno == EINTR)
                    continue;
                throw_last_errno("poll");
            }
            if (retry_at_ && std::chrono::steady_clock::now() >= *retry_at_) {
                try {
                    resync();
                } catch (const std::exception &e) {
                    log(fmt::format("resync: {}", e.what())); // the periodic one tries again
                }
            }
            if (fds[0].revents & POLLIN) {
                signalfd_siginfo si{};
                if (::read(sig_.get(), &si, sizeof(si)) == sizeof(si)) {
                    log(fmt::format("signal {}: controller exits, the bridge keeps forwarding",
                                    si.ssi_signo));
                    break;
                }
            }
            if (fds[1].revents & POLLIN) {
                uint64_t ticks = 0;
                [[maybe_unused]] ssize_t n = ::read(timer_.get(), &ticks, sizeof(ticks));
                try {
                    tick();
                } catch (const std::exception &e) {
                    log(fmt::format("periodic work: {}", e.what()));
                }
                if (done_)
                    break;
            }
            if (fds[2].revents & POLLIN) {
                bool links_changed = false;
                const auto changes = mon_.dispatch([&](const LinkMonitor::Event &ev) {
                    links_changed = true;
                    // One event that cannot be applied (a device half gone) must not stop
                    // the controller: log it; the periodic resync gets it right.
                    try {
                        on_link(ev);
                    } catch (const std::exception &e) {
                        log(fmt::format("link event for {}: {}", ev.link.name, e.what()));
                    }
                });
                const int uplink = static_cast<int>(dp_.config()->uplink_ifindex);
                if (links_changed ||
                    std::find(changes.fdb.begin(), changes.fdb.end(), uplink) != changes.fdb.end())
                    sync_addresses();
                // A qdisc added to a port or taken off: shaped or not any more.
                for (int ifindex : changes.qdisc)
                    if (auto sp = dp_.port_by_ifindex(static_cast<uint32_t>(ifindex)))
                        if (auto li = nl_.link(ifindex))
                            sync(sp->slot, *li);
            }
            // IGMP/MLD/PIM messages the datapath snooped.
            if (fds[4].revents & POLLIN)
                ring_buffer__consume(mdb_rb_.get());
            // A port's XDP features changed (a veth's peer turned GRO or an XDP program
            // on or off): it may take XDP redirects now, or no longer.
            if (fds[3].revents & POLLIN)
                netdev_.dispatch([this](int ifindex) {
                    try {
                        auto sp = dp_.port_by_ifindex(static_cast<uint32_t>(ifindex));
                        if (!sp)
                            return;
                        if (auto li = nl_.link(ifindex))
                            sync(sp->slot, *li);
                    } catch (const std::exception &e) {
                        log(fmt::format("netdev event for ifindex {}: {}", ifindex, e.what()));
                    }
                });
        }
        if (dp_.config()->controller_pid == static_cast<uint32_t>(::getpid()))
            dp_.config()->controller_pid = 0;
        return 0;
    }

  private:
    // Link changes wait for the bridge lock, which commands and the ageing sweeps of
    // every bridge on this host share. One that finds it taken is held back and tried
    // again soon after (kRetry), not at the next periodic resync: a port that went down
    // must forget its addresses at once, a new MTU must apply to the next frames.
    static constexpr std::chrono::milliseconds kRetry{100};

    void hold_back() {
        if (!retry_at_)
            retry_at_ = std::chrono::steady_clock::now() + kRetry;
    }

    int retry_timeout_ms() const {
        if (!retry_at_)
            return -1;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            *retry_at_ - std::chrono::steady_clock::now());
        return static_cast<int>(std::max<int64_t>(left.count(), 0));
    }

    // The pin directory's inode: the bridge this controller serves, not a later one of
    // the same name.
    uint64_t pin_identity() const {
        struct stat st {};
        return ::stat(pin_dir(dp_.name()).c_str(), &st) == 0 ? st.st_ino : 0;
    }

    // A controller serves a bridge that commands can reach. Its pins gone (the bridge
    // taken down by a command that could not stop this process, or its pins removed by
    // hand): nothing is left to manage. Its network namespace deleted (`ip netns del`)
    // and held only by this process: nobody can reach its ports any more (`xbridge -n`
    // needs the name, `ip netns exec` too), and this process alone would keep the
    // namespace and its devices alive - the controller takes the bridge down and goes,
    // and the namespace goes with it.
    void check_reachable() {
        if (pin_identity() != pins_) {
            log(fmt::format("bridge {} was taken down elsewhere (its pins are gone): the "
                            "controller exits",
                            dp_.name()));
            done_ = true;
            return;
        }
        if (netns_alive(current_netns()))
            return;
        BridgeLock lock(BridgeLock::Mode::Try);
        if (!lock.held())
            return; // the next check
        log(fmt::format("the network namespace of bridge {} was deleted and only this "
                        "controller holds it: taking the bridge down",
                        dp_.name()));
        dp_.config()->controller_pid = 0; // bridge_down must not stop this process
        try {
            bridge_down(dp_.name(), nl_);
            log(fmt::format("bridge {} removed: the controller exits", dp_.name()));
            remove_log(dp_.name());
        } catch (const std::exception &e) {
            log(fmt::format("taking bridge {} down: {}: the controller exits", dp_.name(),
                            e.what()));
        }
        done_ = true;
    }

    void tick() {
        expire_trace_lease();
        expire_capture_lease();
        follow_metrics();
        // Link events can be missed (a full socket buffer): every few seconds, look at
        // every port again.
        if (++ticks_ % 5 == 0) {
            check_reachable();
            if (done_)
                return;
            try {
                resync();
            } catch (const std::exception &e) {
                log(fmt::format("resync: {}", e.what())); // the ageing still runs
            }
        }
        sweep();
        report_policy();
        mdb_tick();
    }

    static int on_mdb_msg(void *ctx, void *data, size_t size) {
        if (size >= sizeof(xb_mdb_msg))
            static_cast<Controller *>(ctx)->mdb_message(*static_cast<const xb_mdb_msg *>(data));
        return 0;
    }

    // One snooped message: memberships and router ports learned from it (only while
    // snooping is on: messages of a moment ago must not fill a flushed mdb again).
    void mdb_message(const xb_mdb_msg &m) {
        if (!(dp_.config()->flags & XB_CFG_MCAST_SNOOPING))
            return;
        try {
            const MdbLearned r = mdb_learn(dp_, m, monotonic_coarse_ns());
            if (r.query4)
                other_query4_ns_ = monotonic_coarse_ns();
            if (r.query6)
                other_query6_ns_ = monotonic_coarse_ns();
        } catch (const std::exception &e) {
            log(fmt::format("multicast snooping: {}", e.what()));
        }
    }

    // Ages the memberships; sends the querier's general queries.
    void mdb_tick() {
        const xb_config &c = *dp_.config();
        if (!(c.flags & XB_CFG_MCAST_SNOOPING)) {
            next_query4_ns_ = next_query6_ns_ = 0;
            return;
        }
        const uint64_t now = monotonic_coarse_ns();
        if (const size_t n = mdb_sweep(dp_, now))
            log(fmt::format("multicast snooping: {} membership{} expired", n, n == 1 ? "" : "s"));
        if (!(c.flags & XB_CFG_MCAST_QUERIER)) {
            next_query4_ns_ = next_query6_ns_ = 0;
            return;
        }
        // A querier turned on, or given another version, speaks at once.
        const uint32_t versions = c.flags & (XB_CFG_MCAST_IGMPV3 | XB_CFG_MCAST_MLDV2);
        if (versions != query_versions_) {
            query_versions_ = versions;
            next_query4_ns_ = next_query6_ns_ = 0;
        }
        // Another querier on the segment (a router) is the querier, of its family only;
        // ours speaks again once that one has been silent for the other querier interval.
        auto due = [&](uint64_t heard, uint64_t &next) {
            if ((heard && now - heard < kMcastOtherQuerierNs) || now < next)
                return false;
            next = now + kMcastQueryIntervalNs;
            return true;
        };
        const bool igmp = due(other_query4_ns_, next_query4_ns_);
        const bool mld = due(other_query6_ns_, next_query6_ns_);
        if (igmp || mld)
            send_queries(c, igmp, mld);
    }

    // A general query to every port: through the uplink's transmit path when there is an
    // uplink (its egress hook floods it to the other ports, as any frame the host sends),
    // else out of each port.
    void send_queries(const xb_config &c, bool igmp, bool mld) {
        UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
        if (!fd) {
            log(fmt::format("multicast querier: socket: {}", std::strerror(errno)));
            return;
        }
        const uint32_t uplink = dp_.config()->uplink_ifindex;
        for (const auto &sp : dp_.ports()) {
            if (uplink && sp.port.ifindex != uplink)
                continue;
            Mac src;
            std::memcpy(src.data(), sp.port.mac, 6);
            std::vector<std::vector<uint8_t>> queries;
            if (igmp)
                queries.push_back(igmp_general_query(src, mcast_igmp_version(c)));
            if (mld)
                queries.push_back(mld_general_query(src, mcast_mld_version(c)));
            for (const std::vector<uint8_t> &q : queries) {
                sockaddr_ll sll{};
                sll.sll_family = AF_PACKET;
                sll.sll_ifindex = static_cast<int>(sp.port.ifindex);
                sll.sll_halen = 6;
                std::memcpy(sll.sll_addr, q.data(), 6);
                if (::sendto(fd.get(), q.data(), q.size(), 0, reinterpret_cast<sockaddr *>(&sll),
                             sizeof(sll)) < 0)
                    log(fmt::format("multicast querier: sending on {}: {}", sp.port.name,
                                    std::strerror(errno)));
            }
        }
    }

    // BPDU guard blocks, once each (until a reset), and MACs that flap between ports, at
    // most once per MAC per kFlapWindow and kFlapLines lines per window in all: a loop
    // moves thousands of MACs a second, and the log must not become the next flood.
    static constexpr uint64_t kFlapWindowNs = 10'000'000'000ull;
    static constexpr uint64_t kFlapMoves = 3; // moves within a window that make a flap
    static constexpr unsigned kFlapLines = 10;

    void report_policy() {
        for (const auto &sp : dp_.ports()) {
            const auto b = port_blocked(dp_, sp.slot);
            const bool logged = blocked_logged_.count(sp.slot) != 0;
            if (b && !logged)
                log(fmt::format("port {} received a BPDU from {}: blocked by its BPDU guard "
                                "(`xbridge port set {} bpdu-guard reset` lifts it)",
                                sp.port.name, format_mac(b->bpdu_src), sp.port.name));
            if (b)
                blocked_logged_.insert(sp.slot);
            else
                blocked_logged_.erase(sp.slot);
        }
        report_flaps();
    }

    void report_flaps() {
        const uint64_t now = monotonic_coarse_ns();
        if (now - flap_window_ns_ >= kFlapWindowNs) {
            if (flap_suppressed_)
                log(fmt::format("{} more MAC{} flapped in the last {} s (not logged)",
                                flap_suppressed_, flap_suppressed_ == 1 ? "" : "s",
                                kFlapWindowNs / 1000000000ull));
            flap_window_ns_ = now;
            flap_lines_ = flap_suppressed_ = 0;
            for (auto &[key, seen] : flap_seen_)
                seen.window_moves = seen.moves, seen.logged = false;
        }
        std::map<uint64_t, FlapSeen> next;
        for (const MacFlap &f : read_mac_flaps(dp_)) {
            uint64_t key = 0;
            std::memcpy(&key, &f.key, sizeof(key));
            auto it = flap_seen_.find(key);
            FlapSeen seen = it != flap_seen_.end() ? it->second : FlapSeen{0, 0, false};
            seen.moves = f.flap.moves;
            if (!seen.logged && seen.moves - seen.window_moves >= kFlapMoves) {
                seen.logged = true;
                if (flap_lines_ < kFlapLines) {
                    flap_lines_++;
                    log(fmt::format("MAC {} vlan {} is flapping between {} and {}: {} moves "
                                    "(a loop, or a guest using another's address)",
                                    format_mac(f.key.mac), f.key.vlan,
                                    port_label(f.flap.from_ifindex), port_label(f.flap.to_ifindex),
                                    seen.moves - seen.window_moves));
                } else {
                    flap_suppressed_++;
                }
            }
            next[key] = seen;
        }
        flap_seen_ = std::move(next);
    }

    std::string port_label(uint32_t ifindex) const {
        const auto sp = dp_.port_by_ifindex(ifindex);
        return sp ? std::string(sp->port.name) : fmt::format("ifindex {}", ifindex);
    }

    // `apply` moves the metrics endpoint by writing the config: serve the new address.
    void follow_metrics() {
        const MetricsAddr want{dp_.config()->metrics_ip4, dp_.config()->metrics_port};
        if (want.ip4 == metrics_addr_.ip4 && want.port == metrics_addr_.port)
            return;
        metrics_addr_ = want;
        metrics_.reset(); // the old socket first: the new address may share its port
        if (!want.port) {
            log("metrics off");
            return;
        }
        try {
            metrics_ = std::make_unique<MetricsServer>(dp_.name(), want);
            metrics_->start();
            log(fmt::format("metrics now on http://{}/metrics", format_metrics_addr(want)));
        } catch (const std::exception &e) {
            log(fmt::format("metrics: {}", e.what()));
        }
    }

    // One ageing sweep, under the bridge lock: a command that turns a learned entry
    // static, deletes or flushes entries (all under the lock) must not find the sweep
    // deleting what it has just written, on the strength of a value read before.
    // A command holding the lock delays the sweep by one tick.
    void sweep() {
        try {
            BridgeLock lock(BridgeLock::Mode::Try);
            if (!lock.held())
                return;
            const auto t0 = std::chrono::steady_clock::now();
            const size_t n = fdb_sweep(dp_, monotonic_coarse_ns());
            const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - t0)
                                .count();
            if (n)
                log(fmt::format("aged out {} FDB entr{} in {:.1f} ms", n, n == 1 ? "y" : "ies",
                                us / 1000.0));
        } catch (const Error &e) {
            log(fmt::format("ageing sweep failed: {}", e.what()));
        }
    }

    // A tracer that died without ending its session leaves the flag set: its lease has
    // stopped the events already; clear the flag so the datapath skips the check too.
    void expire_trace_lease() {
        xb_config &c = *dp_.config();
        if ((c.flags & XB_CFG_TRACE) && monotonic_coarse_ns() > c.trace_until_ns + 1000000000ull) {
            __atomic_fetch_and(&c.flags, ~uint32_t(XB_CFG_TRACE), __ATOMIC_RELAXED);
            c.trace_pid = 0;
            log("a trace session ended without closing: tracing turned off");
        }
    }

    // The same for a capture session: its lease stopped the copies; clear the flag.
    void expire_capture_lease() {
        xb_config &c = *dp_.config();
        if ((c.flags & XB_CFG_CAPTURE) && !capture_active(dp_)) {
            __atomic_fetch_and(&c.flags, ~uint32_t(XB_CFG_CAPTURE), __ATOMIC_RELAXED);
            log("a capture session ended without closing: capture turned off");
        }
    }

    void maybe_readd(const LinkInfo &li) {
        const auto absent = dp_.absent_ports();
        if (std::none_of(absent.begin(), absent.end(),
                         [&](const SlotPort &sp) { return li.name == sp.port.name; }))
            return;
        BridgeLock lock(BridgeLock::Mode::Try);
        if (!lock.held()) {
            hold_back();
            return;
        }
        try {
            dp_.reload_programs(); // an upgrade since: the port gets the new programs
            if (readd_port(dp_, nl_, li))
                log(fmt::format("port {} is back (ifindex {}): re-attached", li.name, li.ifindex));
        } catch (const Error &e) {
            log(fmt::format("port {} is back but cannot be re-attached: {}", li.name, e.what()));
        }
    }

    // The host pair, deleted behind the bridge's back (floods meanwhile give the host its
    // copy at TC), is made again.
    void check_host_pair() {
        if (host_pair(dp_) || !dp_.config()->uplink_ifindex)
            return;
        BridgeLock lock(BridgeLock::Mode::Try);
        if (!lock.held()) {
            hold_back();
            return;
        }
        try {
            dp_.reload_programs();
            if (restore_host_pair(dp_, nl_))
                log(fmt::format("the host pair was gone: made {} again", *host_pair(dp_)));
            host_pair_failed_ = false;
        } catch (const Error &e) {
            if (!host_pair_failed_) // once, not at every resync
                log(fmt::format("the host pair was gone and cannot be made again: {}", e.what()));
            host_pair_failed_ = true;
        }
    }

    // The uplink's secondary unicast addresses as local entries (sync_host_addresses):
    // looked at again at every resync and after link events (a macvlan made, deleted or
    // readdressed on the uplink is one).
    void sync_addresses() {
        try {
            BridgeLock lock(BridgeLock::Mode::Try);
            if (!lock.held()) {
                hold_back();
                return;
            }
            const std::string uplink = [&] {
                const auto p = dp_.port_by_ifindex(dp_.config()->uplink_ifindex);
                return p ? std::string(p->port.name) : std::string("the uplink");
            }();
            HostAddrSync r = sync_host_addresses(dp_, nl_, host_addrs_);
            for (const Mac &m : r.added)
                log(fmt::format("{} on {} is the host's (the uplink's unicast list): a local entry",
                                format_mac(m), uplink));
            for (const Mac &m : r.removed)
                log(fmt::format("{} left {}'s unicast list: its local entry is gone", format_mac(m),
                                uplink));
            host_addrs_ = std::move(r.now);
        } catch (const Error &e) {
            log(fmt::format("the uplink's addresses: {}", e.what()));
        }
    }

    // Looks at every port again; applies what was held back.
    void resync() {
        const bool was_held_back = retry_at_.has_value();
        retry_at_.reset(); // set again by whatever still finds the lock taken
        // After an `upgrade`, the sweep too runs the new program.
        dp_.reload_programs();
        check_host_pair();
        for (const auto &sp : dp_.absent_ports())
            if (auto li = nl_.link(std::string(sp.port.name)))
                maybe_readd(*li);
        for (const auto &sp : dp_.ports()) {
            auto li = nl_.link(static_cast<int>(sp.port.ifindex));
            if (!li) {
                drop_port(sp, "is gone");
                continue;
            }
            // Renamed while no controller ran: the same device, as a link event says.
            if (li->name != sp.port.name)
                log(fmt::format("port {} (ifindex {}) is now called {}", sp.port.name,
                                sp.port.ifindex, li->name));
            sync(sp.slot, *li);
        }
        sync_addresses();
        if (was_held_back && !retry_at_)
            log("link changes held back while the bridge lock was busy are applied");
    }

    // Follows a port's link state, MTU, name and address, under the lock: a command
    // (`port set`, `fdb add`) must not find its change overwritten by a port entry read
    // before it. A command holding the lock holds the change back (hold_back); a failure
    // (a full FDB for a new address's local entry, which is logged) leaves the port to
    // the next periodic resync.
    void sync(uint32_t slot, const LinkInfo &li) {
        try {
            BridgeLock lock(BridgeLock::Mode::Try);
            if (!lock.held()) {
                hold_back();
                return;
            }
            const PortSync r = sync_port(dp_, slot, li);
            if (r.was_up != r.up)
                log(fmt::format("port {} is {}", li.name, r.up ? "up" : "down"));
            const bool was_shaped = [&] {
                const auto p = dp_.port(slot);
                return p && (p->ctl & XB_CTL_SHAPED);
            }();
            if (update_xdp_target(dp_, slot, nl_.xdp_features(li.ifindex),
                                  nl_.shaped(li.ifindex))) {
                const auto p = dp_.port(slot);
                const bool shaped = p && (p->ctl & XB_CTL_SHAPED);
                if (shaped != was_shaped)
                    log(shaped ? fmt::format("port {} has a qdisc: shaped, its frames go through "
                                             "it (the TC path)",
                                             li.name)
                               : fmt::format("port {} has no qdisc of its own any more: not "
                                             "shaped",
                                             li.name));
                else
                    log(p && (p->ctl & XB_CTL_NO_XDP_TX)
                            ? fmt::format("port {} takes no XDP redirects now: frames for it "
                                          "take the TC path",
                                          li.name)
                            : fmt::format("port {} takes XDP redirects again", li.name));
            }
            if (r.flushed)
                log(fmt::format("port {} went down: flushed its {} learned entr{}", li.name,
                                r.flushed, r.flushed == 1 ? "y" : "ies"));
        } catch (const Error &e) {
            log(fmt::format("port {}: {}", li.name, e.what()));
        }
    }

    void on_link(const LinkMonitor::Event &ev) {
        auto sp = dp_.port_by_ifindex(static_cast<uint32_t>(ev.link.ifindex));
        if (!sp) {
            if (!ev.deleted)
                maybe_readd(ev.link);
            else if (static_cast<uint32_t>(ev.link.ifindex) == dp_.config()->host_ifindex)
                check_host_pair();
            return;
        }
        if (ev.deleted) {
            drop_port(*sp, "was deleted");
            return;
        }
        sync(sp->slot, ev.link);
    }

    void drop_port(const SlotPort &sp, const char *why) {
        // Never wait for the lock: `down` holds it while it stops this process. A
        // command that holds it now holds the removal back (hold_back).
        BridgeLock lock(BridgeLock::Mode::Try);
        if (!lock.held()) {
            hold_back();
            return;
        }
        auto cur = dp_.port(sp.slot);
        if (!cur || cur->ifindex != sp.port.ifindex)
            return; // already handled
        log(fmt::format("port {} (ifindex {}) {}: removed from the bridge", sp.port.name,
                        sp.port.ifindex, why));
        try {
            remove_port(dp_, sp.slot, nl_, true);
        } catch (const Error &e) {
            log(fmt::format("removing port {}: {}", sp.port.name, e.what()));
        }
    }

    Datapath dp_;
    Netlink nl_;
    LinkMonitor mon_;
    NetdevMonitor netdev_;
    UniqueFd sig_, timer_;
    std::unique_ptr<MetricsServer> metrics_;
    std::unique_ptr<ring_buffer, RingBufferDeleter> mdb_rb_;
    // When another querier's general query was last heard, IGMP and MLD.
    uint64_t other_query4_ns_ = 0;
    uint64_t other_query6_ns_ = 0;
    uint32_t query_versions_ = 0; // the versions (XB_CFG_MCAST_*) the last query was sent in
    uint64_t next_query4_ns_ = 0; // when our querier sends its next IGMP query
    uint64_t next_query6_ns_ = 0; // ... and MLD query
    MetricsAddr metrics_addr_;    // what metrics_ serves (port 0: nothing)
    uint64_t ticks_ = 0;
    uint64_t pins_ = 0;                 // pin_identity() when the controller took over
    bool done_ = false;                 // the bridge is out of reach: the controller exits
    std::set<uint32_t> blocked_logged_; // slots whose BPDU guard block has been logged
    struct FlapSeen {
        uint64_t moves;        // the MAC's move count when last read
        uint64_t window_moves; // ... at the start of this window
        bool logged;           // logged in this window
    };
    std::map<uint64_t, FlapSeen> flap_seen_; // by the FDB key as a word
    uint64_t flap_window_ns_ = 0;
    unsigned flap_lines_ = 0, flap_suppressed_ = 0;
    bool host_pair_failed_ = false;
    // The uplink's secondary addresses made local entries; nullopt until the first sync,
    // which finds them in the FDB (a previous controller's).
    std::optional<std::vector<Mac>> host_addrs_;
    // Set while a link change that found the lock taken waits: when to try again.
    std::optional<std::chrono::steady_clock::time_point> retry_at_;
};

} // namespace

std::string log_path(const std::string &name) {
    return fmt::format("{}/{}.log", kRunDir, name);
}

void remove_log(const std::string &name) {
    ::unlink(log_path(name).c_str());
    // The last bridge's log takes the directory with it (fails while others remain).
    ::rmdir(kRunDir);
}

namespace {

// In the daemon, right after fork: closes every descriptor the command had open - its
// Datapath (the programs before an `upgrade`, which would stay loaded for the daemon's
// life), its netlink socket, whatever its own caller left open - except stdio, `keep`,
// the listening metrics socket the daemon serves on, and the descriptor through which it
// reaches the pins (bpffs.hpp).
void close_inherited_fds(int keep) {
    const int base = pin_base_fd(); // the way to the pins from a foreign mount namespace
    std::vector<int> fds;
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        const std::string n = e.path().filename();
        if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos)
            continue;
        fds.push_back(std::stoi(n));
    }
    for (int fd : fds) {
        if (fd <= STDERR_FILENO || fd == keep || fd == base)
            continue;
        int listening = 0;
        socklen_t len = sizeof(listening);
        if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening)
            continue;
        ::close(fd); // the iterator's own descriptor is gone already: EBADF, harmless
    }
}

} // namespace

int run_controller(const std::string &name, std::unique_ptr<MetricsServer> metrics) {
    Controller c(name, std::move(metrics));
    // Under systemd (Type=notify, `up --foreground` as the main process) the unit is
    // ready now: the bridge forwards and this controller has adopted it, so units ordered
    // after it (libvirtd, the guests) find their ports. A no-op without NOTIFY_SOCKET.
    sd_notifyf(0, "READY=1\nSTATUS=bridge %s forwarding, controller running", name.c_str());
    const int rc = c.run();
    sd_notify(0, "STOPPING=1");
    return rc;
}

int spawn_controller(const std::string &name, std::unique_ptr<MetricsServer> metrics) {
    if (::mkdir(kRunDir, 0755) < 0 && errno != EEXIST)
        throw_last_errno(fmt::format("cannot create {}", kRunDir));
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) < 0)
        throw_last_errno("pipe");
    UniqueFd rd(ready[0]), wr(ready[1]);

    const pid_t pid = ::fork();
    if (pid < 0)
        throw_last_errno("fork");
    if (pid == 0) {
        // Daemon: own session, no terminal, log to the bridge's log file. Until it is
        // ready, the parent holds the bridge lock and waits: the first resync (in the
        // constructor) works under that lock, rather than find it taken and leave every
        // port to the next resync.
        BridgeLock::close_inherited(true);
        rd.reset();
        ::setsid();
        if (::chdir("/") < 0)
            ::_exit(1);
        int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        int logfd = ::open(log_path(name).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (devnull >= 0) {
            ::dup2(devnull, STDIN_FILENO);
            ::dup2(devnull, STDOUT_FILENO);
        }
        if (logfd >= 0)
            ::dup2(logfd, STDERR_FILENO);
        close_inherited_fds(wr.get());
        int rc = 1;
        try {
            Controller c(name, std::move(metrics));
            BridgeLock::end_borrow(); // before the parent lets the lock go
            // Ready once constructed: the bridge forwards without us; we only manage.
            [[maybe_unused]] ssize_t n = ::write(wr.get(), "1", 1);
            wr.reset();
            rc = c.run();
        } catch (const std::exception &e) {
            log(fmt::format("controller failed: {}", e.what()));
        }
        ::_exit(rc);
    }
    wr.reset();
    // The daemon serves on its copy of the listening socket; this copy just closes.
    metrics.reset();
    char b = 0;
    ssize_t n;
    do {
        n = ::read(rd.get(), &b, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        throw Error(
            fmt::format("the controller of {} failed to start (see {})", name, log_path(name)));
    }
    return pid;
}

} // namespace xb
