#!/usr/bin/env bash
# ctest cases for `natsim connect` on loopback (127.0.0.1 only): two agents in one
# machine exchange descriptions through files, stdin and stdout. Every process started
# here is stopped by PID and runs under `timeout`, so a case can fail but not hang.
#   connect_test.sh NATSIM CMAKE CASE     CASE: files | stdio | json | bad-input | timeout | usage
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

# Each side sends its own text twice and echoes the other's (a text equal to its own
# would count as an echo of its own).
DATA=(--count 2 --echo --expect 4 --timeout 10)
# background NAME ARGS...: `natsim connect ARGS` in the background, output in NAME.out/.err.
background() {
  local name=$1
  shift
  timeout 20 "$NATSIM" connect "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  BG_PID=$!
  PIDS+=("$BG_PID")
}
# finish PID: sets RC to its exit status (bounded by its own `timeout`).
finish() {
  RC=0
  wait "$1" || RC=$?
  forget "$1"
}
# wait_file FILE: a bounded poll until FILE exists.
wait_file() {
  local i
  for i in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.05; done
  return 1
}
# connected NAME ROLE: NAME's last stdout line is a connected result with 4 datagrams.
connected() {
  tail -1 "$TMP/$1.out" >"$TMP/$1.json"
  fields "$TMP/$1.json" "outcome;role;received;echoes_back;path"
  [ "$J_outcome" = connected ] && [ "$J_role" = "$2" ] && [ "$J_received" = 4 ] &&
    [ "$J_echoes_back" = 2 ]
}

