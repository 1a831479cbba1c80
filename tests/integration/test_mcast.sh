# shellcheck shell=bash
# Multicast snooping: guests that joined different groups each get only their group;
# unknown and link-local groups flood; router ports and the host's own memberships;
# leaves and ageing; the querier. Groups are joined by the guests' own IP stacks
# (IGMPv3, Linux's default), through a socket of Python's standard library.

# mc_join NS IFADDR GROUP: NS's stack joins GROUP on the interface of IFADDR, for as long
# as the process (pid in $TOPO_TMP/join-NS-GROUP.pid) lives; leaving it sends a leave.
mc_join() {
	local ns=$1 ifaddr=$2 group=$3
	# ip netns exec, not in_ns: $! must be python's own pid, for mc_leave's kill.
	ip netns exec "$PFX-$ns" /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             socket.inet_aton(sys.argv[1]) + socket.inet_aton(sys.argv[2]))
time.sleep(3600)' "$group" "$ifaddr" &
	echo $! >"$TOPO_TMP/join-$ns-$group.pid"
}

mc_leave() {
	local f="$TOPO_TMP/join-$1-$2.pid"
	kill "$(cat "$f")"
	wait "$(cat "$f")" 2>/dev/null || true
}

# mc_send NS IFADDR GROUP...: one UDP datagram to port 5000 of each GROUP, from NS. Sent
# through a raw socket with no UDP checksum (IPv4 allows it), so that the stack leaves
# no checksum to offload: the frames can be switched at XDP.
mc_send() {
	local ns=$1 ifaddr=$2
	shift 2
	in_ns "$ns" /usr/bin/python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
data = b"xbridge mcast test"
for g in sys.argv[2:]:
    s.sendto(struct.pack("!HHHH", 40000, 5000, 8 + len(data), 0) + data, (g, 0))' "$ifaddr" "$@"
}

# mc_query NS IFADDR [MAXRESP]: an IGMPv2 general query from NS (a multicast router's),
# its maximum response time MAXRESP tenths of a second (10 s by default).
mc_query() {
	in_ns "$1" /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IGMP)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))
q = bytearray([0x11, int(sys.argv[2]), 0, 0, 0, 0, 0, 0])
c = (q[0] << 8 | q[1]) + (q[2] << 8 | q[3]) + (q[4] << 8 | q[5]) + (q[6] << 8 | q[7])
c = ~((c & 0xffff) + (c >> 16)) & 0xffff
q[2], q[3] = c >> 8, c & 0xff
s.sendto(bytes(q), ("224.0.0.1", 0))' "$2" "${3:-100}"
}

# listen NS...: tcpdump on eth0 of each NS (the host's too) for UDP to port 5000; stop with
# heard, which leaves the destinations each NS received in $TOPO_TMP/heard-NS.
listen() {
	local ns t
	LISTENERS=()
	for ns in "$@"; do
		: >"$TOPO_TMP/heard-$ns.err"
		in_ns "$ns" tcpdump -i eth0 -nn -l -Q in udp port 5000 >"$TOPO_TMP/heard-$ns" 2>"$TOPO_TMP/heard-$ns.err" &
		LISTENERS+=("$!:$ns")
		for ((t = 0; t < 100 * ${XB_TIME_SCALE:-1}; t++)); do
			grep -q 'listening on' "$TOPO_TMP/heard-$ns.err" && break
			sleep 0.05
		done
	done
	sleep 0.2
}

heard() {
	local l
	sleep 0.5
	for l in "${LISTENERS[@]}"; do
		kill "${l%%:*}" 2>/dev/null
		wait "${l%%:*}" 2>/dev/null || true
	done
}

# got NS GROUP: NS received a datagram for GROUP.
got() { grep -q "> $2.5000: UDP" "$TOPO_TMP/heard-$1"; }

expect_heard() {
	local ns=$1 group=$2 want=$3
	if got "$ns" "$group"; then
		[[ $want == yes ]] || fail "$ns received $group's datagram: $(cat "$TOPO_TMP/heard-$ns")"
	else
		[[ $want == no ]] || fail "$ns did not receive $group's datagram"
	fi
}

# wait_mdb JQ-CONDITION: waits until `mdb show --json` satisfies it.
wait_mdb() {
	local t
	for ((t = 0; t < 100 * ${XB_TIME_SCALE:-1}; t++)); do
		xb mdb show --name "$XB_BRIDGE" --json | jq -e "$1" >/dev/null && return 0
		sleep 0.1
	done
	xb mdb show --name "$XB_BRIDGE" >&2
	fail "mdb never showed: $1"
}

