# shellcheck shell=bash
# Counters, Prometheus metrics and the live trace.

G0=$(topo_guest_ip 0)
G1=$(topo_guest_ip 1)

# send_frames NS COUNT DST [xb-frames options]: exactly COUNT frames out of NS's eth0.
send_frames() {
	local ns=$1 count=$2 dst=$3 src
	shift 3
	src=$(in_ns "$ns" cat /sys/class/net/eth0/address)
	in_ns "$ns" "$XB_FRAMES" --dev eth0 --src "$src" --dst "$dst" --count "$count" "$@"
}

test_counters_move_by_exactly_the_frames_sent() {
	require_tools jq
	standard_bridge
	assert_ping out "$G1" # both ends learned
	assert_ping g0 "$TOPO_OUT_IP"
	# No ARP inside the measured window: the pings left neighbour entries that the
	# kernel confirms with unicast probes about 5 s later, which on a slow machine
	# (a TCG VM) falls between the two readings.
	in_ns out ip neigh replace "$G0" lladdr "$(topo_guest_mac 0)" dev eth0 nud permanent
	in_ns out ip neigh replace "$G1" lladdr "$(topo_guest_mac 1)" dev eth0 nud permanent
	in_ns g0 ip neigh replace "$TOPO_OUT_IP" lladdr "$TOPO_OUT_MAC" dev eth0 nud permanent
	in_ns g1 ip neigh replace "$TOPO_OUT_IP" lladdr "$TOPO_OUT_MAC" dev eth0 nud permanent
	sleep 0.5
	local tx0 rx0 fw0 rxb0
	tx0=$(counter tap1 tx_packets)
	rx0=$(counter eth0 rx_packets)
	rxb0=$(counter eth0 rx_bytes)
	fw0=$(counter eth0 forwarded)
	send_frames out 200 "$(topo_guest_mac 1)" --size 100
	sleep 0.5
	[[ $(($(counter tap1 tx_packets) - tx0)) -eq 200 ]] || fail "tap1 tx_packets moved by $(($(counter tap1 tx_packets) - tx0)), not 200"
	[[ $(($(counter eth0 rx_packets) - rx0)) -eq 200 ]] || fail "eth0 rx_packets moved by $(($(counter eth0 rx_packets) - rx0)), not 200"
	[[ $(($(counter eth0 rx_bytes) - rxb0)) -eq 20000 ]] || fail "eth0 rx_bytes moved by $(($(counter eth0 rx_bytes) - rxb0)), not 20000"
	[[ $(($(counter eth0 forwarded) - fw0)) -eq 200 ]] || fail "eth0 forwarded moved by $(($(counter eth0 forwarded) - fw0)), not 200"
	echo "ok: 200 frames to a learned MAC moved eth0 rx/forwarded and tap1 tx by exactly 200"

	step "floods count a copy per port"
	local tx_t0 tx_t1 fl0
	tx_t0=$(counter tap0 tx_packets)
	tx_t1=$(counter tap1 tx_packets)
	fl0=$(counter eth0 flooded)
	send_frames out 50 02:00:00:00:77:77
	sleep 0.5
	[[ $(($(counter eth0 flooded) - fl0)) -eq 50 ]] || fail "eth0 flooded moved by $(($(counter eth0 flooded) - fl0))"
	[[ $(($(counter tap0 tx_packets) - tx_t0)) -eq 50 && $(($(counter tap1 tx_packets) - tx_t1)) -eq 50 ]] ||
		fail "flood copies: tap0 +$(($(counter tap0 tx_packets) - tx_t0)), tap1 +$(($(counter tap1 tx_packets) - tx_t1))"
	echo "ok: 50 unknown-unicast frames: flooded 50, one copy to each tap"

	step "drops are counted by reason"
	local sp0
	sp0=$(counter eth0 drops.same_port)
	send_frames out 7 "$TOPO_OUT_MAC" # for a MAC learned on the port it came from
	sleep 0.3
	[[ $(($(counter eth0 drops.same_port) - sp0)) -eq 7 ]] ||
		fail "same_port drops did not move by 7"
	echo "ok: 7 frames for a MAC behind their own port: drops.same_port +7"

	step "the table and --watch"
	xb stats --name "$XB_BRIDGE" | matches '^tap1 ' || fail "stats table has no tap1 row"
	xb stats --name "$XB_BRIDGE" --port tap1 | matches '^eth0 ' && fail "stats --port tap1 shows eth0"
	timeout 3 "$XB" -n "$PFX-host" stats --name "$XB_BRIDGE" --watch 1 >"$TOPO_TMP/watch" || true
	grep -q 'RX/s' "$TOPO_TMP/watch" || fail "stats --watch printed no rates: $(cat "$TOPO_TMP/watch")"
	echo "ok: table, --port, --watch"
}

