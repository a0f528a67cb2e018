#!/usr/bin/env bash
# Measures natsim's BM_UdpStar and the ns-3 anchor (../shared/anchors) in one sitting and
# prints delivered packets per wall second for both, with the ratio.
# usage: bench/compare-ns3.sh [BENCH_BINARY]   (ns-3 must be built: see anchors/README.md)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${1:-$root/build/release/bench/bench_sim}
ns3=${NS3_UDP_STAR:-/tmp/natsim-anchors/udp_star}
[[ -x $ns3 ]] || { echo "build the ns-3 anchor first: sh ../shared/anchors/ns3/build.sh" >&2; exit 2; }

declare -A simtime=([2]=500 [100]=10 [1000]=1)
printf '%-6s %14s %14s %8s\n' N ns3_pkts/s natsim_pkts/s ratio
for n in 2 100 1000; do
  ns=$("$ns3" --n="$n" --simtime="${simtime[$n]}" | tr ' ' '\n' | sed -n 's/^pkts_per_wall_s=//p')
  ours=$("$bench" --benchmark_filter="^BM_UdpStar/$n\$" --benchmark_min_time=2 --benchmark_format=json |
         python3 -c 'import json,sys; print(int(json.load(sys.stdin)["benchmarks"][0]["items_per_second"]))')
  printf "%-6s %14s %14s %7.0fx\n" "$n" "$ns" "$ours" "$(python3 -c "print($ours / $ns)")"
done