member() { echo "any(.mdb[]; .port == \"$1\" and .grp == \"$2\")"; }

# snooping_bridge: standard_bridge with multicast snooping on, for tests that join groups
# from the guests (with Debian's python3).
snooping_bridge() {
	require_tools jq tcpdump
	[[ -x /usr/bin/python3 ]] || skip "no /usr/bin/python3 to join groups with"
	standard_bridge
	xb set mcast-snooping on --name "$XB_BRIDGE"
}

test_mcast_guests_get_only_their_group() {
	snooping_bridge
	local g0ip g1ip
	g0ip=$(topo_guest_ip 0)
	g1ip=$(topo_guest_ip 1)
	assert_ping g0 "$g1ip"
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .mcast_snooping) == true ]] || fail "snooping is not on"

	step "guest 0 joins 239.1.1.1, guest 1 239.2.2.2, the host 239.3.3.3: learned from their reports"
	mc_join g0 "$g0ip" 239.1.1.1
	mc_join g1 "$g1ip" 239.2.2.2
	mc_join host "$TOPO_HOST_IP" 239.3.3.3
	wait_mdb "$(member tap0 239.1.1.1) and $(member tap1 239.2.2.2) and $(member host 239.3.3.3)"
	xb mdb show --name "$XB_BRIDGE"
	[[ $(counter tap0 mcast_ctl) -ge 1 ]] || fail "no IGMP counted on tap0"

	step "from the outside PC (a flood at XDP, judged per copy): each gets only its group"
	local xdp
	xdp=$(counter eth0 rx_xdp)
	listen g0 g1
	mc_send out "$TOPO_OUT_IP" 239.1.1.1 239.2.2.2 239.3.3.3 239.9.9.9 224.0.0.251
	heard
	[[ $(($(counter eth0 rx_xdp) - xdp)) -ge 5 ]] || fail "the outside PC's multicast was not switched at XDP"
	expect_heard g0 239.1.1.1 yes
	expect_heard g0 239.2.2.2 no
	expect_heard g0 239.3.3.3 no
	expect_heard g1 239.2.2.2 yes
	expect_heard g1 239.1.1.1 no
	echo "ok: known groups reach their members only"
	# The host's delivery is seen in its counter (tcpdump on eth0 sees every frame that
	# reaches the stack, before the bridge's TC hook decides).
	local h
	h=$(counter host tx_packets)
	mc_send out "$TOPO_OUT_IP" 239.3.3.3 239.3.3.3 239.3.3.3 239.3.3.3 239.3.3.3
	sleep 0.3
	[[ $(($(counter host tx_packets) - h)) -ge 5 ]] || fail "the host did not get its group's frames"
	h=$(counter host tx_packets)
	mc_send out "$TOPO_OUT_IP" 239.1.1.1 239.1.1.1 239.1.1.1 239.1.1.1 239.1.1.1
	sleep 0.3
	[[ $(($(counter host tx_packets) - h)) -lt 5 ]] || fail "the host got a group it did not join"
	echo "ok: the host gets the group it joined, not the others"
	expect_heard g0 239.9.9.9 yes
	expect_heard g1 239.9.9.9 yes
	expect_heard g0 224.0.0.251 yes
	expect_heard g1 224.0.0.251 yes
	echo "ok: an unknown group and a link-local one flood"
	[[ $(counter eth0 mcast_snooped) -ge 3 ]] || fail "mcast_snooped on eth0: $(counter eth0 mcast_snooped)"
	# The copies held back at the devmap's egress are no drops (the kernel reports them as
	# such at the flush; the drop counter takes them out).
	[[ $(counter tap0 drops.redirect) -eq 0 && $(counter tap1 drops.redirect) -eq 0 ]] ||
		fail "held-back copies counted as redirect drops: tap0 $(counter tap0 drops.redirect), tap1 $(counter tap1 drops.redirect)"

	step "from guest 0 (the TC clone loop): guest 1's group reaches guest 1, not the outside PC"
	listen g1 out
	mc_send g0 "$g0ip" 239.2.2.2
	heard
	expect_heard g1 239.2.2.2 yes
	expect_heard out 239.2.2.2 no
	echo "ok"

	# Before any query: a stack that heard an IGMPv2 query leaves only if it reported last.
	step "guest 1 leaves: its membership goes, and 239.2.2.2 floods again"
	mc_leave g1 239.2.2.2
	local t
	for ((t = 0; t < 100 * ${XB_TIME_SCALE:-1}; t++)); do
		xb mdb show --name "$XB_BRIDGE" --json | jq -e "$(member tap1 239.2.2.2) | not" >/dev/null && break
		sleep 0.1
	done
	xb mdb show --name "$XB_BRIDGE" --json | jq -e "$(member tap1 239.2.2.2) | not" >/dev/null ||
		fail "guest 1's membership outlived its leave"
	listen g0
	mc_send out "$TOPO_OUT_IP" 239.2.2.2
	heard
	expect_heard g0 239.2.2.2 yes
	echo "ok: leave"

	step "a query from the outside PC makes eth0 a router port: it gets every group"
	mc_query out "$TOPO_OUT_IP"
	wait_mdb 'any(.router[]; .port == "eth0")'
	listen g0 out
	mc_send g1 "$g1ip" 239.1.1.1
	heard
	expect_heard g0 239.1.1.1 yes
	expect_heard out 239.1.1.1 yes
	echo "ok: router port"

	step "restart and upgrade keep the memberships (pinned maps)"
	xb restart --name "$XB_BRIDGE" >/dev/null
	xb upgrade --name "$XB_BRIDGE" >/dev/null
	xb mdb show --name "$XB_BRIDGE" --json | jq -e "$(member tap0 239.1.1.1)" >/dev/null ||
		fail "memberships lost across restart/upgrade"
	listen g1
	mc_send out "$TOPO_OUT_IP" 239.1.1.1
	heard
	expect_heard g1 239.1.1.1 no
	echo "ok"

	step "snooping off: everything floods, the mdb is empty"
	xb set mcast-snooping off --name "$XB_BRIDGE"
	[[ $(xb mdb show --name "$XB_BRIDGE" --json | jq '.mdb | length') -eq 0 ]] || fail "mdb not flushed"
	listen g1
	mc_send out "$TOPO_OUT_IP" 239.1.1.1
	heard
	expect_heard g1 239.1.1.1 yes
	echo "ok"
}

