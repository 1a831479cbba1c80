# shellcheck shell=bash
# Port policy with real stacks (issue 23): what a VM host had on the kernel path -
# nwfilter's clean-traffic, a qdisc on the tap, a BPDU guard, a policer - kept by a
# bridge that switches at XDP.

G0=$(topo_guest_ip 0)
G1=$(topo_guest_ip 1)
G0_MAC=$(topo_guest_mac 0)
G1_MAC=$(topo_guest_mac 1)
FORGE_PY=$(dirname "${BASH_SOURCE[0]}")/../tools/xb-forge.py
OUT6=fd77::1
G06=fd77::10

# sees NS FILTER ACTION...: whether a frame matching FILTER reaches NS's eth0 while
# ACTION runs (true: it arrived).
sees() {
	local ns=$1 filter=$2
	shift 2
	capture "$ns" "$filter"
	capture_settle
	"$@"
	capture_wait "$CAPTURE_PID" "$ns" 2
}

# forge NS KIND ARGS...: one forged frame from NS (tests/tools/xb-forge.py).
forge() { in_ns "$1" /usr/bin/python3 "$FORGE_PY" "${@:2}"; }

# The forged frames, told from g0's honest ARP and NDP by the address they claim.
IFS=. read -r a b c d <<<"$TOPO_HOST_IP"
GARP_FILTER="arp and ether src $G0_MAC and arp[14:4] == $(printf '0x%02x%02x%02x%02x' "$a" "$b" "$c" "$d")"
unset a b c d
NA_FILTER="icmp6 and ether src $G0_MAC and ip6[40] == 136 and ip6[48:4] == 0xfd770000 and ip6[60:4] == 1"

garp_from_g0() { forge g0 garp --dev eth0 --mac "$G0_MAC" --ip "$TOPO_HOST_IP"; }
na_from_g0() { forge g0 na --dev eth0 --mac "$G0_MAC" --ip "$G06" --target "$OUT6"; }

