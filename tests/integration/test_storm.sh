# shellcheck shell=bash
# The storm guard: a loop the bridge did not make - two of its ports cabled together (a
# veth pair lp0-lp1 in the host) - with a rate limit on the floods the ports bring in.
# Every flood that enters the loop (broadcast, multicast, unknown unicast) would circle
# it for ever; the limit drops it at the loop's port once it is over the rate, counted
# as `storm`, and traffic between the guests goes on.

G0=$(topo_guest_ip 0)
G1=$(topo_guest_ip 1)
LIMIT=100

# loop_rx: frames the two looped ports have taken in, together.
loop_rx() { echo $(($(counter lp0 rx_packets) + $(counter lp1 rx_packets))); }

# ext_floods: floods that came into the bridge from outside the loop (the guests, the
# outside PC, the host). Each sends one copy into the loop each way.
ext_floods() {
	echo $(($(counter tap0 flooded) + $(counter tap1 flooded) + $(counter eth0 flooded) + $(counter host flooded)))
}

# check_storm_drops F0 S0 S1: since ext_floods was F0 and the storm drops of lp0 and lp1
# were S0 and S1, each flood's two copies in the loop have ended as one storm drop each.
check_storm_drops() {
	local f s0 s1
	f=$(($(ext_floods) - $1))
	s0=$(($(counter lp0 drops.storm) - $2))
	s1=$(($(counter lp1 drops.storm) - $3))
	((f > 0)) || fail "no flood entered the loop"
	[[ $s0 == "$f" && $s1 == "$f" ]] ||
		fail "$f floods into the loop: storm drops lp0 $s0, lp1 $s1, expected $f each (one per copy)"
	echo "ok: $f floods into the loop, each copy ended by one storm drop (lp0 $s0, lp1 $s1)"
}

# wait_storm_over: until the looped ports take in nothing more for a second (at most 10 s).
wait_storm_over() {
	local t a b
	b=$(loop_rx)
	for ((t = 0; t < 10 * ${XB_TIME_SCALE:-1}; t++)); do
		sleep 1
		a=$b
		b=$(loop_rx)
		[[ $a == "$b" ]] && return 0
	done
	fail "the loop still carries frames: lp0+lp1 rx went from $a to $b in a second"
}

test_storm_guard_holds_a_loop() {
	require_tools jq
	topo_create 2
	in_ns host ip link add lp0 type veth peer name lp1
	xb up --name "$XB_BRIDGE" eth0 tap0 tap1 lp0 >/dev/null || fail "xbridge up failed"
	[[ $(port_field lp0 storm_limit) == 0 ]] || fail "a port has a storm limit by default"
	xb port set --name "$XB_BRIDGE" lp0 storm-limit "$LIMIT" || fail "port set storm-limit failed"
	expect_error "is not a number" xb port set --name "$XB_BRIDGE" lp0 storm-limit many
	[[ $(port_field lp0 storm_limit) == "$LIMIT" ]] || fail "a refused storm-limit changed it"
	xb status --name "$XB_BRIDGE" | grep -Eq "^lp0 .*storm-limit=$LIMIT" ||
		fail "text status does not show lp0's storm limit: $(xb status --name "$XB_BRIDGE")"
	topo_start_guest 0 || fail "guest 0 did not start"
	topo_start_guest 1 || fail "guest 1 did not start"
	# Guests and the outside PC know each other (ARP) before the loop is made: what a
	# loop does to a host that broadcasts into it is below.
	assert_ping g0 "$G1"
	assert_ping out "$G1"

	step "the loop: lp0's other end, lp1, joins the bridge (with its limit at once)"
	# The namespaces are quiet (no IPv6): no broadcast enters the loop before lp1's limit.
	xb up --name "$XB_BRIDGE" lp1 >/dev/null || fail "adding lp1 failed"
	xb port set --name "$XB_BRIDGE" lp1 storm-limit "$LIMIT" || fail "port set storm-limit failed"
	[[ $(port_field lp1 storm_limit) == "$LIMIT" ]] || fail "status does not show lp1's storm limit"

	step "one broadcast into the loop: it circles until the limit drops it"
	local f0 s0 s1
	f0=$(ext_floods)
	s0=$(counter lp0 drops.storm)
	s1=$(counter lp1 drops.storm)
	in_ns g1 "$XB_FRAMES" --dev eth0 --src 02:00:00:00:5e:01 --dst ff:ff:ff:ff:ff:ff --ethertype 0x88b5 --count 1
	wait_storm_over
	check_storm_drops "$f0" "$s0" "$s1"
	echo "ok: $(loop_rx) frames went round the loop"

	step "unknown unicast is flooded too: it is held the same way"
	f0=$(ext_floods)
	s0=$(counter lp0 drops.storm)
	s1=$(counter lp1 drops.storm)
	in_ns g1 "$XB_FRAMES" --dev eth0 --src 02:00:00:00:5e:01 --dst 02:00:00:00:5e:99 --ethertype 0x88b5 --count 1
	wait_storm_over
	check_storm_drops "$f0" "$s0" "$s1"

	step "a burst of broadcasts and multicast into the loop, while guest 0 pings guest 1"
	in_ns g0 ping -c 40 -i 0.05 -W1 -q "$G1" >"$TOPO_TMP/ping.log" 2>&1 &
	local ping=$!
	f0=$(ext_floods)
	s0=$(counter lp0 drops.storm)
	s1=$(counter lp1 drops.storm)
	in_ns g1 "$XB_FRAMES" --dev eth0 --src 02:00:00:00:5e:01 --dst ff:ff:ff:ff:ff:ff --ethertype 0x88b5 --count 1000
	in_ns g1 "$XB_FRAMES" --dev eth0 --src 02:00:00:00:5e:01 --dst 01:00:5e:00:00:fb --ethertype 0x88b5 --count 1000
	wait "$ping" || fail "guest 0 -> guest 1 lost pings during the storm: $(cat "$TOPO_TMP/ping.log")"
	echo "ok: 40 pings guest 0 -> guest 1 during the storm, none lost"
	wait_storm_over
	check_storm_drops "$f0" "$s0" "$s1"
	[[ $(counter tap1 drops.storm) == 0 ]] || fail "tap1, without a limit, counted storm drops"
	local prom
	prom=$(xb stats --name "$XB_BRIDGE" --prometheus)
	grep -q 'xbridge_port_drops_total{.*port="lp0",reason="storm"} [1-9]' <<<"$prom" ||
		fail "Prometheus output has no storm drops for lp0"
	assert_ping out "$G1"

	step "the loop undone: the bridge forwards every way at once"
	in_ns host ip link del lp0
	assert_ping g0 "$G1"
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping out "$G1"
	assert_ping host "$G0"
}
