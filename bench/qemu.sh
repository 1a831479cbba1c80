#!/usr/bin/env bash
# The benchmark's "qemu" scenario (scripts/bench.sh runs it; it can run alone): a real QEMU
# guest running iperf3 through xbridge and through the kernel bridge in turn, the same guest.
#
#   bench/qemu.sh --xb XBRIDGE [--prefix PFX] [--seconds S] [--rounds N] [--kernel K]
#                 [--info FILE]
#
#   --xb FILE      the xbridge binary
#   --prefix PFX   namespaces PFX-host and PFX-out, bridge PFX without dashes (default xbq<pid>)
#   --seconds S    seconds per iperf3 run, after 1 s of ramp-up left out (-O 1); default 10
#   --rounds N     rounds (default 3): each runs both directions on xbridge and on the
#                  kernel bridge, xbridge first in odd rounds, the kernel bridge in even ones
#   --kernel K     the guest's kernel, as vmtest/run.sh --kernel takes it (default
#                  $XB_VM_GUEST_KERNEL or linux-image-amd64: Debian 12's, from vmtest/.cache)
#   --info FILE    write what the guest reported (kernel, NIC, offloads) there, as JSON, with
#                  the host's QEMU and iperf3 versions and the accelerator (tcg or kvm)
#
# The standard topology of scripts/lib/topology.sh: the outside PC (PFX-out, eth0 10.77.0.1,
# running `iperf3 -s`) on a veth whose peer is eth0 in the VM host's namespace (PFX-host,
# 10.77.0.2), both ends at a veth's defaults. There a persistent tap0 is made first (`ip tuntap add`),
# so that it outlives each bridge, and one guest is booted once with vmtest/run.sh
# (virtme-ng; TCG unless XB_VM_KVM=1), 1 vCPU, 1 GiB: virtio-net on tap0 with QEMU's default
# offloads (vnet_hdr=on: checksum offload and TSO/GSO both ways), 52:54:00:12:34:56,
# 10.77.0.10. TCP keeps no
# metrics between connections (tcp_no_metrics_save, in the guest and the outside PC): one
# contender's losses do not set the next one's ssthresh. Each round, under the running guest:
#   xbridge         `xbridge up eth0 tap0` (eth0 the uplink, keeping the host's address);
#                   `xbridge down` after (it leaves a tap it did not create in place)
#   kernel bridge   br0 with eth0 and tap0, the host's address moved from eth0 to br0,
#                   bridge-nf-call-* off (as scripts/bench.sh's "nf-call off"); br0 deleted
#                   and the address moved back after
# then, once the outside PC pings the guest, two iperf3 TCP runs started by the guest:
# `iperf3 -c 10.77.0.1` (tx: guest → outside PC) and `iperf3 -c 10.77.0.1 -R` (rx: outside PC
# → guest), each against a fresh one-off server. The guest and the host meet through files in
# a shared directory (guest.up, job.N → res.N.json/res.N.rc, stop).
#
# Output: one JSON line per iperf3 run on stdout: {scenario: "qemu", contender: "xbridge" |
# "kbr", round, direction: "tx" | "rx", gbps (received, from iperf3 -J), secs, bytes,
# retransmits, tap0: xbridge's counters of the run for tap0 (rx_xdp, rx_tc, ...; null for
# the kernel bridge), tap0_link: the kernel's counters of tap0 over the run, for both
# (rx: frames QEMU wrote, from the guest; tx: frames queued to QEMU, to the guest, and
# tx_dropped, those the full tap queue dropped; bytes / packets shows whether GSO
# frames or MTU-sized ones reached the guest), host_cpu_s: the host's busy CPU time over the
# run (all CPUs, /proc/stat: QEMU, the bridge, iperf3's server; the other load of the machine
# too), host_cpu_s_per_gb: that per GB received}.
# Progress on stderr. Exit status: 0, 1 on failure, 77 when it cannot run here (a line
# "SKIP: reason" on stdout: not root, no virtme-ng, QEMU, iperf3 or guest kernel).
# Everything it made (namespaces and their devices, the bridge's pins, QEMU, iperf3, files)
# is removed on exit, whatever happens.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../tests/vm/lib.sh
source "$here/../tests/vm/lib.sh"
# shellcheck source=SCRIPTDIR/../scripts/lib/topology.sh
source "$vm_repo/scripts/lib/topology.sh"

XB='' prefix="xbq$$" seconds=10 rounds=3 kernel=${XB_VM_GUEST_KERNEL:-linux-image-amd64} info=''
while (($#)); do
	case $1 in
	--xb) XB=$2 && shift ;;
	--prefix) prefix=$2 && shift ;;
	--seconds) seconds=$2 && shift ;;
	--rounds) rounds=$2 && shift ;;
	--kernel) kernel=$2 && shift ;;
	--info) info=$2 && shift ;;
	-h | --help)
		sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "qemu.sh: unknown option $1 (see --help)" >&2
		exit 2
		;;
	esac
	shift
