// SPDX-License-Identifier: BSD-2-Clause
#include "fdb.hpp"

#include "error.hpp"

#include <bpf/bpf.h>
#include <cerrno>
#include <ctime>
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

size_t fdb_flush_port(Datapath &dp, uint32_t ifindex, bool include_static) {
    std::vector<xb_fdb_key> keys;
    uint64_t dynamic = 0;
    fdb_for_each(dp, [&](const FdbEntry &e) {
        if (e.val.ifindex != ifindex)
            return;
        if (e.val.type == XB_FDB_DYNAMIC)
            dynamic++;
        else if (!include_static)
            return;
        keys.push_back(e.key);
    });
    const size_t n = fdb_delete(dp, keys);
    fdb_forget(dp, dynamic);
    return n;
}

bool fdb_expired(const xb_fdb_val &v, uint64_t now_ns, uint64_t ageing_ns) {
    return v.type == XB_FDB_DYNAMIC && ageing_ns != 0 && now_ns > v.updated_ns &&
           now_ns - v.updated_ns > ageing_ns;
}

size_t fdb_sweep(Datapath &dp, uint64_t now_ns) {
    const uint64_t ageing = dp.config()->ageing_ns;
    if (ageing == 0)
        return 0;
    // Deleted per chunk, so a sweep of a million entries holds one chunk of keys.
    std::vector<xb_fdb_key> expired;
    size_t removed = 0;
    auto flush = [&] {
        const size_t n = fdb_delete(dp, expired);
        fdb_forget(dp, n);
        removed += n;
        expired.clear();
    };
    fdb_for_each(dp, [&](const FdbEntry &e) {
        if (fdb_expired(e.val, now_ns, ageing)) {
            expired.push_back(e.key);
            if (expired.size() >= 4096)
                flush();
        }
    });
    flush();
    return removed;
}

} // namespace xb
