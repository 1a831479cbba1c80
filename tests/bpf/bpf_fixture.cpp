// SPDX-License-Identifier: BSD-2-Clause
#include "bpf_fixture.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <linux/pkt_cls.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

namespace xbtest {

namespace {
std::string g_skip_reason;
bool g_entered = false;
int g_bridge_seq = 0;
} // namespace

std::string enter_private_namespaces() {
    if (g_entered)
        return g_skip_reason;
    g_entered = true;
    if (::geteuid() != 0)
        return g_skip_reason = "needs root (BPF and network namespaces)";
    if (::unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
        return g_skip_reason = fmt::format("unshare: {}", std::strerror(errno));
    // Nothing mounted here may leak to the host's mount namespace.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
        return g_skip_reason = fmt::format("mount --make-rprivate /: {}", std::strerror(errno));
    // A fresh bpffs over /sys/fs/bpf, seen by this process only: the bridges' pins
    // never meet the host's, and no mount point is left behind on any filesystem.
    const char *dir = "/sys/fs/bpf";
    if (::mount("bpf", dir, "bpf", 0, "mode=0700") < 0)
        return g_skip_reason = fmt::format("cannot mount bpffs: {}", std::strerror(errno));
    ::setenv("XBRIDGE_BPFFS", dir, 1);
    if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, nullptr) <= 0)
        return g_skip_reason = "kernel without XDP support";
    if (!sh("ip link set lo up"))
        return g_skip_reason = "iproute2 (ip) is not usable";
    // No IPv6 autoconfiguration chatter from the test ports: the tests count frames.
    sh("sysctl -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
    // libbpf reports expected conditions (an existing clsact) as warnings.
    libbpf_set_print([](libbpf_print_level, const char *, va_list) { return 0; });
    return g_skip_reason;
}

bool sh(const std::string &cmd) {
    return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

Frame eth_frame(const std::string &dst, const std::string &src, uint16_t ethertype,
                std::optional<uint16_t> vlan, size_t len) {
    Frame f;
    auto d = xb::parse_mac(dst), s = xb::parse_mac(src);
    EXPECT_TRUE(d && s);
    f.bytes.insert(f.bytes.end(), d->begin(), d->end());
    f.bytes.insert(f.bytes.end(), s->begin(), s->end());
    if (vlan) {
        f.bytes.push_back(0x81);
        f.bytes.push_back(0x00);
        f.bytes.push_back(uint8_t(*vlan >> 8));
        f.bytes.push_back(uint8_t(*vlan));
    }
    f.bytes.push_back(uint8_t(ethertype >> 8));
    f.bytes.push_back(uint8_t(ethertype));
    while (f.bytes.size() < len)
        f.bytes.push_back(uint8_t(f.bytes.size()));
    return f;
}

Frame push_tag(const Frame &f, uint16_t tpid, uint16_t tci) {
    Frame t;
    t.bytes.assign(f.bytes.begin(), f.bytes.begin() + 12);
    for (uint16_t w : {tpid, tci}) {
        t.bytes.push_back(uint8_t(w >> 8));
        t.bytes.push_back(uint8_t(w));
    }
    t.bytes.insert(t.bytes.end(), f.bytes.begin() + 12, f.bytes.end());
    return t;
}

void BridgeTest::SetUpTestSuite() {}

void BridgeTest::SetUp() {
    if (auto why = enter_private_namespaces(); !why.empty())
        GTEST_SKIP() << why;
    // Fresh ports for every test: veths as they are made, their peers up and nothing
    // else set, so the bridge finds that they take no XDP redirects (NoXdpTxTest tests
    // that). The programs run here on crafted frames and never transmit: whether a port
    // takes XDP redirects is an input of the decisions under test, set below.
    for (int i = 0; i < 3; i++) {
        const std::string p = fmt::format("p{}", i);
        sh(fmt::format("ip link del {}", p));
        ASSERT_TRUE(sh(fmt::format("ip link add {} type veth peer name {}peer", p, p)));
        ASSERT_TRUE(sh(fmt::format("ip link set {}peer up", p)));
    }
    nl_.emplace();
    bridge_ = fmt::format("xbtest{}", g_bridge_seq++);
    xb::UpOptions o;
    o.name = bridge_;
    o.ports = {"p0", "p1", "p2"};
    if (!uplink_)
        o.uplink = "none";
    o.fdb_max = 16384;
    o.max_ports = 8;
    ASSERT_NO_THROW({
        xb::BridgeLock lock;
        xb::bridge_up(o, *nl_);
    });
    dp_.emplace(xb::open_bridge(bridge_));
    for (int i = 0; i < 3; i++) {
        auto li = nl_->link(fmt::format("p{}", i));
        ASSERT_TRUE(li);
        ifindex_[i] = li->ifindex;
        // Ports come up asynchronously (carrier); the controller follows link events.
        // Here, sync them now that both ends are up.
        auto sp = dp_->port_by_ifindex(li->ifindex);
        ASSERT_TRUE(sp);
        xb::sync_port(*dp_, sp->slot, *li);
        // The XDP decisions need ports that take XDP redirects: say so, as the kernel's
        // XDP features would for a port that does (xb::update_xdp_target).
        if (xdp_targets_)
            xb::update_xdp_target(*dp_, sp->slot, xb::kXdpActNdoXmit, false);
    }
}

void BridgeTest::TearDown() {
    if (dp_ && nl_) {
        dp_.reset();
        EXPECT_NO_THROW({
            xb::BridgeLock lock;
            xb::bridge_down(bridge_, *nl_);
        });
    }
    for (int i = 0; i < 3; i++)
        sh(fmt::format("ip link del p{}", i));
}

uint32_t BridgeTest::slot_of(int port) const {
    auto sp = dp_->port_by_ifindex(ifindex_[port]);
    return sp ? sp->slot : 0;
}

int BridgeTest::run_xdp(int port, const Frame &f, Frame *result) {
    xdp_md ctx{};
    ctx.ingress_ifindex = ifindex_[port];
    ctx.data_end = uint32_t(f.bytes.size());
    std::vector<uint8_t> out(f.bytes.size() + 256);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.bytes.data(), .data_out = out.data(),
                .data_size_in = uint32_t(f.bytes.size()), .data_size_out = uint32_t(out.size()),
                .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
    int err = bpf_prog_test_run_opts(dp_->prog(xb::ProgId::XdpIngress), &opts);
    EXPECT_EQ(err, 0) << "bpf_prog_test_run_opts (xdp): " << std::strerror(errno);
    if (result && !err)
        result->bytes.assign(out.begin(), out.begin() + opts.data_size_out);
    return err ? -1 : int(opts.retval);
}

int BridgeTest::run_skb(int prog_fd, int ifindex, const Frame &f, uint32_t mark, uint32_t *mark_out,
                        bool refusal_ok, Frame *result) {
    __sk_buff ctx{};
    ctx.ifindex = ifindex;
    ctx.mark = mark;
    __sk_buff ctx_out{};
    std::vector<uint8_t> out(f.bytes.size() + 256);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.bytes.data(), .data_out = out.data(),
                .data_size_in = uint32_t(f.bytes.size()), .data_size_out = uint32_t(out.size()),
                .ctx_in = &ctx, .ctx_out = &ctx_out, .ctx_size_in = sizeof(ctx),
                .ctx_size_out = sizeof(ctx_out), .repeat = 1);
    int err = bpf_prog_test_run_opts(prog_fd, &opts);
    if (err && refusal_ok && errno == EINVAL)
        return -2;
    EXPECT_EQ(err, 0) << "bpf_prog_test_run_opts (tc): " << std::strerror(errno);
    if (mark_out)
        *mark_out = ctx_out.mark;
    if (result && !err)
        result->bytes.assign(out.begin(), out.begin() + opts.data_size_out);
    return err ? -1 : int(opts.retval);
}

int BridgeTest::run_tc_ingress(int port, const Frame &f, uint32_t mark, uint32_t *mark_out,
                               Frame *out) {
    return run_skb(dp_->prog(xb::ProgId::TcIngress), ifindex_[port], f, mark, mark_out, false, out);
}

int BridgeTest::run_tc_egress(int port, const Frame &f, uint32_t mark, uint32_t *mark_out,
                              Frame *out) {
    return run_skb(dp_->prog(xb::ProgId::TcEgress), ifindex_[port], f, mark, mark_out, false, out);
}

int BridgeTest::run_tc_host(const Frame &f, uint32_t *mark_out) {
    return run_skb(dp_->prog(xb::ProgId::TcHost), int(dp_->config()->host_peer_ifindex), f, 0,
                   mark_out);
}

std::optional<int> BridgeTest::try_tc_ingress(int port, const Frame &f) {
    const int v = run_skb(dp_->prog(xb::ProgId::TcIngress), ifindex_[port], f, 0, nullptr, true);
    return v == -2 ? std::nullopt : std::optional<int>(v);
}

std::optional<int> BridgeTest::try_tc_egress(int port, const Frame &f) {
    const int v = run_skb(dp_->prog(xb::ProgId::TcEgress), ifindex_[port], f, 0, nullptr, true);
    return v == -2 ? std::nullopt : std::optional<int>(v);
}

std::optional<xb_fdb_val> BridgeTest::fdb(const std::string &mac, uint16_t vlan) const {
    xb_fdb_key key{};
    auto m = xb::parse_mac(mac);
    std::memcpy(key.mac, m->data(), 6);
    key.vlan = vlan;
    xb_fdb_val v{};
    if (bpf_map_lookup_elem(dp_->map(xb::MapId::Fdb), &key, &v) < 0)
        return std::nullopt;
    return v;
}

void BridgeTest::fdb_put(const std::string &mac, int port, uint8_t type, uint16_t vlan) {
    xb_fdb_key key{};
    auto m = xb::parse_mac(mac);
    std::memcpy(key.mac, m->data(), 6);
    key.vlan = vlan;
    xb_fdb_val v{};
    v.ifindex = ifindex_[port];
    v.slot = uint16_t(slot_of(port));
    v.type = type;
    v.updated_ns = xb::monotonic_coarse_ns();
    ASSERT_EQ(bpf_map_update_elem(dp_->map(xb::MapId::Fdb), &key, &v, BPF_ANY), 0);
    dp_->fdb_changed();
}

xb_port_stats BridgeTest::stats(int port) const {
    return dp_->port_stats(slot_of(port));
}
xb_port_stats BridgeTest::host_stats() const {
    return dp_->port_stats(XB_HOST_SLOT);
}

void BridgeTest::update_port(int port, const std::function<void(xb_port &)> &change) {
    auto sp = dp_->port_by_ifindex(ifindex_[port]);
    ASSERT_TRUE(sp);
    xb_port p = sp->port;
    change(p);
    dp_->set_port(sp->slot, p);
}

void BridgeTest::set_port_flags(int port, uint32_t set, uint32_t clear) {
    update_port(port, [&](xb_port &p) { p.flags = (p.flags | set) & ~clear; });
}

void BridgeTest::set_port_kind(int port, uint8_t kind) {
    update_port(port, [&](xb_port &p) { p.kind = kind; });
}

} // namespace xbtest
