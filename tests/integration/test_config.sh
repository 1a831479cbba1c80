# shellcheck shell=bash
# `xbridge apply` and `status --config`: a bridge made and changed from its file, twice
# without a change, a file with an error refused with nothing changed, a failure half-way
# rolled back, the running bridge printed as a file that applies without a change.

# write_config [LINES...]: $TOPO_TMP/$XB_BRIDGE.toml: the standard bridge (eth0, taps
# tap0 and tap1) and whatever lines follow.
write_config() {
	CONFIG=$TOPO_TMP/$XB_BRIDGE.toml
	{
		echo 'uplink = "eth0"'
		echo 'metrics = "off"'
		printf '%s\n' "$@"
	} >"$CONFIG"
}

# The bridge as a file, its FDB, and the host's devices: what must not change.
snapshot() {
	{
		xb status --name "$XB_BRIDGE" --config
		xb fdb show --name "$XB_BRIDGE" | grep -v ' dynamic '
		in_ns host ip -br link | awk '{print $1, $3}' | sort
	} >"$TOPO_TMP/$1"
}

apply_ok() {
	xb apply -f "$CONFIG" >"$TOPO_TMP/apply.out" 2>&1 || fail "apply failed: $(cat "$TOPO_TMP/apply.out")"
	cat "$TOPO_TMP/apply.out"
}

test_apply_creates_converges_and_is_idempotent() {
	require_tools jq
	topo_create 3
	write_config '[ports.tap0]' 'tap = {}' '[ports.tap1]' 'tap = { queues = 4, mtu = 1400 }' \
		'locked = true' '[[fdb]]' "mac = \"$(topo_guest_mac 1)\"" 'port = "tap1"'
	apply_ok | matches "^$XB_BRIDGE: bridge $XB_BRIDGE created$" || fail "apply did not create the bridge"
	[[ $(port_field tap1 mtu) == 1400 ]] || fail "tap1's MTU is not the file's 1400"
	in_ns host ip -d link show tap1 | matches multi_queue || fail "tap1 is not multi-queue"
	[[ -n $(controller_pid) ]] || fail "apply started no controller"
	topo_start_guest 0 || fail "guest 0 did not start"
	topo_start_guest 1 --queues 4 || fail "guest 1 did not start"
	in_ns g1 ip link set eth0 mtu 1400
	assert_ping out "$(topo_guest_ip 0)"
	assert_ping out "$(topo_guest_ip 1)"
	echo "ok: the bridge the file describes forwards (tap1 locked, its guest's MAC static)"

	[[ $(apply_ok) == "$XB_BRIDGE: nothing changed" ]] || fail "a second apply changed something"
	echo "ok: a second apply changes nothing"

	# Change every kind of setting while guest 0 pings the outside PC: its port is not
	# touched, and it loses nothing.
	write_config 'ageing-time = 120' 'max-learned = 500' '[ports.eth0]' 'storm-limit = 50000' \
		'[ports.tap0]' 'tap = {}' '[ports.tap2]' 'tap = {}' 'isolated = true' \
		'[[fdb]]' 'mac = "02:00:00:00:00:aa"' 'port = "tap2"'
	in_ns g0 ping -c 40 -i 0.05 -q "$TOPO_OUT_IP" >"$TOPO_TMP/ping.out" 2>&1 &
	local ping=$!
	sleep 0.5
	apply_ok >"$TOPO_TMP/changes"
	cat "$TOPO_TMP/changes"
	wait "$ping" || fail "guest 0 lost pings while apply changed other ports: $(cat "$TOPO_TMP/ping.out")"
	grep -q ' 0% packet loss' "$TOPO_TMP/ping.out" || fail "guest 0 lost pings: $(cat "$TOPO_TMP/ping.out")"
	echo "ok: guest 0 lost nothing while apply changed the bridge around it"
	local want
	for want in "tap tap2 created" "port tap2 added" "port tap1 removed" "ageing-time 120" \
		"max-learned 500" "port eth0: storm-limit 50000" "fdb 02:00:00:00:00:aa on tap2"; do
		grep -qx "$XB_BRIDGE: $want" "$TOPO_TMP/changes" || fail "apply did not report '$want'"
	done
	in_ns host ip link show tap1 >/dev/null 2>&1 && fail "tap1, made by apply, outlived its removal"
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .ageing_time) == 120 ]] || fail "ageing time not 120"
	xb status --name "$XB_BRIDGE" | grep '^tap2 ' | matches isolated || fail "tap2 is not isolated"
	xb fdb show --name "$XB_BRIDGE" | matches '02:00:00:00:00:aa tap2 .*static' || fail "no static entry on tap2"
	xb fdb show --name "$XB_BRIDGE" | matches "$(topo_guest_mac 1)" && fail "tap1's static entry outlived it"
	[[ $(apply_ok) == "$XB_BRIDGE: nothing changed" ]] || fail "a second apply of the new file changed something"
	echo "ok: the changed file applied, and a second time changes nothing"
}

