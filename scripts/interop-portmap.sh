#!/usr/bin/env bash
# Interop: natsim's PCP / NAT-PMP server and clients against independent implementations.
#
# (a) Debian's natpmpc (libnatpmp) against `natsim serve gateway` on 127.0.0.1:5351
#     (natpmpc talks to port 5351 only): the external address, a UDP mapping, a TCP
#     mapping whose 60 s are raised to the server's 120 s minimum, the UDP one deleted;
#     natpmpc's output lines are checked (it retries for minutes and does not match
#     answers to requests, so its exit code alone says little), then the server's
#     counters and JSON log.
# (b) natsim's clients (`natsim probe --pcp` and `--natpmp`) against Debian's miniupnpd
#     2.3.1 (nftables backend), in three network namespaces the script creates:
#
#       [lan] lan0 192.168.78.2 --- gw-lan 192.168.78.1 [gw: miniupnpd] gw-wan 10.78.0.1
#                                                         --- wan0 10.78.0.10,.11 [wan]
#
#     miniupnpd refuses to forward ports when its WAN address is private unless STUN
#     says nothing filters upstream: `natsim serve stun` (RFC 5780, two addresses) runs in
#     wan for it. miniupnpd adds rules but never creates its nftables tables and chains:
#     the script creates them in gw. Each client adds a mapping, refreshes it and deletes
#     it; with --keep the DNAT rule is checked in gw's ruleset and a datagram from wan to
#     10.78.0.1:PORT must reach the host in lan; a second run deletes it and the rule
#     must be gone.
# (c) natsim's UPnP IGD client (`natsim probe --upnp`) against the same miniupnpd's UPnP
#     IGD (secure mode, HTTP on 192.168.78.1:5000): found with an M-SEARCH to
#     239.255.255.250:1900 from lan, a UDP mapping added and kept; Debian's upnpc lists it
#     (-l), the DNAT rule is in gw's ruleset and a datagram from wan reaches lan; a probe
#     from a second LAN address (192.168.78.3) asking for the same external port is given
#     another one; upnpc's mapping to another host's address is refused by secure mode
#     (718, as miniupnpd answers it); a second probe (--description-url, no SSDP) maps the
#     port again and deletes it: upnpc no longer lists it and the rule is gone.
#
# Usage: scripts/interop-portmap.sh [PATH/TO/natsim]   (default build/release/tools/natsim)
# INTEROP_PORTMAP_PARTS (default "abc") runs some parts only: (a) needs 127.0.0.1:5351,
# which another run on the machine may hold. INTEROP_NS_PREFIX (default "pm") starts the
# namespaces' names.
# Needs root (namespaces, nftables). Prints PASS/FAIL per check and "N passed, M failed";
# exits 1 on any failure, 2 when a required program is missing. Everything started here
# is stopped by PID and the namespaces are deleted on exit (trap EXIT); every client runs
# under `timeout`. Logs: kept in a temp dir on failure (INTEROP_KEEP_LOGS=1 keeps them).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NATSIM=${1:-$ROOT/build/release/tools/natsim}
[[ $NATSIM == /* ]] || NATSIM=$PWD/$NATSIM
PYTHON=/usr/bin/python3
PIDS=()
NETNS=()
TMP=$(mktemp -d /tmp/natsim-interop-portmap.XXXXXX)

# shellcheck source=lib/interop.sh
source "$ROOT/scripts/lib/interop.sh"
# shellcheck source=lib/miniupnpd_lab.sh
source "$ROOT/scripts/lib/miniupnpd_lab.sh"

require interop-portmap "natpmpc miniupnpd miniupnpd-nftables nftables miniupnpc" natpmpc miniupnpd \
  nft ip upnpc timeout
PARTS=${INTEROP_PORTMAP_PARTS:-abc}
if [ "$(id -u)" != 0 ]; then
  echo "interop-portmap: needs root for network namespaces and nftables" >&2
  exit 2
fi

# ---------------------------------------------------------------------------------------
# (a) natpmpc -> natsim serve gateway on 127.0.0.1:5351
# ---------------------------------------------------------------------------------------
EXT=203.0.113.77
if [[ $PARTS != *a* ]]; then
  log "(a) skipped (INTEROP_PORTMAP_PARTS=$PARTS)"
elif ! port_free 5351; then
  log "FAIL: 127.0.0.1:5351 is taken; natpmpc can only use port 5351"
  FAIL=$((FAIL + 1))
else
  "$NATSIM" serve gateway --listen 127.0.0.1:5351 --external "$EXT" --json-log \
    >"$TMP/gateway.out" 2>"$TMP/gateway.err" &
  GW_PID=$!
  PIDS+=("$GW_PID")
  for _ in $(seq 1 50); do
    grep -q '^listening on' "$TMP/gateway.out" && break
    alive "$GW_PID" || break
    sleep 0.1
  done
  check "serve gateway listens on 127.0.0.1:5351" has "$TMP/gateway.out" '^listening on 127\.0\.0\.1:5351'
  natpmpc_run() { timeout 20 natpmpc -g 127.0.0.1 "$@" >"$TMP/natpmpc_$N.log" 2>&1 || true; }
  N=address natpmpc_run
  check "natpmpc: public address $EXT" has "$TMP/natpmpc_address.log" "^Public IP address : ${EXT//./\\.}$"
  check "natpmpc: epoch reported" has "$TMP/natpmpc_address.log" '^epoch = [0-9]+$'
  N=add_udp natpmpc_run -a 40000 40000 udp 3600
  check "natpmpc: UDP 40000 mapped for 3600 s" has "$TMP/natpmpc_add_udp.log" \
    '^Mapped public port 40000 protocol UDP to local port 40000 liftime 3600$'
  N=add_tcp natpmpc_run -a 40001 40001 tcp 60
  check "natpmpc: TCP 40001 mapped, 60 s raised to 120 s" has "$TMP/natpmpc_add_tcp.log" \
    '^Mapped public port 40001 protocol TCP to local port 40001 liftime 120$'
  N=delete natpmpc_run -a 40000 40000 udp 0
  check "natpmpc: UDP 40000 deleted (port 0, lifetime 0)" has "$TMP/natpmpc_delete.log" \
    '^Mapped public port 0 protocol UDP to local port 40000 liftime 0$'
  kill -TERM "$GW_PID"
  timeout 5 tail -s 0.1 --pid="$GW_PID" -f /dev/null || true
  wait "$GW_PID" || true
  forget "$GW_PID"
  gw_counter() { sed -n "s/^  $1 *\([0-9][0-9]*\)$/\1/p" "$TMP/gateway.out"; }
  check "serve gateway counted 2 NAT-PMP mappings and 1 deletion" \
    eq "$(gw_counter natpmp.mapped),$(gw_counter natpmp.deleted)" "2,1"
  check "serve gateway: the TCP mapping is still listed at exit" has "$TMP/gateway.out" \
    "^mapping TCP 127\.0\.0\.1:40001 -> ${EXT//./\\.}:40001 \(natpmp"
  check "serve gateway: JSON log has natpmpc's requests" all_of "$TMP/gateway.err" \
    '"op":"external_address"' '"op":"map_tcp"' '"external_port":40000'
fi

# ---------------------------------------------------------------------------------------
# (b) natsim probe --pcp / --natpmp -> miniupnpd in namespaces
# ---------------------------------------------------------------------------------------
TAG=$$
NS=${INTEROP_NS_PREFIX:-pm}
LAN=$NS-lan-$TAG GW=$NS-gw-$TAG WAN=$NS-wan-$TAG
if ! lab_up 2>"$TMP/lab.err"; then
  cat "$TMP/lab.err" >&2
  log "FAIL: cannot build the namespace lab (ip netns / veth / nft)"
  FAIL=$((FAIL + 1))
  echo "$PASS passed, $FAIL failed"
  exit 1
fi

miniupnpd_lab_start
check "miniupnpd: STUN (natsim serve stun) found no filtering -> port forwarding on" \
  has "$TMP/miniupnpd.log" 'Port forwarding is now enabled'
check "miniupnpd: NAT-PMP/PCP on port 5351" has "$TMP/miniupnpd.log" 'Listening for NAT-PMP/PCP'

inlan() { ip netns exec "$LAN" "$@"; }
probe() { inlan timeout 30 "$NATSIM" probe --timeout-ms 10000 --json "$@"; }
# forwarded PORT: a datagram from wan to 10.78.0.1:PORT reaches 192.168.78.2:PORT in lan.
forwarded() {
  inlan timeout 6 "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.168.78.2", int(sys.argv[1])))
s.settimeout(5)
d, a = s.recvfrom(100)
sys.exit(0 if d == b"natsim-portmap" else 1)' "$1" >"$TMP/fwd_$1.log" 2>&1 &
  local rp=$!
  sleep 0.5
  ip netns exec "$WAN" timeout 5 "$PYTHON" -c '
import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"natsim-portmap", ("10.78.0.1", int(sys.argv[1])))' "$1"
  wait "$rp"
}
rules() { ip netns exec "$GW" nft list chain inet filter prerouting_miniupnpd; }

# proto PORT: map + refresh + delete, then map --keep (rule, forwarding), then delete.
run_client() {
  local proto=$1 port=$2 name=$1
  probe "--$proto" 192.168.78.1 --local 192.168.78.2:0 --internal-port "$port" \
    --suggested-port "$port" --lease 600 --refresh >"$TMP/$name.json" 2>"$TMP/$name.err" || true
  check "$name: map, refresh, delete on miniupnpd" all_of "$TMP/$name.json" \
    '"outcome":"success"' "\"external\":\"10\\.78\\.0\\.1:$port\"" \
    '"step":"map","outcome":"success"' '"step":"refresh","outcome":"success"' \
    '"step":"delete","outcome":"success"'
  check "$name: lifetime granted 600 s" has "$TMP/$name.json" '"lifetime":600'
  probe "--$proto" 192.168.78.1 --local 192.168.78.2:0 --internal-port "$port" \
    --suggested-port "$port" --lease 600 --keep >"$TMP/${name}_keep.json" 2>&1 || true
  check "$name: mapping kept" has "$TMP/${name}_keep.json" '"outcome":"success"'
  rules >"$TMP/${name}_rules.txt" 2>&1 || true
  # nft shows miniupnpd's rule as `... @nh,72,8 0x11 th dport P dnat ip to 192.168.78.2:P`
  # (0x11: the IPv4 protocol field, UDP).
  check "$name: miniupnpd's DNAT rule for udp $port -> 192.168.78.2" has \
    "$TMP/${name}_rules.txt" "0x11 th dport $port dnat ip to 192\\.168\\.78\\.2:$port"
  check "$name: a datagram from wan to 10.78.0.1:$port reaches lan" forwarded "$port"
}
if [[ $PARTS == *b* ]] && grep -q 'Listening for NAT-PMP/PCP' "$TMP/miniupnpd.log"; then
  run_client pcp 41000
  # PCP's delete needs the mapping nonce, which a new probe does not have: the kept PCP
  # mapping is deleted by miniupnpd when its lease ends; here NAT-PMP's delete (any
  # client of the host may delete) shows the rule going away.
  run_client natpmp 42000
  probe --natpmp 192.168.78.1 --local 192.168.78.2:0 --internal-port 42000 \
    --suggested-port 42000 --lease 600 >"$TMP/natpmp_delete.json" 2>&1 || true
  rules >"$TMP/rules_after.txt" 2>&1 || true
  check "natpmp: deleted again, its rule is gone" bash -c \
    "grep -q '\"step\":\"delete\",\"outcome\":\"success\"' '$TMP/natpmp_delete.json' && ! grep -q 'dport 42000' '$TMP/rules_after.txt'"
  # A PCP request for another host (THIRD_PARTY is not sent by natsim's probe) is not
  # possible here; secure_mode makes miniupnpd map only the requester's own address,
  # which every mapping above was.
fi

# ---------------------------------------------------------------------------------------
# (c) natsim probe --upnp -> miniupnpd's UPnP IGD, same lab
# ---------------------------------------------------------------------------------------
UPNP_URL=http://192.168.78.1:5000/rootDesc.xml
# upnpc ARGS...: Debian's client in lan; -i since the gateway's WAN address is private.
upnpc_lan() { inlan timeout 20 upnpc -i -u "$UPNP_URL" "$@" 2>&1 || true; }
if [[ $PARTS == *c* ]] && grep -q 'HTTP listening on port 5000' "$TMP/miniupnpd.log"; then
  # M-SEARCH to the SSDP group (UDA 1.1 §1.3.2), as a control point on a LAN does.
  probe --upnp --local 192.168.78.2:0 --internal-port 43000 --suggested-port 43000 \
    --lease 600 --keep >"$TMP/upnp_keep.json" 2>"$TMP/upnp_keep.err" || true
  check "upnp: SSDP, description, AddAnyPortMapping on miniupnpd: 10.78.0.1:43000 kept" \
    all_of "$TMP/upnp_keep.json" '"protocol":"upnp"' '"outcome":"success"' \
    '"external":"10\.78\.0\.1:43000"' '"lifetime":600' '"gateway":"ssdp://239\.255\.255\.250:1900"'
  upnpc_lan -l >"$TMP/upnpc_list.txt"
  check "upnp: upnpc -l lists UDP 43000 -> 192.168.78.2:43000 'natsim'" has "$TMP/upnpc_list.txt" \
    "UDP +43000->192\.168\.78\.2:43000 +'natsim'"
  rules >"$TMP/upnp_rules.txt" 2>&1 || true
  check "upnp: miniupnpd's DNAT rule for udp 43000 -> 192.168.78.2" has "$TMP/upnp_rules.txt" \
    "0x11 th dport 43000 dnat ip to 192\.168\.78\.2:43000"
  check "upnp: a datagram from wan to 10.78.0.1:43000 reaches lan" forwarded 43000
  # Another host of the LAN (192.168.78.3) asking for the held external port is given
  # another one (AddAnyPortMapping: miniupnpd picks it; on IGD:1 a 718 and the next port).
  # The same host asking for it for another internal port would not do: miniupnpd moves
  # its mapping to that port ("updating existing port mapping").
  probe --upnp --description-url "$UPNP_URL" --local 192.168.78.3:0 --internal-port 43000 \
    --suggested-port 43000 --lease 600 >"$TMP/upnp_other.json" 2>&1 || true
  check "upnp: another host asking for 43000 is given another port, then deletes it" bash -c \
    "grep -q '\"step\":\"delete\",\"outcome\":\"success\"' '$TMP/upnp_other.json' && grep -q '\"external\":\"10\.78\.0\.1:' '$TMP/upnp_other.json' && ! grep -q '\"external\":\"10\.78\.0\.1:43000\"' '$TMP/upnp_other.json'"
  # Secure mode: a mapping to another host's address. miniupnpd 2.3.1 answers 718 (its
  # log: "tried to redirect port to"), not WANIPConnection:2's 606.
  upnpc_lan -a 192.168.78.9 43003 43003 UDP 600 >"$TMP/upnpc_secure.txt"
  check "upnp: secure mode refuses upnpc's mapping to another host's address (718)" has \
    "$TMP/upnpc_secure.txt" 'failed with code 718'
  check "upnp: miniupnpd's log names the secure-mode refusal" has "$TMP/miniupnpd.log" \
    'Client 192\.168\.78\.2 tried to redirect port to 192\.168\.78\.9'
  probe --upnp --description-url "$UPNP_URL" --local 192.168.78.2:0 --internal-port 43000 \
    --suggested-port 43000 --lease 600 >"$TMP/upnp_delete.json" 2>&1 || true
  check "upnp: mapped again (--description-url, no SSDP) and deleted" all_of \
    "$TMP/upnp_delete.json" '"external":"10\.78\.0\.1:43000"' '"step":"delete","outcome":"success"'
  upnpc_lan -l >"$TMP/upnpc_list_after.txt"
  rules >"$TMP/upnp_rules_after.txt" 2>&1 || true
  check "upnp: upnpc -l no longer lists 43000, its rule is gone" bash -c \
    "grep -q 'GetGenericPortMappingEntry\|No more\|713' '$TMP/upnpc_list_after.txt' && ! grep -q '43000->' '$TMP/upnpc_list_after.txt' && ! grep -q 'dport 43000' '$TMP/upnp_rules_after.txt'"
elif [[ $PARTS == *c* ]]; then
  check "miniupnpd: HTTP (UPnP IGD) on port 5000" has "$TMP/miniupnpd.log" 'HTTP listening on port 5000'
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
