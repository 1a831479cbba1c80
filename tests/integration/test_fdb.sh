# shellcheck shell=bash
# FDB lifecycle and port policy, after the kernel's forwarding selftests
# (tools/testing/selftests/net/forwarding/lib.sh learning_test and flood_test,
# bridge_locked_port.sh, bridge_fdb_learning_limit.sh), on xbridge.

MAC=de:ad:be:ef:13:37

fdb_has() { # fdb_has MAC [PORT [TYPE]]
	local want=${2:-} type=${3:-}
	xb fdb show --name "$XB_BRIDGE" --json |
		jq -e --arg m "$1" --arg p "$want" --arg t "$type" \
			'any(.[]; .mac == $m and ($p == "" or .port == $p) and ($t == "" or .type == $t))' >/dev/null
}

learned() { xb status --name "$XB_BRIDGE" --json | jq -r .fdb_learned; }

# frames_reach NS FILTER CMD...: true if NS's eth0 sees a frame matching FILTER while
# CMD runs.
frames_reach() {
	local ns=$1 filter=$2 pid
	shift 2
	capture "$ns" "$filter"
	pid=$CAPTURE_PID
	capture_settle
	"$@" >/dev/null
	capture_wait "$pid" "$ns" 2
}

send() { # send NS DST SRC [xb-frames options]
	local ns=$1 dst=$2 src=$3
	shift 3
	in_ns "$ns" "$XB_FRAMES" --dev eth0 --dst "$dst" --src "$src" "$@"
}

test_learning() {
	require_tools jq tcpdump
	# Ageing time 3 s, scaled in a slow VM (XB_TIME_SCALE, set by vmtest/run.sh).
	local ageing=$((3 * ${XB_TIME_SCALE:-1}))
	standard_bridge --ageing-time "$ageing"
	local out_mac=$TOPO_OUT_MAC
	fdb_has $MAC && fail "an FDB entry for $MAC exists before any traffic"
	# No unknown-unicast flooding to tap0: frames for $MAC reach guest 0 only once
	# the bridge has learned it there.
	xb port set --name "$XB_BRIDGE" tap0 flood off
	frames_reach g0 "ether dst $MAC" send out $MAC "$out_mac" &&
		fail "a frame for $MAC reached guest 0 before it was learned, with flood off"
	echo "ok: flood off keeps unknown unicast from tap0"
	send g0 "$out_mac" $MAC
	sleep 0.3
	fdb_has $MAC tap0 dynamic || fail "$MAC was not learned on tap0"
	echo "ok: $MAC learned on tap0 from a frame guest 0 sent"
	frames_reach g0 "ether dst $MAC" send out $MAC "$out_mac" ||
		fail "a frame for the learned $MAC did not reach guest 0"
	echo "ok: the frame for $MAC is forwarded to tap0"
	local t
	for ((t = 0; t < (ageing + 3) * 10; t++)); do
		fdb_has $MAC || break
		sleep 0.1
	done
	fdb_has $MAC && fail "$MAC is still there $((t / 10)) s later (ageing time $ageing s)"
	[[ $t -le $(((ageing + 2) * 10)) ]] || fail "$MAC took more than ageing_time + 2 s to go"
	echo "ok: $MAC aged out (within ageing_time + 2 s)"
	xb port set --name "$XB_BRIDGE" tap0 learning off
	send g0 "$out_mac" $MAC
	sleep 0.3
	fdb_has $MAC && fail "$MAC was learned on tap0 with learning off"
	echo "ok: learning off learns nothing"
	xb status --name "$XB_BRIDGE" | grep -E '^tap0 .* (learning|flood)' && fail "status still shows learning/flood on tap0"
	xb port set --name "$XB_BRIDGE" tap0 learning on
	xb port set --name "$XB_BRIDGE" tap0 flood on
	xb status --name "$XB_BRIDGE" | matches -E '^tap0 .*learning,flood' || fail "status does not show the flags back on"
	echo "ok: status shows the port flags"
}