test_status_config_round_trip() {
	topo_create 2
	write_config 'ageing-time = 0' 'max-learned = 10' '[ports.eth0]' 'hairpin = true' \
		'[ports.tap0]' 'tap = { user = "nobody", queues = 2, mtu = 9000 }' 'flood = false' \
		'mcast-flood = false' '[ports.tap1]' 'tap = {}' 'storm-limit = 7' \
		'[[fdb]]' 'mac = "02:00:00:00:00:01"' 'port = "tap0"' 'vlan = 7'
	apply_ok >/dev/null
	xb status --name "$XB_BRIDGE" --config >"$TOPO_TMP/printed.toml" || fail "status --config failed"
	cat "$TOPO_TMP/printed.toml"
	grep -q 'user = "nobody"' "$TOPO_TMP/printed.toml" || fail "the tap's owner is not printed"
	grep -q 'queues = 2' "$TOPO_TMP/printed.toml" || fail "the multi-queue tap is not printed as such"
	snapshot before
	local out
	out=$(xb apply -f "$TOPO_TMP/printed.toml") || fail "the printed file does not apply"
	[[ $out == "$XB_BRIDGE: nothing changed" ]] || fail "the printed file changed the bridge: $out"
	snapshot after
	diff "$TOPO_TMP/before" "$TOPO_TMP/after" || fail "the bridge differs after applying its own file"
	# A bridge made by up, changed by port set and fdb add, prints as a file too.
	xb down --name "$XB_BRIDGE" >/dev/null
	xb up --name "$XB_BRIDGE" --metrics off eth0 tap0 tap1 >/dev/null || fail "up failed"
	xb port set tap1 locked on --name "$XB_BRIDGE"
	xb fdb add 02:00:00:00:00:02 dev tap1 --name "$XB_BRIDGE"
	xb status --name "$XB_BRIDGE" --config >"$TOPO_TMP/printed2.toml"
	out=$(xb apply -f "$TOPO_TMP/printed2.toml") || fail "the printed file of an up bridge does not apply"
	[[ $out == "$XB_BRIDGE: nothing changed" ]] || fail "the printed file changed the bridge: $out"
	echo "ok: status --config prints a file that apply takes without a change"
}