test_mcast_membership_ages_and_the_querier_refreshes_it() {
	snooping_bridge
	local g0ip
	g0ip=$(topo_guest_ip 0)
	xb set mcast-membership-interval 4 --name "$XB_BRIDGE"
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .mcast_membership_interval) -eq 4 ]] || fail "interval not set"

	step "a membership nobody refreshes ages out after the membership interval"
	mc_join g0 "$g0ip" 239.1.1.1
	wait_mdb "$(member tap0 239.1.1.1)"
	# IGMPv3 repeats its unsolicited report once, a second later; then only queries
	# bring reports, and there is no querier.
	local t
	for ((t = 0; t < 150 * ${XB_TIME_SCALE:-1}; t++)); do
		xb mdb show --name "$XB_BRIDGE" --json | jq -e "$(member tap0 239.1.1.1) | not" >/dev/null && break
		sleep 0.1
	done
	xb mdb show --name "$XB_BRIDGE" --json | jq -e "$(member tap0 239.1.1.1) | not" >/dev/null ||
		fail "the membership did not age out"
	echo "ok: aged out"

	step "the querier: guest 0 hears a general query and answers with its report"
	capture g0 "igmp and dst 224.0.0.1"
	xb set mcast-querier on --name "$XB_BRIDGE"
	capture_wait "$CAPTURE_PID" g0 $((10 * ${XB_TIME_SCALE:-1})) || fail "guest 0 heard no query"
	cat "$TOPO_TMP/cap-g0"
	wait_mdb "$(member tap0 239.1.1.1)"
	echo "ok: query sent, membership learned again from the answer"
	expect_error "mcast-snooping: 'maybe' is not on or off" xb set mcast-snooping maybe --name "$XB_BRIDGE"
}