test_prometheus_metrics() {
	require_tools jq curl promtool
	standard_bridge
	assert_ping g0 "$TOPO_OUT_IP"
	xb stats --name "$XB_BRIDGE" --prometheus >"$TOPO_TMP/stats.prom"
	promtool check metrics <"$TOPO_TMP/stats.prom" || fail "promtool rejects stats --prometheus"
	grep -q "^xbridge_port_rx_packets_total{bridge=\"$XB_BRIDGE\",port=\"tap0\"} [1-9]" "$TOPO_TMP/stats.prom" ||
		fail "no rx counter for tap0: $(grep rx_packets "$TOPO_TMP/stats.prom")"
	echo "ok: stats --prometheus passes promtool check metrics"
	local addr
	addr=$(xb status --name "$XB_BRIDGE" --json | jq -r .metrics)
	[[ $addr == 127.0.0.1:9477 ]] || fail "metrics address is $addr"
	in_ns host curl -sf "http://$addr/metrics" >"$TOPO_TMP/metrics.prom" || fail "GET /metrics failed"
	promtool check metrics <"$TOPO_TMP/metrics.prom" || fail "promtool rejects /metrics"
	grep -q '^xbridge_fdb_entries{bridge="'"$XB_BRIDGE"'",type="dynamic"} [1-9]' "$TOPO_TMP/metrics.prom" ||
		fail "no FDB gauge in /metrics"
	echo "ok: /metrics on $addr passes promtool check metrics"

	step "a Prometheus server scrapes the controller and answers a query"
	require_tools prometheus
	cat >"$TOPO_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: xbridge
    static_configs:
      - targets: ['$addr']
EOF
	in_ns host prometheus --config.file="$TOPO_TMP/prometheus.yml" \
		--storage.tsdb.path="$TOPO_TMP/tsdb" --web.listen-address=127.0.0.1:9090 \
		>"$TOPO_TMP/prometheus.log" 2>&1 &
	local q v t
	q='xbridge_port_tx_packets_total{port="tap0"}'
	for ((t = 0; t < 60 * ${XB_TIME_SCALE:-1}; t++)); do
		v=$(in_ns host curl -sf --get --data-urlencode "query=$q" http://127.0.0.1:9090/api/v1/query |
			jq -r '.data.result[0].value[1] // empty' 2>/dev/null) || true
		[[ -n $v ]] && break
		sleep 0.5
	done
	[[ -n $v ]] || fail "Prometheus has no value for $q: $(tail -5 "$TOPO_TMP/prometheus.log")"
	[[ $v -ge 1 && $v -le $(counter tap0 tx_packets) ]] || fail "Prometheus says $v, xbridge $(counter tap0 tx_packets)"
	echo "ok: Prometheus scraped $q = $v"
}