test_apply_refuses_bad_files_whole() {
	topo_create 1
	local f=$TOPO_TMP/$XB_BRIDGE.toml
	printf 'uplink = "eth0"\n[ports.tap0]\ntap = {}\nlocked = "yes"\n' >"$f"
	expect_error "$f:4: locked must be true or false" xb apply -f "$f"
	printf 'uplink = "eth0"\n[ports.tap0\n' >"$f"
	expect_error "$f:2: " xb apply -f "$f"
	printf 'uplink = "eth0"\n\n[ports.nosuch0]\n' >"$f"
	expect_error "$f:3: nosuch0: no such device" xb apply -f "$f"
	printf 'uplink = "eth0"\n[ports.tap0]\ntap = { user = "no-such-user-xb" }\n' >"$f"
	expect_error "$f:2: ports.tap0.tap: unknown user 'no-such-user-xb'" xb apply -f "$f"
	[[ -d $(topo_pins)/$XB_BRIDGE ]] && fail "a refused file left a bridge"
	in_ns host ip link show tap0 >/dev/null 2>&1 && fail "a refused file left a tap"
	echo "ok: files with an error change nothing"

	write_config '[ports.tap0]' 'tap = {}' '[ports.tap6]' 'tap = { queues = 2, mtu = 1300 }' \
		'hairpin = true' '[[fdb]]' 'mac = "02:00:00:00:00:06"' 'port = "tap6"'
	apply_ok >/dev/null
	printf 'uplink = "eth0"\nfdb-size = 1024\n' >"$f"
	expect_error "$f:2: fdb-size 1024: bridge $XB_BRIDGE has 65536" xb apply -f "$f"
	printf 'uplink = "none"\n' >"$f"
	expect_error "$f:1: uplink none: bridge $XB_BRIDGE has eth0" xb apply -f "$f"

	# A failure half-way: the new port, the flags, the ageing time, the MTU, tap0's VLANs
	# and rate limit, VLAN filtering and snooping turned on, and the removal of tap6 (with
	# its static entry, VLANs and allowed address) are done before the static entry for
	# eth0's own address is refused; all are undone (tap6 made again, with its address).
	xb vlan add dev tap6 vid 6 --name "$XB_BRIDGE"
	xb port set tap6 allowed-ip 10.0.0.6 --name "$XB_BRIDGE"
	snapshot before
	local eth0_mac
	eth0_mac=$(in_ns host cat /sys/class/net/eth0/address)
	write_config 'ageing-time = 5' 'vlan-filtering = true' 'mcast-snooping = true' \
		'[ports.eth0]' 'locked = true' '[ports.tap0]' 'tap = { mtu = 1280 }' \
		'vlans = ["5 pvid untagged"]' 'rate-limit = "100pps"' '[ports.tap5]' 'tap = {}' \
		'[[fdb]]' "mac = \"$eth0_mac\"" 'port = "tap5"'
	expect_error "$CONFIG:14: $eth0_mac is the address of port eth0" xb apply -f "$CONFIG"
	snapshot after
	diff "$TOPO_TMP/before" "$TOPO_TMP/after" || fail "the failed apply left changes"
	echo "ok: a failure half-way is rolled back whole"
}

test_apply_by_name_adopts_and_moves_metrics() {
	require_tools curl
	topo_create 1
	export XBRIDGE_CONFIG_DIR=$TOPO_TMP
	CONFIG=$TOPO_TMP/$XB_BRIDGE.toml
	printf 'uplink = "eth0"\nmetrics = "127.0.0.1:19611"\n[ports.tap0]\ntap = {}\n' >"$CONFIG"
	xb apply --name "$XB_BRIDGE" >/dev/null || fail "apply --name failed"
	grep -q xbridge_port <<<"$(in_ns host curl -sf http://127.0.0.1:19611/metrics)" || fail "no metrics on 19611"
	sed -i 's/19611/19612/' "$CONFIG"
	xb apply --name "$XB_BRIDGE" | matches -x "$XB_BRIDGE: metrics 127.0.0.1:19612" || fail "apply did not move the metrics"
	local t
	for ((t = 0; t < 50; t++)); do
		in_ns host curl -sf http://127.0.0.1:19612/metrics >/dev/null 2>&1 && break
		sleep 0.1
	done
	grep -q xbridge_port <<<"$(in_ns host curl -sf http://127.0.0.1:19612/metrics)" || fail "no metrics on 19612"
	in_ns host curl -sf http://127.0.0.1:19611/metrics >/dev/null 2>&1 && fail "19611 still serves"
	echo "ok: the running controller moved its metrics endpoint"

	local pid
	pid=$(controller_pid)
	kill_controller
	xb apply --name "$XB_BRIDGE" >"$TOPO_TMP/out" || fail "apply of a bridge without controller failed"
	grep -q "controller started" "$TOPO_TMP/out" || fail "apply started no controller: $(cat "$TOPO_TMP/out")"
	[[ -n $(controller_pid) && $(controller_pid) != "$pid" ]] || fail "no new controller"
	echo "ok: apply adopts a bridge whose controller is gone"
}