test_spoofing_guest_reaches_nobody() {
	require_tools jq tcpdump
	[[ -x /usr/bin/python3 ]] || skip "no /usr/bin/python3 for the forged frames"
	standard_bridge
	ipv6_on out $OUT6
	ipv6_on g0 $G06
	assert_ping g0 "$TOPO_OUT_IP"

	step "without allowed-ip, the forged frames would arrive (the test can tell)"
	sees out "$GARP_FILTER" garp_from_g0 || fail "an unchecked gratuitous ARP did not arrive"
	sees out "$NA_FILTER" na_from_g0 ||
		fail "an unchecked forged NA did not arrive"
	in_ns out ip neigh flush dev eth0
	in_ns host ip neigh flush dev eth0

	step "allowed-ip $G0,$G06 on tap0"
	expect_error "not an IPv4 or IPv6 address" xb port set --name "$XB_BRIDGE" tap0 allowed-ip 10.77.0.300
	expect_error "not a unicast address" xb port set --name "$XB_BRIDGE" tap0 allowed-ip 224.0.0.1
	[[ $(port_field tap0 allowed_ip) == null ]] || fail "a refused allowed-ip changed the port"
	xb port set --name "$XB_BRIDGE" tap0 allowed-ip "$G0,$G06" || fail "port set allowed-ip failed"
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -c '.ports[] | select(.name == "tap0") | .allowed_ip') == "[\"$G0\",\"$G06\"]" ]] ||
		fail "status --json: $(port_field tap0 allowed_ip)"
	xb status --name "$XB_BRIDGE" | grep -Eq "^tap0 .*allowed-ip=$G0,$G06" || fail "text status lacks allowed-ip"
	# Kept in pinned maps: the checks below run on programs loaded after it was set.
	xb upgrade --name "$XB_BRIDGE" >/dev/null || fail "upgrade failed"
	[[ $(port_field tap0 allowed_ip) != null ]] || fail "upgrade lost the allowed addresses"

	step "honest traffic flows"
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping g0 "$TOPO_HOST_IP"
	in_ns g0 ping -6 -c2 -i0.2 -W1 -q "$OUT6" >/dev/null || fail "IPv6 ping from its own address failed"
	echo "ok: IPv6 ping g0 -> $OUT6"
	in_ns g0 ping -6 -c1 -W1 -q "$(in_ns out ip -6 addr show dev eth0 scope link | awk '/inet6/ {sub("/.*", "", $2); print $2}')%eth0" >/dev/null ||
		fail "IPv6 link-local ping failed"
	echo "ok: IPv6 link-local ping"

	step "another IP: nobody hears it"
	local spoof0
	spoof0=$(counter tap0 drops.spoof)
	in_ns g0 ip addr add 10.77.0.50/24 dev eth0
	in_ns out ip neigh flush dev eth0
	in_ns g0 ping -c3 -i0.2 -W1 -q -I 10.77.0.50 "$TOPO_OUT_IP" >/dev/null 2>&1 &&
		fail "a ping from an address tap0 may not use got an answer"
	(($(counter tap0 drops.spoof) > spoof0)) || fail "no spoof drops counted on tap0"
	echo "ok: 10.77.0.50 from tap0 dropped as spoof ($(($(counter tap0 drops.spoof) - spoof0)))"

	step "a gratuitous ARP for the host's IP and a forged NA for the outside PC's: nobody hears them"
	sees out "$GARP_FILTER" garp_from_g0 && fail "the gratuitous ARP for $TOPO_HOST_IP reached the outside PC"
	sees host "$GARP_FILTER" garp_from_g0 && fail "the gratuitous ARP for $TOPO_HOST_IP reached the host"
	sees g1 "$GARP_FILTER" garp_from_g0 && fail "the gratuitous ARP for $TOPO_HOST_IP reached guest 1"
	echo "ok: the gratuitous ARP reached nobody"
	sees out "$NA_FILTER" na_from_g0 && fail "the forged NA reached the outside PC"
	echo "ok: the forged NA reached nobody"
	in_ns out ip neigh show "$TOPO_HOST_IP" | matches -i "$G0_MAC" && fail "the outside PC's ARP cache was poisoned"

	step "honest traffic still flows; allowed-ip none lifts the check"
	assert_ping g0 "$TOPO_OUT_IP"
	xb port set --name "$XB_BRIDGE" tap0 allowed-ip none || fail "allowed-ip none failed"
	[[ $(port_field tap0 allowed_ip) == null ]] || fail "allowed-ip none left $(port_field tap0 allowed_ip)"
	in_ns g0 ping -c3 -i0.2 -W1 -q -I 10.77.0.50 "$TOPO_OUT_IP" >/dev/null || fail "the other address is still refused after allowed-ip none"
	echo "ok: allowed-ip none"
}

# dhcp_client NS: whether a DHCP client in NS gets a lease (busybox udhcpc, configuring
# nothing).
dhcp_client() {
	in_ns "$1" timeout 20 busybox udhcpc -i eth0 -n -q -t 4 -T 1 -A 1 -s /bin/true >/dev/null 2>&1
}

# dhcp_server NS POOL_START: a busybox udhcpd in NS; its pid in DHCPD_PID.
dhcp_server() {
	local conf="$TOPO_TMP/udhcpd-$1.conf"
	printf 'start %s\nend %s\ninterface eth0\nlease_file %s\nmax_leases 1\noption subnet 255.255.255.0\n' \
		"$2" "$2" "$TOPO_TMP/leases-$1" >"$conf"
	: >"$TOPO_TMP/leases-$1"
	in_ns "$1" busybox udhcpd -f "$conf" >/dev/null 2>&1 &
	DHCPD_PID=$!
	sleep 0.5
}

