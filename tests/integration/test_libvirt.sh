# shellcheck shell=bash
# The libvirt hook (`xbridge libvirt-hook DOMAIN OP SUB-OP`, domain XML on stdin), fed the
# domains of tests/data/libvirt as libvirt feeds them: a virtio interface with 4 queues
# and an MTU and an e1000 one, placed by the domain's metadata; one placed by the
# bridge's file; a domain with no xbridge interface at all. Taps and ports are checked
# after prepare begin and release end.

XB_LIBVIRT_DATA=$(cd "$(dirname "${BASH_SOURCE[0]}")/../data/libvirt" && pwd)

# domain NAME: the domain's XML with this test's device prefix and bridge.
domain() {
	sed -e "s/@PFX@/$PFX/g" -e "s/@BRIDGE@/$XB_BRIDGE/g" "$XB_LIBVIRT_DATA/$1.xml"
}

# hook DOMAIN OP SUB-OP: runs the hook as libvirt does; its output in $TOPO_TMP/hook.out.
hook() {
	domain "$1" | xb libvirt-hook "$1" "$2" "$3" - >"$TOPO_TMP/hook.out" 2>&1
}

# The bridge of the tests: eth0, and the guest port of db1 in its file.
hook_bridge() {
	topo_create 1
	export XBRIDGE_CONFIG_DIR=$TOPO_TMP
	printf 'uplink = "eth0"\nmetrics = "off"\n[ports.%s]\nguest = true\nisolated = true\nvlans = ["7 pvid untagged", "8"]\nrate-limit = "5mbit"\n[[fdb]]\nmac = "02:00:00:00:0d:01"\nport = "%s"\n' \
		"${PFX}d0" "${PFX}d0" >"$TOPO_TMP/$XB_BRIDGE.toml"
	xb apply --name "$XB_BRIDGE" >/dev/null || fail "apply failed"
}

flags_of() { xb status --name "$XB_BRIDGE" | awk -v p="$1" '$1 == p {print $NF}'; }

# The whole status line of a port (a rate limit's flags have spaces).
status_of() { xb status --name "$XB_BRIDGE" | awk -v p="$1" '$1 == p'; }

# vlans PORT: a port's VLANs as `vlan show --json` gives them, one line.
vlans() { xb vlan show --name "$XB_BRIDGE" --port "$1" --json | jq -c '.[0].vlans'; }

test_hook_metadata_ports_prepare_release() {
	hook_bridge
	local w0=${PFX}w0 w1=${PFX}w1 op
	for op in "start begin" "started begin" "stopped end" "reconnect begin"; do
		# shellcheck disable=SC2086 # OP SUB-OP, two words
		hook web1 $op || fail "the hook failed at $op: $(cat "$TOPO_TMP/hook.out")"
	done
	in_ns host ip link show "$w0" >/dev/null 2>&1 && fail "a step other than prepare made a tap"
	hook web1 prepare begin || fail "prepare begin failed: $(cat "$TOPO_TMP/hook.out")"
	cat "$TOPO_TMP/hook.out"
	in_ns host ip -d link show "$w0" | matches 'multi_queue' || fail "$w0 is not multi-queue (queues='4')"
	in_ns host ip link show "$w0" | matches 'mtu 1400' || fail "$w0 has not the domain's MTU 1400"
	in_ns host ip -d link show "$w1" | matches 'multi_queue' && fail "$w1 (no queues) is multi-queue"
	[[ $(flags_of "$w0") == *locked* && $(flags_of "$w0") == *storm-limit=2000* ]] ||
		fail "$w0 has not the metadata's flags: $(flags_of "$w0")"
	[[ $(flags_of "$w1") == *isolated* && $(flags_of "$w1") != *,flood,* ]] ||
		fail "$w1 has not the metadata's flags: $(flags_of "$w1")"
	echo "ok: prepare begin made both taps and attached them with the metadata's flags"

	# The guest's NIC on the e1000 tap reaches the outside PC (isolated: the uplink is not).
	topo_start_guest_on host "$w1" 0 || fail "the guest on $w1 did not start"
	assert_ping g0 "$TOPO_OUT_IP"

	# apply leaves a running guest's ports alone, and prints them as guest ports.
	[[ $(xb apply --name "$XB_BRIDGE") == "$XB_BRIDGE: nothing changed" ]] ||
		fail "apply changed a bridge with guest ports"
	xb status --name "$XB_BRIDGE" --config | grep -A4 "^\[ports.$w0\]" | matches 'guest = true' ||
		fail "status --config does not print $w0 as a guest port"

	topo_stop_guest 0
	hook web1 release end || fail "release end failed: $(cat "$TOPO_TMP/hook.out")"
	cat "$TOPO_TMP/hook.out"
	in_ns host ip link show "$w0" >/dev/null 2>&1 && fail "release end left $w0"
	in_ns host ip link show "$w1" >/dev/null 2>&1 && fail "release end left $w1"
	xb status --name "$XB_BRIDGE" | matches "^$PFX" && fail "release end left a port"
	echo "ok: release end detached and deleted both taps"
}