case $CASE in
  files)
    # Both sides poll the other's file; both roles; ping echoed both ways.
    background a --controlling --bind 127.0.0.1 --offer-out "$TMP/a.txt" --remote "$TMP/b.txt" --send ping-a "${DATA[@]}"
    a=$BG_PID
    background b --controlled --bind 127.0.0.1 --offer-out "$TMP/b.txt" --remote "$TMP/a.txt" --send ping-b "${DATA[@]}"
    b=$BG_PID
    finish "$a"
    expect "controlling side exits 0 (got $RC)" [ "$RC" = 0 ]
    finish "$b"
    expect "controlled side exits 0 (got $RC)" [ "$RC" = 0 ]
    expect "controlling: connected, 4 datagrams, its 2 pings back" connected a controlling
    expect "controlled: connected, 4 datagrams, its 2 pings back" connected b controlled
    expect "the offer file is the documented text format" \
      grep -Eq '^candidate:[0-9a-f]{8} 1 UDP [0-9]+ 127\.0\.0\.1 [0-9]+ typ host$' "$TMP/a.txt"
    expect "... starting with ice-ufrag and ice-pwd, ending with end-of-candidates" \
      bash -c 'head -1 "$1" | grep -q "^ice-ufrag:" && sed -n 2p "$1" | grep -q "^ice-pwd:" &&
               tail -1 "$1" | grep -qx end-of-candidates' _ "$TMP/a.txt"
    expect "received datagrams are printed" grep -q '^recv 127\.0\.0\.1:[0-9]* ping-b$' "$TMP/a.out"
    ;;
  stdio)
    # a writes its description to stdout (trickled) and reads b's file; b reads a's
    # description from stdin (a's stdout, which goes on with recv lines and the result).
    background a --controlling --bind 127.0.0.1 --remote "$TMP/b.txt" --send ping-a "${DATA[@]}"
    a=$BG_PID
    expect "a prints its description on stdout" wait_file "$TMP/a.out"
    timeout 20 "$NATSIM" connect --controlled --bind 127.0.0.1 --offer-out "$TMP/b.txt" --send ping-b "${DATA[@]}" \
      < <(tail -f --pid="$a" "$TMP/a.out") >"$TMP/b.out" 2>"$TMP/b.err" || true
    finish "$a"
    expect "controlling side exits 0 (got $RC)" [ "$RC" = 0 ]
    expect "controlling: connected" connected a controlling
    expect "controlled (stdin): connected" connected b controlled
    ;;
  json)
    background a --controlling --bind 127.0.0.1 --signal-json --offer-out "$TMP/a.json" \
      --remote "$TMP/b.json" --send ping-a "${DATA[@]}"
    a=$BG_PID
    background b --controlled --bind 127.0.0.1 --signal-json --offer-out "$TMP/b.json" \
      --remote "$TMP/a.json" --send ping-b "${DATA[@]}"
    b=$BG_PID
    finish "$a"
    ra=$RC
    finish "$b"
    expect "both sides exit 0 (got $ra, $RC)" [ "$ra$RC" = 00 ]
    fields "$TMP/a.json" "ufrag;pwd;candidates;end_of_candidates"
    expect "the JSON description has ufrag, pwd, candidate lines, end_of_candidates" \
      bash -c '[ ${#1} -ge 4 ] && [ ${#2} -ge 22 ] && [[ $3 == *candidate:* ]] && [ "$4" = true ]' _ \
      "$J_ufrag" "$J_pwd" "$J_candidates" "$J_end_of_candidates"
    ;;
  bad-input)
    printf 'ice-ufrag:abcd\nice-pwd:abcdefghijklmnopqrstuv\ncandidate:1 1 UDP 1 127.0.0.1 0 typ host\n' \
      >"$TMP/bad.txt"
    rc=0
    timeout 20 "$NATSIM" connect --controlled --bind 127.0.0.1 --offer-out "$TMP/o.txt" \
      --remote "$TMP/bad.txt" --timeout 5 >"$TMP/bad.out" 2>"$TMP/bad.err" || rc=$?
    expect "a malformed candidate line exits 2 (got $rc)" [ "$rc" = 2 ]
    expect "the message names the line and the field" \
      grep -q 'line 3: port must be a number from 1 to 65535' "$TMP/bad.err"
    rc=0
    printf 'ice-ufrag:abcd\nice-pwd:abcdefghijklmnopqrstuv\ncandidate:1 1 TCP 1 127.0.0.1 9 typ host tcptype active\nend-of-candidates\n' |
      timeout 20 "$NATSIM" connect --controlled --bind 127.0.0.1 --offer-out "$TMP/o2.txt" \
        --timeout 5 >"$TMP/tcp.out" 2>"$TMP/tcp.err" || rc=$?
    expect "a TCP candidate is skipped, not refused: no candidate left, ICE fails, exit 1 (got $rc)" \
      [ "$rc" = 1 ]
    expect "... with a note on stderr" grep -q 'skipped stdin line 3: transport other than UDP' "$TMP/tcp.err"
    rc=0
    timeout 20 "$NATSIM" connect --controlled --bind 127.0.0.1 --offer-out "$TMP/o3.txt" \
      --timeout 5 </dev/null >"$TMP/eof.out" 2>"$TMP/eof.err" || rc=$?
    expect "stdin ending before the credentials exits 2 (got $rc)" [ "$rc" = 2 ]
    ;;
  timeout)
    rc=0
    timeout 20 "$NATSIM" connect --controlling --bind 127.0.0.1 --offer-out "$TMP/o.txt" \
      --remote "$TMP/never.txt" --timeout 1 >"$TMP/t.out" 2>"$TMP/t.err" || rc=$?
    expect "no remote description: exit 1 after --timeout (got $rc)" [ "$rc" = 1 ]
    tail -1 "$TMP/t.out" >"$TMP/t.json"
    fields "$TMP/t.json" "outcome;reason"
    expect "outcome timeout with a reason ($J_reason)" \
      bash -c '[ "$1" = timeout ] && [[ $2 == *"no complete remote description within 1 s"* ]]' _ \
      "$J_outcome" "$J_reason"
    ;;
  usage)
    usage2() { local rc=0; timeout 10 "$NATSIM" connect "$@" >/dev/null 2>&1 </dev/null || rc=$?; [ "$rc" = 2 ]; }
    expect "no role exits 2" usage2 --bind 127.0.0.1
    expect "both roles exit 2" usage2 --controlling --controlled
    expect "a wildcard --bind exits 2" usage2 --controlling --bind 0.0.0.0
    expect "a bad --stun exits 2" usage2 --controlling --stun nohost
    expect "--turn without --user exits 2" usage2 --controlling --turn 127.0.0.1:3478
    expect "--relay-only without --turn exits 2" usage2 --controlling --bind 127.0.0.1 --relay-only
    ;;
  *) fail "unknown case $CASE" ;;
esac
