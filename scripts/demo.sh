#!/usr/bin/env bash
# The README's first command: installs the dependencies, builds xbridge, and shows it
# bridging an "outside PC" and two guests on a throw-away topology of network
# namespaces (nothing on this machine's own interfaces is touched), then removes it all.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${XB_BUILD_DIR:-$repo/build}

if [[ $(id -u) -ne 0 ]]; then
	echo "demo.sh: must run as root (it loads BPF programs and creates namespaces)" >&2
	exit 1
fi
"$repo/scripts/setup.sh"
"$repo/scripts/build.sh"

XB=$build/controller/xbridge
XB_RELAY=$build/tests/tools/xb-tap-relay
# Unique, like the namespaces: cleanup takes down and unpins bridges of this name.
XB_BRIDGE="demo$$"
# shellcheck source-path=SCRIPTDIR source=lib/topology.sh
source "$repo/scripts/lib/topology.sh"
topo_init "xbdemo$$"
trap topo_cleanup EXIT

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
run() {
	printf '$ %s\n' "$*"
	"$@"
}
ping_from() {
	local from=$1 ip=$2 what=$3
	topo_wait_ping "$from" "$ip" || true
	printf '%-34s ' "$what:"
	in_ns "$from" ping -c3 -i0.2 -W1 "$ip" | grep 'packets transmitted'
}

say "A VM host in namespaces: outside PC --- eth0 [host] tap0, tap1 --- guests"
topo_create 2
echo "host $TOPO_HOST_IP on eth0, outside PC $TOPO_OUT_IP, guests $(topo_guest_ip 0) and $(topo_guest_ip 1)"

say "One command joins them: the taps do not exist yet, xbridge creates them"
run "$XB" -n "$PFX-host" up --name "$XB_BRIDGE" eth0 tap0 tap1

say "QEMU's stand-ins attach to the taps; the guests configure their NICs"
topo_start_guest 0
topo_start_guest 1
echo "guest 0: $(topo_guest_mac 0) on tap0, guest 1: $(topo_guest_mac 1) on tap1"

say "Pings through the bridge"
ping_from g0 "$TOPO_OUT_IP" "guest 0 -> outside PC"
ping_from out "$(topo_guest_ip 1)" "outside PC -> guest 1"
ping_from g0 "$(topo_guest_ip 1)" "guest 0 -> guest 1"
ping_from host "$(topo_guest_ip 0)" "host -> guest 0"
ping_from g1 "$TOPO_HOST_IP" "guest 1 -> host"

say "What the bridge knows"
run "$XB" -n "$PFX-host" status --name "$XB_BRIDGE"
echo
run "$XB" -n "$PFX-host" fdb show --name "$XB_BRIDGE"

say "Taking it down restores the host as it was"
topo_stop_guest 0
topo_stop_guest 1
run "$XB" -n "$PFX-host" down --name "$XB_BRIDGE"
echo
echo "demo finished: the namespaces are removed on exit"
