# shellcheck shell=bash
# The core bridge end to end: `xbridge up eth0 tap0 tap1` on the namespace topology of
# scripts/lib/topology.sh, guests behind the taps held by xb-tap-relay (QEMU's role).

G0=$(topo_guest_ip 0)
G1=$(topo_guest_ip 1)

test_ping_matrix() {
	standard_bridge
	step "guest -> outside PC, and back"
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping out "$G1"
	step "guest <-> guest"
	assert_ping g0 "$G1"
	assert_ping g1 "$G0"
	step "host <-> guest (the host keeps its address on eth0)"
	assert_ping host "$G0"
	assert_ping g1 "$TOPO_HOST_IP"
	step "outside PC <-> host is untouched"
	assert_ping out "$TOPO_HOST_IP"
}

test_fdb_and_status() {
	require_tools jq
	standard_bridge
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping g1 "$TOPO_OUT_IP"
	local st fdb
	st=$(xb status --name "$XB_BRIDGE" --json)
	[[ $(jq -r .uplink <<<"$st") == eth0 ]] || fail "uplink is not eth0: $st"
	[[ $(jq -r '.ports | map(.name) | join(" ")' <<<"$st") == "eth0 tap0 tap1" ]] ||
		fail "ports: $st"
	[[ $(jq -r '.ports[] | select(.name=="tap0") | "\(.kind) \(.created) \(.state)"' <<<"$st") == "tap true up" ]] ||
		fail "tap0 in status: $st"
	[[ $(jq -r '.ports[] | select(.name=="eth0") | "\(.kind) \(.created) \(.uplink)"' <<<"$st") == "veth false true" ]] ||
		fail "eth0 in status: $st"
	jq -e '.ports | all(.xdp_mode == "native")' <<<"$st" >/dev/null || fail "not native XDP: $st"
	jq -e '.controller_pid > 0' <<<"$st" >/dev/null || fail "no controller: $st"
	echo "ok: status"

	fdb=$(xb fdb show --name "$XB_BRIDGE" --json)
	for n in 0 1; do
		[[ $(jq -r --arg m "$(topo_guest_mac $n)" '.[] | select(.mac==$m) | "\(.port) \(.type) \(.vlan)"' <<<"$fdb") == "tap$n dynamic 0" ]] ||
			fail "guest $n's MAC is not learned on tap$n: $fdb"
	done
	[[ $(jq -r --arg m "$TOPO_OUT_MAC" '.[] | select(.mac==$m) | .port' <<<"$fdb") == eth0 ]] ||
		fail "the outside PC is not learned on eth0: $fdb"
	local host_mac
	host_mac=$(in_ns host cat /sys/class/net/eth0/address)
	[[ $(jq -r --arg m "$host_mac" '.[] | select(.mac==$m) | "\(.port) \(.type)"' <<<"$fdb") == "eth0 local" ]] ||
		fail "the host's MAC is not a local entry on eth0: $fdb"
	echo "ok: fdb show --json"
	xb fdb show --name "$XB_BRIDGE" | matches "$(topo_guest_mac 0) *tap0 *0 dynamic" ||
		fail "text fdb show: $(xb fdb show --name "$XB_BRIDGE")"
	xb fdb show --name "$XB_BRIDGE" --port tap1 | matches "$(topo_guest_mac 0)" &&
		fail "fdb show --port tap1 lists guest 0"
	echo "ok: fdb show"
}

test_arp_broadcast_reaches_everyone() {
	require_tools tcpdump
	standard_bridge
	assert_ping g0 "$TOPO_OUT_IP"
	local pids=() ns
	# An ARP request for an address nobody has: a broadcast from guest 0.
	for ns in out host g1; do
		capture "$ns" "arp and arp[24:4] = 0x0a4d0063" # who-has 10.77.0.99
		pids+=("$CAPTURE_PID")
	done
	capture_settle
	in_ns g0 ping -c2 -W1 -q "$TOPO_NET.99" >/dev/null 2>&1 || true
	local i=0
	for ns in out host g1; do
		capture_wait "${pids[$i]}" "$ns" 5 || fail "the broadcast from g0 did not reach $ns"
		echo "ok: broadcast reached $ns"
		i=$((i + 1))
	done
	step "an ARP from the outside PC reaches both guests"
	pids=()
	for ns in g0 g1; do
		capture "$ns" "arp and arp[24:4] = 0x0a4d0062" # who-has 10.77.0.98
		pids+=("$CAPTURE_PID")
	done
	capture_settle
	in_ns out ping -c2 -W1 -q "$TOPO_NET.98" >/dev/null 2>&1 || true
	i=0
	for ns in g0 g1; do
		capture_wait "${pids[$i]}" "$ns" 5 || fail "the broadcast from the outside did not reach $ns"
		echo "ok: broadcast reached $ns"
		i=$((i + 1))
	done
}