test_flood_flags() {
	require_tools jq tcpdump
	standard_bridge
	step "unknown unicast"
	xb port set --name "$XB_BRIDGE" tap1 flood off
	frames_reach g1 "ether dst $MAC" send out $MAC "$TOPO_OUT_MAC" &&
		fail "unknown unicast flooded to tap1 with flood off"
	frames_reach g0 "ether dst $MAC" send out $MAC "$TOPO_OUT_MAC" ||
		fail "unknown unicast not flooded to tap0, whose flood is on"
	xb port set --name "$XB_BRIDGE" tap1 flood on
	frames_reach g1 "ether dst $MAC" send out $MAC "$TOPO_OUT_MAC" ||
		fail "unknown unicast not flooded to tap1 with flood on"
	echo "ok: flood off/on"
	step "multicast"
	local mc=01:00:5e:00:00:01
	xb port set --name "$XB_BRIDGE" tap1 mcast-flood off
	frames_reach g1 "ether dst $mc" send out $mc "$TOPO_OUT_MAC" &&
		fail "multicast flooded to tap1 with mcast-flood off"
	frames_reach g1 "ether broadcast" send out ff:ff:ff:ff:ff:ff "$TOPO_OUT_MAC" ||
		fail "broadcast did not reach tap1: mcast-flood must not stop broadcast"
	xb port set --name "$XB_BRIDGE" tap1 mcast-flood on
	frames_reach g1 "ether dst $mc" send out $mc "$TOPO_OUT_MAC" ||
		fail "multicast not flooded to tap1 with mcast-flood on"
	echo "ok: mcast-flood off/on, broadcast unaffected"
	step "from a guest, through the TC path (host copy)"
	xb port set --name "$XB_BRIDGE" tap1 mcast-flood off
	frames_reach g1 "ether dst $mc" send g0 $mc "$(topo_guest_mac 0)" &&
		fail "multicast from guest 0 flooded to tap1 with mcast-flood off"
	frames_reach out "ether dst $mc" send g0 $mc "$(topo_guest_mac 0)" ||
		fail "multicast from guest 0 did not reach the outside"
	echo "ok: the TC flood loop honours the flags too"
	expect_error "unknown port flag 'fast'" xb port set --name "$XB_BRIDGE" tap1 fast on
	expect_error "is not on or off" xb port set --name "$XB_BRIDGE" tap1 flood maybe
	expect_error "tap9 is not a port of bridge" xb port set --name "$XB_BRIDGE" tap9 flood on
}

