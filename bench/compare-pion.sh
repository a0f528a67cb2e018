#!/usr/bin/env bash
# Runs pion/transport vnet's STUN + hole punch (../shared/anchors/pion, vnetbench
# -mode=punch) and natsim's BM_IcePunch (fresh two-site world, STUN, ICE, one datagram
# each way, 50 ms RTT in virtual time) back to back, and prints the p50 wall time of a
# connect for each and their ratio.
# usage: bench/compare-pion.sh [BENCH_BINARY]
#   VNETBENCH=path   the anchor (default /tmp/natsim-anchors/vnetbench, built if missing)
#   ITERS=n          pion's iterations (default 500); natsim runs 5 repetitions of 1 s
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${1:-$root/build/release/bench/bench_sim}
vnet=${VNETBENCH:-/tmp/natsim-anchors/vnetbench}
iters=${ITERS:-500}
[[ -x $bench ]] || { echo "no bench binary at $bench: make bench (or pass its path)" >&2; exit 2; }
if [[ ! -x $vnet ]]; then
  anchor=$root/../shared/anchors/pion/build.sh
  [[ -f $anchor ]] || { echo "no pion anchor: $vnet missing and $anchor not found" >&2; exit 2; }
  sh "$anchor" >&2
fi

pion_line=$("$vnet" -mode=punch -iters="$iters")
pion_us=$(tr ' ' '\n' <<<"$pion_line" | sed -n 's/^setup_to_connected_p50_us=//p')
[[ -n $pion_us ]] || { echo "unexpected vnetbench output: $pion_line" >&2; exit 1; }

# Medians of 5 repetitions: wall (real_time) and CPU time per connect, in microseconds.
read -r natsim_wall natsim_cpu < <("$bench" --benchmark_filter='^BM_IcePunch$' \
  --benchmark_min_time=1 --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_format=json | python3 -c '
import json, sys
for b in json.load(sys.stdin)["benchmarks"]:
    if b.get("aggregate_name") == "median":
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b["time_unit"]]
        print("%.1f %.1f" % (b["real_time"] * scale, b["cpu_time"] * scale))
')

echo "pion vnet punch:   $pion_line"
printf 'pion p50 wall:     %8.1f us per connect (no link delay)\n' "$pion_us"
printf 'natsim p50 wall:   %8.1f us per connect (50 ms RTT simulated), CPU %.1f us\n' \
  "$natsim_wall" "$natsim_cpu"
python3 -c "print(f'ratio (pion wall / natsim wall): {$pion_us / $natsim_wall:.2f}x')"
# On a loaded machine natsim's wall time is mostly waiting for a core; its CPU time is
# the steadier figure (pion's p50 is wall time on its goroutines).
python3 -c "print(f'ratio (pion wall / natsim CPU):  {$pion_us / $natsim_cpu:.2f}x')"
uptime