test_unknown_unicast_is_flooded() {
	require_tools tcpdump
	standard_bridge
	assert_ping g0 "$TOPO_OUT_IP"
	local unknown=02:00:00:00:00:98 pids=() ns
	in_ns g0 ip neigh replace "$TOPO_NET.98" lladdr "$unknown" dev eth0 nud permanent
	for ns in out g1; do
		capture "$ns" "ether dst $unknown"
		pids+=("$CAPTURE_PID")
	done
	capture_settle
	in_ns g0 ping -c2 -W1 -q "$TOPO_NET.98" >/dev/null 2>&1 || true
	local i=0
	for ns in out g1; do
		capture_wait "${pids[$i]}" "$ns" 5 || fail "a frame to an unknown MAC was not flooded to $ns"
		echo "ok: unknown unicast flooded to $ns"
		i=$((i + 1))
	done
	step "a learned destination is not flooded"
	assert_ping g0 "$G1"
	capture out "ether dst $(topo_guest_mac 1) and icmp"
	local pid=$CAPTURE_PID
	capture_settle
	in_ns g0 ping -c3 -i0.2 -W1 -q "$G1" >/dev/null
	capture_wait "$pid" out 2 && fail "a frame for guest 1 leaked to the outside port"
	echo "ok: known unicast went only to tap1"
}

test_tcp_transfer() {
	require_tools nc ss
	standard_bridge
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping g0 "$G1"
	transfer g0 out "$TOPO_OUT_IP" 16
	transfer out g1 "$G1" 16
	transfer g1 g0 "$G0" 8
	transfer host g0 "$G0" 8
	transfer g1 host "$TOPO_HOST_IP" 8
}

# What is left on the system by a bridge, for before/after comparisons. The default
# root qdisc a device gets when it first comes up (noop -> noqueue) is the kernel's,
# not ours, and is left out; clsact and every other qdisc count.
system_state() {
	{
		ip -n "$PFX-host" -d link show | grep -v 'link-netns\|alias' |
			sed 's/ state [A-Z]*//; s/ qdisc no[a-z]*//'
		tc -n "$PFX-host" qdisc show | grep -v '^qdisc no[a-z]* 0: dev [^ ]* root'
		[[ ! -e $(topo_pins)/$XB_BRIDGE ]] || echo "pins: $XB_BRIDGE"
	} 2>&1 || true
}

# system_state once it holds still: two reads 0.2 s apart that agree (the kernel
# finishes some link bookkeeping after a command returns, slowly in a TCG VM).
settled_state() {
	local a b t
	a=$(system_state)
	for ((t = 0; t < 25 * ${XB_TIME_SCALE:-1}; t++)); do
		sleep 0.2
		b=$(system_state)
		[[ $a == "$b" ]] && break
		a=$b
	done
	echo "$a"
}

# After a failed up: the state settles back to `before`, or the test fails with the diff.
assert_rolled_back() {
	local before=$1 now
	now=$(settled_state)
	[[ $now == "$before" ]] || fail "state changed after a failed up:
$(diff <(echo "$before") <(echo "$now"))"
	echo "ok: rolled back"
}

xbridge_objects() {
	bpftool prog show 2>/dev/null | grep -c 'name xb_' || true
}

