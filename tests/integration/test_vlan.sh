# shellcheck shell=bash
# VLAN filtering: two guests on access ports of VLAN 10 and 20, the uplink a trunk of
# both, as a Proxmox "VLAN aware" bridge with tag=10 and tag=20 guests.
#
#   $PFX-g0 (VLAN 10) ── tap0 ┐
#   $PFX-g1 (VLAN 20) ── tap1 ┴ [$PFX-host: xbridge --vlan-filtering] eth0 ── eth0 $PFX-out
#
# test_access_ports_xdp makes the trunk a tap (tap2, the outside PC in $PFX-g2 behind it)
# instead, so that every port takes XDP redirects at its defaults.
#
# This machine's kernel has no 802.1Q module: the outside PC sends and receives raw
# tagged frames (xb-frames, tcpdump). In the VM (Debian's kernel), test_subinterfaces
# gives it VLAN devices instead, and the host one on the uplink.

OUT_MAC=02:00:00:00:0e:01
# The trunk port and the outside PC's namespace (its NIC is eth0 there): vlan_bridge's
# defaults, or a tap (vlan_bridge tap).
TRUNK=eth0
OUT_NS=out

# vlan_bridge [tap]: the topology above, guests started. With `tap`, the trunk is a tap,
# tap2, relayed to the outside PC's NIC (in $PFX-g2) as QEMU would relay a guest's: a port
# that takes XDP redirects at its defaults, as a NIC does (a veth at its defaults does not).
vlan_bridge() {
	require_tools jq tcpdump
	if [[ ${1:-} == tap ]]; then
		TRUNK=tap2 OUT_NS=g2
		topo_create 3
		xb up --name "$XB_BRIDGE" --vlan-filtering --uplink none tap2 tap0 tap1 >/dev/null ||
			fail "xbridge up failed"
	else
		topo_create 2
		xb up --name "$XB_BRIDGE" --vlan-filtering eth0 tap0 tap1 >/dev/null || fail "xbridge up failed"
	fi
	xb vlan del --name "$XB_BRIDGE" dev tap0 vid 1 || fail "vlan del"
	xb vlan add --name "$XB_BRIDGE" dev tap0 vid 10 pvid untagged || fail "vlan add"
	xb vlan del --name "$XB_BRIDGE" dev tap1 vid 1 || fail "vlan del"
	xb vlan add --name "$XB_BRIDGE" dev tap1 vid 20 pvid untagged || fail "vlan add"
	xb vlan add --name "$XB_BRIDGE" dev "$TRUNK" vid 10 || fail "vlan add"
	xb vlan add --name "$XB_BRIDGE" dev "$TRUNK" vid 20 || fail "vlan add"
	topo_start_guest 0 || fail "guest 0 did not start"
	topo_start_guest 1 || fail "guest 1 did not start"
	if [[ $TRUNK == tap2 ]]; then
		topo_start_guest 2 || fail "the outside PC's relay did not start"
	fi
	ip -n "$PFX-$OUT_NS" link set eth0 address "$OUT_MAC"
}

# send_tagged VID DST: one frame from the outside PC, tagged VID (0: untagged).
send_tagged() {
	in_ns "$OUT_NS" "$XB_FRAMES" --dev eth0 --dst "$2" --src "$OUT_MAC" --vlan "$1" >/dev/null ||
		fail "xb-frames failed"
}

# expect_frame NS FILTER VID DST WANT: a frame from the outside PC, tagged VID, for DST
# reaches NS (WANT=yes, and then untagged) or does not (WANT=no).
expect_frame() {
	local ns=$1 vid=$2 dst=$3 want=$4
	capture "$ns" "ether src $OUT_MAC"
	capture_settle
	send_tagged "$vid" "$dst"
	if capture_wait "$CAPTURE_PID" "$ns" 2; then
		[[ $want == yes ]] || fail "a frame tagged $vid for $dst reached $ns: $(cat "$TOPO_TMP/cap-$ns")"
		grep -q 802.1Q "$TOPO_TMP/cap-$ns" && fail "the frame reached $ns tagged: $(cat "$TOPO_TMP/cap-$ns")"
		echo "ok: tagged $vid for $dst reaches $ns, untagged"
	else
		[[ $want == no ]] || fail "a frame tagged $vid for $dst did not reach $ns"
		echo "ok: tagged $vid for $dst does not reach $ns"
	fi
}