# vlans PORT: a port's (or the host's) VLANs as `vlan show --json` gives them, one line.
vlans() { xb vlan show --name "$XB_BRIDGE" --port "$1" --json | jq -c '.[0].vlans'; }

# xdp_id DEV: the id of the XDP program attached to a device of the host namespace.
xdp_id() { in_ns host ip -d link show "$1" | grep -o 'prog/xdp id [0-9]*'; }

test_apply_vlans_policy_multicast() {
	require_tools jq
	topo_create 3
	local g0ip g2ip
	g0ip=$(topo_guest_ip 0)
	g2ip=$(topo_guest_ip 2)
	# tap1 and tap2 share VLAN 20 (their guests ping each other while tap0 changes);
	# tap0 is an access port of VLAN 10, the uplink a trunk, the host on VLANs 1 and 10.
	local common=('vlan-filtering = true' 'host-vlans = ["1 pvid untagged", "10"]'
		'mcast-snooping = true' 'mcast-querier = true' 'mcast-membership-interval = 100'
		'mcast-igmp-version = 3' 'mcast-mld-version = 2'
		'[ports.eth0]' 'vlans = ["1 pvid untagged", "10", "20-22"]'
		'[ports.tap1]' 'tap = {}' 'vlans = ["20 pvid untagged"]' 'mcast-router = true'
		'[ports.tap2]' 'tap = {}' 'vlans = ["20 pvid untagged"]' 'dhcp-server = true')
	write_config "${common[@]}" '[ports.tap0]' 'tap = {}' 'vlans = ["10 pvid untagged"]' \
		'rate-limit = "1000pps"' "allowed-ip = [\"$g0ip\"]" 'bpdu-guard = true'
	apply_ok >/dev/null
	step "the file's VLANs, policy and multicast settings on a new bridge"
	xb vlan show --name "$XB_BRIDGE"
	xb status --name "$XB_BRIDGE"
	[[ $(vlans tap0) == '[{"vlan":10,"flags":["PVID","Egress Untagged"]}]' ]] || fail "tap0's VLANs: $(vlans tap0)"
	[[ $(vlans eth0) == '[{"vlan":1,"flags":["PVID","Egress Untagged"]},{"vlan":10},{"vlan":20},{"vlan":21},{"vlan":22}]' ]] ||
		fail "eth0's VLANs: $(vlans eth0)"
	[[ $(vlans host) == '[{"vlan":1,"flags":["PVID","Egress Untagged"]},{"vlan":10}]' ]] || fail "the host's VLANs: $(vlans host)"
	[[ $(vlans tap2) == '[{"vlan":20,"flags":["PVID","Egress Untagged"]}]' ]] || fail "tap2's VLANs: $(vlans tap2)"
	xb status --name "$XB_BRIDGE" --json >"$TOPO_TMP/status.json"
	[[ $(jq -c '[.vlan_filtering, .vlan_protocol, .mcast_snooping, .mcast_querier, .mcast_membership_interval, .mcast_igmp_version, .mcast_mld_version]' \
		"$TOPO_TMP/status.json") == '[true,"802.1Q",true,true,100,3,2]' ]] ||
		fail "bridge settings: $(jq -c . "$TOPO_TMP/status.json")"
	local f0
	f0=$(xb status --name "$XB_BRIDGE" | awk '$1 == "tap0"')
	[[ $f0 == *"rate-limit=1000pps burst 100"* ]] || fail "tap0 has no rate limit: $f0"
	[[ $f0 == *"allowed-ip=$g0ip"* && $f0 == *bpdu-guard* && $f0 == *ra-guard* ]] || fail "tap0's policy: $f0"
	xb status --name "$XB_BRIDGE" | awk '$1 == "tap2"' | matches dhcp-server || fail "tap2 is no dhcp-server port"
	xb mdb show --name "$XB_BRIDGE" | matches 'tap1 permanent' || fail "tap1 is no router port: $(xb mdb show --name "$XB_BRIDGE")"
	[[ $(apply_ok) == "$XB_BRIDGE: nothing changed" ]] || fail "a second apply changed something"
	echo "ok: VLANs, policy and snooping as the file says; a second apply changes nothing"

	step "tap0 and the bridge change; tap1 and tap2 are not touched"
	topo_start_guest 1 || fail "guest 1 did not start"
	topo_start_guest 2 || fail "guest 2 did not start"
	assert_ping g1 "$g2ip"
	local xdp1 xdp2 rx2
	xdp1=$(xdp_id tap1)
	xdp2=$(xdp_id tap2)
	rx2=$(counter tap2 rx_packets)
	write_config "${common[@]/mcast-snooping = true/mcast-snooping = false}" '[ports.tap0]' 'tap = {}' \
		'vlans = ["10 pvid untagged", "40"]' 'rate-limit = "2000pps burst 50"' \
		"allowed-ip = [\"$g0ip\", \"fd77::10\"]" 'ra-guard = false'
	sed -i 's/^host-vlans = .*/host-vlans = ["1 pvid untagged"]/' "$CONFIG"
	in_ns g1 ping -c 40 -i 0.05 -q "$g2ip" >"$TOPO_TMP/ping.out" 2>&1 &
	local ping=$!
	sleep 0.5
	apply_ok >"$TOPO_TMP/changes"
	cat "$TOPO_TMP/changes"
	wait "$ping" || fail "guest 1 lost pings to guest 2 while apply changed tap0: $(cat "$TOPO_TMP/ping.out")"
	grep -q ' 0% packet loss' "$TOPO_TMP/ping.out" || fail "guest 1 lost pings: $(cat "$TOPO_TMP/ping.out")"
	local want
	for want in "port tap0: vlans 10 pvid untagged, 40" "port tap0: rate-limit 2000pps burst 50" \
		"port tap0: allowed-ip $g0ip,fd77::10" "port tap0: bpdu-guard off, ra-guard off" "mcast-snooping off" \
		"host-vlans 1 pvid untagged"; do
		grep -qx "$XB_BRIDGE: $want" "$TOPO_TMP/changes" || fail "apply did not report '$want'"
	done
	grep -E "port (tap1|tap2|eth0)" "$TOPO_TMP/changes" && fail "apply changed a port whose settings did not change"
	[[ $(xdp_id tap1) == "$xdp1" && $(xdp_id tap2) == "$xdp2" && -n $xdp2 ]] ||
		fail "tap1/tap2's XDP attachment changed ($xdp1 -> $(xdp_id tap1), $xdp2 -> $(xdp_id tap2))"
	(($(counter tap2 rx_packets) >= rx2 + 40)) || fail "tap2's counters were reset ($rx2 -> $(counter tap2 rx_packets))"
	[[ $(vlans tap0) == '[{"vlan":10,"flags":["PVID","Egress Untagged"]},{"vlan":40}]' ]] || fail "tap0's VLANs: $(vlans tap0)"
	[[ $(vlans host) == '[{"vlan":1,"flags":["PVID","Egress Untagged"]}]' ]] || fail "the host's VLANs: $(vlans host)"
	[[ $(xb status --name "$XB_BRIDGE" --json | jq .mcast_snooping) == false ]] || fail "snooping is still on"
	f0=$(xb status --name "$XB_BRIDGE" | awk '$1 == "tap0"')
	[[ $f0 == *"rate-limit=2000pps burst 50"* && $f0 == *"fd77::10"* && $f0 != *bpdu-guard* && $f0 != *ra-guard* ]] ||
		fail "tap0's policy: $f0"
	[[ $(apply_ok) == "$XB_BRIDGE: nothing changed" ]] || fail "a second apply of the changed file changed something"
	echo "ok: only tap0 and the bridge's settings changed (guest 1 and 2 lost nothing), and again nothing"

	step "set writes what apply reads, in every spelling set takes"
	xb set --name "$XB_BRIDGE" mcast_snooping 1
	xb set --name "$XB_BRIDGE" mcast-membership-interval 200
	xb set --name "$XB_BRIDGE" ageing_time 60
	xb set --name "$XB_BRIDGE" vlan-protocol 802.1AD
	xb set --name "$XB_BRIDGE" max_learned 10
	xb status --name "$XB_BRIDGE" --config >"$TOPO_TMP/set.toml"
	for want in 'mcast-snooping = true' 'mcast-membership-interval = 200' 'ageing-time = 60' 'vlan-protocol = "802.1ad"' 'max-learned = 10'; do
		grep -qx "$want" "$TOPO_TMP/set.toml" || fail "after set, status --config has no '$want': $(cat "$TOPO_TMP/set.toml")"
	done
	apply_ok >"$TOPO_TMP/changes"
	cat "$TOPO_TMP/changes"
	for want in "mcast-snooping off" "mcast-membership-interval 100" "ageing-time 300" "vlan-protocol 802.1q" "max-learned 0"; do
		grep -qx "$XB_BRIDGE: $want" "$TOPO_TMP/changes" || fail "apply did not set back '$want'"
	done
	[[ $(wc -l <"$TOPO_TMP/changes") == 5 ]] || fail "apply changed more than set did"
	echo "ok: the bridge set changed is the file's again after apply, which saw only those five"

	step "bad values are refused with their line, and nothing changes"
	snapshot before
	local bad
	for bad in 'vlans = ["10 pvid untagged", "5000"]|VLAN 5000 is out of range (1-4094)' \
		'rate-limit = "0pps"|not a positive whole number' \
		'allowed-ip = ["10.0.0.256"]|not an IPv4 or IPv6 address' \
		'vlans = ["10-12 pvid"]|a PVID is one VLAN'; do
		write_config "${common[@]}" '[ports.tap0]' 'tap = {}' "${bad%%|*}"
		expect_error "$CONFIG:22: " xb apply -f "$CONFIG" >/dev/null
		expect_error "${bad#*|}" xb apply -f "$CONFIG"
	done
	snapshot after
	diff "$TOPO_TMP/before" "$TOPO_TMP/after" || fail "a refused file changed the bridge"
	echo "ok: files with bad VLANs, rates and addresses change nothing"
	topo_stop_guest 1
	topo_stop_guest 2

	step "status --config round trip, onto a new bridge"
	xb status --name "$XB_BRIDGE" --config >"$TOPO_TMP/printed.toml" || fail "status --config failed"
	cat "$TOPO_TMP/printed.toml"
	[[ $(xb apply -f "$TOPO_TMP/printed.toml") == "$XB_BRIDGE: nothing changed" ]] ||
		fail "the printed file changed the running bridge"
	xb vlan show --name "$XB_BRIDGE" --json >"$TOPO_TMP/vlans.before"
	xb down --name "$XB_BRIDGE" >/dev/null || fail "down failed"
	xb apply -f "$TOPO_TMP/printed.toml" >/dev/null || fail "the printed file does not make a new bridge"
	xb status --name "$XB_BRIDGE" --config >"$TOPO_TMP/printed2.toml"
	diff "$TOPO_TMP/printed.toml" "$TOPO_TMP/printed2.toml" || fail "the new bridge prints differently"
	xb vlan show --name "$XB_BRIDGE" --json >"$TOPO_TMP/vlans.after"
	diff "$TOPO_TMP/vlans.before" "$TOPO_TMP/vlans.after" || fail "the new bridge's VLANs differ"
	echo "ok: status --config prints VLANs, policy and snooping; they make the same bridge again"
}