test_down_leaves_nothing() {
	require_tools bpftool
	topo_create 2
	ip -n "$PFX-host" link set eth0 down
	local before progs_before
	before=$(settled_state)
	progs_before=$(xbridge_objects)
	xb up --name "$XB_BRIDGE" eth0 tap0 tap1 >/dev/null
	topo_start_guest 0
	assert_ping g0 "$TOPO_OUT_IP"
	in_ns host ip link show eth0 | matches PROMISC || fail "eth0 is not promiscuous while bridged"
	local pid
	pid=$(controller_pid)
	topo_stop_guest 0
	xb down --name "$XB_BRIDGE" >/dev/null || fail "down failed"
	[[ ! -e /sys/fs/bpf/xbridge/$XB_BRIDGE ]] || fail "pins remain: $(ls /sys/fs/bpf/xbridge/"$XB_BRIDGE")"
	process_running "$pid" && fail "the controller (pid $pid) still runs"
	in_ns host ip link show tap0 >/dev/null 2>&1 && fail "tap0, created by up, still exists"
	in_ns host ip link show eth0 | matches 'xdp' && fail "eth0 still has an XDP program"
	local after t
	after=$(settled_state)
	[[ $before == "$after" ]] || fail "the host namespace differs after down:
--- before
$before
--- after
$after"
	# Programs and maps are freed asynchronously once their last reference goes.
	for ((t = 0; t < 50 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ $(xbridge_objects) -le $progs_before ]] && break
		sleep 0.1
	done
	[[ $(xbridge_objects) -le $progs_before ]] || fail "xbridge programs remain: $(bpftool prog show | grep 'name xb_')"
	[[ ! -e /run/xbridge/$XB_BRIDGE.log ]] || fail "the controller log remains"
	echo "ok: nothing left (links, qdiscs, promiscuity, admin state, taps, pins, programs, process)"
}

test_vlans_across_host_guests_and_wire() {
	require_tools jq
	standard_bridge
	# VLAN 100 over the untagged LAN: the host's eth0.100, the guests' and the outside
	# PC's. Frames cross the bridge tagged, whichever hook takes them (the stack moves an
	# skb's tag out of the packet before TC); the host's addresses are local on every VLAN.
	local ns
	for ns in host out g0 g1; do
		in_ns "$ns" ip link add link eth0 name eth0.100 type vlan id 100 || skip "no 802.1Q VLAN devices"
	done
	# A wire carries the tag in the frame. The outside PC's veth would hand it to the
	# host's eth0 beside the frame (tx-vlan offload), as a NIC with rx-vlan offload on
	# does, where XDP cannot see it (README: VLANs).
	in_ns out ethtool -K eth0 txvlan off >/dev/null
	ip -n "$PFX-host" addr add 10.78.0.2/24 dev eth0.100
	ip -n "$PFX-out" addr add 10.78.0.1/24 dev eth0.100
	ip -n "$PFX-g0" addr add 10.78.0.10/24 dev eth0.100
	ip -n "$PFX-g1" addr add 10.78.0.11/24 dev eth0.100
	for ns in host out g0 g1; do
		in_ns "$ns" ip link set eth0.100 up
	done
	assert_ping g0 10.78.0.2
	assert_ping host 10.78.0.11
	assert_ping g0 10.78.0.11
	assert_ping out 10.78.0.10
	local fdb
	fdb=$(xb fdb show --name "$XB_BRIDGE" --json)
	jq -e --arg m "$(topo_guest_mac 0)" 'any(.[]; .mac == $m and .vlan == 100 and .port == "tap0")' <<<"$fdb" >/dev/null ||
		fail "guest 0 not learned in VLAN 100: $fdb"
	jq -e --arg m "$TOPO_OUT_MAC" 'any(.[]; .mac == $m and .vlan == 100 and .port == "eth0")' <<<"$fdb" >/dev/null ||
		fail "the outside PC not learned in VLAN 100: $fdb"
	echo "ok: host, guests and the wire talk over VLAN 100, learned per VLAN"
}

test_failed_up_rolls_back() {
	require_tools bpftool
	topo_create 0
	local before

	step "a non-Ethernet port after two good ones"
	in_ns host ip tuntap add dev tun9 mode tun
	before=$(settled_state)
	expect_error "tun9 is not an Ethernet device" xb up --name "$XB_BRIDGE" eth0 tap0 tun9
	assert_rolled_back "$before"

	step "a port enslaved to a kernel bridge"
	ip -n "$PFX-host" link add name br9 type bridge
	ip -n "$PFX-host" link add name v9 type veth peer name v9p
	ip -n "$PFX-host" link set v9 master br9
	before=$(settled_state)
	expect_error "v9 is already enslaved to br9" xb up --name "$XB_BRIDGE" eth0 tap0 v9
	assert_rolled_back "$before"

	step "a port that belongs to another xbridge"
	ip -n "$PFX-host" link add name v8 type veth peer name v8p
	xb up --name "${XB_BRIDGE}b" --metrics off --uplink none v8 >/dev/null
	before=$(settled_state)
	expect_error "v8 is already a port of bridge ${XB_BRIDGE}b" xb up --name "$XB_BRIDGE" eth0 tap0 v8
	assert_rolled_back "$before"
	xb down --name "${XB_BRIDGE}b" >/dev/null
}

