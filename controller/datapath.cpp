// SPDX-License-Identifier: BSD-2-Clause
#include "datapath.hpp"

#include "error.hpp"

#include "xbridge.skel.h"

#include <algorithm>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <filesystem>
#include <fmt/format.h>
#include <linux/magic.h>
#include <memory>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

namespace xb {

namespace fs = std::filesystem;

namespace {

constexpr std::array<const char *, static_cast<size_t>(MapId::Count)> kMapNames = {
    "fdb",          "fdb_cache",   "flow_cache",   "ports",        "port_index",  "port_index_hi",
    "config",       "stats",       "tx_ports",     "flood_ucast",  "flood_mcast", "flood_bcast",
    "trace_rb",     "storm",       "vlan_members", "vlan_stats",   "policy_ip4",  "policy_ip6",
    "policy_state", "policy_rate", "policy_flap",  "capture_cfg",  "capture_pb",  "mdb_group",
    "mdb",          "mdb_router",  "mdb_rb",       "mdb_filtered",
};
// A name missing from a table is a null pointer at its end.
static_assert(kMapNames.back() != nullptr);
constexpr std::array<const char *, static_cast<size_t>(ProgId::Count)> kProgNames = {
    "xb_xdp_ingress", "xb_tc_ingress", "xb_tc_egress", "xb_xdp_devmap_tx", "xb_devmap_xmit",
    "xb_fdb_sweep",   "xb_xdp_host",   "xb_tc_host",   "xb_redirect_err",
};
static_assert(kProgNames.back() != nullptr);

// The drop counters after a redirect: tracepoint programs, each attached through a
// pinned link.
constexpr struct {
    ProgId prog;
    const char *tracepoint;
    const char *link_pin;
} kDropCounters[] = {
    {ProgId::DevmapXmit, "xdp:xdp_devmap_xmit", "link_devmap_xmit"},
    {ProgId::RedirectErr, "xdp:xdp_redirect_err", "link_redirect_err"},
};

bool optional_prog(size_t i) {
    return std::any_of(std::begin(kDropCounters), std::end(kDropCounters),
                       [i](const auto &c) { return i == static_cast<size_t>(c.prog); });
}

UniqueFd dup_fd(int fd, const std::string &what) {
    int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0)
        throw_last_errno(what);
    return UniqueFd(d);
}

struct ObjDeleter {
    void operator()(bpf_object *o) const { bpf_object__close(o); }
};
using ObjPtr = std::unique_ptr<bpf_object, ObjDeleter>;

// The datapath object: the one built into this binary (the skeleton's ELF bytes), or a
// file, for an upgrade to a newer object.
ObjPtr open_object(const std::optional<std::string> &path) {
    bpf_object *o = nullptr;
    if (path) {
        o = bpf_object__open_file(path->c_str(), nullptr);
    } else {
        size_t sz = 0;
        const void *bytes = xbridge::elf_bytes(&sz);
        LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "xbridge");
        o = bpf_object__open_mem(bytes, sz, &opts);
    }
    if (!o)
        throw_errno(path ? fmt::format("cannot open the datapath object {}", *path)
                         : std::string("cannot open the datapath object"),
                    errno);
    // The drop counters read kernel structs through BTF: without it, do without them.
    struct stat st {};
    if (::stat("/sys/kernel/btf/vmlinux", &st) < 0)
        for (const auto &c : kDropCounters)
            if (bpf_program *p = bpf_object__find_program_by_name(o, prog_name(c.prog)))
                bpf_program__set_autoload(p, false);
    return ObjPtr(o);
}

void load_object(bpf_object *obj) {
    if (int err = bpf_object__load(obj); err)
        throw_errno("cannot load the datapath programs (is BPF supported and are you root?)", err);
}

template <size_t N>
std::array<UniqueFd, N> prog_fds(bpf_object *obj, const std::array<const char *, N> &names) {
    std::array<UniqueFd, N> fds;
    for (size_t i = 0; i < N; i++) {
        bpf_program *p = bpf_object__find_program_by_name(obj, names[i]);
        if (!p)
            throw Error(fmt::format("datapath object has no program {}", names[i]));
        if (bpf_program__fd(p) < 0 && optional_prog(i))
            continue;
        fds[i] = dup_fd(bpf_program__fd(p), "dup prog fd");
    }
    return fds;
}

