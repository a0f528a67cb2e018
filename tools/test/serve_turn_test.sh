#!/usr/bin/env bash
# ctest cases for `natsim serve turn`, on loopback (127.0.0.1 only): natsim's own TURN
# client (`natsim probe --turn`) against it. Every process started here is stopped by PID;
# every client runs under `timeout`, so a case can fail but not hang.
#   serve_turn_test.sh NATSIM CMAKE CASE      CASE: usage | relay | denied | tcp
# The relay and tcp cases need an echo peer: /usr/bin/python3 (without it, they allocate
# only). The tcp case runs `natsim probe --turn --tcp` (TURN over TCP to the server, UDP to
# the peer), then `serve turn --no-tcp`, which a TCP probe must find refused.
set -euo pipefail

NATSIM=$1
CMAKE=$2
CASE=$3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=/usr/bin/python3
[ -x "$NATSIM" ] || { echo "FAIL: no natsim program at $NATSIM"; exit 1; }
TMP=$(mktemp -d /tmp/natsim-cli-turn.XXXXXX)
PIDS=()

# shellcheck source=cli_test.sh
source "$HERE/cli_test.sh"

counter() { sed -n "s/^  $1 *\([0-9][0-9]*\)$/\1/p" "$TMP/serve.out"; }

# start_server ARGS...: `natsim serve turn` on 127.0.0.1 (the kernel picks the listening
# port) with 16 relay ports at a random base below Linux's ephemeral range; retries when a
# relay port is taken (exit 2). Sets P (listening port), RELAY_MIN, RELAY_MAX, SERVER_PID.
start_server() {
  local attempt i
  for attempt in 1 2 3 4 5; do
    RELAY_MIN=$((20000 + RANDOM % 12000))
    RELAY_MAX=$((RELAY_MIN + 15))
    "$NATSIM" serve turn --listen 127.0.0.1:0 --user alice:secret --realm example.org \
      --relay-ports "$RELAY_MIN:16" "$@" >"$TMP/serve.out" 2>"$TMP/serve.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for i in $(seq 1 50); do
      if grep -q '^listening on' "$TMP/serve.out"; then
        P=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$TMP/serve.out")
        return 0
      fi
      alive "$SERVER_PID" || break
      sleep 0.1
    done
    stop_pid "$SERVER_PID"
  done
  return 1
}
stop_server() {
  kill -TERM "$SERVER_PID"
  SERVER_RC=0
  timeout 5 tail -s 0.1 --pid="$SERVER_PID" -f /dev/null || true
  wait "$SERVER_PID" || SERVER_RC=$?
  forget "$SERVER_PID"
}
# A UDP echo peer on 127.0.0.1 (the kernel picks the port); sets PEER.
start_peer() {
  local i
  "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    data, addr = s.recvfrom(65535)
    s.sendto(data, addr)
' >"$TMP/peer.out" 2>&1 &
  PIDS+=("$!")
  for i in $(seq 1 50); do
    PEER=$(head -1 "$TMP/peer.out")
    [ -n "$PEER" ] && return 0
    sleep 0.1
  done
  return 1
}

