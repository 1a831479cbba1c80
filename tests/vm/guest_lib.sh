# shellcheck shell=bash
# Sourced inside real QEMU guests by the scripts they run (tests/vm/qemu_guests.sh,
# bench/qemu.sh), which copy it into the directory they share with the guest. The
# sourcing script defines say().

# guest_nic_up MAC IP: waits up to 10 s for the NIC with MAC, brings it up with IP/24
# and sets `dev` to its name; false (after listing the links) if no NIC has that MAC.
guest_nic_up() {
	local mac=$1 ip=$2 i d
	dev=""
	for ((i = 0; i < 100; i++)); do
		for d in /sys/class/net/*; do
			[ "$(cat "$d/address")" = "$mac" ] && dev=${d##*/}
		done
		[ -n "$dev" ] && break
		sleep 0.1
	done
	[ -n "$dev" ] || {
		say "no NIC with MAC $mac"
		ip -br link
		return 1
	}
	ip link set "$dev" up
	ip addr add "$ip/24" dev "$dev"
	return 0
}
