# shellcheck shell=bash
# Packet capture: `xbridge capture` writes the frames the bridge handles as pcap, read
# back here with tcpdump, byte for byte - frames switched at XDP, which no packet socket
# on the ports sees, included.

# frame_hex DST SRC SIZE: the bytes xb-frames sends, as one hex string.
frame_hex() {
	local dst=$1 src=$2 size=$3 i out
	out="${dst//:/}${src//:/}88b5"
	for ((i = 14; i < size; i++)); do
		out+=$(printf '%02x' $((i & 0xff)))
	done
	echo "$out"
}

# pcap_hex FILE: one line per frame of a pcap file, its bytes as hex (tcpdump -xx).
pcap_hex() {
	tcpdump -r "$1" -nn -xx 2>/dev/null | awk '
		/^[^ \t]/ { if (h != "") print h; h = ""; next }
		{ sub(/^[ \t]*0x[0-9a-f]+:[ \t]*/, ""); gsub(/[ \t]/, ""); h = h $0 }
		END { if (h != "") print h }'
}

# start_capture FILE ARGS...: a capture session in the background (CAP_PID), returned
# once the bridge says it runs.
start_capture() {
	local file=$1 t
	shift
	"$XB" -n "$PFX-host" capture --name "$XB_BRIDGE" "$@" -w "$file" 2>"$TOPO_TMP/capture.err" &
	CAP_PID=$!
	for ((t = 0; t < 50 * ${XB_TIME_SCALE:-1}; t++)); do
		[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .capture) == true ]] && return 0
		sleep 0.1
	done
	fail "the capture did not start: $(cat "$TOPO_TMP/capture.err")"
}

stop_capture() {
	kill -INT "$CAP_PID"
	timeout 10 tail --pid="$CAP_PID" -f /dev/null || fail "the capture did not stop on SIGINT"
	wait "$CAP_PID" || fail "the capture exited with $?: $(cat "$TOPO_TMP/capture.err")"
}