test_dhcp_client_allowed_server_refused() {
	require_tools jq
	busybox udhcpc --help >/dev/null 2>&1 || busybox 2>&1 | matches udhcpc || skip "busybox has no udhcpc"
	standard_bridge
	xb port set --name "$XB_BRIDGE" tap0 allowed-ip "$G0" || fail "allowed-ip on tap0 failed"
	xb port set --name "$XB_BRIDGE" tap1 allowed-ip "$G1" || fail "allowed-ip on tap1 failed"

	step "a guest's DHCP client (from 0.0.0.0) gets its lease"
	dhcp_server out "$G0"
	dhcp_client g0 || fail "guest 0 got no DHCP lease through the bridge"
	echo "ok: guest 0 got a lease"
	kill "$DHCPD_PID"
	wait "$DHCPD_PID" 2>/dev/null || true

	step "a guest's DHCP server is refused"
	local d0
	d0=$(counter tap1 drops.dhcp_server)
	dhcp_server g1 10.77.0.100
	dhcp_client out && fail "the outside PC got a lease from guest 1's DHCP server"
	(($(counter tap1 drops.dhcp_server) > d0)) || fail "no dhcp_server drops on tap1"
	echo "ok: guest 1's DHCP server refused ($(($(counter tap1 drops.dhcp_server) - d0)) replies dropped)"

	step "dhcp-server on lets it serve"
	xb port set --name "$XB_BRIDGE" tap1 dhcp-server on || fail "dhcp-server on failed"
	[[ $(port_field tap1 dhcp_server) == true ]] || fail "status does not show dhcp-server"
	dhcp_client out || fail "no lease from guest 1 with dhcp-server on"
	echo "ok: the outside PC got a lease from guest 1"
	kill "$DHCPD_PID"
	wait "$DHCPD_PID" 2>/dev/null || true
}

# log_count PATTERN: lines of this bridge's controller log matching PATTERN.
log_count() { grep -c "$1" "/run/xbridge/$XB_BRIDGE.log" 2>/dev/null || true; }

test_bpdu_guard_blocks_a_guest_port() {
	require_tools jq
	[[ -x /usr/bin/python3 ]] || skip "no /usr/bin/python3 for the BPDU"
	standard_bridge
	xb port set --name "$XB_BRIDGE" tap0 bpdu-guard on || fail "bpdu-guard on failed"
	[[ $(port_field tap0 bpdu_guard) == true ]] || fail "status does not show bpdu-guard"
	expect_error "is not on, reset or off" xb port set --name "$XB_BRIDGE" tap0 bpdu-guard maybe
	assert_ping g0 "$TOPO_OUT_IP"

	step "a BPDU from a port without the guard blocks nothing"
	forge g1 bpdu --dev eth0 --mac "$G1_MAC"
	assert_ping g1 "$TOPO_OUT_IP"

	step "a BPDU on tap0 blocks it"
	forge g0 bpdu --dev eth0 --mac "$G0_MAC"
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r '.ports[] | select(.name == "tap0") | .blocked.from') == "$G0_MAC" ]] ||
		fail "status --json does not show tap0 blocked: $(port_field tap0 blocked)"
	xb status --name "$XB_BRIDGE" | grep -Eq "^tap0 .*BLOCKED" || fail "text status does not show BLOCKED"
	in_ns g0 ping -c2 -i0.2 -W1 -q "$TOPO_OUT_IP" >/dev/null 2>&1 && fail "a blocked port still forwards"
	(($(counter tap0 drops.blocked) > 0)) || fail "no blocked drops on tap0"
	[[ $(counter tap0 bpdu) == 1 ]] || fail "tap0 counted $(counter tap0 bpdu) BPDUs, expected 1"
	assert_ping g1 "$TOPO_OUT_IP"
	echo "ok: tap0 blocked, $(counter tap0 drops.blocked) frames dropped; tap1 unaffected"

	step "the controller logs the block once"
	local t
	for ((t = 0; t < 50; t++)); do
		(($(log_count "tap0 received a BPDU") > 0)) && break
		sleep 0.1
	done
	forge g0 bpdu --dev eth0 --mac "$G0_MAC" --count 3
	sleep 2.5
	[[ $(log_count "tap0 received a BPDU") == 1 ]] ||
		fail "the block was logged $(log_count "tap0 received a BPDU") times, expected once"
	echo "ok: logged once"
	xb upgrade --name "$XB_BRIDGE" >/dev/null || fail "upgrade failed"
	[[ $(port_field tap0 blocked) != null ]] || fail "upgrade lifted the block"
	in_ns g0 ping -c1 -W1 -q "$TOPO_OUT_IP" >/dev/null 2>&1 && fail "blocked tap0 forwards after an upgrade"
	echo "ok: still blocked after an upgrade"

	step "reset lifts the block"
	xb port set --name "$XB_BRIDGE" tap0 bpdu-guard reset || fail "bpdu-guard reset failed"
	[[ $(port_field tap0 blocked) == null ]] || fail "still blocked after reset"
	assert_ping g0 "$TOPO_OUT_IP"

	step "a PVST+ BPDU (Cisco's, 01:00:0c:cc:cc:cd) blocks it too"
	local bpdus
	bpdus=$(counter tap0 bpdu)
	forge g0 pvst --dev eth0 --mac "$G0_MAC"
	[[ $(port_field tap0 blocked) != null ]] || fail "a PVST+ BPDU did not block tap0"
	[[ $(counter tap0 bpdu) == $((bpdus + 1)) ]] || fail "tap0 counted $(($(counter tap0 bpdu) - bpdus)) BPDUs for the PVST+ one"
	in_ns g0 ping -c1 -W1 -q "$TOPO_OUT_IP" >/dev/null 2>&1 && fail "tap0 forwards after a PVST+ BPDU"
	xb port set --name "$XB_BRIDGE" tap0 bpdu-guard reset || fail "bpdu-guard reset failed"
	assert_ping g0 "$TOPO_OUT_IP"
}