test_metrics_address_and_errors() {
	require_tools jq curl
	topo_create 0
	xb up --name "$XB_BRIDGE" --metrics 127.0.0.1:9599 eth0 tap0 >/dev/null
	local got
	got=$(in_ns host curl -s -w '\nHTTP %{http_code}' http://127.0.0.1:9599/metrics 2>&1)
	grep -q xbridge_port_rx_packets_total <<<"$got" ||
		fail "no metrics on the chosen port: $(tail -3 <<<"$got")"
	expect_error "cannot serve metrics on 127.0.0.1:9599" xb up --name "${XB_BRIDGE}b" --metrics 127.0.0.1:9599 --uplink none tap5
	in_ns host ip link show tap5 >/dev/null 2>&1 && fail "the failed up left tap5 behind"
	expect_error "--metrics: 'nowhere' is not ADDR:PORT or off" xb up --name "${XB_BRIDGE}b" --metrics nowhere tap5
	xb up --name "${XB_BRIDGE}c" --metrics off --uplink none tap6 >/dev/null
	[[ $(xb status --name "${XB_BRIDGE}c" --json | jq -r .metrics) == off ]] || fail "metrics not off"
	xb down --name "${XB_BRIDGE}c" >/dev/null
	echo "ok: --metrics ADDR:PORT, off, and a port in use"
}

test_trace_shows_the_path() {
	require_tools jq
	standard_bridge
	assert_ping g0 "$TOPO_OUT_IP"
	local g0mac
	g0mac=$(topo_guest_mac 0)
	"$XB" -n "$PFX-host" trace --name "$XB_BRIDGE" --mac "$g0mac" --count 4 >"$TOPO_TMP/trace" &
	local tracer=$! t
	for ((t = 0; t < 50 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .trace) == true ]] && break
		sleep 0.1
	done
	in_ns g0 ping -c2 -i0.2 -q "$TOPO_OUT_IP" >/dev/null
	timeout 10 tail --pid=$tracer -f /dev/null || fail "trace did not stop after --count 4"
	cat "$TOPO_TMP/trace"
	grep -q "^rx dev: tap0 $g0mac -> $TOPO_OUT_MAC forward to dev: eth0" "$TOPO_TMP/trace" ||
		fail "no guest -> outside line"
	grep -q "^rx dev: eth0 $TOPO_OUT_MAC -> $g0mac forward to dev: tap0" "$TOPO_TMP/trace" ||
		fail "no outside -> guest line"
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .trace) == false ]] || fail "tracing is still on"
	echo "ok: guest -> outside PC -> guest, and tracing is off after --count"

	step "filters run in the datapath: --port tap1 sees nothing of guest 0's ping"
	timeout 2 "$XB" -n "$PFX-host" trace --name "$XB_BRIDGE" --port tap1 >"$TOPO_TMP/trace1" &
	sleep 0.3
	in_ns g0 ping -c2 -i0.2 -q "$TOPO_OUT_IP" >/dev/null
	wait $! || true
	[[ ! -s $TOPO_TMP/trace1 ]] || fail "a --port tap1 trace shows: $(cat "$TOPO_TMP/trace1")"
	echo "ok: port filter"

	step "a killed tracer stops tracing on its own"
	"$XB" -n "$PFX-host" trace --name "$XB_BRIDGE" --json >"$TOPO_TMP/trace2" &
	tracer=$!
	sleep 0.5
	kill -9 $tracer
	wait $tracer 2>/dev/null || true
	sleep 4
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .trace) == false ]] || fail "tracing outlived its tracer"
	"$XB" -n "$PFX-host" trace --name "$XB_BRIDGE" --json --count 1 >"$TOPO_TMP/trace3" &
	tracer=$!
	sleep 0.3
	in_ns g1 ping -c1 -q "$TOPO_OUT_IP" >/dev/null
	timeout 10 tail --pid=$tracer -f /dev/null || fail "a new trace session did not start"
	jq -e '.in == "tap1" and .action == "forward"' "$TOPO_TMP/trace3" >/dev/null ||
		jq -e '.action' "$TOPO_TMP/trace3" >/dev/null || fail "bad JSON trace line: $(cat "$TOPO_TMP/trace3")"
	echo "ok: lease expired after SIGKILL; a new session works"

	step "a trace session ends when its bridge is taken down"
	"$XB" -n "$PFX-host" trace --name "$XB_BRIDGE" >/dev/null 2>"$TOPO_TMP/trace4.err" &
	tracer=$!
	sleep 0.5
	xb down --name "$XB_BRIDGE" >/dev/null
	timeout $((5 * ${XB_TIME_SCALE:-1})) tail --pid=$tracer -f /dev/null || fail "trace still runs after down"
	local rc=0
	wait $tracer || rc=$?
	[[ $rc -ne 0 ]] || fail "trace of a bridge taken down exited 0"
	grep -qx "xbridge: bridge $XB_BRIDGE was taken down: the trace ends" "$TOPO_TMP/trace4.err" ||
		fail "trace did not say why it ended: $(cat "$TOPO_TMP/trace4.err")"
	echo "ok: trace ends with one line when the bridge goes down"
}

