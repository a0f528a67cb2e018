#!/usr/bin/env bash
# Hostile scenario files and command lines: each case must end by itself with exit 0, 1
# or 2 within 10 s and 1 GiB of address space (60 s and no cap under AddressSanitizer):
# never a signal, a hang or gigabytes; an exit 2 must say on stderr what is wrong. The big inputs (a 50 MB file, deep
# nesting, a 5000-character name) are generated into a temporary folder.
# usage: run_hostile.sh NATSIM
set -uo pipefail
natsim=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
cases=0
# Under AddressSanitizer (make sanitize) the shadow memory needs terabytes of address
# space and every run is slower: no address-space cap there, and more time.
vmem=1048576
seconds=10
if grep -aq __asan_init "$natsim"; then vmem=unlimited; seconds=60; fi

# check NAME EXPECTED_EXIT PATTERN -- ARGS...: PATTERN (grep -E) must be in stderr for
# exit 2, in stdout otherwise; an empty PATTERN checks only the exit code; EXPECTED_EXIT
# '*' accepts 0, 1 or 2.
check() {
  local name=$1 want=$2 pattern=$3
  shift 4
  cases=$((cases + 1))
  local code
  (ulimit -v "$vmem"; exec timeout -s KILL "$seconds" "$natsim" "$@") >"$work/out" 2>"$work/err"
  code=$?
  local where="$work/out"
  [[ $want == 2 ]] && where="$work/err"
  # "*": any of 0, 1, 2 (what a case may legitimately end with depends on the machine).
  if [[ $want == '*' && $code -le 2 ]]; then want=$code; pattern=''; fi
  if [[ $want == '*' || $code -ne $want ]]; then
    echo "FAIL $name: exit $code, expected $want ($( [[ $code -eq 137 ]] && echo "killed: over $seconds s"))"
    head -c 600 "$work/err"
    failures=$((failures + 1))
  elif [[ -n $pattern ]] && ! grep -Eq -- "$pattern" "$where"; then
    echo "FAIL $name: no /$pattern/ in $(basename "$where"):"
    head -c 600 "$where"
    failures=$((failures + 1))
  else
    echo "ok   $name (exit $code)"
  fi
}

h=$here
# Files in the corpus.
check loss-1e999 2 'loss-1e999.json:3:35: number 1e999 is out of range' -- validate "$h/loss-1e999.json"
check seed-2^64-1 2 '/seed: expected an integer from 0 to 9223372036854775807, got 18446744073709551615' -- validate "$h/seed-2-64-minus-1.json"
check matrix-million 2 '/matrix: more than 10000 variants' -- validate "$h/matrix-million.json"
check matrix-million-run 2 '/matrix: more than 10000 variants' -- run "$h/matrix-million.json"
check send-million 2 'count' -- validate "$h/send-million-at-once.json"
check port-clash 2 '/topology/servers/0/port: port 3479 is also the alternate port' -- validate "$h/port-is-alternate-port.json"
check alternate-address 2 "/topology/servers/0/alternate_address: equal to 'address'" -- validate "$h/alternate-address-is-address.json"
check two-sites-one-wan 2 "/topology/sites/1/wan: address 203.0.113.2 is already site 'a'" -- validate "$h/two-sites-one-wan.json"
check wan-is-server 2 "/topology/sites/0/wan: address 198.51.100.20 is already server 'echo'" -- validate "$h/wan-is-server.json"
check two-servers-one-address 2 "/topology/servers/1/address: address 198.51.100.20 is already server 'e1'" -- validate "$h/two-servers-one-address.json"
check lan-network-address 2 '/topology/sites/0/lan: .* is the network address' -- validate "$h/lan-gateway-is-network.json"
check unknown-counter 2 "/expect/0/counter: no node or link named 'nowhere'" -- validate "$h/unknown-counter.json"
check unknown-metric 2 "/expect/0/metric: unknown metric 'nat.bogus'" -- validate "$h/unknown-metric.json"
check filtering-none 2 "/topology/sites/0/nat/filtering" -- validate "$h/filtering-none.json"
check nested-under-open 0 '^PASS' -- run "$h/nested-under-open.json"
mkdir -p "$work/pcap"
check name-escapes-folder 0 '^PASS' -- run "$h/name-escapes-folder.json" --pcap "$work/pcap/out"
if [[ -n $(find "$work" -name '*.pcap' -not -path "$work/pcap/out/*") ]]; then
  echo "FAIL name-escapes-folder: a pcap outside the folder"; failures=$((failures + 1))
fi

# Generated big inputs.
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
with open(f"{w}/big.json", "w") as f:  # 50 MB, valid JSON
    f.write('{"name": "big", "topology": {}, "description": "' + "x" * 50_000_000 + '"}')
with open(f"{w}/deep-objects.json", "w") as f:
    f.write('{"a":' * 100_000 + "1" + "}" * 100_000)
with open(f"{w}/deep-arrays.json", "w") as f:
    f.write("[" * 1_000_000 + "]" * 1_000_000)
with open(f"{w}/big-matrix.json", "w") as f:  # 10 000 copies of a 3 MB document
    json.dump({"name": "m", "description": "x" * 3_000_000, "topology": {},
               "matrix": [{"pointer": "/seed", "values": list(range(10))}] * 4}, f)