test_hook_file_port_and_foreign_domain() {
	hook_bridge
	local d0=${PFX}d0
	hook db1 prepare begin || fail "prepare begin failed: $(cat "$TOPO_TMP/hook.out")"
	[[ $(status_of "$d0") == *isolated* ]] || fail "$d0 has not the file's flags: $(status_of "$d0")"
	[[ $(vlans "$d0") == '[{"vlan":7,"flags":["PVID","Egress Untagged"]},{"vlan":8}]' ]] ||
		fail "$d0 has not the file's VLANs: $(vlans "$d0")"
	[[ $(status_of "$d0") == *"rate-limit=5mbit burst 62500"* ]] || fail "$d0 has not the file's rate limit: $(status_of "$d0")"
	xb fdb show --name "$XB_BRIDGE" | matches "02:00:00:00:0d:01 $d0 .*static" ||
		fail "$d0 came without the file's static entry"
	[[ $(xb apply --name "$XB_BRIDGE") == "$XB_BRIDGE: nothing changed" ]] ||
		fail "apply changed the guest port the hook made from the file"
	echo "ok: a guest port of the bridge's file, made by the hook with the file's flags and static entry"
	hook db1 release end || fail "release end failed: $(cat "$TOPO_TMP/hook.out")"
	in_ns host ip link show "$d0" >/dev/null 2>&1 && fail "release end left $d0"

	local before after
	before=$(in_ns host ip -br link | sort)
	hook plain prepare begin || fail "the hook failed on a domain with no xbridge interface"
	[[ ! -s $TOPO_TMP/hook.out ]] || fail "the hook said something: $(cat "$TOPO_TMP/hook.out")"
	hook plain release end || fail "release end failed on a domain with no xbridge interface"
	after=$(in_ns host ip -br link | sort)
	[[ $before == "$after" ]] || fail "a domain with no xbridge interface changed the devices"
	echo "ok: a domain with no xbridge interface is left to libvirt"
}

test_hook_metadata_vlans_and_policy() {
	require_tools jq
	hook_bridge
	local a0=${PFX}a0 a1=${PFX}a1
	hook app1 prepare begin || fail "prepare begin failed: $(cat "$TOPO_TMP/hook.out")"
	cat "$TOPO_TMP/hook.out"
	xb vlan show --name "$XB_BRIDGE"
	xb status --name "$XB_BRIDGE"
	[[ $(vlans "$a0") == '[{"vlan":10,"flags":["PVID","Egress Untagged"]}]' ]] ||
		fail "$a0 is not an access port of VLAN 10 (vlan=\"10\"): $(vlans "$a0")"
	[[ $(vlans "$a1") == '[{"vlan":20,"flags":["PVID","Egress Untagged"]},{"vlan":30},{"vlan":31},{"vlan":32}]' ]] ||
		fail "$a1 has not the metadata's VLANs: $(vlans "$a1")"
	local s0
	s0=$(status_of "$a0")
	[[ $s0 == *"rate-limit=2000pps burst 200"* && $s0 == *"allowed-ip=10.77.0.101,fd77::101"* &&
		$s0 == *bpdu-guard* && $s0 != *dhcp-server* ]] || fail "$a0 has not the metadata's policy: $s0"
	[[ $(flags_of "$a1") == *mcast_router* ]] || fail "$a1 is no multicast router port: $(flags_of "$a1")"
	[[ $(xb apply --name "$XB_BRIDGE") == "$XB_BRIDGE: nothing changed" ]] ||
		fail "apply changed the metadata's guest ports"
	echo "ok: the metadata's VLANs, rate limit, allowed addresses and flags are the taps'"
	hook app1 release end || fail "release end failed: $(cat "$TOPO_TMP/hook.out")"
	xb status --name "$XB_BRIDGE" | matches "^$PFX" && fail "release end left a port"
	[[ $(xb vlan show --name "$XB_BRIDGE" --json | jq -c "[.[] | select(.ifname | startswith(\"$PFX\"))]") == '[]' ]] ||
		fail "release end left VLANs of the guest's ports"
	echo "ok: release end took the ports and their VLANs"
}

test_hook_failure_leaves_nothing() {
	hook_bridge
	local w0=${PFX}w0 w1=${PFX}w1
	# w1 exists multi-queue, the domain wants it single-queue: w0, made first, goes again.
	in_ns host ip tuntap add mode tap multi_queue name "$w1"
	local before
	before=$(in_ns host ip -br link | sort)
	domain web1 >"$TOPO_TMP/web1.xml"
	expect_error "tap $w1 is multi-queue, the domain asks for 1 queue" \
		xb libvirt-hook web1 prepare begin - <"$TOPO_TMP/web1.xml"
	[[ $(in_ns host ip -br link | sort) == "$before" ]] || fail "the failed prepare left devices"
	xb status --name "$XB_BRIDGE" | matches "^$w0" && fail "the failed prepare left $w0 attached"
	in_ns host ip link del "$w1"

	# A bridge that does not run fails the guest's start.
	sed "s/bridge=\"$XB_BRIDGE\"/bridge=\"${XB_BRIDGE}x\"/" "$TOPO_TMP/web1.xml" >"$TOPO_TMP/web1x.xml"
	expect_error "bridge ${XB_BRIDGE}x is not running" \
		xb libvirt-hook web1 prepare begin - <"$TOPO_TMP/web1x.xml"
	in_ns host ip link show "$w0" >/dev/null 2>&1 && fail "a failed prepare left $w0"
	expect_error "domain XML: " xb libvirt-hook web1 prepare begin - <<<"<domain>"
	echo "ok: a failed prepare leaves nothing behind"
}

test_libvirtd_domain() {
	# A domain defined and started by libvirtd itself, with the installed hook.
	command -v libvirtd >/dev/null ||
		skip "libvirt-daemon-system is not installed: libvirtd would need systemd as PID 1 (not here) and would make its default network's virbr0 on this host's own interfaces"
	skip "libvirtd runs here, but the hook is not installed in its /etc/libvirt/hooks/qemu.d by a test: run this in a VM with the package installed"
}
