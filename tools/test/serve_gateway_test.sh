#!/usr/bin/env bash
# ctest cases for `natsim serve gateway` and `natsim probe --pcp/--natpmp`, on loopback
# (127.0.0.1 only, the kernel picks the server's port). Every process started here is
# stopped by PID; every client runs under `timeout`.
#   serve_gateway_test.sh NATSIM CMAKE CASE      CASE: pcp | natpmp | third_party | hostile | upnp | upnp_probe | usage
# pcp, natpmp: map, refresh and delete with natsim's own client; a second host address
# (127.0.0.2) cannot take the first one's port; --no-pcp makes a PCP-only probe fail.
# third_party: a MAP for 127.0.0.9 (THIRD_PARTY) is NOT_AUTHORIZED by default and granted,
# then deleted, with --allow-third-party.
# upnp (needs /usr/bin/python3): --upnp serves its description, maps with a SOAP
# AddPortMapping into the table PCP uses (a PCP probe for that port gets another), answers
# 718 to another host's claim on it and an M-SEARCH with the printed URL; counted.
# upnp_probe: `natsim probe --upnp` (natsim's UPnP client on real sockets) against
# --upnp in secure mode: M-SEARCH to the printed SSDP port, then map, refresh and delete;
# with --description-url (no SSDP) a kept mapping; another host asking for that external
# port gets another (AddAnyPortMapping's NewReservedPort); a description URL that 404s is
# http_error and one nobody listens on unreachable, both exit 1.
# hostile: malformed datagrams (needs /usr/bin/python3) are dropped or refused and counted,
# and the server still answers afterwards.
set -euo pipefail

NATSIM=$1
CMAKE=$2
CASE=$3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=/usr/bin/python3
[ -x "$NATSIM" ] || { echo "FAIL: no natsim program at $NATSIM"; exit 1; }
TMP=$(mktemp -d /tmp/natsim-cli-gateway.XXXXXX)
PIDS=()

# shellcheck source=cli_test.sh
source "$HERE/cli_test.sh"

counter() { sed -n "s/^  $1 *\([0-9][0-9]*\)$/\1/p" "$TMP/serve.out"; }

# start_server ARGS...: sets P and SERVER_PID once "listening on" is printed.
start_server() {
  local i
  "$NATSIM" serve gateway --listen 127.0.0.1:0 --json-log "$@" >"$TMP/serve.out" 2>"$TMP/serve.err" &
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
  return 1
}
stop_server() {
  kill -TERM "$SERVER_PID"
  timeout 5 tail -s 0.1 --pid="$SERVER_PID" -f /dev/null || true
  wait "$SERVER_PID" || true
  forget "$SERVER_PID"
}
probe() { timeout 20 "$NATSIM" probe --timeout-ms 5000 "$@"; }

