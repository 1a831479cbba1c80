#!/usr/bin/env bash
# Proof that a real QEMU guest can sit on a tap device: in a throw-away network
# namespace, makes a persistent tap (tap0) with an address, boots a guest
# through vmtest/run.sh with a virtio NIC on that tap, and has the guest ping
# the tap's address. Everything (namespace, tap) is removed on exit.
#
# Usage: vmtest/tap-smoke.sh [run.sh options, e.g. --kernel PKG|IMAGE]
# Must run as root. Exit status: the guest's ping's (0 = the guest reached the tap).
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly here
readonly ns="xbvt-$$"
# Addresses live only inside the namespace made here; nothing leaves it.
readonly host_ip=10.199.0.1 guest_ip=10.199.0.2 prefix=24
readonly guest_mac=52:54:00:78:62:01

log() { echo "vmtest/tap-smoke.sh: $*" >&2; }

cleanup() {
	# Deleting the namespace deletes the tap in it too.
	if ip netns list | grep -qx "$ns\( .*\)\?"; then
		ip netns del "$ns" || log "could not delete network namespace $ns"
	fi
}

main() {
	[[ $(id -u) -eq 0 ]] || {
		log "must run as root (it makes a network namespace and a tap)"
		exit 1
	}
	trap cleanup EXIT
	trap 'exit 130' INT TERM HUP
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" ip tuntap add dev tap0 mode tap
	ip -n "$ns" addr add "$host_ip/$prefix" dev tap0
	ip -n "$ns" link set tap0 up

	# The guest finds its NIC by MAC: its name depends on the kernel and udev.
	local guest_cmd
	guest_cmd=$(
		cat <<-EOF
			modprobe -q virtio_net 2>/dev/null
			dev=""
			for d in /sys/class/net/*; do
			    [ "\$(cat "\$d/address")" = "$guest_mac" ] && dev=\${d##*/}
			done
			[ -n "\$dev" ] || { echo "guest: no NIC with MAC $guest_mac"; ip -br link; exit 1; }
			ip link set "\$dev" up
			ip addr add $guest_ip/$prefix dev "\$dev"
			ip -br addr show dev "\$dev"
			ping -c 3 -W 5 $host_ip
		EOF
	)
	local rc=0
	ip netns exec "$ns" "$here/run.sh" "$@" \
		--qemu-opts="-netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=$guest_mac" \
		-- "$guest_cmd" || rc=$?
	# The host side's view: the tap's packet counters.
	ip -n "$ns" -s link show tap0 >&2 || true
	if ((rc == 0)); then
		log "ok: the guest pinged $host_ip on tap0 in $ns"
	else
		log "FAILED (exit $rc)"
	fi
	return "$rc"
}

main "$@"
