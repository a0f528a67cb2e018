#!/usr/bin/env bash
# Interop: `natsim connect` (natsim's ICE agent on real UDP sockets) against two other ICE
# agents, each in both roles, with data both ways after nomination:
#
#   aioice   Debian's python3-aioice, driven by scripts/interop/ice_peer_aioice.py
#   libnice  Debian's libnice-dev (RFC 5245 compatibility, regular nomination), driven by
#            scripts/interop/ice_peer_nice.c, compiled here with cc and pkg-config
#
# and once more against libnice with natsim nominating aggressively; and against aioice
# through `natsim serve turn` with natsim offering only its relayed candidate.
#
# aioice offers no loopback candidates (nor does libnice), so the agents run in network
# namespaces this script creates:
#
#   direct lab:  [ice-A 10.77.0.1/24] ==veth== [ice-B 10.77.0.2/24]
#                natsim in A, the other agent in B
#   NAT lab:     [ice-H 10.78.1.2/24] == [ice-R 10.78.1.1 | 10.79.0.1] == [ice-P 10.79.0.2/24]
#                R forwards and masquerades (nftables) what leaves towards P; natsim in H
#                with `natsim serve stun` on 10.79.0.2:3478 for its server-reflexive
#                candidate, aioice (natsim controlling) or libnice (natsim controlled) in
#                P. P has no route to 10.78.1.0/24: only the NAT's mapping can carry the
#                checks.
#
# Each pair swaps descriptions through files in natsim's text format (ice-ufrag, ice-pwd,
# RFC 8839 candidate lines, end-of-candidates; docs/ice.md "On real sockets"). natsim sends
# "hello from natsim" 3 times and echoes the other's datagrams; the other sends its own 3
# pings and echoes natsim's. A check passes when natsim exits 0 with outcome "connected",
# got its 3 datagrams back and the other's 3 pings, and the other agent printed RESULT OK
# after receiving natsim's datagrams.
#
# Usage: scripts/interop-ice.sh [PATH/TO/natsim]   (default build/release/tools/natsim)
# Needs root (network namespaces, nftables). Prints PASS/FAIL per check and ends with
# "N passed, M failed"; exits 1 on any failure, 2 when something it needs is missing.
# Every process is started under `timeout`, stopped by PID on exit, and the namespaces are
# deleted on exit (trap). Logs are kept on failure (INTEROP_KEEP_LOGS=1: always).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NATSIM=${1:-$ROOT/build/release/tools/natsim}
[[ $NATSIM == /* ]] || NATSIM=$PWD/$NATSIM
CMAKE=${CMAKE:-cmake}
PYTHON=/usr/bin/python3
PIDS=()
NETNS=()
TMP=$(mktemp -d /tmp/natsim-interop-ice.XXXXXX)
RUN_S=25  # each agent's own timeout (s); `timeout` kills 10 s after that

# shellcheck source=lib/interop.sh
source "$ROOT/scripts/lib/interop.sh"

require interop-ice "python3-aioice libnice-dev nftables" ip nft cc pkg-config timeout "$CMAKE"
if [ "$(id -u)" != 0 ]; then
  echo "interop-ice: needs root for network namespaces and nftables" >&2
  exit 2
fi
if ! "$PYTHON" -c 'import aioice' 2>/dev/null; then
  echo "interop-ice: $PYTHON cannot import aioice (NATSIM_EXTRA_PACKAGES=python3-aioice scripts/install-deps.sh)" >&2
  exit 2
fi
NICE_PEER=$TMP/ice_peer_nice
# shellcheck disable=SC2046  # pkg-config's flags are words
if ! cc -O1 -Wall -o "$NICE_PEER" "$ROOT/scripts/interop/ice_peer_nice.c" \
    $(pkg-config --cflags --libs nice glib-2.0) 2>"$TMP/cc.log"; then
  cat "$TMP/cc.log" >&2
  echo "interop-ice: cannot build the libnice peer (NATSIM_EXTRA_PACKAGES=libnice-dev scripts/install-deps.sh)" >&2
  exit 2
fi

# ---------------------------------------------------------------------------------------
# namespaces
# ---------------------------------------------------------------------------------------
TAG=$$
ns() { echo "ice-$1-$TAG"; }  # the namespace of role $1
# wait_up NS IF: the link is operational (libnice skips interfaces that are not yet).
wait_up() {
  local i
  for i in $(seq 1 50); do
    ip -n "$1" link show "$2" | grep -q 'state UP' && return 0
    sleep 0.1
  done
  log "link $2 in $1 never came up"
  return 1
}

setup_labs() {
  netns_add "$(ns A)"
  netns_add "$(ns B)"
  link "$(ns A)" "ia$TAG" 10.77.0.1/24 "$(ns B)" "ib$TAG" 10.77.0.2/24
  netns_add "$(ns H)"
  netns_add "$(ns R)"
  netns_add "$(ns P)"
  link "$(ns H)" "ih$TAG" 10.78.1.2/24 "$(ns R)" "ri$TAG" 10.78.1.1/24
  link "$(ns R)" "ro$TAG" 10.79.0.1/24 "$(ns P)" "ip$TAG" 10.79.0.2/24
  ip -n "$(ns H)" route add default via 10.78.1.1
  ip netns exec "$(ns R)" sysctl -qw net.ipv4.ip_forward=1
  # Source NAT for everything that leaves towards P, with a counter to prove it was used.
  ip netns exec "$(ns R)" nft -f - <<EOF
table ip natsim_ice_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "ro$TAG" counter masquerade
  }
}
EOF
  wait_up "$(ns A)" "ia$TAG" && wait_up "$(ns B)" "ib$TAG" && wait_up "$(ns H)" "ih$TAG" &&
    wait_up "$(ns P)" "ip$TAG"
}

if ! setup_labs >"$TMP/setup.log" 2>&1; then
  cat "$TMP/setup.log" >&2
  echo "interop-ice: cannot create the namespace labs (ip netns / veth / nft)" >&2
  exit 2
fi
log "labs: $(ns A) 10.77.0.1 <-> $(ns B) 10.77.0.2; $(ns H) 10.78.1.2 -> NAT $(ns R) 10.79.0.1 -> $(ns P) 10.79.0.2"

# ---------------------------------------------------------------------------------------
# one pairing
# ---------------------------------------------------------------------------------------
# peer_cmd KIND ROLE DIR BIND [STUN]: the other agent's command line.
peer_cmd() {
  local kind=$1 role=$2 dir=$3 bind=$4
  case $kind in
    aioice)
      echo "$PYTHON" "$ROOT/scripts/interop/ice_peer_aioice.py" --role "$role" \
        --offer-out "$dir/peer.txt" --remote "$dir/natsim.txt" --timeout "$RUN_S" ;;
    libnice)
      echo "$NICE_PEER" --role "$role" --bind "$bind" --offer-out "$dir/peer.txt" \
        --remote "$dir/natsim.txt" --timeout "$RUN_S" ;;
  esac
}

# pairing NAME KIND NATSIM_ROLE NATSIM_NS NATSIM_IP PEER_NS PEER_IP [natsim options...]
# Runs both agents, then checks the outcome; sets J_* from natsim's JSON result.
pairing() {
  local name=$1 kind=$2 role=$3 nns=$4 nip=$5 pns=$6 pip=$7 other rc=0 prc=0 i peer_pid
  shift 7
  local dir=$TMP/$name
  mkdir -p "$dir"
  other=controlled
  [ "$role" = controlled ] && other=controlling
  # shellcheck disable=SC2046
  ip netns exec "$pns" timeout $((RUN_S + 10)) $(peer_cmd "$kind" "$other" "$dir" "$pip") \
    >"$dir/peer.log" 2>&1 &
  peer_pid=$!
  PIDS+=("$peer_pid")
  log "$name: $kind ($other) pid=$peer_pid in $pns, natsim connect --$role in $nns"
  ip netns exec "$nns" timeout $((RUN_S + 10)) "$NATSIM" connect "--$role" --bind "$nip" \
    --offer-out "$dir/natsim.txt" --remote "$dir/peer.txt" --send "hello from natsim" \
    --count 3 --echo --expect 6 --timeout "$RUN_S" "$@" >"$dir/natsim.out" 2>"$dir/natsim.err" ||
    rc=$?
  # The other agent finishes once its pings are back: at most a few seconds later.
  for i in $(seq 1 100); do
    alive "$peer_pid" || break
    sleep 0.1
  done
  if alive "$peer_pid"; then
    log "$name: $kind still running 10 s after natsim finished; stopping it"
    stop_pid "$peer_pid"
    prc=124
  else
    wait "$peer_pid" || prc=$?
    forget "$peer_pid"
  fi
  sed 's/^/    natsim: /' "$dir/natsim.out" "$dir/natsim.err"
  sed "s/^/    $kind: /" "$dir/peer.log"
  tail -1 "$dir/natsim.out" >"$dir/result.json"
  J_outcome=
  check "$name: natsim connect --$role vs $kind: exit 0 (got $rc), $kind exit 0 (got $prc)" \
    bash -c '[ "$1" = 0 ] && [ "$2" = 0 ]' _ "$rc" "$prc"
  if json_fields "$dir/result.json" "outcome;role;path;received;echoes_back;selected;local_candidates;remote_candidates"; then
    check "$name: outcome connected, role $role, path $J_path (got $J_outcome, $J_role)" \
      bash -c '[ "$1" = connected ] && [ "$2" = "$3" ]' _ "$J_outcome" "$J_role" "$role"
    check "$name: natsim -> $kind -> natsim: 3 of 3 datagrams echoed back (got $J_echoes_back)" \
      eq "$J_echoes_back" 3
  else
    check "$name: natsim's JSON result parses ($(tr -s ' \n' ' ' <"$TMP/fields.err" | head -c 160))" false
  fi
  check "$name: $kind -> natsim: natsim received the 3 pings of $kind" \
    all_of "$dir/natsim.out" "^recv [0-9.:]+ (aioice|nice)-ping-0$" \
    "^recv [0-9.:]+ (aioice|nice)-ping-1$" "^recv [0-9.:]+ (aioice|nice)-ping-2$"
  check "$name: $kind received natsim's datagrams, its pings came back (RESULT OK)" \
    all_of "$dir/peer.log" '^recv hello from natsim$' '^pings back 3/3' '^RESULT OK$'
  check "$name: natsim read $kind's description whole (no line skipped or refused)" \
    bash -c '! grep -q "line" "$1"' _ "$dir/natsim.err"
}

# ---------------------------------------------------------------------------------------
# a) direct: both agents, both roles
# ---------------------------------------------------------------------------------------
for kind in aioice libnice; do
  for role in controlling controlled; do
    pairing "$kind-$role" "$kind" "$role" "$(ns A)" 10.77.0.1 "$(ns B)" 10.77.0.2
  done
done
# natsim nominating aggressively (USE-CANDIDATE on every check).
pairing libnice-aggressive libnice controlling "$(ns A)" 10.77.0.1 "$(ns B)" 10.77.0.2 --aggressive

# ---------------------------------------------------------------------------------------
# b) through the nftables NAT: natsim in H (behind R), aioice and `natsim serve stun` in P
# ---------------------------------------------------------------------------------------
STUN=10.79.0.2:3478
ip netns exec "$(ns P)" timeout 120 "$NATSIM" serve stun --listen "$STUN" \
  >"$TMP/stun.out" 2>"$TMP/stun.err" &
PIDS+=("$!")
for i in $(seq 1 50); do
  grep -q '^listening on' "$TMP/stun.out" && break
  sleep 0.1
done
# nat_pairing KIND NATSIM_ROLE: natsim behind the NAT, KIND outside.
nat_pairing() {
  local name=nat-$1-$2 before after
  before=$(masqueraded)
  pairing "$name" "$1" "$2" "$(ns H)" 10.78.1.2 "$(ns P)" 10.79.0.2 --stun "$STUN"
  check "$name: natsim gathered a server-reflexive candidate on the NAT's address 10.79.0.1" \
    bash -c '[[ $1 == *"10.79.0.1 "*"typ srflx raddr 10.78.1.2"* ]]' _ "${J_local_candidates:-}"
  check "$name: $1's selected pair ends at the NAT's address 10.79.0.1 (srflx or prflx)" \
    has "$TMP/$name/peer.log" '^selected host 10\.79\.0\.2:[0-9]+ -> (srflx|prflx) 10\.79\.0\.1:'
  after=$(masqueraded)
  check "$name: the masquerade rule saw new flows (counter packets $before -> $after)" \
    bash -c '[ "${2:-0}" -gt "${1:-0}" ]' _ "$before" "$after"
}
# masqueraded: packets the masquerade rule has seen (the first of each flow).
masqueraded() {
  ip netns exec "$(ns R)" nft list table ip natsim_ice_nat |
    sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}
if grep -q '^listening on' "$TMP/stun.out"; then
  nat_pairing aioice controlling
  nat_pairing libnice controlled
else
  check "natsim serve stun starts on $STUN in $(ns P)" false
fi

# ---------------------------------------------------------------------------------------
# c) through a TURN relay: `natsim serve turn` in A, natsim offering only its relayed
#    candidate (--relay-only), aioice in B; the relay must carry the checks and the data.
#    The lab's addresses are private, which serve turn refuses as peers by default
#    (docs/hardening.md): --allowed-peer-ip lets the lab's /24 through.
# ---------------------------------------------------------------------------------------
TURN=10.77.0.1:3478
ip netns exec "$(ns A)" timeout 120 "$NATSIM" serve turn --listen "$TURN" --realm natsim.test \
  --user alice:secret --relay-ports 49152:16 --allowed-peer-ip 10.77.0.0/24 --json-log \
  >"$TMP/turn.out" 2>"$TMP/turn.err" &
PIDS+=("$!")
for i in $(seq 1 50); do
  grep -q '^listening on' "$TMP/turn.out" && break
  sleep 0.1
done
if grep -q '^listening on' "$TMP/turn.out"; then
  pairing relay-aioice aioice controlling "$(ns A)" 10.77.0.1 "$(ns B)" 10.77.0.2 \
    --turn "$TURN" --user alice --password secret --relay-only
  check "relay-aioice: natsim's selected pair is relayed (path ${J_path:-none})" \
    eq "${J_path:-}" relay
  check "relay-aioice: natsim offered only its relayed candidate" \
    bash -c 'grep -q "typ relay" "$1" && ! grep -Eq "typ (host|srflx)" "$1"' _ \
    "$TMP/relay-aioice/natsim.txt"
  check "relay-aioice: aioice's selected pair ends at the relayed address on 10.77.0.1" \
    has "$TMP/relay-aioice/peer.log" '^selected host 10\.77\.0\.2:[0-9]+ -> relay 10\.77\.0\.1:4915[2-9]|^selected host 10\.77\.0\.2:[0-9]+ -> relay 10\.77\.0\.1:4916[0-7]'
else
  check "natsim serve turn starts on $TURN in $(ns A)" false
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
