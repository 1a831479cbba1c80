#!/usr/bin/env bash
# Self-test for xb-tap-relay: builds throw-away host/guest network namespaces, runs the relay
# between a persistent tap in the host ns and a guest device it creates in the guest ns, and
# checks connectivity, TCP bulk transfer with GSO, readiness, counters and error handling.
#
# Usage: relay-selftest.sh [PATH-TO-xb-tap-relay]
#   Without an argument the relay is compiled from xb-tap-relay.cpp next to this script.
# Needs root (otherwise exits 77, "skipped" for ctest). Exits 0 only if every check passes.
# Leaves no namespaces, taps or processes behind, also when interrupted.
set -uo pipefail

readonly PREFIX="xbr$$"
readonly HNS="${PREFIX}-h"
readonly GNS="${PREFIX}-g"
readonly HOST_IP=10.250.0.1
readonly GUEST_IP=10.250.0.2
readonly GUEST_MAC=02:00:0a:fa:00:02
readonly XFER_MB=20
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR

TMP=""
RELAY=""
RELAY_PID=""
LISTENER_PID=""
FAILED=0

log() { printf '%s\n' "$*"; }
pass() { log "PASS: $*"; }
fail() {
    log "FAIL: $*"
    FAILED=1
}
check() { # check DESCRIPTION COMMAND... : PASS/FAIL depending on the command's status
    local desc="$1"
    shift
    if "$@"; then pass "$desc"; else fail "$desc"; fi
}

quiet() { "$@" >/dev/null 2>&1; }
hexec() { ip netns exec "$HNS" "$@"; }
gexec() { ip netns exec "$GNS" "$@"; }