test_static_entries() {
	require_tools jq
	standard_bridge
	local S=02:00:00:5a:00:01
	xb fdb add --name "$XB_BRIDGE" $S dev tap0
	fdb_has $S tap0 static || fail "static entry not shown"
	xb fdb add --name "$XB_BRIDGE" $S dev tap0 || fail "re-adding the same static entry failed"
	expect_error "already has a static entry on port tap0" xb fdb add --name "$XB_BRIDGE" $S dev tap1
	expect_error "invalid MAC address 'zz:00'" xb fdb add --name "$XB_BRIDGE" zz:00 dev tap0
	expect_error "is not a unicast address" xb fdb add --name "$XB_BRIDGE" 01:00:5e:00:00:01 dev tap0
	expect_error "tap7 is not a port of bridge" xb fdb add --name "$XB_BRIDGE" $S dev tap7
	expect_error "VLAN '5000' is out of range" xb fdb add --name "$XB_BRIDGE" --vlan 5000 $S dev tap0
	expect_error "expected 'fdb add MAC dev PORT'" xb fdb add --name "$XB_BRIDGE" $S to tap0
	local host_mac
	host_mac=$(in_ns host cat /sys/class/net/eth0/address)
	expect_error "is the address of port eth0" xb fdb add --name "$XB_BRIDGE" "$host_mac" dev tap0
	expect_error "is the address of port eth0" xb fdb del --name "$XB_BRIDGE" "$host_mac"
	expect_error "no FDB entry for 02:00:00:5a:00:09" xb fdb del --name "$XB_BRIDGE" 02:00:00:5a:00:09
	echo "ok: errors change nothing"
	step "a static entry never moves and never ages"
	xb set --name "$XB_BRIDGE" ageing-time 1
	send out "$(topo_guest_mac 1)" $S
	sleep 3
	fdb_has $S tap0 static || fail "the static entry moved or aged: $(xb fdb show --name "$XB_BRIDGE")"
	echo "ok"
	step "a learned entry becomes static; VLAN entries are separate"
	xb set --name "$XB_BRIDGE" ageing-time 300
	assert_ping g1 "$TOPO_OUT_IP"
	local before
	before=$(learned)
	xb fdb add --name "$XB_BRIDGE" "$(topo_guest_mac 1)" dev tap1
	fdb_has "$(topo_guest_mac 1)" tap1 static || fail "guest 1's entry is not static"
	[[ $(learned) -eq $((before - 1)) ]] || fail "fdb_learned did not drop by one ($before -> $(learned))"
	xb fdb add --name "$XB_BRIDGE" --vlan 10 $S dev tap1
	xb fdb show --name "$XB_BRIDGE" --json | jq -e --arg m $S 'any(.[]; .mac == $m and .vlan == 10 and .port == "tap1")' >/dev/null ||
		fail "no VLAN 10 entry"
	echo "ok"
	step "flush"
	xb fdb flush --name "$XB_BRIDGE" --dynamic >/dev/null
	[[ $(learned) -eq 0 ]] || fail "learned entries remain after flush --dynamic"
	fdb_has $S tap0 static || fail "flush --dynamic removed a static entry"
	xb fdb flush --name "$XB_BRIDGE" --port tap1 >/dev/null
	# (Guest 1 may have sent a frame since, a neighbour probe, and be learned again.)
	fdb_has "$(topo_guest_mac 1)" tap1 static && fail "flush --port tap1 kept guest 1's static entry"
	fdb_has $S tap0 static || fail "flush --port tap1 removed tap0's entry"
	fdb_has "$host_mac" eth0 local || fail "a flush removed a local entry"
	xb fdb del --name "$XB_BRIDGE" $S
	fdb_has $S tap0 && fail "fdb del left the entry"
	echo "ok: flush --dynamic, flush --port, del; local entries stay"
	step "a port that leaves takes its entries"
	xb fdb add --name "$XB_BRIDGE" $S dev tap1
	topo_stop_guest 1
	in_ns host ip link del tap1
	local t
	for ((t = 0; t < 30 * ${XB_TIME_SCALE:-1}; t++)); do
		fdb_has $S || break
		sleep 0.1
	done
	fdb_has $S && fail "tap1's static entry outlived tap1"
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r '.ports | map(select(.state != "absent") | .name) | join(" ")') == "eth0 tap0" ]] ||
		fail "tap1 is still a port"
	echo "ok: a deleted tap leaves the bridge with its entries"
}

# fdb_gone MAC: waits (up to 8 s, scaled) for MAC's entry to go; false if it stays.
fdb_gone() {
	local t
	for ((t = 0; t < 80 * ${XB_TIME_SCALE:-1}; t++)); do
		fdb_has "$1" || return 0
		sleep 0.1
	done
	return 1
}

