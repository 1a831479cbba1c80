// SPDX-License-Identifier: BSD-2-Clause
#include "fdb.hpp"

#include "error.hpp"

#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fmt/format.h>
#include <vector>

namespace xb {

uint64_t monotonic_coarse_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

void fdb_for_each(const Datapath &dp, const std::function<void(const FdbEntry &)> &fn,
                  uint32_t chunk) {
    std::vector<xb_fdb_key> keys(chunk);
    std::vector<xb_fdb_val> vals(chunk);
    uint32_t token = 0;
    bool first = true;
    for (;;) {
        uint32_t count = chunk;
        int ret = bpf_map_lookup_batch(dp.map(MapId::Fdb), first ? nullptr : &token, &token,
                                       keys.data(), vals.data(), &count, nullptr);
        const int err = ret < 0 ? errno : 0;
        if (ret < 0 && err != ENOENT)
            throw_errno("cannot read the FDB", err);
        for (uint32_t i = 0; i < count; i++)
            fn({keys[i], vals[i]});
        if (err == ENOENT)
            return;
        first = false;
    }
}

size_t fdb_delete(Datapath &dp, const std::vector<xb_fdb_key> &keys) {
    size_t deleted = 0, i = 0;
    if (keys.empty())
        return 0;
    while (i < keys.size()) {
        uint32_t count = static_cast<uint32_t>(keys.size() - i);
        int ret = bpf_map_delete_batch(dp.map(MapId::Fdb), &keys[i], &count, nullptr);
        deleted += count;
        i += count;
        if (ret < 0) {
            if (errno != ENOENT)
                throw_errno("cannot delete FDB entries", errno);
            i++; // gone meanwhile (a concurrent delete): skip it
        }
    }
    dp.fdb_changed();
    return deleted;
}

void fdb_forget(Datapath &dp, uint64_t n) {
    // The datapath adds with an atomic instruction on the same mmapped word.
    __u64 *cnt = &dp.config()->n_learned;
    __u64 cur = __atomic_load_n(cnt, __ATOMIC_RELAXED);
    __u64 next;
    do {
        next = cur > n ? cur - n : 0;
    } while (
        !__atomic_compare_exchange_n(cnt, &cur, next, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

size_t fdb_remove_if(Datapath &dp, const std::function<bool(const FdbEntry &)> &pred) {
    // Deleted per chunk while iterating, so a million matches never sit in memory. Learned
    // entries apart: n_learned goes down by those this call deleted, not by those it saw
    // (the ageing sweep may delete some of them meanwhile, and counts them itself).
    std::vector<xb_fdb_key> dynamic, other;
    size_t removed = 0;
    auto flush = [&] {
        const size_t gone = fdb_delete(dp, dynamic);
        fdb_forget(dp, gone);
        removed += gone + fdb_delete(dp, other);
        dynamic.clear();
        other.clear();
    };
    fdb_for_each(dp, [&](const FdbEntry &e) {
        if (!pred(e))
            return;
        (e.val.type == XB_FDB_DYNAMIC ? dynamic : other).push_back(e.key);
        if (dynamic.size() + other.size() >= 4096)
            flush();
    });
    flush();
    return removed;
}

size_t fdb_flush_port(Datapath &dp, uint32_t ifindex, bool include_static) {
    return fdb_remove_if(dp, [&](const FdbEntry &e) {
        return e.val.ifindex == ifindex && (include_static || e.val.type == XB_FDB_DYNAMIC);
    });
}

size_t fdb_sweep(Datapath &dp, uint64_t now_ns) {
    xb_sweep_ctx ctx{};
    ctx.now_ns = now_ns;
    ctx.ageing_ns = dp.config()->ageing_ns;
    if (!ctx.ageing_ns)
        return 0;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
    check_libbpf(bpf_prog_test_run_opts(dp.prog(ProgId::FdbSweep), &opts),
                 "cannot run the ageing sweep");
    return ctx.removed;
}

} // namespace xb

namespace xb {

namespace {

xb_fdb_key make_key(const Mac &mac, uint16_t vlan) {
    xb_fdb_key k{};
    std::memcpy(k.mac, mac.data(), 6);
    k.vlan = vlan;
    return k;
}

std::string entry_name(const Mac &mac, uint16_t vlan) {
    return vlan ? fmt::format("{} vlan {}", format_mac(mac), vlan) : format_mac(mac);
}

std::string port_label(const Datapath &dp, uint32_t ifindex) {
    auto sp = dp.port_by_ifindex(ifindex);
    return sp ? std::string(sp->port.name) : fmt::format("ifindex {}", ifindex);
}

} // namespace

FdbPut fdb_put(Datapath &dp, const xb_fdb_key &key, const xb_fdb_val &val, const std::string &what,
               const std::function<bool(const xb_fdb_val &)> &keep) {
    const int fd = dp.map(MapId::Fdb);
    // Insert-if-absent, else decide on what is there and replace it with BPF_EXIST: a
    // learned entry may appear, age out or move between the calls.
    for (int attempt = 0; attempt < 8; attempt++) {
        if (bpf_map_update_elem(fd, &key, &val, BPF_NOEXIST) == 0) {
            dp.fdb_changed();
            return {true, std::nullopt};
        }
        if (errno == E2BIG)
            throw Error(fmt::format("cannot add {}: the FDB is full", what), ENOSPC);
        if (errno != EEXIST)
            throw_errno(fmt::format("cannot add {}", what), errno);
        xb_fdb_val cur{};
        if (bpf_map_lookup_elem(fd, &key, &cur) < 0)
            continue; // aged out meanwhile: try again
        if (keep(cur))
            return {};
        if (bpf_map_update_elem(fd, &key, &val, BPF_EXIST) == 0) {
            if (cur.type == XB_FDB_DYNAMIC)
                fdb_forget(dp, 1); // a learned entry is gone
            dp.fdb_changed();      // some CPU may have it cached
            return {true, cur};
        }
    }
    throw Error(fmt::format("cannot add {}: the entry keeps changing", what), EAGAIN);
}

void fdb_add_static(Datapath &dp, const Mac &mac, uint16_t vlan, uint32_t ifindex, uint32_t slot) {
    if (!is_valid_unicast(mac))
        throw Error(fmt::format("{} is not a unicast address: static entries are for unicast MACs",
                                format_mac(mac)),
                    EINVAL);
    // A port's own address is the host's on every VLAN (its local entry is on VLAN 0).
    if (vlan) {
        const xb_fdb_key untagged = make_key(mac, 0);
        xb_fdb_val local{};
        if (bpf_map_lookup_elem(dp.map(MapId::Fdb), &untagged, &local) == 0 &&
            local.type == XB_FDB_LOCAL)
            throw Error(fmt::format("{} is the address of port {} (a local entry, on every VLAN)",
                                    format_mac(mac), port_label(dp, local.ifindex)),
                        EEXIST);
    }
    xb_fdb_val val{};
    val.ifindex = ifindex;
    val.slot = static_cast<uint16_t>(slot);
    val.type = XB_FDB_STATIC;
    val.updated_ns = monotonic_coarse_ns();
    // Only a learned entry is replaced.
    fdb_put(dp, make_key(mac, vlan), val, entry_name(mac, vlan), [&](const xb_fdb_val &cur) {
        if (cur.type == XB_FDB_LOCAL)
            throw Error(fmt::format("{} is the address of port {} (a local entry)",
                                    entry_name(mac, vlan), port_label(dp, cur.ifindex)),
                        EEXIST);
        if (cur.type == XB_FDB_STATIC) {
            if (cur.ifindex == ifindex)
                return true;
            throw Error(fmt::format("{} already has a static entry on port {}",
                                    entry_name(mac, vlan), port_label(dp, cur.ifindex)),
                        EEXIST);
        }
        return false;
    });
}

void fdb_del(Datapath &dp, const Mac &mac, uint16_t vlan) {
    const xb_fdb_key key = make_key(mac, vlan);
    xb_fdb_val cur{};
    if (bpf_map_lookup_elem(dp.map(MapId::Fdb), &key, &cur) < 0)
        throw Error(fmt::format("no FDB entry for {}", entry_name(mac, vlan)), ENOENT);
    if (cur.type == XB_FDB_LOCAL)
        throw Error(fmt::format("{} is the address of port {}: local entries go with their port",
                                entry_name(mac, vlan), port_label(dp, cur.ifindex)),
                    EPERM);
    if (bpf_map_delete_elem(dp.map(MapId::Fdb), &key) < 0) {
        if (errno == ENOENT)
            return; // aged out meanwhile: gone as asked
        throw_errno("cannot delete the FDB entry", errno);
    }
    dp.fdb_changed();
    if (cur.type == XB_FDB_DYNAMIC)
        fdb_forget(dp, 1);
}

size_t fdb_flush(Datapath &dp, std::optional<uint32_t> ifindex, bool dynamic_only) {
    return fdb_remove_if(dp, [&](const FdbEntry &e) {
        if (ifindex && e.val.ifindex != *ifindex)
            return false;
        return e.val.type == XB_FDB_DYNAMIC || (!dynamic_only && e.val.type == XB_FDB_STATIC);
    });
}

} // namespace xb