# Frames from guest 1 that would reach guest 0: broadcasts, and known unicast for it.
bcast_from_g1() { in_ns g1 "$XB_FRAMES" --dev eth0 --dst ff:ff:ff:ff:ff:ff --src "$G1_MAC" --count 3; }
unicast_from_g1() { in_ns g1 "$XB_FRAMES" --dev eth0 --dst "$G0_MAC" --src "$G1_MAC" --count 3; }

test_a_blocked_port_receives_nothing() {
	require_tools jq tcpdump
	[[ -x /usr/bin/python3 ]] || skip "no /usr/bin/python3 for the BPDU"
	standard_bridge
	xb port set --name "$XB_BRIDGE" tap0 bpdu-guard on || fail "bpdu-guard on failed"
	assert_ping g1 "$G0"

	step "unblocked, guest 1's broadcasts and unicast reach guest 0 (the test can tell)"
	sees g0 "ether src $G1_MAC and ether broadcast" bcast_from_g1 || fail "a broadcast did not arrive"
	sees g0 "ether src $G1_MAC and ether dst $G0_MAC" unicast_from_g1 || fail "a unicast frame did not arrive"

	step "a BPDU blocks tap0: guest 0 hears nothing more"
	forge g0 bpdu --dev eth0 --mac "$G0_MAC"
	[[ $(port_field tap0 blocked) != null ]] || fail "tap0 not blocked"
	local blocked1 redirect0 tx0 host0
	blocked1=$(counter tap1 drops.blocked)
	redirect0=$(counter tap0 drops.redirect)
	tx0=$(counter tap0 tx_packets)
	host0=$(counter host drops.blocked)
	sees g0 "ether src $G1_MAC and ether broadcast" bcast_from_g1 && fail "a broadcast reached the blocked port"
	sees g0 "ether src $G1_MAC and ether dst $G0_MAC" unicast_from_g1 && fail "known unicast reached the blocked port"
	in_ns g1 ping -c2 -i0.2 -W1 -q "$G0" >/dev/null 2>&1 && fail "guest 1's ping reached the blocked guest"
	in_ns host ping -c2 -i0.2 -W1 -q "$G0" >/dev/null 2>&1 && fail "the host's ping reached the blocked guest"
	(($(counter tap1 drops.blocked) > blocked1)) || fail "frames for tap0 not counted as blocked on tap1"
	[[ $(counter tap0 tx_packets) == "$tx0" ]] || fail "tap0 sent $(($(counter tap0 tx_packets) - tx0)) frames while blocked"
	[[ $(counter tap0 drops.redirect) == "$redirect0" ]] || fail "the copies held back were counted as redirect drops"
	echo "ok: nothing reached tap0; $(($(counter tap1 drops.blocked) - blocked1)) frames for it dropped on tap1, $(($(counter host drops.blocked) - host0)) from the host"
	assert_ping g1 "$TOPO_OUT_IP"

	step "reset: guest 0 hears guest 1 again"
	xb port set --name "$XB_BRIDGE" tap0 bpdu-guard reset || fail "bpdu-guard reset failed"
	sees g0 "ether src $G1_MAC and ether broadcast" bcast_from_g1 || fail "no broadcast after reset"
	sees g0 "ether src $G1_MAC and ether dst $G0_MAC" unicast_from_g1 || fail "no unicast after reset"
	assert_ping g1 "$G0"
	assert_ping host "$G0"
}

