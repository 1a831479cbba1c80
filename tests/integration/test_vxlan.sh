# shellcheck shell=bash
# A segment across two hosts: each runs xbridge with a guest on a tap and a kernel VXLAN
# device as a port, the hosts joined by an underlay veth of their own subnet.
#
#   $PFX-g0 ── tap0 ┐
#   $PFX-g2 ── tap1 ┴ [$PFX-host: xbridge] vxlan100 ─ ul0 10.78.0.1 ═╗ underlay veth
#   $PFX-g1 ── tap0 ─ [$PFX-hb:   xbridge] vxlan100 ─ ul0 10.78.0.2 ═╝
#
# Host A floods to B through the VXLAN device's flood list (`bridge fdb append
# 00:00:00:00:00:00 ... dst`), host B reaches A through `remote`: both ways a user sets
# one up. The guests share 10.77.0.0/24, as if on one host.

UL_NET=10.78.0
G0=$(topo_guest_ip 0)
G1=$(topo_guest_ip 1)
G2=$(topo_guest_ip 2)

# xb_b ARGS: xbridge in host B's namespace.
xb_b() { "$XB" -n "$PFX-hb" "$@"; }

# counter_b PORT FIELD: as counter, on host B's bridge.
counter_b() {
	xb_b stats --name "${XB_BRIDGE}b" --json | jq -r --arg p "$1" --arg f "$2" \
		'.ports[] | select(.name == $p) | getpath($f | split("."))'
}

# vxlan_hosts [relay options]: two hosts, the underlay, a VXLAN device on each, a
# bridge on each with its guest.
vxlan_hosts() {
	require_tools jq bridge
	local ns
	for ns in host hb g0 g1 g2; do
		ip netns add "$PFX-$ns"
		ip -n "$PFX-$ns" link set lo up
		in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	ip -n "$PFX-host" link add name ul0 type veth peer name ul0 netns "$PFX-hb"
	ip -n "$PFX-host" addr add "$UL_NET.1/24" dev ul0
	ip -n "$PFX-hb" addr add "$UL_NET.2/24" dev ul0
	ip -n "$PFX-host" link set ul0 up
	ip -n "$PFX-hb" link set ul0 up
	ip -n "$PFX-host" link add vxlan100 type vxlan id 100 local "$UL_NET.1" dev ul0 dstport 4789 ||
		skip "no VXLAN support"
	bridge -n "$PFX-host" fdb append 00:00:00:00:00:00 dev vxlan100 dst "$UL_NET.2"
	ip -n "$PFX-hb" link add vxlan100 type vxlan id 100 local "$UL_NET.2" remote "$UL_NET.1" dev ul0 dstport 4789
	[[ $(ip -n "$PFX-host" -j link show vxlan100 | jq '.[0].mtu') -eq 1450 ]] ||
		fail "the VXLAN device's MTU is not 1450"
	xb up --name "$XB_BRIDGE" --uplink none vxlan100 tap0 tap1 >/dev/null || fail "xbridge up failed on host A"
	xb_b up --name "${XB_BRIDGE}b" --uplink none vxlan100 tap0 >/dev/null || fail "xbridge up failed on host B"
	topo_start_guest_on host tap0 0 "$@" || fail "guest 0 did not start"
	topo_start_guest_on hb tap0 1 "$@" || fail "guest 1 did not start"
	topo_start_guest_on host tap1 2 "$@" || fail "guest 2 did not start"
}

test_guests_across_hosts() {
	vxlan_hosts
	step "the VXLAN port has no native XDP: served by TC"
	[[ $(port_field vxlan100 xdp_mode) == none ]] ||
		fail "vxlan100: xdp_mode $(port_field vxlan100 xdp_mode), expected none"
	[[ $(port_field vxlan100 kind) == vxlan ]] || fail "vxlan100: kind $(port_field vxlan100 kind)"
	[[ $(port_field vxlan100 xdp_redirect_target) == false ]] || fail "vxlan100 is taken for an XDP redirect target"
	xb status --name "$XB_BRIDGE" | grep -Eq '^vxlan100 .* tc +up' ||
		fail "text status does not say tc for vxlan100: $(xb status --name "$XB_BRIDGE")"
	step "guests on two hosts ping each other, both ways"
	assert_ping g0 "$G1"
	assert_ping g1 "$G0"
	local tx0 rx0
	tx0=$(counter vxlan100 tx_packets)
	rx0=$(counter_b vxlan100 rx_packets)
	in_ns g0 ping -c 20 -i 0.05 -W1 -q "$G1" >/dev/null || fail "guest 0 -> guest 1 lost pings"
	(($(counter vxlan100 tx_packets) - tx0 >= 20)) || fail "host A's vxlan100 did not send the pings"
	(($(counter_b vxlan100 rx_packets) - rx0 >= 20)) || fail "host B's vxlan100 did not receive the pings"
	echo "ok: 20 pings through vxlan100 on both hosts"
	step "TCP between the guests at the VXLAN device's MTU (1450)"
	in_ns g0 ip link set eth0 mtu 1450
	in_ns g1 ip link set eth0 mtu 1450
	transfer g0 g1 "$G1" 8
	transfer g1 g0 "$G0" 8
	local d
	for d in too_big redirect; do
		[[ $(counter vxlan100 "drops.$d") == 0 && $(counter_b vxlan100 "drops.$d") == 0 ]] ||
			fail "vxlan100 counted $d drops at MTU 1450"
	done
	echo "ok: nothing dropped"
}

