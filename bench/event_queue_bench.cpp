// Event-queue throughput: steady state with N pending events, each event scheduling its
// successor at a pseudo-random later time (the "hold" model).
#include <benchmark/benchmark.h>

#include "natsim/sim/simulator.hpp"

namespace {

using natsim::sim::Simulator;

void BM_EventQueue(benchmark::State& state) {
  const auto pending = static_cast<std::size_t>(state.range(0));
  Simulator sim;
  std::uint64_t x = 88172645463325252ull;
  auto next_delay = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return natsim::Duration{static_cast<std::int64_t>(x % 1'000'000)};
  };
  struct Hold {
    Simulator* sim;
    decltype(next_delay)* delay;
    void operator()() const { sim->post_at(sim->now() + (*delay)(), Hold{*this}); }
  };
  for (std::size_t i = 0; i < pending; ++i)
    sim.post_at(sim.now() + next_delay(), Hold{&sim, &next_delay});
  for (auto _ : state) {
    sim.step();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EventQueue)->Arg(16)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);

void BM_ScheduleCancel(benchmark::State& state) {
  Simulator sim;
  for (auto _ : state) {
    auto id = sim.post_at(sim.now() + natsim::milliseconds(1), [] {});
    benchmark::DoNotOptimize(sim.cancel(id));
    if (sim.next_event_time() != natsim::kTimeNever) sim.step();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ScheduleCancel);

}  // namespace
