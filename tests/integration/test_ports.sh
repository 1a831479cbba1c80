# shellcheck shell=bash
# Ports of every kind a host has, at their defaults: a veth whose peer has neither GRO
# nor an XDP program (it takes no XDP redirects: the TC hook serves it), a veth whose peer
# turns GRO on and off while traffic runs, and an uplink without native XDP (a macvlan in
# passthru mode, standing in for a NIC whose driver has no XDP), also with no XDP at all
# on any port (--xdp-mode none).

G0=$(topo_guest_ip 0)
G1=$(topo_guest_ip 1)

# xdp_target PORT: the port's xdp_redirect_target from status (true/false).
xdp_target() { port_field "$1" xdp_redirect_target; }

# wait_xdp_target PORT VALUE: until status says VALUE (the controller follows the
# kernel's netdev notifications), at most 3 s.
wait_xdp_target() {
	local t
	for ((t = 0; t < 30 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ $(xdp_target "$1") == "$2" ]] && return 0
		sleep 0.1
	done
	fail "$1: xdp_redirect_target is $(xdp_target "$1"), expected $2"
}

test_veth_at_its_defaults() {
	require_tools jq
	topo_create 2
	in_ns out ethtool -k eth0 | matches 'generic-receive-offload: off' ||
		skip "a new veth here has GRO on"
	local before
	before=$(in_ns host ethtool -k eth0 | awk '/^generic-receive-offload:/ {print $2}')
	xb up --name "$XB_BRIDGE" eth0 tap0 tap1 >/dev/null || fail "xbridge up failed"
	topo_start_guest 0 || fail "guest 0 did not start"
	topo_start_guest 1 || fail "guest 1 did not start"
	step "the outside PC's veth has no NAPI: the host's eth0 takes no XDP redirects"
	[[ $(xdp_target eth0) == false ]] || fail "eth0 is taken for an XDP redirect target: $(xb status --name "$XB_BRIDGE")"
	[[ $(xdp_target tap0) == true ]] || fail "tap0 is not an XDP redirect target"
	xb status --name "$XB_BRIDGE" | grep -Eq '^eth0 .* tc +up' || fail "text status does not say tc for eth0: $(xb status --name "$XB_BRIDGE")"
	step "GRO: xbridge turned it on for eth0 (TCP for guests is merged there)"
	[[ $(port_field eth0 gro_set) == true || $before == on ]] || fail "GRO was not set on eth0"
	in_ns host ethtool -k eth0 | matches 'generic-receive-offload: on' || fail "GRO is off on eth0"

	step "every direction, nothing lost"
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping out "$G1"
	assert_ping g0 "$G1"
	assert_ping host "$G0"
	assert_ping g1 "$TOPO_HOST_IP"
	in_ns g0 ping -c 50 -i 0.02 -W1 -q "$TOPO_OUT_IP" >/dev/null || fail "guest 0 -> outside PC lost pings"
	transfer g0 out "$TOPO_OUT_IP" 4
	transfer out g1 "$G1" 4
	local dr
	dr=$(counter eth0 drops.redirect)
	[[ $dr == 0 ]] || fail "$dr frames for eth0 were dropped as redirect"
	echo "ok: no redirect drops on eth0"

	step "down restores GRO"
	xb down --name "$XB_BRIDGE" >/dev/null || fail "down failed"
	[[ $(in_ns host ethtool -k eth0 | awk '/^generic-receive-offload:/ {print $2}') == "$before" ]] ||
		fail "GRO of eth0 is not back to $before after down"
	echo "ok: GRO of eth0 is $before again"
}