test_drops_after_redirect_are_counted() {
	require_tools jq
	[[ -e /sys/kernel/btf/vmlinux ]] || skip "no kernel BTF: the devmap drop counter is not loaded"
	topo_create 0
	xb up --name "$XB_BRIDGE" eth0 tap0 >/dev/null
	# A guest that stopped reading: its tap's ring fills and the rest must be counted.
	in_ns host "$XB_TAP_HOLD" tap0 >"$TOPO_TMP/hold" &
	local hold=$! t
	for ((t = 0; t < 50 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ -s $TOPO_TMP/hold ]] && break
		sleep 0.05
	done
	for ((t = 0; t < 50 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ $(port_field tap0 state) == up ]] && break
		sleep 0.1
	done
	local guest=02:00:00:5c:00:01
	xb fdb add --name "$XB_BRIDGE" $guest dev tap0
	in_ns out "$XB_FRAMES" --dev eth0 --src "$TOPO_OUT_MAC" --dst $guest --count 5000
	sleep 0.5
	local st tx dropped qlen
	st=$(xb stats --name "$XB_BRIDGE" --json)
	tx=$(jq '.ports[] | select(.name=="tap0") | .tx_packets' <<<"$st")
	dropped=$(jq '.ports[] | select(.name=="tap0") | .drops.redirect' <<<"$st")
	qlen=$(in_ns host cat /sys/class/net/tap0/tx_queue_len)
	kill "$hold"
	[[ $tx -eq 5000 ]] || fail "tap0 tx_packets is $tx, expected the 5000 frames sent its way"
	[[ $dropped -ge $((5000 - qlen)) && $dropped -lt 5000 ]] ||
		fail "tap0 drops.redirect is $dropped: expected what did not fit its ring of $qlen"
	echo "ok: $((tx - dropped)) frames queued for the guest, $dropped refused by its full ring and counted"
}

test_frames_for_a_port_that_is_down_are_counted() {
	require_tools jq
	[[ -e /sys/kernel/btf/vmlinux ]] || skip "no kernel BTF: the redirect drop counter is not loaded"
	topo_create 0
	xb up --name "$XB_BRIDGE" eth0 tap0 >/dev/null
	# A static entry outlives its port going down (learned ones are flushed): XDP keeps
	# redirecting to the port, and the kernel refuses each frame (-ENETDOWN) after the
	# program returned. The bridge counted them in tap0's tx; they must be in its drops.
	local guest=02:00:00:5c:00:02 st tx dropped
	xb fdb add --name "$XB_BRIDGE" $guest dev tap0
	in_ns host ip link set tap0 down
	in_ns out "$XB_FRAMES" --dev eth0 --src "$TOPO_OUT_MAC" --dst $guest --count 300
	sleep 0.5
	st=$(xb stats --name "$XB_BRIDGE" --json)
	tx=$(jq '.ports[] | select(.name=="tap0") | .tx_packets' <<<"$st")
	dropped=$(jq '.ports[] | select(.name=="tap0") | .drops.port_down' <<<"$st")
	[[ $tx -eq 300 ]] || fail "tap0 tx_packets is $tx, expected the 300 frames sent its way"
	[[ $dropped -eq 300 ]] || fail "tap0 drops.port_down is $dropped, expected 300: $st"
	echo "ok: 300 frames redirected to a port that is down, 300 counted as port_down drops"
}