# With IGMPv2 a member that hears another member's report for its group suppresses its own
# (RFC 2236 3): a snooping bridge that let the guests hear each other would hear only one
# of them and age the other's membership out. Reports go to router ports and the host only.
test_mcast_guests_do_not_hear_each_others_reports() {
	snooping_bridge
	local g0ip g1ip ns p
	g0ip=$(topo_guest_ip 0)
	g1ip=$(topo_guest_ip 1)
	assert_ping g0 "$g1ip"
	for ns in g0 g1; do
		in_ns "$ns" sysctl -qw net.ipv4.conf.eth0.force_igmp_version=2
	done
	xb set mcast-membership-interval 4 --name "$XB_BRIDGE"
	local pids=()
	for ns in g0 g1 out; do
		: >"$TOPO_TMP/igmp-$ns.err"
		in_ns "$ns" tcpdump -i eth0 -nn -l -Q in igmp >"$TOPO_TMP/igmp-$ns" 2>"$TOPO_TMP/igmp-$ns.err" &
		pids+=("$!")
	done
	for ns in g0 g1 out; do
		local t
		for ((t = 0; t < 100 * ${XB_TIME_SCALE:-1}; t++)); do
			grep -q 'listening on' "$TOPO_TMP/igmp-$ns.err" && break
			sleep 0.05
		done
	done

	step "both guests join 239.5.5.5 with IGMPv2; a router on the uplink queries every second"
	mc_query out "$TOPO_OUT_IP" 10
	wait_mdb 'any(.router[]; .port == "eth0")'
	mc_join g0 "$g0ip" 239.5.5.5
	mc_join g1 "$g1ip" 239.5.5.5
	wait_mdb "$(member tap0 239.5.5.5) and $(member tap1 239.5.5.5)"
	# Four times the membership interval: a guest that stayed silent would age out.
	local i
	for ((i = 0; i < 16; i++)); do
		mc_query out "$TOPO_OUT_IP" 10
		sleep 1
	done
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null || true
	done
	xb mdb show --name "$XB_BRIDGE"
	xb mdb show --name "$XB_BRIDGE" --json | jq -e "$(member tap0 239.5.5.5) and $(member tap1 239.5.5.5)" >/dev/null ||
		fail "a guest's membership aged out: $(xb mdb show --name "$XB_BRIDGE")"
	echo "ok: both guests remain members"
	grep -q "$g0ip > 239.5.5.5: igmp v2 report" "$TOPO_TMP/igmp-out" || fail "the router did not hear guest 0's reports: $(cat "$TOPO_TMP/igmp-out")"
	grep -q "$g1ip > 239.5.5.5: igmp v2 report" "$TOPO_TMP/igmp-out" || fail "the router did not hear guest 1's reports: $(cat "$TOPO_TMP/igmp-out")"
	grep -q "igmp query" "$TOPO_TMP/igmp-g0" || fail "the queries did not reach guest 0: $(cat "$TOPO_TMP/igmp-g0")"
	if grep "igmp v2 report" "$TOPO_TMP/igmp-g1" | matches "$g0ip"; then
		fail "guest 1 heard guest 0's report: $(cat "$TOPO_TMP/igmp-g1")"
	fi
	if grep "igmp v2 report" "$TOPO_TMP/igmp-g0" | matches "$g1ip"; then
		fail "guest 0 heard guest 1's report: $(cat "$TOPO_TMP/igmp-g0")"
	fi
	echo "ok: the router heard both guests' reports, neither guest the other's"
	mc_leave g0 239.5.5.5
	mc_leave g1 239.5.5.5
}

# mc6_join NS GROUP: NS's stack joins the IPv6 GROUP on eth0 (MLD) until mc_leave NS GROUP.
mc6_join() {
	local ns=$1 group=$2
	ip netns exec "$PFX-$ns" /usr/bin/python3 -c '
import socket, struct, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
             socket.inet_pton(socket.AF_INET6, sys.argv[1]) +
             struct.pack("@I", socket.if_nametoindex("eth0")))
time.sleep(3600)' "$group" &
	echo $! >"$TOPO_TMP/join-$ns-$group.pid"
}

# query_after FILTER PATTERN SETTING VALUE: sets SETTING, and guest 0 must hear a query
# (tcpdump FILTER) that tcpdump prints as PATTERN, within 10 s.
query_after() {
	capture g0 "$1"
	xb set "$3" "$4" --name "$XB_BRIDGE"
	capture_wait "$CAPTURE_PID" g0 $((10 * ${XB_TIME_SCALE:-1})) || fail "guest 0 heard no query after $3 $4"
	cat "$TOPO_TMP/cap-g0"
	grep -q "$2" "$TOPO_TMP/cap-g0" || fail "after $3 $4: no query like '$2'"
}

