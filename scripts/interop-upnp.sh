#!/usr/bin/env bash
# Interop: Debian's upnpc (miniupnpc 2.2) against `natsim serve gateway --upnp` on
# loopback. The gateway serves its UPnP IGD description and WANIPConnection control on
# 127.0.0.1 (HTTP port picked by the kernel, printed as "UPnP IGD description URL") and
# answers M-SEARCH on a UDP port; upnpc is given the description URL with -u (no SSDP):
#
#   -s  GetExternalIPAddress (and GetStatusInfo, GetConnectionTypeInfo, link properties)
#   -a  AddPortMapping 127.0.0.1:4000 -> external 40000/UDP for 3600 s, and a TCP one
#   -l  GetGenericPortMappingEntry until 713: both listed
#   -a  the same external port for another internal port: 718 ConflictInMappingEntry
#   -d  DeletePortMapping, then -l no longer lists it
#   -L  GetListOfPortMappings (IGD:2)
#
# then again against a gateway with --upnp-v1-only (InternetGatewayDevice:1 and
# WANIPConnection:1: -s, -a, -l and -d work, the requests name WANIPConnection:1). The
# gateway's counters and its printed live mappings are checked at exit.
#
# Usage: scripts/interop-upnp.sh [PATH/TO/natsim]   (default build/release/tools/natsim)
# Prints PASS/FAIL per check and "N passed, M failed"; exits 1 on any failure, 2 when a
# required program is missing. Every upnpc runs under `timeout`; the gateway is stopped by
# PID on exit. Logs: kept in a temp dir on failure (INTEROP_KEEP_LOGS=1 keeps them).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NATSIM=${1:-$ROOT/build/release/tools/natsim}
[[ $NATSIM == /* ]] || NATSIM=$PWD/$NATSIM
PIDS=()
TMP=$(mktemp -d /tmp/natsim-interop-upnp.XXXXXX)

# shellcheck source=lib/interop.sh
source "$ROOT/scripts/lib/interop.sh"

require interop-upnp "miniupnpc" upnpc timeout

EXT=198.51.100.77
GW_PID=
URL=

# gateway_up NAME [ARGS...]: starts serve gateway with UPnP on free ports; sets URL.
gateway_up() {
  local name=$1 pcp ssdp
  shift
  pcp=$(pick_port 20000 20000) || return 1
  ssdp=$(pick_port 40000 10000) || return 1
  "$NATSIM" serve gateway --listen "127.0.0.1:$pcp" --external "$EXT" --upnp \
    --ssdp-port "$ssdp" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  GW_PID=$!
  PIDS+=("$GW_PID")
  for _ in $(seq 1 50); do
    grep -q '^UPnP IGD description' "$TMP/$name.out" && break
    alive "$GW_PID" || break
    sleep 0.1
  done
  URL=$(sed -n 's/^UPnP IGD description \(http:[^,]*\),.*/\1/p' "$TMP/$name.out")
  [ -n "$URL" ]
}

gateway_down() {
  kill -TERM "$GW_PID"
  timeout 5 tail -s 0.1 --pid="$GW_PID" -f /dev/null || true
  wait "$GW_PID" || true
  forget "$GW_PID"
}

# upnpc_run NAME ARGS...: upnpc against $URL, output in $TMP/upnpc_NAME.log.
upnpc_run() {
  local name=$1
  shift
  timeout 20 upnpc -u "$URL" "$@" >"$TMP/upnpc_$name.log" 2>&1 || true
}

# ---------------------------------------------------------------------------------------
# IGD:2 (the default)
# ---------------------------------------------------------------------------------------
check "serve gateway --upnp prints its description URL" gateway_up gw2
check "the description URL is on loopback" has "$TMP/gw2.out" \
  '^UPnP IGD description http://127\.0\.0\.1:[0-9]+/rootDesc\.xml'
upnpc_run status -s
check "upnpc -s: external address $EXT" has "$TMP/upnpc_status.log" \
  "^ExternalIPAddress = ${EXT//./\\.}$"
check "upnpc -s: connected IP_Routed" all_of "$TMP/upnpc_status.log" 'Connection Type : IP_Routed' \
  'Status : Connected'
check "upnpc -s: found a valid IGD" has "$TMP/upnpc_status.log" \
  '^Found valid IGD'
upnpc_run add_udp -e natsim-test -a 127.0.0.1 4000 40000 UDP 3600
check "upnpc -a: 40000/UDP mapped to 127.0.0.1:4000" has "$TMP/upnpc_add_udp.log" \
  "external ${EXT//./\\.}:40000 UDP is redirected to internal 127\.0\.0\.1:4000"
upnpc_run add_tcp -a 127.0.0.1 4001 40001 TCP 0
check "upnpc -a: 40001/TCP mapped (lease 0)" has "$TMP/upnpc_add_tcp.log" \
  "external ${EXT//./\\.}:40001 TCP is redirected to internal 127\.0\.0\.1:4001"
upnpc_run list -l
check "upnpc -l: both mappings listed" all_of "$TMP/upnpc_list.log" \
  'UDP +40000->127\.0\.0\.1:4000 +.natsim-test.' 'TCP +40001->127\.0\.0\.1:4001'
upnpc_run conflict -a 127.0.0.1 5000 40000 UDP 3600
check "upnpc -a: the same external port for another internal port is 718" has \
  "$TMP/upnpc_conflict.log" '718'
upnpc_run listv2 -L
check "upnpc -L: GetListOfPortMappings lists 40000/UDP" has "$TMP/upnpc_listv2.log" '40000'
upnpc_run delete -d 40000 UDP
check "upnpc -d: 40000/UDP deleted" has "$TMP/upnpc_delete.log" 'UPNP_DeletePortMapping\(\) returned : 0'
upnpc_run list2 -l
check "upnpc -l: 40000/UDP gone, 40001/TCP still there" sh -c \
  "! grep -Eq 'UDP +40000->' '$TMP/upnpc_list2.log' && grep -Eq 'TCP +40001->' '$TMP/upnpc_list2.log'"
gateway_down
gw_counter() { sed -n "s/^  $1 *\([0-9][0-9]*\)$/\1/p" "$TMP/gw2.out"; }
check "serve gateway counted 2 UPnP mappings, 1 deletion, one 718" \
  eq "$(gw_counter upnp.mapped),$(gw_counter upnp.deleted),$(gw_counter upnp.errors.718)" "2,1,1"
check "serve gateway: the TCP mapping is live at exit, owned by upnp" has "$TMP/gw2.out" \
  "^mapping TCP 127\.0\.0\.1:4001 -> ${EXT//./\\.}:40001 \(upnp"
check "upnpc spoke to WANIPConnection:2" has "$TMP/gw2.out" 'WANIPConnection:2#AddPortMapping'

# ---------------------------------------------------------------------------------------
# IGD:1 only
# ---------------------------------------------------------------------------------------
check "serve gateway --upnp-v1-only starts" gateway_up gw1 --upnp-v1-only
upnpc_run v1_status -s
check "v1 only: upnpc -s reads the external address" has "$TMP/upnpc_v1_status.log" \
  "^ExternalIPAddress = ${EXT//./\\.}$"
upnpc_run v1_add -a 127.0.0.1 4000 40000 UDP 3600
check "v1 only: upnpc -a maps 40000/UDP" has "$TMP/upnpc_v1_add.log" \
  "external ${EXT//./\\.}:40000 UDP is redirected to internal 127\.0\.0\.1:4000"
upnpc_run v1_list -l
check "v1 only: upnpc -l lists it" has "$TMP/upnpc_v1_list.log" 'UDP +40000->127\.0\.0\.1:4000'
upnpc_run v1_delete -d 40000 UDP
check "v1 only: upnpc -d deletes it" has "$TMP/upnpc_v1_delete.log" \
  'UPNP_DeletePortMapping\(\) returned : 0'
gateway_down
check "v1 only: the requests named WANIPConnection:1" has "$TMP/gw1.out" \
  'WANIPConnection:1#AddPortMapping'
check "v1 only: nothing asked of WANIPConnection:2" sh -c "! grep -q 'WANIPConnection:2' '$TMP/gw1.out'"

# ---------------------------------------------------------------------------------------
# Hostile HTTP clients (docs/hardening.md): garbage, an oversized body, silent and excess
# connections; the gateway answers or closes each, and upnpc still works afterwards.
# ---------------------------------------------------------------------------------------
# http_attack KIND: one attack against $URL's host and port; prints what came back.
http_attack() {
  python3 - "$URL" "$1" <<'PY'
import socket, sys, time
from urllib.parse import urlparse
u = urlparse(sys.argv[1]); kind = sys.argv[2]
addr = (u.hostname, u.port)
def answer(s, limit=10):
    s.settimeout(limit); data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b: break
            data += b
    except (socket.timeout, ConnectionResetError):
        pass
    return data
if kind == "garbage":
    s = socket.create_connection(addr); s.sendall(b"\x00\xffNOT HTTP\r\n\r\n")
    print(answer(s).split(b"\r\n")[0].decode(errors="replace"))
elif kind == "huge-body":
    s = socket.create_connection(addr)
    s.sendall(b"POST /ctl/IPConn HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
    try:
        s.sendall(b"<" * 65536)
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(answer(s).split(b"\r\n")[0].decode(errors="replace"))
elif kind == "silent":
    s = socket.create_connection(addr); t = time.monotonic()
    answer(s, 10)
    print("closed after %.0f s" % (time.monotonic() - t))
elif kind == "flood":
    held = [socket.create_connection(addr) for _ in range(40)]
    time.sleep(0.5)
    open_ = 0
    for s in held:
        s.setblocking(False)
        try:
            open_ += 0 if s.recv(1) == b"" else 1
        except BlockingIOError:
            open_ += 1
        except ConnectionResetError:
            pass
    print("%d of 40 held open" % open_)
PY
}

check "serve gateway --upnp --upnp-idle-timeout 2 starts" gateway_up gwa --upnp-idle-timeout 2
http_attack garbage >"$TMP/attack_garbage.log" 2>&1
check "garbage instead of HTTP: 400" has "$TMP/attack_garbage.log" '^HTTP/1.1 400'
http_attack huge-body >"$TMP/attack_huge.log" 2>&1
check "a 10 MB SOAP body: 413 before it is read" has "$TMP/attack_huge.log" '^HTTP/1.1 413'
http_attack silent >"$TMP/attack_silent.log" 2>&1
check "a silent connection is closed after the idle timeout (2 s)" has "$TMP/attack_silent.log" \
  '^closed after [23] s'
http_attack flood >"$TMP/attack_flood.log" 2>&1
check "40 connections at once: at most 16 held" sh -c \
  "n=\$(sed -n 's/^\([0-9]*\) of 40 held open/\1/p' '$TMP/attack_flood.log'); [ -n \"\$n\" ] && [ \"\$n\" -le 16 ]"
upnpc_run attack_status -s
check "after the attacks upnpc -s still reads the external address" has \
  "$TMP/upnpc_attack_status.log" "ExternalIPAddress = $EXT"
check "serve gateway survived" alive "$GW_PID"
gateway_down

log "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
