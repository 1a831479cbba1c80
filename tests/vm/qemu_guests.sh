#!/usr/bin/env bash
# End to end with real QEMU guests, on the host's own kernel: the standard topology
# of scripts/lib/topology.sh (an outside PC on a veth whose peer is eth0 in the
# host namespace), `xbridge up --tap-user nobody eth0 tap0 tap1`, then two QEMU
# guests booted with virtme-ng on Debian 12's kernel, run by the unprivileged tap
# owner as a VM host would run them:
#   guest A: virtio-net on tap0, 10.77.0.10, 52:54:00:12:34:56
#   guest B: e1000 on tap1,      10.77.0.11, 52:54:00:12:34:57
# Both run at the same time and each pings the outside PC, the host and the other
# guest; guest A also sends 8 MiB over TCP to the outside PC (virtio-net with
# checksum offload and TSO: partial-checksum and GSO frames into the tap). While
# they are up the host checks that QEMU runs as the tap owner, that the outside PC
# reaches both guests, that the stream arrived intact, that the FDB learned each
# guest's MAC on its tap, and that `xbridge stats` counted the frames through the
# taps. The guests and the host meet through files in a shared directory
# (GUEST.up, GUEST.done, host.checked).
#
# Usage: qemu_guests.sh   (ctest test vm.qemu_guests; needs root; XB = xbridge)
# Environment: XB_VM_GUEST_KERNEL (default linux-image-amd64, from vmtest/.cache),
# XB_VM_TAP_USER (default nobody), XB_VM_GUEST_TIMEOUT (s per guest VM, default 900).
# Exit status: 0 pass, 1 fail, 77 skipped (with the reason). Everything it made
# (namespaces, taps, bridge pins, QEMU processes, files) is removed on exit.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=../../scripts/lib/topology.sh
source "$vm_repo/scripts/lib/topology.sh"

: "${XB:?XB must point to the xbridge binary}"
readonly kernel=${XB_VM_GUEST_KERNEL:-linux-image-amd64}
readonly tap_user=${XB_VM_TAP_USER:-nobody}
readonly guest_timeout=${XB_VM_GUEST_TIMEOUT:-900}
# How long the host waits for both guests to finish their pings: two TCG boots
# side by side on two cores take about a minute; leave a wide margin.
readonly wait_secs=$((guest_timeout - 60))

names=(A B)
taps=(tap0 tap1)
devices=(virtio-net-pci e1000)
modules=(virtio_net e1000)
xfer_mib=(8 0) # guest A also sends this much over TCP to the outside PC

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

xb() { "$XB" -n "$PFX-host" "$@"; }

shared=""
guest_pids=()
nc_pid=""