test_frames_too_big_for_vxlan() {
	require_tools jq
	vxlan_hosts
	assert_ping g0 "$G1"
	step "guests at 1500 bytes: what fits in 1450 goes through"
	in_ns g0 ping -c 3 -i 0.2 -W1 -q -s 1422 -Mdo "$G1" >/dev/null || fail "a 1450-byte ping did not go through"
	echo "ok: a 1450-byte ping crosses"
	step "a 1500-byte ping cannot fit: counted as too_big on vxlan100, not lost silently"
	local big0 rx0
	big0=$(counter vxlan100 drops.too_big)
	rx0=$(counter_b vxlan100 rx_bytes)
	in_ns g0 ping -c 5 -i 0.2 -W1 -q -s 1472 -Mdo "$G1" >/dev/null && fail "a 1500-byte ping crossed a 1450-byte VXLAN device"
	[[ $(($(counter vxlan100 drops.too_big) - big0)) -eq 5 ]] ||
		fail "5 pings too big for vxlan100: too_big moved by $(($(counter vxlan100 drops.too_big) - big0))"
	# Bytes, not frames: an ARP probe of the guests' neighbour entries may cross meanwhile
	# (a slow VM takes long enough), never a frame of 1500 bytes.
	(($(counter_b vxlan100 rx_bytes) - rx0 < 1500)) ||
		fail "host B received frames of the oversized pings ($(($(counter_b vxlan100 rx_bytes) - rx0)) bytes)"
	echo "ok: 5 oversized pings, 5 too_big on vxlan100"
	step "between the guests of one host, full-size frames stay at XDP"
	local xdp0
	assert_ping g0 "$G2"
	xdp0=$(counter tap0 rx_xdp)
	in_ns g0 ping -c 5 -i 0.2 -W1 -q -s 1472 -Mdo "$G2" >/dev/null || fail "a 1500-byte ping between guest 0 and guest 2 failed"
	(($(counter tap0 rx_xdp) - xdp0 >= 5)) ||
		fail "1500-byte frames between two taps left XDP for the VXLAN port's MTU ($(($(counter tap0 rx_xdp) - xdp0)) at XDP)"
	echo "ok: 1500-byte pings between two local guests, switched at XDP"
	step "a broadcast too big for vxlan100 is counted there too (flood)"
	big0=$(counter vxlan100 drops.too_big)
	in_ns g0 "$XB_FRAMES" --dev eth0 --src "$(topo_guest_mac 0)" --dst ff:ff:ff:ff:ff:ff --ethertype 0x88b5 --size 1514 --count 4
	sleep 0.3
	[[ $(($(counter vxlan100 drops.too_big) - big0)) -eq 4 ]] ||
		fail "4 broadcasts too big for vxlan100: too_big moved by $(($(counter vxlan100 drops.too_big) - big0))"
	echo "ok: 4 oversized broadcasts, 4 too_big on vxlan100"
}

test_tso_guests_across_hosts() {
	require_tools jq ethtool
	# QEMU's virtio-net with offloads, at the VXLAN device's MTU: the guests hand over
	# TSO super-frames, which the VXLAN device segments and encapsulates.
	vxlan_hosts --vnet-hdr --offload --mtu 1450
	in_ns g0 ethtool -k eth0 | matches 'tcp-segmentation-offload: on' || fail "guest 0 has no TSO"
	assert_ping g0 "$G1"
	local tc0
	tc0=$(counter tap0 rx_tc)
	transfer g0 g1 "$G1" 16
	transfer g1 g0 "$G0" 16
	(($(counter tap0 rx_tc) > tc0 + 10)) || fail "guest 0's super-frames did not take the TC path"
	[[ $(counter vxlan100 drops.too_big) == 0 && $(counter_b vxlan100 drops.too_big) == 0 ]] ||
		fail "super-frames of 1450-byte segments were counted as too_big"
	echo "ok: $(($(counter tap0 rx_tc) - tc0)) frames from guest 0 through TC, none too big"
}
