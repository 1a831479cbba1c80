# shellcheck shell=bash
# A bridge made under `ip netns exec` (a private mount namespace, whose /sys has no
# bpffs) is the host's like any other: seen and taken down from `ip netns exec` and from
# `xbridge -n`, and its controller never outlives the reach of commands.

# xbx ARGS: xbridge as `ip netns exec` runs it, in the host namespace.
xbx() { in_ns host "$XB" "$@"; }

# tap_bridge: a bridge of one new tap, made under ip netns exec; CPID is its controller.
tap_bridge() {
	topo_create 0
	xbx up --name "$XB_BRIDGE" --uplink none --metrics off tap0 >/dev/null || fail "up failed"
	CPID=$(controller_pid)
	[[ -n $CPID ]] || fail "no controller"
}

# wait_gone PID SECONDS: true once PID no longer runs.
wait_gone() {
	local t
	for ((t = 0; t < $2 * 10 * ${XB_TIME_SCALE:-1}; t++)); do
		process_running "$1" || return 0
		sleep 0.1
	done
	return 1
}

test_lifecycle_through_ip_netns_exec() {
	require_tools jq
	topo_create 2
	xbx up --name "$XB_BRIDGE" eth0 tap0 tap1 >/dev/null || fail "up under ip netns exec failed"
	[[ -d $(topo_pins)/$XB_BRIDGE ]] || fail "the pins are not in the host's bpffs ($(topo_pins))"
	topo_start_guest 0 || fail "guest 0 did not start"
	topo_start_guest 1 || fail "guest 1 did not start"
	assert_ping g0 "$TOPO_OUT_IP"
	assert_ping g1 "$(topo_guest_ip 0)"
	local pid via
	pid=$(xbx status --name "$XB_BRIDGE" --json | jq -r '.controller_pid // empty')
	[[ -n $pid ]] || fail "status under ip netns exec shows no controller"
	[[ $(controller_pid) == "$pid" ]] || fail "xbridge -n sees another controller: '$(controller_pid)', not $pid"
	for via in xbx xb; do
		$via fdb show --name "$XB_BRIDGE" | matches "$(topo_guest_mac 0) *tap0" ||
			fail "$via fdb show lacks guest 0's learned entry"
		[[ $($via stats --name "$XB_BRIDGE" --json | jq '.ports[] | select(.name == "tap0") | .rx_packets') -gt 0 ]] ||
			fail "$via stats counts nothing on tap0"
	done
	echo "ok: status, fdb show and stats through ip netns exec and xbridge -n"

	xbx down --name "$XB_BRIDGE" >/dev/null || fail "down under ip netns exec failed"
	[[ ! -e $(topo_pins)/$XB_BRIDGE ]] || fail "down under ip netns exec left pins"
	wait_gone "$pid" 10 || fail "the controller still runs after down"
	in_ns host ip link show tap0 >/dev/null 2>&1 && fail "down left tap0"
	echo "ok: made and taken down under ip netns exec"

	xbx up --name "$XB_BRIDGE" eth0 tap0 >/dev/null || fail "second up under ip netns exec failed"
	pid=$(controller_pid)
	xb down --name "$XB_BRIDGE" >/dev/null || fail "xbridge -n down of a bridge made under ip netns exec failed"
	[[ ! -e $(topo_pins)/$XB_BRIDGE ]] || fail "xbridge -n down left pins"
	wait_gone "$pid" 10 || fail "the controller still runs after xbridge -n down"
	echo "ok: made under ip netns exec, taken down by xbridge -n"

	xb up --name "$XB_BRIDGE" eth0 tap0 >/dev/null || fail "up with xbridge -n failed"
	pid=$(controller_pid)
	xbx status --name "$XB_BRIDGE" >/dev/null || fail "ip netns exec does not see a bridge made by xbridge -n"
	xbx down --name "$XB_BRIDGE" >/dev/null || fail "down under ip netns exec of a bridge made by xbridge -n failed"
	wait_gone "$pid" 10 || fail "the controller still runs"
	echo "ok: made by xbridge -n, taken down under ip netns exec"
}

# `ip netns del` removes the name; the controller alone would keep the namespace, its
# devices and the bridge alive, out of every command's reach. It takes the bridge down
# and goes, and the namespace with it.
test_controller_goes_with_its_namespace() {
	tap_bridge
	local pid=$CPID
	ip netns del "$PFX-host"
	wait_gone "$pid" 15 || fail "the controller still runs 15 s after its namespace was deleted"
	[[ ! -e $(topo_pins)/$XB_BRIDGE ]] || fail "the bridge's pins are left"
	echo "ok: controller gone with its namespace, pins removed"
}

# A namespace held by a bind mount elsewhere (a container runtime's own directory) is not
# gone when its /run/netns name is: the bridge stays until that mount goes too.
test_a_bind_mount_keeps_the_namespace() {
	tap_bridge
	local pid=$CPID hold="$TOPO_TMP/netns-hold"
	touch "$hold"
	mount --bind "/run/netns/$PFX-host" "$hold" || skip "cannot bind-mount a namespace here"
	ip netns del "$PFX-host"
	sleep 7
	if ! process_running "$pid"; then
		umount "$hold"
		fail "the controller left a namespace a bind mount still holds"
	fi
	[[ -d $(topo_pins)/$XB_BRIDGE ]] || { umount "$hold"; fail "the bridge went while its namespace was held"; }
	umount "$hold"
	wait_gone "$pid" 15 || fail "the controller still runs 15 s after the last hold went"
	[[ ! -e $(topo_pins)/$XB_BRIDGE ]] || fail "the bridge's pins are left"
	echo "ok: kept while bind-mounted, gone after"
}

# A bridge taken down by something that could not stop its controller (its pins removed
# by hand, here): the controller has nothing left to serve and goes.
test_controller_goes_when_its_pins_go() {
	tap_bridge
	local pid=$CPID
	rm -rf "$(topo_pins)/${XB_BRIDGE:?}"
	wait_gone "$pid" 15 || fail "the controller still runs 15 s after its pins went"
	grep -q "its pins are gone" "/run/xbridge/$XB_BRIDGE.log" || fail "the controller did not say why it left"
	echo "ok: controller gone with its pins"
}

# The namespace really gone (no controller held it): down still takes what is left.
test_down_after_the_namespace_is_gone() {
	require_tools jq
	topo_create 0
	xbx up --name "$XB_BRIDGE" --uplink none --metrics off tap0 >/dev/null || fail "up failed"
	kill_controller
	ip netns del "$PFX-host"
	"$XB" down --name "$XB_BRIDGE" >/dev/null || fail "down of a bridge whose namespace is gone failed"
	[[ ! -e $(topo_pins)/$XB_BRIDGE ]] || fail "its pins are left"
	echo "ok: down from the host's namespace removed the pins"
}