test_veth_peer_turns_gro_on_and_off() {
	require_tools jq
	# A kernel before 6.3 has no netdev netlink family to tell a veth's XDP features by:
	# xbridge then never takes a veth for an XDP redirect target, whatever its peer does.
	local v
	v=$(uname -r | awk -F. '{ printf "%d%03d", $1, $2 }')
	((v >= 6003)) || skip "kernel $(uname -r) reports no XDP features (Linux 6.3)"
	standard_bridge
	assert_ping g0 "$TOPO_OUT_IP"
	# A ping every 20 ms from guest 0 to the outside PC throughout (until its deadline:
	# a background job of a script ignores SIGINT, which would end it early).
	in_ns g0 ping -i 0.02 -w $((8 * ${XB_TIME_SCALE:-1})) -W1 "$TOPO_OUT_IP" >"$TOPO_TMP/ping.log" 2>&1 &
	local ping=$! i
	for i in 1 2 3; do
		in_ns out ethtool -K eth0 gro on >/dev/null
		wait_xdp_target eth0 true
		in_ns g0 ping -c 5 -i 0.05 -W1 -q "$TOPO_OUT_IP" >/dev/null || fail "round $i: no ping with the peer's GRO on"
		in_ns out ethtool -K eth0 gro off >/dev/null
		wait_xdp_target eth0 false
		in_ns g0 ping -c 5 -i 0.05 -W1 -q "$TOPO_OUT_IP" >/dev/null || fail "round $i: no ping with the peer's GRO off"
		echo "ok: round $i: eth0 followed its peer's GRO both ways"
	done
	wait "$ping"
	local sent got
	sent=$(awk '/packets transmitted/ {print $1}' "$TOPO_TMP/ping.log")
	got=$(awk '/packets transmitted/ {print $4}' "$TOPO_TMP/ping.log")
	echo "continuous ping: $got of $sent answered; eth0 drops: redirect $(counter eth0 drops.redirect)"
	# A frame redirected in the instant between the peer's change and the controller's
	# is lost (and counted); more than that is not.
	((sent - got <= 3)) || fail "lost $((sent - got)) of $sent pings while the peer's GRO changed"
	grep -q 'takes no XDP redirects now' "/run/xbridge/$XB_BRIDGE.log" || fail "the controller did not log the change"
}

# macvlan_uplink [up options]: the host's eth0 (a veth) as the lower device of mv0, a
# macvlan in passthru mode, which has the host's address and is the bridge's uplink.
macvlan_uplink() {
	topo_create 2
	ip -n "$PFX-host" addr del "$TOPO_HOST_IP/24" dev eth0
	ip -n "$PFX-host" link set eth0 up
	ip -n "$PFX-host" link add mv0 link eth0 type macvlan mode passthru
	ip -n "$PFX-host" addr add "$TOPO_HOST_IP/24" dev mv0
	ip -n "$PFX-host" link set mv0 up
	xb up --name "$XB_BRIDGE" mv0 tap0 tap1 "$@" >/dev/null || fail "xbridge up mv0 tap0 tap1 $* failed"
	topo_start_guest 0 || fail "guest 0 did not start"
	topo_start_guest 1 || fail "guest 1 did not start"
}

uplink_without_native_xdp() {
	step "every direction through the uplink"
	every_direction mv0 macvlan
	[[ $(xdp_target mv0) == false ]] || fail "mv0 (a macvlan, no ndo_xdp_xmit) is taken for an XDP redirect target"
}

test_uplink_without_native_xdp() {
	macvlan_uplink
	[[ $(port_field mv0 xdp_mode) == none ]] || fail "mv0's XDP mode is $(port_field mv0 xdp_mode), expected none"
	uplink_without_native_xdp
}

test_no_xdp_on_any_port() {
	macvlan_uplink --xdp-mode none
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r '[.ports[].xdp_mode] | unique | join(" ")') == none ]] ||
		fail "not every port is without XDP: $(xb status --name "$XB_BRIDGE")"
	uplink_without_native_xdp
	[[ $(counter tap0 rx_xdp) == 0 ]] || fail "tap0 counts frames at XDP without an XDP program"
}

# uplink_on DEV: moves the host's address from eth0 to DEV (made by the caller on top of
# eth0), brings the bridge up with DEV as its uplink and starts both guests.
uplink_on() {
	local dev=$1
	shift
	ip -n "$PFX-host" addr del "$TOPO_HOST_IP/24" dev eth0 2>/dev/null
	ip -n "$PFX-host" addr add "$TOPO_HOST_IP/24" dev "$dev"
	ip -n "$PFX-host" link set "$dev" up
	xb up --name "$XB_BRIDGE" "$dev" tap0 tap1 "$@" >/dev/null || fail "xbridge up $dev tap0 tap1 failed"
	topo_start_guest 0 || fail "guest 0 did not start"
	topo_start_guest 1 || fail "guest 1 did not start"
}

