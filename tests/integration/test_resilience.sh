# shellcheck shell=bash
# The bridge survives its controller, its ports and its inputs.

G0=$(topo_guest_ip 0)
G1=$(topo_guest_ip 1)

# ping_bg NS IP COUNT: a continuous ping in the background, 50 per second.
ping_bg() {
	in_ns "$1" ping -i 0.02 -W1 -c "$3" "$2" >"$TOPO_TMP/ping-$1" 2>&1 &
	PING_PID=$!
}

# ping_result: waits for ping_bg and fails unless every reply came.
ping_no_loss() {
	wait "$PING_PID" || true
	local line
	line=$(grep 'packets transmitted' "$TOPO_TMP/ping-$1")
	[[ $line == *" 0% packet loss"* ]] || fail "replies were lost: $line"
	echo "ok: $line"
}

test_controller_killed_and_restarted() {
	require_tools jq
	standard_bridge
	assert_ping g0 "$TOPO_OUT_IP"
	xb fdb add --name "$XB_BRIDGE" 02:00:00:5a:00:01 dev tap1
	xb port set --name "$XB_BRIDGE" tap1 mcast-flood off
	local pid rx0 fdb0
	pid=$(controller_pid)
	rx0=$(counter tap0 rx_packets)
	fdb0=$(xb fdb show --name "$XB_BRIDGE" --json | jq -c 'map(select(.type != "dynamic")) | sort_by(.mac)')
	ping_bg g0 "$TOPO_OUT_IP" 250
	sleep 1
	kill -9 "$pid"
	step "controller killed with SIGKILL"
	sleep 1.5
	[[ -z $(controller_pid) ]] || fail "status still reports a controller"
	xb up --name "$XB_BRIDGE" >/dev/null || fail "up could not adopt the running bridge"
	step "adopted by 'xbridge up --name $XB_BRIDGE' (pid $(controller_pid))"
	sleep 1
	xb restart --name "$XB_BRIDGE" >/dev/null || fail "restart failed"
	step "and restarted (pid $(controller_pid))"
	ping_no_loss g0
	[[ -n $(controller_pid) && $(controller_pid) != "$pid" ]] || fail "no new controller"
	[[ $(counter tap0 rx_packets) -ge $((rx0 + 250)) ]] || fail "counters were reset"
	[[ $(xb fdb show --name "$XB_BRIDGE" --json | jq -c 'map(select(.type != "dynamic")) | sort_by(.mac)') == "$fdb0" ]] ||
		fail "static or local entries changed"
	xb fdb show --name "$XB_BRIDGE" | matches "$(topo_guest_mac 0) *tap0" || fail "learned entries were lost"
	xb status --name "$XB_BRIDGE" --json | jq -e '.ports[] | select(.name=="tap1") | .mcast_flood == false' >/dev/null ||
		fail "port flags were lost"
	echo "ok: FDB, static entries, counters and port flags preserved"
}

test_port_renamed_while_no_controller_runs() {
	require_tools jq
	standard_bridge
	assert_ping out "$G1"
	kill_controller
	in_ns host ip link set tap1 down
	in_ns host ip link set tap1 name tapr1
	in_ns host ip link set tapr1 up
	xb up --name "$XB_BRIDGE" >/dev/null || fail "up could not adopt the bridge"
	local t
	# The first resync: the same device under a new name stays a port, as a link event
	# to a running controller says.
	for ((t = 0; t < 80 * ${XB_TIME_SCALE:-1}; t++)); do
		grep -q "port tap1 (ifindex [0-9]*) is now called tapr1" "/run/xbridge/$XB_BRIDGE.log" && break
		sleep 0.1
	done
	grep -q "is now called tapr1" "/run/xbridge/$XB_BRIDGE.log" || fail "the controller did not see the rename"
	xb status --name "$XB_BRIDGE" --json | jq -e '.ports[] | select(.name=="tapr1") | .state == "up"' >/dev/null ||
		fail "tapr1 is not an up port: $(xb status --name "$XB_BRIDGE")"
	assert_ping out "$G1"
	xb down --name "$XB_BRIDGE" >/dev/null
	if in_ns host ip link show tapr1 >/dev/null 2>&1; then
		in_ns host tc qdisc show dev tapr1 | matches clsact && fail "down left clsact on the renamed tap"
	fi
	echo "ok: a port renamed while no controller ran stays a port, and down cleans it"
}