case "$CASE" in
  usage)
    for bad in "--listen nowhere" "--listen [::1]:5351" "--external 2001:db8::1" "--nat sym" \
               "--no-pcp --no-natpmp" "--min-lifetime 600 --max-lifetime 60"; do
      rc=0
      # shellcheck disable=SC2086
      timeout 5 "$NATSIM" serve gateway $bad >"$TMP/usage.out" 2>&1 || rc=$?
      expect "serve gateway $bad exits 2" test "$rc" = 2
    done
    rc=0; timeout 5 "$NATSIM" probe --pcp 300.1.1.1 >"$TMP/usage.out" 2>&1 || rc=$?
    expect "probe --pcp 300.1.1.1 exits 2" test "$rc" = 2
    rc=0; timeout 5 "$NATSIM" probe --pcp 127.0.0.1 --natpmp 127.0.0.1 >"$TMP/usage.out" 2>&1 || rc=$?
    expect "--pcp with --natpmp exits 2" test "$rc" = 2
    rc=0; timeout 5 "$NATSIM" probe --natpmp 127.0.0.1 --third-party 127.0.0.9 >"$TMP/usage.out" 2>&1 || rc=$?
    expect "--third-party with --natpmp exits 2" test "$rc" = 2
    rc=0; timeout 5 "$NATSIM" probe --pcp 127.0.0.1 --third-party nowhere >"$TMP/usage.out" 2>&1 || rc=$?
    expect "--third-party nowhere exits 2" test "$rc" = 2
    rc=0; timeout 5 "$NATSIM" probe --upnp --pcp 127.0.0.1 >"$TMP/usage.out" 2>&1 || rc=$?
    expect "--upnp with --pcp exits 2" test "$rc" = 2
    rc=0; timeout 5 "$NATSIM" probe --natpmp 127.0.0.1 --description-url http://127.0.0.1/ >"$TMP/usage.out" 2>&1 || rc=$?
    expect "--description-url without --upnp exits 2" test "$rc" = 2
    rc=0; timeout 5 "$NATSIM" probe --upnp --description-url https://127.0.0.1/ >"$TMP/usage.out" 2>&1 || rc=$?
    expect "--description-url https:// exits 2" test "$rc" = 2
    ;;
  third_party)
    start_server --external 198.51.100.7 || fail "serve gateway did not start"
    rc=0
    probe --pcp "127.0.0.1:$P" --local 127.0.0.1:0 --third-party 127.0.0.9 --internal-port 40000 \
      --json >"$TMP/refused.json" || rc=$?
    stop_server
    expect "third_party: refused exits 1" test "$rc" = 1
    fields "$TMP/refused.json" "outcome;third_party"
    expect "third_party: reported" test "$J_third_party" = 127.0.0.9
    expect "third_party: NOT_AUTHORIZED" grep -q '"result":"NOT_AUTHORIZED"' "$TMP/refused.json"
    expect "third_party: counted" test "$(counter pcp.errors.not_authorized)" = 1
    start_server --external 198.51.100.7 --allow-third-party || fail "serve gateway did not start"
    probe --pcp "127.0.0.1:$P" --local 127.0.0.1:0 --third-party 127.0.0.9 --internal-port 40000 \
      --suggested-port 40000 --json >"$TMP/allowed.json" || fail "allowed third-party probe failed"
    stop_server
    fields "$TMP/allowed.json" "outcome;external"
    expect "third_party: allowed" test "$J_outcome" = success
    expect "third_party: external 198.51.100.7:40000" test "$J_external" = "198.51.100.7:40000"
    expect "third_party: mapped and deleted" grep -q '"step":"delete","outcome":"success"' "$TMP/allowed.json"
    expect "third_party: the request named 127.0.0.9" grep -q '"third_party":"127.0.0.9"' "$TMP/serve.err"
    ;;
  pcp | natpmp)
    start_server --external 198.51.100.7 || fail "serve gateway did not start"
    probe --"$CASE" "127.0.0.1:$P" --local 127.0.0.1:0 --internal-port 40000 \
      --suggested-port 40000 --refresh --keep --json >"$TMP/probe.json" || fail "probe failed"
    fields "$TMP/probe.json" "outcome;external;protocol"
    expect "$CASE: mapped and refreshed" test "$J_outcome" = success
    expect "$CASE: external 198.51.100.7:40000" test "$J_external" = "198.51.100.7:40000"
    # Another host (127.0.0.2) asking for the same external port gets another one.
    probe --"$CASE" "127.0.0.1:$P" --local 127.0.0.2:0 --internal-port 40000 \
      --suggested-port 40000 --json >"$TMP/other.json" || fail "second probe failed"
    fields "$TMP/other.json" "outcome;external"
    expect "$CASE: another host's port is not taken" test "$J_external" != "198.51.100.7:40000"
    # The first mapping asked for again from a new process of the same host: NAT-PMP
    # grants (and deletes) it; PCP refuses, the new process lacks the mapping nonce
    # (RFC 6887 §11.3).
    rc=0
    probe --"$CASE" "127.0.0.1:$P" --local 127.0.0.1:0 --internal-port 40000 \
      --suggested-port 40000 --json >"$TMP/again.json" || rc=$?
    stop_server
    if [ "$CASE" = pcp ]; then
      expect "pcp: another nonce is NOT_AUTHORIZED" grep -q '"result":"NOT_AUTHORIZED"' "$TMP/again.json"
      expect "pcp: deleted counted" test "$(counter pcp.deleted)" -ge 1
    else
      expect "natpmp: mapped again and deleted" test "$rc" = 0
      expect "natpmp: deleted counted" test "$(counter natpmp.deleted)" -ge 2
    fi
    expect "$CASE: requests logged as JSON lines" grep -q '"request":{' "$TMP/serve.err"
    expect "$CASE: a line per request on stdout" grep -q "MAP UDP 40000\|map UDP 40000" "$TMP/serve.out"
    expect "$CASE: mapped counted" test "$(counter "$CASE.mapped")" -ge 3
    # A gateway without PCP: the PCP-only probe fails (NAT-PMP's unsupported version).
    if [ "$CASE" = pcp ]; then
      start_server --no-pcp || fail "serve gateway --no-pcp did not start"
      rc=0; probe --pcp "127.0.0.1:$P" --json >"$TMP/nopcp.json" || rc=$?
      stop_server
      expect "pcp against --no-pcp exits 1" test "$rc" = 1
      expect "pcp against --no-pcp: unsupported version" grep -qi 'unsupp' "$TMP/nopcp.json"
    fi
    ;;
  upnp)
    [ -x "$PYTHON" ] || { echo "SKIP: no $PYTHON"; exit 0; }
    start_server --external 198.51.100.7 --upnp --ssdp-port 0 --upnp-insecure ||
      fail "serve gateway --upnp did not start"
    URL=$(sed -n 's/^UPnP IGD description \(http:[^,]*\), SSDP on .*/\1/p' "$TMP/serve.out")
    SSDP=$(sed -n 's/^UPnP IGD description .*, SSDP on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/serve.out")
    expect "upnp: description URL printed" test -n "$URL"
    timeout 20 "$PYTHON" - "$URL" "$SSDP" >"$TMP/upnp.log" 2>&1 <<'PY' || rc=$?
import socket, sys, urllib.request, urllib.error
url, ssdp = sys.argv[1], int(sys.argv[2])
desc = urllib.request.urlopen(url, timeout=5).read().decode()
assert "urn:schemas-upnp-org:device:InternetGatewayDevice:2" in desc, desc
ctl = url.replace("/rootDesc.xml", "/ctl/IPConn")
def soap(action, args):
    body = ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
            '<u:%s xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">%s</u:%s></s:Body></s:Envelope>'
            % (action, "".join("<%s>%s</%s>" % (k, v, k) for k, v in args), action))
    q = urllib.request.Request(ctl, body.encode(), {"Content-Type": 'text/xml; charset="utf-8"',
        "SOAPAction": '"urn:schemas-upnp-org:service:WANIPConnection:1#%s"' % action})
    try:
        return 200, urllib.request.urlopen(q, timeout=5).read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
