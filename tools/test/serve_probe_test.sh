#!/usr/bin/env bash
# ctest cases for `natsim serve stun` and `natsim probe` on loopback (127.0.0.1 and
# 127.0.0.2 only). Every process started here is stopped by PID; every client runs under
# `timeout`, so a case can fail but not hang.
#   serve_probe_test.sh NATSIM CMAKE CASE      CASE: rfc5780 | single | unreachable | usage
set -euo pipefail

NATSIM=$1
CMAKE=$2
CASE=$3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -x "$NATSIM" ] || { echo "FAIL: no natsim program at $NATSIM"; exit 1; }
TMP=$(mktemp -d /tmp/natsim-cli.XXXXXX)
PIDS=()

# shellcheck source=cli_test.sh
source "$HERE/cli_test.sh"

# A random port P with P and P+1 free, below Linux's ephemeral range (32768+).
pick_pair() { pick_port 20000 12000; }
# start_server NLINES ARGS...: starts `natsim serve stun ARGS`, waits for NLINES
# "listening on" lines; returns 1 if it exited instead (e.g. the port was taken).
start_server() {
  local n=$1 i
  shift
  "$NATSIM" serve stun "$@" >"$TMP/serve.out" 2>"$TMP/serve.err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for i in $(seq 1 50); do
    [ "$(grep -c '^listening on' "$TMP/serve.out")" -ge "$n" ] && return 0
    alive "$SERVER_PID" || return 1
    sleep 0.1
  done
  return 1
}
stop_server() {
  kill -TERM "$SERVER_PID"
  SERVER_RC=0
  timeout 5 tail --pid="$SERVER_PID" -f /dev/null || true
  wait "$SERVER_PID" || SERVER_RC=$?
}

