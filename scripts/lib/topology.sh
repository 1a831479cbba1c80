# shellcheck shell=bash
# Throw-away topologies for the demo, the integration tests and the benchmark: the
# classic VM host of the kernel-bridge study, rebuilt in network namespaces.
#
#   $PFX-out  "outside PC"    eth0 10.77.0.1 ───┐ veth
#   $PFX-host the VM host     eth0 10.77.0.2 ───┘  (+ tap0, tap1: xbridge's ports)
#   $PFX-g0   guest 0         eth0 10.77.0.10 ── relayed to tap0 by xb-tap-relay (QEMU's role)
#   $PFX-g1   guest 1         eth0 10.77.0.11 ── relayed to tap1
#
# Nothing here touches the machine's own interfaces: every device is created inside a
# namespace named with the caller's unique prefix, and topo_cleanup removes them all.
# Addresses exist only inside those namespaces.

TOPO_NET=10.77.0
TOPO_OUT_IP=$TOPO_NET.1
TOPO_HOST_IP=$TOPO_NET.2
TOPO_OUT_MAC=00:25:9c:19:b8:e9

# Guest N's address and MAC (QEMU's 52:54:00 prefix).
topo_guest_ip() { echo "$TOPO_NET.$((10 + $1))"; }
topo_guest_mac() { printf '52:54:00:12:34:%02x\n' "$((0x56 + $1))"; }

topo_ns() { echo "$PFX-$1"; }
# Where xbridge pins its bridges (the controller's pin_root()).
topo_pins() { echo "${XBRIDGE_BPFFS:-/sys/fs/bpf}/xbridge"; }

# Runs a command in namespace $1 (host, out, g0, ...).
in_ns() {
	local ns=$1
	shift
	ip netns exec "$PFX-$ns" "$@"
}

# topo_create: the outside PC, the host with eth0, and the guest namespaces (empty: a
# guest's NIC appears when topo_start_guest relays it to its tap).
topo_create() {
	local nguests=${1:-2} i
	ip netns add "$PFX-host"
	ip netns add "$PFX-out"
	for ((i = 0; i < nguests; i++)); do
		ip netns add "$PFX-g$i"
		ip -n "$PFX-g$i" link set lo up
	done
	ip -n "$PFX-host" link set lo up
	ip -n "$PFX-out" link set lo up
	ip -n "$PFX-host" link add name eth0 type veth peer name eth0 netns "$PFX-out"
	ip -n "$PFX-out" link set eth0 address "$TOPO_OUT_MAC"
	ip -n "$PFX-out" addr add "$TOPO_OUT_IP/24" dev eth0
	ip -n "$PFX-out" link set eth0 up
	ip -n "$PFX-host" addr add "$TOPO_HOST_IP/24" dev eth0
	# Both ends at a veth's defaults (GRO off): the outside PC's end has no NAPI, so the
	# host's eth0 takes no XDP redirects, and xbridge must serve it from its TC hook.
	# Quiet namespaces: no IPv6 autoconfiguration frames in counters and captures.
	local ns
	for ns in host out $(for ((i = 0; i < nguests; i++)); do echo "g$i"; done); do
		in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
}

# topo_start_guest N [relay options]: QEMU's stand-in holds tapN (in the host) and
# relays it to the guest NIC eth0 in gN, which gets the guest's MAC and address.
topo_start_guest() {
	local n=$1
	shift
	topo_start_guest_on host "tap$n" "$n" "$@"
}

