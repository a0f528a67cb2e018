// BM_NatTranslate/N: packets per second through one NAT table holding N live mappings
// (one outbound and one inbound translation per iteration, spread over all mappings).
// BM_NatTranslateHot/N: the same table, traffic on 1000 of its mappings: what the table
// size alone costs once the working set fits in cache.
// BM_NatInboundFiltered/F: inbound through one explicit (PCP) mapping with F FILTERs
// (RFC 6887 §13.3), the sender admitted by the last one: what checking the list costs.
#include <benchmark/benchmark.h>

#include <array>
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

void BM_NatInboundFiltered(benchmark::State& state) {
  nat::NatTable table(nat::NatBehavior{}, {IpAddress::v4(203, 0, 113, 2)}, true, sim::Rng(1));
  const auto count = static_cast<std::size_t>(state.range(0));
  std::array<nat::RemoteFilter, nat::kMaxRemoteFilters> filters{};
  for (std::size_t i = 0; i < count; ++i)  // 198.51.<i>.0/24, the sender in the last one
    filters[i] = nat::RemoteFilter{IpAddress::v4(198, 51, static_cast<std::uint8_t>(i), 0), 24, 0};
  nat::MapRequest r;
  r.internal = Endpoint{IpAddress::v4(10, 0, 0, 2), 4000};
  r.lifetime = hours(1);
  r.filters = std::span<const nat::RemoteFilter>(filters.data(), count);
  TimePoint now = at(seconds(1));
  const Endpoint external = table.map(now, r)->external;
  const Endpoint remote{
      IpAddress::v4(198, 51, static_cast<std::uint8_t>(count == 0 ? 0 : count - 1), 9), 3478};
  for (auto _ : state) {
    now += nanoseconds(100);
    auto in = table.inbound(now, sim::IpProto::udp, remote, external);
    benchmark::DoNotOptimize(in);
  }
  if (table.counters().inbound != static_cast<std::uint64_t>(state.iterations()))
    state.SkipWithError("a datagram was refused");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NatInboundFiltered)->Arg(0)->Arg(1)->Arg(8);

}  // namespace