test_a_copy_of_the_binary_under_another_name() {
	require_tools jq
	topo_create 0
	local copy="$TOPO_TMP/xbr-copy" pid
	cp "$XB" "$copy"
	copy_pid() { "$copy" -n "$PFX-host" status --name "$XB_BRIDGE" --json | jq -r '.controller_pid // empty'; }
	"$copy" -n "$PFX-host" up --name "$XB_BRIDGE" eth0 tap0 >/dev/null || fail "up with a copy failed"
	pid=$(copy_pid)
	[[ -n $pid ]] || fail "status does not see the controller a copy named xbr-copy started"
	"$copy" -n "$PFX-host" up --name "$XB_BRIDGE" >/dev/null
	[[ $(copy_pid) == "$pid" ]] || fail "a second up started a second controller"
	[[ $(pgrep -c -f "xbr-copy -n $PFX-host up") -le 1 ]] || fail "two controllers run"
	"$copy" -n "$PFX-host" down --name "$XB_BRIDGE" >/dev/null
	local state
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
	[[ -z $state || $state == Z ]] || fail "down left the controller running (state $state)"
	echo "ok: the controller of a renamed binary is recognised, and stopped by down"
}

test_upgrade_without_loss() {
	require_tools jq
	[[ -f ${XB_BPF_OBJECT:-} ]] || skip "XB_BPF_OBJECT (the built datapath object) is not set"
	standard_bridge
	assert_ping g0 "$TOPO_OUT_IP"
	local id0 id1 id2 rx0
	id0=$(in_ns host ip -j link show tap0 | jq '.[0].xdp.prog.id')
	rx0=$(counter tap0 rx_packets)
	ping_bg g0 "$TOPO_OUT_IP" 250
	sleep 1
	xb upgrade --name "$XB_BRIDGE" >/dev/null || fail "upgrade (built-in object) failed"
	id1=$(in_ns host ip -j link show tap0 | jq '.[0].xdp.prog.id')
	sleep 1
	xb upgrade --name "$XB_BRIDGE" --object "$XB_BPF_OBJECT" >/dev/null || fail "upgrade --object failed"
	id2=$(in_ns host ip -j link show tap0 | jq '.[0].xdp.prog.id')
	ping_no_loss g0
	[[ $id0 != "$id1" && $id1 != "$id2" ]] || fail "the XDP program did not change: $id0 $id1 $id2"
	[[ $(counter tap0 rx_packets) -ge $((rx0 + 250)) ]] || fail "counters were reset"
	assert_ping out "$G1"
	echo "ok: programs $id0 -> $id1 -> $id2 replaced under a 50/s ping; FDB and counters kept"
	expect_error "cannot open the datapath object /nonexistent.o" xb upgrade --name "$XB_BRIDGE" --object /nonexistent.o
	printf '\177ELF not really' >"$TOPO_TMP/junk.o"
	expect_error "$TOPO_TMP/junk.o: BPF object format invalid" xb upgrade --name "$XB_BRIDGE" --object "$TOPO_TMP/junk.o"
	assert_ping g0 "$TOPO_OUT_IP"
}