# topo_start_guest_on HOST TAP N [relay options]: as topo_start_guest, for guest N on
# the tap TAP of the host namespace $PFX-HOST (a second host: VXLAN between hosts).
topo_start_guest_on() {
	local host=$1 tap=$2 n=$3
	shift 3
	local ready="$TOPO_TMP/relay$n.ready"
	rm -f "$ready"
	ip netns exec "$PFX-$host" "$XB_RELAY" --tap "$tap" --guest-netns "$PFX-g$n" \
		--guest-dev eth0 --guest-mac "$(topo_guest_mac "$n")" --ready-file "$ready" "$@" \
		2>>"$TOPO_TMP/relay$n.log" &
	echo $! >"$TOPO_TMP/relay$n.pid"
	local t
	for ((t = 0; t < 100; t++)); do
		[[ -e $ready ]] && break
		kill -0 "$(cat "$TOPO_TMP/relay$n.pid")" 2>/dev/null || break
		sleep 0.05
	done
	if [[ ! -e $ready ]]; then
		echo "guest $n: the tap relay did not start: $(cat "$TOPO_TMP/relay$n.log")" >&2
		return 1
	fi
	ip -n "$PFX-g$n" addr add "$(topo_guest_ip "$n")/24" dev eth0
	ip -n "$PFX-g$n" link set eth0 up
}

topo_stop_guest() {
	local pidf="$TOPO_TMP/relay$1.pid"
	[[ -f $pidf ]] || return 0
	kill "$(cat "$pidf")" 2>/dev/null
	wait "$(cat "$pidf")" 2>/dev/null
	rm -f "$pidf"
}

# Waits until a ping from namespace $1 to $2 gets an answer (ARP, carrier settle).
topo_wait_ping() {
	local ns=$1 ip=$2 t
	for ((t = 0; t < 50; t++)); do
		in_ns "$ns" ping -c1 -W1 -q "$ip" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# topo_cleanup: stops relays, takes the bridge down if it is still up, removes every
# namespace of this prefix (and with them their devices). Safe to call twice.
topo_cleanup() {
	# Runs from an EXIT trap, maybe under the failed test's `set -e`: every step must
	# run, whatever the one before it returned. The caller's errexit comes back at the end.
	local errexit=0
	[[ $- == *e* ]] && errexit=1
	set +e
	local f
	for f in "$TOPO_TMP"/relay*.pid; do
		[[ -e $f ]] || continue
		kill "$(cat "$f")" 2>/dev/null
	done
	# The bridge, and any other a test made with it as a prefix of its name (the pattern
	# "$XB_BRIDGE"{,[!0-9]*} below: a digit after the name would be another test's pid).
	local br pins
	pins=$(topo_pins)
	for br in "$pins/${XB_BRIDGE:-}"{,[!0-9]*}; do
		[[ -n ${XB_BRIDGE:-} && -d $br ]] || continue
		br=$(basename "$br")
		# Bounded: a wedged bridge lock must not keep the namespaces below alive.
		timeout 30 "$XB" -n "$PFX-host" down --name "$br" >/dev/null 2>&1 ||
			timeout 30 "$XB" down --name "$br" >/dev/null 2>&1
	done
	local ns i
	for ns in $(ip netns list | awk '{print $1}' | grep "^$PFX-"); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		# A process still inside (a controller that `down` could not stop) keeps the
		# namespace busy: give it two seconds to go.
		for ((i = 0; i < 20; i++)); do
			[[ -z $(ip netns pids "$ns" 2>/dev/null) ]] && break
			sleep 0.1
		done
		ip netns del "$ns" 2>/dev/null
	done
	# Pins and controller log of a bridge that `down` could not remove (its devices went
	# with the namespaces).
	if [[ -n ${XB_BRIDGE:-} ]]; then
		rm -rf "${pins:?}/${XB_BRIDGE:?}"{,[!0-9]*}
		rmdir "$pins" 2>/dev/null
		rm -f /run/xbridge/"$XB_BRIDGE"{,[!0-9]*}.log
		rmdir /run/xbridge 2>/dev/null
	fi
	wait 2>/dev/null
	[[ -n ${TOPO_TMP:-} ]] && rm -rf "$TOPO_TMP"
	((errexit)) && set -e
	return 0
}

# topo_init PREFIX: sets PFX and a scratch directory; the caller installs the trap.
topo_init() {
	PFX=$1
	TOPO_TMP=$(mktemp -d "/tmp/$PFX.XXXXXX")
}
