#!/usr/bin/env bash
# Throughput of natsim bridge: UDP packets per second through one simulated NAT.
# alice (behind the symmetric NAT of examples/bridge/two-namespaces.json) runs SENDERS
# copies of scripts/interop/bridge_udp.py blast (64-byte datagrams, as fast as Python
# sends them) for 5 s to bridge_udp.py sink in relay's namespace, on the simulated
# internet. Prints what was offered, what arrived, the bridge's own counts (packets read
# from alice's TUN device and written to relay's) and the CPU time the bridge used.
#
# Usage: bench/bench-bridge.sh [PATH/TO/natsim] [SENDERS]   (root; default 2 senders)
# NATSIM_BRIDGE_PRIO="chrt -f 10" runs the bridge as a real-time process.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NATSIM=${1:-$ROOT/build/release/tools/natsim}
SENDERS=${2:-2}
P=nsbb$$
TMP=$(mktemp -d /tmp/natsim-bench-bridge.XXXXXX)
U="python3 $ROOT/scripts/interop/bridge_udp.py"
B=
cleanup() {
  [ -n "$B" ] && kill -TERM "$B" 2>/dev/null && wait "$B" 2>/dev/null
  for ns in $(ip netns list | awk '{print $1}' | grep "^$P-" || true); do ip netns del "$ns"; done
  rm -rf "$TMP"
}
trap cleanup EXIT
${NATSIM_BRIDGE_PRIO:-} "$NATSIM" bridge "$ROOT/examples/bridge/two-namespaces.json" \
  --netns-prefix "$P" --duration 15s --json >"$TMP/bridge.json" 2>"$TMP/bridge.err" &
B=$!
for _ in $(seq 1 100); do grep -qx ready "$TMP/bridge.json" && break; sleep 0.1; done
ip netns exec "$P-relay" $U sink 9000 5 >"$TMP/sink.txt" &
S=$!
sleep 0.5
cpu() { awk '{print $14 + $15}' "/proc/$B/stat"; }
c0=$(cpu)
for i in $(seq 1 "$SENDERS"); do ip netns exec "$P-alice" $U blast 198.51.100.40 9000 5 >"$TMP/blast$i.txt" & done
wait "$S"
c1=$(cpu)
wait
B=
offered=$(cat "$TMP"/blast*.txt | awk '{n += $2} END {print n}')
echo "offered: $offered datagrams in 5 s by $SENDERS sender(s)"
echo "arrived: $(cat "$TMP/sink.txt")"
echo "bridge CPU during the run: $(((c1 - c0) * 1000 / $(getconf CLK_TCK))) ms"
python3 - "$TMP/bridge.json" <<'PY'
import json, sys
t = open(sys.argv[1]).read()
j = json.loads(t[t.index("{\n"):])
a = j["attached"]
print("bridge: read from alice's TUN %d, written to relay's TUN %d, write drops %d; "
      "timer wake-ups %d, the latest %.1f ms late" %
      (a["alice"]["from_tun"], a["relay"]["to_tun"], a["relay"]["write_dropped"],
       j["timer_wakeups"], j["max_timer_lateness_us"] / 1000))
PY
