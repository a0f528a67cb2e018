#!/usr/bin/env bash
# Attacks `natsim serve stun` and `natsim serve turn` from hostile loopback clients
# (scripts/lib/stun_attacker.py, Python 3 stdlib) and checks that they keep serving:
#
#   garbage        random bytes, truncated STUN, lying lengths, thousands of attributes,
#                  unknown comprehension-required attributes, bad ChannelData: UDP to both
#                  servers, TCP to the TURN server
#   auth garbage   the 401 dance with user alice, then malformed requests with a valid
#                  MESSAGE-INTEGRITY (HMAC-SHA1): answered past authentication
#   denylist       CreatePermission to 127.0.0.1, 255.255.255.255, 224.0.0.1 (IPv4 server)
#                  and ::ffff:127.0.0.1, 64:ff9b::7f00:1, 2002:7f00:1::, ff02::1 (an IPv6
#                  server on [::1]: a failure when ::1 exists, skipped only without it): 403
#   TCP lock-out   600 idle and 600 slowloris (1 byte/s) connections from 40 addresses in
#                  127.0.1.0/24 against --max-tcp-connections 512 --setup-timeout 2,
#                  reopened as the server closes them for 6 s so the set stays full; a
#                  fresh client from 127.0.0.2 must allocate over TCP every second and keep
#                  its connection, and 4 s after the attackers stop reopening the server
#                  must hold none of theirs (/proc/net/tcp)
#   no-read        64 connections send Allocate requests as fast as they can and never read
#                  the 401s, then stay open unread: the server's RSS must stay bounded, and
#                  it must let them all go (setup timeout, then the 5 s close timeout)
# Afterwards both servers must answer a Binding (and the TURN server an Allocate, UDP and
# TCP) and VmRSS must stay under RSS_LIMIT_KIB (default 65536: 64 MiB). Figures (RSS idle
# and under attack, connections held, requests/s answered idle and under attack, RSS with
# 10,000 relay ports) are printed as "figure:" lines (docs/hardening.md).
#
# Everything targets 127.0.0.0/8 or ::1 only, every client runs under `timeout`, and the
# whole script takes about 45 s (bounded at well under 3 minutes).
# Usage: scripts/attack-servers.sh [PATH/TO/natsim]   (default build/release/tools/natsim)
# Prints PASS/FAIL per check and "N passed, M failed"; exits 1 on any failure, 2 when
# natsim or python3 is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NATSIM=${1:-$ROOT/build/release/tools/natsim}
[[ $NATSIM == /* ]] || NATSIM=$PWD/$NATSIM
PYTHON=/usr/bin/python3
ATTACK="$ROOT/scripts/lib/stun_attacker.py"
RSS_LIMIT_KIB=${RSS_LIMIT_KIB:-65536}

PIDS=()
# Set by start_server.
PID_stun='' PID_turn='' PID_turn6='' PID_turn10k='' PORT_stun='' PORT_turn='' PORT_turn6=''
TMP=$(mktemp -d /tmp/natsim-attack.XXXXXX)
# shellcheck source=lib/interop.sh
source "$ROOT/scripts/lib/interop.sh"
require attack-servers.sh "python3" "$PYTHON"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
figure() { log "figure: $*"; }
# attack NAME SECONDS ARGS...: runs the attacker under `timeout`; output in NAME.txt.
attack() {
  local name=$1 limit=$2
  shift 2
  timeout "$limit" "$PYTHON" "$ATTACK" "$@" >"$TMP/$name.txt" 2>&1
}
# value NAME KEY: the value the attacker printed for KEY.
value() { sed -n "s/^$2 //p" "$TMP/$1.txt" | head -1; }
under_limit() { [ "$1" -gt 0 ] && [ "$1" -lt "$RSS_LIMIT_KIB" ]; }

# start_server NAME ARGS...: `natsim ARGS` with --listen HOST:PORT on a free port; sets
# PORT_<NAME> and PID_<NAME>. The caller puts LISTEN_HOST in the environment.
start_server() {
  local name=$1 attempt port pid
  shift
  local host=$LISTEN_HOST
  # natsim's endpoints are IP:PORT for IPv4 and [IP]:PORT for IPv6.
  [[ $host == *:* ]] && host="[$host]"
  for attempt in 1 2 3 4 5; do
    port=$(pick_port 61000 2000) || return 1
    "$NATSIM" "$@" --listen "$host:$port" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 50); do
      if grep -q '^listening on' "$TMP/$name.out"; then
        printf -v "PORT_$name" '%s' "$port"
        printf -v "PID_$name" '%s' "$pid"
        log "started $name (pid $pid) on $host:$port"
        return 0
      fi
      alive "$pid" || break
      sleep 0.1
    done
    log "$name did not start (attempt $attempt): $(tail -2 "$TMP/$name.err" | tr '\n' ' ')"
    stop_pid "$pid"
  done
  return 1
}

# A 100-port relay range in 63000-64999 the script does not check further: a port taken
# meanwhile makes serve turn exit 2, and start_server retries.
RELAY_FIRST=$((63000 + (RANDOM % 19) * 100))
TURN_ARGS=(serve turn --user alice:secret --realm example.org
  --relay-ports "$RELAY_FIRST:100" --max-allocations-per-user 1000
  --max-tcp-connections 512 --setup-timeout 2)

LISTEN_HOST=127.0.0.1 start_server stun serve stun || { echo "serve stun did not start" >&2; exit 1; }
LISTEN_HOST=127.0.0.1 start_server turn "${TURN_ARGS[@]}" || { echo "serve turn did not start" >&2; exit 1; }
STUN=(--host 127.0.0.1 --port "$PORT_stun")
TURN=(--host 127.0.0.1 --port "$PORT_turn")

sleep 0.5
figure "idle RSS: serve stun $(rss_kib "$PID_stun") KiB, serve turn $(rss_kib "$PID_turn") KiB (100 relay ports)"
attack rate-idle 10 "${STUN[@]}" rate --seconds 2 && figure "serve stun idle: $(value rate-idle requests_per_s) Binding requests/s answered"
attack rate-turn-idle 10 "${TURN[@]}" rate --seconds 2 --allocate && figure "serve turn idle: $(value rate-turn-idle requests_per_s) Allocate requests/s answered (401)"

# 1. Garbage.
check "garbage: 4000 crafted datagrams to serve stun" attack g-stun 30 "${STUN[@]}" garbage --count 4000
check "garbage: 4000 crafted datagrams to serve turn (UDP)" attack g-turn 30 "${TURN[@]}" garbage --count 4000 --seed 2
check "garbage: 2000 crafted frames to serve turn over 20 TCP connections" \
  attack g-turn-tcp 30 "${TURN[@]}" --tcp garbage --count 2000 --connections 20 --seed 3
check "serve stun answers a Binding after garbage" attack b1 10 "${STUN[@]}" binding

# 2. Authenticated garbage.
check "auth garbage (UDP): 220 malformed signed requests answered past authentication" \
  attack ag-udp 60 "${TURN[@]}" auth-garbage --count 220 --timeout 0.5
log "    answers $(value ag-udp auth_garbage_answers); by variant $(value ag-udp auth_garbage_by_variant)"
check "auth garbage (TCP): 110 malformed signed requests answered past authentication" \
  attack ag-tcp 60 "${TURN[@]}" --tcp auth-garbage --count 110 --seed 2 --timeout 0.5
log "    answers $(value ag-tcp auth_garbage_answers); by variant $(value ag-tcp auth_garbage_by_variant)"

# 3. The denylist (IPv6 forms need an IPv6 allocation: a second server on ::1).
check "denylist: CreatePermission to 127.0.0.1, 255.255.255.255, 224.0.0.1 gets 403" \
  attack deny4 10 "${TURN[@]}" denylist --peers 127.0.0.1,255.255.255.255,224.0.0.1
sed 's/^/    /' "$TMP/deny4.txt"
# ::1 exists when /proc/net/if_inet6 lists it; then the IPv6 checks must run and pass.
if grep -qi '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then
  if LISTEN_HOST=::1 start_server turn6 "${TURN_ARGS[@]}"; then
    check "denylist: CreatePermission to ::ffff:127.0.0.1, 64:ff9b::7f00:1, 2002:7f00:1::, ff02::1 gets 403" \
      attack deny6 10 --host ::1 --port "$PORT_turn6" denylist \
      --peers ::ffff:127.0.0.1,64:ff9b::7f00:1,2002:7f00:1::,ff02::1
    sed 's/^/    /' "$TMP/deny6.txt"
    stop_pid "$PID_turn6"
  else
    check "serve turn starts on [::1] for the IPv6 denylist" false
  fi
else
  log "SKIP: no IPv6 loopback (::1) for the IPv6 denylist"
fi

# 4. TCP lock-out, with requests/s measured meanwhile. The attackers reopen every
# connection the server closes (refused, evicted, setup timeout) for 6 s, so the set stays
# full while a fresh client from 127.0.0.2 allocates every second (and keeps its
# connection); then they stop, and 4 s later (setup timeout 2 s) the server holds none.
attack lockout 40 "${TURN[@]}" lockout --idle 600 --slow 600 --hold 10 --reconnect-for 6 \
  --fresh-after 1 &
LOCKOUT=$!
sleep 2
RSS_LOCKOUT=$(rss_kib "$PID_turn")
attack rate-turn-lockout 10 "${TURN[@]}" rate --seconds 2 --allocate || true
RSS_LOCKOUT=$(( $(rss_kib "$PID_turn") > RSS_LOCKOUT ? $(rss_kib "$PID_turn") : RSS_LOCKOUT ))
LOCKOUT_RC=0
wait "$LOCKOUT" || LOCKOUT_RC=$?
sed 's/^/    /' "$TMP/lockout.txt"
check "TCP lock-out: a fresh client from 127.0.0.2 allocates over TCP each second while 1200 reopened connections keep the set full ($(value lockout fresh_allocations))" \
  eq "$LOCKOUT_RC" 0
figure "serve turn under lock-out: $(value lockout attack_held_by_server_at_fresh) attacking connections held (of 512), $(value rate-turn-lockout requests_per_s) Allocate requests/s answered (UDP), RSS $RSS_LOCKOUT KiB, fresh allocation $(value lockout fresh_allocate_ms) ms"
check "TCP lock-out: no attacking connection is still held once its setup timeout passed" \
  eq "$(value lockout attack_held_by_server_at_end)/$(value lockout idle_open_at_end)/$(value lockout slowloris_open_at_end)" "0/0/0"

# 5. Clients that never read: 6 s of requests, then the connections stay open, unread. The
# server closes them at the setup timeout (2 s) and must let them go although their
# answers can never be flushed (close timeout, 5 s).
attack noread 40 "${TURN[@]}" noread --conns 64 --seconds 6 --linger 15 --pid "$PID_turn" &
NOREAD=$!
sleep 0.5
attack rate-turn-noread 10 "${TURN[@]}" rate --seconds 2 --allocate || true
wait "$NOREAD" || true
sed 's/^/    /' "$TMP/noread.txt"
PEAK=$(value noread noread_peak_rss_kib)
figure "serve turn under no-read clients: $(value rate-turn-noread requests_per_s) Allocate requests/s answered (UDP), peak RSS ${PEAK:-0} KiB"
check "no-read: serve turn's RSS stays under $RSS_LIMIT_KIB KiB while 64 connections never read (peak ${PEAK:-0} KiB)" \
  under_limit "${PEAK:-0}"
check "no-read: the server holds none of the no-read connections once setup and close timeouts passed" \
  eq "$(value noread noread_held_by_server)" 0

# Afterwards: both servers still serve, and their memory is bounded.
check "serve stun still answers a Binding" attack b2 10 "${STUN[@]}" binding
check "serve turn still answers a Binding" attack b3 10 "${TURN[@]}" binding
check "serve turn still answers an Allocate (UDP)" attack a1 10 "${TURN[@]}" allocate
check "serve turn still answers an Allocate (TCP)" attack a2 10 "${TURN[@]}" --tcp allocate
RSS_STUN=$(rss_kib "$PID_stun")
RSS_TURN=$(rss_kib "$PID_turn")
figure "RSS after the attacks: serve stun $RSS_STUN KiB, serve turn $RSS_TURN KiB"
check "serve stun RSS $RSS_STUN KiB < $RSS_LIMIT_KIB KiB" under_limit "$RSS_STUN"
check "serve turn RSS $RSS_TURN KiB < $RSS_LIMIT_KIB KiB" under_limit "$RSS_TURN"
check "both servers are still running" bash -c "kill -0 $PID_stun && kill -0 $PID_turn"

# What 10,000 relay ports cost at rest (ports 20000-29999, under the ephemeral range).
if LISTEN_HOST=127.0.0.1 start_server turn10k serve turn --user alice:secret --realm example.org \
  --relay-ports 20000:10000; then
  sleep 0.5
  figure "serve turn with 10000 relay ports, idle: RSS $(rss_kib "$PID_turn10k") KiB"
  stop_pid "$PID_turn10k"
else
  log "SKIP: ports 20000-29999 not all free for the 10000-relay-port figure"
fi

stop_all
sed -n '/^stopped by/,$p' "$TMP/turn.out" | grep -E 'tcp_|forbidden|dropped|streams_' | tr -s ' ' | paste -sd' ' | sed 's/^/    /'

log "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