test_capture_is_read_back_byte_for_byte() {
	require_tools jq tcpdump
	standard_bridge
	local g0mac g1mac xdp0 expect got
	g0mac=$(topo_guest_mac 0)
	g1mac=$(topo_guest_mac 1)
	assert_ping g0 "$(topo_guest_ip 1)"
	assert_ping g1 "$TOPO_OUT_IP"

	step "a capture on tap1: unicast switched at XDP, a flood's copy, a frame from the outside"
	start_capture "$TOPO_TMP/tap1.pcap" --port tap1
	xdp0=$(counter tap0 rx_xdp)
	in_ns g0 "$XB_FRAMES" --dev eth0 --src "$g0mac" --dst "$g1mac" --count 3 --size 200
	in_ns out "$XB_FRAMES" --dev eth0 --src "$TOPO_OUT_MAC" --dst ff:ff:ff:ff:ff:ff --size 100
	in_ns out "$XB_FRAMES" --dev eth0 --src "$TOPO_OUT_MAC" --dst "$g1mac" --size 1400
	# Not on tap1: guest 0 to the outside PC.
	in_ns g0 "$XB_FRAMES" --dev eth0 --src "$g0mac" --dst "$TOPO_OUT_MAC" --size 300
	sleep 0.5
	stop_capture
	[[ $(($(counter tap0 rx_xdp) - xdp0)) -ge 3 ]] || fail "guest 0's frames were not switched at XDP"
	pcap_hex "$TOPO_TMP/tap1.pcap" >"$TOPO_TMP/tap1.hex"
	tcpdump -r "$TOPO_TMP/tap1.pcap" -nn -e 2>/dev/null | grep -v "^[[:space:]]" || true
	for expect in "$(frame_hex "$g1mac" "$g0mac" 200)" "$(frame_hex ff:ff:ff:ff:ff:ff "$TOPO_OUT_MAC" 100)" \
		"$(frame_hex "$g1mac" "$TOPO_OUT_MAC" 1400)"; do
		grep -qx "$expect" "$TOPO_TMP/tap1.hex" || fail "frame ${expect:0:40}... is not in the capture"
	done
	got=$(grep -cx "$(frame_hex "$g1mac" "$g0mac" 200)" "$TOPO_TMP/tap1.hex")
	[[ $got -eq 3 ]] || fail "guest 0's frame is in the capture $got times, not 3"
	grep -q "$(frame_hex "$TOPO_OUT_MAC" "$g0mac" 300)" "$TOPO_TMP/tap1.hex" &&
		fail "a frame that never touched tap1 is in its capture"
	grep -q "3 frames\|frames captured" "$TOPO_TMP/capture.err" || fail "no summary: $(cat "$TOPO_TMP/capture.err")"
	echo "ok: tcpdump reads every frame byte for byte, the XDP-switched ones included"

	step "--snaplen cuts frames and keeps their length; -w - streams into tcpdump -r -; --mac filters"
	# A source no stack uses: no ARP or other chatter of the guests matches.
	local fake=02:00:00:00:ca:fe
	"$XB" -n "$PFX-host" capture --name "$XB_BRIDGE" --mac "$fake" --snaplen 64 --count 2 -w - \
		2>/dev/null >"$TOPO_TMP/stream.pcap" &
	CAP_PID=$!
	local t
	for ((t = 0; t < 50; t++)); do
		[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .capture) == true ]] && break
		sleep 0.1
	done
	in_ns out "$XB_FRAMES" --dev eth0 --src "$TOPO_OUT_MAC" --dst "$g1mac" --size 500
	in_ns g0 "$XB_FRAMES" --dev eth0 --src "$fake" --dst "$g1mac" --count 2 --size 200
	timeout 10 tail --pid="$CAP_PID" -f /dev/null || fail "capture --count 2 did not stop"
	wait "$CAP_PID" || fail "capture --count 2 failed"
	tcpdump -r - -nn -e <"$TOPO_TMP/stream.pcap" 2>/dev/null | { grep -v '^[[:space:]]' || true; } >"$TOPO_TMP/stream.txt"
	cat "$TOPO_TMP/stream.txt"
	[[ $(wc -l <"$TOPO_TMP/stream.txt") -eq 2 ]] || fail "--count 2 wrote $(wc -l <"$TOPO_TMP/stream.txt") frames"
	grep -q "$TOPO_OUT_MAC >" "$TOPO_TMP/stream.txt" && fail "--mac $fake let another MAC's frame in"
	grep -q "length 200" "$TOPO_TMP/stream.txt" || fail "the original length is not kept"
	expect=$(frame_hex "$g1mac" "$fake" 200)
	[[ $(pcap_hex "$TOPO_TMP/stream.pcap" | sed -n 1p) == "${expect:0:128}" ]] ||
		fail "the first 64 bytes are not the frame's"
	echo "ok: 64 of 200 bytes kept, length 200 recorded, streamed to tcpdump -r -"

	step "a killed capture stops costing: its lease runs out"
	start_capture "$TOPO_TMP/killed.pcap"
	kill -9 "$CAP_PID"
	wait "$CAP_PID" 2>/dev/null || true
	sleep 4
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .capture) == false ]] || fail "capture outlived its process"
	echo "ok: lease expired after SIGKILL"
}

test_capture_errors() {
	require_tools jq
	topo_create 0
	xb up --name "$XB_BRIDGE" eth0 tap0 >/dev/null
	expect_error "tap9 is not a port of bridge $XB_BRIDGE" xb capture --name "$XB_BRIDGE" --port tap9 -w "$TOPO_TMP/x.pcap"
	[[ -e $TOPO_TMP/x.pcap ]] && fail "a failed capture left its file"
	expect_error "--snaplen: '0' is not a number from 1 to 262144" xb capture --name "$XB_BRIDGE" --snaplen 0 -w "$TOPO_TMP/x.pcap"
	expect_error "--mac: 'nope' is not a MAC address" xb capture --name "$XB_BRIDGE" --mac nope -w "$TOPO_TMP/x.pcap"
	expect_error "cannot open /nonexistent/x.pcap" xb capture --name "$XB_BRIDGE" -w /nonexistent/x.pcap
	[[ $(xb status --name "$XB_BRIDGE" --json | jq -r .capture) == false ]] || fail "a failed capture left capture on"
	echo "ok: bad input: one line, nothing left"
}