done
[[ -x $XB ]] || {
	echo "qemu.sh: --xb: no xbridge binary at '$XB'" >&2
	exit 2
}
[[ $seconds =~ ^[0-9]+$ && $seconds -ge 1 && $rounds =~ ^[0-9]+$ && $rounds -ge 1 ]] || {
	echo "qemu.sh: --seconds and --rounds take whole numbers >= 1" >&2
	exit 2
}

readonly guest_mac=52:54:00:12:34:56 guest_ip=10.77.0.10 port=5201
XB_BRIDGE=${prefix//-/}
shared=''
guest_pid=''
srv_pid=''
job=0

log() { printf '[qemu %s] %s\n' "$(date +%T)" "$*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}

# shellcheck disable=SC2317 # invoked from the EXIT trap
cleanup() {
	[[ -z $shared ]] || touch "$shared/stop" 2>/dev/null
	[[ -z $srv_pid ]] || kill "$srv_pid" 2>/dev/null
	if [[ -n $guest_pid ]]; then
		# The guest stops by itself on "stop"; else run.sh stops the VM on SIGTERM.
		local t
		for ((t = 0; t < 50; t++)); do
			kill -0 "$guest_pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -TERM "$guest_pid" 2>/dev/null
		wait "$guest_pid" 2>/dev/null
	fi
	ip -n "$PFX-host" link del br0 2>/dev/null
	# xbridge down (if up), every process left in the namespaces, the namespaces.
	topo_cleanup
	[[ -z $shared ]] || rm -rf "$shared"
}

# The guest's side: NIC by MAC, address, "up" with what it has, then the jobs in order.
write_guest_script() {
	cp "$vm_repo/tests/vm/guest_lib.sh" "$shared/"
	cat >"$shared/guest.sh" <<'GUEST'
shared=$1 mac=$2 ip=$3
say() { echo "guest: $*"; }
source "$shared/guest_lib.sh"
modprobe virtio_net || say "modprobe virtio_net failed"
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
sysctl -qw net.ipv4.tcp_no_metrics_save=1
guest_nic_up "$mac" "$ip" || exit 1
offloads=$(ethtool -k "$dev" | awk -F': ' '/^(tx-checksumming|rx-checksumming|tcp-segmentation-offload|generic-receive-offload|scatter-gather):/ { printf "%s%s=%s", sep, $1, $2; sep = "," }')
printf '{"kernel": "%s", "dev": "%s", "driver": "%s", "offloads": "%s", "cpus": %s}\n' \
	"$(uname -r)" "$dev" "$(basename "$(readlink "/sys/class/net/$dev/device/driver")")" \
	"$offloads" "$(nproc)" >"$shared/guest.up.tmp" && mv "$shared/guest.up.tmp" "$shared/guest.up"
say "$dev has $ip; $(uname -r); $offloads"
n=1
while :; do
	if [ -e "$shared/job.$n" ]; then
		read -r -a args <"$shared/job.$n"
		timeout 300 iperf3 "${args[@]}" >"$shared/res.$n.json" 2>"$shared/res.$n.err"
		echo $? >"$shared/res.$n.rc.tmp" && mv "$shared/res.$n.rc.tmp" "$shared/res.$n.rc"
		n=$((n + 1))
		continue
	fi
	[ -e "$shared/stop" ] && exit 0
	sleep 0.2
done
GUEST
}

boot_guest() {
	# The whole session: the boot, then 4 runs per round with their set-up, and a margin.
	local vm_timeout=$((900 + rounds * 4 * (seconds + 90)))
	ip netns exec "$PFX-host" "$vm_repo/vmtest/run.sh" --kernel "$kernel" --memory 1G --cpus 1 \
		--timeout "$vm_timeout" --rwdir "$shared" \
		--qemu-opts="-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vnet_hdr=on -device virtio-net-pci,netdev=n0,mac=$guest_mac" \
		-- bash "$shared/guest.sh" "$shared" "$guest_mac" "$guest_ip" >"$TOPO_TMP/guest.log" 2>&1 &
	guest_pid=$!
	local t started=$SECONDS
	for ((t = 0; t < 600 * 5; t++)); do
		[[ -e $shared/guest.up ]] && break
		kill -0 "$guest_pid" 2>/dev/null || break
		sleep 0.2
	done
	if [[ ! -e $shared/guest.up ]]; then
		sed 's/^/    /' "$TOPO_TMP/guest.log" >&2
		fail "the guest did not come up (see its log above)"
	fi
	log "guest up after $((SECONDS - started)) s: $(cat "$shared/guest.up")"
	# With the host's QEMU and iperf3 versions, and the accelerator.
	[[ -z $info ]] || jq -c --arg q "$(qemu-system-x86_64 --version | head -n1)" \
		--arg i "$(iperf3 --version | head -n1)" --arg a "$([[ ${XB_VM_KVM:-0} == 1 ]] && echo kvm || echo tcg)" \
		'. + {qemu: $q, iperf3: $i, accel: $a}' "$shared/guest.up" >"$info"
}

# bridge_up xbridge|kbr, bridge_down xbridge|kbr: under the running guest, on the same tap.
bridge_up() {
	local h="ip -n $PFX-host"
	case $1 in
	xbridge) "$XB" -n "$PFX-host" up --name "$XB_BRIDGE" eth0 tap0 >/dev/null ;;
	kbr)
		# eth0 up: `xbridge down` leaves it as it found it before `up`.
		$h link add br0 type bridge &&
			$h link set eth0 master br0 &&
			$h link set eth0 up &&
			$h link set tap0 master br0 &&
			$h addr flush dev eth0 &&
			$h addr add "$TOPO_HOST_IP/24" dev br0 &&
			$h link set br0 up || return 1
		# br_netfilter (if loaded) defaults to on in every namespace; bench.sh's kernel
		# bridge baseline is "nf-call off".
		if ip netns exec "$PFX-host" test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
			ip netns exec "$PFX-host" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
				net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0
		fi
		;;
	esac
}

