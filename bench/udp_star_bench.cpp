// BM_UdpStar/N: the ns-3 anchor's routed-star UDP echo, delivered packets per wall second.
#include <benchmark/benchmark.h>

#include "udp_star.hpp"

namespace {

void run_star(benchmark::State& state, bool behind_nat) {
  natsim::bench::UdpStar star(static_cast<int>(state.range(0)), behind_nat);
  star.net.run_for(natsim::milliseconds(20));  // warm up: every client running, pool grown
  const std::uint64_t before = star.delivered();
  const std::uint64_t events_before = star.net.sim().events_run();
  for (auto _ : state) {
    star.net.run_for(natsim::milliseconds(10));
  }
  const auto delivered = static_cast<std::int64_t>(star.delivered() - before);
  state.SetItemsProcessed(delivered);
  state.counters["events_per_pkt"] =
      static_cast<double>(star.net.sim().events_run() - events_before) /
      static_cast<double>(delivered);
  state.counters["pool_packets"] = static_cast<double>(star.net.packets().allocated());
}
void BM_UdpStar(benchmark::State& state) {
  run_star(state, false);
}
BENCHMARK(BM_UdpStar)->Arg(2)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

// The same star with every client behind its own port-restricted-cone NAT (one more
// hop each way plus two translations per round trip, a cost ns-3 does not pay).
void BM_UdpStarNat(benchmark::State& state) {
  run_star(state, true);
}
BENCHMARK(BM_UdpStarNat)->Arg(2)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