# expect_tag_out GUEST VID: a broadcast from the guest (ARP) reaches the outside PC tagged VID.
expect_tag_out() {
	local g=$1 vid=$2
	capture "$OUT_NS" "ether src $(topo_guest_mac "${g#g}") and vlan $vid and arp"
	capture_settle
	in_ns "$g" ping -c1 -W1 10.77.0.99 >/dev/null 2>&1 || true
	capture_wait "$CAPTURE_PID" "$OUT_NS" 3 || fail "$g's ARP did not reach the outside PC tagged $vid"
	echo "ok: $g's broadcast leaves the uplink tagged $vid: $(cut -c1-120 "$TOPO_TMP/cap-$OUT_NS")"
}

check_access_ports() {
	local g0ip g1ip
	g0ip=$(topo_guest_ip 0)
	g1ip=$(topo_guest_ip 1)

	step "vlan show, as bridge vlan show"
	xb vlan show --name "$XB_BRIDGE"
	[[ $(xb vlan show --name "$XB_BRIDGE" --json | jq -c '.[] | select(.ifname == "tap0") | .vlans') == \
		'[{"vlan":10,"flags":["PVID","Egress Untagged"]}]' ]] || fail "tap0's VLANs are not as configured"
	[[ $(xb vlan show --name "$XB_BRIDGE" --port "$TRUNK" --json | jq -c '.[0].vlans') == \
		'[{"vlan":1,"flags":["PVID","Egress Untagged"]},{"vlan":10},{"vlan":20}]' ]] ||
		fail "$TRUNK's VLANs are not as configured"

	step "guests of different VLANs do not reach each other"
	if in_ns g0 ping -c2 -i0.3 -W1 -q "$g1ip" >/dev/null 2>&1; then
		fail "g0 (VLAN 10) reaches g1 (VLAN 20)"
	fi
	if in_ns g1 ping -c2 -i0.3 -W1 -q "$g0ip" >/dev/null 2>&1; then
		fail "g1 (VLAN 20) reaches g0 (VLAN 10)"
	fi
	echo "ok: no ping between VLAN 10 and VLAN 20"

	step "each guest's frames leave the trunk with its VLAN's tag"
	expect_tag_out g0 10
	expect_tag_out g1 20

	step "the outside PC's tagged frames reach the guest of that VLAN only, untagged"
	expect_frame g0 10 "$(topo_guest_mac 0)" yes
	expect_frame g0 20 "$(topo_guest_mac 0)" no
	expect_frame g1 20 "$(topo_guest_mac 1)" yes
	expect_frame g1 10 "$(topo_guest_mac 1)" no
	expect_frame g0 0 "$(topo_guest_mac 0)" no
	expect_frame g1 0 ff:ff:ff:ff:ff:ff no
	expect_frame g1 20 ff:ff:ff:ff:ff:ff yes

	step "counted per VLAN, and the frames of other VLANs as drops"
	xb stats --name "$XB_BRIDGE" --vlan
	local rx10 rx20
	rx10=$(xb stats --name "$XB_BRIDGE" --vlan --json | jq '.[] | select(.vlan == 10) | .rx_packets')
	rx20=$(xb stats --name "$XB_BRIDGE" --vlan --json | jq '.[] | select(.vlan == 20) | .rx_packets')
	((rx10 > 0 && rx20 > 0)) || fail "per-VLAN counters did not move (10: $rx10, 20: $rx20)"
	grep -q 'xbridge_vlan_rx_packets_total{bridge="'"$XB_BRIDGE"'",vlan="10"}' <<<"$(xb stats --name "$XB_BRIDGE" --prometheus)" ||
		fail "no per-VLAN series in the Prometheus output"
	[[ $(xb fdb show --name "$XB_BRIDGE" --vlan 10 --json | jq -r '.[] | select(.port == "tap0") | .mac') == *"$(topo_guest_mac 0)"* ]] ||
		fail "g0 is not learned on VLAN 10"
	local d0 t
	d0=$(counter "$TRUNK" drops.vlan)
	send_tagged 30 "$(topo_guest_mac 0)"
	for ((t = 0; t < 20; t++)); do
		(($(counter "$TRUNK" drops.vlan) == d0 + 1)) && break
		sleep 0.1
	done
	(($(counter "$TRUNK" drops.vlan) == d0 + 1)) ||
		fail "a frame of VLAN 30, which $TRUNK does not carry, was not counted as a vlan drop"
	echo "ok: counters per VLAN, drops counted as vlan"
}

# The outside PC's veth takes no XDP redirects (its peer has no NAPI): frames for it are
# the TC path's, a flood's copies cloned by TC.
test_access_ports_tc() {
	vlan_bridge
	check_access_ports
}

# The same with the trunk a tap (a port that takes XDP redirects at its defaults, as a
# NIC does): every frame is switched at XDP, floods leave through the devmap, whose egress
# program filters and tags each copy.
test_access_ports_xdp() {
	vlan_bridge tap
	[[ $(port_field tap2 xdp_redirect_target) == true ]] || fail "tap2 (its queue attached) takes no XDP redirects"
	local xdp0 xdp2 fl0
	xdp0=$(counter tap0 rx_xdp)
	xdp2=$(counter tap2 rx_xdp)
	fl0=$(counter tap0 flooded)
	check_access_ports
	(($(counter tap0 rx_xdp) > xdp0)) || fail "g0's frames were not switched at XDP"
	(($(counter tap2 rx_xdp) > xdp2)) || fail "the outside PC's frames were not switched at XDP"
	(($(counter tap0 flooded) > fl0)) || fail "g0's broadcasts were not flooded"
	# A flood's copy for a port outside its VLAN, held back by the devmap egress program,
	# is reported by the kernel as a drop of the devmap's flush: it is none.
	local p
	for p in tap0 tap1 tap2; do
		(($(counter "$p" drops.redirect) == 0)) ||
			fail "$p counts $(counter "$p" drops.redirect) redirect drops: copies held back for their VLAN"
	done
	echo "ok: rx_xdp tap0 $(counter tap0 rx_xdp), tap2 $(counter tap2 rx_xdp); rx_tc tap0 $(counter tap0 rx_tc)"
}

# Filtering on and off on a running bridge, and a restart, keep the VLANs.
test_filtering_toggles_and_persists() {
	vlan_bridge
	xb set --name "$XB_BRIDGE" vlan-filtering off || fail "set vlan-filtering off"
	assert_ping g0 "$(topo_guest_ip 1)"
	xb set --name "$XB_BRIDGE" vlan-filtering on || fail "set vlan-filtering on"
	xb restart --name "$XB_BRIDGE" >/dev/null || fail "restart failed"
	xb upgrade --name "$XB_BRIDGE" >/dev/null || fail "upgrade failed"
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .vlan_filtering) == true ]] || fail "filtering lost"
	[[ $(xb vlan show --name "$XB_BRIDGE" --port tap1 --json | jq -c '.[0].vlans') == \
		'[{"vlan":20,"flags":["PVID","Egress Untagged"]}]' ]] || fail "tap1's VLANs were lost"
	if in_ns g0 ping -c2 -i0.3 -W1 -q "$(topo_guest_ip 1)" >/dev/null 2>&1; then
		fail "g0 reaches g1 after the restart"
	fi
	echo "ok: VLANs kept over set, restart and upgrade"
	expect_error "not a VLAN id" xb vlan add --name "$XB_BRIDGE" dev tap0 vid 4095
	expect_error "one VLAN" xb vlan add --name "$XB_BRIDGE" dev tap0 vid 10-12 pvid
	expect_error "not a port" xb vlan add --name "$XB_BRIDGE" dev nosuch vid 10
	expect_error "802.1q or 802.1ad" xb set --name "$XB_BRIDGE" vlan-protocol 802.1x
	echo "ok: bad input refused"
}

