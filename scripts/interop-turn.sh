#!/usr/bin/env bash
# Interop: natsim's TURN client (traversal/turn_client, driven by `natsim probe --turn`)
# against coturn's turnserver (Debian package coturn), all on loopback 127.0.0.1.
#
#   turnserver  -a -u alice:secret -r example.org --allow-loopback-peers, relay ports in a
#               50-port range the script picks
#   echo peer   coturn's turnutils_peer (falls back to a /usr/bin/python3 UDP echo)
#   natsim probe --turn 127.0.0.1:P --user alice:secret --realm example.org \
#                --peer 127.0.0.1:PEER --json
#       allocate (401 → long-term credentials), CreatePermission, a datagram out as a Send
#       indication and back as a Data indication, ChannelBind, a datagram out and back as
#       ChannelData, Refresh LIFETIME 0.
#   Then: the same with --stale-nonce=1 on the server and --hold-ms (438 Stale Nonce is
#   answered with the new NONCE), a wrong password (exit 1, 401), the table output and
#   usage errors (exit 2).
#
# Usage: scripts/interop-turn.sh [PATH/TO/natsim]     (default build/release/tools/natsim)
# Prints PASS/FAIL per check and ends with "N passed, M failed"; exits 1 on any failure,
# 2 when a required program is missing. Everything started here runs on free ports, is
# stopped by PID on exit (trap EXIT), and every client runs under `timeout`. Logs: kept in
# a temp dir on failure (INTEROP_KEEP_LOGS=1 keeps them always).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NATSIM=${1:-$ROOT/build/release/tools/natsim}
[[ $NATSIM == /* ]] || NATSIM=$PWD/$NATSIM
JSON_FIELD=$ROOT/tools/test/json_field.cmake
CMAKE=${CMAKE:-cmake}
PYTHON=/usr/bin/python3

PASS=0
FAIL=0
PIDS=()
TMP=$(mktemp -d /tmp/natsim-interop-turn.XXXXXX)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# alive = exists and is not a zombie
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}
stop_pid() {
  local pid=$1 i
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 30); do
      alive "$pid" || break
      sleep 0.1
    done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$? i
  trap - EXIT
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
  if [ "$rc" != 0 ] || [ "${INTEROP_KEEP_LOGS:-0}" = 1 ]; then
    log "logs kept in $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# check DESCRIPTION CMD...: run a test command, count and print PASS/FAIL
check() {
  local desc=$1
  shift
  if "$@"; then
    PASS=$((PASS + 1))
    log "PASS: $desc"
  else
    FAIL=$((FAIL + 1))
    log "FAIL: $desc"
  fi
}
has() { grep -Eq -- "$2" "$1"; }
eq() { [ "$1" = "$2" ]; }
# all_of FILE REGEX...: every REGEX matches a line of FILE
all_of() {
  local file=$1 re
  shift
  for re in "$@"; do grep -Eq -- "$re" "$file" || return 1; done
}

# json FILE a;b;c: sets J_a, J_b, J_c from a JSON object; returns 1 unless it parses
json() {
  local line
  "$CMAKE" -DFILE="$1" -DFIELDS="$2" -P "$JSON_FIELD" >"$TMP/fields" 2>"$TMP/fields.err" || return 1
  while IFS= read -r line; do printf -v "J_${line%%=*}" '%s' "${line#*=}"; done <"$TMP/fields"
}

port_free() {
  command -v ss >/dev/null || return 0
  ! ss -Hlnu "sport = :$1" 2>/dev/null | grep -q . && ! ss -Hlnt "sport = :$1" 2>/dev/null | grep -q .
}
# A free port P (with P+1 free too: coturn may open an alternate port) above Linux's
# ephemeral range (to 60999).
pick_port() {
  local p i
  for i in $(seq 1 50); do
    p=$((61000 + RANDOM % 2000))
    port_free "$p" && port_free $((p + 1)) && { echo "$p"; return 0; }
  done
  return 1
}
# A 50-port relay range in 63000-64999 with nothing bound in it.
pick_range() {
  local base p i busy
  for i in $(seq 1 20); do
    base=$((63000 + (RANDOM % 40) * 50))
    busy=0
    for p in $(seq "$base" $((base + 49))); do port_free "$p" || { busy=1; break; }; done
    [ "$busy" = 0 ] && { echo "$base"; return 0; }
  done
  return 1
}

if [ ! -x "$NATSIM" ]; then
  echo "interop-turn: no natsim program at $NATSIM (build it first: make build)" >&2
  exit 2
fi
for program in turnserver turnutils_stunclient timeout "$CMAKE"; do
  if ! command -v "$program" >/dev/null; then
    echo "interop-turn: missing $program (NATSIM_EXTRA_PACKAGES=coturn scripts/install-deps.sh)" >&2
    exit 2
  fi
done
log "natsim: $NATSIM; logs in $TMP"

# ---------------------------------------------------------------------------------------
# The echo peer: turnutils_peer (or a Python echo) on 127.0.0.1:PEER
# ---------------------------------------------------------------------------------------
start_peer() {
  local attempt i
  for attempt in 1 2 3 4 5; do
    PEER=$(pick_port) || return 1
    if command -v turnutils_peer >/dev/null; then
      PEER_KIND=turnutils_peer
      turnutils_peer -L 127.0.0.1 -p "$PEER" >"$TMP/peer.log" 2>&1 &
    else
      PEER_KIND=python3
      "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    data, addr = s.recvfrom(65535)
    s.sendto(data, addr)
' "$PEER" >"$TMP/peer.log" 2>&1 &
    fi
    PEER_PID=$!
    PIDS+=("$PEER_PID")
    for i in $(seq 1 30); do
      alive "$PEER_PID" || break
      if ! command -v ss >/dev/null || ss -Hlnu "sport = :$PEER" 2>/dev/null | grep -q .; then
        log "started $PEER_KIND pid=$PEER_PID on 127.0.0.1:$PEER"
        return 0
      fi
      sleep 0.1
    done
    log "echo peer did not start (attempt $attempt): $(tail -2 "$TMP/peer.log" | tr '\n' ' ')"
    stop_pid "$PEER_PID"
  done
  return 1
}

# ---------------------------------------------------------------------------------------
# coturn: start_coturn NAME [EXTRA FLAGS...] sets P, RELAY_MIN, RELAY_MAX, TURN_PID
# ---------------------------------------------------------------------------------------
start_coturn() {
  local name=$1 attempt i
  shift
  for attempt in 1 2 3 4 5; do
    P=$(pick_port) || return 1
    RELAY_MIN=$(pick_range) || return 1
    RELAY_MAX=$((RELAY_MIN + 49))
    # -n: no config file; -a -u -r: long-term credentials for alice in example.org;
    # -E: relay from 127.0.0.1; --allow-loopback-peers: the echo peer is on 127.0.0.1;
    # --userdb keeps coturn's SQLite file out of /var.
    turnserver -n --no-cli --no-tls --no-dtls -L 127.0.0.1 -E 127.0.0.1 -p "$P" \
      --min-port "$RELAY_MIN" --max-port "$RELAY_MAX" --allow-loopback-peers \
      -a -u alice:secret -r example.org -v "$@" \
      --userdb "$TMP/$name.db" --log-file stdout --simple-log --pidfile "$TMP/$name.pid" \
      >"$TMP/$name.log" 2>&1 &
    TURN_PID=$!
    PIDS+=("$TURN_PID")
    log "started turnserver ($name) pid=$TURN_PID on 127.0.0.1:$P, relay ports $RELAY_MIN-$RELAY_MAX${*:+, $*}"
    # Ready when it answers a Binding request.
    for i in $(seq 1 20); do
      alive "$TURN_PID" || break
      if timeout 1 turnutils_stunclient -p "$P" 127.0.0.1 2>&1 | grep -q 'UDP reflexive addr'; then
        return 0
      fi
      sleep 0.2
    done
    log "turnserver did not start (attempt $attempt): $(tail -2 "$TMP/$name.log" | tr '\n' ' ')"
    stop_pid "$TURN_PID"
  done
  return 1
}

FIELDS="local;realm;relayed;mapped;lifetime_s;permission;channel;send_indication_echo;channel_data_echo;released;ok;errors;counters"

# in_relay_range ENDPOINT: 127.0.0.1:<port in RELAY_MIN..RELAY_MAX>
in_relay_range() {
  [[ $1 =~ ^127\.0\.0\.1:([0-9]+)$ ]] || return 1
  local port=${BASH_REMATCH[1]}
  [ "$port" -ge "$RELAY_MIN" ] && [ "$port" -le "$RELAY_MAX" ]
}
counter() { # counter NAME: the value of counters.NAME in the last parsed JSON
  sed -n "s/.*\"$1\" *: *\([0-9]*\).*/\1/p" <<<"$J_counters" | head -1
}

if ! start_peer; then
  check "an echo peer starts on 127.0.0.1" false
  echo "$PASS passed, $FAIL failed"
  exit 1
fi

# ---------------------------------------------------------------------------------------
# a) the whole probe against coturn
# ---------------------------------------------------------------------------------------
if start_coturn turnserver; then
  rc=0
  timeout 40 "$NATSIM" probe --turn "127.0.0.1:$P" --user alice:secret --realm example.org \
    --peer "127.0.0.1:$PEER" --json >"$TMP/probe.json" 2>"$TMP/probe.err" || rc=$?
  sed 's/^/    /' "$TMP/probe.json"
  check "natsim probe --turn vs coturn: exit 0 (got $rc)" eq "$rc" 0
  if json "$TMP/probe.json" "$FIELDS"; then
    check "JSON parses, ok = true, no errors" \
      bash -c '[ "$1" = true ] && [[ $2 =~ ^\[\ *\]$ ]]' _ "$J_ok" "$J_errors"
    check "relayed address 127.0.0.1:<port in coturn's relay range $RELAY_MIN-$RELAY_MAX> (got $J_relayed)" \
      in_relay_range "$J_relayed"
    check "XOR-MAPPED-ADDRESS = the probe's local endpoint ($J_mapped)" eq "$J_mapped" "$J_local"
    check "realm example.org, lifetime 600 s (got $J_realm, $J_lifetime_s)" \
      bash -c '[ "$1" = example.org ] && [ "$2" = 600 ]' _ "$J_realm" "$J_lifetime_s"
    check "CreatePermission succeeded; ChannelBind gave channel 0x4000 (got $J_permission, $J_channel)" \
      bash -c '[ "$1" = true ] && [ "$2" = 16384 ]' _ "$J_permission" "$J_channel"
    check "echo through the relay via Send/Data indications (got $J_send_indication_echo)" \
      eq "$J_send_indication_echo" true
    check "echo through the relay via ChannelData (got $J_channel_data_echo)" \
      eq "$J_channel_data_echo" true
    check "released (Refresh LIFETIME 0) (got $J_released)" eq "$J_released" true
    check "one 401 challenge, no retransmissions, nothing malformed or unmatched" \
      bash -c '[ "$1" = 1 ] && [ "$2" = 0 ] && [ "$3" = 0 ] && [ "$4" = 0 ] && [ "$5" = 0 ]' _ \
      "$(counter unauthenticated)" "$(counter retransmissions)" "$(counter malformed)" \
      "$(counter unmatched)" "$(counter bad_integrity)"
    check "one datagram each way as indications and as ChannelData" \
      bash -c '[ "$1" = 1 ] && [ "$2" = 1 ] && [ "$3" = 1 ] && [ "$4" = 1 ]' _ \
      "$(counter send_indications)" "$(counter data_indications)" "$(counter channel_data_out)" \
      "$(counter channel_data_in)"
  else
    check "natsim probe --turn vs coturn: JSON parses ($(tr -s ' \n' ' ' <"$TMP/fields.err" | head -c 160))" false
  fi
  # coturn's own account of the session.
  check "coturn: 401 then ALLOCATE, CREATE_PERMISSION, CHANNEL_BIND, REFRESH processed, success" \
    all_of "$TMP/turnserver.log" 'error 401: Unauthorized' \
    "user <alice>: incoming packet ALLOCATE processed, success" \
    "user <alice>: incoming packet CREATE_PERMISSION processed, success" \
    "user <alice>: incoming packet CHANNEL_BIND processed, success" \
    "user <alice>: incoming packet REFRESH processed, success"
  check "coturn: allocation refreshed with lifetime=0 (released)" \
    has "$TMP/turnserver.log" 'refreshed, realm=<example.org>, username=<alice>, lifetime=0'
  # The peer usage line is written when the session closes, shortly after the release.
  for i in $(seq 1 30); do has "$TMP/turnserver.log" 'peer usage:' && break; sleep 0.1; done
  check "coturn: relayed 2 datagrams to the peer and 2 back (peer usage rp=2 sp=2)" \
    has "$TMP/turnserver.log" 'peer usage: realm=<example.org>, username=<alice>, rp=2, rb=[0-9]+, sp=2,'

  # The human table.
  rc=0
  timeout 40 "$NATSIM" probe --turn "127.0.0.1:$P" --user alice:secret --peer "127.0.0.1:$PEER" \
    >"$TMP/probe.txt" 2>&1 || rc=$?
  check "natsim probe --turn (table): exit 0, both echoes 'yes', 'result ok'" \
    bash -c '[ "$1" = 0 ] && grep -Eq "^  echo via Send/Data +yes" "$2" &&
             grep -Eq "^  echo via ChannelData +yes" "$2" && grep -Eq "^  result +ok$" "$2"' \
    _ "$rc" "$TMP/probe.txt"

  # Wrong password: the second 401 is final.
  rc=0
  timeout 40 "$NATSIM" probe --turn "127.0.0.1:$P" --user alice:wrong --peer "127.0.0.1:$PEER" \
    --json >"$TMP/wrong.json" 2>"$TMP/wrong.err" || rc=$?
  check "wrong password: exit 1 (got $rc)" eq "$rc" 1
  check "wrong password: 'Allocate failed: 401', no relayed address" \
    bash -c 'grep -q "Allocate failed: 401" "$1" && grep -q "\"relayed\": null" "$1"' _ "$TMP/wrong.json"

  # Wrong --realm expectation.
  rc=0
  timeout 40 "$NATSIM" probe --turn "127.0.0.1:$P" --user alice:secret --realm other.org \
    --json >"$TMP/realm.json" 2>&1 || rc=$?
  check "--realm other.org against realm example.org: exit 1, still released" \
    bash -c '[ "$1" = 1 ] && grep -q "not '"'"'other.org'"'"'" "$2" && grep -q "\"released\": true" "$2"' \
    _ "$rc" "$TMP/realm.json"

  stop_pid "$TURN_PID"
else
  check "coturn turnserver starts on 127.0.0.1" false
fi

# ---------------------------------------------------------------------------------------
# b) 438 Stale Nonce: coturn's nonces live 1 s; the probe holds the allocation 2.5 s
#    between the Send-indication echo and the ChannelBind.
# ---------------------------------------------------------------------------------------
if start_coturn stale --stale-nonce=1; then
  rc=0
  timeout 40 "$NATSIM" probe --turn "127.0.0.1:$P" --user alice:secret --peer "127.0.0.1:$PEER" \
    --hold-ms 2500 --json >"$TMP/stale.json" 2>"$TMP/stale.err" || rc=$?
  check "stale nonce: exit 0 (got $rc)" eq "$rc" 0
  if json "$TMP/stale.json" "$FIELDS"; then
    n438=$(counter stale_nonce)
    check "stale nonce: 438 answered with the new NONCE (stale_nonce = ${n438:-?} >= 1), both echoes back" \
      bash -c '[ "${1:-0}" -ge 1 ] && [ "$2" = true ] && [ "$3" = true ] && [ "$4" = true ]' _ \
      "$n438" "$J_send_indication_echo" "$J_channel_data_echo" "$J_released"
  else
    check "stale nonce: JSON parses" false
  fi
  check "coturn: answered 438 Stale Nonce, then CHANNEL_BIND processed, success" \
    all_of "$TMP/stale.log" 'error 438' "incoming packet CHANNEL_BIND processed, success"
  stop_pid "$TURN_PID"
else
  check "coturn turnserver (--stale-nonce=1) starts on 127.0.0.1" false
fi

# ---------------------------------------------------------------------------------------
# c) usage errors exit 2
# ---------------------------------------------------------------------------------------
usage2() {
  local rc=0
  timeout 10 "$NATSIM" "$@" >"$TMP/usage.out" 2>&1 || rc=$?
  [ "$rc" = 2 ]
}
check "usage: probe --turn without --user exits 2" usage2 probe --turn 127.0.0.1:3478
check "usage: probe --turn with a bad --user exits 2" usage2 probe --turn 127.0.0.1:3478 --user alice
check "usage: probe --turn without a port exits 2" usage2 probe --turn 127.0.0.1 --user a:b
check "usage: probe --turn and --stun together exit 2" \
  usage2 probe --turn 127.0.0.1:3478 --stun 127.0.0.1:3478 --user a:b
check "usage: probe --peer of another family exits 2" \
  usage2 probe --turn 127.0.0.1:3478 --user a:b --peer '[::1]:9'

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
