// STUN costs: encoding and decoding a Binding response, and whole Binding transactions
// through the simulator (client, NAT, server and back) per wall second.
#include <benchmark/benchmark.h>

#include <array>
#include <memory>
#include <vector>

#include "natsim/nat_models/site.hpp"
#include "natsim/scenarios/sim_driver.hpp"
#include "natsim/traversal/stun_client.hpp"
#include "natsim/traversal/stun_message.hpp"
#include "natsim/traversal/stun_server.hpp"

namespace {

using namespace natsim;
namespace stun = natsim::traversal::stun;

void BM_StunEncodeDecode(benchmark::State& state) {
  std::array<std::uint8_t, 256> buf{};
  stun::TransactionId tid{};
  const Endpoint mapped{IpAddress::v4(203, 0, 113, 2), 40000};
  std::uint64_t checksum = 0;
  for (auto _ : state) {
    tid[0]++;
    stun::Writer w(buf, stun::method::binding, stun::Class::success, tid);
    w.add_xor_address(stun::attr::xor_mapped_address, mapped);
    w.add_text(stun::attr::software, "natsim");
    w.add_fingerprint();
    auto m = stun::Message::parse(*w.finish());
    checksum += m->mapped_address()->port + (m->fingerprint_ok() ? 1 : 0);
  }
  benchmark::DoNotOptimize(checksum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StunEncodeDecode);

// N clients, each behind its own port-restricted NAT, each running one Binding
// transaction every 20 ms against one server; items = completed transactions.
void BM_StunBindingSim(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  sim::Network net(1);
  sim::Router& core = net.add_router("core");
  sim::Host& server = net.add_host("stun");
  sim::LinkParams lp;
  lp.latency = milliseconds(5);
  auto c = net.connect(server, core, lp);
  server.add_address(c.a_iface, "198.51.100.10/24");
  core.add_address(c.b_iface, "198.51.100.1/24");
  (void)server.set_default_route(*IpAddress::parse("198.51.100.1"));
  stun::ServerConfig config;
  config.primary = *Endpoint::parse("198.51.100.10:3478");
  stun::StunServer stun_server(config);
  scenarios::SimDriver<stun::StunServer> server_driver(server, stun_server,
                                                       {server.udp_bind(config.primary).value()});

  struct Client {
    std::unique_ptr<stun::StunClient> machine;
    std::unique_ptr<scenarios::SimDriver<stun::StunClient>> driver;
    Endpoint local;
    sim::Host* host;
  };
  std::vector<Client> clients;
  std::uint64_t done = 0;
  for (int i = 0; i < n; ++i) {
    nat::SiteOptions o;
    o.wan = *InterfaceAddress::parse(
        nat::offset_address(*IpAddress::parse("10.200.0.0"), 4 * i + 2).to_string() + "/30");
    o.upstream = *InterfaceAddress::parse(
        nat::offset_address(*IpAddress::parse("10.200.0.0"), 4 * i + 1).to_string() + "/30");
    o.wan_link = lp;
    nat::Site site = nat::add_site(net, core, "n" + std::to_string(i), o);
    Client cl;
    cl.host = site.hosts[0];
    cl.local = Endpoint{*cl.host->address(), 5000};
    cl.machine = std::make_unique<stun::StunClient>(static_cast<std::uint64_t>(i));
    cl.driver = std::make_unique<scenarios::SimDriver<stun::StunClient>>(
        *cl.host, *cl.machine, std::vector<sim::UdpSocket*>{cl.host->udp_bind(5000).value()});
    cl.driver->on_event([&done](const stun::BindingResult&) { ++done; });
    clients.push_back(std::move(cl));
  }
  // Every client re-binds every 20 ms (staggered), for as long as the benchmark runs.
  std::function<void(std::size_t)> tick = [&](std::size_t i) {
    Client& cl = clients[i];
    cl.machine->send_binding(net.now(), cl.local, config.primary);
    cl.driver->pump();
    (void)cl.host->schedule_in(milliseconds(20), [&tick, i] { tick(i); });
  };
  for (std::size_t i = 0; i < clients.size(); ++i) {
    (void)clients[i].host->schedule_in(milliseconds(20) * static_cast<int>(i) / n,
                                       [&tick, i] { tick(i); });
  }
  net.run_for(milliseconds(100));
  const std::uint64_t before = done;
  for (auto _ : state)
    net.run_for(milliseconds(20));
  state.SetItemsProcessed(static_cast<std::int64_t>(done - before));
}
BENCHMARK(BM_StunBindingSim)->Arg(1)->Arg(100)->Unit(benchmark::kMicrosecond);

}  // namespace