# every_direction UPLINK KIND: guests, host and outside PC reach each other through UPLINK
# (status names its KIND); one broadcast is counted once and does not loop; guests stay
# learned on their taps.
every_direction() {
	local up=$1 kind=$2 rx0 rx1 fl0
	require_tools jq
	[[ $(port_field "$up" kind) == "$kind" ]] || fail "$up: kind $(port_field "$up" kind), expected $kind"
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping out "$G1"
	assert_ping g0 "$TOPO_HOST_IP"
	assert_ping host "$G1"
	assert_ping g0 "$G1"
	transfer g1 out "$TOPO_OUT_IP" 2
	transfer out g0 "$G0" 2
	rx0=$(counter "$up" rx_packets)
	fl0=$(counter tap0 flooded)
	in_ns g0 ping -c1 -W1 -q "$TOPO_NET.99" >/dev/null 2>&1 || true
	sleep 1
	rx1=$(counter "$up" rx_packets)
	((rx1 - rx0 < 20)) || fail "$up took in $((rx1 - rx0)) frames after one broadcast: a loop"
	(($(counter tap0 flooded) - fl0 <= 3)) || fail "tap0 flooded $(($(counter tap0 flooded) - fl0)) frames for one ARP"
	sleep 1
	(($(counter "$up" rx_packets) - rx1 < 10)) || fail "$up keeps taking in frames: a loop"
	[[ $(xb fdb show --name "$XB_BRIDGE" --json | jq -r --arg m "$(topo_guest_mac 0)" '.[] | select(.mac == $m) | .port') == tap0 ]] ||
		fail "guest 0's MAC is not on tap0"
	echo "ok: every direction through $up ($(port_field "$up" xdp_mode) XDP, TX $(xdp_target "$up"))"
}

# The uplink a VLAN subinterface: the host's LAN is VLAN 100 on the wire (8021q; the VM
# suite has the module, this host may not).
test_vlan_subinterface_as_uplink() {
	topo_create 2
	ip -n "$PFX-host" link add link eth0 name eth0.100 type vlan id 100 2>/dev/null ||
		skip "no 802.1Q VLAN devices (8021q)"
	ip -n "$PFX-host" link set eth0 up
	# The outside PC on VLAN 100 too, its tag in the frame (not beside it: docs/design.md, VLANs).
	ip -n "$PFX-out" addr del "$TOPO_OUT_IP/24" dev eth0
	ip -n "$PFX-out" link add link eth0 name eth0.100 type vlan id 100
	ip -n "$PFX-out" link set eth0.100 address 00:25:9c:19:b8:ea
	ip -n "$PFX-out" addr add "$TOPO_OUT_IP/24" dev eth0.100
	ip -n "$PFX-out" link set eth0.100 up
	uplink_on eth0.100
	every_direction eth0.100 vlan
}

# The uplink a bond (active-backup) over the host's eth0.
test_bond_as_uplink() {
	topo_create 2
	ip -n "$PFX-host" link add bond0 type bond mode active-backup 2>/dev/null ||
		skip "no bonding driver"
	ip -n "$PFX-host" link set eth0 down
	ip -n "$PFX-host" link set eth0 master bond0 || fail "cannot enslave eth0 to bond0"
	ip -n "$PFX-host" link set eth0 up
	uplink_on bond0
	every_direction bond0 bond
}

# The uplink a team (active-backup, set with teamnl: no teamd) over the host's eth0.
test_team_as_uplink() {
	require_tools teamnl
	topo_create 2
	ip -n "$PFX-host" link add team0 type team 2>/dev/null || skip "no team driver"
	in_ns host teamnl team0 setoption mode activebackup || fail "cannot set team0's mode"
	ip -n "$PFX-host" link set eth0 down
	ip -n "$PFX-host" link set eth0 master team0 || fail "cannot enslave eth0 to team0"
	ip -n "$PFX-host" link set eth0 up
	in_ns host teamnl team0 setoption activeport "$(in_ns host cat /sys/class/net/eth0/ifindex)" ||
		fail "cannot make eth0 team0's active port"
	uplink_on team0
	every_direction team0 team
}

# A dummy device as a port beside the standard ones: it takes frames (and drops them),
# and the bridge floods to it and learns nothing from it.
test_dummy_port() {
	require_tools jq
	topo_create 2
	ip -n "$PFX-host" link add dummy0 type dummy 2>/dev/null || skip "no dummy driver"
	xb up --name "$XB_BRIDGE" eth0 tap0 tap1 dummy0 >/dev/null || fail "xbridge up with dummy0 failed"
	topo_start_guest 0 || fail "guest 0 did not start"
	topo_start_guest 1 || fail "guest 1 did not start"
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping g0 "$G1"
	local tx0
	[[ $(port_field dummy0 kind) == dummy ]] || fail "dummy0: kind $(port_field dummy0 kind)"
	tx0=$(counter dummy0 tx_packets)
	in_ns g0 ping -c1 -W1 -q "$TOPO_NET.99" >/dev/null 2>&1 || true
	sleep 0.5
	(($(counter dummy0 tx_packets) > tx0)) || fail "a broadcast was not flooded to dummy0"
	echo "ok: dummy0 is a port ($(port_field dummy0 xdp_mode) XDP, TX $(xdp_target dummy0))"
}