test_down_takes_a_half_made_bridge() {
	topo_create 0
	local before
	before=$(settled_state)
	xb up --name "$XB_BRIDGE" eth0 tap0 >/dev/null
	# What an up killed half-way, or a hand that removed pins, leaves: programs missing.
	rm "$(topo_pins)/$XB_BRIDGE/prog_xb_tc_host" "$(topo_pins)/$XB_BRIDGE/prog_xb_xdp_ingress"
	xb status --name "$XB_BRIDGE" >/dev/null 2>&1 && fail "status of a half-made bridge succeeded"
	xb down --name "$XB_BRIDGE" >/dev/null || fail "down refused a half-made bridge"
	local now
	now=$(settled_state)
	[[ $now == "$before" ]] || fail "down of a half-made bridge left:
$(diff <(echo "$before") <(echo "$now"))"
	echo "ok: down takes away a bridge whose program pins are missing"
}

# SIGTERM at any moment of an `up` leaves a whole bridge or nothing: a signal that comes
# while the command changes the system waits until it is done or undone.
test_interrupted_up_is_all_or_nothing() {
	topo_create 0
	local before now delay pid
	before=$(settled_state)
	for delay in 0.01 0.03 0.05 0.07 0.09 0.12 0.15 0.2 0.3; do
		"$XB" -n "$PFX-host" up --name "$XB_BRIDGE" eth0 tapi0 tapi1 tapi2 tapi3 >/dev/null 2>&1 &
		pid=$!
		sleep "$delay"
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" || true
		if [[ -e $(topo_pins)/$XB_BRIDGE ]]; then
			xb down --name "$XB_BRIDGE" >/dev/null || fail "down after up was interrupted at ${delay}s failed"
		fi
		now=$(settled_state)
		[[ $now == "$before" ]] || fail "up interrupted at ${delay}s left a part of a bridge behind:
$(diff <(echo "$before") <(echo "$now"))"
	done
	echo "ok: up interrupted at 9 moments: a whole bridge (taken down again) or nothing"
}