case "$CASE" in
  rfc5780)
    started=0
    for attempt in 1 2 3 4 5; do
      P=$(pick_pair) || fail "no free port pair"
      if start_server 4 --listen "127.0.0.1:$P" --alternate "127.0.0.2:$((P + 1))"; then
        started=1
        break
      fi
      stop_pid "$SERVER_PID"
    done
    [ "$started" = 1 ] || fail "natsim serve stun did not start"
    expect "serve lists the four RFC 5780 endpoints" grep -q "^listening on 127.0.0.2:$((P + 1))" "$TMP/serve.out"

    rc=0
    timeout 10 "$NATSIM" probe --stun "127.0.0.1:$P" --json >"$TMP/probe.json" || rc=$?
    expect "probe --json exits 0 (got $rc)" test "$rc" = 0
    fields "$TMP/probe.json" "local;mapped;other_address;mapping;filtering;hairpinning;binding_lifetime_ms;notes;completed"
    expect "mapping is none (got $J_mapping)" test "$J_mapping" = none
    expect "mapped ($J_mapped) == local ($J_local)" test "$J_mapped" = "$J_local"
    expect "local is on 127.0.0.1" test "${J_local%:*}" = 127.0.0.1
    expect "other_address is 127.0.0.2:$((P + 1)) (got $J_other_address)" test "$J_other_address" = "127.0.0.2:$((P + 1))"
    expect "filtering is endpoint-independent (got $J_filtering)" test "$J_filtering" = endpoint-independent
    expect "hairpinning not tested without NAT" test "$J_hairpinning" = null
    expect "completed" test "$J_completed" = true

    rc=0
    timeout 10 "$NATSIM" probe --stun "127.0.0.1:$P" --local 0.0.0.0:0 >"$TMP/probe.txt" || rc=$?
    expect "probe (table, wildcard --local) exits 0 (got $rc)" test "$rc" = 0
    expect "table shows mapping none" grep -Eq '^  mapping +none$' "$TMP/probe.txt"

    stop_server
    expect "serve exits 0 on SIGTERM (got $SERVER_RC)" test "$SERVER_RC" = 0
    expect "serve reports SIGTERM" grep -q '^stopped by SIGTERM' "$TMP/serve.out"
    expect "serve answered every request" grep -Eq '^  responses +([1-9][0-9]*)$' "$TMP/serve.out"
    expect "no malformed datagrams" grep -Eq '^  dropped_malformed +0$' "$TMP/serve.out"
    ;;

  single)
    # Port 0: the kernel picks the port and serve prints it.
    start_server 1 --listen 127.0.0.1:0 --json-log || fail "natsim serve stun did not start"
    P=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$TMP/serve.out")
    expect "serve printed its port ($P)" test -n "$P"
    rc=0
    timeout 10 "$NATSIM" probe --stun "127.0.0.1:$P" --json >"$TMP/probe.json" || rc=$?
    expect "probe exits 0 (got $rc)" test "$rc" = 0
    fields "$TMP/probe.json" "mapped;local;other_address;mapping;filtering"
    expect "mapping none" test "$J_mapping" = none
    expect "mapped == local" test "$J_mapped" = "$J_local"
    expect "no OTHER-ADDRESS without --alternate" test "$J_other_address" = null
    expect "filtering undetermined without RFC 5780" test "$J_filtering" = undetermined
    stop_server
    expect "serve exits 0 (got $SERVER_RC)" test "$SERVER_RC" = 0
    expect "json-log has datagram lines" grep -q '"dir":"in"' "$TMP/serve.err"
    expect "json-log ends with the counters" grep -q '"event":"stopped"' "$TMP/serve.err"
    ;;

  unreachable)
    # A bound socket that never answers.
    start_server 1 --listen 127.0.0.1:0 || fail "natsim serve stun did not start"
    stop_server
    P=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$TMP/serve.out")
    rc=0
    timeout 10 "$NATSIM" probe --stun "127.0.0.1:$P" --timeout-ms 800 --json >"$TMP/probe.json" || rc=$?
    expect "probe of a silent port exits 1 (got $rc)" test "$rc" = 1
    fields "$TMP/probe.json" "mapping;mapped;completed"
    expect "mapping undetermined" test "$J_mapping" = undetermined
    expect "no mapped address" test "$J_mapped" = null
    ;;

  usage)
    exit2() {
      local rc=0
      timeout 10 "$NATSIM" "$@" >"$TMP/out" 2>&1 || rc=$?
      expect "natsim $* exits 2 (got $rc)" test "$rc" = 2
    }
    exit2 serve stun
    exit2 serve
    exit2 serve stun --listen nonsense
    exit2 serve stun --listen 127.0.0.1:99999
    exit2 serve stun --listen 127.0.0.1:3478 --alternate 127.0.0.1:3479
    exit2 serve stun --listen 127.0.0.1:3478 --alternate 127.0.0.2:3478
    exit2 serve stun --listen 127.0.0.1:3478 --alternate '[::1]:3479'
    exit2 serve stun --listen 0.0.0.0:3478 --alternate 127.0.0.2:3479
    exit2 serve stun --listen 127.0.0.1:3478 --bogus
    exit2 serve stun --listen 192.0.2.1:3478   # not a local address: cannot bind
    exit2 probe
    exit2 probe --stun 127.0.0.1
    exit2 probe --stun 127.0.0.1:0
    exit2 probe --stun 127.0.0.1:3478 --timeout-ms 0
    exit2 probe --stun 127.0.0.1:3478 --local '[::1]:0'
    exit2 probe --stun 127.0.0.1:3478 --lifetime-max 0s
    exit2 probe --stun 127.0.0.1:3478 --lifetime-precision 0s
    exit2 probe --stun 127.0.0.1:3478 --lifetime-max 10s --lifetime-precision 20s
    exit2 probe --stun 127.0.0.1:3478 --software "$(printf 'x%.0s' $(seq 1 128))"
    exit2 probe --stun 127.0.0.1:3478 --local 192.0.2.1:0
    grep -q 'cannot bind 192.0.2.1:0' "$TMP/out" || fail "bind error is explained"
    ;;

  *)
    fail "unknown case $CASE"
    ;;
esac
echo "PASS: $CASE"