# shellcheck disable=SC2317 # invoked from the EXIT trap
cleanup() {
	local pid
	[[ -z $shared ]] || touch "$shared/abort" 2>/dev/null
	# run.sh stops its VM (vng, QEMU) on SIGTERM and waits for it.
	for pid in "${guest_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${guest_pids[@]}"; do wait "$pid" 2>/dev/null; done
	((${#guest_pids[@]} == 0)) || show_guest_logs
	topo_cleanup
	[[ -z $shared ]] || rm -rf "$shared"
}

# The script each guest runs (as root inside the guest): NIC by MAC, address,
# "up", wait for the peer, pings, "done", wait for the host's checks.
write_guest_script() {
	cp "$vm_repo/tests/vm/guest_lib.sh" "$shared/"
	cat >"$shared/guest.sh" <<'GUEST'
me=$1 peer=$2 mac=$3 ip=$4 peer_ip=$5 module=$6 shared=$7 out_ip=$8 host_ip=$9 xfer_mib=${10}
say() { echo "guest $me: $*"; }
source "$shared/guest_lib.sh"
# wait_for FILE SECS: true once FILE exists; false on timeout or when the host aborts.
wait_for() {
	local i
	for ((i = 0; i < $2 * 2; i++)); do
		[ -e "$1" ] && return 0
		[ -e "$shared/abort" ] && { say "the host aborted the test"; return 1; }
		sleep 0.5
	done
	say "gave up waiting for ${1##*/} after $2 s"
	return 1
}
finish() { echo "$1" >"$shared/$me.done"; wait_for "$shared/host.checked" 600; exit "$1"; }

modprobe "$module" || say "modprobe $module failed"
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
guest_nic_up "$mac" "$ip" || finish 1
say "$dev ($module, $mac) has $ip; $(uname -r)"
echo up >"$shared/$me.up"
wait_for "$shared/$peer.up" 600 || finish 1

rc=0
# ping_ok NAME IP: the first answer may take a while (ARP, link, TCG), then 3 in a row.
ping_ok() {
	local i
	for ((i = 0; i < 30; i++)); do
		ping -c 1 -W 2 -q "$2" >/dev/null 2>&1 && break
	done
	if ping -c 3 -i 0.5 -W 5 -q "$2" >/dev/null 2>&1; then
		say "ok: ping $1 $2"
	else
		say "FAIL: ping $1 $2"
		ping -c 1 -W 2 "$2"
		ip neigh show
		rc=1
	fi
}
ping_ok "the outside PC" "$out_ip"
ping_ok "the host" "$host_ip"
ping_ok "guest $peer" "$peer_ip"
# A TCP stream to the outside PC's listener: with virtio-net's checksum offload and
# TSO the guest writes partial-checksum and GSO frames into the tap.
if [ "$xfer_mib" -gt 0 ]; then
	say "offloads: $(ethtool -k "$dev" 2>/dev/null | grep -E '^(tx-checksumming|tcp-segmentation-offload):' | tr -s '\n\t ' ' ')"
	head -c "${xfer_mib}M" /dev/urandom >/tmp/xfer
	sha256sum </tmp/xfer | cut -d' ' -f1 >"$shared/$me.sha256"
	if timeout 120 nc -N -w 10 "$out_ip" 5201 </tmp/xfer; then
		say "ok: sent $xfer_mib MiB over TCP to the outside PC"
	else
		say "FAIL: TCP to the outside PC"
		rc=1
	fi
fi
finish "$rc"
GUEST
}

# start_guest N: boots guest N in the host namespace, QEMU run by the tap owner.
start_guest() {
	local n=$1 peer=$((1 - $1))
	local mac ip peer_ip
	mac=$(topo_guest_mac "$n")
	ip=$(topo_guest_ip "$n")
	peer_ip=$(topo_guest_ip "$peer")
	ip netns exec "$PFX-host" "$vm_repo/vmtest/run.sh" --kernel "$kernel" --user "$tap_user" \
		--memory 1G --cpus 1 --timeout "$guest_timeout" --rwdir "$shared" \
		--qemu-opts="-netdev tap,id=n0,ifname=${taps[$n]},script=no,downscript=no -device ${devices[$n]},netdev=n0,mac=$mac" \
		-- bash "$shared/guest.sh" "${names[$n]}" "${names[$peer]}" "$mac" "$ip" "$peer_ip" \
		"${modules[$n]}" "$shared" "$TOPO_OUT_IP" "$TOPO_HOST_IP" "${xfer_mib[$n]}" \
		>"$TOPO_TMP/guest${names[$n]}.log" 2>&1 &
	guest_pids[n]=$!
}

# wait_done SECS: true once both guests wrote GUEST.done; false if one's VM
# ended first or time ran out.
wait_done() {
	local t n
	for ((t = 0; t < $1; t++)); do
		[[ -e $shared/A.done && -e $shared/B.done ]] && return 0
		for n in 0 1; do
			if [[ ! -e $shared/${names[$n]}.done ]] && ! kill -0 "${guest_pids[$n]}" 2>/dev/null; then
				echo "guest ${names[$n]}'s VM ended before its pings were done" >&2
				return 1
			fi
		done
		sleep 1
	done
	echo "the guests did not finish within $1 s" >&2
	return 1
}

show_guest_logs() {
	local n
	[[ -e ${TOPO_TMP:-}/guestA.log ]] || return 0
	for n in 0 1; do
		echo "--- guest ${names[$n]} (${devices[$n]} on ${taps[$n]})"
		sed 's/^/    /' "$TOPO_TMP/guest${names[$n]}.log" 2>/dev/null
	done
}

# The processes that hold the taps are QEMU, run by the tap owner.
check_qemu_user() {
	local pid user comm found=0
	for pid in $(ip netns pids "$PFX-host"); do
		read -r user comm < <(ps -o user=,comm= -p "$pid") || continue
		[[ $comm == qemu-system-* ]] || continue
		found=$((found + 1))
		[[ $user == "$tap_user" ]] || fail "QEMU (pid $pid) runs as $user, not $tap_user"
	done
	((found == 2)) || fail "expected 2 QEMU processes in $PFX-host, found $found"
	echo "ok: both QEMU processes run as $tap_user"
}

# The bytes guest A sent over TCP reached the outside PC intact.
check_tcp() {
	local t
	for ((t = 0; t < 30; t++)); do
		kill -0 "$nc_pid" 2>/dev/null || break
		sleep 1
	done
	kill -0 "$nc_pid" 2>/dev/null && fail "the outside PC's TCP listener did not finish"
	local want got
	want=$(cat "$shared/A.sha256" 2>/dev/null)
	got=$(sha256sum <"$TOPO_TMP/recv" | cut -d' ' -f1)
	[[ -n $want && $got == "$want" ]] ||
		fail "the outside PC received $(stat -c %s "$TOPO_TMP/recv") bytes from guest A, not its ${xfer_mib[0]} MiB intact"
	echo "ok: ${xfer_mib[0]} MiB over TCP from guest A (virtio-net, offloads on) reached the outside PC intact"
}

check_fdb() {
	local fdb n
	fdb=$(xb fdb show --name "$XB_BRIDGE" --json) || fail "fdb show failed"
	for n in 0 1; do
		[[ $(jq -r --arg m "$(topo_guest_mac "$n")" '.[] | select(.mac==$m) | "\(.port) \(.type)"' <<<"$fdb") == "${taps[$n]} dynamic" ]] ||
			fail "guest ${names[$n]}'s MAC $(topo_guest_mac "$n") is not learned on ${taps[$n]}: $fdb"
		echo "ok: fdb: $(topo_guest_mac "$n") on ${taps[$n]}"
	done
}

# The bridge's counters for each tap moved with the pings, both ways. Each guest
# sent at least 4 echo requests to each of 3 targets and got the replies, and
# answered the outside PC's 3: at least 15 frames in each direction.
check_counters() {
	local stats tap rx tx
	stats=$(xb stats --name "$XB_BRIDGE" --json) || fail "xbridge stats --json failed"
	for tap in "${taps[@]}"; do
		read -r rx tx < <(jq -r --arg t "$tap" '.ports[] | select(.name==$t) | "\(.rx_packets) \(.tx_packets)"' <<<"$stats")
		[[ ${rx:-} =~ ^[0-9]+$ && ${tx:-} =~ ^[0-9]+$ ]] || fail "no counters for $tap in xbridge stats: $stats"
		((rx >= 15 && tx >= 15)) || fail "$tap's counters did not move with the pings (rx $rx, tx $tx): $stats"
		echo "ok: xbridge stats: $tap rx $rx tx $tx packets"
	done
}

main() {
	vm_require_root
	vm_require_tools ip jq ping setpriv ps
	vm_require_vng
	vm_require_kernel "$kernel"
	id -u "$tap_user" >/dev/null 2>&1 || skip "no user $tap_user to own the taps and run QEMU"

	topo_init "xbq$$"
	XB_BRIDGE="xbq$$"
	trap cleanup EXIT
	trap 'exit 130' INT TERM HUP

	# The guests' meeting point: a --rwdir that QEMU, run as the tap owner, writes.
	shared=$(mktemp -d "/tmp/$PFX-shared.XXXXXX")
	chown "$tap_user" "$shared"
	write_guest_script

	echo "== topology $PFX, bridge $XB_BRIDGE: xbridge up --tap-user $tap_user eth0 tap0 tap1"
	topo_create 0
	xb up --name "$XB_BRIDGE" --tap-user "$tap_user" eth0 tap0 tap1 || fail "xbridge up failed"
	local n
	for n in 0 1; do
		[[ $(ip netns exec "$PFX-host" cat "/sys/class/net/${taps[$n]}/owner") == "$(id -u "$tap_user")" ]] ||
			fail "${taps[$n]} is not owned by $tap_user"
	done

	# Guest A's TCP stream lands here, in the outside PC.
	ip netns exec "$PFX-out" timeout "$guest_timeout" nc -l -p 5201 >"$TOPO_TMP/recv" &
	nc_pid=$!

	echo "== booting guest A (virtio-net on tap0) and guest B (e1000 on tap1) on $kernel"
	local started=$SECONDS
	start_guest 0
	start_guest 1
	# Both up: check the QEMU processes while they hold the taps.
	local t
	for ((t = 0; t < wait_secs; t++)); do
		[[ -e $shared/A.up && -e $shared/B.up ]] && break
		if ! kill -0 "${guest_pids[0]}" 2>/dev/null || ! kill -0 "${guest_pids[1]}" 2>/dev/null; then
			break
		fi
		sleep 1
	done
	if [[ -e $shared/A.up && -e $shared/B.up ]]; then
		echo "ok: both guests up after $((SECONDS - started)) s"
		check_qemu_user
	fi
	local ok=1
	wait_done "$((wait_secs - (SECONDS - started)))" || ok=0

	if ((ok)); then
		echo "== the host's checks, with both guests up ($((SECONDS - started)) s)"
		local g
		for g in 0 1; do
			if ip netns exec "$PFX-out" ping -c 3 -i 0.5 -W 5 -q "$(topo_guest_ip "$g")" >/dev/null; then
				echo "ok: ping outside PC -> guest ${names[$g]}"
			else
				ok=0
				echo "FAIL: the outside PC cannot ping guest ${names[$g]}" >&2
			fi
		done
		if ((ok)) && ! (check_tcp && check_fdb && check_counters); then
			ok=0
		fi
	fi
	touch "$shared/host.checked"

	local rcs=()
	for n in 0 1; do
		local rc=0
		wait "${guest_pids[$n]}" || rc=$?
		rcs+=("$rc")
	done
	guest_pids=()
	show_guest_logs
	echo "== guests exited ${rcs[*]} after $((SECONDS - started)) s"
	((ok)) || fail "see above"
	[[ ${rcs[*]} == "0 0" ]] || fail "a guest's pings failed (guest A exit ${rcs[0]}, guest B exit ${rcs[1]})"

	xb down --name "$XB_BRIDGE" >/dev/null || fail "xbridge down failed"
	[[ ! -e $(topo_pins)/$XB_BRIDGE ]] || fail "xbridge down left its pins"
	echo "PASS: two QEMU guests (virtio-net, e1000) on xbridge's taps reach the outside PC, the host and each other"
}

main "$@"
