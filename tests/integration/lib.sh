# shellcheck shell=bash
# Harness of the integration tests, after xdp-tools' test_runner.sh: each test is a
# function test_NAME in a test_*.sh file, run alone by run.sh in a fresh topology with
# a unique prefix, torn down by an EXIT trap whether the test passes, fails or skips.
# Exit status: 0 pass, 1 fail, 77 skip (ctest's SKIP_RETURN_CODE).

# shellcheck source=../../scripts/lib/topology.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/topology.sh"

: "${XB:?XB must point to the xbridge binary}"
: "${XB_RELAY:?XB_RELAY must point to xb-tap-relay}"

skip() {
	echo "SKIP: $*"
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	if [[ -n ${XB_BRIDGE:-} && -f /run/xbridge/$XB_BRIDGE.log ]]; then
		echo "--- controller log" >&2
		tail -n 20 "/run/xbridge/$XB_BRIDGE.log" >&2
	fi
	exit 1
}

step() { echo "== $*"; }

# matches [GREP OPTIONS] PATTERN: grep -q at the end of a pipeline, but reading all of its
# input. grep -q exits at the first match, and under pipefail the writer's SIGPIPE then
# fails the pipeline whenever the writer had more left to write (`bridge fdb show`, a
# long status): a flake that depends on output sizes and timing.
matches() { grep "$@" >/dev/null; }

# ipv6_on NS [ADDR]: IPv6 on NS's eth0 as a host has it (the topology turns it off to keep
# captures quiet), with ADDR/64 besides its link-local address, once duplicate address
# detection is done: a guest's own neighbour solicitations from ::, which the port policy
# must let through, as on a user's host.
ipv6_on() {
	local ns=$1 t
	in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.eth0.disable_ipv6=0
	[[ -z ${2:-} ]] || in_ns "$ns" ip addr add "$2/64" dev eth0
	for ((t = 0; t < 50 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ -z $(in_ns "$ns" ip -6 addr show dev eth0 tentative) ]] && return 0
		sleep 0.1
	done
	fail "$ns: IPv6 address still tentative or duplicate: $(in_ns "$ns" ip -6 addr show dev eth0)"
}

# A process that runs (not gone, and not a zombie: the controller's parent, init here,
# may never reap it).
process_running() {
	local state
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ -n $state && $state != Z* ]]
}

# xb ARGS: xbridge in the host namespace, on this test's bridge.
xb() { "$XB" -n "$PFX-host" "$@"; }

# The pid of this test bridge's controller, empty when none runs.
controller_pid() { xb status --name "$XB_BRIDGE" --json | jq -r '.controller_pid // empty'; }

# counter PORT FIELD: one counter of one port (or of "host") from `xbridge stats --json`;
# FIELD may name a nested one, as drops.same_port.
counter() {
	xb stats --name "$XB_BRIDGE" --json | jq -r --arg p "$1" --arg f "$2" \
		'(if $p == "host" then .host else (.ports[] | select(.name == $p)) end) | getpath($f | split("."))'
}

# port_field PORT FIELD: one field of one port from `xbridge status --json` (mtu, state...).
port_field() {
	xb status --name "$XB_BRIDGE" --json | jq -r --arg p "$1" --arg f "$2" '.ports[] | select(.name == $p) | .[$f]'
}

# hold_lock SECONDS: holds the host's bridge lock, as a command of another bridge would,
# for SECONDS from the moment this returns, in the background; LOCK_PID is the holder.
hold_lock() {
	local held="$TOPO_TMP/lock-held.$RANDOM" t
	flock -x "$(topo_pins)" -c "touch '$held'; sleep $1" &
	# shellcheck disable=SC2034 # the callers wait for it
	LOCK_PID=$!
	for ((t = 0; t < 50 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ -e $held ]] && return 0
		sleep 0.1
	done
	fail "could not take the bridge lock"
}

# Kills the controller with SIGKILL and waits (up to 3 s) until status reports none.
kill_controller() {
	local t
	kill -9 "$(controller_pid)"
	for ((t = 0; t < 30; t++)); do
		[[ -z $(controller_pid) ]] && break
		sleep 0.1
	done
}

require_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || skip "$t is not installed (scripts/setup.sh installs it)"
	done
}

