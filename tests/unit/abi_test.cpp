// SPDX-License-Identifier: BSD-2-Clause
// The ABI header is compiled by two compilers for two targets. Check that the layouts
// the controller assumes are the ones in the BTF of the built BPF object.
#include <xbridge/abi.h>

#include <bpf/btf.h>
#include <cstddef>
#include <gtest/gtest.h>
#include <string>

namespace {

struct Field {
    const char *strct;
    const char *member;
    size_t offset;
    size_t struct_size;
};

#define F(s, m)                                                                                    \
    Field {                                                                                        \
#s, #m, offsetof(struct s, m), sizeof(struct s)                                            \
    }

const Field kFields[] = {
    F(xb_fdb_key, mac),
    F(xb_fdb_key, vlan),
    F(xb_fdb_val, ifindex),
    F(xb_fdb_val, slot),
    F(xb_fdb_val, type),
    F(xb_fdb_val, updated_ns),
    F(xb_port, ifindex),
    F(xb_port, flags),
    F(xb_port, ctl),
    F(xb_port, mtu),
    F(xb_port, xdp_mode),
    F(xb_port, kind),
    F(xb_port, mac),
    F(xb_port, name),
    F(xb_port, storm_pps),
    F(xb_port, police_rate),
    F(xb_port, police_burst),
    F(xb_port, police_bytes),
    F(xb_policy_ip4_key, slot),
    F(xb_policy_ip4_key, addr),
    F(xb_policy_ip6_key, slot),
    F(xb_policy_ip6_key, addr),
    F(xb_policy_state, blocked_ns),
    F(xb_policy_state, bpdu_src),
    F(xb_mac_flap, moves),
    F(xb_mac_flap, last_ns),
    F(xb_mac_flap, from_ifindex),
    F(xb_mac_flap, to_ifindex),
    F(xb_config, abi_version),
    F(xb_config, flags),
    F(xb_config, uplink_ifindex),
    F(xb_config, max_slot),
    F(xb_config, xdp_max_len),
    F(xb_config, max_learned),
    F(xb_config, ageing_ns),
    F(xb_config, n_learned),
    F(xb_config, controller_pid),
    F(xb_config, trace_ifindex),
    F(xb_config, trace_mac),
    F(xb_config, netns_ino),
    F(xb_config, name),
    F(xb_config, trace_until_ns),
    F(xb_config, trace_pid),
    F(xb_config, metrics_ip4),
    F(xb_config, metrics_port),
    F(xb_storm_bucket, last_ns),
    F(xb_storm_bucket, budget_ns),
    F(xb_port_stats, cnt),
    F(xb_port_stats, drop),
    F(xb_trace_event, ts_ns),
    F(xb_trace_event, ifindex),
    F(xb_trace_event, out_ifindex),
    F(xb_trace_event, src),
    F(xb_trace_event, dst),
    F(xb_trace_event, vlan),
    F(xb_trace_event, proto),
    F(xb_trace_event, len),
    F(xb_trace_event, hook),
    F(xb_trace_event, action),
    F(xb_trace_event, reason),
    F(xb_config, mcast_membership_s),
    F(xb_capture_cfg, until_ns),
    F(xb_capture_cfg, ifindex),
    F(xb_capture_cfg, snaplen),
    F(xb_capture_cfg, mac),
    F(xb_capture_cfg, has_mac),
    F(xb_capture_cfg, pid),
    F(xb_capture_hdr, ts_ns),
    F(xb_capture_hdr, len),
    F(xb_capture_hdr, caplen),
    F(xb_capture_hdr, ifindex),
    F(xb_capture_hdr, out_ifindex),
    F(xb_capture_hdr, hook),
    F(xb_mdb_group_key, addr),
    F(xb_mdb_group_key, vlan),
    F(xb_mdb_group_val, expires_ns),
    F(xb_mdb_key, addr),
    F(xb_mdb_key, vlan),
    F(xb_mdb_key, slot),
    F(xb_mdb_val, expires_ns),
    F(xb_mdb_val, joined_ns),
    F(xb_mdb_msg, ifindex),
    F(xb_mdb_msg, slot),
    F(xb_mdb_msg, vlan),
    F(xb_mdb_msg, l3_off),
    F(xb_mdb_msg, proto),
    F(xb_mdb_msg, len),
    F(xb_mdb_msg, caplen),
    F(xb_mdb_msg, data),
};

#undef F

} // namespace

TEST(Abi, LayoutsMatchTheBpfObjectBtf) {
    btf *b = btf__parse_elf(XB_BPF_OBJECT, nullptr);
    ASSERT_NE(b, nullptr) << "cannot read BTF from " << XB_BPF_OBJECT;
    for (const Field &f : kFields) {
        const int id = btf__find_by_name_kind(b, f.strct, BTF_KIND_STRUCT);
        ASSERT_GT(id, 0) << "struct " << f.strct << " is not in the object's BTF";
        const btf_type *t = btf__type_by_id(b, id);
        EXPECT_EQ(t->size, f.struct_size) << f.strct;
        const btf_member *m = btf_members(t);
        bool found = false;
        for (int i = 0; i < btf_vlen(t); i++, m++) {
            if (std::string(btf__name_by_offset(b, m->name_off)) != f.member)
                continue;
            found = true;
            EXPECT_EQ(btf_member_bit_offset(t, i) / 8, f.offset) << f.strct << "." << f.member;
        }
        EXPECT_TRUE(found) << f.strct << "." << f.member << " is not in the BTF";
    }
    btf__free(b);
}