test_bad_input_is_one_clear_line() {
	topo_create 0
	expect_error "uplink eth9: no such device" xb up --name "$XB_BRIDGE" eth9 tap0
	expect_error "invalid bridge name" xb up --name 'a/b' eth0
	expect_error "invalid interface name" xb up --name "$XB_BRIDGE" eth0 'bad name'
	expect_error "is given twice" xb up --name "$XB_BRIDGE" eth0 tap0 tap0
	expect_error "--xdp-mode: 'fast' is not auto, native or none" xb up --name "$XB_BRIDGE" --xdp-mode fast eth0
	expect_error "--xdp-mode: generic XDP is not offered" xb up --name "$XB_BRIDGE" --xdp-mode generic eth0
	expect_error "--ageing-time: 'x' is not a number" xb up --name "$XB_BRIDGE" --ageing-time x eth0
	expect_error "unknown user" xb up --name "$XB_BRIDGE" --tap-user no-such-user-xb eth0 tap0
	expect_error "no bridge named $XB_BRIDGE" xb status --name "$XB_BRIDGE"
	expect_error "no bridge named $XB_BRIDGE" xb down --name "$XB_BRIDGE"
	expect_error "network namespace $PFX-nope" "$XB" -n "$PFX-nope" status
	expect_error "--netns: the namespace name is empty" "$XB" -n "" status
	expect_error "unknown command 'xbridge stauts'" xb stauts
	expect_error "unknown command 'xbridge fdb shwo'" xb fdb shwo
	expect_error "'xbridge fdb' needs a command: show, add, del, flush" xb fdb
	expect_error "no bpffs: cannot access /nonexistent-bpffs" env XBRIDGE_BPFFS=/nonexistent-bpffs "$XB" -n "$PFX-host" up --name "$XB_BRIDGE" eth0
	# On a bpffs of its own (a private mount namespace), failed commands leave no pin root.
	local fs=$TOPO_TMP/bpffs rc=0
	mkdir -p "$fs"
	unshare -m bash -c "mount -t bpf bpf '$fs' || exit 77
		XBRIDGE_BPFFS='$fs' '$XB' -n '$PFX-host' down --name nosuch 2>/dev/null
		XBRIDGE_BPFFS='$fs' '$XB' -n '$PFX-host' up --name '$XB_BRIDGE' eth9 2>/dev/null
		[[ ! -e '$fs/xbridge' ]]" || rc=$?
	case $rc in
	0) echo "ok: failed commands left no pin root" ;;
	77) echo "(no private bpffs mount: pin-root check left out)" ;;
	*) fail "a failed command left $fs/xbridge behind" ;;
	esac
	if command -v setpriv >/dev/null; then
		expect_error "must be run as root" setpriv --reuid=65534 --regid=65534 --clear-groups "$XB" status
	fi
	[[ ! -e /sys/fs/bpf/xbridge/$XB_BRIDGE ]] || fail "a failed command left pins"

	step "a bridge name in use in another network namespace"
	xb up --name "$XB_BRIDGE" --uplink none tap0 >/dev/null
	ip netns add "$PFX-other"
	expect_error "bridge name $XB_BRIDGE is in use in another network namespace" "$XB" -n "$PFX-other" up --name "$XB_BRIDGE" tap5
	expect_error "bridge $XB_BRIDGE belongs to another network namespace" "$XB" -n "$PFX-other" status --name "$XB_BRIDGE"
	xb down --name "$XB_BRIDGE" >/dev/null
}

test_up_extends_a_running_bridge() {
	require_tools jq
	standard_bridge
	local out
	out=$(xb up --name "$XB_BRIDGE" tap0 tap2)
	[[ $out == *"created tap tap2"* && $out == *"port tap2 added"* ]] || fail "up tap2: $out"
	[[ $out != *"port tap0 added"* ]] || fail "tap0 was added twice: $out"
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r '.ports | map(.name) | join(" ")') == "eth0 tap0 tap1 tap2" ]] ||
		fail "ports after extending: $(xb status --name "$XB_BRIDGE")"
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .uplink) == eth0 ]] || fail "the uplink changed"
	expect_error "already has uplink eth0" xb up --name "$XB_BRIDGE" --uplink tap1 tap3
	echo "ok: up adds ports to a running bridge and keeps its uplink"
}

test_tap_owner() {
	topo_create 0
	xb up --name "$XB_BRIDGE" --tap-user nobody --tap-group nogroup eth0 tap0 >/dev/null
	local owner group
	owner=$(in_ns host cat /sys/class/net/tap0/owner)
	group=$(in_ns host cat /sys/class/net/tap0/group)
	[[ $owner == "$(id -u nobody)" ]] || fail "tap0 owner is $owner"
	[[ $group == "$(getent group nogroup | cut -d: -f3)" ]] || fail "tap0 group is $group"
	echo "ok: tap0 belongs to nobody:nogroup, so an unprivileged QEMU can open it"
}

# queue_frames N DIRECTION: frames guest N's relay (stopped) counted on one queue
# direction, as its last line prints them: "tap0/q1->eth0" (read from the tap's queue 1)
# or "eth0->tap0/q1" (written to it).
queue_frames() {
	grep -o "$2 frames=[0-9]*" "$TOPO_TMP/relay$1.log" | tail -n1 | cut -d= -f2
}

