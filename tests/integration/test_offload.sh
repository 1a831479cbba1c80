# shellcheck shell=bash
# Every frame a guest sends gets through: guests whose NICs have checksum and TSO
# offload on (QEMU's virtio-net with vnet_hdr: GSO super-frames and partially
# checksummed frames in the tap), and jumbo frames.

G0=$(topo_guest_ip 0)
G1=$(topo_guest_ip 1)

# offload_bridge [MTU]: the standard bridge with offloading guests (and MTU everywhere).
offload_bridge() {
	local mtu=${1:-1500}
	topo_create 2
	xb up --name "$XB_BRIDGE" eth0 tap0 tap1 >/dev/null || fail "xbridge up failed"
	if [[ $mtu != 1500 ]]; then
		in_ns out ip link set eth0 mtu "$mtu"
		in_ns host ip link set eth0 mtu "$mtu"
		in_ns host ip link set tap0 mtu "$mtu"
		in_ns host ip link set tap1 mtu "$mtu"
	fi
	topo_start_guest 0 --vnet-hdr --offload --mtu "$mtu" || fail "guest 0 did not start"
	topo_start_guest 1 --vnet-hdr --offload --mtu "$mtu" || fail "guest 1 did not start"
	in_ns g0 ethtool -k eth0 | matches 'tcp-segmentation-offload: on' || fail "guest 0 has no TSO"
}

# iperf FROM TO TO_IP MBYTES: an iperf3 TCP run of MBYTES MiB. iperf3's receiver
# takes its totals when the control connection says the test ended, with the tail of
# the data possibly still in flight: the exact byte count and content are checked by
# `transfer` (lib.sh); here the sender must have sent all and the receiver counted nearly all.
iperf() {
	local from=$1 to=$2 ip=$3 mb=$4
	in_ns "$to" iperf3 -s -1 -p 5201 -J >"$TOPO_TMP/iperf-$to.json" 2>&1 &
	local srv=$! t
	for ((t = 0; t < 50 * ${XB_TIME_SCALE:-1}; t++)); do
		in_ns "$to" ss -ltn 2>/dev/null | matches ':5201 ' && break
		sleep 0.1
	done
	in_ns "$from" timeout 120 iperf3 -c "$ip" -p 5201 -n "${mb}M" -J >"$TOPO_TMP/iperf-c.json" ||
		fail "iperf3 $from -> $to failed: $(jq -r .error "$TOPO_TMP/iperf-c.json" 2>/dev/null)"
	timeout 30 tail --pid=$srv -f /dev/null
	local sent got want=$((mb * 1024 * 1024))
	sent=$(jq -r .end.sum_sent.bytes "$TOPO_TMP/iperf-c.json")
	got=$(jq -r .end.sum_received.bytes "$TOPO_TMP/iperf-$to.json")
	[[ $sent -ge $want ]] || fail "iperf3 $from -> $to: sent $sent of $want bytes"
	[[ $got -ge $((want * 95 / 100)) ]] || fail "iperf3 $from -> $to: the receiver counted $got of $want bytes"
	local gbps
	gbps=$(jq -r '.end.sum_received.bits_per_second / 1e9 | . * 100 | floor / 100' "$TOPO_TMP/iperf-$to.json")
	echo "ok: iperf3 $mb MiB $from -> $to ($gbps Gbit/s, $got bytes counted at the receiver)"
}

# The relay's exit line says how many GSO frames crossed it.
relay_gso_frames() {
	topo_stop_guest "$1"
	sed -n 's/.*->[^ ]* frames=[0-9]* bytes=[0-9]* dropped=[0-9]* gso=\([0-9]*\).*/\1/p' \
		"$TOPO_TMP/relay$1.log" | head -1
}