def add(client, iport):
    return soap("AddPortMapping", [("NewRemoteHost", ""), ("NewExternalPort", 40000),
        ("NewProtocol", "UDP"), ("NewInternalPort", iport), ("NewInternalClient", client),
        ("NewEnabled", 1), ("NewPortMappingDescription", "t"), ("NewLeaseDuration", 600)])
code, text = add("127.0.0.1", 4000)
assert code == 200 and "AddPortMappingResponse" in text, text
code, text = add("127.0.0.2", 4000)
assert code == 500 and "<errorCode>718</errorCode>" in text, text
code, text = soap("GetExternalIPAddress", [])
assert "<NewExternalIPAddress>198.51.100.7</NewExternalIPAddress>" in text, text
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n'
         b'MX: 1\r\nST: urn:schemas-upnp-org:service:WANIPConnection:1\r\n\r\n', ("127.0.0.1", ssdp))
answer = s.recv(4096).decode()
assert ("LOCATION: " + url).lower() in answer.lower(), answer
print("OK")
PY
    probe --pcp "127.0.0.1:$P" --local 127.0.0.1:0 --internal-port 4100 --suggested-port 40000 \
      --json >"$TMP/pcp.json" || fail "pcp probe failed"
    stop_server
    expect "upnp: description, AddPortMapping, 718, external address, M-SEARCH" grep -q '^OK$' "$TMP/upnp.log"
    fields "$TMP/pcp.json" "outcome;external"
    expect "upnp: PCP gets another port than UPnP's 40000" test "$J_external" != "198.51.100.7:40000"
    expect "upnp: mapped counted" test "$(counter upnp.mapped)" = 1
    expect "upnp: 718 counted" test "$(counter upnp.errors.718)" = 1
    expect "upnp: search answered" test "$(counter upnp.search_answers)" = 1
    expect "upnp: a line per HTTP request" grep -q 'UPnP POST /ctl/IPConn .*#AddPortMapping" -> HTTP/1.1 500' "$TMP/serve.out"
    ;;
  upnp_probe)
    start_server --external 198.51.100.7 --upnp --ssdp-port 0 || fail "serve gateway --upnp did not start"
    URL=$(sed -n 's/^UPnP IGD description \(http:[^,]*\), SSDP on .*/\1/p' "$TMP/serve.out")
    SSDP=$(sed -n 's/^UPnP IGD description .*, SSDP on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/serve.out")
    expect "upnp_probe: description URL and SSDP port printed" test -n "$URL" -a -n "$SSDP"
    probe --upnp 127.0.0.1 --ssdp-port "$SSDP" --local 127.0.0.1:0 --internal-port 4300 \
      --suggested-port 43000 --lease 600 --refresh --json >"$TMP/ssdp.json" || fail "probe --upnp failed"
    fields "$TMP/ssdp.json" "outcome;external;protocol;lifetime"
    expect "upnp_probe: SSDP, map, refresh, delete" test "$J_outcome" = success
    expect "upnp_probe: protocol upnp" test "$J_protocol" = upnp
    expect "upnp_probe: external 198.51.100.7:43000" test "$J_external" = "198.51.100.7:43000"
    expect "upnp_probe: lease 600 s" test "$J_lifetime" = 600
    for step in map refresh delete; do
      expect "upnp_probe: $step succeeded" grep -q "\"step\":\"$step\",\"outcome\":\"success\"" "$TMP/ssdp.json"
    done
    probe --upnp --description-url "$URL" --local 127.0.0.1:0 --internal-port 4301 \
      --suggested-port 43001 --keep --json >"$TMP/url.json" || fail "probe --description-url failed"
    fields "$TMP/url.json" "outcome;external"
    expect "upnp_probe: --description-url maps 43001 and keeps it" test "$J_external" = "198.51.100.7:43001"
    probe --upnp --description-url "$URL" --local 127.0.0.2:0 --internal-port 4301 \
      --suggested-port 43001 --json >"$TMP/other.json" || fail "second host's probe failed"
    fields "$TMP/other.json" "outcome;external"
    expect "upnp_probe: another host gets another port" test "$J_outcome" = success -a "$J_external" != "198.51.100.7:43001"
    rc=0
    probe --upnp --description-url "${URL%/rootDesc.xml}/nothing.xml" --local 127.0.0.1:0 \
      --json >"$TMP/404.json" || rc=$?
    expect "upnp_probe: a 404 description exits 1" test "$rc" = 1
    expect "upnp_probe: http_error named" grep -q '"result":"http_error"' "$TMP/404.json"
    stop_server
    expect "upnp_probe: mapped counted" test "$(counter upnp.mapped)" -ge 4
    expect "upnp_probe: deleted counted" test "$(counter upnp.deleted)" = 2
    expect "upnp_probe: the M-SEARCH answered" test "$(counter upnp.search_answers)" -ge 1
    expect "upnp_probe: the kept mapping listed at exit" grep -q '^mapping UDP 127\.0\.0\.1:4301 -> 198\.51\.100\.7:43001 (upnp' "$TMP/serve.out"
    rc=0
    probe --upnp --description-url "$URL" --local 127.0.0.1:0 --json >"$TMP/gone.json" || rc=$?
    expect "upnp_probe: a description nobody serves exits 1" test "$rc" = 1
    expect "upnp_probe: unreachable named" grep -q '"result":"unreachable"' "$TMP/gone.json"
    ;;
  hostile)
    [ -x "$PYTHON" ] || { echo "SKIP: no $PYTHON"; exit 0; }
    start_server || fail "serve gateway did not start"
    timeout 20 "$PYTHON" - "$P" >"$TMP/hostile.log" 2>&1 <<'PY' || fail "hostile sender failed"
