#!/usr/bin/env bash
# The packets natsim captures must be what Wireshark expects from a real stack: runs
# scenario files with --pcap and dissects every capture with tshark, checksum validation
# on. Fails on a malformed frame, a bad IPv4/UDP/TCP checksum, an error-level expert item,
# or a warning-level one outside TCP's loss bookkeeping (retransmissions, duplicate ACKs,
# segments not captured), which real stacks on a lossy path produce too.
# usage: check-pcap.sh NATSIM SCENARIO.json...
set -uo pipefail
natsim=$1
shift
command -v tshark >/dev/null || { echo "check-pcap: tshark is not installed" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
checked=0

T() { tshark -r "$1" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE \
  -o tcp.check_checksum:TRUE -d udp.port==3478,stun -d tcp.port==3478,stun "${@:2}" 2>/dev/null; }

# Warnings real stacks raise on a lossy path; anything else at warning level is natsim's.
tcp_loss='retransmission|duplicate ack|previous segment|acked segment that wasn|out-of-order|zero window|window specified by the receiver is now completely full|connection reset|connection establish|connection finish'

for scenario in "$@"; do
  name=$(basename "$scenario" .json)
  if ! "$natsim" run "$scenario" --seed 1 --variant 0 --pcap "$work/$name" --quiet >/dev/null 2>&1; then
    # A failed expectation still writes captures; only a missing capture is an error here.
    :
  fi
  while IFS= read -r -d '' pcap; do
    checked=$((checked + 1))
    frames=$(T "$pcap" | wc -l)
    problems=$(
      T "$pcap" -Y '_ws.malformed || ip.checksum.status == 0 || udp.checksum.status == 0 || tcp.checksum.status == 0' | head -5
      T "$pcap" -q -z expert,warn | awk -v ok="$tcp_loss" '
        /^Errors \(/ {sev="error"; next}
        /^Warns \(/ {sev="warn"; next}
        /^(Notes|Chats|Comments) \(/ {sev=""}
        sev == "error" && /^ +[0-9]+ / {print}
        sev == "warn" && /^ +[0-9]+ / && tolower($0) !~ ok {print}'
    )
    if [[ -n $problems ]]; then
      echo "FAIL ${pcap#"$work/"} ($frames frames):"
      echo "$problems" | sed 's/^/      /'
      failures=$((failures + 1))
    fi
  done < <(find "$work/$name" -name '*.pcap' -print0 2>/dev/null)
done
if [[ $checked -eq 0 ]]; then
  echo "check-pcap: no capture was written" >&2
  exit 1
fi
echo "check-pcap: $checked captures, $failures with problems"
[[ $failures -eq 0 ]]