test_port_down_forgets_what_it_learned() {
	require_tools jq tcpdump
	standard_bridge
	local out_mac=$TOPO_OUT_MAC S=02:00:00:5d:00:01 W=02:00:00:5d:00:02 M2=02:00:00:5d:00:03
	send g0 "$out_mac" $MAC
	send out "$(topo_guest_mac 1)" $W
	xb fdb add --name "$XB_BRIDGE" $S dev tap0
	sleep 0.3
	fdb_has $MAC tap0 dynamic || fail "$MAC was not learned on tap0"
	fdb_has $W eth0 dynamic || fail "$W was not learned on eth0"
	# As br_stp_disable_port: the port's learned entries go, its static ones and the
	# other ports' entries stay, and frames for the forgotten address are flooded again.
	in_ns host ip link set tap0 down
	fdb_gone $MAC || fail "$MAC is still on tap0 after tap0 went down: $(xb fdb show --name "$XB_BRIDGE")"
	fdb_has $S tap0 static || fail "tap0 going down took its static entry"
	fdb_has $W eth0 dynamic || fail "tap0 going down took eth0's entry of $W"
	grep -q "port tap0 went down: flushed its [0-9]* learned entr" "/run/xbridge/$XB_BRIDGE.log" ||
		fail "the controller's log does not say why the entries went"
	[[ $(port_field tap0 state) == down ]] ||
		fail "status does not show tap0 down"
	frames_reach g1 "ether dst $MAC" send out $MAC "$out_mac" ||
		fail "a frame for $MAC, learned on the port that went down, is not flooded to guest 1"
	echo "ok: tap0 went down: its learned entries flushed, its static one kept, $MAC flooded again"
	in_ns host ip link set tap0 up
	assert_ping g0 "$TOPO_OUT_IP"
	step "a port that went down while no controller ran"
	send g1 "$out_mac" $M2
	sleep 0.3
	fdb_has $M2 tap1 dynamic || fail "$M2 was not learned on tap1"
	kill_controller
	in_ns host ip link set tap1 down
	sleep 0.3
	fdb_has $M2 tap1 dynamic || fail "$M2 went with no controller running"
	xb up --name "$XB_BRIDGE" >/dev/null || fail "up could not restart the controller"
	fdb_gone $M2 || fail "the restarted controller did not flush tap1, down since"
	echo "ok: the restarted controller flushed tap1, which went down while none ran"
}

test_isolated_ports() {
	require_tools jq
	standard_bridge
	local g1 mac1
	g1=$(topo_guest_ip 1)
	mac1=$(topo_guest_mac 1)
	xb port set --name "$XB_BRIDGE" tap0 isolated on
	xb port set --name "$XB_BRIDGE" tap1 isolated on
	xb status --name "$XB_BRIDGE" | matches -E '^tap0 .*isolated' || fail "status does not show tap0 isolated"
	# As `bridge link set dev tapN isolated on`: each guest still reaches the wire and the
	# host, but not the other guest - neither its broadcasts (ARP) nor its unicast.
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping g1 "$TOPO_HOST_IP"
	in_ns g0 ping -c2 -W1 -q "$g1" >/dev/null 2>&1 && fail "isolated guest 0 reached isolated guest 1"
	in_ns g0 ip neigh replace "$g1" lladdr "$mac1" dev eth0
	local before
	before=$(counter tap0 drops.isolated)
	in_ns g0 ping -c2 -W1 -q "$g1" >/dev/null 2>&1 && fail "isolated guest 0 reached isolated guest 1 by unicast"
	[[ $(counter tap0 drops.isolated) -ge $((before + 2)) ]] ||
		fail "unicast between isolated ports is not counted as drops.isolated"
	echo "ok: isolated guests reach the wire and the host, not each other; the drops are counted"
	xb port set --name "$XB_BRIDGE" tap1 isolated off
	assert_ping g0 "$g1"
	echo "ok: an isolated port reaches a port that is not"
}