G16=fd77::11
RA_FILTER="icmp6 and ip6[40] == 134"
DHCP6_FILTER="udp dst port 546"

ra_from_g1() { forge g1 ra --dev eth0 --mac "$G1_MAC"; }
dhcp6_from_g1() { forge g1 dhcp6 --dev eth0 --mac "$G1_MAC"; }

test_rogue_router_advertisements_are_refused() {
	require_tools jq tcpdump
	[[ -x /usr/bin/python3 ]] || skip "no /usr/bin/python3 for the forged frames"
	standard_bridge
	ipv6_on g0 $G06
	ipv6_on g1 $G16

	step "without policy, guest 1's RA reaches guest 0 (the test can tell)"
	[[ $(port_field tap1 ra_guard) == false ]] || fail "ra-guard on by default without allowed-ip"
	sees g0 "$RA_FILTER and ether src $G1_MAC" ra_from_g1 || fail "an unguarded RA did not arrive"

	step "allowed-ip on tap1 guards it: its RAs and DHCPv6 server messages reach nobody"
	xb port set --name "$XB_BRIDGE" tap1 allowed-ip "$G1,$G16" || fail "allowed-ip failed"
	[[ $(port_field tap1 ra_guard) == true ]] || fail "status --json does not show ra_guard with allowed-ip"
	xb status --name "$XB_BRIDGE" | grep -Eq "^tap1 .*ra-guard" || fail "text status lacks ra-guard"
	local ra0 dh0
	ra0=$(counter tap1 drops.ra_guard)
	dh0=$(counter tap1 drops.dhcp_server)
	sees g0 "$RA_FILTER and ether src $G1_MAC" ra_from_g1 && fail "guest 1's RA reached guest 0"
	sees out "$RA_FILTER and ether src $G1_MAC" ra_from_g1 && fail "guest 1's RA reached the outside PC"
	sees g0 "$DHCP6_FILTER and ether src $G1_MAC" dhcp6_from_g1 && fail "guest 1's DHCPv6 Advertise reached guest 0"
	(($(counter tap1 drops.ra_guard) > ra0)) || fail "no ra_guard drops on tap1"
	(($(counter tap1 drops.dhcp_server) > dh0)) || fail "no dhcp_server drops on tap1"
	echo "ok: $(($(counter tap1 drops.ra_guard) - ra0)) RAs, $(($(counter tap1 drops.dhcp_server) - dh0)) DHCPv6 messages refused"

	step "honest IPv6 and neighbour discovery of a guarded guest flow"
	in_ns g1 ping -6 -c2 -i0.2 -W1 -q "$G06" >/dev/null || fail "IPv6 ping g1 -> g0 failed"
	in_ns g0 ping -6 -c2 -i0.2 -W1 -q "$G16" >/dev/null || fail "IPv6 ping g0 -> g1 failed"
	in_ns g1 ping -6 -c1 -W1 -q "$(in_ns g0 ip -6 addr show dev eth0 scope link | awk '/inet6/ {sub("/.*", "", $2); print $2}')%eth0" >/dev/null ||
		fail "IPv6 link-local ping failed"
	echo "ok: IPv6 pings both ways, link-local too"

	step "ra-guard off: guest 1 may be the router (and dhcp-server on, the DHCPv6 server)"
	xb port set --name "$XB_BRIDGE" tap1 ra-guard off || fail "ra-guard off failed"
	xb port set --name "$XB_BRIDGE" tap1 dhcp-server on || fail "dhcp-server on failed"
	[[ $(port_field tap1 ra_guard) == false ]] || fail "status shows ra_guard after ra-guard off"
	sees g0 "$RA_FILTER and ether src $G1_MAC" ra_from_g1 || fail "a trusted port's RA did not arrive"
	sees g0 "$DHCP6_FILTER and ether src $G1_MAC" dhcp6_from_g1 || fail "a trusted port's DHCPv6 Advertise did not arrive"
	echo "ok: RA and DHCPv6 from the trusted port arrive"

	step "ra-guard on, without allowed-ip"
	xb port set --name "$XB_BRIDGE" tap1 allowed-ip none || fail "allowed-ip none failed"
	xb port set --name "$XB_BRIDGE" tap1 ra-guard on || fail "ra-guard on failed"
	expect_error "is not on or off" xb port set --name "$XB_BRIDGE" tap1 ra-guard maybe
	sees g0 "$RA_FILTER and ether src $G1_MAC" ra_from_g1 && fail "an RA reached guest 0 through ra-guard on"
	in_ns g1 ping -6 -c2 -i0.2 -W1 -q "$G06" >/dev/null || fail "IPv6 ping g1 -> g0 failed with ra-guard on"
	echo "ok: ra-guard on refuses RAs, IPv6 flows"
}