test_tso_guests() {
	require_tools iperf3 jq ethtool
	offload_bridge 1500
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping g0 "$G1"
	local tc0
	tc0=$(counter tap0 rx_tc)
	iperf g0 out "$TOPO_OUT_IP" 200
	[[ $(counter tap0 rx_tc) -gt $((tc0 + 100)) ]] || fail "guest 0's GSO frames did not take the TC path"
	echo "ok: guest 0's super-frames went through xb_tc_ingress ($(($(counter tap0 rx_tc) - tc0)) frames)"
	iperf out g0 "$G0" 200
	iperf g0 g1 "$G1" 200
	iperf host g1 "$G1" 100
	iperf g1 host "$TOPO_HOST_IP" 100
	transfer g0 out "$TOPO_OUT_IP" 32
	transfer out g1 "$G1" 32
	transfer g1 g0 "$G0" 32
	local gso
	gso=$(relay_gso_frames 0)
	[[ ${gso:-0} -gt 0 ]] || fail "the relay saw no GSO frame from guest 0 ($(cat "$TOPO_TMP/relay0.log"))"
	echo "ok: $gso GSO super-frames from guest 0 crossed its tap"
}

test_jumbo_frames() {
	require_tools iperf3 jq ethtool tcpdump
	offload_bridge 9000
	in_ns out ping -c2 -W2 -s 8972 -M "do" -q "$G0" >/dev/null || fail "9000-byte ping outside -> guest 0 failed"
	in_ns g0 ping -c2 -W2 -s 8972 -M "do" -q "$G1" >/dev/null || fail "9000-byte ping guest 0 -> guest 1 failed"
	in_ns host ping -c2 -W2 -s 8972 -M "do" -q "$G1" >/dev/null || fail "9000-byte ping host -> guest 1 failed"
	in_ns g1 ping -c2 -W2 -s 8972 -M "do" -q "$TOPO_OUT_IP" >/dev/null || fail "9000-byte ping guest 1 -> outside failed"
	echo "ok: 9000-byte frames bridged between every pair"
	step "a jumbo broadcast"
	local pids=() ns
	for ns in g0 g1; do
		capture "$ns" "ether broadcast and greater 8990"
		pids+=("$CAPTURE_PID")
	done
	capture_settle
	in_ns out "$XB_FRAMES" --dev eth0 --src "$TOPO_OUT_MAC" --dst ff:ff:ff:ff:ff:ff --size 9000 --count 3
	local i=0
	for ns in g0 g1; do
		capture_wait "${pids[$i]}" "$ns" 5 || fail "the jumbo broadcast did not reach $ns"
		i=$((i + 1))
	done
	echo "ok: a 9000-byte broadcast reached both guests"
	iperf g0 out "$TOPO_OUT_IP" 200
	iperf out g1 "$G1" 200
	transfer g0 out "$TOPO_OUT_IP" 32
	transfer out g1 "$G1" 32
}

test_frames_over_a_ports_mtu() {
	require_tools jq
	standard_bridge
	assert_ping out "$G0"
	# The wire and the uplink take 9000 bytes, guest 0's tap 1500, as br0 with such ports.
	in_ns out ip link set eth0 mtu 9000
	in_ns host ip link set eth0 mtu 9000
	local t
	for ((t = 0; t < 30 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ $(port_field eth0 mtu) -eq 9000 ]] && break
		sleep 0.1
	done
	# The guest's tap also gets what the hosts flood meanwhile (ARP, IPv6 router and
	# neighbour solicitations: small frames), so the tap's bytes tell what reached it.
	local big0 tx0 txb0
	big0=$(counter tap0 drops.too_big)
	tx0=$(counter tap0 tx_packets)
	txb0=$(counter tap0 tx_bytes)
	in_ns out "$XB_FRAMES" --dev eth0 --src "$TOPO_OUT_MAC" --dst "$(topo_guest_mac 0)" --ethertype 0x88b5 --size 4000 --count 5
	sleep 0.3
	[[ $(($(counter tap0 drops.too_big) - big0)) -eq 5 ]] ||
		fail "4000-byte frames for a 1500-byte tap were not counted as too_big on the tap: $(counter tap0 drops)"
	[[ $(($(counter tap0 tx_bytes) - txb0)) -lt 4000 ]] || fail "4000-byte frames were sent to a 1500-byte tap"
	in_ns out "$XB_FRAMES" --dev eth0 --src "$TOPO_OUT_MAC" --dst "$(topo_guest_mac 0)" --ethertype 0x88b5 --size 1514 --count 5
	sleep 0.3
	[[ $(($(counter tap0 tx_packets) - tx0)) -ge 5 ]] || fail "1514-byte frames did not reach the tap"
	echo "ok: frames longer than the target port's MTU are dropped and counted, as br0 does"
}