# Multi-queue taps, as QEMU's `-netdev tap,queues=N,vhost=on` opens them: one made by
# `up --tap-queues`, one made beforehand (`ip tuntap ... multi_queue`) and adopted as it
# is. Frames redirected into a tap land on the queue of the CPU that redirects them (XDP)
# or of their flow (TC): the outside PC sends from each CPU in turn, so every queue gets
# some, and each must reach the guest. The guests write on every queue in turn.
test_multi_queue_taps() {
	require_tools taskset
	topo_create 2
	in_ns host ip tuntap add dev tap1 mode tap multi_queue
	xb up --name "$XB_BRIDGE" --tap-queues 2 eth0 tap0 tap1 >/dev/null || fail "up --tap-queues 2 failed"
	local tap0 tap1 g n q cpu ip
	tap0=$(in_ns host ip -d link show tap0)
	tap1=$(in_ns host ip -d link show tap1)
	[[ $tap0 == *multi_queue* && $tap0 == *"vnet_hdr on"* ]] || fail "tap0 is not a multi-queue tap with a vnet header: $tap0"
	[[ $tap1 == *multi_queue* && $tap1 == *"vnet_hdr off"* ]] || fail "tap1 was not adopted as it was: $tap1"
	expect_error "not a number from 1 to 256" xb up --name "$XB_BRIDGE" --tap-queues 257 tap2
	topo_start_guest 0 --queues 2 --vnet-hdr || fail "guest 0 could not attach 2 queues"
	topo_start_guest 1 --queues 2 || fail "guest 1 could not attach 2 queues"
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping g1 "$(topo_guest_ip 0)"
	for n in 0 1; do
		ip=$(topo_guest_ip "$n")
		for cpu in 0 1; do
			in_ns out taskset -c "$cpu" ping -c 20 -i 0.05 -W1 -q "$ip" >"$TOPO_TMP/ping" ||
				fail "ping from the outside PC (CPU $cpu) to guest $n lost replies: $(grep loss "$TOPO_TMP/ping")"
		done
	done
	echo "ok: pings from both CPUs to both guests, no loss"
	transfer out g0 "$(topo_guest_ip 0)" 4
	transfer g1 out "$TOPO_OUT_IP" 4
	topo_stop_guest 0
	topo_stop_guest 1
	for n in 0 1; do
		g=tap$n
		for q in 0 1; do
			[[ $(queue_frames "$n" "$g/q$q->eth0") -gt 0 ]] || fail "guest $n read nothing from $g's queue $q: $(tail -n1 "$TOPO_TMP/relay$n.log")"
			[[ $(queue_frames "$n" "eth0->$g/q$q") -gt 0 ]] || fail "guest $n wrote nothing on $g's queue $q"
		done
		echo "ok: $g: $(tail -n1 "$TOPO_TMP/relay$n.log")"
	done
}

test_foreground_controller() {
	require_tools jq
	topo_create 1
	local log="$TOPO_TMP/foreground.log" scale=${XB_TIME_SCALE:-1} t
	"$XB" -n "$PFX-host" up --name "$XB_BRIDGE" --ageing-time 1 --foreground eth0 tap0 >/dev/null 2>"$log" &
	local pid=$!
	for ((t = 0; t < 50 * scale; t++)); do
		grep -q "controller of bridge $XB_BRIDGE running" "$log" && break
		sleep 0.1
	done
	grep -q "controller of bridge $XB_BRIDGE running" "$log" || fail "no foreground controller: $(cat "$log")"
	# The commands that change a bridge take its lock; the controller must not keep it.
	timeout $((5 * scale)) "$XB" -n "$PFX-host" fdb add --name "$XB_BRIDGE" 02:00:00:dd:00:01 dev tap0 >/dev/null ||
		fail "fdb add did not finish beside a foreground controller"
	echo "ok: commands run beside a foreground controller"
	# Its ageing sweep, which takes the lock too, runs.
	in_ns out "$XB_FRAMES" --dev eth0 --dst ff:ff:ff:ff:ff:ff --src 02:00:00:dd:00:02
	local seen=0 gone=0
	for ((t = 0; t < 60 * scale; t++)); do
		if xb fdb show --name "$XB_BRIDGE" --json | jq -e 'any(.[]; .mac == "02:00:00:dd:00:02")' >/dev/null; then
			seen=1
		elif ((seen)); then
			gone=1
			break
		fi
		sleep 0.1
	done
	((seen)) || fail "02:00:00:dd:00:02 was not learned"
	((gone)) || fail "the foreground controller did not age 02:00:00:dd:00:02 out"
	echo "ok: the foreground controller ages the FDB"
	kill -TERM "$pid"
	wait "$pid" || true
	grep -q "controller exits" "$log" || fail "the controller did not log its exit: $(cat "$log")"
	xb down --name "$XB_BRIDGE" >/dev/null
	echo "ok: it exits on SIGTERM, and the bridge goes down after it"
}
