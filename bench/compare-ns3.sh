#!/usr/bin/env bash
# Measures natsim's BM_UdpStar and BM_UdpStarNat and the ns-3 anchor (../shared/anchors)
# in one sitting and prints delivered packets per wall second for each, with ratios.
# usage: bench/compare-ns3.sh [BENCH_BINARY]   (ns-3 must be built: see anchors/README.md)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${1:-$root/build/release/bench/bench_sim}
ns3=${NS3_UDP_STAR:-/tmp/natsim-anchors/udp_star}
[[ -x $ns3 ]] || { echo "build the ns-3 anchor first: sh ../shared/anchors/ns3/build.sh" >&2; exit 2; }

rate() {  # items_per_second of one benchmark
  "$bench" --benchmark_filter="^$1\$" --benchmark_min_time=2 --benchmark_format=json |
    python3 -c 'import json,sys; print(int(json.load(sys.stdin)["benchmarks"][0]["items_per_second"]))'
}
ratio() { python3 -c "print(f'{$1 / $2:.0f}x')"; }

declare -A simtime=([2]=500 [100]=10 [1000]=1)
printf '%-6s %12s %14s %7s %16s %7s\n' N ns3 natsim ratio natsim_behind_nat ratio
for n in 2 100 1000; do
  ns=$("$ns3" --n="$n" --simtime="${simtime[$n]}" | tr ' ' '\n' | sed -n 's/^pkts_per_wall_s=//p')
  star=$(rate "BM_UdpStar/$n")
  nat=$(rate "BM_UdpStarNat/$n")
  printf '%-6s %12s %14s %7s %16s %7s\n' "$n" "$ns" "$star" "$(ratio "$star" "$ns")" "$nat" \
    "$(ratio "$nat" "$ns")"
done
