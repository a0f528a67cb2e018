#!/usr/bin/env bash
# Captures what Debian's miniupnpd sends a UPnP IGD control point, as test data for
# natsim's parsers (traversal/test/miniupnpd_capture_test.cpp): in the namespace lab of
# interop-portmap.sh (lib/miniupnpd_lab.sh), from the LAN host 192.168.78.2,
#
#   ssdp-response.txt             the answer to an M-SEARCH for InternetGatewayDevice:1
#   rootDesc.xml                  the device description (LOCATION of that answer)
#   WANIPCn.xml                   the WANIPConnection SCPD (its SCPDURL)
#   GetExternalIPAddress.xml      SOAP answers (bodies) from the WANIPConnection control
#   AddPortMapping.xml              URL: a UDP mapping 44000 -> 192.168.78.2:44000,
#   AddPortMapping-718.xml          the same external port asked by 192.168.78.3,
#   GetGenericPortMappingEntry.xml  entry 0 (the mapping above),
#   GetGenericPortMappingEntry-713.xml  entry 9 (past the end),
#   AddAnyPortMapping.xml           (WANIPConnection:2) 44001 for 192.168.78.2:44001,
#   DeletePortMapping-PORT.xml      both deleted
#
# and writes them to OUT (default traversal/test/data/miniupnpd). curl speaks HTTP,
# python3 SSDP; nothing of natsim's client is used, so the captures are miniupnpd's own.
#
# Usage: scripts/capture-miniupnpd.sh PATH/TO/natsim [OUT]   (natsim serves STUN to the
# gateway, which miniupnpd needs to forward from a private WAN address). Needs root.
# The namespaces are named cap-*-PID and deleted on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NATSIM=${1:-$ROOT/build/dev/tools/natsim}
[[ $NATSIM == /* ]] || NATSIM=$PWD/$NATSIM
OUT=${2:-$ROOT/traversal/test/data/miniupnpd}
PYTHON=/usr/bin/python3
PIDS=()
NETNS=()
TMP=$(mktemp -d /tmp/natsim-capture-miniupnpd.XXXXXX)

# shellcheck source=lib/interop.sh
source "$ROOT/scripts/lib/interop.sh"
# shellcheck source=lib/miniupnpd_lab.sh
source "$ROOT/scripts/lib/miniupnpd_lab.sh"

require capture-miniupnpd "miniupnpd miniupnpd-nftables nftables curl" miniupnpd nft ip curl timeout
if [ "$(id -u)" != 0 ]; then
  echo "capture-miniupnpd: needs root for network namespaces and nftables" >&2
  exit 2
fi

LAN=cap-lan-$$ GW=cap-gw-$$ WAN=cap-wan-$$
lab_up
miniupnpd_lab_start
grep -q 'HTTP listening on port 5000' "$TMP/miniupnpd.log" || {
  cat "$TMP/miniupnpd.log" >&2
  echo "capture-miniupnpd: miniupnpd's HTTP did not start" >&2
  exit 1
}
mkdir -p "$OUT"
inlan() { ip netns exec "$LAN" "$@"; }

# The M-SEARCH miniupnpc sends (UDA 1.1 §1.3.2), from the LAN host; the first answer.
inlan timeout 10 "$PYTHON" - "$OUT/ssdp-response.txt" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.168.78.2", 0))
s.settimeout(3)
search = (b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
          b"ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
          b"MAN: \"ssdp:discover\"\r\nMX: 2\r\n\r\n")
for _ in range(3):
    s.sendto(search, ("239.255.255.250", 1900))
    try:
        data, _ = s.recvfrom(4096)
    except socket.timeout:
        continue
    open(sys.argv[1], "wb").write(data)
    sys.exit(0)
sys.exit("no answer to M-SEARCH")
PY
LOCATION=$(sed -n 's/^[Ll][Oo][Cc][Aa][Tt][Ii][Oo][Nn]: *\([^\r]*\)\r\?$/\1/p' "$OUT/ssdp-response.txt")
log "LOCATION $LOCATION"
inlan curl -sf --max-time 5 -o "$OUT/rootDesc.xml" "$LOCATION"

# The WANIPConnection service (the highest version) from the description.
read -r SERVICE SCPD CONTROL < <("$PYTHON" - "$OUT/rootDesc.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
best = None
for e in ET.parse(sys.argv[1]).iter():
    if not e.tag.endswith("}service"):
        continue
    f = {c.tag.split("}")[1]: (c.text or "") for c in e}
    if ":WANIPConnection:" in f.get("serviceType", ""):
        if best is None or f["serviceType"] > best["serviceType"]:
            best = f
print(best["serviceType"], best["SCPDURL"], best["controlURL"])
PY
)
BASE=${LOCATION%/rootDesc.xml}
log "service $SERVICE, SCPD $SCPD, control $CONTROL"
inlan curl -sf --max-time 5 -o "$OUT/WANIPCn.xml" "$BASE$SCPD"

# soap FILE ACTION ARGUMENTS [SOURCE]: the answer's body (an error's too: curl without -f).
soap() {
  inlan curl -s --max-time 5 --interface "${4:-192.168.78.2}" \
    -H 'Content-Type: text/xml; charset="utf-8"' -H "SOAPAction: \"$SERVICE#$2\"" \
    --data-binary "<?xml version=\"1.0\"?>
<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:$2 xmlns:u=\"$SERVICE\">$3</u:$2></s:Body></s:Envelope>" \
    -o "$OUT/$1" "$BASE$CONTROL"
}
add_args() {
  echo "<NewRemoteHost></NewRemoteHost><NewExternalPort>44000</NewExternalPort><NewProtocol>UDP</NewProtocol><NewInternalPort>44000</NewInternalPort><NewInternalClient>$1</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>natsim-capture</NewPortMappingDescription><NewLeaseDuration>600</NewLeaseDuration>"
}
soap GetExternalIPAddress.xml GetExternalIPAddress ""
soap AddPortMapping.xml AddPortMapping "$(add_args 192.168.78.2)"
soap AddPortMapping-718.xml AddPortMapping "$(add_args 192.168.78.3)" 192.168.78.3
soap GetGenericPortMappingEntry.xml GetGenericPortMappingEntry \
  "<NewPortMappingIndex>0</NewPortMappingIndex>"
soap GetGenericPortMappingEntry-713.xml GetGenericPortMappingEntry \
  "<NewPortMappingIndex>9</NewPortMappingIndex>"
# WANIPConnection:2's AddAnyPortMapping (what natsim's client sends first), for 44001.
soap AddAnyPortMapping.xml AddAnyPortMapping "$(add_args 192.168.78.2 | sed 's/44000/44001/g')"
for port in 44000 44001; do
  soap "DeletePortMapping-$port.xml" DeletePortMapping \
    "<NewRemoteHost></NewRemoteHost><NewExternalPort>$port</NewExternalPort><NewProtocol>UDP</NewProtocol>"
done
dpkg-query -W -f='miniupnpd ${Version}\n' miniupnpd >"$OUT/VERSION"
ls -l "$OUT"
log "captured from $(head -1 "$OUT/VERSION") into $OUT"