bridge_down() {
	case $1 in
	xbridge) "$XB" -n "$PFX-host" down --name "$XB_BRIDGE" >/dev/null ;;
	kbr)
		ip -n "$PFX-host" link del br0 &&
			ip -n "$PFX-host" addr add "$TOPO_HOST_IP/24" dev eth0
		;;
	esac || return 1
	# The tap stays, up, with the guest on it.
	[[ $(ip -n "$PFX-host" -o link show tap0 2>/dev/null) == *'<'*UP*'>'* ]] ||
		fail "tap0 is gone or down after taking $1 down"
}

# The outside PC reaches the guest through the bridge now in place.
wait_guest() {
	local t
	for ((t = 0; t < 60; t++)); do
		ip netns exec "$PFX-out" ping -c 1 -W 1 -q "$guest_ip" >/dev/null 2>&1 && return 0
		kill -0 "$guest_pid" 2>/dev/null || fail "the guest's VM ended"
		sleep 0.5
	done
	return 1
}

# What a failed ping leaves to look at.
diagnose() {
	local ns
	for ns in host out; do
		echo "--- $PFX-$ns"
		ip -n "$PFX-$ns" -d -s link show
		ip -n "$PFX-$ns" addr show
		ip -n "$PFX-$ns" neigh show
		tc -n "$PFX-$ns" qdisc show
		tc -n "$PFX-$ns" filter show dev eth0 ingress 2>/dev/null
	done
	bridge -n "$PFX-host" link show
	bridge -n "$PFX-host" fdb show br br0 2>/dev/null
	ip netns exec "$PFX-host" sysctl net.bridge 2>/dev/null | grep nf-call
	sed 's/^/    guest: /' "$TOPO_TMP/guest.log"
}

tap_counters() {
	[[ $1 == xbridge ]] || {
		echo null
		return
	}
	"$XB" -n "$PFX-host" stats --name "$XB_BRIDGE" --json 2>/dev/null |
		jq -c '.ports[] | select(.name == "tap0") | del(.name, .ifindex)' 2>/dev/null || echo null
}

# The host's busy CPU time so far, all CPUs, in ticks of /proc/stat (user, nice, system,
# irq, softirq, steal): QEMU emulating the guest, the bridge, iperf3's server, all of it.
host_cpu_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# The kernel's counters of tap0 (both contenders).
tap_link() {
	ip -n "$PFX-host" -j -s link show tap0 2>/dev/null | jq -c '.[0].stats64 |
		{rx_packets: .rx.packets, rx_bytes: .rx.bytes, tx_packets: .tx.packets,
		 tx_bytes: .tx.bytes, tx_dropped: .tx.dropped}' 2>/dev/null || echo null
}

