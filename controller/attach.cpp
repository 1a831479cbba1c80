// SPDX-License-Identifier: BSD-2-Clause
#include "attach.hpp"

#include "error.hpp"
#include "fd.hpp"

#include <xbridge/abi.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <fmt/format.h>
#include <linux/if_link.h>
#include <unistd.h>

namespace xb {

uint32_t xdp_attached_prog(int ifindex) {
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (bpf_xdp_query(ifindex, 0, &q) < 0)
        return 0;
    return q.prog_id;
}

namespace {

int link_xdp(int prog_fd, int ifindex, uint32_t flags) {
    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
    int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
    return fd < 0 ? -errno : fd;
}

} // namespace

uint8_t xdp_attach(int prog_fd, int ifindex, const std::string &ifname, XdpMode mode,
                   const std::string &pin) {
    if (uint32_t id = xdp_attached_prog(ifindex))
        throw Error(fmt::format("{} already has an XDP program attached (id {}); detach it first",
                                ifname, id),
                    EBUSY);
    if (mode == XdpMode::None)
        return XB_XDP_NONE;
    int fd = link_xdp(prog_fd, ifindex, XDP_FLAGS_DRV_MODE);
    // In auto mode a driver without native XDP gets no XDP program: the TC hook takes
    // that port's frames. Generic XDP would give it nothing TC does not, cost a copy of
    // every frame it cannot take as it is (a GRO super-frame, a cloned skb), and run
    // again on the frames xbridge injects into the port's stack.
    if (fd < 0 && mode == XdpMode::Auto && (fd == -EOPNOTSUPP || fd == -EINVAL))
        return XB_XDP_NONE;
    if (fd < 0)
        throw_errno(fmt::format("cannot attach native XDP to {}", ifname), fd);
    UniqueFd link(fd);
    if (bpf_obj_pin(link.get(), pin.c_str()) < 0) {
        int err = errno;
        bpf_link_detach(link.get());
        throw_errno(fmt::format("cannot pin the XDP link of {}", ifname), err);
    }
    return XB_XDP_NATIVE;
}

void xdp_detach(const std::string &pin) {
    int fd = bpf_obj_get(pin.c_str());
    if (fd >= 0) {
        UniqueFd link(fd);
        // Detach even if another process holds the link: the port leaves the bridge now.
        bpf_link_detach(link.get());
    }
    ::unlink(pin.c_str());
}

namespace {

bpf_tc_attach_point point(TcDir dir) {
    return dir == TcDir::Ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

} // namespace

bool tc_attach(int ifindex, const std::string &ifname, TcDir dir, int prog_fd) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point(dir));
    int err = bpf_tc_hook_create(&hook);
    if (err && err != -EEXIST)
        throw_errno(fmt::format("cannot add a clsact qdisc to {}", ifname), err);
    const bool created = err == 0;
    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .handle = kTcHandle,
                .priority = kTcPriority);
    err = bpf_tc_attach(&hook, &opts);
    if (err) {
        if (created) {
            hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
            bpf_tc_hook_destroy(&hook);
        }
        throw_errno(fmt::format("cannot attach the TC {} program to {}",
                                dir == TcDir::Ingress ? "ingress" : "egress", ifname),
                    err);
    }
    return created;
}

void tc_replace(int ifindex, const std::string &ifname, TcDir dir, int prog_fd) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point(dir));
    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE,
                .handle = kTcHandle, .priority = kTcPriority);
    check_libbpf(bpf_tc_attach(&hook, &opts),
                 fmt::format("cannot replace the TC {} program of {}",
                             dir == TcDir::Ingress ? "ingress" : "egress", ifname));
}

void xdp_replace(const std::string &pin, const std::string &ifname, int prog_fd) {
    UniqueFd link(bpf_obj_get(pin.c_str()));
    if (!link)
        throw_errno(fmt::format("cannot open the XDP link of {}", ifname), errno);
    check_libbpf(bpf_link_update(link.get(), prog_fd, nullptr),
                 fmt::format("cannot replace the XDP program of {}", ifname));
}

void tc_detach(int ifindex, TcDir dir) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point(dir));
    LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
    bpf_tc_detach(&hook, &opts);
}

void tc_destroy_clsact(int ifindex) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
                .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
    bpf_tc_hook_destroy(&hook);
}

} // namespace xb