import os, random, socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rng = random.Random(7)
cases = [b"", b"\x02", b"\x00", b"\x00\x81", b"\x02\x81" + bytes(22), b"\x02\x01" + bytes(22),
         b"\x02\x01" + bytes(1200), b"\x09" * 40, b"\x00\x01\x00", b"\x00\x7f" + bytes(10)]
cases += [bytes([rng.choice([0, 2])]) + os.urandom(rng.randrange(0, 1200)) for _ in range(500)]
for c in cases:
    s.sendto(c, ("127.0.0.1", port))
print("sent", len(cases))
PY
    probe --natpmp "127.0.0.1:$P" --json >"$TMP/after.json" || fail "no answer after the hostile datagrams"
    stop_server
    expect "hostile: still answering" grep -q '"outcome":"success"' "$TMP/after.json"
    expect "hostile: dropped datagrams counted" test "$(counter dropped_unanswered)" -ge 3
    expect "hostile: malformed PCP answered MALFORMED_REQUEST" test "$(counter pcp.errors.malformed_request)" -ge 1
    expect "hostile: stopped by SIGTERM" grep -q 'stopped by SIGTERM' "$TMP/serve.out"
    ;;
  *) echo "unknown case $CASE"; exit 2 ;;
esac
echo "PASS: $CASE"