# The querier with no router on the segment: IGMP and MLD general queries, in the
# versions set (the kernel bridge's mcast_igmp_version 2|3, mcast_mld_version 1|2), and a
# listener that answers them stays a member.
test_mcast_the_querier_speaks_igmp_and_mld_in_the_versions_set() {
	snooping_bridge
	ipv6_on g0
	xb set mcast-membership-interval 4 --name "$XB_BRIDGE"
	local st
	st=$(xb status --name "$XB_BRIDGE" --json)
	[[ $(jq -r '"\(.mcast_igmp_version) \(.mcast_mld_version)"' <<<"$st") == "2 1" ]] ||
		fail "default versions: $(jq -c '[.mcast_igmp_version, .mcast_mld_version]' <<<"$st")"

	step "guest 0 listens on ff0e::1:5; its membership ages out with nobody asking"
	mc6_join g0 ff0e::1:5
	wait_mdb "$(member tap0 ff0e::1:5)"
	local t
	for ((t = 0; t < 150 * ${XB_TIME_SCALE:-1}; t++)); do
		xb mdb show --name "$XB_BRIDGE" --json | jq -e "$(member tap0 ff0e::1:5) | not" >/dev/null && break
		sleep 0.1
	done
	xb mdb show --name "$XB_BRIDGE" --json | jq -e "$(member tap0 ff0e::1:5) | not" >/dev/null ||
		fail "the membership did not age out"

	# An MLD query comes behind a hop-by-hop header: its type is at byte 48.
	local mldq='ip6 and ip6[6] == 0 and ip6[48] == 130'
	step "querier on: an MLDv1 general query (24 bytes) reaches guest 0, which answers"
	query_after "$mldq" "multicast listener query.*length 24" mcast-querier on
	wait_mdb "$(member tap0 ff0e::1:5)"
	echo "ok: MLDv1 query, membership learned again from the answer"

	step "mcast-mld-version 2: an MLDv2 query (28 bytes), at once"
	query_after "$mldq" "multicast listener query v2.*length 28" mcast-mld-version 2
	wait_mdb "$(member tap0 ff0e::1:5)"
	echo "ok"

	step "mcast-igmp-version 3: an IGMPv3 query"
	query_after "igmp and dst 224.0.0.1" "igmp query v3" mcast-igmp-version 3
	st=$(xb status --name "$XB_BRIDGE" --json)
	[[ $(jq -r '"\(.mcast_igmp_version) \(.mcast_mld_version)"' <<<"$st") == "3 2" ]] ||
		fail "versions: $(jq -c '[.mcast_igmp_version, .mcast_mld_version]' <<<"$st")"
	xb status --name "$XB_BRIDGE" | matches "querier on (IGMPv3, MLDv2)" || fail "status does not show the versions"
	xb restart --name "$XB_BRIDGE" >/dev/null
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r '"\(.mcast_igmp_version) \(.mcast_mld_version)"') == "3 2" ]] ||
		fail "the versions did not survive a restart"
	echo "ok: versions set, shown and kept"
	expect_error "mcast-igmp-version: '4' is not 2 or 3" xb set mcast-igmp-version 4 --name "$XB_BRIDGE"
	expect_error "mcast-mld-version: '3' is not 1 or 2" xb set mcast-mld-version 3 --name "$XB_BRIDGE"
	mc_leave g0 ff0e::1:5
}

# mcast-flood governs unknown groups only: a member port with it off still gets its
# group, switched at XDP (left to TC there, since the flood map lacks it) and at TC.
test_mcast_a_member_with_mcast_flood_off_gets_its_group() {
	snooping_bridge
	local g0ip g1ip
	g0ip=$(topo_guest_ip 0)
	g1ip=$(topo_guest_ip 1)
	assert_ping g0 "$g1ip"
	mc_join g0 "$g0ip" 239.1.1.1
	wait_mdb "$(member tap0 239.1.1.1)"
	xb port set tap0 mcast-flood off --name "$XB_BRIDGE"

	step "from the outside PC and from guest 1: guest 0 gets its group, no unknown one"
	listen g0 g1
	mc_send out "$TOPO_OUT_IP" 239.1.1.1 239.9.9.9
	heard
	expect_heard g0 239.1.1.1 yes
	expect_heard g0 239.9.9.9 no
	expect_heard g1 239.9.9.9 yes
	expect_heard g1 239.1.1.1 no
	listen g0
	mc_send g1 "$g1ip" 239.1.1.1 239.9.9.9
	heard
	expect_heard g0 239.1.1.1 yes
	expect_heard g0 239.9.9.9 no
	echo "ok"

	step "mcast-flood on again: the unknown group reaches guest 0 too"
	xb port set tap0 mcast-flood on --name "$XB_BRIDGE"
	listen g0
	mc_send out "$TOPO_OUT_IP" 239.1.1.1 239.9.9.9
	heard
	expect_heard g0 239.1.1.1 yes
	expect_heard g0 239.9.9.9 yes
	echo "ok"
	mc_leave g0 239.1.1.1
}