# run_iperf N CONTENDER ROUND tx|rx: iperf3 run N, started by the guest; its JSON line out.
run_iperf() {
	local n=$1 c=$2 r=$3 dir=$4 t
	ip netns exec "$PFX-out" timeout $((seconds + 300)) iperf3 -s -1 -B "$TOPO_OUT_IP" -p "$port" \
		>"$TOPO_TMP/server.$n.log" 2>&1 &
	srv_pid=$!
	for ((t = 0; t < 100; t++)); do
		[[ -n $(ip netns exec "$PFX-out" ss -Hltn "sport = :$port") ]] && break
		sleep 0.05
	done
	local before after lbefore lafter cpu0 cpu1
	before=$(tap_counters "$c")
	lbefore=$(tap_link)
	cpu0=$(host_cpu_ticks)
	local args="-c $TOPO_OUT_IP -p $port -t $seconds -O 1 -J --connect-timeout 20000"
	[[ $dir == rx ]] && args+=" -R"
	echo "$args" >"$shared/job.$n.tmp" && mv "$shared/job.$n.tmp" "$shared/job.$n"
	for ((t = 0; t < (seconds + 300) * 5; t++)); do
		[[ -e $shared/res.$n.rc ]] && break
		kill -0 "$guest_pid" 2>/dev/null || fail "the guest's VM ended during iperf3 run $n"
		sleep 0.2
	done
	cpu1=$(host_cpu_ticks)
	after=$(tap_counters "$c")
	lafter=$(tap_link)
	wait "$srv_pid" 2>/dev/null
	srv_pid=''
	local rc
	rc=$(cat "$shared/res.$n.rc" 2>/dev/null)
	if [[ $rc != 0 ]]; then
		log "iperf3 ($c, $dir) in the guest: exit ${rc:-none}: $(jq -r '.error // empty' "$shared/res.$n.json" 2>/dev/null) $(tail -n3 "$shared/res.$n.err" 2>/dev/null)"
		return 1
	fi
	jq -c --arg c "$c" --argjson r "$r" --arg d "$dir" --argjson b "$before" --argjson a "$after" \
		--argjson lb "$lbefore" --argjson la "$lafter" \
		--argjson cpu_s "$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", (b - a) / hz }')" '
		def delta($a; $b): if $a == null or $b == null then null
			else ($a | with_entries(select(.value | type == "number")))
			     | with_entries(.value -= ($b[.key] // 0)) end;
		{scenario: "qemu", contender: $c, round: $r, direction: $d,
		 gbps: (.end.sum_received.bits_per_second / 1e9), secs: .end.sum_received.seconds,
		 bytes: .end.sum_received.bytes, retransmits: (.end.sum_sent.retransmits // null),
		 tap0: delta($a; $b), tap0_link: delta($la; $lb),
		 host_cpu_s: $cpu_s,
		 host_cpu_s_per_gb: (if .end.sum_received.bytes > 0 then $cpu_s / (.end.sum_received.bytes / 1e9) else null end)}' "$shared/res.$n.json"
}

main() {
	vm_require_root
	vm_require_tools ip jq iperf3 ss ping ethtool
	vm_require_vng
	vm_require_kernel "$kernel"

	topo_init "$prefix"
	trap cleanup EXIT
	trap 'exit 130' INT TERM HUP
	shared=$(mktemp -d "/tmp/$PFX-shared.XXXXXX") || exit 1
	write_guest_script

	topo_create 0
	ip netns exec "$PFX-out" sysctl -qw net.ipv4.tcp_no_metrics_save=1
	# The host's eth0 up, both veth ends at their defaults (GRO off): what each bridge
	# needs of them, it sets itself (xbridge turns GRO on for its lifetime).
	{ ip -n "$PFX-host" link set eth0 up &&
		ip -n "$PFX-host" tuntap add dev tap0 mode tap &&
		ip -n "$PFX-host" link set tap0 up; } || fail "cannot make tap0"
	log "booting the guest (virtio-net on tap0, $kernel, TCG unless XB_VM_KVM=1)"
	boot_guest

	local r c dir failed=()
	for ((r = 1; r <= rounds; r++)); do
		local order=(xbridge kbr)
		((r % 2)) || order=(kbr xbridge)
		for c in "${order[@]}"; do
			bridge_up "$c" || fail "round $r: bringing $c up failed"
			if ! wait_guest; then
				log "round $r, $c: the outside PC cannot ping the guest"
				diagnose >&2
				failed+=("round $r, $c: no ping")
			else
				for dir in tx rx; do
					job=$((job + 1))
					if run_iperf "$job" "$c" "$r" "$dir" >"$TOPO_TMP/line" && [[ -s $TOPO_TMP/line ]]; then
						cat "$TOPO_TMP/line"
						log "round $r, $c, $dir: $(jq -r '"\(.gbps * 1000 | round / 1000) Gbit/s, \(.retransmits) retransmits"' "$TOPO_TMP/line")"
					else
						failed+=("round $r, $c, $dir: iperf3 failed")
					fi
				done
			fi
			bridge_down "$c" || fail "round $r: taking $c down failed"
		done
	done
	# The guest stops itself on "stop"; cleanup waits for its VM.
	if ((${#failed[@]})); then
		local msg
		msg=$(printf '%s; ' "${failed[@]}")
		fail "${msg%; } (details above)"
	fi
}

main "$@"
