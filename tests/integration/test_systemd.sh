# shellcheck shell=bash
# xbridge@.service, run as systemd would run it (systemd is not PID 1 where these tests
# run, so this file plays the service manager): the unit's own ExecStart=, ExecReload=
# and ExecStop= lines, its configuration file (in $XBRIDGE_CONFIG_DIR, the test's
# directory, in place of /etc/xbridge), and a notify socket that records what the main
# process reports. Each line runs with `-n NETNS` added, so that the bridge is this test's.

: "${XB_UNIT:?XB_UNIT must point to the built xbridge@.service}"
: "${XB_UNIT_SBINDIR:?XB_UNIT_SBINDIR must be the directory the unit runs xbridge from}"

# unit_line KEY: the unit's KEY= line as a shell command for instance $XB_BRIDGE: %i
# expanded, systemd's $$ made $, and the installed binary replaced by the one under test.
unit_line() {
	local line
	line=$(sed -n "s/^$1=//p" "$XB_UNIT")
	[[ -n $line ]] || fail "the unit has no $1= line"
	line=${line//%i/$XB_BRIDGE}
	line=${line//\$\$/\$}
	echo "${line//$XB_UNIT_SBINDIR\/xbridge/$XB -n $PFX-host}"
}

# Starts the notify listener: every datagram to $NOTIFY_SOCKET is one line of $NOTIFY_LOG.
notify_listen() {
	NOTIFY_SOCKET=$TOPO_TMP/notify
	NOTIFY_LOG=$TOPO_TMP/notify.log
	: >"$NOTIFY_LOG"
	/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " ") + "\n")
' "$NOTIFY_SOCKET" "$NOTIFY_LOG" &
	# Named as topo_cleanup's relays are, so that it is stopped with them.
	echo $! >"$TOPO_TMP/relay-notify.pid"
	local t
	for ((t = 0; t < 50; t++)); do
		[[ -S $NOTIFY_SOCKET ]] && return 0
		sleep 0.1
	done
	fail "the notify listener did not start"
}

# Runs the unit's ExecStart= as the main process, in the background (MAIN_PID), and
# waits until it reports READY=1 (the n-th time: $1).
service_start() {
	local n=$1 cmd t
	cmd=$(unit_line ExecStart)
	(
		export NOTIFY_SOCKET
		eval "exec $cmd" >>"$TOPO_TMP/service.log" 2>&1
	) &
	MAIN_PID=$!
	for ((t = 0; t < 100 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ $(grep -c '^READY=1' "$NOTIFY_LOG") -ge $n ]] && return 0
		process_running "$MAIN_PID" || fail "ExecStart exited: $(tail -n 3 "$TOPO_TMP/service.log")"
		sleep 0.1
	done
	fail "no READY=1 from ExecStart in 10 s"
}

# Runs the unit's ExecReload= (systemctl reload); its output is in $TOPO_TMP/reload.out.
service_reload() {
	local cmd
	cmd=$(unit_line ExecReload)
	eval "$cmd" >"$TOPO_TMP/reload.out" 2>&1 || fail "ExecReload failed: $(cat "$TOPO_TMP/reload.out")"
}

# Runs the unit's ExecStop=, with MAINPID set to $1 or, when empty, unset (systemd's
# way of saying that the main process died on its own).
service_stop() {
	local cmd
	cmd=$(unit_line ExecStop)
	(
		if [[ -n $1 ]]; then export MAINPID=$1; else unset MAINPID; fi
		eval "$cmd"
	) || fail "ExecStop failed"
}

test_unit_ready_crash_adopt_stop() {
	require_tools jq
	[[ -x /usr/bin/python3 ]] || skip "no /usr/bin/python3 for the notify socket"
	topo_create 2
	# The unit's /etc/xbridge, for every line it runs.
	export XBRIDGE_CONFIG_DIR=$TOPO_TMP
	printf 'uplink = "eth0"\nmetrics = "off"\n[ports.tap0]\ntap = {}\n[ports.tap1]\ntap = {}\n' \
		>"$TOPO_TMP/$XB_BRIDGE.toml"
	notify_listen

	service_start 1
	step "READY=1 from the main process (pid $MAIN_PID)"
	[[ $(controller_pid) == "$MAIN_PID" ]] || fail "the controller is pid $(controller_pid), not the main process"
	# Ready means forwarding: the ports are attached when the unit is reported up.
	[[ $(xb status --name "$XB_BRIDGE" --json | jq '[.ports[] | select(.state == "up" or .state == "down")] | length') -eq 3 ]] ||
		fail "not every port is in the bridge at READY=1: $(xb status --name "$XB_BRIDGE")"
	grep -q "^READY=1 STATUS=bridge $XB_BRIDGE forwarding" "$NOTIFY_LOG" || fail "no status line: $(cat "$NOTIFY_LOG")"
	topo_start_guest 0 || fail "guest 0 did not start"
	topo_start_guest 1 || fail "guest 1 did not start"
	assert_ping g0 "$TOPO_OUT_IP"

	# systemctl reload: the edited file is applied, the controller stays.
	printf '[[fdb]]\nmac = "02:00:00:5a:00:01"\nport = "tap1"\n' >>"$TOPO_TMP/$XB_BRIDGE.toml"
	service_reload
	grep -qx "$XB_BRIDGE: fdb 02:00:00:5a:00:01 on tap1" "$TOPO_TMP/reload.out" ||
		fail "ExecReload did not apply the file: $(cat "$TOPO_TMP/reload.out")"
	[[ $(controller_pid) == "$MAIN_PID" ]] || fail "ExecReload replaced the controller"
	service_reload
	grep -qx "$XB_BRIDGE: nothing changed" "$TOPO_TMP/reload.out" || fail "a second reload changed something"
	echo "ok: ExecReload applies the edited file; the main process stays the controller"
	local rx0
	rx0=$(counter tap0 rx_packets)

	kill -9 "$MAIN_PID"
	wait "$MAIN_PID" 2>/dev/null || true
	step "main process killed with SIGKILL; systemd's ExecStop= runs without MAINPID"
	service_stop ""
	assert_ping g0 "$TOPO_OUT_IP"
	echo "ok: the bridge forwards without its controller"

	service_start 2
	step "Restart=on-failure: ExecStart again, READY=1 (pid $MAIN_PID)"
	[[ $(controller_pid) == "$MAIN_PID" ]] || fail "the new main process did not adopt the bridge"
	xb fdb show --name "$XB_BRIDGE" --json |
		jq -e --arg m "$(topo_guest_mac 0)" 'any(.[]; .mac == $m and .port == "tap0" and .type == "dynamic")' >/dev/null ||
		fail "guest 0's learned entry is gone: the bridge was rebuilt"
	[[ $(counter tap0 rx_packets) -ge "$rx0" ]] || fail "the counters were reset: the bridge was rebuilt"
	assert_ping g1 "$TOPO_OUT_IP"
	echo "ok: adopted with its FDB and counters"

	service_stop "$MAIN_PID"
	local rc=0
	wait "$MAIN_PID" || rc=$?
	[[ $rc -eq 0 ]] || fail "the main process exited with $rc on ExecStop"
	[[ ! -d $(topo_pins)/$XB_BRIDGE ]] || fail "ExecStop left the bridge's pins"
	in_ns host ip link show tap0 >/dev/null 2>&1 && fail "ExecStop left tap0"
	grep -q '^STOPPING=1' "$NOTIFY_LOG" || fail "no STOPPING=1"
	echo "ok: ExecStop took the bridge down and the main process exited 0"
}