test_hairpin_port() {
	require_tools jq
	standard_bridge
	# VEPA: two macvlans of the outside PC, in mode vepa, send everything - each other's
	# frames included - to the adjacent switch, which must send them back out of the port
	# they came in on (`bridge link set dev eth0 hairpin on`). Each in a namespace of its
	# own, or the two addresses would be local to one stack.
	local i
	for i in 1 2; do
		ip netns add "$PFX-v$i"
		in_ns out ip link add "mv$i" link eth0 type macvlan mode vepa 2>/dev/null ||
			skip "no macvlan in this kernel"
		in_ns out ip link set "mv$i" netns "$PFX-v$i"
		in_ns "v$i" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
		in_ns "v$i" ip addr add "$TOPO_NET.10$i/24" dev "mv$i"
		in_ns "v$i" ip link set "mv$i" up
	done
	assert_ping v1 "$TOPO_HOST_IP"
	assert_ping v2 "$TOPO_HOST_IP"
	in_ns v1 ping -c2 -W1 -q "$TOPO_NET.102" >/dev/null 2>&1 &&
		fail "VEPA neighbours reached each other through a port that is not hairpin"
	echo "ok: without hairpin, nothing goes back out of the port it came in on"
	xb port set --name "$XB_BRIDGE" eth0 hairpin on
	xb status --name "$XB_BRIDGE" | matches -E '^eth0 .*hairpin' || fail "status does not show eth0 hairpin"
	[[ $(port_field eth0 hairpin) == true ]] ||
		fail "status --json does not show eth0 hairpin"
	# The ARP request is a flood that must come back to its own port; the reply and the
	# pings are unicast to a MAC learned on that port.
	assert_ping v1 "$TOPO_NET.102"
	assert_ping v2 "$TOPO_NET.101"
	echo "ok: with hairpin on, VEPA neighbours reach each other through the bridge"
	xb port set --name "$XB_BRIDGE" eth0 hairpin off
	local before
	before=$(counter eth0 drops.same_port)
	in_ns v1 ping -c2 -W1 -q "$TOPO_NET.102" >/dev/null 2>&1 &&
		fail "VEPA neighbours reached each other after hairpin went off"
	[[ $(counter eth0 drops.same_port) -ge $((before + 2)) ]] ||
		fail "frames for the port they came in on are not counted as drops.same_port"
	echo "ok: hairpin off: dropped again, and counted"
}

test_locked_port() {
	require_tools jq
	standard_bridge
	assert_ping g0 "$TOPO_OUT_IP"
	xb port set --name "$XB_BRIDGE" tap0 locked on
	xb fdb flush --name "$XB_BRIDGE" --port tap0 >/dev/null
	in_ns g0 ping -c2 -i0.2 -W1 -q "$TOPO_OUT_IP" >/dev/null && fail "ping worked from a locked port without a static entry"
	[[ $(counter tap0 drops.locked) -gt 0 ]] ||
		fail "locked drops were not counted"
	echo "ok: locked port drops unknown sources (counted)"
	xb fdb add --name "$XB_BRIDGE" "$(topo_guest_mac 0)" dev tap0
	assert_ping g0 "$TOPO_OUT_IP"
	echo "ok: a static entry opens it"
	step "a guest cannot spoof another's MAC through a locked port"
	send g0 "$TOPO_OUT_MAC" "$(topo_guest_mac 1)"
	sleep 0.3
	fdb_has "$(topo_guest_mac 1)" tap0 && fail "guest 0 moved guest 1's MAC to tap0"
	echo "ok"
	xb port set --name "$XB_BRIDGE" tap0 locked off
	xb fdb del --name "$XB_BRIDGE" "$(topo_guest_mac 0)"
	assert_ping g0 "$TOPO_OUT_IP"
	echo "ok: unlocked, without the entry, it works again"
}