cleanup() {
    # Finish cleaning up even if signalled again or if whoever read our output has gone away.
    trap '' INT TERM PIPE
    local pid
    # Only PIDs still unreaped are set here, so none of them can have been reused.
    for pid in $LISTENER_PID $RELAY_PID; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    ip netns del "$HNS" 2>/dev/null
    ip netns del "$GNS" 2>/dev/null
    [[ -n "$TMP" ]] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need() { # need COMMAND DEBIAN-PACKAGE
    command -v "$1" >/dev/null && return 0
    log "installing $2 for $1"
    apt-get install -y "$2" >/dev/null 2>&1 ||
        { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; }
    command -v "$1" >/dev/null || { log "FAIL: cannot install $2"; exit 1; }
}

build_relay() {
    if [[ $# -ge 1 ]]; then
        RELAY="$(realpath "$1")"
        return
    fi
    RELAY="$TMP/xb-tap-relay"
    log "building $RELAY"
    g++ -std=c++20 -O2 -Wall -Wextra -Werror -o "$RELAY" "$SCRIPT_DIR/xb-tap-relay.cpp" ||
        { log "FAIL: build"; exit 1; }
}

setup_namespaces() {
    if ! ip netns add "$HNS" || ! ip netns add "$GNS"; then
        log "FAIL: create namespaces"
        exit 1
    fi
    ip -n "$HNS" link set lo up
    ip -n "$GNS" link set lo up
}

# make_tap [vnet_hdr]: persistent tap0 in the host ns, the way the bridge under test creates it.
make_tap() {
    ip -n "$HNS" link del tap0 2>/dev/null
    ip -n "$HNS" tuntap add dev tap0 mode tap "$@" &&
        ip -n "$HNS" addr add "$HOST_IP/24" dev tap0 &&
        ip -n "$HNS" link set tap0 up
}

wait_for() { # wait_for SECONDS COMMAND...: poll until the command succeeds
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS >= deadline)) && return 1
        sleep 0.1
    done
}

file_says_ready() { [[ "$(cat "$1" 2>/dev/null)" == ready ]]; }

# start_relay ARGS...: run the relay in the host ns, stderr to $TMP/relay.err.
start_relay() {
    : >"$TMP/relay.err"
    # Not via hexec: a backgrounded function runs in a subshell, and $! must be the relay itself
    # (ip netns exec execs it) so that SIGTERM reaches it.
    ip netns exec "$HNS" "$RELAY" --tap tap0 --guest-netns "$GNS" --guest-dev g0 "$@" \
        2>"$TMP/relay.err" &
    RELAY_PID=$!
}

# stop_relay: SIGTERM, wait, and leave the exit status in RELAY_RC.
stop_relay() {
    kill -TERM "$RELAY_PID" 2>/dev/null
    wait "$RELAY_PID"
    RELAY_RC=$?
    RELAY_PID=""
}

# counter DIRECTION FIELD: a field of the relay's exit counter line, e.g. counter g0->tap0 gso
# (-1 when the line is missing, so numeric checks fail cleanly).
counter() {
    local v
    v=$(grep -o "$1 [^;]*" "$TMP/relay.err" | grep -o "$2=[0-9]*" | cut -d= -f2)
    echo "${v:--1}"
}

ping_both_ways() {
    check "ping host -> guest" quiet hexec ping -c 3 -i 0.2 -W 2 "$GUEST_IP"
    check "ping guest -> host" quiet gexec ping -c 3 -i 0.2 -W 2 "$HOST_IP"
}

guest_link_has() { ip -n "$GNS" -o link show dev g0 2>/dev/null | grep -q -- "$1"; }
guest_dev_gone() { ! ip -n "$GNS" link show dev g0 >/dev/null 2>&1; }

listening() { ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .; }

# tcp_transfer FROM-NS TO-NS TO-IP PORT: send $TMP/payload with nc, compare the hash.
tcp_transfer() {
    local from="$1" to="$2" ip="$3" port="$4" out="$TMP/received.$4"
    ip netns exec "$to" timeout 60 nc -l "$ip" "$port" </dev/null >"$out" &
    LISTENER_PID=$!
    if ! wait_for 5 listening "$to" "$port" ||
        ! ip netns exec "$from" timeout 60 nc -N "$ip" "$port" <"$TMP/payload"; then
        kill "$LISTENER_PID" 2>/dev/null
    fi
    wait "$LISTENER_PID"
    local rc=$?
    LISTENER_PID=""
    ((rc == 0)) && [[ "$(sha256sum <"$out")" == "$(sha256sum <"$TMP/payload")" ]]
}

idle_cpu_ticks() { # utime+stime of the relay over 2 idle seconds, in clock ticks
    local before after
    before=$(awk '{print $14 + $15}' "/proc/$RELAY_PID/stat" 2>/dev/null) || { echo 999; return; }
    sleep 2
    after=$(awk '{print $14 + $15}' "/proc/$RELAY_PID/stat" 2>/dev/null) || { echo 999; return; }
    echo $((after - before))
}

test_plain() {
    log "--- plain tap (no vnet header), --ready-fd, --guest-mac, --mtu"
    make_tap || { fail "create tap0"; return; }
    local ready="$TMP/ready-fd.out"
    : >"$ready"
    start_relay --guest-mac "$GUEST_MAC" --mtu 1400 --ready-fd 3 3>"$ready"
    check "relay ready via --ready-fd" wait_for 5 file_says_ready "$ready"
    check "guest g0 has MAC $GUEST_MAC" guest_link_has "link/ether $GUEST_MAC"
    check "guest g0 has MTU 1400 and is up" guest_link_has ",UP,.* mtu 1400 "
    ip -n "$GNS" addr add "$GUEST_IP/24" dev g0
    ping_both_ways
    check "ping with 1372-byte payload (full 1400 MTU) to guest" \
        quiet hexec ping -c 2 -i 0.2 -W 2 -M "do" -s 1372 "$GUEST_IP"
    local ticks
    ticks=$(idle_cpu_ticks)
    check "idle relay does not spin (used $ticks ticks in 2 s)" test "$ticks" -le 5
    stop_relay
    check "relay exits 0 on SIGTERM" test "$RELAY_RC" -eq 0
    check "counter line reports frames both ways" \
        test "$(counter 'tap0->g0' frames)" -gt 0 -a "$(counter 'g0->tap0' frames)" -gt 0
    log "    $(cat "$TMP/relay.err")"
    check "guest g0 removed when the relay exits" wait_for 5 guest_dev_gone
    check "tap0 (persistent) survives the relay" ip -n "$HNS" link show dev tap0 >/dev/null
}

# expect_failure DESCRIPTION ARGS...: the relay must exit non-zero with a one-line message.
expect_failure() {
    local desc="$1" out rc
    shift
    out=$(hexec "$RELAY" "$@" 2>&1)
    rc=$?
    check "$desc fails (rc=$rc: $out)" test "$rc" -ne 0 -a "$(wc -l <<<"$out")" -eq 1
}

test_errors() {
    log "--- error handling"
    expect_failure "missing tap" --tap nosuch0 --guest-netns "$GNS" --guest-dev g0
    check "missing tap is not created" bash -c "! ip -n $HNS link show dev nosuch0 2>/dev/null"
    expect_failure "missing guest netns" --tap tap0 --guest-netns "${PREFIX}-none" --guest-dev g0
    expect_failure "non-tap device" --tap lo --guest-netns "$GNS" --guest-dev g0

    start_relay --ready-file "$TMP/ready"
    wait_for 5 test -e "$TMP/ready"
    expect_failure "second attach to a held queue" --tap tap0 --guest-netns "$GNS" --guest-dev g1
    expect_failure "existing guest device" --tap tx0 --create --guest-netns "$GNS" \
        --guest-dev g0
    stop_relay
    check "ready file removed on exit" test ! -e "$TMP/ready"

    ip netns exec "$HNS" "$RELAY" --tap tc0 --create --guest-netns "$GNS" --guest-dev g0 \
        --ready-file "$TMP/ready" 2>/dev/null &
    RELAY_PID=$!
    wait_for 5 test -e "$TMP/ready"
    check "--create makes a temporary tap" ip -n "$HNS" link show dev tc0 >/dev/null
    stop_relay
    check "--create tap is gone after exit" bash -c "! ip -n $HNS link show dev tc0 2>/dev/null"
}

test_vnet_offload() {
    log "--- vnet_hdr tap, --vnet-hdr --offload, ${XFER_MB} MB TCP each way"
    make_tap vnet_hdr || { fail "create tap0 with vnet_hdr"; return; }
    start_relay --vnet-hdr --offload --guest-mac "$GUEST_MAC" --ready-file "$TMP/ready" -v
    check "relay ready via --ready-file" wait_for 5 test -e "$TMP/ready"
    ip -n "$GNS" addr add "$GUEST_IP/24" dev g0
    if command -v ethtool >/dev/null; then
        check "guest g0 advertises TSO" \
            bash -c "ip netns exec $GNS ethtool -k g0 | grep -q 'tcp-segmentation-offload: on'"
    fi
    ping_both_ways
    head -c "$((XFER_MB * 1024 * 1024))" /dev/urandom >"$TMP/payload"
    check "TCP ${XFER_MB} MB guest -> host, sha256 matches" \
        tcp_transfer "$GNS" "$HNS" "$HOST_IP" 5001
    check "TCP ${XFER_MB} MB host -> guest, sha256 matches" \
        tcp_transfer "$HNS" "$GNS" "$GUEST_IP" 5002

    # Deleting the tap under the relay must end it with an error, as it would QEMU's backend.
    ip -n "$HNS" link del tap0
    check "relay exits after tap0 is deleted" wait_for 5 bash -c "! kill -0 $RELAY_PID 2>/dev/null"
    wait "$RELAY_PID"
    RELAY_RC=$?
    RELAY_PID=""
    check "relay exit status non-zero after tap deletion (rc=$RELAY_RC)" test "$RELAY_RC" -ne 0
    log "    $(grep -v 'relaying' "$TMP/relay.err" | tr '\n' ' ')"
    check "error names the tap" grep -q "tap0" "$TMP/relay.err"
    local d
    for d in 'g0->tap0' 'tap0->g0'; do
        check "$d carried GSO frames (gso=$(counter "$d" gso), max=$(counter "$d" max))" \
            test "$(counter "$d" gso)" -gt 0 -a "$(counter "$d" max)" -gt 1514
    done
    check "no frames dropped" test "$(counter 'g0->tap0' dropped)" -eq 0 -a \
        "$(counter 'tap0->g0' dropped)" -eq 0
}

main() {
    [[ $EUID -eq 0 ]] || { log "SKIP: needs root (network namespaces, taps)"; exit 77; }
    TMP="$(mktemp -d /tmp/xb-relay-selftest.XXXXXX)"
    need ping iputils-ping
    need nc netcat-openbsd
    build_relay "$@"
    setup_namespaces
    test_plain
    test_errors
    test_vnet_offload
    if ((FAILED)); then
        log "RESULT: FAIL"
        exit 1
    fi
    log "RESULT: PASS"
}

main "$@"