# In a kernel with 802.1Q (the VM): the outside PC with eth0.10 and eth0.20, the host on
# eth0.10; pings and TCP on each VLAN, none across.
test_subinterfaces() {
	vlan_bridge
	ip -n "$PFX-out" link add link eth0 name eth0.10 type vlan id 10 2>/dev/null ||
		skip "no 802.1Q support in this kernel (the VM has it)"
	ip -n "$PFX-out" link add link eth0 name eth0.20 type vlan id 20
	ip -n "$PFX-out" addr add 10.77.10.1/24 dev eth0.10
	ip -n "$PFX-out" addr add 10.77.20.1/24 dev eth0.20
	ip -n "$PFX-out" link set eth0.10 up
	ip -n "$PFX-out" link set eth0.20 up
	ip -n "$PFX-g0" addr add 10.77.10.10/24 dev eth0
	ip -n "$PFX-g1" addr add 10.77.20.11/24 dev eth0
	# The host on VLAN 10 through a VLAN device of the uplink.
	xb vlan add --name "$XB_BRIDGE" dev host vid 10 || fail "vlan add dev host"
	ip -n "$PFX-host" link add link eth0 name eth0.10 type vlan id 10
	ip -n "$PFX-host" addr add 10.77.10.2/24 dev eth0.10
	ip -n "$PFX-host" link set eth0.10 up

	assert_ping g0 10.77.10.1
	assert_ping g1 10.77.20.1
	assert_ping host 10.77.10.10
	if in_ns g0 ping -c2 -i0.3 -W1 -q 10.77.20.1 >/dev/null 2>&1; then
		fail "g0 reaches the outside PC's VLAN 20 address"
	fi
	if in_ns host ping -c2 -i0.3 -W1 -q 10.77.20.11 >/dev/null 2>&1; then
		fail "the host reaches g1 on VLAN 20"
	fi
	transfer out g0 10.77.10.10 4
	transfer g1 out 10.77.20.1 4
	echo "ok: pings and TCP on each VLAN, nothing across"
}