test_learning_limit() {
	require_tools jq tcpdump
	standard_bridge
	assert_ping g0 "$TOPO_OUT_IP"
	local base refused0
	base=$(learned)
	xb set --name "$XB_BRIDGE" max-learned $((base + 4))
	refused0=$(counter eth0 learn_refused)
	send out "$(topo_guest_mac 0)" 02:00:00:aa:00:00 --src-count 6 --count 6
	sleep 0.3
	[[ $(learned) -eq $((base + 4)) ]] || fail "learned $(learned), expected $((base + 4))"
	[[ $(($(counter eth0 learn_refused) - refused0)) -eq 2 ]] ||
		fail "learn_refused did not count the 2 refused MACs"
	echo "ok: 6 new MACs, 4 learned, 2 refused and counted"
	xb fdb add --name "$XB_BRIDGE" 02:00:00:bb:00:01 dev tap1
	[[ $(learned) -eq $((base + 4)) ]] || fail "a static entry counted as learned"
	echo "ok: static entries can still be added and do not count"
	frames_reach g1 "ether src 02:00:00:aa:00:05" send out "$(topo_guest_mac 1)" 02:00:00:aa:00:05 ||
		fail "a frame from an unlearned MAC was not forwarded"
	frames_reach g1 "ether dst 02:00:00:aa:00:05" send g0 02:00:00:aa:00:05 "$(topo_guest_mac 0)" ||
		fail "a frame to an unlearned MAC was not flooded"
	echo "ok: frames from and to unlearned MACs still get through"

	xb set --name "$XB_BRIDGE" max-learned 0
	[[ $(xb status --name "$XB_BRIDGE" --json | jq .max_learned) -eq 65536 ]] ||
		fail "max-learned 0 is not the FDB's size: $(xb status --name "$XB_BRIDGE" --json | jq .max_learned)"

	step "a flood of random source MACs from a guest"
	xb set --name "$XB_BRIDGE" max-learned 1000
	send g0 "$TOPO_OUT_MAC" 02:00:01:00:00:00 --src-count 50000 --count 50000
	sleep 0.5
	[[ $(learned) -le 1000 ]] || fail "learned $(learned) entries over a cap of 1000"
	fdb_has 02:00:00:bb:00:01 tap1 static || fail "the static entry was evicted"
	timeout 5 "$XB" -n "$PFX-host" status --name "$XB_BRIDGE" >/dev/null || fail "the bridge does not answer"
	kill -0 "$(xb status --name "$XB_BRIDGE" --json | jq .controller_pid)" || fail "the controller died"
	assert_ping g1 "$TOPO_OUT_IP"
	echo "ok: capped at $(learned), static entry intact, controller alive, traffic flows"
}

test_ageing_time() {
	require_tools jq
	standard_bridge --ageing-time 0
	assert_ping g0 "$TOPO_OUT_IP"
	[[ $(xb status --name "$XB_BRIDGE" --json | jq .ageing_time) -eq 0 ]] || fail "ageing_time is not 0"
	sleep 2.5
	fdb_has "$(topo_guest_mac 0)" tap0 dynamic || fail "an entry aged with ageing time 0"
	xb set --name "$XB_BRIDGE" ageing-time 1
	# The entry is a second stale at most 2 s from now, and the next sweep removes it:
	# wait up to 6 s (scaled in a slow VM: each poll is an xbridge command there too).
	# Gone once is the proof: the guest may send a frame of its own (an IPv6 router
	# solicitation) right after, which rightly learns it again.
	local deadline=$((SECONDS + 6 * ${XB_TIME_SCALE:-1})) gone=0
	while ((SECONDS < deadline)); do
		fdb_has "$(topo_guest_mac 0)" || {
			gone=1
			break
		}
		sleep 0.1
	done
	((gone)) || fail "the entry did not age after set ageing-time 1"
	echo "ok: 0 never ages; set ageing-time applies to a running bridge"
	# A command that changes the FDB holds the bridge lock, and the sweep waits for it:
	# otherwise it could delete an entry that `fdb add` turned static a moment after the
	# sweep read it as learned and stale. A MAC seen once (nothing refreshes it) stays
	# while a command holds the lock, and goes when it is done.
	send out ff:ff:ff:ff:ff:ff 02:00:00:cc:00:01
	fdb_has 02:00:00:cc:00:01 eth0 dynamic || fail "02:00:00:cc:00:01 was not learned"
	local hold=$((4 * ${XB_TIME_SCALE:-1}))
	hold_lock "$hold"
	sleep $((hold - 1))
	fdb_has 02:00:00:cc:00:01 || fail "the sweep ran while a command held the bridge lock"
	wait "$LOCK_PID"
	deadline=$((SECONDS + 4 * ${XB_TIME_SCALE:-1})) gone=0
	while ((SECONDS < deadline)); do
		fdb_has 02:00:00:cc:00:01 || {
			gone=1
			break
		}
		sleep 0.1
	done
	((gone)) || fail "the entry did not age once the lock was free"
	echo "ok: the sweep waits for a command that holds the bridge lock"
	expect_error "ageing-time: 'soon' is not a number" xb set --name "$XB_BRIDGE" ageing-time soon
	expect_error "unknown setting 'colour'" xb set --name "$XB_BRIDGE" colour blue
}