# tcp_drained: wait (3 s at most) until no TCP connection to the server's port $P is left
# established or half-closed, so the counters at exit include the client's close.
tcp_drained() {
  command -v ss >/dev/null || return 0
  for _ in $(seq 1 30); do
    ss -Htn state established state close-wait "( sport = :$P )" 2>/dev/null | grep -q . || return 0
    sleep 0.1
  done
  return 1
}
# in_relay_range ENDPOINT: 127.0.0.1:<port in RELAY_MIN..RELAY_MAX>
in_relay_range() {
  [[ $1 =~ ^127\.0\.0\.1:([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge "$RELAY_MIN" ] &&
    [ "${BASH_REMATCH[1]}" -le "$RELAY_MAX" ]
}

FIELDS="relayed;mapped;local;realm;permission;send_indication_echo;channel_data_echo;released;ok;errors"

case "$CASE" in
  relay)
    start_server --allow-loopback-peers --json-log || fail "natsim serve turn did not start"
    expect "serve printed its port ($P)" test -n "$P"
    expect "serve lists the relay range" \
      grep -q "^relay addresses 127.0.0.1 ports $RELAY_MIN-$RELAY_MAX (16)$" "$TMP/serve.out"
    expect "loopback peers allowed, private ranges still denied" \
      bash -c 'grep -Eq "^denied peers: .*10\.0\.0\.0/8 .*192\.168\.0\.0/16 .*224\.0\.0\.0/4 .*fc00::/7 .*\(loopback peers allowed\)$" "$1" &&
        ! grep -Eq "^denied peers: .*(127\.0\.0\.0/8|::1/128)" "$1"' _ "$TMP/serve.out"
    peer_args=()
    if [ -x "$PYTHON" ]; then
      start_peer || fail "the echo peer did not start"
      peer_args=(--peer "127.0.0.1:$PEER")
    else
      echo "note: no $PYTHON: allocation only, no relaying"
    fi
    rc=0
    timeout 20 "$NATSIM" probe --turn "127.0.0.1:$P" --user alice:secret --realm example.org \
      "${peer_args[@]}" --timeout-ms 10000 --json >"$TMP/probe.json" || rc=$?
    expect "probe --turn exits 0 (got $rc)" test "$rc" = 0
    fields "$TMP/probe.json" "$FIELDS"
    expect "ok, no errors" test "$J_ok" = true
    expect "relayed address in 127.0.0.1:$RELAY_MIN-$RELAY_MAX (got $J_relayed)" \
      bash -c '[[ $1 =~ ^127\.0\.0\.1:([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge "$2" ] &&
               [ "${BASH_REMATCH[1]}" -le "$3" ]' _ "$J_relayed" "$RELAY_MIN" "$RELAY_MAX"
    expect "mapped ($J_mapped) == local ($J_local)" test "$J_mapped" = "$J_local"
    expect "realm example.org" test "$J_realm" = example.org
    expect "released" test "$J_released" = true
    if [ -n "${PEER:-}" ]; then
      expect "echo via Send/Data indications" test "$J_send_indication_echo" = true
      expect "echo via ChannelData" test "$J_channel_data_echo" = true
    fi
    # A wrong password: 401 again, no allocation.
    rc=0
    timeout 20 "$NATSIM" probe --turn "127.0.0.1:$P" --user alice:wrong --timeout-ms 5000 \
      --json >"$TMP/wrong.json" || rc=$?
    expect "wrong password: probe exits 1 (got $rc)" test "$rc" = 1
    expect "wrong password: Allocate failed: 401" grep -q 'Allocate failed: 401' "$TMP/wrong.json"
    stop_server
    expect "serve exits 0 on SIGTERM (got $SERVER_RC)" test "$SERVER_RC" = 0
    expect "serve reports SIGTERM" grep -q '^stopped by SIGTERM' "$TMP/serve.out"
    expect "one allocation, released (allocations 1, active 0)" \
      test "$(counter allocations)/$(counter allocations_active)" = 1/0
    expect "the wrong password counted (auth_failures >= 1)" test "$(counter auth_failures)" -ge 1
    if [ -n "${PEER:-}" ]; then
      expect "relayed 2 datagrams each way" \
        test "$(counter relayed_to_peer)/$(counter relayed_to_client)" = 2/2
    fi
    expect "nothing malformed" test "$(counter dropped_malformed)" = 0
    expect "json-log has the Allocate success with its relayed address" grep -q '"turn":"allocate success relayed' "$TMP/serve.err"
    expect "json-log ends with the counters" grep -q '"event":"stopped"' "$TMP/serve.err"
    ;;

  denied)
    # Without --allow-loopback-peers, 127.0.0.1 is a denied peer: CreatePermission → 403.
    start_server || fail "natsim serve turn did not start"
    expect "default denied list has loopback" grep -q '^denied peers: .*127.0.0.0/8 .*::1/128 ' "$TMP/serve.out"
    rc=0
    timeout 20 "$NATSIM" probe --turn "127.0.0.1:$P" --user alice:secret --peer 127.0.0.1:9 \
      --timeout-ms 5000 --json >"$TMP/probe.json" || rc=$?
    expect "probe exits 1 (got $rc)" test "$rc" = 1
    fields "$TMP/probe.json" "$FIELDS"
    expect "allocated, permission refused, released" \
      bash -c '[ "$1" != null ] && [ "$2" = false ] && [ "$3" = true ]' _ "$J_relayed" \
      "$J_permission" "$J_released"
    expect "CreatePermission failed: 403" grep -q 'CreatePermission failed: 403' "$TMP/probe.json"
    stop_server
    expect "serve exits 0 (got $SERVER_RC)" test "$SERVER_RC" = 0
    expect "forbidden 1, nothing relayed" \
      test "$(counter forbidden)/$(counter relayed_to_peer)" = 1/0
    ;;

  tcp)
    # TURN over TCP on the UDP listening port: the probe allocates, relays (UDP to the peer)
    # and releases over one connection.
    start_server --allow-loopback-peers --json-log || fail "natsim serve turn did not start"
    expect "serve listens on UDP and TCP" \
      grep -q "^listening on 127\.0\.0\.1:$P (TURN, UDP and TCP)$" "$TMP/serve.out"
    peer_args=()
    if [ -x "$PYTHON" ]; then
      start_peer || fail "the echo peer did not start"
      peer_args=(--peer "127.0.0.1:$PEER")
    else
      echo "note: no $PYTHON: allocation only, no relaying"
    fi
    rc=0
    timeout 20 "$NATSIM" probe --turn "127.0.0.1:$P" --tcp --user alice:secret \
      "${peer_args[@]}" --timeout-ms 10000 --json >"$TMP/probe.json" || rc=$?
    expect "probe --turn --tcp exits 0 (got $rc)" test "$rc" = 0
    fields "$TMP/probe.json" "transport;$FIELDS;counters"
    expect "transport tcp (got $J_transport)" test "$J_transport" = tcp
    expect "ok, no errors" bash -c '[ "$1" = true ] && [[ $2 =~ ^\[\ *\]$ ]]' _ "$J_ok" "$J_errors"
    expect "relayed address in 127.0.0.1:$RELAY_MIN-$RELAY_MAX (got $J_relayed)" \
      in_relay_range "$J_relayed"
    expect "mapped ($J_mapped) == local ($J_local)" test "$J_mapped" = "$J_local"
    expect "released" test "$J_released" = true
    if [ -n "${PEER:-}" ]; then
      expect "echo via Send/Data indications" test "$J_send_indication_echo" = true
      expect "echo via ChannelData" test "$J_channel_data_echo" = true
    fi
    pcounter() { sed -n "s/.*\"$1\" *: *\([0-9]*\).*/\1/p" <<<"$J_counters" | head -1; }
    expect "no retransmissions over TCP, connection not lost, nothing malformed" \
      test "$(pcounter retransmissions)/$(pcounter connection_lost)/$(pcounter malformed)" = 0/0/0
    expect "the probe's connection is closed on the server too" tcp_drained
    stop_server
    expect "serve exits 0 on SIGTERM (got $SERVER_RC)" test "$SERVER_RC" = 0
    expect "one TCP connection accepted and closed (tcp_accepted 1, tcp_closed 1, got $(counter tcp_accepted)/$(counter tcp_closed))" \
      test "$(counter tcp_accepted)/$(counter tcp_closed)" = 1/1
    expect "one allocation, released (allocations 1, active 0, got $(counter allocations)/$(counter allocations_active))" \
      test "$(counter allocations)/$(counter allocations_active)" = 1/0
    if [ -n "${PEER:-}" ]; then
      expect "relayed 2 datagrams each way (got $(counter relayed_to_peer)/$(counter relayed_to_client))" \
        test "$(counter relayed_to_peer)/$(counter relayed_to_client)" = 2/2
    fi
    expect "nothing malformed, no TCP queue overflow" \
      test "$(counter dropped_malformed)/$(counter tcp_queue_overflows)" = 0/0
    expect "json-log has the Allocate success over TCP" \
      grep -q '"transport":"tcp".*"turn":"allocate success relayed' "$TMP/serve.err"

    # --no-tcp: UDP only; a TCP probe is refused at once (exit 1), UDP still allocates.
    start_server --no-tcp || fail "natsim serve turn --no-tcp did not start"
    expect "serve --no-tcp listens on UDP only" \
      grep -q "^listening on 127\.0\.0\.1:$P (TURN, UDP)$" "$TMP/serve.out"
    rc=0
    timeout 20 "$NATSIM" probe --turn "127.0.0.1:$P" --tcp --user alice:secret \
      --timeout-ms 10000 --json >"$TMP/refused.json" 2>"$TMP/refused.err" || rc=$?
    expect "probe --tcp against --no-tcp exits 1 (got $rc)" test "$rc" = 1
    # Refused, not timed out: the error names the refusal, and the report is still JSON.
    fields "$TMP/refused.json" "ok;errors;transport"
    expect "probe --tcp against --no-tcp reports the refused connection in JSON" \
      bash -c '[ "$1" = false ] && [ "$2" = tcp ] && [[ $3 == *"Connection refused"* ]]' _ \
      "$J_ok" "$J_transport" "$J_errors"
    rc=0
    timeout 20 "$NATSIM" probe --turn "127.0.0.1:$P" --user alice:secret --timeout-ms 10000 \
      --json >"$TMP/udp.json" || rc=$?
    expect "probe over UDP against --no-tcp still allocates (exit $rc)" test "$rc" = 0
    stop_server
    expect "serve --no-tcp exits 0 (got $SERVER_RC)" test "$SERVER_RC" = 0
    expect "serve --no-tcp accepted no TCP connection, one allocation" \
      test "$(counter tcp_accepted)/$(counter allocations)" = 0/1
    ;;

  usage)
    exit2() {
      local rc=0
      timeout 10 "$NATSIM" "$@" >"$TMP/out" 2>&1 || rc=$?
      expect "natsim $* exits 2 (got $rc)" test "$rc" = 2
    }
    ok=(--realm r --user a:b)
    exit2 serve turn
    exit2 serve turn --listen 127.0.0.1:0 --realm r
    exit2 serve turn --listen 127.0.0.1:0 --user a:b
    exit2 serve turn --listen nonsense "${ok[@]}"
    exit2 serve turn --listen 127.0.0.1:99999 "${ok[@]}"
    exit2 serve turn --listen 127.0.0.1:0 --realm r --user alice
    exit2 serve turn --listen 127.0.0.1:0 --realm r --user :secret
    exit2 serve turn --listen 127.0.0.1:0 --realm r --user a:b --user a:c
    exit2 serve turn --listen 127.0.0.1:0 --realm '' --user a:b
    exit2 serve turn --listen 127.0.0.1:0 "${ok[@]}" --relay-ports 49152
    exit2 serve turn --listen 127.0.0.1:0 "${ok[@]}" --relay-ports 49152:0
    exit2 serve turn --listen 127.0.0.1:0 "${ok[@]}" --relay-ports 0:10
    exit2 serve turn --listen 127.0.0.1:0 "${ok[@]}" --relay-ports 65530:10
    exit2 serve turn --listen 127.0.0.1:0 "${ok[@]}" --relay-ports x:10
    exit2 serve turn --listen 127.0.0.1:30005 "${ok[@]}" --relay-ports 30000:10
    grep -q 'inside --relay-ports' "$TMP/out" || fail "a listening port in the relay range is explained"
    exit2 serve turn --listen 0.0.0.0:0 "${ok[@]}"
    grep -q 'give --relay-ip' "$TMP/out" || fail "a wildcard --listen asks for --relay-ip"
    exit2 serve turn --listen 127.0.0.1:0 "${ok[@]}" --relay-ip 0.0.0.0
    exit2 serve turn --listen 127.0.0.1:0 "${ok[@]}" --relay-ip '::1'
    exit2 serve turn --listen 127.0.0.1:0 "${ok[@]}" --relay-ip nonsense
    exit2 serve turn --listen 127.0.0.1:0 "${ok[@]}" --max-allocations-per-user 0
    exit2 serve turn --listen 127.0.0.1:0 "${ok[@]}" --software "$(printf 'x%.0s' $(seq 1 128))"
    exit2 serve turn --listen 127.0.0.1:0 "${ok[@]}" --bogus
    exit2 serve turn --listen 192.0.2.1:3478 "${ok[@]}" # not a local address: cannot bind
    grep -q 'cannot bind 192.0.2.1:3478' "$TMP/out" || fail "bind error is explained"
    exit2 serve turn --listen 127.0.0.1:0 "${ok[@]}" --relay-ip 192.0.2.1 --relay-ports 30000:4
    grep -q 'cannot bind relay port 192.0.2.1:30000' "$TMP/out" || fail "relay bind error is explained"
    ;;

  *)
    fail "unknown case $CASE"
    ;;
esac
echo "PASS: $CASE"