# peer_txvlan: the outside PC's eth0's tx-vlan offload (on, off).
peer_txvlan() { in_ns out ethtool -k eth0 | awk '/^tx-vlan-offload:/ {print $2}'; }

# path_taken MODE XDP0 TC0 HOW: eth0's frames since its counters read XDP0 (rx_xdp) and
# TC0 (rx_tc) took the path its vlan_rx MODE says: XDP where the peer's tx-vlan offload is
# off (HOW: what XDP did to them), else TC.
path_taken() {
	if [[ $1 == peer-txvlan-off ]]; then
		(($(counter eth0 rx_xdp) > $2)) || fail "the outside PC's frames were not $4 at XDP"
	else
		(($(counter eth0 rx_tc) > $3)) || fail "the outside PC's frames did not take the TC path"
	fi
}

# A NIC-like port whose receive path holds tags beside the frame, without and with VLAN
# filtering (the VM: 802.1Q devices). The outside PC talks on VLAN 10 through eth0.10;
# its veth sends the tag with tx-vlan offload, its default, so the host's eth0 (rx-vlan
# offload on, a veth's default too) receives it beside the frame, where its XDP program
# cannot see it: a redirect there would send the frame on untagged, into VLAN 1. Guest 0
# talks on VLAN 10 through a VLAN device of its NIC, guest 1 (with filtering) on an access
# port of VLAN 10. xbridge turns the peer's tx-vlan offload off for the bridge's lifetime
# (frames stay at XDP) or, where it cannot, leaves the frames that look untagged to TC;
# status says which; down restores the offload.
test_tags_beside_the_frame() {
	require_tools jq
	topo_create 2
	ip -n "$PFX-out" link add link eth0 name eth0.10 type vlan id 10 2>/dev/null ||
		skip "no 802.1Q support in this kernel (the VM has it)"
	[[ $(peer_txvlan) == on ]] || skip "a veth here sends its tags in the frame at its defaults"
	in_ns host ethtool -k eth0 | matches '^rx-vlan-offload: on' || skip "a veth here has rx-vlan offload off"
	ip -n "$PFX-out" addr add 10.77.10.1/24 dev eth0.10
	ip -n "$PFX-out" link set eth0.10 up
	xb up --name "$XB_BRIDGE" eth0 tap0 tap1 >/dev/null || fail "xbridge up failed"
	topo_start_guest 0 || fail "guest 0 did not start"
	topo_start_guest 1 || fail "guest 1 did not start"
	ip -n "$PFX-g0" link add link eth0 name eth0.10 type vlan id 10
	ip -n "$PFX-g0" addr add 10.77.10.10/24 dev eth0.10
	ip -n "$PFX-g0" link set eth0.10 up

	step "without filtering, tags cross as they came"
	local mode xdp0 tc0
	mode=$(port_field eth0 vlan_rx)
	case $mode in
	peer-txvlan-off) [[ $(peer_txvlan) == off ]] || fail "status says peer-txvlan-off, the peer has it $(peer_txvlan)" ;;
	tc) [[ $(peer_txvlan) == on ]] || fail "status says tc, yet the peer's tx-vlan offload is off" ;;
	*) fail "eth0: vlan_rx $mode, the peer's tx-vlan offload $(peer_txvlan): its tags would be lost at XDP" ;;
	esac
	xb status --name "$XB_BRIDGE" | grep -E '^eth0 '
	xdp0=$(counter eth0 rx_xdp)
	tc0=$(counter eth0 rx_tc)
	assert_ping out 10.77.10.10
	transfer out g0 10.77.10.10 2
	path_taken "$mode" "$xdp0" "$tc0" switched
	[[ $(xb fdb show --name "$XB_BRIDGE" --vlan 10 --json | jq -r '.[] | select(.port == "eth0") | .mac') == *"$(ip -n "$PFX-out" -j link show eth0.10 | jq -r '.[0].address')"* ]] ||
		fail "the outside PC is not learned on VLAN 10"
	echo "ok: VLAN 10 crosses eth0 ($mode), learned on VLAN 10"

	step "with VLAN filtering: eth0 a trunk of VLAN 10, guest 1 on an access port of it"
	xb set --name "$XB_BRIDGE" vlan-filtering on || fail "set vlan-filtering on"
	xb vlan add --name "$XB_BRIDGE" dev eth0 vid 10 || fail "vlan add"
	xb vlan add --name "$XB_BRIDGE" dev tap0 vid 10 || fail "vlan add"
	xb vlan del --name "$XB_BRIDGE" dev tap1 vid 1 || fail "vlan del"
	xb vlan add --name "$XB_BRIDGE" dev tap1 vid 10 pvid untagged || fail "vlan add"
	ip -n "$PFX-g1" addr add 10.77.10.11/24 dev eth0
	[[ $(port_field eth0 vlan_rx) == "$mode" ]] || fail "eth0: vlan_rx $(port_field eth0 vlan_rx) with filtering, $mode without"
	xb status --name "$XB_BRIDGE" | grep -E '^eth0 '
	xdp0=$(counter eth0 rx_xdp)
	tc0=$(counter eth0 rx_tc)
	assert_ping out 10.77.10.11
	assert_ping out 10.77.10.10
	transfer out g1 10.77.10.11 2
	path_taken "$mode" "$xdp0" "$tc0" classified
	(($(counter eth0 drops.vlan) == 0)) || fail "$(counter eth0 drops.vlan) of the outside PC's frames dropped as vlan"
	echo "ok: VLAN 10 classified on eth0 ($mode), the access port's guest reached untagged"

	step "down restores the peer's tx-vlan offload"
	xb down --name "$XB_BRIDGE" >/dev/null || fail "down failed"
	[[ $(peer_txvlan) == on ]] || fail "the peer's tx-vlan offload is $(peer_txvlan) after down"
	echo "ok: tx-vlan offload on again"
}
