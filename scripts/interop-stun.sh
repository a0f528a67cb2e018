#!/usr/bin/env bash
# Interop: natsim's STUN server and NAT probe against independent implementations from
# Debian, all on loopback (127.0.0.1 and 127.0.0.2; never any other address).
#
#   a) natsim serve stun (RFC 5780 mode) answering
#        - Vovida `stun` 0.97 (package stun-client): the classic RFC 3489 client
#        - coturn `turnutils_stunclient` (package coturn): an RFC 5389/5780 client
#   b) natsim probe (RFC 5780 discovery) against coturn `turnserver -S` on two addresses
#   c) natsim probe against Vovida `stund` 0.97 (package stun-server), a classic RFC 3489
#      server: CHANGED-ADDRESS stands in for OTHER-ADDRESS, and stund drops requests whose
#      SOFTWARE it cannot parse (the probe retries without it and says so; --software ""
#      leaves it out from the start)
#
# Usage: scripts/interop-stun.sh [PATH/TO/natsim]     (default build/release/tools/natsim)
# Prints PASS/FAIL per check and ends with "N passed, M failed"; exits 1 on any failure,
# 2 when a required program is missing. Servers run on free ports and are stopped by PID
# on exit; every client runs under `timeout`. Logs: kept in a temp dir on failure
# (INTEROP_KEEP_LOGS=1 keeps them always).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NATSIM=${1:-$ROOT/build/release/tools/natsim}
[[ $NATSIM == /* ]] || NATSIM=$PWD/$NATSIM
CMAKE=${CMAKE:-cmake}

PIDS=()
TMP=$(mktemp -d /tmp/natsim-interop.XXXXXX)

# shellcheck source=lib/interop.sh
source "$ROOT/scripts/lib/interop.sh"

# A port P with P and P+1 free (UDP and TCP), above Linux's ephemeral range (to 60999)
# and Vovida stun's random client ports (16384-32767).
pick_pair() { pick_port 61000 4000; }

require interop-stun "stun-client stun-server coturn" stun stund turnutils_stunclient turnserver \
  timeout "$CMAKE"

# ---------------------------------------------------------------------------------------
# a) natsim serve stun --listen 127.0.0.1:P --alternate 127.0.0.2:P+1
# ---------------------------------------------------------------------------------------
start_natsim_server() {
  local attempt i
  for attempt in 1 2 3 4 5; do
    P=$(pick_pair) || return 1
    "$NATSIM" serve stun --listen "127.0.0.1:$P" --alternate "127.0.0.2:$((P + 1))" --json-log \
      >"$TMP/serve.out" 2>"$TMP/serve.log" &
    SERVE_PID=$!
    PIDS+=("$SERVE_PID")
    log "started natsim serve stun pid=$SERVE_PID on 127.0.0.1:$P / 127.0.0.2:$((P + 1))"
    for i in $(seq 1 50); do
      [ "$(grep -c '^listening on' "$TMP/serve.out")" -ge 4 ] && return 0
      alive "$SERVE_PID" || break
      sleep 0.1
    done
    log "natsim serve stun did not start (attempt $attempt): $(tail -1 "$TMP/serve.out" "$TMP/serve.log" | tr '\n' ' ')"
    stop_pid "$SERVE_PID"
  done
  return 1
}

if start_natsim_server; then
  P2=$((P + 1))

  # Vovida stun 0.97: RFC 3489 tests I (no change), II (change IP), III (change port),
  # I(2) at the CHANGED-ADDRESS, and a hairpin test. Its exit code is the NAT class:
  # 0x00 open + 0x01 "port preserved" = 1 on loopback.
  rc=0
  # (-v: its test trace goes to stderr, the verdict to stdout; keep both in one file)
  timeout 10 stun "127.0.0.1:$P" -i 127.0.0.1 -v >"$TMP/stun.out" 2>&1 || rc=$?
  log "stun exit code $rc: $(grep -E '^Primary:|^Return value' "$TMP/stun.out" | tr '\n\t' '  ')"
  check "stun (RFC 3489) vs natsim serve: exit 1 = Open (0x00) + port preserved (0x01)" eq "$rc" 1
  check "stun vs natsim serve: prints 'Primary: Open'" has "$TMP/stun.out" '^Primary: Open'
  check "stun vs natsim serve: tests I, II, III all answered, 'is nat = 0'" \
    all_of "$TMP/stun.out" '^test I = 1$' '^test II = 1$' '^test III = 1$' '^is nat += 0$'
  check "stun vs natsim serve: CHANGED-ADDRESS = 127.0.0.2:$P2" \
    has "$TMP/stun.out" "^ChangedAddress = 127\.0\.0\.2:$P2\$"
  check "stun vs natsim serve: change-IP answer from 127.0.0.2:$P, change-port from 127.0.0.1:$P2" \
    all_of "$TMP/stun.out" "^SourceAddress = 127\.0\.0\.2:$P\$" "^SourceAddress = 127\.0\.0\.1:$P2\$"
  if grep -q 'problem parsing' "$TMP/stun.out"; then
    # Known deviation of traversal/'s StunServer: RFC 3489 (§11.2.6, §11.2.9) wants text
    # values in multiples of 4 bytes, and Vovida applies that to 0x8022 (SOFTWARE, its
    # "ServerName"); "natsim" is 6 bytes. stun complains but still uses the response.
    log "NOTE: stun: $(grep -m1 'Bad length' "$TMP/stun.out") (SOFTWARE length not a multiple of 4)"
  fi

  # coturn's turnutils_stunclient: RFC 5780 requests (plain, CHANGE-REQUEST, RESPONSE-PORT
  # + PADDING); prints the reflexive address, OTHER-ADDRESS and RESPONSE-ORIGIN.
  rc=0
  timeout 10 turnutils_stunclient -p "$P" 127.0.0.1 >"$TMP/stunclient.out" 2>&1 || rc=$?
  grep -E 'reflexive|Other addr|Response origin' "$TMP/stunclient.out" | sed 's/^/    /' || true
  check "turnutils_stunclient vs natsim serve: exit 0" eq "$rc" 0
  reflexive=$(sed -n 's/.*UDP reflexive addr: \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$TMP/stunclient.out" | head -1)
  check "turnutils_stunclient vs natsim serve: UDP reflexive addr is 127.0.0.1:<its port> ($reflexive)" \
    has "$TMP/serve.log" "\"dir\":\"in\",\"local\":\"127\.0\.0\.1:$P\",\"remote\":\"${reflexive:-none}\""
  check "turnutils_stunclient vs natsim serve: 'Other addr: 127.0.0.2:$P2'" \
    has "$TMP/stunclient.out" "Other addr: : 127\.0\.0\.2:$P2\$"
  check "turnutils_stunclient vs natsim serve: CHANGE-REQUEST answered from 'Response origin: 127.0.0.2:$P2'" \
    has "$TMP/stunclient.out" "Response origin: : 127\.0\.0\.2:$P2\$"

  # Stop the server: it exits 0 on SIGTERM and prints its counters.
  kill -TERM "$SERVE_PID"
  rc=0
  timeout 5 tail --pid="$SERVE_PID" -f /dev/null || true
  wait "$SERVE_PID" || rc=$?
  sed -n '/^stopped by/,$p' "$TMP/serve.out" | tr -s ' ' | tr '\n' ' ' | sed 's/^/    /;s/$/\n/'
  check "natsim serve stun: exits 0 on SIGTERM" eq "$rc" 0
  check "natsim serve stun: answered RFC 3489 requests from stun (classic > 0)" \
    has "$TMP/serve.out" '^  classic +[1-9][0-9]*$'
  check "natsim serve stun: no malformed, error, unroutable or failed datagrams" \
    all_of "$TMP/serve.out" '^  dropped_malformed +0$' '^  error_responses +0$' '^  unroutable +0$' \
    '^  send_errors +0$'
else
  check "natsim serve stun starts on 127.0.0.1:P / 127.0.0.2:P+1" false
fi

# ---------------------------------------------------------------------------------------
# b) natsim probe against coturn (STUN only, RFC 5780 on two addresses)
# ---------------------------------------------------------------------------------------
start_coturn() {
  local attempt i
  for attempt in 1 2 3 4 5; do
    Q=$(pick_pair) || return 1
    # -n: no config file; -S: STUN only (no TURN users needed); two -L addresses of one
    # family switch RFC 5780 on. --userdb keeps coturn's SQLite file out of /var.
    turnserver -n --no-cli --no-tls --no-dtls -S -L 127.0.0.1 -L 127.0.0.2 -p "$Q" \
      --alt-listening-port $((Q + 1)) --userdb "$TMP/turndb" --log-file stdout --simple-log \
      --pidfile "$TMP/turnserver.pid" >"$TMP/turnserver.log" 2>&1 &
    TURN_PID=$!
    PIDS+=("$TURN_PID")
    log "started turnserver pid=$TURN_PID on 127.0.0.1:$Q / 127.0.0.2:$((Q + 1))"
    # Ready when it answers a Binding request with OTHER-ADDRESS.
    for i in $(seq 1 20); do
      alive "$TURN_PID" || break
      if timeout 1 turnutils_stunclient -p "$Q" 127.0.0.1 2>&1 | grep -q 'Other addr'; then
        return 0
      fi
      sleep 0.2
    done
    log "turnserver did not start (attempt $attempt): $(tail -2 "$TMP/turnserver.log" | tr '\n' ' ')"
    stop_pid "$TURN_PID"
  done
  return 1
}

if start_coturn; then
  Q2=$((Q + 1))
  rc=0
  timeout 40 "$NATSIM" probe --stun "127.0.0.1:$Q" --json >"$TMP/probe.json" 2>"$TMP/probe.err" || rc=$?
  sed 's/^/    /' "$TMP/probe.json"
  check "natsim probe vs coturn: exit 0" eq "$rc" 0
  if json_fields "$TMP/probe.json" "local;mapped;other_address;mapping;filtering;hairpinning;completed"; then
    check "natsim probe vs coturn: JSON parses" true
    check "natsim probe vs coturn: other_address = 127.0.0.2:$Q2 (got $J_other_address)" \
      eq "$J_other_address" "127.0.0.2:$Q2"
    check "natsim probe vs coturn: mapping none, mapped == local ($J_mapped)" \
      bash -c '[ "$1" = none ] && [ "$2" = "$3" ]' _ "$J_mapping" "$J_mapped" "$J_local"
    check "natsim probe vs coturn: filtering endpoint-independent (got $J_filtering)" \
      eq "$J_filtering" endpoint-independent
    check "natsim probe vs coturn: completed, hairpinning not tested without NAT" \
      bash -c '[ "$1" = true ] && [ "$2" = null ]' _ "$J_completed" "$J_hairpinning"
  else
    check "natsim probe vs coturn: JSON parses ($(tr -s ' \n' ' ' <"$TMP/fields.err" | head -c 160))" false
  fi
  rc=0
  timeout 40 "$NATSIM" probe --stun "127.0.0.1:$Q" >"$TMP/probe.txt" 2>&1 || rc=$?
  check "natsim probe vs coturn (table): exit 0, 'mapping none', 'filtering endpoint-independent'" \
    bash -c '[ "$1" = 0 ] && grep -Eq "^  mapping +none$" "$2" &&
             grep -Eq "^  filtering +endpoint-independent$" "$2"' _ "$rc" "$TMP/probe.txt"
else
  check "coturn turnserver starts on 127.0.0.1:Q / 127.0.0.2:Q+1" false
fi

# ---------------------------------------------------------------------------------------
# c) natsim probe against stund (RFC 3489: CHANGED-ADDRESS, no OTHER-ADDRESS)
# ---------------------------------------------------------------------------------------
start_stund() {
  local attempt i
  for attempt in 1 2 3 4 5; do
    S=$(pick_pair) || return 1
    # Foreground (not -b); -h/-a: primary and alternate address, -p/-o: the two ports.
    stund -h 127.0.0.1 -a 127.0.0.2 -p "$S" -o $((S + 1)) >"$TMP/stund.log" 2>&1 &
    STUND_PID=$!
    PIDS+=("$STUND_PID")
    log "started stund pid=$STUND_PID on 127.0.0.1:$S / 127.0.0.2:$((S + 1))"
    # Ready when the classic client gets its answers (exit 1: open + port preserved).
    for i in $(seq 1 20); do
      alive "$STUND_PID" || break
      rc=0
      timeout 2 stun "127.0.0.1:$S" -i 127.0.0.1 >/dev/null 2>&1 || rc=$?
      [ "$rc" = 1 ] && return 0
      sleep 0.2
    done
    log "stund did not start (attempt $attempt): $(tail -2 "$TMP/stund.log" | tr '\n' ' ')"
    stop_pid "$STUND_PID"
  done
  return 1
}

if start_stund; then
  S2=$((S + 1))
  # Default SOFTWARE "natsim" (6 bytes): stund drops the request; the probe retries test I
  # without SOFTWARE after its 5.5 s of retransmissions and carries on.
  rc=0
  timeout 60 "$NATSIM" probe --stun "127.0.0.1:$S" --json >"$TMP/probe-stund.json" \
    2>"$TMP/probe-stund.err" || rc=$?
  sed 's/^/    /' "$TMP/probe-stund.json"
  check "natsim probe vs stund: exit 0 although stund ignores requests with SOFTWARE" eq "$rc" 0
  check "natsim probe vs stund: the note says the server may reject the attribute (not 'UDP blocked')" \
    bash -c 'grep -q "may reject the attribute" "$1" && ! grep -q "UDP blocked" "$1"' _ \
    "$TMP/probe-stund.json"
  if json_fields "$TMP/probe-stund.json" "local;mapped;other_address;mapping;filtering;completed"; then
    check "natsim probe vs stund: other_address from CHANGED-ADDRESS = 127.0.0.2:$S2 (got $J_other_address)" \
      eq "$J_other_address" "127.0.0.2:$S2"
    check "natsim probe vs stund: mapping none, filtering endpoint-independent ($J_mapping, $J_filtering)" \
      bash -c '[ "$1" = none ] && [ "$2" = endpoint-independent ] && [ "$3" = "$4" ]' _ \
      "$J_mapping" "$J_filtering" "$J_mapped" "$J_local"
  else
    check "natsim probe vs stund: JSON parses" false
  fi
  # --software "": no SOFTWARE at all, so no retry: done in well under the 5.5 s it costs.
  rc=0
  timeout 60 "$NATSIM" probe --stun "127.0.0.1:$S" --software "" --json \
    >"$TMP/probe-stund2.json" 2>"$TMP/probe-stund2.err" || rc=$?
  if json_fields "$TMP/probe-stund2.json" "mapping;filtering;other_address;elapsed_ms;notes"; then
    check "natsim probe --software \"\" vs stund: exit 0, none / endpoint-independent, no retry, ${J_elapsed_ms} ms" \
      bash -c '[ "$1" = 0 ] && [ "$2" = none ] && [ "$3" = endpoint-independent ] &&
               [ "$4" = "127.0.0.2:$6" ] && [ "$5" -lt 5000 ]' _ "$rc" "$J_mapping" \
      "$J_filtering" "$J_other_address" "$J_elapsed_ms" "$S2"
  else
    check "natsim probe --software \"\" vs stund: JSON parses" false
  fi
  check "stund: never failed to parse a request sent with --software \"\" (only the first probe's)" \
    bash -c '[ "$(grep -c "problem parsing" "$1")" -le 4 ]' _ "$TMP/stund.log"
else
  check "stund starts on 127.0.0.1:S / 127.0.0.2:S+1" false
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
