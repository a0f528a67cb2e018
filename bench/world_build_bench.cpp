// Large worlds: N sites of 10 hosts each (a port-restricted NAT gateway per site) under
// one core router, built from nothing and torn down per iteration. Reports the heap the
// world holds per node (glibc's mallinfo2: bytes in use after building less before, plus the
// world arena's chunks mapped outside the heap).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "natsim/nat_models/site.hpp"
#include "natsim/sim/network.hpp"

namespace {

using namespace natsim;

constexpr int kHostsPerSite = 10;

std::size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;  // small blocks in use plus mmap'd large ones
}

// Site i's WAN /30 comes from 100.64.0.0/10 (room for a million sites): the gateway
// takes .1 of the block, the core .2.
IpAddress wan_block(std::uint32_t site, std::uint32_t host) {
  static const IpAddress base = *IpAddress::parse("100.64.0.0");
  return nat::offset_address(base, site * 4 + host);
}

std::unique_ptr<sim::Network> build(int sites) {
  auto net = std::make_unique<sim::Network>(1);
  sim::Router& core = net->add_router("core");
  nat::SiteOptions o;
  o.hosts = kHostsPerSite;
  o.lan = *InterfaceAddress::parse("10.0.0.1/24");
  o.wan_link.latency = milliseconds(5);
  o.lan_link.latency = microseconds(100);
  for (int i = 0; i < sites; ++i) {
    const auto s = static_cast<std::uint32_t>(i);
    o.wan = InterfaceAddress{wan_block(s, 1), 30};
    o.upstream = InterfaceAddress{wan_block(s, 2), 30};
    (void)nat::add_site(*net, core, "s" + std::to_string(i), o);
  }
  return net;
}

void BM_WorldBuild(benchmark::State& state) {
  const int sites = static_cast<int>(state.range(0));
  const std::size_t nodes = static_cast<std::size_t>(sites) * (kHostsPerSite + 1) + 1;
  double bytes_per_node = 0;
  for (auto _ : state) {
    const std::size_t before = heap_in_use();
    auto net = build(sites);
    const std::size_t after = heap_in_use() + net->arena().mapped();
    bytes_per_node = static_cast<double>(after - before) / static_cast<double>(nodes);
    benchmark::DoNotOptimize(net.get());
    state.PauseTiming();  // teardown is not building
    net.reset();
    state.ResumeTiming();
  }
  state.counters["bytes_per_node"] = bytes_per_node;
  state.counters["MB"] = bytes_per_node * static_cast<double>(nodes) / 1e6;
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(nodes));
}
BENCHMARK(BM_WorldBuild)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
// The million-host world (about a minute and a few GB): only with NATSIM_BENCH_LONG set,
// so `make bench` stays quick.
const bool kLongRegistered = [] {
  if (std::getenv("NATSIM_BENCH_LONG") == nullptr) return false;
  benchmark::RegisterBenchmark("BM_WorldBuild", BM_WorldBuild)
      ->Arg(100000)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