require_env() {
	[[ $(id -u) -eq 0 ]] || skip "needs root"
	[[ -c /dev/net/tun ]] || modprobe tun 2>/dev/null || skip "no /dev/net/tun"
	# In a network namespace of its own, gone with the command: parallel tests do not
	# collide on the name (one of them took the other's veth for a missing feature), and
	# the host's namespace is left alone.
	unshare --net ip link add name xbprobe0 type veth peer name xbprobe1 2>/dev/null ||
		skip "no veth support"
	require_tools ip ethtool ping
}

# Brings up the standard topology with bridge $XB_BRIDGE: eth0 tap0 tap1, two guests.
standard_bridge() {
	topo_create 2
	xb up --name "$XB_BRIDGE" eth0 tap0 tap1 "$@" >/dev/null || fail "xbridge up failed"
	topo_start_guest 0 || fail "guest 0 did not start"
	topo_start_guest 1 || fail "guest 1 did not start"
}

assert_ping() {
	local from=$1 ip=$2
	topo_wait_ping "$from" "$ip" || fail "ping from $from to $ip gets no answer"
	in_ns "$from" ping -c3 -i0.2 -W1 -q "$ip" >/dev/null || fail "ping from $from to $ip lost replies"
	echo "ok: ping $from -> $ip"
}

# expect_error EXPECTED-SUBSTRING CMD...: the command fails, prints exactly one line on
# stderr, containing EXPECTED-SUBSTRING, and nothing on stdout.
expect_error() {
	local want=$1 out err rc
	shift
	out=$("$@" 2>"$TOPO_TMP/err") && fail "'$*' succeeded; expected an error"
	rc=$?
	err=$(cat "$TOPO_TMP/err")
	[[ $(printf '%s\n' "$err" | wc -l) -eq 1 ]] || fail "'$*' printed more than one line: $err"
	[[ $err == *"$want"* ]] || fail "'$*' said '$err', expected '$want'"
	[[ -z $out ]] || fail "'$*' printed on stdout: $out"
	echo "ok: '$*' -> exit $rc: $err"
}

# capture NS FILTER: starts tcpdump in NS on eth0 for one matching frame; the caller
# waits with capture_wait. Returns the pid in CAPTURE_PID.
capture() {
	local ns=$1 filter=$2 t
	: >"$TOPO_TMP/cap-$ns.err"
	in_ns "$ns" tcpdump -i eth0 -nn -e -c1 -l "$filter" >"$TOPO_TMP/cap-$ns" 2>"$TOPO_TMP/cap-$ns.err" &
	CAPTURE_PID=$!
	# tcpdump says "listening on" once its socket is attached: only then can a frame be
	# caught, however loaded the machine is.
	for ((t = 0; t < 100 * ${XB_TIME_SCALE:-1}; t++)); do
		grep -q 'listening on' "$TOPO_TMP/cap-$ns.err" && return 0
		kill -0 "$CAPTURE_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "tcpdump in $ns did not start: $(cat "$TOPO_TMP/cap-$ns.err")"
}

# capture_wait PID NS SECONDS: true if the capture saw its frame in time.
capture_wait() {
	local pid=$1 ns=$2 secs=$3 t
	for ((t = 0; t < secs * 10; t++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 1
	fi
	wait "$pid" 2>/dev/null
	[[ -s $TOPO_TMP/cap-$ns ]]
}

# Captures are attached when capture returns; a short pause still lets the kernel
# finish setting up the packet socket's ring.
capture_settle() { sleep 0.1; }

# transfer FROM TO TO_IP MBYTES: exactly MBYTES MiB of random data over TCP (nc), and
# the received file compared byte for byte with the sent one.
transfer() {
	local from=$1 to=$2 ip=$3 mb=$4 t
	head -c "${mb}M" /dev/urandom >"$TOPO_TMP/send"
	in_ns "$to" nc -l -p 5202 >"$TOPO_TMP/recv" &
	local rx=$!
	for ((t = 0; t < 50 * ${XB_TIME_SCALE:-1}; t++)); do
		in_ns "$to" ss -ltn 2>/dev/null | matches ':5202 ' && break
		sleep 0.1
	done
	in_ns "$from" timeout 60 nc -N -w5 "$ip" 5202 <"$TOPO_TMP/send" || fail "nc $from -> $to failed"
	timeout 30 tail --pid=$rx -f /dev/null || fail "the receiver in $to did not finish"
	cmp -s "$TOPO_TMP/send" "$TOPO_TMP/recv" ||
		fail "$from -> $to: received $(stat -c%s "$TOPO_TMP/recv") of $(stat -c%s "$TOPO_TMP/send") bytes, or different content"
	echo "ok: $mb MiB $from -> $to byte for byte"
}