with open(f"{w}/sends-at-the-limit.json", "w") as f:  # 100 000 datagrams of 1400 bytes
    json.dump({"name": "heavy", "topology": {
        "servers": [{"name": "echo", "type": "echo", "address": "198.51.100.20"}],
        "sites": [{"name": "home", "hosts": ["alice"]}]},
        "timeline": [{"action": "send", "host": "alice", "server": "echo", "count": 20000,
                      "interval": "1ms", "size": 1400}] * 5}, f)
with open(f"{w}/duplicates-at-the-limit.json", "w") as f:  # and every link copying
    json.dump({"name": "copies", "topology": {
        "core": {"duplicate": 0.25, "latency": "10ms"},
        "servers": [{"name": "echo", "type": "echo", "address": "198.51.100.20"}],
        "sites": [{"name": "home", "nat": "full-cone", "hosts": ["alice"],
                   "lan_link": {"duplicate": 0.25}}]},
        "timeline": [{"action": "send", "host": "alice", "server": "echo", "count": 20000,
                      "interval": "0.1ms", "size": 1400}] * 5}, f)
with open(f"{w}/long-name.json", "w") as f:
    json.dump({"name": "n" * 5000, "topology": {
        "servers": [{"name": "stun", "type": "stun", "address": "198.51.100.10"}],
        "sites": [{"name": "home", "hosts": ["alice"]}]},
        "timeline": [{"action": "binding", "host": "alice", "server": "stun"}]}, f)
PY
check big-file 2 'big.json: larger than 4096 KiB' -- validate "$work/big.json"
check big-file-run 2 'big.json: larger than 4096 KiB' -- run "$work/big.json"
python3 -c 'import json; print(json.dumps({"name": "3 MB", "description": "x" * 3_000_000, "topology": {}}))' >"$work/3mb.json"
check many-big-files 2 'one command runs at most 64 MiB of scenarios' -- run $(for _ in $(seq 1 30); do echo "$work/3mb.json"; done)
check sends-at-the-limit '*' '' -- run "$work/sends-at-the-limit.json"
check duplicates-at-the-limit '*' '' -- run "$work/duplicates-at-the-limit.json"
check big-matrix 2 '/matrix: 10000 variants of a [0-9]*-byte file: at most' -- validate "$work/big-matrix.json"
check deep-objects 2 'deep-objects.json:1:321: nested deeper than 64 levels' -- validate "$work/deep-objects.json"
check deep-arrays 2 'deep-arrays.json:1:65: nested deeper than 64 levels' -- validate "$work/deep-arrays.json"
mkdir -p "$work/long"
check long-name 0 '^PASS' -- run "$work/long-name.json" --pcap "$work/long"
[[ $(ls "$work/long" | wc -l) -eq 1 && $(ls "$work/long" | head -1 | wc -c) -lt 120 ]] ||
  { echo "FAIL long-name: pcap folder $(ls "$work/long")"; failures=$((failures + 1)); }

# Command lines.
q=$here/../../library/quickstart.json
check seed-minus-1 2 "--seed expects an integer from 0 to 9223372036854775807, got '-1'" -- run "$q" --seed -1
check seed-2^64 2 "--seed expects an integer from 0 to 9223372036854775807, got '18446744073709551616'" -- run "$q" --seed 18446744073709551616
check seed-2^63 2 "got '9223372036854775808'" -- run "$q" --seed 9223372036854775808
check demo-seed-minus-1 2 "--seed: expects an integer from 0 to 9223372036854775807, got '-1'" -- demo --seed -1
check variant-minus-1 2 "--variant" -- run "$q" --variant -1
check shard-minus-1 2 "--shard expects I/N" -- run "$q" --shard 0/-1
python3 -c 'import json; print(json.dumps({"name": "s", "seeds": {"from": 1, "count": 5000}, "topology": {}}))' >"$work/many.json"
check pcap-many-runs 2 "--pcap and --trace write files for every run: at most 1000 runs" -- run "$work/many.json" --pcap "$work/many"
check sends-per-run 2 '/timeline: schedules 1100000 datagrams in all' -- validate "$h/sends-per-run.json"
# More threads than 1 GiB has stacks for: run on fewer, or say so; never abort.
check jobs-1024 '*' '' -- run "$work/many.json" --jobs 1024 --quiet
check unknown-command 2 "unknown command 'frobnicate'; commands: .*run" -- frobnicate
check run-directory 2 "$work" -- run "$work"
check validate-directory 2 'is a directory' -- validate "$work"
"$natsim" run "$h/nested-under-open.json" --json >"$work/part.json" 2>/dev/null
check merge-directory 2 'is a directory' -- merge "$work"
check merge-same-twice 2 'given twice' -- merge "$work/part.json" "$work/part.json"
cp "$work/part.json" "$work/copy.json"
check merge-same-content 2 "again|is also in" -- merge "$work/part.json" "$work/copy.json"
"$natsim" run "$here/../../library/seed-sweep.json" --shard 0/3 --json >"$work/s0.json" 2>/dev/null
"$natsim" run "$here/../../library/seed-sweep.json" --shard 2/3 --json >"$work/s2.json" 2>/dev/null
check merge-missing-shard 2 'shard 1/3 is missing' -- merge "$work/s0.json" "$work/s2.json"

# Plain `natsim` prints the help (and is a usage error).
cases=$((cases + 1))
if "$natsim" >"$work/out" 2>&1; then
  echo "FAIL no-arguments: exit 0"; failures=$((failures + 1))
elif ! grep -q 'Subcommands:' "$work/out"; then
  echo "FAIL no-arguments: no help"; failures=$((failures + 1))
else
  echo "ok   no-arguments"
fi

echo "$cases cases, $failures failed"
[[ $failures -eq 0 ]]
