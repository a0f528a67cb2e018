// Virtual TCP: simulated bytes per wall second for one bulk connection, and the goodput
// of the reference transfer (10 Mbps, 50 ms RTT, 1% loss) in simulated time.
#include <benchmark/benchmark.h>

#include <vector>

#include "natsim/sim/network.hpp"

namespace {

using namespace natsim;
using namespace natsim::sim;

struct Transfer {
  Transfer(const LinkParams& params, std::uint64_t seed, std::size_t bytes)
      : net(seed), a(net.add_host("a")), b(net.add_host("b")), data(64 * 1024, 0x5a), total(bytes) {
    auto c = net.connect(a, b, params);
    a.add_address(c.a_iface, "10.0.0.1/24");
    b.add_address(c.b_iface, "10.0.0.2/24");
    TcpListener* l = b.tcp_listen(80).value();
    l->on_accept(
        [this](TcpSocket* s) { s->on_receive([this](ByteView v) { received += v.size(); }); });
    client = a.tcp_connect(*Endpoint::parse("10.0.0.2:80")).value();
    client->on_connect([this](Result<void>) { push(); });
    client->on_writable([this] { push(); });
  }
  void push() {
    while (queued < total) {
      const std::size_t want = std::min(data.size(), total - queued);
      auto n = client->send(ByteView(data.data(), want));
      if (!n || *n == 0) return;
      queued += *n;
    }
  }
  Duration run() {
    while (received < total && net.now() < kTimeZero + hours(1))
      net.run_for(milliseconds(100));
    return net.now() - kTimeZero;
  }

  Network net;
  Host& a;
  Host& b;
  std::vector<std::uint8_t> data;
  std::size_t total;
  std::size_t queued = 0;
  std::size_t received = 0;
  TcpSocket* client = nullptr;
};

// One bulk connection over a clean 1 Gbps, 1 ms link: how fast the simulator moves it.
void BM_TcpTransfer(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  LinkParams p;
  p.latency = milliseconds(1);
  p.bandwidth_bps = 1'000'000'000;
  for (auto _ : state) {
    Transfer t(p, 1, bytes);
    benchmark::DoNotOptimize(t.run());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_TcpTransfer)->Arg(10 << 20)->Unit(benchmark::kMillisecond);

// The reference transfer: 10 MB, 10 Mbps, 25 ms each way, 1% loss. Reports the
// simulated goodput (bits per simulated second) beside the wall time.
void BM_TcpLossyGoodput(benchmark::State& state) {
  LinkParams p;
  p.latency = milliseconds(25);
  p.bandwidth_bps = 10'000'000;
  p.loss = 0.01;
  const std::size_t bytes = 10'000'000;
  double seconds_simulated = 0;
  for (auto _ : state) {
    Transfer t(p, static_cast<std::uint64_t>(state.range(0)), bytes);
    seconds_simulated = to_seconds(t.run());
  }
  state.counters["goodput_bps"] = bytes * 8 / seconds_simulated;
  state.counters["simulated_s"] = seconds_simulated;
}
BENCHMARK(BM_TcpLossyGoodput)->Arg(1)->Arg(2)->Arg(3)->Unit(benchmark::kMillisecond);

// 1,000 concurrent connections set up (SYN, SYN-ACK, ACK, accept) and torn down with a
// RST, per iteration, on one warm network.
void BM_TcpConnect(benchmark::State& state) {
  const auto count = static_cast<std::size_t>(state.range(0));
  Network net(1);
  Host& a = net.add_host("a");
  Host& b = net.add_host("b");
  LinkParams p;
  p.latency = milliseconds(1);
  auto c = net.connect(a, b, p);
  a.add_address(c.a_iface, "10.0.0.1/24");
  b.add_address(c.b_iface, "10.0.0.2/24");
  // Small buffers: the setups are measured, not 1,000 x 320 KiB of zeroed rings.
  TcpConfig small;
  small.send_buffer = 8192;
  small.receive_buffer = 8192;
  TcpListener* l = b.tcp_listen(80, small, count).value();
  std::vector<TcpSocket*> accepted;
  accepted.reserve(count);
  l->on_accept([&](TcpSocket* s) { accepted.push_back(s); });
  const Endpoint server = *Endpoint::parse("10.0.0.2:80");
  std::vector<TcpSocket*> clients;
  clients.reserve(count);
  std::size_t established = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < count; ++i) {
      TcpSocket* s = a.tcp_connect(server, small).value();
      s->on_connect([&](Result<void> r) { established += r ? 1 : 0; });
      clients.push_back(s);
    }
    net.run_for(milliseconds(10));
    for (TcpSocket* s : clients)
      s->abort();
    for (TcpSocket* s : accepted)
      s->close();
    net.run_for(milliseconds(10));
    clients.clear();
    accepted.clear();
  }
  if (established != state.iterations() * count) state.SkipWithError("a connection failed");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * count));
}
BENCHMARK(BM_TcpConnect)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