# wait_fdb CONDITION MAC: waits (up to 10 s: the controller follows link events, and
# looks again every 5 s) until fdb_has MAC eth0 local holds (CONDITION "has") or not.
wait_local() {
	local t
	for ((t = 0; t < 100 * ${XB_TIME_SCALE:-1}; t++)); do
		if fdb_has "$2" eth0 local; then [[ $1 == has ]] && return 0; else [[ $1 == lacks ]] && return 0; fi
		sleep 0.1
	done
	return 1
}

# Every address the host owns on the uplink is delivered to it: a macvlan on eth0 (as a
# container's or keepalived's VRRP interface would be) puts its address in eth0's
# unicast list, and a guest reaches it by unicast. Its entry follows the list: a new
# address, the macvlan gone, a `bridge fdb add ... self`.
test_macvlan_on_the_uplink() {
	require_tools jq bridge
	standard_bridge
	local mv=02:00:00:5a:11:01 mv2=02:00:00:5a:11:02 self=02:00:00:5a:11:03 ip=$TOPO_NET.3
	in_ns host ip link add mv0 link eth0 address $mv type macvlan mode bridge
	in_ns host ip addr add "$ip/24" dev mv0
	in_ns host ip link set mv0 up
	in_ns host bridge fdb show dev eth0 | matches "^$mv self" || fail "eth0's unicast list lacks the macvlan's address"
	wait_local has $mv || fail "the macvlan's address is no local entry on eth0: $(xb fdb show --name "$XB_BRIDGE")"
	echo "ok: the macvlan's address is a local entry on eth0"
	assert_ping g0 "$ip"
	assert_ping g1 "$ip"
	# Delivered to the host, not flooded: neither the wire nor the other guest gets them
	# (before, they reached the macvlan only as unknown unicast, flooded everywhere).
	local flooded to_host wire
	flooded=$(counter tap0 flooded)
	to_host=$(counter tap0 to_host)
	wire=$(counter eth0 tx_packets)
	in_ns g0 ping -c5 -i0.2 -W1 -q "$ip" >/dev/null || fail "ping from g0 to the macvlan lost replies"
	[[ $(counter tap0 flooded) -eq $flooded ]] || fail "frames for the macvlan were flooded"
	[[ $(counter eth0 tx_packets) -eq $wire ]] || fail "frames for the macvlan went to the wire"
	[[ $(counter tap0 to_host) -ge $((to_host + 5)) ]] || fail "frames for the macvlan did not go to the host"
	echo "ok: guests reach the macvlan by unicast, delivered to the host only"
	in_ns host ip link set mv0 address $mv2
	wait_local has $mv2 || fail "the macvlan's new address is no local entry"
	wait_local lacks $mv || fail "the macvlan's old address is still a local entry"
	in_ns g0 ip neigh flush dev eth0
	assert_ping g0 "$ip"
	echo "ok: followed a new address"
	in_ns host bridge fdb add $self dev eth0 self permanent
	wait_local has $self || fail "an address added with bridge fdb ... self is no local entry"
	in_ns host bridge fdb del $self dev eth0 self
	wait_local lacks $self || fail "an address deleted with bridge fdb ... self is still a local entry"
	in_ns host ip link del mv0
	wait_local lacks $mv2 || fail "the address of a deleted macvlan is still a local entry"
	echo "ok: bridge fdb ... self and a deleted macvlan followed"
	assert_ping g0 "$TOPO_HOST_IP"
	xb restart --name "$XB_BRIDGE" >/dev/null
	in_ns host ip link add mv1 link eth0 address $mv type macvlan mode bridge
	in_ns host ip link set mv1 up
	wait_local has $mv || fail "a restarted controller does not follow"
	xb down --name "$XB_BRIDGE" >/dev/null
	echo "ok"
}