test_policer_drops_over_the_rate() {
	require_tools jq
	standard_bridge
	expect_error "needs a unit" xb port set --name "$XB_BRIDGE" tap0 rate-limit 1000
	expect_error "not a positive size" xb port set --name "$XB_BRIDGE" tap0 rate-limit 10mbit burst lots
	expect_error "RATE [burst N], or off" xb port set --name "$XB_BRIDGE" tap0 rate-limit 10mbit 64k
	[[ $(port_field tap0 rate_limit) == null ]] || fail "a refused rate-limit changed the port"

	step "rate-limit 100pps burst 10: 1000 frames at once, most dropped as rate"
	xb port set --name "$XB_BRIDGE" tap0 rate-limit 100pps burst 10 || fail "rate-limit failed"
	xb status --name "$XB_BRIDGE" | grep -Eq "^tap0 .*rate-limit=100pps burst 10" || fail "text status lacks the rate limit"
	local r0 d0 passed
	r0=$(counter tap0 rx_packets)
	d0=$(counter tap0 drops.rate)
	in_ns g0 "$XB_FRAMES" --dev eth0 --dst 02:00:00:00:99:99 --src "$G0_MAC" --count 1000
	sleep 0.5
	passed=$(($(counter tap0 rx_packets) - r0 - ($(counter tap0 drops.rate) - d0)))
	(($(counter tap0 drops.rate) - d0 > 0)) || fail "no rate drops"
	# 10 at once, then 100 a second: far fewer than 1000 however slow the sender.
	((passed < 1000)) || fail "all 1000 frames passed the policer"
	echo "ok: $passed of 1000 passed, $(($(counter tap0 drops.rate) - d0)) dropped as rate"

	step "rate-limit 1mbit burst 16k on bytes"
	xb port set --name "$XB_BRIDGE" tap0 rate-limit 1mbit burst 16k || fail "rate-limit 1mbit failed"
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r '.ports[] | select(.name == "tap0") | .rate_limit.text') == "1mbit burst 16384" ]] ||
		fail "status --json: $(port_field tap0 rate_limit)"
	d0=$(counter tap0 drops.rate)
	in_ns g0 "$XB_FRAMES" --dev eth0 --dst 02:00:00:00:99:99 --src "$G0_MAC" --count 500 --size 1000
	(($(counter tap0 drops.rate) - d0 > 0)) || fail "no rate drops for 500 kB at 1 mbit"
	echo "ok: $(($(counter tap0 drops.rate) - d0)) of 500 frames of 1000 bytes dropped"

	step "honest traffic under the rate, and rate-limit off"
	xb port set --name "$XB_BRIDGE" tap0 rate-limit 1000pps || fail "rate-limit 1000pps failed"
	assert_ping g0 "$TOPO_OUT_IP"
	xb port set --name "$XB_BRIDGE" tap0 rate-limit off || fail "rate-limit off failed"
	[[ $(port_field tap0 rate_limit) == null ]] || fail "rate-limit off left $(port_field tap0 rate_limit)"
	d0=$(counter tap0 drops.rate)
	in_ns g0 "$XB_FRAMES" --dev eth0 --dst 02:00:00:00:99:99 --src "$G0_MAC" --count 1000
	[[ $(counter tap0 drops.rate) == "$d0" ]] || fail "rate drops without a rate limit"
	echo "ok: rate-limit off"
}

# iperf_mbit FROM TO_IP: TCP throughput FROM -> TO_IP in Mbit/s (iperf3, 3 s).
iperf_mbit() {
	in_ns "$1" iperf3 -c "$2" -t 3 -J 2>/dev/null | jq -r '.end.sum_received.bits_per_second / 1000000 | floor'
}

