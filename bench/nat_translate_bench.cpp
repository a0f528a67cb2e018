// BM_NatTranslate/N: packets per second through one NAT table holding N live mappings
// (one outbound and one inbound translation per iteration, spread over all mappings).
// BM_NatTranslateHot/N: the same table, traffic on 1000 of its mappings: what the table
// size alone costs once the working set fits in cache.
#include <benchmark/benchmark.h>

#include <vector>

#include "natsim/nat_models/nat_table.hpp"

namespace {

using namespace natsim;

void translate(benchmark::State& state, std::uint32_t n, std::uint32_t active) {
  nat::NatBehavior b;  // EIM + APDF, port-preserving
  b.port_assignment = nat::PortAssignment::sequential;
  // Four external addresses: 100k mappings need more than one address's 64k ports.
  nat::NatTable table(b,
                      {IpAddress::v4(203, 0, 113, 2), IpAddress::v4(203, 0, 113, 3),
                       IpAddress::v4(203, 0, 113, 4), IpAddress::v4(203, 0, 113, 5)},
                      true, sim::Rng(1));
  const Endpoint remote{IpAddress::v4(198, 51, 100, 10), 3478};
  std::vector<Endpoint> internal(n);
  std::vector<Endpoint> external(n);
  TimePoint now = at(seconds(1));
  for (std::uint32_t i = 0; i < n; ++i) {
    // Up to 250 ports per host, hosts 10.x.y.z.
    internal[i] = Endpoint{IpAddress::v4(10u << 24 | (i / 250 + 2)),
                           static_cast<std::uint16_t>(10000 + i % 250)};
    external[i] = table.outbound(now, sim::IpProto::udp, internal[i], remote).value();
  }
  // Visit mappings in a scrambled order so large tables are not walked in cache order.
  std::uint32_t k = 0;
  const std::uint32_t stride = 2654435761u % active | 1u;
  for (auto _ : state) {
    k = (k + stride) % active;
    now += nanoseconds(100);
    auto out = table.outbound(now, sim::IpProto::udp, internal[k], remote);
    auto in = table.inbound(now, sim::IpProto::udp, remote, external[k]);
    benchmark::DoNotOptimize(out);
    benchmark::DoNotOptimize(in);
  }
  state.SetItemsProcessed(state.iterations() * 2);
  state.counters["mappings"] = static_cast<double>(table.size());
}
void BM_NatTranslate(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  translate(state, n, n);
}
BENCHMARK(BM_NatTranslate)->Arg(1)->Arg(1000)->Arg(100000);

void BM_NatTranslateHot(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  translate(state, n, n < 1000 ? n : 1000);
}
BENCHMARK(BM_NatTranslateHot)->Arg(1000)->Arg(100000);

}  // namespace