std::string prog_pin(const std::string &dir, size_t i) {
    return fmt::format("{}/prog_{}", dir, kProgNames[i]);
}
std::string map_pin(const std::string &dir, size_t i) {
    return fmt::format("{}/{}", dir, kMapNames[i]);
}

} // namespace

const char *map_name(MapId id) {
    return kMapNames[static_cast<size_t>(id)];
}
const char *prog_name(ProgId id) {
    return kProgNames[static_cast<size_t>(id)];
}

ConfigView::ConfigView(int map_fd) {
    void *p = ::mmap(nullptr, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
    if (p == MAP_FAILED)
        throw_last_errno("cannot map the config map");
    cfg_ = static_cast<xb_config *>(p);
}
ConfigView::ConfigView(ConfigView &&o) noexcept : cfg_(std::exchange(o.cfg_, nullptr)) {}
ConfigView &ConfigView::operator=(ConfigView &&o) noexcept {
    if (this != &o) {
        if (cfg_)
            ::munmap(cfg_, sysconf(_SC_PAGESIZE));
        cfg_ = std::exchange(o.cfg_, nullptr);
    }
    return *this;
}
ConfigView::~ConfigView() {
    if (cfg_)
        ::munmap(cfg_, sysconf(_SC_PAGESIZE));
}

bool Datapath::exists(const std::string &bridge) {
    struct stat st {};
    return ::stat(pin_dir(bridge).c_str(), &st) == 0;
}

Datapath Datapath::create(const std::string &bridge, uint32_t fdb_max, uint32_t max_ports) {
    Datapath dp;
    dp.name_ = bridge;
    dp.dir_ = pin_dir(bridge);

    ObjPtr obj = open_object(std::nullopt);
    bpf_map *fdb = bpf_object__find_map_by_name(obj.get(), "fdb");
    if (!fdb)
        throw Error("datapath object has no map fdb");
    check_libbpf(bpf_map__set_max_entries(fdb, fdb_max + XB_FDB_STATIC_RESERVE),
                 "cannot size the FDB");
    // Slot 0 is the host's: max_ports ports take slots 1..max_ports.
    for (const char *dm : {"tx_ports", "flood_ucast", "flood_mcast", "flood_bcast"})
        check_libbpf(
            bpf_map__set_max_entries(bpf_object__find_map_by_name(obj.get(), dm), max_ports + 1),
            fmt::format("cannot size devmap {}", dm));
    load_object(obj.get());

    for (size_t i = 0; i < kMapNames.size(); i++) {
        bpf_map *m = bpf_object__find_map_by_name(obj.get(), kMapNames[i]);
        if (!m)
            throw Error(fmt::format("datapath object has no map {}", kMapNames[i]));
        dp.maps_[i] = dup_fd(bpf_map__fd(m), "dup map fd");
    }
    dp.progs_ = prog_fds(obj.get(), kProgNames);
    // Stamped before the pins appear: whoever opens the bridge can tell its ABI.
    dp.cfg_ = ConfigView(dp.map(MapId::Config));
    dp.cfg_->abi_version = XB_ABI_VERSION;

    // The root goes when its last bridge does (unpin_all): recreate it if a `down`
    // elsewhere removed it since ensure_bpffs.
    int made = ::mkdir(dp.dir_.c_str(), 0700);
    if (made < 0 && errno == ENOENT && (::mkdir(pin_root().c_str(), 0700) == 0 || errno == EEXIST))
        made = ::mkdir(dp.dir_.c_str(), 0700);
    if (made < 0)
        throw_last_errno(fmt::format("cannot create {}", dp.dir_));
    try {
        for (size_t i = 0; i < kMapNames.size(); i++)
            check_libbpf(bpf_obj_pin(dp.maps_[i].get(), map_pin(dp.dir_, i).c_str()),
                         fmt::format("cannot pin map {}", kMapNames[i]));
        for (size_t i = 0; i < kProgNames.size(); i++)
            if (dp.progs_[i])
                check_libbpf(bpf_obj_pin(dp.progs_[i].get(), prog_pin(dp.dir_, i).c_str()),
                             fmt::format("cannot pin program {}", kProgNames[i]));
        dp.attach_drop_counter();
    } catch (...) {
        dp.unpin_all();
        throw;
    }
    return dp;
}

namespace {

// The datapath object built into this binary, opened (not loaded) once per process: the
// definition of every map, to compare pins with.
const bpf_object *builtin_object() {
    static const ObjPtr obj = open_object(std::nullopt);
    return obj.get();
}

// The controller reads and writes a bridge's maps with this build's structs (abi.h). A
// bridge made by a build with other layouts would be misread - a lookup copies the
// pinned map's value size into this build's struct - so its maps must be the ones this
// build's object defines: same type, key size and value size (the sizes of the FDB and
// the devmaps are chosen at `up`).
// How pinned map `fd` differs from the definition `m` (type, key and value sizes), or
// an empty string.
std::string layout_diff(int fd, const bpf_map *m, const std::string &what) {
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
        throw_last_errno(fmt::format("cannot inspect map {}", what));
    if (info.type != static_cast<uint32_t>(bpf_map__type(m)))
        return fmt::format("is of map type {}, this build's of type {}", info.type,
                           static_cast<uint32_t>(bpf_map__type(m)));
    if (info.key_size != bpf_map__key_size(m))
        return fmt::format("has {}-byte keys, this build's {}", info.key_size,
                           bpf_map__key_size(m));
    if (info.value_size != bpf_map__value_size(m))
        return fmt::format("has {}-byte values, this build's {}", info.value_size,
                           bpf_map__value_size(m));
    return {};
}

void check_layout(const std::string &bridge,
                  const std::array<UniqueFd, static_cast<size_t>(MapId::Count)> &maps) {
    for (size_t i = 0; i < kMapNames.size(); i++) {
        // The flow cache holds nothing its programs do not refill: one of another layout is
        // replaced by the next programs (load_programs), not refused.
        if (static_cast<MapId>(i) == MapId::FlowCache)
            continue;
        const bpf_map *m = bpf_object__find_map_by_name(builtin_object(), kMapNames[i]);
        if (!m)
            throw Error(fmt::format("datapath object has no map {}", kMapNames[i]));
        const std::string diff =
            layout_diff(maps[i].get(), m, fmt::format("{} of bridge {}", kMapNames[i], bridge));
        if (!diff.empty())
            throw Error(fmt::format("bridge {} was made by an incompatible xbridge: its map {} {} "
                                    "(manage it with the xbridge that made it)",
                                    bridge, kMapNames[i], diff),
                        EPROTO);
    }
}

// Maps a bridge made by an older build may lack: the flow cache, the storm guard's
// buckets, the VLAN tables, the port policy's, the capture's and multicast snooping's
// maps: every map after the storm guard's. None holds state worth keeping for such a
// bridge (its programs never read it, it starts full, or empty: no VLANs, no policy, no
// capture, no group known), so each is created empty and pinned: the bridge stays
// manageable - status, down, and an upgrade to programs that use it.
bool created_if_missing(size_t i) {
    const auto id = static_cast<MapId>(i);
    return id == MapId::FlowCache || id >= MapId::Storm;
}

// Creates an empty map as `m` defines it and pins it at pin (unless pin is empty).
// Returns the map's fd, or -1 with errno set.
int create_empty_map(const bpf_map *m, const std::string &pin) {
    const char *name = bpf_map__name(m);
    LIBBPF_OPTS(bpf_map_create_opts, opts);
    uint32_t max_entries = bpf_map__max_entries(m);
    // libbpf sizes a perf event array to the CPUs when it loads an object; here, we do.
    if (bpf_map__type(m) == BPF_MAP_TYPE_PERF_EVENT_ARRAY && !max_entries)
        max_entries = static_cast<uint32_t>(std::max(libbpf_num_possible_cpus(), 1));
    int fd = bpf_map_create(bpf_map__type(m), name, bpf_map__key_size(m), bpf_map__value_size(m),
                            max_entries, &opts);
    if (fd < 0) {
        errno = -fd;
        return -1;
    }
    if (!pin.empty() && bpf_obj_pin(fd, pin.c_str()) < 0) {
        const int err = errno;
        ::close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

// The same for map `id` as the datapath object this binary carries defines it: one
// definition.
int create_empty_map(MapId id, const std::string &pin) {
    const bpf_map *m = bpf_object__find_map_by_name(builtin_object(), map_name(id));
    if (!m) {
        errno = ENOENT;
        return -1;
    }
    return create_empty_map(m, pin);
}

// Replaces the pin at `pin` by object `fd` in one step (rename(2)).
void repin(int fd, const std::string &pin, const char *what) {
    const std::string tmp = pin + "_new"; // bpffs refuses names with a dot
    ::unlink(tmp.c_str());
    check_libbpf(bpf_obj_pin(fd, tmp.c_str()), fmt::format("cannot pin {}", what));
    if (::rename(tmp.c_str(), pin.c_str()) < 0)
        throw_last_errno(fmt::format("cannot replace the pin of {}", what));
}

} // namespace

std::optional<Datapath> Datapath::open(const std::string &bridge, bool maps_only) {
    if (!exists(bridge))
        return std::nullopt;
    Datapath dp;
    dp.name_ = bridge;
    dp.dir_ = pin_dir(bridge);
    for (size_t i = 0; i < kMapNames.size(); i++) {
        int fd = bpf_obj_get(map_pin(dp.dir_, i).c_str());
        if (fd < 0 && errno == ENOENT && created_if_missing(i))
            fd = create_empty_map(static_cast<MapId>(i), map_pin(dp.dir_, i));
        if (fd < 0)
            throw_errno(fmt::format("bridge {} is incomplete: cannot open pinned map {}", bridge,
                                    kMapNames[i]),
                        errno);
        dp.maps_[i] = UniqueFd(fd);
    }
    for (size_t i = 0; i < kProgNames.size(); i++) {
        UniqueFd fd(bpf_obj_get(prog_pin(dp.dir_, i).c_str()));
        if (!fd && (optional_prog(i) || maps_only))
            continue;
        if (!fd)
            throw_errno(fmt::format("bridge {} is incomplete: cannot open pinned program {}",
                                    bridge, kProgNames[i]),
                        errno);
        dp.progs_[i] = std::move(fd);
    }
    check_layout(bridge, dp.maps_);
    dp.cfg_ = ConfigView(dp.map(MapId::Config));
    if (const uint32_t abi = dp.cfg_->abi_version; abi != XB_ABI_VERSION)
        throw Error(fmt::format("bridge {} was made by an xbridge of datapath ABI {}, this one "
                                "speaks ABI {} (manage it with the xbridge that made it)",
                                bridge, abi, XB_ABI_VERSION),
                    EPROTO);
    return dp;
}

std::array<UniqueFd, static_cast<size_t>(ProgId::Count)>
Datapath::load_programs(const std::optional<std::string> &object) {
    ObjPtr obj = open_object(object);
    new_flow_cache_.reset();
    // The new programs work on the running bridge's maps: same FDB, counters, ports.
    for (size_t i = 0; i < kMapNames.size(); i++) {
        bpf_map *m = bpf_object__find_map_by_name(obj.get(), kMapNames[i]);
        if (!m)
            throw Error(fmt::format("the new datapath object has no map {}", kMapNames[i]));
        int fd = maps_[i].get();
        if (static_cast<MapId>(i) == MapId::FlowCache &&
            !layout_diff(fd, m, kMapNames[i]).empty()) {
            new_flow_cache_ = UniqueFd(create_empty_map(m, ""));
            if (!new_flow_cache_)
                throw_last_errno("cannot create a flow cache for the new programs");
            fd = new_flow_cache_.get();
        }
        check_libbpf(bpf_map__reuse_fd(m, fd), fmt::format("cannot reuse map {}", kMapNames[i]));
    }
    if (int err = bpf_object__load(obj.get()); err)
        throw_errno("cannot load the new datapath object on this bridge's maps (an "
                    "incompatible map layout?)",
                    err);
    return prog_fds(obj.get(), kProgNames);
}

void Datapath::replace_programs(std::array<UniqueFd, static_cast<size_t>(ProgId::Count)> progs) {
    for (size_t i = 0; i < kProgNames.size(); i++) {
        if (!progs[i])
            continue;
        // One step: there is always a pinned program.
        repin(progs[i].get(), prog_pin(dir_, i), kProgNames[i]);
    }
    progs_ = std::move(progs);
    if (new_flow_cache_) {
        const auto i = static_cast<size_t>(MapId::FlowCache);
        repin(new_flow_cache_.get(), map_pin(dir_, i), kMapNames[i]);
        maps_[i] = std::move(new_flow_cache_);
    }
    attach_drop_counter();
}

void Datapath::reload_programs() {
    for (size_t i = 0; i < kProgNames.size(); i++)
        if (UniqueFd fd(bpf_obj_get(prog_pin(dir_, i).c_str())); fd)
            progs_[i] = std::move(fd);
}

void Datapath::attach_drop_counter() {
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    check_libbpf(bpf_obj_get_info_by_fd(map(MapId::TxPorts), &info, &len),
                 "cannot read the id of map tx_ports");
    cfg_->tx_ports_id = info.id;
    for (const auto &c : kDropCounters) {
        const int prog_fd = prog(c.prog);
        if (prog_fd < 0)
            continue;
        UniqueFd link(bpf_raw_tracepoint_open(nullptr, prog_fd));
        if (!link)
            throw_errno(fmt::format("cannot attach the drop counter to {}", c.tracepoint), errno);
        const std::string pin = dir_ + "/" + c.link_pin, tmp = pin + "_new";
        ::unlink(tmp.c_str());
        check_libbpf(bpf_obj_pin(link.get(), tmp.c_str()),
                     fmt::format("cannot pin the drop counter of {}", c.tracepoint));
        UniqueFd old(bpf_obj_get(pin.c_str()));
        if (::rename(tmp.c_str(), pin.c_str()) < 0)
            throw_last_errno(
                fmt::format("cannot replace the pin of the drop counter of {}", c.tracepoint));
        if (old)
            bpf_link_detach(old.get());
    }
}

void Datapath::unpin_all() {
    std::error_code ec;
    // Everything in the directory is a pin of ours: maps, programs, links.
    for (const auto &e : fs::directory_iterator(dir_, ec))
        ::unlink(e.path().c_str());
    ::rmdir(dir_.c_str());
    // The last bridge leaves no empty xbridge directory behind (fails while others exist).
    ::rmdir(pin_root().c_str());
}

bool Datapath::still_pinned() const {
    UniqueFd pinned(bpf_obj_get(map_pin(dir_, static_cast<size_t>(MapId::Config)).c_str()));
    if (!pinned)
        return false;
    bpf_map_info a{}, b{};
    uint32_t la = sizeof(a), lb = sizeof(b);
    if (bpf_obj_get_info_by_fd(pinned.get(), &a, &la) < 0 ||
        bpf_obj_get_info_by_fd(map(MapId::Config), &b, &lb) < 0)
        return true; // cannot tell
    return a.id == b.id;
}

uint32_t Datapath::fdb_capacity() const {
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(map(MapId::Fdb), &info, &len) < 0)
        return 0;
    return info.max_entries;
}

std::optional<xb_port> Datapath::port(uint32_t slot) const {
    xb_port p{};
    if (slot >= XB_MAX_PORTS || bpf_map_lookup_elem(map(MapId::Ports), &slot, &p) < 0 || !p.ifindex)
        return std::nullopt;
    return p;
}

void Datapath::set_port(uint32_t slot, const xb_port &p) {
    xb_port old{};
    const bool same = bpf_map_lookup_elem(map(MapId::Ports), &slot, &old) == 0 &&
                      std::memcmp(&old, &p, sizeof(p)) == 0;
    check_libbpf(bpf_map_update_elem(map(MapId::Ports), &slot, &p, BPF_ANY),
                 "cannot update the port table");
    uint32_t ifindex = p.ifindex;
    check_libbpf(bpf_map_update_elem(index_map(ifindex), &ifindex, &slot, BPF_ANY),
                 "cannot update the port index");
    // Cached forwarding decisions were taken under the old port (its flags, its kind,
    // its slot): a new generation retires them. The periodic link sync changes nothing
    // most of the time, and then keeps the caches.
    if (!same)
        fdb_changed();
}

int Datapath::index_map(uint32_t ifindex) const {
    return map(ifindex < XB_IFINDEX_DIRECT ? MapId::PortIndex : MapId::PortIndexHi);
}

void Datapath::clear_port(uint32_t slot) {
    if (auto p = port(slot)) {
        uint32_t ifindex = p->ifindex;
        if (ifindex < XB_IFINDEX_DIRECT) {
            uint32_t none = 0;
            bpf_map_update_elem(map(MapId::PortIndex), &ifindex, &none, BPF_ANY);
        } else {
            bpf_map_delete_elem(map(MapId::PortIndexHi), &ifindex);
        }
    }
    xb_port empty{};
    bpf_map_update_elem(map(MapId::Ports), &slot, &empty, BPF_ANY);
    fdb_changed();
}

std::vector<SlotPort> Datapath::ports() const {
    std::vector<SlotPort> out;
    for (uint32_t slot = 1; slot < XB_MAX_PORTS; slot++)
        if (auto p = port(slot))
            out.push_back({slot, *p});
    return out;
}

std::optional<SlotPort> Datapath::port_by_ifindex(uint32_t ifindex) const {
    uint32_t slot = 0;
    if (bpf_map_lookup_elem(index_map(ifindex), &ifindex, &slot) < 0 || !slot)
        return std::nullopt;
    if (auto p = port(slot); p && p->ifindex == ifindex)
        return SlotPort{slot, *p};
    return std::nullopt;
}

std::optional<SlotPort> Datapath::port_by_name(const std::string &name) const {
    for (auto &sp : ports())
        if (name == sp.port.name)
            return sp;
    return std::nullopt;
}

std::vector<SlotPort> Datapath::absent_ports() const {
    std::vector<SlotPort> out;
    for (uint32_t slot = 1; slot < XB_MAX_PORTS; slot++) {
        xb_port p{};
        if (bpf_map_lookup_elem(map(MapId::Ports), &slot, &p) == 0 && !p.ifindex &&
            (p.ctl & XB_CTL_ABSENT))
            out.push_back({slot, p});
    }
    return out;
}

SlotPort Datapath::require_port(const std::string &name) const {
    if (auto sp = port_by_name(name))
        return *sp;
    throw Error(fmt::format("{} is not a port of bridge {}", name, name_), ENODEV);
}

std::optional<uint32_t> Datapath::free_slot() const {
    // A slot kept for an absent port is taken only when nothing else is free.
    std::optional<uint32_t> absent;
    const uint32_t last = std::min<uint32_t>(cfg_->max_ports, XB_MAX_PORTS - 1);
    for (uint32_t slot = 1; slot <= last; slot++) {
        xb_port p{};
        if (bpf_map_lookup_elem(map(MapId::Ports), &slot, &p) < 0)
            continue;
        if (!p.ifindex && !(p.ctl & XB_CTL_ABSENT))
            return slot;
        if (!p.ifindex && !absent)
            absent = slot;
    }
    return absent;
}

void Datapath::devmap_set(MapId m, uint32_t slot, uint32_t ifindex, bool with_counter) {
    bpf_devmap_val val{};
    val.ifindex = ifindex;
    val.bpf_prog.fd = with_counter ? prog(ProgId::DevmapTx) : -1;
    check_libbpf(bpf_map_update_elem(map(m), &slot, &val, BPF_ANY),
                 fmt::format("cannot add ifindex {} to devmap {}", ifindex, map_name(m)));
}

void Datapath::devmap_del(MapId m, uint32_t slot) {
    bpf_map_delete_elem(map(m), &slot);
}

void Datapath::fdb_changed() {
    __atomic_fetch_add(&cfg_->fdb_gen, 1, __ATOMIC_RELEASE);
}

xb_port_stats Datapath::port_stats(uint32_t slot) const {
    const int ncpu = libbpf_num_possible_cpus();
    std::vector<xb_port_stats> percpu(ncpu > 0 ? ncpu : 1);
    xb_port_stats sum{};
    if (bpf_map_lookup_elem(map(MapId::Stats), &slot, percpu.data()) < 0)
        return sum;
    for (const auto &s : percpu) {
        for (size_t i = 0; i < XB_CNT_MAX; i++)
            sum.cnt[i] += s.cnt[i];
        for (size_t i = 0; i < XB_DROP_MAX; i++)
            sum.drop[i] += s.drop[i];
    }
    return sum;
}

std::string Datapath::link_pin(uint32_t ifindex) const {
    return fmt::format("{}/link_xdp_{}", dir_, ifindex);
}

} // namespace xb