# wait_shaped PORT true|false: until status says so (the controller follows qdiscs).
wait_shaped() {
	local t
	for ((t = 0; t < 50; t++)); do
		[[ $(port_field "$1" shaped) == "$2" ]] && return 0
		sleep 0.1
	done
	fail "$1: status says shaped $(port_field "$1" shaped), expected $2"
}

test_tbf_qdisc_shapes_a_guest() {
	require_tools jq iperf3 tc
	standard_bridge
	[[ -n $(controller_pid) ]] || fail "no controller runs"
	[[ $(port_field tap0 shaped) == false ]] || fail "tap0 shaped with the kernel's qdisc"
	in_ns g0 iperf3 -s -D -1 >/dev/null 2>&1 || fail "iperf3 server"
	sleep 0.3
	assert_ping g1 "$G0"

	step "unshaped: guest 1 -> guest 0, switched at XDP"
	local free shaped
	free=$(iperf_mbit g1 "$G0")
	echo "unshaped: $free Mbit/s"
	((free > 40)) || skip "guest to guest runs at $free Mbit/s here: too slow to tell a 10 mbit qdisc from none"

	step "tc qdisc add dev tap0 root tbf rate 10mbit: the controller sees it"
	in_ns host tc qdisc add dev tap0 root tbf rate 10mbit burst 32kb latency 100ms
	wait_shaped tap0 true
	xb status --name "$XB_BRIDGE" | grep -Eq "^tap0 .* tc .*shaped" || fail "text status does not show tap0 shaped"
	grep -q "xbridge_port_shaped{bridge=\"$XB_BRIDGE\",port=\"tap0\"} 1" <<<"$(xb stats --name "$XB_BRIDGE" --prometheus)" ||
		fail "the metrics do not show tap0 shaped"
	in_ns g0 iperf3 -s -D -1 >/dev/null 2>&1 || fail "iperf3 server"
	sleep 0.3
	shaped=$(iperf_mbit g1 "$G0")
	echo "shaped: $shaped Mbit/s"
	((shaped < 20)) || fail "a 10 mbit tbf on tap0 let $shaped Mbit/s through (unshaped: $free)"
	echo "ok: tbf 10mbit holds guest 0 to $shaped Mbit/s (unshaped $free)"

	step "the qdisc deleted: not shaped"
	in_ns host tc qdisc del dev tap0 root
	wait_shaped tap0 false
	[[ $(port_field tap0 xdp_redirect_target) == true ]] || fail "tap0 did not become an XDP target again"
	echo "ok: tap0 back at XDP"
}

test_mac_flapping_is_logged_at_a_bounded_rate() {
	require_tools jq
	standard_bridge
	local mac=02:00:00:00:77:77 i t
	step "a MAC that keeps moving between tap0 and tap1"
	for ((i = 0; i < 6; i++)); do
		in_ns g0 "$XB_FRAMES" --dev eth0 --dst "$TOPO_OUT_MAC" --src $mac --count 1
		in_ns g1 "$XB_FRAMES" --dev eth0 --dst "$TOPO_OUT_MAC" --src $mac --count 1
	done
	(($(counter tap1 moved) >= 5)) || fail "tap1 counted $(counter tap1 moved) moves"
	for ((t = 0; t < 50; t++)); do
		(($(log_count "$mac vlan 0 is flapping between") > 0)) && break
		sleep 0.1
	done
	(($(log_count "$mac vlan 0 is flapping between") == 1)) || fail "the flapping MAC was not logged"
	grep "$mac vlan 0 is flapping" "/run/xbridge/$XB_BRIDGE.log"
	step "more moves within the window: no more lines"
	for ((i = 0; i < 6; i++)); do
		in_ns g0 "$XB_FRAMES" --dev eth0 --dst "$TOPO_OUT_MAC" --src $mac --count 1
		in_ns g1 "$XB_FRAMES" --dev eth0 --dst "$TOPO_OUT_MAC" --src $mac --count 1
	done
	sleep 2
	(($(log_count "$mac vlan 0 is flapping between") == 1)) ||
		fail "logged $(log_count "$mac vlan 0 is flapping between") times within one window"
	echo "ok: logged once per window"
}