test_controller_follows_an_upgrade() {
	require_tools jq bpftool
	standard_bridge
	local pair before pinned after t
	pair=$(xb status --name "$XB_BRIDGE" --json | jq -r .host_pair)
	[[ $pair == xbh* ]] || fail "the bridge has no host pair: $pair"
	before=$(in_ns host ip -j link show "${pair}p" | jq '.[0].xdp.prog.id')
	xb upgrade --name "$XB_BRIDGE" >/dev/null || fail "upgrade failed"
	pinned=$(in_ns host ip -j link show "${pair}p" | jq '.[0].xdp.prog.id')
	[[ $pinned != "$before" ]] || fail "upgrade left the host pair on program $before"
	step "the host pair is deleted; the controller, started before the upgrade, makes it again"
	in_ns host ip link del "$pair"
	for ((t = 0; t < 100 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .host_pair) == "$pair" ]] && break
		sleep 0.1
	done
	after=$(in_ns host ip -j link show "${pair}p" 2>/dev/null | jq '.[0].xdp.prog.id')
	[[ $after == "$pinned" ]] || fail "the pair made again runs program $after, not the upgraded $pinned"
	assert_ping g1 "$TOPO_HOST_IP"
	echo "ok: what the controller attaches after an upgrade is the upgraded program ($before -> $pinned)"
	# And it holds no program of before the upgrade: not one opened by the `up` that
	# spawned it (its descriptors are not the daemon's), nor its own from before.
	local pid held current stale
	pid=$(controller_pid)
	# A descriptor the controller closes between the glob and grep's read (its resync
	# opens and closes some) makes grep exit 2, which pipefail and set -e turned into a
	# silent failure of this test: what grep read is what counts.
	held=$({ grep -h '^prog_id:' /proc/"$pid"/fdinfo/* 2>/dev/null || true; } | awk '{print $2}' | sort -un)
	current=$(for f in "$(topo_pins)/$XB_BRIDGE"/prog_*; do
		bpftool prog show pinned "$f" -j | jq .id
	done | sort -un)
	[[ -n $held ]] || fail "the controller (pid $pid) holds no program at all"
	stale=$(comm -23 <(echo "$held") <(echo "$current"))
	[[ -z $stale ]] || fail "the controller still holds programs of before the upgrade: ${stale//$'\n'/ }"
	echo "ok: the controller holds only the upgraded programs"
}

test_bridge_from_before_the_flow_cache() {
	standard_bridge
	# A bridge made by a build without the flow cache has no flow_cache pin: this build
	# must still manage it (status, upgrade, down), not call it incomplete.
	local pin
	pin=$(topo_pins)/$XB_BRIDGE/flow_cache
	[[ -e $pin ]] || fail "no flow_cache pin to start with"
	rm "$pin"
	xb status --name "$XB_BRIDGE" >/dev/null || fail "status of a bridge without flow_cache failed"
	[[ -e $pin ]] || fail "the flow_cache pin was not recreated"
	xb upgrade --name "$XB_BRIDGE" >/dev/null || fail "upgrade onto the recreated flow_cache failed"
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping out "$G1"
	echo "ok: the missing flow_cache pin was recreated, the upgraded bridge forwards"
}

# map_field PIN FIELD: one field of a pinned map, as `bpftool map show` gives it.
map_field() { bpftool map show pinned "$1" -j | jq ".$2"; }

# standin_map PIN NAME VALUE_SIZE ENTRIES: pins at PIN a per-CPU array as another build
# would have made map NAME, with values of VALUE_SIZE bytes.
standin_map() {
	bpftool map create "$1" type percpu_array key 4 value "$3" entries "$4" name "$2" ||
		fail "cannot create the stand-in $2 map"
}

test_bridge_with_a_flow_cache_of_another_layout() {
	require_tools bpftool jq
	standard_bridge
	# A bridge made by a build whose flow cache entries had another size (as before the
	# VLAN classification moved into them) is managed, and an upgrade gives its programs
	# a new cache of this build's layout, rather than refusing the bridge.
	local pin vs entries
	pin=$(topo_pins)/$XB_BRIDGE/flow_cache
	vs=$(map_field "$pin" bytes_value)
	entries=$(map_field "$pin" max_entries)
	rm "$pin"
	standin_map "$pin" flow_cache $((vs - 8)) "$entries"
	xb status --name "$XB_BRIDGE" >/dev/null || fail "status refused the older flow cache"
	[[ $(map_field "$pin" bytes_value) == $((vs - 8)) ]] ||
		fail "status replaced the pin: the running programs' cache is another map"
	xb upgrade --name "$XB_BRIDGE" >/dev/null || fail "upgrade refused the older flow cache"
	[[ $(map_field "$pin" bytes_value) == "$vs" ]] ||
		fail "the upgraded bridge's flow cache pin is not of this build's layout"
	local id used
	id=$(map_field "$pin" id)
	used=$(bpftool prog show pinned "$(topo_pins)/$XB_BRIDGE/prog_xb_xdp_ingress" -j | jq '.map_ids[]')
	matches "^$id\$" <<<"$used" || fail "the new XDP program does not use the pinned flow cache"
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping out "$G1"
	echo "ok: upgraded onto a new flow cache of $vs-byte entries, and forwarding"
}

test_bridge_of_another_build() {
	require_tools bpftool jq
	standard_bridge
	# A bridge made by a build with other map layouts, or of another datapath ABI, is
	# refused with one line naming the difference - not misread: a lookup copies the
	# pinned map's value size into this build's struct - and left as it is.
	local dir vs entries
	dir=$(topo_pins)/$XB_BRIDGE
	vs=$(map_field "$dir/stats" bytes_value)
	entries=$(map_field "$dir/stats" max_entries)
	step "its stats map holds $((vs + 8))-byte values"
	mv "$dir/stats" "$dir/stats_orig"
	standin_map "$dir/stats" stats $((vs + 8)) "$entries"
	expect_error "its map stats has $((vs + 8))-byte values, this build's $vs" xb status --name "$XB_BRIDGE"
	expect_error "was made by an incompatible xbridge" xb down --name "$XB_BRIDGE"
	expect_error "was made by an incompatible xbridge" xb upgrade --name "$XB_BRIDGE"
	rm "$dir/stats"
	mv "$dir/stats_orig" "$dir/stats"
	xb status --name "$XB_BRIDGE" >/dev/null || fail "status failed with the bridge's own stats map"
	assert_ping g0 "$TOPO_OUT_IP"

	step "its config says datapath ABI 99"
	local abi=() rest=() # the config's abi_version (its first 4 bytes), and the bytes after
	mapfile -t abi < <(bpftool map lookup pinned "$dir/config" key 0 0 0 0 -j | jq -r '.value[:4][]')
	mapfile -t rest < <(bpftool map lookup pinned "$dir/config" key 0 0 0 0 -j | jq -r '.value[4:][]')
	((${#rest[@]} > 0)) || fail "cannot read the config map"
	bpftool map update pinned "$dir/config" key 0 0 0 0 value 99 0 0 0 "${rest[@]}"
	expect_error "was made by an xbridge of datapath ABI 99, this one speaks ABI $((abi[0]))" \
		xb status --name "$XB_BRIDGE"
	expect_error "datapath ABI 99" xb restart --name "$XB_BRIDGE"
	bpftool map update pinned "$dir/config" key 0 0 0 0 value "${abi[@]}" "${rest[@]}"
	xb status --name "$XB_BRIDGE" >/dev/null || fail "status failed with the bridge's own ABI"
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping out "$G1"
	echo "ok: refused with one line and left forwarding, then managed again once restored"
}

test_down_after_its_namespace_was_deleted() {
	require_tools jq
	topo_create 0
	xb up --name "$XB_BRIDGE" --uplink none --metrics off tap0 >/dev/null
	local pid
	pid=$(xb status --name "$XB_BRIDGE" --json | jq .controller_pid)
	# `ip netns del` does not end a namespace a process is in: the bridge's own controller
	# keeps it. From outside, the bridge is an orphan all the same, and down takes it -
	# unless the controller, which takes such a bridge down itself (test_netns), was first.
	ip netns del "$PFX-host"
	if ! "$XB" down --name "$XB_BRIDGE" >/dev/null 2>"$TOPO_TMP/down.err"; then
		grep -q "no bridge named" "$TOPO_TMP/down.err" ||
			fail "down of the bridge whose namespace was deleted failed: $(cat "$TOPO_TMP/down.err")"
	fi
	[[ ! -e $(topo_pins)/$XB_BRIDGE ]] || fail "its pins are left"
	local t
	for ((t = 0; t < 50; t++)); do
		process_running "$pid" || break
		sleep 0.1
	done
	process_running "$pid" && fail "its controller still runs"
	echo "ok: taken down from outside; controller stopped, pins removed"
}

test_concurrent_commands() {
	require_tools jq
	standard_bridge
	local i pids=()
	for ((i = 0; i < 20; i++)); do
		xb fdb add --name "$XB_BRIDGE" "02:00:00:5b:00:$(printf %02x "$i")" dev tap$((i % 2)) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || fail "a concurrent fdb add failed"
	done
	[[ $(xb fdb show --name "$XB_BRIDGE" --json | jq '[.[] | select(.type == "static")] | length') -eq 20 ]] ||
		fail "not all 20 concurrent static entries are there"
	echo "ok: 20 concurrent fdb adds"
	step "an up and a down at once"
	for i in 1 2 3; do
		xb up --name "${XB_BRIDGE}c" --metrics off --uplink none tap7 >/dev/null 2>&1 &
		local up=$!
		xb down --name "${XB_BRIDGE}c" >/dev/null 2>&1 &
		local down=$!
		wait $up $down || true
		if [[ -d /sys/fs/bpf/xbridge/${XB_BRIDGE}c ]]; then
			[[ $(xb status --name "${XB_BRIDGE}c" --json | jq -r '[.ports[].name] | join(" ")') == tap7 ]] ||
				fail "round $i: a half-made bridge"
			[[ -n $(xb status --name "${XB_BRIDGE}c" --json | jq -r '.controller_pid // empty') ]] ||
				fail "round $i: a bridge without its controller"
			xb down --name "${XB_BRIDGE}c" >/dev/null
		fi
		in_ns host ip link show tap7 >/dev/null 2>&1 && fail "round $i: tap7 outlived its bridge"
		echo "ok: round $i consistent"
	done
}

test_host_pair_is_made_again() {
	require_tools jq
	standard_bridge
	local pair t
	pair=$(xb status --name "$XB_BRIDGE" --json | jq -r .host_pair)
	[[ $pair == xbh* ]] || fail "the bridge has no host pair: $pair"
	in_ns host ip link show "$pair" >/dev/null || fail "$pair is not in the host's namespace"
	step "$pair is deleted behind the bridge's back"
	in_ns host ip link del "$pair"
	# Meanwhile the host still hears broadcasts (at TC); the controller makes the pair again.
	assert_ping g0 "$TOPO_HOST_IP"
	for ((t = 0; t < 100 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .host_pair) == "$pair" ]] && break
		sleep 0.1
	done
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .host_pair) == "$pair" ]] ||
		fail "the controller did not make $pair again"
	grep -q "made $pair again" "/run/xbridge/$XB_BRIDGE.log" || fail "the controller did not log it"
	in_ns host ip neigh flush dev eth0
	in_ns g1 ip neigh flush dev eth0
	assert_ping g1 "$TOPO_HOST_IP"
	echo "ok: made again by the controller; the guests' ARP reaches the host through it"
}

test_ports_come_and_go() {
	require_tools jq
	standard_bridge
	assert_ping out "$G0"
	step "the guest's QEMU exits: its tap loses its reader"
	topo_stop_guest 0
	local t
	for ((t = 0; t < 30 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ $(port_field tap0 state) == down ]] && break
		sleep 0.1
	done
	[[ $(port_field tap0 state) == down ]] ||
		fail "tap0 is not down without a reader"
	if [[ -e /sys/kernel/btf/vmlinux ]]; then
		local nr0
		nr0=$(xb stats --name "$XB_BRIDGE" --json | jq '.ports[] | select(.name=="tap0") | .drops.no_reader')
		in_ns out "$XB_FRAMES" --dev eth0 --src "$TOPO_OUT_MAC" --dst "$(topo_guest_mac 0)" --count 10
		sleep 0.3
		[[ $(($(xb stats --name "$XB_BRIDGE" --json | jq '.ports[] | select(.name=="tap0") | .drops.no_reader') - nr0)) -eq 10 ]] ||
			fail "frames for the reader-less tap were not counted as no_reader drops"
		echo "ok: frames for a tap without a reader are refused by it and counted"
	fi
	topo_start_guest 0
	assert_ping out "$G0"
	echo "ok: QEMU back on the same tap: traffic resumes"

	step "the tap is deleted and created again (QEMU making its own tap)"
	topo_stop_guest 0
	in_ns host ip link del tap0
	for ((t = 0; t < 30 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ $(port_field tap0 state) == absent ]] && break
		sleep 0.1
	done
	[[ $(port_field tap0 state) == absent ]] ||
		fail "tap0 is not shown absent"
	xb fdb show --name "$XB_BRIDGE" | matches " tap0 " && fail "entries of the deleted tap remain"
	in_ns host ip tuntap add dev tap0 mode tap
	topo_start_guest 0
	for ((t = 0; t < 50 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ $(port_field tap0 state) == up ]] && break
		sleep 0.1
	done
	assert_ping out "$G0"
	echo "ok: the new tap0 was re-attached by itself: traffic resumes"

	step "a port renamed"
	topo_stop_guest 1
	in_ns host ip link set tap1 down
	in_ns host ip link set tap1 name guest1
	in_ns host ip link set guest1 up
	for ((t = 0; t < 30 * ${XB_TIME_SCALE:-1}; t++)); do
		xb status --name "$XB_BRIDGE" --json | jq -e 'any(.ports[]; .name == "guest1")' >/dev/null && break
		sleep 0.1
	done
	xb status --name "$XB_BRIDGE" --json | jq -e 'any(.ports[]; .name == "guest1")' >/dev/null ||
		fail "the renamed port is not shown under its new name"
	echo "ok: renamed port followed"

	step "a port moved to another namespace"
	ip netns add "$PFX-else"
	in_ns host ip link set guest1 netns "$PFX-else"
	for ((t = 0; t < 30 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ $(port_field guest1 state) == absent ]] && break
		sleep 0.1
	done
	[[ $(port_field guest1 state) == absent ]] ||
		fail "the moved port is not shown absent"
	ip -n "$PFX-else" link show guest1 | matches xdp && fail "the moved device still runs xbridge's XDP program"
	echo "ok: the moved port left the bridge, without our programs"
	assert_ping out "$G0"
}

test_every_command_refuses_bad_input() {
	require_tools jq
	standard_bridge
	expect_error "invalid MAC address '52:54:00:zz:00:01'" xb fdb add --name "$XB_BRIDGE" 52:54:00:zz:00:01 dev tap0
	expect_error "invalid MAC address 'x'" xb fdb del --name "$XB_BRIDGE" x
	expect_error "--mac: 'nope' is not a MAC address" xb trace --name "$XB_BRIDGE" --mac nope
	expect_error "VLAN '4095' is out of range" xb fdb del --name "$XB_BRIDGE" --vlan 4095 02:00:00:00:00:01
	expect_error "VLAN '-1' is out of range" xb fdb add --name "$XB_BRIDGE" --vlan -1 02:00:00:00:00:01 dev tap0
	expect_error "tap9 is not a port of bridge" xb fdb show --name "$XB_BRIDGE" --port tap9
	expect_error "tap9 is not a port of bridge" xb stats --name "$XB_BRIDGE" --port tap9
	expect_error "tap9 is not a port of bridge" xb trace --name "$XB_BRIDGE" --port tap9
	expect_error "tap9 is not a port of bridge" xb fdb flush --name "$XB_BRIDGE" --port tap9
	expect_error "no bridge named nosuch" xb fdb show --name nosuch
	expect_error "no bridge named nosuch" xb stats --name nosuch
	expect_error "no bridge named nosuch" xb upgrade --name nosuch
	expect_error "--fdb-size: '5' is not a number from 16" xb up --name "${XB_BRIDGE}x" --fdb-size 5 tap5
	expect_error "--ageing-time: '-1' is not a number" xb up --name "${XB_BRIDGE}x" --ageing-time -1 tap5
	expect_error "--max-learned: 'many' is not a number" xb up --name "${XB_BRIDGE}x" --max-learned many tap5
	expect_error "--watch: '0' is not a number from 1" xb stats --name "$XB_BRIDGE" --watch 0
	expect_error "--count: '0' is not a number from 1" xb trace --name "$XB_BRIDGE" --count 0
	expect_error "max-learned: '99999999999' is not a number" xb set --name "$XB_BRIDGE" max-learned 99999999999
	expect_error "invalid interface name 'abcdefghijklmnopq'" xb up --name "$XB_BRIDGE" abcdefghijklmnopq
	expect_error "invalid bridge name 'abcdefghijklmnopq'" xb status --name abcdefghijklmnopq
	local many=() i
	for ((i = 0; i < 300; i++)); do many+=("t$i"); done
	expect_error "too many ports: 300 (at most 255)" xb up --name "${XB_BRIDGE}x" "${many[@]}"
	expect_error "The following argument was not expected" xb status --name "$XB_BRIDGE" --colour
	expect_error "invalid interface name 'tap%d'" xb up --name "$XB_BRIDGE" 'tap%d'
	in_ns host ip link show tap2 >/dev/null 2>&1 && fail "a refused 'tap%d' created tap2"
	# Options that shape a new bridge, or a running controller, are not silently ignored.
	expect_error "exists: --fdb-size, --ageing-time only shape a new bridge" \
		xb up --name "$XB_BRIDGE" --fdb-size 100 --ageing-time 10 tap5
	expect_error "exists: --vlan-filtering only shapes a new bridge" \
		xb up --name "$XB_BRIDGE" --vlan-filtering tap5
	expect_error "controller serves metrics on 127.0.0.1:9477" xb up --name "$XB_BRIDGE" --metrics 127.0.0.1:9598
	xb up --name "${XB_BRIDGE}n" --uplink none --metrics off tap6 >/dev/null
	expect_error "tap6 is already a port of bridge ${XB_BRIDGE}n, not its uplink" xb up --name "${XB_BRIDGE}n" --uplink tap6 tap6
	xb down --name "${XB_BRIDGE}n" >/dev/null
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .ageing_time) == 300 ]] || fail "a refused up changed the ageing time"
	[[ ! -e /sys/fs/bpf/xbridge/${XB_BRIDGE}x ]] || fail "a refused command created a bridge"
	in_ns host ip link show tap5 >/dev/null 2>&1 && fail "a refused command created tap5"
	assert_ping g0 "$G1"
	echo "ok: every bad input refused with one line, nothing changed"
}

# The bridge lock is shared by the commands and ageing sweeps of every bridge on the
# host. A link change the controller sees while another holds it is applied as soon
# as the lock is free again, not at the next periodic resync (up to 5 s later).
test_link_change_while_the_lock_is_busy() {
	require_tools jq flock
	standard_bridge
	local t
	step "tap1's MTU changes while another command holds the lock"
	hold_lock 2
	in_ns host ip link set tap1 mtu 1400
	sleep 0.5
	[[ $(port_field tap1 mtu) -eq 1500 ]] || fail "the change went in under another's lock: mtu $(port_field tap1 mtu)"
	wait "$LOCK_PID"
	for ((t = 0; t < 15 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ $(port_field tap1 mtu) -eq 1400 ]] && break
		sleep 0.1
	done
	[[ $(port_field tap1 mtu) -eq 1400 ]] || fail "tap1's MTU was not applied once the lock was free"
	grep -q "held back while the bridge lock was busy are applied" "/run/xbridge/$XB_BRIDGE.log" ||
		fail "the controller did not log the change it held back"
	echo "ok: applied when the lock came free, and logged"
}
